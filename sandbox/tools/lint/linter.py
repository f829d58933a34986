"""The lint of a whole repository: every folder of `payloads/`, and the rules run on each case in order."""

from __future__ import annotations

import datetime
import difflib
import os
from collections.abc import Collection, Sequence
from pathlib import Path

from sandbox.load.openapi import operations_from_documents
from sandbox.load.repository import CASE_SUFFIXES, FRANCE_CONNECT_FOLDER, NOT_FOUND_FILE, read_repository
from sandbox.load.repository_files import FileLimits
from sandbox.rules.matching import MatchMode, RuleError, builtin_rulebook
from sandbox.rules.validation import build_checks
from sandbox.tools.lint.consistency import check_consistency
from sandbox.tools.lint.context import (
    DEFAULT_FORECAST_DAYS,
    MAX_FORECAST_DAYS,
    LintRun,
    OperationContext,
    operation_context,
)
from sandbox.tools.lint.duplicates import check_duplicates
from sandbox.tools.lint.franceconnect import check_france_connect_folder, collect_tokens
from sandbox.tools.lint.parameters import check_params
from sandbox.tools.lint.reachability import check_reachability
from sandbox.tools.lint.reading import CaseFile, folder_entries, read_case_file
from sandbox.tools.lint.report import LintReport
from sandbox.tools.lint.structure import check_response, check_structure

__all__ = ["lint_repository"]


def lint_repository(
    root: str | os.PathLike[str],
    *,
    mode: MatchMode = MatchMode.DOCUMENTED,
    today: datetime.date | None = None,
    lang: str = "en",
    limits: FileLimits | None = None,
    folders: Collection[str] | None = None,
    forecast_days: int = DEFAULT_FORECAST_DAYS,
) -> LintReport:
    """Every finding of the fixture repository at `root`; never raises on a bad file.

    The files are read as the server reads them (`sandbox.load.repository_files`): nothing outside
    `root`, each file bounded by `limits`, YAML aliases bounded before expansion. `folders` limits
    the run to those case folders of `payloads/` (each is linted whole, so its findings are the
    same as in a run over the repository). `forecast_days` is how far ahead a case valid today is
    checked against the date windows (`date-window-expiring`; 0: not at all).
    """
    path = Path(root).resolve()
    if lang not in ("en", "fr"):
        raise ValueError(f"unknown language {lang!r} (en or fr)")
    if not 0 <= forecast_days <= MAX_FORECAST_DAYS:
        raise ValueError(f"forecast_days must be in 0..{MAX_FORECAST_DAYS}, not {forecast_days}")
    run = LintRun(path, mode, today or datetime.date.today(), lang, limits, forecast_days)
    _lint_folders(run, None if folders is None else frozenset(folders))
    return run.report()


def _lint_folders(run: LintRun, only: frozenset[str] | None) -> None:
    """Read the repository as the server does, then lint each folder of `payloads/`."""
    content = read_repository(run.root, limits=run.tree.limits)
    problems = [p for p in content.problems if not p.path.startswith("payloads/")]
    operations = operations_from_documents(content.documents, problems)
    for problem in problems:
        run.add("repository-problem", problem.path, problem.line, detail=problem.reason)
    book = builtin_rulebook()
    try:
        book = book.extended(content.lookup_rules, "sandbox.yaml")
    except RuleError as error:
        run.add("repository-problem", "sandbox.yaml", None, detail=str(error))
    checks = build_checks()
    cases = {(case.folder, case.file): case for cases in content.folders.values() for case in cases}
    folders = folder_entries(run, run.root / "payloads", "payloads", lambda entry: not entry.name.startswith("."))
    collect_tokens(run, content.folders.get(FRANCE_CONNECT_FOLDER, []))
    france_connect_paths = {
        op.path for op in operations.values() if book.accepts_france_connect(op.id) or op.is_france_connect
    }
    for folder in folders:
        if not folder.is_folder or (only is not None and folder.name not in only):
            continue
        rel = f"payloads/{folder.name}"
        wanted = folder_entries(run, folder.path, rel, lambda entry: entry.name.endswith(CASE_SUFFIXES))
        files = [read_case_file(run, folder.name, entry, cases) for entry in wanted if entry.is_file]
        if folder.name == FRANCE_CONNECT_FOLDER:
            check_france_connect_folder(run, files, france_connect_paths)
            continue
        operation = operations.get(folder.name)
        if operation is None:
            close = difflib.get_close_matches(folder.name, list(operations), n=1, cutoff=0.8)
            suggestion = run.reason("did-you-mean", name=close[0]) if close else ""
            run.add(
                "folder-without-operation",
                f"payloads/{folder.name}",
                None,
                folder=folder.name,
                suggestion=suggestion,
            )
            for file in files:
                check_structure(run, file, None)
            continue
        context = operation_context(run, operation, book, checks, [f.case for f in files if f.case is not None])
        _operation_folder(run, context, files)


def _operation_folder(run: LintRun, context: OperationContext, files: Sequence[CaseFile]) -> None:
    """The rules of one operation's folder, in order: each case, then the folder as a whole."""
    operation = context.operation
    loaded: list[CaseFile] = []
    for file in files:
        if check_structure(run, file, operation) and file.case is not None:
            loaded.append(file)
    for file in loaded:
        assert file.case is not None
        check_params(run, context, file, file.case)
        check_response(run, context, file, file.case)
        check_consistency(run, context, file, file.case)
        check_reachability(run, context, file, file.case)
    check_duplicates(run, context, loaded)
    if operation.api == "particulier" and not any(f.name == NOT_FOUND_FILE for f in files):
        run.add("missing-not-found-case", f"payloads/{operation.id}", None, folder=operation.id)
