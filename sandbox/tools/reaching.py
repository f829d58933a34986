"""The request a client sends to reach a case: the "Commande cURL" of each folder's README.

Path parameters go into the path template, the other params into the query string
(arrays as `k[]=v`), the tracking parameters of the API are added, and the token
travels in the API's header. FranceConnect cases are reached with a FranceConnect
token instead (`api_path` and `Authorization: Bearer <token>`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from sandbox.load.repository import Case
from sandbox.rules.coercion import to_s
from sandbox.rules.matching import strip_brackets
from sandbox.rules.operations import Operation
from sandbox.rules.tracking import ENTREPRISE_TRACKING, RECIPIENT

# The values of the tracking parameters in the READMEs' cURL commands; their names are
# those of `sandbox.rules.tracking`.
_EXAMPLE_VALUES = {RECIPIENT: "10000001700010", "context": "Contexte de la requête", "object": "Objet de la requête"}
ENTREPRISE_CURL_PAIRS = tuple(
    # the recipient first, as the READMEs write it
    (name, _EXAMPLE_VALUES[name])
    for name in sorted(ENTREPRISE_TRACKING, key=lambda name: name != RECIPIENT)
)
PARTICULIER_RECIPIENT = (RECIPIENT, "13002526500013")


@dataclass(frozen=True, slots=True)
class CaseRequest:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]

    @property
    def target(self) -> str:
        """Path and query string, as sent on the request line."""
        return self.path + ("?" + urlencode(self.query) if self.query else "")

    def curl(self, base_url: str) -> str:
        parts = ["curl"]
        for name, value in self.headers:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.query:
            parts.append("-G")
            for name, value in self.query:
                parts += ["-d", shlex.quote(urlencode([(name, value)]))]
        parts += ["--url", shlex.quote(base_url.rstrip("/") + self.path)]
        return " ".join(parts)


def query_pairs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if isinstance(value, list):
            pairs.extend((f"{strip_brackets(name)}[]", to_s(v)) for v in value)
        else:
            pairs.append((name, to_s(value)))
    return pairs


def auth_header(operation: Operation, token: str) -> tuple[str, str]:
    return ("X-Api-Key", token) if operation.is_v2 else ("Authorization", f"Bearer {token}")


def case_request(operation: Operation, case: Case, token: str) -> CaseRequest:
    """The request of a case's README cURL command."""
    params = dict(case.params)
    path = operation.path
    for parameter in operation.parameters:
        if parameter.location == "path":
            value = params.pop(parameter.name, None)
            if value is not None:
                path = path.replace("{" + parameter.name + "}", quote(to_s(value), safe=""))
    tracking: tuple[tuple[str, str], ...] = ()
    if operation.api == "entreprise":
        tracking = ENTREPRISE_CURL_PAIRS
    elif not operation.is_v2:
        tracking = (PARTICULIER_RECIPIENT,)
    return CaseRequest(
        method="GET",
        path=path,
        query=(*tracking, *query_pairs(params)),
        headers=(auth_header(operation, token),),
    )


def france_connect_request(api_path: str, france_connect_token: str) -> CaseRequest:
    """The request of a FranceConnect token's README cURL command."""
    return CaseRequest(
        method="GET",
        path=api_path,
        query=(PARTICULIER_RECIPIENT,),
        headers=(("Authorization", f"Bearer {france_connect_token}"),),
    )
