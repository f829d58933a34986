"""`sandbox` command line: serve a fixture repository, and the contributor and CI tools."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sandbox.matching import MatchMode


def default_fixtures() -> Path:
    """The embedded default repository: packaged under `sandbox/_default`, or the source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_default", package.parent):
        if (candidate / "payloads").is_dir():
            return candidate
    return package / "_default"


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sandbox.app import create_app
    from sandbox.snapshot import build_snapshot

    fixtures = Path(args.fixtures) if args.fixtures else default_fixtures()
    if not fixtures.is_dir():
        print(f"sandbox: fixture repository {fixtures} is not a folder", file=sys.stderr)
        return 2
    snapshot = build_snapshot(fixtures, MatchMode(args.match))
    for line in snapshot.report.summary_lines():
        print(line, flush=True)
    if snapshot.report.operations == 0:
        print("sandbox: no operation found (no OpenAPI document with x-operationId)", file=sys.stderr)
        return 2
    print(f"Serving in {args.match} mode on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(
        create_app(snapshot),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        http="httptools",
        loop="uvloop",
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sandbox",
        description="Staging sandbox for API Particulier and API Entreprise, served from a fixture repository.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve a fixture repository over HTTP",
        description="Serve both APIs on one port from a fixture repository (siade_staging_data layout).",
    )
    serve.add_argument(
        "--fixtures",
        metavar="PATH",
        help="fixture repository (folder with payloads/ and OpenAPI documents); default: the embedded one",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default: %(default)s)")
    serve.add_argument(
        "--match",
        choices=[m.value for m in MatchMode],
        default=MatchMode.DOCUMENTED.value,
        help="documented: a case answers to exactly the parameters it documents (default); "
        "staging: reproduce real staging's lookup, server-added keys included",
    )
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument(
        "--access-log", action=argparse.BooleanOptionalAction, default=False, help="log every request (default: off)"
    )
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
