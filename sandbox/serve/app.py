"""The ASGI application: a thin shell around `pipeline.answer`.

API requests go straight from the ASGI scope to pre-serialised bytes. The paths no API
uses (the catalogue, `/__sandbox/...`, the legacy reload route) go to `own`, an ASGI app
that `sandbox.web` mounts there. Every response names the snapshot it came from in
`X-Sandbox-Commit`. Who may use the sandbox's own routes is an `AdminPolicy` decided at
start (`serve.access`). With metrics on, every API request is counted (`serve.metrics`); with
the access log on, every request is logged once, tokens redacted (`serve.request_log`).
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.load.snapshot import Prepared, Snapshot, SnapshotHolder
from sandbox.load.sync import Syncer
from sandbox.rules import rendering
from sandbox.rules.bounded_cache import BoundedCache
from sandbox.rules.rendering import Header
from sandbox.rules.unreadable import reads_body
from sandbox.serve import replies
from sandbox.serve.access import AdminPolicy
from sandbox.serve.delivery import deliver
from sandbox.serve.journal import PATH_CHARS, QUERY_CHARS, Entry, Journal, journal_text
from sandbox.serve.metrics import RequestMetrics
from sandbox.serve.pipeline import Answer, IncomingRequest, Services, answer, read_headers
from sandbox.serve.prefer_header import NO_PREFERENCES
from sandbox.serve.request_limits import NOSNIFF, announced_too_large, body_too_large, oversize, oversize_of, read_body
from sandbox.serve.request_log import log_request, request_id

if TYPE_CHECKING:
    from sandbox.serve.response_validation import ResponseValidators, SchemaOutcome

SANDBOX_PREFIX = "/__sandbox"
CATALOGUE_PREFIX = "/ui/"  # the web catalogue: `/` and `/ui/...`, paths no API uses
RELOAD_PATH = "/api/reload-mocks"
METRICS_PATH = "/metrics"  # Prometheus' conventional path; no API uses it
OWN_OUTCOME = "own-route"  # the outcome a request line gives the sandbox's own routes
# How long a reload or webhook caller waits for the reload that covers it; then 202 "queued".
RELOAD_WAIT_S = 30.0
# Response-validation verdicts, per (operation, status, body): bodies are mostly the snapshot's own,
# but a generated one is kept alive by its key, so the memo is bounded in bytes too.
_VERDICTS = 4096
_VERDICT_BYTES = 16 * 1024 * 1024
# Whole answers to requests repeated byte for byte (path, query string, the headers read, the day):
# bounded in entries and bytes (the key's text, and about 1 KiB for the answer: its body is shared).
_ANSWERS = 4096
_ANSWER_BYTES = 8 * 1024 * 1024
_ANSWER_COST = 1024


class SandboxApp:
    def __init__(
        self,
        holder: SnapshotHolder,
        services: Services,
        syncer: Syncer | None = None,
        admin: AdminPolicy | None = None,
    ) -> None:
        self.holder = holder
        self.metrics: RequestMetrics | None = None  # set by `sandbox.web.create_app(metrics=True)`
        self.access_log = False  # one log line per request (`--access-log`)
        self.services = services
        self.syncer = syncer
        self.admin = admin or AdminPolicy()  # open: what an embedding (the pytest plugin) on loopback expects
        self.reload_wait_s = RELOAD_WAIT_S
        self.journal = Journal(services.journal_size)
        self._answers: BoundedCache[tuple[object, ...], tuple[Decided, datetime.date]] = BoundedCache(
            _ANSWERS, _ANSWER_BYTES
        )
        self._answers_owner: Snapshot | None = None
        self._seen = [0] * _ANSWERS
        self._schemas: (
            tuple[Snapshot, ResponseValidators, BoundedCache[tuple[str, int, bytes], SchemaOutcome]] | None
        ) = None
        # The sandbox's own routes (catalogue, status, journal, reload, webhook): set by `sandbox.web`.
        self.own: ASGIApp = _no_own_routes

    @property
    def snapshot(self) -> Snapshot:
        return self.holder.current

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.own(scope, receive, send)
            return
        started = time.perf_counter()
        snapshot = self.holder.current  # one snapshot per request, read once
        scenarios = self.services.scenarios
        refused = oversize(scope, self.services.limits)  # before anything reads the path or the headers
        if refused is not None:
            prepared = replies.reply(refused.status, refused.text.encode(), rendering.TEXT, refused.outcome)
            await _send_prepared(send, prepared, scope["method"], self._own_headers(snapshot))
            self._observe_refused(scope, prepared, snapshot, started)
            return
        path = scope["path"]
        if is_own_route(path, scope["method"]):
            own_headers = self._own_headers(snapshot)
            if self.access_log:
                await self._own_logged(scope, receive, send, snapshot, started, own_headers)
            else:
                await self.own(scope, receive, _with_headers(send, own_headers))
            return
        headers = read_headers(scope["headers"])
        body = await self._body(scope, receive, headers.get("content-type"))
        if body is None:
            too_large = body_too_large(self.services.limits.max_body_bytes)
            prepared = replies.reply(413, too_large.text.encode(), rendering.TEXT, too_large.outcome)
            await _send_prepared(send, prepared, scope["method"], self._own_headers(snapshot))
            self._observe_refused(scope, prepared, snapshot, started)
            return
        preferences = scenarios.preferences(scope["headers"]) if "prefer" in headers else NO_PREFERENCES
        query_string = scope["query_string"]
        repeated = self._seen_before(path, query_string, headers.get("x-request-id"))
        request = IncomingRequest(scope["method"], path, query_string, headers, body, preferences, repeated)
        decided = self._decide(snapshot, request, started)
        await deliver(
            receive,
            send,
            decided.status,
            decided.headers,
            decided.body,
            delay_s=scenarios.delay_s(decided.answered.applied),
            fault=decided.answered.applied.fault,
            max_delay_s=scenarios.max_delay_s,
        )
        self.settle(decided)

    def answer_now(
        self, method: str, path: str, raw_path: bytes, query_string: bytes, raw_headers: list[tuple[bytes, bytes]]
    ) -> Decided | None:
        """The answer to an API request that has no body, decided at once when nothing in it waits
        (`serve.wire` writes it straight away, then calls `settle`). None: the request goes the ASGI
        way, where everything else is handled: the own routes, an oversized request, `Prefer`, latency."""
        services = self.services
        if services.scenarios.latency_ms is not None or is_own_route(path, method):
            return None
        started = time.perf_counter()
        if oversize_of(raw_path, query_string, raw_headers, services.limits) is not None:
            return None
        headers = read_headers(raw_headers)
        if "prefer" in headers and services.scenarios.prefer:
            return None
        repeated = self._seen_before(path, query_string, headers.get("x-request-id"))
        request = IncomingRequest(method, path, query_string, headers, repeated=repeated)
        return self._decide(self.holder.current, request, started)

    def _decide(self, snapshot: Snapshot, request: IncomingRequest, started: float) -> Decided:
        """The answer and its headers; a request seen before with the same answer ahead (`Answer.same_until`)
        is answered from memory, until the snapshot changes."""
        services = self.services
        key: tuple[object, ...] | None = None
        if request.repeated and not request.body and request.preferences is NO_PREFERENCES:
            key = (request.method, request.path, request.query_string, *request.headers.items())
            if self._answers_owner is not snapshot:
                self._answers.clear()
                self._answers_owner = snapshot
            seen = self._answers.get(key)
            if seen is not None and seen[1] == services.today() and services.clock() <= seen[0].answered.same_until:
                kept = seen[0]
                return Decided(kept.headers, kept.body, kept.answered, request, kept.verdict, started, snapshot)
        answered = answer(snapshot, request, services)
        prepared, operation_id = answered.prepared, answered.operation_id
        extra = [(b"content-length", b"%d" % len(prepared.body)), *self._own_headers(snapshot)]
        verdict = None
        if services.validate_responses and operation_id is not None:
            verdict = self._schema_outcome(snapshot, operation_id, prepared)
            extra.append((b"x-sandbox-schema", verdict.verdict.encode()))
        body = b"" if request.method == "HEAD" else prepared.body
        decided = Decided((*prepared.headers, *extra), body, answered, request, verdict, started, snapshot)
        if key is not None and answered.same_until > 0:
            cost = len(request.path) + len(request.query_string) + sum(map(len, request.headers.values()))
            self._answers.put(key, (decided, services.today()), cost + _ANSWER_COST)
        return decided

    def _own_headers(self, snapshot: Snapshot) -> tuple[Header, ...]:
        """What every answer carries after its own headers: the snapshot, the profile, `nosniff`."""
        return (snapshot.revision_header, self.services.scenarios.profile_header, NOSNIFF)

    def _seen_before(self, path: str, query_string: bytes, request_id: str | None) -> bool:
        """Whether a request with this path, query string and `X-Request-Id` came lately (one slot per
        hash): only such a request is looked up and remembered, so that a stream of new ones (a new
        request id each, as many clients send) costs three hashes each and no memory."""
        slot = hash(query_string) ^ hash(path) ^ hash(request_id)
        seen = self._seen
        index = slot % len(seen)
        if seen[index] == slot:
            return True
        seen[index] = slot
        return False

    def settle(self, decided: Decided) -> None:
        """What follows a written answer: its journal entry, its count, its request line."""
        elapsed = time.perf_counter() - decided.started
        answered, request, verdict = decided.answered, decided.request, decided.verdict
        prepared = answered.prepared
        entry = Entry(
            at=time.time(),
            method=request.method,
            path=journal_text(request.path, PATH_CHARS),
            query=journal_text(request.query_string, QUERY_CHARS),
            operation=answered.operation_id,
            outcome=answered.outcome,
            case=prepared.case_id,
            status=prepared.status,
            duration_ms=elapsed * 1000,
            revision=decided.snapshot.revision,
            near_miss=answered.near_miss,
            schema=verdict.verdict if verdict else None,
            schema_errors=tuple(str(e) for e in verdict.errors) if verdict else (),
            preference=answered.applied.text,
            auth=prepared.header(b"x-sandbox-auth") if prepared.outcome == "auth-error" else None,
        )
        self.journal.record(entry)
        if self.metrics is not None:
            self.metrics.count(answered.operation, prepared, elapsed)
        if self.access_log:
            log_request(entry, request_id(request.headers.get("x-request-id")))

    def _observe_refused(self, scope: Scope, prepared: Prepared, snapshot: Snapshot, started: float) -> None:
        """A request refused before it was read (414, 431): counted with no operation, logged."""
        elapsed = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.count(None, prepared, elapsed)
        if self.access_log:
            log_request(_entry(scope, prepared.outcome, prepared.status, elapsed, snapshot), request_id(None))

    async def _own_logged(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        snapshot: Snapshot,
        started: float,
        own_headers: tuple[tuple[bytes, bytes], ...],
    ) -> None:
        """A request to the sandbox's own routes, with its request line (not counted: not an API request)."""
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.own(scope, receive, _with_headers(sending, own_headers))
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        entry = _entry(scope, OWN_OUTCOME, status, time.perf_counter() - started, snapshot)
        log_request(entry, request_id(given))

    async def _body(self, scope: Scope, receive: Receive, content_type: str | None) -> bytes | None:
        """The body when Rails would parse it (a JSON `Content-Type`, §3.6), else b""; None: over the limit."""
        limit = self.services.limits.max_body_bytes
        if announced_too_large(scope, limit):
            return None
        return await read_body(receive, limit) if reads_body(content_type) else b""

    def _schema_outcome(self, snapshot: Snapshot, operation_id: str, prepared: Prepared) -> SchemaOutcome:
        """Validators compiled once per snapshot; a verdict remembered per (operation, status, body)."""
        if self._schemas is None or self._schemas[0] is not snapshot:
            from sandbox.serve.response_validation import ResponseValidators  # jsonschema: only when asked

            self._schemas = (
                snapshot,
                ResponseValidators.from_snapshot(snapshot),
                BoundedCache(_VERDICTS, _VERDICT_BYTES),
            )
        _, validators, verdicts = self._schemas
        key = (operation_id, prepared.status, prepared.body)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = validators.check_bytes(operation_id, prepared.status, prepared.body)
            cost = len(prepared.body) + sum(len(str(error)) for error in verdict.errors)
            verdicts.put(key, verdict, cost)
        return verdict


