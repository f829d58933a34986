"""In CI (`CI` set) the tests that need ../shared or a browser must run: their absence fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SKIPPING = """
import pytest

def test_needs_the_corpus() -> None:
    pytest.skip("real fixture corpus not available at /nowhere (it lives in ../shared/fixtures beside the clone)")

def test_needs_chromium() -> None:
    pytest.skip("needs Debian's chromium (apt-get install -y chromium)")

def test_skipped_for_another_reason() -> None:
    pytest.skip("not on this platform")
"""
MODULE_SKIP = """
import pytest

pytest.skip("the playwright Python package is missing (pip install playwright)", allow_module_level=True)

def test_never_collected() -> None:
    pass
"""


def _pytest(tmp_path: Path, *, ci: bool, shared: Path | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIP)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "SANDBOX_SHARED")}
    if ci:
        env["CI"] = "true"
    if shared is not None:
        env["SANDBOX_SHARED"] = str(shared)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", "-rA", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_outside_ci_a_missing_corpus_or_browser_is_a_skip(tmp_path: Path) -> None:
    run = _pytest(tmp_path, ci=False, shared=tmp_path / "elsewhere")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 skipped" in run.stdout


def test_in_ci_a_skip_for_want_of_the_corpus_or_the_browser_fails(tmp_path: Path) -> None:
    run = _pytest(tmp_path, ci=True)
    assert run.returncode == 1, run.stdout + run.stderr
    # the two skipped tests fail; the skipped module fails the run at its end; another reason stays a skip
    assert "2 failed, 2 skipped" in run.stdout
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED ")]
    assert any(line.split()[1].endswith("test_skipping.py::test_needs_chromium") for line in failed), failed
    assert any(line.split()[1].endswith("test_skipping.py::test_needs_the_corpus") for line in failed), failed
    assert "test_module_skip.py: skipped in CI, where it must run: Skipped: the playwright" in run.stdout


def test_in_ci_without_shared_the_run_stops_with_a_clear_message(tmp_path: Path) -> None:
    run = _pytest(tmp_path, ci=True, shared=tmp_path / "elsewhere")
    assert run.returncode == 4, run.stdout + run.stderr
    output = run.stdout + run.stderr
    assert "CI is set but the reference material is missing" in output
    assert str(tmp_path / "elsewhere" / "fixtures" / "siade_staging_data" / "payloads") in output
    assert "passed" not in output
