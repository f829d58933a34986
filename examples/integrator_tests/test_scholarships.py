"""The student discount, against API Particulier: over HTTP, and in process through the ASGI app."""

from __future__ import annotations

import httpx
import pytest
from eligibility import RECIPIENT, ApiGouv, student_discount

from sandbox import SandboxApp
from sandbox.pytest_plugin import SandboxServer


@pytest.mark.parametrize(
    ("ine", "discount"),
    [
        ("2203456789F", 50),  # échelon 7
        ("2203456789H", 25),  # échelon 3
        ("9876543210X", 0),  # unknown INE: 404
    ],
)
def test_the_discount_follows_the_scholarship_level(api: ApiGouv, ine: str, discount: int) -> None:
    assert student_discount(api, ine) == discount


def test_a_scholarship_with_its_start_date(api: ApiGouv) -> None:
    scholarship = api.scholarship("2203456789G")
    assert scholarship.holder and scholarship.level == 1
    assert scholarship.start is not None and scholarship.start.isoformat() == "2027-01-04"


@pytest.mark.anyio
async def test_in_process_with_an_async_client(sandbox_app: SandboxApp, sandbox_token: str) -> None:
    transport = httpx.ASGITransport(app=sandbox_app)
    headers = {"Authorization": f"Bearer {sandbox_token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers=headers) as client:
        response = await client.get(
            "/v3/cnous/etudiant_boursier/ine", params={"ine": "2203456789H", "recipient": RECIPIENT}
        )
    assert response.status_code == 200
    assert (
        response.headers["x-sandbox-case"]
        == "api_particulier_v3_cnous_etudiant_boursier_with_ine/200-ine-echelon-3.yaml"
    )
    assert response.json()["data"]["echelon_bourse"]["echelon"] == "3"


def test_a_missing_recipient_is_refused_as_on_staging(sandbox_server: SandboxServer) -> None:
    """The sandbox applies the staging contract: API Particulier v3 wants a valid `recipient` SIRET."""
    with sandbox_server.client() as client:
        response = client.get("/v3/cnous/etudiant_boursier/ine", params={"ine": "2203456789H"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["source"] == {"parameter": "recipient"}
