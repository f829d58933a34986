"""What the contract sends for each case, and what it expects.

Each case is sent as its README cURL command sends it; some can never be answered as
documented and are *expected failures*, each with its reason: routes real staging answers
with 410 Gone, FranceConnect-only cases (unless a fake FranceConnect token of the
repository reaches them), and cases the repository lint reports as errors.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from sandbox.load.repository import Case
from sandbox.load.snapshot import Snapshot
from sandbox.rules.gone import gone_route
from sandbox.rules.operations import Api, Operation
from sandbox.rules.routing import api_of_host
from sandbox.tools.reaching import CaseRequest, case_request, france_connect_request

# v2 cases whose params are a FranceConnect identity are only reached through a FranceConnect token.
FRANCE_CONNECT_IDENTITY_KEYS = frozenset({"given_name", "family_name", "birthdate", "gender", "birthplace"})

# Categories of expected failures, as shown in the summary.
GONE = "route gone (410)"
FRANCE_CONNECT_ONLY = "FranceConnect only"
FRANCE_CONNECT_UNREACHED = "no FranceConnect token reaches it"
LINT = "lint"
# Besides the lint's reachability rules (`sandbox.lint.REACHABILITY_RULES`): a payload that breaks its
# own schema fails the schema check on any server, and FranceConnect cases no token reaches.
LINT_EXPECTED_FAILURE_RULES = frozenset({"payload-schema", "france-connect-no-token"})


@dataclass(frozen=True, slots=True)
class ExpectedFailure:
    category: str
    reason: str


@dataclass(frozen=True, slots=True)
class PlannedCase:
    operation_id: str
    case: Case
    request: CaseRequest | None  # None: skipped
    expected_failure: ExpectedFailure | None = None
    skip_reason: str | None = None
    via: str = "token"  # token | FranceConnect token <name>
    # JSON paths the production profile leaves out of the case's payload: their absence is expected even
    # where the OpenAPI schema requires them (production does not follow its schema there either)
    left_out: tuple[str, ...] = ()


def is_france_connect_only(operation: Operation, case: Case) -> bool:
    return operation.is_france_connect or bool(FRANCE_CONNECT_IDENTITY_KEYS & set(case.params))


class FindingLike(Protocol):
    """What the contract reads from a lint finding (`sandbox.lint.Finding`): a severity and a message;
    a `rule` id when there is one."""

    @property
    def severity(self) -> Any: ...

    @property
    def message(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Finding:
    """A finding built by hand (tests, other linters): the shape of `sandbox.lint.Finding` the contract reads."""

    severity: str
    message: str
    rule: str = ""


def _severity(finding: FindingLike) -> str:
    value = getattr(finding.severity, "value", finding.severity)
    return str(getattr(value, "name", value)).lower()


def expected_failures_from_findings(
    findings: Mapping[str, Sequence[FindingLike]], root: str, rules: Collection[str] | None = None
) -> dict[str, ExpectedFailure]:
    """Case file (relative to `root`) → why it cannot be answered as documented.

    Every finding of severity `error` on a case file makes that case an expected failure, with
    the finding's message as the reason and `lint: <rule>` as its category; with `rules`, only
    findings whose `rule` is one of them count (a case whose only fault is a missing description
    is answered all the same). Keys may be relative or absolute paths.
    """
    base = Path(root).resolve()
    reasons: dict[str, ExpectedFailure] = {}
    for path, listed in findings.items():
        errors = [
            f for f in listed if _severity(f) == "error" and (rules is None or str(getattr(f, "rule", "")) in rules)
        ]
        if not errors:
            continue
        candidate = Path(path)
        if candidate.is_absolute():
            try:
                candidate = candidate.resolve().relative_to(base)
            except ValueError:
                continue
        names = sorted({str(getattr(f, "rule", "") or "") for f in errors} - {""})
        category = f"{LINT}: {', '.join(names)}" if names else LINT
        reasons[candidate.as_posix()] = ExpectedFailure(
            category, "; ".join(dict.fromkeys(str(f.message) for f in errors))
        )
    return reasons


def lint_findings(
    snapshot: Snapshot, today: datetime.date
) -> tuple[dict[str, list[FindingLike]], str, frozenset[str] | None]:
    """`sandbox lint`'s findings per file for `snapshot`'s repository (in the snapshot's match mode),
    where they come from, and the rules that make a case an expected failure."""
    from sandbox.tools.lint import REACHABILITY_RULES, lint_repository

    report = lint_repository(snapshot.root, mode=snapshot.mode, today=today)
    grouped: dict[str, list[FindingLike]] = {}
    for finding in report.findings:
        grouped.setdefault(finding.file, []).append(finding)
    return grouped, f"sandbox lint ({snapshot.mode.value} mode)", REACHABILITY_RULES | LINT_EXPECTED_FAILURE_RULES


# snapshot, today → findings per file, where they come from, the rules that make expected failures (None: all)
Linter = Callable[[Snapshot, datetime.date], tuple[Mapping[str, Sequence[FindingLike]], str, Collection[str] | None]]


def france_connect_routes(snapshot: Snapshot, today: datetime.date) -> dict[str, tuple[str, CaseRequest]]:
    """Case id → (token, request) for every case a fake FranceConnect token of the repository reaches.

    Computed with the sandbox's own pipeline, in process: it knows how real staging turns an
    introspected identity into a lookup.
    """
    from sandbox.serve.pipeline import IncomingRequest, Services, answer

    services = Services(fixed_today=today)
    reached: dict[str, tuple[str, CaseRequest]] = {}
    by_fallback: dict[str, tuple[str, CaseRequest]] = {}
    for token in sorted(snapshot.france_connect):
        for table in snapshot.tables.values():
            if table.identity is None:
                continue
            request = france_connect_request(table.operation.path, token)
            headers = {name.lower(): value for name, value in request.headers}
            incoming = IncomingRequest("GET", request.path, urlencode(request.query).encode(), headers)
            prepared = answer(snapshot, incoming, services).prepared
            if prepared.case_id is None:
                continue
            # a hit, or API Particulier's not-found case answering an identity no case documents
            found = reached if prepared.outcome == "hit" else by_fallback
            found.setdefault(prepared.case_id, (token, request))
    return {**by_fallback, **reached}


def plan(
    snapshot: Snapshot,
    token: str,
    *,
    expected: Mapping[str, ExpectedFailure],
    france_connect: bool = False,
    today: datetime.date | None = None,
    only: Iterable[str] = (),
    api: str | None = None,
) -> list[PlannedCase]:
    """The request and the expectation of every case, in repository order.

    `api` (`entreprise`, `particulier`): the server answers that API only, as each real staging
    host does; the other API's cases are skipped.
    """
    selected = set(only)
    routes = france_connect_routes(snapshot, today or datetime.date.today()) if france_connect else {}
    planned: list[PlannedCase] = []
    for operation_id, table in snapshot.tables.items():
        if selected and operation_id not in selected:
            continue
        operation = table.operation
        if api is not None and operation.api != api:
            reason = f"API {operation.api.capitalize()}: not served by this API {api.capitalize()} host"
            planned.extend(PlannedCase(operation_id, case, None, skip_reason=reason) for case in table.cases)
            continue
        for case in table.cases:
            request = case_request(operation, case, token)
            gone = gone_route(request.path, operation.api)
            via = "token"
            if gone is not None:
                failure: ExpectedFailure | None = ExpectedFailure(
                    GONE, f"real staging answers 410 Gone: {_clip(gone.text)}"
                )
            elif is_france_connect_only(operation, case):
                route = routes.get(case.id)
                if route is not None:
                    failure, via = None, f"FranceConnect token {route[0]}"
                    request = route[1]
                elif france_connect:
                    failure = ExpectedFailure(
                        FRANCE_CONNECT_UNREACHED,
                        expected[case.source].reason
                        if case.source in expected
                        else "FranceConnect-only case that no fake FranceConnect token of the repository reaches",
                    )
                else:
                    failure = ExpectedFailure(
                        FRANCE_CONNECT_ONLY,
                        "FranceConnect-only case: answered through a FranceConnect token (use --france-connect)",
                    )
            elif case.source in expected:
                failure = expected[case.source]
            else:
                failure = None
            planned.append(PlannedCase(operation_id, case, request, failure, via=via))
    for folder, cases in snapshot.content.folders.items():
        if folder in snapshot.tables or folder == "france_connect" or (selected and folder not in selected):
            continue
        reason = f"no operation {folder} in the OpenAPI documents: no route to send it to"
        planned.extend(PlannedCase(folder, case, None, skip_reason=reason) for case in cases)
    return planned


def _clip(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def api_of_base_url(base_url: str) -> Api | None:
    """The API a host serves alone, as on the real staging (`staging.entreprise.api.gouv.fr`); None: both."""
    return api_of_host(urlsplit(base_url).hostname or "")
