"""A known sequence of requests for the metrics tests, and what each of its answers must add to /metrics.

The repository is the tiny one with a throttle of limit 0 on one operation (every request to it
is refused with 429, whatever the process that counts it). What a request adds is read from
its answer (case, near miss) and from the kind of request (API, operation, outcome), so that
the tests compare the scrape with what the answers said.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from sandbox.rules.tokens import mint
from tests import tiny_repository

SECRET = "metrics-test-secret-at-least-32-bytes-long"
ENTREPRISE = "api_entreprise_v3_demo_unites_legales"
V2 = "api_particulier_v2_demo"
LIMITED = "api_particulier_v3_demo_with_identifiant"
TRACKING = {"recipient": "13002526500013", "context": "test", "object": "test"}
CLIENT_TIMEOUT_S = 30.0
# Counters checked sample by sample (the histogram's count is checked by API).
COUNTERS = (
    "sandbox_requests",
    "sandbox_fallbacks",
    "sandbox_near_misses",
    "sandbox_case_hits",
    "sandbox_rate_limited",
)


def build(root: Path) -> Path:
    tiny_repository.build(root)
    group = {"throttle_type": "by_single_endpoint", "endpoints": [LIMITED], "limit": 0, "period": 3600}
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "throttle.yml").write_text(yaml.safe_dump({"shared": {"closed": group}}))
    return root


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SECRET, [])}"}


@dataclass(frozen=True)
class Kind:
    name: str
    api: str
    operation: str
    outcome: str
    status: int
    path: str
    params: dict[str, str] = field(default_factory=dict)
    authorised: bool = True


KINDS = (
    Kind("entreprise hit", "entreprise", ENTREPRISE, "hit", 200, "/v3/demo/unites_legales/130025265", TRACKING),
    Kind("entreprise miss", "entreprise", ENTREPRISE, "fallback", 200, "/v3/demo/unites_legales/130025266", TRACKING),
    Kind("v2 hit", "particulier", V2, "hit", 200, "/api/v2/demo", {"identifiant": "1"}),
    Kind("v2 miss", "particulier", V2, "fallback", 404, "/api/v2/demo", {"identifiant": "2"}),
    Kind("no tracking", "entreprise", ENTREPRISE, "validation-error", 422, "/v3/demo/unites_legales/130025265"),
    Kind("no token", "entreprise", ENTREPRISE, "auth-error", 401, "/v3/demo/unites_legales/130025265", TRACKING, False),
    Kind("rate limited", "particulier", LIMITED, "rate-limited", 429, "/v3/demo/sans_404", {"identifiant": "1"}),
    Kind("unknown path", "none", "none", "unknown-path", 404, "/nowhere/at/all"),
)
# How many of each kind one run of the sequence sends.
SEQUENCE = {"entreprise hit": 3, "entreprise miss": 2, "v2 hit": 2, "v2 miss": 1, "no tracking": 1}
SEQUENCE |= {"no token": 2, "rate limited": 3, "unknown path": 1}

Key = tuple[str, tuple[tuple[str, str], ...]]


def sample_key(name: str, **labels: str) -> Key:
    return name, tuple(sorted(labels.items()))


@dataclass
class Expected:
    """What the answers of a sequence add to the counters, and to each API's request count."""

    counters: Counter[Key] = field(default_factory=Counter)
    by_api: Counter[str] = field(default_factory=Counter)

    def add(self, kind: Kind, response: httpx.Response) -> None:
        assert response.status_code == kind.status, (kind.name, response.status_code, response.text)
        labels = {"api": kind.api, "operation": kind.operation, "outcome": kind.outcome}
        self.counters[sample_key("sandbox_requests", **labels, status=str(kind.status))] += 1
        self.by_api[kind.api] += 1
        case = response.headers.get("x-sandbox-case")
        if kind.outcome == "hit":
            assert case and case not in ("default", "none"), case
            self.counters[sample_key("sandbox_case_hits", operation=kind.operation, case=case)] += 1
        if kind.outcome == "fallback":
            self.counters[sample_key("sandbox_fallbacks", operation=kind.operation)] += 1
        near = response.headers.get("x-sandbox-near-miss")
        if near:
            self.counters[sample_key("sandbox_near_misses", operation=kind.operation, case=near)] += 1
        if kind.outcome == "rate-limited":
            self.counters[sample_key("sandbox_rate_limited", operation=kind.operation)] += 1


def send(client: httpx.Client, kind: Kind, expected: Expected, **params: str) -> httpx.Response:
    headers = bearer() if kind.authorised else {}
    response = client.get(kind.path, params={**kind.params, **params}, headers=headers)
    expected.add(kind, response)
    return response


def run_sequence(client: httpx.Client, expected: Expected) -> None:
    for kind in KINDS:
        for _ in range(SEQUENCE[kind.name]):
            send(client, kind, expected)


def scrape(client: httpx.Client, **headers: str) -> dict[Key, float]:
    """Every sample of /metrics, parsed by prometheus_client's own parser."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def parse(text: str) -> dict[Key, float]:
    samples: dict[Key, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample_key(sample.name, **sample.labels)] = sample.value
    return samples


def counter_values(samples: dict[Key, float]) -> Counter[Key]:
    """The `_total` samples of the request counters, keyed like `Expected.counters` (zeros left out)."""
    found: Counter[Key] = Counter()
    for (name, labels), value in samples.items():
        base = name.removesuffix("_total")
        if name.endswith("_total") and base in COUNTERS and value:
            found[(base, labels)] = int(value)
    return found


def durations_by_api(samples: dict[Key, float]) -> Counter[str]:
    return Counter(
        {
            dict(labels)["api"]: int(value)
            for (name, labels), value in samples.items()
            if name == "sandbox_request_duration_seconds_count"
        }
    )


def series(samples: Iterable[Key]) -> int:
    return len([key for key in samples if key[0].startswith("sandbox_")])


def one(samples: dict[Key, float], name: str, **labels: str) -> Any:
    return samples[sample_key(name, **labels)]
