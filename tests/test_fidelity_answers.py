"""What every kind of answer carries (spec §4.7, §11.5, §11.6), one test per rule, both match modes.

§11.5: `X-Response-Cached: false` and an empty `X-Cache-Expires-in` come with every answer given
once siade's `Cacheable` callback ran (cases, fallbacks, 00402, 00210, validation, maintenance),
never with the refusals before it (token, scope, tracking, FranceConnect, v2 recipient).
§11.6: the content type of each answer kind, as observed on the wire.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from sandbox.rules.matching import MatchMode
from sandbox.rules.tokens import mint
from sandbox.serve.pipeline import Services
from tests.clock import FakeClock
from tests.conftest import ROOT
from tests.fidelity_support import (
    INE,
    JSON,
    JSON_API,
    JSON_API_BARE,
    MODES,
    QF_V2,
    RECIPIENT,
    SECRET,
    TEXT,
    TOKEN,
    TRACKING,
    UNITE_LEGALE,
    bearer,
    served,
)

QF_V2_CASE = {
    "nomNaissance": "MARTIN",
    "prenoms[]": ["Camille", "Louise"],
    "anneeDateDeNaissance": "1988",
    "moisDateDeNaissance": "3",
    "jourDateDeNaissance": "21",
    "codePaysLieuDeNaissance": "99100",
    "codeInseeLieuDeNaissance": "75056",
    "sexe": "F",
}
NO_SCOPE = mint(SECRET, ["nothing"])


@pytest.fixture(scope="module", params=MODES, ids=[m.value for m in MODES])
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with served(request.param) as http:
        yield http


def cached_headers(response: httpx.Response) -> tuple[str | None, str | None]:
    return response.headers.get("x-response-cached"), response.headers.get("x-cache-expires-in")


CACHED = ("false", "")
NOT_CACHED = (None, None)


# -- §11.5 X-Response-Cached ------------------------------------------------------------------


def test_11_5_served_cases_and_fallbacks_carry_the_cache_headers(client: httpx.Client) -> None:
    case = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer())
    entreprise_example = client.get("/v3/insee/sirene/unites_legales/356000000", params=TRACKING, headers=bearer())
    not_found_case = client.get(INE, params={**RECIPIENT, "ine": "1234567890A"}, headers=bearer())
    v2_case = client.get(QF_V2, params=QF_V2_CASE, headers={"X-Api-Key": TOKEN})
    assert [r.status_code for r in (case, entreprise_example, not_found_case, v2_case)] == [200, 200, 404, 200]
    for response in (case, entreprise_example, not_found_case, v2_case):
        assert cached_headers(response) == CACHED


def test_11_5_00402_carries_the_cache_headers(client: httpx.Client) -> None:
    response = client.get("/v9/insee/sirene/unites_legales/130025265", params=TRACKING, headers=bearer())
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "00402"
    assert cached_headers(response) == CACHED


def test_11_5_00210_carries_the_cache_headers(client: httpx.Client) -> None:
    entreprise = client.get(UNITE_LEGALE, params={**TRACKING, "recipient": "13002526500012"}, headers=bearer())
    particulier = client.get(INE, params={"ine": "1234567890A"}, headers=bearer())
    for response in (entreprise, particulier):
        assert response.status_code == 422 and response.json()["errors"][0]["code"] == "00210"
        assert cached_headers(response) == CACHED


def test_11_5_validation_refusals_carry_the_cache_headers(client: httpx.Client) -> None:
    v3 = client.get("/v3/insee/sirene/unites_legales/000000001", params=TRACKING, headers=bearer())
    assert v3.status_code == 422 and v3.json()["errors"][0]["code"] == "00301"
    v2 = client.get(QF_V2, params={**QF_V2_CASE, "codePaysLieuDeNaissance": "12"}, headers={"X-Api-Key": TOKEN})
    assert v2.status_code == 400 and v2.json()["error"] == "bad_request"
    assert cached_headers(v3) == cached_headers(v2) == CACHED


def test_11_5_token_scope_and_tracking_refusals_carry_no_cache_headers(client: httpx.Client) -> None:
    token = client.get(UNITE_LEGALE, params=TRACKING)
    scope = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer(NO_SCOPE))
    tracking = client.get(UNITE_LEGALE, params={"recipient": "13002526500013"}, headers=bearer())
    v2_scope = client.get(QF_V2, params=QF_V2_CASE, headers={"X-Api-Key": NO_SCOPE})
    assert [r.status_code for r in (token, scope, tracking, v2_scope)] == [401, 403, 422, 401]
    for response in (token, scope, tracking, v2_scope):
        assert cached_headers(response) == NOT_CACHED


def test_11_5_v2_recipient_refusal_comes_before_cacheable(client: httpx.Client) -> None:
    """siade's v2 base controller checks the recipient before `Cacheable` is included."""
    response = client.get(QF_V2, params={**QF_V2_CASE, "recipient": "123"}, headers={"X-Api-Key": TOKEN})
    assert response.status_code == 400
    assert cached_headers(response) == NOT_CACHED


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_11_5_maintenance_answers_carry_the_cache_headers(mode: MatchMode) -> None:
    sunday_23_30 = datetime.datetime(2026, 4, 26, 23, 30, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
    clock = FakeClock(sunday_23_30)
    services = Services(maintenance=True, clock=clock, fixed_today=datetime.date(2026, 4, 26))
    with served(mode, services=services) as http:
        v2 = http.get(QF_V2, params=QF_V2_CASE, headers={"X-Api-Key": TOKEN})
        clock.now = datetime.datetime(2026, 4, 27, 1, 30, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
        v3 = http.get("/v3/dgfip/unites_legales/912345675/liasses_fiscales/2024", params=TRACKING, headers=bearer())
    assert v2.status_code == 503 and v2.json()["error"] == "maintenance"
    assert v3.status_code == 503 and v3.json()["errors"][0]["code"] == "03020"
    assert v3.headers["content-type"] == JSON_API_BARE and v2.headers["content-type"] == JSON
    assert cached_headers(v2) == cached_headers(v3) == CACHED


# -- §11.6 content types ------------------------------------------------------------------------


def test_11_6_v3_cases_404_yaml_and_validation_have_no_charset(client: httpx.Client) -> None:
    case = client.get(INE, params={**RECIPIENT, "ine": "2203456789H"}, headers=bearer())
    not_found = client.get(INE, params={**RECIPIENT, "ine": "1234567890A"}, headers=bearer())
    invalid = client.get("/v3/insee/sirene/unites_legales/000000001", params=TRACKING, headers=bearer())
    example = client.get("/v3/insee/sirene/unites_legales/356000000", params=TRACKING, headers=bearer())
    assert [r.status_code for r in (case, not_found, invalid, example)] == [200, 404, 422, 200]
    for response in (case, not_found, invalid, example):
        assert response.headers["content-type"] == JSON_API_BARE


def test_11_6_scope_token_and_tracking_refusals_are_json_with_charset(client: httpx.Client) -> None:
    for response in (
        client.get(UNITE_LEGALE, params=TRACKING, headers=bearer(NO_SCOPE)),
        client.get(UNITE_LEGALE, params=TRACKING),
        client.get(UNITE_LEGALE, params={"recipient": "13002526500013"}, headers=bearer()),
        client.get(UNITE_LEGALE, params={**TRACKING, "recipient": "1"}, headers=bearer()),
    ):
        assert response.headers["content-type"] == JSON


def test_11_6_every_v2_answer_is_json_with_charset(client: httpx.Client) -> None:
    answers = [
        client.get(QF_V2, params=QF_V2_CASE, headers={"X-Api-Key": TOKEN}),
        client.get(QF_V2, params={**QF_V2_CASE, "nomNaissance": "INCONNU"}, headers={"X-Api-Key": TOKEN}),
        client.get(QF_V2, params={**QF_V2_CASE, "codePaysLieuDeNaissance": "12"}, headers={"X-Api-Key": TOKEN}),
        client.get(QF_V2, params=QF_V2_CASE),
    ]
    assert [r.status_code for r in answers] == [200, 404, 400, 401]
    for response in answers:
        assert response.headers["content-type"] == JSON


def test_11_6_unsupported_version_is_rendered_with_charset(client: httpx.Client) -> None:
    response = client.get("/v9/insee/sirene/unites_legales/130025265", params=TRACKING, headers=bearer())
    assert response.headers["content-type"] == JSON_API


def test_11_6_unknown_path_is_text_and_gone_lambdas_have_none(client: httpx.Client) -> None:
    assert client.get("/v3/no/such/route").headers["content-type"] == TEXT
    assert "content-type" not in client.get("/api/impots/svair").headers


def _france_connect_token_with_scope(root: Path, scope: str) -> Path:
    introspection = {
        "aud": "a",
        "iat": 1767225600,
        "iss": "https://fc.sandbox.invalid",
        "token_introspection": {
            "active": True,
            "exp": 4102444800,
            "scope": f"openid {scope}",
            "gender": "female",
            "family_name": "MARTIN",
            "given_name": "Camille Louise",
            "given_name_array": ["Camille", "Louise"],
            "birthdate": "1988-03-21",
            "birthplace": "75056",
            "birthcountry": "99100",
        },
    }
    case = {"description": "qf", "params": {"token": "qf"}, "status": 200, "payload": json.dumps(introspection)}
    (root / "payloads" / "france_connect").mkdir(parents=True)
    (root / "payloads" / "france_connect" / "qf.yaml").write_text(yaml.safe_dump(case))
    return root


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_11_5_v2_france_connect_missing_recipient_is_refused_after_cacheable(mode: MatchMode, tmp_path: Path) -> None:
    """On the FranceConnect flow a missing recipient is refused by `FranceConnectable`'s own check, declared
    after `Cacheable`; a recipient that is sent but invalid is refused by the v2 base check, before it."""
    layers = [ROOT, _france_connect_token_with_scope(tmp_path, "quotient_familial")]
    with served(mode, layers) as http:
        missing = http.get(QF_V2, headers=bearer("qf"))
        invalid = http.get(QF_V2, params={"recipient": "123"}, headers=bearer("qf"))
        served_case = http.get(QF_V2, params=RECIPIENT, headers=bearer("qf"))
    detail = "Le paramètre recipient n'est pas un siret valide"
    for response in (missing, invalid):
        assert response.status_code == 400
        assert response.json() == {"error": "bad_request", "reason": detail, "message": detail}
    assert cached_headers(missing) == CACHED
    assert cached_headers(invalid) == NOT_CACHED
    assert served_case.status_code == 200
    assert (
        served_case.headers["x-sandbox-case"]
        == "api_particulier_v2_cnav_quotient_familial_v2/200-cnaf-parent-seul-2-enfants.yaml"
    )
