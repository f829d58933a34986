"""`sandbox contract`: replay every documented case against a server and check the answers.

Each case of the fixture repository is sent as its README cURL command sends it
(`sandbox.replay.case_request`) to ANY server: this sandbox, a colleague's, or the real
staging. The answer must have the case's status and JSON body, and must match the
OpenAPI schema of its status (each violation is reported with its JSON path).

Some cases can never be answered as documented; they are replayed too but count as
*expected failures*, each with its reason: routes real staging answers with 410 Gone,
FranceConnect-only cases (unless `--france-connect` replays them with the fake
FranceConnect token that reaches them), and cases the repository lint reports as
errors (parameters real staging rejects, unreachable cases). An expected failure that
does get its documented answer counts as passed.

Output: a summary per operation, then `N passed, N failed[, N expected failures][, N skipped]`;
`--junit FILE` writes the same counts as JUnit XML (one testsuite per operation, one
testcase per case). Exit code 1 when a case failed, 2 when the run could not start.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import math
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO
from urllib.parse import urlencode, urlsplit

import httpx

from sandbox.load.repository import Case
from sandbox.load.snapshot import Snapshot, build_snapshot
from sandbox.rules.gone import gone_route
from sandbox.rules.matching import MatchMode
from sandbox.rules.operations import Operation
from sandbox.serve.response_validation import ResponseValidators, SchemaOutcome
from sandbox.tools.reaching import CaseRequest, case_request, france_connect_request

Outcome = Literal["passed", "failed", "xfailed", "skipped"]

DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT_S = 30.0
CONNECTION_RETRIES = 3
RETRY_BACKOFF_S = 0.25
MAX_DIFF_LINES = 20
# v2 cases whose params are a FranceConnect identity are only reached through a FranceConnect token.
FRANCE_CONNECT_IDENTITY_KEYS = frozenset({"given_name", "family_name", "birthdate", "gender", "birthplace"})
# Failures of the transport only: an HTTP answer, whatever its status, is never retried.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)

# Categories of expected failures, as shown in the summary.
GONE = "route gone (410)"
FRANCE_CONNECT_ONLY = "FranceConnect only"
FRANCE_CONNECT_UNREACHED = "no FranceConnect token reaches it"
LINT = "lint"
# Besides the lint's reachability rules (`sandbox.lint.REACHABILITY_RULES`): a payload that breaks its
# own schema fails the schema check on any server, and FranceConnect cases no token reaches.
LINT_EXPECTED_FAILURE_RULES = frozenset({"payload-schema", "france-connect-no-token"})


# ---------------------------------------------------------------------------
# Plan: what to send for each case, and what is expected
# ---------------------------------------------------------------------------


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


@dataclass(slots=True)
class CaseResult:
    planned: PlannedCase
    outcome: Outcome
    messages: list[str] = field(default_factory=list)
    status: int | None = None
    schema: SchemaOutcome | None = None
    duration_s: float = 0.0
    attempts: int = 0

    @property
    def case(self) -> Case:
        return self.planned.case

    @property
    def operation_id(self) -> str:
        return self.planned.operation_id

    @property
    def reason(self) -> str | None:
        if self.planned.expected_failure is not None:
            return self.planned.expected_failure.reason
        return self.planned.skip_reason

    @property
    def unexpectedly_passed(self) -> bool:
        return self.outcome == "passed" and self.planned.expected_failure is not None


@dataclass(slots=True)
class ContractReport:
    base_url: str
    fixtures: str
    results: list[CaseResult]
    duration_s: float
    lint_source: str
    schema_notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter({"passed": 0, "failed": 0, "xfailed": 0, "skipped": 0})
        counts.update(r.outcome for r in self.results)
        return counts

    @property
    def ok(self) -> bool:
        return self.counts["failed"] == 0

    def by_operation(self) -> dict[str, list[CaseResult]]:
        grouped: dict[str, list[CaseResult]] = {}
        for result in self.results:
            grouped.setdefault(result.operation_id, []).append(result)
        return grouped

    def expected_failures_by_category(self) -> Counter[str]:
        return Counter(
            r.planned.expected_failure.category
            for r in self.results
            if r.outcome == "xfailed" and r.planned.expected_failure is not None
        )

    def total_line(self) -> str:
        return total_line(self.counts)


def total_line(counts: Mapping[Any, int]) -> str:
    """`N passed, N failed`, then `, N expected failures` and `, N skipped` when there are any."""
    line = f"{counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed"
    if counts.get("xfailed"):
        line += f", {counts['xfailed']} expected failure" + ("s" if counts["xfailed"] != 1 else "")
    if counts.get("skipped"):
        line += f", {counts['skipped']} skipped"
    return line


def is_france_connect_only(operation: Operation, case: Case) -> bool:
    return operation.is_france_connect or bool(FRANCE_CONNECT_IDENTITY_KEYS & set(case.params))


# ---------------------------------------------------------------------------
# Lint findings → expected failures
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# FranceConnect: which fake token reaches which case
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Comparing an answer with its case
# ---------------------------------------------------------------------------


def _show(value: Any, limit: int = 80) -> str:
    import json

    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _same_scalar(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return expected == actual or (math.isnan(expected) and math.isnan(actual))
    return type(expected) is type(actual) and bool(expected == actual)


def json_diff(expected: Any, actual: Any, path: str = "$", limit: int = MAX_DIFF_LINES) -> list[str]:
    """Where `actual` differs from `expected`, one line per difference (types are strict: 1 ≠ "1" ≠ true)."""
    from sandbox.serve.response_validation import json_path

    lines: list[str] = []

    def walk(exp: Any, act: Any, parts: list[str | int]) -> None:
        if len(lines) >= limit:
            return
        where = json_path(parts) if parts else path
        if isinstance(exp, dict) and isinstance(act, dict):
            for key in exp:
                if key not in act:
                    lines.append(f"{json_path([*parts, key])}: missing (expected {_show(exp[key])})")
                else:
                    walk(exp[key], act[key], [*parts, key])
            for key in act:
                if key not in exp:
                    lines.append(f"{json_path([*parts, key])}: unexpected (got {_show(act[key])})")
            return
        if isinstance(exp, list) and isinstance(act, list):
            if len(exp) != len(act):
                lines.append(f"{where}: expected {len(exp)} items, got {len(act)}")
            for index, (e, a) in enumerate(zip(exp, act, strict=False)):
                walk(e, a, [*parts, index])
            return
        if not _same_scalar(exp, act):
            lines.append(f"{where}: expected {_show(exp)}, got {_show(act)}")

    walk(expected, actual, [])
    return lines[:limit]


def evaluate(
    planned: PlannedCase, status: int, body: Any, parsed: bool, validators: ResponseValidators
) -> tuple[bool, list[str], SchemaOutcome]:
    """Whether the answer is the documented one and matches its schema; what differs if not."""
    case = planned.case
    messages: list[str] = []
    if status != case.status:
        messages.append(f"status: expected {case.status}, got {status}")
    if not parsed:
        messages.append(f"body: expected JSON, got {_show(body if isinstance(body, str) else str(body), 160)}")
    else:
        diff = json_diff(case.payload, body)
        if diff:
            messages.append("body differs from the case's payload:")
            messages.extend(f"  {line}" for line in diff)
    if parsed:
        schema = validators.check(planned.operation_id, status, body)
    else:
        schema = validators.check_unparsable(planned.operation_id, status, "not JSON")
    if schema.verdict == "invalid":
        messages.append(f"answer does not match the OpenAPI schema of status {status}:")
        messages.extend(f"  {error.path}: {error.message}" for error in schema.errors)
    return not messages, messages, schema


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


class Progress:
    """`contract: i/n (p%)` on stderr: redrawn in place on a terminal, one line every 10% otherwise."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.tty = bool(stream is not None and stream.isatty())
        self._next_tenth = 1

    def tick(self) -> None:
        self.done += 1
        if self.stream is None or self.total == 0:
            return
        percent = self.done * 100 // self.total
        if self.tty:
            self.stream.write(f"\rcontract: {self.done}/{self.total} ({percent}%)")
            self.stream.flush()
        elif self.done * 10 >= self._next_tenth * self.total:
            while self.done * 10 >= self._next_tenth * self.total:
                self._next_tenth += 1
            self.stream.write(f"contract: {self.done}/{self.total} ({percent}%)\n")
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.tty and self.total:
            self.stream.write("\n")
            self.stream.flush()


