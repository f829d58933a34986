"""The request flow, one way: route → token → rate limit → scopes → validation → lookup → bytes.

The order of the gates is the real staging's (spec §3.1), first failure wins:

* every API route: the rate limit, then a request Rails cannot read (§3.6, 400 00401);
* Entreprise v3+: token, scopes, tracking parameters, version, recipient, maintenance,
  parameter validation, lookup.
* Particulier v3+: token (or FranceConnect), scopes, version, recipient, maintenance,
  validation, lookup.
* Particulier v2: token, scopes (401), recipient if present (400), maintenance,
  validation (400, first error), lookup.

Everything here reads an immutable snapshot (the limits of the rate limiter too); the only
state is in `Services` (clock, rate-limit counters, a bounded memo of pure answers). `answer`
routes once and says what the app needs besides the bytes: the operation and the near miss.
"""

from __future__ import annotations

import datetime
import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.load.snapshot import OperationTable, Prepared, Snapshot
from sandbox.rules.bounded_cache import BoundedCache
from sandbox.rules.coercion import is_blank
from sandbox.rules.errors import france_connect_malformed_token, france_connect_revoked_token
from sandbox.rules.franceconnect import DEFAULT_MAPPING, civility_parameters
from sandbox.rules.gone import gone_route
from sandbox.rules.identifiers import request_id_of
from sandbox.rules.matching import NO_FACTS, Params, RequestFacts, may_name_token, parse_query, read_query
from sandbox.rules.operations import Api, Operation
from sandbox.rules.routing import RouteMatch, api_of_host
from sandbox.rules.tokens import (
    INACTIVE_FRANCE_CONNECT,
    NOT_FRANCE_CONNECT,
    UNKNOWN_FRANCE_CONNECT,
    Denial,
    Refusal,
    TokenSources,
    User,
    authenticate,
    bearer_token,
    expired,
    granted,
    lacking,
)
from sandbox.rules.tracking import RECIPIENT, entreprise_tracking_errors, recipient_error
from sandbox.rules.unreadable import (
    body_problem,
    content_type_problem,
    query_problem,
    remember_query_problem,
    remembered_query_problem,
)
from sandbox.serve import replies
from sandbox.serve.franceconnect import FranceConnectSession
from sandbox.serve.meta_routes import meta_answer
from sandbox.serve.prefer_header import NO_PREFERENCES, Preferences
from sandbox.serve.preferences import NOTHING_APPLIED, Applied
from sandbox.serve.ratelimit import RateLimiter, discriminator
from sandbox.serve.request_limits import RequestLimits
from sandbox.serve.scenarios import Scenarios

# The memo of parameter-gate outcomes is keyed by path and query string: bounded in bytes too.
_MEMO_SIZE = 4096
_MEMO_BYTES = 8 * 1024 * 1024
_MEMO_ANSWER_COST = 1024  # a refusal or a near-miss answer built for the request (bodies are shared)


# The request headers the request path reads (lower-case): the rest are neither decoded nor kept.
# A gate that reads a new header adds its name here.
READ_HEADERS = {
    name.encode(): name
    for name in (
        "authorization",
        "content-type",
        "host",
        "prefer",
        "x-api-key",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-request-id",
    )
}


