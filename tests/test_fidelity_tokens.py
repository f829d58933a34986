"""Token rules of the spec (§2.1, §5.2, §7, §11.3, §11.4, §11.7, §11.9), one test per rule, both match modes.

Served from the embedded repository by a real uvicorn on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from sandbox.load.snapshot import build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.serve.pipeline import Services
from sandbox.serve.ratelimit import RateLimiter
from tests.clock import FakeClock
from tests.conftest import ROOT
from tests.fidelity_support import (
    INE,
    INVALID_ERROR,
    INVALID_TOKEN,
    INVALID_V2,
    JSON,
    JSON_API,
    MESRI_FRANCE_CONNECT,
    MODES,
    QF_V2,
    RECIPIENT,
    SECRET,
    TOKEN,
    TRACKING,
    UNITE_LEGALE,
    bearer,
    errors_of,
    served,
)

INE_PARAMS = {**RECIPIENT, "ine": "2203456789H"}  # the embedded case 200-ine-echelon-3.yaml


@pytest.fixture(scope="module", params=MODES, ids=[m.value for m in MODES])
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with served(request.param) as http:
        yield http


# -- §11.3 which token is read ---------------------------------------------------------------


@pytest.mark.parametrize(("path", "params"), [(UNITE_LEGALE, TRACKING), (INE, INE_PARAMS)])
def test_11_3_invalid_bearer_and_valid_api_key_is_401(client: httpx.Client, path: str, params: dict[str, str]) -> None:
    """Fidelity row: Token sources."""
    response = client.get(path, params=params, headers={**bearer(INVALID_TOKEN), "X-Api-Key": TOKEN})
    assert response.status_code == 401
    assert response.headers["content-type"] == JSON
    assert errors_of(response) == [INVALID_ERROR]


@pytest.mark.parametrize(("path", "params"), [(UNITE_LEGALE, TRACKING), (INE, INE_PARAMS)])
def test_11_3_invalid_bearer_and_valid_query_token_is_200(
    client: httpx.Client, path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params={**params, "token": TOKEN}, headers=bearer(INVALID_TOKEN))
    assert response.status_code == 200
    assert response.headers["x-sandbox-case"] != "none"


@pytest.mark.parametrize(("path", "params"), [(UNITE_LEGALE, TRACKING), (INE, INE_PARAMS)])
def test_11_3_invalid_api_key_and_valid_query_token_is_200(
    client: httpx.Client, path: str, params: dict[str, str]
) -> None:
    """The middleware decodes the X-Api-Key only; the controller's second chance reads `?token=`."""
    response = client.get(path, params={**params, "token": TOKEN}, headers={"X-Api-Key": INVALID_TOKEN})
    assert response.status_code == 200


def test_11_3_valid_bearer_wins_over_an_invalid_api_key_and_query_token(client: httpx.Client) -> None:
    response = client.get(
        UNITE_LEGALE, params={**TRACKING, "token": INVALID_TOKEN}, headers={**bearer(), "X-Api-Key": INVALID_TOKEN}
    )
    assert response.status_code == 200


def test_11_3_each_source_alone_is_read(client: httpx.Client) -> None:
    assert client.get(UNITE_LEGALE, params=TRACKING, headers=bearer()).status_code == 200
    assert client.get(UNITE_LEGALE, params=TRACKING, headers={"X-Api-Key": TOKEN}).status_code == 200
    assert client.get(UNITE_LEGALE, params={**TRACKING, "token": TOKEN}).status_code == 200


def test_11_3_an_authorization_header_of_another_form_is_not_a_token(client: httpx.Client) -> None:
    """`Basic …` is no Bearer: the X-Api-Key after it is the first token present."""
    response = client.get(UNITE_LEGALE, params=TRACKING, headers={"Authorization": "Basic abc", "X-Api-Key": TOKEN})
    assert response.status_code == 200
    lower_case = client.get(UNITE_LEGALE, params=TRACKING, headers={"Authorization": f"bearer {TOKEN}"})
    assert lower_case.status_code == 401


def test_11_3_privileges_and_introspection_read_the_same_token(client: httpx.Client) -> None:
    hidden = client.get("/v2/privileges", headers={**bearer(INVALID_TOKEN), "X-Api-Key": TOKEN})
    assert hidden.status_code == 401 and errors_of(hidden) == [INVALID_ERROR]
    second_chance = client.get("/privileges", params={"token": TOKEN}, headers=bearer(INVALID_TOKEN))
    assert second_chance.status_code == 200
    introspect = client.get("/api/introspect", headers={**bearer(INVALID_TOKEN), "X-Api-Key": TOKEN})
    assert introspect.status_code == 401 and introspect.json() == INVALID_V2


def test_11_9_a_token_with_trailing_characters_is_refused(client: httpx.Client) -> None:
    """The current server's strict JWT decoding (ruby-jwt 3), not the legacy loose one."""
    response = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer(TOKEN + "%"))
    assert response.status_code == 401 and errors_of(response) == [INVALID_ERROR]


# -- §11.4 rate limits ------------------------------------------------------------------------


