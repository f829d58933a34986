"""The `sandbox serve` process: checked before it loads, probed while it loads, drained when told to stop.

The listening socket is bound and the cache folder written to before the corpus loads, so
that a port in use or an unusable folder is a one-line error at once, not a traceback
after a long load. While the first snapshot loads, a small server answers the probes on
the same socket (`answering_while_loading`). SIGTERM (and Ctrl+C) stop accepting
connections, let the requests in flight finish (up to the shutdown timeout) and end the
process with status 0: an orchestrator's ordinary stop is not reported as a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from sandbox.serve.health import answer_probes
from sandbox.serve.metrics import MULTIPROCESS_ENVIRONMENT

WORKER_FACTORY = "sandbox.cli.serve:create_app_from_environment"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_PROBES_STOP_S = 10.0  # the probes' answers take milliseconds; a stuck one is left to its daemon thread


class ProcessError(RuntimeError):
    """The process cannot serve as configured (port, cache folder): a one-line message."""


def check_cache_dir(path: Path) -> None:
    """Create the folder and a file in it: clones, exported commits and parsed documents go there."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-") as probe:
            probe.write(b"ok")
            probe.flush()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ProcessError(
            f"cache directory {path} is not usable ({reason}); choose another with --cache-dir or SANDBOX_CACHE_DIR"
        ) from None


def bind_listener(host: str, port: int) -> socket.socket:
    """The listening socket, bound now (uvicorn listens on it later); port 0 lets the system choose."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart may reuse a port in TIME_WAIT
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        if isinstance(error, socket.gaierror):
            reason = f"unknown address ({reason})"
        raise ProcessError(f"cannot listen on {host} port {port}: {reason}") from None
    sock.set_inheritable(True)  # shared with the worker processes
    return sock


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def serve(app: Any, sock: socket.socket, **options: Any) -> int:
    """Serve in this process until SIGTERM or SIGINT; 0 after a graceful shutdown.

    uvicorn re-raises the stop signal once it has drained (status 143 for SIGTERM). It
    restores the handlers that were in place before it ran, so ours are: they only ask
    the server to stop, which also covers a signal received just before uvicorn's own
    handlers are installed.
    """
    server = uvicorn.Server(uvicorn.Config(app, **options))

    def stop(_signal: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in _STOP_SIGNALS}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if server.started else 1


def supervise(workers: int, sock: socket.socket, **options: Any) -> int:
    """Run `workers` processes on one socket; 0 after SIGTERM or SIGINT, 1 if a worker could not start.

    The supervisor handles the stop signals itself (it terminates the workers, which drain,
    and waits for them); each worker assembles its app from the environment. This is what
    `uvicorn.run` does with `workers > 1` (uvicorn >= 0.51), on our socket.
    """
    config = uvicorn.Config(WORKER_FACTORY, factory=True, workers=workers, **options)
    supervisor = Multiprocess(config, sockets=[sock])
    supervisor.run()
    return 1 if any(worker.exitcode == STARTUP_FAILURE for worker in supervisor.processes) else 0


@contextlib.contextmanager
def answering_while_loading(sock: socket.socket, reason: Callable[[], str]) -> Iterator[None]:
    """Answer the probes on `sock` from a thread while the body of the `with` loads (`serve.health`).

    They are answered on a duplicate of the socket, which stopping closes: the socket stays
    bound and listening, and a connection that arrives between this stop and the real
    server's start waits in its backlog. The main thread keeps the default signal handling:
    a signal during the load still ends the process at once.
    """
    duplicate = sock.dup()
    duplicate.listen()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(answer_probes(duplicate, reason, stop),), name="sandbox-probes"
    )
    thread.daemon = True
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=_PROBES_STOP_S)
        if not thread.is_alive():
            loop.close()
        duplicate.close()


@contextlib.contextmanager
def metrics_directory(enabled: bool) -> Iterator[str | None]:
    """`--workers N`: one folder for every worker's metric files (`PROMETHEUS_MULTIPROC_DIR`), made
    for this run and removed after it; the workers inherit the variable before they import anything."""
    if not enabled:
        yield None
        return
    previous = os.environ.get(MULTIPROCESS_ENVIRONMENT)
    with tempfile.TemporaryDirectory(prefix="sandbox-metrics-") as directory:
        os.environ[MULTIPROCESS_ENVIRONMENT] = directory
        try:
            yield directory
        finally:
            if previous is None:
                os.environ.pop(MULTIPROCESS_ENVIRONMENT, None)
            else:
                os.environ[MULTIPROCESS_ENVIRONMENT] = previous
