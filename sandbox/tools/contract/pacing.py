"""Pacing a contract run from what the server says about its rate limits.

A server that limits rates (the real staging, a sandbox started with its defaults) says so on
every answer of a throttled route: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
(epoch seconds at the end of the window) and, on a 429, `Retry-After` (spec §7). The run keeps,
per counter, what the last answer said: when `Remaining` reaches what is already in flight, the
counter's next requests wait for the window to end; a 429 with `Retry-After` closes the counter
until then and the case is sent again. A 429 without `Retry-After` is an answer like any other
(a fixture may document a 429: it carries no such header).

The server's counters are per group of operations, which a client is not told. An operation
counts on its own counter until it meets a 429 its own counter did not foresee (its window had
room for the request: another operation used the server's counter), or until an answer shows a
window of a second; from then on it counts on one counter with every such operation sent with
the same kind of credential and announcing the same `RateLimit-Limit`. Two groups merged that
way wait more than needed; none goes over.

The waits are bounded: a case is sent at most `max_retries + 1` times and waits at most
`max_wait_s` in all; past either bound it is reported as not checked (never as failed).
`rate` caps the requests started per second over the whole run (the sandbox's own limits are
per group of operations; the cap is for a server whose limits are not announced).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

DEFAULT_MAX_RETRIES = 20
DEFAULT_MAX_WAIT_S = 600.0
# The longest one wait may be: a Retry-After beyond it is a server that will not answer in this run.
LONGEST_WAIT_S = 3_600.0
# Waiting a little past the announced end of a window: clocks and rounding differ by that much.
_MARGIN_S = 0.05
# A window that ends this soon after an answer is taken for a short one (a second): operations that
# announce the same limit on short windows share one counter here from their first answer; merging
# long windows by mistake would cost whole minutes, so those are merged only on evidence (a 429).
_SHORT_WINDOW_S = 1.0
_POLL_S = 0.05  # how often a request looks again while the answers in flight have not said when the window ends


class GaveUp(Exception):
    """A case waited longer, or was refused more often, than the run allows."""


def _number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None  # not NaN, finite


def throttled(status: int, headers: Mapping[str, str]) -> bool:
    """A 429 of the server's rate limiter (it says when to come back), not a documented 429 case."""
    return status == 429 and "retry-after" in headers


def retry_delay(headers: Mapping[str, str], wall_now: float) -> float:
    """Seconds until a throttled request may be sent again: `Retry-After`, or the exact end of the window
    (`RateLimit-Reset`) when it falls sooner, as it does with windows of a second."""
    retry_after = _number(headers, "retry-after")
    reset = _number(headers, "ratelimit-reset")
    delay = retry_after if retry_after is not None and retry_after >= 0 else 1.0
    if reset is not None and 0 < reset - wall_now <= delay:
        delay = reset - wall_now
    return min(delay, LONGEST_WAIT_S) + _MARGIN_S


@dataclass(slots=True)
class _Window:
    """What the last answers of one operation said about its rate limit."""

    open_at: float = 0.0  # monotonic time before which nothing is sent
    limit: int | None = None  # requests per window (RateLimit-Limit)
    remaining: int | None = None  # requests the server still accepts in the current window
    reset: float | None = None  # that window's end as the server wrote it (epoch seconds)
    ends_at: float | None = None  # the same on this process's monotonic clock; None: not said yet
    in_flight: int = 0
    heard: bool = False  # an answer came back: until then, one request at a time probes the limits


@dataclass(frozen=True, slots=True)
class Ticket:
    """A request let through: the window it counts in, and whether that window knew it had room."""

    window: _Window
    foreseen: bool