async def fetch(client: httpx.AsyncClient, request: CaseRequest) -> tuple[httpx.Response | None, str, int]:
    """The answer, or the last connection error after the retries; and the number of attempts."""
    last = ""
    for attempt in range(CONNECTION_RETRIES + 1):
        try:
            response = await client.get(request.path, params=list(request.query), headers=dict(request.headers))
            return response, "", attempt + 1
        except CONNECTION_ERRORS as error:
            last = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            if attempt < CONNECTION_RETRIES:
                await asyncio.sleep(RETRY_BACKOFF_S * 2**attempt)
        except httpx.TimeoutException as error:
            return None, f"timed out ({type(error).__name__})", attempt + 1
    return None, f"connection failed after {CONNECTION_RETRIES + 1} attempts: {last}", CONNECTION_RETRIES + 1


async def _replay_one(
    client: httpx.AsyncClient, planned: PlannedCase, validators: ResponseValidators, gate: asyncio.Semaphore
) -> CaseResult:
    if planned.request is None:
        return CaseResult(planned, "skipped", [planned.skip_reason or "not replayed"])
    async with gate:
        started = time.perf_counter()
        response, error, attempts = await fetch(client, planned.request)
        elapsed = time.perf_counter() - started
    if response is None:
        outcome: Outcome = "xfailed" if planned.expected_failure is not None else "failed"
        return CaseResult(planned, outcome, [error], duration_s=elapsed, attempts=attempts)
    try:
        body: Any = response.json()
        parsed = True
    except ValueError:
        body, parsed = response.text, False
    same, messages, schema = evaluate(planned, response.status_code, body, parsed, validators)
    expected_to_fail = planned.expected_failure is not None
    outcome = "passed" if same else ("xfailed" if expected_to_fail else "failed")
    return CaseResult(planned, outcome, messages, response.status_code, schema, elapsed, attempts)


