"""GET /metrics after known requests and reloads, read with prometheus_client's own parser: every
counter has the value the answers said, label values come from the snapshot only, and the
route follows the admin policy."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from sandbox.cli.assembly import assemble
from sandbox.cli.serve_config import ServeConfig
from sandbox.load.snapshot import build_snapshot
from sandbox.serve.access import AdminPolicy
from sandbox.serve.app import SandboxApp
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.metrics import REQUEST_BUCKETS, observe_many
from sandbox.web import create_app
from tests import metrics_sequence as sequence
from tests import tiny_repository
from tests.metrics_sequence import CLIENT_TIMEOUT_S, KINDS, SECRET, Expected, one

ADMIN_TOKEN = "metrics-admin-token-0123456789"


@contextlib.contextmanager
def served(root: Path, cache: Path, **options: Any) -> Iterator[tuple[SandboxApp, httpx.Client]]:
    """`sandbox serve`'s app for `root` (metrics on, as by default) on a real uvicorn."""
    config = ServeConfig(fixtures=[str(root)], cache_dir=str(cache), jwt_secrets=[SECRET], watch=False, **options)
    app = assemble(config)
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
            yield app, client
    finally:
        if app.syncer is not None:
            app.syncer.stop()


def test_every_counter_after_a_known_sequence_of_requests_and_reloads(tmp_path: Path) -> None:
    root = sequence.build(tmp_path / "repo")
    expected = Expected()
    with served(root, tmp_path / "cache") as (_, client):
        first = client.get("/v3/demo/unites_legales/130025265", params=sequence.TRACKING)  # no token
        expected.add(KINDS[5], first)
        before = first.headers["x-sandbox-commit"]
        sequence.run_sequence(client, expected)
        # three reloads: a new case (swapped), nothing new (unchanged), a broken file (refused)
        tiny_repository.write_case(root, sequence.V2, "3.yaml", {"identifiant": "3"}, 200, '{"statut": "trois"}')
        reloaded_at = time.time()
        assert client.post("/api/reload-mocks").json() == {"message": "Mock backend reloaded"}
        assert client.post("/api/reload-mocks").status_code == 200
        (root / "payloads" / sequence.V2 / "broken.yaml").write_text("params: [unclosed\n")
        assert client.post("/api/reload-mocks").status_code == 422
        after = client.get("/api/v2/demo", params={"identifiant": "3"}, headers=sequence.bearer())
        expected.add(KINDS[2], after)  # the new case answers: a hit of the new revision
        samples = sequence.scrape(client)

    assert sequence.counter_values(samples) == expected.counters
    assert sequence.durations_by_api(samples) == expected.by_api
    assert (
        expected.counters[
            sequence.sample_key(
                "sandbox_near_misses", operation=sequence.ENTREPRISE, case=(f"{sequence.ENTREPRISE}/200.yaml")
            )
        ]
        == 2
    ), "the sequence names a near miss"
    assert sum(expected.by_api.values()) == sum(sequence.SEQUENCE.values()) + 2
    for result, count in {"swapped": 1, "unchanged": 1, "refused": 1, "failed": 0}.items():
        assert one(samples, "sandbox_reloads_total", result=result) == count, result
        assert one(samples, "sandbox_reload_duration_seconds_count", result=result) == count, result
    assert one(samples, "sandbox_reload_last_success_timestamp_seconds") >= reloaded_at
    revision = after.headers["x-sandbox-commit"]
    assert revision != before
    assert one(samples, "sandbox_snapshot_info", revision=revision, match_mode="documented") == 1
    assert one(samples, "sandbox_snapshot_operations") == 4


def test_a_request_line_refused_before_it_is_read_is_counted_without_an_operation(tmp_path: Path) -> None:
    root = sequence.build(tmp_path / "repo")
    with served(root, tmp_path / "cache", max_url_bytes=100) as (_, client):
        assert client.get("/v3/demo/unites_legales/130025265?x=" + "a" * 200).status_code == 414
        samples = sequence.scrape(client)
    labels = {"api": "none", "operation": "none", "outcome": "uri-too-long", "status": "414"}
    assert one(samples, "sandbox_requests_total", **labels) == 1


def test_unique_paths_and_parameters_add_no_series(tmp_path: Path) -> None:
    """3,000 requests, every path or parameter new: the series are those of the first of each kind."""
    root = sequence.build(tmp_path / "repo")
    snapshot_cases = {
        f"{folder.name}/{case.name}" for folder in (root / "payloads").iterdir() for case in folder.iterdir()
    }
    expected = Expected()
    with served(root, tmp_path / "cache") as (_, client):
        for kind in KINDS:
            sequence.send(client, kind, expected)
        first = sequence.scrape(client)
        marker = uuid.uuid4().hex[:12]
        for index in range(3_000):
            kind = KINDS[index % len(KINDS)]
            unique = f"{marker}{index}"
            if kind.name == "unknown path":
                response = client.get(f"/nowhere/{unique}", params={unique: unique})
                expected.add(kind, response)
            else:
                sequence.send(client, kind, expected, **{f"u{unique}": unique, "token": f"eyJ{unique}.x.y"})
        last = sequence.scrape(client)
    assert sequence.series(last) == sequence.series(first)
    assert set(last) == set(first)
    assert sequence.counter_values(last) == expected.counters
    operations = {kind.operation for kind in KINDS}
    for name, labels in last:
        for label, value in labels:
            assert marker not in value and "eyJ" not in value, (name, label, value)
            if label == "operation":
                assert value in operations, value
            if label == "case":
                assert value in snapshot_cases, value


