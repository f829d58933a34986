"""The first request an integrator sends: one case that answers 200 as printed, with the sandbox's token.

The startup banner, the home page and the README print it after the line that sets `$TOKEN`. The case
is checked by answering the request in-process from the snapshot (bounded: a few candidates), so what
is printed works against the repository being served, not only the embedded one.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from sandbox.load.handed_token import handed_token
from sandbox.load.repository import Case
from sandbox.load.snapshot import Snapshot
from sandbox.serve.pipeline import IncomingRequest, Services, answer
from sandbox.tools.reaching import TOKEN_REFERENCE, CaseRequest, case_request

# Tried first, in this order: the operations integrators call most (research/users.md, §2).
PREFERRED = ("api_entreprise_v3_insee_unites_legales", "api_entreprise_v3_insee_etablissements")
MAX_CANDIDATES = 40  # cases answered in-process at most to find one


@dataclass(frozen=True, slots=True)
class FirstRequest:
    case: Case
    request: CaseRequest  # reading the token from `$TOKEN`


def _candidates(snapshot: Snapshot) -> list[tuple[str, Case]]:
    ranked = [*(o for o in PREFERRED if o in snapshot.tables), *sorted(set(snapshot.tables) - set(PREFERRED))]
    found: list[tuple[str, Case]] = []
    for operation_id in ranked:
        operation = snapshot.operations[operation_id]
        if operation.is_france_connect:
            continue
        cases = sorted((c for c in snapshot.tables[operation_id].cases if c.status == 200), key=lambda c: c.file)
        found.extend((operation_id, case) for case in cases)
    return found[:MAX_CANDIDATES]


def first_request(snapshot: Snapshot) -> FirstRequest | None:
    """A case of `snapshot` that answers 200 to its README request with the sandbox's token, or None."""
    token = handed_token(snapshot).value
    services = Services(limiter=None)
    for operation_id, case in _candidates(snapshot):
        operation = snapshot.operations[operation_id]
        sent = case_request(operation, case, token)
        headers = {name.lower(): value for name, value in sent.headers}
        incoming = IncomingRequest("GET", sent.path, urlencode(sent.query).encode(), headers)
        answered = answer(snapshot, incoming, services).prepared
        if answered.status == 200 and answered.case_id == case.id:
            return FirstRequest(case, case_request(operation, case, TOKEN_REFERENCE))
    return None
