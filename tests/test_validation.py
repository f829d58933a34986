from __future__ import annotations

import datetime
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sandbox.rules.coercion import ruby_valid_date
from sandbox.rules.error_texts import CatalogueError, load_catalogue, parse_catalogue
from sandbox.rules.errors import ApiError
from sandbox.rules.tracking import entreprise_tracking_errors, recipient_error
from sandbox.rules.validation import (
    CHECK_KINDS,
    ValidationRuleError,
    build_checks,
    builtin_validation_rules,
    parse_validation_rules,
)
from tests.conftest import SHARED, SHARED_FIXTURES

TODAY = datetime.date(2026, 4, 28)  # the reference date of spec/model/fixture_audit.py
TABLE = build_checks()
MODEL = SHARED / "spec" / "model" / "fixture_audit.py"
UUID = "6f9619ff-8b86-d011-b42d-00c04fc964ff"

UNPROCESSABLE = "Entité non traitable"

# code -> (title, detail, source) as the real API sends them (siade's errors.yml)
EXPECTED: dict[str, tuple[str, str, dict[str, str] | None]] = {
    "00201": (UNPROCESSABLE, "Le paramètre context est obligatoire", {"parameter": "context"}),
    "00202": (UNPROCESSABLE, "Le paramètre object est obligatoire", {"parameter": "object"}),
    "00203": (UNPROCESSABLE, "Le paramètre recipient est obligatoire", {"parameter": "recipient"}),
    "00210": (UNPROCESSABLE, "Le paramètre recipient n'est pas un siret valide", {"parameter": "recipient"}),
    "00301": (UNPROCESSABLE, "Le numéro de siren n'est pas correctement formatté", {"parameter": "siren"}),
    "00302": (UNPROCESSABLE, "Le numéro de siret n'est pas correctement formatté", {"parameter": "siret"}),
    "00303": (
        UNPROCESSABLE,
        "Le numéro de siret ou le numéro d'association indiqué n'est pas correctement formatté",
        {"parameter": "id"},
    ),
    "00304": (
        UNPROCESSABLE,
        "Le numéro de siret ou le numéro EORI n'est pas correctement formatté",
        {"parameter": "id"},
    ),
    "00305": (UNPROCESSABLE, "Le format du mois n'est pas valide", {"parameter": "month"}),
    "00307": (UNPROCESSABLE, "L'année n'est pas correctement formatée", None),
    "00313": (UNPROCESSABLE, "Le paramètre limit n'est pas correctement formatté", {"parameter": "limit"}),
    "00315": (
        UNPROCESSABLE,
        "L'année n'est pas valide : elle doit être comprise entre 2006 et l'année précédente",
        None,
    ),
    "00330": (
        UNPROCESSABLE,
        "Le numéro de siren ou le numéro de siret ou le numéro d'association indiqué n'est pas correctement formatté",
        {"parameter": "id"},
    ),
    "00333": (
        UNPROCESSABLE,
        "Le numéro de siren ou le numéro d'association indiqué n'est pas correctement formatté",
        {"parameter": "id"},
    ),
    "00354": (UNPROCESSABLE, "Le mois demandé est incorrect ou est dans le futur.", None),
    "00356": (UNPROCESSABLE, "L'année demandée doit être l'année en cours (N), N-1 ou N-2.", None),
    "00360": (UNPROCESSABLE, "Le numéro d'INE n'est pas correctement formatté", None),
    "00363": (UNPROCESSABLE, "La date de naissance n'est pas correctement formatté", None),
    "00365": (UNPROCESSABLE, "Le lieu de naissance n'est pas correctement formaté", None),
    "00367": (UNPROCESSABLE, "Le ou les prénoms sont manquants.", None),
    "00368": (
        UNPROCESSABLE,
        "L'année de campagne (campaignYear) n'est pas correctement formatée: doit être comprise entre 2021 "
        "et l'année courante - 1",
        None,
    ),
    "00380": (UNPROCESSABLE, "L'identifiant est manquant", None),
    "00390": (
        UNPROCESSABLE,
        "La valeur de la profondeur n'est pas valide: celle-ci doit être comprise entre 1 et 13",
        None,
    ),
    "00400": (UNPROCESSABLE, "Le code pays INSEE n'est pas correctement formaté", None),
    "00401": (UNPROCESSABLE, "Le request_id n'est pas correctement formaté", None),
    "00410": (
        UNPROCESSABLE,
        "Le code établissement n'est pas correctement formaté: celui doit être composé de 7 chiffres et 1 lettre",
        None,
    ),
    "00411": (
        UNPROCESSABLE,
        "L'année scolaire n'est pas correctement formatée: doit être sur le format YYYY ou YYYY-YYYY)",
        None,
    ),
    "00412": (UNPROCESSABLE, "Le degré d'établissement n'est pas correctement formaté: doit être 1D ou 2D", None),
    "00413": (
        UNPROCESSABLE,
        "Le périmètre géographique est invalide: exactement un type de périmètre doit être fourni",
        None,
    ),
    "00414": (UNPROCESSABLE, "Les valeurs du périmètre sont invalides: doit être un tableau non vide", None),
    "00416": (UNPROCESSABLE, "Le code département BCN MEN est invalide: valeur non reconnue", None),
    "00417": (UNPROCESSABLE, "Le code région BCN MEN est invalide: valeur non reconnue", None),
    "00419": (
        UNPROCESSABLE,
        "Les paramètres codeEtablissement et périmètre (codesBcnRegions/codesBcnDepartements) sont mutuellement "
        "exclusifs",
        None,
    ),
    "00420": (UNPROCESSABLE, "Le nom de naissance est manquant", None),
    "00421": (UNPROCESSABLE, "Le(s) prenom(s) est manquant", None),
    "00422": (UNPROCESSABLE, "L'annee de naissance est manquante", None),
    "00423": (UNPROCESSABLE, "Le mois de naissance est manquant", None),
    "00424": (UNPROCESSABLE, "Le jour de naissance est manquant", None),
    "00425": (UNPROCESSABLE, "La date de naissance n'est pas valide", None),
    "00426": (UNPROCESSABLE, "Le code cog de la commune de naissance est manquant", None),
    "00427": (UNPROCESSABLE, "Le sexe de l'état civil est manquant", None),
    "00428": (UNPROCESSABLE, "Le code cog du département de naissance est manquant ou invalide", None),
    "00430": (UNPROCESSABLE, "L'immatriculation du véhicule est manquante", None),
    "00101": ("Interdit", "Votre token n'est pas valide ou n'est pas renseigné", {"parameter": "token"}),
    "00015": (
        "Conflit",
        "Une requête associé à votre jeton est déjà en cours de traitement pour ces paramètres. Veuillez attendre "
        "la fin du traitement avant d'effectuer une nouvelle requête.",
        None,
    ),
    "00429": ("Trop de requêtes", "Vous avez effectué trop de requêtes", None),
    "50001": ("Accès non autorisé", "Le jeton d'accès est mal formaté.", None),
    "50002": ("Accès non autorisé", "Le jeton d'accès n'a pas été trouvé ou est expiré.", None),
    "39400": (
        "Age non pertinent pour le Service National",
        "L'age renseigné n'est pas compris entre 16 et 25 ans incluts, et n'est donc pas concerné par le "
        "Service National.",
        None,
    ),
}


