"""Why a request did not reach a case: the closest cases and what differs, parameter by parameter.

The comparison is on raw values, so it can say more than the lookup does: a value that
differs only by letter case (which still matches), only by type or format (`08` and
`8`), arrays in another order, a scalar sent where the case has a list, a parameter
missing or extra. Each kind has a weight; the closest case has the smallest total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.coercion import ruby_integer, to_s
from sandbox.matching import NO_FACTS, MatchMode, Params, Unmatchable, parse_query, strip_brackets, without_tracking
from sandbox.repository import Case
from sandbox.routing import VersionMiss
from sandbox.snapshot import Prepared, Snapshot

# How far each kind of difference takes a request from a case.
_WEIGHTS = {"case": 0.0, "type": 0.4, "order": 0.4, "array": 0.4, "different": 1.0, "missing": 1.0, "extra": 1.0}
_MESSAGES = {
    "case": "differs only by letter case (matched anyway: values are compared lower-cased)",
    "type": "same number written differently (e.g. 08 and 8): the lookup compares the text",
    "order": "same values in another order: array order matters",
    "array": "sent as a single value where the case has a list (send name[]=value), or the reverse",
    "different": "different value",
    "missing": "the case has this parameter, the request does not send it",
    "extra": "the request sends this parameter, the case does not have it",
}


@dataclass(frozen=True, slots=True)
class Difference:
    parameter: str
    kind: str
    case_value: Any
    request_value: Any

    @property
    def message(self) -> str:
        return _MESSAGES[self.kind]


@dataclass(frozen=True, slots=True)
class NearCase:
    case: Case
    score: float
    differences: tuple[Difference, ...]

    @property
    def blocking(self) -> tuple[Difference, ...]:
        """The differences that stop the lookup (a letter-case difference does not)."""
        return tuple(d for d in self.differences if d.kind != "case")


def _numbers_equal(left: Any, right: Any) -> bool:
    a, b = ruby_integer(left), ruby_integer(right)
    return a is not None and a == b


def _compare(name: str, case_value: Any, request_value: Any) -> Difference | None:
    if isinstance(case_value, list) != isinstance(request_value, list):
        single = case_value if not isinstance(case_value, list) else request_value
        listed = case_value if isinstance(case_value, list) else request_value
        kind = "array" if len(listed) == 1 and to_s(listed[0]).lower() == to_s(single).lower() else "different"
        return Difference(name, kind, case_value, request_value)
    if isinstance(case_value, list):
        theirs, ours = [to_s(v) for v in case_value], [to_s(v) for v in request_value]
        if theirs == ours:
            return None
        lowered = ([v.lower() for v in theirs], [v.lower() for v in ours])
        if lowered[0] == lowered[1]:
            return Difference(name, "case", case_value, request_value)
        kind = "order" if sorted(lowered[0]) == sorted(lowered[1]) else "different"
        return Difference(name, kind, case_value, request_value)
    theirs_text, ours_text = to_s(case_value), to_s(request_value)
    if theirs_text == ours_text:
        return None
    if theirs_text.lower() == ours_text.lower():
        return Difference(name, "case", case_value, request_value)
    if _numbers_equal(case_value, request_value):
        return Difference(name, "type", case_value, request_value)
    return Difference(name, "different", case_value, request_value)


def differences(case_params: Mapping[str, Any], request_params: Mapping[str, Any]) -> tuple[Difference, ...]:
    theirs = {strip_brackets(str(k)): v for k, v in case_params.items()}
    found = []
    for name in sorted(set(theirs) | set(request_params)):
        if name not in request_params or request_params[name] in (None, "", []):
            if theirs.get(name) not in (None, "", []):
                found.append(Difference(name, "missing", theirs[name], None))
        elif name not in theirs:
            found.append(Difference(name, "extra", None, request_params[name]))
        else:
            difference = _compare(name, theirs[name], request_params[name])
            if difference is not None:
                found.append(difference)
    return tuple(found)


def nearest(cases: Sequence[Case], request_params: Params, limit: int = 3) -> list[NearCase]:
    """The `limit` closest cases, closest first (ties: fewer differences, then file name)."""
    ranked = []
    for case in cases:
        found = differences(case.params, request_params)
        ranked.append(NearCase(case, sum(_WEIGHTS[d.kind] for d in found), found))
    ranked.sort(key=lambda near: (near.score, len(near.differences), near.case.file))
    return ranked[:limit]


def _describe(near: NearCase, curl: str) -> dict[str, Any]:
    return {
        "case": near.case.id,
        "title": near.case.title or near.case.description,
        "status": near.case.status,
        "score": round(near.score, 2),
        "matches": not near.blocking,
        "differences": [
            {
                "parameter": d.parameter,
                "kind": d.kind,
                "case_value": d.case_value,
                "request_value": d.request_value,
                "message": d.message,
            }
            for d in near.differences
        ],
        "curl": curl,
    }


def explanation(snapshot: Snapshot, target: str, query_string: bytes, host: str, base_url: str) -> dict[str, Any]:
    """`GET /__sandbox/explain/<path>?<query>`: what the sandbox does with that request, and why."""
    from sandbox.pipeline import api_of_host
    from sandbox.replay import case_request

    routed = snapshot.router.match(target, api_of_host(host))
    query = parse_query(query_string)
    request = {"path": target, "query": query}
    if routed is None:
        return {"request": request, "error": "no operation has this path", "mode": snapshot.mode.value}
    if isinstance(routed, VersionMiss):
        operation = routed.family[0]
        return {
            "request": request,
            "operation": operation.id,
            "error": f"{operation.id} is not served under {routed.version} (404 00402)",
            "mode": snapshot.mode.value,
        }
    table = snapshot.tables[routed.operation.id]
    params = {**query, **routed.path_params}
    compared = table.keys.documented_mapping(params)
    try:
        key: str | None = table.keys.request_key(
            params if snapshot.mode is MatchMode.DOCUMENTED else without_tracking(params), NO_FACTS
        )
    except Unmatchable as reason:
        key = None
        request["unmatchable"] = str(reason)
    hit = table.index.get(key) if key is not None else None
    closest = nearest(table.cases, compared)
    return {
        "request": request,
        "operation": routed.operation.id,
        "api": routed.operation.api,
        "mode": snapshot.mode.value,
        "compared_parameters": compared,
        "lookup_key": key,
        "matched": hit.case_id if hit is not None else None,
        "fallback": None if hit is not None else header_value(table.fallback, b"x-sandbox-fallback"),
        "server_added_keys": [
            spec.key for variant in table.keys.rule.variants for spec in variant.keys if spec.injected
        ]
        if snapshot.mode is MatchMode.STAGING
        else [],
        "closest": [
            _describe(near, case_request(routed.operation, near.case, "$TOKEN").curl(base_url)) for near in closest
        ],
    }


def header_value(prepared: Prepared, name: bytes) -> str | None:
    return next((value.decode() for key, value in prepared.headers if key == name), None)
