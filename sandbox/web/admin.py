"""The sandbox's own routes: status, probes, metrics, journal, token, the legacy reload route and the
push webhook.

(The explanation of a request, `/__sandbox/explain/...`, is a page of the catalogue: `sandbox.web.catalogue`.)

Who may call them is the app's `AdminPolicy` (`serve.access`); the webhook has its own HMAC
signature instead, the probes are open to all, `/metrics` may be opened alone. They read the
app (journal, snapshot, metrics) and the syncer; the request path never calls them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from typing import cast

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.load.handed_token import handed_token
from sandbox.load.snapshot import describe
from sandbox.load.sync import ReloadAttempt, Syncer
from sandbox.serve.access import admin_only, public_status, refusal
from sandbox.serve.app import METRICS_PATH, RELOAD_PATH, SANDBOX_PREFIX, SandboxApp
from sandbox.serve.health import LIVE_PATH, READY_PATH, live_body, ready_body
from sandbox.serve.journal import Entry
from sandbox.tools.reaching import TOKEN_ROUTE

_JOURNAL_SLICE = 50  # entries written between two turns of the event loop


class OwnRoutes:
    """The handlers, bound to one app and its sync machinery."""

    def __init__(self, app: SandboxApp, syncer: Syncer | None, webhook_secret: str | None) -> None:
        self.app = app
        self.syncer = syncer
        self.webhook_secret = webhook_secret
        # the last journal read: (recorded, limit, outcome, operation) → its bytes (one body at most)
        self._journal_read: tuple[tuple[int, int, str | None, str | None], bytes] | None = None

    def routes(self) -> list[BaseRoute]:
        admin = self.app.admin
        return [
            Route(LIVE_PATH, self.live, methods=["GET", "HEAD"]),
            Route(READY_PATH, self.ready, methods=["GET", "HEAD"]),
            Route(METRICS_PATH, self.metrics),
            Route(f"{SANDBOX_PREFIX}/status", self.status),
            Route(f"{SANDBOX_PREFIX}/requests", admin_only(admin, self.requests)),
            Route(TOKEN_ROUTE, self.token),
            Route(f"{SANDBOX_PREFIX}/webhook", self.webhook, methods=["POST"]),  # its own HMAC signature
            Route(RELOAD_PATH, admin_only(admin, self.reload_mocks), methods=["POST"]),
        ]

    async def live(self, request: Request) -> Response:
        """Liveness: the process answers (its own event loop runs)."""
        return Response(live_body(), media_type="application/json")

    async def ready(self, request: Request) -> Response:
        """Readiness: a snapshot is served (before the first one, `serve.health.answer_probes` says 503)."""
        return Response(ready_body(self.app.snapshot.revision), media_type="application/json")

    async def metrics(self, request: Request) -> Response:
        """The Prometheus text format; admins only unless `--metrics-public`. Built off the event loop
        (with workers, it reads every worker's files)."""
        metrics = self.app.metrics
        if metrics is None:
            return PlainTextResponse("Metrics are off (sandbox serve --no-metrics).\n", status_code=404)
        if not self.app.admin.admits_metrics(request):
            return refusal()
        metrics.flush()  # on the event loop that counts
        body = await run_in_threadpool(metrics.exposition)
        return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})

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
        key = (self.app.journal.recorded, limit, outcome, operation)
        if self._journal_read is not None and self._journal_read[0] == key:
            return Response(self._journal_read[1], media_type="application/json")
        entries = self.app.journal.entries(outcome=outcome, operation=operation, limit=limit)
        head = b'{"size":%d,"recorded":%d,"entries":[' % (self.app.journal.size, self.app.journal.recorded)
        encoded: Sequence[bytes | None] = [entry.formatted for entry in entries]
        if None in encoded:
            encoded = await _format_in_slices(entries)
        body = b"".join((head, b",".join(cast(Sequence[bytes], encoded)), b"]}"))
        self._journal_read = (key, body)
        return Response(body, media_type="application/json")

    async def token(self, request: Request) -> Response:
        """The token the sandbox's printed cURL commands read (`export TOKEN=$(curl -sSf …/__sandbox/token)`):
        the repository's public tokens/default to anyone; a token minted with the sandbox's secret to admins."""
        handed = handed_token(self.app.snapshot)
        if not handed.public and not self.app.admin.admits(request):
            return refusal()
        return PlainTextResponse(handed.value + "\n", headers={"Cache-Control": "no-store"})

    async def reload_mocks(self, request: Request) -> Response:
        """Legacy route: reload the fixture repository now (spec §1.5, §6); no auth on a loopback bind.
        Coalesced with every other trigger; the caller gets the outcome of the reload that covers it."""
        if self.syncer is None:
            return Response(status_code=403)
        attempt = await _covering_reload(self.syncer, "reload-mocks", self.app.reload_wait_s)
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
        body = await _bounded_body(request, self.app.services.limits.max_webhook_bytes)
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
        attempt = await _covering_reload(self.syncer, "webhook", self.app.reload_wait_s)
        if attempt is None:
            return JSONResponse({"outcome": "queued", "revision": None, "errors": []}, 202)
        status = 200 if attempt.outcome in ("swapped", "unchanged") else 422
        return JSONResponse(
            {"outcome": attempt.outcome, "revision": attempt.revision, "errors": attempt.errors}, status
        )

    async def status(self, request: Request) -> Response:
        """Everything for admins; the revision, counts and health for anyone else (no paths, pid, errors)."""
        full = self.syncer.status() if self.syncer is not None else {**describe(self.app.snapshot), "healthy": True}
        return JSONResponse(full if self.app.admin.admits(request) else public_status(full))


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
