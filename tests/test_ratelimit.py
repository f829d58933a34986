"""Rate limiting (spec §7): fixed epoch-aligned windows, groups, headers and 429 bodies.

Every test drives the limiter with an injected clock: nothing sleeps.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import yaml

from sandbox.rules.rendering import encode_json
from sandbox.rules.throttles import ThrottleGroup, normalise_operation_id, throttle_groups
from sandbox.serve.ratelimit import RateDecision, RateLimiter, discriminator, too_many_requests_body
from tests.clock import FakeClock
from tests.conftest import SHARED_FIXTURES

REAL_THROTTLE = SHARED_FIXTURES / "apistration_mocks" / "data" / "throttle.yml"
OPENAPI_FILES = SHARED_FIXTURES / "siade_staging_data" / "openapi_files"

TOKEN = discriminator("00000000-0000-0000-0000-000000000000", None)
OTHER_TOKEN = discriminator("11111111-1111-1111-1111-111111111111", None)

QF = "api_particulier_v3_cnav_quotient_familial_with_civility"
CNOUS_V3 = "api_particulier_v3_cnous_etudiant_boursier_with_civility"
CNOUS_V4 = "api_particulier_v4_cnous_etudiant_boursier_with_civility"
MEN_V3 = "api_particulier_v3_men_scolarites_with_civility"
MEN_V4 = "api_particulier_v4_men_scolarites_with_civility"
MEN_V5 = "api_particulier_v5_men_scolarites_with_civility"
INSEE_UL = "api_entreprise_v3_insee_unites_legales"
INSEE_ETAB = "api_entreprise_v3_insee_etablissements"
ATTESTATION_FISCALE_V3 = "api_entreprise_v3_dgfip_attestations_fiscales"
ATTESTATION_FISCALE_V4 = "api_entreprise_v4_dgfip_attestations_fiscales"
CIBTP = "api_entreprise_v3_cibtp_attestation_cotisations_conges_payes_chomage_intemperies"
V2_OPERATION = "api_particulier_v2_cnav_quotient_familial_v2"


def group(name: str, *endpoints: str, limit: int, period: int, per_endpoint: bool = False) -> ThrottleGroup:
    return ThrottleGroup(name=name, per_endpoint=per_endpoint, endpoints=endpoints, limit=limit, period=period)


def header_map(decision: RateDecision) -> dict[bytes, bytes]:
    return dict(decision.headers)


def run(limiter: RateLimiter, operation_id: str, times: int, who: str = TOKEN) -> list[RateDecision]:
    return [limiter.check(operation_id, who) for _ in range(times)]


# ------------------------------------------------------------------------ limit and window


def test_limit_requests_pass_and_the_next_gets_429_with_exact_headers() -> None:
    clock = FakeClock(1_000_010.5)  # 60 s windows aligned on the epoch: this one is [999_960, 1_000_020)
    limiter = RateLimiter([group("docs", INSEE_UL, limit=3, period=60)], clock)

    passed = run(limiter, INSEE_UL, 3)
    refused = limiter.check(INSEE_UL, TOKEN)

    assert [d.allowed for d in passed] == [True, True, True]
    assert refused.allowed is False
    window_end = (1_000_010 // 60 + 1) * 60
    assert window_end == 1_000_020
    assert refused.headers == (
        (b"ratelimit-limit", b"3"),
        (b"ratelimit-remaining", b"0"),
        (b"ratelimit-reset", b"1000020"),
        (b"retry-after", b"10"),
    )
    assert (refused.limit, refused.remaining, refused.reset, refused.retry_after) == (3, 0, 1_000_020, 10)
    # Still refused for the rest of the window, with a shrinking Retry-After.
    clock.now = 1_000_019.99
    again = limiter.check(INSEE_UL, TOKEN)
    assert again.allowed is False
    assert header_map(again)[b"retry-after"] == b"1"


def test_the_default_particulier_group_lets_20_requests_per_second_through() -> None:
    limiter = RateLimiter(throttle_groups(None), FakeClock(1_700_000_000.25))
    decisions = run(limiter, QF, 21)
    assert all(d.allowed for d in decisions[:20])
    assert decisions[20].allowed is False
    assert header_map(decisions[20]) == {
        b"ratelimit-limit": b"20",
        b"ratelimit-remaining": b"0",
        b"ratelimit-reset": b"1700000001",
        b"retry-after": b"1",
    }


def test_window_roll_over_resets_the_counter() -> None:
    clock = FakeClock(119.0)
    limiter = RateLimiter([group("g", INSEE_UL, limit=2, period=60)], clock)
    assert [d.allowed for d in run(limiter, INSEE_UL, 3)] == [True, True, False]

    clock.now = 120.0  # a new epoch-aligned window starts at 120, one second later
    fresh = limiter.check(INSEE_UL, TOKEN)
    assert fresh.allowed is True
    assert header_map(fresh) == {b"ratelimit-limit": b"2", b"ratelimit-remaining": b"1", b"ratelimit-reset": b"180"}


def test_windows_are_aligned_to_the_epoch_not_to_the_first_request() -> None:
    clock = FakeClock(59.5)
    limiter = RateLimiter([group("g", INSEE_UL, limit=1, period=60)], clock)
    assert limiter.check(INSEE_UL, TOKEN).reset == 60
    clock.now = 60.0
    assert limiter.check(INSEE_UL, TOKEN).allowed is True


def test_refused_requests_keep_counting_within_the_window() -> None:
    limiter = RateLimiter([group("g", INSEE_UL, limit=1, period=60)], FakeClock(0.0))
    assert [d.allowed for d in run(limiter, INSEE_UL, 4)] == [True, False, False, False]


# ------------------------------------------------------------------------ groups


def test_a_group_of_endpoints_shares_one_counter() -> None:
    limiter = RateLimiter([group("json", INSEE_UL, INSEE_ETAB, limit=3, period=60)], FakeClock(10.0))
    assert limiter.check(INSEE_UL, TOKEN).remaining == 2
    assert limiter.check(INSEE_ETAB, TOKEN).remaining == 1
    assert limiter.check(INSEE_UL, TOKEN).remaining == 0
    assert limiter.check(INSEE_ETAB, TOKEN).allowed is False


def test_by_single_endpoint_keeps_one_counter_per_endpoint() -> None:
    groups = [group("high", ATTESTATION_FISCALE_V3, CIBTP, limit=2, period=60, per_endpoint=True)]
    limiter = RateLimiter(groups, FakeClock(10.0))
    assert [d.allowed for d in run(limiter, ATTESTATION_FISCALE_V3, 3)] == [True, True, False]
    cibtp = run(limiter, CIBTP, 3)
    assert [d.allowed for d in cibtp] == [True, True, False]
    assert [d.remaining for d in cibtp[:2]] == [1, 0]


def test_counters_are_per_discriminator() -> None:
    limiter = RateLimiter([group("g", INSEE_UL, limit=1, period=60)], FakeClock(10.0))
    assert limiter.check(INSEE_UL, TOKEN).allowed is True
    assert limiter.check(INSEE_UL, TOKEN).allowed is False
    assert limiter.check(INSEE_UL, OTHER_TOKEN).allowed is True


def test_operations_in_no_group_are_not_counted_and_get_no_headers() -> None:
    limiter = RateLimiter([group("g", INSEE_UL, limit=1, period=60)], FakeClock(10.0))
    for _ in range(5):
        decision = limiter.check("api_entreprise_vrivileges_", TOKEN)
        assert decision == RateDecision(allowed=True)
        assert decision.headers == ()


def test_fnmatch_patterns_in_endpoint_lists() -> None:
    limiter = RateLimiter([group("part", "api_particulier_v3_cnav_*", limit=2, period=1)], FakeClock(5.0))
    assert limiter.check(QF, TOKEN).remaining == 1
    assert limiter.check("api_particulier_v3_cnav_prime_activite_with_civility", TOKEN).remaining == 0
    assert limiter.check("api_particulier_v3_cnav_prime_activite_with_france_connect", TOKEN).allowed is False
    assert limiter.check(CNOUS_V3, TOKEN).headers == ()


# ------------------------------------------------------------------------ versions


@pytest.mark.parametrize(
    ("operation_id", "expected"),
    [
        (CNOUS_V4, CNOUS_V3),
        (MEN_V5, MEN_V3),
        ("api_entreprise_v4_insee_unites_legales", INSEE_UL),
        ("api_particulier_v12_x", "api_particulier_v3_x"),
        (INSEE_UL, INSEE_UL),
        (V2_OPERATION, V2_OPERATION),
        ("api_entreprise_inpi_proxy", "api_entreprise_inpi_proxy"),
        ("mcp", "mcp"),
    ],
)
def test_v3_and_later_operation_ids_normalise_to_v3(operation_id: str, expected: str) -> None:
    assert normalise_operation_id(operation_id) == expected


def test_v3_v4_and_v5_routes_share_the_counter_of_their_v3_entry() -> None:
    limiter = RateLimiter([group("part", CNOUS_V3, MEN_V3, limit=4, period=1)], FakeClock(5.0))
    assert [limiter.check(op, TOKEN).remaining for op in (CNOUS_V3, CNOUS_V4, MEN_V4)] == [3, 2, 1]
    assert limiter.check(MEN_V5, TOKEN).remaining == 0
    assert limiter.check(CNOUS_V4, TOKEN).allowed is False


def test_v3_and_v4_share_a_per_endpoint_counter() -> None:
    groups = [group("high", ATTESTATION_FISCALE_V3, CIBTP, limit=2, period=60, per_endpoint=True)]
    limiter = RateLimiter(groups, FakeClock(5.0))
    assert limiter.check(ATTESTATION_FISCALE_V3, TOKEN).remaining == 1
    assert limiter.check(ATTESTATION_FISCALE_V4, TOKEN).remaining == 0
    assert limiter.check(ATTESTATION_FISCALE_V4, TOKEN).allowed is False
    assert limiter.check(CIBTP, TOKEN).remaining == 1


def test_a_v4_id_written_in_the_throttle_file_also_covers_v3() -> None:
    limiter = RateLimiter([group("g", ATTESTATION_FISCALE_V4, limit=1, period=60)], FakeClock(5.0))
    assert limiter.check(ATTESTATION_FISCALE_V3, TOKEN).allowed is True
    assert limiter.check(ATTESTATION_FISCALE_V4, TOKEN).allowed is False


def test_particulier_v2_operations_are_not_in_the_v3_group() -> None:
    limiter = RateLimiter(throttle_groups(None), FakeClock(5.0))
    assert all(d == RateDecision(allowed=True) for d in run(limiter, V2_OPERATION, 30))


# ------------------------------------------------------------------------ headers


def test_normal_responses_carry_ratelimit_headers() -> None:
    limiter = RateLimiter([group("g", INSEE_UL, limit=250, period=60)], FakeClock(1_700_000_030.0))
    first = limiter.check(INSEE_UL, TOKEN)
    second = limiter.check(INSEE_UL, TOKEN)
    assert first.allowed is True
    assert first.headers == (
        (b"ratelimit-limit", b"250"),
        (b"ratelimit-remaining", b"249"),
        (b"ratelimit-reset", b"1700000040"),
    )
    assert (first.limit, first.remaining, first.reset, first.retry_after) == (250, 249, 1_700_000_040, None)
    assert header_map(second)[b"ratelimit-remaining"] == b"248"
    assert all(name == name.lower() for name, _ in first.headers)


def test_two_throttles_counting_one_request_give_no_headers() -> None:
    groups = [
        group("a", INSEE_UL, limit=3, period=60),
        group("b", "api_entreprise_v3_insee_*", limit=10, period=60),
    ]
    limiter = RateLimiter(groups, FakeClock(10.0))
    counted_twice = run(limiter, INSEE_UL, 3)
    assert all(d == RateDecision(allowed=True) for d in counted_twice)
    # Past the first limit the request is refused, with the refusing throttle's headers.
    refused = limiter.check(INSEE_UL, TOKEN)
    assert refused.allowed is False
    assert header_map(refused)[b"ratelimit-limit"] == b"3"
    # An operation only in group b gets b's headers.
    assert limiter.check(INSEE_ETAB, TOKEN).limit == 10


def test_a_refusing_throttle_stops_the_later_ones_from_counting() -> None:
    groups = [
        group("a", INSEE_UL, limit=1, period=60),
        group("b", INSEE_UL, INSEE_ETAB, limit=10, period=60),
    ]
    limiter = RateLimiter(groups, FakeClock(10.0))
    run(limiter, INSEE_UL, 4)  # b counts the first only: the next three are refused by a
    assert limiter.check(INSEE_ETAB, TOKEN).remaining == 8


# ------------------------------------------------------------------------ Particulier v2 global limit


def test_the_v2_global_limit_is_20_per_second_per_api_key() -> None:
    clock = FakeClock(1_700_000_000.5)
    limiter = RateLimiter(throttle_groups(None), clock)
    decisions = [limiter.check(V2_OPERATION, TOKEN, v2_api_key="key-a") for _ in range(21)]
    assert all(d.allowed for d in decisions[:20])
    assert header_map(decisions[0]) == {
        b"ratelimit-limit": b"20",
        b"ratelimit-remaining": b"19",
        b"ratelimit-reset": b"1700000001",
    }
    assert decisions[20].allowed is False
    assert decisions[20].retry_after == 1
    # Keyed on the API key, not on the discriminator.
    assert limiter.check(V2_OPERATION, TOKEN, v2_api_key="key-b").allowed is True
    assert limiter.check(V2_OPERATION, OTHER_TOKEN, v2_api_key="key-a").allowed is False
    # Without an X-Api-Key (or with a blank one) the v2 limit does not apply.
    assert limiter.check(V2_OPERATION, TOKEN).headers == ()
    assert limiter.check(V2_OPERATION, TOKEN, v2_api_key=" ").headers == ()
    clock.now = 1_700_000_001.0
    assert limiter.check(V2_OPERATION, TOKEN, v2_api_key="key-a").remaining == 19


def test_the_v2_limit_is_configurable_and_counts_as_one_throttle() -> None:
    groups = [group("g", V2_OPERATION, limit=10, period=60)]
    limiter = RateLimiter(groups, FakeClock(5.0), v2_limit=(2, 1))
    # v2 limit + group: two throttles, no headers.
    assert limiter.check(V2_OPERATION, TOKEN, v2_api_key="k") == RateDecision(allowed=True)
    assert limiter.check(V2_OPERATION, TOKEN, v2_api_key="k").allowed is True
    refused = limiter.check(V2_OPERATION, TOKEN, v2_api_key="k")
    assert (refused.allowed, refused.limit, refused.reset) == (False, 2, 6)


# ------------------------------------------------------------------------ memory


def test_memory_stays_bounded_over_100000_discriminators_and_many_windows() -> None:
    clock = FakeClock(1_700_000_000.0)
    groups = [
        group("per_second", QF, limit=20, period=1),
        group("per_minute", INSEE_UL, limit=250, period=60, per_endpoint=True),
    ]
    limiter = RateLimiter(groups, clock)
    largest = 0
    for n in range(100_000):
        if n % 500 == 0:
            clock.now += 60.0  # 200 windows of every period
        who = discriminator(None, f"token-{n}")
        limiter.check(QF, who)
        limiter.check(INSEE_UL, who)
        limiter.check("api_particulier_v2_x", who, v2_api_key=f"key-{n}")
        largest = max(largest, limiter.counter_count)
    # Only the current window is held: 500 discriminators x 3 throttles, not 300 000 counters.
    assert largest <= 3 * 500
    clock.now += 120.0
    limiter.check(QF, TOKEN)
    assert limiter.counter_count == 1


def test_counters_of_one_window_are_capped() -> None:
    limiter = RateLimiter([group("g", INSEE_UL, limit=5, period=3_600)], FakeClock(10.0))
    limiter.max_counters = 1_000
    for n in range(10_000):
        limiter.check(INSEE_UL, str(n))
    assert limiter.counter_count == 1_000


# ------------------------------------------------------------------------ groups from files


def test_builtin_defaults_are_the_groups_of_the_spec() -> None:
    groups = {g.name: g for g in throttle_groups(None)}
    assert {name: (g.per_endpoint, g.limit, g.period) for name, g in groups.items()} == {
        "low_latency_documents": (False, 50, 60),
        "high_latency_documents": (True, 5, 60),
        "json_resources_entreprise": (False, 250, 60),
        "json_resources_particulier": (False, 20, 1),
        "inpi_rne": (True, 15, 60),
        "urssaf_attestation_sociales": (True, 100, 60),
        "proxied_files": (True, 50, 60),
        "gip_mds": (False, 50, 60),
        "mcp": (True, 100, 60),
    }
    assert groups["json_resources_particulier"].endpoints == ("api_particulier_v3_*",)
    assert len(groups["json_resources_entreprise"].endpoints) == 29


def test_an_empty_shared_mapping_means_no_throttle() -> None:
    assert throttle_groups({}) == ()


def test_malformed_groups_are_skipped_and_the_others_kept() -> None:
    shared: dict[str, Any] = {
        "ok": {"throttle_type": "by_single_endpoint", "endpoints": ["a"], "limit": 1, "period": 60},
        "no_type": {"endpoints": ["b"], "limit": 2, "period": 1},
        "bad_type": {"throttle_type": "by_planet", "endpoints": ["c"], "limit": 1, "period": 1},
        "no_endpoints": {"limit": 1, "period": 1},
        "bad_limit": {"endpoints": ["d"], "limit": "many", "period": 1},
        "zero_period": {"endpoints": ["e"], "limit": 1, "period": 0},
        "not_a_mapping": ["x"],
    }
    assert throttle_groups(shared) == (
        ThrottleGroup(name="ok", per_endpoint=True, endpoints=("a",), limit=1, period=60),
        ThrottleGroup(name="no_type", per_endpoint=False, endpoints=("b",), limit=2, period=1),
    )


def _openapi_operation_ids() -> list[str]:
    ids: list[str] = []
    for name in ("api_entreprise.yaml", "api_particulier.yaml"):
        document = yaml.load((OPENAPI_FILES / name).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        for item in document["paths"].values():
            for operation in item.values():
                response = operation.get("responses", {}).get("200", {}) if isinstance(operation, dict) else {}
                if isinstance(response, dict) and "x-operationId" in response:
                    ids.append(response["x-operationId"])
    return ids


def test_every_real_v3_operation_is_in_exactly_one_default_group() -> None:
    if not OPENAPI_FILES.is_dir():
        pytest.skip(f"real OpenAPI files not available at {OPENAPI_FILES} (../shared/fixtures beside the clone)")
    limiter = RateLimiter(throttle_groups(None), FakeClock(5.0))
    ids = [i for i in _openapi_operation_ids() if i != "api_entreprise_vrivileges_"]
    assert len(ids) > 80
    for operation_id in ids:
        # One fresh token per operation; `limit` is set only when exactly one throttle counted.
        decision = limiter.check(operation_id, discriminator(None, operation_id))
        assert decision.allowed and decision.limit is not None, operation_id


def test_the_real_throttle_file_of_apistration_mocks_parses() -> None:
    if not REAL_THROTTLE.is_file():
        pytest.skip(f"real throttle file not available at {REAL_THROTTLE} (../shared/fixtures beside the clone)")
    shared = yaml.safe_load(REAL_THROTTLE.read_text(encoding="utf-8"))["shared"]
    groups = {g.name: g for g in throttle_groups(shared)}
    assert list(groups) == list(shared)
    particulier = groups["json_resources_particulier"]
    assert (particulier.per_endpoint, particulier.limit, particulier.period) == (False, 20, 1)
    assert len(particulier.endpoints) == 31
    assert groups["high_latency_documents"].per_endpoint is True
    assert groups["inpi_rne"] == ThrottleGroup(
        name="inpi_rne",
        per_endpoint=True,
        endpoints=(
            "api_entreprise_v3_inpi_rne_extrait_rne",
            "api_entreprise_v3_inpi_rne_beneficiaires_effectifs",
            "api_entreprise_v3_inpi_rne_beneficiaires_effectifs_open_data",
            "api_entreprise_v3_inpi_rne_actes_bilans",
        ),
        limit=15,
        period=60,
    )
    # Its v3 ids throttle the v4 and v5 routes too, and they agree with the built-in defaults.
    limiter = RateLimiter(tuple(groups.values()), FakeClock(1_700_000_000.0))
    decisions = [limiter.check(op, TOKEN) for op in (CNOUS_V3, CNOUS_V4, MEN_V5) * 7]
    assert [d.allowed for d in decisions] == [True] * 20 + [False]
    defaults = {g.name: g for g in throttle_groups(None)}
    for name, real in groups.items():
        assert (real.per_endpoint, real.limit, real.period) == (
            defaults[name].per_endpoint,
            defaults[name].limit,
            defaults[name].period,
        )
        if name != "json_resources_particulier":
            assert set(real.endpoints) == set(defaults[name].endpoints), name


# ------------------------------------------------------------------------ discriminator and bodies


def test_discriminator_is_sha256_of_jti_else_raw_token_else_empty() -> None:
    jti = "00000000-0000-0000-0000-000000000000"
    assert discriminator(jti, "raw.jwt.token") == hashlib.sha256(jti.encode()).hexdigest()
    assert discriminator(None, "raw.jwt.token") == hashlib.sha256(b"raw.jwt.token").hexdigest()
    assert discriminator(None, None) == hashlib.sha256(b"").hexdigest()
    assert discriminator("", "") == hashlib.sha256(b"").hexdigest()


def test_too_many_requests_bodies_are_exact() -> None:
    json_api = too_many_requests_body(v2=False)
    flat = too_many_requests_body(v2=True)
    assert (
        json_api
        == (
            '{"errors":[{"code":"00429","title":"Trop de requêtes","detail":"Vous avez effectué trop de requêtes",'
            '"meta":{}}]}'
        ).encode()
    )
    assert flat == '{"errors":["Vous avez effectué trop de requêtes"]}'.encode()
    assert json_api == encode_json(
        {
            "errors": [
                {
                    "code": "00429",
                    "title": "Trop de requêtes",
                    "detail": "Vous avez effectué trop de requêtes",
                    "meta": {},
                }
            ]
        }
    )
    assert flat == encode_json({"errors": ["Vous avez effectué trop de requêtes"]})
    assert json.loads(flat) == {"errors": ["Vous avez effectué trop de requêtes"]}
