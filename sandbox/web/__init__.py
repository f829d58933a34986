"""The web catalogue and the sandbox's own routes (status, journal, explain, reload, webhook).

`create_app` is where the request path (`serve.SandboxApp`) meets them: it builds the app
and mounts the catalogue and the own routes on the paths no API uses. Those are made on the
first request that reaches them (`OwnRoutesApp`): Starlette's routing, the templates and the
handlers are not even imported by a sandbox that only answers API requests (about 30 ms of
every start-up, the first thing a CI job waits for).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.load.snapshot import Snapshot, SnapshotHolder
from sandbox.load.sync import Syncer
from sandbox.serve.access import AdminPolicy
from sandbox.serve.app import SandboxApp
from sandbox.serve.pipeline import Services


def create_app(
    snapshot: Snapshot,
    services: Services | None = None,
    syncer: Syncer | None = None,
    webhook_secret: str | None = None,
    admin: AdminPolicy | None = None,
    *,
    metrics: bool = False,
    access_log: bool = False,
) -> SandboxApp:
    """The app; `admin` defaults to open (an embedding on loopback): `sandbox serve` decides it from `--host`.

    `metrics`: count requests and reloads and serve them on `GET /metrics` (off for an embedding,
    on by default in `sandbox serve`); `access_log`: one log line per request.
    """
    holder = syncer.holder if syncer is not None and syncer.holder is not None else SnapshotHolder(snapshot)
    app = SandboxApp(holder, services or Services(), syncer, admin)
    app.access_log = access_log
    if metrics:
        from sandbox.serve.metrics import RequestMetrics  # prometheus_client: only when counting

        app.metrics = RequestMetrics(lambda: holder.current)
        if syncer is not None:
            syncer.observers.append(app.metrics.count_reload)
    app.own = OwnRoutesApp(lambda: _own_routes(app, syncer, webhook_secret))
    return app


def _own_routes(app: SandboxApp, syncer: Syncer | None, webhook_secret: str | None) -> ASGIApp:
    from starlette.applications import Starlette

    from sandbox.web.admin import OwnRoutes
    from sandbox.web.catalogue import catalogue_routes

    own = OwnRoutes(app, syncer, webhook_secret)
    return Starlette(routes=[*catalogue_routes(app), *own.routes()])


class OwnRoutesApp:
    """The own routes' Starlette app, made by `make` on the first request that needs it. Until then
    a lifespan is answered here (the own routes register no handler of their own)."""

    def __init__(self, make: Callable[[], ASGIApp]) -> None:
        self._make = make
        self._made: ASGIApp | None = None

    def made(self) -> ASGIApp:
        if self._made is None:
            self._made = self._make()
        return self._made

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and self._made is None:
            await _plain_lifespan(receive, send)
            return
        await self.made()(scope, receive, send)


async def _plain_lifespan(receive: Receive, send: Send) -> None:
    """The ASGI lifespan of an app with nothing to start or stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
