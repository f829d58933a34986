"""`sandbox lint` on the command line: its arguments, its exit status, `python -m sandbox.cli.lint`.

The checks themselves are `sandbox.tools.lint`; this module only reads the arguments,
runs `lint_repository` and prints `format_findings`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sandbox.cli.arguments import iso_date
from sandbox.rules.matching import MatchMode
from sandbox.tools.lint import format_findings, lint_repository

__all__ = ["add_command", "main", "run"]

_DESCRIPTION = """\
Check a fixture repository (siade_staging_data layout) the way its upstream CI does
(safe YAML, JSON payload, allowed status, description, no tracking parameters in API
Entreprise cases, params and payload against the OpenAPI documents, duplicate params,
FranceConnect introspection schema), and beyond: unknown parameter names with a
suggestion, identifiers the server's validators refuse, cases no request can reach in
the chosen match mode (with the reason), cases equal after normalisation, undocumented
statuses, API Particulier folders without 404.yaml, FranceConnect cases no token
produces, and dates that make a case valid only some years.

Exit status: 1 when there is at least one error, 0 otherwise (warnings alone do not
fail), 2 on a usage error. Rules and examples: docs/lint.md."""


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", nargs="?", default=".", metavar="PATH", help="fixture repository to check (default: the current folder)"
    )
    parser.add_argument(
        "--format",
        choices=["text", "json", "github"],
        default="text",
        help="text (default), json (a list of findings) or github (workflow annotations `::error file=…`)",
    )
    parser.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the date age and year windows are checked against (default: the real date)",
    )
    parser.add_argument(
        "--match",
        choices=[m.value for m in MatchMode],
        default=MatchMode.DOCUMENTED.value,
        help="documented (default): the sandbox's default matching; staging: real staging's lookup keys, "
        "server-added keys included (what matters for the upstream repository)",
    )
    parser.add_argument(
        "--lang", choices=["en", "fr"], default="en", help="language of the messages: en (default) or fr"
    )
    parser.set_defaults(handler=run)


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `lint` on the `sandbox` command line."""
    parser = commands.add_parser(
        "lint",
        help="check a fixture repository (upstream CI checks and more)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _configure(parser)


def run(args: argparse.Namespace) -> int:
    root = Path(args.path)
    if not root.is_dir():
        print(f"sandbox lint: {root} is not a folder", file=sys.stderr)
        return 2
    report = lint_repository(root, mode=MatchMode(args.match), today=args.today, lang=args.lang)
    prefix = "" if os.path.normpath(args.path) == "." else args.path
    print(format_findings(report, args.format, prefix))
    return 1 if report.errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sandbox lint", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _configure(parser)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
