"""Misses found without building a key: one parameter's entries in an index's keys.

A request reaches a case when its key, the sorted entries `name=value` of `KeyBuilder.request_key`,
is the case's. So when the entry a request writes for one parameter is in none of the index's
keys, no case can match, and the key need not be built: with the staging key tried after the
documented one, that is most of what a miss costs (an integrator's traffic misses often: any
identity no case documents). The parameter filtered on is the one with the most distinct entries
among the keys; only a parameter whose entry `request_key` always writes as sent (a plain string
key) can be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.rules.matching import KeyBuilder, MatchMode, escape, string_entry
from sandbox.rules.tracking import TRACKING_PARAMETERS


@dataclass(frozen=True, slots=True)
class KeyFilter:
    """The entries one parameter has in an index's keys (`param`: None, filtering nothing)."""

    param: str | None
    key: str  # the name its entry carries (a staging key may rename the parameter)
    entries: frozenset[str]

    def excludes(self, params: Mapping[str, Any]) -> bool:
        """True when no key of the index can be this request's: its entry for the parameter is in none.
        A value that is not a non-empty string (absent, a list) excludes nothing."""
        if self.param is None:
            return False
        value = params.get(self.param)
        return type(value) is str and value != "" and string_entry(self.key, value) not in self.entries

    @classmethod
    def of(cls, keys: KeyBuilder, index_keys: Iterable[str]) -> KeyFilter:
        """The filter on the plain parameter of `keys` with the most distinct entries in `index_keys`."""
        candidates = _plain_parameters(keys)
        if not candidates:
            return NO_FILTER
        by_name: dict[str, set[str]] = {escape(key): set() for key in candidates.values()}
        for index_key in index_keys:
            for entry in index_key.split("&"):
                found = by_name.get(entry.partition("=")[0])
                if found is not None:
                    found.add(entry)
        param, key = max(candidates.items(), key=lambda item: (len(by_name[escape(item[1])]), item[0]))
        return cls(param, key, frozenset(by_name[escape(key)]))


NO_FILTER = KeyFilter(None, "", frozenset())


def _plain_parameters(keys: KeyBuilder) -> dict[str, str]:
    """Parameter → the name of its entry, for the parameters whose entry `request_key` writes from the
    value as sent, whatever the rest of the request (documented: every name; staging: a key read
    from the parameter, as a string, with no default nor condition, in every variant)."""
    if keys.mode is MatchMode.DOCUMENTED:
        return {name: name for name in keys.names if name not in TRACKING_PARAMETERS}
    plain: dict[str, str] | None = None
    for variant in keys.rule.variants:
        found = {
            spec.param: spec.key
            for spec in variant.keys
            if spec.source == "param"
            and spec.kind == "string"
            and spec.default is None
            and spec.only_if is None
            and not spec.requires
            and spec.param not in TRACKING_PARAMETERS
        }
        plain = found if plain is None else {p: k for p, k in plain.items() if found.get(p) == k}
    return plain or {}
