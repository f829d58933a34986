"""The ASGI application: a thin shell around `pipeline.answer`.

API requests go straight from the ASGI scope to pre-serialised bytes; the sandbox's
own routes (`/__sandbox/...`) and the legacy reload route are a small Starlette app.
Every response names the snapshot it came from in `X-Sandbox-Commit`. Who may use the
sandbox's own routes is an `AdminPolicy` decided at start (`sandbox.admin`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from sandbox import rendering, replies
from sandbox.admin import AdminPolicy, admin_only, public_status
from sandbox.bounded_cache import BoundedCache
from sandbox.explain import explanation, header_value
from sandbox.journal import PATH_CHARS, QUERY_CHARS, Entry, Journal, journal_text
from sandbox.pipeline import IncomingRequest, Services, answer, api_of_host
from sandbox.request_limits import NOSNIFF, oversize
from sandbox.response_validation import ResponseValidators, SchemaOutcome
from sandbox.routing import VersionMiss
from sandbox.snapshot import Prepared, Snapshot, SnapshotHolder, describe
from sandbox.sync import ReloadAttempt, Syncer

SANDBOX_PREFIX = "/__sandbox"
CATALOGUE_PREFIX = "/ui/"  # the web catalogue: `/` and `/ui/...`, paths no API uses
RELOAD_PATH = "/api/reload-mocks"
# How long a reload or webhook caller waits for the reload that covers it; then 202 "queued".
RELOAD_WAIT_S = 30.0
# Response-validation verdicts, per (operation, status, body): bodies are mostly the snapshot's own,
# but a generated one is kept alive by its key, so the memo is bounded in bytes too.
_VERDICTS = 4096
_VERDICT_BYTES = 16 * 1024 * 1024
_JOURNAL_SLICE = 50  # entries written between two turns of the event loop


class SandboxApp:
    def __init__(
        self,
        holder: SnapshotHolder,
        services: Services,
        syncer: Syncer | None = None,
        webhook_secret: str | None = None,
        admin: AdminPolicy | None = None,
    ) -> None:
        self.holder = holder
        self.services = services
        self.syncer = syncer
        self.webhook_secret = webhook_secret
        self.admin = admin or AdminPolicy()  # open: what an embedding (the pytest plugin) on loopback expects
        self.reload_wait_s = RELOAD_WAIT_S
        self.journal = Journal(services.journal_size)
        # the last journal read: (recorded, limit, outcome, operation) → its bytes (one body at most)
        self._journal_read: tuple[tuple[int, int, str | None, str | None], bytes] | None = None
        self._schemas: (
            tuple[Snapshot, ResponseValidators, BoundedCache[tuple[str, int, bytes], SchemaOutcome]] | None
        ) = None
        from sandbox.catalogue import catalogue_routes  # the pages read this app: imported late

        self.meta = Starlette(
            routes=[
                *catalogue_routes(self),
                Route(f"{SANDBOX_PREFIX}/status", self.status),
                Route(f"{SANDBOX_PREFIX}/requests", admin_only(self.admin, self.requests)),
                Route(SANDBOX_PREFIX + "/explain/{target:path}", admin_only(self.admin, self.explain)),
                Route(f"{SANDBOX_PREFIX}/webhook", self.webhook, methods=["POST"]),  # its own HMAC signature
                Route(RELOAD_PATH, admin_only(self.admin, self.reload_mocks), methods=["POST"]),
            ],
        )

    @property
    def snapshot(self) -> Snapshot:
        return self.holder.current

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.meta(scope, receive, send)
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
            await self.meta(scope, receive, _with_headers(send, (snapshot.revision_header, NOSNIFF)))
            return
        started = time.perf_counter()
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        request = IncomingRequest(scope["method"], path, scope["query_string"], headers)
        prepared = answer(snapshot, request, self.services)
        extra = [(b"content-length", b"%d" % len(prepared.body)), snapshot.revision_header, NOSNIFF]
        routed = snapshot.router.match(path, api_of_host(request.host))
        operation = (
            None if routed is None else (routed.family[0] if isinstance(routed, VersionMiss) else routed.operation)
        )
        verdict = None
        if self.services.validate_responses and operation is not None:
            verdict = self._schema_outcome(snapshot, operation.id, prepared)
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
                operation=operation.id if operation is not None else None,
                outcome=prepared.outcome,
                case=prepared.case_id,
                status=prepared.status,
                duration_ms=(time.perf_counter() - started) * 1000,
                revision=snapshot.revision,
                near_miss=header_value(prepared, b"x-sandbox-near-miss"),
                schema=verdict.verdict if verdict else None,
                schema_errors=tuple(str(e) for e in verdict.errors) if verdict else (),
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

    async def requests(self, request: Request) -> Response:
        """The journal, newest first: `?outcome=fallback&operation=...&limit=50`.

        Each entry is formatted once (a first read formats in slices, serving other requests
        between them); a read of an unchanged journal is the same bytes again.
        """
        try:
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            return JSONResponse({"error": "limit must be an integer"}, status_code=400)
        outcome, operation = request.query_params.get("outcome"), request.query_params.get("operation")
        key = (self.journal.recorded, limit, outcome, operation)
        if self._journal_read is not None and self._journal_read[0] == key:
            return Response(self._journal_read[1], media_type="application/json")
        entries = self.journal.entries(outcome=outcome, operation=operation, limit=limit)
        head = b'{"size":%d,"recorded":%d,"entries":[' % (self.journal.size, self.journal.recorded)
        encoded: Sequence[bytes | None] = [entry.formatted for entry in entries]
        if None in encoded:
            encoded = await _format_in_slices(entries)
        body = b"".join((head, b",".join(cast(Sequence[bytes], encoded)), b"]}"))
        self._journal_read = (key, body)
        return Response(body, media_type="application/json")

    async def explain(self, request: Request) -> Response:
        """The same request (path and query) explained: operation, lookup key, closest cases."""
        target = "/" + request.path_params["target"]
        base_url = str(request.base_url).rstrip("/")
        body = explanation(self.snapshot, target, request.url.query.encode(), request.headers.get("host", ""), base_url)
        return JSONResponse(body, status_code=200 if "operation" in body else 404)

    async def reload_mocks(self, request: Request) -> Response:
        """Legacy route: reload the fixture repository now (spec §1.5, §6); no auth on a loopback bind.
        Coalesced with every other trigger; the caller gets the outcome of the reload that covers it."""
        if self.syncer is None:
            return Response(status_code=403)
        attempt = await _covering_reload(self.syncer, "reload-mocks", self.reload_wait_s)
        if attempt is None:
            body = {"message": "Reload queued: GET /__sandbox/status tells its outcome", "outcome": "queued"}
            return JSONResponse(body, status_code=202)
        if attempt.outcome in ("refused", "failed"):
            refused = {"message": "Reload refused: the previous cases keep serving", "errors": attempt.errors}
            return JSONResponse(refused, status_code=422)
        return JSONResponse({"message": "Mock backend reloaded"})

    async def webhook(self, request: Request) -> Response:
        """GitHub push webhook, verified by `X-Hub-Signature-256`; nothing is fetched otherwise.

        The body is read chunk by chunk and refused (413) as soon as it passes the limit,
        whether `Content-Length` announced it or not: never buffered past the limit.
        """
        body = await _bounded_body(request, self.services.limits.max_webhook_bytes)
        if body is None:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        if not self.webhook_secret or not _signature_ok(
            self.webhook_secret, body, _raw_header(request, b"x-hub-signature-256")
        ):
            return JSONResponse({"error": "missing or invalid X-Hub-Signature-256"}, status_code=401)
        if request.headers.get("x-github-event") == "ping":
            return JSONResponse({"message": "pong"})
        if self.syncer is None:
            return JSONResponse({"error": "no fixture source to follow"}, status_code=409)
        attempt = await _covering_reload(self.syncer, "webhook", self.reload_wait_s)
        if attempt is None:
            return JSONResponse({"outcome": "queued", "revision": None, "errors": []}, 202)
        status = 200 if attempt.outcome in ("swapped", "unchanged") else 422
        return JSONResponse(
            {"outcome": attempt.outcome, "revision": attempt.revision, "errors": attempt.errors}, status
        )

    async def status(self, request: Request) -> Response:
        """Everything for admins; the revision, counts and health for anyone else (no paths, pid, errors)."""
        full = self.syncer.status() if self.syncer is not None else {**describe(self.snapshot), "healthy": True}
        return JSONResponse(full if self.admin.admits(request) else public_status(full))


async def _covering_reload(syncer: Syncer, reason: str, wait_s: float) -> ReloadAttempt | None:
    """The outcome of the reload that covers this trigger, or None if it has not ended after `wait_s`.
    Waits without holding a thread: the reload runs on the syncer's own thread."""
    future = asyncio.wrap_future(syncer.trigger(reason))
    done, _ = await asyncio.wait({future}, timeout=wait_s)
    if not done:
        future.cancel()  # this waiter only: the reload itself cannot be cancelled
        return None
    return future.result()


