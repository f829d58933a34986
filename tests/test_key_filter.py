"""A lookup that skips building keys on a filter finds what the full lookup finds, on every request.

`KeyFilter` (rules/key_filter.py) tells a miss from one parameter's entry before any key is
built. It must never hide a case: for every case of the real corpora and of the embedded
fixtures, in both match modes, the request that documents it, and requests changed from it the
ways people get them wrong (letter case, leading zeros, a list for a scalar, a value dropped or
replaced), are looked up with the filters and without: the same case, or none, each time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.load.snapshot import OperationTable, Snapshot, _found, build_snapshot
from sandbox.rules.key_filter import NO_FILTER, KeyFilter
from sandbox.rules.matching import NO_FACTS, KeyBuilder, LookupRule, LookupVariant, MatchMode, Params, parse_rules

from .conftest import ROOT, corpus_path
from .perturbation import perturbed

_SNAPSHOTS: dict[tuple[str, MatchMode], Snapshot] = {}


def _snapshot(root: Path, mode: MatchMode) -> Snapshot:
    key = (str(root), mode)
    if key not in _SNAPSHOTS:
        _SNAPSHOTS[key] = build_snapshot(root, mode)
    return _SNAPSHOTS[key]


def _unfiltered(table: OperationTable, params: Params) -> Any:
    found = _found(table.keys, table.index, params, NO_FACTS, NO_FILTER)
    if found is None and table.staging is not None:
        found = _found(*table.staging, params, NO_FACTS, NO_FILTER)
    return found


def _as_sent(params: dict[str, Any]) -> Params:
    """A case's parameters as a query string brings them back: text, or lists of texts."""
    sent: Params = {}
    for name, value in params.items():
        if isinstance(value, dict):
            continue
        if isinstance(value, list):
            sent[name.removesuffix("[]")] = [str(v) for v in value]
        else:
            sent[name.removesuffix("[]")] = "" if value is None else str(value)
    return sent


def _requests(snapshot: Snapshot) -> list[tuple[OperationTable, Params]]:
    return [
        (table, _as_sent(dict(case.params)))
        for table in snapshot.tables.values()
        for case in table.cases
        if isinstance(case.params, dict)
    ]


ROOTS = [pytest.param("embedded", id="embedded"), pytest.param("siade_staging_data"), pytest.param("apistration_mocks")]


def _root(name: str) -> Path:
    return ROOT if name == "embedded" else corpus_path(name)


@pytest.mark.parametrize("mode", [MatchMode.DOCUMENTED, MatchMode.STAGING])
@pytest.mark.parametrize("name", ROOTS)
def test_every_documented_request_finds_the_same_case_with_the_filters(name: str, mode: MatchMode) -> None:
    snapshot = _snapshot(_root(name), mode)
    requests = _requests(snapshot)
    assert len(requests) > 20
    hits = 0
    for table, params in requests:
        found = table.look_up(params)
        assert found is _unfiltered(table, params), (table.operation.id, params)
        hits += found is not None
    assert hits > len(requests) // 2  # the documented requests mostly reach a case: the check bites


