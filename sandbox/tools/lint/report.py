"""What `sandbox lint` returns: findings (where, which rule, what it means, how to fix it) and the report."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.rules.matching import MatchMode

__all__ = ["REACHABILITY_RULES", "Finding", "LintReport"]

# Findings that mean "this case, as written, is never answered by the server".
REACHABILITY_RULES = frozenset(
    {
        "unreachable",
        "gone-route",
        "invalid-identifier",
        "server-validation",
        "date-window",
        "duplicate-params",
        "duplicate-key",
        "tracking-parameter",
    }
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: where it is, which rule found it, what it means and how to fix it."""

    severity: str  # error | warning
    file: str  # relative to the repository root, `/`-separated
    line: int | None
    rule: str
    message: str
    hint: str
    # What the finding is about inside the file, independent of line numbers: `params.siren`,
    # `payload/data/siren`, `status`, or "" for the whole file (what a baseline keys on).
    field: str = ""
    # The other file of the finding (the winner of a duplicate): linting that file shows it too.
    related: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "rule": self.rule,
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass(frozen=True, slots=True)
class LintReport:
    root: str
    mode: MatchMode
    today: datetime.date
    lang: str
    findings: tuple[Finding, ...]
    files: int
    # FranceConnect cases → the tokens of payloads/france_connect whose identity reaches them
    france_connect_reach: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    def for_file(self, file: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.file == file)
