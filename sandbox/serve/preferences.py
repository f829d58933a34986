"""Honouring `Prefer` (docs/scenarios.md): the answer a client asks for, past the token and scope gates.

* `case=<file>`: that case of the routed operation, reachable or not, without parameter
  validation or lookup; an unknown file is an error (00190) listing the operation's cases;
* `code=<status>`: the operation's first case with that status (case files in name order),
  else the OpenAPI example of that status in the API's error format, else an error (00191)
  listing the statuses there are;
* `delay=<ms>` and `fault=...` are not answers: they are recorded in `Applied` for the app,
  which delays or breaks the delivery (`serve.delivery`).

`Preference-Applied` lists what was done. The answers are built once per operation of a
snapshot, on first use (`ForcedAnswers`), from the snapshot's cases and OpenAPI documents.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sandbox.load.openapi import generate_example
from sandbox.load.repository import Case
from sandbox.load.snapshot import OperationTable, Prepared, Snapshot, prepare_case
from sandbox.rules import errors, rendering
from sandbox.rules.error_texts import load_catalogue
from sandbox.rules.operations import Operation
from sandbox.serve import replies
from sandbox.serve.prefer_header import Preferences, prefer_text

PREFERENCE = "preference"  # the outcome of an answer chosen by `Prefer`
PREFERENCE_ERROR = "preference-error"
OPENAPI_EXAMPLE = "openapi-example"  # X-Sandbox-Case of an answer made from the OpenAPI document
_ERROR_STATUS = 400


@dataclass(frozen=True, slots=True)
class Applied:
    """What was done of a request's preferences: the `Preference-Applied` pairs, the delay and the fault."""

    pairs: tuple[tuple[str, str], ...] = ()
    delay_ms: int | None = None
    fault: str | None = None

    @property
    def text(self) -> str | None:
        """The `Preference-Applied` value (None: nothing was applied)."""
        return prefer_text(self.pairs) if self.pairs else None

    def headers(self) -> tuple[rendering.Header, ...]:
        text = self.text
        return rendering.headers(("Preference-Applied", text), ("Vary", "Prefer")) if text else ()


NOTHING_APPLIED = Applied()


def _statuses(operation: Operation, cases: list[Case]) -> tuple[int, ...]:
    documented = {int(status) for status in operation.responses if len(status) == 3 and status.isdigit()}
    return tuple(sorted(documented | {case.status for case in cases}))


class ForcedAnswers:
    """The answers `Prefer` can choose for one operation: one per case file, one per status."""

    def __init__(self, table: OperationTable) -> None:
        self.operation = table.operation
        by_file: dict[str, Case] = {}
        for case in table.cases:  # layer order: a later source's file of the same name wins
            by_file[case.file] = case
        self.files = tuple(sorted(by_file))
        self._by_file = by_file
        by_stem: dict[str, list[str]] = {}
        for name in self.files:
            by_stem.setdefault(name.rsplit(".", 1)[0], []).append(name)
        self._by_stem = {stem: names[0] for stem, names in by_stem.items() if len(names) == 1}
        self.statuses = _statuses(self.operation, list(by_file.values()))
        self._cases: dict[str, Prepared] = {}
        self._codes: dict[int, Prepared | None] = {}

    def case(self, name: str) -> Case | None:
        """The case file `name`, or the one file whose name without extension is `name` (`503`)."""
        found = self._by_file.get(name)
        if found is None and name in self._by_stem:
            found = self._by_file[self._by_stem[name]]
        return found

    def of_case(self, case: Case) -> Prepared:
        answer = self._cases.get(case.file)
        if answer is None:
            answer = _chosen(prepare_case(self.operation, case))
            self._cases[case.file] = answer
        return answer

    def of_status(self, code: int) -> Prepared | None:
        if code not in self._codes:
            first = next((self._by_file[name] for name in self.files if self._by_file[name].status == code), None)
            self._codes[code] = self.of_case(first) if first is not None else self._documented(code)
        return self._codes[code]

    def _documented(self, code: int) -> Prepared | None:
        """The OpenAPI example of a status (generated from its schema when the document gives none)."""
        status = str(code)
        if status not in self.operation.responses:
            return None
        if status in self.operation.examples:
            body = self.operation.examples[status]
        else:
            body = generate_example(self.operation.responses[status], self.operation.components)
        if self.operation.is_v2:  # some v2 documents show json_api errors: v2 sends its own format
            body = errors.v2_from_json_api(code, body)
        content_type = rendering.JSON if self.operation.is_v2 else rendering.JSON_API
        headers = rendering.headers(
            ("Content-Type", content_type),
            ("X-Sandbox-Case", OPENAPI_EXAMPLE),
            ("X-Sandbox-Outcome", PREFERENCE),
        )
        return Prepared(code, headers, rendering.encode_json(body if body is not None else {}), None, PREFERENCE)


