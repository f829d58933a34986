"""Parameter rules: every params key is a name the operation reads, and its value fits the documented schema.

An unknown name gets the closest known one as a suggestion; a known one is validated
against its OpenAPI schema as the query string would carry it.
"""

from __future__ import annotations

import difflib
from typing import Any

from jsonschema import Draft4Validator

from sandbox.load.openapi import openapi_to_json_schema, query_value, resolve
from sandbox.load.repository import Case
from sandbox.rules.matching import strip_brackets
from sandbox.rules.operations import Parameter
from sandbox.rules.tracking import ENTREPRISE_TRACKING
from sandbox.tools.lint.context import LintRun, OperationContext
from sandbox.tools.lint.messages import localised
from sandbox.tools.lint.reading import CaseFile

__all__ = ["check_params"]


def check_params(run: LintRun, context: OperationContext, file: CaseFile, case: Case) -> None:
    known = sorted(context.known)
    for raw_name, value in case.params.items():
        name = str(raw_name)
        key = strip_brackets(name)
        if name in ENTREPRISE_TRACKING and context.operation.api == "entreprise":
            continue
        line = file.param_line(name)
        if key not in context.known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            suggestion = run.reason("did-you-mean", name=close[0]) if close else ""
            listing = ", ".join(known) if known else "—"
            run.add(
                "unknown-parameter",
                file.rel,
                line,
                name=name,
                operation=context.operation.id,
                suggestion=suggestion,
                known=listing,
            )
            continue
        parameter = context.declared.get(key)
        if parameter is None:
            continue
        for detail in _parameter_problems(run, context, parameter, value):
            run.add("parameter-schema", file.rel, line, name=name, detail=detail)


def _parameter_problems(run: LintRun, context: OperationContext, parameter: Parameter, value: Any) -> list[str]:
    schema = resolve(parameter.schema, context.operation.components)
    schema = dict(schema) if isinstance(schema, dict) else {}
    if parameter.is_array and "type" not in schema:
        schema["type"] = "array"
    if parameter.is_array and not isinstance(value, list):
        return [run.reason("scalar-for-list", name=parameter.key)]
    validator = context.validators.get("param:" + parameter.key)
    if validator is None:
        validator = Draft4Validator(openapi_to_json_schema(schema, context.operation.components))
        context.validators["param:" + parameter.key] = validator
    instance = query_value(value, schema)
    return [localised(e.message, run.lang) for e in validator.iter_errors(instance)]
