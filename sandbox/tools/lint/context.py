"""The state of one lint run, and what the server knows about one operation.

`LintRun` carries the settings of the run (repository, match mode, date, language), the
findings found so far and what the FranceConnect checks share across folders.
`OperationContext` is one operation as the snapshot builds it: its lookup rule, key
builder and validation checks; every rule on a case of the operation reads it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

from sandbox.load.repository import Case
from sandbox.load.repository_files import FileLimits, RepositoryTree
from sandbox.rules.franceconnect import Identity
from sandbox.rules.gone import gone_route
from sandbox.rules.matching import KeyBuilder, LookupRule, MatchMode, RuleBook
from sandbox.rules.operations import Operation, Parameter
from sandbox.rules.validation import OperationChecks
from sandbox.tools.lint.messages import messages
from sandbox.tools.lint.report import Finding, LintReport

__all__ = ["DEFAULT_FORECAST_DAYS", "MAX_FORECAST_DAYS", "LintRun", "OperationContext", "operation_context"]

# How far ahead a case valid today is checked against the date windows (`date-window-expiring`).
DEFAULT_FORECAST_DAYS = 365
MAX_FORECAST_DAYS = 3660  # ten years: the windows are a few years wide


class LintRun:
    """One run of the lint over a repository: its settings, its findings, its FranceConnect tokens."""

    def __init__(
        self,
        root: Path,
        mode: MatchMode,
        today: datetime.date,
        lang: str,
        limits: FileLimits | None = None,
        forecast_days: int = DEFAULT_FORECAST_DAYS,
    ) -> None:
        self.root = root
        self.tree = RepositoryTree(root, limits)
        self.mode = mode
        self.today = today
        self.lang = lang
        self.forecast_days = forecast_days
        self.messages = messages()
        self.findings: list[Finding] = []
        self.files = 0
        self.reach: dict[str, tuple[str, ...]] = {}
        self.tokens: list[tuple[str, Identity]] = []
        # case file → the field each of its lines belongs to (see `Finding.field`)
        self.fields: dict[str, Callable[[int | None], str]] = {}

    def add(
        self,
        rule: str,
        file: str,
        line: int | None,
        *,
        field: str | None = None,
        related: str | None = None,
        **args: Any,
    ) -> None:
        """Record a finding; its `field` is the case key at `line` unless given."""
        message, hint = self.messages.render(rule, self.lang, args)
        severity = self.messages.rules[rule].severity
        if field is None:
            locate = self.fields.get(file)
            field = locate(line) if locate is not None else ""
        self.findings.append(Finding(severity, file, line, rule, message, hint, field, related))

    def reason(self, reason_id: str, /, **args: Any) -> str:
        return self.messages.reason(reason_id, self.lang, **args)

    def report(self) -> LintReport:
        """The findings in file and line order, with the FranceConnect reach."""
        self.findings.sort(key=lambda f: (f.file, f.line or 0, f.rule, f.message))
        return LintReport(
            root=str(self.root),
            mode=self.mode,
            today=self.today,
            lang=self.lang,
            findings=tuple(self.findings),
            files=self.files,
            france_connect_reach=dict(self.reach),
        )


@dataclass(slots=True)
class OperationContext:
    """What the server knows about one operation, built the way the snapshot builds it."""

    operation: Operation
    rule: LookupRule
    keys: KeyBuilder
    checks: OperationChecks
    identity: Mapping[str, str] | None
    declared: Mapping[str, Parameter]
    declared_query: frozenset[str]
    known: frozenset[str]
    path_params: tuple[str, ...]
    gone: bool
    validators: dict[str, Draft4Validator | None] = field(default_factory=dict)

    @property
    def france_connect_only_names(self) -> frozenset[str]:
        """Identity parameters no plain request carries (v2 routes that also take FranceConnect)."""
        if self.identity is None:
            return frozenset()
        return frozenset(self.identity) - frozenset(self.declared)


def operation_context(
    run: LintRun, operation: Operation, book: RuleBook, checks: Any, cases: Sequence[Case]
) -> OperationContext:
    rule = book.rule_for(operation)
    keys = KeyBuilder.for_operation(operation, rule, run.mode, (name for case in cases for name in case.params))
    identity = book.identity_mapping(operation.id) if book.accepts_france_connect(operation.id) else None
    declared = {p.key: p for p in operation.lookup_parameters()}
    rule_keys = {spec.key for variant in rule.variants for spec in variant.keys}
    known = set(declared) | rule_keys | set(identity or ())
    if operation.api == "particulier":
        known |= {p.key for p in operation.parameters if p.location == "query"}
    return OperationContext(
        operation=operation,
        rule=rule,
        keys=keys,
        checks=checks.for_operation(operation.id),
        identity=identity,
        declared=declared,
        declared_query=frozenset(p.key for p in operation.lookup_parameters() if p.location == "query"),
        known=frozenset(known),
        path_params=tuple(p.key for p in operation.parameters if p.location == "path"),
        gone=gone_route(operation.path, operation.api) is not None,
    )
