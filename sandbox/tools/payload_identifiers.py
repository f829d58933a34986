"""Which payload fields repeat a case's identifying parameters, and whether they agree (`payload_identifiers.yaml`).

A case that asks for SIREN 900000019 and answers the payload of SIREN 775672272 is served,
but a client that checks the answer against its request sees another company. The table
says, per operation family, which payload field follows from which parameter and how;
`mismatches` lists the fields that disagree (for `sandbox lint`), `filled` writes them from
the params (for `sandbox new-case`). Per-operation differences are data, never branches.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sandbox.rules.coercion import to_s
from sandbox.rules.identifiers import luhn_valid

__all__ = ["IdentifierField", "Mismatch", "fields_for", "filled", "mismatches"]


def _vat_key(siren: str) -> str:
    """The 2-digit key of the French VAT number of a SIREN: (12 + 3 × (SIREN mod 97)) mod 97."""
    return f"{(12 + 3 * (int(siren) % 97)) % 97:02d}" if siren.isdigit() else "00"


def _siret_of(siren: str, current: str) -> str:
    """A Luhn-valid SIRET of the company `siren`, keeping the establishment number of `current` when it has one."""
    nic = current[9:13] if len(current) == 14 and current.isdigit() else "0001"
    for digit in "0123456789":
        if luhn_valid(siren + nic + digit):
            return siren + nic + digit
    return siren + nic + "0"  # not a 9-digit SIREN: nothing makes it valid


@dataclass(frozen=True, slots=True)
class _Relation:
    agrees: Callable[[str, str], bool]  # (payload value, parameter value)
    expected: Callable[[str], str]  # what to show: the value the parameter implies
    fill: Callable[[str, str], str]  # (parameter value, current payload value) → the value to write


_RELATIONS: Mapping[str, _Relation] = {
    "same": _Relation(
        agrees=lambda actual, value: actual.casefold() == value.casefold(),
        expected=lambda value: value,
        fill=lambda value, current: value,
    ),
    "siren": _Relation(
        agrees=lambda actual, value: actual == value[:9],
        expected=lambda value: value[:9],
        fill=lambda value, current: value[:9],
    ),
    "same-siren": _Relation(
        agrees=lambda actual, value: actual[:9] == value[:9],
        expected=lambda value: value[:9] + "…",
        fill=lambda value, current: value if len(value) == 14 else _siret_of(value[:9], current),
    ),
    "vat": _Relation(
        agrees=lambda actual, value: actual.upper().startswith("FR") and actual[-9:] == value[:9],
        expected=lambda value: "FR··" + value[:9],
        fill=lambda value, current: "FR" + _vat_key(value[:9]) + value[:9],
    ),
}


@dataclass(frozen=True, slots=True)
class IdentifierField:
    """One payload field that follows from one parameter."""

    param: str
    pointer: tuple[str, ...]  # JSON pointer parts; `*` is every item of a list
    relation: str
    when: re.Pattern[str] | None

    @property
    def field(self) -> str:
        return "/" + "/".join(self.pointer)

    def applies(self, value: str) -> bool:
        return self.when is None or self.when.search(value) is not None


@dataclass(frozen=True, slots=True)
class _Family:
    patterns: tuple[str, ...]
    unless: tuple[str, ...] | None
    fields: tuple[IdentifierField, ...]


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A payload field that disagrees with its parameter."""

    param: str
    value: str  # the parameter's value
    pointer: str  # where, items numbered: /data/etablissements/0/siret
    actual: str  # the payload's value
    expected: str  # what the parameter implies, as shown to a contributor
    parts: tuple[str | int, ...]  # `pointer` as keys and indices, to find its line


def _pointer(text: str) -> tuple[str, ...]:
    if not text.startswith("/"):
        raise ValueError(f"payload_identifiers.yaml: {text!r} is not a JSON pointer")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/"))


