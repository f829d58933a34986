"""The request a client sends to reach a case: the "Commande cURL" of each folder's README.

Path parameters go into the path template, the other params into the query string
(arrays as `k[]=v`), the tracking parameters of the API are added, and the token
travels in the API's header. FranceConnect cases are reached with a FranceConnect
token instead (`api_path` and `Authorization: Bearer <token>`).
"""

from __future__ import annotations

import re
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

    def curl_lines(self, base_url: str) -> list[str]:
        """The cURL command as the READMEs write it, one option per line: `curl`, `-H …`, `-G`, `-d k=v`…,
        `--url …`. A header holding `$TOKEN` is written in double quotes, so that the shell expands it."""
        lines = ["curl"]
        lines += [f"-H {shell_word(f'{name}: {value}')}" for name, value in self.headers]
        if self.query:
            lines.append("-G")
            lines += [f"-d {shlex.quote(urlencode([(name, value)]))}" for name, value in self.query]
        lines.append(f"--url {shlex.quote(base_url.rstrip('/') + self.path)}")
        return lines

    def curl(self, base_url: str, *, multiline: bool = False) -> str:
        """The command on one line, or on several with `\\` continuations."""
        return (" \\\n  " if multiline else " ").join(self.curl_lines(base_url))

    def short_curl(self, base_url: str) -> str:
        """`curl -i -H "…: $TOKEN" 'URL?query'`: the shortest command that shows the answer and its headers."""
        headers = " ".join(f"-H {shell_word(f'{name}: {value}')}" for name, value in self.headers)
        return f"curl -i {headers} {shlex.quote(base_url.rstrip('/') + self.target)}"

    @property
    def uses_token_variable(self) -> bool:
        return any(TOKEN_REFERENCE in value for _, value in self.headers)


# The shell variable the printed cURL commands read the token from, and the line that sets it: the
# sandbox's own route hands out the repository's token (`GET /__sandbox/token`).
TOKEN_VARIABLE = "TOKEN"
TOKEN_REFERENCE = "$" + TOKEN_VARIABLE
TOKEN_ROUTE = "/__sandbox/token"
_DOUBLE_QUOTED_SPECIAL = re.compile(r'([\\"`$])')


def token_line(base_url: str) -> str:
    """`export TOKEN=$(curl -sSf <base>/__sandbox/token)`: the first line of every printed cURL command."""
    return f"export {TOKEN_VARIABLE}=$(curl -sSf {shlex.quote(base_url.rstrip('/') + TOKEN_ROUTE)})"


def shell_word(text: str) -> str:
    """`text` as one shell word: in double quotes with `$TOKEN` left to expand when it holds it (and every
    other `\\ " ` $` escaped), else single-quoted when it needs quoting at all."""
    if TOKEN_REFERENCE not in text:
        return shlex.quote(text)
    pieces = (_DOUBLE_QUOTED_SPECIAL.sub(r"\\\1", piece) for piece in text.split(TOKEN_REFERENCE))
    return '"' + TOKEN_REFERENCE.join(pieces) + '"'


def curl_script(request: CaseRequest, base_url: str, *, multiline: bool = True) -> str:
    """The command, after the line that sets `$TOKEN` when it reads it: pasted in a shell, it works."""
    command = request.curl(base_url, multiline=multiline)
    return f"{token_line(base_url)}\n{command}" if request.uses_token_variable else command


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
