"""`sandbox serve`: check what can be checked at once, load the first snapshot, serve until stopped.

While the first snapshot loads, the probes are answered on the socket already bound
(`/__sandbox/live` 200, `/__sandbox/ready` 503 with the reason; any other request is closed
unanswered, as before anything listened).

The arguments are generated from `ServeConfig` (`sandbox.cli.serve_config`); the app is
assembled in `sandbox.cli.assembly`; the socket, the workers and the stop signals are
`sandbox.cli.process`. `create_app_from_environment` is the workers' uvicorn factory.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.cli.arguments import KeepsLaidOutText
from sandbox.cli.serve_config import CONFIG_ENVIRONMENT, ServeConfig, add_arguments
from sandbox.load.collection import keep_heap_settled
from sandbox.load.embedded import default_fixtures

if TYPE_CHECKING:
    import socket

    from sandbox.load.snapshot import Snapshot
    from sandbox.serve.access import AdminPolicy
    from sandbox.serve.app import SandboxApp


EXAMPLES = """\
examples:
  sandbox serve                                          # the embedded fixtures on http://127.0.0.1:8000
  sandbox serve --port 0                                 # any free port (printed at start)
  sandbox serve --fixtures ../siade_staging_data         # a local folder, reloaded on every change
  sandbox serve --fixtures https://github.com/etalab/siade_staging_data.git --ref develop --poll 60
  sandbox serve --fixtures ../siade_staging_data --fixtures ./our-cases   # layers: later ones override
  sandbox serve --match staging --today 2026-01-31       # the real staging's lookup, a fixed date
  SANDBOX_ADMIN_TOKEN=$(openssl rand -hex 24) sandbox serve --host 0.0.0.0   # shared on a network
  sandbox serve --validate-responses                     # check every answer against its OpenAPI schema

then, in another shell:
  export TOKEN=$(sandbox token)
  curl -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:8000/v3/insee/sirene/unites_legales/130025265?recipient=13002526500013&context=test&object=test"
"""


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `serve` on the `sandbox` command line."""
    serve = commands.add_parser(
        "serve",
        help="serve a fixture repository over HTTP",
        description="Serve both APIs on one port from a fixture repository (siade_staging_data layout).",
        epilog=EXAMPLES,
        formatter_class=KeepsLaidOutText,
    )
    add_arguments(serve)
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from sandbox.cli.assembly import admin_policy
    from sandbox.cli.process import ProcessError, bind_listener, check_cache_dir
    from sandbox.load.sources import is_remote

    config = ServeConfig.from_args(args)
    if not config.fixtures:
        config = dataclasses.replace(config, fixtures=[str(default_fixtures())])
    for location in config.fixtures:
        if not is_remote(location) and not Path(location).is_dir():
            print(f"sandbox: fixture repository {location} is not a folder (nor a git URL)", file=sys.stderr)
            return 2
    try:
        admin = admin_policy(config)
    except ValueError as error:
        print(f"sandbox: {error} (--admin-token / SANDBOX_ADMIN_TOKEN)", file=sys.stderr)
        return 2
    try:  # before the corpus loads: a mistake here is reported at once, in one line
        check_cache_dir(Path(config.cache_dir))
        listener = bind_listener(config.host, config.port)
    except ProcessError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 2
    with listener:
        return _load_and_serve(config, admin, listener)


