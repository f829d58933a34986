"""What the page of one operation shows: its parameters, its cases (cURL against this sandbox, the
FranceConnect tokens that reach them, their lint findings) and the "try it" form prefilled from a case.

Plain data built from the snapshot and the lint result; `sandbox.web.catalogue` renders it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.load.handed_token import repository_token
from sandbox.load.repository import NOT_FOUND_FILE, Case
from sandbox.load.snapshot import Snapshot
from sandbox.rules.coercion import to_s
from sandbox.rules.matching import strip_brackets
from sandbox.rules.operations import Operation, Parameter
from sandbox.serve.prefer_header import FAULTS, prefer_header
from sandbox.tools.reaching import (
    ENTREPRISE_CURL_PAIRS,
    PARTICULIER_RECIPIENT,
    TOKEN_REFERENCE,
    CaseRequest,
    case_request,
    curl_script,
    france_connect_request,
    token_line,
)
from sandbox.web.catalogue_lint import LintNote, LintResult, LintSummary
from sandbox.web.views import auth_kind, provider_of

__all__ = ["CaseView", "Field", "case_views", "operation_page"]

FRANCE_CONNECT_PLACEHOLDER = "$FRANCE_CONNECT_TOKEN"


def default_token(snapshot: Snapshot) -> str | None:
    """The repository's `tokens/default` (of the topmost source that has one)."""
    return repository_token(snapshot)


def schema_text(parameter: Parameter) -> str:
    schema = parameter.schema
    kind = str(schema.get("type") or ("array" if parameter.is_array else "string"))
    if kind == "array":
        items = schema.get("items")
        item_kind = items.get("type") if isinstance(items, Mapping) else None
        kind = f"array<{item_kind}>" if item_kind else "array"
    details = [kind]
    if schema.get("format"):
        details.append(f"({schema['format']})")
    return " ".join(details)


def schema_constraints(parameter: Parameter) -> str:
    schema = parameter.schema
    parts = []
    if isinstance(schema.get("enum"), list):
        parts.append(" | ".join(to_s(v) for v in schema["enum"]))
    if schema.get("pattern"):
        parts.append(f"/{schema['pattern']}/")
    for keyword in ("minLength", "maxLength", "minimum", "maximum"):
        if keyword in schema:
            parts.append(f"{keyword} {schema[keyword]}")
    return ", ".join(parts)


def schema_example(parameter: Parameter) -> str | None:
    """The schema's example value (the page writes "e.g." or "exemple :" before it, in its language)."""
    return to_s(parameter.schema["example"]) if "example" in parameter.schema else None


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


@dataclass(slots=True)
class Field:
    """One control of the "try it" form."""

    name: str
    location: str  # path | query
    required: bool
    is_array: bool
    type: str
    control_id: str


@dataclass(slots=True)
class CaseView:
    case: Case
    anchor: str
    title: str
    params: list[tuple[str, str]]
    payload: str
    curl: str | None
    force_curl: str  # the same request with `Prefer: case=<file>`: this case, whatever the matching
    tokens: tuple[str, ...]  # FranceConnect tokens that reach the case
    findings: tuple[LintNote, ...]
    prefill: dict[str, Any] = field(default_factory=dict)


def _fields(operation: Operation) -> list[Field]:
    found = []
    for index, parameter in enumerate(p for p in operation.parameters if p.location in ("path", "query")):
        found.append(
            Field(
                name=parameter.name,
                location=parameter.location,
                required=parameter.required,
                is_array=parameter.is_array,
                type=schema_text(parameter),
                control_id=f"try-{parameter.location}-{index}",
            )
        )
    return found


def _prefill(fields: Sequence[Field], pairs: Sequence[tuple[str, str]], case: Case | None) -> dict[str, str]:
    """The values of the "try it" controls, by control id: path values from the case's params, query values
    from the request's pairs (arrays: one value per line)."""
    values: dict[str, str] = {}
    params = case.params if case is not None else {}
    for item in fields:
        if item.location == "path":
            raw = params.get(item.name)
            values[item.control_id] = "" if raw is None else to_s(raw)
            continue
        sent = [
            value for name, value in pairs if name == item.name or strip_brackets(name) == strip_brackets(item.name)
        ]
        values[item.control_id] = "\n".join(sent) if item.is_array else (sent[0] if sent else "")
    return values


def _tracking_pairs(operation: Operation) -> list[tuple[str, str]]:
    if operation.api == "entreprise":
        return list(ENTREPRISE_CURL_PAIRS)
    return [PARTICULIER_RECIPIENT] if not operation.is_v2 else []


def france_connect_tokens_for(snapshot: Snapshot, operation: Operation) -> list[Case]:
    """The FranceConnect tokens (cases of `payloads/france_connect`) whose route is this operation's."""
    return [case for case in snapshot.france_connect.values() if case.api_path == operation.path]


