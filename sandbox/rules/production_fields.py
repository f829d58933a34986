"""The production profile: which attributes of a 200 answer production sends for a token's scopes.

`production_fields.yaml` is the data (its header says the format); this module reads it into
one tree of `Node`s per operation and cuts a payload along it (`OperationFields.shape`). The
work is bounded by the table, not by the payload: only the objects the table names are
walked, everything else is kept (or dropped) whole.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sandbox.rules.table import Options, RuleError

__all__ = ["OperationFields", "ProductionTable", "RuleError", "Who", "load_production_table", "parse_table"]


@dataclass(frozen=True, slots=True)
class Who:
    """Who receives an attribute: every scope of `all_of`, and one of `any_of` when it is given."""

    all_of: frozenset[str] = frozenset()
    any_of: frozenset[str] | None = None
    nobody: bool = False

    def holds(self, scopes: frozenset[str]) -> bool:
        if self.nobody:
            return False
        return self.all_of <= scopes and (self.any_of is None or not self.any_of.isdisjoint(scopes))

    @property
    def scopes(self) -> frozenset[str]:
        return self.all_of | (self.any_of or frozenset())

    @property
    def everyone(self) -> bool:
        return not self.nobody and not self.all_of and self.any_of is None

    def describe(self) -> str:
        """`needs a and b`, `needs one of a, b`, `always sent`, `never sent`."""
        if self.nobody:
            return "never sent"
        if self.everyone:
            return "always sent"
        parts = [" and ".join(sorted(self.all_of))] if self.all_of else []
        if self.any_of is not None:
            parts.append("one of " + ", ".join(sorted(self.any_of)))
        return "needs " + " and ".join(parts)


EVERYONE = Who()
NOBODY = Who(nobody=True)


def _who(raw: Any, where: str) -> Who:
    if raw is True:
        return EVERYONE
    if raw is False:
        return NOBODY
    if isinstance(raw, str) and raw:
        return Who(all_of=frozenset({raw}))
    if isinstance(raw, list) and raw and all(isinstance(s, str) and s for s in raw):
        return Who(all_of=frozenset(raw))
    if isinstance(raw, dict) and set(raw) == {"any"}:
        scopes = raw["any"]
        if isinstance(scopes, list) and scopes and all(isinstance(s, str) and s for s in scopes):
            return Who(any_of=frozenset(scopes))
    raise RuleError(f"{where}: must be a scope, a list of scopes, {{any: [...]}}, true or false; got {raw!r}")


@dataclass(frozen=True, slots=True)
class ItemKind:
    when: Mapping[str, Any]
    scope: str
    keys: frozenset[str]


@dataclass(frozen=True, slots=True)
class ItemRules:
    """Rules on list items that depend on the items' values (MESRI v2 `inscriptions`)."""

    kinds: tuple[ItemKind, ...]
    added_scope: str | None
    added_keys: frozenset[str]

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(kind.scope for kind in self.kinds) | ({self.added_scope} if self.added_scope else set())

    def shape(self, item: Any, scopes: frozenset[str]) -> Any:
        if not isinstance(item, dict):
            return item
        kind = next((k for k in self.kinds if all(item.get(name) == v for name, v in k.when.items())), None)
        if kind is None or kind.scope not in scopes:
            return {}
        allowed = kind.keys
        if self.added_scope in scopes and any(key in item for key in kind.keys):
            allowed = allowed | self.added_keys
        return {key: value for key, value in item.items() if key in allowed}


@dataclass(slots=True)
class Node:
    """One object of the payload the table names: who receives it, and its named children."""

    who: Who = EVERYONE
    children: dict[str, Node] = field(default_factory=dict)
    closed: bool = False  # rebuilt by production: children the table does not name are dropped
    each: Node | None = None  # a list: the node of its items
    items: ItemRules | None = None

    def child(self, key: str) -> Node:
        if key not in self.children:
            self.children[key] = Node()
        return self.children[key]

    def shape(self, value: Any, scopes: frozenset[str]) -> Any:
        if isinstance(value, list):
            if self.items is not None:
                return [self.items.shape(item, scopes) for item in value]
            if self.each is not None:
                return [self.each.shape(item, scopes) for item in value]
            return value
        if not isinstance(value, dict) or not (self.children or self.closed):
            return value
        kept = {}
        for key, child_value in value.items():
            child = self.children.get(key)
            if child is None:
                if not self.closed:
                    kept[key] = child_value
            elif child.who.holds(scopes):
                kept[key] = child.shape(child_value, scopes)
        return kept


def _walk(root: Node, path: str, where: str) -> Node:
    """The node of `a.b[].c`, made on the way (a `x[]` segment steps into the items of list x)."""
    node = root
    for segment in path.split("."):
        if not segment or segment == "[]":
            raise RuleError(f"{where}: `{path}` is not a path like a.b or a[].b")
        if segment.endswith("[]"):
            node = node.child(segment[:-2])
            if node.each is None:
                node.each = Node()
            node = node.each
        else:
            node = node.child(segment)
    return node


@dataclass(frozen=True, slots=True)
class Entry:
    patterns: tuple[str, ...]
    fields: tuple[tuple[str, Who], ...]
    closed: tuple[str, ...]
    items: tuple[tuple[str, ItemRules], ...]
    whole: bool
    note: str

    def matches(self, operation_id: str) -> bool:
        return any(fnmatch.fnmatchcase(operation_id, pattern) for pattern in self.patterns)