def expected(code: str) -> ApiError:
    title, detail, source = EXPECTED[code]
    meta = {"provider": "DSNJ"} if code == "39400" else {}
    return ApiError(code=code, title=title, detail=detail, source=source, meta=meta)


def run(
    operation: str, params: Mapping[str, Any], today: datetime.date = TODAY, request_id: str | None = None
) -> list[ApiError]:
    return TABLE.for_operation(operation).errors(params, today=today, request_id=request_id)


def codes(
    operation: str, params: Mapping[str, Any], today: datetime.date = TODAY, request_id: str | None = None
) -> list[str]:
    return [error.code for error in run(operation, params, today, request_id)]


# ---------------------------------------------------------------------------
# Catalogue
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_catalogue_texts(code: str) -> None:
    assert load_catalogue().error(code) == expected(code)


BRIEF_CODES = [
    "00201",
    "00202",
    "00203",
    "00210",
    "00301",
    "00302",
    "00303",
    "00304",
    "00305",
    "00307",
    "00313",
    "00315",
    "00330",
    "00333",
    "00354",
    "00356",
    "00360",
    "00363",
    "00365",
    "00367",
    "00368",
    "00380",
    "00390",
    "00400",
    "00401",
    "00402",
    "00410",
    "00411",
    "00412",
    "00413",
    "00414",
    "00416",
    "00417",
    "00419",
    "00420",
    "00421",
    "00422",
    "00423",
    "00424",
    "00425",
    "00426",
    "00427",
    "00428",
    "00430",
    "39400",
    "50001",
    "50002",
    "50003",
    "00100",
    "00101",
    "00103",
    "00429",
    "00015",
]


def test_catalogue_covers_every_code_on_the_wire() -> None:
    catalogue = load_catalogue()
    assert [code for code in BRIEF_CODES if code not in catalogue] == []


def test_parameter_errors_are_unprocessable_entities() -> None:
    catalogue = load_catalogue()
    for key in catalogue:
        if key[:3] in ("002", "003", "004") and key not in ("00402", "00429") and ":" not in key:
            assert catalogue.error(key).title == UNPROCESSABLE, key


def test_catalogue_per_api_details() -> None:
    catalogue = load_catalogue()
    entreprise = catalogue.error("00100", api="entreprise")
    particulier = catalogue.error("00100", api="particulier")
    assert entreprise.detail.endswith("Listez vos privilèges sur /v2/privileges")
    assert particulier.detail.endswith("Listez vos privilèges sur /api/introspect")
    assert entreprise.source == {"parameter": "token"}
    assert catalogue.error("00103", api="particulier").detail == (
        "Votre token est expiré. Vous devez refaire une demande à API Particulier, un guide est disponible sur "
        "https://particulier.api.gouv.fr/faq#comment-renouveler-mon-jeton-arrivant-a-expiration"
    )
    assert catalogue.error("00103").detail == "Votre token est expiré. Vous devez refaire une demande"
    with pytest.raises(CatalogueError, match="depends on the API"):
        catalogue.error("00100")
    assert catalogue.error("00301", api="entreprise") == expected("00301")  # api is ignored when texts agree


def test_catalogue_placeholders() -> None:
    catalogue = load_catalogue()
    assert catalogue.error("00402", version="v9") == ApiError(
        code="00402",
        title="Version d'API non prise en charge",
        detail="La version v9 n'est pas supportée pour cet endpoint",
    )
    assert catalogue.error("50003", scopes="openid, profile").detail == (
        "Le jeton d'accès ne possède pas les données pivot requises pour effectuer cet appel. "
        "Le jeton possède les scopes suivants: openid, profile."
    )
    assert catalogue.error("00105", dashboard_url="https://x/compte").detail.endswith("personnel: https://x/compte")
    bad_request = catalogue.error("00401:bad_request_message", message="boom")
    assert (bad_request.code, bad_request.title, bad_request.detail) == (
        "00401",
        "Mauvaise requête",
        "Votre requête est invalide: boom",
    )
    assert catalogue.error("00401:bad_request").detail == "Votre requête est invalide"
    assert catalogue.error("00107").source == {"header": "X-Forwarded-For"}
    with pytest.raises(CatalogueError, match="missing"):
        catalogue.error("00402")
    with pytest.raises(CatalogueError, match="unexpected"):
        catalogue.error("00301", siren="1")
    with pytest.raises(CatalogueError, match="unknown error code"):
        catalogue.error("99999")


def test_catalogue_rejects_undeclared_placeholders() -> None:
    with pytest.raises(CatalogueError, match="placeholders"):
        parse_catalogue({"errors": {"00001": {"title": "t", "detail": "x {y}"}}}, "test")
    with pytest.raises(CatalogueError, match="5-digit"):
        parse_catalogue({"errors": {"abc": {"title": "t", "detail": "x"}}}, "test")


# ---------------------------------------------------------------------------
# Tracking parameters and recipient
# ---------------------------------------------------------------------------

TRACKING = {"context": "test", "recipient": "13002526500013", "object": "test"}


@pytest.mark.parametrize(
    ("missing", "expected_codes"),
    [
        ((), []),
        (("context",), ["00201"]),
        (("recipient",), ["00203"]),
        (("object",), ["00202"]),
        (("object", "context"), ["00201", "00202"]),
        (("context", "recipient", "object"), ["00201", "00203", "00202"]),
    ],
)
def test_entreprise_tracking_parameters(missing: tuple[str, ...], expected_codes: list[str]) -> None:
    params = {k: v for k, v in TRACKING.items() if k not in missing}
    assert entreprise_tracking_errors(params) == [expected(code) for code in expected_codes]


@pytest.mark.parametrize("blank", ["", " ", "\t \n", "\u00a0"])
def test_blank_tracking_parameter_is_missing(blank: str) -> None:
    assert entreprise_tracking_errors({**TRACKING, "context": blank}) == [expected("00201")]


def test_all_three_tracking_errors_in_order() -> None:
    assert entreprise_tracking_errors({}) == [expected("00201"), expected("00203"), expected("00202")]