def is_own_route(path: str, method: str) -> bool:
    """A path of the sandbox's own routes (catalogue, `/__sandbox/...`, metrics, the legacy reload)."""
    return (
        path.startswith(SANDBOX_PREFIX)
        or path in ("/", "/ui", METRICS_PATH)
        or path.startswith(CATALOGUE_PREFIX)
        or (path == RELOAD_PATH and method == "POST")
    )


# Not frozen, as the other records made for every request: a frozen dataclass sets each field through
# `object.__setattr__` (about 4x the time); nothing changes one once made.
@dataclass(slots=True)
class Decided:
    """An API answer decided and not yet written, with what `settle` records once it is."""

    headers: tuple[Header, ...]
    body: bytes  # empty for HEAD
    answered: Answer
    request: IncomingRequest
    verdict: SchemaOutcome | None
    started: float
    snapshot: Snapshot

    @property
    def status(self) -> int:
        return self.answered.prepared.status


def _entry(scope: Scope, outcome: str, status: int, seconds: float, snapshot: Snapshot) -> Entry:
    """A request line's entry for an answer no operation gave, not journaled (cut and redacted like the
    journal's when formatted)."""
    return Entry(
        at=time.time(),
        method=scope["method"],
        path=journal_text(scope["path"], PATH_CHARS),
        query=journal_text(scope["query_string"], QUERY_CHARS),
        operation=None,
        outcome=outcome,
        case=None,
        status=status,
        duration_ms=seconds * 1000,
        revision=snapshot.revision,
        near_miss=None,
        schema=None,
        schema_errors=(),
    )


async def _send_prepared(send: Send, prepared: Prepared, method: str, extra: tuple[tuple[bytes, bytes], ...]) -> None:
    headers = (*prepared.headers, (b"content-length", b"%d" % len(prepared.body)), *extra)
    await send({"type": "http.response.start", "status": prepared.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else prepared.body})


def _with_headers(send: Send, headers: tuple[tuple[bytes, bytes], ...]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *headers]}
        await send(message)

    return sending


async def _no_own_routes(scope: Scope, receive: Receive, send: Send) -> None:
    """The own routes of an app `sandbox.web.create_app` did not make: none (404)."""
    from starlette.responses import PlainTextResponse

    await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
