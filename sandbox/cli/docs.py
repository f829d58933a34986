"""`sandbox docs` on the command line: the arguments, the exit status, what is printed.

What is generated, and how, is `sandbox.tools.docs`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sandbox.cli.arguments import http_url
from sandbox.load.repository_files import RefusedFile
from sandbox.tools.docs import DEFAULT_BASE_URLS, generate, stale_files, write_files
from sandbox.tools.lint.scope import ScopeError, select

ROOT_README = "payloads/README.md"

_DESCRIPTION = """\
Regenerate the generated files of a fixture repository in the upstream format:
payloads/README.md (the route table), and for every case folder (and
payloads/france_connect) its README.md (cases, parameters, answers, cURL commands)
and summary.csv. Contributors then never need push access for "générer la
documentation": CI runs `sandbox docs --check`.

PATH may be the repository or files and folders inside it (the repository is the nearest
folder upward with a payloads/ folder): then only the generated files of their case
folders, and payloads/README.md, are regenerated or checked (what the pre-commit hook
`sandbox-docs` does with the files of a commit).

With --check nothing is written: the stale files are listed and the exit status is 1
when there is one (0 otherwise); 2 on a usage error."""


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        default=["."],
        metavar="PATH",
        help="fixture repository (folder with payloads/), or files and folders inside it (default: the current folder)",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; list the stale files and exit 1 if there are any"
    )
    parser.add_argument(
        "--base-url",
        metavar="URL",
        type=http_url,
        help="base URL of the cURL examples, for both APIs (default: the real staging URLs, "
        f"{DEFAULT_BASE_URLS['entreprise']} and {DEFAULT_BASE_URLS['particulier']})",
    )
    parser.set_defaults(handler=run)


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `docs` on the `sandbox` command line."""
    parser = commands.add_parser(
        "docs",
        help="regenerate the README.md and summary.csv files of a fixture repository",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _configure(parser)


def run(args: argparse.Namespace) -> int:
    try:
        selection = select(args.paths)
    except ScopeError as error:
        print(f"sandbox docs: {error}", file=sys.stderr)
        return 2
    root = selection.root
    urls = {api: args.base_url for api in DEFAULT_BASE_URLS} if args.base_url else None
    files = generate(root, urls)
    folders = selection.folders()
    if folders is not None:  # the folders of the files named, and the route table that links them
        files = [f for f in files if f.path == ROOT_README or f.path.split("/")[1] in folders]
    if args.check:
        stale = stale_files(root, files)
        for path in stale:
            print(f"stale: {path}")
        if stale:
            print(f"{len(stale)} generated file(s) out of date: run `sandbox docs {root}`", file=sys.stderr)
            return 1
        print(f"{len(files)} generated file(s) up to date")
        return 0
    try:
        written = write_files(root, files)
    except RefusedFile as refusal:
        print(f"sandbox docs: {refusal}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} file(s) written, {len(files) - len(written)} already up to date")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sandbox docs", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _configure(parser)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
