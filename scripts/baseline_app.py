"""The bench baseline: a bare Starlette app returning fixed bytes, served like the sandbox.

With `BASELINE_REPLY` naming a JSON file (`{"status": 200, "headers": [[name, value], ...], "body": text}`),
it returns those instead: the sandbox's own answer, status, headers and body, with none of its work.
`scripts/bench.py` serves both, to tell the cost of the sandbox's logic from the cost of its wire
format (uvicorn spends time on every response header).
"""

import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"data":{"allocataires":[{"nom_naissance":"DUPONT","prenoms":"SOPHIE"}]},"links":{},"meta":{}}'
STATUS = 200
HEADERS: dict[str, str] = {"content-type": "application/vnd.api+json; charset=utf-8"}
if os.environ.get("BASELINE_REPLY"):
    with open(os.environ["BASELINE_REPLY"]) as reply:
        recorded = json.load(reply)
    BODY, STATUS = recorded["body"].encode(), recorded["status"]
    # uvicorn adds its own date and server; Starlette computes content-length
    skipped = {"date", "server", "content-length"}
    HEADERS = {name: value for name, value in recorded["headers"] if name not in skipped}


async def fixed(request: Request) -> Response:
    return Response(BODY, status_code=STATUS, headers=HEADERS)


app = Starlette(routes=[Route("/{path:path}", fixed)])
