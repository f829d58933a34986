"""The `sandbox` command as a user runs it: a real process on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import corpus_path

START_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox_process(*args: str) -> Iterator[tuple[str, list[str]]]:
    port = free_port()
    command = [sys.executable, "-m", "sandbox", "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("Serving"):
                break
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/__sandbox/status", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield base, lines
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_help_lists_the_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "sandbox", "serve", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "--fixtures" in result.stdout and "--match" in result.stdout


def test_serve_prints_the_load_summary_and_answers() -> None:
    root = corpus_path("siade_staging_data")
    with sandbox_process("--fixtures", str(root)) as (base, lines):
        output = "\n".join(lines)
        assert "operations: 99 (entreprise 52, particulier 47)" in output
        assert "cases: 795 (+ 9 FranceConnect tokens)" in output
        assert "files rejected: 0" in output
        response = httpx.get(f"{base}/v3/insee/sirene/unites_legales/130025265", params={"recipient": "1"})
        assert response.status_code == 200


def test_serve_reports_rejected_files(tmp_path: Path) -> None:
    from tests import tiny_repository

    root = tiny_repository.build(tmp_path)
    (root / "payloads" / "api_particulier_v2_demo" / "cassé.yaml").write_text("params: [\n")
    with sandbox_process("--fixtures", str(root)) as (base, lines):
        output = "\n".join(lines)
        assert "files rejected: 1" in output
        assert "payloads/api_particulier_v2_demo/cassé.yaml:2: invalid YAML" in output
        assert httpx.get(f"{base}/api/v2/demo", params={"identifiant": "1"}).json() == {"statut": "ok"}


def test_missing_fixtures_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--fixtures", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "is not a folder" in result.stderr
