"""The person-search check kinds in process (`sandbox.rules.civility_checks`, spec §3.4): each kind built
from its options inside the test, then run on hand-written parameters against a pinned day. Expected codes
and texts are the spec's (§3.4, Appendix A); ages and date windows are worked out by hand.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from sandbox.rules.checks import Check, Run
from sandbox.rules.error_texts import load_catalogue
from sandbox.rules.table import RuleError
from sandbox.rules.validation import parse_check

TODAY = datetime.date(2026, 4, 28)
BORN = {"anneeDateNaissance": "1980", "moisDateNaissance": "06", "jourDateNaissance": "15"}
TRIO = {"nomCommuneNaissance": "Paris", "codeCogInseeDepartementNaissance": "75", "anneeDateNaissance": "1980"}
FRANCE = {"codeCogInseePaysNaissance": "99100"}


def build(kind: str, **options: Any) -> Check:
    return parse_check({"kind": kind, **options}, "test")


def codes(check: Check, params: dict[str, Any], today: datetime.date = TODAY) -> list[str]:
    return [error.code for error in check.errors(params, Run(load_catalogue(), today, None))]


def test_default_codes_carry_the_spec_texts() -> None:
    # §3.4: the detail of each default code, as the real API sends it
    found = {
        error.code: (error.title, error.detail)
        for kind, params in [
            ("nom_naissance", {}),
            ("prenoms", {}),
            ("cnav_date_naissance", {"anneeDateNaissance": "0"}),
            ("pays_naissance", {}),
            ("commune_naissance", {"codeCogInseeCommuneNaissance": "x"}),
            ("dsnj_age", {"anneeDateNaissance": "1950", "moisDateNaissance": "1", "jourDateNaissance": "1"}),
        ]
        for error in build(kind).errors(params, Run(load_catalogue(), TODAY, None))
    }
    unprocessable = "Entité non traitable"
    assert found == {
        "00420": (unprocessable, "Le nom de naissance est manquant"),
        "00421": (unprocessable, "Le(s) prenom(s) est manquant"),
        "00363": (unprocessable, "La date de naissance n'est pas correctement formatté"),
        "00400": (unprocessable, "Le code pays INSEE n'est pas correctement formaté"),
        "00365": (unprocessable, "Le lieu de naissance n'est pas correctement formaté"),
        "39400": (
            "Age non pertinent pour le Service National",
            "L'age renseigné n'est pas compris entre 16 et 25 ans incluts, et n'est donc pas concerné par le "
            "Service National.",
        ),
    }


# --------------------------------------------------------------- names


def test_nom_naissance() -> None:
    check = build("nom_naissance")
    assert codes(check, {"nomNaissance": "Dupont-Moretti d'Arc"}) == []
    assert codes(check, {"nomNaissance": "Éléonore"}) == []
    assert codes(check, {"nomNaissance": "Dupont2"}) == ["00420"]
    assert codes(check, {"nomNaissance": "Dupont×Durand"}) == ["00420"]  # × sits between À-Ö and Ø-ö
    assert codes(check, {"nomNaissance": " "}) == ["00420"]
    assert codes(check, {"nomNaissance": ["Dupont"]}) == ["00420"]
    assert codes(check, {}) == ["00420"]


def test_nom_naissance_options() -> None:
    check = build("nom_naissance", param="nom", charset="dsnj", code="00421")
    assert codes(check, {"nom": "Æsa"}) == []
    assert codes(check, {"nom": "x1", "nomNaissance": "Dupont"}) == ["00421"]


def test_nom_naissance_always_has_a_charset() -> None:
    with pytest.raises(RuleError, match=r"`charset` must be one of \['civility', 'dsnj'\], not 'none'"):
        build("nom_naissance", charset="none")


def test_prenoms_list() -> None:
    check = build("prenoms")
    assert codes(check, {"prenoms": ["Jean", "Marie2"]}) == []  # no charset by default
    assert codes(check, {"prenoms": "Jean"}) == ["00421"]  # `prenoms=` without brackets is a string
    assert codes(check, {"prenoms": []}) == ["00421"]
    assert codes(check, {}) == ["00421"]


def test_prenoms_options() -> None:
    # CNAV: may be absent; present, each name in the civility charset
    check = build("prenoms", optional=True, charset="civility", code="00367")
    assert codes(check, {}) == []
    assert codes(check, {"prenoms": ["Jean", "Éloïse"]}) == []
    assert codes(check, {"prenoms": ["Jean", "Marie2"]}) == ["00367"]
    assert codes(check, {"prenoms": []}) == ["00367"]


def test_prenoms_scalar_and_words() -> None:
    scalar = build("prenoms", param="prenom", form="scalar")
    assert codes(scalar, {"prenom": "Jean"}) == []
    assert codes(scalar, {}) == ["00421"]
    words = build("prenoms", form="words")
    assert codes(words, {"prenoms": "Jean Marie"}) == []
    assert codes(words, {"prenoms": " "}) == ["00421"]
    assert codes(words, {"prenoms": ["Jean"]}) == ["00421"]
    assert codes(words, {}) == ["00421"]


# --------------------------------------------------------------- birth date


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (("1980", "06", "15"), []),
        (("1", "12", "31"), []),  # year > 0 is enough; December is a month
        (("0", "12", "31"), ["00422"]),
        (("1980", "13", "1"), ["00423"]),
        (("1980", "0", "1"), ["00423"]),
        (("1980", "1", "32"), ["00424"]),
        (("1980", "2", "30"), ["00425"]),
        (("1980", "", ""), ["00423"]),  # the first failure is the only error
    ],
)
def test_date_naissance(date: tuple[str, str, str], expected: list[str]) -> None:
    year, month, day = date
    params = {"anneeDateNaissance": year, "moisDateNaissance": month, "jourDateNaissance": day}
    assert codes(build("date_naissance"), params) == expected


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("1980-06-15", []),
        ("0000-06-15", ["00422"]),
        ("1980-12-31", []),
        ("1980-06-", ["00424"]),
        ("1980", ["00423"]),
        ("", ["00422"]),
    ],
)
def test_date_naissance_iso(iso: str, expected: list[str]) -> None:
    assert codes(build("date_naissance", iso="dateDeNaissance"), {"dateDeNaissance": iso}) == expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ({}, []),  # every part may be absent
        ({"anneeDateNaissance": "1"}, []),  # a present part need only be valid
        ({"moisDateNaissance": "12"}, []),
        ({"jourDateNaissance": "31"}, []),
        ({"jourDateNaissance": "15"}, []),
        ({"anneeDateNaissance": "0"}, ["00363"]),
        ({"moisDateNaissance": "13"}, ["00363"]),
        ({"jourDateNaissance": "32"}, ["00363"]),
        ({"moisDateNaissance": ""}, ["00363"]),
        (BORN, []),
        ({**BORN, "anneeDateNaissance": "1899"}, ["00363"]),  # a complete date is in [1900-01-01, yesterday]
        ({"anneeDateNaissance": "1900", "moisDateNaissance": "1", "jourDateNaissance": "1"}, []),
        ({"anneeDateNaissance": "2026", "moisDateNaissance": "4", "jourDateNaissance": "27"}, []),
        ({"anneeDateNaissance": "2026", "moisDateNaissance": "4", "jourDateNaissance": "28"}, ["00363"]),
        ({**BORN, "jourDateNaissance": "31"}, ["00363"]),  # 31 June
    ],
)
def test_cnav_date_naissance(parts: dict[str, str], expected: list[str]) -> None:
    assert codes(build("cnav_date_naissance"), parts) == expected


def test_cnav_date_naissance_options() -> None:
    check = build("cnav_date_naissance", year="annee", month="mois", day="jour", code="00425")
    assert codes(check, {"annee": "1980", "mois": "6", "jour": "31", **BORN}) == ["00425"]
    assert codes(check, {"annee": "1980", "mois": "6", "jour": "30"}) == []


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("1980-06-", []),  # Ruby's split drops trailing empty pieces: the day is absent
        ("1980--", []),
        ("1980", []),
        ("1980-06-31", ["00363"]),
        ("1980-06-15", []),
    ],
)
def test_cnav_date_naissance_iso(iso: str, expected: list[str]) -> None:
    assert codes(build("cnav_date_naissance", iso="dateDeNaissance"), {"dateDeNaissance": iso}) == expected


# --------------------------------------------------------------- sex, place


def test_sexe() -> None:
    check = build("sexe")
    assert [codes(check, {"sexeEtatCivil": value}) for value in ("M", "f")] == [[], []]
    assert codes(check, {"sexeEtatCivil": "X"}) == ["00427"]
    assert codes(check, {"sexeEtatCivil": ""}) == ["00427"]
    assert codes(check, {}) == ["00427"]


def test_sexe_options() -> None:
    check = build("sexe", param="sexe", optional=True, code="00363")
    assert codes(check, {}) == []
    assert codes(check, {"sexe": " "}) == []
    assert codes(check, {"sexe": "X", "sexeEtatCivil": "M"}) == ["00363"]


def test_pays_and_commune_naissance() -> None:
    pays = build("pays_naissance")
    assert codes(pays, {"codeCogInseePaysNaissance": "99100"}) == []
    assert codes(pays, {"codeCogInseePaysNaissance": "92352"}) == []
    assert codes(pays, {"codeCogInseePaysNaissance": "98100"}) == ["00400"]
    commune = build("commune_naissance")
    assert codes(commune, {}) == []
    assert codes(commune, {"codeCogInseeCommuneNaissance": "2A004"}) == []
    assert codes(commune, {"codeCogInseeCommuneNaissance": "20004"}) == ["00365"]


def test_cnav_lieu_naissance_commune() -> None:
    check = build("cnav_lieu_naissance")
    assert codes(check, {**FRANCE, "codeCogInseeCommuneNaissance": "75056"}) == []
    assert codes(check, {**FRANCE, "codeCogInseeCommuneNaissance": "20004"}) == ["00365"]
    assert codes(check, {"codeCogInseePaysNaissance": "99134"}) == []  # born abroad: no commune needed
    assert codes(check, FRANCE) == ["00365"]


def test_cnav_lieu_naissance_trio() -> None:
    # born in France without a commune: the trio name + departement + year stands for it
    check = build("cnav_lieu_naissance")
    assert codes(check, {**FRANCE, **TRIO}) == []
    assert codes(check, {**FRANCE, **TRIO, "anneeDateNaissance": "1900"}) == []
    assert codes(check, {**FRANCE, **TRIO, "anneeDateNaissance": "2026"}) == []
    assert codes(check, {**FRANCE, **TRIO, "anneeDateNaissance": "1899"}) == ["00422"]
    assert codes(check, {**FRANCE, **TRIO, "anneeDateNaissance": "2027"}) == ["00422"]
    assert codes(check, {**FRANCE, **TRIO, "anneeDateNaissance": "19x0"}) == ["00422"]
    assert codes(check, {**FRANCE, **TRIO, "codeCogInseeDepartementNaissance": "96"}) == ["00428"]
    assert codes(check, {**FRANCE, **TRIO, "codeCogInseeDepartementNaissance": "2A"}) == []
    assert codes(check, {**FRANCE, **TRIO, "nomCommuneNaissance": ""}) == ["00365"]


def test_cnav_lieu_naissance_options() -> None:
    check = build(
        "cnav_lieu_naissance",
        commune="codeInseeLieuDeNaissance",
        pays="codePaysLieuDeNaissance",
        nom_commune="nomCommune",
        departement="codeInseeDepartementNaissance",
        annee="anneeDateDeNaissance",
        code="00426",
    )
    v2_trio = {"nomCommune": "Paris", "codeInseeDepartementNaissance": "75", "anneeDateDeNaissance": "1980"}
    assert codes(check, {"codePaysLieuDeNaissance": "99100", **v2_trio}) == []
    assert codes(check, {"codePaysLieuDeNaissance": "99100", **TRIO}) == ["00426"]


# --------------------------------------------------------------- DSNJ age, CNAV month


def born(iso: str) -> dict[str, str]:
    year, month, day = iso.split("-")
    return {"anneeDateNaissance": year, "moisDateNaissance": month, "jourDateNaissance": day}


@pytest.mark.parametrize(
    ("birth", "expected"),
    [
        ("2010-04-28", []),  # 16 today
        ("2010-04-29", ["39400"]),  # 16 tomorrow
        ("2000-04-29", []),  # 25 until tomorrow
        ("2000-04-28", ["39400"]),  # 26 today
        ("0001-01-01", ["39400"]),  # a valid (Julian) date, 2025 years old
        ("0000-01-01", []),  # year 0 is no date: left to the date check (00422)
        ("2000-02-30", []),  # no such date: left to the date check (00425)
    ],
)
def test_dsnj_age(birth: str, expected: list[str]) -> None:
    assert codes(build("dsnj_age"), born(birth)) == expected


def test_dsnj_age_options() -> None:
    check = build("dsnj_age", iso="dateNaissance", min=18, max=20, code="00425")
    assert codes(check, {"dateNaissance": "2008-04-28"}) == []
    assert codes(check, {"dateNaissance": "2008-04-29"}) == ["00425"]
    assert codes(check, {"dateNaissance": "2005-04-29"}) == []
    assert codes(check, {"dateNaissance": "2005-04-28"}) == ["00425"]


def test_cnav_mois() -> None:
    check = build("cnav_mois")
    assert codes(check, {}) == []
    assert codes(check, {"mois": "12", "annee": "2025"}) == []
    assert codes(check, {"mois": "4", "annee": "2026"}) == []
    assert codes(check, {"mois": "5", "annee": "2026"}) == ["00354"]  # in the future
    assert codes(check, {"mois": "5"}) == []
    assert codes(check, {"mois": "13", "annee": "2025"}) == ["00354"]


def test_cnav_mois_options() -> None:
    check = build("cnav_mois", param="month", annee="year", code="00356")
    assert codes(check, {"month": "5", "year": "2026"}) == ["00356"]
    assert codes(check, {"month": "5", "year": "2025", "mois": "13", "annee": "2026"}) == []