@pytest.mark.parametrize(
    ("params", "required", "error"),
    [
        ({"recipient": "13002526500013"}, True, False),
        ({"recipient": "13002526500013"}, False, False),
        ({"recipient": "35600000012345"}, True, False),  # La Poste
        ({"recipient": "13002526500001"}, True, True),
        ({"recipient": "130025265"}, False, True),
        ({"recipient": ["13002526500013"]}, False, True),
        ({}, True, True),
        ({"recipient": ""}, True, True),
        ({}, False, False),
        ({"recipient": " "}, False, False),
    ],
)
def test_recipient(params: dict[str, Any], required: bool, error: bool) -> None:
    assert recipient_error(params, required=required) == (expected("00210") if error else None)


# ---------------------------------------------------------------------------
# API Entreprise
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params", "expected_codes"),
    [
        ("api_entreprise_v3_insee_unites_legales", {"siren": "000000001"}, ["00301"]),
        ("api_entreprise_v3_insee_unites_legales", {"siren": "130025265"}, []),
        ("api_entreprise_v4_insee_unites_legales_diffusables", {"siren": "invalid"}, ["00301"]),
        ("api_entreprise_v3_rnm_entreprises_artisanales", {"siren": "invalid"}, ["00301"]),
        ("api_entreprise_v4_acoss_attestations_sociales", {"siren": "000000002"}, ["00301"]),
        ("api_entreprise_v3_insee_etablissements", {"siret": "13002526500001"}, ["00302"]),
        ("api_entreprise_v3_insee_etablissements", {"siret": "13002526500013"}, []),
        ("api_entreprise_v4_qualibat_certifications_batiment", {"siret": "55203253400001"}, ["00302"]),
        ("api_entreprise_v3_mi_associations", {"siret_or_rna": "W751004076"}, []),
        ("api_entreprise_v3_mi_associations", {"siret_or_rna": "13002526500013"}, []),
        ("api_entreprise_v3_mi_documents_associations", {"siret_or_rna": "130025265"}, ["00303"]),
        ("api_entreprise_v4_mi_unites_legales", {"siren_or_rna": "130025265"}, []),
        ("api_entreprise_v4_mi_unites_legales_open_data", {"siren_or_rna": "13002526500013"}, ["00333"]),
        ("api_entreprise_v3_data_subvention_subventions", {"siren_or_siret_or_rna": "13002526500013"}, []),
        ("api_entreprise_v3_data_subvention_subventions", {"siren_or_siret_or_rna": "1234"}, ["00330"]),
        ("api_entreprise_v3_dgddi_eori", {"siret_or_eori": "FR13002526500013"}, []),
        ("api_entreprise_v3_dgddi_eori", {"siret_or_eori": "fr13002526500013"}, ["00304"]),
        ("api_entreprise_v3_inpi_rne_beneficiaires_effectifs_open_data", {"siren": "1"}, ["00301"]),
    ],
)
def test_entreprise_identifiers(operation: str, params: dict[str, Any], expected_codes: list[str]) -> None:
    assert run(operation, {**params, **TRACKING}) == [expected(code) for code in expected_codes]


def test_bad_siren_body() -> None:
    assert run("api_entreprise_v3_insee_unites_legales", {"siren": "000000001"}) == [
        ApiError(
            code="00301",
            title="Entité non traitable",
            detail="Le numéro de siren n'est pas correctement formatté",
            source={"parameter": "siren"},
        )
    ]


@pytest.mark.parametrize(
    ("year", "expected_codes"),
    [
        ("2025", []),  # current - 1
        ("2006", []),
        ("2026", ["00315"]),
        ("2005", ["00315"]),
        ("206", ["00307"]),
        ("20251", ["00307"]),
        ("abcd", ["00307"]),
        ("", ["00307"]),
    ],
)
def test_dgfip_year(year: str, expected_codes: list[str]) -> None:
    params = {"siren": "130025265", "year": year}
    assert run("api_entreprise_v3_dgfip_liasses_fiscales", params) == [expected(c) for c in expected_codes]
    assert codes("api_entreprise_v3_dgfip_liens_capitalistiques", params) == expected_codes


def test_dgfip_year_moves_with_today() -> None:
    params = {"siren": "130025265", "year": "2026"}
    assert codes("api_entreprise_v3_dgfip_liasses_fiscales", params, today=datetime.date(2027, 1, 1)) == []


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("api_entreprise_v3_dgfip_liasses_fiscales", {"siren": "130025265", "year": "2024"}),
        ("api_entreprise_v3_dgfip_attestations_fiscales", {"siren": "130025265"}),
        ("api_entreprise_v4_dgfip_attestations_fiscales", {"siren": "130025265"}),
        ("api_entreprise_v3_dgfip_chiffres_affaires", {"siret": "13002526500013"}),
    ],
)
def test_dgfip_request_id(operation: str, params: dict[str, Any]) -> None:
    assert run(operation, params, request_id="my-request") == [expected("00401")]
    assert run(operation, params, request_id=UUID) == []
    assert run(operation, params, request_id=UUID.upper()) == []
    assert run(operation, params) == []  # no X-Request-Id: siade makes a UUID


def test_request_id_is_not_read_by_other_entreprise_operations() -> None:
    assert codes("api_entreprise_v3_insee_unites_legales", {"siren": "130025265"}, request_id="x") == []


@pytest.mark.parametrize(
    ("params", "expected_codes"),
    [
        ({"year": "2024", "month": "02"}, []),
        ({"year": "2024", "month": "12", "profondeur": "13"}, []),
        ({"year": "2024", "month": "12", "profondeur": "0"}, []),
        ({"year": "2024", "month": "2"}, ["00305"]),
        ({"year": "2024", "month": "13"}, ["00305"]),
        ({"year": "2024", "month": "00"}, ["00305"]),
        ({"year": "2027", "month": "01"}, ["00307"]),
        ({"year": "1899", "month": "01"}, ["00307"]),
        ({"year": "2024", "month": "01", "profondeur": "14"}, ["00390"]),
        ({"year": "2024", "month": "01", "profondeur": "-1"}, ["00390"]),
        ({"year": "2024", "month": "01", "profondeur": ""}, ["00390"]),
        ({"year": "2024", "month": "01", "profondeur": "1x"}, ["00390"]),
        ({"year": "24", "month": "1", "profondeur": "99", "siret": "1"}, ["00302", "00307", "00305", "00390"]),
    ],
)
def test_gip_mds_effectifs_mensuels(params: dict[str, Any], expected_codes: list[str]) -> None:
    request = {"siret": "13002526500013", **params}
    assert run("api_entreprise_v3_gip_mds_effectifs_mensuels_etablissement", request) == [
        expected(c) for c in expected_codes
    ]


def test_gip_mds_effectifs_annuels() -> None:
    operation = "api_entreprise_v3_gip_mds_effectifs_annuels_entreprise"
    assert codes(operation, {"siren": "130025265", "year": "2026", "nature_effectif": "nope"}) == []
    assert codes(operation, {"siren": "130025265", "year": "2027"}) == ["00307"]