@pytest.mark.parametrize("mode", [MatchMode.DOCUMENTED, MatchMode.STAGING])
@pytest.mark.parametrize("name", ROOTS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_changed_requests_find_the_same_case_with_the_filters(name: str, mode: MatchMode, data: st.DataObject) -> None:
    requests = _requests(_snapshot(_root(name), mode))
    table, params = data.draw(st.sampled_from(requests))
    others = st.sampled_from(["x", "DUPONT", "99100", "1", "2020", "M", "F", "é"])
    request = perturbed(params, data, others, at_least=1)
    assert table.look_up(request) is _unfiltered(table, request)


def test_a_filter_reads_the_parameter_with_the_most_distinct_entries() -> None:
    keys = KeyBuilder(MatchMode.DOCUMENTED, _rule([]), frozenset({"nom", "sexe", "recipient"}))
    index_keys = ["nom=dupont&sexe=m", "nom=martin&sexe=m", "nom=durand&sexe=f", "recipient=1&sexe=m"]
    screen = KeyFilter.of(keys, index_keys)
    assert (screen.param, screen.key) == ("nom", "nom")
    assert screen.entries == {"nom=dupont", "nom=martin", "nom=durand"}
    assert screen.excludes({"nom": "Dupont+"}) and not screen.excludes({"nom": "DUPONT"})
    # absent, blank or a list: the key has no such entry, nothing is told without it
    assert not screen.excludes({}) and not screen.excludes({"nom": ""}) and not screen.excludes({"nom": ["x"]})


def test_a_staging_filter_reads_only_a_key_written_from_the_value_as_sent() -> None:
    rule = _rule(
        [
            {
                "operations": ["op"],
                "keys": {
                    "nom": {},  # plain: its entry is the value as sent
                    "annee": {"kind": "int_or_nil"},  # a number: "08" and "8" write the same entry
                    "commune": {"only_if": {"pays": "99100"}},  # no entry unless pays is 99100
                    "mois": {"requires": ["annee"]},  # no entry without annee
                    "pays": {"default": "99100"},  # an entry even when not sent
                    "dept": {"param": "departement"},  # renamed: the entry carries the key's name
                    "uid": {"source": "token_uid"},  # the token's, not a parameter's
                    "recipient": {},  # a tracking parameter: the staging key never reads it
                },
            }
        ]
    )
    keys = KeyBuilder(MatchMode.STAGING, rule, frozenset())
    # the keys that are not plain have the most distinct entries: none is filtered on
    index_keys = [f"annee={n}&commune={n}&dept=75&mois={n}&nom=a&pays={n}&recipient={n}&uid={n}" for n in range(5)]
    index_keys += ["dept=13&nom=b", "dept=69&nom=b"]
    screen = KeyFilter.of(keys, index_keys)
    assert (screen.param, screen.key) == ("departement", "dept")
    assert screen.excludes({"departement": "01"}) and not screen.excludes({"departement": "13"})
    assert not screen.excludes({"commune": "z", "mois": "z", "annee": "z", "pays": "z", "uid": "z", "recipient": "z"})
    only_numbers = _rule([{"operations": ["op"], "keys": {"annee": {"kind": "int_or_nil"}}}])
    assert KeyFilter.of(KeyBuilder(MatchMode.STAGING, only_numbers, frozenset()), ["annee=8"]) == NO_FILTER


def test_a_key_in_one_variant_only_is_not_filtered_on() -> None:
    rule = _rule(
        [
            {
                "operations": ["op"],
                "variants": [{"when_not_blank": "ine", "keys": {"nom": {}, "ine": {}}}, {"keys": {"ine": {}}}],
            }
        ]
    )
    screen = KeyFilter.of(KeyBuilder(MatchMode.STAGING, rule, frozenset()), ["ine=1&nom=x", "ine=1&nom=y", "ine=2"])
    assert screen.param == "ine"
    last = _rule(
        [
            {
                "operations": ["op"],
                "variants": [{"when_not_blank": "ine", "keys": {"ine": {}}}, {"keys": {"nom": {}, "ine": {}}}],
            }
        ]
    )
    screen = KeyFilter.of(KeyBuilder(MatchMode.STAGING, last, frozenset()), ["ine=1&nom=x", "ine=1&nom=y", "ine=2"])
    assert screen.param == "ine"


def test_a_tie_goes_to_the_greatest_parameter_name() -> None:
    """Any plain parameter makes an exact filter; the choice among equals is only made the same every time."""
    rule = _rule([{"operations": ["op"], "keys": {"aa": {"param": "zz"}, "mm": {}}}])
    screen = KeyFilter.of(KeyBuilder(MatchMode.STAGING, rule, frozenset()), ["aa=1&mm=1", "aa=2&mm=2"])
    assert (screen.param, screen.key) == ("zz", "aa")


def _rule(raw: list[dict[str, Any]]) -> LookupRule:
    if not raw:
        return LookupRule("none", ("op",), (LookupVariant(()),))
    return parse_rules(raw, "test")[0]


def test_the_filters_are_made_once_per_table() -> None:
    snapshot = build_snapshot(ROOT)
    table = next(t for t in snapshot.tables.values() if t.index)
    assert table.filters is table.filters
