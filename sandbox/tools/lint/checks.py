"""Which request parameters a validation check reads: a refusal points at the params line that caused it.

`check_parameters` is also what `sandbox new-case` reads to fill a case the checks accept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.rules.errors import ApiError
from sandbox.rules.validation import Check, CnavLieuNaissanceCheck, MenSearchCheck
from sandbox.tools.lint.context import OperationContext

__all__ = ["check_for", "check_parameters", "error_parameters"]


def check_parameters(check: Check) -> dict[str, tuple[str, ...]]:
    """The request parameters behind each error code a check can emit."""
    kind = getattr(check, "kind", "")
    codes = check.codes()
    where = getattr(check, "where", None)
    if where is not None:
        parts: tuple[str, ...] = (where.iso,) if where.iso else (where.year, where.month, where.day)
        if kind == "date_naissance" and not where.iso:
            return {"00422": (where.year,), "00423": (where.month,), "00424": (where.day,), "00425": parts}
        return dict.fromkeys(codes, parts)
    if isinstance(check, CnavLieuNaissanceCheck):
        lieu = check.commune, check.pays
        return {
            check.code: lieu,
            "00422": (check.annee,),
            "00428": (check.departement,),
        }
    if isinstance(check, MenSearchCheck):
        perimeter = check.departements, check.regions
        return {
            "00410": (check.code_etablissement,),
            "00419": (check.code_etablissement, *perimeter),
            "00412": (check.degre,),
            "00413": perimeter,
            "00414": perimeter,
            "00416": (check.departements,),
            "00417": (check.regions,),
        }
    if kind == "request_id_uuid":
        return dict.fromkeys(codes, ("X-Request-Id",))
    param = getattr(check, "param", None)
    if isinstance(param, str):
        return dict.fromkeys(codes, (param,))
    return {}


def error_parameters(context: OperationContext, params: Mapping[str, Any], error: ApiError) -> tuple[str, ...]:
    """The request parameters behind `error`, as the operation's checks for `params` name them."""
    rule = context.checks.rule
    if rule is not None:
        for check in rule.variant_for(params).checks:
            names = check_parameters(check).get(error.code)
            if names:
                return names
    if error.source and "parameter" in error.source:
        return (error.source["parameter"],)
    return ()


def check_for(context: OperationContext, params: Mapping[str, Any], code: str) -> Check | None:
    """The check of the operation that emits `code` for `params`, if any."""
    rule = context.checks.rule
    if rule is None:
        return None
    return next((c for c in rule.variant_for(params).checks if code in c.codes()), None)