@pytest.mark.parametrize(
    ("limit", "expected_codes"),
    [(None, []), ("", []), ("1", []), ("1000", []), ("25abc", []), ("0", ["00313"]), ("1001", ["00313"])],
)
def test_ademe_limit(limit: str | None, expected_codes: list[str]) -> None:
    params: dict[str, Any] = {"siret": "13002526500013"}
    if limit is not None:
        params["limit"] = limit
    assert run("api_entreprise_v3_ademe_certificats_rge", params) == [expected(c) for c in expected_codes]


# ---------------------------------------------------------------------------
# API Particulier: civility (§3.4)
# ---------------------------------------------------------------------------

MESRI = "api_particulier_v3_mesri_statut_etudiant_with_civility"
IDENTITY = {
    "nomNaissance": "Dupont",
    "prenoms": ["Jean", "Marie"],
    "anneeDateNaissance": "2000",
    "moisDateNaissance": "02",
    "jourDateNaissance": "29",
    "sexeEtatCivil": "M",
}


@pytest.mark.parametrize(
    ("change", "expected_codes"),
    [
        ({}, []),
        ({"nomNaissance": None}, ["00420"]),
        ({"nomNaissance": " "}, ["00420"]),
        ({"nomNaissance": "Dupont2"}, ["00420"]),
        ({"nomNaissance": "D'Artagnan-Éloïse de la Fère"}, []),
        ({"nomNaissance": "Lætitia"}, []),  # Ææ lie in the Ø-ö range already
        ({"nomNaissance": "Œdipe"}, ["00420"]),
        ({"nomNaissance": ["Dupont"]}, ["00420"]),
        ({"prenoms": "Jean"}, ["00421"]),  # prenoms=Jean without []: a string
        ({"prenoms": []}, ["00421"]),
        ({"prenoms": None}, ["00421"]),
        ({"prenoms": ["Jean3"]}, []),  # no charset on the generic rule
        ({"anneeDateNaissance": "0"}, ["00422"]),
        ({"anneeDateNaissance": None}, ["00422"]),
        ({"anneeDateNaissance": "abc"}, ["00422"]),
        ({"moisDateNaissance": "13"}, ["00423"]),
        ({"moisDateNaissance": "0"}, ["00423"]),
        ({"jourDateNaissance": "32"}, ["00424"]),
        ({"anneeDateNaissance": "2001"}, ["00425"]),  # 2001-02-29
        ({"moisDateNaissance": "04", "jourDateNaissance": "31"}, ["00425"]),
        ({"anneeDateNaissance": "0", "moisDateNaissance": "13"}, ["00422"]),  # first failure only
        ({"sexeEtatCivil": "f"}, []),
        ({"sexeEtatCivil": "X"}, ["00427"]),
        ({"sexeEtatCivil": ""}, ["00427"]),
        ({"codeCogInseeCommuneNaissance": "75056"}, []),
        ({"codeCogInseeCommuneNaissance": "2A004"}, []),
        ({"codeCogInseeCommuneNaissance": "20004"}, ["00365"]),
        ({"codeCogInseeCommuneNaissance": "7505"}, ["00365"]),
        ({"codeCogInseeCommuneNaissance": ""}, []),
        (
            {"nomNaissance": "", "prenoms": "x", "anneeDateNaissance": "", "sexeEtatCivil": "x"},
            ["00420", "00421", "00422", "00427"],
        ),
    ],
)
def test_mesri_civility(change: dict[str, Any], expected_codes: list[str]) -> None:
    params = {**IDENTITY, **change}
    params = {k: v for k, v in params.items() if v is not None}
    assert run(MESRI, params) == [expected(c) for c in expected_codes]


def test_tracking_parameters_are_ignored_by_operation_checks() -> None:
    assert run(MESRI, {**IDENTITY, "recipient": "nope", "context": "", "object": ""}) == []
    assert run("api_entreprise_v3_insee_unites_legales", {"siren": "130025265", "recipient": "x"}) == []


def test_ruby_calendar() -> None:
    assert ruby_valid_date(2000, 2, 29)
    assert not ruby_valid_date(1900, 2, 29)
    assert ruby_valid_date(1500, 2, 29)  # Julian calendar before 1582-10-15
    assert not ruby_valid_date(1582, 10, 10)
    assert ruby_valid_date(1582, 10, 15)
    assert ruby_valid_date(12000, 1, 1)


@pytest.mark.parametrize(
    ("operation", "change", "expected_codes"),
    [
        ("api_particulier_v3_gip_mds_service_civique_with_civility", {}, []),
        ("api_particulier_v3_gip_mds_service_civique_with_civility", {"sexeEtatCivil": "X"}, []),
        ("api_particulier_v3_gip_mds_service_civique_with_france_connect", {"prenoms": "Jean"}, ["00421"]),
        ("api_particulier_v3_cnous_etudiant_boursier_with_civility", {"sexeEtatCivil": "X"}, []),
        ("api_particulier_v3_cnous_etudiant_boursier_with_civility", {"codeCogInseeCommuneNaissance": "x"}, []),
        ("api_particulier_v4_cnous_etudiant_boursier_with_civility", {"jourDateNaissance": "30"}, ["00425"]),
        ("api_particulier_v3_cnous_etudiant_boursier_with_france_connect", {"nomNaissance": ""}, ["00420"]),
        ("api_particulier_v3_mesri_statut_etudiant_with_france_connect", {"sexeEtatCivil": "X"}, ["00427"]),
    ],
)
def test_other_identity_routes(operation: str, change: dict[str, Any], expected_codes: list[str]) -> None:
    assert codes(operation, {**IDENTITY, **change}) == expected_codes


# --------------------------------------------------------------- CNAV

CNAV = "api_particulier_v3_cnav_allocation_adulte_handicape_with_civility"
CNAV_IDENTITY = {
    "nomNaissance": "Dupont",
    "prenoms": ["Jean"],
    "anneeDateNaissance": "1980",
    "moisDateNaissance": "06",
    "jourDateNaissance": "15",
    "sexeEtatCivil": "M",
    "codeCogInseePaysNaissance": "99100",
    "codeCogInseeCommuneNaissance": "75056",
}


