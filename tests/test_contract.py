"""The staging contract over HTTP: tokens, scopes, tracking parameters, validation, versions,
unknown and gone paths, rate limits. Served from the embedded repository by a real uvicorn."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandbox.load.snapshot import build_snapshot
from sandbox.rules.tokens import INTERNAL_JTI, mint
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.serve.ratelimit import RateLimiter
from sandbox.web import create_app
from tests.clock import FakeClock
from tests.conftest import ROOT
from tests.fidelity_support import ACTES_GONE, INPI_GONE, QF_V1_GONE, SVAIR_GONE

SECRET = "contract-test-secret-at-least-32-bytes"
ALL_SCOPES = sorted({s for v in (build_snapshot(ROOT).content.authorizations or {}).values() for s in v})
TOKEN = mint(SECRET, ALL_SCOPES)
TRACKING = {"recipient": "13002526500013", "context": "test", "object": "test"}
UNITE_LEGALE = "/v3/insee/sirene/unites_legales/130025265"
ETABLISSEMENT = "/v3/insee/sirene/etablissements/13002526500013"
QF_V3 = "/v3/dss/quotient_familial/identite"
QF_V2 = "/api/v2/composition-familiale-v2"
INE = "/v3/cnous/etudiant_boursier/ine"
JSON = "application/json; charset=utf-8"
JSON_API = "application/vnd.api+json; charset=utf-8"
JSON_API_BARE = "application/vnd.api+json"  # what a v3 controller writes itself (spec §11.6)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    snapshot = build_snapshot(ROOT, secrets=[SECRET])
    with serve_in_thread(create_app(snapshot)) as base_url, httpx.Client(base_url=base_url, timeout=30.0) as http:
        yield http


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error(code: str, title: str, detail: str, source: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "title": title, "detail": detail}
    if source is not None:
        body["source"] = source
    body["meta"] = {}
    return body


INVALID = error("00101", "Interdit", "Votre token n'est pas valide ou n'est pas renseigné", {"parameter": "token"})
INVALID_V2 = {
    "error": "access_denied",
    "reason": "Votre token n'est pas valide ou n'est pas renseigné",
    "message": "Votre token n'est pas valide ou n'est pas renseigné",
}


# -- tokens ---------------------------------------------------------------------------------


def test_missing_token(client: httpx.Client) -> None:
    response = client.get(UNITE_LEGALE, params=TRACKING)
    assert response.status_code == 401
    assert response.headers["content-type"] == JSON
    assert response.json() == {"errors": [INVALID]}


def test_missing_token_on_particulier_v2(client: httpx.Client) -> None:
    response = client.get(QF_V2, params={"nomNaissance": "X"})
    assert response.status_code == 401 and response.json() == INVALID_V2


def test_bad_signature(client: httpx.Client) -> None:
    forged = mint("another-secret-also-at-least-32-bytes", ALL_SCOPES)
    response = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer(forged))
    assert response.status_code == 401 and response.json() == {"errors": [INVALID]}


def test_garbage_token(client: httpx.Client) -> None:
    response = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer("not.a.jwt"))
    assert response.status_code == 401 and response.json() == {"errors": [INVALID]}


@pytest.mark.parametrize("api", ["entreprise", "particulier"])
def test_expired_token(client: httpx.Client, api: str) -> None:
    expired = mint(SECRET, ALL_SCOPES, expires_in=-60)
    path, params = (UNITE_LEGALE, TRACKING) if api == "entreprise" else (INE, {"recipient": "13002526500013"})
    response = client.get(path, params=params, headers=bearer(expired))
    assert response.status_code == 401
    name, site = ("API Entreprise", "entreprise") if api == "entreprise" else ("API Particulier", "particulier")
    detail = (
        f"Votre token est expiré. Vous devez refaire une demande à {name}, un guide est disponible sur "
        f"https://{site}.api.gouv.fr/faq#comment-renouveler-mon-jeton-arrivant-a-expiration"
    )
    assert response.json() == {"errors": [error("00103", "Jeton expiré", detail, {"parameter": "token"})]}


def test_expired_token_on_particulier_v2_is_flat(client: httpx.Client) -> None:
    expired = mint(SECRET, ALL_SCOPES, expires_in=-60)
    response = client.get(QF_V2, params={"nomNaissance": "X"}, headers={"X-Api-Key": expired})
    assert response.status_code == 401
    assert response.json() == {
        "errors": [
            "Votre token est expiré. Vous devez refaire une demande à API Particulier, un guide est disponible sur "
            "https://particulier.api.gouv.fr/faq#comment-renouveler-mon-jeton-arrivant-a-expiration"
        ]
    }


@pytest.mark.parametrize(
    "claims",
    [
        {"uid": "NOT-A-UUID", "jti": INTERNAL_JTI},
        {"uid": INTERNAL_JTI, "jti": "00000000-0000-0000-0000-00000000000G"},
        {"uid": INTERNAL_JTI.upper().replace("0", "A"), "jti": INTERNAL_JTI},
        {"uid": INTERNAL_JTI, "jti": "11111111-2222-3333-4444-555555555555"},
    ],
    ids=["uid-not-uuid", "jti-not-hex", "uid-upper-case", "jti-not-internal"],
)
def test_malformed_uid_or_jti(client: httpx.Client, claims: dict[str, str]) -> None:
    token = mint(SECRET, ALL_SCOPES, uid=claims["uid"], jti=claims["jti"])
    response = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer(token))
    assert response.status_code == 401 and response.json() == {"errors": [INVALID]}


def test_token_sources_bearer_api_key_and_query(client: httpx.Client) -> None:
    assert client.get(UNITE_LEGALE, params=TRACKING, headers={"X-Api-Key": TOKEN}).status_code == 200
    assert client.get(UNITE_LEGALE, params={**TRACKING, "token": TOKEN}).status_code == 200
    assert client.get(UNITE_LEGALE, params=TRACKING, headers={"Authorization": f"bearer {TOKEN}"}).status_code == 401


def test_repository_tokens_are_accepted_as_they_are(client: httpx.Client) -> None:
    shipped = (ROOT / "tokens" / "default").read_text().strip()
    response = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer(shipped))
    assert response.status_code == 200
    assert response.headers["x-sandbox-case"].startswith("api_entreprise_v3_insee_unites_legales/")


# -- scopes ---------------------------------------------------------------------------------

ENTREPRISE_SCOPE_DETAIL = (
    "Votre token est valide mais vos privilèges sont insuffisants. Listez vos privilèges sur /v2/privileges"
)
PARTICULIER_SCOPE_DETAIL = (
    "Votre token est valide mais vos privilèges sont insuffisants. Listez vos privilèges sur /api/introspect"
)


def test_insufficient_scope_entreprise_v3(client: httpx.Client) -> None:
    response = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer(mint(SECRET, ["nothing"])))
    assert response.status_code == 403
    assert response.json() == {
        "errors": [error("00100", "Privilèges insuffisants", ENTREPRISE_SCOPE_DETAIL, {"parameter": "token"})]
    }


def test_insufficient_scope_particulier_v3(client: httpx.Client) -> None:
    response = client.get(INE, params={"recipient": "13002526500013"}, headers=bearer(mint(SECRET, ["nothing"])))
    assert response.status_code == 403
    assert response.json() == {
        "errors": [error("00100", "Privilèges insuffisants", PARTICULIER_SCOPE_DETAIL, {"parameter": "token"})]
    }


def test_insufficient_scope_particulier_v2_is_401(client: httpx.Client) -> None:
    response = client.get(QF_V2, params={"nomNaissance": "X"}, headers={"X-Api-Key": mint(SECRET, ["nothing"])})
    assert response.status_code == 401
    assert response.json() == {
        "error": "access_denied",
        "reason": PARTICULIER_SCOPE_DETAIL,
        "message": PARTICULIER_SCOPE_DETAIL,
    }


def test_one_scope_opens_its_operation_only(client: httpx.Client) -> None:
    snapshot = build_snapshot(ROOT)
    scopes = snapshot.tables["api_entreprise_v3_insee_unites_legales"].scopes
    assert scopes
    token = mint(SECRET, [sorted(scopes)[0]])
    assert client.get(UNITE_LEGALE, params=TRACKING, headers=bearer(token)).status_code == 200
    other = client.get(INE, params={"recipient": "13002526500013", "ine": "1234567890A"}, headers=bearer(token))
    assert other.status_code == 403


# -- tracking parameters, recipient, identifiers ----------------------------------------------

TRACKING_ERRORS = {
    "context": error("00201", "Entité non traitable", "Le paramètre context est obligatoire", {"parameter": "context"}),
    "recipient": error(
        "00203", "Entité non traitable", "Le paramètre recipient est obligatoire", {"parameter": "recipient"}
    ),
    "object": error("00202", "Entité non traitable", "Le paramètre object est obligatoire", {"parameter": "object"}),
}


@pytest.mark.parametrize("missing", [("context",), ("recipient",), ("object",), ("context", "recipient", "object")])
def test_missing_tracking_parameters(client: httpx.Client, missing: tuple[str, ...]) -> None:
    params = {k: v for k, v in TRACKING.items() if k not in missing}
    if missing == ("object",):
        params["object"] = "   "  # blank counts as missing
    response = client.get(UNITE_LEGALE, params=params, headers=bearer())
    assert response.status_code == 422
    assert response.headers["content-type"] == JSON
    assert response.json() == {"errors": [TRACKING_ERRORS[name] for name in missing]}


RECIPIENT_ERROR = error(
    "00210", "Entité non traitable", "Le paramètre recipient n'est pas un siret valide", {"parameter": "recipient"}
)


def test_invalid_recipient(client: httpx.Client) -> None:
    response = client.get(UNITE_LEGALE, params={**TRACKING, "recipient": "13002526500012"}, headers=bearer())
    assert response.status_code == 422 and response.json() == {"errors": [RECIPIENT_ERROR]}
    particulier = client.get(INE, params={"ine": "1234567890A"}, headers=bearer())
    assert particulier.status_code == 422 and particulier.json() == {"errors": [RECIPIENT_ERROR]}
    v2 = client.get(QF_V2, params={"recipient": "123"}, headers={"X-Api-Key": TOKEN})
    detail = "Le paramètre recipient n'est pas un siret valide"
    assert v2.status_code == 400 and v2.json() == {"error": "bad_request", "reason": detail, "message": detail}


def test_invalid_siren_and_siret(client: httpx.Client) -> None:
    siren = client.get("/v3/insee/sirene/unites_legales/000000001", params=TRACKING, headers=bearer())
    assert siren.status_code == 422
    assert siren.headers["content-type"] == JSON_API_BARE
    assert [e["code"] for e in siren.json()["errors"]] == ["00301"]
    assert siren.json()["errors"][0]["source"] == {"parameter": "siren"}
    siret = client.get("/v3/insee/sirene/etablissements/13002526500012", params=TRACKING, headers=bearer())
    assert siret.status_code == 422
    assert [e["code"] for e in siret.json()["errors"]] == ["00302"]


CIVILITY = {
    "recipient": "13002526500013",
    "nomNaissance": "DUPONT",
    "prenoms[]": ["JEAN"],
    "anneeDateNaissance": "1980",
    "moisDateNaissance": "6",
    "jourDateNaissance": "15",
    "sexeEtatCivil": "M",
}
CNOUS_CIVILITY = "/v3/cnous/etudiant_boursier/identite"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"nomNaissance": None}, "00420"),
        ({"nomNaissance": "DUP0NT"}, "00420"),
        ({"prenoms[]": None}, "00421"),
        ({"anneeDateNaissance": "0"}, "00422"),
        ({"moisDateNaissance": "13"}, "00423"),
        ({"jourDateNaissance": "32"}, "00424"),
        ({"moisDateNaissance": "2", "jourDateNaissance": "30"}, "00425"),
    ],
    ids=["name-missing", "name-charset", "given-names-missing", "year", "month", "day", "not-a-date"],
)
def test_civility_rules_v3(client: httpx.Client, change: dict[str, Any], code: str) -> None:
    params = {k: v for k, v in {**CIVILITY, **change}.items() if v is not None}
    response = client.get(CNOUS_CIVILITY, params=params, headers=bearer())
    assert response.status_code == 422
    assert response.headers["content-type"] == JSON_API_BARE
    assert code in [e["code"] for e in response.json()["errors"]]
    assert all(e["title"] == "Entité non traitable" for e in response.json()["errors"])


def test_civility_rules_v2_answer_the_first_error_as_400(client: httpx.Client) -> None:
    params = {"nomNaissance": "DUP0NT", "codePaysLieuDeNaissance": "12"}
    response = client.get(QF_V2, params=params, headers={"X-Api-Key": TOKEN})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_request" and body["reason"] == body["message"]


def test_a_valid_civility_request_reaches_the_lookup(client: httpx.Client) -> None:
    response = client.get(CNOUS_CIVILITY, params=CIVILITY, headers=bearer())
    # no embedded case is DUPONT: the lookup ran and answered the folder's 404.yaml
    assert response.status_code == 404
    assert response.headers["x-sandbox-case"] == "default"
    assert response.headers["x-sandbox-fallback"] == "api_particulier_v3_cnous_etudiant_boursier_with_civility/404.yaml"


# -- versions, unknown and gone paths, meta routes -------------------------------------------


def test_unsupported_version(client: httpx.Client) -> None:
    response = client.get("/v9/insee/sirene/unites_legales/130025265", params=TRACKING, headers=bearer())
    assert response.status_code == 404
    assert response.headers["content-type"] == JSON_API
    detail = "La version v9 n'est pas supportée pour cet endpoint"
    assert response.json() == {"errors": [error("00402", "Version d'API non prise en charge", detail)]}


def test_version_check_comes_after_authentication(client: httpx.Client) -> None:
    response = client.get("/v9/insee/sirene/unites_legales/130025265", params=TRACKING)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("host", "name"), [("entreprise.api.localtest.me", "entreprise"), ("particulier.api.x", "particulier")]
)
def test_unknown_path_on_each_api(client: httpx.Client, host: str, name: str) -> None:
    response = client.get("/nowhere", headers={"host": host})
    assert response.status_code == 404
    assert response.text == f"Cette URL n'existe pas sur API {name}, veuillez vérifier votre URL."  # §11.1


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/v3/inpi/unites_legales/130025265/actes", ACTES_GONE),
        ("/v3/inpi/unites_legales/130025265/brevets", INPI_GONE),
        ("/v3/inpi/unites_legales/130025265/marques", INPI_GONE),
        ("/v3/inpi/unites_legales/130025265/modeles", INPI_GONE),
        ("/api/caf/famille", QF_V1_GONE),
        ("/api/v2/composition-familiale", QF_V1_GONE),
        ("/api/impots/svair", SVAIR_GONE),
        ("/api/v2/avis-imposition", SVAIR_GONE),
    ],
)
def test_gone_routes(client: httpx.Client, path: str, text: str) -> None:
    """Spec §11.2: Rack lambdas `[410, {}, [text]]`, exactly these texts and no Content-Type."""
    response = client.get(path)
    assert response.status_code == 410
    assert "content-type" not in response.headers
    assert response.text == text


def test_entreprise_v2_is_gone(client: httpx.Client) -> None:
    response = client.get("/v2/etablissements/13002526500013")
    assert response.status_code == 410
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("Cette URL n'existe plus sur API entreprise depuis le 15/11/2023")


def test_meta_routes(client: httpx.Client) -> None:
    assert client.get("/v3/ping").status_code == 200
    assert client.get("/api/ping").status_code == 200
    assert client.get("/ping/insee/sirene").json()["status"] == "ok"
    privileges = client.get("/v2/privileges", headers=bearer())
    assert privileges.json() == {"data": {"privileges": ALL_SCOPES}}
    assert client.get("/privileges").status_code == 401
    introspect = client.get("/api/introspect", headers={"X-Api-Key": TOKEN})
    assert introspect.json() == {"_id": INTERNAL_JTI, "name": "", "scopes": ALL_SCOPES}
    document = client.get("/api/open-api-v3.yml")
    assert document.status_code == 200 and b"openapi:" in document.content
    assert client.get("/v3/openapi-entreprise.yaml").text.startswith(
        (ROOT / "schemas" / "api_entreprise.yaml").read_text()[:50]
    )
    assert client.get("/api/france_connect_jwks").json()["keys"][0]["kid"] == "api_particulier_rsa_oaep_jwks"


def test_reload_mocks_legacy_answer(client: httpx.Client) -> None:
    response = client.post("/api/reload-mocks")
    assert response.status_code == 403  # an app built from a snapshot has no syncer: nothing to reload


# -- rate limits ------------------------------------------------------------------------------


def test_rate_limit_429_with_headers() -> None:
    clock = FakeClock(1_800_000_000.25)
    snapshot = build_snapshot(ROOT, secrets=[SECRET])
    services = Services(limiter=RateLimiter(snapshot.throttles, clock=clock), clock=clock)
    with (
        serve_in_thread(create_app(snapshot, services)) as base_url,
        httpx.Client(base_url=base_url, timeout=30.0) as http,
    ):
        params = {"recipient": "13002526500013", "ine": "1234567890A"}
        answers = [http.get(INE, params=params, headers=bearer()) for _ in range(21)]
        assert [a.status_code for a in answers[:20]] == [answers[0].status_code] * 20
        assert answers[0].headers["ratelimit-limit"] == "20"
        assert answers[0].headers["ratelimit-remaining"] == "19"
        assert answers[19].headers["ratelimit-remaining"] == "0"
        refused = answers[20]
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/json"  # spec §7, §11.6: no charset
        assert refused.headers["ratelimit-limit"] == "20"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert refused.headers["ratelimit-reset"] == "1800000001"
        assert refused.headers["retry-after"] == "1"
        assert json.loads(refused.content) == {
            "errors": [
                {
                    "code": "00429",
                    "title": "Trop de requêtes",
                    "detail": "Vous avez effectué trop de requêtes",
                    "meta": {},
                }
            ]
        }
        clock.now += 1
        next_window = http.get(INE, params=params, headers=bearer())
        assert next_window.status_code == 404 and next_window.headers["ratelimit-remaining"] == "19"


def test_maintenance_windows_apply_only_when_asked() -> None:
    paris_1_30 = datetime.datetime(2026, 11, 27, 1, 30, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
    clock = FakeClock(paris_1_30)
    snapshot = build_snapshot(ROOT, secrets=[SECRET])
    path = "/v3/dgfip/unites_legales/130025265/liasses_fiscales/2024"
    for maintenance, expected in ((False, None), (True, 503)):
        services = Services(maintenance=maintenance, clock=clock, fixed_today=datetime.date(2026, 11, 27))
        with serve_in_thread(create_app(snapshot, services)) as base_url:
            response = httpx.get(base_url + path, params=TRACKING, headers=bearer(), timeout=30.0)
        if expected is None:
            assert response.status_code == 200 and response.headers["x-sandbox-fallback"] == "openapi-example"
            continue
        assert response.status_code == 503 and response.headers["content-type"] == JSON_API_BARE
        assert response.json() == {
            "errors": [
                {
                    "code": "03020",
                    "title": "Maintenance du fournisseur de données",
                    "detail": "Le fournisseur de données est en maintenance de 01:00 à 02:00",
                    "meta": {"provider": "DGFIP - Adélie", "retry_in": 1800},
                }
            ]
        }
