from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.rules.coercion import ruby_to_i
from sandbox.rules.matching import (
    KeyBuilder,
    KeySpec,
    LookupVariant,
    MatchMode,
    RequestFacts,
    RuleError,
    Unmatchable,
    builtin_rules,
    canonical_key,
    parse_query,
    parse_rules,
    staging_mapping,
    strip_brackets,
    to_query,
)


def test_to_query_escapes_like_ruby_cgi() -> None:
    assert to_query({"nom": "le gall", "prenom": "élodie"}) == "nom=le+gall&prenom=%C3%A9lodie"
    assert to_query({"a": "x~y.z-_", "b": "a/b"}) == "a=x~y.z-_&b=a%2Fb"


def test_to_query_arrays_keep_order_and_sort_entries() -> None:
    assert to_query({"z": 1, "prenoms": ["b", "a"]}) == "prenoms%5B%5D=b&prenoms%5B%5D=a&z=1"
    assert to_query({"k": [], "m": {}}) == ""


def test_to_query_scalars() -> None:
    assert to_query({"a": None, "b": True, "c": False, "d": 8}) == "a=&b=true&c=false&d=8"


def test_integer_and_string_with_same_text_match() -> None:
    assert canonical_key({"mois": 8}, drop_blank=False) == canonical_key({"mois": "8"}, drop_blank=False)
    assert canonical_key({"mois": 8}, drop_blank=False) != canonical_key({"mois": "08"}, drop_blank=False)


def test_strings_are_compared_lower_cased_in_arrays_too() -> None:
    assert canonical_key({"nom": "DUPONT", "prenoms": ["JEAN"]}, drop_blank=False) == canonical_key(
        {"nom": "dupont", "prenoms": ["jean"]}, drop_blank=False
    )


def test_documented_mode_treats_empty_as_absent() -> None:
    assert canonical_key({"a": "x", "b": "", "c": None, "d": []}, drop_blank=True) == canonical_key(
        {"a": "x"}, drop_blank=True
    )
    assert canonical_key({"a": "x", "b": ""}, drop_blank=False) != canonical_key({"a": "x"}, drop_blank=False)


def test_array_order_matters() -> None:
    assert canonical_key({"p": ["a", "b"]}, drop_blank=True) != canonical_key({"p": ["b", "a"]}, drop_blank=True)


def test_parse_query_like_rack() -> None:
    params = parse_query(b"prenoms[]=A&prenoms[]=B&nom=X&nom=Y&vide=&e=%C3%A9+a")
    assert params == {"prenoms": ["A", "B"], "nom": "Y", "vide": "", "e": "é a"}


@pytest.mark.parametrize(
    ("text", "number"), [("08", 8), ("8abc", 8), ("abc", 0), (" 12", 12), ("-3", -3), (None, 0), (7, 7)]
)
def test_ruby_to_i(text: Any, number: int) -> None:
    assert ruby_to_i(text) == number


def _rule(operation_id: str) -> LookupVariant:
    rule = next(r for r in builtin_rules() if r.applies_to(operation_id))
    return rule.variants[0]


def test_cnav_forwards_the_commune_only_for_france() -> None:
    variant = _rule("api_particulier_v3_cnav_revenu_solidarite_active_with_civility")
    born_abroad = {"nomNaissance": "X", "codeCogInseePaysNaissance": "99134", "codeCogInseeCommuneNaissance": "75056"}
    assert "codeCogInseeCommuneNaissance" not in staging_mapping(variant, born_abroad, RequestFacts())
    born_here = {**born_abroad, "codeCogInseePaysNaissance": "99100"}
    assert staging_mapping(variant, born_here, RequestFacts())["codeCogInseeCommuneNaissance"] == "75056"


