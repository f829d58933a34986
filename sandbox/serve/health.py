"""Liveness and readiness: what an orchestrator's probes read, before and after the first snapshot.

`GET /__sandbox/live` says the process answers; `GET /__sandbox/ready` says it serves a
snapshot (for a git source: the cache holds a commit, exported and built). Both need no token
and tell nothing about the host. While the first snapshot loads (a first clone can take
minutes), `Loading` answers on the listening socket: live, not ready (503 with the reason),
and 503 for every other request, each answer closing its connection so that clients come back
to the real server once it runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import Receive, Scope, Send

from sandbox.serve.request_limits import NOSNIFF

LIVE_PATH = "/__sandbox/live"
READY_PATH = "/__sandbox/ready"
RETRY_AFTER_S = 2


def live_body() -> bytes:
    return b'{"live":true}'


def ready_body(revision: str) -> bytes:
    return json.dumps({"ready": True, "revision": revision}, separators=(",", ":")).encode()


def not_ready_body(reason: str) -> bytes:
    return json.dumps({"ready": False, "reason": reason}, ensure_ascii=False, separators=(",", ":")).encode()


class Loading:
    """The ASGI app served while the first snapshot loads; `reason()` says what the load is doing."""

    def __init__(self, reason: Callable[[], str]) -> None:
        self.reason = reason

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == LIVE_PATH:
            status, body, content_type = 200, live_body(), b"application/json"
        elif path == READY_PATH:
            status, body, content_type = 503, not_ready_body(self.reason()), b"application/json"
        else:
            text = f"The sandbox is loading its fixture repository ({self.reason()}): retry in a moment.\n"
            status, body, content_type = 503, text.encode(), b"text/plain; charset=utf-8"
        headers = [
            (b"content-type", content_type),
            (b"content-length", b"%d" % len(body)),
            (b"retry-after", b"%d" % RETRY_AFTER_S),
            (b"x-sandbox-outcome", b"loading"),
            (b"connection", b"close"),
            NOSNIFF,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
