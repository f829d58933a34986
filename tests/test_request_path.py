"""The request path in process, one rule per test, expectations written out (spec §2–§3, §5, §7).

Each test here was first seen to fail on a small, meaningful change to the product that the rest of
the suite let through (docs/mutation.md lists them); `make mutation` runs these tests.
"""

from __future__ import annotations

import datetime
import logging
from zoneinfo import ZoneInfo

import pytest

from sandbox.cli.logs import TokenRedaction
from sandbox.rules.matching import MatchMode
from sandbox.serve.franceconnect import FranceConnectSession
from sandbox.serve.journal import redact_query, redact_text
from sandbox.serve.pipeline import Services
from sandbox.serve.ratelimit import RateLimiter
from tests.clock import FakeClock
from tests.request_path import TODAY, TRACKING, bearer, body, codes, get, snapshot, token

LIASSES = "/v3/dgfip/unites_legales/130025265/liasses_fiscales/2024"
LIASSES_V9 = "/v9/dgfip/unites_legales/130025265/liasses_fiscales/2024"
INE = "/v3/cnous/etudiant_boursier/ine"
QF_V2 = "/api/v2/composition-familiale-v2"
QF_V3 = "/v3/dss/quotient_familial/identite"
# The embedded case 200-cnaf-parent-seul-2-enfants.yaml, as a v2 client sends it.
QF_V2_CASE = (
    "nomNaissance=MARTIN&prenoms[]=Camille&prenoms[]=Louise&anneeDateDeNaissance=1988&moisDateDeNaissance=3"
    "&jourDateDeNaissance=21&codePaysLieuDeNaissance=99100&codeInseeLieuDeNaissance=75056&sexe=F"
)
QF_V2_CASE_ID = "api_particulier_v2_cnav_quotient_familial_v2/200-cnaf-parent-seul-2-enfants.yaml"
MAINTENANCE_DETAIL = "Le fournisseur de données est en maintenance de 01:00 à 02:00"


