"""Every check kind says which request parameters are behind each code it can emit
(`Check.parameters()`, what lint and scaffold name in their messages)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.rules.validation import CHECK_KINDS, builtin_validation_rules, parse_check
from sandbox.tools.lint import check_parameters

DATE = ("anneeDateNaissance", "moisDateNaissance", "jourDateNaissance")

# kind, options, the expected parameters by code (in this order)
CASES: list[tuple[str, dict[str, Any], list[tuple[str, tuple[str, ...]]]]] = [
    ("siren", {}, [("00301", ("siren",))]),
    ("siret", {"param": "id"}, [("00302", ("id",))]),
    ("siret_or_rna", {}, [("00303", ("siret_or_rna",))]),
    ("siret_or_eori", {}, [("00304", ("siret_or_eori",))]),
    ("siren_or_siret_or_rna", {}, [("00330", ("siren_or_siret_or_rna",))]),
    ("siren_or_rna", {}, [("00333", ("siren_or_rna",))]),
    ("ine", {}, [("00360", ("ine",))]),
    ("present", {"param": "identifiant", "code": "00380"}, [("00380", ("identifiant",))]),
    ("pattern", {"param": "identifiant", "regex": "[0-9]+", "code": "00380"}, [("00380", ("identifiant",))]),
    ("year", {"range_code": "00315"}, [("00307", ("year",)), ("00315", ("year",))]),
    ("year", {"param": "annee"}, [("00307", ("annee",))]),
    ("month_two_digits", {}, [("00305", ("month",))]),
    ("int_range", {"param": "limit", "min": 1, "max": 1000, "code": "00313"}, [("00313", ("limit",))]),
    ("request_id_uuid", {}, [("00401", ("X-Request-Id",))]),
    ("stop_if_errors", {}, []),
    ("nom_naissance", {}, [("00420", ("nomNaissance",))]),
    ("prenoms", {"param": "prenom", "form": "scalar"}, [("00421", ("prenom",))]),
    (
        "date_naissance",
        {},
        [
            ("00422", ("anneeDateNaissance",)),
            ("00423", ("moisDateNaissance",)),
            ("00424", ("jourDateNaissance",)),
            ("00425", DATE),
        ],
    ),
    (
        "date_naissance",
        {"iso": "dateDeNaissance"},
        [(code, ("dateDeNaissance",)) for code in ("00422", "00423", "00424", "00425")],
    ),
    ("cnav_date_naissance", {}, [("00363", DATE)]),
    ("sexe", {}, [("00427", ("sexeEtatCivil",))]),
    ("pays_naissance", {}, [("00400", ("codeCogInseePaysNaissance",))]),
    ("commune_naissance", {"param": "lieuDeNaissance"}, [("00365", ("lieuDeNaissance",))]),
    (
        "cnav_lieu_naissance",
        {},
        [
            ("00365", ("codeCogInseeCommuneNaissance", "codeCogInseePaysNaissance")),
            ("00422", ("anneeDateNaissance",)),
            ("00428", ("codeCogInseeDepartementNaissance",)),
        ],
    ),
    ("dsnj_age", {}, [("39400", DATE)]),
    ("dsnj_age", {"iso": "dateNaissance"}, [("39400", ("dateNaissance",))]),
    ("cnav_mois", {}, [("00354", ("mois",))]),
    (
        "men_search",
        {},
        [
            ("00410", ("codeEtablissement",)),
            ("00419", ("codeEtablissement", "codesBcnDepartements", "codesBcnRegions")),
            ("00412", ("degreEtablissement",)),
            ("00413", ("codesBcnDepartements", "codesBcnRegions")),
            ("00414", ("codesBcnDepartements", "codesBcnRegions")),
            ("00416", ("codesBcnDepartements",)),
            ("00417", ("codesBcnRegions",)),
        ],
    ),
]


@pytest.mark.parametrize(("kind", "options", "expected"), CASES)
def test_each_kind_names_the_parameters_behind_its_codes(
    kind: str, options: dict[str, Any], expected: list[tuple[str, tuple[str, ...]]]
) -> None:
    check = parse_check({"kind": kind, **options}, "test")
    assert list(check.parameters().items()) == expected
    assert check_parameters(check) == check.parameters()  # lint delegates


def test_every_kind_is_covered() -> None:
    assert {kind for kind, _, _ in CASES} == set(CHECK_KINDS)


def test_every_code_a_builtin_check_emits_has_its_parameters() -> None:
    for rule in builtin_validation_rules():
        for variant in rule.variants:
            for check in variant.checks:
                parameters = check.parameters()
                assert set(parameters) == set(check.codes()), (rule.name, check)
                assert all(names and all(names) for names in parameters.values()), (rule.name, check)