def case_views(
    snapshot: Snapshot,
    operation: Operation,
    fields: Sequence[Field],
    base_url: str,
    lint: LintResult | None,
    inline_token: str | None = None,
) -> list[CaseView]:
    """Each case with its cURL command: reading `$TOKEN` after the line that sets it, or with `inline_token`
    written out when the reader asked for it."""
    token = inline_token or TOKEN_REFERENCE
    table = snapshot.tables.get(operation.id)
    views = []
    for index, case in enumerate(table.cases if table is not None else ()):
        tokens: tuple[str, ...] = ()
        if operation.is_france_connect:
            tokens = lint.france_connect_reach.get(case.id, ()) if lint is not None else ()
            request = france_connect_request(operation.path, tokens[0] if tokens else FRANCE_CONNECT_PLACEHOLDER)
            try_token = tokens[0] if tokens else ""
        else:
            request = case_request(operation, case, token)
            try_token = default_token(snapshot) or ""
        views.append(
            CaseView(
                case=case,
                anchor=f"case-{index + 1}",
                title=case.title or case.file,
                params=[(str(name), _param_text(value)) for name, value in case.params.items()],
                payload=pretty_json(case.payload),
                curl=curl_script(request, base_url),
                force_curl=curl_script(forcing(request, case), base_url),
                tokens=tokens,
                findings=lint.by_case.get(case.id, ()) if lint is not None else (),
                prefill={"values": _prefill(fields, request.query, case), "token": try_token},
            )
        )
    return views


def forcing(request: CaseRequest, case: Case) -> CaseRequest:
    """The request with `Prefer: case=<file>`: the sandbox answers that case after the token and scope gates."""
    return dataclasses.replace(request, headers=(*request.headers, *prefer_header(case=case.file).items()))


def _scenario_choices(snapshot: Snapshot, operation: Operation) -> dict[str, Any]:
    """What the "try it" form may ask with `Prefer`: the operation's case files, its statuses, the faults."""
    table = snapshot.tables.get(operation.id)
    cases = sorted({case.file for case in table.cases}) if table is not None else []
    statuses = {case.status for case in table.cases} if table is not None else set()
    statuses |= {int(status) for status in operation.responses if len(status) == 3 and status.isdigit()}
    return {"cases": cases, "statuses": sorted(statuses), "faults": list(FAULTS)}


def _param_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else to_s(value)


def chosen_case(views: Sequence[CaseView], wanted: str | None) -> CaseView | None:
    """The case the form is prefilled from: the one asked for, else the first success, else the first."""
    if wanted:
        for view in views:
            if view.case.file == wanted:
                return view
    hits = [v for v in views if 200 <= v.case.status < 300 and v.case.file != NOT_FOUND_FILE]
    return hits[0] if hits else (views[0] if views else None)


def operation_page(
    snapshot: Snapshot,
    operation: Operation,
    base_url: str,
    lint: LintResult | None,
    wanted: str | None,
    inline_token: str | None = None,
) -> dict[str, Any]:
    """What the operation page shows: parameters, cases with their cURL, the FranceConnect tokens and the
    "try it" form prefilled from the case asked for (`wanted`, a case file name). `inline_token`: the
    token to write in the cURL commands instead of `$TOKEN`, when the reader chose so."""
    fields = _fields(operation)
    views = case_views(snapshot, operation, fields, base_url, lint, inline_token)
    chosen = chosen_case(views, wanted)
    token = default_token(snapshot)
    france_connect = [
        (case, curl_script(france_connect_request(operation.path, str(case.params.get("token", ""))), base_url))
        for case in france_connect_tokens_for(snapshot, operation)
    ]
    if chosen is not None:
        prefill = chosen.prefill
    else:
        fc_token = str(france_connect[0][0].params.get("token", "")) if france_connect else ""
        prefill = {
            "values": _prefill(fields, _tracking_pairs(operation), None),
            "token": fc_token if operation.is_france_connect else (token or ""),
        }
    table = snapshot.tables.get(operation.id)
    fallback = None
    if table is not None:
        fallback = next((v.decode() for k, v in table.fallback.headers if k == b"x-sandbox-fallback"), None)
    return {
        "snapshot": snapshot,
        "operation": operation,
        "provider": provider_of(operation),
        "auth": auth_kind(operation),
        "parameters": [(p, schema_text(p), schema_constraints(p), schema_example(p)) for p in operation.parameters],
        "cases": views,
        "chosen": chosen,
        "fields": fields,
        "prefill": prefill,
        "try_data": {
            "path": operation.path,
            "auth": auth_kind(operation),
            "cases": {v.case.file: v.prefill for v in views},
        },
        "france_connect": france_connect,
        "scenarios": _scenario_choices(snapshot, operation),
        "base_url": base_url,
        "has_default_token": token is not None,
        "inline_token": inline_token is not None,
        "token_line": token_line(base_url),
        "lint_available": lint is not None,
        "lint_total": lint.by_folder.get(operation.id, LintSummary()) if lint is not None else None,
        "fallback": fallback,
    }
