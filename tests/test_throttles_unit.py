"""`sandbox.rules.throttles` in process: what a malformed group of `data/throttle.yml` says when it is
skipped, the bounds of `limit` and `period`, and the counters a table gives each operation (spec §7).
Expected values written out.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sandbox.rules.throttles import Throttle, ThrottleGroup, ThrottleTable, throttle_groups


def _skipped(caplog: pytest.LogCaptureFixture, shared: dict[str, Any]) -> list[str]:
    """The warnings of `throttle_groups(shared)`, which must keep no group."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sandbox.rules.throttles"):
        assert throttle_groups(shared) == ()
    return [record.getMessage() for record in caplog.records]


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (["a"], "not a mapping"),
        (
            {"throttle_type": "by_planet", "endpoints": ["a"], "limit": 1, "period": 1},
            "unknown throttle_type 'by_planet'",
        ),
        ({"limit": 1, "period": 1}, "`endpoints` must be a list of operation ids"),
        ({"endpoints": ["a", 2], "limit": 1, "period": 1}, "`endpoints` must be a list of operation ids"),
        ({"endpoints": ["a"], "limit": "many", "period": 1}, "`limit` must be a non-negative integer, got 'many'"),
        ({"endpoints": ["a"], "limit": -1, "period": 1}, "`limit` must be a non-negative integer, got -1"),
        ({"endpoints": ["a"], "limit": True, "period": 1}, "`limit` must be a non-negative integer, got True"),
        ({"endpoints": ["a"], "limit": 1, "period": 0}, "`period` must be a positive integer (seconds), got 0"),
        ({"endpoints": ["a"], "limit": 1, "period": 1.5}, "`period` must be a positive integer (seconds), got 1.5"),
        ({"endpoints": ["a"], "limit": 1, "period": True}, "`period` must be a positive integer (seconds), got True"),
        ({"endpoints": ["a"], "limit": 1, "period": "60"}, "`period` must be a positive integer (seconds), got '60'"),
    ],
)
def test_a_malformed_group_is_skipped_with_its_name_and_reason(
    caplog: pytest.LogCaptureFixture, spec: Any, reason: str
) -> None:
    assert _skipped(caplog, {"broken": spec}) == [f"throttle group 'broken' ignored: {reason}"]


def test_a_limit_of_zero_is_kept() -> None:
    """`limit` is the number of requests allowed: 0 (every request refused) is a limit."""
    shared = {"closed": {"endpoints": ["a"], "limit": 0, "period": 60}}
    assert throttle_groups(shared) == (
        ThrottleGroup(name="closed", per_endpoint=False, endpoints=("a",), limit=0, period=60),
    )


def test_a_shared_group_counts_under_its_name_and_a_single_endpoint_group_per_operation() -> None:
    table = ThrottleTable(
        [
            ThrottleGroup(name="shared", per_endpoint=False, endpoints=("api_particulier_v3_*",), limit=20, period=1),
            ThrottleGroup(
                name="each", per_endpoint=True, endpoints=("api_particulier_v3_cnous_x",), limit=5, period=60
            ),
        ]
    )
    assert table.for_operation("api_particulier_v4_cnous_x") == (
        Throttle(group="shared", endpoint="", limit=20, period=1),
        Throttle(group="each", endpoint="api_particulier_v3_cnous_x", limit=5, period=60),
    )
    assert table.for_operation("api_particulier_v2_cnous_x") == ()


def test_only_a_second_group_of_a_name_gets_a_counter_of_its_own() -> None:
    groups = [
        ThrottleGroup(name="g", per_endpoint=False, endpoints=("a",), limit=1, period=60),
        ThrottleGroup(name="h", per_endpoint=False, endpoints=("a",), limit=2, period=60),
        ThrottleGroup(name="g", per_endpoint=False, endpoints=("a",), limit=9, period=60),
    ]
    first, other, second = ThrottleTable(groups).for_operation("a")
    assert (first.group, other.group) == ("g", "h")
    assert second.group not in ("g", "h") and second.limit == 9
