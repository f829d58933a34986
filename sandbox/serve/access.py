"""Who may use the sandbox's own routes: anyone on a loopback bind, the admin token's holder otherwise.

A sandbox shared by many integrators must not show one team's requests to another, nor let
anyone trigger fetches. The policy is decided once, at start, from the bind address
(`--host`), the admin token (`--admin-token` / `SANDBOX_ADMIN_TOKEN`) and `--admin-policy`.
The API routes and the read-only catalogue pages never depend on it; the webhook keeps its
own HMAC signature.

Admin routes: `GET /__sandbox/requests`, `GET /__sandbox/explain/...`, the details of
`GET /__sandbox/status`, the catalogue's journal page, "try it" form and usage counts,
`POST /api/reload-mocks`, and `GET /metrics` unless `--metrics-public` opens it alone (a
scraper inside the cluster sends no token). The probes (`/__sandbox/live`, `/__sandbox/ready`)
are open to all.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sandbox.rules.tokens import bearer_token

if TYPE_CHECKING:  # the own routes' types: Starlette is imported when they are made (sandbox.web)
    from starlette.requests import Request
    from starlette.responses import Response

    Endpoint = Callable[[Request], Awaitable[Response]]

ADMIN_TOKEN_ENVIRONMENT = "SANDBOX_ADMIN_TOKEN"
MIN_TOKEN_LENGTH = 16
CLOSED_TEXT = (
    "This sandbox's admin routes are closed: set SANDBOX_ADMIN_TOKEN on the server and send "
    "Authorization: Bearer <token>, or bind to 127.0.0.1."
)
# What `/__sandbox/status` tells anyone: enough for a readiness probe and a status badge.
PUBLIC_STATUS_KEYS = (
    "revision",
    "loaded_at",
    "mode",
    "operations",
    "operations_by_api",
    "cases",
    "france_connect_tokens",
    "healthy",
)


class PolicyMode(StrEnum):
    AUTO = "auto"  # open on a loopback bind, closed on any other address
    OPEN = "open"
    CLOSED = "closed"  # behind a reverse proxy on the same host, the bind address says nothing


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`; anything else (0.0.0.0, a LAN address, a name) is not."""
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class AdminPolicy:
    open: bool = True
    token: str | None = None
    metrics_public: bool = False  # `GET /metrics` without the token, whatever the policy

    @classmethod
    def decide(
        cls, host: str, token: str | None, mode: PolicyMode | str = PolicyMode.AUTO, *, metrics_public: bool = False
    ) -> AdminPolicy:
        chosen = PolicyMode(mode)
        is_open = chosen is PolicyMode.OPEN or (chosen is PolicyMode.AUTO and is_loopback(host))
        return cls(open=is_open, token=token or None, metrics_public=metrics_public)

    def allows(self, authorization: str | None) -> bool:
        """Open, or `Authorization: Bearer <admin token>` (compared in constant time)."""
        if self.open:
            return True
        presented = bearer_token(authorization)
        if self.token is None or presented is None:
            return False
        # Digests of equal length: the comparison tells nothing, not even the token's length.
        return hmac.compare_digest(_digest(presented), _digest(self.token))

    def admits(self, request: Request) -> bool:
        return self.allows(request.headers.get("authorization"))

    def admits_metrics(self, request: Request) -> bool:
        """`GET /metrics`: the admin policy, unless `--metrics-public` opened it alone."""
        return self.metrics_public or self.admits(request)

    def describe(self) -> str:
        if self.open:
            return "open (loopback bind or --admin-policy open)"
        said = "closed: admin token required" if self.token else "closed: no admin token set, admin routes refused"
        return said + ("; /metrics open (--metrics-public)" if self.metrics_public else "")


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


def token_problem(token: str | None) -> str | None:
    """Why a configured admin token cannot be used, or None."""
    if token is not None and token != "" and len(token) < MIN_TOKEN_LENGTH:
        return f"the admin token must be at least {MIN_TOKEN_LENGTH} characters long"
    if token is not None and ("\n" in token or token != token.strip()):
        return "the admin token must be one line without surrounding spaces"
    return None


def refusal() -> Response:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse(CLOSED_TEXT + "\n", status_code=403)


def admin_only(policy: AdminPolicy, endpoint: Endpoint) -> Endpoint:
    """`endpoint` for admins; everyone else gets 403 and the one line saying how to open it."""
    if policy.open:
        return endpoint

    async def guarded(request: Request) -> Response:
        return await endpoint(request) if policy.admits(request) else refusal()

    return guarded


def public_status(status: Mapping[str, Any]) -> dict[str, Any]:
    """The status without paths, pid, sources, errors: what an anonymous visitor may read."""
    public = {key: status[key] for key in PUBLIC_STATUS_KEYS if key in status}
    public["details"] = CLOSED_TEXT
    return public
