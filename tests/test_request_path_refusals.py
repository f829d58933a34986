"""The token, scope and FranceConnect refusals of the gate sequence, in process: status, body, the
`X-Sandbox-Auth` reason, per API and version (spec §2.1–§2.5, §5.2, §11.7). Written out.
"""

from __future__ import annotations

from typing import Any

from sandbox.load.snapshot import Prepared
from sandbox.rules.tokens import mint
from sandbox.serve.pipeline import IncomingRequest, Services, answer
from sandbox.serve.ratelimit import RateLimiter
from tests.request_path import SECRET, TODAY, TRACKING, bearer, body, get, snapshot, token

LIASSES = "/v3/dgfip/unites_legales/130025265/liasses_fiscales/2024"
QF_V2 = "/api/v2/composition-familiale-v2"
FC_V3 = "/v3/mesri/statut_etudiant/france_connect"
INVALID = "Votre token n'est pas valide ou n'est pas renseigné"
MISSING = "missing; no token: send Authorization: Bearer <token> (X-Api-Key: <token> on /api/v2), or ?token=<token>"
MALFORMED = "malformed; the Authorization header must be 'Bearer <token>' (one space, case-sensitive)"
EXPIRED_E = (
    "Votre token est expiré. Vous devez refaire une demande à API Entreprise, un guide est disponible sur "
    "https://entreprise.api.gouv.fr/faq#comment-renouveler-mon-jeton-arrivant-a-expiration"
)
EXPIRED_P = EXPIRED_E.replace("Entreprise", "Particulier").replace("entreprise.api", "particulier.api")
SCOPES = "Votre token est valide mais vos privilèges sont insuffisants. Listez vos privilèges sur "


def auth(prepared: Prepared) -> str | None:
    value = dict(prepared.headers).get(b"x-sandbox-auth")
    return None if value is None else value.decode()


def seen(prepared: Prepared) -> tuple[int, str, Any, str | None]:
    return prepared.status, prepared.outcome, body(prepared), auth(prepared)


def token_error(code: str, title: str, detail: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "title": title, "detail": detail, "source": {"parameter": "token"}, "meta": {}}]}


def test_no_token_on_v3_is_00101_and_says_missing() -> None:
    assert seen(get(LIASSES, TRACKING)) == (401, "auth-error", token_error("00101", "Interdit", INVALID), MISSING)


def test_a_header_of_another_form_says_malformed() -> None:
    refused = get(LIASSES, TRACKING, {"authorization": "Token abc"})
    assert seen(refused) == (401, "auth-error", token_error("00101", "Interdit", INVALID), MALFORMED)


def test_a_bad_token_says_why() -> None:
    refused = get(LIASSES, TRACKING, bearer("abc"))
    reason = "malformed; not a JWT (three base64url parts: header, claims, signature)"
    assert seen(refused) == (401, "auth-error", token_error("00101", "Interdit", INVALID), reason)


def test_no_token_on_v2_is_the_organizer_access_denied() -> None:
    expected = {"error": "access_denied", "reason": INVALID, "message": INVALID}
    assert seen(get(QF_V2)) == (401, "auth-error", expected, MISSING)


def test_an_expired_token_is_00103_on_v3_and_flat_on_v2() -> None:
    old = {"authorization": f"Bearer {token(expires_in=10, now=86390)}"}
    reason = "expired; the token expired at 1970-01-02T00:00:00Z (its exp claim): mint another one"
    assert seen(get(LIASSES, TRACKING, old)) == (
        401,
        "auth-error",
        token_error("00103", "Jeton expiré", EXPIRED_E),
        reason,
    )
    old_key = {"x-api-key": token(expires_in=10, now=86390)}  # v2 reads X-Api-Key (a Bearer is FranceConnect's)
    assert seen(get(QF_V2, "", old_key)) == (401, "auth-error", {"errors": [EXPIRED_P]}, reason)