@cache
def _families() -> tuple[_Family, ...]:
    text = resources.files("sandbox.tools").joinpath("payload_identifiers.yaml").read_text(encoding="utf-8")
    raw = yaml.load(text, Loader=yaml.CSafeLoader)
    families = []
    for family in raw["families"]:
        fields = []
        for entry in family["fields"]:
            relation = str(entry.get("relation", "same"))
            if relation not in _RELATIONS:
                raise ValueError(
                    f"payload_identifiers.yaml: unknown relation {relation!r} (known: {sorted(_RELATIONS)})"
                )
            when = re.compile(str(entry["when"])) if "when" in entry else None
            fields.append(IdentifierField(str(entry["param"]), _pointer(str(entry["field"])), relation, when))
        unless = _pointer(str(family["unless"])) if "unless" in family else None
        families.append(_Family(tuple(str(p) for p in family["operations"]), unless, tuple(fields)))
    return tuple(families)


def _family(operation_id: str) -> _Family | None:
    return next((f for f in _families() if any(fnmatch.fnmatchcase(operation_id, p) for p in f.patterns)), None)


def fields_for(operation_id: str) -> tuple[IdentifierField, ...]:
    """The identifying payload fields of an operation (none for most)."""
    family = _family(operation_id)
    return family.fields if family is not None else ()


def _resolve(document: Any, pointer: Sequence[str], path: tuple[str | int, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """(path, value) of every place `pointer` reaches in `document`; `*` goes through each item of a list."""
    if not pointer:
        yield path, document
        return
    head, rest = pointer[0], pointer[1:]
    if head == "*" and isinstance(document, list):
        for index, item in enumerate(document):
            yield from _resolve(item, rest, (*path, index))
    elif isinstance(document, dict) and head in document:
        yield from _resolve(document[head], rest, (*path, head))
    elif isinstance(document, list) and head.isdigit() and int(head) < len(document):
        yield from _resolve(document[int(head)], rest, (*path, int(head)))


def _comparable(value: Any) -> str | None:
    """A payload value as text, or None when there is nothing to compare (null, a list, an object)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return None
    return to_s(value)


def _redirected(family: _Family, payload: Any) -> bool:
    return family.unless is not None and any(v is not None for _, v in _resolve(payload, family.unless))


def _applicable(family: _Family, params: Mapping[str, Any]) -> Iterator[tuple[IdentifierField, str, _Relation]]:
    """The family's fields whose parameter the case sends as one non-blank value they apply to."""
    for spec in family.fields:
        if spec.param not in params or isinstance(params[spec.param], (list, dict)):
            continue
        value = to_s(params[spec.param]).strip()
        if value and spec.applies(value):
            yield spec, value, _RELATIONS[spec.relation]


def mismatches(operation_id: str, params: Mapping[str, Any], payload: Any) -> list[Mismatch]:
    """The identifying fields of `payload` that disagree with `params`, in table order."""
    family = _family(operation_id)
    if family is None or _redirected(family, payload):
        return []
    found = []
    for spec, value, relation in _applicable(family, params):
        for path, raw in _resolve(payload, spec.pointer):
            actual = _comparable(raw)
            if actual is None or relation.agrees(actual.strip(), value):
                continue
            pointer = "/" + "/".join(str(p) for p in path)
            found.append(Mismatch(spec.param, value, pointer, actual, relation.expected(value), tuple(path)))
    return found


def filled(operation_id: str, params: Mapping[str, Any], payload: Any) -> Any:
    """A copy of `payload` whose identifying fields follow from `params` (fields it lacks are not added)."""
    family = _family(operation_id)
    if family is None:
        return payload
    result = copy.deepcopy(payload)
    if _redirected(family, result):
        return result
    for spec, value, relation in _applicable(family, params):
        for path, raw in list(_resolve(result, spec.pointer)):
            current = _comparable(raw)
            if current is None or relation.agrees(current, value):
                continue
            target = result
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = relation.fill(value, current)
    return result