@pytest.mark.parametrize(
    ("change", "expected_codes"),
    [
        ({}, []),
        ({"prenoms": None, "sexeEtatCivil": None}, []),  # optional on CNAV
        ({"sexeEtatCivil": ""}, []),
        ({"sexeEtatCivil": "X"}, ["00427"]),
        ({"prenoms": ["Jean2"]}, ["00367"]),
        ({"prenoms": "Jean"}, ["00367"]),
        ({"prenoms": []}, ["00367"]),
        ({"nomNaissance": None}, ["00420"]),
        ({"codeCogInseePaysNaissance": None}, ["00400"]),
        ({"codeCogInseePaysNaissance": "12345"}, ["00400"]),
        ({"codeCogInseePaysNaissance": "99134", "codeCogInseeCommuneNaissance": "ABCDE"}, ["00365"]),
        ({"codeCogInseePaysNaissance": "99134", "codeCogInseeCommuneNaissance": None}, []),
        ({"codeCogInseePaysNaissance": "99134", "codeCogInseeCommuneNaissance": "99999"}, []),
        ({"codeCogInseePaysNaissance": "92352", "codeCogInseeCommuneNaissance": None}, []),
        ({"codeCogInseePaysNaissance": "9910"}, ["00400"]),
        ({"codeCogInseeCommuneNaissance": None}, ["00365"]),  # born in France: commune required
        ({"codeCogInseeCommuneNaissance": "7505"}, ["00365"]),
        # the trio replaces the commune
        (
            {
                "codeCogInseeCommuneNaissance": None,
                "nomCommuneNaissance": "Paris",
                "codeCogInseeDepartementNaissance": "75",
            },
            [],
        ),
        (
            {
                "codeCogInseeCommuneNaissance": None,
                "nomCommuneNaissance": "Ajaccio",
                "codeCogInseeDepartementNaissance": "2A",
            },
            [],
        ),
        (
            {
                "codeCogInseeCommuneNaissance": None,
                "nomCommuneNaissance": "Paris",
                "codeCogInseeDepartementNaissance": "96",
            },
            ["00428"],
        ),
        (
            {
                "codeCogInseeCommuneNaissance": None,
                "nomCommuneNaissance": "Paris",
                "codeCogInseeDepartementNaissance": "975",
                "anneeDateNaissance": "1899",
            },
            ["00422", "00428", "00363"],
        ),
        # dates: parts optional, complete date within [1900-01-01, yesterday]
        ({"anneeDateNaissance": None, "moisDateNaissance": None, "jourDateNaissance": None}, []),
        ({"moisDateNaissance": None, "jourDateNaissance": None}, []),
        ({"anneeDateNaissance": None, "moisDateNaissance": "13"}, ["00363"]),
        ({"anneeDateNaissance": "1900", "moisDateNaissance": "01", "jourDateNaissance": "01"}, []),
        ({"anneeDateNaissance": "1899", "moisDateNaissance": "12", "jourDateNaissance": "31"}, ["00363"]),
        ({"anneeDateNaissance": "2026", "moisDateNaissance": "04", "jourDateNaissance": "27"}, []),
        ({"anneeDateNaissance": "2026", "moisDateNaissance": "04", "jourDateNaissance": "28"}, ["00363"]),
        ({"anneeDateNaissance": "1981", "moisDateNaissance": "02", "jourDateNaissance": "29"}, ["00363"]),
    ],
)
def test_cnav_civility(change: dict[str, Any], expected_codes: list[str]) -> None:
    params = {k: v for k, v in {**CNAV_IDENTITY, **change}.items() if v is not None}
    assert run(CNAV, params) == [expected(c) for c in expected_codes]


def test_cnav_errors_come_in_siade_order() -> None:
    params = {
        "sexeEtatCivil": "X",
        "codeCogInseePaysNaissance": "99100",
        "anneeDateNaissance": "0",
        "prenoms": "Jean",
        "nomNaissance": "",
    }
    assert codes(CNAV, params, request_id="nope") == ["00427", "00365", "00363", "00401", "00367", "00420"]


QF = "api_particulier_v3_cnav_quotient_familial_with_civility"


@pytest.mark.parametrize(
    ("period", "expected_codes"),
    [
        ({}, []),
        ({"annee": "2024"}, []),  # N-2
        ({"annee": "2026", "mois": "04"}, []),
        ({"annee": "2026", "mois": "4"}, []),
        ({"annee": "2025", "mois": "12"}, []),
        ({"mois": "12"}, []),
        ({"annee": "2023"}, ["00356"]),
        ({"annee": "2027"}, ["00356"]),
        ({"annee": "26"}, ["00356"]),
        ({"annee": ""}, ["00356"]),
        ({"annee": "2026", "mois": "05"}, ["00354"]),  # in the future
        ({"annee": "2025", "mois": "13"}, ["00354"]),
        ({"annee": "2025", "mois": "0"}, ["00354"]),
        ({"annee": "2023", "mois": "13"}, ["00356", "00354"]),
    ],
)
def test_cnav_quotient_familial_period(period: dict[str, str], expected_codes: list[str]) -> None:
    assert run(QF, {**CNAV_IDENTITY, **period}) == [expected(c) for c in expected_codes]
    france_connect = "api_particulier_v3_cnav_quotient_familial_with_france_connect"
    assert codes(france_connect, {**CNAV_IDENTITY, **period}) == expected_codes


def test_cnav_period_moves_with_today() -> None:
    assert codes(QF, {**CNAV_IDENTITY, "annee": "2023"}, today=datetime.date(2025, 1, 1)) == []
    assert codes(QF, {**CNAV_IDENTITY, "annee": "2026", "mois": "05"}, today=datetime.date(2026, 5, 1)) == []


# --------------------------------------------------------------- DSNJ

DSNJ = "api_particulier_v3_dsnj_service_national_with_civility"


def _born(years_ago: int, days: int = 0) -> dict[str, str]:
    birthday = TODAY.replace(year=TODAY.year - years_ago) + datetime.timedelta(days=days)
    return {
        "anneeDateNaissance": str(birthday.year),
        "moisDateNaissance": str(birthday.month),
        "jourDateNaissance": str(birthday.day),
    }


DSNJ_IDENTITY = {**IDENTITY, "codeCogInseePaysNaissance": "99100", **_born(20)}


@pytest.mark.parametrize(
    ("born", "expected_codes"),
    [
        (_born(16), []),  # sixteenth birthday today
        (_born(16, days=1), ["39400"]),  # fifteen until tomorrow
        (_born(25), []),
        (_born(26, days=1), []),  # twenty-six tomorrow
        (_born(26), ["39400"]),
        (_born(55), ["39400"]),
    ],
)
def test_dsnj_age_window(born: dict[str, str], expected_codes: list[str]) -> None:
    assert run(DSNJ, {**DSNJ_IDENTITY, **born}) == [expected(c) for c in expected_codes]


def test_dsnj_age_is_relative_to_today() -> None:
    params = {**DSNJ_IDENTITY, "anneeDateNaissance": "1995", "moisDateNaissance": "6", "jourDateNaissance": "1"}
    assert codes(DSNJ, params, today=datetime.date(2020, 1, 1)) == []
    assert codes(DSNJ, params, today=TODAY) == ["39400"]


