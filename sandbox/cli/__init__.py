"""`sandbox` command line: serve a fixture repository, and the contributor and CI tools."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.cli.arguments import OneLineErrors, bounded_int, interval, iso_date
from sandbox.load.embedded import default_fixtures
from sandbox.load.repository_files import (
    DEFAULT_MAX_ALIAS_NODES,
    DEFAULT_MAX_CASE_BYTES,
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_NESTING,
)
from sandbox.load.sources import default_cache_dir
from sandbox.rules.matching import MatchMode
from sandbox.serve.request_limits import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_TOTAL_HEADER_BYTES,
    DEFAULT_MAX_URL_BYTES,
    DEFAULT_MAX_WEBHOOK_BYTES,
)

if TYPE_CHECKING:
    import socket

    from sandbox.cli.serve import ServeConfig
    from sandbox.serve.access import AdminPolicy

MAX_POLL_S = 86_400  # a day: a longer interval is "never", which is 0
MAX_WORKERS = 64  # each worker holds a whole snapshot in memory
MAX_JOURNAL_SIZE = 10_000  # entries are bounded in size; this bounds their number
MAX_SHUTDOWN_TIMEOUT_S = 3_600


def _serve(args: argparse.Namespace) -> int:
    from sandbox.cli.process import ProcessError, bind_listener, check_cache_dir
    from sandbox.cli.serve import ServeConfig, admin_policy
    from sandbox.load.sources import is_remote

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
        max_case_bytes=args.max_case_bytes,
        max_document_bytes=args.max_document_bytes,
        max_alias_nodes=args.max_alias_nodes,
        max_nesting=args.max_nesting,
        host=args.host,
        admin_token=args.admin_token,
        admin_policy=args.admin_policy,
        max_url_bytes=args.max_url_bytes,
        max_header_bytes=args.max_header_bytes,
        max_total_header_bytes=args.max_total_header_bytes,
        max_webhook_bytes=args.max_webhook_bytes,
    )
    try:
        admin = admin_policy(config)
    except ValueError as error:
        print(f"sandbox: {error} (--admin-token / SANDBOX_ADMIN_TOKEN)", file=sys.stderr)
        return 2
    try:  # before the corpus loads: a mistake here is reported at once, in one line
        check_cache_dir(args.cache_dir)
        listener = bind_listener(args.host, args.port)
    except ProcessError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 2
    with listener:
        return _load_and_serve(args, config, admin, listener)


def _load_and_serve(args: argparse.Namespace, config: ServeConfig, admin: AdminPolicy, listener: socket.socket) -> int:
    """Build the first snapshot, print the load summary, serve on `listener` until stopped."""
    import logging

    from sandbox.cli.process import bound_port, serve, supervise
    from sandbox.cli.serve import CONFIG_ENVIRONMENT, assemble, make_syncer, redact_logs
    from sandbox.load.sync import StartError
    from sandbox.serve.access import is_loopback

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
    print(f"  admin routes: {admin.describe()}", flush=True)
    if admin.open and not is_loopback(args.host):
        print("  WARNING: admin routes open on a non-loopback address: anyone can read the journal", flush=True)
    address = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Serving in {args.match} mode on http://{address}:{bound_port(listener)}", flush=True)
    options = {
        "log_level": args.log_level,
        "access_log": args.access_log,
        "timeout_graceful_shutdown": args.shutdown_timeout,
        "http": "httptools",
        "loop": "uvloop",
    }
    if args.workers > 1:
        # Each worker assembles its own app; the cache is warm and the leader lock is free again.
        syncer.stop()
        os.environ[CONFIG_ENVIRONMENT] = config.to_environment()
        return supervise(args.workers, listener, **options)
    try:
        return serve(assemble(config, syncer), listener, **options)
    finally:
        syncer.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
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
        help="where clones, exported commits and parsed OpenAPI documents are kept; must be writable "
        "(also SANDBOX_CACHE_DIR; default: %(default)s)",
    )
    sync.add_argument(
        "--poll",
        type=interval(1, MAX_POLL_S, zero="never"),
        default=60.0,
        metavar="SECONDS",
        help=f"fetch interval, 1 to {MAX_POLL_S}; 0: never (default: %(default)s)",
    )
    sync.add_argument(
        "--webhook-secret",
        metavar="SECRET",
        help="secret of the GitHub push webhook POST /__sandbox/webhook (also SANDBOX_WEBHOOK_SECRET)",
    )
    sync.add_argument("--no-watch", action="store_true", help="do not watch local folders nor poll remotes")
    serve.add_argument(
        "--workers",
        type=bounded_int(1, MAX_WORKERS),
        default=1,
        metavar="N",
        help=f"worker processes, 1 to {MAX_WORKERS} (one of them fetches; default: %(default)s)",
    )
    serve.add_argument(
        "--shutdown-timeout",
        type=bounded_int(1, MAX_SHUTDOWN_TIMEOUT_S, "a number of seconds"),
        default=20,
        metavar="SECONDS",
        help="on SIGTERM, how long requests in flight may take to finish before they are cut "
        "(keep it below the orchestrator's grace period; default: %(default)s)",
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
        type=bounded_int(0, MAX_JOURNAL_SIZE),
        default=1000,
        metavar="N",
        help=f"requests kept by the journal, GET /__sandbox/requests, 0 to {MAX_JOURNAL_SIZE} (default: %(default)s)",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: %(default)s); on any non-loopback address the admin routes "
        "need the admin token (see 'admin access')",
    )
    serve.add_argument(
        "--port",
        type=bounded_int(0, 65535, "a port"),
        default=8000,
        help="port to bind, 0: any free port (printed at start; default: %(default)s)",
    )
    request_limits = serve.add_argument_group("request limits (checked before anything is parsed)")
    request_limits.add_argument(
        "--max-url-bytes",
        type=bounded_int(1, 2**40),
        default=DEFAULT_MAX_URL_BYTES,
        metavar="N",
        help="longest request target, path and query string (414 over it; default: %(default)s)",
    )
    request_limits.add_argument(
        "--max-header-bytes",
        type=bounded_int(1, 2**40),
        default=DEFAULT_MAX_HEADER_BYTES,
        metavar="N",
        help="longest header line, `name: value` (431 over it; default: %(default)s)",
    )
    request_limits.add_argument(
        "--max-total-header-bytes",
        type=bounded_int(1, 2**40),
        default=DEFAULT_MAX_TOTAL_HEADER_BYTES,
        metavar="N",
        help="all header lines together (431 over it; default: %(default)s)",
    )
    request_limits.add_argument(
        "--max-webhook-bytes",
        type=bounded_int(1, 2**40),
        default=DEFAULT_MAX_WEBHOOK_BYTES,
        metavar="N",
        help="largest body of POST /__sandbox/webhook (413 over it; default: %(default)s)",
    )
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
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the date validation rules count from (age windows, year ranges); default: the real date",
    )
    limits = serve.add_argument_group(
        "limits on the fixture repository (untrusted input: a file over a limit is refused and reported)"
    )
    limits.add_argument(
        "--max-case-bytes",
        type=bounded_int(1, 2**40),
        default=DEFAULT_MAX_CASE_BYTES,
        metavar="BYTES",
        help="largest case file (also data/, tokens/, sandbox.yaml) (default: %(default)s)",
    )
    limits.add_argument(
        "--max-document-bytes",
        type=bounded_int(1, 2**40),
        default=DEFAULT_MAX_DOCUMENT_BYTES,
        metavar="BYTES",
        help="largest OpenAPI document (default: %(default)s)",
    )
    limits.add_argument(
        "--max-alias-nodes",
        type=bounded_int(1, 2**40),
        default=DEFAULT_MAX_ALIAS_NODES,
        metavar="N",
        help="nodes YAML aliases may add to one file once expanded (default: %(default)s)",
    )
    limits.add_argument(
        "--max-nesting",
        type=bounded_int(1, 2**40),
        default=DEFAULT_MAX_NESTING,
        metavar="N",
        help="levels of mappings and lists in one file, and in a case's JSON payload (default: %(default)s)",
    )
    admin = serve.add_argument_group(
        "admin access",
        "The sandbox's own routes (GET /__sandbox/requests, /__sandbox/explain/..., the details of "
        "/__sandbox/status, the catalogue's journal and try-it, POST /api/reload-mocks) are open on a "
        "loopback bind; on any other address they answer 403 unless the request sends "
        "'Authorization: Bearer <admin token>'. The API, /api/ping and the catalogue's pages stay open; "
        "the webhook keeps its own HMAC signature.",
    )
    admin.add_argument(
        "--admin-token",
        metavar="TOKEN",
        default=None,
        help="the admin token, at least 16 characters (also SANDBOX_ADMIN_TOKEN, preferred: a command "
        "line is visible to other users of the machine); without it, the admin routes of a non-loopback "
        "bind are refused to everyone",
    )
    admin.add_argument(
        "--admin-policy",
        choices=["auto", "open", "closed"],
        default="auto",
        help="auto: open on a loopback bind, token required otherwise (default); closed: token required "
        "even on loopback (behind a reverse proxy on the same host); open: no token anywhere (a trusted "
        "network only)",
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

    from sandbox.cli import lint as lint_command
    from sandbox.tools import contract as contract_command
    from sandbox.tools import docs as docs_command
    from sandbox.tools import scaffold as scaffold_command

    for command in (lint_command, docs_command, scaffold_command, contract_command):
        command.add_command(commands)
    return parser


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or not 0 <= seconds <= 100 * 365 * 86400:
        raise argparse.ArgumentTypeError(f"not a duration: {text[:40]!r} (examples: 3600, 90m, 12h, 30d)")
    return seconds


def _token(args: argparse.Namespace) -> int:
    from sandbox.load.repository import read_repository
    from sandbox.rules.tokens import configured_secrets, mint

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
