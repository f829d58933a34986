"""`sandbox lint` on the command line: its arguments, its scope, its exit status, `python -m sandbox.cli.lint`.

The checks themselves are `sandbox.tools.lint`; this module reads the arguments, picks what is
reported (`scope`: paths, `--changed-since`; `baseline`: known findings) and prints
`format_findings`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sandbox.cli.arguments import bounded_int, iso_date
from sandbox.rules.matching import MatchMode
from sandbox.tools.lint import format_findings, lint_repository
from sandbox.tools.lint.baseline import Baseline, BaselineError, read_baseline, write_baseline
from sandbox.tools.lint.context import DEFAULT_FORECAST_DAYS, MAX_FORECAST_DAYS
from sandbox.tools.lint.report import Finding, LintReport
from sandbox.tools.lint.scope import (
    ScopeError,
    Selection,
    caused_by,
    changed_since,
    changes_first,
    findings_at_base,
    select,
)

__all__ = ["add_command", "main", "run"]

_DESCRIPTION = """\
Check a fixture repository (siade_staging_data layout) the way its upstream CI does
(safe YAML, JSON payload, allowed status, description, no tracking parameters in API
Entreprise cases, params and payload against the OpenAPI documents, duplicate params,
FranceConnect introspection schema), and beyond: unknown parameter names with a
suggestion, identifiers the server's validators refuse, cases no request can reach in
the chosen match mode (with the reason), cases equal after normalisation, undocumented
statuses, API Particulier folders without 404.yaml, FranceConnect cases no token
produces, payload identifiers that disagree with the params, placeholder text left by
`sandbox new-case`, and dates that make a case valid only some years.

PATH may be the repository or any file or folder inside it (the repository is the
nearest folder upward with a payloads/ folder): only the findings there are reported.
--changed-since REF reports the findings on the files changed since REF (its merge base
with HEAD; uncommitted and new files included), then those the changes cause elsewhere
(a duplicate of an existing case...). Findings on changed or named files come first.
--baseline FILE tolerates the findings it lists (rule, file and field: line numbers
may move); --write-baseline FILE writes the current findings there.

Exit status: 0 when no error is reported (warnings alone, and findings the baseline
tolerates, do not fail), 1 when at least one error is reported, 2 on a usage error (a
path in no fixture repository, an unknown git ref, an unreadable baseline, a bad
option). Rules and examples: docs/lint.md."""

_NOTES = {
    "changed": {
        "en": "changed since {ref} ({base}): {files} file(s); findings elsewhere are those the changes add",
        "fr": "modifié depuis {ref} ({base}) : {files} fichier(s) ; ailleurs, ceux que ces changements ajoutent",
    },
    "no-merge-base": {
        "en": "no merge base of {ref} and HEAD (shallow clone?): compared with {ref} itself",
        "fr": "pas d'ancêtre commun entre {ref} et HEAD (clone superficiel ?) : comparaison avec {ref} lui-même",
    },
    "tolerated": {
        "en": "{count} known finding(s) tolerated by the baseline {file}",
        "fr": "{count} problème(s) connu(s) toléré(s) par la référence {file}",
    },
    "fixed": {
        "en": "{count} finding(s) of the baseline are fixed: `--write-baseline {file}` removes them",
        "fr": "{count} problème(s) de la référence sont corrigés : `--write-baseline {file}` les retire",
    },
    "mode": {
        "en": "the baseline {file} was written in {written} mode, this run is in {mode} mode",
        "fr": "la référence {file} a été écrite en mode {written}, cette vérification est en mode {mode}",
    },
    "written": {
        "en": "wrote {count} finding(s) to {file}",
        "fr": "{count} problème(s) écrit(s) dans {file}",
    },
}


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        default=["."],
        metavar="PATH",
        help="the fixture repository, or files and folders inside it (default: the current folder)",
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
        "--forecast-days",
        type=bounded_int(0, MAX_FORECAST_DAYS, "a number of days"),
        default=DEFAULT_FORECAST_DAYS,
        metavar="N",
        help=f"warn about a case valid today that a date window refuses within N days "
        f"(default {DEFAULT_FORECAST_DAYS}; 0: no forecast)",
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
    parser.add_argument(
        "--changed-since",
        metavar="REF",
        help="report the findings of the files changed since the git ref REF (a branch, a tag, a commit), "
        "then those the changes cause elsewhere",
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="tolerate the findings listed in FILE (written by --write-baseline); fail only on new ones",
    )
    parser.add_argument(
        "--write-baseline",
        metavar="FILE",
        help="write the findings of the whole repository to FILE and exit 0; with --baseline, "
        "keep only the listed findings still found (fixed ones leave, new ones do not enter)",
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


def _usage(message: str) -> int:
    print(f"sandbox lint: {message}", file=sys.stderr)
    return 2


def _prefix(arguments: Sequence[str], root: Path) -> str:
    """How the repository's files are printed: relative to the current folder, absolute if a PATH was."""
    if root == Path.cwd().resolve():
        return ""
    if any(os.path.isabs(a) for a in arguments):
        return str(root)
    return os.path.relpath(root)