def read_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers of READ_HEADERS, in one pass over the ASGI list (the last of a repeated one wins).
    About half the cost of decoding every header into a dictionary (a browser sends a dozen)."""
    found: dict[str, str] = {}
    known = READ_HEADERS.get
    for name, value in raw:
        key = known(name)
        if key is None:
            if name.islower():  # ASGI servers send lower-case names: this is the usual way out
                continue
            key = known(name.lower())
            if key is None:
                continue
        found[key] = value.decode("latin-1")
    return found


@dataclass(slots=True)  # not frozen: made for every request (see `app.Decided`); never changed
class IncomingRequest:
    method: str
    path: str
    query_string: bytes
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""  # read only when Rails would parse it (a JSON Content-Type), bounded
    preferences: Preferences = NO_PREFERENCES  # its `Prefer` header (serve.scenarios reads it)
    # False when the app knows the request is new (no request with its path, query string and
    # `X-Request-Id` came lately): its outcome is not remembered, a stream of new ones costs no memo
    repeated: bool = True

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    @property
    def request_id(self) -> str | None:
        """The request id the application sees (`X-Request-Id`, sanitised as Rails does)."""
        return request_id_of(self.headers.get("x-request-id"))


@dataclass(slots=True)
class Services:
    """What the flow needs beyond the snapshot; outlives reloads."""

    limiter: RateLimiter | None = None
    rate_limit_key: str = "jti"  # jti | token
    maintenance: bool = False
    france_connect_expiry: bool = False
    check_scopes: bool = True
    validate_responses: bool = False
    journal_size: int = 1000
    limits: RequestLimits = field(default_factory=RequestLimits)
    clock: Callable[[], float] = time.time
    fixed_today: datetime.date | None = None
    memo_bytes: int = _MEMO_BYTES
    scenarios: Scenarios = field(default_factory=Scenarios)  # Prefer, latency, profile
    _memo: BoundedCache[tuple[Any, ...], Any] = field(init=False)
    _memo_owner: Snapshot | None = None

    def __post_init__(self) -> None:
        self._memo = BoundedCache(_MEMO_SIZE, self.memo_bytes)

    def today(self) -> datetime.date:
        return self.fixed_today or datetime.date.fromtimestamp(self.clock())

    def remembered(self, snapshot: Snapshot, key: tuple[Any, ...]) -> Any:
        """An answer that depends only on the request and the snapshot; forgotten on every swap."""
        if self._memo_owner is not snapshot:
            self._memo.clear()
            self._memo_owner = snapshot
        return self._memo.get(key)

    def remember(self, key: tuple[Any, ...], answer: Any) -> None:
        cost = sum(len(part) for part in key if isinstance(part, (str, bytes))) + _MEMO_ANSWER_COST
        self._memo.put(key, answer, cost)


def _guess_api(request: IncomingRequest) -> Api:
    return api_of_host(request.host) or ("particulier" if request.path.startswith("/api/") else "entreprise")


@dataclass(slots=True)  # not frozen: made for every request (see `app.Decided`); never changed
class Answer:
    """What `answer` gives the app: the bytes to write, and what the journal and the response check read."""

    prepared: Prepared
    # the operation the path routes to (a version miss: its family's), whatever the answer; None: no route
    operation: Operation | None
    applied: Applied = NOTHING_APPLIED  # what was done of the request's `Prefer` header
    # up to which clock time the same request gets this same answer from this snapshot (the
    # token's `exp`, else forever); 0: the answer read a counter, the time or a random draw
    same_until: float = 0.0

    @property
    def operation_id(self) -> str | None:
        return self.operation.id if self.operation is not None else None

    @property
    def outcome(self) -> str:
        return self.prepared.outcome

    @property
    def near_miss(self) -> str | None:
        """The case a fallback names in `X-Sandbox-Near-Miss`."""
        return self.prepared.near_miss


def answer(snapshot: Snapshot, request: IncomingRequest, services: Services) -> Answer:
    """The answer to one request, read from one snapshot; the path is routed once."""
    host_api = api_of_host(request.host)
    routed = snapshot.router.match(request.path, host_api)
    operation = None if routed is None else routed.operation if isinstance(routed, RouteMatch) else routed.family[0]
    reading = request.method in ("GET", "HEAD")  # Rails' `get` routes answer HEAD too
    if reading:
        meta = meta_answer(
            snapshot, request.path, request.headers, request.query_string, host_api, services.clock(), request.body
        )
        if meta is not None:
            return Answer(meta, operation)
    gone = gone_route(request.path, host_api, request.method)
    if gone is not None:
        return Answer(replies.gone(gone), operation, same_until=math.inf)
    if operation is None or not reading:
        return Answer(replies.unknown_path(_guess_api(request)), operation, same_until=math.inf)
    exchange = _Exchange(snapshot, snapshot.tables[operation.id], request, services, routed)
    return Answer(exchange.run(), operation, exchange.applied, exchange.same_until())


# The answer of the parameter gates for one request: a refusal of the gates that come before
# the maintenance check (tracking, version, recipient), or the validated lookup after it.
_Outcome = tuple[Prepared | None, Prepared | None]


def with_near_miss(table: OperationTable, params: Params) -> Prepared:
    """The fallback, naming the closest case in `X-Sandbox-Near-Miss` (details: /__sandbox/explain)."""
    closest = table.near.closest(table.keys.documented_mapping(params), skip_not_found=True)
    if closest is None:
        return table.fallback
    return table.fallback_naming(closest.id)


@dataclass(slots=True)
class _Exchange:
    snapshot: Snapshot
    table: OperationTable
    request: IncomingRequest
    services: Services
    routed: Any  # RouteMatch | VersionMiss
    rate_headers: tuple[tuple[bytes, bytes], ...] = ()
    caller_scopes: frozenset[str] | None = None  # set once the token and scope gates pass
    applied: Applied = NOTHING_APPLIED
    _query: Params | None = None
    _authenticated: User | None = None  # the API user, once the token gate passes it

    @property
    def query(self) -> Params:
        """Parsed on first use: a remembered answer needs no parsing at all."""
        if self._query is None:
            self._query = parse_query(self.request.query_string)
        return self._query

    def run(self) -> Prepared:
        answer = self._gates()
        if self.caller_scopes is not None:  # the production profile cuts a 200 body to the caller's scopes
            answer = self.services.scenarios.shaped(self.snapshot, self.table, answer, self.caller_scopes)
        extra = (*self.rate_headers, *self.applied.headers())
        return answer.with_headers(extra) if extra else answer

    def _gates(self) -> Prepared:
        operation = self.table.operation
        session, user, _raw = self._resolve_token()
        refused = self._rate_limit() or self._unreadable()
        if refused is not None:
            return refused
        if self.table.identity is not None and self._france_connect_bearer is not None:
            if session is None:  # real FranceConnect: `invalid_request` (§11.7)
                why = Refusal.of(UNKNOWN_FRANCE_CONNECT)
                return replies.france_connect_refused(operation, france_connect_malformed_token(), why)
            if not session.usable(self.services.clock(), check_expiry=self.services.france_connect_expiry):
                why = Refusal.of(INACTIVE_FRANCE_CONNECT)
                return replies.france_connect_refused(operation, france_connect_revoked_token(), why)
        else:
            denial = authenticate(user, self.services.clock())
            if denial is Denial.INVALID:
                first = self._token_sources().first_present or None
                why = self.snapshot.verifier.refusal(first, self.request.headers.get("authorization"))
                return replies.invalid_token(operation.api, operation.is_v2, why)
            if denial is Denial.EXPIRED:
                assert user is not None
                return replies.expired_token(operation.api, operation.is_v2, expired(user))
            if operation.is_france_connect:
                # A v3 FranceConnect route reached with an API token: real staging fails (500).
                why = Refusal.of(NOT_FRANCE_CONNECT)
                return replies.france_connect_refused(operation, france_connect_malformed_token(), why)
            self._authenticated = user
        assert user is not None
        if self.services.check_scopes and not granted(user.scopes, self.table.scopes):
            return replies.insufficient_scopes(operation.api, operation.is_v2, lacking(self.table.scopes))
        if (forced := self._honour_preferences(user)) is not None:
            return forced
        outcome = self._parameter_gates(session) if session is not None else self._remembered_parameter_gates()
        refusal, looked_up = outcome
        if refusal is not None:
            return refusal
        maintenance = self._maintenance()
        if maintenance is not None:
            return maintenance
        assert looked_up is not None
        return looked_up

    def same_until(self) -> float:
        """Up to which clock time the same request gets the answer `run` gave (see `Answer.same_until`):
        past an API token's check, with no rate counter, no maintenance window, no fact of the request
        (a drawn request id) and no FranceConnect session (its expiry may be checked). The app asks
        only for requests without `Prefer`."""
        user, services, table = self._authenticated, self.services, self.table
        if (
            user is None
            or services.limiter is not None
            or table.needs_facts
            or (services.maintenance and table.maintenance)
        ):
            return 0.0
        return user.exp if user.exp is not None else math.inf

    def _remembered_parameter_gates(self) -> _Outcome:
        """The parameter gates depend only on the request and the snapshot: remembered, bounded."""
        request = self.request
        if self.table.needs_facts or not request.repeated:
            return self._parameter_gates(None)
        key = (
            self.table.operation.id,
            request.path,
            request.query_string,
            request.request_id,
            self.services.today(),
        )
        outcome: _Outcome | None = self.services.remembered(self.snapshot, key)
        if outcome is None:
            outcome = self._parameter_gates(None)
            self.services.remember(key, outcome)
        return outcome

    def _parameter_gates(self, session: FranceConnectSession | None) -> _Outcome:
        operation = self.table.operation
        if operation.api == "entreprise":
            missing = entreprise_tracking_errors(self.query)
            if missing:
                return replies.tracking_missing(missing), None
        if not isinstance(self.routed, RouteMatch):
            return replies.unsupported_version(self.routed.version), None
        recipient = recipient_error(self.query, required=not operation.is_v2 or session is not None)
        if recipient is not None:
            # v2 checks a sent recipient before `Cacheable`; a FranceConnect call's missing one after it
            after_cacheable = session is not None and is_blank(self.query.get(RECIPIENT))
            return replies.bad_recipient(operation, recipient, after_cacheable=after_cacheable), None
        if session is not None:
            checked, looked_up = self._identity_params(session)
        else:
            checked = looked_up = self._request_params()
        request_id = self.request.request_id
        problems = self.table.checks.errors(checked, today=self.services.today(), request_id=request_id)
        if problems:
            return None, replies.invalid_parameters(operation, problems)
        return None, self._look_up(looked_up)

    def _maintenance(self) -> Prepared | None:
        if not self.services.maintenance or not self.table.maintenance:
            return None
        now = datetime.datetime.fromtimestamp(self.services.clock(), datetime.UTC)
        for window in self.table.maintenance:
            error = window.error_at(now)
            if error is not None:
                return replies.in_maintenance(self.table.operation, error)
        return None

    def _honour_preferences(self, user: User) -> Prepared | None:
        """Past the token and scope gates: the caller's scopes are known (production profile), and
        `Prefer` may choose the answer (`case=`, `code=`) or delay or break it (serve.preferences)."""
        self.caller_scopes = user.scopes
        forced, self.applied = self.services.scenarios.honour(self.snapshot, self.table, self.request.preferences)
        return forced

    # -- tokens -------------------------------------------------------------------------

    @property
    def _france_connect_bearer(self) -> str | None:
        return bearer_token(self.request.headers.get("authorization"))

    def _resolve_token(self) -> tuple[FranceConnectSession | None, User | None, str | None]:
        """A FranceConnect session (a Bearer on a FranceConnect route), or the API user (§2.1, §11.3)."""
        bearer = self._france_connect_bearer
        if self.table.identity is not None and bearer is not None:
            case = self.snapshot.france_connect.get(bearer.lower())
            if case is None:
                return None, None, bearer
            session = FranceConnectSession.from_case(case)
            return session, session.user(v2=self.table.operation.is_v2), bearer
        user, raw = self.snapshot.verifier.resolve(self._token_sources())
        return None, user, raw

    def _token_sources(self) -> TokenSources:
        # the query is parsed only when it may name a token (`token=`, or a name that decodes to it)
        query_string = self.request.query_string
        query = self.query if may_name_token(query_string) else {}
        return TokenSources.of_request(self.request.headers, query)

    def _rate_limit(self) -> Prepared | None:
        """Keyed on the token the middleware resolves, else the raw token; no token: not counted (§11.4)."""
        limiter = self.services.limiter
        if limiter is None:
            return None
        jti, raw_token = self.snapshot.verifier.counted_as(self._token_sources())
        if self.services.rate_limit_key != "jti":
            jti = None
        counted = jti is not None or raw_token is not None
        v2_key = self.request.headers.get("x-api-key") if "/api/v2/" in self.request.path else None
        throttles = self.table.throttles if counted else ()
        decision = limiter.count(throttles, discriminator(jti, raw_token), v2_api_key=v2_key)
        self.rate_headers = decision.headers
        if not decision.allowed:
            return replies.too_many_requests(self.request.path)
        return None

    def _unreadable(self) -> Prepared | None:
        """A `Content-Type`, a query string or a JSON body Rails cannot parse (§3.6)."""
        request = self.request
        kind = request.headers.get("content-type")
        problem = content_type_problem(kind) or self._query_problem() or body_problem(kind, request.body)
        return None if problem is None else replies.bad_request(self.table.operation.is_v2, problem)

    def _query_problem(self) -> str | None:
        """The query string's verdict: remembered for a request that came lately, else found in the
        pass that parses it (kept for the parameter gates)."""
        request = self.request
        query_string = request.query_string
        known = remembered_query_problem(query_string) if request.repeated else None
        if known is not None:
            return known[0]
        if self._query is not None:
            return query_problem(query_string)
        self._query, problem = read_query(query_string)
        if request.repeated:
            remember_query_problem(query_string, problem)
        return problem

    # -- parameters, validation, lookup ---------------------------------------------------

    def _request_params(self) -> Params:
        path_params = self.routed.path_params
        return {**self.query, **path_params} if path_params else self.query

    def _identity_params(self, session: FranceConnectSession) -> tuple[Params, Params]:
        """What the validators check (the civility form, as text) and what the lookup reads."""
        assert self.table.identity is not None
        declared = {k: v for k, v in self.query.items() if k in self.table.declared}
        identity = session.identity()
        civility = civility_parameters(identity, DEFAULT_MAPPING)
        checked = {k: v if isinstance(v, (str, list)) else str(v) for k, v in civility.items()}
        return {**declared, **checked}, {**declared, **civility_parameters(identity, self.table.identity)}

    def _look_up(self, params: Params) -> Prepared:
        table = self.table
        found = table.look_up(params, self._facts() if table.needs_facts else NO_FACTS)
        return found if found is not None else with_near_miss(table, params)

    def _facts(self) -> RequestFacts:
        _session, user, _ = self._resolve_token()
        assert user is not None  # only read past the token gate
        request_id = self.request.request_id
        return RequestFacts(
            token_uid=user.uid,
            token_jti=user.jti,
            request_id=str(uuid.uuid4()) if request_id is None else request_id,
            api_version=self.table.operation.version_number,
        )
