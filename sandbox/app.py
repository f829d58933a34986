"""The ASGI application: a thin shell around `pipeline.answer`.

API requests go straight from the ASGI scope to pre-serialised bytes; the
sandbox's own routes (`/__sandbox/...`) are a small Starlette app.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sandbox.pipeline import IncomingRequest, answer
from sandbox.snapshot import Snapshot, SnapshotHolder

SANDBOX_PREFIX = "/__sandbox"


class SandboxApp:
    def __init__(self, holder: SnapshotHolder) -> None:
        self.holder = holder
        self.meta = Starlette(
            routes=[Route(f"{SANDBOX_PREFIX}/status", self.status)],
        )

    @property
    def snapshot(self) -> Snapshot:
        return self.holder.current

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SANDBOX_PREFIX):
            await self.meta(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        request = IncomingRequest(scope["method"], scope["path"], scope["query_string"], headers)
        prepared = answer(self.holder.current, request)
        length = (b"content-length", b"%d" % len(prepared.body))
        await send({"type": "http.response.start", "status": prepared.status, "headers": (*prepared.headers, length)})
        await send({"type": "http.response.body", "body": prepared.body})

    async def status(self, request: Request) -> Response:
        report = self.snapshot.report
        body: dict[str, Any] = {
            "root": report.root,
            "mode": self.snapshot.mode.value,
            "loaded_at": self.snapshot.loaded_at,
            "operations": report.operations,
            "operations_by_api": dict(report.operations_by_api),
            "cases": report.cases,
            "problems": [str(p) for p in report.problems],
        }
        return JSONResponse(json.loads(json.dumps(body)))


def create_app(snapshot: Snapshot) -> SandboxApp:
    return SandboxApp(SnapshotHolder(snapshot))