async def replay_all(
    base_url: str,
    planned: Sequence[PlannedCase],
    validators: ResponseValidators,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: Progress | None = None,
) -> list[CaseResult]:
    gate = asyncio.Semaphore(max(1, concurrency))
    limits = httpx.Limits(max_connections=max(1, concurrency), max_keepalive_connections=max(1, concurrency))
    # httpx sends the base URL's host as Host: a real staging dispatches on it.
    async with httpx.AsyncClient(
        base_url=base_url, timeout=timeout_s, limits=limits, follow_redirects=False, trust_env=False
    ) as client:

        async def one(item: PlannedCase) -> CaseResult:
            result = await _replay_one(client, item, validators, gate)
            if progress is not None:
                progress.tick()
            return result

        return list(await asyncio.gather(*(one(item) for item in planned)))


@dataclass(frozen=True, slots=True)
class ContractOptions:
    base_url: str
    fixtures: Path
    token: str | None = None
    france_connect: bool = False
    junit: Path | None = None
    only: tuple[str, ...] = ()
    concurrency: int = DEFAULT_CONCURRENCY
    timeout_s: float = DEFAULT_TIMEOUT_S
    today: datetime.date | None = None
    match: str = MatchMode.DOCUMENTED.value


# snapshot, today → findings per file, where they come from, the rules that make expected failures (None: all)
Linter = Callable[[Snapshot, datetime.date], tuple[Mapping[str, Sequence[FindingLike]], str, Collection[str] | None]]


def api_of_base_url(base_url: str) -> str | None:
    """The API a host serves alone, as on the real staging (`staging.entreprise.api.gouv.fr`); None: both."""
    host = urlsplit(base_url).hostname or ""
    if "entreprise.api" in host:
        return "entreprise"
    if "particulier.api" in host:
        return "particulier"
    return None


class ContractSetupError(Exception):
    """The run cannot start (no token, unknown operation, no fixture repository)."""


