"""The generic check kinds in process (`sandbox.rules.checks`): each kind built from its options inside the
test, then run on hand-written parameters. Expected codes and texts are those of the spec (§3.3, §3.5,
Appendix A); years are worked out by hand against a pinned day.

The builders of the identifier kinds and of `simple_kind` are closures made when `KINDS` is built (at
import): they are called here directly, so that a change to them shows in a test (docs/mutation.md).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest

from sandbox.rules.checks import (
    Check,
    IdentifierCheck,
    MonthTwoDigitsCheck,
    Run,
    _identifier,
    line_match,
    simple_kind,
)
from sandbox.rules.error_texts import load_catalogue
from sandbox.rules.table import Options, RuleError
from sandbox.rules.validation import build_checks, parse_check

TODAY = datetime.date(2026, 4, 28)
UUID = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
SIREN = "130025265"  # DINUM, Luhn-valid
SIRET = "13002526500013"

# code -> detail: the codes are the spec's (§3.5, Appendix A); the texts those of the real OpenAPI documents
# (siade_staging_data's api_entreprise.yaml) or, for 00315, 00390 and 00401, of siade's errors.yml as
# tests/test_validation.py records them
DETAIL = {
    "00301": "Le numéro de siren n'est pas correctement formatté",
    "00302": "Le numéro de siret n'est pas correctement formatté",
    "00303": "Le numéro de siret ou le numéro d'association indiqué n'est pas correctement formatté",
    "00305": "Le format du mois n'est pas valide",
    "00307": "L'année n'est pas correctement formatée",
    "00313": "Le paramètre limit n'est pas correctement formatté",
    "00315": "L'année n'est pas valide : elle doit être comprise entre 2006 et l'année précédente",
    "00380": "L'identifiant est manquant",
    "00390": "La valeur de la profondeur n'est pas valide: celle-ci doit être comprise entre 1 et 13",
    "00401": "Le request_id n'est pas correctement formaté",
}


def build(kind: str, **options: Any) -> Check:
    return parse_check({"kind": kind, **options}, "test")


def errors(
    check: Check, params: dict[str, Any], today: datetime.date = TODAY, request_id: str | None = None
) -> list[tuple[str, str]]:
    return [(error.code, error.detail) for error in check.errors(params, Run(load_catalogue(), today, request_id))]


def refused(code: str) -> list[tuple[str, str]]:
    return [(code, DETAIL[code])]


# --------------------------------------------------------------- line_match (Ruby `to_s =~ /^…$/`)


def test_line_match_renders_values_as_ruby_to_s() -> None:
    assert line_match(re.compile(r"^[0-9]+$", re.MULTILINE), "ab\n12")  # any line may match
    assert line_match(re.compile(r"^$"), None)  # nil.to_s is ""
    assert line_match(re.compile(r"^true$"), True)  # true.to_s is "true"
    assert not line_match(re.compile(r"^None$"), None)


def test_line_match_renders_a_list_with_its_brackets() -> None:
    assert line_match(re.compile(r"^\[.*\]$"), ["75056"])
    assert not line_match(re.compile(r"^[0-9]+$", re.MULTILINE), ["75056"])


# --------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    ("kind", "param", "code", "good", "bad"),
    [
        ("siren", "siren", "00301", SIREN, "130025266"),
        ("siret", "siret", "00302", SIRET, "13002526500014"),
        ("siret_or_rna", "siret_or_rna", "00303", "W751234567", "W75123456"),
        ("siret_or_eori", "siret_or_eori", "00304", "FR" + SIRET, "FR123"),
        ("siren_or_siret_or_rna", "siren_or_siret_or_rna", "00330", SIREN, "12345"),
        ("siren_or_rna", "siren_or_rna", "00333", "W751234567", SIRET),
        ("ine", "ine", "00360", "1234567890A", "1234567890I"),
    ],
)
def test_identifier_kind_defaults(kind: str, param: str, code: str, good: str, bad: str) -> None:
    options = Options({}, "test")
    check = _identifier(kind)(options)
    options.finish()
    assert isinstance(check, IdentifierCheck)
    assert check.kind == kind
    assert check.codes() == (code,)
    assert check.parameters() == {code: (param,)}
    assert errors(check, {param: good}) == []
    assert [c for c, _ in errors(check, {param: bad})] == [code]
    assert [c for c, _ in errors(check, {param: ""})] == [code]  # absent or blank is invalid
    assert [c for c, _ in errors(check, {})] == [code]


def test_identifier_kind_reads_the_param_and_code_options() -> None:
    options = Options({"param": "id", "code": "00303"}, "test")
    check = _identifier("siret")(options)
    options.finish()
    assert check.parameters() == {"00303": ("id",)}
    assert errors(check, {"id": SIRET}) == []
    assert errors(check, {"id": "1", "siret": SIRET}) == refused("00303")


# --------------------------------------------------------------- present, pattern


def test_present() -> None:
    check = build("present", param="identifiant", code="00380")
    assert errors(check, {"identifiant": "x"}) == []
    assert errors(check, {"identifiant": " "}) == refused("00380")
    assert errors(check, {}) == refused("00380")


def test_pattern_matches_the_whole_value_by_default() -> None:
    check = build("pattern", param="identifiant", regex="[0-9]+", code="00380")
    assert errors(check, {"identifiant": "0123"}) == []
    assert errors(check, {"identifiant": "12\nab"}) == refused("00380")
    assert errors(check, {"identifiant": "ab\n12"}) == refused("00380")
    assert errors(check, {"identifiant": ""}) == refused("00380")  # blank is invalid unless optional
    assert errors(check, {}) == refused("00380")
    assert errors(check, {"identifiant": ["12"]}) == refused("00380")


def test_pattern_whole_keeps_the_anchors_of_the_whole_value() -> None:
    # without `anchors: line`, `^` means the start of the value only
    check = build("pattern", param="identifiant", regex="a\n^b", code="00380")
    assert errors(check, {"identifiant": "a\nb"}) == refused("00380")


def test_pattern_is_ascii() -> None:
    # `\d` is 0-9 only: Arabic-Indic digits are not digits to Ruby's regexes
    check = build("pattern", param="identifiant", regex=r"\d+", code="00380")
    assert errors(check, {"identifiant": "\u0661\u0662"}) == refused("00380")
    per_line = build("pattern", param="identifiant", regex=r"^\d+$", code="00380", anchors="line")
    assert errors(per_line, {"identifiant": "\u0661\u0662"}) == refused("00380")


def test_pattern_per_line() -> None:
    check = build("pattern", param="identifiant", regex="^[0-9]+$", code="00380", anchors="line")
    assert errors(check, {"identifiant": "ab\n12"}) == []  # Ruby: any line may match
    assert errors(check, {"identifiant": "ab\ncd"}) == refused("00380")
    assert errors(check, {"identifiant": ""}) == refused("00380")
    # a list renders with its brackets (Array#to_s)
    assert errors(check, {"identifiant": ["12"]}) == refused("00380")
    brackets = build("pattern", param="identifiant", regex=r"^\[.*\]$", code="00380", anchors="line")
    assert errors(brackets, {"identifiant": ["12"]}) == []


def test_optional_pattern_lets_a_blank_value_through() -> None:
    check = build("pattern", param="identifiant", regex="[0-9]+", code="00380", optional=True)
    assert errors(check, {}) == []
    assert errors(check, {"identifiant": ""}) == []
    assert errors(check, {"identifiant": "x"}) == refused("00380")


def test_pattern_refuses_a_bad_regex_and_names_the_rule() -> None:
    with pytest.raises(RuleError, match=r"^test: pattern: bad regex '\['"):
        build("pattern", param="identifiant", regex="[", code="00380")


# --------------------------------------------------------------- year


def test_year_defaults_1900_to_the_current_year() -> None:
    check = build("year")
    assert check.parameters() == {"00307": ("year",)}
    assert errors(check, {"year": "1900"}) == []
    assert errors(check, {"year": "2026"}) == []
    assert errors(check, {"year": "1899"}) == refused("00307")  # range_code defaults to code
    assert errors(check, {"year": "2027"}) == refused("00307")
    assert errors(check, {"year": "2027"}, today=datetime.date(2027, 1, 1)) == []


def test_year_bounds_absolute_and_relative() -> None:
    # DGFIP: 2006..current-1 (00307 when badly formatted, 00315 out of range)
    check = build("year", min=2006, max="current-1", code="00307", range_code="00315")
    assert errors(check, {"year": "2006"}) == []
    assert errors(check, {"year": "2010"}) == []
    assert errors(check, {"year": "2025"}) == []
    assert errors(check, {"year": "2005"}) == refused("00315")
    assert errors(check, {"year": "2026"}) == refused("00315")
    assert errors(check, {"year": "26"}) == refused("00307")
    assert errors(check, {"year": ""}) == refused("00307")
    assert errors(check, {"year": ["2020"]}) == refused("00307")


def test_year_relative_bound_with_spaces_and_plus() -> None:
    check = build("year", min="current - 2", max="current + 1", code="00307", range_code="00315")
    assert errors(check, {"year": "2024"}) == []
    assert errors(check, {"year": "2027"}) == []
    assert errors(check, {"year": "2023"}) == refused("00315")
    assert errors(check, {"year": "2028"}) == refused("00315")


@pytest.mark.parametrize("option", ["min", "max"])
def test_year_bound_must_be_an_integer_or_current(option: str) -> None:
    with pytest.raises(RuleError, match=r"^test: year: a year bound is an integer or `current`"):
        build("year", **{option: "yesterday"})


def test_optional_year() -> None:
    absent = build("year", optional="absent")
    assert errors(absent, {}) == []
    assert errors(absent, {"year": ""}) == refused("00307")
    blank = build("year", optional="blank")
    assert errors(blank, {"year": " "}) == []
    assert errors(blank, {"year": "20x6"}) == refused("00307")


# --------------------------------------------------------------- month, int_range, request id, barrier


def test_month_two_digits() -> None:
    check = build("month_two_digits")
    assert [errors(check, {"month": month}) for month in ("01", "12")] == [[], []]
    for month in ("1", "00", "13", "", ["01"]):
        assert errors(check, {"month": month}) == refused("00305"), month
    assert errors(check, {}) == refused("00305")


def test_simple_kind_reads_param_and_code_with_their_defaults() -> None:
    options = Options({}, "test")
    check = simple_kind(MonthTwoDigitsCheck, "month", "00305")(options)
    options.finish()
    assert check.parameters() == {"00305": ("month",)}
    assert errors(check, {"month": "13"}) == refused("00305")
    options = Options({"param": "mois", "code": "00307"}, "test")
    check = simple_kind(MonthTwoDigitsCheck, "month", "00305")(options)
    options.finish()
    assert check.parameters() == {"00307": ("mois",)}
    assert errors(check, {"mois": "07", "month": "13"}) == []
    assert errors(check, {"mois": "7"}) == refused("00307")


def test_int_range_whole_integer() -> None:
    check = build("int_range", param="profondeur", min=0, max=13, code="00390")
    assert errors(check, {}) == []  # optional
    assert errors(check, {"profondeur": "0"}) == []
    assert errors(check, {"profondeur": "13"}) == []
    assert errors(check, {"profondeur": "14"}) == refused("00390")
    assert errors(check, {"profondeur": "12abc"}) == refused("00390")  # Integer(): the whole value
    assert errors(check, {"profondeur": ""}) == refused("00390")


def test_int_range_to_i_with_a_default() -> None:
    # ADEME's limit: to_i, blank is the default 1000
    check = build("int_range", param="limit", min=1, max=1000, parse="to_i", default="1000", code="00313")
    assert errors(check, {}) == []
    assert errors(check, {"limit": ""}) == []
    assert errors(check, {"limit": "12abc"}) == []  # to_i reads the leading digits
    assert errors(check, {"limit": "abc"}) == refused("00313")  # to_i is 0
    assert errors(check, {"limit": "1001"}) == refused("00313")


def test_int_range_default_is_checked_like_a_sent_value() -> None:
    check = build("int_range", param="limit", min=1, max=1000, parse="to_i", default=0, code="00313")
    assert errors(check, {"limit": ""}) == refused("00313")
    assert errors(check, {"limit": "5"}) == []


def test_request_id_uuid() -> None:
    check = build("request_id_uuid")
    assert errors(check, {}) == []
    assert errors(check, {}, request_id=UUID) == []
    assert errors(check, {}, request_id=UUID.upper()) == []
    assert errors(check, {}, request_id="not-a-uuid") == refused("00401")


def test_stop_if_errors_is_a_barrier_without_codes() -> None:
    check = build("stop_if_errors")
    assert check.is_barrier
    assert check.codes() == ()
    assert errors(check, {}) == []
    assert not build("siren").is_barrier


# --------------------------------------------------------------- through the built-in table


def test_builtin_dgfip_year_window() -> None:
    table = build_checks()
    checks = table.for_operation("api_entreprise_v3_dgfip_liasses_fiscales")
    run = {"siren": SIREN}
    assert checks.errors({**run, "year": "2025"}, today=TODAY) == []
    assert [e.code for e in checks.errors({**run, "year": "2026"}, today=TODAY)] == ["00315"]
    assert [e.code for e in checks.errors({**run, "year": "2005"}, today=TODAY)] == ["00315"]


def test_builtin_ademe_limit() -> None:
    checks = build_checks().for_operation("api_entreprise_v3_ademe_certificats_rge")
    assert checks.errors({"siret": SIRET, "limit": ""}, today=TODAY) == []
    assert checks.errors({"siret": SIRET, "limit": "12abc"}, today=TODAY) == []
    assert [e.code for e in checks.errors({"siret": SIRET, "limit": "0"}, today=TODAY)] == ["00313"]
