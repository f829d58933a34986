"""The rule-table parser shared by lookup rules and validation rules (sandbox.rules.table)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.load.snapshot import build_snapshot
from sandbox.rules.matching import RuleError, builtin_rulebook, parse_rulebook, parse_rules
from sandbox.rules.table import Condition, matches
from sandbox.rules.validation import ValidationRuleError, builtin_validation_rules, parse_validation_rules
from sandbox.tools.lint import lint_repository
from tests import tiny_repository

LOOKUP = {"operations": ["api_x_v3_*"], "keys": {"siren": {}}}
VALIDATION = {"operations": ["api_x_v3_*"], "checks": [{"kind": "siren"}]}


def _refused(parse: Any, raw: dict[str, Any], origin: str = "sandbox.yaml") -> str:
    with pytest.raises(RuleError) as caught:
        parse([raw], origin)
    return str(caught.value)


# -- unknown keys are refused everywhere, with the key and its place ---------------------------


@pytest.mark.parametrize(
    ("raw", "place", "key"),
    [
        ({**LOOKUP, "colour": "red"}, "sandbox.yaml: rule 1:", "colour"),
        ({**LOOKUP, "when_present": "siren"}, "sandbox.yaml: rule 1:", "when_present"),
        (
            {**LOOKUP, "keys": {"siren": {"kind": "list", "sorce": "param"}}},
            "sandbox.yaml: rule 1: key 'siren':",
            "sorce",
        ),
        (
            {"operations": ["x"], "variants": [{"when_present": "ine", "keys": {"ine": {}}, "compcat": False}]},
            "sandbox.yaml: rule 1: variant 1:",
            "compcat",
        ),
    ],
)
def test_a_lookup_rule_with_an_unknown_key_is_refused(raw: dict[str, Any], place: str, key: str) -> None:
    message = _refused(parse_rules, raw)
    assert message.startswith(place), message
    assert re.search(rf"unknown (key|option)\(s\) \['{key}'\]", message), message


@pytest.mark.parametrize(
    ("raw", "place", "key"),
    [
        ({**VALIDATION, "colour": "red"}, "validation: rule 1:", "colour"),
        ({**VALIDATION, "checks": [{"kind": "siren", "parm": "id"}]}, "validation: rule 1: check 1: siren:", "parm"),
        (
            {"operations": ["x"], "variants": [{"when_not_blank": "ine", "checks": [], "when": "x"}]},
            "validation: rule 1: variant 1:",
            "when",
        ),
    ],
)
def test_a_validation_rule_with_an_unknown_key_is_refused(raw: dict[str, Any], place: str, key: str) -> None:
    message = _refused(parse_validation_rules, raw, "validation")
    assert message.startswith(place), message
    assert re.search(rf"unknown (key|option)\(s\) \['{key}'\]", message), message


def test_the_message_lists_the_keys_that_are_known() -> None:
    message = _refused(parse_rules, {**LOOKUP, "colour": "red"})
    assert message == (
        "sandbox.yaml: rule 1: unknown key(s) ['colour'] (known: compact, keys, name, note, operations, variants)"
    )


def test_both_tables_share_one_error_and_one_shape() -> None:
    assert ValidationRuleError is RuleError
    for parse, body in ((parse_rules, "keys"), (parse_validation_rules, "checks")):
        assert _refused(parse, {"operations": ["x"]}, "t") == f"t: rule 1: give either `{body}` or `variants`"
        assert "`operations` must list" in _refused(parse, {"operation": "x", body: []}, "t")
        assert (
            _refused(parse, {"operations": "x", "variants": []}, "t")
            == "t: rule 1: `variants` must be a non-empty list"
        )
    lookup = parse_rules([{"operations": "api_x", "name": "n", "note": " why ", "keys": {"a": {}}}], "t")[0]
    validation = parse_validation_rules([{"operations": "api_x", "name": "n", "note": " why ", "checks": []}], "t")[0]
    for rule in (lookup, validation):
        assert (rule.name, rule.patterns, rule.note) == ("n", ("api_x",), "why")
        assert rule.applies_to("api_x") and not rule.applies_to("api_y")


def test_france_connect_mappings_refuse_unknown_keys() -> None:
    data = {
        "rules": [LOOKUP],
        "france_connect": {
            "operations": ["api_x_*"],
            "mappings": [{"operations": ["api_x_*"], "identity": {"nom": "family_name"}, "idnetity": {}}],
        },
    }
    with pytest.raises(RuleError, match=re.escape("t: france_connect mapping 1: unknown key(s) ['idnetity']")):
        parse_rulebook(data, "t")
    with pytest.raises(RuleError, match=re.escape("t: france_connect: unknown key(s) ['mapping']")):
        parse_rulebook({"rules": [], "france_connect": {"mapping": []}}, "t")
    with pytest.raises(RuleError, match=re.escape("t: unknown key(s) ['rule']")):
        parse_rulebook({"rules": [], "rule": []}, "t")


def test_a_repository_rule_with_an_unknown_key_is_reported_not_ignored(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repo")
    rule = {"operations": ["api_entreprise_v3_demo_*"], "keys": {"siren": {}}, "compat": False}
    (root / "sandbox.yaml").write_text(yaml.safe_dump({"lookup_rules": [rule]}), encoding="utf-8")
    with pytest.raises(RuleError, match=re.escape("sandbox.yaml: rule 1: unknown key(s) ['compat']")):
        build_snapshot(root)
    findings = [f for f in lint_repository(root).findings if f.rule == "repository-problem"]
    assert [(f.file, "['compat']" in f.message) for f in findings] == [("sandbox.yaml", True)]


# -- when_present and when_not_blank ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "present", "not_blank"),
    [
        (None, False, False),
        ("", False, False),
        ([], False, False),
        ("   ", True, False),
        ("\t", True, False),
        ("x", True, True),
        ([""], True, True),
        (["a"], True, True),
    ],
)
def test_the_two_senses_of_a_variant_condition(value: Any, present: bool, not_blank: bool) -> None:
    params = {"p": value}
    assert Condition("p").holds(params) is present
    assert Condition("p", blank_is_absent=True).holds(params) is not_blank


def test_a_variant_has_at_most_one_condition() -> None:
    raw = {"operations": ["x"], "variants": [{"when_present": "a", "when_not_blank": "a", "keys": {"a": {}}}]}
    assert "give at most one of `when_present` or `when_not_blank`" in _refused(parse_rules, raw)


def test_variants_pick_by_their_own_sense() -> None:
    raw: dict[str, Any] = {
        "operations": ["x"],
        "variants": [{"when_present": "ine", "keys": {"ine": {}}}, {"keys": {"nom": {}}}],
    }
    lookup = parse_rules([raw], "t")[0]
    checks = [{"kind": "ine"}]
    validation = parse_validation_rules(
        [{"operations": ["x"], "variants": [{"when_not_blank": "ine", "checks": checks}, {"checks": []}]}], "t"
    )[0]
    whitespace = {"ine": " "}
    assert lookup.variant_for(whitespace).keys[0].key == "ine"  # sent: the ine variant
    assert validation.variant_for(whitespace).checks == ()  # blank: the default variant
    assert lookup.variant_for({"ine": ""}).keys[0].key == "nom"


def test_the_builtin_tables_keep_each_their_sense() -> None:
    """The lookup table selects on `when_present`, the validation table on `when_not_blank`:
    each keeps the behaviour it had before the two parsers became one."""
    lookup = {v.when.key for rule in builtin_rulebook().rules for v in rule.variants if v.when}
    validation = {v.when.key for rule in builtin_validation_rules() for v in rule.variants if v.when}
    assert (lookup, validation) == ({"when_present"}, {"when_not_blank"})


# what operation ids and the tables' patterns are made of, and the characters fnmatch reads
_NAME_PIECES = ["api", "_", "v3", "v", "3", "entreprise", "*", "?", "[", "]", "!", "a", "b", ".", "-", "/"]


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(st.sampled_from([p for p in _NAME_PIECES if p not in "*?[]!"]), max_size=8),
    st.lists(st.sampled_from(_NAME_PIECES), max_size=8),
)
def test_a_pattern_matches_what_fnmatch_matches(name: list[str], pattern: list[str]) -> None:
    operation_id, glob = "".join(name), "".join(pattern)
    assert matches(operation_id, glob) == fnmatch.fnmatchcase(operation_id, glob)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(["a", "b"]), max_size=6), st.lists(st.sampled_from(["a", "b", "*"]), max_size=7))
def test_patterns_of_stars_over_a_small_alphabet_match_what_fnmatch_matches(
    name: list[str], pattern: list[str]
) -> None:
    """Parts that overlap and repeat: where a star-by-star search can go wrong."""
    operation_id, glob = "".join(name), "".join(pattern)
    assert matches(operation_id, glob) == fnmatch.fnmatchcase(operation_id, glob)


def test_the_usual_patterns_match_as_fnmatch_does() -> None:
    pattern = "api_entreprise_v*_insee_unites_legales"
    assert matches("api_entreprise_v3_insee_unites_legales", pattern)
    assert matches("api_entreprise_v_insee_unites_legales", pattern)  # `*` matches nothing too
    assert not matches("api_entreprise_v3_insee_unites_legales_diffusibles", pattern)
    assert not matches("api_entreprise_v", pattern)
    assert matches("api_particulier_v2_cnav", "api_particulier_v2_cnav")
    assert not matches("api_particulier_v2_cnav2", "api_particulier_v2_cnav")
    assert matches("ab", "a*b*")
    assert not matches("ab", "*ab*b*")  # the second part is searched after the first
    assert not matches("a", "*a*a")  # nor inside the last
    assert matches("api_particulier_v2_cnav_quotient_familial_v2", "api_particulier_v*_cnav_quotient_familial*")
