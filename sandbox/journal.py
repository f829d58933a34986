"""The request journal: the last requests, in a bounded ring buffer, tokens redacted.

Recording is cheap (one tuple appended to a deque); entries are formatted only when
`GET /__sandbox/requests` asks for them.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

REDACTED = "[redacted]"
# A JWT (three base64url parts), wherever it appears in a value.
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")
_SECRET_PARAMETERS = {"token", "access_token", "api_key"}


def redact_query(query_string: str) -> list[tuple[str, str]]:
    """Parameters with token values removed: named token parameters, and any JWT-looking value."""
    redacted = []
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        if name.lower() in _SECRET_PARAMETERS:
            value = REDACTED
        redacted.append((name, _JWT.sub(REDACTED, value)))
    return redacted


def redact_text(text: str) -> str:
    text = _JWT.sub(REDACTED, text)
    return re.sub(r"((?:^|[?&])(?:token|access_token|api_key)=)[^&\s\"]*", r"\1" + REDACTED, text)


@dataclass(frozen=True, slots=True)
class Entry:
    at: float
    method: str
    path: str
    query: str  # raw: redacted when read
    operation: str | None
    outcome: str
    case: str | None
    status: int
    duration_ms: float
    revision: str
    near_miss: str | None
    schema: str | None
    schema_errors: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.at)) + f".{int(self.at % 1 * 1000):03d}Z",
            "method": self.method,
            "path": self.path,
            "params": [list(pair) for pair in redact_query(self.query)],
            "operation": self.operation,
            "outcome": self.outcome,
            "case": self.case,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "revision": self.revision,
            "near_miss": self.near_miss,
            "schema": self.schema,
            "schema_errors": list(self.schema_errors),
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
