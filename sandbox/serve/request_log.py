"""The request line of the log (`--access-log`): one event per request, tokens redacted.

It is the journal entry of the request (`serve.journal.Entry`: path and parameters cut and
redacted in linear time) with a request id, logged on `sandbox.access`. The JSON log format
(`sandbox serve --log-format json`) writes its fields out; the text format writes the message.
Nothing is formatted unless the access log is on.
"""

from __future__ import annotations

import logging
import re
import uuid

from sandbox.serve.journal import Entry

_LOG = logging.getLogger("sandbox.access")
# A client's X-Request-Id is kept when it is short and plain (no JWT fits in 64 characters), else replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(given: str | None) -> str:
    """The client's `X-Request-Id` when it is a plain short word, else a new one."""
    if given is not None and _REQUEST_ID.fullmatch(given) and "eyJ" not in given:
        return given
    return uuid.uuid4().hex


def log_request(entry: Entry, identifier: str) -> None:
    """One request line: the message for the text format, the fields for JSON."""
    shown = entry.as_json()
    query = "&".join(f"{name}={value}" for name, value in shown["params"])
    target = shown["path"] + ("?" + query if query else "")
    fields = {
        "method": shown["method"],
        "path": shown["path"],
        "query": query,
        "truncated": shown["truncated"],
        "operation": entry.operation,
        "case": entry.case,
        "outcome": entry.outcome,
        "status": entry.status,
        "duration_ms": shown["duration_ms"],
        "revision": entry.revision,
        "near_miss": entry.near_miss,
        "request_id": identifier,
    }
    _LOG.info(
        "%s %s %d %s case=%s operation=%s %.2f ms id=%s",
        shown["method"],
        target,
        entry.status,
        entry.outcome,
        entry.case or "-",
        entry.operation or "-",
        entry.duration_ms,
        identifier,
        extra={"event": "request", "fields": fields},
    )
