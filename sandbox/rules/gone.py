"""Routes that real staging answers with 410 Gone and a fixed text (spec §1.5, §11.1, §11.2).

A table (`routes.yaml`, section `gone`), checked before routing: a gone path wins over an
OpenAPI operation that still documents it (the v1 quotient familial route keeps 22 cases
in the public repository that no request can reach). `/v2/*` on the Entreprise host is a
controller answer (`text/plain`, every method); the others are Rack lambdas, GET only, that
send no `Content-Type` at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from sandbox.rules.operations import Api
from sandbox.rules.routing import without_format

_READING_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class GoneRoute:
    name: str
    api: Api
    pattern: re.Pattern[str]
    text: str
    content_type: str | None  # None: no Content-Type header
    every_method: bool  # False: GET (and HEAD) only

    def accepts(self, method: str) -> bool:
        return self.every_method or method in _READING_METHODS


@lru_cache(maxsize=1)
def gone_routes() -> tuple[GoneRoute, ...]:
    text = resources.files("sandbox.rules").joinpath("routes.yaml").read_text(encoding="utf-8")
    table = yaml.load(text, Loader=yaml.CSafeLoader)
    routes = []
    for raw in table["gone"]:
        api = raw["api"]
        if api not in ("entreprise", "particulier") or raw["methods"] not in ("all", "get"):
            raise ValueError(f"routes.yaml: gone route {raw.get('name')!r}: bad api or methods")
        routes.append(
            GoneRoute(
                name=str(raw["name"]),
                api=api,
                pattern=re.compile(str(raw["pattern"])),
                text=str(raw["text"]),
                content_type=raw.get("content_type"),
                every_method=raw["methods"] == "all",
            )
        )
    return tuple(routes)


def gone_route(path: str, api: Api | None, method: str = "GET") -> GoneRoute | None:
    """The gone route `path` falls under for `method`, on the host's API (None: either API)."""
    if not (path.startswith(("/v2/", "/api/")) or "/inpi/unites_legales/" in path):
        return None  # every gone route is under one of these: most requests skip the patterns
    bare = without_format(path)
    for route in gone_routes():
        if (api is None or route.api == api) and route.accepts(method) and route.pattern.match(bare):
            return route
    return None
