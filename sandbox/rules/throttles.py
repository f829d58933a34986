"""Throttle groups: which operations share a rate-limit counter, with what limit and period (spec §7).

Groups come from the repository's `data/throttle.yml` (`shared:`) or, when it has none,
from the built-in `throttle_defaults.yaml`. A malformed group is skipped with a warning.
A snapshot resolves, once per operation, the throttles that count it (`ThrottleTable`):
the limits a request meets are those of the revision that answers it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from importlib import resources
from typing import Any

import yaml

log = logging.getLogger(__name__)

BY_GROUP = "by_group_of_endpoints"
BY_ENDPOINT = "by_single_endpoint"
_THROTTLE_TYPES = {BY_GROUP: False, BY_ENDPOINT: True}

# `api_particulier_v4_…`, `api_entreprise_v5_…`: the v3+ controllers are named `v3` by
# the id → controller resolver, so every version counts as its `_v3_` id (spec §1.2).
_VERSIONED = re.compile(r"^(api_(?:particulier|entreprise)_v)(\d+)(_)")
_FIRST_SHARED_VERSION = 3
_PATTERN_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class ThrottleGroup:
    """One entry of `throttle.yml`: `per_endpoint` is `throttle_type: by_single_endpoint`."""

    name: str
    per_endpoint: bool
    endpoints: tuple[str, ...]
    limit: int
    period: int


@dataclass(frozen=True, slots=True)
class Throttle:
    """One throttle that counts an operation: its counter is named by (group, endpoint).

    `endpoint` is the normalised operation id for a `by_single_endpoint` group, "" for a group
    whose operations share one counter. Limit and period are the revision's: a reload that
    changes them changes what the next request meets, while the counter keeps its name.
    """

    group: str
    endpoint: str
    limit: int
    period: int


def normalise_operation_id(operation_id: str) -> str:
    """`api_particulier_v4_cnous_…` → `api_particulier_v3_cnous_…`; v2 and other ids unchanged."""
    match = _VERSIONED.match(operation_id)
    if match is None or int(match.group(2)) < _FIRST_SHARED_VERSION:
        return operation_id
    return f"{match.group(1)}{_FIRST_SHARED_VERSION}{match.group(3)}{operation_id[match.end() :]}"


# ------------------------------------------------------------------------ groups


def throttle_groups(shared: Mapping[str, Any] | None) -> tuple[ThrottleGroup, ...]:
    """Groups of a repository's `throttle.yml` `shared:` mapping, or the built-in ones when None.

    A malformed group is skipped with a warning; the others still apply.
    """
    if shared is None:
        shared = _default_shared()
    groups: list[ThrottleGroup] = []
    for name, spec in shared.items():
        group = _parse_group(str(name), spec)
        if group is not None:
            groups.append(group)
    return tuple(groups)


def _default_shared() -> Mapping[str, Any]:
    text = resources.files("sandbox.rules").joinpath("throttle_defaults.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=yaml.CSafeLoader)
    shared = data.get("shared") if isinstance(data, dict) else None
    if not isinstance(shared, dict):
        raise ValueError("sandbox/throttle_defaults.yaml: expected a top-level `shared:` mapping")
    return shared


def _parse_group(name: str, spec: Any) -> ThrottleGroup | None:
    if not isinstance(spec, Mapping):
        return _skip(name, "not a mapping")
    throttle_type = spec.get("throttle_type", BY_GROUP)
    if throttle_type not in _THROTTLE_TYPES:
        return _skip(name, f"unknown throttle_type {throttle_type!r}")
    endpoints = spec.get("endpoints")
    if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
        return _skip(name, "`endpoints` must be a list of operation ids")
    limit, period = spec.get("limit"), spec.get("period")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        return _skip(name, f"`limit` must be a non-negative integer, got {limit!r}")
    if isinstance(period, bool) or not isinstance(period, int) or period <= 0:
        return _skip(name, f"`period` must be a positive integer (seconds), got {period!r}")
    return ThrottleGroup(
        name=name,
        per_endpoint=_THROTTLE_TYPES[throttle_type],
        endpoints=tuple(endpoints),
        limit=limit,
        period=period,
    )


def _skip(name: str, reason: str) -> ThrottleGroup | None:
    log.warning("throttle group %r ignored: %s", name, reason)
    return None


# ------------------------------------------------------------------------ per operation


@dataclass(frozen=True, slots=True)
class _Matcher:
    group: ThrottleGroup
    counter: str  # the group's name; a second group of the same name gets a counter of its own
    exact: frozenset[str]
    patterns: tuple[str, ...]

    def matches(self, operation_id: str) -> bool:
        return operation_id in self.exact or any(fnmatchcase(operation_id, p) for p in self.patterns)


class ThrottleTable:
    """The throttle groups of one revision, resolved per operation (file order, as Rack::Attack tries them)."""

    __slots__ = ("_matchers", "groups")

    def __init__(self, groups: Sequence[ThrottleGroup]) -> None:
        self.groups = tuple(groups)
        seen: set[str] = set()
        matchers = []
        for index, group in enumerate(self.groups):
            counter = group.name if group.name not in seen else f"{group.name}\0{index}"
            seen.add(group.name)
            matchers.append(_matcher(group, counter))
        self._matchers = tuple(matchers)

    def for_operation(self, operation_id: str) -> tuple[Throttle, ...]:
        """The throttles that count an operation; v3+ ids count as their `_v3_` id (spec §1.2)."""
        normalised = normalise_operation_id(operation_id)
        return tuple(
            Throttle(
                group=m.counter,
                endpoint=normalised if m.group.per_endpoint else "",
                limit=m.group.limit,
                period=m.group.period,
            )
            for m in self._matchers
            if m.matches(normalised)
        )


def _matcher(group: ThrottleGroup, counter: str) -> _Matcher:
    entries = [normalise_operation_id(e) for e in group.endpoints]
    patterns = tuple(e for e in entries if not _PATTERN_CHARS.isdisjoint(e))
    exact = frozenset(e for e in entries if _PATTERN_CHARS.isdisjoint(e))
    return _Matcher(group=group, counter=counter, exact=exact, patterns=patterns)
