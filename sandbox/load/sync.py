"""Following fixture sources live: fetch, build a complete snapshot off the request path, swap.

A reload fetches the git sources (only the leader process does), builds a new snapshot
from the exported trees, and swaps the single reference the request path reads. A build
that brings new problems (a broken YAML file, a bad OpenAPI document…) is refused: the
previous snapshot keeps serving, and the failure is kept for `/__sandbox/status`.

Triggers: a poll timer (git sources), a file watcher (local folders, debounced),
`POST /api/reload-mocks` and the push webhook. They go through one `ReloadQueue`: one reload
in flight, one queued that every later trigger joins. A reload rebuilds only a revision that
is neither the one served nor the one last refused (a local folder's revision is its
fingerprint), so a broken commit is built once, not at every poll.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sandbox.load.reload_queue import ReloadQueue
from sandbox.load.snapshot import Snapshot, SnapshotHolder, describe
from sandbox.load.sources import FetchError, GitSource, LeaderLock, LocalSource, Source
from sandbox.load.watching import FolderWatcher

_LOG = logging.getLogger("sandbox.sync")
_MAX_BACKOFF_S = 600.0
_FOLLOW_INTERVAL_S = 0.5
_LOGGED_PROBLEMS = 20  # a log line names at most this many problems (the status route has them all)

Build = Callable[[Sequence[Path], Sequence[str | None]], Snapshot]


def event(name: str, **fields: Any) -> dict[str, Any]:
    """A log record's `extra`: the event's name and its fields (the JSON log format writes them out)."""
    return {"event": name, "fields": fields}


class StartError(RuntimeError):
    """No snapshot can be served: the remote is unreachable and the cache is empty."""


@dataclass
class ReloadAttempt:
    reason: str
    started_at: float
    duration_ms: float = 0.0
    outcome: str = "pending"  # swapped | unchanged | refused | failed
    revision: str | None = None
    errors: list[str] = field(default_factory=list)
    rebuilt: bool = False  # False: nothing new to build (the revision served, or the one refused)


@dataclass(frozen=True)
class Refusal:
    """The last revision refused: not rebuilt until the sources give another one."""

    key: str  # the sources' revisions (commits, folder fingerprints) when it was built
    revision: str  # the snapshot's name for it
    errors: tuple[str, ...]


class Syncer:
    def __init__(
        self,
        sources: Sequence[Source],
        build: Build,
        *,
        poll_s: float = 60.0,
        leader: LeaderLock | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sources = list(sources)
        self.build = build
        self.poll_s = poll_s
        self.leader = leader
        self.clock = clock
        self.holder: SnapshotHolder | None = None
        self.last_attempt: ReloadAttempt | None = None
        self.last_failure: ReloadAttempt | None = None
        self.reloads = 0
        self.fetches = 0
        self.rebuilds = 0
        self.served_key: str | None = None
        self.refusal: Refusal | None = None
        self.queue: ReloadQueue[ReloadAttempt] = ReloadQueue(self._run_queued, self._not_run)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.watchers: list[FolderWatcher] = []
        # Called with every reload attempt once it has ended (metrics); an observer's error is logged.
        self.observers: list[Callable[[ReloadAttempt], None]] = []
        # What `start` is doing, for the readiness probe that answers while it runs (public: no path, no URL).
        self.phase = "starting"

    # -- start and stop --------------------------------------------------------------------

    @property
    def git_sources(self) -> list[GitSource]:
        return [s for s in self.sources if isinstance(s, GitSource)]

    def is_leader(self) -> bool:
        return self.leader is None or self.leader.try_acquire()

    def start(self) -> SnapshotHolder:
        """Fetch (leader), build the first snapshot; a filled cache stands in for an unreachable remote."""
        started = time.perf_counter()
        for source in self.git_sources:
            if self.is_leader():
                self.phase = "fetching the git sources"  # public (the readiness probe): no location
                try:
                    self._fetch(source)
                except FetchError as error:
                    if source.current() is None:
                        self.phase = "failed: a git source cannot be fetched and the cache has no commit of it"
                        raise StartError(f"{source.location}: {error}; no cached commit to serve") from error
                    source.serving_cached = True
                    self._schedule_retry(source)
                    _LOG.warning(
                        "%s unreachable (%s): serving the cached commit %s",
                        source.location,
                        error,
                        source.current(),
                        extra=event("serving-cached", source=source.location, commit=source.current()),
                    )
            elif source.current() is None:
                self.phase = "waiting for the leader process to fetch the git sources"
                self._wait_for_leader(source)
        self.served_key = self.source_key()
        self.phase = "building the first snapshot"
        snapshot = self.build([s.tree() for s in self.sources], [s.revision() for s in self.sources])
        self.holder = SnapshotHolder(snapshot)
        self.phase = "ready"
        report = snapshot.report
        _LOG.info(
            "loaded %s: %d operations, %d cases, %d files rejected, in %.0f ms",
            snapshot.revision,
            report.operations,
            report.cases,
            len(report.problems),
            (time.perf_counter() - started) * 1000,
            extra=event(
                "load",
                revision=snapshot.revision,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                build_ms=round(report.duration_s * 1000, 3),
                operations=report.operations,
                operations_by_api=dict(report.operations_by_api),
                cases=report.cases,
                problems=[str(p) for p in report.problems[:_LOGGED_PROBLEMS]],
                problem_count=len(report.problems),
            ),
        )
        return self.holder

    def _fetch(self, source: GitSource) -> str:
        """One fetch, counted and logged (git's own message when it fails); raises FetchError."""
        self.fetches += 1
        before = source.current()
        started = time.perf_counter()
        try:
            sha = source.fetch()
        except FetchError as error:
            _LOG.warning(
                "fetch of %s failed (%d in a row): %s",
                source.location,
                source.health.failures,
                error,
                extra=event("fetch-failed", source=source.location, error=str(error), failures=source.health.failures),
            )
            raise
        _LOG.log(
            logging.INFO if sha != before else logging.DEBUG,
            "fetched %s: %s%s",
            source.location,
            sha,
            "" if sha != before else " (unchanged)",
            extra=event(
                "fetch",
                source=source.location,
                commit=sha,
                changed=sha != before,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            ),
        )
        return sha

    def _wait_for_leader(self, source: GitSource, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while source.current() is None:
            if time.monotonic() > deadline:
                raise StartError(f"{source.location}: no commit in the cache after {timeout_s:.0f} s")
            time.sleep(0.1)

    def run_in_background(self) -> None:
        """Start the poll and follow loop (git sources) and the watchers (local folders)."""
        if self.git_sources:
            self._spawn(self._poll_loop, "sandbox-poll")
        for layer, source in enumerate(self.sources):
            if isinstance(source, LocalSource):
                watcher = FolderWatcher(source.path, partial(self._documents, layer), self._changed, self._stop)
                self.watchers.append(watcher)
                self._spawn(watcher.run, f"sandbox-watch-{source.path.name}")

    def stop(self) -> None:
        self._stop.set()
        self.queue.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.leader is not None:
            self.leader.release()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- reloading -------------------------------------------------------------------------

    def trigger(self, reason: str, *, fetch: bool = True) -> Future[ReloadAttempt]:
        """Ask for a reload (coalesced with the others); the future gives the outcome of the one that covers it."""
        return self.queue.trigger(reason, fetch=fetch)

    def _run_queued(self, reason: str, fetch: bool) -> ReloadAttempt:
        return self.reload(reason, fetch=fetch)

    def _not_run(self, reason: str) -> ReloadAttempt:
        return ReloadAttempt(reason, self.clock(), outcome="failed", errors=["the sandbox is stopping: not reloaded"])

    def source_key(self) -> str | None:
        """What the sources hold now: their commits (git) and fingerprints (folders); None: unknown."""
        parts = []
        for source in self.sources:
            part = source.revision() if isinstance(source, GitSource) else source.fingerprint()
            if part is None:
                return None
            parts.append(part)
        return " + ".join(parts)

    def is_known(self, key: str | None) -> bool:
        """The revision served, or the one last refused: nothing to build."""
        return key is not None and (key == self.served_key or (self.refusal is not None and key == self.refusal.key))

    def reload(self, reason: str, *, fetch: bool = True, force: bool = False) -> ReloadAttempt:
        """Fetch (if asked and leader), rebuild a revision not seen yet (or `force`), swap if sound."""
        with self._lock:
            attempt = ReloadAttempt(reason=reason, started_at=self.clock())
            started = time.perf_counter()
            try:
                self._reload(attempt, fetch=fetch, force=force)
            except Exception as error:  # a reload must never take the server down
                attempt.outcome = "failed"
                attempt.errors.append(f"{type(error).__name__}: {error}")
                _LOG.exception("reload failed (%s)", reason)
            attempt.duration_ms = (time.perf_counter() - started) * 1000
            self.last_attempt = attempt
            if attempt.outcome in ("failed", "refused") and (attempt.rebuilt or attempt.outcome == "failed"):
                self.last_failure = attempt
            self._log_attempt(attempt)
            for observer in self.observers:
                try:
                    observer(attempt)
                except Exception:
                    _LOG.exception("a reload observer failed")
            return attempt

    def _log_attempt(self, attempt: ReloadAttempt) -> None:
        """One line per reload: info when swapped, debug when nothing changed, error otherwise."""
        assert self.holder is not None
        report = self.holder.current.report
        serving = self.holder.current.revision
        level = {"swapped": logging.INFO, "unchanged": logging.DEBUG}.get(attempt.outcome, logging.ERROR)
        said = {
            "swapped": f"now serving {serving}",
            "unchanged": f"{serving} unchanged",
            "refused": f"{attempt.revision} refused (not rebuilt until a new revision); {serving} keeps serving",
        }.get(attempt.outcome, f"reload failed; {serving} keeps serving")
        _LOG.log(
            level,
            "%s (%s, %.0f ms)%s",
            said,
            attempt.reason,
            attempt.duration_ms,
            "".join(f"\n  {error}" for error in attempt.errors[:_LOGGED_PROBLEMS]),
            extra=event(
                "reload",
                reason=attempt.reason,
                outcome=attempt.outcome,
                revision=attempt.revision,
                serving=serving,
                rebuilt=attempt.rebuilt,
                duration_ms=round(attempt.duration_ms, 3),
                operations=report.operations,
                cases=report.cases,
                problems=attempt.errors[:_LOGGED_PROBLEMS],
                problem_count=len(attempt.errors),
            ),
        )

    def _reload(self, attempt: ReloadAttempt, *, fetch: bool, force: bool) -> None:
        assert self.holder is not None, "start() first"
        if fetch and not self.is_leader() and self.leader is not None:
            self.leader.request_fetch()
        elif fetch:
            for source in self.git_sources:
                try:
                    self._fetch(source)
                except FetchError as error:
                    self._schedule_retry(source)
                    attempt.errors.append(f"fetch {source.location}: {error}")
        current = self.holder.current
        key = self.source_key()
        if not force and key is not None and key == self.served_key:
            attempt.outcome = "failed" if attempt.errors else "unchanged"
            attempt.revision = current.revision
            return
        if not force and self.refusal is not None and key == self.refusal.key:
            attempt.outcome = "refused"
            attempt.revision = self.refusal.revision
            attempt.errors.extend(self.refusal.errors)
            return
        revisions = [s.revision() for s in self.sources]
        self.rebuilds += 1
        attempt.rebuilt = True
        snapshot = self.build([s.tree() for s in self.sources], revisions)
        attempt.revision = snapshot.revision
        known = {str(p) for p in current.report.problems}
        new_problems = [str(p) for p in snapshot.report.problems if str(p) not in known]
        if new_problems:
            attempt.outcome = "refused"
            attempt.errors.extend(new_problems)
            if key is not None:
                self.refusal = Refusal(key, snapshot.revision, tuple(new_problems))
            return
        self.served_key = key
        if snapshot.revision == current.revision and not force:
            attempt.outcome = "unchanged"
            return
        # Published before the swap: whoever is served the new snapshot reads a status that says so
        # (revision, healthy) — a status read between the two shows the old revision, healthy.
        attempt.outcome = "swapped"
        self.last_attempt = attempt
        self.holder.swap(snapshot)
        self.reloads += 1

    def _schedule_retry(self, source: GitSource) -> None:
        """Exponential backoff from min(poll, 30 s), capped at 10 minutes."""
        base = min(self.poll_s or 30.0, 30.0)
        delay = min(base * 2 ** max(source.health.failures - 1, 0), _MAX_BACKOFF_S)
        source.health.next_fetch = self.clock() + delay

    # -- background loops ------------------------------------------------------------------

    def _poll_loop(self) -> None:
        """Leader: fetch every poll interval (sooner after a failure, with backoff).
        Followers: rebuild as soon as the leader moves CURRENT."""
        now = self.clock()
        for source in self.git_sources:
            if source.health.next_fetch is None and self.poll_s > 0:
                source.health.next_fetch = now + self.poll_s
        while not self._stop.wait(min(_FOLLOW_INTERVAL_S, self.poll_s or _FOLLOW_INTERVAL_S)):
            if self.is_leader():
                now = self.clock()
                due = [s for s in self.git_sources if s.health.next_fetch is not None and s.health.next_fetch <= now]
                if self.leader is not None and self.leader.take_fetch_request():
                    due = self.git_sources  # another worker received a webhook or a reload request
                if due:
                    for source in due:
                        source.health.next_fetch = now + self.poll_s if self.poll_s > 0 else None
                    self.trigger("poll").result()
                    continue
            # Folders are watched, not polled; a commit served or refused already is not rebuilt;
            # a reload running or queued reads CURRENT itself.
            busy = self.queue.in_flight or self.queue.queued
            if (
                not busy
                and not any(isinstance(s, LocalSource) for s in self.sources)
                and not self.is_known(self.source_key())
            ):
                self.trigger("follow", fetch=False).result()

    def _documents(self, layer: int) -> list[str]:
        """The OpenAPI documents of one source (their folders are watched)."""
        assert self.holder is not None
        return [d.path for d in self.holder.current.content.documents if d.layer == layer]

    def _changed(self, reason: str) -> None:
        self.trigger(reason, fetch=False).result()

    # -- status ----------------------------------------------------------------------------

    def healthy(self) -> bool:
        """Every source answered its last fetch and the last reload left nothing unserved."""
        last = self.last_attempt
        sources_ok = all(source.health.failures == 0 for source in self.sources)
        return sources_ok and (last is None or last.outcome in ("swapped", "unchanged"))

    def status(self) -> dict[str, Any]:
        assert self.holder is not None
        return {
            **describe(self.holder.current),
            "healthy": self.healthy(),
            "sources": [{**source.describe(), "health": asdict(source.health)} for source in self.sources],
            "sync": {
                "pid": os.getpid(),
                "poll_s": self.poll_s,
                "leader": self.leader is None or self.leader.held,
                "reloads": self.reloads,
                "fetches": self.fetches,
                "rebuilds": self.rebuilds,
                "triggers": self.queue.triggers,
                "coalesced": self.queue.coalesced,
                "reload_in_flight": self.queue.in_flight,
                "reload_queued": self.queue.queued,
                "refused_revision": self.refusal.revision if self.refusal else None,
                "last_attempt": asdict(self.last_attempt) if self.last_attempt else None,
                "last_failure": asdict(self.last_failure) if self.last_failure else None,
                "watchers": [asdict(watcher.health) for watcher in self.watchers],
            },
        }
