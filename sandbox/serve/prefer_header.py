"""The `Prefer` request header (RFC 7240), read and written: the sandbox's own preferences.

    Prefer: case=503.yaml, delay=2000
    Prefer: code=404
    Prefer: fault=reset

A preference is `name[=value]` (a token or a quoted string), optionally followed by
`;parameters` (read and ignored); names are case-insensitive, preferences are separated by
commas (several `Prefer` header fields are one list), whitespace around the separators is
allowed. The sandbox knows `case`, `code`, `delay` and `fault`; any other preference is
ignored (RFC 7240 §2) and is never listed in `Preference-Applied`; a repeated one counts
the first time only (§2). A known preference with a bad value is a `problem`, which the
sandbox answers with an error that says so, in the API's format.

The header is client input: it is read in one left-to-right pass (each character looked at
once) and only its first `MAX_PREFER_BYTES` are accepted; over that, it is a problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_PREFER_BYTES = 1024
MAX_CASE_CHARS = 255  # a file name
FAULTS = ("reset", "empty", "timeout", "truncated")
KNOWN = ("case", "code", "delay", "fault")
_MAX_DELAY_DIGITS = 9  # 999 999 999 ms: any longer number is clamped anyway

# RFC 7230 `tchar`: what a token (a preference's name, an unquoted value) is made of.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_OWS = " \t"


@dataclass(frozen=True, slots=True)
class Preferences:
    """What a request's `Prefer` header asks of the sandbox (all None: nothing)."""

    case: str | None = None
    code: int | None = None
    delay_ms: int | None = None
    fault: str | None = None
    problem: str | None = None  # a known preference with a bad value, a malformed or an oversized header

    @property
    def any(self) -> bool:
        return self != NO_PREFERENCES


NO_PREFERENCES = Preferences()


class _Malformed(ValueError):
    pass


class _Scanner:
    """One pass over the header text: every method moves forward, never back."""

    __slots__ = ("at", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def done(self) -> bool:
        return self.at >= len(self.text)

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def skip_whitespace(self) -> None:
        while self.at < len(self.text) and self.text[self.at] in _OWS:
            self.at += 1

    def token(self) -> str:
        start = self.at
        while self.at < len(self.text) and self.text[self.at] in _TCHAR:
            self.at += 1
        if self.at == start:
            raise _Malformed(f"expected a name at character {start + 1}")
        return self.text[start : self.at]

    def word(self) -> str:
        """A token or a quoted string (`\\` escapes the next character)."""
        if self.peek() != '"':
            return self.token()
        self.at += 1
        chars: list[str] = []
        while self.at < len(self.text):
            char = self.text[self.at]
            self.at += 1
            if char == '"':
                return "".join(chars)
            if char == "\\" and self.at < len(self.text):
                char = self.text[self.at]
                self.at += 1
            chars.append(char)
        raise _Malformed("a quoted value is not closed")

    def pair(self) -> tuple[str, str | None]:
        """`name [= value]`, whitespace allowed around `=`."""
        name = self.token().lower()
        self.skip_whitespace()
        if self.peek() != "=":
            return name, None
        self.at += 1
        self.skip_whitespace()
        return name, self.word()


def _pairs(text: str) -> list[tuple[str, str | None]]:
    """Every `name[=value]` of the list, in order, parameters skipped; empty list elements allowed."""
    scanner = _Scanner(text)
    found: list[tuple[str, str | None]] = []
    while True:
        scanner.skip_whitespace()
        if scanner.done():
            return found
        if scanner.peek() == ",":
            scanner.at += 1
            continue
        found.append(scanner.pair())
        scanner.skip_whitespace()
        while scanner.peek() == ";":  # preference parameters: read, not used
            scanner.at += 1
            scanner.skip_whitespace()
            if scanner.peek() not in (",", ";", ""):
                scanner.pair()
                scanner.skip_whitespace()
        if not scanner.done() and scanner.peek() != ",":
            raise _Malformed(f"expected `,` at character {scanner.at + 1}")


def parse_prefer(values: Sequence[str]) -> Preferences:
    """The preferences of the `Prefer` header fields of one request (in the order received)."""
    if not values:
        return NO_PREFERENCES
    if sum(len(value) for value in values) + 2 * (len(values) - 1) > MAX_PREFER_BYTES:
        return Preferences(problem=f"the Prefer header is longer than {MAX_PREFER_BYTES} bytes")
    try:
        pairs = _pairs(", ".join(values))
    except _Malformed as error:
        return Preferences(problem=f"the Prefer header is malformed: {error}")
    chosen: dict[str, str | None] = {}
    for name, value in pairs:
        if name in KNOWN and name not in chosen:  # the first of a repeated preference counts
            chosen[name] = value
    try:
        return Preferences(
            case=_case(chosen["case"]) if "case" in chosen else None,
            code=_code(chosen["code"]) if "code" in chosen else None,
            delay_ms=_delay(chosen["delay"]) if "delay" in chosen else None,
            fault=_fault(chosen["fault"]) if "fault" in chosen else None,
        )
    except _Malformed as error:
        return Preferences(problem=str(error))


def _case(value: str | None) -> str:
    if not value:
        raise _Malformed("`case` needs a case file name, e.g. case=404.yaml")
    if len(value) > MAX_CASE_CHARS or not value.isprintable():
        raise _Malformed(f"`case` must be a file name of at most {MAX_CASE_CHARS} printable characters")
    return value


def _code(value: str | None) -> int:
    if value is None or len(value) != 3 or not value.isascii() or not value.isdigit() or not 100 <= int(value) <= 599:
        raise _Malformed("`code` must be an HTTP status from 100 to 599, e.g. code=404")
    return int(value)


def _delay(value: str | None) -> int:
    if value is None or not value.isascii() or not value.isdigit():
        raise _Malformed("`delay` must be a whole number of milliseconds, e.g. delay=2000")
    return int(value) if len(value) <= _MAX_DELAY_DIGITS else 10**_MAX_DELAY_DIGITS


def _fault(value: str | None) -> str:
    fault = (value or "").lower()
    if fault not in FAULTS:
        raise _Malformed(f"`fault` must be one of {', '.join(FAULTS)}")
    return fault


def preference_value(text: str) -> str:
    """A value as written in a header: bare when it is a token, else a quoted string."""
    if text and all(char in _TCHAR for char in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def prefer_text(pairs: Iterable[tuple[str, str | int]]) -> str:
    """`name=value, ...`: the text of a `Prefer` or `Preference-Applied` header."""
    return ", ".join(f"{name}={preference_value(str(value))}" for name, value in pairs)


def prefer_header(
    *, case: str | None = None, code: int | None = None, delay: int | None = None, fault: str | None = None
) -> dict[str, str]:
    """The headers that ask the sandbox for a case, a status, a delay (ms) and/or a fault:
    `{"Prefer": "case=503.yaml, delay=2000"}` (empty when nothing is asked)."""
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"fault must be one of {', '.join(FAULTS)}, not {fault!r}")
    given = [("case", case), ("code", code), ("delay", delay), ("fault", fault)]
    text = prefer_text((name, value) for name, value in given if value is not None)
    return {"Prefer": text} if text else {}