def test_cnav_date_parts_are_int_or_nil_and_chained() -> None:
    variant = _rule("api_particulier_v3_cnav_revenu_solidarite_active_with_civility")
    mapping = staging_mapping(variant, {"moisDateNaissance": "08", "jourDateNaissance": "3"}, RequestFacts())
    assert "moisDateNaissance" not in mapping and "jourDateNaissance" not in mapping
    mapping = staging_mapping(
        variant, {"anneeDateNaissance": "1990", "moisDateNaissance": "08", "jourDateNaissance": "03"}, RequestFacts()
    )
    assert (mapping["anneeDateNaissance"], mapping["moisDateNaissance"], mapping["jourDateNaissance"]) == (1990, 8, 3)


def test_server_injected_keys() -> None:
    facts = RequestFacts(token_uid="u", token_jti="j", request_id="r", api_version="4")
    assert staging_mapping(_rule("api_entreprise_v3_ademe_certificats_rge"), {"siret": "1"}, facts) == {
        "siret": "1",
        "limit": "1000",
    }
    assert staging_mapping(_rule("api_entreprise_v4_qualibat_certifications_batiment"), {"siret": "1"}, facts) == {
        "siret": "1",
        "api_version": "4",
    }
    assert staging_mapping(
        _rule("api_entreprise_v3_dgfip_liasses_fiscales"), {"siren": "1", "year": "2020"}, facts
    ) == {
        "user_id": "u",
        "request_id": "r",
        "siren": "1",
        "year": "2020",
    }


def test_a_scalar_where_an_array_is_read_can_match_nothing() -> None:
    with pytest.raises(Unmatchable):
        staging_mapping(
            _rule("api_particulier_v3_mesri_statut_etudiant_with_civility"), {"prenoms": "X"}, RequestFacts()
        )


def test_uncompacted_rules_keep_absent_keys() -> None:
    mapping = staging_mapping(_rule("api_particulier_v2_men_scolarites"), {"nom": "x"}, RequestFacts())
    assert mapping["prenom"] is None and to_query(mapping).startswith("anneeScolaire=&")


def test_rule_errors_are_explained() -> None:
    with pytest.raises(RuleError, match="unknown kind 'integer'"):
        parse_rules([{"operations": ["x"], "keys": {"a": {"kind": "integer"}}}], "sandbox.yaml")
    with pytest.raises(RuleError, match="`operations` must list"):
        parse_rules([{"keys": {"a": {}}}], "sandbox.yaml")


def test_key_spec_injected() -> None:
    assert KeySpec("limit", "limit", default="1000").injected
    assert KeySpec("user_id", "user_id", source="token_uid").injected
    assert not KeySpec("siren", "siren").injected


scalars = st.one_of(st.text(max_size=8), st.integers(-5, 5000), st.none(), st.booleans())
values = st.one_of(scalars, st.lists(st.text(max_size=5), max_size=3))


@given(st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=6))
def test_key_ignores_mapping_order_and_letter_case(mapping: dict[str, Any]) -> None:
    reordered = dict(reversed(list(mapping.items())))
    shouted = {k: v.upper() if isinstance(v, str) else v for k, v in mapping.items()}
    for drop in (True, False):
        key = canonical_key(mapping, drop_blank=drop)
        assert canonical_key(reordered, drop_blank=drop) == key
        assert canonical_key(shouted, drop_blank=drop) == canonical_key(
            {k: v.upper().lower() if isinstance(v, str) else v for k, v in mapping.items()}, drop_blank=drop
        )


nested = st.recursive(
    st.one_of(scalars, st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8).map(lambda k: k + "[]" if k.startswith("p") else k), nested))
def test_a_case_key_is_the_canonical_key_of_its_parameters(params: dict[str, Any]) -> None:
    rule = next(r for r in builtin_rules() if r.applies_to("api_particulier_v2_men_scolarites"))
    documented = KeyBuilder(MatchMode.DOCUMENTED, rule, frozenset())
    staging = KeyBuilder(MatchMode.STAGING, rule, frozenset())
    stripped = {strip_brackets(k): v for k, v in params.items()}
    assert documented.case_key(params) == canonical_key(stripped, drop_blank=True)
    assert staging.case_key(params) == canonical_key(params, drop_blank=False)