@dataclass(frozen=True, slots=True)
class OperationFields:
    """What production sends of one operation's 200 answers."""

    operation_id: str
    root: Node
    paths: tuple[tuple[str, Who], ...]  # every path the table names, with its rule (the last one written)
    item_rules: tuple[tuple[str, ItemRules], ...]
    notes: tuple[str, ...]

    @property
    def whole(self) -> bool:
        """No attribute depends on a scope: the payload is sent whole (API Entreprise)."""
        return not self.paths and not self.item_rules

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope the shape depends on: two tokens alike on these get the same answer."""
        found: set[str] = set()
        for _, who in self.paths:
            found |= who.scopes
        for _, rules in self.item_rules:
            found |= rules.scopes
        return frozenset(found)

    def shape(self, payload: Any, scopes: frozenset[str]) -> Any:
        """The payload as production sends it to a token with `scopes`."""
        return payload if self.whole else self.root.shape(payload, scopes)


class ProductionTable:
    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = tuple(entries)
        self._by_operation: dict[str, OperationFields | None] = {}

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def covers(self, operation_id: str) -> bool:
        return any(entry.matches(operation_id) for entry in self.entries)

    def for_operation(self, operation_id: str) -> OperationFields | None:
        """The rules of an operation (None: the table does not describe it). Callers pass the ids
        of a snapshot's operations, so the memo is bounded by the fixture repository."""
        if operation_id not in self._by_operation:
            self._by_operation[operation_id] = self._build(operation_id)
        return self._by_operation[operation_id]

    def _build(self, operation_id: str) -> OperationFields | None:
        entries = [entry for entry in self.entries if entry.matches(operation_id)]
        if not entries:
            return None
        root = Node()
        rules: dict[str, Who] = {}
        items: dict[str, ItemRules] = {}
        where = f"production_fields.yaml ({operation_id})"
        for entry in entries:
            for path, who in entry.fields:
                _walk(root, path, where).who = who
                rules[path] = who
            for path in entry.closed:
                _walk(root, path, where).closed = True
            for path, item_rules in entry.items:
                _walk(root, path, where).items = item_rules
                items[path] = item_rules
        notes = tuple(entry.note for entry in entries if entry.note)
        return OperationFields(operation_id, root, tuple(rules.items()), tuple(items.items()), notes)


def _item_rules(raw: Any, where: str) -> ItemRules:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: must be a mapping with `kinds` and optionally `added`")
    options = Options(raw, where, noun="key")
    kinds = []
    raw_kinds = options.get("kinds")
    if not isinstance(raw_kinds, list) or not raw_kinds:
        raise RuleError(f"{where}: `kinds` must be a non-empty list")
    for index, raw_kind in enumerate(raw_kinds, 1):
        kind_options = Options(raw_kind if isinstance(raw_kind, dict) else {}, f"{where}: kind {index}", noun="key")
        when = kind_options.get("when")
        keys = kind_options.get("keys")
        if not isinstance(when, dict) or not when or not isinstance(keys, list) or not keys:
            raise RuleError(f"{where}: kind {index} needs `when` (a mapping) and `keys` (a list)")
        kinds.append(ItemKind(dict(when), kind_options.text("scope"), frozenset(str(k) for k in keys)))
        kind_options.finish()
    added = options.get("added") or {}
    added_options = Options(added if isinstance(added, dict) else {}, f"{where}: added", noun="key")
    added_keys = added_options.get("keys", [])
    added_scope = added_options.text("scope") if added else None
    added_options.finish()
    options.finish()
    return ItemRules(tuple(kinds), added_scope, frozenset(str(k) for k in added_keys or ()))


def _entry(raw: Any, where: str) -> Entry:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: must be a mapping")
    options = Options(raw, where, noun="key")
    patterns = options.patterns()
    fields = options.get("fields") or {}
    closed = options.get("closed") or []
    items = options.get("items") or {}
    whole = options.flag("whole", False)
    note = options.note()
    options.finish()
    if not isinstance(fields, dict) or not isinstance(closed, list) or not isinstance(items, dict):
        raise RuleError(f"{where}: `fields` and `items` must be mappings, `closed` a list")
    if whole and (fields or closed or items):
        raise RuleError(f"{where}: `whole: true` leaves nothing to filter: no `fields`, `closed` or `items`")
    return Entry(
        patterns=patterns,
        fields=tuple((str(path), _who(who, f"{where}: {path}")) for path, who in fields.items()),
        closed=tuple(str(path) for path in closed),
        items=tuple((str(path), _item_rules(rules, f"{where}: items: {path}")) for path, rules in items.items()),
        whole=whole,
        note=note,
    )


def parse_table(raw: Any, origin: str) -> ProductionTable:
    profiles = raw.get("profiles") if isinstance(raw, dict) else None
    if not isinstance(profiles, list):
        raise RuleError(f"{origin}: expected a top-level `profiles:` list")
    table = ProductionTable(_entry(entry, f"{origin}: entry {index}") for index, entry in enumerate(profiles, 1))
    for entry in table:  # every path is well formed: an error shows when the table is read, not on a request
        for path in (*(p for p, _ in entry.fields), *entry.closed, *(p for p, _ in entry.items)):
            _walk(Node(), path, f"{origin}: {entry.patterns[0]}")
    return table


@cache
def load_production_table() -> ProductionTable:
    """The built-in table (read once)."""
    text = resources.files("sandbox.rules").joinpath("production_fields.yaml").read_text(encoding="utf-8")
    return parse_table(yaml.load(text, Loader=yaml.CSafeLoader), "sandbox/rules/production_fields.yaml")
