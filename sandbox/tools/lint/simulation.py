"""The request a case makes, run through the server's own validators and key builder.

A plain case is sent as a client would send it (arrays as `k[]`, staging's copied and
reshaped keys, path parameters in the URL); a FranceConnect case is replayed from the
identity it describes (`civility_parameters` of the inverted identity). Each try is an
`Attempt`: the validators' errors, and whether the request's lookup key is the case's,
with the reasons when it is not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.load.repository import Case
from sandbox.rules.coercion import is_blank, to_s
from sandbox.rules.errors import ApiError
from sandbox.rules.franceconnect import DEFAULT_MAPPING, Identity, civility_parameters
from sandbox.rules.matching import (
    NO_FACTS,
    KeySpec,
    LookupRule,
    MatchMode,
    RequestFacts,
    Unmatchable,
    canonical_key,
    is_empty,
    staging_mapping,
    strip_brackets,
    without_tracking,
)
from sandbox.rules.tokens import FRANCE_CONNECT_UID, INTERNAL_JTI
from sandbox.rules.tracking import ENTREPRISE_TRACKING, TRACKING_PARAMETERS
from sandbox.tools.lint.checks import error_parameters
from sandbox.tools.lint.context import LintRun, OperationContext

__all__ = ["Attempt", "attempts", "describe_identity", "invert_identity", "request_facts", "sent", "shown"]

# A request id the server would generate (a client-chosen one is read from the case's `request_id`).
_GENERATED_REQUEST_ID = "5f0e8d44-9c3b-4a57-9f43-2f6f5b7c1d20"
# The value a missing path parameter takes in a URL: any value the case does not give.
_PATH_PLACEHOLDER = "\x00missing"


def _text(value: Any) -> str:
    return to_s(value)


def sent(value: Any) -> Any:
    """A case value as a query string carries it: text, or a list of texts (`k[]=…`)."""
    if isinstance(value, list):
        return [_text(v) for v in value]
    return _text(value)


def shown(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    text = _text(value)
    return text if text else '""'


def _entry(name: str, value: Any) -> str:
    return canonical_key({name: value}, drop_blank=False)


def invert_identity(params: Mapping[str, Any], mapping: Mapping[str, str]) -> Identity:
    """The FranceConnect identity that would produce `params` through `mapping` (best effort)."""
    fields = {"family_name": "", "given_name": "", "birthdate": "", "gender": "", "birthplace": "", "birthcountry": ""}
    parts = ["", "", ""]
    for name, expression in mapping.items():
        value = params.get(name, params.get(name + "[]"))
        if value is None:
            continue
        if expression == "family_name":
            fields["family_name"] = _text(value)
        elif expression in ("given_names", "given_name", "first_given_name"):
            fields["given_name"] = " ".join(_text(v) for v in value) if isinstance(value, list) else _text(value)
        elif expression == "given_names_comma":
            fields["given_name"] = " ".join(part.strip() for part in _text(value).split(","))
        elif expression in ("birth_year", "birth_month", "birth_day"):
            parts[("birth_year", "birth_month", "birth_day").index(expression)] = _text(value)
        elif expression == "birthdate":
            fields["birthdate"] = _text(value)
        elif expression == "birthdate_fr":
            fields["birthdate"] = "-".join(reversed(_text(value).split("/")))
        elif expression == "gender":
            fields["gender"] = _text(value)
        elif expression == "gender_letter":
            letter = _text(value).upper()
            fields["gender"] = "male" if letter == "M" else "female" if letter == "F" else ""
        elif expression in ("birthplace", "birthplace_or_empty"):
            fields["birthplace"] = _text(value)
        elif expression == "birthcountry":
            fields["birthcountry"] = _text(value)
    if any(parts):
        widths = (4, 2, 2)
        fields["birthdate"] = "-".join(p.zfill(w) if p.isdigit() else p for p, w in zip(parts, widths, strict=True))
    return Identity(**fields)


def describe_identity(identity: Identity) -> str:
    items = [
        ("family_name", identity.family_name),
        ("given_name", identity.given_name),
        ("birthdate", identity.birthdate),
        ("gender", identity.gender),
        ("birthplace", identity.birthplace),
        ("birthcountry", identity.birthcountry),
    ]
    return ", ".join(f"{k}={v}" for k, v in items if v)


@dataclass(slots=True)
class Attempt:
    via: str  # request | france_connect
    checked: dict[str, Any]
    request_id: str | None
    errors: list[ApiError]
    reachable: bool
    reasons: list[str]
    missing_path: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reachable and not self.errors


def attempts(run: LintRun, context: OperationContext, case: Case) -> list[Attempt]:
    """The ways a client can ask for the case: a plain request, a FranceConnect token, or both."""
    if context.identity is None:
        return [_direct(run, context, case)]
    only = context.france_connect_only_names
    names = {strip_brackets(str(n)) for n in case.params}
    if context.operation.is_france_connect or names & only:
        return [_france_connect(run, context, case)]
    return [_direct(run, context, case), _france_connect(run, context, case)]


def _direct(run: LintRun, context: OperationContext, case: Case) -> Attempt:
    params = case.params
    staging = run.mode is MatchMode.STAGING
    request: dict[str, Any] = {}
    for raw_name, value in params.items():
        name = str(raw_name)
        if name.endswith("[]"):
            request[name[:-2]] = sent(value if isinstance(value, list) else [value])
        else:
            request[name] = sent(value)
    if staging:
        for spec in _param_specs(context.rule):
            if spec.key not in params or params[spec.key] is None:
                continue
            value = params[spec.key]
            if spec.param != spec.key and spec.param not in params:
                request[spec.param] = sent(value)
            if spec.kind == "list" and not isinstance(value, list):
                request[spec.param] = [_text(value)]
            elif spec.kind == "words" and isinstance(value, list):
                request[spec.param] = " ".join(_text(v) for v in value)
    checked = dict(request)
    missing: list[str] = []
    for name in context.path_params:
        if is_blank(request.get(name)):
            missing.append(name)
            request[name] = _PATH_PLACEHOLDER
    request_id = _text(params["request_id"]) if not is_blank(params.get("request_id")) else None
    errors = context.checks.errors(checked, today=run.today, request_id=request_id)
    errors = [e for e in errors if not set(error_parameters(context, checked, e)) <= set(missing) or not missing]
    lookup = without_tracking(request) if staging else request
    facts = request_facts(context, params, request_id, france_connect=False)
    reachable, reasons = _compare(run, context, params, lookup, facts, "request", tuple(missing))
    return Attempt("request", checked, request_id, errors, reachable, reasons, tuple(missing))


def _france_connect(run: LintRun, context: OperationContext, case: Case) -> Attempt:
    assert context.identity is not None
    mapping = context.identity
    params = case.params
    usable = context.declared_query - set(mapping)
    declared = {strip_brackets(str(k)): sent(v) for k, v in params.items() if strip_brackets(str(k)) in usable}
    identity = invert_identity(params, mapping)
    civility = civility_parameters(identity, DEFAULT_MAPPING)
    checked = {**declared, **{k: v if isinstance(v, (str, list)) else str(v) for k, v in civility.items()}}
    looked = {**declared, **civility_parameters(identity, mapping)}
    errors = context.checks.errors(checked, today=run.today, request_id=None)
    lookup = without_tracking(looked) if run.mode is MatchMode.STAGING else looked
    facts = request_facts(context, params, None, france_connect=True)
    reachable, reasons = _compare(run, context, params, lookup, facts, "france_connect", ())
    return Attempt("france_connect", checked, None, errors, reachable, reasons)


def _param_specs(rule: LookupRule) -> list[KeySpec]:
    return [spec for variant in rule.variants for spec in variant.keys if spec.source == "param"]


def request_facts(
    context: OperationContext, params: Mapping[str, Any], request_id: str | None, *, france_connect: bool
) -> RequestFacts:
    """What the server adds to a lookup key besides the query: token ids, request id, API version."""
    if not context.keys.needs_facts:
        return NO_FACTS
    uid = FRANCE_CONNECT_UID if france_connect else _text(params.get("user_id") or INTERNAL_JTI)
    jti = FRANCE_CONNECT_UID if france_connect else _text(params.get("token_id") or INTERNAL_JTI)
    return RequestFacts(
        token_uid=uid,
        token_jti=jti,
        request_id=request_id or _GENERATED_REQUEST_ID,
        api_version=context.operation.version_number,
    )


def _compare(
    run: LintRun,
    context: OperationContext,
    params: Mapping[str, Any],
    lookup: Mapping[str, Any],
    facts: RequestFacts,
    via: str,
    missing: tuple[str, ...],
) -> tuple[bool, list[str]]:
    try:
        key: str | None = context.keys.request_key(lookup, facts)
    except Unmatchable:
        key = None
    case_key = context.keys.case_key(params)
    if key == case_key:
        return True, []
    return False, _explain(run, context, params, lookup, facts, via, missing, key, case_key)


def _explain(
    run: LintRun,
    context: OperationContext,
    params: Mapping[str, Any],
    lookup: Mapping[str, Any],
    facts: RequestFacts,
    via: str,
    missing: tuple[str, ...],
    key: str | None,
    case_key: str,
) -> list[str]:
    france_connect = via == "france_connect"
    specs: dict[str, KeySpec] = {}
    if run.mode is MatchMode.STAGING:
        variant = context.rule.variant_for(lookup)
        specs = {spec.key: spec for spec in variant.keys}
        try:
            built = staging_mapping(variant, lookup, facts)
        except Unmatchable as error:
            return [run.reason("unmatchable", detail=str(error))]
        wanted: dict[str, Any] = {str(k): v for k, v in params.items()}
    else:
        built = {k: v for k, v in context.keys.documented_mapping(lookup).items() if not is_empty(v)}
        wanted = {strip_brackets(str(k)): v for k, v in params.items() if not is_empty(v)}
    reasons: list[str] = []
    for name, value in wanted.items():
        if name in built:
            if _entry(name, value) != _entry(name, built[name]):
                reasons.append(_differs(run, name, value, built[name], france_connect))
            continue
        spec = specs.get(name)
        if spec is not None and spec.only_if is not None:
            condition, expected = spec.only_if
            if _text(lookup.get(condition)).lower() != expected:
                reasons.append(run.reason("only-if", name=name, condition=condition, value=expected))
                continue
        if spec is not None and spec.requires and any(built.get(r) is None for r in spec.requires):
            required = next(r for r in spec.requires if built.get(r) is None)
            reasons.append(run.reason("requires", name=name, required=required))
        elif name in TRACKING_PARAMETERS:
            if not (context.operation.api == "entreprise" and name in ENTREPRISE_TRACKING):
                reasons.append(run.reason("tracking-never-read", name=name))  # else: `tracking-parameter`
        elif france_connect and (spec is not None or run.mode is MatchMode.DOCUMENTED):
            reasons.append(run.reason("fc-never-provides", name=name))
        else:
            reasons.append(run.reason("never-read", name=name))
    for name, value in built.items():
        if name in wanted:
            continue
        spec = specs.get(name)
        if name in missing:
            reasons.append(run.reason("missing-path-parameter", name=name))
        elif spec is not None and spec.injected:
            reasons.append(run.reason("injected", name=name, source=_source(run, spec, value)))
        elif value is None:
            reasons.append(run.reason("always-sent", name=name))
        elif france_connect:
            reasons.append(run.reason("fc-always-provides", name=name, value=shown(value)))
        else:
            reasons.append(run.reason("server-sends", name=name, value=shown(value)))
    if not reasons and not any(n in ENTREPRISE_TRACKING for n in wanted):
        reasons.append(run.reason("key-differs", expected=key or "—", actual=case_key))
    return reasons


def _source(run: LintRun, spec: KeySpec, value: Any) -> str:
    if spec.source == "param":
        return run.reason("source-default", value=spec.default)
    return run.reason(f"source-{spec.source}", value=shown(value))


def _differs(run: LintRun, name: str, wanted: Any, built: Any, france_connect: bool) -> str:
    if isinstance(built, list) and not isinstance(wanted, list):
        return run.reason("scalar-for-list", name=name)
    if isinstance(built, int) and not isinstance(built, bool):
        return run.reason("integer-form", name=name, expected=built, actual=shown(wanted))
    kind = "fc-value-differs" if france_connect else "value-differs"
    return run.reason(kind, name=name, expected=shown(built), actual=shown(wanted))
