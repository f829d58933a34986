"""The ASGI application: a thin shell around `pipeline.answer`.

API requests go straight from the ASGI scope to pre-serialised bytes. The paths no API
uses (the catalogue, `/__sandbox/...`, the legacy reload route) go to `own`, an ASGI app
that `sandbox.web` mounts there. Every response names the snapshot it came from in
`X-Sandbox-Commit`. Who may use the sandbox's own routes is an `AdminPolicy` decided at
start (`serve.access`).
"""

from __future__ import annotations

import time

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.load.snapshot import Prepared, Snapshot, SnapshotHolder
from sandbox.load.sync import Syncer
from sandbox.rules import rendering
from sandbox.rules.bounded_cache import BoundedCache
from sandbox.serve import replies
from sandbox.serve.access import AdminPolicy
from sandbox.serve.journal import PATH_CHARS, QUERY_CHARS, Entry, Journal, journal_text
from sandbox.serve.pipeline import IncomingRequest, Services, answer
from sandbox.serve.request_limits import NOSNIFF, oversize
from sandbox.serve.response_validation import ResponseValidators, SchemaOutcome

SANDBOX_PREFIX = "/__sandbox"
CATALOGUE_PREFIX = "/ui/"  # the web catalogue: `/` and `/ui/...`, paths no API uses
RELOAD_PATH = "/api/reload-mocks"
# How long a reload or webhook caller waits for the reload that covers it; then 202 "queued".
RELOAD_WAIT_S = 30.0
# Response-validation verdicts, per (operation, status, body): bodies are mostly the snapshot's own,
# but a generated one is kept alive by its key, so the memo is bounded in bytes too.
_VERDICTS = 4096
_VERDICT_BYTES = 16 * 1024 * 1024


class SandboxApp:
    def __init__(
        self,
        holder: SnapshotHolder,
        services: Services,
        syncer: Syncer | None = None,
        admin: AdminPolicy | None = None,
    ) -> None:
        self.holder = holder
        self.services = services
        self.syncer = syncer
        self.admin = admin or AdminPolicy()  # open: what an embedding (the pytest plugin) on loopback expects
        self.reload_wait_s = RELOAD_WAIT_S
        self.journal = Journal(services.journal_size)
        self._schemas: (
            tuple[Snapshot, ResponseValidators, BoundedCache[tuple[str, int, bytes], SchemaOutcome]] | None
        ) = None
        # The sandbox's own routes (catalogue, status, journal, reload, webhook): set by `sandbox.web`.
        self.own: ASGIApp = PlainTextResponse("Not Found", status_code=404)

    @property
    def snapshot(self) -> Snapshot:
        return self.holder.current

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.own(scope, receive, send)
            return
        snapshot = self.holder.current  # one snapshot per request, read once
        refused = oversize(scope, self.services.limits)  # before anything reads the path or the headers
        if refused is not None:
            prepared = replies.reply(refused.status, refused.text.encode(), rendering.TEXT, refused.outcome)
            await _send_prepared(send, prepared, scope["method"], (snapshot.revision_header, NOSNIFF))
            return
        path = scope["path"]
        if (
            path.startswith(SANDBOX_PREFIX)
            or path in ("/", "/ui")
            or path.startswith(CATALOGUE_PREFIX)
            or (path == RELOAD_PATH and scope["method"] == "POST")
        ):
            await self.own(scope, receive, _with_headers(send, (snapshot.revision_header, NOSNIFF)))
            return
        started = time.perf_counter()
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        request = IncomingRequest(scope["method"], path, scope["query_string"], headers)
        answered = answer(snapshot, request, self.services)
        prepared, operation_id = answered.prepared, answered.operation_id
        extra = [(b"content-length", b"%d" % len(prepared.body)), snapshot.revision_header, NOSNIFF]
        verdict = None
        if self.services.validate_responses and operation_id is not None:
            verdict = self._schema_outcome(snapshot, operation_id, prepared)
            extra.append((b"x-sandbox-schema", verdict.verdict.encode()))
        body = b"" if scope["method"] == "HEAD" else prepared.body
        await send({"type": "http.response.start", "status": prepared.status, "headers": (*prepared.headers, *extra)})
        await send({"type": "http.response.body", "body": body})
        self.journal.record(
            Entry(
                at=time.time(),
                method=scope["method"],
                path=journal_text(path, PATH_CHARS),
                query=journal_text(scope["query_string"], QUERY_CHARS),
                operation=operation_id,
                outcome=answered.outcome,
                case=prepared.case_id,
                status=prepared.status,
                duration_ms=(time.perf_counter() - started) * 1000,
                revision=snapshot.revision,
                near_miss=answered.near_miss,
                schema=verdict.verdict if verdict else None,
                schema_errors=tuple(str(e) for e in verdict.errors) if verdict else (),
                auth=prepared.header(b"x-sandbox-auth") if prepared.outcome == "auth-error" else None,
            )
        )

    def _schema_outcome(self, snapshot: Snapshot, operation_id: str, prepared: Prepared) -> SchemaOutcome:
        """Validators compiled once per snapshot; a verdict remembered per (operation, status, body)."""
        if self._schemas is None or self._schemas[0] is not snapshot:
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
