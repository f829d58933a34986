"""`Prefer: fault=` and `delay=`, and `--latency`, seen by a real HTTP client on loopback.

Each fault is observed as that fault by httpx talking to a real uvicorn, with each of uvicorn's
event loops and HTTP parsers: a connection reset, an empty reply, no answer (then a close at
`--max-delay`), a body shorter than its `Content-Length`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.load.snapshot import build_snapshot
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.serve.prefer_header import prefer_header
from sandbox.serve.scenarios import Scenarios, parse_latency
from sandbox.tools.reaching import CaseRequest, case_request
from sandbox.web import create_app
from tests.conftest import ROOT

TIMEOUT_S = 30.0
SERVERS = [("uvloop", "httptools"), ("uvloop", "h11"), ("asyncio", "httptools"), ("asyncio", "h11")]


def _request() -> CaseRequest:
    snapshot = build_snapshot(ROOT)
    table = snapshot.tables["api_entreprise_v3_insee_unites_legales"]
    token = (ROOT / "tokens" / "default").read_text().strip()
    return case_request(table.operation, table.cases[0], token)


REQUEST = _request()
REQUEST_CASE = (
    "api_entreprise_v3_insee_unites_legales/"
    + build_snapshot(ROOT).tables["api_entreprise_v3_insee_unites_legales"].cases[0].file
)


def app(**scenarios: Any) -> Any:
    return create_app(build_snapshot(ROOT), Services(scenarios=Scenarios(**scenarios)))


@contextlib.contextmanager
def uvicorn_serving(asgi: Any, loop: str, http: str) -> Iterator[str]:
    """A real uvicorn on a free loopback port with the given event loop and HTTP parser."""
    with serve_in_thread(asgi, loop=loop, http=http, timeout_graceful_shutdown=1) as base_url:
        yield base_url


def get(base_url: str, timeout: httpx.Timeout | float = TIMEOUT_S, **prefer: Any) -> httpx.Response:
    headers = {**dict(REQUEST.headers), **prefer_header(**prefer)}
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        return client.get(REQUEST.path, params=list(REQUEST.query), headers=headers)


@pytest.mark.parametrize(("loop", "http"), SERVERS)
def test_reset_is_a_connection_reset(loop: str, http: str) -> None:
    with uvicorn_serving(app(), loop, http) as base_url, pytest.raises(httpx.ReadError) as raised:
        get(base_url, fault="reset")
    cause = raised.value.__context__
    while cause is not None and not isinstance(cause, ConnectionResetError):
        cause = cause.__context__
    assert isinstance(cause, ConnectionResetError), repr(raised.value)


@pytest.mark.parametrize(("loop", "http"), SERVERS)
def test_empty_is_a_reply_without_a_byte(loop: str, http: str) -> None:
    with uvicorn_serving(app(), loop, http) as base_url, pytest.raises(httpx.RemoteProtocolError) as raised:
        get(base_url, fault="empty")
    assert "without sending a response" in str(raised.value)


@pytest.mark.parametrize(("loop", "http"), SERVERS)
def test_truncated_announces_the_whole_body_and_sends_half(loop: str, http: str) -> None:
    received = b""
    with uvicorn_serving(app(), loop, http) as base_url, httpx.Client(base_url=base_url, timeout=TIMEOUT_S) as client:
        whole = client.get(REQUEST.path, params=list(REQUEST.query), headers=dict(REQUEST.headers))
        headers = {**dict(REQUEST.headers), **prefer_header(fault="truncated")}
        with (
            pytest.raises(httpx.RemoteProtocolError) as raised,
            client.stream("GET", REQUEST.path, params=list(REQUEST.query), headers=headers) as response,
        ):
            assert response.status_code == whole.status_code
            assert response.headers["content-length"] == str(len(whole.content))
            assert response.headers["preference-applied"] == "fault=truncated"
            for chunk in response.iter_raw():
                received += chunk
    assert "incomplete" in str(raised.value) or "complete message body" in str(raised.value)
    assert 0 < len(received) < len(whole.content) and whole.content.startswith(received)


@pytest.mark.parametrize(("loop", "http"), SERVERS)
def test_timeout_answers_nothing(loop: str, http: str) -> None:
    """A client that waits one second reads nothing (the sandbox would hold the connection 30 s)."""
    with uvicorn_serving(app(max_delay_s=30), loop, http) as base_url, pytest.raises(httpx.ReadTimeout):
        get(base_url, timeout=httpx.Timeout(TIMEOUT_S, read=1.0), fault="timeout")


def test_timeout_closes_the_connection_at_the_max_delay() -> None:
    with serve_in_thread(app(max_delay_s=1)) as base_url:
        started = time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError) as raised:
            get(base_url, fault="timeout")
        waited = time.monotonic() - started
    assert "without sending a response" in str(raised.value)
    assert waited >= 1.0  # held until --max-delay, not closed at once


def test_the_server_keeps_serving_after_every_fault() -> None:
    with serve_in_thread(app(max_delay_s=0.2)) as base_url:
        plain = get(base_url)
        for fault in ("reset", "empty", "timeout", "truncated"):
            with pytest.raises(httpx.TransportError):
                get(base_url, fault=fault)
            again = get(base_url)
            assert again.status_code == plain.status_code and again.content == plain.content


def test_a_delayed_answer_never_holds_the_others_back() -> None:
    """While a request waits out `delay=3000`, other requests are answered (order, not speed, is tested)."""

    async def scenario(base_url: str) -> list[str]:
        finished: list[str] = []
        headers = {**dict(REQUEST.headers)}
        async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT_S) as client:

            async def one(name: str, extra: dict[str, str]) -> None:
                response = await client.get(REQUEST.path, params=list(REQUEST.query), headers={**headers, **extra})
                assert response.headers["x-sandbox-case"] != "none"
                finished.append(name)

            delayed = asyncio.create_task(one("delayed", prefer_header(delay=3000)))
            await asyncio.sleep(0.2)
            await asyncio.gather(*(one(f"plain-{i}", {}) for i in range(20)))
            await delayed
        return finished

    with serve_in_thread(app()) as base_url:
        finished = asyncio.run(scenario(base_url))
    assert finished[-1] == "delayed" and len(finished) == 21


def test_a_delay_is_bounded_by_the_max_delay_and_said() -> None:
    with serve_in_thread(app(max_delay_s=0.5)) as base_url:
        response = get(base_url, delay=60_000, code=404)
    assert response.status_code == 404
    assert response.headers["preference-applied"] == "code=404, delay=500"


def test_latency_draws_repeat_with_the_seed_and_stay_in_range() -> None:
    first = Scenarios(latency_ms=(50, 400), seed=7)
    second = Scenarios(latency_ms=(50, 400), seed=7)
    other = Scenarios(latency_ms=(50, 400), seed=8)
    draws = [first.delay_s(None) for _ in range(100)]
    assert draws == [second.delay_s(None) for _ in range(100)]
    assert draws != [other.delay_s(None) for _ in range(100)]
    assert all(0.05 <= draw <= 0.4 for draw in draws)
    assert Scenarios().delay_s(None) == 0.0


def test_latency_ranges_are_checked() -> None:
    assert parse_latency("50..200") == (50, 200)
    assert parse_latency("0..0") == (0, 0)
    for bad in ("200..50", "50-200", "..5", "1..99999999", "a..b"):
        with pytest.raises(ValueError):
            parse_latency(bad)


def test_latency_applies_to_every_api_answer_and_delay_replaces_it() -> None:
    """A global latency holds an answer at least its minimum; `delay=0` replaces the draw.

    Fidelity row: Global latency
    """
    with serve_in_thread(app(latency_ms=(400, 400))) as base_url:
        started = time.monotonic()
        assert get(base_url).headers["x-sandbox-case"] == REQUEST_CASE
        held = time.monotonic() - started
        assert get(base_url, delay=0).headers["preference-applied"] == "delay=0"
    assert held >= 0.4
