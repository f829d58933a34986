"""The probes of a real `sandbox serve` whose git source is slow: while the first fetch runs,
/__sandbox/live is 200, /__sandbox/ready 503 with the reason and any other request is closed
unanswered; once the snapshot is served, ready is 200. The fetch is held by a `git` wrapper
first on the PATH until the test releases it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests import metrics_sequence as sequence
from tests.metrics_sequence import CLIENT_TIMEOUT_S, SECRET
from tests.test_cli import free_port
from tests.test_logs import git_repository

DEADLINE_S = 60.0
HOLD_S = 60  # the wrapper releases the fetch by itself after this, whatever the test does


def slow_git(folder: Path, started: Path, release: Path) -> Path:
    """A `git` that, for a fetch, says it started and waits until `release` exists (bounded)."""
    real = shutil.which("git")
    assert real is not None
    folder.mkdir()
    wrapper = folder / "git"
    wrapper.write_text(
        "#!/bin/sh\n"
        'for argument in "$@"; do\n'
        '  if [ "$argument" = fetch ]; then\n'
        f"    touch '{started}'\n"
        "    i=0\n"
        f"    while [ ! -e '{release}' ] && [ $i -lt {HOLD_S * 20} ]; do sleep 0.05; i=$((i+1)); done\n"
        "    break\n"
        "  fi\n"
        "done\n"
        f"exec '{real}' \"$@\"\n"
    )
    wrapper.chmod(0o755)
    return folder


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"not reached within {DEADLINE_S} s: {what}")


def status_of(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=CLIENT_TIMEOUT_S).status_code
    except httpx.TransportError:
        return None


def test_ready_is_503_while_the_first_fetch_runs_and_200_once_served(tmp_path: Path) -> None:
    repo = git_repository(tmp_path / "repo")
    started, release = tmp_path / "fetch-started", tmp_path / "fetch-released"
    wrappers = slow_git(tmp_path / "bin", started, release)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = {k: v for k, v in os.environ.items() if k not in ("SANDBOX_JWT_SECRET", "GIT_PYTHON_GIT_EXECUTABLE")}
    environment["PATH"] = f"{wrappers}{os.pathsep}{environment.get('PATH', '')}"
    command = [sys.executable, "-m", "sandbox", "serve", "--port", str(port), "--poll", "0", "--jwt-secret", SECRET]
    command += ["--fixtures", f"file://{repo.working_dir}", "--cache-dir", str(tmp_path / "cache")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.rstrip() for line in process.stdout or ()))
    reader.start()
    try:
        wait_for(started.exists, "the first fetch started (and is held)")
        wait_for(lambda: status_of(f"{base}/__sandbox/live") == 200, "live while fetching")
        ready = httpx.get(f"{base}/__sandbox/ready", timeout=CLIENT_TIMEOUT_S)
        assert ready.status_code == 503
        assert ready.json() == {"ready": False, "reason": "fetching the git sources"}
        assert ready.headers["retry-after"] == "2" and ready.headers["x-sandbox-outcome"] == "loading"
        with pytest.raises(httpx.TransportError):  # closed unanswered, as before anything listened
            httpx.get(f"{base}/v3/demo/unites_legales/130025265", params=sequence.TRACKING, timeout=CLIENT_TIMEOUT_S)
        assert process.poll() is None and not any("Serving in" in line for line in list(lines))
        assert not release.exists() and started.exists()  # all of the above while the fetch was held

        release.touch()
        wait_for(lambda: status_of(f"{base}/__sandbox/ready") == 200, "ready once the snapshot is served")
        served = httpx.get(f"{base}/__sandbox/ready", timeout=CLIENT_TIMEOUT_S).json()
        assert served == {"ready": True, "revision": repo.head.commit.hexsha}
        assert httpx.get(f"{base}/__sandbox/live", timeout=CLIENT_TIMEOUT_S).json() == {"live": True}
        wait_for(lambda: any("Serving in" in line for line in list(lines)), "the serving line")
        hit = httpx.get(
            f"{base}/v3/demo/unites_legales/130025265",
            params=sequence.TRACKING,
            headers=sequence.bearer(),
            timeout=CLIENT_TIMEOUT_S,
        )
        assert hit.status_code == 200 and hit.headers["x-sandbox-case"].endswith("/200.yaml")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE_S) == 0
    finally:
        release.touch()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=DEADLINE_S)
        reader.join(timeout=DEADLINE_S)
    output = "\n".join(lines)
    assert "cases: 6 (+ 0 FranceConnect tokens)" in output, output  # the load summary, as before
    assert output.index("Loaded ") < output.index("Serving in")
    assert "Traceback" not in output


def test_the_probe_answers_are_bounded_and_anything_else_is_closed_unanswered() -> None:
    """`answer_probes` on a loopback socket, as `sandbox serve` runs it while it loads."""
    import asyncio
    import socket

    from sandbox.serve.health import answer_probes

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(answer_probes(listener, lambda: "why", stop),))
    thread.start()

    def exchange(raw: bytes) -> bytes:
        received = b""
        with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT_S) as client:
            try:  # a request refused half-sent may be reset: nothing was answered
                client.sendall(raw)
                while chunk := client.recv(65536):
                    received += chunk
            except (ConnectionResetError, BrokenPipeError):
                pass
        return received

    try:
        live = exchange(b"GET /__sandbox/live HTTP/1.1\r\nHost: x\r\n\r\n")
        assert live.startswith(b"HTTP/1.1 200 ") and live.endswith(b'{"live":true}')
        ready = exchange(b"GET /__sandbox/ready?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ready.startswith(b"HTTP/1.1 503 ") and ready.endswith(b'{"ready":false,"reason":"why"}')
        head = exchange(b"HEAD /__sandbox/ready HTTP/1.1\r\nHost: x\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ") and head.endswith(b"\r\n\r\n")
        assert exchange(b"GET /api/ping HTTP/1.1\r\nHost: x\r\n\r\n") == b""
        assert exchange(b"POST /__sandbox/live HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n") == b""
        assert exchange(b"not http at all\r\n\r\n") == b""
        assert exchange(b"GET /__sandbox/live HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n") == b""
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=DEADLINE_S)
        loop.close()
