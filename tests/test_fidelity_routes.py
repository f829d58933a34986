"""Routing rules of the spec (§1.2, §1.5, §11.1, §11.2, §11.8), one test per rule, both match modes.

Served from the embedded repository (and, for the api-association aliases, a tiny repository
written here) by a real uvicorn on loopback. Expected texts are the spec's, written out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from sandbox.rules.matching import MatchMode
from tests.fidelity_support import (
    ACTES_GONE,
    INPI_GONE,
    JSON,
    JSON_API,
    MODES,
    QF_V1_GONE,
    SVAIR_GONE,
    TEXT,
    TRACKING,
    UNITE_LEGALE,
    bearer,
    errors_of,
    served,
)

ENTREPRISE_HOST = {"host": "entreprise.api.localtest.me"}
PARTICULIER_HOST = {"host": "particulier.api.localtest.me"}
NOT_FOUND_ENTREPRISE = "Cette URL n'existe pas sur API entreprise, veuillez vérifier votre URL."
NOT_FOUND_PARTICULIER = "Cette URL n'existe pas sur API particulier, veuillez vérifier votre URL."
V2_GONE = (
    "Cette URL n'existe plus sur API entreprise depuis le 15/11/2023, veuillez migrer sur la version 3 "
    "d'API Entreprise. Plus d'infos ici: https://entreprise.api.gouv.fr/developpeurs/guide-migration"
)


@pytest.fixture(scope="module", params=MODES, ids=[m.value for m in MODES])
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with served(request.param) as http:
        yield http


# -- §11.1 wording, and /v2/* for every method ------------------------------------------------


@pytest.mark.parametrize(
    ("host", "text"), [(ENTREPRISE_HOST, NOT_FOUND_ENTREPRISE), (PARTICULIER_HOST, NOT_FOUND_PARTICULIER)]
)
def test_11_1_unknown_path_says_api_entreprise_or_api_particulier(
    client: httpx.Client, host: dict[str, str], text: str
) -> None:
    response = client.get("/v3/nowhere/at/all", headers=host)
    assert response.status_code == 404
    assert response.headers["content-type"] == TEXT
    assert response.text == text


def test_11_1_entreprise_v2_gone_says_api_entreprise(client: httpx.Client) -> None:
    response = client.get("/v2/etablissements/13002526500013", headers=ENTREPRISE_HOST)
    assert response.status_code == 410
    assert response.headers["content-type"] == TEXT
    assert response.text == V2_GONE


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_11_1_entreprise_v2_is_gone_for_every_method(client: httpx.Client, method: str) -> None:
    """Fidelity row: Non-GET request on an API path."""
    response = client.request(method, "/v2/entreprises/130025265", headers=ENTREPRISE_HOST)
    assert response.status_code == 410
    assert response.text == ("" if method == "HEAD" else V2_GONE)


def test_11_1_v2_ping_and_privileges_still_answer_get_but_not_post(client: httpx.Client) -> None:
    assert client.get("/v2/ping", headers=ENTREPRISE_HOST).status_code == 200
    assert client.get("/v2/privileges", headers={**ENTREPRISE_HOST, **bearer()}).status_code == 200
    post = client.post("/v2/ping", headers=ENTREPRISE_HOST)
    assert post.status_code == 410 and post.text == V2_GONE


def test_11_1_v2_is_no_gone_route_on_the_particulier_host(client: httpx.Client) -> None:
    response = client.post("/v2/entreprises/130025265", headers=PARTICULIER_HOST)
    assert response.status_code == 404 and response.text == NOT_FOUND_PARTICULIER


# -- §11.2 the 410 lambdas ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/v3/inpi/unites_legales/130025265/actes", ACTES_GONE),
        ("/v3/inpi/unites_legales/130025265/brevets", INPI_GONE),
        ("/v4/inpi/unites_legales/130025265/marques", INPI_GONE),
        ("/v3/inpi/unites_legales/130025265/modeles", INPI_GONE),
        ("/api/impots/svair", SVAIR_GONE),
        ("/api/v2/avis-imposition", SVAIR_GONE),
        ("/api/caf/famille", QF_V1_GONE),
        ("/api/v2/composition-familiale", QF_V1_GONE),
    ],
)
def test_11_2_gone_routes_send_their_exact_text_and_no_content_type(client: httpx.Client, path: str, text: str) -> None:
    response = client.get(path)
    assert response.status_code == 410
    assert "content-type" not in response.headers
    assert response.text == text
    with_format = client.get(path + ".json")
    assert with_format.status_code == 410 and with_format.text == text


def test_11_2_gone_lambdas_are_get_routes_only(client: httpx.Client) -> None:
    response = client.post("/v3/inpi/unites_legales/130025265/actes", headers=ENTREPRISE_HOST)
    assert response.status_code == 404 and response.text == NOT_FOUND_ENTREPRISE


# -- §11.8 format suffix, dots in segments -------------------------------------------------------


def test_11_8_a_json_format_suffix_routes_like_the_path_without_it(client: httpx.Client) -> None:
    plain = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer())
    suffixed = client.get(UNITE_LEGALE + ".json", params=TRACKING, headers=bearer())
    assert plain.status_code == suffixed.status_code == 200
    assert suffixed.headers["x-sandbox-case"] == plain.headers["x-sandbox-case"]
    assert (
        suffixed.headers["x-sandbox-case"]
        == "api_entreprise_v3_insee_unites_legales/administration-siren-par-defaut.yaml"
    )
    assert suffixed.content == plain.content


def test_11_8_a_dot_elsewhere_in_a_segment_routes_nowhere(client: httpx.Client) -> None:
    response = client.get("/v3/insee/sirene/unites_legales/130.025.265", params=TRACKING, headers=bearer())
    assert response.status_code == 404 and response.text == NOT_FOUND_ENTREPRISE


# -- §1.5 / §11.8 pings ---------------------------------------------------------------------------


def test_11_8_pings_lists_every_entreprise_ping_with_its_name_and_url(client: httpx.Client) -> None:
    response = client.get("/pings", headers=ENTREPRISE_HOST)
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    pings = response.json()
    assert len(pings) == 25
    assert pings[0] == {"name": "INSEE - Sirene", "url": "http://entreprise.api.localtest.me/ping/insee/sirene"}
    assert {
        "name": "DJEPVA - API Association",
        "url": "http://entreprise.api.localtest.me/ping/djepva/api-association",
    } in pings
    assert pings[-1] == {
        "name": "DataSubvention - Subventions",
        "url": "http://entreprise.api.localtest.me/ping/data_subvention/subventions",
    }


def test_11_8_api_pings_lists_every_particulier_ping_with_its_name_and_url(client: httpx.Client) -> None:
    response = client.get("/api/pings", headers={**PARTICULIER_HOST, "X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    pings = response.json()
    assert len(pings) == 21
    assert pings[0] == {
        "name": "ANTS - Extrait Immatriculation Vehicule",
        "url": "https://particulier.api.localtest.me/api/ants/ping",
    }
    assert {"name": "FranceConnect", "url": "https://particulier.api.localtest.me/api/franceconnect/ping"} in pings


@pytest.mark.parametrize(
    ("path", "host"),
    [("/ping/insee/sirene", ENTREPRISE_HOST), ("/api/cnous_etudiant_boursier_ine/ping", PARTICULIER_HOST)],
)
def test_1_5_a_listed_provider_ping_answers_ok(client: httpx.Client, path: str, host: dict[str, str]) -> None:
    response = client.get(path, headers=host)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["status", "last_update"] and body["status"] == "ok"
    assert body["last_update"].endswith("Z") and body["last_update"][10] == "T"


@pytest.mark.parametrize(
    ("path", "host"), [("/ping/nothing/here", ENTREPRISE_HOST), ("/api/nothing/ping", PARTICULIER_HOST)]
)
def test_1_5_an_unknown_provider_ping_is_404_empty_object(
    client: httpx.Client, path: str, host: dict[str, str]
) -> None:
    response = client.get(path, headers=host)
    assert response.status_code == 404
    assert response.content == b"{}"


# -- §1.2 / §11.8 api-association aliases ----------------------------------------------------------

ASSOCIATION_RNA = "W751234567"


def _association_repository(root: Path) -> Path:
    def operation(path: str, operation_id: str) -> dict[str, object]:
        return {
            "get": {
                "summary": operation_id,
                "parameters": [{"name": "siren_or_rna", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"x-operationId": operation_id, "description": "ok"}},
            }
        }

    document = {
        "openapi": "3.0.3",
        "info": {"title": "API Entreprise", "version": "1"},
        "paths": {
            "/v4/djepva/api-association/associations/{siren_or_rna}": operation(
                "", "api_entreprise_v4_mi_unites_legales"
            ),
            "/v4/djepva/api-association/associations/open_data/{siren_or_rna}": operation(
                "", "api_entreprise_v4_mi_unites_legales_open_data"
            ),
        },
    }
    (root / "openapi").mkdir(parents=True)
    (root / "openapi" / "entreprise.yaml").write_text(yaml.safe_dump(document))
    for folder, name in (
        ("api_entreprise_v4_mi_unites_legales", "association"),
        ("api_entreprise_v4_mi_unites_legales_open_data", "association-open-data"),
    ):
        case = {
            "description": name,
            "params": {"siren_or_rna": ASSOCIATION_RNA},
            "status": 200,
            "payload": json.dumps({"data": {"case": name}}),
        }
        (root / "payloads" / folder).mkdir(parents=True)
        (root / "payloads" / folder / f"{name}.yaml").write_text(yaml.safe_dump(case))
    return root


@pytest.fixture(scope="module", params=MODES, ids=[m.value for m in MODES])
def associations(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    mode: MatchMode = request.param
    root = _association_repository(tmp_path_factory.mktemp(f"associations-{mode.value}"))
    with served(mode, root) as http:
        yield http


@pytest.mark.parametrize("ministry", ["djepva", "ministere_interieur"])
@pytest.mark.parametrize(("suffix", "case"), [("", "association"), ("open_data/", "association-open-data")])
def test_1_2_api_association_alias_routes_reach_the_same_operation(
    associations: httpx.Client, ministry: str, suffix: str, case: str
) -> None:
    path = f"/v4/{ministry}/api-association/associations/{suffix}{ASSOCIATION_RNA}"
    response = associations.get(path, params=TRACKING, headers={**ENTREPRISE_HOST, **bearer()})
    assert response.status_code == 200
    assert response.json() == {"data": {"case": case}}


@pytest.mark.parametrize("ministry", ["djepva", "ministere_interieur"])
@pytest.mark.parametrize("suffix", ["", "open_data/"])
def test_11_8_api_association_aliases_under_an_unserved_version_are_00402(
    associations: httpx.Client, ministry: str, suffix: str
) -> None:
    path = f"/v3/{ministry}/api-association/associations/{suffix}{ASSOCIATION_RNA}"
    response = associations.get(path, params=TRACKING, headers={**ENTREPRISE_HOST, **bearer()})
    assert response.status_code == 404
    assert response.headers["content-type"] == JSON_API
    assert errors_of(response) == [
        {
            "code": "00402",
            "title": "Version d'API non prise en charge",
            "detail": "La version v3 n'est pas supportée pour cet endpoint",
            "meta": {},
        }
    ]