def _chosen(case_answer: Prepared) -> Prepared:
    """A case's answer, said to be chosen by `Prefer`."""
    headers = (*case_answer.headers, *rendering.headers(("X-Sandbox-Outcome", PREFERENCE)))
    return dataclasses.replace(case_answer, headers=headers, outcome=PREFERENCE)


class ForcedBook:
    """`ForcedAnswers` of the operations of the snapshot being served, built on first use."""

    def __init__(self) -> None:
        self._owner: Snapshot | None = None
        self._tables: dict[str, ForcedAnswers] = {}  # keyed by the snapshot's operation ids only

    def answers(self, snapshot: Snapshot, table: OperationTable) -> ForcedAnswers:
        if self._owner is not snapshot:
            self._owner, self._tables = snapshot, {}
        found = self._tables.get(table.operation.id)
        if found is None:
            found = self._tables[table.operation.id] = ForcedAnswers(table)
        return found


def preferred(
    book: ForcedBook, snapshot: Snapshot, table: OperationTable, preferences: Preferences, max_delay_ms: int
) -> tuple[Prepared | None, Applied]:
    """The answer the preferences choose (None: the gates go on) and what is applied.

    `case` wins over `code`; the delay is bounded by `max_delay_ms`. A bad preference is an
    error and nothing else is applied.
    """
    operation = table.operation
    if preferences.problem is not None:
        return _error(operation, load_catalogue().error("00192", problem=preferences.problem)), NOTHING_APPLIED
    pairs: list[tuple[str, str]] = []
    forced: Prepared | None = None
    if preferences.case is not None or preferences.code is not None:
        answers = book.answers(snapshot, table)
        if preferences.case is not None:
            case = answers.case(preferences.case)
            if case is None:
                return _unknown_case(operation, preferences.case, answers.files), NOTHING_APPLIED
            forced = answers.of_case(case)
            pairs.append(("case", case.file))
        elif preferences.code is not None:
            forced = answers.of_status(preferences.code)
            if forced is None:
                return _unknown_status(operation, preferences.code, answers.statuses), NOTHING_APPLIED
            pairs.append(("code", str(preferences.code)))
    delay = None
    if preferences.delay_ms is not None:
        delay = min(preferences.delay_ms, max_delay_ms)
        pairs.append(("delay", str(delay)))
    if preferences.fault is not None:
        pairs.append(("fault", preferences.fault))
    return forced, Applied(tuple(pairs), delay, preferences.fault)


def _error(operation: Operation, error: errors.ApiError) -> Prepared:
    if operation.is_v2:
        return replies.reply(
            _ERROR_STATUS, errors.v2_body("bad_request", error.detail), rendering.JSON, PREFERENCE_ERROR
        )
    return replies.json_api(_ERROR_STATUS, [error], PREFERENCE_ERROR, rendering.JSON_API)


def _unknown_case(operation: Operation, asked: str, files: tuple[str, ...]) -> Prepared:
    listed = ", ".join(files) or "(aucun)"
    error = load_catalogue().error("00190", case=asked, operation_id=operation.id, cases=listed)
    return _error(operation, dataclasses.replace(error, meta={"cases": list(files)}))


def _unknown_status(operation: Operation, code: int, statuses: tuple[int, ...]) -> Prepared:
    listed = ", ".join(str(status) for status in statuses) or "(aucun)"
    error = load_catalogue().error("00191", status=str(code), operation_id=operation.id, statuses=listed)
    return _error(operation, dataclasses.replace(error, meta={"statuses": list(statuses)}))
