"""Property-based fuzzing of the real app on a real uvicorn (loopback): whatever the request, an answer.

Generated paths, queries, headers and methods (`tests/hostile_requests.py`) are sent byte for byte
over a socket. The property: a reply always comes back (never an empty reply or a dropped
connection), no 5xx unless the answer is a matched case whose fixture documents that status, and no
traceback is logged. Bounded: `max_examples` requests groups, each a few requests; `make fuzz` runs
the same generator for tens of thousands of requests (scripts/fuzz.py).
"""

from __future__ import annotations

import datetime
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.load.snapshot import build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.rules.tokens import mint
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.web import create_app
from tests.conftest import ROOT
from tests.hostile_requests import (
    Vocabulary,
    case_statuses,
    hostile_request,
    send_raw,
    unexplained_server_error,
)

SECRET = "fuzz-test-secret-at-least-32-bytes-long"
WEBHOOK_SECRET = "fuzz-webhook-secret"


class _Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "Traceback" in record.getMessage():
            self.records.append(record)


@dataclass
class _Target:
    host: str
    port: int
    vocabulary: Vocabulary
    statuses: dict[str, int]
    tracebacks: _Tracebacks


@pytest.fixture(scope="module")
def target() -> Iterator[_Target]:
    snapshot = build_snapshot(ROOT, MatchMode.DOCUMENTED, secrets=[SECRET])
    scopes = sorted({s for listed in (snapshot.content.authorizations or {}).values() for s in listed})
    tokens = [mint(SECRET, scopes), mint(SECRET, []), mint(SECRET, scopes, expires_in=-10)]
    services = Services(validate_responses=True, fixed_today=datetime.date(2026, 4, 28))
    app = create_app(snapshot, services, webhook_secret=WEBHOOK_SECRET)
    handler = _Tracebacks()
    with serve_in_thread(app) as base:
        watched = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "sandbox")]
        for logger in watched:
            logger.addHandler(handler)
        url = urlsplit(base)
        assert url.hostname is not None and url.port is not None
        try:
            yield _Target(
                url.hostname,
                url.port,
                Vocabulary.from_snapshot(snapshot, tokens, WEBHOOK_SECRET),
                case_statuses(snapshot),
                handler,
            )
        finally:
            for logger in watched:
                logger.removeHandler(handler)


@settings(
    max_examples=250,
    deadline=datetime.timedelta(seconds=30),
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(rng=st.randoms(use_true_random=False))
def test_every_request_gets_a_reply_and_no_unexplained_5xx(target: _Target, rng: random.Random) -> None:
    for _ in range(4):
        request = hostile_request(rng, target.vocabulary)
        logged = len(target.tracebacks.records)
        reply = send_raw(target.host, target.port, request)
        assert reply is not None, f"empty reply to {request.describe()}"
        assert not unexplained_server_error(reply, target.statuses), (
            reply.status,
            request.describe(),
            reply.body[:300],
        )
        assert len(target.tracebacks.records) == logged, request.describe()


def test_the_fuzz_reached_the_app(target: _Target) -> None:
    """The generator is not all noise: valid requests come back with cases and journal entries."""
    rng = random.Random(7)
    answered = [send_raw(target.host, target.port, hostile_request(rng, target.vocabulary)) for _ in range(200)]
    statuses = {reply.status for reply in answered if reply is not None}
    cases = {reply.headers.get("x-sandbox-case") for reply in answered if reply is not None}
    assert 200 in statuses and 404 in statuses and statuses & {401, 422}
    assert any(case and "/" in case for case in cases)  # some requests hit a case