def test_dsnj_age_error_body() -> None:
    [error] = run(DSNJ, {**DSNJ_IDENTITY, **_born(40)})
    assert error.as_json_api() == {
        "code": "39400",
        "title": "Age non pertinent pour le Service National",
        "detail": "L'age renseigné n'est pas compris entre 16 et 25 ans incluts, et n'est donc pas concerné par le "
        "Service National.",
        "meta": {"provider": "DSNJ"},
    }


@pytest.mark.parametrize(
    ("change", "expected_codes"),
    [
        ({"nomNaissance": "Lætitia", "prenoms": ["Æsa"]}, []),  # DSNJ charset adds Ææ
        ({"prenoms": ["Jean3"]}, ["00421"]),
        ({"prenoms": "Jean"}, ["00421"]),
        ({"nomNaissance": "Dupont1"}, ["00420"]),
        ({"codeCogInseePaysNaissance": ""}, ["00400"]),
        ({"codeCogInseeCommuneNaissance": "ABCDE"}, ["00365"]),
        ({"sexeEtatCivil": None}, ["00427"]),
        # an invalid date stops before the age check
        ({**_born(40), "jourDateNaissance": "32"}, ["00424"]),
        ({**_born(40), "nomNaissance": ""}, ["00420"]),
    ],
)
def test_dsnj_rules(change: dict[str, Any], expected_codes: list[str]) -> None:
    params = {k: v for k, v in {**DSNJ_IDENTITY, **change}.items() if v is not None}
    assert codes(DSNJ, params) == expected_codes
    assert codes("api_particulier_v3_dsnj_service_national_with_france_connect", params) == expected_codes


# --------------------------------------------------------------- CNOUS, INE, identifiant, ANTS


@pytest.mark.parametrize(
    ("campaign_year", "expected_codes"),
    [(None, []), ("", []), ("2021", []), ("2025", []), ("2020", ["00368"]), ("2026", ["00368"]), ("21", ["00368"])],
)
def test_cnous_campaign_year(campaign_year: str | None, expected_codes: list[str]) -> None:
    extra = {} if campaign_year is None else {"campaignYear": campaign_year}
    assert run("api_particulier_v4_cnous_etudiant_boursier_with_civility", {**IDENTITY, **extra}) == [
        expected(c) for c in expected_codes
    ]
    ine = {"ine": "1234567890A", **extra}
    assert codes("api_particulier_v4_cnous_etudiant_boursier_with_ine", ine) == expected_codes
    assert codes("api_particulier_v4_cnous_etudiant_boursier_with_france_connect", {**IDENTITY, **extra}) == (
        expected_codes
    )


def test_cnous_campaign_year_is_checked_after_the_identity() -> None:
    params = {**IDENTITY, "nomNaissance": "", "campaignYear": "1999"}
    assert codes("api_particulier_v4_cnous_etudiant_boursier_with_civility", params) == ["00420"]
    assert codes("api_particulier_v4_cnous_etudiant_boursier_with_ine", {"ine": "x", "campaignYear": "1999"}) == [
        "00360"
    ]


@pytest.mark.parametrize(
    ("operation", "params", "expected_codes"),
    [
        ("api_particulier_v3_mesri_statut_etudiant_with_ine", {"ine": "1234567890A"}, []),
        ("api_particulier_v3_mesri_statut_etudiant_with_ine", {"ine": "697720085AL"}, ["00360"]),
        ("api_particulier_v3_mesri_statut_etudiant_with_ine", {}, ["00360"]),
        ("api_particulier_v3_cnous_etudiant_boursier_with_ine", {"ine": ""}, ["00360"]),
        ("api_particulier_v3_france_travail_statut_with_identifiant", {"identifiant": "abc"}, []),
        ("api_particulier_v3_france_travail_indemnites_with_identifiant", {}, ["00380"]),
        ("api_particulier_v3_france_travail_indemnites_with_identifiant", {"identifiant": " "}, ["00380"]),
        ("api_particulier_v3_sdh_statut_sportif_with_identifiant", {"identifiant": "123456"}, []),
        ("api_particulier_v3_sdh_statut_sportif_with_identifiant", {"identifiant": "12a"}, ["00380"]),
        ("api_particulier_v3_sdh_statut_sportif_with_identifiant", {}, ["00380"]),
        ("api_particulier_v3_ants_extrait_immatriculation_vehicule_with_france_connect", {}, ["00430"]),
        (
            "api_particulier_v3_ants_extrait_immatriculation_vehicule_with_france_connect",
            {"immatriculation": "AA-123-AA", **IDENTITY},
            [],
        ),
        ("api_particulier_v2_pole_emploi_statut", {}, ["00380"]),
        ("api_particulier_v2_pole_emploi_indemnites", {"identifiant": "x"}, []),
    ],
)
def test_ine_identifiant_immatriculation(operation: str, params: dict[str, Any], expected_codes: list[str]) -> None:
    assert run(operation, params) == [expected(c) for c in expected_codes]


# --------------------------------------------------------------- MEN

MEN = "api_particulier_v3_men_scolarites_with_civility"
MEN_IDENTITY = {**IDENTITY, "anneeScolaire": "2025"}


@pytest.mark.parametrize(
    ("search", "expected_codes"),
    [
        ({"codeEtablissement": "0132634T"}, []),
        ({"codeEtablissement": "0132634"}, ["00410"]),
        ({"codeEtablissement": "013263AT"}, ["00410"]),
        ({}, ["00410"]),
        ({"codeEtablissement": "", "degreEtablissement": "1D"}, ["00410"]),
        ({"codeEtablissement": "0132634T", "codesBcnDepartements": ["075"]}, ["00419"]),
        ({"degreEtablissement": "2D", "codesBcnDepartements": ["075", "013"]}, []),
        ({"degreEtablissement": "1D", "codesBcnRegions": ["11"]}, []),
        ({"codesBcnRegions": ["11"]}, ["00412"]),
        ({"degreEtablissement": "3D", "codesBcnRegions": ["11"]}, ["00412"]),
        ({"degreEtablissement": "1d", "codesBcnRegions": ["11"]}, ["00412"]),
        ({"degreEtablissement": "1D", "codesBcnRegions": ["11"], "codesBcnDepartements": ["075"]}, ["00413"]),
        ({"codesBcnRegions": ["11"], "codesBcnDepartements": ["075"]}, ["00412", "00413"]),
        ({"degreEtablissement": "1D", "codesBcnDepartements": "075"}, ["00414"]),
        ({"degreEtablissement": "1D", "codesBcnDepartements": ["075", ""]}, ["00414"]),
        ({"degreEtablissement": "1D", "codesBcnDepartements": ["0750"]}, ["00416"]),
        ({"degreEtablissement": "1D", "codesBcnRegions": ["1"]}, ["00417"]),
        ({"degreEtablissement": "1D", "codesBcnDepartements": []}, ["00410"]),  # an empty list is not sent
    ],
)
def test_men_establishment_or_perimeter(search: dict[str, Any], expected_codes: list[str]) -> None:
    assert run(MEN, {**MEN_IDENTITY, **search}) == [expected(c) for c in expected_codes]


