"""Bytes on the wire: JSON encoded the way the real staging (Rails) encodes it, and content types."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

# Content types as they come on the wire (spec §11.6): Rails adds `; charset=utf-8` when it sets
# the type itself (`render json:`, `render content_type:` on a response without one), not when a
# v3 controller wrote the header directly before rendering (cases, `404.yaml`, 422, 503).
JSON_API = "application/vnd.api+json; charset=utf-8"
JSON_API_BARE = "application/vnd.api+json"
JSON = "application/json; charset=utf-8"
JSON_BARE = "application/json"  # the 429 of Rack::Attack
TEXT = "text/plain; charset=utf-8"
# What every answer of an organizer route carries once `Cacheable` ran (§4.7, §11.5).
CACHE_HEADERS = (("X-Response-Cached", "false"), ("X-Cache-Expires-in", ""))

# ActiveSupport escapes these in every JSON string it writes. Replaced one after the other: each
# `str.replace` is a C scan, where `str.translate` with a table looks every character up (10× slower
# on a 2 KB payload; hundreds of payloads are encoded at every load).
_RAILS_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def _iso(value: Any) -> str:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_json(value: Any) -> bytes:
    """Compact JSON, key order kept, non-ASCII raw UTF-8, `<>&` and U+2028/9 escaped like Rails.

    Dates (an unquoted `example: 2023-01-31` in an OpenAPI document) are written as ISO text.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_iso)
    for character, escaped in _RAILS_ESCAPES:
        if character in text:
            text = text.replace(character, escaped)
    return text.encode("utf-8")


Header = tuple[bytes, bytes]


# What no header value may hold (uvicorn refuses the whole response, h11 too): C0, DEL, C1.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def header_value(value: str) -> bytes:
    """A header value built from repository data (a file name…) that can never break the response:
    control characters are written `%XX`."""
    if not (value.isascii() and value.isprintable()):
        value = _CONTROL.sub(lambda match: f"%{ord(match.group()):02X}", value)
    return value.encode("utf-8")


def headers(*pairs: tuple[str, str]) -> tuple[Header, ...]:
    return tuple((name.lower().encode("latin-1"), header_value(value)) for name, value in pairs)
