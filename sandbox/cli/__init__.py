"""`sandbox` command line: serve a fixture repository, and the contributor and CI tools.

One module per command, each with its `add_command`; argparse is used nowhere else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sandbox.cli.arguments import OneLineErrors

EPILOG = """\
first steps:
  sandbox serve                       serve the embedded fixtures on http://127.0.0.1:8000
  export TOKEN=$(sandbox token)       a token this sandbox accepts
  sandbox COMMAND --help              the options and examples of one command
"""


def build_parser() -> argparse.ArgumentParser:
    from sandbox import __version__

    parser = OneLineErrors(
        prog="sandbox",
        description="Staging sandbox for API Particulier and API Entreprise, served from a fixture repository.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sandbox {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    from sandbox.cli import serve as serve_command
    from sandbox.cli import token as token_command

    for own in (serve_command, token_command):
        own.add_command(commands)

    from sandbox.cli import contract as contract_command
    from sandbox.cli import docs as docs_command
    from sandbox.cli import lint as lint_command
    from sandbox.cli import new_case as scaffold_command

    for command in (lint_command, docs_command, scaffold_command, contract_command):
        command.add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `sandbox`: what it can do, not a usage error
        parser.print_help()
        return 0
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
