"""`sandbox serve` at its edges, as a real process: bad arguments, a busy port, an unusable
cache folder, and a SIGTERM while requests are in flight."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

DEADLINE_S = 60.0
WEBHOOK_SECRET = "process-test-secret"


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    """`sandbox serve` that is expected to stop on its own (an error)."""
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )


class ServeProcess:
    """`sandbox serve --port 0` in the background; its output collected line by line."""

    def __init__(self, *args: str) -> None:
        command = [sys.executable, "-m", "sandbox", "serve", "--port", "0", *args]
        environment = {k: v for k, v in os.environ.items() if k != "SANDBOX_JWT_SECRET"}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        serving = self.wait_for_line("Serving in ")
        match = re.search(r"on (http://\S+)", serving)
        assert match, serving
        self.base = match.group(1)
        self.port = int(self.base.rsplit(":", 1)[1])

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def wait_for_line(self, text: str, count: int = 1) -> str:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if text in line]
            if len(found) >= count:
                return found[0]
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"no line with {text!r} in:\n" + "\n".join(self.lines))

    def wait_until_answering(self, workers: int = 1) -> None:
        """Every worker answers (each status names its process id)."""
        deadline = time.monotonic() + DEADLINE_S
        pids: set[int] = set()
        while time.monotonic() < deadline and len(pids) < workers:
            try:
                pids.add(httpx.get(f"{self.base}/__sandbox/status", timeout=30).json()["sync"]["pid"])
            except httpx.TransportError:
                time.sleep(0.05)
        assert len(pids) == workers, pids

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=DEADLINE_S)
        self._reader.join(timeout=DEADLINE_S)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=DEADLINE_S)


# -- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--port", "99999"], "argument --port: expected a port from 0 to 65535, got '99999'"),
        (["--port", "-1"], "argument --port: expected a port from 0 to 65535"),
        (["--poll", "-5"], "argument --poll: expected a number of seconds from 1 to 86400, or 0 for never"),
        (["--poll", "nan"], "argument --poll: expected a number of seconds"),
        (["--poll", "inf"], "argument --poll: expected a number of seconds"),
        (["--poll", "0.001"], "argument --poll: expected a number of seconds"),
        (["--journal-size", "-1"], "argument --journal-size: expected a whole number from 0 to 10000, got '-1'"),
        (["--journal-size", "100000000"], "argument --journal-size: expected a whole number from 0 to 10000"),
        (["--today", "2026-13-01"], "argument --today: expected a date YYYY-MM-DD, e.g. 2026-01-31, got '2026-13-01'"),
        (["--today", "2026-W05"], "argument --today: expected a date YYYY-MM-DD, e.g. 2026-01-31"),
        (["--workers", "0"], "argument --workers: expected a whole number from 1 to 64, got '0'"),
        (["--workers", "two"], "argument --workers: expected a whole number from 1 to 64"),
        (["--shutdown-timeout", "0"], "argument --shutdown-timeout: expected a number of seconds from 1 to 3600"),
    ],
)
def test_a_bad_value_is_an_argument_error_before_anything_loads(arguments: list[str], expected: str) -> None:
    result = run_serve(*arguments)
    assert result.returncode == 2
    assert result.stdout == ""  # the load summary ("Loaded …") was never printed
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("sandbox serve: error: ")
    assert expected in result.stderr


def test_a_good_value_of_each_bounded_option_is_accepted(tmp_path: Path) -> None:
    """The bounds accept their limits: the same command with a busy port fails on the port, not on them."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_serve(
            "--port", str(port), "--poll", "0", "--journal-size", "10000", "--today", "2024-02-29",
            "--workers", "64", "--shutdown-timeout", "3600", "--cache-dir", str(tmp_path / "cache"),
        )  # fmt: skip
    assert result.returncode == 2 and "argument" not in result.stderr
    assert f"port {port}: Address already in use" in result.stderr


# -- port and cache folder, checked before the corpus loads ----------------------------------


