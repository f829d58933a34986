"""A clock the test moves; the sandbox reads it through `Services.clock` or `RateLimiter(clock=...)`."""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