def test_metrics_follow_the_admin_policy_and_can_be_opened_alone(tmp_path: Path) -> None:
    snapshot = build_snapshot(tiny_repository.build(tmp_path / "repo"))
    closed = AdminPolicy(open=False, token=ADMIN_TOKEN)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with serve_in_thread(create_app(snapshot, admin=closed, metrics=True)) as base:
        assert httpx.get(f"{base}/metrics", timeout=CLIENT_TIMEOUT_S).status_code == 403
        assert httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert httpx.get(f"{base}/metrics", headers=admin, timeout=CLIENT_TIMEOUT_S).status_code == 200
        page = httpx.get(f"{base}/ui/operations/{sequence.ENTREPRISE}", timeout=CLIENT_TIMEOUT_S).text
        assert "data-usage" not in page and "data-case-hits" not in page  # usage is admin-only
        assert "data-usage" in httpx.get(f"{base}/ui/operations/{sequence.ENTREPRISE}", headers=admin).text
    scraper = AdminPolicy(open=False, token=ADMIN_TOKEN, metrics_public=True)
    with serve_in_thread(create_app(snapshot, admin=scraper, metrics=True)) as base:
        assert httpx.get(f"{base}/metrics", timeout=CLIENT_TIMEOUT_S).status_code == 200
        assert httpx.get(f"{base}/__sandbox/requests", timeout=CLIENT_TIMEOUT_S).status_code == 403
    with serve_in_thread(create_app(snapshot)) as base:  # metrics off
        assert httpx.get(f"{base}/metrics", timeout=CLIENT_TIMEOUT_S).status_code == 404


def test_the_catalogue_shows_hits_and_sorts_operations_by_misses(tmp_path: Path) -> None:
    root = sequence.build(tmp_path / "repo")
    expected = Expected()
    with served(root, tmp_path / "cache") as (_, client):
        sequence.run_sequence(client, expected)
        page = client.get(f"/ui/operations/{sequence.ENTREPRISE}", params={"lang": "en"}).text
        assert "8 requests: 3 answered by a case, 2 misses (2 with a near miss)" in page
        assert f'data-case-hits="{sequence.ENTREPRISE}/200.yaml">3 hits since start' in page
        assert f'data-case-hits="{sequence.ENTREPRISE}/404.yaml">0 hits since start' in page
        ranked = client.get("/ui/operations", params={"sort": "misses", "lang": "en"}).text
    order = [
        ranked.index(f'<code class="small">{operation}</code>') for operation in (sequence.ENTREPRISE, sequence.V2)
    ]
    assert order == sorted(order), "2 misses before 1"


def test_bulk_observations_expose_the_same_histogram_as_single_ones() -> None:
    """`observe_many` writes prometheus_client's histogram values directly: same exposition as observe()."""
    durations = [0.0001, 0.0005, 0.0007, 0.003, 0.003, 0.2, 7.5, 0.0]
    registries = CollectorRegistry(), CollectorRegistry()
    single, bulk = (Histogram("d", "d", ("api",), registry=r, buckets=REQUEST_BUCKETS) for r in registries)
    for value in durations:
        single.labels("x").observe(value)
    counts = [0] * (len(REQUEST_BUCKETS) + 1)
    for value in durations:
        counts[next((i for i, bound in enumerate(REQUEST_BUCKETS) if value <= bound), len(REQUEST_BUCKETS))] += 1
    observe_many(bulk.labels("x"), counts, sum(durations))

    def text(registry: CollectorRegistry) -> list[str]:
        return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]

    assert text(registries[1]) == text(registries[0])


@pytest.mark.parametrize("seconds", [0.0, 0.0005, 0.00050001, 2.5, 3.0])
def test_a_request_lands_in_the_bucket_observe_would_choose(seconds: float, tmp_path: Path) -> None:
    snapshot = build_snapshot(sequence.build(tmp_path / "repo"))
    app = create_app(snapshot, metrics=True)
    assert app.metrics is not None
    table = snapshot.tables[sequence.ENTREPRISE]
    app.metrics.count(table.operation, table.fallback, seconds)
    registry = CollectorRegistry()
    Histogram("sandbox_request_duration_seconds", "x", ("api",), registry=registry, buckets=REQUEST_BUCKETS).labels(
        "entreprise"
    ).observe(seconds)
    reference = sequence.parse(generate_latest(registry).decode())
    app.metrics.flush()
    samples = sequence.parse(app.metrics.exposition().decode())
    for key, value in reference.items():
        if key[0].endswith("_bucket"):
            assert samples[key] == value, key


def test_an_answer_chosen_by_prefer_is_counted_as_a_preference(tmp_path: Path) -> None:
    """`Prefer: case=` answers a case the request does not match: outcome `preference`, not `hit`."""
    root = sequence.build(tmp_path / "repo")
    with served(root, tmp_path / "cache") as (_, client):
        headers = {**sequence.bearer(), "Prefer": "case=200.yaml"}
        for _ in range(3):
            answered = client.get("/v3/demo/unites_legales/999999999", params=sequence.TRACKING, headers=headers)
            assert answered.status_code == 200, answered.text
            assert answered.headers["preference-applied"] == "case=200.yaml"
        samples = sequence.scrape(client)
    labels = {"api": "entreprise", "operation": sequence.ENTREPRISE, "status": "200"}
    assert one(samples, "sandbox_requests_total", **labels, outcome="preference") == 3
    assert sequence.sample_key("sandbox_requests_total", **labels, outcome="hit") not in samples