def _load_and_serve(config: ServeConfig, admin: AdminPolicy, listener: socket.socket) -> int:
    """Build the first snapshot (the probes answered meanwhile), report it, serve on `listener` until stopped."""
    from sandbox.cli.assembly import assemble, make_syncer, redact_logs
    from sandbox.cli.logs import configure, say
    from sandbox.cli.process import answering_while_loading, bound_port, metrics_directory, serve, supervise
    from sandbox.load.sync import StartError
    from sandbox.serve.access import is_loopback
    from sandbox.serve.wire import DirectProtocol

    log_config = configure(config.log_format, config.log_level)
    redact_logs()
    if config.workers == 1:
        keep_heap_settled()  # this process serves: the build's objects are frozen as it ends
    syncer = make_syncer(config)
    with answering_while_loading(listener, lambda: syncer.phase):
        try:
            holder = syncer.start()
        except StartError as error:
            print(f"sandbox: {error}", file=sys.stderr)
            return 2
    snapshot = holder.current
    form = config.log_format
    report = snapshot.report
    summary = [*report.summary_lines(), f"  revision: {snapshot.revision}"]
    say(
        form,
        "summary",
        "\n".join(summary),
        revision=snapshot.revision,
        root=report.root,
        operations=report.operations,
        operations_by_api=dict(report.operations_by_api),
        cases=report.cases,
        france_connect_tokens=report.france_connect_tokens,
        operations_without_folder=len(report.operations_without_folder),
        folders_without_operation=list(report.folders_without_operation),
        problems=[str(problem) for problem in report.problems],
        duration_ms=round(report.duration_s * 1000, 3),
    )
    for source in syncer.sources:
        if getattr(source, "serving_cached", False):
            say(form, "warning", f"  WARNING: {source.location} is unreachable: serving the cached commit")
    if snapshot.report.operations == 0:
        print("sandbox: no operation found (no OpenAPI document with x-operationId)", file=sys.stderr)
        return 2
    say(form, "admin", f"  admin routes: {admin.describe()}", admin=admin.describe())
    if admin.open and not is_loopback(config.host):
        say(form, "warning", "  WARNING: admin routes open on a non-loopback address: anyone can read the journal")
    address = f"[{config.host}]" if ":" in config.host else config.host
    url = f"http://{address}:{bound_port(listener)}"
    say(form, "serving", f"Serving in {config.match} mode on {url}", url=url, mode=config.match, workers=config.workers)
    steps = first_steps(snapshot, url)
    say(form, "first-steps", "\n".join(steps), lines=[line.strip() for line in steps])
    options = {
        "log_config": log_config,
        "log_level": config.log_level,
        "access_log": False,  # the sandbox writes its own request line (`--access-log`)
        "timeout_graceful_shutdown": config.shutdown_timeout,
        "http": DirectProtocol,  # httptools; API answers written without an ASGI task (serve.wire)
        "loop": "uvloop",
        "ws": "none",  # no API uses WebSockets: their protocol is not even imported (~30 ms of start-up)
    }
    if config.workers > 1:
        # Each worker assembles its own app; the cache is warm and the leader lock is free again.
        syncer.stop()
        os.environ[CONFIG_ENVIRONMENT] = config.to_environment()
        with metrics_directory(config.metrics):
            return supervise(config.workers, listener, **options)
    try:
        return serve(assemble(config, syncer), listener, **options)
    finally:
        syncer.stop()


def first_steps(snapshot: Snapshot, base_url: str) -> list[str]:
    """The banner's last lines: the catalogue, and a first request that works as printed."""
    from sandbox.tools.first_request import first_request
    from sandbox.tools.reaching import token_line

    lines = [f"  catalogue: {base_url}/"]
    found = first_request(snapshot)
    if found is not None:
        lines += [
            f"  first request ({found.case.id}), in another terminal:",
            f"    {token_line(base_url)}",
            f"    {found.request.short_curl(base_url)}",
        ]
    return lines


def create_app_from_environment() -> SandboxApp:
    """uvicorn factory for `--workers N`: each worker assembles its own app (uvicorn has applied the
    logging configuration in the worker already; it is applied again for a direct call)."""
    from sandbox.cli.assembly import assemble, redact_logs, stop_sync_on_shutdown
    from sandbox.cli.logs import configure

    config = ServeConfig.from_environment()
    configure(config.log_format, config.log_level)
    redact_logs()
    keep_heap_settled()  # before the build: its objects are frozen as it ends
    app = assemble(config)
    if app.syncer is not None:
        stop_sync_on_shutdown(app, app.syncer)
    return app