@dataclass(slots=True)
class Pacer:
    """Admission of each request: per operation from the server's rate-limit headers, and a global cap."""

    rate: float | None = None  # requests per second over the run, None: no cap
    max_retries: int = DEFAULT_MAX_RETRIES
    max_wait_s: float = DEFAULT_MAX_WAIT_S
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    throttled_answers: int = 0  # 429s seen (each one retried or given up)
    waited_s: float = 0.0  # time requests spent waiting for the limits, summed over requests
    _windows: dict[str, _Window] = field(default_factory=dict)
    _counters: dict[str, str] = field(default_factory=dict)  # operation → the counter it was found to share
    _next_start: float = 0.0

    def _window(self, key: str) -> _Window:
        return self._windows.setdefault(self._counters.get(key, key), _Window())

    async def admit(self, key: str, deadline: float, gate: asyncio.Semaphore) -> Ticket:
        """Wait until a request of operation `key` may be sent, holding `gate` (a slot of the run's
        concurrency) when it returns; GaveUp past `deadline` (monotonic). The slot is taken before the
        window is read, so that what a window lets through is sent at once, and given back while it waits.
        The ticket goes back to `answered` with the answer."""
        started = self.clock()
        while True:
            await gate.acquire()
            window = self._window(key)  # read again: the operation may have joined a shared counter
            wait = self._wait(window)
            if wait <= 0:
                break
            gate.release()
            if self.clock() + wait > deadline:
                raise GaveUp(f"the rate limit would keep it waiting past {self.max_wait_s:g} s")
            await asyncio.sleep(wait)
        if self.rate:
            start = max(self.clock(), self._next_start)
            self._next_start = start + 1 / self.rate
            if start > self.clock():
                await asyncio.sleep(start - self.clock())
        window.in_flight += 1
        self.waited_s += self.clock() - started
        return Ticket(window, foreseen=window.remaining is not None)

    def _wait(self, window: _Window) -> float:
        """Seconds before a request may be counted in `window`; 0 or less: now."""
        now = self.clock()
        if window.ends_at is not None and now >= window.ends_at:
            # a new window: the whole limit again, until an answer says where it ends
            window.remaining, window.reset, window.ends_at = window.limit, None, None
        if now < window.open_at:
            return window.open_at - now
        if not window.heard and window.in_flight:
            return _POLL_S
        if window.remaining is not None and window.in_flight >= window.remaining:
            # what is in flight uses the window up: wait for its end (or for an answer to say it)
            return window.ends_at - now if window.ends_at is not None else _POLL_S
        return 0.0

    def answered(
        self, key: str, credential: str, ticket: Ticket, status: int | None, headers: Mapping[str, str]
    ) -> float | None:
        """Read an answer's rate-limit headers; the delay before sending it again when it was throttled.
        `credential`: the kind of token sent (the server counts API keys and tokens apart)."""
        ticket.window.in_flight = max(ticket.window.in_flight - 1, 0)
        if status is None:
            return None
        now, wall_now = self.clock(), self.wall()
        limit = _number(headers, "ratelimit-limit")
        limit = int(limit) if limit is not None and limit >= 1 else None
        reset = _number(headers, "ratelimit-reset")
        if (
            key not in self._counters
            and limit
            and (
                (throttled(status, headers) and ticket.foreseen)
                or (reset is not None and 0 < reset - wall_now <= _SHORT_WINDOW_S)
            )
        ):
            self._counters[key] = f"{credential} limit={limit}"  # it shares the server's counter
        window = self._window(key)
        window.heard = True
        window.limit = limit or window.limit
        if throttled(status, headers):
            self.throttled_answers += 1
            delay = retry_delay(headers, wall_now)
            window.open_at = max(window.open_at, now + delay)
            window.remaining, window.reset, window.ends_at = window.limit, None, None
            return delay
        remaining = _number(headers, "ratelimit-remaining")
        if window.reset is not None and reset is not None and reset < window.reset:
            return None  # an answer of a window that is over
        if remaining is not None and reset is not None and 0 < reset - wall_now <= LONGEST_WAIT_S:
            left = max(int(remaining), 0)
            if window.reset == reset and window.remaining is not None:
                left = min(left, window.remaining)  # answers of one window may arrive out of order
            window.remaining, window.reset = left, reset
            window.ends_at = now + (reset - wall_now) + _MARGIN_S
        return None
