"""The gates' refusals in process (`sandbox.serve.replies`, `sandbox.rules.errors`): status, every header
in order, body, outcome, per API and version (spec §2.5, §3.6, §11.1, §11.5, §11.6). Written out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.load.snapshot import Prepared
from sandbox.rules import errors
from sandbox.rules.gone import GoneRoute
from sandbox.rules.operations import Operation
from sandbox.rules.tokens import Refusal
from sandbox.serve import replies

V2 = Operation("api_particulier_v2_x", "particulier", "/api/v2/x", "2", "", (), {}, "doc")
V3 = Operation("api_entreprise_v3_x", "entreprise", "/v3/x", "3", "", (), {}, "doc")
WHY = Refusal("missing", "hint")
JSON = "application/json; charset=utf-8"
JSON_API = "application/vnd.api+json; charset=utf-8"
JSON_API_BARE = "application/vnd.api+json"
CACHED = [("x-response-cached", "false"), ("x-cache-expires-in", "")]
AUTH = [("x-sandbox-auth", "missing; hint")]

INVALID = "Votre token n'est pas valide ou n'est pas renseigné"
INVALID_ERROR = {"code": "00101", "title": "Interdit", "detail": INVALID, "source": {"parameter": "token"}, "meta": {}}
EXPIRED = (
    "Votre token est expiré. Vous devez refaire une demande à API {name}, un guide est disponible sur "
    "https://{host}.api.gouv.fr/faq#comment-renouveler-mon-jeton-arrivant-a-expiration"
)
EXPIRED_E = EXPIRED.format(name="Entreprise", host="entreprise")
EXPIRED_P = EXPIRED.format(name="Particulier", host="particulier")
SCOPES = "Votre token est valide mais vos privilèges sont insuffisants. Listez vos privilèges sur "
MAINTENANCE = "Le fournisseur de données est en maintenance de 01:00 à 02:00"
FC_MALFORMED = "Le jeton d'accès est mal formaté."
FC_REVOKED = "Le jeton d'accès n'a pas été trouvé ou est expiré."


def v2(kind: str, detail: str) -> dict[str, str]:
    return {"error": kind, "reason": detail, "message": detail}


def token_error(code: str, title: str, detail: str) -> dict[str, Any]:
    return {"code": code, "title": title, "detail": detail, "source": {"parameter": "token"}, "meta": {}}


def seen(prepared: Prepared) -> tuple[int, str, list[tuple[str, str]], Any]:
    headers = [(name.decode(), value.decode()) for name, value in prepared.headers]
    assert headers[-2][0] == "x-sandbox-case" and headers[-2][1] == "none"
    assert prepared.case_id is None and headers[-1] == ("x-sandbox-outcome", prepared.outcome)
    content_type = headers[0][1] if headers and headers[0][0] == "content-type" else ""
    try:
        body: Any = json.loads(prepared.body)
    except ValueError:
        body = prepared.body.decode()
    return prepared.status, prepared.outcome, [("content-type", content_type), *headers[1:-2]], body


# Each answer is made in the test, not at import: `make mutation` imports the tests before the mutant is on.
REFUSALS: list[tuple[str, Callable[[], Prepared], tuple[int, str, list[tuple[str, str]], Any]]] = [
    (
        "invalid token v3",
        lambda: replies.invalid_token("entreprise", False, WHY),
        (401, "auth-error", [("content-type", JSON), *AUTH], {"errors": [INVALID_ERROR]}),
    ),
    (
        "invalid token v2",
        lambda: replies.invalid_token("particulier", True, WHY),
        (401, "auth-error", [("content-type", JSON), *AUTH], v2("access_denied", INVALID)),
    ),
    (
        "expired entreprise",
        lambda: replies.expired_token("entreprise", False),
        (401, "auth-error", [("content-type", JSON)], {"errors": [token_error("00103", "Jeton expiré", EXPIRED_E)]}),
    ),
    (
        "expired particulier v3",
        lambda: replies.expired_token("particulier", False, WHY),
        (
            401,
            "auth-error",
            [("content-type", JSON), *AUTH],
            {"errors": [token_error("00103", "Jeton expiré", EXPIRED_P)]},
        ),
    ),
    (
        "expired v2",
        lambda: replies.expired_token("particulier", True, WHY),
        (401, "auth-error", [("content-type", JSON), *AUTH], {"errors": [EXPIRED_P]}),
    ),
    (
        "scopes entreprise",
        lambda: replies.insufficient_scopes("entreprise", False, WHY),
        (
            403,
            "auth-error",
            [("content-type", JSON), *AUTH],
            {"errors": [token_error("00100", "Privilèges insuffisants", SCOPES + "/v2/privileges")]},
        ),
    ),
    (
        "scopes particulier v3",
        lambda: replies.insufficient_scopes("particulier", False),
        (
            403,
            "auth-error",
            [("content-type", JSON)],
            {"errors": [token_error("00100", "Privilèges insuffisants", SCOPES + "/api/introspect")]},
        ),
    ),
    (
        "scopes v2",
        lambda: replies.insufficient_scopes("particulier", True, WHY),
        (401, "auth-error", [("content-type", JSON), *AUTH], v2("access_denied", SCOPES + "/api/introspect")),
    ),
    (
        "franceconnect v2",
        lambda: replies.france_connect_refused(V2, errors.france_connect_malformed_token(), WHY),
        (401, "auth-error", [("content-type", JSON), *AUTH], v2("access_denied", FC_MALFORMED)),
    ),
    (
        "franceconnect v3",
        lambda: replies.france_connect_refused(V3, errors.france_connect_revoked_token(), WHY),
        (
            401,
            "auth-error",
            [("content-type", JSON_API), *AUTH],
            {"errors": [{"code": "50002", "title": "Accès non autorisé", "detail": FC_REVOKED, "meta": {}}]},
        ),
    ),
    (
        "bad request v2",
        lambda: replies.bad_request(True, "m"),
        (400, "bad-request", [("content-type", JSON)], {"errors": ["Votre requête est invalide: m"]}),
    ),
    (
        "bad request v3",
        lambda: replies.bad_request(False, "m"),
        (
            400,
            "bad-request",
            [("content-type", JSON)],
            {
                "errors": [
                    {
                        "code": "00401",
                        "title": "Mauvaise requête",
                        "detail": "Votre requête est invalide: m",
                        "meta": {},
                    }
                ]
            },
        ),
    ),
    (
        "unsupported version",
        lambda: replies.unsupported_version("v9"),
        (
            404,
            "unsupported-version",
            [("content-type", JSON_API), *CACHED],
            {
                "errors": [
                    {
                        "code": "00402",
                        "title": "Version d'API non prise en charge",
                        "detail": "La version v9 n'est pas supportée pour cet endpoint",
                        "meta": {},
                    }
                ]
            },
        ),
    ),
    (
        "tracking missing",
        lambda: replies.tracking_missing([errors.invalid_token(), errors.invalid_token()]),
        (422, "validation-error", [("content-type", JSON)], {"errors": [INVALID_ERROR, INVALID_ERROR]}),
    ),
    (
        "recipient v2",
        lambda: replies.bad_recipient(V2, errors.invalid_token()),
        (400, "validation-error", [("content-type", JSON)], v2("bad_request", INVALID)),
    ),
    (
        "recipient v2 after cacheable",
        lambda: replies.bad_recipient(V2, errors.invalid_token(), after_cacheable=True),
        (400, "validation-error", [("content-type", JSON), *CACHED], v2("bad_request", INVALID)),
    ),
    (
        "recipient v3",
        lambda: replies.bad_recipient(V3, errors.invalid_token()),
        (422, "validation-error", [("content-type", JSON), *CACHED], {"errors": [INVALID_ERROR]}),
    ),
    (
        "parameters v2: the first error",
        lambda: replies.invalid_parameters(V2, [errors.invalid_token(), errors.unsupported_version("v1")]),
        (400, "validation-error", [("content-type", JSON), *CACHED], v2("bad_request", INVALID)),
    ),
    (
        "parameters v3",
        lambda: replies.invalid_parameters(V3, [errors.invalid_token()]),
        (422, "validation-error", [("content-type", JSON_API_BARE), *CACHED], {"errors": [INVALID_ERROR]}),
    ),
    (
        "maintenance v2",
        lambda: replies.in_maintenance(V2, errors.maintenance("12", "P", "01:00", "02:00", 5)),
        (503, "maintenance", [("content-type", JSON), *CACHED], v2("maintenance", MAINTENANCE)),
    ),
    (
        "maintenance v3",
        lambda: replies.in_maintenance(V3, errors.maintenance("12", "P", "01:00", "02:00", 5)),
        (
            503,
            "maintenance",
            [("content-type", JSON_API_BARE), *CACHED],
            {
                "errors": [
                    {
                        "code": "12020",
                        "title": "Maintenance du fournisseur de données",
                        "detail": MAINTENANCE,
                        "meta": {"provider": "P", "retry_in": 5},
                    }
                ]
            },
        ),
    ),
    (
        "429 v2",
        lambda: replies.too_many_requests("/api/v2/x"),
        (
            429,
            "rate-limited",
            [("content-type", "application/json")],
            {"errors": ["Vous avez effectué trop de requêtes"]},
        ),
    ),
    (
        "429 v3",
        lambda: replies.too_many_requests("/v3/x"),
        (
            429,
            "rate-limited",
            [("content-type", "application/json")],
            {
                "errors": [
                    {
                        "code": "00429",
                        "title": "Trop de requêtes",
                        "detail": "Vous avez effectué trop de requêtes",
                        "meta": {},
                    }
                ]
            },
        ),
    ),
    (
        "unknown path entreprise",
        lambda: replies.unknown_path("entreprise"),
        (
            404,
            "unknown-path",
            [("content-type", "text/plain; charset=utf-8")],
            "Cette URL n'existe pas sur API entreprise, veuillez vérifier votre URL.",
        ),
    ),
    (
        "unknown path particulier",
        lambda: replies.unknown_path("particulier"),
        (
            404,
            "unknown-path",
            [("content-type", "text/plain; charset=utf-8")],
            "Cette URL n'existe pas sur API particulier, veuillez vérifier votre URL.",
        ),
    ),
    (
        "gone without content type",
        lambda: replies.gone(GoneRoute("g", "entreprise", re.compile("x"), "Parti é", None, False)),
        (410, "gone", [("content-type", "")], "Parti é"),
    ),
    (
        "gone with content type",
        lambda: replies.gone(GoneRoute("g", "entreprise", re.compile("x"), "Parti", "text/plain; charset=utf-8", True)),
        (410, "gone", [("content-type", "text/plain; charset=utf-8")], "Parti"),
    ),
]


@pytest.mark.parametrize(("made", "expected"), [(m, e) for _, m, e in REFUSALS], ids=[n for n, _, _ in REFUSALS])
def test_each_refusal_is_the_staging_one(made: Callable[[], Prepared], expected: tuple[int, str, Any, Any]) -> None:
    assert seen(made()) == expected


def test_the_no_case_and_bad_request_errors() -> None:
    assert errors.no_case_error("op").as_json_api() == {
        "code": "00104",
        "title": "Mauvaise configuration de l'environnement de staging",
        "detail": "Aucun cas ne correspond à ces paramètres et le dossier payloads/op n'a pas de cas 404.yaml "
        "(cas « non trouvé ») : ajoutez-en un.",
        "meta": {},
    }
    assert errors.bad_request().as_json_api() == {
        "code": "00401",
        "title": "Mauvaise requête",
        "detail": "Votre requête est invalide",
        "meta": {},
    }


def test_the_bodies_are_compact_utf8_json() -> None:
    assert errors.v2_body("k", "é") == '{"error":"k","reason":"é","message":"é"}'.encode()
    assert errors.flat_body(["a", "b"]) == b'{"errors":["a","b"]}'
    assert errors.json_api_body([]) == b'{"errors":[]}'


@pytest.mark.parametrize(
    ("status", "document", "expected"),
    [
        (200, {"errors": [{"detail": "d"}]}, {"errors": [{"detail": "d"}]}),
        (399, {"errors": [{"detail": "d"}]}, {"errors": [{"detail": "d"}]}),
        (400, {"errors": [{"detail": "d"}, {"detail": "e"}]}, v2("bad_request", "d")),
        (401, {"errors": [{"title": "t"}]}, v2("access_denied", "t")),
        (403, {"errors": [{"detail": "d", "title": "t"}]}, v2("access_denied", "d")),
        (404, {"errors": [{"detail": "d"}]}, v2("not_found", "d")),
        (502, {"errors": [{"detail": "d"}]}, v2("data_provider_error", "d")),
        (503, {"errors": [{"detail": "d"}]}, v2("data_provider_error", "d")),
        (504, {"errors": [{"detail": "d"}]}, v2("gateway_timeout", "d")),
        (500, {"errors": [{"detail": "d"}]}, v2("error", "d")),
        (422, {"errors": [{}]}, v2("error", "")),
        (409, {"errors": [{"detail": "d"}, {"title": "t"}]}, {"errors": ["d", "t"]}),
        (429, {"errors": [{"detail": "d"}]}, {"errors": ["d"]}),
        (400, {"errors": []}, {"errors": []}),
        (400, {"errors": [{"detail": "d"}, "x"]}, {"errors": [{"detail": "d"}, "x"]}),
        (400, {"errors": "x"}, {"errors": "x"}),
        (400, ["x"], ["x"]),
        (400, {"error": "x"}, {"error": "x"}),
    ],
)
def test_a_json_api_example_in_the_v2_format_of_its_status(status: int, document: object, expected: object) -> None:
    assert errors.v2_from_json_api(status, document) == expected
