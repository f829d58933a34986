"""`GET /__sandbox/explain/<path>`: what the sandbox does with a request, and the closest cases.

The scoring itself (bounded, the same as `X-Sandbox-Near-Miss`) is in `near_miss`.
"""

from __future__ import annotations

from typing import Any

from sandbox.load.near_miss import NearCase
from sandbox.load.snapshot import OperationTable, Snapshot
from sandbox.rules.matching import NO_FACTS, MatchMode, Unmatchable, parse_query, without_tracking
from sandbox.rules.production_fields import load_production_table
from sandbox.rules.routing import VersionMiss, api_of_host
from sandbox.serve.prefer_header import parse_prefer
from sandbox.serve.preferences import ForcedBook, preferred
from sandbox.serve.scenarios import Scenarios


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


def _scenario(snapshot: Snapshot, table: OperationTable, prefer: str | None, scenarios: Scenarios) -> dict[str, Any]:
    """What the request's `Prefer` header would obtain (past the token and scope gates), and the profile."""
    described: dict[str, Any] = {"profile": scenarios.profile}
    fields = load_production_table().for_operation(table.operation.id)
    if scenarios.production and fields is not None and not fields.whole:
        described["production_fields"] = {path: who.describe() for path, who in fields.paths}
    if prefer is None:
        return described
    if not scenarios.prefer:
        described["preference"] = {"header": prefer, "ignored": "the sandbox runs with --no-prefer"}
        return described
    preferences = parse_prefer([prefer])
    forced, applied = preferred(ForcedBook(), snapshot, table, preferences, int(scenarios.max_delay_s * 1000))
    answer = None
    if forced is not None:
        answer = {"status": forced.status, "case": forced.header(b"x-sandbox-case"), "outcome": forced.outcome}
    described["preference"] = {
        "header": prefer,
        "applied": applied.text,
        "problem": preferences.problem,
        "answer": answer,
        "note": "honoured after the token and scope gates; case= and code= skip parameter validation and lookup",
    }
    return described


def explanation(
    snapshot: Snapshot,
    target: str,
    query_string: bytes,
    host: str,
    base_url: str,
    prefer: str | None = None,
    scenarios: Scenarios | None = None,
) -> dict[str, Any]:
    """`GET /__sandbox/explain/<path>?<query>`: what the sandbox does with that request, and why (with the
    request's `Prefer` header: what it would obtain)."""
    from sandbox.tools.reaching import TOKEN_REFERENCE, case_request, curl_script

    routed = snapshot.router.match(target, api_of_host(host))
    query = parse_query(query_string)
    request = {"path": target, "query": query}
    if routed is None:
        return {
            "request": request,
            "error": "no operation has this path",
            "reason": "no-operation",
            "mode": snapshot.mode.value,
        }
    if isinstance(routed, VersionMiss):
        operation = routed.family[0]
        return {
            "request": request,
            "operation": operation.id,
            "error": f"{operation.id} is not served under {routed.version} (404 00402)",
            "reason": "unsupported-version",
            "version": routed.version,
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
    exact = table.index.get(key) if key is not None else None
    # documented mode also answers what the real staging's key reaches (OperationTable.look_up)
    hit = exact if exact is not None else table.look_up(params, NO_FACTS)
    closest = table.near.nearest(compared)
    scenario = _scenario(snapshot, table, prefer, scenarios or Scenarios())
    return {
        **scenario,
        "request": request,
        "operation": routed.operation.id,
        "api": routed.operation.api,
        "mode": snapshot.mode.value,
        "compared_parameters": compared,
        "lookup_key": key,
        "matched": hit.case_id if hit is not None else None,
        "matched_by": None if hit is None else "lookup key" if exact is not None else "real staging's lookup key",
        "fallback": None if hit is not None else table.fallback.header(b"x-sandbox-fallback"),
        "server_added_keys": [
            spec.key for variant in table.keys.rule.variants for spec in variant.keys if spec.injected
        ]
        if snapshot.mode is MatchMode.STAGING
        else [],
        "closest": [
            _describe(
                near, curl_script(case_request(routed.operation, near.case, TOKEN_REFERENCE), base_url, multiline=False)
            )
            for near in closest
        ],
    }
