"""Why a request did not reach a case: the closest cases and what differs, parameter by parameter.

The comparison is on raw values, so it can say more than the lookup does: a value that
differs only by letter case (which still matches), only by type or format (`08` and
`8`), arrays in another order, a scalar sent where the case has a list, a parameter
missing or extra. Each kind has a weight; the closest case has the smallest total.

The work per request is bounded whatever the fixture repository holds: `NearIndex`,
built with the snapshot, lists for each parameter and normalised value the cases that
have it, so a miss scores only the `CANDIDATES` cases sharing the most values with the
request; a case value too large to fit in a URL is never compared, nor are a case's
parameters past the first `MAX_CASE_PARAMETERS`.

`X-Sandbox-Near-Miss` (every fallback) comes from `NearIndex.closest`, which scores the same
candidates from the index alone: each distinct case value the request shares a form with is
weighed once, every other parameter costs a full weight, and only a tie is compared in full.
`/__sandbox/explain` uses `nearest`, which compares every candidate in full; both name the same case.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from typing import Any

from sandbox.load.repository import NOT_FOUND_FILE, Case
from sandbox.rules.bounded_cache import BoundedCache
from sandbox.rules.coercion import OVERSIZED, ruby_integer, to_s
from sandbox.rules.matching import Params, strip_brackets

CANDIDATES = 32  # cases scored on each miss
MAX_CASE_PARAMETERS = 64  # parameters of one case taken into account
MAX_COMPARED_CHARS = 8 * 1024  # a longer case value cannot come back in a URL: never compared
MAX_SHARED_BY = 1024  # a value more cases than this share does not single any out
# `closest` remembered per operation for requests of at most 2,048 characters: 1,024 of them, 1 MiB
REMEMBERED_MISSES = 1024
REMEMBERED_MISS_BYTES = 1024 * 1024
REMEMBERED_REQUEST_CHARS = 2048

# How far each kind of difference takes a request from a case.
_WEIGHTS = {"case": 0.0, "type": 0.4, "order": 0.4, "array": 0.4, "different": 1.0, "missing": 1.0, "extra": 1.0}
_MESSAGES = {
    "case": "differs only by letter case (matched anyway: values are compared lower-cased)",
    "type": "same number written differently (e.g. 08 and 8): the lookup compares the text",
    "order": "same values in another order: array order matters",
    "array": "sent as a single value where the case has a list (send name[]=value), or the reverse",
    "different": "different value",
    "missing": "the case has this parameter, the request does not send it",
    "extra": "the request sends this parameter, the case does not have it",
}


@dataclass(frozen=True, slots=True)
class Difference:
    parameter: str
    kind: str
    case_value: Any
    request_value: Any

    @property
    def message(self) -> str:
        return _MESSAGES[self.kind]


@dataclass(frozen=True, slots=True)
class NearCase:
    case: Case
    score: float
    differences: tuple[Difference, ...]

    @property
    def blocking(self) -> tuple[Difference, ...]:
        """The differences that stop the lookup (a letter-case difference does not)."""
        return tuple(d for d in self.differences if d.kind != "case")


def _numbers_equal(left: Any, right: Any) -> bool:
    a, b = ruby_integer(left), ruby_integer(right)
    return a is not None and a == b and abs(a) < OVERSIZED  # two oversized numbers are not known equal


def _compare(name: str, case_value: Any, request_value: Any) -> Difference | None:
    if isinstance(case_value, list) != isinstance(request_value, list):
        single = case_value if not isinstance(case_value, list) else request_value
        listed = case_value if isinstance(case_value, list) else request_value
        kind = "array" if len(listed) == 1 and to_s(listed[0]).lower() == to_s(single).lower() else "different"
        return Difference(name, kind, case_value, request_value)
    if isinstance(case_value, list):
        theirs, ours = [to_s(v) for v in case_value], [to_s(v) for v in request_value]
        if theirs == ours:
            return None
        lowered = ([v.lower() for v in theirs], [v.lower() for v in ours])
        if lowered[0] == lowered[1]:
            return Difference(name, "case", case_value, request_value)
        kind = "order" if sorted(lowered[0]) == sorted(lowered[1]) else "different"
        return Difference(name, kind, case_value, request_value)
    theirs_text, ours_text = to_s(case_value), to_s(request_value)
    if theirs_text == ours_text:
        return None
    if theirs_text.lower() == ours_text.lower():
        return Difference(name, "case", case_value, request_value)
    if _numbers_equal(case_value, request_value):
        return Difference(name, "type", case_value, request_value)
    return Difference(name, "different", case_value, request_value)


def differences(case_params: Mapping[str, Any], request_params: Mapping[str, Any]) -> tuple[Difference, ...]:
    theirs = {strip_brackets(str(k)): v for k, v in case_params.items()}
    found = []
    for name in sorted(set(theirs) | set(request_params)):
        if name not in request_params or request_params[name] in (None, "", []):
            if theirs.get(name) not in (None, "", []):
                found.append(Difference(name, "missing", theirs[name], None))
        elif name not in theirs:
            found.append(Difference(name, "extra", None, request_params[name]))
        else:
            difference = _compare(name, theirs[name], request_params[name])
            if difference is not None:
                found.append(difference)
    return tuple(found)


def _fits(value: Any, budget: int) -> bool:
    """True when `value` written as text takes at most about `budget` characters (early exit)."""
    used, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            used += len(item) + 1
        elif isinstance(item, bool) or item is None or isinstance(item, float):
            used += 6
        elif isinstance(item, int):
            used += item.bit_length() // 3 + 2
        elif isinstance(item, (list, dict)):
            used += len(item) + 2
            if used <= budget:
                pending.extend(item.values() if isinstance(item, dict) else item)
                if isinstance(item, dict):
                    pending.extend(item.keys())
        else:
            used += 16
        if used > budget:
            return False
    return True


def _comparable(value: Any) -> Any:
    """The value as compared: itself, or a short note when it is too large to be sent in a URL."""
    return value if _fits(value, MAX_COMPARED_CHARS) else "(a value too large to compare)"


def _forms(value: Any) -> tuple[tuple[str, str], ...]:
    """The normal forms under which two values count as shared (letter case, number, order, one-item list)."""
    if isinstance(value, dict):
        return ()
    if isinstance(value, list):
        items = [to_s(v).lower() for v in value]
        listed = ("list", "\x00".join(sorted(items)))
        return (listed, ("text", items[0])) if len(items) == 1 else (listed,)
    text = ("text", to_s(value).lower())
    number = ruby_integer(value)
    return (text, ("number", str(number))) if number is not None else (text,)


# The weights in tenths: sums of them are exact, so that they can rank cases without rounding.
_TENTHS = {kind: round(weight * 10) for kind, weight in _WEIGHTS.items()}
_FULL = _TENTHS["different"]  # what a parameter costs that the case and the request do not share


def _blank(value: Any) -> bool:
    """What `differences` counts as not sent (a blank request value) or not documented."""
    return value in (None, "", [])


# What `_compare` reads of a value, worked out once: (listed, text, lower-cased, number) for a
# scalar (number: None unless Ruby reads the whole text as one that `_numbers_equal` compares),
# (listed, texts, lower-cased texts, sorted lower-cased texts) for a list.
_Profile = tuple[bool, Any, Any, Any]


def _profile(value: Any) -> _Profile:
    if isinstance(value, list):
        texts = tuple(to_s(v) for v in value)
        lowered = tuple(text.lower() for text in texts)
        return (True, texts, lowered, tuple(sorted(lowered)))
    text = to_s(value)
    number = ruby_integer(value)
    return (False, text, text.lower(), number if number is not None and abs(number) < OVERSIZED else None)


def _cost(theirs: _Profile, ours: _Profile) -> int:
    """What `_compare` of the two values weighs, in tenths (0 when they are the same)."""
    if theirs[0] != ours[0]:
        listed, single = (theirs, ours) if theirs[0] else (ours, theirs)
        return _TENTHS["array"] if len(listed[2]) == 1 and listed[2][0] == single[2] else _FULL
    if theirs[1] == ours[1]:
        return 0
    if theirs[2] == ours[2]:
        return _TENTHS["case"]
    if theirs[0]:
        return _TENTHS["order"] if theirs[3] == ours[3] else _FULL
    return _TENTHS["type"] if theirs[3] is not None and theirs[3] == ours[3] else _FULL


def _shared_set(sets: dict[frozenset[str], frozenset[str]], names: frozenset[str]) -> frozenset[str]:
    return sets.setdefault(names, names)


def _interned(profiles: dict[tuple[Any, ...], _Profile], name: str, value: Any) -> _Profile:
    """One profile object per (parameter, profile, forms): the cases that share it share all its forms."""
    profile = _profile(value)
    return profiles.setdefault((name, profile, _forms(value)), profile)


@lru_cache(maxsize=4096)
def _short_text_profile(text: str) -> _Profile:
    return _profile(text)


def _sent_profile(value: Any) -> _Profile:
    """`_profile` of a request value (short texts remembered, as `_sent_forms` does)."""
    if isinstance(value, str) and len(value) <= 32:
        return _short_text_profile(value)
    return _profile(value)


@lru_cache(maxsize=4096)
def _short_text_forms(text: str) -> tuple[tuple[str, str], ...]:
    return _forms(text)


def _sent_forms(value: Any) -> tuple[tuple[str, str], ...]:
    """`_forms` of a request value; the short texts that come back on every request are remembered
    (4096 of at most 32 characters: bounded whatever clients send)."""
    if isinstance(value, str) and len(value) <= 32:
        return _short_text_forms(value)
    return _forms(value)


@dataclass(frozen=True, slots=True)
class _Entry:
    case: Case
    params: Mapping[str, Any]  # stripped names, bounded values: what scoring reads
    present: frozenset[str]  # the names with a value that is not blank: a request without them misses them
    profiles: Mapping[str, _Profile]  # name → what comparing its value reads (one object per value)
    unindexed: frozenset[str]  # names whose value has no shared form (a mapping): compared one by one


@dataclass(frozen=True, slots=True)
class NearIndex:
    """The cases of one operation, indexed by shared values for bounded near-miss scoring."""

    entries: tuple[_Entry, ...]
    shared: Mapping[tuple[str, str, str], tuple[int, ...]]  # (parameter, form kind, form) → entry positions
    # the same, the cases grouped by their value (its profile): each value is weighed once per request
    groups: Mapping[tuple[str, str, str], tuple[tuple[_Profile, tuple[int, ...]], ...]]
    crowded: frozenset[tuple[str, str, str]]  # the forms left out of `shared`: too many cases have them
    by_size: tuple[int, ...]  # positions, fewest parameters first, then file name
    rank: tuple[int, ...]  # position → its place in `by_size`
    not_found: frozenset[int]  # positions of the folder's 404.yaml
    limit: int  # cases scored on each miss (CANDIDATES)
    # `closest`'s answers by request: an integrator's retries of a miss differ only in parameters no
    # lookup reads (tracking, a request id), which `documented_mapping` has already dropped
    remembered: BoundedCache[tuple[bool, tuple[Any, ...]], tuple[Case | None]] = field(
        default_factory=lambda: BoundedCache(REMEMBERED_MISSES, REMEMBERED_MISS_BYTES), compare=False, repr=False
    )

    @classmethod
    def build(
        cls, cases: Sequence[Case], *, max_shared_by: int = MAX_SHARED_BY, candidates: int = CANDIDATES
    ) -> NearIndex:
        entries = []
        shared: dict[tuple[str, str, str], list[int]] = {}
        profiles: dict[tuple[Any, ...], _Profile] = {}
        presents: dict[frozenset[str], frozenset[str]] = {}  # cases mostly document the same names
        for position, case in enumerate(cases):
            params = {
                strip_brackets(str(name)): _comparable(value)
                for name, value in islice(case.params.items(), MAX_CASE_PARAMETERS)
            }
            unindexed = set()
            for name, value in params.items():
                forms = _forms(value)
                if not forms:
                    unindexed.add(name)
                for kind, form in forms:
                    shared.setdefault((name, kind, form), []).append(position)
            entries.append(
                _Entry(
                    case,
                    params,
                    present=_shared_set(presents, frozenset(n for n, v in params.items() if not _blank(v))),
                    # one object per (parameter, value): a request weighs it once, whatever cases share it
                    profiles={name: _interned(profiles, name, value) for name, value in params.items()},
                    unindexed=frozenset(unindexed),
                )
            )
        by_size = sorted(range(len(entries)), key=lambda p: (len(entries[p].params), entries[p].case.file))
        rank = [0] * len(entries)
        for place, position in enumerate(by_size):
            rank[position] = place
        groups: dict[tuple[str, str, str], tuple[tuple[_Profile, tuple[int, ...]], ...]] = {}
        for key, positions in shared.items():
            if len(positions) <= max_shared_by:
                by_value: dict[int, tuple[_Profile, list[int]]] = {}
                for position in positions:
                    profile = entries[position].profiles[key[0]]
                    by_value.setdefault(id(profile), (profile, []))[1].append(position)
                groups[key] = tuple((profile, tuple(group)) for profile, group in by_value.values())
        return cls(
            entries=tuple(entries),
            shared={k: tuple(v) for k, v in shared.items() if len(v) <= max_shared_by},
            groups=groups,
            crowded=frozenset(k for k, v in shared.items() if len(v) > max_shared_by),
            by_size=tuple(by_size),
            rank=tuple(rank),
            not_found=frozenset(p for p, e in enumerate(entries) if e.case.file == NOT_FOUND_FILE),
            limit=candidates,
        )

    def nearest(self, request_params: Params, limit: int = 3, *, skip_not_found: bool = False) -> list[NearCase]:
        """The `limit` closest cases, closest first (ties: fewer differences, then file name).

        `skip_not_found`: leave the folder's `404.yaml` out, unless it is the only case.
        """
        ranked = [
            self._scored(position, request_params)
            for position in self.candidates(request_params, skipped=self._skipped(skip_not_found))
        ]
        ranked.sort(key=_ranking)
        return ranked[:limit]

    def closest(self, request_params: Params, *, skip_not_found: bool = False) -> Case | None:
        """`nearest(request_params, 1, ...)`'s case, remembered for requests of plain text values."""
        frozen = _remembered_form(request_params)
        if frozen is None:
            return self._closest(request_params, skip_not_found)
        key = (skip_not_found, frozen)
        found = self.remembered.get(key)
        if found is None:
            found = (self._closest(request_params, skip_not_found),)
            self.remembered.put(key, found, sum(len(name) + len(str(value)) for name, value in frozen))
        return found[0]

    def _closest(self, request_params: Params, skip_not_found: bool) -> Case | None:
        """`nearest(request_params, 1, ...)`'s case, found without comparing every candidate in full.

        A parameter costs a full weight unless the case's value shares a form with the request's
        (every lighter kind of difference implies a shared form), so the index gives each candidate
        its score in tenths from the few values it shares, each pair weighed once per request;
        when several candidates have the lowest score, they are compared in full, as `nearest` does.
        """
        skipped = self._skipped(skip_not_found)
        if len(self.entries) - len(skipped) <= self.limit:
            chosen = [p for p in range(len(self.entries)) if p not in skipped]  # every case is a candidate
        else:
            chosen = self._chosen(self._sharing(request_params), skipped)
        if not chosen:
            return None
        sent = {name: value for name, value in request_params.items() if not _blank(value)}
        base = _FULL * len(sent)
        entries = self.entries
        missing: dict[int, int] = {}  # id of a set of present names → how many of them the request lacks
        scores = {}
        for p in chosen:
            present = entries[p].present
            count = missing.get(id(present))
            if count is None:
                count = missing[id(present)] = len(present.difference(sent))
            scores[p] = base + _FULL * count
        # What each value the request shares with candidates costs less than a full weight, taken
        # off the cases that have it; crowded forms (not indexed) and mappings (no form) case by case.
        weighed: dict[tuple[str, int], int] = {}  # (name, id of a case value's profile) → its cost

        def relieve(position: int, name: str) -> None:
            profile = entries[position].profiles[name]
            cost = weighed.get((name, id(profile)))
            if cost is None:
                cost = weighed[(name, id(profile))] = _cost(profile, sent_profiles[name])
            scores[position] -= _FULL - cost

        sent_profiles = {name: _sent_profile(value) for name, value in sent.items()}
        for name, value in sent.items():
            ours = sent_profiles[name]
            grouped: set[int] = set()  # the case values of this name weighed through the groups
            crowded = False
            for kind, form in _sent_forms(value):
                key = (name, kind, form)
                crowded = crowded or key in self.crowded
                for profile, positions in self.groups.get(key, ()):
                    if id(profile) in grouped:
                        continue  # shared under another form too: weighed once
                    grouped.add(id(profile))
                    cost = weighed[(name, id(profile))] = _cost(profile, ours)
                    if cost < _FULL:
                        for position in positions:
                            if position in scores:
                                scores[position] -= _FULL - cost
            if crowded:
                for position in chosen:
                    entry = entries[position]
                    theirs = entry.profiles.get(name)
                    if theirs is not None and id(theirs) not in grouped and name not in entry.unindexed:
                        relieve(position, name)
        for position in chosen:
            for name in entries[position].unindexed.intersection(sent):
                relieve(position, name)
        lowest = min(scores.values())
        tied = [p for p in chosen if scores[p] == lowest]
        if len(tied) == 1:
            return entries[tied[0]].case  # the only lowest score in tenths is the lowest score
        return min((self._scored(p, request_params) for p in tied), key=_ranking).case

    def candidates(self, request_params: Params, skipped: frozenset[int] = frozenset()) -> list[int]:
        """The cases sharing the most parameter values with the request, then the smallest ones."""
        return self._chosen(self._sharing(request_params), skipped)

    def _skipped(self, skip_not_found: bool) -> frozenset[int]:
        return self.not_found if skip_not_found and len(self.not_found) < len(self.entries) else frozenset()

    def _scored(self, position: int, request_params: Params) -> NearCase:
        entry = self.entries[position]
        found = differences(entry.params, request_params)
        return NearCase(entry.case, sum(_WEIGHTS[d.kind] for d in found), found)

    def _sharing(self, request_params: Params) -> list[tuple[str, set[int], bool]]:
        """For each request parameter: the cases whose value shares a form with it, and whether
        a form of it is crowded (too many cases share it to be indexed)."""
        sharing = []
        for name, value in request_params.items():
            seen: set[int] = set()
            crowded = False
            for kind, form in _sent_forms(value):
                key = (name, kind, form)
                seen.update(self.shared.get(key, ()))
                crowded = crowded or key in self.crowded
            sharing.append((name, seen, crowded))
        return sharing

    def _chosen(self, sharing: list[tuple[str, set[int], bool]], skipped: frozenset[int]) -> list[int]:
        counts: Counter[int] = Counter()
        for _name, seen, _crowded in sharing:
            counts.update(seen)
        for position in skipped:
            counts.pop(position, None)
        rank = self.rank
        chosen = heapq.nsmallest(self.limit, counts, key=lambda p: (-counts[p], rank[p]))
        for position in self.by_size:
            if len(chosen) >= self.limit:
                break
            if position not in skipped and position not in counts:
                chosen.append(position)
        return chosen


def _ranking(near: NearCase) -> tuple[float, int, str]:
    return (near.score, len(near.differences), near.case.file)


def _remembered_form(params: Params) -> tuple[Any, ...] | None:
    """The request as a memo key: its text values and lists of texts, in order; None for anything
    else (a nested mapping) or for a request too long to be worth keeping."""
    items: list[tuple[str, Any]] = []
    size = 0
    for name, value in params.items():
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            size += sum(len(item) for item in value)
            value = tuple(value)
        else:
            return None
        items.append((name, value))
        size += len(name)
    return tuple(items) if size <= REMEMBERED_REQUEST_CHARS else None
