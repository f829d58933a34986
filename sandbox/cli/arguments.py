"""Typed command-line values: a bad number or date is an argument error before anything loads.

Each function returns an argparse `type=`; its message says what is expected, so that
`--port 99999` or `--poll -5` stops at parsing (exit 2) instead of binding another port,
spinning a core or failing with a traceback once the corpus has loaded.
"""

from __future__ import annotations

import argparse
import datetime
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def bounded_int(lowest: int, highest: int, what: str = "a whole number") -> Callable[[str], int]:
    """A whole number in [lowest, highest]."""

    def parse(text: str) -> int:
        expected = f"expected {what} from {lowest} to {highest}, got {text[:40]!r}"
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(expected) from None
        if not lowest <= value <= highest:
            raise argparse.ArgumentTypeError(expected)
        return value

    return parse


def interval(lowest: float, highest: float, *, zero: str | None = None) -> Callable[[str], float]:
    """A finite number of seconds in [lowest, highest]; 0 as well when `zero` says what it means."""
    alternative = f", or 0 for {zero}" if zero else ""

    def parse(text: str) -> float:
        expected = f"expected a number of seconds from {lowest:g} to {highest:g}{alternative}, got {text[:40]!r}"
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(expected) from None
        if value == 0 and zero:
            return 0.0
        if not math.isfinite(value) or not lowest <= value <= highest:
            raise argparse.ArgumentTypeError(expected)
        return value

    return parse


def positive_number(lowest: float, highest: float, what: str) -> Callable[[str], float]:
    """A finite number in [lowest, highest] (a rate: decimals allowed)."""

    def parse(text: str) -> float:
        expected = f"expected {what} from {lowest:g} to {highest:g}, got {text[:40]!r}"
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(expected) from None
        if not math.isfinite(value) or not lowest <= value <= highest:
            raise argparse.ArgumentTypeError(expected)
        return value

    return parse


def iso_date(text: str) -> datetime.date:
    """A calendar date written YYYY-MM-DD (not the other forms `fromisoformat` accepts)."""
    try:
        if _DATE.fullmatch(text):
            return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, e.g. 2026-01-31, got {text[:40]!r}")


def http_url(text: str) -> str:
    """An http(s) URL with a host, without its trailing slash."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"expected an http(s) URL, e.g. http://127.0.0.1:8000, got {text[:80]!r}")
    return text.rstrip("/")


def word(what: str) -> Callable[[str], str]:
    """Text that is not empty and holds no space or control character (a scope, a token, a ref, a secret)."""

    def parse(text: str) -> str:
        if not text or not text.isprintable() or any(character.isspace() for character in text):
            shown = "an empty value" if not text else repr(text[:40])
            raise argparse.ArgumentTypeError(f"expected {what} (no space, not empty), got {shown}")
        return text

    return parse


def text(what: str) -> Callable[[str], str]:
    """Text that is not empty and holds no control character (a secret, a folder or a URL)."""

    def parse(value: str) -> str:
        if not value.strip() or not value.isprintable():
            shown = "an empty value" if not value.strip() else "a control character"
            raise argparse.ArgumentTypeError(f"expected {what}, got {shown}")
        return value

    return parse


def iso_date_text(text: str) -> str:
    """`iso_date`, kept as text: a `ServeConfig` travels to the worker processes as JSON."""
    return iso_date(text).isoformat()


def latency_text(text: str) -> str:
    """`MIN..MAX` milliseconds (`--latency`), kept as text like `iso_date_text`."""
    from sandbox.serve.scenarios import parse_latency

    try:
        low, high = parse_latency(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return f"{low}..{high}"


def path_text(text: str) -> str:
    """A path, written the way `Path` writes it (`cache/` is `cache`), kept as text like `iso_date_text`."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty value")
    return str(Path(text))


def existing_folder(text: str) -> Path:
    """A folder that exists (a fixture repository given to a command that reads it at once)."""
    path = Path(path_text(text))
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"expected a folder, {text[:80]!r} is not one")
    return path


class KeepsLaidOutText(argparse.HelpFormatter):
    """Wraps one-line descriptions; keeps a text written on several lines (examples) as it is written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class OneLineErrors(argparse.ArgumentParser):
    """Argument errors on one line naming the command, without the multi-line usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
