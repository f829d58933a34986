"""The `sandbox` command's manners: a version, help when called bare, examples, and every bad argument
stopped with a message that says what is expected (exit 2, one line, before anything loads)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import __version__

TIMEOUT_S = 60


def sandbox(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sandbox", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=cwd)


def test_version() -> None:
    result = sandbox("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"sandbox {__version__}"


def test_bare_sandbox_prints_the_help_and_the_first_steps() -> None:
    result = sandbox()
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: sandbox")
    for command in ("serve", "token", "lint", "docs", "new-case", "contract"):
        assert f"\n    {command} " in result.stdout
    assert "export TOKEN=$(sandbox token)" in result.stdout


def test_serve_help_ends_with_examples() -> None:
    result = sandbox("serve", "--help")
    assert result.returncode == 0
    tail = result.stdout[result.stdout.index("\nexamples:\n") :]
    assert "sandbox serve --port 0" in tail and "--fixtures https://github.com/" in tail
    assert result.stdout.rstrip().endswith('object=test"')
    # the one-line group descriptions are still wrapped to the terminal
    assert max(len(line) for line in result.stdout[: result.stdout.index("\nexamples:\n")].splitlines()) <= 100


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["serve", "--ref", ""], "argument --ref: expected a branch, tag or commit (no space, not empty)"),
        (["serve", "--host", ""], "argument --host: expected an address"),
        (["serve", "--fixtures", ""], "argument --fixtures: expected a folder or a git URL, got an empty value"),
        (["serve", "--jwt-secret", " "], "argument --jwt-secret: expected a secret, got an empty value"),
        (["serve", "--cache-dir", ""], "argument --cache-dir: expected a path, got an empty value"),
        (["token", "--scope", ""], "argument --scope: expected a scope (no space, not empty), got an empty value"),
        (["token", "--scope", "a b"], "argument --scope: expected a scope (no space, not empty), got 'a b'"),
        (["token", "--fixtures", "/nonexistent"], "argument --fixtures: expected a folder, '/nonexistent' is not one"),
        (["token", "--expires-in", "soon"], "argument --expires-in: not a duration: 'soon' (expected seconds"),
        (["lint", "--today", "2026-13-01"], "argument --today: expected a date YYYY-MM-DD, e.g. 2026-01-31"),
        (["new-case", "x", "--today", "2026-13-01"], "argument --today: expected a date YYYY-MM-DD"),
        (["new-case", ""], "argument OPERATION_ID: expected an operation id (no space, not empty)"),
        (["docs", ".", "--base-url", "ftp://x"], "argument --base-url: expected an http(s) URL"),
        (["contract", "--base-url", "localhost:8000"], "argument --base-url: expected an http(s) URL, e.g. http://"),
        (["contract", "--base-url", "http://127.0.0.1:1", "--token", ""], "argument --token: expected a token"),
        (["contract", "--base-url", "http://x", "--rate", "0"], "argument --rate: expected a number of requests per"),
        (
            ["contract", "--base-url", "http://x", "--max-wait", "-1"],
            "argument --max-wait: expected a number of seconds",
        ),
        (["nothing"], "argument COMMAND: invalid choice: 'nothing'"),
    ],
)
def test_a_bad_argument_says_what_is_expected(arguments: list[str], expected: str) -> None:
    result = sandbox(*arguments)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and " error: " in result.stderr, result.stderr
    assert expected in result.stderr


def test_a_git_failure_shows_the_url_and_git_s_own_fatal_line(tmp_path: Path) -> None:
    missing = (tmp_path / "nothing-here").as_uri()
    result = sandbox("serve", "--fixtures", missing, "--port", "0", "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"sandbox: {missing}: fatal: ")
    assert "does not appear to be a git repository" in line and line.endswith("no cached commit to serve")
