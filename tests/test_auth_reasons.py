"""`X-Sandbox-Auth`: every token refusal says why, one reason per test, and the journal keeps it.

A real uvicorn on loopback serves the embedded repository; the bodies stay the staging's (00101,
00103, 00100, 5000x), the header is the sandbox's own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from sandbox.load.embedded import default_fixtures
from sandbox.load.snapshot import build_snapshot
from sandbox.rules.tokens import DEFAULT_SECRET, INTERNAL_JTI, mint
from sandbox.serve.app import SandboxApp
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.web import create_app

UNITES_LEGALES = "/v3/insee/sirene/unites_legales/130025265"
TRACKING = {"recipient": "13002526500013", "context": "test", "object": "test"}
QUOTIENT_V2 = "/api/v2/composition-familiale-v2"
FRANCE_CONNECT = "/v3/mesri/statut_etudiant/france_connect"
TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SandboxApp, httpx.Client]]:
    app = create_app(build_snapshot(default_fixtures(), secrets=[DEFAULT_SECRET]), Services(limiter=None))
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT_S) as client:
        yield app, client


def _claims(**changes: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "uid": INTERNAL_JTI,
        "jti": INTERNAL_JTI,
        "scopes": ["entreprises"],
        "iat": int(time.time()),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(**changes: object) -> str:
    return jwt.encode(_claims(**changes), DEFAULT_SECRET, algorithm="HS256")


def _reason(response: httpx.Response) -> str:
    return response.headers["x-sandbox-auth"].split(";", 1)[0]


def _get(client: httpx.Client, headers: dict[str, str], path: str = UNITES_LEGALES) -> httpx.Response:
    return client.get(path, params=TRACKING, headers=headers)


def test_no_token_at_all_is_missing(served: tuple[SandboxApp, httpx.Client]) -> None:
    response = _get(served[1], {})
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == "00101"
    assert _reason(response) == "missing"
    assert "Authorization: Bearer <token>" in response.headers["x-sandbox-auth"]


def test_a_token_without_the_bearer_prefix_is_malformed(served: tuple[SandboxApp, httpx.Client]) -> None:
    response = _get(served[1], {"Authorization": mint(DEFAULT_SECRET, ["entreprises"])})
    assert response.status_code == 401
    assert _reason(response) == "malformed"
    assert "'Bearer <token>'" in response.headers["x-sandbox-auth"]


def test_text_that_is_not_a_jwt_is_malformed(served: tuple[SandboxApp, httpx.Client]) -> None:
    response = _get(served[1], {"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert _reason(response) == "malformed"
    assert "not a JWT" in response.headers["x-sandbox-auth"]


def test_claims_that_are_not_uuids_are_malformed(served: tuple[SandboxApp, httpx.Client]) -> None:
    response = _get(served[1], {"Authorization": f"Bearer {_signed(uid='someone')}"})
    assert response.status_code == 401
    assert _reason(response) == "malformed"
    assert "uid and jti" in response.headers["x-sandbox-auth"]


def test_a_token_signed_with_another_secret_is_a_bad_signature(served: tuple[SandboxApp, httpx.Client]) -> None:
    """Fidelity row: Why a token is refused. The body is the staging's 00101; the header says why."""
    response = _get(served[1], {"Authorization": f"Bearer {mint('another-secret-of-32-bytes-at-least!', [])}"})
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == "00101"
    assert _reason(response) == "bad-signature"
    assert "SANDBOX_JWT_SECRET" in response.headers["x-sandbox-auth"]


