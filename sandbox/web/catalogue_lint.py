"""The catalogue's lint status: `sandbox.tools.lint` over each source of the snapshot, once per revision.

The lint runs off the event loop, in a daemon thread of its own, one at a time; a page waits
for it a bounded time and otherwise renders without it. A lint that does not end (it cannot,
with the reader's limits, but whatever it does) never holds a page nor the process's exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass

from sandbox.load.snapshot import Snapshot

_LOG = logging.getLogger("sandbox.catalogue")


@dataclass(frozen=True, slots=True)
class LintSummary:
    errors: int = 0
    warnings: int = 0


@dataclass(frozen=True, slots=True)
class LintNote:
    severity: str
    line: int | None
    rule: str
    message: str
    hint: str


@dataclass(frozen=True, slots=True)
class LintResult:
    by_folder: Mapping[str, LintSummary]
    by_case: Mapping[str, tuple[LintNote, ...]]  # `folder/file` → findings
    france_connect_reach: Mapping[str, tuple[str, ...]]  # `folder/file` → FranceConnect tokens


# How long a page waits for the lint of a new revision before it renders without it.
LINT_WAIT_S = 10.0


class LintCache:
    """`sandbox.tools.lint` over each source of the snapshot; one result per (revision, mode, language).

    The lint runs in a daemon thread of its own, one at a time: a page waits for it at most
    `wait_s` seconds (never on the event loop) and otherwise shows no lint status until it is
    done; a lint still running never holds up the process when it is told to stop (SIGTERM).
    """

    def __init__(
        self, runner: Callable[[Snapshot, str], LintResult | None] | None = None, wait_s: float | None = None
    ) -> None:
        self._runner = runner or run_lint
        self.wait_s = LINT_WAIT_S if wait_s is None else wait_s
        self._results: dict[tuple[str, tuple[str, ...], str, str], LintResult | None] = {}
        self._running: dict[tuple[str, tuple[str, ...], str, str], Future[None]] = {}
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()

    def _key(self, snapshot: Snapshot, lang: str) -> tuple[str, tuple[str, ...], str, str]:
        return (snapshot.revision, tuple(layer.root for layer in snapshot.layers), snapshot.mode.value, lang)

    def _start(self, snapshot: Snapshot, lang: str) -> Future[None] | None:
        """None when the result is known; else the lint's future (started if it was not)."""
        key = self._key(snapshot, lang)
        with self._lock:
            if key in self._results:
                return None
            running = self._running.get(key)
            if running is None:
                running = self._running[key] = Future()
                thread = threading.Thread(target=self._run, args=(key, snapshot, lang, running), daemon=True)
                thread.name = "sandbox-lint"
                thread.start()
            return running

    def _run(
        self, key: tuple[str, tuple[str, ...], str, str], snapshot: Snapshot, lang: str, done: Future[None]
    ) -> None:
        result = None
        try:
            with self._one_at_a_time:
                result = self._runner(snapshot, lang)
        finally:
            with self._lock:
                if any(k[:3] != key[:3] for k in self._results):
                    self._results.clear()  # another revision: forget the old one
                self._results[key] = result
                self._running.pop(key, None)
            done.set_result(None)

    def _known(self, snapshot: Snapshot, lang: str) -> LintResult | None:
        with self._lock:
            return self._results.get(self._key(snapshot, lang))

    def get(self, snapshot: Snapshot, lang: str) -> LintResult | None:
        """The result, waiting for it at most `wait_s` (from a thread)."""
        running = self._start(snapshot, lang)
        if running is not None:
            with contextlib.suppress(TimeoutError):
                running.result(timeout=self.wait_s)
        return self._known(snapshot, lang)

    async def result(self, snapshot: Snapshot, lang: str) -> LintResult | None:
        """The result, waiting for it at most `wait_s` without blocking the event loop nor a worker thread."""
        running = self._start(snapshot, lang)
        if running is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(running)), self.wait_s)
        return self._known(snapshot, lang)


def run_lint(snapshot: Snapshot, lang: str) -> LintResult | None:
    """Findings per folder and per case, or None when the lint is not available or fails."""
    try:
        from sandbox.tools.lint import lint_repository
    except ImportError:
        return None
    by_folder: dict[str, list[int]] = {}
    by_case: dict[str, list[LintNote]] = {}
    reach: dict[str, tuple[str, ...]] = {}
    roots = [layer.root for layer in snapshot.layers] or [snapshot.root]
    try:
        for root in roots:
            report = lint_repository(root, mode=snapshot.mode, lang=lang, limits=snapshot.limits)
            for finding in report.findings:
                parts = finding.file.split("/")
                if len(parts) < 3 or parts[0] != "payloads":
                    continue
                counts = by_folder.setdefault(parts[1], [0, 0])
                counts[0 if finding.severity == "error" else 1] += 1
                by_case.setdefault(f"{parts[1]}/{parts[2]}", []).append(
                    LintNote(finding.severity, finding.line, finding.rule, finding.message, finding.hint)
                )
            reach.update(report.france_connect_reach)
    except Exception:  # the catalogue must render whatever the lint does
        _LOG.exception("lint of %s failed: the catalogue shows no lint status", snapshot.revision)
        return None
    return LintResult(
        by_folder={folder: LintSummary(*counts) for folder, counts in by_folder.items()},
        by_case={case: tuple(notes) for case, notes in by_case.items()},
        france_connect_reach=reach,
    )
