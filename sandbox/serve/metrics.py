"""Prometheus metrics of the request path and of the reloads, with the official `prometheus_client`.

Every label value comes from the snapshot or from the code, never from the client: `api` is
the operation's API, `operation` an operation id of the snapshot, `case` a case id of the
snapshot, `outcome` one of the outcomes the request path writes, `status` the status of a
prepared answer, `result` a reload outcome. A path no operation answers is `operation="none"`;
paths, parameters and tokens are never labels, so a flood of unique requests adds no series.

Counting is cheap: the label children of each (operation, outcome, status, case, near miss)
are resolved once and kept with plain numbers, so that a request costs a dict lookup and three
additions, no string formatting and no lock; the numbers are written into the metrics when
they are read (and every second with workers, `flush`).

Under `--workers N` the supervisor gives every worker one directory (`PROMETHEUS_MULTIPROC_DIR`,
made and removed by `sandbox serve`): `prometheus_client` then keeps each worker's values in
memory-mapped files there, and a scrape of any worker adds every worker's values up. The
snapshot's own facts (revision, match mode, counts) are those of the process that answers the
scrape.
"""

from __future__ import annotations

import asyncio
import glob
import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox.load.snapshot import Prepared, Snapshot
from sandbox.load.sync import ReloadAttempt
from sandbox.rules.operations import Operation

if TYPE_CHECKING:  # imported when the metrics are first written (`_Series`): not on a start-up's path
    from prometheus_client import Counter, Histogram
    from prometheus_client.core import Metric

__all__ = ["MULTIPROCESS_ENVIRONMENT", "NONE", "RequestMetrics", "Usage"]

MULTIPROCESS_ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
NONE = "none"  # the label of a request no operation answers (an unknown path, a refused request line)
RELOAD_RESULTS = ("swapped", "unchanged", "refused", "failed")
SUCCESSFUL_RELOADS = ("swapped", "unchanged")
# The sandbox answers from memory: most requests take well under a millisecond.
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
RELOAD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# The resolved label children; their keys are bounded by the snapshot (operations, cases), this
# only guards against a pathological repository reloaded again and again.
_MAX_RESOLVED = 65_536
FLUSH_S = 1.0  # with workers: how late a scrape may see another worker's requests

_Key = tuple[str | None, str, int, str | None, str | None]  # operation, outcome, status, case, near miss


class _Tally:
    """One kind of request (operation, outcome, status, case, near miss): its label children,
    resolved once, and what was counted since they were last written."""

    __slots__ = ("buckets", "count", "counters", "duration", "seconds")

    def __init__(self, counters: tuple[Counter, ...], duration: Histogram) -> None:
        self.counters = counters  # requests, then the case hit, fallback, near miss, rate limit that apply
        self.duration = duration
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(REQUEST_BUCKETS) + 1)  # per bucket, not cumulative; the last is +Inf

    def flush(self) -> None:
        for counter in self.counters:
            counter.inc(self.count)
        observe_many(self.duration, self.buckets, self.seconds)
        self.count, self.seconds = 0, 0.0
        self.buckets[:] = [0] * len(self.buckets)


def observe_many(child: Histogram, buckets: list[int], seconds: float) -> None:
    """`sum(buckets)` observations at once, `buckets[i]` of them in bucket i, adding up to `seconds`.

    prometheus_client has no public bulk observe; a histogram child keeps one value per bucket
    (`_buckets`, not cumulative, in `_upper_bounds` order) and their sum (`_sum`), written here
    as `observe` writes them (`tests/test_metrics.py` checks the exposition is the same).
    """
    child._sum.inc(seconds)
    for value, count in zip(child._buckets, buckets, strict=True):
        if count:
            value.inc(count)


@dataclass(frozen=True, slots=True)
class OperationUsage:
    requests: int = 0
    hits: int = 0
    fallbacks: int = 0
    near_misses: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    """What integrators used since start, for the catalogue: by operation, and the hits of each case."""

    operations: dict[str, OperationUsage] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)
    workers: str = "this process"  # or "every worker" (multiprocess)

    def of(self, operation_id: str) -> OperationUsage:
        return self.operations.get(operation_id, OperationUsage())


