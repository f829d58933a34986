"""The embedded default repository (payloads/, schemas/): ours, complete, and served exactly."""

from __future__ import annotations

import datetime
import hashlib

import pytest

from sandbox.load.embedded import default_fixtures
from sandbox.load.openapi import parameter_problems
from sandbox.load.repository import NOT_FOUND_FILE
from sandbox.load.snapshot import build_snapshot
from sandbox.rules.matching import MatchMode
from tests.conftest import ROOT, SHARED_FIXTURES
from tests.test_replay import replay


def test_the_default_fixtures_are_the_embedded_repository() -> None:
    assert default_fixtures() == ROOT


def test_embedded_repository_loads_cleanly_and_covers_the_api_families() -> None:
    snapshot = build_snapshot(ROOT)
    assert snapshot.report.problems == ()
    operations = snapshot.operations
    assert len(operations) >= 8
    assert any(op.is_v2 for op in operations.values())
    assert any(op.id.endswith("_with_civility") for op in operations.values())
    assert any(op.id.endswith("_with_ine") for op in operations.values())
    assert any(op.is_france_connect for op in operations.values())
    assert any(op.api == "entreprise" and "{siren}" in op.path for op in operations.values())
    assert any(op.api == "entreprise" and "{siret}" in op.path for op in operations.values())
    statuses = {case.status for table in snapshot.tables.values() for case in table.cases}
    assert {200, 404, 502, 503, 504} <= statuses
    for table in snapshot.tables.values():
        if table.operation.api == "particulier":
            assert any(c.file == NOT_FOUND_FILE for c in table.cases), table.operation.id
        assert len(table.cases) >= 3, table.operation.id
    assert len(snapshot.france_connect) >= 2


def test_every_embedded_case_is_served_exactly() -> None:
    snapshot = build_snapshot(ROOT, MatchMode.DOCUMENTED)
    failures = []
    for outcome in replay(snapshot, (ROOT / "tokens" / "default").read_text().strip(), datetime.date.today()):
        operation = snapshot.operations[outcome.case.folder]
        if operation.is_france_connect:
            continue
        assert parameter_problems(operation, outcome.case.params) == [], outcome.case.id
        if not outcome.served:
            failures.append(f"{outcome.case.id}: {outcome.detail}")
    assert failures == []


def test_no_embedded_file_is_a_copy_of_the_public_corpora() -> None:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"public corpora not available at {SHARED_FIXTURES}")
    theirs = {
        hashlib.sha256(path.read_bytes()).hexdigest()
        for path in SHARED_FIXTURES.rglob("*")
        if path.is_file() and path.suffix in (".yaml", ".yml", ".json", ".md") and path.stat().st_size > 200
    }
    ours = [p for folder in ("payloads", "schemas", "data") for p in (ROOT / folder).rglob("*") if p.is_file()]
    copies = [str(p.relative_to(ROOT)) for p in ours if hashlib.sha256(p.read_bytes()).hexdigest() in theirs]
    assert ours and copies == []


def test_embedded_generated_docs_are_up_to_date() -> None:
    from sandbox.tools.docs import generate, stale_files

    assert stale_files(ROOT, generate(ROOT, None)) == []
