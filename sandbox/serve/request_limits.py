"""Size limits on what a client sends, checked on the raw ASGI scope before anything is parsed.

The defaults are those of the front servers real deployments sit behind (nginx:
8 KiB per header line and per request line, four such buffers in all), so a request
the real staging would accept is accepted here too. Over a limit the answer is a
short plain-text error, as a front server gives, never a parse of the oversized part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import Receive, Scope

DEFAULT_MAX_URL_BYTES = 8 * 1024
DEFAULT_MAX_HEADER_BYTES = 8 * 1024
DEFAULT_MAX_TOTAL_HEADER_BYTES = 32 * 1024
DEFAULT_MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # nginx's `client_max_body_size`

# What every answer carries: no browser may guess a type other than the one sent.
NOSNIFF = (b"x-content-type-options", b"nosniff")


@dataclass(frozen=True, slots=True)
class RequestLimits:
    max_url_bytes: int = DEFAULT_MAX_URL_BYTES  # path and query string, as sent
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES  # one header line: `name: value`
    max_total_header_bytes: int = DEFAULT_MAX_TOTAL_HEADER_BYTES  # every header line together
    max_webhook_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES  # body of POST /__sandbox/webhook
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # body of an API request (read only under a JSON type)


@dataclass(frozen=True, slots=True)
class Oversize:
    """Why a request is refused before it is read: status, a plain-text line, its X-Sandbox-Outcome."""

    status: int
    text: str
    outcome: str


def oversize(scope: Scope, limits: RequestLimits) -> Oversize | None:
    """414 when the request target is too long, 431 when a header line or all of them are; else None."""
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    return oversize_of(raw_path, scope.get("query_string") or b"", scope["headers"], limits)


def oversize_of(
    raw_path: bytes, query: bytes, headers: Iterable[tuple[bytes, bytes]], limits: RequestLimits
) -> Oversize | None:
    """`oversize` of a request's parts, as the HTTP parser gives them."""
    url_bytes = len(raw_path) + (len(query) + 1 if query else 0)
    if url_bytes > limits.max_url_bytes:
        return Oversize(
            414, f"414 URI Too Long: the request target is over {limits.max_url_bytes} bytes\n", "uri-too-long"
        )
    total = 0
    for name, value in headers:
        line = len(name) + len(value) + 2  # `name: value`
        if line > limits.max_header_bytes:
            return Oversize(
                431,
                f"431 Request Header Fields Too Large: a header line is over {limits.max_header_bytes} bytes\n",
                "headers-too-large",
            )
        total += line + 2  # CRLF
    if total > limits.max_total_header_bytes:
        return Oversize(
            431,
            f"431 Request Header Fields Too Large: the headers are over {limits.max_total_header_bytes} bytes\n",
            "headers-too-large",
        )
    return None


def body_too_large(limit: int) -> Oversize:
    return Oversize(413, f"413 Payload Too Large: the body is over {limit} bytes\n", "body-too-large")


def announced_too_large(scope: Scope, limit: int) -> bool:
    """A `Content-Length` over `limit` (a front server refuses it before anything reads the body)."""
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            return value.isdigit() and (len(value) > 20 or int(value) > limit)
    return False


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it is over `limit` bytes (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)  # the client left
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
