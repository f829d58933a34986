"""Which request parameters a validation check reads: a refusal points at the params line that caused it.

`check_parameters` is also what `sandbox new-case` reads to fill a case the checks accept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.rules.checks import Check
from sandbox.rules.errors import ApiError
from sandbox.tools.lint.context import OperationContext

__all__ = ["check_for", "check_parameters", "error_parameters"]


def check_parameters(check: Check) -> dict[str, tuple[str, ...]]:
    """The request parameters behind each error code a check can emit."""
    return check.parameters()


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
