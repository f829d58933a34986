"""`sandbox token`: mint an API token for the configured secret, as real staging's generator does."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from sandbox.cli.arguments import existing_folder, text, word
from sandbox.load.embedded import default_fixtures


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `token` on the `sandbox` command line."""
    token = commands.add_parser(
        "token",
        help="mint an API token for the configured secret",
        description="Print an HS256 token with the claims real staging's generator writes "
        "(uid and jti all-zero, scopes, iat, exp). Signed with SANDBOX_JWT_SECRET or the sandbox's default secret.",
    )
    token.add_argument(
        "--scope",
        action="append",
        default=[],
        type=word("a scope"),
        metavar="SCOPE",
        help="a scope to grant (repeatable; default: every scope of the repository's authorisations file)",
    )
    token.add_argument(
        "--fixtures",
        type=existing_folder,
        metavar="PATH",
        help="repository whose authorisations file lists every scope (default: embedded)",
    )
    token.add_argument(
        "--expires-in",
        type=_duration,
        default=_duration("3650d"),
        metavar="DURATION",
        help="lifetime: seconds, or a number with s, m, h, d (default: 3650d); 0 for no expiry",
    )
    token.add_argument(
        "--jwt-secret",
        type=text("a secret"),
        metavar="SECRET",
        help="sign with this secret instead of the configured one",
    )
    token.set_defaults(handler=_token)


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or not 0 <= seconds <= 100 * 365 * 86400:
        raise argparse.ArgumentTypeError(
            f"not a duration: {text[:40]!r} (expected seconds, or a number with s, m, h, d: 3600, 90m, 12h, 30d; "
            "0 to 100 years)"
        )
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