def test_an_expired_token_is_expired_with_its_date(served: tuple[SandboxApp, httpx.Client]) -> None:
    token = mint(DEFAULT_SECRET, ["entreprises"], expires_in=60, now=1_700_000_000)
    response = _get(served[1], {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == "00103"
    assert _reason(response) == "expired"
    assert "2023-11-14T22:14:20Z" in response.headers["x-sandbox-auth"]


def test_a_token_whose_nbf_is_ahead_is_not_yet_valid(served: tuple[SandboxApp, httpx.Client]) -> None:
    response = _get(served[1], {"Authorization": f"Bearer {_signed(nbf=4_102_444_800)}"})
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == "00101"
    assert _reason(response) == "not-yet-valid"
    assert "2100-01-01T00:00:00Z" in response.headers["x-sandbox-auth"]


def test_a_token_without_the_operation_scopes_has_insufficient_scopes(
    served: tuple[SandboxApp, httpx.Client],
) -> None:
    response = _get(served[1], {"Authorization": f"Bearer {mint(DEFAULT_SECRET, ['liasses_fiscales'])}"})
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "00100"
    assert _reason(response) == "insufficient-scopes"
    assert "entreprises, unites_legales_etablissements_insee" in response.headers["x-sandbox-auth"]


def test_an_unknown_france_connect_token_is_named(served: tuple[SandboxApp, httpx.Client]) -> None:
    response = served[1].get(
        FRANCE_CONNECT, params={"recipient": "13002526500013"}, headers={"Authorization": "Bearer nobody"}
    )
    assert response.status_code == 401
    assert _reason(response) == "unknown-franceconnect-token"


def test_an_api_token_on_a_france_connect_route_is_named(served: tuple[SandboxApp, httpx.Client]) -> None:
    token = mint(DEFAULT_SECRET, ["mesri_statut_etudiant"])
    response = served[1].get(FRANCE_CONNECT, params={"recipient": "13002526500013", "token": token})
    assert response.status_code == 401
    assert _reason(response) == "not-a-franceconnect-token"


def test_an_inactive_france_connect_token_is_named() -> None:
    snapshot = build_snapshot(default_fixtures(), secrets=[DEFAULT_SECRET])
    app = create_app(snapshot, Services(limiter=None, france_connect_expiry=True))
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT_S) as client:
        response = client.get(
            FRANCE_CONNECT, params={"recipient": "13002526500013"}, headers={"Authorization": "Bearer jeton_expire"}
        )
    assert response.status_code == 401
    assert _reason(response) == "inactive-franceconnect-token"


def test_a_jti_real_staging_would_look_up_is_unknown(served: tuple[SandboxApp, httpx.Client]) -> None:
    other = "12345678-1234-1234-1234-123456789abc"
    response = _get(served[1], {"Authorization": f"Bearer {_signed(jti=other)}"})
    assert response.status_code == 401
    assert _reason(response) == "unknown-jti"


def test_particulier_v2_and_the_meta_routes_say_why_too(served: tuple[SandboxApp, httpx.Client]) -> None:
    client = served[1]
    v2 = client.get(QUOTIENT_V2, params={"codePostal": "75001"}, headers={"X-Api-Key": "nope"})
    assert v2.status_code == 401 and v2.json()["error"] == "access_denied"
    assert _reason(v2) == "malformed"
    privileges = client.get("/privileges")
    assert privileges.status_code == 401 and _reason(privileges) == "missing"
    expired = mint(DEFAULT_SECRET, [], expires_in=1, now=1_700_000_000)
    introspect = client.get("/api/introspect", headers={"X-Api-Key": expired})
    assert introspect.status_code == 401 and _reason(introspect) == "expired"


def test_a_served_case_has_no_auth_header(served: tuple[SandboxApp, httpx.Client]) -> None:
    response = _get(served[1], {"Authorization": f"Bearer {mint(DEFAULT_SECRET, ['entreprises'])}"})
    assert response.status_code == 200 and "x-sandbox-auth" not in response.headers


def test_the_journal_keeps_the_reason(served: tuple[SandboxApp, httpx.Client]) -> None:
    app, client = served
    _get(client, {"Authorization": f"Bearer {mint('another-secret-of-32-bytes-at-least!', [])}"})
    entry = app.journal.entries(limit=1)[0].as_json()
    assert entry["outcome"] == "auth-error"
    assert entry["auth"].startswith("bad-signature; ")
    listed = client.get("/__sandbox/requests", params={"limit": 1}).json()["entries"][0]
    assert listed["auth"] == entry["auth"]
    _get(client, {"Authorization": f"Bearer {mint(DEFAULT_SECRET, ['entreprises'])}"})
    assert app.journal.entries(limit=1)[0].as_json()["auth"] is None
