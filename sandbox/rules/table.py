"""Rule tables: the YAML shape shared by lookup rules and validation rules.

A table is a list of rules. Each rule is a mapping:

* `operations`: the operation ids it applies to, fnmatch patterns (a string or a list);
  the first rule of a table that matches an operation applies;
* `name` (default: the first pattern) and `note` (free text), both optional;
* either its body (`keys:` of a lookup rule, `checks:` of a validation rule, and the
  body's own options), or `variants:`, a list of bodies each with an optional condition.

A variant's condition names one request parameter, in one of two senses:

* `when_present: param`: the parameter is sent with a value: not absent, not `""`, not
  an empty list (`coercion.is_empty`: what the lookup key leaves out);
* `when_not_blank: param`: the parameter is not blank in Rails' sense: whitespace-only
  values count as absent too (`coercion.is_blank`: what siade's validators test).

On request values (strings, lists of strings) the two differ only on whitespace-only
strings. The lookup rules select their variant on `when_present` and the validation
rules on `when_not_blank`, each as it did before they shared this parser (README,
"Match modes"). The first variant whose condition holds applies;
the last one applies when none does.

Every mapping is read through `Options`: each key is read at most once, and a key no
reader asked for is an error that names it and where it is.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sandbox.rules.coercion import is_blank, is_empty


class RuleError(ValueError):
    """A rule in a table is malformed."""


class Options:
    """The keys of one mapping of a rule table, each read at most once; leftovers are an error.

    `noun` says what the keys are called in messages (a rule's "key", a check's "option");
    `known` lists keys read by someone else (a check's `kind`)."""

    def __init__(self, raw: Mapping[str, Any], where: str, *, noun: str = "option", known: Iterable[str] = ()) -> None:
        self.raw = dict(raw)
        self.where = where
        self.noun = noun
        self.read: set[str] = set(known)

    def __contains__(self, name: str) -> bool:
        return name in self.raw

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

    def patterns(self, name: str = "operations") -> tuple[str, ...]:
        """Operation ids or fnmatch patterns: one string, or a non-empty list of them."""
        value = self.get(name)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise RuleError(f"{self.where}: `{name}` must list operation ids or patterns")
        return tuple(str(pattern) for pattern in value)

    def note(self) -> str:
        """The free-text `note` of a rule or variant (documentation only)."""
        return str(self.get("note", "")).strip()

    def finish(self) -> None:
        unknown = set(self.raw) - self.read
        if unknown:
            raise RuleError(
                f"{self.where}: unknown {self.noun}(s) {sorted(unknown)} (known: {', '.join(sorted(self.read))})"
            )


def mapping_options(raw: Any, where: str, *, noun: str = "key") -> Options:
    """`Options` over `raw`, which must be a mapping."""
    if not isinstance(raw, Mapping):
        raise RuleError(f"{where}: must be a mapping")
    return Options(raw, where, noun=noun)


# ---------------------------------------------------------------------------
# Variants and their conditions
# ---------------------------------------------------------------------------

CONDITIONS = {"when_present": False, "when_not_blank": True}
"""The condition keys of a variant → whether a whitespace-only value counts as absent."""


@dataclass(frozen=True, slots=True)
class Condition:
    """When a variant applies: `param` is sent (`when_present`) or not blank (`when_not_blank`)."""

    param: str
    blank_is_absent: bool = False

    @property
    def key(self) -> str:
        return "when_not_blank" if self.blank_is_absent else "when_present"

    def holds(self, params: Mapping[str, Any]) -> bool:
        value = params.get(self.param)
        return not (is_blank(value) if self.blank_is_absent else is_empty(value))


def condition(options: Options) -> Condition | None:
    """The condition of a variant (at most one of `when_present`, `when_not_blank`)."""
    given = [key for key in CONDITIONS if key in options]
    if len(given) > 1:
        raise RuleError(f"{options.where}: give at most one of {' or '.join(f'`{k}`' for k in CONDITIONS)}")
    if not given:
        for key in CONDITIONS:
            options.read.add(key)
        return None
    key = given[0]
    return Condition(options.text(key), blank_is_absent=CONDITIONS[key])


class Conditional(Protocol):
    """A variant: it applies when its condition holds (always, when it has none)."""

    @property
    def when(self) -> Condition | None: ...


C = TypeVar("C", bound=Conditional)


# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule(Generic[C]):
    """One rule of a table, its variants built by the table's own reader."""

    name: str
    patterns: tuple[str, ...]
    variants: tuple[C, ...]
    note: str = ""

    def applies_to(self, operation_id: str) -> bool:
        return any(matches(operation_id, pattern) for pattern in self.patterns)

    def variant_for(self, params: Mapping[str, Any]) -> C:
        """The first variant whose condition holds, else the last one."""
        for variant in self.variants:
            if variant.when is None or variant.when.holds(params):
                return variant
        return self.variants[-1]


def matches(name: str, pattern: str) -> bool:
    """`fnmatch.fnmatchcase`, without a regular expression for the tables' patterns, which use no `?`
    nor `[`: an exact id or stars (`api_entreprise_v*_insee_unites_legales`). Every build asks for
    each operation's rules: ~120 patterns compiled and matched cost ~10 ms of each start-up."""
    if "?" in pattern or "[" in pattern:
        return fnmatch.fnmatchcase(name, pattern)
    if "*" not in pattern:
        return name == pattern
    first, *middle, last = pattern.split("*")
    if len(name) < len(first) + len(last) or not name.startswith(first) or not name.endswith(last):
        return False
    position, end = len(first), len(name) - len(last)
    for part in middle:  # each in turn, as early as it can be: what a star before it skips is free
        found = name.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


def parse_table(
    raw_rules: Iterable[Any], origin: str, *, body: str, variant: Callable[[Options, Condition | None], C]
) -> list[Rule[C]]:
    """The rules of a table. `body` is the key that holds a variant's content (`keys`, `checks`);
    `variant(options, condition)` builds one variant from its mapping, reading its own keys."""
    rules = []
    for index, raw in enumerate(raw_rules):
        where = f"{origin}: rule {index + 1}"
        rule = mapping_options(raw, where)
        patterns = rule.patterns()
        name = rule.text("name", patterns[0])
        note = rule.note()
        if ("variants" in rule) == (body in rule):
            raise RuleError(f"{where}: give either `{body}` or `variants`")
        rule.read.update((body, "variants"))  # known keys, even the one not given
        if "variants" in rule:
            raw_variants = rule.get("variants")
            if not isinstance(raw_variants, list) or not raw_variants:
                raise RuleError(f"{where}: `variants` must be a non-empty list")
            variants = tuple(
                _variant(raw_variant, f"{where}: variant {number}", variant)
                for number, raw_variant in enumerate(raw_variants, start=1)
            )
        else:
            variants = (variant(rule, None),)
        rule.finish()
        rules.append(Rule(name, patterns, variants, note))
    return rules


def _variant(raw: Any, where: str, build: Callable[[Options, Condition | None], C]) -> C:
    options = mapping_options(raw, where)
    options.note()
    built = build(options, condition(options))
    options.finish()
    return built
