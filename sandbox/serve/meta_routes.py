"""The routes around the operations (spec §1.5): pings, privileges, introspection, OpenAPI downloads.

`POST /api/reload-mocks` needs the sync machinery and lives in the app.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from sandbox.load.snapshot import Prepared, Snapshot
from sandbox.rules import rendering
from sandbox.rules.matching import parse_query
from sandbox.rules.operations import Api
from sandbox.rules.rendering import encode_json
from sandbox.rules.tokens import User, authenticate, bearer_token, expired
from sandbox.serve import replies

# A generated RSA public key: the real one encrypts FranceConnect payloads, which a sandbox never sees.
JWKS = {
    "keys": [
        {
            "kty": "RSA",
            "kid": "api_particulier_rsa_oaep_jwks",
            "use": "enc",
            "alg": "RSA-OAEP",
            "n": (
                "whHYw0BvLRNfGS5j3Xa9RaPNNj9ghKrAJ-LnJymjKqCn6fJ76NcXTljePBqlvn2sNFVmqvsPQo7mxzGCK4s_ZbMRpO_4ckzdPTRPhw"
                "woFy240Mjp9tEfMdzw10ESriLDz0bzzGrkgA7V5KRs3yZpPP3PcRm8S3dPhXGWO3A9MPd7D_JvKjikoegEnPMzSQySThRdSSCfToWB"
                "3Bs5KwpvVqCmH3Etojk4x3r_BWUSTHJ2vm-1g4i11p39pDwkGbMUWRjiNBSj7JZjl9Wz8yCKCvXZthBunwP5RxbW4IBusWeVNDEvr-e"
                "4LOsDKF3AeZ2ZeqIMd_KWs3nt_73KTQT3KQ"
            ),
            "e": "AQAB",
        }
    ]
}

# A document rendered anyway (a browser that ignores `nosniff`) runs no script, in an opaque origin.
DOCUMENT_CSP = "default-src 'none'; sandbox"
_META_PREFIXES = ("/api/", "/ping", "/pings", "/privileges", "/v2/privileges", "/open-api", "/v3/openapi")
_META_SUFFIXES = ("/ping",)
_ENTREPRISE_PING = re.compile(r"^/v\d+/ping/?$")
_PROVIDER_PING = re.compile(r"^/ping/.+")
_PARTICULIER_PROVIDER_PING = re.compile(r"^/api/[^/]+/ping/?$")
# path → (API, document family, Content-Type); None: no Content-Type, as the real route sends. Safe
# even though the document is the fixture repository's (hostile) text: every answer carries
# `nosniff`, so a browser never sniffs it as HTML, and the downloads add a sandboxing CSP.
_DOCUMENTS: Mapping[str, tuple[Api, str, str | None]] = {
    "/open-api.yml": ("entreprise", "entreprise", "text/yaml"),
    "/v3/openapi-entreprise.yaml": ("entreprise", "entreprise", "text/yaml"),
    "/v3/openapi-particulier.yaml": ("entreprise", "particulier", "text/yaml"),
    "/api/open-api.yml": ("particulier", "particulier_v2", None),
    "/api/open-api-v2.yml": ("particulier", "particulier_v2", None),
    "/api/france-connect/open-api.yml": ("particulier", "particulier_v2", None),
    "/api/open-api-v3.yml": ("particulier", "particulier", None),
}


def _ok(body: bytes, content_type: str | None = rendering.JSON, extra: tuple[tuple[str, str], ...] = ()) -> Prepared:
    return replies.reply(200, body, content_type, "meta", extra)


def _ping_status(now: float) -> bytes:
    moment = datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return encode_json({"status": "ok", "last_update": moment})


def meta_answer(
    snapshot: Snapshot, path: str, headers: Mapping[str, str], query_string: bytes, api: Api | None, now: float
) -> Prepared | None:
    """The answer of a meta route, or None when `path` is not one (the common case: kept cheap)."""
    if path.endswith("/ping") and api is None and _ENTREPRISE_PING.match(path):
        return _ok(b"", None)
    if not path.startswith(_META_PREFIXES) and not path.endswith(_META_SUFFIXES):
        return None
    query = parse_query(query_string)
    if path.startswith("/api/"):
        return None if api == "entreprise" else _particulier(snapshot, path, headers, query, now)
    return None if api == "particulier" else _entreprise(snapshot, path, headers, query, now)


def _entreprise(
    snapshot: Snapshot, path: str, headers: Mapping[str, str], query: Mapping[str, Any], now: float
) -> Prepared | None:
    if path.endswith("/ping") and _ENTREPRISE_PING.match(path):
        return _ok(b"", None)
    if path.startswith("/ping/") and _PROVIDER_PING.match(path):
        return _ok(_ping_status(now))
    if path == "/pings":
        return _ok(b"[]")
    if path in ("/privileges", "/v2/privileges"):
        user, raw = _user(snapshot, headers, query)
        denial = authenticate(user, now)
        if denial is not None or user is None:
            return _refusal(snapshot, headers, user, raw, "entreprise", v2=False)
        return _ok(encode_json({"data": {"privileges": list(user.scope_list)}}))
    return _document(snapshot, path)


def _particulier(
    snapshot: Snapshot, path: str, headers: Mapping[str, str], query: Mapping[str, Any], now: float
) -> Prepared | None:
    if path == "/api/ping":
        return _ok(b"", None)
    if path.endswith("/ping") and _PARTICULIER_PROVIDER_PING.match(path):
        return _ok(_ping_status(now))
    if path == "/api/pings":
        return _ok(b"[]")
    if path == "/api/introspect":
        user, raw = _user(snapshot, headers, query)
        denial = authenticate(user, now)
        if denial is not None or user is None:
            return _refusal(snapshot, headers, user, raw, "particulier", v2=True)
        return _ok(encode_json({"_id": user.jti, "name": "", "scopes": list(user.scope_list)}))
    if path == "/api/france_connect_jwks":
        return _ok(encode_json(JWKS))
    return _document(snapshot, path)


def _document(snapshot: Snapshot, path: str) -> Prepared | None:
    entry = _DOCUMENTS.get(path)
    if entry is None:
        return None
    _, family, content_type = entry
    body = snapshot.documents.get(family)
    if body is None:
        return None
    return _ok(body, content_type, (("Access-Control-Allow-Origin", "*"), ("Content-Security-Policy", DOCUMENT_CSP)))


def _user(snapshot: Snapshot, headers: Mapping[str, str], query: Mapping[str, Any]) -> tuple[User | None, str | None]:
    token = query.get("token")
    return snapshot.verifier.first_user(
        (
            bearer_token(headers.get("authorization")),
            headers.get("x-api-key"),
            token if isinstance(token, str) else None,
        )
    )


def _refusal(
    snapshot: Snapshot, headers: Mapping[str, str], user: User | None, raw: str | None, api: Api, *, v2: bool
) -> Prepared:
    """Expired, or no user: the refusal says why (`X-Sandbox-Auth`)."""
    if user is not None:
        return replies.expired_token(api, v2, expired(user))
    return replies.invalid_token(api, v2, snapshot.verifier.refusal(raw, headers.get("authorization")))
