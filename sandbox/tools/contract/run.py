"""Running the contract: every planned case sent concurrently, connection errors retried, progress shown."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from sandbox.load.snapshot import Snapshot, build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.rules.tokens import configured_secrets, mint
from sandbox.serve.response_validation import ResponseValidators
from sandbox.tools.contract.compare import evaluate
from sandbox.tools.contract.habilitation import production_cases
from sandbox.tools.contract.pacing import DEFAULT_MAX_RETRIES, DEFAULT_MAX_WAIT_S, GaveUp, Pacer
from sandbox.tools.contract.planning import (
    Linter,
    PlannedCase,
    api_of_base_url,
    expected_failures_from_findings,
    lint_findings,
    plan,
)
from sandbox.tools.contract.report import CaseResult, ContractReport, Outcome, write_junit
from sandbox.tools.reaching import CaseRequest

RATE_LIMITED = "not checked, rate limited"
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT_S = 30.0
CONNECTION_RETRIES = 3
RETRY_BACKOFF_S = 0.25
# Failures of the transport only: an HTTP answer, whatever its status, is never retried.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


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


async def _paced_fetch(
    client: httpx.AsyncClient, planned: PlannedCase, gate: asyncio.Semaphore, pacer: Pacer
) -> tuple[httpx.Response | None, str, int, float]:
    """`fetch` admitted by the pacer, sent again after each 429 of the server's rate limiter; the time
    spent on the wire. GaveUp when the limits keep it waiting or refusing past the pacer's bounds."""
    assert planned.request is not None
    deadline = pacer.clock() + pacer.max_wait_s
    elapsed, attempts = 0.0, 0
    credential = ",".join(sorted(name.lower() for name, _ in planned.request.headers))
    for refusals in range(pacer.max_retries + 1):
        ticket = await pacer.admit(planned.operation_id, deadline, gate)
        try:
            started = time.perf_counter()
            response, error, tries = await fetch(client, planned.request)
            elapsed += time.perf_counter() - started
        finally:
            gate.release()
        attempts += tries
        status = response.status_code if response is not None else None
        headers = response.headers if response is not None else {}
        delay = pacer.answered(planned.operation_id, credential, ticket, status, headers)
        if delay is None:
            return response, error, attempts, elapsed
        if refusals == pacer.max_retries:
            break
        if pacer.clock() + delay > deadline:
            raise GaveUp(f"the rate limit asked to wait {delay:.0f} s more, past {pacer.max_wait_s:g} s in all")
    raise GaveUp(f"still refused with 429 after {pacer.max_retries + 1} attempts")


async def _replay_one(
    client: httpx.AsyncClient,
    planned: PlannedCase,
    validators: ResponseValidators,
    gate: asyncio.Semaphore,
    pacer: Pacer,
) -> CaseResult:
    if planned.request is None:
        return CaseResult(planned, "skipped", [planned.skip_reason or "not replayed"])
    try:
        response, error, attempts, elapsed = await _paced_fetch(client, planned, gate, pacer)
    except GaveUp as gave_up:
        reason = f"{RATE_LIMITED}: {gave_up} (try a lower --rate, or --only)"
        return CaseResult(planned, "skipped", [reason], skip_reason=reason)
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
    pacer: Pacer | None = None,
) -> list[CaseResult]:
    pacer = pacer or Pacer()
    gate = asyncio.Semaphore(max(1, concurrency))
    limits = httpx.Limits(max_connections=max(1, concurrency), max_keepalive_connections=max(1, concurrency))
    # httpx sends the base URL's host as Host: a real staging dispatches on it.
    async with httpx.AsyncClient(
        base_url=base_url, timeout=timeout_s, limits=limits, follow_redirects=False, trust_env=False
    ) as client:

        async def one(item: PlannedCase) -> CaseResult:
            result = await _replay_one(client, item, validators, gate, pacer)
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
    profile: str = "staging"  # production: 200 bodies are expected cut to the token's scopes
    scopes: tuple[str, ...] | None = None  # mint the token with these scopes (`jwt_secret`)
    jwt_secret: str | None = None
    rate: float | None = None  # requests per second over the run, on top of the server's own limits
    max_wait_s: float = DEFAULT_MAX_WAIT_S  # longest a case may wait for the rate limits, in all
    max_retries: int = DEFAULT_MAX_RETRIES  # 429s of the server's rate limiter a case may meet


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
    if options.scopes is not None:
        token = mint(options.jwt_secret or configured_secrets()[0], options.scopes)
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
    if options.profile == "production":
        user = snapshot.verifier.user(token)
        scopes = options.scopes if options.scopes is not None else (user.scopes if user is not None else ())
        planned = production_cases(planned, snapshot, scopes)
    validators = ResponseValidators.from_snapshot(snapshot)
    progress = Progress(len(planned), progress_stream)
    pacer = Pacer(rate=options.rate, max_retries=options.max_retries, max_wait_s=options.max_wait_s)
    try:
        results = asyncio.run(
            replay_all(
                options.base_url,
                planned,
                validators,
                concurrency=options.concurrency,
                timeout_s=options.timeout_s,
                progress=progress,
                pacer=pacer,
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
        throttled=pacer.throttled_answers,
        waited_s=pacer.waited_s,
    )
    if options.junit is not None:
        write_junit(report, options.junit)
    return report
