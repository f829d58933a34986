"""Writing an answer on the wire, on time or broken on purpose (`Prefer: delay=`, `fault=`, `--latency`).

A delay is an `asyncio.sleep` in the request's own task: the event loop serves every other
request meanwhile. The faults act on the connection itself, so that a real HTTP client sees
what a failing provider or network gives it:

* `reset`: the connection is aborted with `SO_LINGER` 0: the client reads a TCP reset;
* `empty`: the connection is closed before anything is written (an empty reply);
* `timeout`: nothing is written until `--max-delay`, then the connection is closed;
* `truncated`: the status line and headers announce the whole body (`Content-Length`),
  half of it is written, then the connection is closed.

uvicorn does not put the connection in the ASGI scope; its `send` is a method of the
request's cycle, which holds the transport (`transport_of`). Served some other way (the
in-process `httpx.ASGITransport`), a fault that needs the connection raises
`ConnectionResetError` / `ConnectionAbortedError` in the app instead.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Sequence
from typing import Any, Protocol, cast

from starlette.types import Receive, Send

from sandbox.rules.rendering import Header

# How long, and how many messages, to wait for uvicorn to see a connection we closed.
_DISCONNECT_WAIT_S = 5.0
_DISCONNECT_MESSAGES = 4


class Connection(Protocol):
    """What a fault needs of a transport (asyncio's, or uvloop's, which is not an `asyncio.Transport`)."""

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def transport_of(send: Send) -> Connection | None:
    """The connection of a uvicorn request (the cycle whose method `send` is), if there is one."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if all(callable(getattr(transport, name, None)) for name in ("get_extra_info", "close", "abort")):
        return cast(Connection, transport)
    return None


async def deliver(
    receive: Receive,
    send: Send,
    status: int,
    headers: Sequence[Header],
    body: bytes,
    *,
    delay_s: float = 0.0,
    fault: str | None = None,
    max_delay_s: float = 30.0,
) -> None:
    """Send one answer after `delay_s`, or break the connection the way `fault` says."""
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    if fault is None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    transport = transport_of(send)
    if fault == "truncated":
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    elif fault == "timeout":
        await asyncio.sleep(max(0.0, max_delay_s - delay_s))
    if transport is None:
        if fault == "reset":
            raise ConnectionResetError("Prefer: fault=reset (no connection to reset: not served by uvicorn)")
        if fault != "truncated":
            raise ConnectionAbortedError(f"Prefer: fault={fault} (no connection to close: not served by uvicorn)")
        return
    if fault == "reset":
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    await _until_disconnected(receive)


async def _until_disconnected(receive: Receive) -> None:
    """Return once uvicorn has seen the connection go (it then logs nothing about an unfinished answer)."""
    for _ in range(_DISCONNECT_MESSAGES):
        try:
            message = await asyncio.wait_for(receive(), _DISCONNECT_WAIT_S)
        except TimeoutError:
            return
        if message.get("type") == "http.disconnect":
            return
