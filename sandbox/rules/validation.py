"""Validation rules: which validators each operation runs before the lookup (spec §3.4, §3.5).

`build_checks().for_operation(operation_id).errors(params, today=…, request_id=…)` gives
the endpoint's own validators, every error they find. The tracking parameters are
checked elsewhere (`sandbox.rules.tracking`).

Per-operation rules are data (`validation_rules.yaml`, same conventions as
`lookup_rules.yaml`); the check kinds those rules use are a closed vocabulary
(`CHECK_KINDS`, implemented in `checks`, `civility_checks` and `men_checks`). Texts come
from `error_catalogue.yaml`.

`params` is the request as `sandbox.rules.matching.parse_query` gives it plus the path
parameters: strings, or lists of strings for `name[]=` parameters. Absent means
absent from the mapping (or `None`). No check reads the clock: dates are relative
to the `today` argument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sandbox.rules.checks import KINDS as GENERIC_KINDS
from sandbox.rules.checks import Check, Params, Run
from sandbox.rules.civility_checks import KINDS as CIVILITY_KINDS
from sandbox.rules.error_texts import ApiError, Catalogue, load_catalogue
from sandbox.rules.men_checks import KINDS as MEN_KINDS
from sandbox.rules.table import Condition, Options, Rule, RuleError, parse_table

__all__ = [
    "CHECK_KINDS",
    "CheckTable",
    "CheckVariant",
    "OperationChecks",
    "ValidationRule",
    "ValidationRuleError",
    "build_checks",
    "builtin_checks",
    "builtin_validation_rules",
    "parse_validation_rules",
]

ValidationRuleError = RuleError
"""A validation rule in the table is malformed (the error of every rule table)."""

CHECK_KINDS: dict[str, Callable[[Options], Check]] = {**GENERIC_KINDS, **CIVILITY_KINDS, **MEN_KINDS}
"""Every check kind a rule may use, with the builder that reads its options."""


def parse_check(raw: Any, where: str) -> Check:
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str):
        raise ValidationRuleError(f"{where}: a check is a mapping with a `kind`")
    kind = raw["kind"]
    builder = CHECK_KINDS.get(kind)
    if builder is None:
        raise ValidationRuleError(f"{where}: unknown check kind {kind!r} (one of {sorted(CHECK_KINDS)})")
    options = Options(raw, f"{where}: {kind}", known=("kind",))
    check = builder(options)
    options.finish()
    return check


# ---------------------------------------------------------------------------
# Rules (data)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckVariant:
    """The checks of a rule, applied when the condition `when` holds (or always, when it is None)."""

    checks: tuple[Check, ...]
    when: Condition | None = None
    # the checks between `stop_if_errors` barriers: a run goes on to the next run only without errors
    runs: tuple[tuple[Check, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        runs: list[list[Check]] = [[]]
        for check in self.checks:
            if check.is_barrier:
                runs.append([])
            else:
                runs[-1].append(check)
        object.__setattr__(self, "runs", tuple(tuple(run) for run in runs))


@dataclass(frozen=True, slots=True)
class ValidationRule(Rule[CheckVariant]):
    """The validators of the operations `patterns` match (`variant_for` the request)."""


def _flatten(items: Any) -> Iterable[Any]:
    """Checks may nest lists, so YAML aliases of shared check lists can be combined."""
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def _variant(options: Options, when: Condition | None) -> CheckVariant:
    checks = options.get("checks")
    if not isinstance(checks, list):
        raise ValidationRuleError(f"{options.where}: `checks` must be a list")
    where = options.where
    return CheckVariant(
        checks=tuple(parse_check(c, f"{where}: check {i + 1}") for i, c in enumerate(_flatten(checks))),
        when=when,
    )


def parse_validation_rules(raw_rules: Iterable[Any], origin: str) -> list[ValidationRule]:
    """Validation rules from YAML data (the table format of `sandbox.rules.table`, body `checks`)."""
    return [
        ValidationRule(rule.name, rule.patterns, rule.variants, rule.note)
        for rule in parse_table(raw_rules, origin, body="checks", variant=_variant)
    ]


def builtin_validation_rules() -> list[ValidationRule]:
    text = resources.files("sandbox.rules").joinpath("validation_rules.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=yaml.CSafeLoader)
    return parse_validation_rules(data["rules"], "sandbox/validation_rules.yaml")


# ---------------------------------------------------------------------------
# Per operation
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperationChecks:
    """The validators of one operation (empty when no rule applies)."""

    operation_id: str
    rule: ValidationRule | None
    catalogue: Catalogue = field(repr=False)

    @property
    def is_empty(self) -> bool:
        return self.rule is None or all(not variant.checks for variant in self.rule.variants)

    def errors(self, params: Params, *, today: date, request_id: str | None = None) -> list[ApiError]:
        """Every error of the operation's validators, in the order of the rule's checks.

        A `stop_if_errors` check ends the run when errors were found before it. API
        Particulier v2 answers only the first error; v3+ and Entreprise list them all.
        """
        if self.rule is None:
            return []
        run = Run(self.catalogue, today, request_id)
        found: list[ApiError] = []
        for checks in self.rule.variant_for(params).runs:
            if found:
                break
            for check in checks:
                found += check.errors(params, run)
        return found


class CheckTable:
    """Operation id → its `OperationChecks`, the first matching rule winning."""

    def __init__(self, rules: Sequence[ValidationRule], catalogue: Catalogue) -> None:
        self.rules = tuple(rules)
        self.catalogue = catalogue
        self._by_operation: dict[str, OperationChecks] = {}

    def rule_for(self, operation_id: str) -> ValidationRule | None:
        return next((rule for rule in self.rules if rule.applies_to(operation_id)), None)

    def for_operation(self, operation_id: str) -> OperationChecks:
        checks = self._by_operation.get(operation_id)
        if checks is None:
            checks = OperationChecks(operation_id, self.rule_for(operation_id), self.catalogue)
            self._by_operation[operation_id] = checks
        return checks


@cache
def builtin_checks() -> CheckTable:
    """The built-in table, built once per process: every reload's snapshot shares it."""
    return build_checks()


def build_checks(rules: Sequence[ValidationRule] | None = None) -> CheckTable:
    """The check table of `rules` (default: the built-in `validation_rules.yaml`).

    To let a fixture repository add rules, parse them with `parse_validation_rules` and
    pass `[*extra, *builtin_validation_rules()]`: the first matching rule wins.
    Raises `ValidationRuleError` when a rule uses a code the catalogue does not define.
    """
    catalogue = load_catalogue()
    chosen = builtin_validation_rules() if rules is None else list(rules)
    for rule in chosen:
        for variant in rule.variants:
            for check in variant.checks:
                missing = [code for code in check.codes() if code not in catalogue]
                if missing:
                    raise ValidationRuleError(
                        f"rule {rule.name}: {type(check).__name__} uses unknown error code(s) {missing}"
                    )
    return CheckTable(chosen, catalogue)
