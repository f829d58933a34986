"""Structure and schema rules (spec §9.1 items 2-5): what a case file must hold, and its payload's schema.

A case is a mapping with `params` (a mapping), an allowed integer `status`, a `payload`
holding JSON and a `description`; an API Entreprise case carries no tracking parameter.
Its status must be documented for the operation and its payload must match the schema
of that status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonschema.exceptions
from jsonschema import Draft4Validator

from sandbox.load.openapi import openapi_to_json_schema
from sandbox.load.repository import Case
from sandbox.load.repository_files import TooDeep, load_json
from sandbox.rules.coercion import is_blank
from sandbox.rules.operations import Operation
from sandbox.rules.tracking import ENTREPRISE_TRACKING
from sandbox.tools.lint.context import LintRun, OperationContext
from sandbox.tools.lint.messages import localised
from sandbox.tools.lint.reading import CaseFile

__all__ = [
    "ALLOWED_STATUSES",
    "check_response",
    "check_structure",
    "parse_payload",
    "schema_errors",
]

# Spec §9.1 item 3: the statuses the upstream checks allow (401 is the server's own).
ALLOWED_STATUSES = (200, 400, 403, 404, 409, 422, 429, 500, 502, 503, 504, 509)
# The names of API Entreprise's tracking parameters: the server reads them, a case must not hold them.


def schema_errors(validator: Draft4Validator, instance: Any, lang: str = "en", limit: int = 3) -> tuple[list[str], int]:
    try:
        errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.UnknownType) as unusable:
        return [f"(schema unusable: {str(unusable).splitlines()[0]})"], 1
    shown = []
    for error in errors[:limit]:
        pointer = "/" + "/".join(str(p) for p in error.absolute_path)
        message = localised(error.message, lang)
        message = message if len(message) <= 160 else message[:157] + "…"
        shown.append(f"{pointer} : {message}" if lang == "fr" else f"{pointer}: {message}")
    return shown, len(errors)


def check_structure(run: LintRun, file: CaseFile, operation: Operation | None) -> bool:
    """Structural checks; True when the server loads the case (a `Case` exists)."""
    if file.failed:
        return False
    data = file.data
    if not isinstance(data, dict):
        run.add("invalid-case", file.rel, 1, detail=run.reason("not-a-mapping"))
        return False
    lines = file.lines
    params = data.get("params")
    if not isinstance(params, dict):
        run.add("invalid-case", file.rel, lines.get("params", 1), detail=run.reason("params-not-a-mapping"))
    status = data.get("status")
    if isinstance(status, bool) or not isinstance(status, int):
        run.add("invalid-case", file.rel, lines.get("status", 1), detail=run.reason("status-not-integer", value=status))
    elif status not in ALLOWED_STATUSES:
        allowed = ", ".join(str(s) for s in ALLOWED_STATUSES)
        run.add("status-not-allowed", file.rel, lines.get("status"), status=status, allowed=allowed)
    parse_payload(run, file, data)
    if is_blank(data.get("description")) or not isinstance(data.get("description"), str):
        run.add("missing-description", file.rel, lines.get("description", 1))
    is_entreprise = file.folder.startswith("api_entreprise") or (
        operation is not None and operation.api == "entreprise"
    )
    if is_entreprise and isinstance(params, dict):
        for name in params:
            if str(name) in ENTREPRISE_TRACKING:
                run.add("tracking-parameter", file.rel, file.param_line(str(name)), name=name)
    return file.case is not None


def parse_payload(run: LintRun, file: CaseFile, data: Mapping[str, Any]) -> Any:
    """The case's payload parsed from its JSON text, or None once the problem is a finding."""
    raw = data.get("payload")
    line = file.lines.get("payload", 1)
    if not isinstance(raw, str):
        run.add("payload-not-json", file.rel, line, detail=run.reason("payload-missing"))
        return None
    try:
        return load_json(raw, run.tree.limits)
    except TooDeep:
        run.add("payload-not-json", file.rel, line, detail=run.reason("json-too-deep"))
        return None
    except json.JSONDecodeError as error:
        message = localised(error.msg, run.lang)
        detail = run.reason("json-error", error=message, line=error.lineno, column=error.colno)
        run.add("payload-not-json", file.rel, line + error.lineno, detail=detail)
        return None


def check_response(run: LintRun, context: OperationContext, file: CaseFile, case: Case) -> None:
    """The case's status is documented for the operation and its payload matches that status's schema."""
    operation = context.operation
    responses = operation.responses
    status = str(case.status)
    if status not in responses and f"{status[0]}XX" not in responses and "default" not in responses:
        documented = ", ".join(sorted(responses))
        run.add(
            "status-not-documented",
            file.rel,
            file.lines.get("status"),
            status=status,
            operation=operation.id,
            documented=documented,
        )
        return
    key = "status:" + status
    if key not in context.validators:
        schema = responses.get(status)
        context.validators[key] = (
            Draft4Validator(openapi_to_json_schema(schema, operation.components)) if schema else None
        )
    validator = context.validators[key]
    if validator is None:
        return
    shown, total = schema_errors(validator, case.payload, run.lang)
    if shown:
        detail = "; ".join(shown) + (f" (+{total - len(shown)})" if total > len(shown) else "")
        run.add("payload-schema", file.rel, file.lines.get("payload"), status=status, detail=detail)
