"""End to end: a real uvicorn on loopback serving a repository written by the test."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from sandbox.load.snapshot import build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.rules.tokens import mint
from sandbox.serve.local_server import serve_in_thread
from sandbox.web import create_app
from tests import tiny_repository

SECRET = "serving-test-secret-at-least-32-bytes"
TRACKING = "recipient=13002526500013&context=test&object=test"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tiny_repository.build(tmp_path_factory.mktemp("repo"))
    snapshot = build_snapshot(root, MatchMode.DOCUMENTED, secrets=[SECRET])
    assert snapshot.report.problems == ()
    token = mint(SECRET, [])
    with (
        serve_in_thread(create_app(snapshot)) as base_url,
        httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}", "X-Api-Key": token}, timeout=30.0
        ) as http,
    ):
        yield http


def test_hit_answers_the_case_bytes_with_its_headers(client: httpx.Client) -> None:
    response = client.get(f"/v3/demo/unites_legales/130025265?{TRACKING}")
    assert response.status_code == 200
    assert response.headers["x-sandbox-case"] == "api_entreprise_v3_demo_unites_legales/200.yaml"
    assert response.headers["content-type"] == "application/vnd.api+json"  # spec §11.6: no charset
    assert response.headers["x-response-cached"] == "false"
    assert response.content == b'{"data":{"nom":"\\u003cDINUM\\u003e \\u0026 co","ville":"Paris\\u2028"}}'


def test_entreprise_miss_answers_a_deterministic_example(client: httpx.Client) -> None:
    first = client.get(f"/v3/demo/unites_legales/356000000?{TRACKING}")
    second = client.get(f"/v3/demo/unites_legales/356000000?{TRACKING}")
    assert first.status_code == 200
    assert first.headers["x-sandbox-case"] == "default"
    assert first.headers["x-sandbox-fallback"] == "openapi-example"
    assert first.json() == {"data": {"siren": "130025265", "actif": False, "effectif": 0}}
    assert first.content == second.content


def test_particulier_matching_is_case_insensitive_and_type_tolerant(client: httpx.Client) -> None:
    query = "nomNaissance=dupont&prenoms[]=Jean&prenoms[]=PAUL&moisDateNaissance=8&recipient=13002526500013"
    response = client.get(f"/v3/demo/identite?{query}")
    assert response.headers["x-sandbox-case"] == "api_particulier_v3_demo_with_civility/200.yaml"
    reordered = client.get(
        f"/v3/demo/identite?nomNaissance=dupont&prenoms[]=PAUL&prenoms[]=Jean&moisDateNaissance=8&{TRACKING}"
    )
    assert reordered.headers["x-sandbox-case"] == "default"


def test_particulier_miss_answers_the_folder_not_found_case(client: httpx.Client) -> None:
    response = client.get(f"/v3/demo/identite?nomNaissance=personne&{TRACKING}")
    assert response.status_code == 404
    assert response.headers["x-sandbox-case"] == "default"
    assert response.headers["x-sandbox-fallback"] == "api_particulier_v3_demo_with_civility/404.yaml"
    assert response.json() == {"errors": [{"code": "01003"}]}


def test_particulier_miss_without_not_found_case_says_so(client: httpx.Client) -> None:
    response = client.get(f"/v3/demo/sans_404?identifiant=2&{TRACKING}")
    assert response.status_code == 404
    error = response.json()["errors"][0]
    assert error["code"] == "00104"
    assert "payloads/api_particulier_v3_demo_with_identifiant" in error["detail"]
    v2 = client.get("/api/v2/demo", params={"identifiant": "2"})
    assert v2.status_code == 404 and v2.json()["error"] == "not_found"
    assert v2.headers["content-type"] == "application/json; charset=utf-8"


def test_unknown_and_gone_paths(client: httpx.Client) -> None:
    unknown = client.get("/v3/nothing/here")
    assert unknown.status_code == 404
    assert unknown.text == "Cette URL n'existe pas sur API entreprise, veuillez vérifier votre URL."
    particulier = client.get("/v3/nothing", headers={"host": "staging.particulier.api.gouv.fr"})
    assert particulier.text == "Cette URL n'existe pas sur API particulier, veuillez vérifier votre URL."
    gone = client.get("/api/v2/composition-familiale")
    assert gone.status_code == 410 and "Quotient Familial v1" in gone.text


def test_host_dispatch_keeps_apis_apart(client: httpx.Client) -> None:
    response = client.get(
        f"/v3/demo/unites_legales/130025265?{TRACKING}", headers={"host": "particulier.api.localtest.me"}
    )
    assert response.status_code == 404 and "API particulier" in response.text


def test_status_route(client: httpx.Client) -> None:
    body = client.get("/__sandbox/status").json()
    assert body["operations"] == 4 and body["cases"] == 6 and body["mode"] == "documented"


def test_an_idle_connection_outlives_the_client_s_own_idle_expiry(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The embedded server keeps an idle connection longer than httpx does (5 s): a test client that
    waits on a slow step never sends on a connection the server is closing (a reset)."""
    root = tiny_repository.build(tmp_path_factory.mktemp("idle"))
    app = create_app(build_snapshot(root, MatchMode.DOCUMENTED))
    limits = httpx.Limits(keepalive_expiry=60)  # the client would keep it: only the server may close it
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=30, limits=limits) as client:

        def local_port() -> int:
            response = client.get("/__sandbox/status")
            assert response.status_code == 200
            return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])

        first = local_port()
        time.sleep(6)  # past uvicorn's default keep-alive (5 s)
        assert local_port() == first  # the same connection: the server kept it open
