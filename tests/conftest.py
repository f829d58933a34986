from __future__ import annotations

import datetime
import os
import re
import sys
from collections.abc import Generator
from pathlib import Path

import pytest

from sandbox.rules.bounded_cache import BoundedCache

ROOT = Path(__file__).resolve().parent.parent
# The reference material beside the clone; SANDBOX_SHARED points elsewhere (a CI guard test does).
SHARED = Path(os.environ.get("SANDBOX_SHARED") or ROOT.parent / "shared")
SHARED_FIXTURES = SHARED / "fixtures"
CORPORA = ("siade_staging_data", "apistration_mocks")
# The day the tests run on wherever a rule reads the date (year windows, ages, maintenance): the suite
# passes whatever the real date (check: faketime '2028-06-01 00:00:00' make unit). Only
# tests/test_embedded.py reads the real date, to warn a year before an embedded case rots.
PINNED_TODAY = datetime.date(2026, 4, 28)
# CI has ../shared and Chromium: there a test skipped for want of them is a failure, not a skip.
IN_CI = bool(os.environ.get("CI"))
_MISSING_ENVIRONMENT = re.compile(
    r"\.\./shared|not available at|reference model|chromium|playwright|axe-core", re.IGNORECASE
)


# libfaketime (the 2028 run) breaks the timed waits of threads and of git subprocesses: the tests marked
# `real_clock` (reload and watcher threads that wait on timers) fail under `faketime '+0'` too, so
# there they are skipped with that reason; they read no date and run in every other run.
UNDER_FAKETIME = "faketime" in os.environ.get("LD_PRELOAD", "")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_clock: waits on timers in threads; skipped under libfaketime, which breaks such waits"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not UNDER_FAKETIME:
        return
    skip = pytest.mark.skip(reason="libfaketime breaks timed waits in threads (fails under faketime '+0' too)")
    for item in items:
        if item.get_closest_marker("real_clock") is not None:
            item.add_marker(skip)


def corpus_path(name: str) -> Path:
    path = SHARED_FIXTURES / name
    if not (path / "payloads").is_dir():
        pytest.skip(f"real fixture corpus not available at {path} (it lives in ../shared/fixtures beside the clone)")
    return path


@pytest.fixture(params=CORPORA)
def corpus(request: pytest.FixtureRequest) -> Path:
    return corpus_path(request.param)


@pytest.fixture
def embedded() -> Path:
    return ROOT


def shared_missing() -> str | None:
    """What of ../shared the suite needs and does not find, or None."""
    needed = [SHARED / "spec" / "staging-behaviour.md", *(SHARED_FIXTURES / name / "payloads" for name in CORPORA)]
    missing = [str(path) for path in needed if not path.exists()]
    return ", ".join(missing) or None


def _clear_memos() -> None:
    """Forget every memo (`functools.cache`, `lru_cache`, a module's `BoundedCache`) of ours: `make mutation`
    runs one pytest session per mutant in processes forked from one that already ran the tests, and a
    snapshot or a lookup remembered there would answer without running the mutated code."""
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "sandbox" or name.startswith(("sandbox.", "tests."))):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, BoundedCache):  # a module's own bounded memo (rules/unreadable.py)
                value.clear()
                continue
            cache_clear = getattr(value, "cache_clear", None)
            if callable(cache_clear):
                cache_clear()


def pytest_sessionstart(session: pytest.Session) -> None:
    _clear_memos()
    missing = shared_missing()
    if IN_CI and missing:
        pytest.exit(
            f"CI is set but the reference material is missing ({missing}): the tests against the real corpora and "
            "the reference model would be skipped. Put shared/ beside the clone (or set SANDBOX_SHARED to it).",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


def _must_run(report: pytest.CollectReport | pytest.TestReport) -> str | None:
    """In CI, the reason of a skip for want of ../shared, Chromium, Playwright or axe-core; else None."""
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report)
        if _MISSING_ENVIRONMENT.search(reason):
            return reason
    return None


_SKIPPED_MODULES: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    reason = _must_run(report)
    if reason is not None:
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where it must run: {reason}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A whole module skipped in CI fails the run at its end (a collection error would stop the others)."""
    report = yield
    reason = _must_run(report)
    if reason is not None:
        _SKIPPED_MODULES.append(f"{collector.nodeid}: skipped in CI, where it must run: {reason}")
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _SKIPPED_MODULES:
        terminalreporter.write_line(f"FAILED {line}", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SKIPPED_MODULES and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