class _SnapshotFacts:
    """The served snapshot as metrics, read when scraped: revision and match mode, counts, load time."""

    def __init__(self, current: Callable[[], Snapshot]) -> None:
        self.current = current

    def describe(self) -> Iterable[Metric]:
        return ()  # read at every scrape; nothing to check when registered

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

        snapshot = self.current()
        info = InfoMetricFamily("sandbox_snapshot", "The snapshot this process serves: revision and match mode")
        info.add_metric([], {"revision": snapshot.revision, "match_mode": snapshot.mode.value})
        yield info
        yield GaugeMetricFamily(
            "sandbox_snapshot_operations", "Operations of the served snapshot", snapshot.report.operations
        )
        yield GaugeMetricFamily("sandbox_snapshot_cases", "Cases of the served snapshot", snapshot.report.cases)
        yield GaugeMetricFamily(
            "sandbox_snapshot_problems", "Files the served snapshot rejected", len(snapshot.report.problems)
        )
        yield GaugeMetricFamily(
            "sandbox_snapshot_loaded_timestamp_seconds", "When the served snapshot was built", snapshot.loaded_at
        )


class _Series:
    """The prometheus_client metrics of one app, in a registry of their own (several apps may share a
    test process); in multiprocess mode a scrape reads the workers' files instead."""

    def __init__(self, current: Callable[[], Snapshot], directory: str | None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
        from prometheus_client.multiprocess import MultiProcessCollector

        if directory is not None and not getattr(values.ValueClass, "_multiprocess", False):
            raise RuntimeError(
                f"{MULTIPROCESS_ENVIRONMENT} was set after prometheus_client was imported: values would be lost"
            )
        own = CollectorRegistry()
        self.requests = Counter(
            "sandbox_requests",
            "Requests to the APIs, by API, operation, outcome and status",
            ("api", "operation", "outcome", "status"),
            registry=own,
        )
        self.duration = Histogram(
            "sandbox_request_duration_seconds",
            "Time from the request to the last byte of the answer, by API",
            ("api",),
            registry=own,
            buckets=REQUEST_BUCKETS,
        )
        self.fallbacks = Counter(
            "sandbox_fallbacks",
            "Requests no case matched, answered by the operation's fallback: cases to add",
            ("operation",),
            registry=own,
        )
        self.near_misses = Counter(
            "sandbox_near_misses",
            "Fallbacks that named a closest case (X-Sandbox-Near-Miss), by that case",
            ("operation", "case"),
            registry=own,
        )
        self.case_hits = Counter(
            "sandbox_case_hits", "Requests a case answered, by case", ("operation", "case"), registry=own
        )
        self.rate_limited = Counter(
            "sandbox_rate_limited", "Requests refused by a rate limit (429), by operation", ("operation",), registry=own
        )
        self.reloads = Counter("sandbox_reloads", "Reload attempts, by result", ("result",), registry=own)
        self.reload_duration = Histogram(
            "sandbox_reload_duration_seconds",
            "Duration of a reload attempt (fetch, build, swap), by result",
            ("result",),
            registry=own,
            buckets=RELOAD_BUCKETS,
        )
        self.last_success = Gauge(
            "sandbox_reload_last_success_timestamp_seconds",
            "When a reload last ended swapped or unchanged (the first load counts)",
            registry=own,
            multiprocess_mode="max",
        )
        for result in RELOAD_RESULTS:  # every result is a series from the start: alerts need no absent()
            self.reloads.labels(result)
            self.reload_duration.labels(result)
        self.last_success.set(current().loaded_at)
        if directory is None:
            self.exposed = own
        else:
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed, directory)  # type: ignore[no-untyped-call]
        self.exposed.register(_SnapshotFacts(current))