def _in_dgfip_maintenance() -> Services:
    """01:30 in Paris: inside DGFIP - Adélie's nightly window (01:00–02:00), windows turned on."""
    at = datetime.datetime(2026, 11, 27, 1, 30, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
    return Services(maintenance=True, clock=FakeClock(at), fixed_today=datetime.date(2026, 11, 27))


# -- gate order (spec §3.1): tracking, version, recipient, then maintenance, then validation --------


def test_maintenance_comes_after_the_tracking_version_and_recipient_refusals() -> None:
    services = _in_dgfip_maintenance()
    served = get(LIASSES, TRACKING, bearer(), services)
    assert served.status == 503 and body(served)["errors"][0]["detail"] == MAINTENANCE_DETAIL
    assert codes(get(LIASSES, "recipient=13002526500013", bearer(), services)) == ["00201", "00202"]
    bad_recipient = get(LIASSES, "recipient=1&context=test&object=test", bearer(), services)
    assert bad_recipient.status == 422 and codes(bad_recipient) == ["00210"]
    version = get(LIASSES_V9, TRACKING, bearer(), services)
    assert version.status == 404 and codes(version) == ["00402"]
    # validation comes after maintenance: an invalid SIREN in the window is still a 503
    assert codes(get(LIASSES.replace("130025265", "000000001"), TRACKING, bearer(), services)) == ["03020"]


def test_v2_recipient_refusal_comes_before_maintenance() -> None:
    sunday_23_30 = datetime.datetime(2026, 4, 26, 23, 30, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
    services = Services(maintenance=True, clock=FakeClock(sunday_23_30), fixed_today=datetime.date(2026, 4, 26))
    key = {"x-api-key": token()}
    assert get(QF_V2, QF_V2_CASE, key, services).status == 503
    refused = get(QF_V2, QF_V2_CASE + "&recipient=123", key, services)
    assert refused.status == 400
    assert body(refused) == {
        "error": "bad_request",
        "reason": "Le paramètre recipient n'est pas un siret valide",
        "message": "Le paramètre recipient n'est pas un siret valide",
    }


def test_entreprise_tracking_parameters_are_checked_before_the_version() -> None:
    missing = get(LIASSES_V9, "", bearer())
    assert missing.status == 422 and codes(missing) == ["00201", "00203", "00202"]
    assert codes(get(LIASSES_V9, TRACKING, bearer())) == ["00402"]


# -- rate limits (spec §7, §11.4): keyed on the resolved jti, else on the raw token -----------------


@pytest.mark.parametrize("key", ["jti", "token"])
def test_a_token_that_does_not_resolve_is_still_counted(key: str) -> None:
    clock = FakeClock(1_800_000_000.25)
    services = Services(
        limiter=RateLimiter(snapshot().throttles, clock=clock), rate_limit_key=key, clock=clock, fixed_today=TODAY
    )
    query = "recipient=13002526500013&ine=1234567890A"
    answers = [get(INE, query, bearer("not-a-token"), services) for _ in range(21)]
    assert [a.status for a in answers] == [401] * 20 + [429]
    assert answers[0].header(b"ratelimit-remaining") == "19" and answers[19].header(b"ratelimit-remaining") == "0"
    # a valid token has its own counter: 20 more requests, then refused too. One token minted once:
    # minted per request, its `iat` (the wall clock's second) changes the raw token keyed on here.
    authorization = bearer()
    valid = [get(INE, query, authorization, services) for _ in range(21)]
    assert [a.status for a in valid] == [404] * 20 + [429]


def test_a_request_without_any_token_is_never_counted() -> None:
    clock = FakeClock(1_800_000_000.25)
    services = Services(limiter=RateLimiter(snapshot().throttles, clock=clock), clock=clock, fixed_today=TODAY)
    answers = [get(INE, "recipient=13002526500013", None, services) for _ in range(25)]
    assert [a.status for a in answers] == [401] * 25
    assert answers[-1].header(b"ratelimit-limit") is None


# -- lookup keys (README: "an empty value is the same as an absent one") ----------------------------


@pytest.mark.parametrize("blank", ["nomUsage=", "nomUsage=&codeInseeDepartementNaissance="])
def test_a_blank_parameter_is_the_same_as_an_absent_one(blank: str) -> None:
    key = {"x-api-key": token()}
    hit = get(QF_V2, f"{QF_V2_CASE}&{blank}", key)
    assert hit.status == 200 and hit.header(b"x-sandbox-case") == QF_V2_CASE_ID
    assert hit.header(b"x-sandbox-fallback") is None


def test_a_value_that_is_not_blank_takes_part_in_the_key() -> None:
    miss = get(QF_V2, f"{QF_V2_CASE}&nomUsage=DURAND", {"x-api-key": token()})
    assert miss.status == 404 and miss.header(b"x-sandbox-case") == "default"


# -- validation replies (spec §3.4, §3.6): v3 lists every error, v2 answers the first ----------------


def test_v2_answers_the_first_validation_error_and_v3_lists_them_all_in_order() -> None:
    v2 = get(QF_V2, QF_V2_CASE.replace("MARTIN", "1234").replace("99100", "12"), {"x-api-key": token()})
    first = "Le code pays INSEE n'est pas correctement formaté"
    assert v2.status == 400 and body(v2) == {"error": "bad_request", "reason": first, "message": first}
    query = (
        "recipient=13002526500013&nomNaissance=1234&prenoms[]=Camille&anneeDateNaissance=1988&moisDateNaissance=3"
        "&jourDateNaissance=21&codeCogInseePaysNaissance=12&codeCogInseeCommuneNaissance=75056&sexeEtatCivil=F"
    )
    v3 = get(QF_V3, query, bearer())
    assert v3.status == 422 and codes(v3) == ["00400", "00420"]


# -- token expiry (spec §2.4): `exp` in the past is expired; `exp` itself is not yet -----------------


def test_a_token_expires_just_after_its_exp() -> None:
    expiring = token(expires_in=100, now=1_800_000_000)  # exp = 1_800_000_100
    query = "recipient=13002526500013&ine=1234567890A"
    for now, status in ((1_800_000_099, 404), (1_800_000_100, 404), (1_800_000_100.5, 401), (1_800_000_101, 401)):
        answered = get(INE, query, bearer(expiring), Services(clock=FakeClock(now), fixed_today=TODAY))
        assert answered.status == status, now
    assert codes(answered) == ["00103"]


# -- FranceConnect (spec §5, §11.7): `--france-connect-expiry` ----------------------------------------


def test_france_connect_expiry_is_checked_only_when_asked() -> None:
    session = FranceConnectSession.from_case(snapshot().france_connect["etudiante"])
    exp = 4102444800  # payloads/france_connect/etudiante.yaml
    assert session.usable(exp - 1, check_expiry=True) and session.usable(exp, check_expiry=True)
    assert not session.usable(exp + 1, check_expiry=True)
    assert session.usable(exp + 1, check_expiry=False)
    inactive = FranceConnectSession.from_case(snapshot().france_connect["jeton_expire"])
    assert not inactive.usable(0, check_expiry=False) and not inactive.usable(0, check_expiry=True)


def test_an_expired_france_connect_token_is_refused_on_the_route() -> None:
    after = 4102444800 + 60
    path = "/v3/mesri/statut_etudiant/france_connect"
    for expiry, status in ((False, 200), (True, 401)):
        services = Services(france_connect_expiry=expiry, clock=FakeClock(after), fixed_today=TODAY)
        answered = get(path, "recipient=13002526500013", {"authorization": "Bearer etudiante"}, services)
        assert answered.status == status
    assert codes(answered) == ["50002"]


# -- redaction of tokens in logs and the journal ------------------------------------------------------


def test_named_token_parameters_are_redacted_in_log_lines() -> None:
    line = '127.0.0.1:5 - "GET /v3/x?token=abc&siren=1&api_key=def&access_token=ghi HTTP/1.1" 200'
    expected = (
        '127.0.0.1:5 - "GET /v3/x?token=[redacted]&siren=1&api_key=[redacted]&access_token=[redacted] HTTP/1.1" 200'
    )
    assert redact_text(line) == expected
    assert redact_text("token=abc") == "token=[redacted]"
    assert redact_text("mytoken=abc&notapi_key=1") == "mytoken=abc&notapi_key=1"


def test_the_log_filter_redacts_message_and_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%s - %s /b?token=secret", ("GET /a?api_key=k1", 200), None
    )
    assert TokenRedaction().filter(record) is True
    assert record.getMessage() == "GET /a?api_key=[redacted] - 200 /b?token=[redacted]"


def test_the_journal_redacts_named_token_parameters_whatever_their_case() -> None:
    pairs = redact_query("Token=a&API_KEY=b&siren=130025265&access_token=")
    assert pairs == [
        ("Token", "[redacted]"),
        ("API_KEY", "[redacted]"),
        ("siren", "130025265"),
        ("access_token", "[redacted]"),
    ]


@pytest.mark.parametrize("mode", list(MatchMode), ids=[m.value for m in MatchMode])
def test_a_case_hit_in_process_carries_its_bytes_and_headers(mode: MatchMode) -> None:
    hit = get("/v3/insee/sirene/unites_legales/130025265", TRACKING, bearer(), mode=mode)
    assert hit.status == 200
    assert (
        hit.header(b"x-sandbox-case") == "api_entreprise_v3_insee_unites_legales/administration-siren-par-defaut.yaml"
    )
    assert hit.header(b"content-type") == "application/vnd.api+json"
    assert body(hit)["data"]["siren"] == "130025265"
