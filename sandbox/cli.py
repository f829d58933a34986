"""`sandbox` command line: serve a fixture repository, and the contributor and CI tools."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sandbox.matching import MatchMode
from sandbox.request_limits import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_TOTAL_HEADER_BYTES,
    DEFAULT_MAX_URL_BYTES,
    DEFAULT_MAX_WEBHOOK_BYTES,
)


def default_cache_dir() -> Path:
    from sandbox.sources import default_cache_dir as cache_dir

    return cache_dir()


def default_fixtures() -> Path:
    """The embedded default repository: packaged under `sandbox/_default`, or the source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_default", package.parent):
        if (candidate / "payloads").is_dir():
            return candidate
    return package / "_default"


def _serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from sandbox.server import CONFIG_ENVIRONMENT, ServeConfig, assemble, make_syncer, redact_logs
    from sandbox.sources import is_remote
    from sandbox.sync import StartError

    fixtures = [str(f) for f in args.fixtures] or [str(default_fixtures())]
    for location in fixtures:
        if not is_remote(location) and not Path(location).is_dir():
            print(f"sandbox: fixture repository {location} is not a folder (nor a git URL)", file=sys.stderr)
            return 2
    config = ServeConfig(
        fixtures=fixtures,
        ref=args.ref,
        cache_dir=str(args.cache_dir),
        poll_s=args.poll,
        match=args.match,
        jwt_secrets=list(args.jwt_secret),
        webhook_secret=args.webhook_secret,
        rate_limit=not args.no_rate_limit,
        rate_limit_key=args.rate_limit_key,
        maintenance=args.maintenance,
        france_connect_expiry=args.france_connect_expiry,
        check_scopes=not args.no_scope_check,
        today=args.today.isoformat() if args.today else None,
        watch=not args.no_watch,
        validate_responses=args.validate_responses,
        journal_size=args.journal_size,
        max_url_bytes=args.max_url_bytes,
        max_header_bytes=args.max_header_bytes,
        max_total_header_bytes=args.max_total_header_bytes,
        max_webhook_bytes=args.max_webhook_bytes,
    )
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), format="%(levelname)s: %(name)s: %(message)s")
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
    print(f"Serving in {args.match} mode on http://{args.host}:{args.port}", flush=True)
    common = {"host": args.host, "port": args.port, "log_level": args.log_level, "access_log": args.access_log}
    if args.workers > 1:
        # Each worker assembles its own app; the cache is warm and the leader lock is free again.
        syncer.stop()
        os.environ[CONFIG_ENVIRONMENT] = config.to_environment()
        uvicorn.run("sandbox.server:create_app_from_environment", factory=True, workers=args.workers, **common)
    else:
        uvicorn.run(assemble(config, syncer), http="httptools", loop="uvloop", **common)
        syncer.stop()
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
        metavar="PATH_OR_GIT_URL",
        action="append",
        default=[],
        help="fixture repository: a folder (watched for changes) or a git URL (https://, file://, ssh); "
        "repeat to layer sources, later ones adding and overriding cases; default: the embedded one",
    )
    sync = serve.add_argument_group("following a git repository")
    sync.add_argument("--ref", help="branch, tag or commit to serve (default: the remote's HEAD)")
    sync.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        metavar="DIR",
        help="where clones, exported commits and parsed OpenAPI documents are kept (default: %(default)s)",
    )
    sync.add_argument(
        "--poll", type=float, default=60.0, metavar="SECONDS", help="fetch interval; 0: never (default: %(default)s)"
    )
    sync.add_argument(
        "--webhook-secret",
        metavar="SECRET",
        help="secret of the GitHub push webhook POST /__sandbox/webhook (also SANDBOX_WEBHOOK_SECRET)",
    )
    sync.add_argument("--no-watch", action="store_true", help="do not watch local folders nor poll remotes")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (one of them fetches; default: %(default)s)"
    )
    diagnostics = serve.add_argument_group("diagnostics")
    diagnostics.add_argument(
        "--validate-responses",
        action="store_true",
        help="check every answer against the OpenAPI schema of its status: X-Sandbox-Schema: "
        "valid|invalid|undocumented, details in the journal (GET /__sandbox/requests)",
    )
    diagnostics.add_argument(
        "--journal-size",
        type=int,
        default=1000,
        metavar="N",
        help="requests kept by the journal, GET /__sandbox/requests (default: %(default)s)",
    )
    limits = serve.add_argument_group("request limits (checked before anything is parsed)")
    limits.add_argument(
        "--max-url-bytes",
        type=_positive,
        default=DEFAULT_MAX_URL_BYTES,
        metavar="N",
        help="longest request target, path and query string (414 over it; default: %(default)s)",
    )
    limits.add_argument(
        "--max-header-bytes",
        type=_positive,
        default=DEFAULT_MAX_HEADER_BYTES,
        metavar="N",
        help="longest header line, `name: value` (431 over it; default: %(default)s)",
    )
    limits.add_argument(
        "--max-total-header-bytes",
        type=_positive,
        default=DEFAULT_MAX_TOTAL_HEADER_BYTES,
        metavar="N",
        help="all header lines together (431 over it; default: %(default)s)",
    )
    limits.add_argument(
        "--max-webhook-bytes",
        type=_positive,
        default=DEFAULT_MAX_WEBHOOK_BYTES,
        metavar="N",
        help="largest body of POST /__sandbox/webhook (413 over it; default: %(default)s)",
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
    contract = serve.add_argument_group("staging contract")
    contract.add_argument(
        "--jwt-secret",
        action="append",
        default=[],
        metavar="SECRET",
        help="accept tokens signed with SECRET (repeatable; also SANDBOX_JWT_SECRET, comma-separated). "
        "Tokens in the repository's tokens/ folder are always accepted.",
    )
    contract.add_argument("--no-rate-limit", action="store_true", help="do not apply the rate limits")
    contract.add_argument(
        "--no-scope-check",
        action="store_true",
        help="let any valid token call any operation (real staging checks the token's scopes)",
    )
    contract.add_argument(
        "--rate-limit-key",
        choices=["jti", "token"],
        default="jti",
        help="count requests per token jti, like real staging (all shared tokens share one counter), "
        "or per raw token (default: %(default)s)",
    )
    contract.add_argument(
        "--maintenance", action="store_true", help="apply the providers' maintenance windows (Europe/Paris time)"
    )
    contract.add_argument(
        "--france-connect-expiry",
        action="store_true",
        help="refuse fake FranceConnect tokens whose introspection `exp` is in the past "
        "(off by default: the public fixtures carry the exp recorded with them)",
    )
    contract.add_argument(
        "--today",
        type=datetime.date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the date validation rules count from (age windows, year ranges); default: the real date",
    )
    serve.set_defaults(handler=_serve)

    token = commands.add_parser(
        "token",
        help="mint an API token for the configured secret",
        description="Print an HS256 token with the claims real staging's generator writes "
        "(uid and jti all-zero, scopes, iat, exp). Signed with SANDBOX_JWT_SECRET or the sandbox's default secret.",
    )
    token.add_argument(
        "--scope", action="append", default=[], metavar="SCOPE", help="a scope to grant (repeatable; default: all)"
    )
    token.add_argument(
        "--fixtures", metavar="PATH", help="repository whose authorisations file lists every scope (default: embedded)"
    )
    token.add_argument(
        "--expires-in",
        type=_duration,
        default=_duration("3650d"),
        metavar="DURATION",
        help="lifetime: seconds, or a number with s, m, h, d (default: 3650d); 0 for no expiry",
    )
    token.add_argument("--jwt-secret", metavar="SECRET", help="sign with this secret instead of the configured one")
    token.set_defaults(handler=_token)

    from sandbox import contract as contract_command
    from sandbox import docs as docs_command
    from sandbox import lint as lint_command
    from sandbox import scaffold as scaffold_command

    for command in (lint_command, docs_command, scaffold_command, contract_command):
        command.add_command(commands)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a positive number of bytes: {text!r}")
    return value


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1:] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (examples: 3600, 90m, 12h, 30d)") from None


def _token(args: argparse.Namespace) -> int:
    from sandbox.auth import configured_secrets, mint
    from sandbox.repository import read_repository

    scopes = list(args.scope)
    if not scopes:
        content = read_repository(Path(args.fixtures) if args.fixtures else default_fixtures())
        scopes = sorted({s for listed in (content.authorizations or {}).values() for s in listed})
    secret = args.jwt_secret or configured_secrets()[0]
    print(mint(secret, scopes, expires_in=args.expires_in or None))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