@pytest.mark.parametrize(
    ("annee", "expected_codes"),
    [("2025", []), ("2025-2026", []), ("25", ["00411"]), ("2025/2026", ["00411"]), (None, ["00411"])],
)
def test_men_annee_scolaire(annee: str | None, expected_codes: list[str]) -> None:
    params = {**IDENTITY, "codeEtablissement": "0132634T"}
    if annee is not None:
        params["anneeScolaire"] = annee
    for version in ("v3", "v4", "v5"):
        assert codes(f"api_particulier_{version}_men_scolarites_with_civility", params) == expected_codes


def test_men_order() -> None:
    assert codes(MEN, {"prenoms": ["x"], "anneeScolaire": "x"}) == ["00420", "00422", "00427", "00410", "00411"]


# ---------------------------------------------------------------------------
# API Particulier v2
# ---------------------------------------------------------------------------

V2_CNAV = {
    "nomNaissance": "Dupont",
    "prenoms": ["Jean"],
    "anneeDateDeNaissance": "1980",
    "moisDateDeNaissance": "6",
    "jourDateDeNaissance": "15",
    "sexe": "F",
    "codePaysLieuDeNaissance": "99100",
    "codeInseeLieuDeNaissance": "75056",
}


@pytest.mark.parametrize(
    ("change", "expected_codes"),
    [
        ({}, []),
        ({"sexe": "X"}, ["00427"]),
        ({"codeInseeLieuDeNaissance": None}, ["00365"]),
        (
            {
                "codeInseeLieuDeNaissance": None,
                "nomCommuneNaissance": "Paris",
                "codeInseeDepartementNaissance": "75",
            },
            [],
        ),
        ({"codePaysLieuDeNaissance": "123"}, ["00400"]),
        ({"codePaysLieuDeNaissance": "99134", "codeInseeLieuDeNaissance": "x"}, ["00365"]),
        ({"jourDateDeNaissance": "31"}, ["00363"]),
        ({"prenoms": "Jean"}, ["00367"]),
        ({"nomNaissance": None}, ["00420"]),
        ({"codeCogInseePaysNaissance": "nope", "anneeDateNaissance": "0"}, []),  # v3 names are not read
    ],
)
def test_v2_cnav_uses_v2_names(change: dict[str, Any], expected_codes: list[str]) -> None:
    params = {k: v for k, v in {**V2_CNAV, **change}.items() if v is not None}
    assert codes("api_particulier_v2_cnav_prime_activite", params) == expected_codes
    assert codes("api_particulier_v2_cnav_quotient_familial_v2", params) == expected_codes


def test_v2_quotient_familial_period() -> None:
    assert codes("api_particulier_v2_cnav_quotient_familial_v2", {**V2_CNAV, "annee": "2020", "mois": "1"}) == ["00356"]


def test_v2_france_connect_identity_uses_v3_names() -> None:
    # FranceConnect identities are passed with the v3 names (sexeEtatCivil M/F is always there)
    assert codes("api_particulier_v2_cnav_prime_activite", CNAV_IDENTITY) == []
    assert codes("api_particulier_v2_cnav_prime_activite", {**CNAV_IDENTITY, "jourDateNaissance": "40"}) == ["00363"]
    assert codes("api_particulier_v2_mesri_student_status", IDENTITY) == []
    assert codes("api_particulier_v2_mesri_student_status", {**IDENTITY, "ine": "bad"}) == []  # FC wins over ine
    assert codes("api_particulier_v2_cnous_student_scholarship", {**IDENTITY, "nomNaissance": ""}) == ["00420"]


@pytest.mark.parametrize(
    ("operation", "params", "expected_codes"),
    [
        ("api_particulier_v2_mesri_student_status", {"ine": "1234567890A"}, []),
        ("api_particulier_v2_mesri_student_status", {"ine": "697720085AL"}, ["00360"]),
        ("api_particulier_v2_mesri_student_status", {"ine": "697720085AL", "nom": "x"}, ["00360"]),
        (
            "api_particulier_v2_mesri_student_status",
            {"nom": "Martin", "prenom": "Justine", "dateDeNaissance": "2000-01-20", "sexe": "F"},
            [],
        ),
        (
            "api_particulier_v2_mesri_student_status",
            {
                "nom": "Martin",
                "prenom": "Justine",
                "dateDeNaissance": "2000-01-20",
                "sexe": "F",
                "lieuDeNaissance": "x",
            },
            ["00365"],
        ),
        ("api_particulier_v2_mesri_student_status", {}, ["00420", "00421", "00422", "00427"]),
        ("api_particulier_v2_cnous_student_scholarship", {"ine": "1234567890A"}, []),
        ("api_particulier_v2_cnous_student_scholarship", {"ine": "nope"}, ["00360"]),
        (
            "api_particulier_v2_cnous_student_scholarship",
            {"nom": "Martin", "prenoms": "Justine Marie", "dateDeNaissance": "2000-02-30", "sexe": "X"},
            ["00425"],
        ),
        ("api_particulier_v2_cnous_student_scholarship", {"nom": "Martin"}, ["00421", "00422"]),
        (
            "api_particulier_v2_men_scolarites",
            {
                "nom": "Martin",
                "prenom": "Justine",
                "sexe": "F",
                "dateNaissance": "2000-01-20",
                "codeEtablissement": "0890003V",
                "anneeScolaire": "2022",
            },
            [],
        ),
        (
            "api_particulier_v2_men_scolarites",
            {
                "nom": "Martin",
                "prenom": "Justine",
                "sexe": "not_valid",
                "dateNaissance": "2000-13-20",
                "codeEtablissement": "0890003",
                "anneeScolaire": "22",
            },
            ["00423", "00427", "00410", "00411"],
        ),
    ],
)
def test_v2_student_and_school_routes(operation: str, params: dict[str, Any], expected_codes: list[str]) -> None:
    assert codes(operation, params) == expected_codes


def test_first_error_for_v2() -> None:
    errors = run("api_particulier_v2_mesri_student_status", {})
    assert errors[0] == expected("00420")


# ---------------------------------------------------------------------------
# Rules as data
# ---------------------------------------------------------------------------


def test_operation_without_rule_has_no_checks() -> None:
    checks = TABLE.for_operation("api_particulier_v2_cnaf_quotient_familial")
    assert checks.is_empty
    assert checks.errors({"anything": "x"}, today=TODAY) == []
    assert TABLE.for_operation("nope").errors({}, today=TODAY) == []


