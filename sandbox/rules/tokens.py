"""API tokens: where they are read, how they are verified, what they grant (spec §2).

Tokens are HS256 JWTs signed with one of the configured secrets, or tokens listed
in the fixture repository's `tokens/` folder, which are accepted as they are.
A verified token is cached (LRU bounded in entries and bytes, keyed by the raw token)
so the request path does not verify it again; expiry is checked on every use. A token
that does not verify is never cached: anyone can send any number of them.
"""

from __future__ import annotations

import datetime
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import jwt

from sandbox.rules.bounded_cache import BoundedCache

INTERNAL_JTI = "00000000-0000-0000-0000-000000000000"
FRANCE_CONNECT_UID = "11111111-1111-1111-1111-111111111111"
# The development secret `sandbox token` signs with when SANDBOX_JWT_SECRET is not set.
# Public on purpose, like the real staging's: a sandbox token grants nothing real.
DEFAULT_SECRET = "sandbox-staging-secret-not-for-production"
SECRET_ENVIRONMENT = "SANDBOX_JWT_SECRET"

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True, slots=True)
class User:
    uid: str
    jti: str
    scopes: frozenset[str]
    exp: float | None
    scope_list: tuple[str, ...] = ()  # as written in the token, for /privileges and /api/introspect

    def expired(self, now: float) -> bool:
        return self.exp is not None and self.exp < now


class Denial(Enum):
    """Why a request does not get through authentication."""

    INVALID = "00101"
    EXPIRED = "00103"


# Why a token was refused, as `X-Sandbox-Auth: <reason>; <hint>` says it (the journal keeps it).
# The reason is one word a client can test; the hint says what to change. Hints never repeat
# what the client sent (a header must not echo hostile input).
MISSING = "missing"
MALFORMED = "malformed"
BAD_SIGNATURE = "bad-signature"
UNKNOWN_JTI = "unknown-jti"
EXPIRED = "expired"
NOT_YET_VALID = "not-yet-valid"
INSUFFICIENT_SCOPES = "insufficient-scopes"
UNKNOWN_FRANCE_CONNECT = "unknown-franceconnect-token"
INACTIVE_FRANCE_CONNECT = "inactive-franceconnect-token"
NOT_FRANCE_CONNECT = "not-a-franceconnect-token"

