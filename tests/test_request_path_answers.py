"""What `sandbox.serve.pipeline.answer` gives before the gates, in process: meta routes, gone routes,
unknown paths, methods and hosts (spec §1.5, §11.1, §11.2, §11.8). Expected texts written out.
"""

from __future__ import annotations

import json

from sandbox.serve.pipeline import Answer, IncomingRequest, Services, answer
from tests.request_path import TODAY, TRACKING, all_scopes, bearer, snapshot, token

LIASSES = "/v3/dgfip/unites_legales/130025265/liasses_fiscales/2024"
LIASSES_ID = "api_entreprise_v3_dgfip_liasses_fiscales"
NOT_FOUND_ENTREPRISE = "Cette URL n'existe pas sur API entreprise, veuillez vérifier votre URL."
NOT_FOUND_PARTICULIER = "Cette URL n'existe pas sur API particulier, veuillez vérifier votre URL."
V2_GONE = (
    "Cette URL n'existe plus sur API entreprise depuis le 15/11/2023, veuillez migrer sur la version 3 "
    "d'API Entreprise. Plus d'infos ici: https://entreprise.api.gouv.fr/developpeurs/guide-migration"
)
ACTES_GONE = (
    "Cette route a été déplacée. Merci de mettre à jour votre application vers la nouvelle route. Vous pouvez "
    "consulter la documentation à l'adresse suivante: https://entreprise.api.gouv.fr/catalogue/inpi/rne/actes_bilans"
)
PARTICULIER = {"host": "particulier.api.gouv.fr"}
ENTREPRISE = {"host": "entreprise.api.gouv.fr"}


def ask(method: str, path: str, query: str = "", headers: dict[str, str] | None = None) -> Answer:
    request = IncomingRequest(method, path, query.encode(), {"host": "", **(headers or {})})
    return answer(snapshot(), request, Services(fixed_today=TODAY))


def text(answered: Answer) -> tuple[int, str | None, str, str]:
    prepared = answered.prepared
    return prepared.status, answered.operation_id, answered.outcome, prepared.body.decode()


def content_type(answered: Answer) -> str | None:
    return dict(answered.prepared.headers).get(b"content-type", b"").decode() or None


def test_an_unknown_path_names_the_api_of_the_host_or_of_the_path() -> None:
    assert text(ask("GET", "/v3/nothing")) == (404, None, "unknown-path", NOT_FOUND_ENTREPRISE)
    assert text(ask("GET", "/api/nothing")) == (404, None, "unknown-path", NOT_FOUND_PARTICULIER)
    assert text(ask("GET", "/v3/nothing", headers=PARTICULIER)) == (404, None, "unknown-path", NOT_FOUND_PARTICULIER)
    assert text(ask("GET", "/api/nothing", headers=ENTREPRISE)) == (404, None, "unknown-path", NOT_FOUND_ENTREPRISE)
    assert content_type(ask("GET", "/v3/nothing")) == "text/plain; charset=utf-8"


def test_a_route_of_the_other_api_is_unknown_on_a_host() -> None:
    qf = "/api/v2/composition-familiale-v2"
    assert text(ask("GET", qf, headers={**ENTREPRISE, **bearer()})) == (404, None, "unknown-path", NOT_FOUND_ENTREPRISE)
    assert ask("GET", qf, headers={**PARTICULIER, **bearer()}).prepared.status != 404


def test_a_served_path_under_another_method_is_unknown_but_names_its_operation() -> None:
    posted = ask("POST", LIASSES, TRACKING, bearer())
    assert text(posted) == (404, LIASSES_ID, "unknown-path", NOT_FOUND_ENTREPRISE)


def test_head_is_answered_as_get() -> None:
    got, head = ask("GET", LIASSES, TRACKING, bearer()), ask("HEAD", LIASSES, TRACKING, bearer())
    assert head.prepared.status == got.prepared.status == 200
    assert head.operation_id == LIASSES_ID and head.prepared.body == got.prepared.body


def test_a_version_miss_names_the_family_operation() -> None:
    missed = ask("GET", LIASSES.replace("/v3/", "/v9/"), TRACKING, bearer())
    assert (missed.prepared.status, missed.operation_id, missed.outcome) == (404, LIASSES_ID, "unsupported-version")


def test_gone_routes_answer_410_with_their_text() -> None:
    assert text(ask("GET", "/v2/entreprises/130025265")) == (410, None, "gone", V2_GONE)
    assert content_type(ask("GET", "/v2/entreprises/130025265")) == "text/plain; charset=utf-8"
    assert text(ask("POST", "/v2/entreprises/130025265")) == (410, None, "gone", V2_GONE)
    actes = ask("GET", "/v3/inpi/unites_legales/130025265/actes")
    assert text(actes) == (410, None, "gone", ACTES_GONE) and content_type(actes) is None


def test_a_gone_route_is_gone_only_for_its_methods_and_on_its_host() -> None:
    posted = ask("POST", "/v3/inpi/unites_legales/130025265/actes")
    assert text(posted) == (404, None, "unknown-path", NOT_FOUND_ENTREPRISE)
    on_particulier = ask("GET", "/v2/entreprises/130025265", headers=PARTICULIER)
    assert text(on_particulier) == (404, None, "unknown-path", NOT_FOUND_PARTICULIER)


def test_pings_list_their_urls_on_the_request_host() -> None:
    listed = ask("GET", "/pings", headers={"host": "127.0.0.1:8080"})
    assert (listed.prepared.status, listed.operation_id, listed.outcome) == (200, None, "meta")
    assert json.loads(listed.prepared.body)[0] == {
        "name": "INSEE - Sirene",
        "url": "http://127.0.0.1:8080/ping/insee/sirene",
    }
    particulier = json.loads(ask("GET", "/api/pings", headers={"host": "127.0.0.1:8080"}).prepared.body)
    assert particulier[0] == {
        "name": "ANTS - Extrait Immatriculation Vehicule",
        "url": "http://127.0.0.1:8080/api/ants/ping",
    }


def test_privileges_read_the_token_of_the_header_or_the_query() -> None:
    by_header = ask("GET", "/v2/privileges", headers=bearer())
    assert (by_header.prepared.status, by_header.outcome) == (200, "meta")
    assert json.loads(by_header.prepared.body) == {"data": {"privileges": all_scopes()}}
    by_query = ask("GET", "/v2/privileges", f"token={token()}")
    assert json.loads(by_query.prepared.body) == {"data": {"privileges": all_scopes()}}
    assert ask("GET", "/v2/privileges").prepared.status == 401
