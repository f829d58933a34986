"""The request journal: the last requests, in a bounded ring buffer, tokens redacted.

Recording is cheap (one tuple appended to a deque); entries are formatted only when
`GET /__sandbox/requests` asks for them, once each, in time linear in their size.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl

REDACTED = "[redacted]"
# A JWT (three base64url parts), wherever it appears: `eyJ[\w-]*\.[\w-]+\.[\w-]*`, the text before it
# in its word kept. Written so that it runs in linear time: a match may only start at the start of a
# word (the lookbehind), and the word's prefix cannot contain `eyJ`, so no position is scanned twice
# over (the plain pattern rescans the rest of the word from every `eyJ` in it: quadratic).
_JWT = re.compile(r"(?<![\w-])((?:(?!eyJ)[\w-])*)eyJ[\w-]*\.[\w-]+\.[\w-]*")
# A named token parameter in a raw query or log line: starts only at `?`, `&` or the start, and its
# value runs to the next delimiter without backtracking.
_TOKEN_PARAMETER = re.compile(r"((?:^|[?&])(?:token|access_token|api_key)=)[^&\s\"]*")
_SECRET_PARAMETERS = {"token", "access_token", "api_key"}
# A word at the end of a cut text (reversed: matched from the start of the reversed text, linear).
_LAST_WORD_REVERSED = re.compile(r"[\w.-]*")

# What one journal entry keeps and shows at most: requests are bounded by the URL limit, but keeping
# and formatting a thousand 8 KiB entries would cost MBs and hold the event loop for a long read;
# the rest is marked `"truncated": true`.
PATH_CHARS = 512
QUERY_CHARS = 1024
VALUE_CHARS = 256
PARAMETERS = 50
CUT = "…"


def journal_text(raw: str | bytes, limit: int) -> str:
    """What an entry keeps of a path or query string: one character past `limit` says it was cut."""
    kept = raw[: limit + 1]
    return kept.decode("latin-1") if isinstance(kept, bytes) else kept


def _keep_prefix(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


def redact_jwt(text: str) -> str:
    return _JWT.sub(_keep_prefix, text) if "eyJ" in text else text


def _redact_cut_end(text: str) -> str:
    """A text cut short may end with the start of a JWT that no longer looks like one: hide it too."""
    tail = _LAST_WORD_REVERSED.match(text[::-1])
    word_length = tail.end() if tail else 0
    start = text.find("eyJ", len(text) - word_length)
    return text if start < 0 else text[:start] + REDACTED


def _shorten(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit] + CUT, True)


def redact_query(query_string: str) -> list[tuple[str, str]]:
    """Parameters with token values removed: named token parameters, and any JWT-looking name or value.

    The raw text is redacted once, then each decoded name and value (a percent-encoded JWT).
    """
    redacted = []
    for name, value in parse_qsl(redact_jwt(query_string), keep_blank_values=True):
        if name.lower() in _SECRET_PARAMETERS:
            value = REDACTED
        redacted.append((redact_jwt(name), redact_jwt(value)))
    return redacted


def redact_text(text: str) -> str:
    """A log line or any text: JWTs and named token parameters hidden (linear time)."""
    return _TOKEN_PARAMETER.sub(r"\1" + REDACTED, redact_jwt(text))


def _bounded_params(query: str) -> tuple[list[list[str]], bool]:
    """The first QUERY_CHARS of a query string as redacted pairs (at most PARAMETERS of them, each side at most
    VALUE_CHARS): a cut JWT is hidden too."""
    cut = len(query) > QUERY_CHARS
    pieces = (query[:QUERY_CHARS] if cut else query).split("&", PARAMETERS)
    if len(pieces) > PARAMETERS:
        cut, pieces = True, pieces[:PARAMETERS]
    pairs = redact_query("&".join(pieces))
    shown = []
    for index, (name, value) in enumerate(pairs):
        if cut and index == len(pairs) - 1:
            name, value = _redact_cut_end(name), _redact_cut_end(value)
        name, name_cut = _shorten(name, VALUE_CHARS)
        value, value_cut = _shorten(value, VALUE_CHARS)
        cut = cut or name_cut or value_cut
        shown.append([name, value])
    return shown, cut


@dataclass(slots=True)  # not frozen: one per request (a frozen init is ~4x slower); never changed but its memo
class Entry:
    at: float
    method: str
    path: str  # at most PATH_CHARS + 1 characters kept (`journal_text`)
    query: str  # raw, at most QUERY_CHARS + 1 characters kept: redacted when read
    operation: str | None
    outcome: str
    case: str | None
    status: int
    duration_ms: float
    revision: str
    near_miss: str | None
    schema: str | None
    schema_errors: tuple[str, ...]
    preference: str | None = None  # `Preference-Applied`: what the request's `Prefer` header obtained
    auth: str | None = None  # why a token was refused: `X-Sandbox-Auth` (reason; hint)
    # formatted once, when first read (entries never change)
    _json: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    _encoded: bytes | None = field(default=None, compare=False, repr=False)

    def as_json(self) -> dict[str, Any]:
        """The entry as `/__sandbox/requests` shows it: tokens redacted, long texts cut (a fresh copy)."""
        if self._json is None:
            self._json = self._format()
        assert self._json is not None
        return dict(self._json)

    @property
    def formatted(self) -> bytes | None:
        """`encoded()` when it was already computed, else None (nothing is formatted here)."""
        return self._encoded

    def encoded(self) -> bytes:
        """`as_json()` as compact JSON bytes, remembered."""
        if self._encoded is None:
            text = json.dumps(self.as_json(), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
            self._encoded = text.encode("utf-8")
        assert self._encoded is not None
        return self._encoded

    def _format(self) -> dict[str, Any]:
        path_cut = len(self.path) > PATH_CHARS
        path = redact_jwt(self.path[:PATH_CHARS])
        if path_cut:
            path = _redact_cut_end(path) + CUT
        params, params_cut = _bounded_params(self.query)
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.at)) + f".{int(self.at % 1 * 1000):03d}Z",
            "method": self.method[:VALUE_CHARS],
            "path": path,
            "params": params,
            "truncated": path_cut or params_cut,
            "operation": self.operation,
            "outcome": self.outcome,
            "case": self.case,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "revision": self.revision,
            "near_miss": self.near_miss,
            "schema": self.schema,
            "schema_errors": list(self.schema_errors),
            "preference": self.preference,
            "auth": self.auth,
        }


class Journal:
    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._entries: deque[Entry] = deque(maxlen=size)
        self.recorded = 0

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, entry: Entry) -> None:
        self._entries.append(entry)
        self.recorded += 1

    def entries(
        self, *, outcome: str | None = None, operation: str | None = None, limit: int | None = None
    ) -> list[Entry]:
        """Newest first, filtered."""
        if not outcome and not operation:
            return list(islice(reversed(self._entries), None if limit is None else min(max(limit, 1), self.size)))
        selected: Iterable[Entry] = reversed(self._entries)
        if outcome:
            selected = (e for e in selected if e.outcome == outcome)
        if operation:
            selected = (e for e in selected if e.operation == operation)
        found = []
        for entry in selected:
            found.append(entry)
            if limit is not None and len(found) >= limit:
                break
        return found
