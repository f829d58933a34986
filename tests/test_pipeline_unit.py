"""The gate sequence of `sandbox.serve.pipeline`, in process: what the other request-path tests leave
open (the request facts of staging mode, the clock and `today`, the memo's swap and bound, the rate
limit's key, recipient refusals, the headers read). Expected answers are written out (spec §2–§5,
§7, README); the fixture layers are written by each test in its own temp dir.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from sandbox.load.snapshot import Prepared, Snapshot, build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.rules.tokens import INTERNAL_JTI, mint
from sandbox.rules.unreadable import remembered_query_problem
from sandbox.serve.pipeline import Answer, IncomingRequest, Services, answer, read_headers
from sandbox.serve.prefer_header import parse_prefer
from sandbox.serve.ratelimit import RateLimiter
from sandbox.serve.scenarios import Scenarios
from tests.clock import FakeClock
from tests.conftest import ROOT
from tests.request_path import SECRET, TODAY, TRACKING, all_scopes, bearer, body, codes, get, snapshot, token

LIASSES = "/v3/dgfip/unites_legales/912345675/liasses_fiscales/2024"
LIASSES_FOLDER = "api_entreprise_v3_dgfip_liasses_fiscales"
UNITES_LEGALES = "/v3/insee/sirene/unites_legales/130025265"
INE = "/v3/cnous/etudiant_boursier/ine"
QF_V2 = "/api/v2/composition-familiale-v2"
FC_V3 = "/v3/mesri/statut_etudiant/france_connect"
RECIPIENT = "recipient=13002526500013"
# The embedded case 200-cnaf-parent-seul-2-enfants.yaml, as a v2 client sends it.
QF_V2_CASE = (
    "nomNaissance=MARTIN&prenoms[]=Camille&prenoms[]=Louise&anneeDateDeNaissance=1988&moisDateDeNaissance=3"
    "&jourDateDeNaissance=21&codePaysLieuDeNaissance=99100&codeInseeLieuDeNaissance=75056&sexe=F"
)
UID = "0b6b9f5e-5a3a-4d8e-9f39-3c0c8b9f6e21"  # a token's `uid` claim (a lower-case UUID)
REQUEST_ID = "6f1c2a9e-8a3d-4b7f-9c2e-1d5e7a4b3c20"
NOT_A_SIRET = "Le paramètre recipient n'est pas un siret valide"
# The headers of the organizer's `Cacheable` (spec §3.4, §11.5): on a v2 refusal that comes after it.
CACHE = {b"x-response-cached": b"false", b"x-cache-expires-in": b""}


def _noon_utc(year: int, month: int, day: int) -> float:
    return datetime.datetime(year, month, day, 12, tzinfo=datetime.UTC).timestamp()


def _case(folder: Path, name: str, params: dict[str, Any], payload: str, status: int = 200) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"title": name, "params": params, "status": status, "payload": payload})
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


def _layered(layer: Path, mode: MatchMode = MatchMode.STAGING) -> Snapshot:
    """The embedded fixtures with `layer` on top (a fixture source of the test's own)."""
    return build_snapshot([ROOT, layer], mode, secrets=[SECRET])


def _ask(snap: Snapshot, path: str, query: str, headers: dict[str, str], services: Services | None = None) -> Prepared:
    request = IncomingRequest("GET", path, query.encode(), {"host": "", **headers})
    return answer(snap, request, services or Services(fixed_today=TODAY)).prepared


def _headers(prepared: Prepared) -> dict[bytes, bytes]:
    return dict(prepared.headers)


# -- the headers the request path reads --------------------------------------------------------------


def test_only_the_read_headers_are_kept_under_their_lower_case_name() -> None:
    raw = [
        (b"host", b"127.0.0.1:8080"),
        (b"user-agent", b"curl/8"),
        (b"Authorization", b"Bearer abc"),
        (b"X-Request-Id", b"r\xe9"),
        (b"Accept", b"*/*"),
        (b"prefer", b"code=404"),
    ]
    assert read_headers(raw) == {
        "host": "127.0.0.1:8080",
        "authorization": "Bearer abc",
        "x-request-id": "ré",  # latin-1, as HTTP/1.1 sends it
        "prefer": "code=404",
    }


def test_the_last_of_a_repeated_header_wins() -> None:
    assert read_headers([(b"x-api-key", b"one"), (b"X-API-KEY", b"two")]) == {"x-api-key": "two"}
    assert read_headers([]) == {}


# -- staging mode: the DGFIP key holds the token's uid and the request id (spec §4.2) ------------------


def test_a_case_keyed_on_the_token_uid_and_the_request_id_is_reached_with_both(tmp_path: Path) -> None:
    folder = tmp_path / "payloads" / LIASSES_FOLDER
    _case(folder, "200-mine", {"user_id": UID, "request_id": REQUEST_ID, "siren": "912345675", "year": "2024"}, "{}")
    snap = _layered(tmp_path)
    mine = {"authorization": f"Bearer {mint(SECRET, all_scopes(), uid=UID)}"}
    hit = _ask(snap, LIASSES, TRACKING, {**mine, "x-request-id": REQUEST_ID})
    assert (hit.status, hit.header(b"x-sandbox-case")) == (200, f"{LIASSES_FOLDER}/200-mine.yaml")
    # another uid, another request id, or none (a fresh one): the real staging misses, the fallback answers
    for headers in ({**bearer(), "x-request-id": REQUEST_ID}, mine, {**mine, "x-request-id": REQUEST_ID.upper()[:8]}):
        missed = _ask(snap, LIASSES, TRACKING, headers)
        assert missed.header(b"x-sandbox-case") in ("default", "none"), headers
    assert _ask(snap, LIASSES, TRACKING, {**mine, "x-request-id": "other"}).status == 422  # 00401: not a UUID


def test_without_x_request_id_the_request_id_is_a_fresh_one(tmp_path: Path) -> None:
    """A case with no `request_id` (or a literal one) is never reached: the server always adds one."""
    folder = tmp_path / "payloads" / LIASSES_FOLDER
    _case(folder, "200-sans-id", {"user_id": UID, "siren": "912345675", "year": "2024"}, "{}")
    _case(folder, "200-none", {"user_id": UID, "request_id": "None", "siren": "912345675", "year": "2023"}, "{}")
    snap = _layered(tmp_path)
    mine = {"authorization": f"Bearer {mint(SECRET, all_scopes(), uid=UID)}"}
    for path in (LIASSES, LIASSES.replace("2024", "2023")):
        missed = _ask(snap, path, TRACKING, mine)
        assert (missed.status, missed.header(b"x-sandbox-case")) == (200, "default"), path


def test_a_repository_rule_can_key_on_the_token_jti_and_the_api_version(tmp_path: Path) -> None:
    rule = {
        "operations": ["api_entreprise_v*_insee_unites_legales"],
        "keys": {"siren": {}, "token_id": {"source": "token_jti"}, "api_version": {"source": "api_version"}},
    }
    (tmp_path / "sandbox.yaml").write_text(yaml.safe_dump({"lookup_rules": [rule]}), encoding="utf-8")
    folder = tmp_path / "payloads" / "api_entreprise_v3_insee_unites_legales"
    _case(folder, "200-jti", {"siren": "130025265", "token_id": INTERNAL_JTI, "api_version": "3"}, '{"data": {}}')
    hit = _ask(_layered(tmp_path), UNITES_LEGALES, TRACKING, bearer())
    assert hit.header(b"x-sandbox-case") == "api_entreprise_v3_insee_unites_legales/200-jti.yaml"
    assert body(hit) == {"data": {}}


# -- today and the clock ---------------------------------------------------------------------------------


def test_today_is_the_clock_s_date_unless_pinned() -> None:
    """Liasses: the year must be in 2006..last year (00315): 2025 is refused in 2025, taken in 2026."""
    path = "/v3/dgfip/unites_legales/130025265/liasses_fiscales/2025"
    in_2025 = get(path, TRACKING, bearer(), Services(clock=FakeClock(_noon_utc(2025, 6, 1))))
    assert in_2025.status == 422 and codes(in_2025) == ["00315"]
    assert get(path, TRACKING, bearer(), Services(clock=FakeClock(_noon_utc(2026, 6, 1)))).status == 200
    pinned = Services(clock=FakeClock(_noon_utc(2025, 6, 1)), fixed_today=datetime.date(2026, 4, 28))
    assert get(path, TRACKING, bearer(), pinned).status == 200


def test_maintenance_windows_apply_only_when_turned_on() -> None:
    at = datetime.datetime(2026, 11, 27, 1, 30, tzinfo=ZoneInfo("Europe/Paris")).timestamp()  # DGFIP 01:00–02:00
    path = "/v3/dgfip/unites_legales/130025265/liasses_fiscales/2024"
    off = Services(maintenance=False, clock=FakeClock(at), fixed_today=TODAY)
    on = Services(maintenance=True, clock=FakeClock(at), fixed_today=TODAY)
    assert (get(path, TRACKING, bearer(), off).status, get(path, TRACKING, bearer(), on).status) == (200, 503)


# -- the memo of parameter-gate outcomes ---------------------------------------------------------------


def test_a_new_snapshot_is_answered_from_its_own_cases(tmp_path: Path) -> None:
    """One `Services` outlives a reload: the memo must not answer from the previous snapshot."""
    services = Services(fixed_today=TODAY)
    before = _ask(snapshot(), UNITES_LEGALES, TRACKING, bearer(), services)
    assert before.header(b"x-sandbox-case") == (
        "api_entreprise_v3_insee_unites_legales/administration-siren-par-defaut.yaml"
    )
    folder = tmp_path / "payloads" / "api_entreprise_v3_insee_unites_legales"
    _case(folder, "administration-siren-par-defaut", {"siren": "130025265"}, '{"data": {"reloaded": true}}')
    after = _ask(_layered(tmp_path, MatchMode.DOCUMENTED), UNITES_LEGALES, TRACKING, bearer(), services)
    assert body(after) == {"data": {"reloaded": True}}


def test_the_memo_is_bounded_in_bytes() -> None:
    """Each remembered outcome counts at least 1 KiB: 8 KiB hold at most 8, whatever their keys."""
    services = Services(memo_bytes=8 * 1024)
    snap = snapshot()
    for n in range(20):
        assert services.remembered(snap, ("op", f"/p{n}")) is None
        services.remember(("op", f"/p{n}"), n)
    kept = [n for n in range(20) if services.remembered(snap, ("op", f"/p{n}")) == n]
    assert 1 <= len(kept) <= 8 and kept[-1] == 19


def _answered(query: str, services: Services, *, repeated: bool, headers: dict[str, str] | None = None) -> Prepared:
    request = IncomingRequest(
        "GET", UNITES_LEGALES, query.encode(), {"host": "", **bearer(token()), **(headers or {})}, repeated=repeated
    )
    return answer(snapshot(), request, services).prepared


def test_a_request_new_to_the_app_leaves_the_memo_empty_a_repeated_one_fills_it() -> None:
    services = Services(fixed_today=TODAY)
    query = f"{TRACKING}&new=1"
    assert _answered(query, services, repeated=False).status == 200
    assert len(services._memo) == 0 and remembered_query_problem(query.encode()) is None
    assert _answered(query, services, repeated=True).status == 200
    assert len(services._memo) == 1 and remembered_query_problem(query.encode()) == (None,)


def test_a_query_string_rack_refuses_is_refused_each_time_it_comes() -> None:
    services = Services(fixed_today=TODAY)
    query = f"{TRACKING}&a=1&a[]=2"
    expected = "Invalid query parameters: expected Array (got String) for param `a'"
    for repeated in (False, True, True):  # found as parsed, then remembered, then read back
        refused = _answered(query, services, repeated=repeated)
        assert refused.status == 400 and expected in refused.body.decode()
    assert remembered_query_problem(query.encode()) == (expected,)


def test_a_content_type_rails_cannot_read_is_refused_before_the_query_string() -> None:
    refused = _answered(
        f"{TRACKING}&a=%zz", Services(fixed_today=TODAY), repeated=False, headers={"content-type": "foo"}
    )
    assert refused.status == 400 and '\\"foo\\" is not a valid MIME type' in refused.body.decode()


# -- the rate limit's key (spec §7, §11.4) ---------------------------------------------------------------


@pytest.mark.parametrize(("key", "statuses"), [("jti", [404] * 20 + [429]), ("token", [404] * 21)])
def test_two_tokens_of_one_jti_share_a_counter_only_when_keyed_on_the_jti(key: str, statuses: list[int]) -> None:
    """The INE route allows 20 requests a minute per key; the two tokens differ by `iat` only."""
    clock = FakeClock(1_800_000_000.25)
    limiter = RateLimiter(snapshot().throttles, clock=clock)
    services = Services(limiter=limiter, rate_limit_key=key, clock=clock, fixed_today=TODAY)
    first, second = token(now=1_700_000_000), token(now=1_700_000_001)
    assert first != second
    query = f"{RECIPIENT}&ine=1234567890A"
    answers = [get(INE, query, bearer(first if n % 2 else second), services) for n in range(21)]
    assert [a.status for a in answers] == statuses


# -- refusals ------------------------------------------------------------------------------------------------


EXPIRED_P = (
    "Votre token est expiré. Vous devez refaire une demande à API Particulier, un guide est disponible sur "
    "https://particulier.api.gouv.fr/faq#comment-renouveler-mon-jeton-arrivant-a-expiration"
)
SCOPES_P = "Votre token est valide mais vos privilèges sont insuffisants. Listez vos privilèges sur /api/introspect"


def test_particulier_v3_token_refusals_name_api_particulier() -> None:
    query = f"{RECIPIENT}&ine=1234567890A"
    expired = get(INE, query, {"authorization": f"Bearer {token(expires_in=10, now=86390)}"})
    assert expired.status == 401 and body(expired)["errors"][0]["detail"] == EXPIRED_P
    scopeless = get(INE, query, {"authorization": f"Bearer {mint(SECRET, ['nothing'])}"})
    assert scopeless.status == 403 and body(scopeless)["errors"][0]["detail"] == SCOPES_P


def test_an_inactive_france_connect_token_says_why() -> None:
    refused = get(FC_V3, RECIPIENT, {"authorization": "Bearer jeton_expire"})
    assert refused.status == 401 and codes(refused) == ["50002"]
    assert refused.header(b"x-sandbox-auth") == (
        "inactive-franceconnect-token; the FranceConnect introspection of this token says active: false, "
        "or its exp is past"
    )


def test_an_unsupported_version_names_it() -> None:
    missed = get("/v9/dgfip/unites_legales/130025265/liasses_fiscales/2024", TRACKING, bearer())
    assert missed.status == 404
    assert body(missed)["errors"][0]["detail"] == "La version v9 n'est pas supportée pour cet endpoint"


def test_v3_requires_a_recipient() -> None:
    refused = get(INE, "ine=1234567890A", bearer())
    assert refused.status == 422
    assert body(refused) == {
        "errors": [
            {
                "code": "00210",
                "title": "Entité non traitable",
                "detail": NOT_A_SIRET,
                "source": {"parameter": "recipient"},
                "meta": {},
            }
        ]
    }


def test_a_request_id_that_is_no_uuid_is_00401_on_dgfip() -> None:
    path = "/v3/dgfip/unites_legales/130025265/liasses_fiscales/2024"
    refused = get(path, TRACKING, {**bearer(), "x-request-id": "my-request"})
    assert refused.status == 422 and codes(refused) == ["00401"]
    assert get(path, TRACKING, {**bearer(), "x-request-id": REQUEST_ID}).status == 200


def _france_connect_case(root: Path, name: str, scope: str) -> None:
    introspection = {
        "active": True,
        "sub": f"sandbox-sub-{name}",
        "exp": 4102444800,
        "jti": f"sandbox-jti-{name}",
        "scope": scope,
        "gender": "female",
        "family_name": "MARTIN",
        "given_name": "Camille Louise",
        "given_name_array": ["Camille", "Louise"],
        "birthdate": "1988-03-21",
        "birthplace": "75056",
        "birthcountry": "99100",
    }
    payload = json.dumps({"token_introspection": introspection})
    _case(root / "payloads" / "france_connect", name, {"token": name}, payload)


def test_a_v2_france_connect_call_without_recipient_is_refused_after_cacheable(tmp_path: Path) -> None:
    _france_connect_case(tmp_path, "allocataire", "openid quotient_familial")
    snap = _layered(tmp_path, MatchMode.DOCUMENTED)
    fc = {"authorization": "Bearer allocataire"}
    expected = {"error": "bad_request", "reason": NOT_A_SIRET, "message": NOT_A_SIRET}
    missing = _ask(snap, QF_V2, "", fc)
    assert (missing.status, body(missing)) == (400, expected)
    assert {k: v for k, v in _headers(missing).items() if k in CACHE} == CACHE
    sent = _ask(snap, QF_V2, "recipient=123", fc)  # a sent recipient is checked before `Cacheable`
    assert (sent.status, body(sent)) == (400, expected)
    assert not CACHE.keys() & _headers(sent).keys()
    by_key = _ask(snap, QF_V2, "recipient=123", {"x-api-key": token()})
    assert by_key.status == 400 and not CACHE.keys() & _headers(by_key).keys()


def test_a_v2_france_connect_call_checks_the_declared_query_and_the_identity(tmp_path: Path) -> None:
    _france_connect_case(tmp_path, "allocataire", "openid quotient_familial")
    snap = _layered(tmp_path, MatchMode.DOCUMENTED)
    fc = {"authorization": "Bearer allocataire"}
    answered = _ask(snap, QF_V2, RECIPIENT, fc)
    assert answered.status == 200, answered.body
    refused = _ask(snap, QF_V2, f"{RECIPIENT}&annee=12&mois=1", fc)
    assert refused.status == 400, refused.body


def test_a_france_connect_identity_scope_opens_a_v2_route_only(tmp_path: Path) -> None:
    """`_identite` scopes of a FranceConnect token are dropped on v3+ (spec §5.3), kept on v2."""
    _france_connect_case(tmp_path, "identite", "openid quotient_familial_identite")
    data = tmp_path / "data"
    data.mkdir()
    scopes = {"shared": {"api_particulier/v2/cnav/quotient_familial_v2": ["quotient_familial_identite"]}}
    (data / "authorizations.yml").write_text(yaml.safe_dump(scopes), encoding="utf-8")
    snap = _layered(tmp_path, MatchMode.DOCUMENTED)
    assert _ask(snap, QF_V2, RECIPIENT, {"authorization": "Bearer identite"}).status == 200


# -- what `answer` passes on ------------------------------------------------------------------------------


def test_a_meta_route_of_the_other_api_is_unknown_on_a_host() -> None:
    request = IncomingRequest("GET", "/pings", b"", {"host": "particulier.api.gouv.fr"})
    refused = answer(snapshot(), request, Services(fixed_today=TODAY))
    assert (refused.prepared.status, refused.outcome) == (404, "unknown-path")


def test_a_meta_route_reads_the_request_body() -> None:
    headers = {"host": "", "content-type": "application/json", **bearer()}
    for sent, status in ((b"{", 400), (b"{}", 200)):
        request = IncomingRequest("GET", "/v2/privileges", b"", headers, sent)
        assert answer(snapshot(), request, Services(fixed_today=TODAY)).prepared.status == status


def test_the_answer_says_what_was_applied_of_prefer() -> None:
    path = "/v3/dgfip/unites_legales/130025265/liasses_fiscales/2024"
    request = IncomingRequest(
        "GET", path, TRACKING.encode(), {"host": "", **bearer()}, preferences=parse_prefer(["code=404"])
    )
    answered: Answer = answer(snapshot(), request, Services(fixed_today=TODAY))
    assert answered.prepared.status == 404
    assert answered.prepared.header(b"x-sandbox-case") == f"{LIASSES_FOLDER}/404.yaml"
    assert answered.applied.pairs == (("code", "404"),)
    assert answered.prepared.header(b"preference-applied") == "code=404"


def test_a_fallback_names_the_closest_case_but_never_a_not_found_one() -> None:
    near = get("/v3/dgfip/unites_legales/912345675/liasses_fiscales/2022", TRACKING, bearer())
    assert near.header(b"x-sandbox-near-miss") == f"{LIASSES_FOLDER}/200-reel-normal-2023.yaml"
    # the SIREN of 404.yaml, another year: 404.yaml is closest (one value differs) but is no near miss
    other_year = get("/v3/dgfip/unites_legales/526973144/liasses_fiscales/2022", TRACKING, bearer())
    assert other_year.header(b"x-sandbox-near-miss") == f"{LIASSES_FOLDER}/200-reel-normal-2023.yaml"


def _openapi_particulier(paths: dict[str, str]) -> dict[str, Any]:
    """An OpenAPI document with one GET operation per path (operation id by path)."""
    operations = {
        path: {"get": {"summary": operation_id, "responses": {"200": {"x-operationId": operation_id}}}}
        for path, operation_id in paths.items()
    }
    return {"openapi": "3.0.3", "info": {"title": "API Particulier", "version": "1"}, "paths": operations}


def test_the_answer_names_the_operation_of_the_path_whatever_the_answer(tmp_path: Path) -> None:
    """A repository may still document a gone route (the v1 quotient familial route keeps cases in the
    public repository) or a meta route's path: the gone or meta answer wins, the operation is named."""
    paths = {
        "/api/v2/composition-familiale": "api_particulier_v2_cnaf_composition_familiale",
        "/api/introspect": "api_particulier_v2_demo_introspect",
    }
    (tmp_path / "openapi").mkdir()
    (tmp_path / "openapi" / "extra.yaml").write_text(yaml.safe_dump(_openapi_particulier(paths)), encoding="utf-8")
    snap = _layered(tmp_path, MatchMode.DOCUMENTED)
    for path, operation_id in paths.items():
        request = IncomingRequest("GET", path, b"", {"host": "", "x-api-key": token()})
        answered = answer(snap, request, Services(fixed_today=TODAY))
        assert (answered.operation_id, answered.outcome) == (
            operation_id,
            "gone" if "composition" in path else "meta",
        )


# -- the production profile (docs/scenarios.md) and `Prefer` after a reload ----------------------------------


def test_the_production_profile_cuts_a_200_body_to_the_caller_s_scopes() -> None:
    """QF v2 in production: `quotientFamilial`, `mois`, `annee` need cnaf_quotient_familial,
    `allocataires` cnaf_allocataires, `enfants` cnaf_enfants, `adresse` cnaf_adresse; `regime` never."""
    services = Services(fixed_today=TODAY, scenarios=Scenarios(profile="production"))
    key = {"x-api-key": mint(SECRET, ["quotient_familial", "cnaf_quotient_familial"])}
    served = get(QF_V2, QF_V2_CASE, key, services)
    assert served.status == 200 and sorted(body(served)) == ["annee", "mois", "quotientFamilial"]
    whole = get(QF_V2, QF_V2_CASE, key)  # the staging profile: the payload whole
    assert {"allocataires", "enfants", "regime"} <= set(body(whole))
    refused = get(QF_V2, QF_V2_CASE + "&recipient=123", key, services)  # other answers are never cut
    assert body(refused) == {"error": "bad_request", "reason": NOT_A_SIRET, "message": NOT_A_SIRET}


def test_prefer_case_answers_from_the_snapshot_being_served(tmp_path: Path) -> None:
    services = Services(fixed_today=TODAY)
    prefer = parse_prefer(["case=administration-siren-par-defaut"])

    def forced(snap: Snapshot) -> Any:
        request = IncomingRequest(
            "GET", UNITES_LEGALES, TRACKING.encode(), {"host": "", **bearer()}, preferences=prefer
        )
        return body(answer(snap, request, services).prepared)

    assert forced(snapshot())["data"]["siren"] == "130025265"
    folder = tmp_path / "payloads" / "api_entreprise_v3_insee_unites_legales"
    _case(folder, "administration-siren-par-defaut", {"siren": "130025265"}, '{"data": {"reloaded": true}}')
    assert forced(_layered(tmp_path, MatchMode.DOCUMENTED)) == {"data": {"reloaded": True}}


def test_in_token_mode_a_blank_bearer_is_not_counted_even_beside_a_valid_api_key() -> None:
    """Rack::Attack keys on the raw token it extracts: a blank `Authorization: Bearer` gives none (§11.4),
    though the middleware resolves the user from X-Api-Key; keyed on the jti, the request is counted."""
    clock = FakeClock(1_800_000_000.25)
    headers = {"authorization": "Bearer ", "x-api-key": token()}
    query = f"{RECIPIENT}&ine=1234567890A"
    for key, limited in (("token", False), ("jti", True)):
        limiter = RateLimiter(snapshot().throttles, clock=clock)
        services = Services(limiter=limiter, rate_limit_key=key, clock=clock, fixed_today=TODAY)
        answers = [get(INE, query, headers, services) for _ in range(21)]
        assert (answers[-1].status == 429) is limited, key
        assert (answers[0].header(b"ratelimit-limit") is not None) is limited, key
