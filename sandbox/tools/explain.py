"""`GET /__sandbox/explain/<path>`: what the sandbox does with a request, and the closest cases.

The scoring itself (bounded, the same as `X-Sandbox-Near-Miss`) is in `near_miss`.
"""

from __future__ import annotations

from typing import Any

from sandbox.load.near_miss import NearCase
from sandbox.load.snapshot import Snapshot
from sandbox.rules.matching import NO_FACTS, MatchMode, Unmatchable, parse_query, without_tracking
from sandbox.rules.routing import VersionMiss, api_of_host


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
    hit = table.index.get(key) if key is not None else None
    closest = table.near.nearest(compared)
    return {
        "request": request,
        "operation": routed.operation.id,
        "api": routed.operation.api,
        "mode": snapshot.mode.value,
        "compared_parameters": compared,
        "lookup_key": key,
        "matched": hit.case_id if hit is not None else None,
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
