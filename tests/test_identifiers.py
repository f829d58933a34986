from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rules.coercion import as_text
from sandbox.rules.identifiers import (
    is_ine,
    is_rna,
    is_siren,
    is_siren_or_rna,
    is_siren_or_siret_or_rna,
    is_siret,
    is_siret_or_eori,
    is_siret_or_rna,
    is_uuid,
    luhn_valid,
)

Predicate = Callable[[object], bool]


def _luhn_check_digit(body: str) -> str:
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return digit
    raise AssertionError("a Luhn check digit always exists")


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("0", True),
        ("18", True),
        ("79927398713", True),  # the textbook example
        ("79927398710", False),
        ("130025265", True),
        ("13002526500013", True),
        ("", False),
        ("12a4", False),
        ("١٨", False),  # Arabic-Indic digits are not ASCII digits
        (18, True),
        (None, False),
        (["18"], False),
    ],
)
def test_luhn(digits: object, expected: bool) -> None:
    assert luhn_valid(digits) is expected


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_exactly_one_luhn_check_digit_per_body(body: str) -> None:
    assert sum(luhn_valid(body + d) for d in "0123456789") == 1


CASES: list[tuple[Predicate, object, bool]] = [
    # SIREN: 9 digits, Luhn
    (is_siren, "130025265", True),
    (is_siren, "000000000", True),
    (is_siren, "000000001", False),
    (is_siren, "000000002", False),
    (is_siren, "844451564", False),
    (is_siren, "invalid", False),
    (is_siren, "13002526", False),
    (is_siren, "1300252650", False),
    (is_siren, " 130025265", False),
    (is_siren, "130025265\n", False),
    (is_siren, 130025265, True),
    (is_siren, None, False),
    (is_siren, ["130025265"], False),
    # SIRET: 14 digits, Luhn or La Poste
    (is_siret, "13002526500013", True),
    (is_siret, "13002526500001", False),
    (is_siret, "55203253400001", False),
    (is_siret, "35600000000048", True),  # La Poste
    (is_siret, "35600000012345", True),  # La Poste, not Luhn-valid
    (is_siret, "3560000001234", False),
    (is_siret, 13002526500013, True),
    (is_siret, "", False),
    # RNA: two regexes, per-line anchors
    (is_rna, "W751004076", True),
    (is_rna, "W9Z1234567", True),
    (is_rna, "w751004076", False),
    (is_rna, "W75100407", False),
    (is_rna, "0123004567", True),
    (is_rna, "0123104567", False),
    (is_rna, "junk\nW751004076", True),
    (is_rna, "W751004076\njunk", True),
    (is_rna, "xW751004076", False),
    # SIRET or EORI
    (is_siret_or_eori, "13002526500013", True),
    (is_siret_or_eori, "FR13002526500013", True),
    (is_siret_or_eori, "FR13002526500001", False),
    (is_siret_or_eori, "FRxyz", False),
    (is_siret_or_eori, "DE123456789", True),
    (is_siret_or_eori, "GBanything", True),
    (is_siret_or_eori, "de123", False),
    (is_siret_or_eori, "1234", False),
    # INE: four formats, any case
    (is_ine, "123456789AB", True),  # RNIE
    (is_ine, "123456789ai", False),  # RNIE excludes I
    (is_ine, "1234567890A", True),  # BEA
    (is_ine, "1234567890O", False),  # BEA excludes O (but base 36 needs a final digit)
    (is_ine, "ABCDEFGHIJ1", True),  # base 36
    (is_ine, "abcdefghij1", True),
    (is_ine, "1234A56789Z", True),  # SIFA
    (is_ine, "697720085AL", False),
    (is_ine, "697720085AO", False),
    (is_ine, "1234567890AB", False),
    (is_ine, "", False),
    (is_ine, None, False),
    # UUID
    (is_uuid, "11111111-1111-1111-1111-111111111111", True),
    (is_uuid, "6F9619FF-8B86-D011-B42D-00C04FC964FF", True),
    (is_uuid, "6f9619ff8b86d011b42d00c04fc964ff", False),
    (is_uuid, "not-a-uuid", False),
    (is_uuid, "6f9619ff-8b86-d011-b42d-00c04fc964ffa", False),
    # combinations
    (is_siren_or_rna, "130025265", True),
    (is_siren_or_rna, "W751004076", True),
    (is_siren_or_rna, "13002526500013", False),
    (is_siret_or_rna, "13002526500013", True),
    (is_siret_or_rna, "W751004076", True),
    (is_siret_or_rna, "130025265", False),
    (is_siren_or_siret_or_rna, "130025265", True),
    (is_siren_or_siret_or_rna, "13002526500013", True),
    (is_siren_or_siret_or_rna, "W751004076", True),
    (is_siren_or_siret_or_rna, "12345", False),
]


def _case_id(value: object) -> str:
    """A test id without a memory address and without a backslash.

    `make mutation` finds each test again by its id; pytest escapes a backslash of an id once more in
    each session of one process (mutmut's clean run comes after its stats run in the same process),
    so an id holding one (`repr` of a newline) is not found again and the run stops with exit 4."""
    if callable(value):
        return str(getattr(value, "__name__", "predicate"))
    return repr(value)[:40].replace("\\n", "<LF>").replace("\\", "<BS>")


@pytest.mark.parametrize(("predicate", "value", "expected"), CASES, ids=_case_id)
def test_identifier_formats(predicate: Predicate, value: object, expected: bool) -> None:
    assert predicate(value) is expected


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_every_siren_body_has_one_valid_siren(body: str) -> None:
    siren = body + _luhn_check_digit(body)
    assert is_siren(siren)
    assert is_siren(int(siren)) is (siren[0] != "0")  # an int loses its leading zeros


@given(st.from_type(object))
def test_predicates_never_raise(value: object) -> None:
    for predicate in (is_siren, is_siret, is_rna, is_siret_or_eori, is_ine, is_uuid, luhn_valid):
        assert predicate(value) in (True, False)


def test_as_text_is_ruby_to_s() -> None:
    assert as_text(None) == ""
    assert as_text(True) == "true"
    assert as_text(12) == "12"
    assert as_text("x") == "x"
    assert as_text(["x"]) is None
