"""Liveness and readiness: what an orchestrator's probes read, before and after the first snapshot.

`GET /__sandbox/live` says the process answers; `GET /__sandbox/ready` says it serves a
snapshot (for a git source: the cache holds a commit, exported and built). Both need no token
and tell nothing about the host.

While the first snapshot loads (a first clone can take minutes), `answer_probes` serves the
listening socket: live 200, ready 503 with the reason, and any other request is closed
unanswered, as when nothing listened yet, so that a client waiting for the sandbox (retrying
on connection errors) waits as it always did. Each request is parsed by h11 (bounded in size)
and has a few seconds to arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable

LIVE_PATH = "/__sandbox/live"
READY_PATH = "/__sandbox/ready"
RETRY_AFTER_S = 2
_REQUEST_BYTES = 8192  # a probe's request is a few hundred bytes
_REQUEST_TIMEOUT_S = 5.0


def live_body() -> bytes:
    return b'{"live":true}'


def ready_body(revision: str) -> bytes:
    return json.dumps({"ready": True, "revision": revision}, separators=(",", ":")).encode()


def not_ready_body(reason: str) -> bytes:
    return json.dumps({"ready": False, "reason": reason}, ensure_ascii=False, separators=(",", ":")).encode()


async def answer_probes(sock: socket.socket, reason: Callable[[], str], stop: asyncio.Event) -> None:
    """Answer the probes on `sock` (closed when done) until `stop` is set; the answers under way end first."""
    active: set[asyncio.Task[None]] = set()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h11  # on the first probe: a start-up with none does not load the parser

        task = asyncio.current_task()
        if task is not None:
            active.add(task)
            task.add_done_callback(active.discard)
        try:
            async with asyncio.timeout(_REQUEST_TIMEOUT_S):
                await _answer(reader, writer, reason)
        except (TimeoutError, OSError, h11.ProtocolError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(connected, sock=sock)
    async with server:
        await stop.wait()
    if active:
        _, late = await asyncio.wait(set(active), timeout=_REQUEST_TIMEOUT_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reason: Callable[[], str]) -> None:
    import h11

    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=_REQUEST_BYTES)
    event = connection.next_event()
    while event is h11.NEED_DATA:
        connection.receive_data(await reader.read(_REQUEST_BYTES))
        event = connection.next_event()
    if not isinstance(event, h11.Request) or event.method not in (b"GET", b"HEAD"):
        return
    path = event.target.split(b"?", 1)[0]
    if path == LIVE_PATH.encode():
        status, body = 200, live_body()
    elif path == READY_PATH.encode():
        status, body = 503, not_ready_body(reason())
    else:
        return  # closed unanswered: the sandbox is not serving yet
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-sandbox-outcome", b"loading"),
        (b"connection", b"close"),
    ]
    if status == 503:
        headers.append((b"retry-after", b"%d" % RETRY_AFTER_S))
    writer.write(connection.send(h11.Response(status_code=status, headers=headers)))
    if event.method == b"GET":
        writer.write(connection.send(h11.Data(data=body)))
    writer.write(connection.send(h11.EndOfMessage()))
    await writer.drain()
