"""Fast unit tests of `sandbox.rules.matching`: the canonical form (Rails `to_query`), query parsing,
the bounded parsing caches, lookup-rule parsing, key values by kind and source, and `KeyBuilder`.

Expected keys are written out by hand (Ruby's `CGI.escape`: letters, digits and `_.-~` kept, space
`+`, the rest `%XX`), never computed with the module's own functions.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.rules import matching
from sandbox.rules.matching import (
    NO_FACTS,
    KeyBuilder,
    KeySpec,
    LookupRule,
    LookupVariant,
    MatchMode,
    RequestFacts,
    RuleBook,
    RuleError,
    Unmatchable,
    default_rule,
    may_name_token,
    parse_query,
    parse_rulebook,
    parse_rules,
    read_query,
    staging_mapping,
    strip_brackets,
    to_query,
)
from sandbox.rules.operations import Operation, Parameter
from sandbox.rules.table import Condition

# ---------------------------------------------------------------------------
# Canonical form
# ---------------------------------------------------------------------------


def test_nested_mappings_are_bracketed_and_skip_their_empty_containers() -> None:
    assert to_query({"a": {"b": "x", "c": [], "d": {}}}) == "a%5Bb%5D=x"
    assert to_query({"a": {"b": "1", "c": {"e": "2"}}}) == "a%5Bb%5D=1&a%5Bc%5D%5Be%5D=2"


def test_an_empty_array_inside_an_array_is_its_bracketed_name_and_nothing() -> None:
    assert to_query({"k": [[]]}) == "k%5B%5D%5B%5D="
    assert to_query({"k": ["a", []]}) == "k%5B%5D=a&k%5B%5D%5B%5D="


def test_long_values_are_escaped_as_short_ones() -> None:
    # past the 32 characters that are remembered: worked out each time, the same escaping
    assert to_query({"a": "~" * 40}) == "a=" + "~" * 40
    assert to_query({"a": "b/" * 20}) == "a=" + "b%2F" * 20


def test_the_escape_cache_keeps_only_short_strings() -> None:
    """House rule: nothing keyed by client input grows without a byte bound (32 characters here)."""
    cache = matching._cached_escape
    cache.cache_clear()
    assert matching.escape("a" * 33) == "a" * 33
    assert cache.cache_info().currsize == 0
    assert matching.escape("b" * 32) == "b" * 32
    assert cache.cache_info().currsize == 1


def test_the_unquote_cache_keeps_only_short_strings() -> None:
    cache = matching._cached_unquote
    cache.cache_clear()
    assert parse_query("n=" + "%41" * 11) == {"n": "A" * 11}  # 33 characters
    assert cache.cache_info().currsize == 0
    assert parse_query("n=" + "+" * 31 + "%42") == {"n": " " * 31 + "B"}  # 34 characters
    assert cache.cache_info().currsize == 0
    assert parse_query("n=" + "+" * 29 + "%42") == {"n": " " * 29 + "B"}  # 32 characters
    assert cache.cache_info().currsize == 1


def test_the_entry_cache_keeps_only_short_values_under_short_names() -> None:
    cache = matching._cached_string_entry
    rule = LookupRule("r", ("op",), (LookupVariant((KeySpec("n" * 65, "n" * 65),)),))
    builder = KeyBuilder(MatchMode.STAGING, rule, frozenset())
    cache.cache_clear()
    assert builder.request_key({"n" * 65: "v"}, NO_FACTS) == "n" * 65 + "=v"  # a name of 65 characters
    assert cache.cache_info().currsize == 0
    short = KeyBuilder(MatchMode.STAGING, LookupRule("r", ("op",), (LookupVariant((KeySpec("k", "k"),)),)), frozenset())
    assert short.request_key({"k": "V" * 33}, NO_FACTS) == "k=" + "v" * 33
    assert cache.cache_info().currsize == 0
    assert short.request_key({"k": "W" * 32}, NO_FACTS) == "k=" + "w" * 32
    assert cache.cache_info().currsize == 1
    named = LookupRule("r", ("op",), (LookupVariant((KeySpec("m" * 64, "m" * 64),)),))
    assert KeyBuilder(MatchMode.STAGING, named, frozenset()).request_key({"m" * 64: "x"}, NO_FACTS) == "m" * 64 + "=x"
    assert cache.cache_info().currsize == 2


def test_a_long_value_is_lower_cased_in_the_key() -> None:
    builder = KeyBuilder(MatchMode.DOCUMENTED, default_rule(_operation()), frozenset({"nom"}))
    value = "Dupont-Martin " * 4  # 56 characters
    assert builder.request_key({"nom": value}, NO_FACTS) == "nom=" + "dupont-martin+" * 4


@pytest.mark.parametrize(
    ("name", "stripped"),
    [("prenoms[]", "prenoms"), ("nom", "nom"), ("a[]b", "a[]b"), ("[]", ""), ("x[", "x[")],
)
def test_strip_brackets_removes_one_trailing_pair(name: str, stripped: str) -> None:
    assert strip_brackets(name) == stripped


# ---------------------------------------------------------------------------
# Query strings
# ---------------------------------------------------------------------------


def test_parse_query_reads_text_as_bytes() -> None:
    assert parse_query("nom=Dupont&prenoms[]=Jean") == {"nom": "Dupont", "prenoms": ["Jean"]}


def test_parse_query_replaces_bytes_that_are_not_utf8() -> None:
    assert parse_query(b"nom=\xff") == {"nom": "\ufffd"}


def test_parse_query_skips_empty_pieces_and_reads_on() -> None:
    assert parse_query(b"a=1&&b=2&") == {"a": "1", "b": "2"}


def test_parse_query_splits_a_piece_at_its_first_equals_sign() -> None:
    assert parse_query(b"a=b=c") == {"a": "b=c"}


@pytest.mark.parametrize(
    ("query", "params"),
    [
        (b"pr%C3%A9nom=x", {"prénom": "x"}),  # an escape alone in a name
        (b"nom+usage=x", {"nom usage": "x"}),  # a plus alone in a name
        (b"nom=%C3%A9", {"nom": "é"}),  # an escape alone in a value
        (b"nom=le+gall", {"nom": "le gall"}),  # a plus alone in a value
    ],
    ids=["escape-in-name", "plus-in-name", "escape-in-value", "plus-in-value"],
)
def test_parse_query_decodes_an_escape_or_a_plus_on_its_own(query: bytes, params: dict[str, Any]) -> None:
    assert parse_query(query) == params


@pytest.mark.parametrize(
    ("query", "may"),
    [
        (b"token=x", True),
        (b"%74oken=x", True),
        (b"nom=%65", False),  # an escape of `e`, and no `token` once decoded
        (b"nom=x", False),
    ],
    ids=["plain", "escaped-t", "escape-without-token", "none"],
)
def test_may_name_token(query: bytes, may: bool) -> None:
    assert may_name_token(query) is may


# ---------------------------------------------------------------------------
# Lookup rules
# ---------------------------------------------------------------------------


def _one_key(options: dict[str, Any]) -> KeySpec:
    (rule,) = parse_rules([{"operations": ["op"], "keys": {"k": options}}], "t.yaml")
    (spec,) = rule.variants[0].keys
    return spec


def test_a_key_spec_reads_every_option() -> None:
    spec = _one_key(
        {"param": "p", "source": "token_uid", "kind": "int", "default": 5, "only_if": {"pays": "FR"}, "requires": ["a"]}
    )
    assert spec == KeySpec(
        key="k", param="p", source="token_uid", kind="int", default="5", only_if=("pays", "fr"), requires=("a",)
    )


def test_a_key_spec_defaults() -> None:
    assert _one_key({}) == KeySpec(key="k", param="k", source="param", kind="string", default=None, only_if=None)
    assert _one_key({}).requires == ()
    assert _one_key({"only_if": {"n": 99100}}).only_if == ("n", "99100")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"bogus": 1}, r"t\.yaml: rule 1: key 'k': unknown option\(s\) \['bogus'\]"),
        ({"source": "cookie"}, r"t\.yaml: rule 1: key 'k': unknown source 'cookie' \(one of \['api_version', "),
        ({"only_if": "x"}, r"t\.yaml: rule 1: key 'k': only_if must be a one-entry mapping param: value"),
        ({"only_if": {"a": 1, "b": 2}}, r"key 'k': only_if must be a one-entry mapping"),
    ],
    ids=["unknown-option", "unknown-source", "only-if-text", "only-if-two-entries"],
)
def test_key_spec_errors_say_what_and_where(options: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        _one_key(options)


@pytest.mark.parametrize("keys", [{}, ["a"], None], ids=["empty", "list", "none"])
def test_keys_must_be_a_non_empty_mapping(keys: Any) -> None:
    with pytest.raises(RuleError, match=r"t\.yaml: rule 1: `keys` must be a non-empty mapping"):
        parse_rules([{"operations": ["op"], "keys": keys}], "t.yaml")


def test_a_variant_compacts_unless_told_not_to() -> None:
    (rule,) = parse_rules([{"operations": ["op"], "keys": {"k": {}}}], "t.yaml")
    assert rule.variants[0].compact is True
    (rule,) = parse_rules([{"operations": ["op"], "keys": {"k": {}}, "compact": False}], "t.yaml")
    assert rule.variants[0].compact is False


def _rulebook(**france_connect: Any) -> RuleBook:
    return parse_rulebook(
        {"rules": [{"operations": ["op"], "keys": {"k": {}}}], "france_connect": france_connect}, "b.yaml"
    )


def test_a_rulebook_reads_france_connect_operations_and_mappings() -> None:
    book = _rulebook(
        operations=["fc_*"], mappings=[{"operations": ["fc_a"], "note": "n", "identity": {"nom": "family_name"}}]
    )
    assert book.accepts_france_connect("fc_a") and not book.accepts_france_connect("op")
    assert book.identity_mapping("fc_a") == {"nom": "family_name"}
    assert book.identity_mapping("fc_b")["nomNaissance"] == "family_name"  # the default mapping
    extended = book.extended([{"operations": ["other"], "keys": {"x": {}}}], "repo.yaml")
    assert [rule.patterns for rule in extended.rules] == [("other",), ("op",)]
    assert extended.accepts_france_connect("fc_a")
    assert extended.identity_mapping("fc_a") == {"nom": "family_name"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": {}}, r"^b\.yaml: `rules` must be a list$"),
        (
            {"rules": [], "france_connect": {"mappings": {"a": 1}}},
            r"^b\.yaml: france_connect: `mappings` must be a list$",
        ),
        ({"rules": [{"operations": ["op"]}]}, r"^b\.yaml: rule 1: give either `keys` or `variants`$"),
        (
            {"rules": [], "france_connect": {"mappings": [{"operations": ["x"], "identity": "nom"}]}},
            r"^b\.yaml: france_connect mapping 1: `identity` must map parameters to identity fields$",
        ),
        (
            {"rules": [], "france_connect": {"mappings": [{"operations": ["x"], "identity": {"nom": "surname"}}]}},
            r"^b\.yaml: france_connect mapping 1: unknown FranceConnect identity field\(s\) \['surname'\]",
        ),
    ],
    ids=["rules", "mappings", "rule", "identity", "identity-field"],
)
def test_rulebook_errors_say_what_and_where(data: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_rulebook(data, "b.yaml")


# ---------------------------------------------------------------------------
# The default rule: every declared lookup parameter
# ---------------------------------------------------------------------------


def _operation() -> Operation:
    parameters = (
        Parameter("nom", "query", True, {"type": "string"}),
        Parameter("prenoms[]", "query", False, {"type": "array"}),
        Parameter("siret", "path", True, {"type": "string"}),
        Parameter("recipient", "query", True, {"type": "string"}),
        Parameter("X-Api-Key", "header", False, {"type": "string"}),
    )
    return Operation("api_particulier_v3_x", "particulier", "/v3/x/{siret}", "v3", "", parameters, {}, "doc")


def test_the_default_rule_keys_every_declared_lookup_parameter() -> None:
    rule = default_rule(_operation())
    assert rule.name == "declared parameters"
    assert rule.patterns == ("api_particulier_v3_x",)
    assert rule.variants == (
        LookupVariant(
            (
                KeySpec("nom", "nom", kind="string"),
                KeySpec("prenoms", "prenoms", kind="list"),
                KeySpec("siret", "siret"),
            )
        ),
    )
    builder = KeyBuilder(MatchMode.STAGING, rule, frozenset())
    params = {"nom": "Dupont", "prenoms": ["Jean", "Paul"], "siret": "1", "recipient": "2"}
    assert builder.request_key(params, NO_FACTS) == "nom=dupont&prenoms%5B%5D=jean&prenoms%5B%5D=paul&siret=1"
    with pytest.raises(Unmatchable, match=r"^prenoms must be sent as an array \(prenoms\[\]=…\)$"):
        builder.request_key({"nom": "Dupont", "prenoms": "Jean"}, NO_FACTS)


# ---------------------------------------------------------------------------
# Key values by kind and source
# ---------------------------------------------------------------------------


def _mapping(spec: KeySpec, params: dict[str, Any], facts: RequestFacts = NO_FACTS) -> dict[str, Any]:
    return staging_mapping(LookupVariant((spec,)), params, facts)


def test_server_sourced_keys_never_read_the_parameters() -> None:
    facts = RequestFacts(token_uid="u", token_jti="j", request_id="r", api_version="3")
    sent = {"token_id": "client", "user_id": "client", "request_id": "client", "api_version": "client"}
    assert _mapping(KeySpec("token_id", "token_id", source="token_jti"), sent, facts) == {"token_id": "j"}
    assert _mapping(KeySpec("user_id", "user_id", source="token_uid"), sent, facts) == {"user_id": "u"}
    assert _mapping(KeySpec("request_id", "request_id", source="request_id"), sent, facts) == {"request_id": "r"}
    assert _mapping(KeySpec("api_version", "api_version", source="api_version"), sent, facts) == {"api_version": "3"}


def test_a_default_stands_only_for_an_empty_value() -> None:
    spec = KeySpec("limit", "limit", default="1000")
    assert _mapping(spec, {"limit": "5"}) == {"limit": "5"}
    assert _mapping(spec, {"limit": ""}) == {"limit": "1000"}
    assert _mapping(spec, {}) == {"limit": "1000"}


@pytest.mark.parametrize(
    ("kind", "sent", "value"),
    [
        ("words", "Jean  Pierre ", ["Jean", "Pierre"]),
        ("words", ["Jean Pierre"], ["Jean Pierre"]),
        ("int", "12abc", 12),
        ("int", "0", 0),
        ("int", None, 0),
        ("int_if_present", "07", 7),
        ("int_if_present", "0", 0),
        ("int_if_present", None, None),
        ("int_or_nil", "07", 7),
        ("int_or_nil", "0", None),
        ("int_or_nil", None, None),
        ("list", None, None),
        ("list", ["B", "a"], ["B", "a"]),
    ],
    ids=[
        "words-text",
        "words-list",
        "int",
        "int-zero",
        "int-absent",
        "int_if_present",
        "int_if_present-zero",
        "int_if_present-absent",
        "int_or_nil",
        "int_or_nil-zero",
        "int_or_nil-absent",
        "list-absent",
        "list",
    ],
)
def test_key_values_by_kind(kind: str, sent: Any, value: Any) -> None:
    spec = KeySpec("k", "p", kind=kind)
    params = {} if sent is None else {"p": sent}
    built = staging_mapping(LookupVariant((spec,), compact=False), params, NO_FACTS)
    assert built == {"k": value}


def test_only_if_compares_lower_cased_and_the_next_keys_still_count() -> None:
    variant = LookupVariant((KeySpec("commune", "commune", only_if=("pays", "fr")), KeySpec("nom", "nom")))
    assert staging_mapping(variant, {"pays": "FR", "commune": "75056", "nom": "x"}, NO_FACTS) == {
        "commune": "75056",
        "nom": "x",
    }
    assert staging_mapping(variant, {"pays": "DE", "commune": "75056", "nom": "x"}, NO_FACTS) == {"nom": "x"}


# ---------------------------------------------------------------------------
# KeyBuilder
# ---------------------------------------------------------------------------

_FACTS_RULE = LookupRule("r", ("op",), (LookupVariant((KeySpec("user_id", "user_id", source="token_uid"),)),))
_PARAM_RULE = LookupRule("r", ("op",), (LookupVariant((KeySpec("nom", "nom"),)),))


def test_only_staging_keys_that_read_the_request_need_its_facts() -> None:
    assert KeyBuilder(MatchMode.STAGING, _FACTS_RULE, frozenset()).needs_facts is True
    assert KeyBuilder(MatchMode.STAGING, _PARAM_RULE, frozenset()).needs_facts is False
    assert KeyBuilder(MatchMode.DOCUMENTED, _FACTS_RULE, frozenset()).needs_facts is False
    assert KeyBuilder(MatchMode.DOCUMENTED, _PARAM_RULE, frozenset()).needs_facts is False


def test_for_operation_names_the_declared_and_the_documented_parameters() -> None:
    builder = KeyBuilder.for_operation(
        _operation(), _PARAM_RULE, MatchMode.DOCUMENTED, ["prenoms[]", "extra", "recipient"]
    )
    assert builder.mode is MatchMode.DOCUMENTED
    assert builder.names == frozenset({"nom", "prenoms", "siret", "extra"})
    params = {"nom": "A", "extra": "B", "recipient": "C", "other": "D"}
    assert builder.documented_mapping(params) == {"nom": "A", "extra": "B"}
    assert builder.request_key(params, NO_FACTS) == "extra=b&nom=a"
    staging = KeyBuilder.for_operation(_operation(), _PARAM_RULE, MatchMode.STAGING)
    assert staging.mode is MatchMode.STAGING
    assert staging.request_key(params, NO_FACTS) == "nom=a"


def test_staging_keys_follow_the_variant_of_the_request() -> None:
    (rule,) = parse_rules(
        [
            {
                "operations": ["op"],
                "variants": [
                    {"when_present": "ine", "keys": {"ine": {}, "annee": {}}},
                    {"keys": {"nom": {}, "prenoms": {"kind": "list"}, "annee": {}}},
                ],
            }
        ],
        "t.yaml",
    )
    assert rule.variants[0].when == Condition("ine")
    builder = KeyBuilder(MatchMode.STAGING, rule, frozenset())
    assert builder.request_key({"ine": "X1", "nom": "D", "annee": "2024"}, NO_FACTS) == "annee=2024&ine=x1"
    assert builder.request_key({"ine": "", "nom": "D", "annee": "2024"}, NO_FACTS) == "annee=2024&nom=d"
    # an empty list is left out of the key, as Rails' to_query leaves it out
    assert builder.request_key({"nom": "D", "prenoms": []}, NO_FACTS) == "nom=d"


def test_case_keys_drop_blank_values_in_documented_mode_only() -> None:
    documented = KeyBuilder(MatchMode.DOCUMENTED, _PARAM_RULE, frozenset({"nom", "prenoms"}))
    staging = KeyBuilder(MatchMode.STAGING, _PARAM_RULE, frozenset())
    case = {"nom": "Dupont", "prenom": "", "prenoms[]": ["Jean"]}
    assert documented.case_key(case) == "nom=dupont&prenoms%5B%5D=jean"
    assert staging.case_key(case) == "nom=dupont&prenom=&prenoms%5B%5D%5B%5D=jean"
    assert documented.case_key({"nom": None, "b": "x"}) == "b=x"
    assert staging.case_key({"nom": None, "b": "x"}) == "b=x&nom="


def test_a_documented_key_skips_the_parameters_it_does_not_read_wherever_they_come() -> None:
    rule = parse_rules([{"operations": ["op"], "keys": {"nom": {}}}], "t")[0]  # the staging key: unused here
    keys = KeyBuilder(MatchMode.DOCUMENTED, rule, frozenset({"nom", "prenoms", "vide"}))
    sent = {"recipient": "x", "nom": "Dupont", "autre": "1", "prenoms": ["A"], "vide": ""}
    assert keys.request_key(sent, NO_FACTS) == "nom=dupont&prenoms%5B%5D=a"


def test_one_pass_over_the_query_string_decodes_plus_signs_in_every_value() -> None:
    assert read_query(b"a[]=x+y&b=c+d&e[]=%41&f=g") == ({"a": ["x y"], "b": "c d", "e": ["A"], "f": "g"}, None)
