"""Run the sandbox on a free loopback port in a background thread (tests, benchmarks, pytest plugin)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from sandbox.serve.wire import DirectProtocol

_START_TIMEOUT_S = 15.0
# Longer than a client's own idle expiry (httpx: 5 s), so that the client always drops an idle
# connection first. With uvicorn's default (5 s, the same), a test that holds a client idle for
# 5 s (a slow step on a loaded machine) may send on a connection the server is closing: a reset.
_KEEP_ALIVE_S = 75


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", **options: Any) -> Iterator[str]:
    """Serve `app` with a real uvicorn on `host` (loopback) and yield its base URL; `options` go to
    `uvicorn.Config` over the defaults below (e.g. `loop="asyncio", http="h11"`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    settings: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "lifespan": "off",
        "http": DirectProtocol,  # httptools; the sandbox's API answers written at once (serve.wire)
        "timeout_keep_alive": _KEEP_ALIVE_S,
    }
    config = uvicorn.Config(app, **{**settings, **options})
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=_START_TIMEOUT_S)
        sock.close()
