"""The web catalogue and the sandbox's own routes (status, journal, explain, reload, webhook).

`create_app` is where the request path (`serve.SandboxApp`) meets them: it builds the app
and mounts the catalogue and the own routes on the paths no API uses.
"""

from __future__ import annotations

from starlette.applications import Starlette

from sandbox.load.snapshot import Snapshot, SnapshotHolder
from sandbox.load.sync import Syncer
from sandbox.serve.access import AdminPolicy
from sandbox.serve.app import SandboxApp
from sandbox.serve.metrics import RequestMetrics
from sandbox.serve.pipeline import Services
from sandbox.web.admin import OwnRoutes
from sandbox.web.catalogue import catalogue_routes


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
        app.metrics = RequestMetrics(lambda: holder.current)
        if syncer is not None:
            syncer.observers.append(app.metrics.count_reload)
    own = OwnRoutes(app, syncer, webhook_secret)
    app.own = Starlette(routes=[*catalogue_routes(app), *own.routes()])
    return app
