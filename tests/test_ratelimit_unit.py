"""`sandbox.serve.ratelimit` in process: the v2 limit's period, blank `X-Api-Key`s and the counter cap
(spec §7, §11.4). Expected values written out.
"""

from __future__ import annotations

import pytest

from sandbox.rules.throttles import Throttle, ThrottleGroup
from sandbox.serve.ratelimit import RateLimiter
from tests.clock import FakeClock

OPERATION = "api_particulier_v3_cnous_x"


def test_the_v2_limit_needs_a_positive_period() -> None:
    with pytest.raises(ValueError, match=r"^v2_limit period must be positive, got 0$"):
        RateLimiter(v2_limit=(20, 0))
    assert RateLimiter(v2_limit=(20, 1)).counter_count == 0


@pytest.mark.parametrize("key", ["", "  "])
def test_a_blank_api_key_is_not_counted_on_the_v2_limit(key: str) -> None:
    """Only the route's own throttle counts the request: its headers, its limit."""
    limiter = RateLimiter(clock=FakeClock(1_800_000_000.0), v2_limit=(1, 60))
    throttles = (Throttle(group="g", endpoint="", limit=100, period=60),)
    decisions = [limiter.count(throttles, "who", v2_api_key=key) for _ in range(3)]
    assert [(d.allowed, d.limit, d.remaining) for d in decisions] == [(True, 100, 99), (True, 100, 98), (True, 100, 97)]
    assert limiter.count((), "who", v2_api_key=key).headers == ()
    assert limiter.counter_count == 1
    sent = [limiter.count((), "who", v2_api_key="key").allowed for _ in range(2)]
    assert sent == [True, False]


def test_past_the_counter_cap_the_oldest_counter_is_dropped_not_the_newest() -> None:
    group = ThrottleGroup(name="g", per_endpoint=True, endpoints=(OPERATION,), limit=1, period=3_600)
    limiter = RateLimiter([group], FakeClock(1_800_000_000.0))
    limiter.max_counters = 2
    assert [limiter.check(OPERATION, who).allowed for who in ("a", "b", "c")] == [True, True, True]
    # "a" was dropped: it starts again; "c", the newest, was kept: its second request is over the limit
    assert [limiter.check(OPERATION, who).allowed for who in ("c", "a")] == [False, True]