async def _format_in_slices(entries: list[Entry]) -> list[bytes]:
    """Each entry formatted (once, remembered), other requests served between two slices."""
    encoded: list[bytes] = []
    for start in range(0, len(entries), _JOURNAL_SLICE):
        if start:
            await asyncio.sleep(0)
        encoded.extend(entry.encoded() for entry in entries[start : start + _JOURNAL_SLICE])
    return encoded


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is (or is announced to be) over `limit` bytes."""
    announced = request.headers.get("content-length", "")
    if announced.isascii() and announced.isdigit() and (len(announced) > 20 or int(announced) > limit):
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _raw_header(request: Request, name: bytes) -> bytes | None:
    return next((value for key, value in request.scope["headers"] if key.lower() == name), None)


def _signature_ok(secret: str, body: bytes, header: bytes | None) -> bool:
    """Compared as bytes: a header may hold any byte, `compare_digest` refuses non-ASCII text."""
    if not header or not header.startswith(b"sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, header[len(b"sha256=") :])


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


def create_app(
    snapshot: Snapshot,
    services: Services | None = None,
    syncer: Syncer | None = None,
    webhook_secret: str | None = None,
    admin: AdminPolicy | None = None,
) -> SandboxApp:
    """The app; `admin` defaults to open (an embedding on loopback): `sandbox serve` decides it from `--host`."""
    holder = syncer.holder if syncer is not None and syncer.holder is not None else SnapshotHolder(snapshot)
    return SandboxApp(holder, services or Services(), syncer, webhook_secret, admin)
