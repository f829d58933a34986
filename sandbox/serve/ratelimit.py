"""Rate limiting the way real staging's Rack::Attack does it (spec §7).

The groups are data (`rules.throttles`); this module only counts. The throttles that count
a request, with their limits and periods, come from the snapshot that answers it (its
operation table), so a reload that edits `data/throttle.yml` changes the next answers; the
counters live here, named by group and endpoint, and survive the reload. Windows are fixed
and aligned to the Unix epoch (`floor(now / period)`); a request is refused when the
count in its window exceeds the limit, so `limit` requests pass and the next one
gets 429. Counters are per discriminator (SHA-256 of the token `jti`).

Throttles are tried in order, as Rack::Attack does: the Particulier v2 global limit
first, then the groups in file order. Each one that applies counts the request; the
first that exceeds its limit refuses it and the later ones are not counted.

Counters live in one table per period, holding the current window only: a table is
replaced when its window ends, and capped (oldest entry out) within a window, so
memory stays bounded whatever the number of tokens. Every operation is O(1).
Not thread-safe: meant for one event loop.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sandbox.rules.error_texts import load_catalogue
from sandbox.rules.errors import flat_body, json_api_body
from sandbox.rules.throttles import Throttle, ThrottleGroup, ThrottleTable

TOO_MANY_REQUESTS = load_catalogue().error("00429")


@dataclass(frozen=True, slots=True)
class RateDecision:
    """What `RateLimiter.check` decided, with the headers to add to the response."""

    allowed: bool
    headers: tuple[tuple[bytes, bytes], ...] = ()
    limit: int | None = None
    remaining: int | None = None
    reset: int | None = None
    retry_after: int | None = None


ALLOWED_WITHOUT_HEADERS = RateDecision(allowed=True)


def discriminator(token_jti: str | None, raw_token: str | None) -> str:
    """SHA-256 hex of the resolved token's `jti`, else of the raw token, else of ""."""
    if token_jti:
        value = token_jti
    elif raw_token:
        value = raw_token
    else:
        value = ""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def too_many_requests_body(v2: bool) -> bytes:
    """The 429 body: flat for `/api/v2/` paths, json_api everywhere else."""
    return flat_body([TOO_MANY_REQUESTS.detail]) if v2 else json_api_body([TOO_MANY_REQUESTS])


# ------------------------------------------------------------------------ limiter


# A counter: (group, endpoint, discriminator); the Particulier v2 limit's group is None.
_CounterKey = tuple[str | None, str, str]


@dataclass(slots=True)
class _Table:
    """The counters of one period, for its current window only."""

    window: int
    counts: OrderedDict[_CounterKey, int] = field(default_factory=OrderedDict)


class RateLimiter:
    """Counts requests per throttle, window and discriminator; says whether to answer 429.

    `count` takes the throttles from the caller (the request's snapshot); `check` resolves
    them from the groups given here, for callers without a snapshot.
    """

    # Bounds on memory: counters per period within one window, and operation ids remembered.
    max_counters: int = 65_536
    max_operations: int = 4_096

    def __init__(
        self,
        groups: Sequence[ThrottleGroup] = (),
        clock: Callable[[], float] = time.time,
        *,
        v2_limit: tuple[int, int] = (20, 1),
    ) -> None:
        self._clock = clock
        self._groups = ThrottleTable(groups)
        v2_count, v2_period = v2_limit
        if v2_period <= 0:
            raise ValueError(f"v2_limit period must be positive, got {v2_period}")
        self._v2_limit, self._v2_period = v2_count, v2_period
        self._operations: dict[str, tuple[Throttle, ...]] = {}
        self._tables: dict[int, _Table] = {}

    @property
    def counter_count(self) -> int:
        """How many counters are held (all periods); for tests and monitoring."""
        return sum(len(table.counts) for table in self._tables.values())

    def check(self, operation_id: str, discriminator: str, *, v2_api_key: str | None = None) -> RateDecision:
        """Count one request against the groups given to the limiter, and decide."""
        return self.count(self._throttles(operation_id), discriminator, v2_api_key=v2_api_key)

    def count(
        self, throttles: Sequence[Throttle], discriminator: str, *, v2_api_key: str | None = None
    ) -> RateDecision:
        """Count one request against `throttles` (in order) and decide; refused when a counter exceeds its limit."""
        v2 = bool(v2_api_key and v2_api_key.strip())
        if not throttles and not v2:
            return ALLOWED_WITHOUT_HEADERS
        now = self._clock()
        counted = 0
        single: tuple[int, int, int] | None = None
        if v2 and v2_api_key is not None:
            key = hashlib.sha512(v2_api_key.encode("utf-8")).hexdigest()
            count, reset = self._count((None, "", key), self._v2_period, now)
            if count > self._v2_limit:
                return _refused(self._v2_limit, reset, now)
            counted, single = 1, (self._v2_limit, count, reset)
        for throttle in throttles:
            count, reset = self._count((throttle.group, throttle.endpoint, discriminator), throttle.period, now)
            if count > throttle.limit:
                return _refused(throttle.limit, reset, now)
            counted += 1
            single = (throttle.limit, count, reset)
        if counted != 1 or single is None:
            # Two throttles counting one request is a misconfiguration: real staging logs
            # a warning and sends no RateLimit-* header.
            return ALLOWED_WITHOUT_HEADERS
        limit, count, reset = single
        remaining = max(limit - count, 0)
        return RateDecision(
            allowed=True,
            headers=(
                (b"ratelimit-limit", str(limit).encode()),
                (b"ratelimit-remaining", str(remaining).encode()),
                (b"ratelimit-reset", str(reset).encode()),
            ),
            limit=limit,
            remaining=remaining,
            reset=reset,
        )

    def _throttles(self, operation_id: str) -> tuple[Throttle, ...]:
        """The throttles of the limiter's own groups that count an operation, resolved once per operation id."""
        found = self._operations.get(operation_id)
        if found is not None:
            return found
        found = self._groups.for_operation(operation_id)
        if len(self._operations) >= self.max_operations:
            self._operations.clear()
        self._operations[operation_id] = found
        return found

    def _count(self, key: _CounterKey, period: int, now: float) -> tuple[int, int]:
        """Add one to the counter of the current window; return (count, window end)."""
        window = int(now // period)
        table = self._tables.get(period)
        if table is None or table.window != window:
            # Epoch-aligned windows of one period all end together: drop the whole past window,
            # and the tables of other periods whose window is over too.
            self._drop_past_windows(now)
            table = _Table(window)
            self._tables[period] = table
        counts = table.counts
        count = counts.get(key, 0) + 1
        counts[key] = count
        if len(counts) > self.max_counters:
            counts.popitem(last=False)
        return count, (window + 1) * period

    def _drop_past_windows(self, now: float) -> None:
        for period in [p for p, t in self._tables.items() if t.window != int(now // p)]:
            del self._tables[period]


def _refused(limit: int, reset: int, now: float) -> RateDecision:
    retry_after = max(reset - int(now), 0)
    return RateDecision(
        allowed=False,
        headers=(
            (b"ratelimit-limit", str(limit).encode()),
            (b"ratelimit-remaining", b"0"),
            (b"ratelimit-reset", str(reset).encode()),
            (b"retry-after", str(retry_after).encode()),
        ),
        limit=limit,
        remaining=0,
        reset=reset,
        retry_after=retry_after,
    )
