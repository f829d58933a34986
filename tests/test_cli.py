"""The `sandbox` command as a user runs it: a real process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from sandbox.rules.tokens import DEFAULT_SECRET, mint
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
    environment = {k: v for k, v in os.environ.items() if k != "SANDBOX_JWT_SECRET"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
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
        token = (root / "tokens" / "default").read_text().strip()
        response = httpx.get(
            f"{base}/v3/insee/sirene/unites_legales/775672272",
            params={"recipient": "13002526500013", "context": "test", "object": "test"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
        )
        assert response.status_code == 200
        assert response.headers["x-sandbox-case"].startswith("api_entreprise_v3_insee_unites_legales/")


def test_serve_reports_rejected_files(tmp_path: Path) -> None:
    from tests import tiny_repository

    root = tiny_repository.build(tmp_path)
    (root / "payloads" / "api_particulier_v2_demo" / "cassé.yaml").write_text("params: [\n")
    with sandbox_process("--fixtures", str(root)) as (base, lines):
        output = "\n".join(lines)
        assert "files rejected: 1" in output
        assert "payloads/api_particulier_v2_demo/cassé.yaml:2: invalid YAML" in output
        token = mint(DEFAULT_SECRET, [])
        answer = httpx.get(
            f"{base}/api/v2/demo", params={"identifiant": "1"}, headers={"X-Api-Key": token}, timeout=30.0
        )
        assert answer.json() == {"statut": "ok"}


def test_missing_fixtures_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--fixtures", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "is not a folder" in result.stderr


def test_token_command_mints_a_token_the_server_accepts(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "token", "--scope", "a", "--scope", "b", "--expires-in", "1h"],
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if k != "SANDBOX_JWT_SECRET"},
    )
    assert result.returncode == 0
    import jwt

    claims = jwt.decode(result.stdout.strip(), DEFAULT_SECRET, algorithms=["HS256"])
    assert claims["scopes"] == ["a", "b"] and claims["exp"] - claims["iat"] == 3600
    assert claims["jti"] == claims["uid"] == "00000000-0000-0000-0000-000000000000"
    bad = subprocess.run(
        [sys.executable, "-m", "sandbox", "token", "--expires-in", "soon"], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 2 and "not a duration" in bad.stderr
