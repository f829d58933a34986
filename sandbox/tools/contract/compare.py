"""Comparing an answer with its case: the status, the JSON body, the OpenAPI schema of the status."""

from __future__ import annotations

import json
import math
from typing import Any

from sandbox.serve.response_validation import ResponseValidators, SchemaOutcome, json_path
from sandbox.tools.contract.planning import PlannedCase

MAX_DIFF_LINES = 20


def _show(value: Any, limit: int = 80) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _same_scalar(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return expected == actual or (math.isnan(expected) and math.isnan(actual))
    return type(expected) is type(actual) and bool(expected == actual)


def json_diff(expected: Any, actual: Any, path: str = "$", limit: int = MAX_DIFF_LINES) -> list[str]:
    """Where `actual` differs from `expected`, one line per difference (types are strict: 1 ≠ "1" ≠ true)."""
    lines: list[str] = []

    def walk(exp: Any, act: Any, parts: list[str | int]) -> None:
        if len(lines) >= limit:
            return
        where = json_path(parts) if parts else path
        if isinstance(exp, dict) and isinstance(act, dict):
            for key in exp:
                if key not in act:
                    lines.append(f"{json_path([*parts, key])}: missing (expected {_show(exp[key])})")
                else:
                    walk(exp[key], act[key], [*parts, key])
            for key in act:
                if key not in exp:
                    lines.append(f"{json_path([*parts, key])}: unexpected (got {_show(act[key])})")
            return
        if isinstance(exp, list) and isinstance(act, list):
            if len(exp) != len(act):
                lines.append(f"{where}: expected {len(exp)} items, got {len(act)}")
            for index, (e, a) in enumerate(zip(exp, act, strict=False)):
                walk(e, a, [*parts, index])
            return
        if not _same_scalar(exp, act):
            lines.append(f"{where}: expected {_show(exp)}, got {_show(act)}")

    walk(expected, actual, [])
    return lines[:limit]


def evaluate(
    planned: PlannedCase, status: int, body: Any, parsed: bool, validators: ResponseValidators
) -> tuple[bool, list[str], SchemaOutcome]:
    """Whether the answer is the documented one and matches its schema; what differs if not."""
    case = planned.case
    messages: list[str] = []
    if status != case.status:
        messages.append(f"status: expected {case.status}, got {status}")
    if not parsed:
        messages.append(f"body: expected JSON, got {_show(body if isinstance(body, str) else str(body), 160)}")
    else:
        diff = json_diff(case.payload, body)
        if diff:
            messages.append("body differs from the case's payload:")
            messages.extend(f"  {line}" for line in diff)
    if parsed:
        schema = validators.check(planned.operation_id, status, body)
    else:
        schema = validators.check_unparsable(planned.operation_id, status, "not JSON")
    if schema.verdict == "invalid" and planned.left_out:
        kept = tuple(e for e in schema.errors if not (e.path in planned.left_out and "required" in e.message))
        schema = SchemaOutcome("invalid", kept) if kept else SchemaOutcome("valid")
    if schema.verdict == "invalid":
        messages.append(f"answer does not match the OpenAPI schema of status {status}:")
        messages.extend(f"  {error.path}: {error.message}" for error in schema.errors)
    return not messages, messages, schema
