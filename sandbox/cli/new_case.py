"""`sandbox new-case` on the command line: the arguments, where the case goes, what is printed.

How the case is filled is `sandbox.tools.scaffold`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sandbox.cli.arguments import iso_date, word
from sandbox.load.repository_files import RefusedFile, RepositoryTree
from sandbox.tools.scaffold import ScaffoldError, new_case

_DESCRIPTION = """\
Write a new case file for OPERATION_ID, pre-filled so that it passes `sandbox lint`:
the path parameters and required query parameters with values the server's validators
accept (a Luhn-valid SIREN/SIRET unused in the folder, a valid birth date, `prenoms`
as a list…), `status: 200`, a payload, and a title and description to complete.

Without --output the file goes to payloads/OPERATION_ID/200-a-completer.yaml (or
-2, -3… when taken) in the fixture repository; `--output -` prints it instead."""


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "operation_id",
        metavar="OPERATION_ID",
        type=word("an operation id"),
        help="the operation (the `x-operationId`, e.g. api_entreprise_v3_insee_unites_legales)",
    )
    parser.add_argument(
        "--from-openapi",
        action="store_true",
        help="take the payload from the OpenAPI 200 example even when the folder has a 200 case to copy",
    )
    parser.add_argument(
        "--fixtures",
        metavar="PATH",
        help="fixture repository (default: the current folder when it has payloads/, else the embedded one)",
    )
    parser.add_argument("--output", metavar="FILE", help="where to write the case (`-`: standard output)")
    parser.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the date birth dates and years are chosen from (default: the real date)",
    )
    parser.set_defaults(handler=run)


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `new-case` on the `sandbox` command line."""
    parser = commands.add_parser(
        "new-case",
        help="write a pre-filled case file for an operation",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _configure(parser)


def _fixtures(option: str | None) -> Path:
    if option:
        return Path(option)
    if (Path.cwd() / "payloads").is_dir():
        return Path.cwd()
    from sandbox.load.embedded import default_fixtures

    return default_fixtures()


def run(args: argparse.Namespace) -> int:
    root = _fixtures(args.fixtures)
    if not root.is_dir():
        print(f"sandbox new-case: fixture repository {root} is not a folder", file=sys.stderr)
        return 2
    try:
        made = new_case(root, args.operation_id, from_openapi=args.from_openapi, today=args.today)
    except ScaffoldError as error:
        print(f"sandbox new-case: {error}", file=sys.stderr)
        return 2
    embedded = not args.fixtures and not (Path.cwd() / "payloads").is_dir()
    if args.output == "-" or (args.output is None and embedded):
        if embedded and args.output is None:
            print(
                "(no fixture repository here: the case is printed, not written into the embedded one)", file=sys.stderr
            )
        sys.stdout.write(made.text)
        return 0
    if args.output:
        target = Path(args.output)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(made.text, encoding="utf-8")
    else:
        try:  # into the repository: never through a link leading outside it, never over a file
            target = RepositoryTree(root).writable(made.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("x", encoding="utf-8") as handle:
                handle.write(made.text)
        except (RefusedFile, OSError) as error:
            print(f"sandbox new-case: {made.path} not written: {error}", file=sys.stderr)
            return 2
    print(f"wrote {target}: edit its title, description and payload, then run `sandbox lint`")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sandbox new-case", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _configure(parser)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
