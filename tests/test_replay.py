"""Replay every case of the real corpora over HTTP, as a client would send it (README cURL).

documented mode: every case whose params are a valid request by the OpenAPI
parameters answers exactly its status and JSON.
staging mode: which cases answer agrees with the reference model of real staging
(../shared/spec/model/fixture_audit.py) for every reason that is about lookup keys.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from sandbox.app import create_app
from sandbox.gone import gone_route
from sandbox.local_server import serve_in_thread
from sandbox.matching import MatchMode
from sandbox.openapi import parameter_problems
from sandbox.replay import case_request
from sandbox.repository import FRANCE_CONNECT_FOLDER, Case
from sandbox.snapshot import Snapshot, build_snapshot
from tests.conftest import CORPORA, SHARED_FIXTURES, corpus_path

MODEL = SHARED_FIXTURES.parent / "spec" / "model" / "fixture_audit.py"
FRANCE_CONNECT_IDENTITY_KEYS = {"given_name", "family_name", "birthdate", "gender", "birthplace"}


@dataclass
class Outcome:
    case: Case
    served: bool
    detail: str


def replay(snapshot: Snapshot, token: str) -> Iterator[Outcome]:
    with serve_in_thread(create_app(snapshot)) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        for table in snapshot.tables.values():
            for case in table.cases:
                request = case_request(table.operation, case, token)
                response = client.get(request.path, params=list(request.query), headers=dict(request.headers))
                served_case = response.headers.get("x-sandbox-case")
                same = served_case == case.id and response.status_code == case.status
                if same:
                    same = response.json() == case.payload
                detail = f"got {response.status_code} from {served_case}"
                yield Outcome(case, same, detail)


def _token(root: Path) -> str:
    return (root / "tokens" / "default").read_text().strip()


def _france_connect_only(snapshot: Snapshot, case: Case) -> bool:
    operation = snapshot.operations[case.folder]
    return operation.is_france_connect or bool(FRANCE_CONNECT_IDENTITY_KEYS & set(case.params))


@pytest.mark.parametrize("name", CORPORA)
def test_documented_mode_serves_every_valid_case(name: str) -> None:
    root = corpus_path(name)
    snapshot = build_snapshot(root, MatchMode.DOCUMENTED)
    valid = failures = 0
    others: list[str] = []
    served_anyway = 0
    for outcome in replay(snapshot, _token(root)):
        operation = snapshot.operations[outcome.case.folder]
        if _france_connect_only(snapshot, outcome.case):
            reasons = ["FranceConnect case: reached with a FranceConnect token, not with query parameters"]
        elif gone_route(operation.path, operation.api):
            reasons = ["the route answers 410 Gone"]
        else:
            reasons = parameter_problems(operation, outcome.case.params)
        if reasons:
            served_anyway += outcome.served
            others.append(f"{outcome.case.id}: {'; '.join(reasons)} -> {'served' if outcome.served else 'not served'}")
            continue
        valid += 1
        if not outcome.served:
            failures += 1
            others.append(f"FAILED {outcome.case.id}: {outcome.detail}")
    print(f"\n[{name}] documented mode: {valid} valid cases, {valid - failures} answered exactly")
    print(f"[{name}] {len(others) - failures} other cases ({served_anyway} of them answered anyway):")
    print("\n".join(f"  {line}" for line in others))
    assert failures == 0
    assert valid > 500


def _load_model() -> ModuleType:
    if not MODEL.is_file():
        pytest.skip(f"reference model not available at {MODEL}")
    spec = importlib.util.spec_from_file_location("fixture_audit", MODEL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fixture_audit"] = module
    spec.loader.exec_module(module)
    return module


_VALIDATION_MARKERS = ("422", "400", "invalid", "fails server validation", "identifiant missing", "outside")


def is_validation_reason(reason: str) -> bool:
    """Model reasons caused by parameter validation (checked once validation lands), not lookup keys."""
    return any(marker in reason for marker in _VALIDATION_MARKERS)


@pytest.mark.parametrize("name", CORPORA)
def test_staging_mode_agrees_with_the_reference_model(name: str) -> None:
    import datetime

    model: Any = _load_model()
    root = corpus_path(name)
    snapshot = build_snapshot(root, MatchMode.STAGING)
    today = datetime.date.today()
    tally: Counter[str] = Counter()
    disagreements: list[str] = []
    for outcome in replay(snapshot, _token(root)):
        case = outcome.case
        if case.folder == FRANCE_CONNECT_FOLDER:
            continue
        reasons = model.check_case(case.folder, case.params, today)
        lookup_reasons = [r for r in reasons if not is_validation_reason(r)]
        if _france_connect_only(snapshot, case):
            tally["FranceConnect (checked with FranceConnect tokens)"] += 1
        elif lookup_reasons:
            tally["unreachable by lookup keys"] += 1
            if outcome.served:
                disagreements.append(f"{case.id}: model says {lookup_reasons} but it was served")
        elif reasons:
            tally["unreachable by validation only (checked with validation)"] += 1
        else:
            tally["reachable"] += 1
            if not outcome.served:
                disagreements.append(f"{case.id}: model says reachable, {outcome.detail}")
    print(f"\n[{name}] staging mode: {dict(tally)}")
    print("\n".join(f"  {line}" for line in disagreements))
    assert disagreements == []
    assert tally["reachable"] > 400