def run(args: argparse.Namespace) -> int:
    try:
        selection = select(args.paths)
    except ScopeError as error:
        return _usage(str(error))
    if args.write_baseline and (selection.paths is not None or args.changed_since):
        return _usage("--write-baseline records the whole repository: give no file, folder nor --changed-since")
    baseline: Baseline | None = None
    if args.baseline:
        try:
            baseline = read_baseline(Path(args.baseline))
        except BaselineError as error:
            return _usage(str(error))
    mode = MatchMode(args.match)

    def lint(root: Path, folders: frozenset[str] | None = None) -> LintReport:
        return lint_repository(
            root, mode=mode, today=args.today, lang=args.lang, folders=folders, forecast_days=args.forecast_days
        )

    notes: list[str] = []

    def note(kind: str, **values: object) -> None:
        notes.append(_NOTES[kind][args.lang].format(**values))

    first: set[str] = set(selection.paths or ())
    in_scope: Callable[[str], bool] = selection.covers_file
    if args.changed_since:
        try:
            changes = changed_since(selection.root, args.changed_since)
        except ScopeError as error:
            return _usage(str(error))
        report = lint(selection.root)
        findings = caused_by(
            [f for f in report.findings if selection.covers(f)], findings_at_base(changes, lint), changes.files
        )
        first = set(changes.files)

        def in_scope(file: str) -> bool:
            return file in changes.files and selection.covers_file(file)

        note("changed", ref=args.changed_since, base=changes.base[:12], files=len(changes.files))
        if not changes.merge_base:
            note("no-merge-base", ref=args.changed_since)
    else:
        report = lint(selection.root, selection.folders())
        findings = [f for f in report.findings if selection.covers(f)]
    return _finish(args, selection, report, findings, first, baseline, in_scope, notes, note)


def _finish(
    args: argparse.Namespace,
    selection: Selection,
    report: LintReport,
    findings: list[Finding],
    first: set[str],
    baseline: Baseline | None,
    in_scope: Callable[[str], bool],
    notes: list[str],
    note: Callable[..., None],
) -> int:
    """Apply the baseline, write one if asked, print, and say how it ends."""
    if baseline is not None:
        if baseline.match and baseline.match != report.mode.value:
            note("mode", file=args.baseline, written=baseline.match, mode=report.mode.value)
        fresh = baseline.new(findings)
        if len(findings) > len(fresh):
            note("tolerated", count=len(findings) - len(fresh), file=args.baseline)
        fixed = baseline.fixed(findings, in_scope)
        if fixed and not args.write_baseline:
            note("fixed", count=sum(fixed.values()), file=args.baseline)
        findings = fresh
    if args.write_baseline:
        written = Baseline.of(report.findings, report.mode.value)
        if baseline is not None:  # fixed findings leave, new ones do not enter
            written = Baseline(written.known & baseline.known, report.mode.value)
        try:
            write_baseline(Path(args.write_baseline), written)
        except OSError as error:
            return _usage(f"{args.write_baseline}: cannot be written ({error.strerror or error})")
        note("written", count=len(written), file=args.write_baseline)
        if baseline is None:
            findings = []  # every finding is now known
    shown = changes_first(findings, first)
    prefix = _prefix(args.paths, selection.root)
    print(format_findings(report, args.format, prefix, shown=shown, notes=notes))
    return 1 if any(f.severity == "error" for f in shown) else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sandbox lint", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _configure(parser)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
