"""The routes around the operations (spec §1.5): pings, privileges, introspection, OpenAPI downloads.

Pings follow the provider table of `rules/pings.py`; privileges and introspection are API
controllers: their token is resolved as on the operations (§11.3) and a request Rails cannot
read is refused first (§3.6). `POST /api/reload-mocks` needs the sync machinery and lives in the app.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping

from sandbox.load.snapshot import Prepared, Snapshot
from sandbox.rules import rendering
from sandbox.rules.matching import parse_query
from sandbox.rules.operations import Api
from sandbox.rules.pings import ping_list, pings
from sandbox.rules.rendering import encode_json
from sandbox.rules.tokens import TokenSources, User, authenticate, expired
from sandbox.rules.unreadable import unreadable
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
_PROVIDER_PING = re.compile(r"^/ping/(.+?)/?$")
_PARTICULIER_PROVIDER_PING = re.compile(r"^/api/([^/]+)/ping/?$")
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
    snapshot: Snapshot,
    path: str,
    headers: Mapping[str, str],
    query_string: bytes,
    api: Api | None,
    now: float,
    body: bytes = b"",
) -> Prepared | None:
    """The answer of a meta route, or None when `path` is not one (the common case: kept cheap)."""
    if path.endswith("/ping") and api is None and _ENTREPRISE_PING.match(path):
        return _ok(b"", None)
    if not path.startswith(_META_PREFIXES) and not path.endswith(_META_SUFFIXES):
        return None
    request = _MetaRequest(snapshot, headers, query_string, now, body)
    if path.startswith("/api/"):
        return None if api == "entreprise" else _particulier(request, path)
    return None if api == "particulier" else _entreprise(request, path)


class _MetaRequest:
    """What the meta routes read of a request."""

    __slots__ = ("body", "headers", "now", "query_string", "snapshot")

    def __init__(
        self, snapshot: Snapshot, headers: Mapping[str, str], query_string: bytes, now: float, body: bytes
    ) -> None:
        self.snapshot, self.headers, self.query_string, self.now, self.body = snapshot, headers, query_string, now, body

    @property
    def base_url(self) -> str:
        """Rails' `request.base_url`: the forwarded protocol and host when a proxy sends them."""
        proto = self.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        scheme = "https" if proto == "https" else "http"
        forwarded = self.headers.get("x-forwarded-host", "").strip()
        host = re.split(r",\s?", forwarded)[-1] if forwarded else self.headers.get("host", "127.0.0.1")
        standard = ":443" if scheme == "https" else ":80"
        return f"{scheme}://{host.removesuffix(standard)}"

    def authenticated(self, api: Api, *, v2: bool) -> tuple[User | None, Prepared | None]:
        """The user of an API controller route, or the refusal (a request Rails cannot read comes first)."""
        problem = unreadable(self.headers.get("content-type"), self.body, self.query_string)
        if problem is not None:
            return None, replies.bad_request(v2, problem)
        query = parse_query(self.query_string)
        sources = TokenSources.of_request(self.headers, query)
        user, _ = self.snapshot.verifier.resolve(sources)
        if authenticate(user, self.now) is not None or user is None:
            return None, _refusal(self.snapshot, self.headers, user, sources, api, v2=v2)
        return user, None


def _provider_ping(api: Api, provider: str, now: float) -> Prepared:
    """Staging fakes every listed provider's ping; an unknown one is 404 `{}`."""
    if provider in pings()[api]:
        return _ok(_ping_status(now))
    return replies.reply(404, b"{}", rendering.JSON, "meta")


def _entreprise(request: _MetaRequest, path: str) -> Prepared | None:
    if path.endswith("/ping") and _ENTREPRISE_PING.match(path):
        return _ok(b"", None)
    provider = _PROVIDER_PING.match(path) if path.startswith("/ping/") else None
    if provider is not None:
        return _provider_ping("entreprise", provider.group(1), request.now)
    if path == "/pings":
        return _ok(encode_json(ping_list("entreprise", request.base_url)))
    if path in ("/privileges", "/v2/privileges"):
        user, refused = request.authenticated("entreprise", v2=False)
        if user is None:
            return refused
        return _ok(encode_json({"data": {"privileges": list(user.scope_list)}}))
    return _document(request.snapshot, path)


def _particulier(request: _MetaRequest, path: str) -> Prepared | None:
    if path == "/api/ping":
        return _ok(b"", None)
    provider = _PARTICULIER_PROVIDER_PING.match(path) if path.endswith("/ping") else None
    if provider is not None:
        return _provider_ping("particulier", provider.group(1), request.now)
    if path == "/api/pings":
        return _ok(encode_json(ping_list("particulier", request.base_url)))
    if path == "/api/introspect":
        user, refused = request.authenticated("particulier", v2=True)
        if user is None:
            return refused
        return _ok(encode_json({"_id": user.jti, "name": "", "scopes": list(user.scope_list)}))
    if path == "/api/france_connect_jwks":
        return _ok(encode_json(JWKS))
    return _document(request.snapshot, path)


def _document(snapshot: Snapshot, path: str) -> Prepared | None:
    entry = _DOCUMENTS.get(path)
    if entry is None:
        return None
    _, family, content_type = entry
    body = snapshot.documents.get(family)
    if body is None:
        return None
    return _ok(body, content_type, (("Access-Control-Allow-Origin", "*"), ("Content-Security-Policy", DOCUMENT_CSP)))


def _refusal(
    snapshot: Snapshot, headers: Mapping[str, str], user: User | None, sources: TokenSources, api: Api, *, v2: bool
) -> Prepared:
    """Expired, or no user: the refusal says why (`X-Sandbox-Auth`)."""
    if user is not None:
        return replies.expired_token(api, v2, expired(user))
    first = sources.first_present or None
    return replies.invalid_token(api, v2, snapshot.verifier.refusal(first, headers.get("authorization")))
