"""`sandbox contract`: the command line of the contract runner (`sandbox.tools.contract`).

Its arguments, their types and its help text; the replay, the expected failures and the
reports are the runner's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from sandbox.cli.arguments import bounded_int, http_url, interval, iso_date, path_text, positive_number, word
from sandbox.rules.matching import MatchMode
from sandbox.rules.profiles import PROFILES
from sandbox.tools.contract import (
    CONNECTION_RETRIES,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_WAIT_S,
    DEFAULT_TIMEOUT_S,
    ContractOptions,
    ContractSetupError,
    format_habilitation,
    format_report,
    habilitation,
    run_contract,
)

# Bounds of the arguments: more connections than this only queue on the client, and an
# answer slower than an hour is a server that is down.
MAX_CONCURRENCY = 256
MIN_TIMEOUT_S = 0.001
MAX_TIMEOUT_S = 3_600
MIN_RATE = 0.01  # one request every 100 s
MAX_RATE = 10_000
MAX_WAIT_S = 86_400
MAX_RETRIES = 1_000

DESCRIPTION = """\
Replay every documented case of a fixture repository against a server (this sandbox,
or a real staging) and check each answer: the case's status, its JSON body, and the
OpenAPI schema of the status (violations are reported with their JSON path).

Each case is sent as its README cURL command sends it, with the repository's token
(tokens/default) or --token. Cases that can never be answered as documented are
expected failures, shown with their reason: routes gone (410), FranceConnect-only
cases (unless --france-connect), cases the repository lint reports as errors.
"""

EPILOG = """\
exit status: 0 when no case failed, 1 when one did, 2 when the run could not start.

Rate limits: the run paces itself from the server's RateLimit-* headers (per
operation, it waits for the window to end when the requests in flight use it up)
and sends a case again after a 429 that says Retry-After; such a 429 is never a
failure. A case the limits keep waiting past --max-wait, or refuse more than
--max-retries times, is reported as skipped with the reason. --rate caps the
requests started per second, for a server whose limits are not announced.

A host named like a real staging one (entreprise.api…, particulier.api…) answers
one API only: the other API's cases are skipped.

examples:
  sandbox contract --base-url http://127.0.0.1:8000           # a sandbox started with its defaults
  sandbox contract --base-url https://staging.entreprise.api.gouv.fr --match staging \\
      --fixtures ../siade_staging_data --only api_entreprise_v3_insee_unites_legales
  sandbox contract --base-url http://127.0.0.1:8000 --france-connect --junit contract.xml
  sandbox contract --base-url https://staging.particulier.api.gouv.fr --fixtures ../siade_staging_data \\
      --match staging --rate 5
  sandbox contract --profile production --scopes cnaf_quotient_familial,cnaf_adresse \\
      --fixtures ../siade_staging_data          # what this habilitation receives, offline
  sandbox contract --base-url http://127.0.0.1:8000 --profile production --scopes cnaf_adresse
