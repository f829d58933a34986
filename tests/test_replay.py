"""Replay every case of the real corpora over HTTP, as a client would send it (README cURL),
with the corpus's own token, token checks and parameter validation on.

documented mode: every case that is a valid request (OpenAPI parameters) and that real
staging does not reject by validation answers exactly its status and JSON.
staging mode: which cases answer agrees with the reference model of real staging
(../shared/spec/model/fixture_audit.py), lookup-key reasons and validation reasons alike.
Both modes: each case real staging rejects by validation gets the 422 (v2: 400) it should,
and the FranceConnect token → case table of the spec (§10.4) is reproduced.
"""

from __future__ import annotations

import datetime
import importlib.util
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from sandbox.load.openapi import parameter_problems
from sandbox.load.repository import Case
from sandbox.load.snapshot import Snapshot, build_snapshot
from sandbox.rules.gone import gone_route
from sandbox.rules.matching import MatchMode
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.tools.reaching import case_request, france_connect_request
from sandbox.web import create_app
from tests.conftest import CORPORA, SHARED_FIXTURES, corpus_path

MODEL = SHARED_FIXTURES.parent / "spec" / "model" / "fixture_audit.py"
FRANCE_CONNECT_IDENTITY_KEYS = {"given_name", "family_name", "birthdate", "gender", "birthplace"}
# The reference model's date: its validation reasons (DSNJ age, year windows) are relative to it.
MODEL_TODAY = datetime.date(2026, 4, 28)


@dataclass
class Outcome:
    case: Case
    served: bool
    status: int
    body: Any
    detail: str


def replay(snapshot: Snapshot, token: str, today: datetime.date = MODEL_TODAY) -> Iterator[Outcome]:
    with (
        serve_in_thread(create_app(snapshot, Services(fixed_today=today))) as base_url,
        httpx.Client(base_url=base_url, timeout=30.0) as client,
    ):
        for table in snapshot.tables.values():
            for case in table.cases:
                request = case_request(table.operation, case, token)
                response = client.get(request.path, params=list(request.query), headers=dict(request.headers))
                served_case = response.headers.get("x-sandbox-case")
                try:
                    body = response.json()
                except ValueError:
                    body = response.text
                same = served_case == case.id and response.status_code == case.status and body == case.payload
                detail = f"got {response.status_code} from {served_case}: {str(body)[:160]}"
                yield Outcome(case, same, response.status_code, body, detail)


def _token(root: Path) -> str:
    return (root / "tokens" / "default").read_text().strip()


def _france_connect_only(snapshot: Snapshot, case: Case) -> bool:
    operation = snapshot.operations[case.folder]
    return operation.is_france_connect or bool(FRANCE_CONNECT_IDENTITY_KEYS & set(case.params))


def _load_model() -> Any:
    if not MODEL.is_file():
        pytest.skip(f"reference model not available at {MODEL}")
    spec = importlib.util.spec_from_file_location("fixture_audit", MODEL)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules["fixture_audit"] = module
    spec.loader.exec_module(module)
    return module


_VALIDATION_MARKERS = ("422", "400", "invalid", "fails server validation", "identifiant missing", "outside")


def is_validation_reason(reason: str) -> bool:
    """Model reasons caused by parameter validation, not by lookup keys."""
    return any(marker in reason for marker in _VALIDATION_MARKERS)


def _snapshot(name: str, mode: MatchMode) -> tuple[Path, Snapshot]:
    root = corpus_path(name)
    return root, build_snapshot(root, mode)


def _rejected_by_validation(outcome: Outcome) -> bool:
    if outcome.status == 422 and isinstance(outcome.body, dict):
        return all(e.get("title") == "Entité non traitable" or e.get("code") == "39400" for e in outcome.body["errors"])
    return outcome.status == 400 and isinstance(outcome.body, dict) and outcome.body.get("error") == "bad_request"


# Rules of spec §3.5 that the reference model does not check, with the codes they answer.
MODEL_GAPS = {
    "00356": "CNAV quotient familial: `annee` within [N-2, N]",
    "00354": "CNAV quotient familial: `mois` not in the future",
    "00427": "Particulier v2 scolarites: `sexe` must be m or f",
}