def test_a_port_in_use_is_named_before_the_corpus_loads(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_serve("--port", str(port), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 2
    assert result.stderr == f"sandbox: cannot listen on 127.0.0.1 port {port}: Address already in use\n"
    assert "Loaded" not in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize("fixtures", ["local", "git"])
def test_an_unusable_cache_dir_is_named_before_the_corpus_loads(tmp_path: Path, fixtures: str) -> None:
    """Tests run as root, for whom no permission bit is read-only: a folder under a file is unusable."""
    (tmp_path / "file").write_text("not a folder")
    cache = tmp_path / "file" / "cache"
    source = [] if fixtures == "local" else ["--fixtures", f"file://{Path(__file__).resolve().parent.parent}"]
    result = run_serve("--cache-dir", str(cache), *source)
    assert result.returncode == 2
    assert result.stderr == (
        f"sandbox: cache directory {cache} is not usable (Not a directory); "
        "choose another with --cache-dir or SANDBOX_CACHE_DIR\n"
    )
    assert "Loaded" not in result.stdout


def test_the_cache_dir_comes_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    cache = tmp_path / "file" / "cache"
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        env={**os.environ, "SANDBOX_CACHE_DIR": str(cache)},
    )
    assert result.returncode == 2 and f"cache directory {cache} is not usable" in result.stderr


# -- SIGTERM ---------------------------------------------------------------------------------


def start_webhook_request(port: int) -> tuple[socket.socket, bytes]:
    """A signed webhook ping sent without its last body bytes: the request is in flight,
    the app waiting for its body, until `finish_webhook_request` sends them."""
    body = b'{"zen": "Keep it logically awesome."}'
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    head = (
        f"POST /__sandbox/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: ping\r\nX-Hub-Signature-256: sha256={signature}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    client.sendall(head.encode() + body[:10])
    return client, body[10:]


def finish_webhook_request(client: socket.socket, rest: bytes) -> bytes:
    client.sendall(rest)
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    client.close()
    return received


def burst(base: str, stop: threading.Event, complete: list[int], cut: list[str]) -> None:
    """Requests until the server stops answering; a response whose headers arrived must arrive whole."""
    with httpx.Client(timeout=30) as client:
        for _ in range(10_000):
            if stop.is_set():
                return
            try:
                with client.stream("GET", f"{base}/__sandbox/status") as response:
                    try:
                        body = response.read()
                        assert response.json()["sync"]["pid"]  # parses: complete
                        complete.append(len(body))
                    except Exception as error:  # headers came, the body did not
                        cut.append(f"{type(error).__name__}: {error}")
                        return
            except httpx.TransportError:
                return  # no response at all: refused or closed before it began


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_lets_requests_in_flight_finish_and_exits_0(tmp_path: Path, workers: int) -> None:
    served = ServeProcess(
        "--workers", str(workers), "--webhook-secret", WEBHOOK_SECRET, "--cache-dir", str(tmp_path / "cache")
    )  # fmt: skip
    try:
        served.wait_until_answering(workers)
        stop = threading.Event()
        complete: list[int] = []
        cut: list[str] = []
        clients = [threading.Thread(target=burst, args=(served.base, stop, complete, cut)) for _ in range(4)]
        for client in clients:
            client.start()
        in_flight, rest = start_webhook_request(served.port)
        deadline = time.monotonic() + DEADLINE_S
        while len(complete) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        served.process.send_signal(signal.SIGTERM)
        served.wait_for_line("Shutting down", count=workers)  # every worker stops accepting…
        served.wait_for_line("Waiting for connections to close")  # …and waits for ours, still open
        answer = finish_webhook_request(in_flight, rest)
        code = served.process.wait(timeout=DEADLINE_S)
        stop.set()
        for client in clients:
            client.join(timeout=DEADLINE_S)
    finally:
        served.kill()
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b'{"message":"pong"}'), answer
    assert cut == [] and len(complete) >= 20
    assert code == 0, "\n".join(served.lines)
    assert not any("Traceback" in line for line in served.lines), "\n".join(served.lines)


def test_sigint_exits_0_too(tmp_path: Path) -> None:
    served = ServeProcess("--cache-dir", str(tmp_path / "cache"))
    try:
        served.wait_until_answering()
        served.process.send_signal(signal.SIGINT)
        code = served.process.wait(timeout=DEADLINE_S)
    finally:
        served.kill()
    assert code == 0, "\n".join(served.lines)
    assert not any("Traceback" in line for line in served.lines)


def test_port_0_serves_on_the_port_it_prints(tmp_path: Path) -> None:
    served = ServeProcess("--cache-dir", str(tmp_path / "cache"))
    try:
        assert served.port != 0
        served.wait_until_answering()
        assert httpx.get(f"{served.base}/api/ping", timeout=30).status_code == 200
    finally:
        assert served.stop() == 0


def test_a_worker_app_stops_its_sync_threads_when_uvicorn_shuts_it_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--workers`: each worker's poll and watch threads end with the ASGI lifespan shutdown."""
    import asyncio

    from sandbox.cli.serve import create_app_from_environment
    from sandbox.cli.serve_config import CONFIG_ENVIRONMENT, ServeConfig
    from tests import tiny_repository

    root = tiny_repository.build(tmp_path)
    config = ServeConfig(fixtures=[str(root)], cache_dir=str(tmp_path / "cache"))
    monkeypatch.setenv(CONFIG_ENVIRONMENT, config.to_environment())
    before = set(threading.enumerate())
    app = create_app_from_environment()
    syncing = [t for t in threading.enumerate() if t not in before and t.name.startswith("sandbox-")]
    assert syncing and all(t.is_alive() for t in syncing)

    async def lifespan() -> list[str]:
        messages: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        for kind in ("lifespan.startup", "lifespan.shutdown"):
            messages.put_nowait({"type": kind})
        sent: list[str] = []

        async def send(message: Any) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, messages.get, send)
        return sent

    assert asyncio.run(lifespan()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert not any(t.is_alive() for t in syncing)
