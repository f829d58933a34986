"""`sandbox serve`: check what can be checked at once, load the first snapshot, serve until stopped.

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
    """Build the first snapshot, print the load summary, serve on `listener` until stopped."""
    import logging

    from sandbox.cli.assembly import assemble, make_syncer, redact_logs
    from sandbox.cli.process import bound_port, serve, supervise
    from sandbox.load.sync import StartError
    from sandbox.serve.access import is_loopback

    logging.basicConfig(level=getattr(logging, config.log_level.upper()), format="%(levelname)s: %(name)s: %(message)s")
    redact_logs()
    syncer = make_syncer(config)
    try:
        holder = syncer.start()
    except StartError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 2
    snapshot = holder.current
    for line in snapshot.report.summary_lines():
        print(line, flush=True)
    print(f"  revision: {snapshot.revision}", flush=True)
    for source in syncer.sources:
        if getattr(source, "serving_cached", False):
            print(f"  WARNING: {source.location} is unreachable: serving the cached commit", flush=True)
    if snapshot.report.operations == 0:
        print("sandbox: no operation found (no OpenAPI document with x-operationId)", file=sys.stderr)
        return 2
    print(f"  admin routes: {admin.describe()}", flush=True)
    if admin.open and not is_loopback(config.host):
        print("  WARNING: admin routes open on a non-loopback address: anyone can read the journal", flush=True)
    address = f"[{config.host}]" if ":" in config.host else config.host
    base_url = f"http://{address}:{bound_port(listener)}"
    print(f"Serving in {config.match} mode on {base_url}", flush=True)
    for line in first_steps(snapshot, base_url):
        print(line, flush=True)
    options = {
        "log_level": config.log_level,
        "access_log": config.access_log,
        "timeout_graceful_shutdown": config.shutdown_timeout,
        "http": "httptools",
        "loop": "uvloop",
    }
    if config.workers > 1:
        # Each worker assembles its own app; the cache is warm and the leader lock is free again.
        syncer.stop()
        os.environ[CONFIG_ENVIRONMENT] = config.to_environment()
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
    """uvicorn factory for `--workers N`: each worker assembles its own app."""
    import logging

    from sandbox.cli.assembly import assemble, redact_logs, stop_sync_on_shutdown

    logging.basicConfig(level=logging.INFO)
    redact_logs()
    app = assemble(ServeConfig.from_environment())
    if app.syncer is not None:
        stop_sync_on_shutdown(app, app.syncer)
    return app
