"""`sandbox` command line: serve a fixture repository, and the contributor and CI tools.

One module per command, each with its `add_command`; argparse is used nowhere else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sandbox.cli.arguments import OneLineErrors
from sandbox.load.collection import collection_paused

EPILOG = """\
first steps:
  sandbox serve                       serve the embedded fixtures on http://127.0.0.1:8000
  export TOKEN=$(sandbox token)       a token this sandbox accepts
  sandbox COMMAND --help              the options and examples of one command
"""


# Each command's module, in the order `sandbox --help` lists them. A command named on the command
# line is the only one imported: `sandbox serve` does not import the contract, docs and lint
# tools (jsonschema, the docs templates), a start-up cost of a few tenths of a second.
COMMANDS = {
    "serve": "sandbox.cli.serve",
    "token": "sandbox.cli.token",
    "lint": "sandbox.cli.lint",
    "docs": "sandbox.cli.docs",
    "new-case": "sandbox.cli.new_case",
    "contract": "sandbox.cli.contract",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `sandbox` parser; with `command` (a name of COMMANDS), only that command is registered."""
    import importlib

    from sandbox import __version__

    parser = OneLineErrors(
        prog="sandbox",
        description="Staging sandbox for API Particulier and API Entreprise, served from a fixture repository.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sandbox {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = [command] if command in COMMANDS else list(COMMANDS)
    for name in names:
        importlib.import_module(COMMANDS[name]).add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # The collector paused while the command's modules load: they allocate some 60,000 objects
    # that live on, which each threshold crossed would walk again for nothing (~7 % of their time).
    parser = collection_paused(build_parser)(arguments[0] if arguments else None)
    args = parser.parse_args(arguments)
    if args.command is None:  # bare `sandbox`: what it can do, not a usage error
        parser.print_help()
        return 0
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
