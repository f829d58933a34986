"""API answers written from the HTTP parser's own callback, when nothing in them has to wait.

uvicorn runs every request as an asyncio task speaking ASGI: a scope, a task, two `send`
messages, each response header checked and joined in Python. A sandbox answer is decided
without waiting on anything (the request path is synchronous), so for the common request
(GET or HEAD, no body, nothing in flight on the connection) `DirectProtocol` decides it in
`on_headers_complete` and writes status line, headers and body in one `write`: byte for
byte what uvicorn writes for the same answer through ASGI (tests/test_wire.py compares
both). Everything else goes uvicorn's way, unchanged: the sandbox's own routes, a request
with a body, `Expect: 100-continue`, an upgrade, a request pipelined behind an answer in
flight, a connection whose client is not reading, `Prefer`, `--latency`, an oversized request.

The protocol serves any ASGI app; it answers directly only when the app (under uvicorn's
proxy-headers middleware) is a `SandboxApp`, whose API path reads neither the client
address nor the scheme that middleware rewrites.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import unquote

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE, STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from sandbox.rules.rendering import Header
from sandbox.serve.app import Decided, SandboxApp

_READING = {b"GET": "GET", b"HEAD": "HEAD"}
_BODY_HEADERS = (b"content-length", b"transfer-encoding")
_INTERNAL_ERROR: tuple[Header, ...] = ((b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21"))
# How many levels of middleware uvicorn may put around the app (proxy headers, message logger).
_WRAPPERS = 4


class _Answered:
    """The connection's last request, answered in full: what uvicorn's callbacks read of a cycle."""

    response_complete = True
    disconnected = False

    class message_event:
        @staticmethod
        def set() -> None:
            return None


_ANSWERED: Any = _Answered()


def sandbox_of(app: Any) -> SandboxApp | None:
    """The `SandboxApp` under uvicorn's middleware, if the served app is one."""
    for _ in range(_WRAPPERS):
        if isinstance(app, SandboxApp):
            return app
        app = getattr(app, "app", None)
    return None


class DirectProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering the sandbox's API requests without an ASGI task."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn's request line (`access_log`: its logger has a handler somewhere) is written by its
        # ASGI path only: a connection that would write one at INFO is left to it.
        logs_requests = self.access_log and self.access_logger.isEnabledFor(logging.INFO)
        direct = self.limit_concurrency is None and not logs_requests and not self.root_path
        self._sandbox = sandbox_of(self.app) if direct else None
        self._defaults: tuple[object, bytes] = (None, b"")

    def on_headers_complete(self) -> None:
        try:
            decided = self._decided_now()
        except Exception as exc:  # what uvicorn does when an ASGI app raises before answering
            self.logger.error("Exception in ASGI application\n", exc_info=exc)
            self._write(500, _INTERNAL_ERROR, b"Internal Server Error")
            return
        if decided is None:
            super().on_headers_complete()
            return
        self._write(decided.status, decided.headers, decided.body)
        try:
            self._sandbox.settle(decided)  # type: ignore[union-attr]  # set when an answer is decided
        except Exception as exc:  # written already: the parser must not see it (it would answer 400)
            self.logger.error("Exception in ASGI application\n", exc_info=exc)

    def _decided_now(self) -> Decided | None:
        """The sandbox's answer, if this request can have it now; None: uvicorn's ASGI path."""
        sandbox, cycle, parser = self._sandbox, self.cycle, self.parser
        if (
            sandbox is None
            or (cycle is not None and not cycle.response_complete)
            or self.expect_100_continue
            or self.flow.write_paused
            or self.transport.is_closing()  # `Connection: close` answered: what follows is uvicorn's
            or parser.should_upgrade()
        ):
            return None
        method = _READING.get(parser.get_method())
        if method is None or parser.get_http_version() not in ("1.1", "1.0"):
            return None
        for name, _value in self.headers:
            if name in _BODY_HEADERS:
                return None
        try:
            url = httptools.parse_url(self.url)
            path = url.path.decode("ascii")
        except (httptools.HttpParserInvalidURLError, UnicodeDecodeError):
            return None  # uvicorn's own path answers these (400)
        if "%" in path:
            path = unquote(path)
        return sandbox.answer_now(method, path, url.path, url.query or b"", self.headers)

    def _write(self, status: int, headers: tuple[Header, ...], body: bytes) -> None:
        """Status line, uvicorn's default headers (date, server), the answer's, and the body, at once."""
        names = b"".join([name for name, _ in headers])
        # uvicorn's own checks, on all the names and all the values at once (a tab is a valid value byte)
        if HEADER_RE.search(names) or HEADER_VALUE_RE.search(b"\t".join([value for _, value in headers])):
            # uvicorn refuses such a header once the answer is started: it closes the connection
            self.logger.error("Exception in ASGI application\n", exc_info=RuntimeError("Invalid HTTP header."))
            self.transport.close()
            return
        lower = names.islower() or names == names.lower()
        content = [STATUS_LINE[status], self._default_block()]
        for name, value in headers:
            content += (name if lower else name.lower(), b": ", value, b"\r\n")
        parser = self.parser
        keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
        if not keep_alive:
            content.append(b"connection: close\r\n")
        content += (b"\r\n", body)
        self.cycle = _ANSWERED
        self.transport.write(b"".join(content))
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()

    def _default_block(self) -> bytes:
        """uvicorn's default headers as lines, joined again only when the server renews them (each second)."""
        defaults = self.server_state.default_headers
        seen, block = self._defaults
        if seen is not defaults:
            block = b"".join(b"%s: %s\r\n" % (name, value) for name, value in defaults)
            self._defaults = (defaults, block)
        return block
