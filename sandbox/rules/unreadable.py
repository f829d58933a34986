"""Requests Rails cannot read (spec §3.6): 400 `00401` "Votre requête est invalide: <message>".

* A `Content-Type` header that is not a MIME type: `ParamsWrapper` reads it on every API
  controller before any callback, so the 400 comes before the token check (siade's
  `APIController#process_action` rescues `InvalidType`). Rails' message is
  `"<type>" is not a valid MIME type`, the type being the header up to its first `,` or
  `;`, stripped and lower-cased.
* A body that does not parse under a JSON `Content-Type` (the only body parser of a Rails API
  app), and a query string Rack cannot parse (a `%` not followed by two hex digits, bytes
  that are not UTF-8, `k=…&k[]=…`). Real staging lets these errors through to Rails'
  exception page (a bare 400); the sandbox answers the same 00401 in the API's format
  (docs/fidelity.md).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from urllib.parse import unquote_to_bytes

from sandbox.rules.bounded_cache import BoundedCache

# Rails' `Mime::Type::MIME_REGEXP` (actionpack 8) over a media type without parameters (Rails
# looks the header up without them): `type/subtype` of word-ish characters, `*/*`, `type/*`.
_NAME = r"[a-zA-Z0-9][a-zA-Z0-9!#$&\-^_.+]{0,126}"
_MIME = re.compile(r"(?:\*/\*|" + _NAME + r"/(?:\*|" + _NAME + r"))")
# The media types Rails registers as `:json`, whose bodies it parses as JSON.
JSON_TYPES = frozenset({"application/json", "text/x-json", "application/jsonrequest", "application/problem+json"})
PARSE_ERROR = "Error occurred while parsing request parameters"


def media_type(content_type: str) -> str:
    """What Rails looks the header up by: up to the first `,` or `;`, stripped, lower-cased."""
    return re.split(r"[,;]", content_type, maxsplit=1)[0].strip().lower()


def _ruby_inspect(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("#{", "\\#{")
    escaped = "".join(
        {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e"}.get(c, f"\\u{ord(c):04X}")
        if ord(c) < 0x20 or ord(c) == 0x7F
        else c
        for c in escaped
    )
    return f'"{escaped}"'


def content_type_problem(content_type: str | None) -> str | None:
    """Rails' message when the `Content-Type` header (None: not sent) is not a MIME type."""
    if content_type is None:
        return None
    media = media_type(content_type)
    if not media or _MIME.fullmatch(media):
        return None  # an empty header is taken as none
    return f"{_ruby_inspect(media)} is not a valid MIME type"


def reads_body(content_type: str | None) -> bool:
    """True when Rails would parse the body: a JSON `Content-Type`."""
    return content_type is not None and media_type(content_type) in JSON_TYPES


def body_problem(content_type: str | None, body: bytes) -> str | None:
    """The message when a non-empty body does not parse under its JSON `Content-Type`."""
    if not body or not reads_body(content_type):
        return None
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return PARSE_ERROR
    return None


_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def _decoded(raw: bytes) -> str | None:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


# A `%` that is not an escape of an ASCII byte: the query string may hold a bad escape or bytes
# that are not UTF-8 once decoded, which the full check finds (in order, with its message).
_NOT_ASCII_ESCAPE = re.compile(rb"%(?![0-7][0-9A-Fa-f])")


@lru_cache(maxsize=1024)
def _ascii_name(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))


def _array_after_scalar(query_string: bytes) -> str | None:
    """The full check's answer for a query string whose escapes all decode to ASCII: only a name
    sent as a scalar, then as an array (`k=…&k[]=…`), can go wrong."""
    scalars: set[bytes] = set()
    for piece in query_string.split(b"&"):
        name = piece.partition(b"=")[0]
        if b"%" in name or b"+" in name:
            name = _ascii_name(name) if len(name) <= 64 else unquote_to_bytes(name.replace(b"+", b" "))
        if name.endswith(b"[]"):
            if name[:-2] in scalars:
                return array_after_scalar(name[:-2].decode("ascii"))
        else:
            scalars.add(name)
    return None


# Query strings come back byte for byte (an integrator's suite repeats its requests): the verdict
# on the short ones is remembered, 1 024 of at most 512 bytes (about 1 MiB, whatever clients send).
REMEMBERED_QUERY_BYTES = 512
_VERDICTS: BoundedCache[bytes, tuple[str | None]] = BoundedCache(1024, 1024 * (REMEMBERED_QUERY_BYTES + 512))


def query_problem(query_string: bytes) -> str | None:
    """Rails' message when Rack cannot parse the query string (`Invalid query parameters: …`), or None."""
    known = remembered_query_problem(query_string)
    if known is not None:
        return known[0]
    problem = _query_problem(query_string)
    remember_query_problem(query_string, problem)
    return problem


def remembered_query_problem(query_string: bytes) -> tuple[str | None] | None:
    """`(query_problem,)` of a query string seen lately; None when it was not."""
    return _VERDICTS.get(query_string)


def remember_query_problem(query_string: bytes, problem: str | None) -> None:
    if len(query_string) <= REMEMBERED_QUERY_BYTES:
        _VERDICTS.put(query_string, (problem,), len(query_string))


def only_ascii_escapes(query_string: bytes) -> bool:
    """True when every `%` of an ASCII query string starts an escape of an ASCII byte: then only a
    name sent as a scalar, then as an array (`k=…&k[]=…`), can make it unreadable."""
    return _NOT_ASCII_ESCAPE.search(query_string) is None


def _query_problem(query_string: bytes) -> str | None:
    if query_string.isascii():
        if b"%" not in query_string and b"[]" not in query_string:
            return None  # the common case: nothing to decode, no array
        if only_ascii_escapes(query_string):
            return _array_after_scalar(query_string)  # `prenoms%5B%5D=…`: names to decode, nothing else
    return full_query_problem(query_string)


def full_query_problem(query_string: bytes) -> str | None:
    """`query_problem`, every piece decoded and checked in order (what the shortcuts must agree with)."""
    scalars: set[str] = set()
    for piece in query_string.split(b"&"):
        name, _, value = piece.partition(b"=")
        for raw in (name, value):
            if _BAD_PERCENT.search(raw):
                return f"Invalid query parameters: invalid %-encoding ({raw.decode('latin-1')})"
        decoded_name, decoded_value = _decoded(name), _decoded(value)
        if decoded_name is None or decoded_value is None:
            return "Invalid query parameters: invalid byte sequence in UTF-8"
        if decoded_name.endswith("[]"):
            key = decoded_name[:-2]
            if key in scalars:
                return array_after_scalar(key)
        else:
            scalars.add(decoded_name)
    return None


def unreadable(content_type: str | None, body: bytes, query_string: bytes = b"") -> str | None:
    """Why Rails cannot read this request (the detail's message), or None."""
    return content_type_problem(content_type) or query_problem(query_string) or body_problem(content_type, body)


def array_after_scalar(key: str) -> str:
    return f"Invalid query parameters: expected Array (got String) for param `{key}'"