"""


def _scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not scopes or any(not scope.replace("_", "").isalnum() for scope in scopes):
        raise argparse.ArgumentTypeError(f"expected scope names separated by commas, got {text[:60]!r}")
    return scopes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        type=http_url,
        metavar="URL",
        help="server to check, e.g. http://127.0.0.1:8000 or https://staging.entreprise.api.gouv.fr "
        "(its host is sent as Host); without it, --profile production --scopes shows what that "
        "habilitation receives, offline",
    )
    parser.add_argument(
        "--fixtures",
        metavar="PATH",
        type=path_text,
        help="fixture repository whose cases are replayed (default: embedded)",
    )
    parser.add_argument(
        "--token",
        metavar="T",
        type=word("a token"),
        help="API token to send (default: the repository's tokens/default)",
    )
    parser.add_argument(
        "--france-connect",
        action="store_true",
        help="replay FranceConnect-only cases with the fake FranceConnect token that reaches each of them "
        "(default: they are expected failures)",
    )
    parser.add_argument("--junit", metavar="FILE", type=path_text, help="write a JUnit XML report to FILE")
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        default=[],
        metavar="OPERATION",
        type=word("an operation id"),
        help="replay only these operations (fixture folder names; repeatable)",
    )
    parser.add_argument(
        "--concurrency",
        type=bounded_int(1, MAX_CONCURRENCY, "a number of requests in flight"),
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help="requests in flight at once (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=interval(MIN_TIMEOUT_S, MAX_TIMEOUT_S),
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help="seconds to wait for each answer (default: %(default)s); connection errors are retried "
        f"{CONNECTION_RETRIES} times, HTTP errors never",
    )
    parser.add_argument(
        "--rate",
        type=positive_number(MIN_RATE, MAX_RATE, "a number of requests per second"),
        metavar="N",
        help="start at most N requests per second over the whole run (default: as fast as the server's "
        "RateLimit-* headers allow)",
    )
    parser.add_argument(
        "--max-wait",
        type=interval(1, MAX_WAIT_S),
        default=DEFAULT_MAX_WAIT_S,
        metavar="S",
        help="longest a case may wait for the server's rate limits, in all, before it is reported as "
        "skipped (default: %(default)s)",
    )
    parser.add_argument(
        "--max-retries",
        type=bounded_int(0, MAX_RETRIES, "a number of retries"),
        default=DEFAULT_MAX_RETRIES,
        metavar="N",
        help="429 answers of the server's rate limiter a case may meet before it is reported as skipped "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--match",
        choices=[m.value for m in MatchMode],
        default=MatchMode.DOCUMENTED.value,
        help="the lookup the server applies, for the lint's unreachable cases: documented (a sandbox in its "
        "default mode) or staging (the real staging, or `sandbox serve --match staging`); default: %(default)s",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="staging",
        help="the server's profile: staging (payloads whole, default) or production (each 200 body is "
        "expected cut to the token's scopes, like `sandbox serve --profile production`)",
    )
    parser.add_argument(
        "--scopes",
        type=_scopes,
        metavar="SCOPE[,SCOPE...]",
        help="send a token minted with these scopes (a habilitation) instead of the repository's; "
        "routes they do not open are expected failures",
    )
    parser.add_argument(
        "--jwt-secret",
        metavar="SECRET",
        help="the secret that signs the --scopes token (default: SANDBOX_JWT_SECRET, else the sandbox's own)",
    )
    parser.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the date the lint's validation rules count from (age windows, year ranges) when it predicts "
        "the cases a server rejects: use the server's --today (default: the real date)",
    )


def add_command(commands: Any) -> None:
    """Register `contract` on the `sandbox` command's subparsers."""
    parser = commands.add_parser(
        "contract",
        help="replay every case against a server and check status, body and OpenAPI schema",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    from sandbox.load.embedded import default_fixtures

    fixtures = Path(args.fixtures) if args.fixtures else default_fixtures()
    if args.base_url is None:
        if args.profile != "production" or args.scopes is None:
            print("sandbox contract: give --base-url, or --profile production --scopes to see a habilitation", file=err)
            return 2
        return show_habilitation(fixtures, args.scopes, tuple(args.only), out, err)
    options = ContractOptions(
        base_url=args.base_url,
        fixtures=fixtures,
        token=args.token,
        france_connect=args.france_connect,
        junit=Path(args.junit) if args.junit else None,
        only=tuple(args.only),
        concurrency=args.concurrency,
        timeout_s=args.timeout,
        today=args.today,
        match=args.match,
        profile=args.profile,
        scopes=args.scopes,
        jwt_secret=args.jwt_secret,
        rate=args.rate,
        max_wait_s=args.max_wait,
        max_retries=args.max_retries,
    )
    try:
        report = run_contract(options, progress_stream=err)
    except ContractSetupError as error:
        print(f"sandbox contract: {error}", file=err)
        return 2
    for line in format_report(report):
        print(line, file=out)
    if options.junit is not None:
        print(f"JUnit report written to {options.junit}", file=out)
    return 0 if report.ok else 1


def show_habilitation(fixtures: Path, scopes: tuple[str, ...], only: tuple[str, ...], out: TextIO, err: TextIO) -> int:
    """What a token with `scopes` receives from production, per operation of the repository (offline)."""
    from sandbox.load.snapshot import build_snapshot

    if not (fixtures / "payloads").is_dir():
        print(f"sandbox contract: {fixtures} is not a fixture repository (no payloads/ folder)", file=err)
        return 2
    snapshot = build_snapshot(fixtures)
    unknown = sorted(set(only) - set(snapshot.tables))
    if unknown:
        print(f"sandbox contract: unknown operation(s): {', '.join(unknown)}", file=err)
        return 2
    for line in format_habilitation(habilitation(snapshot, scopes, only), scopes):
        print(line, file=out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sandbox contract",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
