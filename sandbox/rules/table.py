"""Rule tables: the YAML shape shared by lookup rules and validation rules.

Every mapping of a rule is read through `Options`: each key is read at most once, and a
key no reader asked for is an error that names it and where it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class RuleError(ValueError):
    """A rule in a table is malformed."""


class Options:
    """The options of one check in the YAML, each read at most once; leftovers are an error."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw = dict(raw)
        self.where = where
        self.read: set[str] = {"kind"}

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return self.raw.get(name, default)

    def text(self, name: str, default: str | None = None) -> str:
        """A string option; without a default it is required."""
        value = self.get(name, default)
        if value is None:
            raise RuleError(f"{self.where}: `{name}` is required")
        if not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
            raise RuleError(f"{self.where}: `{name}` must be a non-empty string")
        return str(value)

    def code(self, name: str, default: str | None = None) -> str:
        """An error code (a catalogue key); without a default it is required."""
        value = self.get(name, default)
        if value is None:
            raise RuleError(f"{self.where}: `{name}` is required")
        if not isinstance(value, str):
            # YAML reads an unquoted 00301 as a number: codes must be quoted
            raise RuleError(f'{self.where}: `{name}` must be a quoted error code like "00301"')
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.get(name, default)
        if not isinstance(value, bool):
            raise RuleError(f"{self.where}: `{name}` must be true or false")
        return value

    def choice(self, name: str, default: str, allowed: Iterable[str]) -> str:
        value = self.get(name, default)
        value = "false" if value is False else "true" if value is True else value
        allowed = tuple(allowed)
        if value not in allowed:
            raise RuleError(f"{self.where}: `{name}` must be one of {list(allowed)}, not {value!r}")
        return str(value)

    def integer(self, name: str, default: int | None = None) -> int:
        value = self.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise RuleError(f"{self.where}: `{name}` must be an integer")
        return value

    def finish(self) -> None:
        unknown = set(self.raw) - self.read
        if unknown:
            raise RuleError(f"{self.where}: unknown option(s) {sorted(unknown)}")
