"""What a request carries besides its parameters (spec §3.4, §3.6, §3.8, §11.8): its body and
Content-Type, its X-Request-Id, the time it arrives. One test per rule, both match modes."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandbox.rules.matching import MatchMode
from sandbox.serve.pipeline import Services
from sandbox.serve.request_limits import RequestLimits
from tests.clock import FakeClock
from tests.fidelity_support import (
    JSON,
    MODES,
    QF_V2,
    QF_V3,
    RECIPIENT,
    TOKEN,
    TRACKING,
    UNITE_LEGALE,
    bearer,
    errors_of,
    served,
)

BAD_TYPE = "var://service/original-content-type"  # siade's own spec of this rule uses it
QF_V3_CASE = {  # the embedded case 200-cnaf-parent-seul-2-enfants.yaml
    **RECIPIENT,
    "nomNaissance": "MARTIN",
    "prenoms[]": ["Camille", "Louise"],
    "anneeDateNaissance": "1988",
    "moisDateNaissance": "3",
    "jourDateNaissance": "21",
    "sexeEtatCivil": "F",
    "codeCogInseePaysNaissance": "99100",
    "codeCogInseeCommuneNaissance": "75056",
}
QF_V3_CASE_ID = "api_particulier_v3_cnav_quotient_familial_with_civility/200-cnaf-parent-seul-2-enfants.yaml"


JSON_BODY = {**bearer(), "Content-Type": "application/json"}


def bad_request(detail: str) -> list[dict[str, object]]:
    return [{"code": "00401", "title": "Mauvaise requête", "detail": detail, "meta": {}}]


@pytest.fixture(scope="module", params=MODES, ids=[m.value for m in MODES])
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    services = Services(fixed_today=datetime.date(2026, 4, 28), limits=RequestLimits(max_body_bytes=64 * 1024))
    with served(request.param, services=services) as http:
        yield http


# -- §3.6 requests Rails cannot read -----------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, bearer()], ids=["no token", "valid token"])
def test_3_6_an_unparsable_content_type_is_400_00401_before_the_token_check(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    response = client.get(UNITE_LEGALE, params=TRACKING, headers={**headers, "Content-Type": BAD_TYPE})
    assert response.status_code == 400
    assert response.headers["content-type"] == JSON
    assert "x-response-cached" not in response.headers
    assert errors_of(response) == bad_request(
        'Votre requête est invalide: "var://service/original-content-type" is not a valid MIME type'
    )


def test_3_6_the_content_type_is_read_up_to_its_first_semicolon_lower_cased(client: httpx.Client) -> None:
    fine = client.get(UNITE_LEGALE, params=TRACKING, headers={**bearer(), "Content-Type": "TEXT/Plain; garbage=="})
    assert fine.status_code == 200
    refused = client.get(UNITE_LEGALE, params=TRACKING, headers={**bearer(), "Content-Type": "Foo ; charset=utf-8"})
    assert refused.status_code == 400
    assert errors_of(refused) == bad_request('Votre requête est invalide: "foo" is not a valid MIME type')


def test_3_6_on_particulier_v2_the_bad_request_is_flat(client: httpx.Client) -> None:
    response = client.get(QF_V2, params={"nomNaissance": "X"}, headers={"X-Api-Key": TOKEN, "Content-Type": "foo"})
    assert response.status_code == 400
    assert response.json() == {"errors": ['Votre requête est invalide: "foo" is not a valid MIME type']}


def test_3_6_a_json_body_that_does_not_parse_is_400_00401(client: httpx.Client) -> None:
    """Fidelity row: Requests Rails cannot read. Real staging answers Rails' exception page here."""
    response = client.request(
        "GET",
        UNITE_LEGALE,
        params=TRACKING,
        content=b'{"not": json',
        headers={**bearer(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert errors_of(response) == bad_request(
        "Votre requête est invalide: Error occurred while parsing request parameters"
    )


def test_3_6_a_body_that_parses_or_that_rails_does_not_read_is_ignored(client: httpx.Client) -> None:
    parsed = client.request(
        "GET",
        UNITE_LEGALE,
        params=TRACKING,
        content=b'{"a": [1, 2]}',
        headers={**bearer(), "Content-Type": "application/json"},
    )
    unread = client.request(
        "GET", UNITE_LEGALE, params=TRACKING, content=b"{garbage", headers={**bearer(), "Content-Type": "text/plain"}
    )
    assert parsed.status_code == unread.status_code == 200


def test_3_6_privileges_and_introspection_refuse_it_too_pings_do_not(client: httpx.Client) -> None:
    privileges = client.get("/v2/privileges", headers={**bearer(), "Content-Type": "foo"})
    assert privileges.status_code == 400 and errors_of(privileges)[0]["code"] == "00401"
    introspect = client.get("/api/introspect", headers={"X-Api-Key": TOKEN, "Content-Type": "foo"})
    assert introspect.status_code == 400
    assert introspect.json() == {"errors": ['Votre requête est invalide: "foo" is not a valid MIME type']}
    assert client.get("/ping/insee/sirene", headers={"Content-Type": "foo"}).status_code == 200


def test_3_6_a_body_over_the_limit_is_413_unread(client: httpx.Client) -> None:
    response = client.request(
        "GET",
        UNITE_LEGALE,
        params=TRACKING,
        content=b"[" + b"1," * 40_000 + b"1]",
        headers={**bearer(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.text == "413 Payload Too Large: the body is over 65536 bytes\n"


# -- §3.4 / §11.8 X-Request-Id ---------------------------------------------------------------------


def test_11_8_x_request_id_is_sanitised_before_the_00401_check(client: httpx.Client) -> None:
    uuid = "9f6d1c2e-4b1a-4c7e-9d2f-1a2b3c4d5e6f"
    for header in (uuid, uuid + "!", "<" + uuid + ">", uuid[:8] + " " + uuid[8:]):
        response = client.get(QF_V3, params=QF_V3_CASE, headers={**bearer(), "X-Request-Id": header})
        assert response.status_code == 200, header
        assert response.headers["x-sandbox-case"] == QF_V3_CASE_ID


@pytest.mark.parametrize("header", ["not-a-uuid", "!!!", "9f6d1c2e-4b1a-4c7e-9d2f-1a2b3c4d5e6f-x"])
def test_3_4_a_request_id_that_is_no_uuid_is_422_00401_on_cnav(client: httpx.Client, header: str) -> None:
    response = client.get(QF_V3, params=QF_V3_CASE, headers={**bearer(), "X-Request-Id": header})
    assert response.status_code == 422
    assert errors_of(response) == [
        {
            "code": "00401",
            "title": "Entité non traitable",
            "detail": "Le request_id n'est pas correctement formaté",
            "meta": {},
        }
    ]


# -- §3.8 / §11.8 maintenance windows ----------------------------------------------------------------

LIASSES = "/v3/dgfip/unites_legales/912345675/liasses_fiscales/2024"


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_11_8_maintenance_windows_end_inclusively(mode: MatchMode) -> None:
    """Fidelity row: Maintenance windows. DGFIP 01:00–02:00 Paris: `Range#cover?` takes in 02:00:00
    itself, not a second later."""

    def paris(hour: int, minute: int, second: int) -> float:
        return datetime.datetime(2026, 4, 28, hour, minute, second, tzinfo=ZoneInfo("Europe/Paris")).timestamp()

    clock = FakeClock(paris(0, 59, 59))
    services = Services(maintenance=True, clock=clock, fixed_today=datetime.date(2026, 4, 28))
    statuses: dict[str, tuple[int, object]] = {}
    with served(mode, services=services) as http:
        for label, moment in (
            ("00:59:59", paris(0, 59, 59)),
            ("01:00:00", paris(1, 0, 0)),
            ("02:00:00", paris(2, 0, 0)),
            ("02:00:01", paris(2, 0, 1)),
        ):
            clock.now = moment
            response = http.get(LIASSES, params=TRACKING, headers=bearer())
            meta = errors_of(response)[0]["meta"] if response.status_code == 503 else None
            statuses[label] = (response.status_code, meta)
    retry = {"provider": "DGFIP - Adélie"}
    assert statuses == {
        "00:59:59": (200, None),
        "01:00:00": (503, {**retry, "retry_in": 3600}),
        "02:00:00": (503, {**retry, "retry_in": 0}),
        "02:00:01": (200, None),
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (b"nomNaissance=%ZZ", "invalid %-encoding (%ZZ)"),
        (b"nomNaissance=%FF%FE", "invalid byte sequence in UTF-8"),
        (b"prenoms=Jean&prenoms[]=Paul", "expected Array (got String) for param `prenoms'"),
    ],
    ids=["percent", "utf-8", "scalar-then-array"],
)
def test_3_6_a_query_string_rack_cannot_parse_is_400_00401(client: httpx.Client, query: bytes, message: str) -> None:
    """Fidelity row: Requests Rails cannot read. Real staging answers Rails' exception page here."""
    target = QF_V3 + "?recipient=13002526500013&" + query.decode("latin-1")
    response = client.get(target, headers=bearer())
    assert response.status_code == 400
    assert errors_of(response) == bad_request(f"Votre requête est invalide: Invalid query parameters: {message}")


def test_3_4_an_array_then_a_scalar_keeps_the_scalar(client: httpx.Client) -> None:
    """Rack: `k[]=…&k=…` is no error, the last (scalar) value stays: CNOUS then refuses `prenoms` (00421)."""
    target = "/v3/cnous/etudiant_boursier/identite?recipient=13002526500013&nomNaissance=X&prenoms[]=A&prenoms=B"
    response = client.get(target, headers=bearer())
    assert response.status_code == 422
    assert "00421" in [error["code"] for error in errors_of(response)]
