"""In-process access to the request path for fast tests (and `make mutation`): the embedded
snapshot, a token, and one call of `sandbox.serve.pipeline.answer` per request, no socket.

Requests are written as the README's cURL examples write them (a path and a query string);
expected answers are written out in the tests, never computed by the product.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from sandbox.load.snapshot import Prepared, Snapshot, build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.rules.tokens import mint
from sandbox.serve.pipeline import IncomingRequest, Services, answer
from tests.conftest import ROOT

SECRET = "request-path-test-secret-32-bytes-long"
# Every scope of the embedded `data/authorizations.yml`, written out: the token may call every route.
TODAY = datetime.date(2026, 4, 28)
TRACKING = "recipient=13002526500013&context=test&object=test"


@functools.cache
def snapshot(mode: MatchMode = MatchMode.DOCUMENTED) -> Snapshot:
    return build_snapshot(ROOT, mode, secrets=[SECRET])


@functools.cache
def all_scopes() -> list[str]:
    return sorted({s for v in (snapshot().content.authorizations or {}).values() for s in v})


def token(**claims: Any) -> str:
    return mint(SECRET, all_scopes(), **claims)


def get(
    path: str,
    query: str | Mapping[str, Any] = "",
    headers: Mapping[str, str] | None = None,
    services: Services | None = None,
    mode: MatchMode = MatchMode.DOCUMENTED,
) -> Prepared:
    """One GET through the whole request path, as uvicorn would hand it over."""
    query_string = query if isinstance(query, str) else urlencode(query, doseq=True)
    request = IncomingRequest("GET", path, query_string.encode(), {"host": "", **(headers or {})})
    return answer(snapshot(mode), request, services or Services(fixed_today=TODAY)).prepared


def body(prepared: Prepared) -> Any:
    return json.loads(prepared.body)


def codes(prepared: Prepared) -> list[str]:
    return [error["code"] for error in body(prepared)["errors"]]


def bearer(value: str | None = None) -> dict[str, str]:
    return {"authorization": f"Bearer {value or token()}"}
