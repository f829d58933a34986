"""The requests the speed scripts send (shared by bench.py, bench_compare.py and profile_path.py).

(a) a case hit on the QF civility operation of API Particulier v3; (a') the same with a query
string new on every request; (b) an API Entreprise fallback (OpenAPI example); (c') an API
Particulier miss (an identity no case documents: `404.yaml` with its near-miss header).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from sandbox import MatchMode, build_snapshot, case_request
from sandbox.load.snapshot import Snapshot
from sandbox.tools.reaching import query_pairs

CIVILITY_OPERATION = "api_particulier_v3_cnav_quotient_familial_with_civility"
ENTREPRISE_OPERATION = "api_entreprise_v3_insee_unites_legales"
# The birth name of the miss: no case documents it, every other parameter is the hit case's.
MISS_NAME = "INCONNU"


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char) * (2 if index % 2 else 1)
        total += number - 9 if number > 9 else number
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class Targets:
    """Request targets (path and query string) and the token, for one fixture repository."""

    snapshot: Snapshot
    token: str
    candidates: tuple[tuple[str, str], ...]  # (case id, target) of the 200 civility cases, in order
    fallback: str

    def miss(self, hit_case_id: str) -> str:
        """The hit case's request with a birth name no case documents."""
        table = self.snapshot.tables[CIVILITY_OPERATION]
        case = next(c for c in table.cases if c.id == hit_case_id)
        params = {**case.params, "nomNaissance": MISS_NAME}
        return table.operation.path + "?" + urlencode([("recipient", "13002526500013"), *query_pairs(params)])


def targets(fixtures: Path) -> Targets:
    token_file = fixtures / "tokens" / "default"
    token = token_file.read_text().strip() if token_file.is_file() else ""
    snapshot = build_snapshot(fixtures, MatchMode.DOCUMENTED)
    table = snapshot.tables[CIVILITY_OPERATION]
    candidates = tuple((c.id, case_request(table.operation, c, token).target) for c in table.cases if c.status == 200)
    entreprise = snapshot.tables[ENTREPRISE_OPERATION]
    documented = {str(c.params.get("siren")) for c in entreprise.cases}
    siren = next(s for s in (f"{n:09d}" for n in range(100000000, 100100000)) if luhn_ok(s) and s not in documented)
    tracking = urlencode({"recipient": "13002526500013", "context": "bench", "object": "bench"})
    fallback = entreprise.operation.path.replace("{siren}", siren) + "?" + tracking
    return Targets(snapshot, token, candidates, fallback)
