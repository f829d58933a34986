"""The logs of `sandbox serve`: text with timestamps on stderr, or JSON lines on stdout (`--log-format`).

One configuration covers uvicorn's loggers and the sandbox's: it is applied in the main
process and, through uvicorn's `log_config`, again in every worker. Every line carries an
ISO 8601 UTC time. A JSON line is one object: `time`, `level`, `logger`, `event` (`request`,
`load`, `reload`, `fetch`, `fetch-failed`, `serving`, ..., or `log` for any other message) and
`message`, then the event's own fields (`docs/operations.md` lists them). Token values never
reach a line: every line is redacted as a whole (`serve.journal.redact_text`, linear time),
after the request line has already redacted its path and parameters.
"""

from __future__ import annotations

import datetime
import json
import logging
import logging.config
from typing import Any

from sandbox.serve.journal import redact_text

LOG_FORMATS = ("text", "json")
# Keys every JSON line has; an event adds its own after them.
BASE_KEYS = ("time", "level", "logger", "event", "message")
# The fields of each event (docs/operations.md lists them; tests/test_logs.py checks the lines).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "request": (
        "method",
        "path",
        "query",
        "truncated",
        "operation",
        "case",
        "outcome",
        "status",
        "duration_ms",
        "revision",
        "near_miss",
        "request_id",
    ),
    "summary": (
        "revision",
        "root",
        "operations",
        "operations_by_api",
        "cases",
        "france_connect_tokens",
        "operations_without_folder",
        "folders_without_operation",
        "problems",
        "duration_ms",
    ),
    "load": (
        "revision",
        "duration_ms",
        "build_ms",
        "operations",
        "operations_by_api",
        "cases",
        "problems",
        "problem_count",
    ),
    "reload": (
        "reason",
        "outcome",
        "revision",
        "serving",
        "rebuilt",
        "duration_ms",
        "operations",
        "cases",
        "problems",
        "problem_count",
    ),
    "fetch": ("source", "commit", "changed", "duration_ms"),
    "fetch-failed": ("source", "error", "failures"),
    "serving-cached": ("source", "commit"),
    "serving": ("url", "mode", "workers"),
    "first-steps": ("lines",),
    "admin": ("admin",),
    "warning": (),
    "log": (),  # any other message: uvicorn's, a throttle group ignored, an exception (`exception`)
}


def iso_time(created: float) -> str:
    """`2026-01-31T09:15:02.123Z`: ISO 8601, UTC, milliseconds."""
    moment = datetime.datetime.fromtimestamp(created, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class TokenRedaction(logging.Filter):
    """Keeps token values out of a record's message (for handlers that are not ours)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact_text(str(record.msg))
        return True


class TextLines(logging.Formatter):
    """`2026-01-31T09:15:02.123Z INFO sandbox.sync: message`."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{iso_time(record.created)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact_text(line)


class JsonLines(logging.Formatter):
    """One JSON object per line; an event's fields (`extra={"event": ..., "fields": {...}}`) written out."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", "log"),
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update((key, value) for key, value in fields.items() if key not in BASE_KEYS)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # Redacted as a whole: a JWT or `token=` value can only sit inside a JSON string, and the
        # redaction never touches a quote, so the line stays valid JSON.
        return redact_text(json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":")))


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The `logging.config.dictConfig` of the process, also given to uvicorn as its `log_config`."""
    formatter = JsonLines if log_format == "json" else TextLines
    stream = "ext://sys.stdout" if log_format == "json" else "ext://sys.stderr"
    handler = {"class": "logging.StreamHandler", "formatter": "sandbox", "stream": stream, "filters": ["tokens"]}
    numeric = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"tokens": {"()": f"{__name__}.TokenRedaction"}},
        "formatters": {"sandbox": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {"sandbox": handler},
        "loggers": {
            "uvicorn": {"handlers": ["sandbox"], "level": numeric, "propagate": False},
            "uvicorn.error": {"level": numeric},
            # The sandbox writes its own request line (`sandbox.access`); uvicorn's is always off.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            # `sandbox serve`'s own report (load summary, address) whatever --log-level says
            "sandbox.serve": {"level": "INFO"},
        },
        "root": {"handlers": ["sandbox"], "level": numeric},
    }


def configure(log_format: str, level: str) -> dict[str, Any]:
    """Apply the configuration in this process; returns it for uvicorn (which applies it in each worker)."""
    config = logging_config(log_format, level)
    logging.config.dictConfig(config)
    return config


def say(log_format: str, event: str, text: str, **fields: Any) -> None:
    """A line of `sandbox serve`'s own report (load summary, serving address, warnings): printed as
    it always was in text, one JSON line on stdout in JSON."""
    if log_format == "json":
        logging.getLogger("sandbox.serve").info("%s", text, extra={"event": event, "fields": fields})
    else:
        print(text, flush=True)
