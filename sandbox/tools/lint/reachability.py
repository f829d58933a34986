"""Reachability and validation windows: is the case ever answered, and until when.

A case no attempt reaches gets the validators' refusals (an identifier refused, a date
valid only some years, another server-side refusal) and, when its key is not the
request's, the reasons why. A reachable case is checked a year ahead: the first day a
date rule refuses it is a warning.
"""

from __future__ import annotations

import datetime

from sandbox.load.repository import NOT_FOUND_FILE, Case
from sandbox.tools.lint.checks import check_for, error_parameters
from sandbox.tools.lint.context import LintRun, OperationContext
from sandbox.tools.lint.franceconnect import check_token_coverage
from sandbox.tools.lint.reading import CaseFile
from sandbox.tools.lint.simulation import Attempt, attempts, shown

__all__ = ["check_reachability"]

_IDENTIFIER_KINDS = frozenset(
    {"siren", "siret", "siret_or_rna", "siret_or_eori", "siren_or_siret_or_rna", "siren_or_rna", "ine"}
)
# Years around `--today` tried to tell a date-dependent refusal from a permanent one.
_WINDOW_PAST, _WINDOW_FUTURE = 80, 15


def check_reachability(run: LintRun, context: OperationContext, file: CaseFile, case: Case) -> None:
    operation = context.operation
    if context.gone:
        run.add("gone-route", file.rel, file.lines.get("params"), path=operation.path)
        return
    tries = attempts(run, context, case)
    success = next((a for a in tries if a.ok), None)
    if success is not None:
        _expiring(run, context, file, success)
        if success.via == "france_connect":
            # 404.yaml is also every miss's answer: it is served even when no token has its identity
            check_token_coverage(run, context, file, case, report=case.file != NOT_FOUND_FILE)
        return
    primary = tries[0]
    _validation_findings(run, context, file, case, primary)
    if not primary.reachable and primary.reasons:
        run.add(
            "unreachable",
            file.rel,
            file.lines.get("params"),
            mode=run.mode.value,
            reasons="; ".join(primary.reasons),
        )


def _codes(context: OperationContext, attempt: Attempt, today: datetime.date) -> set[str]:
    errors = context.checks.errors(attempt.checked, today=today, request_id=attempt.request_id)
    return {e.code for e in errors}


def _validation_findings(run: LintRun, context: OperationContext, file: CaseFile, case: Case, attempt: Attempt) -> None:
    seen: set[tuple[str, str]] = set()
    status = 400 if context.operation.is_v2 else 422
    years: dict[int, set[str]] | None = None
    for error in attempt.errors:
        names = error_parameters(context, attempt.checked, error)
        name = " / ".join(names) if names else "?"
        if (error.code, name) in seen:
            continue
        seen.add((error.code, name))
        present = [n for n in names if n in case.params or n + "[]" in case.params]
        line = file.param_line(present[0]) if present else file.lines.get("params")
        # a missing parameter is found at `params:`: its name keeps the finding apart from the others there
        field = None if present or not names else "params." + "/".join(names)
        check = check_for(context, attempt.checked, error.code)
        if check is not None and getattr(check, "kind", "") in _IDENTIFIER_KINDS:
            value = shown(case.params.get(names[0])) if names else ""
            run.add(
                "invalid-identifier",
                file.rel,
                line,
                field=field,
                name=name,
                value=value,
                code=error.code,
                detail=error.detail,
            )
            continue
        if years is None:
            years = _codes_by_year(run, context, attempt)
        valid_years = sorted(y for y, codes in years.items() if error.code not in codes)
        if valid_years:
            window = run.reason("window-years", first=valid_years[0], last=valid_years[-1])
            run.add(
                "date-window",
                file.rel,
                line,
                field=field,
                name=name,
                today=run.today.isoformat(),
                status=status,
                code=error.code,
                detail=error.detail,
                window=window,
            )
            continue
        run.add(
            "server-validation",
            file.rel,
            line,
            field=field,
            name=name,
            status=status,
            code=error.code,
            detail=error.detail,
        )


def _codes_by_year(run: LintRun, context: OperationContext, attempt: Attempt) -> dict[int, set[str]]:
    result: dict[int, set[str]] = {}
    for year in range(run.today.year - _WINDOW_PAST, run.today.year + _WINDOW_FUTURE + 1):
        if year == run.today.year:
            continue
        when = datetime.date(year, run.today.month, min(run.today.day, 28))
        result[year] = _codes(context, attempt, when)
    return result


def _expiring(run: LintRun, context: OperationContext, file: CaseFile, attempt: Attempt) -> None:
    if context.checks.is_empty or run.forecast_days == 0:
        return
    horizon = run.today + datetime.timedelta(days=run.forecast_days)
    later = context.checks.errors(attempt.checked, today=horizon, request_id=attempt.request_id)
    if not later:
        return
    low, high = run.today, horizon  # valid at low, invalid at high
    while (high - low).days > 1:
        middle = low + (high - low) / 2
        if _codes(context, attempt, middle):
            high = middle
        else:
            low = middle
    first = context.checks.errors(attempt.checked, today=high, request_id=attempt.request_id)[0]
    names = error_parameters(context, attempt.checked, first)
    present = [n for n in names if n in attempt.checked]
    line = file.param_line(present[0]) if present else file.lines.get("params")
    run.add(
        "date-window-expiring",
        file.rel,
        line,
        name=" / ".join(names) or "?",
        date=high.isoformat(),
        code=first.code,
        detail=first.detail,
    )