def _model_gaps(snapshot: Snapshot, case: Case) -> list[str]:
    """Codes of the rules the model lacks that reject this case's request (empty: none)."""
    params = {k: [str(v) for v in value] if isinstance(value, list) else str(value) for k, value in case.params.items()}
    codes = [e.code for e in snapshot.tables[case.folder].checks.errors(params, today=MODEL_TODAY)]
    return codes if codes and set(codes) <= set(MODEL_GAPS) else []


@pytest.mark.parametrize("mode", list(MatchMode))
@pytest.mark.parametrize("name", CORPORA)
def test_replay_every_case(name: str, mode: MatchMode) -> None:
    model = _load_model()
    root, snapshot = _snapshot(name, mode)
    tally: Counter[str] = Counter()
    failures: list[str] = []
    listed: list[str] = []
    identifier_codes: Counter[str] = Counter()
    for outcome in replay(snapshot, _token(root)):
        case = outcome.case
        operation = snapshot.operations[case.folder]
        reasons = model.check_case(case.folder, case.params, MODEL_TODAY)
        validation = [r for r in reasons if is_validation_reason(r)]
        lookup = [r for r in reasons if not is_validation_reason(r)]
        if _france_connect_only(snapshot, case):
            tally["FranceConnect case (replayed with FranceConnect tokens)"] += 1
            continue
        if gone_route(operation.path, operation.api):
            tally["route answers 410"] += 1
            assert outcome.status == 410, case.id
            continue
        if validation:
            # Validation runs before the lookup: the lookup reasons do not matter any more.
            tally["rejected by validation"] += 1
            if not _rejected_by_validation(outcome):
                failures.append(f"{case.id}: real staging rejects it ({validation}), {outcome.detail}")
            elif any("fails server validation" in r for r in validation):
                identifier_codes[outcome.body["errors"][0]["code"]] += 1
            continue
        openapi = parameter_problems(operation, case.params)
        must_serve = not lookup if mode is MatchMode.STAGING else not openapi
        gaps = _model_gaps(snapshot, case)
        if must_serve and gaps:
            tally["rejected by a rule of spec §3.5 the model lacks"] += 1
            listed.append(f"{case.id}: rejected ({gaps}), a rule the reference model does not check")
            if not _rejected_by_validation(outcome):
                failures.append(f"{case.id}: expected a validation rejection ({gaps}), {outcome.detail}")
            continue
        if must_serve:
            tally["answered exactly" if outcome.served else "NOT answered"] += 1
            if not outcome.served:
                failures.append(f"{case.id}: {outcome.detail}")
        elif mode is MatchMode.STAGING:
            tally["unreachable by lookup keys"] += 1
            if outcome.served:
                failures.append(f"{case.id}: model says unreachable ({lookup}) but it was served")
        else:
            tally["other (listed)"] += 1
            listed.append(f"{case.id}: {'; '.join(openapi + lookup)} -> {'served' if outcome.served else 'not served'}")
    print(f"\n[{name}, {mode.value}] {dict(tally)}; identifier rejections by code: {dict(identifier_codes)}")
    print("\n".join(f"  {line}" for line in listed))
    print("\n".join(f"  FAILED {line}" for line in failures))
    assert failures == []
    assert tally["answered exactly"] > 400
    if name == "siade_staging_data":
        assert sum(identifier_codes.values()) == 16
        assert set(identifier_codes) == {"00301", "00302"}


# The token → case table of the spec (§10.4, measured on siade_staging_data).
FRANCE_CONNECT_TABLE: dict[str, set[str]] = {
    "cnous": {"api_particulier_v2_cnous_student_scholarship/fake_france_connect_cnous.yml"},
    "cnous_with_less_scopes": {"api_particulier_v2_cnous_student_scholarship/fake_france_connect_cnous.yml"},
    "all_fc": {
        "api_particulier_v2_cnous_student_scholarship/fake_france_connect_cnous_2.yml",
        "api_particulier_v3_gip_mds_service_civique_with_france_connect/fake_france_connect_all_fc.yaml",
        "api_particulier_v3_mesri_statut_etudiant_with_france_connect/fake_france_connect_mesri.yml",
    },
    "ants": {
        "api_particulier_v2_cnous_student_scholarship/fake_france_connect_cnous_2.yml",
        "api_particulier_v3_gip_mds_service_civique_with_france_connect/fake_france_connect_all_fc.yaml",
        "api_particulier_v3_mesri_statut_etudiant_with_france_connect/fake_france_connect_mesri.yml",
    },
    "mesri": {
        "api_particulier_v2_mesri_student_status/fake_france_connect_mesri.yml",
        "api_particulier_v3_mesri_statut_etudiant_with_france_connect/fake_france_connect_mesri_2.yml",
    },
    "service_civique": {
        "api_particulier_v3_gip_mds_service_civique_with_france_connect/fake_france_connect_service_civique.yaml"
    },
    "cnaf_css": set(),
    "cnaf_eaje": set(),
    "cnaf_qfv2": set(),
}
DSNJ_FRANCE_CONNECT = "api_particulier_v3_dsnj_service_national_with_france_connect"


