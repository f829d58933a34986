"""The bench baseline: a bare Starlette app returning fixed bytes, served like the sandbox."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"data":{"allocataires":[{"nom_naissance":"DUPONT","prenoms":"SOPHIE"}]},"links":{},"meta":{}}'


async def fixed(request: Request) -> Response:
    return Response(BODY, media_type="application/vnd.api+json; charset=utf-8")


app = Starlette(routes=[Route("/{path:path}", fixed)])