def run_contract(
    options: ContractOptions,
    *,
    progress_stream: TextIO | None = None,
    snapshot: Snapshot | None = None,
    findings: Linter | None = None,
) -> ContractReport:
    """Replay every case of `options.fixtures` against `options.base_url`."""
    started = time.perf_counter()
    if snapshot is None:
        if not (options.fixtures / "payloads").is_dir():
            raise ContractSetupError(f"{options.fixtures} is not a fixture repository (no payloads/ folder)")
        snapshot = build_snapshot(options.fixtures, MatchMode(options.match))
    token = options.token or snapshot.content.tokens.get("default")
    if not token:
        raise ContractSetupError(f"no token: pass --token, or add tokens/default to {snapshot.root}")
    known = set(snapshot.tables) | set(snapshot.content.folders)
    unknown = sorted(set(options.only) - known)
    if unknown:
        raise ContractSetupError(f"unknown operation(s): {', '.join(unknown)}")
    today = options.today or datetime.date.today()
    found, lint_source, rules = (findings or lint_findings)(snapshot, today)
    expected = expected_failures_from_findings(found, snapshot.root, rules)
    planned = plan(
        snapshot,
        token,
        expected=expected,
        france_connect=options.france_connect,
        today=today,
        only=options.only,
        api=api_of_base_url(options.base_url),
    )
    validators = ResponseValidators.from_snapshot(snapshot)
    progress = Progress(len(planned), progress_stream)
    try:
        results = asyncio.run(
            replay_all(
                options.base_url,
                planned,
                validators,
                concurrency=options.concurrency,
                timeout_s=options.timeout_s,
                progress=progress,
            )
        )
    finally:
        progress.close()
    report = ContractReport(
        base_url=options.base_url,
        fixtures=snapshot.root,
        results=results,
        duration_s=time.perf_counter() - started,
        lint_source=lint_source,
        schema_notes=list(validators.notes),
    )
    if options.junit is not None:
        write_junit(report, options.junit)
    return report


# ---------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------


def _indent(lines: Iterable[str], prefix: str = "      ") -> list[str]:
    return [prefix + line for line in lines]


def format_report(report: ContractReport) -> list[str]:
    lines = [f"Contract of {report.fixtures} against {report.base_url}"]
    for operation_id, results in report.by_operation().items():
        counts = Counter(r.outcome for r in results)
        lines.append(f"{operation_id}: {total_line(counts)}")
        for result in results:
            source = result.case.source
            if result.outcome == "failed":
                lines.append(f"  FAILED {source}")
                lines.extend(_indent(result.messages))
            elif result.outcome == "xfailed":
                lines.append(f"  XFAIL  {source}: {result.reason}")
            elif result.outcome == "skipped":
                lines.append(f"  SKIP   {source}: {result.reason}")
            elif result.unexpectedly_passed:
                lines.append(f"  XPASS  {source}: answered as documented although {result.reason}")
            if result.schema is not None and result.schema.verdict == "undocumented" and result.outcome != "xfailed":
                lines.append(f"  NOTE   {source}: status {result.status} is not documented in the OpenAPI document")
    categories = report.expected_failures_by_category()
    if categories:
        lines.append("Expected failures by reason:")
        lines.extend(f"  {count} {category}" for category, count in categories.most_common())
    if report.schema_notes:
        lines.append("OpenAPI schemas read with a workaround:")
        lines.extend(f"  {note}" for note in report.schema_notes)
    lines.append(f"Expected failures from the lint: {report.lint_source}")
    lines.append(f"{report.total_line()} in {report.duration_s:.1f}s")
    return lines


def _failure_text(result: CaseResult) -> str:
    parts = [f"{result.planned.request.method} {result.planned.request.target}"] if result.planned.request else []
    parts.append(f"case: {result.case.source} (status {result.case.status})")
    parts.extend(result.messages)
    return "\n".join(parts)


def junit_tree(report: ContractReport) -> ET.ElementTree:
    counts = report.counts
    root = ET.Element(
        "testsuites",
        {
            "name": "sandbox contract",
            "tests": str(len(report.results)),
            "failures": str(counts["failed"]),
            "errors": "0",
            "skipped": str(counts["xfailed"] + counts["skipped"]),
            "time": f"{report.duration_s:.3f}",
        },
    )
    for operation_id, results in report.by_operation().items():
        suite_counts = Counter(r.outcome for r in results)
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": operation_id,
                "tests": str(len(results)),
                "failures": str(suite_counts["failed"]),
                "errors": "0",
                "skipped": str(suite_counts["xfailed"] + suite_counts["skipped"]),
                "time": f"{sum(r.duration_s for r in results):.3f}",
            },
        )
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", {"name": "base_url", "value": report.base_url})
        ET.SubElement(properties, "property", {"name": "fixtures", "value": report.fixtures})
        for result in results:
            case = ET.SubElement(
                suite,
                "testcase",
                {
                    "classname": operation_id,
                    "name": result.case.file,
                    "file": result.case.source,
                    "time": f"{result.duration_s:.3f}",
                },
            )
            if result.outcome == "failed":
                first = result.messages[0] if result.messages else "failed"
                failure = ET.SubElement(case, "failure", {"type": "contract", "message": first})
                failure.text = _failure_text(result)
            elif result.outcome == "xfailed":
                ET.SubElement(case, "skipped", {"type": "xfail", "message": f"expected failure: {result.reason}"})
                ET.SubElement(case, "system-out").text = _failure_text(result)
            elif result.outcome == "skipped":
                ET.SubElement(case, "skipped", {"type": "skip", "message": result.reason or "skipped"})
            elif result.unexpectedly_passed:
                ET.SubElement(case, "system-out").text = f"passed although expected to fail: {result.reason}"
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report: ContractReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_tree(report).write(path, encoding="utf-8", xml_declaration=True)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

