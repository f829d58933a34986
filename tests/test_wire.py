"""The answers `serve.wire.DirectProtocol` writes are byte for byte uvicorn's (the `date` line aside).

One app is served twice on loopback, by uvicorn's own httptools protocol and by the direct one;
the same raw requests go to both, over plain sockets, and the raw responses are compared.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import pytest

from sandbox.rules.rendering import Header
from sandbox.serve.app import SandboxApp
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.serve.scenarios import Scenarios
from sandbox.serve.wire import DirectProtocol, sandbox_of
from sandbox.web import create_app
from tests.request_path import TODAY, snapshot, token

TIMEOUT_S = 20.0
UNITE = "/v3/insee/sirene/unites_legales/130025265?recipient=13002526500013&context=test&object=test"
QF = (
    "/v3/dss/quotient_familial/identite?recipient=13002526500013&nomNaissance=MARTIN&prenoms[]=Camille"
    "&prenoms[]=Louise&anneeDateNaissance=1988&moisDateNaissance=3&jourDateNaissance=21&sexeEtatCivil=F"
    "&codeCogInseePaysNaissance=99100&codeCogInseeCommuneNaissance=75056"
)
_DATE = re.compile(rb"\r\ndate: [^\r]*")


@pytest.fixture(scope="module")
def app() -> SandboxApp:
    return create_app(snapshot(), Services(fixed_today=TODAY))


@pytest.fixture(scope="module")
def servers(app: SandboxApp) -> Iterator[tuple[str, str]]:
    with serve_in_thread(app, http="httptools") as plain, serve_in_thread(app) as direct:
        yield plain, direct


def _address(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


@contextmanager
def _connection(base: str) -> Iterator[socket.socket]:
    with socket.create_connection(_address(base), timeout=TIMEOUT_S) as sock:
        yield sock


def _responses(sock: socket.socket, count: int, head_only: bool = False) -> list[bytes]:
    """`count` whole responses read from the socket (or what came before the server closed it)."""
    data, found = b"", list[bytes]()
    while len(found) < count:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            head = data[: end + 4]
            length = re.search(rb"\r\ncontent-length: (\d+)", head)
            size = 0 if head_only or length is None else int(length.group(1))
            if len(data) >= end + 4 + size:
                found.append(data[: end + 4 + size])
                data = data[end + 4 + size :]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            found.append(data)
            break
        data += chunk
    return found


def _exchange(base: str, raw: bytes, count: int = 1, head_only: bool = False) -> list[bytes]:
    with _connection(base) as sock:
        sock.sendall(raw)
        return [_DATE.sub(b"\r\ndate: -", r) for r in _responses(sock, count, head_only)]


def _get(target: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {target} HTTP/{version}", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _bearer() -> str:
    return f"Authorization: Bearer {token()}"


REQUESTS = {
    "hit": _get(UNITE, _bearer()),
    "hit, HEAD": _get(UNITE, _bearer(), method="HEAD"),
    "hit, HTTP/1.0": _get(UNITE, _bearer(), version="1.0"),
    "hit, Connection: close": _get(UNITE, _bearer(), "Connection: close"),
    "Particulier hit": _get(QF, _bearer()),
    "Particulier miss (near miss)": _get(QF.replace("MARTIN", "MARTINEZ"), _bearer()),
    "Particulier validation": _get(QF.replace("99100", "12"), _bearer()),
    "Entreprise fallback": _get(UNITE.replace("130025265", "552100554"), _bearer()),
    "no token": _get(UNITE),
    "invalid token": _get(UNITE, "Authorization: Bearer nope"),
    "tracking missing": _get("/v3/insee/sirene/unites_legales/130025265", _bearer()),
    "unknown path": _get("/v3/nothing/here", _bearer()),
    "v2 gone": _get("/v2/etablissements/13002526500013", _bearer()),
    "encoded path": _get(UNITE.replace("unites_legales", "unites%5Flegales"), _bearer()),
    "unreadable query": _get(UNITE + "&a=%ZZ", _bearer()),
    # what the direct protocol leaves to uvicorn's ASGI path: the answers must not change either
    "own route": _get("/__sandbox/status"),
    "Prefer": _get(UNITE, _bearer(), "Prefer: code=404"),
    "a body": _get(UNITE, _bearer(), "Content-Type: application/json", "Content-Length: 2") + b"{}",
    "URI too long": _get(UNITE + "&x=" + "y" * 9000, _bearer()),
}


STATUS = {
    "hit": "200",
    "Particulier hit": "200",
    "Particulier miss (near miss)": "404",
    "Particulier validation": "422",
    "Entreprise fallback": "200",
    "no token": "401",
    "tracking missing": "422",
    "unknown path": "404",
    "v2 gone": "410",
    "unreadable query": "400",
    "Prefer": "404",
    "URI too long": "414",
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_the_direct_answer_is_uvicorns_byte_for_byte(servers: tuple[str, str], name: str) -> None:
    plain, direct = servers
    head_only = name.endswith("HEAD")
    expected = _exchange(plain, REQUESTS[name], head_only=head_only)
    assert expected[0].startswith(b"HTTP/1.1 ")
    if name in STATUS:
        assert expected[0].split(b" ", 2)[1].decode() == STATUS[name]
    assert _exchange(direct, REQUESTS[name], head_only=head_only) == expected


def test_pipelined_requests_are_answered_in_order(servers: tuple[str, str]) -> None:
    plain, direct = servers
    raw = REQUESTS["hit"] + REQUESTS["own route"] + REQUESTS["no token"] + REQUESTS["Entreprise fallback"]
    expected = _exchange(plain, raw, count=4)
    assert [r.split(b" ", 2)[1] for r in expected] == [b"200", b"200", b"401", b"200"]
    assert _exchange(direct, raw, count=4) == expected


def test_requests_pipelined_after_connection_close_are_treated_as_uvicorn_treats_them(
    app: SandboxApp, servers: tuple[str, str]
) -> None:
    """uvicorn answers the first and closes the connection: the others are neither answered nor journaled."""
    plain, direct = servers
    raw = REQUESTS["hit, Connection: close"] + REQUESTS["hit"] + REQUESTS["no token"]
    journaled = len(app.journal)
    expected = _exchange(plain, raw, count=3)
    assert b"\r\nconnection: close\r\n" in expected[0]
    assert len(app.journal) == journaled + 1
    assert _exchange(direct, raw, count=3) == expected
    assert len(app.journal) == journaled + 2


def test_a_kept_alive_connection_answers_one_request_after_another(servers: tuple[str, str]) -> None:
    _, direct = servers
    with _connection(direct) as sock:
        for raw in (REQUESTS["hit"], REQUESTS["own route"], REQUESTS["hit"], REQUESTS["no token"]):
            sock.sendall(raw)
            (response,) = _responses(sock, 1)
            assert response.startswith((b"HTTP/1.1 200 ", b"HTTP/1.1 401 "))


def test_connection_close_and_http_1_0_close_the_connection(servers: tuple[str, str]) -> None:
    _, direct = servers
    for name in ("hit, HTTP/1.0", "hit, Connection: close"):
        with _connection(direct) as sock:
            sock.sendall(REQUESTS[name])
            response, rest = _responses(sock, 2)
            assert b"\r\nconnection: close\r\n" in response
            assert rest == b""  # then the server closed the connection


def test_what_answers_at_once_and_what_goes_the_asgi_way(app: SandboxApp) -> None:
    """The direct protocol finds the sandbox under uvicorn's middleware; `answer_now` decides only
    requests with nothing to wait for."""
    assert sandbox_of(app) is app
    assert sandbox_of(type("Wrapper", (), {"app": app})()) is app
    assert sandbox_of(object()) is None
    path, _, query = UNITE.partition("?")
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token()}".encode())]
    decided = app.answer_now("GET", path, path.encode(), query.encode(), headers)
    assert decided is not None and decided.status == 200
    assert app.answer_now("GET", "/__sandbox/status", b"/__sandbox/status", b"", headers) is None
    assert app.answer_now("GET", path, path.encode(), query.encode(), [*headers, (b"prefer", b"code=404")]) is None
    long_query = query.encode() + b"&x=" + b"y" * 9000
    assert app.answer_now("GET", path, path.encode(), long_query, headers) is None
    delayed = create_app(snapshot(), Services(fixed_today=TODAY, scenarios=Scenarios(latency_ms=(1, 2))))
    assert delayed.answer_now("GET", path, path.encode(), query.encode(), headers) is None


class _Counting(DirectProtocol):
    """The direct protocol, counting the answers it writes itself (the test's only addition)."""

    written: ClassVar[list[int]] = []

    def _write(self, status: int, headers: tuple[Header, ...], body: bytes) -> None:
        self.written.append(status)
        super()._write(status, headers, body)


def test_api_requests_are_answered_directly_and_the_rest_the_asgi_way(app: SandboxApp) -> None:
    """Under pytest's logging too (uvicorn's access logger has a handler there, at WARNING)."""
    _Counting.written.clear()
    with serve_in_thread(app, http=_Counting) as base:
        for name in ("hit", "Particulier miss (near miss)", "no token", "own route", "Prefer", "a body", "hit, HEAD"):
            _exchange(base, REQUESTS[name], head_only=name.endswith("HEAD"))
    assert _Counting.written == [200, 404, 401, 200]


def test_a_client_that_pipelines_without_reading_holds_no_more_than_the_buffers(app: SandboxApp) -> None:
    """3,000 pipelined requests sent before anything is read: once the client's unread answers fill
    the buffers, uvicorn's own path takes over (it stops reading the connection); another client is
    served meanwhile, and every answer comes, in order."""
    count = 3000
    _Counting.written.clear()
    with serve_in_thread(app, http=_Counting) as base, _connection(base) as flooding:
        sender = threading.Thread(target=flooding.sendall, args=(REQUESTS["hit"] * count,), daemon=True)
        sender.start()
        time.sleep(0.5)  # the server writes until the buffers are full, then stops reading
        assert _exchange(base, REQUESTS["no token"])[0].startswith(b"HTTP/1.1 401 ")
        answers = _responses(flooding, count)
        sender.join(TIMEOUT_S)
    assert not sender.is_alive()
    assert len(answers) == count
    assert all(answer.startswith(b"HTTP/1.1 200 ") for answer in answers)
    directly = _Counting.written.count(200)
    assert 0 < directly < count, directly  # written at once until the client stopped reading, then not