_HINTS = {
    MISSING: "no token: send Authorization: Bearer <token> (X-Api-Key: <token> on /api/v2), or ?token=<token>",
    BAD_SIGNATURE: "the signature matches no secret of this sandbox (SANDBOX_JWT_SECRET, --jwt-secret) "
    "and the token is not in tokens/",
    UNKNOWN_JTI: "jti is not the internal all-zero id: real staging looks other tokens up in its database",
    INSUFFICIENT_SCOPES: "the token has none of the scopes this operation accepts",
    UNKNOWN_FRANCE_CONNECT: "no case of payloads/france_connect has this token (params.token)",
    INACTIVE_FRANCE_CONNECT: "the FranceConnect introspection of this token says active: false, or its exp is past",
    NOT_FRANCE_CONNECT: "this route reads a FranceConnect token (payloads/france_connect), not an API token",
}
_BEARER_FORM = "the Authorization header must be 'Bearer <token>' (one space, case-sensitive)"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a token did not get a request through: a reason word and a hint (`X-Sandbox-Auth`)."""

    reason: str
    hint: str

    @classmethod
    def of(cls, reason: str) -> Refusal:
        return cls(reason, _HINTS[reason])

    @property
    def header(self) -> str:
        return f"{self.reason}; {self.hint}"


def _when(timestamp: object) -> str:
    """A claim's date as ISO 8601 UTC, or "a date" when it is not one (nothing of the token is echoed)."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        return "a date"
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return "a date"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def configured_secrets(extra: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Secrets from SANDBOX_JWT_SECRET (comma-separated) and the command line; the default one if none."""
    value = (os.environ if environ is None else environ).get(SECRET_ENVIRONMENT, "")
    secrets = [s.strip() for s in value.split(",") if s.strip()] + [s for s in extra if s]
    return tuple(secrets) or (DEFAULT_SECRET,)


def bearer_token(authorization: str | None) -> str | None:
    """`Authorization: Bearer <token>`: case-sensitive, one space, one line (Ruby `\\ABearer (.+)\\z`, §2.1)."""
    if not authorization or not authorization.startswith("Bearer ") or len(authorization) == 7:
        return None
    token = authorization[7:]
    return None if "\n" in token else token


@dataclass(frozen=True, slots=True)
class TokenSources:
    """Where a request may carry its API token (§2.1); None: not sent."""

    bearer: str | None  # `Authorization: Bearer <token>` (None when the header has another form)
    api_key: str | None  # `X-Api-Key`
    query: str | None  # `?token=`
    authorization_sent: bool = False  # an `Authorization` header of any form

    @property
    def first_present(self) -> str | None:
        """The token the middleware decodes: the first one sent (Bearer, `X-Api-Key`, `?token=`)."""
        if self.bearer is not None:
            return self.bearer
        return self.api_key if self.api_key is not None else self.query

    @property
    def rate_limit_token(self) -> str | None:
        """The raw token Rack::Attack keys an unresolved request on (`extract_token_from_request`):
        the `Authorization` header's Bearer (`X-Api-Key` only when there is no `Authorization`),
        else `?token=`; None when blank: such a request is not counted (§11.4)."""
        header = self.bearer if self.authorization_sent else self.api_key
        token = header if header is not None else self.query
        return token if token and not token.isspace() else None

    @classmethod
    def of_request(cls, headers: Mapping[str, str], query: Mapping[str, object]) -> TokenSources:
        """From lower-case header names and the parsed query (`?token[]=…` is no token)."""
        authorization = headers.get("authorization")
        token = query.get("token")
        return cls(
            bearer=bearer_token(authorization),
            api_key=headers.get("x-api-key"),
            query=token if isinstance(token, str) else None,
            authorization_sent=authorization is not None,
        )


class TokenVerifier:
    """Verifies API JWTs; immutable configuration, a bounded cache of results."""

    def __init__(
        self,
        secrets: Sequence[str],
        accepted: Iterable[str] = (),
        cache_size: int = 4096,
        cache_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self._secrets = tuple(secrets)
        self._accepted = frozenset(accepted)
        # Only tokens that verified: the signing secret may be public, so their number is bounded
        # by bytes as well as entries (a token keeps its text and its scopes alive: about 3x its size).
        self.cache: BoundedCache[str, User] = BoundedCache(cache_size, cache_bytes)

    @property
    def signing_secret(self) -> str:
        """The secret a token minted for this sandbox is signed with (the first configured one)."""
        return self._secrets[0] if self._secrets else DEFAULT_SECRET

    def user(self, token: str) -> User | None:
        """The user a token stands for, or None when it is not a valid sandbox token."""
        verdict = self.check(token)
        return verdict if isinstance(verdict, User) else None

    def check(self, token: str) -> User | Refusal:
        """The user a token stands for, or why it stands for none."""
        user = self.cache.get(token)
        if user is not None:
            return user
        verdict = self._verify(token)
        if isinstance(verdict, User):
            self.cache.put(token, verdict, 3 * len(token))
        return verdict

    def refusal(self, token: str | None, authorization: str | None = None) -> Refusal:
        """Why the token a request sent (`token`, None when it sent none) gives no user; `authorization`:
        the header as sent, to tell a missing `Bearer ` prefix from a missing token."""
        if token is None:
            if authorization and bearer_token(authorization) is None:
                return Refusal(MALFORMED, _BEARER_FORM)
            return Refusal.of(MISSING)
        verdict = self.check(token)
        return verdict if isinstance(verdict, Refusal) else Refusal.of(MISSING)

    def resolve(self, sources: TokenSources) -> tuple[User | None, str | None]:
        """The user of a request and the raw token its rate limit is keyed on (§2.1, §7, §11.3).

        The middleware decodes the first token *present* (Bearer, then `X-Api-Key`, then
        `?token=`) and that one only; when it does not decode, the controller tries `?token=`
        (else the Bearer) once more. So an invalid Bearer hides a valid `X-Api-Key` (401) but
        not a valid `?token=` (200). A header sent empty is present (Ruby's `""` is true).
        """
        user = self.middleware_user(sources)
        if user is None:
            second = sources.query if sources.query is not None else sources.bearer
            user = self.user(second) if second else None
        return user, sources.rate_limit_token

    def middleware_user(self, sources: TokenSources) -> User | None:
        """The user the middleware resolves (the first token present, decoded): what Rack::Attack sees."""
        first = sources.first_present
        return self.user(first) if first else None

    def counted_as(self, sources: TokenSources) -> tuple[str | None, str | None]:
        """(jti, raw token) a request's rate-limit counters are keyed on (§7, §11.4): the middleware
        user's `jti`, else the raw token; (None, None): no token at all, not counted."""
        user = self.middleware_user(sources)
        if user is not None:
            return user.jti, sources.rate_limit_token
        return None, sources.rate_limit_token

    def _verify(self, token: str) -> User | Refusal:
        claims = self._claims(token)
        if isinstance(claims, Refusal):
            return claims
        uid, jti, iat = claims.get("uid"), claims.get("jti"), claims.get("iat")
        if not (isinstance(uid, str) and _UUID.match(uid) and isinstance(jti, str) and _UUID.match(jti)):
            return Refusal(MALFORMED, "the claims uid and jti must be lower-case UUIDs")
        if isinstance(iat, bool) or not isinstance(iat, (int, float)):
            return Refusal(MALFORMED, "the claim iat must be a number (seconds since 1970)")
        if jti != INTERNAL_JTI and token not in self._accepted:
            return Refusal.of(UNKNOWN_JTI)  # real staging looks other jti up in its database: unknown there
        scopes = claims.get("scopes")
        scope_list = tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else ()
        exp = claims.get("exp")
        return User(
            uid=uid,
            jti=jti,
            scopes=frozenset(scope_list),
            exp=float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None,
            scope_list=scope_list,
        )

    def _claims(self, token: str) -> dict[str, object] | Refusal:
        """The verified claims. `exp` is checked later, on every use (`authenticate`); `nbf` here, as
        ruby-jwt's decode does by default."""
        if token in self._accepted:
            try:
                return dict(jwt.decode(token, options={"verify_signature": False}))
            except jwt.PyJWTError:
                return Refusal(MALFORMED, "not a JWT (three base64url parts: header, claims, signature)")
        for secret in self._secrets:
            try:
                return dict(
                    jwt.decode(
                        token,
                        secret,
                        algorithms=["HS256"],
                        options={"verify_exp": False, "verify_iat": False, "verify_aud": False},
                    )
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.ImmatureSignatureError:
                nbf = jwt.decode(token, options={"verify_signature": False}).get("nbf")
                return Refusal(NOT_YET_VALID, f"the token is valid from {_when(nbf)} (its nbf claim)")
            except jwt.InvalidAlgorithmError:
                return Refusal(MALFORMED, "the token's alg must be HS256")
            except jwt.PyJWTError:
                return Refusal(MALFORMED, "not a JWT (three base64url parts: header, claims, signature)")
        return Refusal.of(BAD_SIGNATURE)


def authenticate(user: User | None, now: float) -> Denial | None:
    if user is None:
        return Denial.INVALID
    if user.expired(now):
        return Denial.EXPIRED
    return None


def expired(user: User) -> Refusal:
    """The refusal of a token `authenticate` found expired."""
    return Refusal(EXPIRED, f"the token expired at {_when(user.exp)} (its exp claim): mint another one")


def lacking(required: frozenset[str] | None) -> Refusal:
    """The refusal of a token that holds none of `required` (the operation's scopes, data of the snapshot)."""
    listed = ", ".join(sorted(required or ()))
    hint = _HINTS[INSUFFICIENT_SCOPES]
    return Refusal(INSUFFICIENT_SCOPES, f"{hint}: {listed}" if listed else hint)


def granted(user_scopes: frozenset[str], required: frozenset[str] | None) -> bool:
    """Any-of rule (§2.3); an operation with no scope list or an empty one is open to any valid token."""
    return not required or not required.isdisjoint(user_scopes)


def mint(
    secret: str,
    scopes: Sequence[str],
    *,
    expires_in: float | None = 10 * 365 * 86400,
    uid: str = INTERNAL_JTI,
    jti: str = INTERNAL_JTI,
    now: float | None = None,
) -> str:
    """A token with the claims real staging's generator writes (§2.2)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "uid": uid,
        "jti": jti,
        "scopes": list(scopes),
        "sub": "staging",
        "iat": issued,
        "version": "1.0",
    }
    if expires_in is not None:
        claims["exp"] = int(issued + expires_in)
    return jwt.encode(claims, secret, algorithm="HS256")


# ---------------------------------------------------------------------------
# Scopes per operation, from the repository's authorisations file
# ---------------------------------------------------------------------------

_OPERATION = re.compile(r"^(api_entreprise|api_particulier)_v(\d+)_(.+)$")


def _controller_signature(key: str) -> tuple[str, str, str] | None:
    """`api_particulier/v3_and_more/cnav/quotient_familial_with_civility` → (api, era, rest)."""
    parts = key.split("/")
    if len(parts) < 3 or parts[1] not in ("v2", "v3_and_more"):
        return None
    return parts[0], "v2" if parts[1] == "v2" else "v3+", "_".join(parts[2:])


def _operation_signature(operation_id: str) -> tuple[str, str, str] | None:
    match = _OPERATION.match(operation_id)
    if match is None:
        return None
    return match.group(1), "v2" if match.group(2) == "2" else "v3+", match.group(3)


def scopes_by_operation(
    authorizations: Mapping[str, Sequence[str]] | None, operation_ids: Iterable[str]
) -> dict[str, frozenset[str] | None]:
    """Operation id → required scopes (None: the file has no entry for its controller).

    The file is keyed by controller path; one entry covers every version the controller
    serves (v3, v4 and v5 share `v3_and_more`).
    """
    by_signature = {
        signature: frozenset(scopes)
        for key, scopes in (authorizations or {}).items()
        if (signature := _controller_signature(key)) is not None
    }
    result: dict[str, frozenset[str] | None] = {}
    for operation_id in operation_ids:
        signature = _operation_signature(operation_id)
        result[operation_id] = by_signature.get(signature) if signature else None
    return result