DESCRIPTION = """\
Replay every documented case of a fixture repository against a server (this sandbox,
or a real staging) and check each answer: the case's status, its JSON body, and the
OpenAPI schema of the status (violations are reported with their JSON path).

Each case is sent as its README cURL command sends it, with the repository's token
(tokens/default) or --token. Cases that can never be answered as documented are
expected failures, shown with their reason: routes gone (410), FranceConnect-only
cases (unless --france-connect), cases the repository lint reports as errors.
"""

EPILOG = """\
exit status: 0 when no case failed, 1 when one did, 2 when the run could not start.

A host named like a real staging one (entreprise.api…, particulier.api…) answers
one API only: the other API's cases are skipped.

examples:
  sandbox contract --base-url http://127.0.0.1:8000
  sandbox contract --base-url https://staging.entreprise.api.gouv.fr --match staging \\
      --fixtures ../siade_staging_data --only api_entreprise_v3_insee_unites_legales
  sandbox contract --base-url http://127.0.0.1:8000 --france-connect --junit contract.xml
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _base_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text.rstrip("/")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        required=True,
        type=_base_url,
        metavar="URL",
        help="server to check, e.g. http://127.0.0.1:8000 or https://staging.entreprise.api.gouv.fr "
        "(its host is sent as Host)",
    )
    parser.add_argument(
        "--fixtures", metavar="PATH", type=Path, help="fixture repository whose cases are replayed (default: embedded)"
    )
    parser.add_argument("--token", metavar="T", help="API token to send (default: the repository's tokens/default)")
    parser.add_argument(
        "--france-connect",
        action="store_true",
        help="replay FranceConnect-only cases with the fake FranceConnect token that reaches each of them "
        "(default: they are expected failures)",
    )
    parser.add_argument("--junit", metavar="FILE", type=Path, help="write a JUnit XML report to FILE")
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        default=[],
        metavar="OPERATION",
        help="replay only these operations (fixture folder names; repeatable)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help="requests in flight at once (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help="seconds to wait for each answer (default: %(default)s); connection errors are retried "
        f"{CONNECTION_RETRIES} times, HTTP errors never",
    )
    parser.add_argument(
        "--match",
        choices=[m.value for m in MatchMode],
        default=MatchMode.DOCUMENTED.value,
        help="the lookup the server applies, for the lint's unreachable cases: documented (a sandbox in its "
        "default mode) or staging (the real staging, or `sandbox serve --match staging`); default: %(default)s",
    )
    parser.add_argument(
        "--today",
        type=datetime.date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the date the lint's validation rules count from (age windows, year ranges) when it predicts "
        "the cases a server rejects: use the server's --today (default: the real date)",
    )


def add_command(commands: Any) -> None:
    """Register `contract` on the `sandbox` command's subparsers."""
    parser = commands.add_parser(
        "contract",
        help="replay every case against a server and check status, body and OpenAPI schema",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    from sandbox.load.embedded import default_fixtures

    options = ContractOptions(
        base_url=args.base_url,
        fixtures=Path(args.fixtures) if args.fixtures else default_fixtures(),
        token=args.token,
        france_connect=args.france_connect,
        junit=args.junit,
        only=tuple(args.only),
        concurrency=args.concurrency,
        timeout_s=args.timeout,
        today=args.today,
        match=args.match,
    )
    try:
        report = run_contract(options, progress_stream=err)
    except ContractSetupError as error:
        print(f"sandbox contract: {error}", file=err)
        return 2
    for line in format_report(report):
        print(line, file=out)
    if options.junit is not None:
        print(f"JUnit report written to {options.junit}", file=out)
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sandbox contract",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
