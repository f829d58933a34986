"""The request flow, one way: route → token & scopes → validation → normalise → lookup → bytes.

Pure functions over an immutable snapshot: no I/O, no parsing of fixture files.
The gates of the staging contract (tokens, scopes, parameter validation) plug in
between routing and lookup, each returning an answer to stop the flow or None.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import jwt

from sandbox import errors, rendering
from sandbox.gone import GoneRoute, gone_route
from sandbox.matching import MatchMode, Params, RequestFacts, Unmatchable, parse_query, without_tracking
from sandbox.openapi import Api
from sandbox.routing import RouteMatch, VersionMiss
from sandbox.snapshot import Prepared, Snapshot


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    method: str
    path: str
    query_string: bytes
    headers: Mapping[str, str]  # lower-case names

    @property
    def host(self) -> str:
        return self.headers.get("host", "")


def api_of_host(host: str) -> Api | None:
    """Real staging dispatches on Host; on any other host both APIs are served by path."""
    if "entreprise.api" in host:
        return "entreprise"
    if "particulier.api" in host:
        return "particulier"
    return None


def _guess_api(request: IncomingRequest) -> Api:
    return api_of_host(request.host) or ("particulier" if request.path.startswith("/api/") else "entreprise")


def unknown_path(api: Api) -> Prepared:
    return Prepared(
        status=404,
        headers=rendering.headers(("Content-Type", rendering.TEXT), ("X-Sandbox-Case", "none")),
        body=errors.unknown_path_text(api),
        case_id=None,
        outcome="unknown-path",
    )


NO_FACTS = RequestFacts()


def _bearer(request: IncomingRequest, query: Params) -> str | None:
    authorization = request.headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        return authorization[len("Bearer ") :]
    token = request.headers.get("x-api-key") or query.get("token")
    return token if isinstance(token, str) else None


@lru_cache(maxsize=1024)
def _claims(token: str) -> dict[str, object]:
    try:
        return dict(jwt.decode(token, options={"verify_signature": False}))
    except jwt.PyJWTError:
        return {}


def _facts(request: IncomingRequest, query: Params, version: str) -> RequestFacts:
    token = _bearer(request, query)
    claims = _claims(token) if token else {}
    request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
    return RequestFacts(
        token_uid=str(claims["uid"]) if "uid" in claims else None,
        token_jti=str(claims["jti"]) if "jti" in claims else None,
        request_id=request_id,
        api_version=version.lstrip("v"),
    )


def gone(route: GoneRoute) -> Prepared:
    return Prepared(
        status=410,
        headers=rendering.headers(("Content-Type", rendering.TEXT), ("X-Sandbox-Case", "none")),
        body=route.text.encode(),
        case_id=None,
        outcome="gone",
    )


def answer(snapshot: Snapshot, request: IncomingRequest) -> Prepared:
    host_api = api_of_host(request.host)
    gone_match = gone_route(request.path, host_api)
    if gone_match is not None:
        return gone(gone_match)
    routed = snapshot.router.match(request.path, host_api)
    if routed is None or isinstance(routed, VersionMiss):
        return unknown_path(host_api or (routed.api if routed else _guess_api(request)))
    query = parse_query(request.query_string)
    needs_facts = snapshot.tables[routed.operation.id].keys.needs_facts
    facts = _facts(request, query, routed.operation.version) if needs_facts else NO_FACTS
    return lookup(snapshot, routed, query, facts)


def lookup(snapshot: Snapshot, routed: RouteMatch, query: Params, facts: RequestFacts) -> Prepared:
    table = snapshot.tables[routed.operation.id]
    if routed.operation.is_france_connect:
        # The identity comes from the FranceConnect token, never from the query string.
        declared = {p.key for p in routed.operation.lookup_parameters()}
        query = {k: v for k, v in query.items() if k in declared}
    params = {**query, **routed.path_params} if routed.path_params else query
    if table.keys.mode is MatchMode.STAGING:
        params = without_tracking(params)
    try:
        key = table.keys.request_key(params, facts)
    except Unmatchable:
        return table.fallback
    return table.index.get(key, table.fallback)
