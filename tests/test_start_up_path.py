"""What a start-up does not do: the work that waits for the first request that needs it.

A CI job waits for the sandbox's first answer before its suite runs. The own routes (Starlette's
routing, the catalogue's templates and handlers), the metrics library and the probes' parser
are made or imported only when used; each case's bytes come from the parse cache, not encoded
again. Each deferral is held here to what it defers, and the answers to what they were.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from sandbox.load.parse_cache import ParseCache
from sandbox.load.repository import Case
from sandbox.load.snapshot import build_snapshot, prepare_case
from sandbox.rules.rendering import encode_json

from .conftest import ROOT

_PROGRAM = textwrap.dedent(
    """
    import asyncio, json, sys
    from sandbox.load.snapshot import build_snapshot
    from sandbox.tools.first_request import first_request
    from sandbox.tools.reaching import case_request
    from sandbox.load.handed_token import handed_token
    from sandbox.web import create_app

    WATCHED = ("starlette.routing", "starlette.templating", "prometheus_client", "h11", "sandbox.web.catalogue")
    snapshot = build_snapshot(sys.argv[1])
    app = create_app(snapshot, metrics=True)
    seen = {"created": [name for name in WATCHED if name in sys.modules]}

    async def call(path, query=b"", headers=()):
        sent = []
        async def receive():
            return {"type": "http.request", "body": b""}
        async def send(message):
            sent.append(message)
        scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": query,
                 "headers": [(b"host", b"127.0.0.1"), *headers], "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 80), "scheme": "http", "root_path": "", "http_version": "1.1"}
        await app(scope, receive, send)
        return sent[0]["status"]

    found = first_request(snapshot)
    request = case_request(snapshot.operations[found.case.folder], found.case, handed_token(snapshot).value)
    from urllib.parse import urlencode
    headers = [(name.lower().encode(), value.encode()) for name, value in request.headers]
    seen["api_status"] = asyncio.run(call(request.path, urlencode(request.query).encode(), headers))
    seen["after_api"] = [name for name in WATCHED if name in sys.modules]
    seen["catalogue_status"] = asyncio.run(call("/"))
    seen["after_catalogue"] = [name for name in WATCHED if name in sys.modules]
    print(json.dumps(seen))
    """
)


def test_api_requests_leave_the_own_routes_unmade_and_the_metrics_library_for_after_the_answer() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, str(ROOT)], capture_output=True, text=True, timeout=120, cwd=ROOT, check=True
    )
    seen = json.loads(done.stdout)
    assert seen["created"] == []  # nothing of them at start
    assert seen["api_status"] == 200
    # the API answer was counted once written: the metrics library came then; the own routes did not
    assert seen["after_api"] == ["prometheus_client"]
    assert seen["catalogue_status"] == 200  # the own routes, made on their first request
    assert {"starlette.routing", "sandbox.web.catalogue"} <= set(seen["after_catalogue"])
    assert "h11" not in seen["after_catalogue"]  # the probes' parser: only while a first snapshot loads


def test_a_case_parsed_keeps_the_bytes_it_is_served_as(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "cache")
    first = build_snapshot(ROOT, cache=cache)
    cache.save()
    again = build_snapshot(ROOT, cache=ParseCache(tmp_path / "cache"))  # from the file an earlier start wrote
    for snapshot in (first, again):
        tables = [table for table in snapshot.tables.values() if table.cases]
        assert len(tables) >= 5
        for table in tables:
            for case in table.cases:
                assert case.body == encode_json(case.payload)
            for prepared in table.index.values():
                case = next(c for c in table.cases if c.id == prepared.case_id)
                assert prepared.body == encode_json(case.payload)


def test_a_case_made_without_its_bytes_is_encoded_when_prepared() -> None:
    snapshot = build_snapshot(ROOT)
    operation = next(iter(snapshot.operations.values()))
    payload = {"data": {"nom": "<Dupont & fils>"}, "meta": {}}
    case = Case("folder", "x.yaml", {}, 200, payload, None, None, None, "x.yaml")
    assert case.body is None
    assert prepare_case(operation, case).body == b'{"data":{"nom":"\\u003cDupont \\u0026 fils\\u003e"},"meta":{}}'
