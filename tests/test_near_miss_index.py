"""The near-miss header's indexed scoring names the case the exhaustive scoring names.

`NearIndex.closest` (the `X-Sandbox-Near-Miss` of every fallback) scores candidates from the
values they share with the request and compares only the best in full; `NearIndex.nearest`
(`/__sandbox/explain`) compares every candidate in full. They must agree on every request:
values that differ by letter case, by number format, by order, a list against a scalar,
blank and missing parameters, mappings, crowded values and the 404.yaml left out.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.load.near_miss import NearIndex
from sandbox.load.repository import NOT_FOUND_FILE, Case
from sandbox.rules.matching import parse_query

from .perturbation import perturbed

NAMES = ("nom", "prenoms", "annee", "mois", "code", "sexe")
TEXTS = ("dupont", "DUPONT", "Dupont", "martin", "8", "08", "1990", "01990", " 8", "M", "m", "F", "", "x y")

scalars = st.one_of(
    st.sampled_from(TEXTS),
    st.integers(min_value=-2, max_value=12),
    st.sampled_from([1990, 10**25, True, None, 8.0]),
)
case_values = st.one_of(
    scalars,
    st.lists(st.sampled_from(TEXTS), max_size=3),
    st.dictionaries(st.sampled_from(("a", "b")), st.sampled_from(TEXTS), max_size=2),
)
# what a query string gives: text, or a list of texts (`name[]=`)
request_values = st.one_of(
    st.sampled_from(TEXTS),
    st.lists(st.sampled_from(TEXTS), max_size=3),
    st.sampled_from(["{'a' => 'dupont'}", "{'a': 'dupont'}", "(a value too large to compare)"]),
)
case_params = st.dictionaries(st.sampled_from((*NAMES, "code[]")), case_values, max_size=5)
request_params = st.dictionaries(st.sampled_from((*NAMES, "autre")), request_values, max_size=6)


def _as_sent(value: Any) -> Any:
    """A case value as a query string brings it back: text, or a list of texts."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _perturbed(params: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """A request close to a case: its values as sent, then a few of them changed the ways people get them wrong."""
    sent = {name.removesuffix("[]"): _as_sent(value) for name, value in params.items() if not isinstance(value, dict)}
    return perturbed(sent, data, request_values)


def _cases(all_params: list[dict[str, Any]], with_not_found: bool) -> list[Case]:
    cases = [
        Case("folder", f"{index:03d}.yaml", params, 200, {}, None, None, None, "")
        for index, params in enumerate(all_params)
    ]
    if with_not_found:
        cases.append(Case("folder", NOT_FOUND_FILE, {}, 404, {}, None, None, None, ""))
    return cases


def _agree(index: NearIndex, request: dict[str, Any], skip_not_found: bool) -> None:
    exhaustive = index.nearest(request, limit=1, skip_not_found=skip_not_found)
    indexed = index.closest(request, skip_not_found=skip_not_found)
    if not exhaustive:
        assert indexed is None
        return
    assert indexed is not None
    assert indexed.file == exhaustive[0].case.file, (request, indexed, exhaustive[0])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(case_params, min_size=0, max_size=12),
    request_params,
    st.booleans(),
    st.booleans(),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1, max_value=40),
)
def test_indexed_scoring_names_the_case_exhaustive_scoring_names(
    all_params: list[dict[str, Any]],
    request: dict[str, Any],
    with_not_found: bool,
    skip_not_found: bool,
    max_shared_by: int,
    candidates: int,
) -> None:
    # small bounds make crowded values and a candidate limit below the number of cases common
    index = NearIndex.build(_cases(all_params, with_not_found), max_shared_by=max_shared_by, candidates=candidates)
    _agree(index, request, skip_not_found)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(case_params, min_size=1, max_size=16),
    st.data(),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=1, max_value=20),
)
def test_indexed_scoring_agrees_on_requests_close_to_a_case(
    all_params: list[dict[str, Any]], data: st.DataObject, max_shared_by: int, candidates: int
) -> None:
    close_to = data.draw(st.sampled_from(all_params))
    # cases close to one another too, so that the closest one has rivals a few tenths away
    variants = [_perturbed(close_to, data) for _ in range(data.draw(st.integers(min_value=0, max_value=4)))]
    cases = _cases(all_params + variants, True)
    index = NearIndex.build(cases, max_shared_by=max_shared_by, candidates=candidates)
    _agree(index, _perturbed(close_to, data), data.draw(st.booleans()))


@settings(max_examples=200, deadline=None)
@given(st.lists(case_params, min_size=1, max_size=40), st.data())
def test_indexed_scoring_agrees_with_the_default_bounds(all_params: list[dict[str, Any]], data: st.DataObject) -> None:
    close_to = data.draw(st.sampled_from(all_params))
    _agree(NearIndex.build(_cases(all_params, True)), _perturbed(close_to, data), True)


def test_ties_and_cases_that_share_nothing() -> None:
    cases = _cases([{"nom": "dupont", "annee": 1990}, {"nom": "martin"}, {"code": ["1", "2"], "sexe": "M"}], True)
    index = NearIndex.build(cases)
    # 000 and 001 both cost 2.0 in two differences: the file name decides
    request = parse_query(b"nom=durand&annee=2001")
    closest = index.closest(request, skip_not_found=True)
    assert closest is not None and closest.file == "000.yaml"
    assert [(d.parameter, d.kind) for d in index.nearest(request, limit=1)[0].differences] == [
        ("annee", "different"),
        ("nom", "different"),
    ]
    # a shared value in another letter case and a number written differently: 000, at 0.4
    closest = index.closest(parse_query(b"nom=DUPONT&annee=01990"), skip_not_found=True)
    assert closest is not None and closest.file == "000.yaml"
    # a mapping has no indexed form: compared one by one (its text, as the exhaustive scoring does)
    rivals: list[dict[str, Any]] = [{"nom": {"a": "dupont"}, "annee": 1}, {"nom": "{'a': 'dupont'}", "annee": "01"}]
    mapped = NearIndex.build(_cases(rivals, False))
    request = {"nom": "{'A': 'DUPONT'}", "annee": "1"}
    closest = mapped.closest(request)
    assert closest is not None and closest.file == "000.yaml"
    assert mapped.nearest(request, limit=1)[0].score == 0.0
    only_not_found = NearIndex.build(_cases([], True))
    assert only_not_found.closest({"nom": "x"}, skip_not_found=True) is not None  # the 404.yaml, the only case
    assert NearIndex.build([]).closest({"nom": "x"}) is None


def test_a_remembered_answer_is_the_computed_one_and_skip_not_found_is_part_of_the_question() -> None:
    cases = _cases([{"nom": "dupont", "annee": "1990"}, {"nom": "martin", "annee": "1985"}], True)
    index = NearIndex.build(cases)
    request = parse_query(b"annee=1777")  # as close to 404.yaml (nothing) as to the others: 404.yaml wins
    with_404 = index.closest(request)
    without = index.closest(request, skip_not_found=True)
    assert with_404 is not None and with_404.file == NOT_FOUND_FILE
    assert without is not None and without.file == "000.yaml"
    assert len(index.remembered) == 2
    assert index.closest(request) is with_404 and index.closest(request, skip_not_found=True) is without
    assert len(index.remembered) == 2  # answered from memory


def test_what_is_remembered_stays_within_its_bounds() -> None:
    index = NearIndex.build(_cases([{"nom": "dupont"}, {"nom": "martin"}], False))
    for number in range(3000):
        index.closest({"nom": f"durand{number}", "prenoms": ["a" * 300, str(number)]})
    assert len(index.remembered) <= 1024 and index.remembered.bytes <= 1024 * 1024
    before = len(index.remembered)
    index.closest({"nom": "x" * 5000})  # too long to be worth keeping
    index.closest({"nom": {"a": "dupont"}})  # a nested mapping: not a plain request
    assert len(index.remembered) == before
