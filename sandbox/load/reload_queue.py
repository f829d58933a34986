"""Reload triggers coalesced: at most one reload in flight and one queued.

Every trigger (poll, file change, `POST /api/reload-mocks`, webhook) asks for a reload that
starts after it arrived. A trigger arriving while a reload runs joins the queued one (created
if need be) and gets its future: N triggers during a running reload cause one more reload,
not N. A queued reload waits until the running one ends and at least `settle_s` after it
started, so a burst of triggers spread over a moment still gives one more reload.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

_LOG = logging.getLogger("sandbox.sync")
_MAX_REASONS = 8  # a queued reload names what asked for it; the kinds of trigger are few


T = TypeVar("T")


@dataclass
class _Run(Generic[T]):
    future: Future[T]
    reasons: list[str]
    fetch: bool
    not_before: float = 0.0  # time.monotonic()
    started: float = 0.0

    def join(self, reason: str, fetch: bool) -> None:
        if reason not in self.reasons and len(self.reasons) < _MAX_REASONS:
            self.reasons.append(reason)
        self.fetch = self.fetch or fetch


@dataclass
class ReloadQueue(Generic[T]):
    """Runs `reload(reason, fetch)` on its own thread, one at a time, for every trigger."""

    reload: Callable[[str, bool], T]
    stopped_outcome: Callable[[str], T]  # the answer to a trigger the stopped queue will never run
    settle_s: float = 1.0
    triggers: int = 0
    coalesced: int = 0
    _in_flight: _Run[T] | None = None
    _queued: _Run[T] | None = None
    _thread: threading.Thread | None = None
    _stopped: bool = False
    _condition: threading.Condition = field(default_factory=threading.Condition)

    def trigger(self, reason: str, *, fetch: bool = True) -> Future[T]:
        """The future outcome of a reload that starts after this call; never blocks on a reload."""
        with self._condition:
            self.triggers += 1
            if self._stopped:
                done: Future[T] = Future()
                done.set_result(self.stopped_outcome(reason))
                return done
            if self._queued is not None:
                self.coalesced += 1
                self._queued.join(reason, fetch)
                return self._queued.future
            future: Future[T] = Future()
            future.set_running_or_notify_cancel()  # shared by every waiter: nobody may cancel it
            not_before = self._in_flight.started + self.settle_s if self._in_flight is not None else 0.0
            self._queued = _Run(future, [reason], fetch, not_before)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="sandbox-reload", daemon=True)
                self._thread.start()
            self._condition.notify_all()
            return future

    @property
    def in_flight(self) -> bool:
        return self._in_flight is not None

    @property
    def queued(self) -> bool:
        return self._queued is not None

    def stop(self, timeout_s: float = 5.0) -> None:
        """No more reloads; a queued one is answered with `stopped_outcome`, a running one ends."""
        with self._condition:
            self._stopped = True
            queued, self._queued = self._queued, None
            self._condition.notify_all()
            thread = self._thread
        if queued is not None:
            queued.future.set_result(self.stopped_outcome(" + ".join(queued.reasons)))
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout_s)

    def _next(self) -> _Run[T] | None:
        with self._condition:
            while not self._stopped:
                run = self._queued
                wait = None if run is None else run.not_before - time.monotonic()
                if run is not None and wait is not None and wait <= 0:
                    self._queued, self._in_flight = None, run
                    run.started = time.monotonic()
                    return run
                self._condition.wait(timeout=wait)
            return None

    def _work(self) -> None:
        while (run := self._next()) is not None:
            try:
                outcome = self.reload(" + ".join(run.reasons), run.fetch)
            except BaseException as error:  # the reload never raises; if it did, waiters must still wake
                _LOG.exception("reload crashed")
                outcome = self.stopped_outcome(f"crashed: {type(error).__name__}: {error}")
            with self._condition:
                self._in_flight = None
            run.future.set_result(outcome)
