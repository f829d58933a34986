"""One source of error texts: what a real uvicorn sends is what `error_catalogue.yaml` says.

The wire answers are compared with `load_catalogue().error(...)`, never with a copy of the
text, so a refusal that builds its own words again would show here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.load.snapshot import build_snapshot
from sandbox.rules.error_texts import load_catalogue
from sandbox.rules.errors import json_api_body, maintenance, no_case_error
from sandbox.rules.tokens import mint
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.ratelimit import TOO_MANY_REQUESTS, too_many_requests_body
from sandbox.web import create_app
from tests.conftest import ROOT

SECRET = "error-texts-test-secret-at-least-32-bytes"
SCOPES = sorted({s for v in (build_snapshot(ROOT).content.authorizations or {}).values() for s in v})
TRACKING = {"recipient": "13002526500013", "context": "test", "object": "test"}
UNITE_LEGALE = "/unites_legales/130025265"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    snapshot = build_snapshot(ROOT, secrets=[SECRET])
    with (
        serve_in_thread(create_app(snapshot)) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as http,
    ):
        yield http


def bearer(scopes: list[str] = SCOPES) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SECRET, scopes)}"}


def catalogue_body(code: str, **args: str) -> dict[str, Any]:
    return {"errors": [load_catalogue().error(code, **args).as_json_api()]}


def test_the_unsupported_version_text_is_the_catalogue_one_and_the_spec_one(client: httpx.Client) -> None:
    response = client.get(f"/v9/insee/sirene{UNITE_LEGALE}", params=TRACKING, headers=bearer())
    assert response.status_code == 404
    assert response.json() == catalogue_body("00402", version="v9")
    # spec §1.4: "La version vN n'est pas supportée pour cet endpoint" (no final dot)
    assert response.json()["errors"][0]["detail"] == "La version v9 n'est pas supportée pour cet endpoint"


def test_token_and_scope_refusals_come_from_the_catalogue(client: httpx.Client) -> None:
    invalid = client.get(f"/v3/insee/sirene{UNITE_LEGALE}", params=TRACKING, headers={"Authorization": "Bearer x"})
    assert invalid.status_code == 401 and invalid.json() == catalogue_body("00101")
    scopes = client.get(f"/v3/insee/sirene{UNITE_LEGALE}", params=TRACKING, headers=bearer(["nothing"]))
    assert scopes.status_code == 403 and scopes.json() == catalogue_body("00100", api="entreprise")


def test_tracking_refusals_come_from_the_catalogue(client: httpx.Client) -> None:
    missing = client.get(f"/v3/insee/sirene{UNITE_LEGALE}", headers=bearer())
    assert missing.status_code == 422
    assert missing.json() == {"errors": [load_catalogue().error(c).as_json_api() for c in ("00201", "00203", "00202")]}
    recipient = client.get(
        f"/v3/insee/sirene{UNITE_LEGALE}", params={**TRACKING, "recipient": "13002526500012"}, headers=bearer()
    )
    assert recipient.status_code == 422 and recipient.json() == catalogue_body("00210")


def test_the_rate_limit_text_is_the_catalogue_one() -> None:
    assert load_catalogue().error("00429") == TOO_MANY_REQUESTS
    assert too_many_requests_body(False) == json_api_body([TOO_MANY_REQUESTS])


def test_maintenance_and_no_case_texts_come_from_the_catalogue() -> None:
    entry = load_catalogue().error("00020", start="01:00", end="02:00")
    error = maintenance("03", "DGFIP - Adélie", "01:00", "02:00", 60)
    assert (error.code, error.title, error.detail) == ("03020", entry.title, entry.detail)
    assert error.meta == {"provider": "DGFIP - Adélie", "retry_in": 60}
    missing = no_case_error("api_particulier_v3_x")
    assert missing == load_catalogue().error("00104", operation_id="api_particulier_v3_x")
    assert "payloads/api_particulier_v3_x n'a pas de cas 404.yaml" in missing.detail