def test_a_token_without_the_scope_is_403_on_v3_and_401_on_v2() -> None:
    scopeless = {"authorization": f"Bearer {mint(SECRET, ['nothing'])}"}
    refused = get(LIASSES, TRACKING, scopeless)
    assert refused.status == 403 and body(refused) == token_error(
        "00100", "Privilèges insuffisants", SCOPES + "/v2/privileges"
    )
    assert (
        auth(refused) == "insufficient-scopes; the token has none of the scopes this operation accepts: "
        "liasses_fiscales, liasses_fiscales_dgfip"
    )
    v2 = get(QF_V2, "", {"x-api-key": mint(SECRET, ["nothing"])})
    detail = SCOPES + "/api/introspect"
    assert seen(v2)[:3] == (401, "auth-error", {"error": "access_denied", "reason": detail, "message": detail})


# What a FranceConnect route answers a token it cannot introspect (spec §11.7, v3).
MALFORMED_FRANCE_CONNECT_TOKEN = {
    "errors": [
        {"code": "50001", "title": "Accès non autorisé", "detail": "Le jeton d'accès est mal formaté.", "meta": {}}
    ]
}


def test_an_unknown_france_connect_token_is_50001() -> None:
    refused = get(FC_V3, "", bearer("not-a-case"))
    assert seen(refused) == (
        401,
        "auth-error",
        MALFORMED_FRANCE_CONNECT_TOKEN,
        "unknown-franceconnect-token; no case of payloads/france_connect has this token (params.token)",
    )


def test_an_api_token_elsewhere_than_the_bearer_on_a_france_connect_route_is_refused() -> None:
    refused = get(FC_V3, f"token={token()}")
    assert seen(refused)[:3] == (
        401,
        "auth-error",
        MALFORMED_FRANCE_CONNECT_TOKEN,
    )
    assert auth(refused) == (
        "not-a-franceconnect-token; this route reads a FranceConnect token (payloads/france_connect), not an API token"
    )


# -- a request Rails cannot read (spec §3.6): 400 00401, after the rate limit, before the token ----------

SHAPE = "Votre requête est invalide: Invalid query parameters: expected Array (got String) for param `a'"


def test_a_query_of_two_shapes_is_400_in_each_format() -> None:
    v3 = get(LIASSES, "a=1&a[]=2&" + TRACKING, bearer())
    expected = {"errors": [{"code": "00401", "title": "Mauvaise requête", "detail": SHAPE, "meta": {}}]}
    assert seen(v3) == (400, "bad-request", expected, None)
    assert dict(v3.headers)[b"content-type"] == b"application/json; charset=utf-8"
    assert seen(get(QF_V2, "a=1&a[]=2", {"x-api-key": token()})) == (400, "bad-request", {"errors": [SHAPE]}, None)


def test_an_unreadable_json_body_is_400_and_a_readable_one_is_not() -> None:
    def sent(content: bytes) -> Prepared:
        headers = {"host": "", **bearer(), "content-type": "application/json"}
        request = IncomingRequest("GET", LIASSES, TRACKING.encode(), headers, content)
        return answer(snapshot(), request, Services(fixed_today=TODAY)).prepared

    detail = "Votre requête est invalide: Error occurred while parsing request parameters"
    assert body(sent(b"{")) == {
        "errors": [{"code": "00401", "title": "Mauvaise requête", "detail": detail, "meta": {}}]
    }
    assert sent(b"{").status == 400 and sent(b"{}").status == 200


# -- Particulier v2's own limit on X-Api-Key (spec §7) -------------------------------------------------


class _Clock:
    def __call__(self) -> float:
        return 1_800_000_000.25


def test_the_v2_api_key_limit_counts_v2_paths_only() -> None:
    clock = _Clock()
    services = Services(
        limiter=RateLimiter(snapshot().throttles, clock=clock, v2_limit=(2, 60)), clock=clock, fixed_today=TODAY
    )
    key = {"x-api-key": token()}
    assert [get(QF_V2, "", key, services).status for _ in range(3)] == [400, 400, 429]  # no parameters: 400
    assert [get(LIASSES, TRACKING, key, services).status for _ in range(3)] == [200, 200, 200]
