"""The ASGI application: a thin shell around `pipeline.answer`.

API requests go straight from the ASGI scope to pre-serialised bytes; the sandbox's
own routes (`/__sandbox/...`) and the legacy reload route are a small Starlette app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sandbox.pipeline import IncomingRequest, Services, answer
from sandbox.snapshot import Snapshot, SnapshotHolder

SANDBOX_PREFIX = "/__sandbox"
RELOAD_PATH = "/api/reload-mocks"
_LOG = logging.getLogger("sandbox")

Rebuild = Callable[[], Snapshot]


class SandboxApp:
    def __init__(self, holder: SnapshotHolder, services: Services, rebuild: Rebuild | None = None) -> None:
        self.holder = holder
        self.services = services
        self.rebuild = rebuild
        self.meta = Starlette(
            routes=[
                Route(f"{SANDBOX_PREFIX}/status", self.status),
                Route(RELOAD_PATH, self.reload_mocks, methods=["POST"]),
            ],
        )

    @property
    def snapshot(self) -> Snapshot:
        return self.holder.current

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path.startswith(SANDBOX_PREFIX)
            or (path == RELOAD_PATH and scope["method"] == "POST")
        ):
            await self.meta(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        request = IncomingRequest(scope["method"], scope["path"], scope["query_string"], headers)
        prepared = answer(self.holder.current, request, self.services)
        body = b"" if scope["method"] == "HEAD" else prepared.body
        length = (b"content-length", b"%d" % len(prepared.body))
        await send({"type": "http.response.start", "status": prepared.status, "headers": (*prepared.headers, length)})
        await send({"type": "http.response.body", "body": body})

    async def reload_mocks(self, request: Request) -> Response:
        """Legacy route: reload the fixture repository from disk (spec §1.5, §6)."""
        if self.rebuild is None:
            return Response(status_code=403)
        snapshot = await run_in_threadpool(self.rebuild)
        if snapshot.report.problems:
            _LOG.warning(
                "reload refused, %d problem(s); the previous snapshot keeps serving", len(snapshot.report.problems)
            )
            return JSONResponse(
                {
                    "message": "Reload refused: the previous cases keep serving",
                    "problems": [str(p) for p in snapshot.report.problems],
                },
                status_code=422,
            )
        self.holder.swap(snapshot)
        return JSONResponse({"message": "Mock backend reloaded"})

    async def status(self, request: Request) -> Response:
        snapshot = self.snapshot
        report = snapshot.report
        body: dict[str, Any] = {
            "root": report.root,
            "mode": snapshot.mode.value,
            "loaded_at": snapshot.loaded_at,
            "operations": report.operations,
            "operations_by_api": dict(report.operations_by_api),
            "cases": report.cases,
            "france_connect_tokens": report.france_connect_tokens,
            "problems": [str(p) for p in report.problems],
        }
        return JSONResponse(body)


def create_app(snapshot: Snapshot, services: Services | None = None, rebuild: Rebuild | None = None) -> SandboxApp:
    return SandboxApp(SnapshotHolder(snapshot), services or Services(), rebuild)
