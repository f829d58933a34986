"""The provider pings of the real staging (spec §1.5, §11.8), from `routes.yaml` (`pings`).

In staging a listed provider's ping answers 200 `{"status":"ok","last_update":…}` and any other
404 `{}`; `/pings` and `/api/pings` list `{name, url}` for every ping with a status-page name
(all of them), the URL built on the request's own scheme and host as Rails' `*_url` helpers do.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

import yaml

from sandbox.rules.operations import Api


@lru_cache(maxsize=1)
def pings() -> Mapping[Api, Mapping[str, str]]:
    """API → provider → status-page name, in the order of `siade/config/pings.yml`."""
    text = resources.files("sandbox.rules").joinpath("routes.yaml").read_text(encoding="utf-8")
    table = yaml.load(text, Loader=yaml.CSafeLoader)["pings"]
    return MappingProxyType({api: MappingProxyType(dict(table[api])) for api in ("entreprise", "particulier")})


def ping_url(api: Api, provider: str, base: str) -> str:
    """`api_entreprise_ping_provider_url` / `api_particulier_ping_provider_url` under `base` (scheme://host)."""
    return f"{base}/ping/{provider}" if api == "entreprise" else f"{base}/api/{provider}/ping"


def ping_list(api: Api, base: str) -> list[dict[str, str]]:
    return [{"name": name, "url": ping_url(api, provider, base)} for provider, name in pings()[api].items()]