@pytest.mark.parametrize("mode", list(MatchMode))
def test_france_connect_token_table(mode: MatchMode) -> None:
    _, snapshot = _snapshot("siade_staging_data", mode)
    france_connect_operations = [t.operation for t in snapshot.tables.values() if t.identity is not None]
    reached: dict[str, set[str]] = defaultdict(set)
    dsnj: dict[str, int] = {}
    # The table of §10.4 is about identities and lookup keys: scopes are checked separately below.
    services = Services(fixed_today=MODEL_TODAY, check_scopes=False)
    with (
        serve_in_thread(create_app(snapshot, services)) as base_url,
        httpx.Client(base_url=base_url, timeout=30.0) as client,
    ):
        for token in snapshot.france_connect:
            for operation in france_connect_operations:
                request = france_connect_request(operation.path, token)
                response = client.get(request.path, params=list(request.query), headers=dict(request.headers))
                case = response.headers.get("x-sandbox-case", "")
                if case not in ("default", "none"):
                    reached[token].add(case)
                if operation.id == DSNJ_FRANCE_CONNECT:
                    dsnj[token] = response.status_code
        unknown = client.get("/v3/mesri/statut_etudiant/france_connect", headers={"Authorization": "Bearer nope"})
        unknown_v2 = client.get(
            "/api/v2/etudiants", params={"recipient": "13002526500013"}, headers={"Authorization": "Bearer nope"}
        )
    print(f"\n[{mode.value}] {dict(reached)}; DSNJ FranceConnect statuses: {dsnj}")
    assert {t: reached.get(t, set()) for t in FRANCE_CONNECT_TABLE} == FRANCE_CONNECT_TABLE
    assert dsnj["all_fc"] == 422  # the identity is aged 32: outside the DSNJ window
    detail = "Le jeton d'accès est mal formaté."  # spec §11.7: what the real FranceConnect answers
    assert unknown.status_code == 401
    assert unknown.json() == {
        "errors": [{"code": "50001", "title": "Accès non autorisé", "detail": detail, "meta": {}}]
    }
    assert unknown_v2.status_code == 401
    assert unknown_v2.json() == {"error": "access_denied", "reason": detail, "message": detail}


def test_france_connect_scopes_are_checked_without_identite_scopes() -> None:
    """all_fc lacks the scopes of two CNAV endpoints (§10.4): 403 there.

    On apistration_mocks, whose authorisations file lists those endpoints (siade_staging_data's does not).
    """
    _, snapshot = _snapshot("apistration_mocks", MatchMode.DOCUMENTED)
    statuses = {}
    with serve_in_thread(create_app(snapshot, Services(fixed_today=MODEL_TODAY))) as base_url:
        for path in (
            "/v3/dss/allocation_enfant_handicape/france_connect",
            "/v3/dss/participation_familiale_eaje/france_connect",
            "/v3/mesri/statut_etudiant/france_connect",
        ):
            request = france_connect_request(path, "all_fc")
            response = httpx.get(
                base_url + request.path, params=list(request.query), headers=dict(request.headers), timeout=30.0
            )
            statuses[path] = (
                response.status_code,
                response.json()["errors"][0]["code"] if response.status_code >= 400 else "",
            )
    assert statuses["/v3/dss/allocation_enfant_handicape/france_connect"] == (403, "00100")
    assert statuses["/v3/dss/participation_familiale_eaje/france_connect"] == (403, "00100")
    assert statuses["/v3/mesri/statut_etudiant/france_connect"] == (200, "")