def test_builtin_rules_only_use_known_kinds_and_codes() -> None:
    rules = builtin_validation_rules()
    assert rules
    build_checks(rules)  # raises on an unknown code
    assert set(CHECK_KINDS) >= {"siren", "siret", "year", "prenoms", "men_search", "stop_if_errors"}


def test_extra_rules_are_tried_first() -> None:
    extra = parse_validation_rules(
        [{"operations": ["api_entreprise_v3_insee_*"], "checks": [{"kind": "present", "param": "x", "code": "00380"}]}],
        "test",
    )
    table = build_checks([*extra, *builtin_validation_rules()])
    checks = table.for_operation("api_entreprise_v3_insee_unites_legales")
    assert [e.code for e in checks.errors({"siren": "1"}, today=TODAY)] == ["00380"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"operations": ["x"], "checks": [{"kind": "nope"}]}, "unknown check kind"),
        ({"operations": ["x"], "checks": [{"kind": "siren", "typo": 1}]}, "unknown option"),
        ({"operations": ["x"], "checks": [{"kind": "siren", "code": 301}]}, "quoted error code"),
        ({"operations": ["x"], "checks": [{"kind": "year", "max": "next"}]}, "year bound"),
        ({"operations": ["x"], "checks": [{"kind": "present", "param": "x"}]}, "`code` is required"),
        ({"operations": ["x"], "checks": [{"kind": "sexe", "optional": "yes"}]}, "true or false"),
        ({"operations": ["x"], "checks": [{"kind": "siren", "param": ""}]}, "non-empty string"),
        ({"operations": ["x"], "checks": [{"kind": "int_range", "param": "x", "code": "00313"}]}, "integer"),
        ({"operations": ["x"], "checks": [{"kind": "pattern", "param": "x", "code": "1", "regex": "("}]}, "bad regex"),
        ({"operations": [], "checks": []}, "operations"),
        ({"operations": ["x"]}, "either `checks` or `variants`"),
        ({"operations": ["x"], "variants": [{"checks": [], "when": "x"}]}, "unknown key"),
    ],
)
def test_malformed_rules(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationRuleError, match=message):
        parse_validation_rules([raw], "test")


def test_unknown_code_is_refused_at_build_time() -> None:
    rules = parse_validation_rules([{"operations": ["x"], "checks": [{"kind": "siren", "code": "12345"}]}], "test")
    with pytest.raises(ValidationRuleError, match="unknown error code"):
        build_checks(rules)


# ---------------------------------------------------------------------------
# The real corpora
# ---------------------------------------------------------------------------

IDENTIFIER_PARAMETERS = {"siren", "siret", "siret_or_rna", "siren_or_rna", "siren_or_siret_or_rna", "siret_or_eori"}


def _corpus(name: str) -> Path:
    path = SHARED_FIXTURES / name
    if not (path / "payloads").is_dir():
        pytest.skip(f"real fixture corpus not available at {path} (../shared/fixtures beside the clone)")
    return path


@pytest.mark.parametrize("name", ["siade_staging_data", "apistration_mocks"])
def test_every_operation_of_the_corpora_with_rules_in_the_spec_gets_checks(name: str) -> None:
    from sandbox.load.openapi import operations_from_documents
    from sandbox.load.repository import read_repository

    content = read_repository(_corpus(name))
    operations = operations_from_documents(content.documents, [])
    entreprise = [
        op
        for op in operations.values()
        if op.api == "entreprise"
        and any(p.location == "path" and p.key in IDENTIFIER_PARAMETERS for p in op.parameters)
    ]
    assert len(entreprise) == 51
    assert [op.id for op in entreprise if TABLE.for_operation(op.id).is_empty] == []
    # every Particulier operation but the gone v2 `composition-familiale` validates something
    particulier = [op.id for op in operations.values() if op.api == "particulier"]
    unchecked = [op for op in particulier if TABLE.for_operation(op).is_empty]
    assert unchecked == ["api_particulier_v2_cnaf_quotient_familial"]


def _model() -> ModuleType:
    if not MODEL.is_file():
        pytest.skip(f"the spec's fixture model is not available at {MODEL}")
    spec = importlib.util.spec_from_file_location("fixture_audit", MODEL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _as_sent(value: Any) -> Any:
    """A fixture value as the query string carries it: strings, lists of strings."""
    if isinstance(value, list):
        return [_as_sent(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


IDENTIFIER_REASONS = ("fails server validation", "ine invalid", "ine missing or invalid", "identifiant must be digits")


def _is_checked_family(folder: str) -> bool:
    if folder.startswith("api_entreprise_"):
        return True
    return (
        folder.startswith("api_particulier_v")
        and not folder.startswith("api_particulier_v2_")
        and folder.endswith(("_with_civility", "_with_ine", "_with_identifiant"))
    )


# Cases the model (which does not check the CNAV QF period) calls reachable, but which
# real staging answers 422 on the reference date: their `annee`/`mois` are outside
# [N-2, N] / in the future (§3.5).
QF_PERIOD_DRIFT = {"00356", "00354"}


@pytest.mark.parametrize("name", ["siade_staging_data", "apistration_mocks"])
def test_consistency_with_the_spec_model(name: str) -> None:
    from sandbox.load.repository import read_repository

    model: Any = _model()
    content = read_repository(_corpus(name))
    counts = {"identifier_cases": 0, "spec_identifier_cases": 0, "reachable": 0, "qf_period_drift": 0}
    for folder, cases in content.folders.items():
        if folder == "france_connect":
            continue
        checks = TABLE.for_operation(folder)
        for case in cases:
            reasons: list[str] = model.check_case(folder, case.params, TODAY)
            params = {key: _as_sent(value) for key, value in case.params.items()}
            found = [e.code for e in checks.errors(params, today=TODAY)]
            if any(marker in reason for reason in reasons for marker in IDENTIFIER_REASONS):
                counts["identifier_cases"] += 1
                assert found, f"{case.id}: the model says {reasons}, no error found"
                failing = [r for r in reasons if "fails server validation" in r and r.startswith(("siren=", "siret="))]
                if failing:
                    counts["spec_identifier_cases"] += 1
                    assert found == ["00301" if failing[0].startswith("siren=") else "00302"], case.id
            if not reasons and _is_checked_family(folder):
                counts["reachable"] += 1
                if found and "quotient_familial" in folder and set(found) <= QF_PERIOD_DRIFT:
                    counts["qf_period_drift"] += 1
                    continue
                assert found == [], f"{case.id}: reachable per the model, but {found}"
    if name == "siade_staging_data":
        # §10.1: "Identifiers that fail validation (16 cases)"; plus 3 INE cases
        assert counts == {"identifier_cases": 19, "spec_identifier_cases": 16, "reachable": 412, "qf_period_drift": 1}
    else:
        assert counts["spec_identifier_cases"] == 16
        assert counts["qf_period_drift"] == 1
