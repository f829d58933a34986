"""FranceConnect rules (spec §9.3): the token cases of `payloads/france_connect`, and which token reaches which case.

Each token case must hold a token, an introspection matching `FRANCE_CONNECT_SCHEMA`, a
description and the `api_path` of a route that takes FranceConnect; two cases may not hold
the same token. A case reached through FranceConnect is replayed from every token's
identity: a case no token produces is a finding, and the tokens that reach it are kept
for the catalogue.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft4Validator

from sandbox.load.repository import Case
from sandbox.rules.coercion import is_blank
from sandbox.rules.franceconnect import DEFAULT_MAPPING, civility_parameters
from sandbox.rules.matching import MatchMode, Unmatchable, strip_brackets, without_tracking
from sandbox.serve.franceconnect import FranceConnectSession
from sandbox.tools.lint.context import LintRun, OperationContext
from sandbox.tools.lint.reading import CaseFile
from sandbox.tools.lint.simulation import describe_identity, invert_identity, request_facts, sent
from sandbox.tools.lint.structure import parse_payload, schema_errors

__all__ = ["FRANCE_CONNECT_SCHEMA", "check_france_connect_folder", "check_token_coverage", "collect_tokens"]

# The FranceConnect introspection schema of the upstream checks (spec §9.3), written as data.
_NAME = {"type": "string", "minLength": 2}
FRANCE_CONNECT_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["aud", "iat", "iss", "token_introspection"],
    "properties": {
        "aud": _NAME,
        "iat": {"type": "integer"},
        "iss": _NAME,
        "token_introspection": {
            "type": "object",
            "required": [
                "active",
                "aud",
                "sub",
                "iat",
                "exp",
                "acr",
                "jti",
                "scope",
                "gender",
                "family_name",
                "given_name",
                "given_name_array",
                "birthdate",
                "birthplace",
                "birthcountry",
            ],
            "properties": {
                "active": {"type": "boolean"},
                "aud": _NAME,
                "sub": _NAME,
                "iat": {"type": "integer"},
                "exp": {"type": "integer"},
                "acr": _NAME,
                "jti": _NAME,
                "scope": _NAME,
                "gender": {"type": "string", "enum": ["male", "female"]},
                "family_name": _NAME,
                "given_name": _NAME,
                "given_name_array": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "minLength": 1},
                },
                "birthdate": {"type": "string"},
                "birthplace": {"type": "string"},
                "birthcountry": {"type": "string"},
            },
        },
    },
}


def collect_tokens(run: LintRun, cases: Sequence[Case]) -> None:
    """The tokens of `payloads/france_connect` usable as sent, with the identity each one carries."""
    for case in cases:
        token = case.params.get("token")
        if not isinstance(token, str) or not isinstance(case.payload, dict):
            continue
        session = FranceConnectSession.from_case(case)
        if not session.usable(0, check_expiry=False):
            continue
        run.tokens.append((token, session.identity()))


def check_token_coverage(run: LintRun, context: OperationContext, file: CaseFile, case: Case, *, report: bool) -> None:
    assert context.identity is not None
    mapping = context.identity
    usable = context.declared_query - set(mapping)
    declared = {strip_brackets(str(k)): sent(v) for k, v in case.params.items() if strip_brackets(str(k)) in usable}
    case_key = context.keys.case_key(case.params)
    facts = request_facts(context, case.params, None, france_connect=True)
    reached = []
    for token, identity in run.tokens:
        looked = {**declared, **civility_parameters(identity, mapping)}
        lookup = without_tracking(looked) if run.mode is MatchMode.STAGING else looked
        try:
            key = context.keys.request_key(lookup, facts)
        except Unmatchable:
            continue
        if key != case_key:
            continue
        civility = civility_parameters(identity, DEFAULT_MAPPING)
        checked = {**declared, **{k: v if isinstance(v, (str, list)) else str(v) for k, v in civility.items()}}
        if not context.checks.errors(checked, today=run.today):
            reached.append(token)
    run.reach[f"{case.folder}/{case.file}"] = tuple(reached)
    if reached or not report:
        return
    wanted = invert_identity(case.params, mapping)
    described = describe_identity(wanted)
    nearest = ""
    if run.tokens:
        scored = max(
            run.tokens,
            key=lambda item: difflib.SequenceMatcher(None, describe_identity(item[1]), described).ratio(),
        )
        nearest = run.reason("nearest-token", token=scored[0], identity=describe_identity(scored[1]))
    run.add("france-connect-no-token", file.rel, file.lines.get("params"), identity=described, nearest=nearest)


def check_france_connect_folder(run: LintRun, files: Sequence[CaseFile], routes: set[str]) -> None:
    validator = Draft4Validator(FRANCE_CONNECT_SCHEMA)
    owners: dict[str, CaseFile] = {}
    for file in files:
        data = file.data
        if file.failed:
            continue
        if not isinstance(data, dict):
            run.add("invalid-case", file.rel, 1, detail=run.reason("not-a-mapping"))
            continue
        params = data.get("params")
        token = params.get("token") if isinstance(params, dict) else None
        if not isinstance(token, str):
            line = file.param_lines.get("token") or file.lines.get("params", 1)
            run.add("france-connect-token", file.rel, line)
        payload = parse_payload(run, file, data)
        if payload is not None:
            shown, total = schema_errors(validator, payload, run.lang)
            if shown:
                detail = "; ".join(shown) + (f" (+{total - len(shown)})" if total > len(shown) else "")
                run.add("france-connect-schema", file.rel, file.lines.get("payload"), detail=detail)
        if is_blank(data.get("description")) or not isinstance(data.get("description"), str):
            run.add("missing-description", file.rel, file.lines.get("description", 1))
        api_path = data.get("api_path")
        if not isinstance(api_path, str) or not api_path:
            run.add("france-connect-api-path", file.rel, 1, detail=run.reason("api-path-missing"))
        elif api_path not in routes and "/api" + api_path not in routes:
            run.add(
                "france-connect-api-path",
                file.rel,
                file.lines.get("api_path"),
                detail=run.reason("api-path-unknown", path=api_path),
            )
        if isinstance(token, str) and file.case is not None:
            key = token.lower()
            if key in owners:
                previous = owners[key]
                run.add(
                    "duplicate-key",
                    previous.rel,
                    previous.param_lines.get("token") or previous.lines.get("params"),
                    other=file.name,
                    mode=run.mode.value,
                    key=f"token={key}",
                )
            owners[key] = file