@pytest.fixture(params=MODES, ids=[m.value for m in MODES])
def limited(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    clock = FakeClock(1_800_000_000.25)
    snapshot = build_snapshot(ROOT, request.param, secrets=[SECRET])
    services = Services(limiter=RateLimiter(snapshot.throttles, clock=clock), clock=clock)
    with served(request.param, services=services) as http:
        yield http


def test_11_4_a_request_without_any_token_is_not_counted(limited: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}):
        for _ in range(25):
            refused = limited.get(INE, params=INE_PARAMS, headers=headers)
            assert refused.status_code == 401
            assert not any(name.startswith("ratelimit-") for name in refused.headers)
    counted = limited.get(INE, params=INE_PARAMS, headers=bearer())
    assert counted.status_code == 200
    assert counted.headers["ratelimit-limit"] == "20"
    assert counted.headers["ratelimit-remaining"] == "19"


def test_7_a_token_that_does_not_resolve_is_counted_on_its_raw_value(limited: httpx.Client) -> None:
    answers = [limited.get(INE, params=INE_PARAMS, headers=bearer(INVALID_TOKEN)) for _ in range(21)]
    assert [a.status_code for a in answers[:20]] == [401] * 20
    assert answers[0].headers["ratelimit-remaining"] == "19"
    assert answers[20].status_code == 429
    assert answers[20].headers["content-type"] == "application/json"
    # another raw token has its own counter; a valid token is keyed on its jti
    assert limited.get(INE, params=INE_PARAMS, headers=bearer()).headers["ratelimit-remaining"] == "19"


# -- §11.7 FranceConnect tokens ------------------------------------------------------------------

MALFORMED = "Le jeton d'accès est mal formaté."
REVOKED = "Le jeton d'accès n'a pas été trouvé ou est expiré."


def test_11_7_an_unknown_france_connect_token_is_50001_on_v3(client: httpx.Client) -> None:
    """Fidelity row: Unknown FranceConnect token."""
    response = client.get(MESRI_FRANCE_CONNECT, params=RECIPIENT, headers=bearer("no-such-token"))
    assert response.status_code == 401
    assert response.headers["content-type"] == JSON_API
    assert "x-response-cached" not in response.headers
    assert response.json() == {
        "errors": [{"code": "50001", "title": "Accès non autorisé", "detail": MALFORMED, "meta": {}}]
    }


def test_11_7_an_unknown_france_connect_token_is_50001_on_v2(client: httpx.Client) -> None:
    """Fidelity row: Unknown FranceConnect token."""
    response = client.get(QF_V2, params=RECIPIENT, headers=bearer("no-such-token"))
    assert response.status_code == 401
    assert response.headers["content-type"] == JSON
    assert response.json() == {"error": "access_denied", "reason": MALFORMED, "message": MALFORMED}


def test_11_7_an_inactive_france_connect_token_is_50002(client: httpx.Client) -> None:
    """Fidelity row: Fake FranceConnect introspection with `active: false`."""
    response = client.get(MESRI_FRANCE_CONNECT, params=RECIPIENT, headers=bearer("jeton_expire"))
    assert response.status_code == 401
    assert response.headers["content-type"] == JSON_API
    assert response.json() == {
        "errors": [{"code": "50002", "title": "Accès non autorisé", "detail": REVOKED, "meta": {}}]
    }
    v2 = client.get(QF_V2, params=RECIPIENT, headers=bearer("jeton_expire"))
    assert v2.status_code == 401
    assert v2.json() == {"error": "access_denied", "reason": REVOKED, "message": REVOKED}


def test_5_2_a_france_connect_token_is_looked_up_lower_cased(client: httpx.Client) -> None:
    response = client.get(MESRI_FRANCE_CONNECT, params=RECIPIENT, headers=bearer("ETUDIANTE"))
    assert response.status_code == 200
    assert response.headers["x-sandbox-case"] == (
        "api_particulier_v3_mesri_statut_etudiant_with_france_connect/200-etudiante-inscrite.yaml"
    )


def _expired_france_connect_token(root: Path) -> Path:
    introspection = {
        "aud": "a",
        "iat": 1700000000,
        "iss": "https://fc.sandbox.invalid",
        "token_introspection": {
            "active": True,
            "exp": 1704070800,
            "scope": "openid mesri_statut_etudiant",
            "gender": "female",
            "family_name": "MARTIN",
            "given_name": "Camille Marie",
            "given_name_array": ["Camille", "Marie"],
            "birthdate": "2003-05-14",
            "birthplace": "75056",
            "birthcountry": "99100",
        },
    }
    case = {"description": "expiré", "params": {"token": "perime"}, "status": 200, "payload": json.dumps(introspection)}
    (root / "payloads" / "france_connect").mkdir(parents=True)
    (root / "payloads" / "france_connect" / "perime.yaml").write_text(yaml.safe_dump(case))
    return root


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_11_7_an_expired_france_connect_token_is_50002_where_expiry_is_simulated(
    mode: MatchMode, tmp_path: Path
) -> None:
    """Fidelity row: Fake FranceConnect introspection with `exp` in the past."""
    layers = [ROOT, _expired_france_connect_token(tmp_path)]
    for expiry, expected in ((False, 200), (True, 401)):
        with served(mode, layers, Services(france_connect_expiry=expiry)) as http:
            response = http.get(MESRI_FRANCE_CONNECT, params=RECIPIENT, headers=bearer("perime"))
        assert response.status_code == expected
        if expected == 401:
            assert response.json()["errors"][0]["code"] == "50002"
