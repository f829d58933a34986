"""`sandbox contract` against servers whose rate limits are on: it paces itself from `RateLimit-*` and
`Retry-After`, a 429 of the limiter is sent again (never a failure), a documented 429 case is an answer
like any other, and the waits are bounded. Real sandboxes on loopback, with their real rate limiter."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.load.snapshot import build_snapshot
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.serve.ratelimit import RateLimiter
from sandbox.tools.contract import (
    RATE_LIMITED,
    ContractOptions,
    ContractReport,
    Pacer,
    retry_delay,
    run_contract,
    throttled,
)
from sandbox.web import create_app
from tests.conftest import ROOT

UNITES_LEGALES = "api_entreprise_v3_insee_unites_legales"
ATTESTATIONS = "api_entreprise_v3_acoss_attestations_sociales"


def repository(tmp_path: Path, throttles: Mapping[str, object]) -> Path:
    """The embedded repository with its own `data/throttle.yml`, and an acoss case documenting a 429."""
    root = tmp_path / "fixtures"
    for folder in ("payloads", "schemas", "data", "tokens"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / "data" / "throttle.yml").write_text(yaml.safe_dump({"shared": throttles}))
    case = {
        "title": "Trop de requêtes (documenté)",
        "description": "Un cas qui documente un 429 du fournisseur : une réponse comme une autre.",
        "params": {"siren": "100000009"},
        "status": 429,
        "payload": '{"errors": [{"code": "04429", "title": "Trop de requêtes", "detail": "x", "meta": {}}]}',
    }
    (root / "payloads" / ATTESTATIONS / "429.yaml").write_text(yaml.safe_dump(case, allow_unicode=True))
    return root


@contextmanager
def limited_sandbox(root: Path) -> Iterator[str]:
    """A sandbox as `sandbox serve` starts it by default: rate limits on."""
    with serve_in_thread(create_app(build_snapshot(root), Services(limiter=RateLimiter()))) as base_url:
        yield base_url


def contract(base_url: str, root: Path, **options: object) -> ContractReport:
    return run_contract(ContractOptions(base_url=base_url, fixtures=root, **options))  # type: ignore[arg-type]


def test_a_default_sandbox_passes_its_own_contract() -> None:
    with limited_sandbox(ROOT) as base_url:
        report = contract(base_url, ROOT, france_connect=True)
    assert report.counts["failed"] == 0 and report.counts["skipped"] == 0
    assert report.counts["passed"] >= 55


def test_a_tight_limit_is_waited_for_and_each_429_is_sent_again(tmp_path: Path) -> None:
    throttles = {
        "tight": {"throttle_type": "by_single_endpoint", "endpoints": [UNITES_LEGALES], "limit": 2, "period": 2}
    }
    root = repository(tmp_path, throttles)
    with limited_sandbox(root) as base_url:
        report = contract(base_url, root, only=(UNITES_LEGALES, ATTESTATIONS), concurrency=8)
    cases = len([r for r in report.results if r.operation_id == UNITES_LEGALES])
    assert cases >= 6  # more than two windows of two requests
    assert report.counts["failed"] == 0 and report.counts["skipped"] == 0, [r.messages for r in report.results]
    # paced from the headers: at most the probe's window overflows, never one 429 per case
    assert report.throttled <= 2
    assert report.waited_s > 0
    assert all(r.attempts == 1 for r in report.results if r.operation_id == ATTESTATIONS)
    # the documented 429 (no Retry-After) was compared as an answer, and passed
    documented = next(r for r in report.results if r.case.file == "429.yaml")
    assert documented.outcome == "passed" and documented.status == 429 and documented.attempts == 1


def test_a_limit_that_would_keep_a_case_waiting_too_long_skips_it_with_the_reason(tmp_path: Path) -> None:
    throttles = {
        "slow": {"throttle_type": "by_single_endpoint", "endpoints": [UNITES_LEGALES], "limit": 1, "period": 3600}
    }
    root = repository(tmp_path, throttles)
    with limited_sandbox(root) as base_url:
        report = contract(base_url, root, only=(UNITES_LEGALES,), max_wait_s=1.0)
    assert report.counts["failed"] == 0
    assert report.counts["passed"] == 1  # the one request of the window
    skipped = [r for r in report.results if r.outcome == "skipped"]
    assert len(skipped) == len(report.results) - 1 >= 5
    assert all(r.reason is not None and r.reason.startswith(f"{RATE_LIMITED}: ") for r in skipped)
    assert report.ok  # nothing failed: the run says what it could not check


def test_the_retries_are_bounded_against_a_server_that_always_refuses() -> None:
    async def refuse(request: Request) -> Response:
        return JSONResponse({"errors": ["Vous avez effectué trop de requêtes"]}, 429, {"Retry-After": "0"})

    with serve_in_thread(Starlette(routes=[Route("/{path:path}", refuse)])) as base_url:
        report = contract(base_url, ROOT, only=(UNITES_LEGALES,), max_retries=2)
    assert report.counts["failed"] == 0 and report.counts["skipped"] == len(report.results) >= 6
    assert all(r.attempts == 0 for r in report.results)  # never answered: skipped before any comparison
    assert report.throttled == 3 * len(report.results)
    assert all("still refused with 429 after 3 attempts" in (r.reason or "") for r in report.results)


def test_only_a_429_that_says_when_to_come_back_is_the_limiter_s() -> None:
    assert throttled(429, {"retry-after": "3", "ratelimit-remaining": "0"})
    assert not throttled(429, {"content-type": "application/json"})  # a documented 429 case
    assert not throttled(200, {"retry-after": "3"})
    # Retry-After, or the exact end of the window when it comes sooner (windows of a second)
    assert retry_delay({"retry-after": "1", "ratelimit-reset": "1000"}, wall_now=999.7) == pytest.approx(0.35)
    assert retry_delay({"retry-after": "30", "ratelimit-reset": "5000"}, wall_now=999.7) == pytest.approx(30.05)
    assert retry_delay({"retry-after": "soon"}, wall_now=0) == pytest.approx(1.05)


def test_rate_spaces_the_request_starts() -> None:
    """--rate N: the k-th request starts no sooner than k/N s after the first (a lower bound: a slow machine
    only spaces them more)."""
    pacer = Pacer(rate=50)
    starts: list[float] = []

    async def one(index: int) -> None:
        gate = asyncio.Semaphore(4)
        ticket = await pacer.admit(f"operation-{index % 3}", pacer.clock() + 60, gate)
        starts.append(pacer.clock())
        pacer.answered(f"operation-{index % 3}", "authorization", ticket, 200, {})
        gate.release()

    async def run() -> None:
        await asyncio.gather(*(one(index) for index in range(10)))

    began = pacer.clock()
    asyncio.run(run())
    assert len(starts) == 10
    assert max(starts) - began >= 9 / 50