class RequestMetrics:
    """The counters of one process (one app); `exposition()` is the text a scrape gets."""

    def __init__(self, current: Callable[[], Snapshot]) -> None:
        directory = os.environ.get(MULTIPROCESS_ENVIRONMENT)
        self.directory = directory if directory else None
        self.current = current
        # workers: made at once (prometheus_client must see the directory as it loads)
        self._series = _Series(current, self.directory) if self.directory is not None else None
        self._tallies: dict[_Key, _Tally] = {}
        self._flush_due = False

    @property
    def series(self) -> _Series:
        """The metrics, made on first use: after the first answer is written (prometheus_client takes
        ~10 ms to import), or at start with workers."""
        if self._series is None:
            self._series = _Series(self.current, self.directory)
        return self._series

    # -- the request path ---------------------------------------------------------------------

    def count(self, operation: Operation | None, prepared: Prepared, seconds: float) -> None:
        """One answered request: a dict lookup and three additions to plain numbers (see `flush`)."""
        key = (
            operation.id if operation is not None else None,
            prepared.outcome,
            prepared.status,
            prepared.case_id,
            prepared.near_miss,
        )
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._resolve(key, operation, prepared)
        tally.count += 1
        tally.seconds += seconds
        tally.buckets[bisect_left(REQUEST_BUCKETS, seconds)] += 1
        if not self._flush_due:
            self._schedule_flush()

    def _resolve(self, key: _Key, operation: Operation | None, prepared: Prepared) -> _Tally:
        """The label children of one kind of request, resolved once (label values are the snapshot's)."""
        api, operation_id = (operation.api, operation.id) if operation is not None else (NONE, NONE)
        outcome, case, near = prepared.outcome, prepared.case_id, prepared.near_miss
        series = self.series
        counters = [series.requests.labels(api, operation_id, outcome, str(prepared.status))]
        if outcome == "hit" and case is not None:
            counters.append(series.case_hits.labels(operation_id, case))
        if outcome == "fallback":
            counters.append(series.fallbacks.labels(operation_id))
        if near is not None:
            counters.append(series.near_misses.labels(operation_id, near))
        if outcome == "rate-limited":
            counters.append(series.rate_limited.labels(operation_id))
        if len(self._tallies) >= _MAX_RESOLVED:
            self.flush()
            self._tallies.clear()
        tally = _Tally(tuple(counters), series.duration.labels(api))
        self._tallies[key] = tally
        return tally

    def _schedule_flush(self) -> None:
        """Multiprocess: flush within FLUSH_S, on the event loop that counts (no lock needed). One
        process: a read flushes first, nothing to schedule."""
        if self.directory is None:
            return
        self._flush_due = True
        try:
            asyncio.get_running_loop().call_later(FLUSH_S, self.flush)
        except RuntimeError:  # counted outside an event loop: written at once
            self.flush()

    def flush(self) -> None:
        """Write the counts kept since the last flush into the prometheus_client metrics.

        Called on the event loop that counts: before a scrape or a usage read, every FLUSH_S
        with workers (a scrape sees another worker's requests at most FLUSH_S late), and when a
        worker stops.
        """
        self._flush_due = False
        for tally in self._tallies.values():
            if tally.count:
                tally.flush()

    # -- reloads ------------------------------------------------------------------------------

    def count_reload(self, attempt: ReloadAttempt) -> None:
        result = attempt.outcome if attempt.outcome in RELOAD_RESULTS else "failed"
        series = self.series
        series.reloads.labels(result).inc()
        series.reload_duration.labels(result).observe(attempt.duration_ms / 1000)
        if result in SUCCESSFUL_RELOADS:
            series.last_success.set(time.time())

    # -- reading ------------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The text of a scrape (call `flush` first, on the event loop)."""
        from prometheus_client import generate_latest

        return generate_latest(self.series.exposed)

    def usage(self) -> Usage:
        """The request counts since start: this process's, or every worker's in multiprocess mode."""
        self.flush()
        operations: dict[str, dict[str, int]] = {}
        cases: dict[str, int] = {}

        def add(operation: str, what: str, value: float) -> None:
            counts = operations.setdefault(operation, {})
            counts[what] = counts.get(what, 0) + int(value)

        for name, labels, value in self._counter_samples():
            operation = labels.get("operation", NONE)
            if name == "sandbox_requests_total":
                add(operation, "requests", value)
                if labels.get("outcome") == "hit":
                    add(operation, "hits", value)
            elif name == "sandbox_fallbacks_total":
                add(operation, "fallbacks", value)
            elif name == "sandbox_near_misses_total":
                add(operation, "near_misses", value)
            elif name == "sandbox_case_hits_total":
                cases[labels["case"]] = cases.get(labels["case"], 0) + int(value)
        return Usage(
            {operation: OperationUsage(**counts) for operation, counts in operations.items()},
            cases,
            "every worker" if self.directory is not None else "this process",
        )

    def _counter_samples(self) -> Iterator[tuple[str, dict[str, str], float]]:
        from prometheus_client.multiprocess import MultiProcessCollector

        series = self.series
        if self.directory is None:
            families: Iterable[Any] = (
                metric
                for counter in (series.requests, series.fallbacks, series.near_misses, series.case_hits)
                for metric in counter.collect()
            )
        else:
            files = glob.glob(os.path.join(self.directory, "counter_*.db"))
            families = MultiProcessCollector.merge(files)  # type: ignore[no-untyped-call]
        for family in families:
            for sample in family.samples:
                yield sample.name, sample.labels, sample.value
