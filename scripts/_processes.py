"""Start servers as separate processes on loopback and wait until they answer (shared by the scripts)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answering(url: str, deadline: float) -> float:
    """Poll `url` until the server answers it (while the first snapshot loads, a probe's 'loading'
    answer does not count and anything else is closed unanswered); return the monotonic time of
    the first answer."""
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=0.5).headers.get("x-sandbox-outcome") != "loading":
                return time.monotonic()
        except httpx.TransportError:
            pass
        time.sleep(0.005)
    raise TimeoutError(f"{url} did not answer in time")


def wait_until_ready(base: str, deadline: float) -> float:
    """Poll `base`/__sandbox/ready until it says 200 (503 while the first snapshot loads)."""
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/__sandbox/ready", timeout=0.5).status_code == 200:
                return time.monotonic()
        except httpx.TransportError:
            pass
        time.sleep(0.005)
    raise TimeoutError(f"{base} was not ready in time")


@contextmanager
def server(
    args: Sequence[str],
    timeout_s: float = 60,
    output: IO[bytes] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run `python args...` with `{port}` filled in; yield the process and its base URL.

    `output`: a file that receives the process's stdout and stderr (default: discarded);
    `env`: variables added to this process's environment.
    """
    port = free_port()
    command = [sys.executable, *(a.replace("{port}", str(port)) for a in args)]
    sink: IO[bytes] | int = output if output is not None else subprocess.DEVNULL
    environment = {**os.environ, **env} if env else None
    process = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=sink, env=environment)
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
