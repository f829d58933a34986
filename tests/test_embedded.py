"""The embedded default repository (payloads/, schemas/): ours, complete, and served exactly."""

from __future__ import annotations

import datetime
import hashlib
import warnings

import pytest

from sandbox.load.embedded import default_fixtures
from sandbox.load.openapi import parameter_problems
from sandbox.load.repository import NOT_FOUND_FILE
from sandbox.load.snapshot import build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.tools.lint.linter import lint_repository
from tests.conftest import PINNED_TODAY, ROOT, SHARED_FIXTURES
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
    for outcome in replay(snapshot, (ROOT / "tokens" / "default").read_text().strip(), PINNED_TODAY):
        operation = snapshot.operations[outcome.case.folder]
        if operation.is_france_connect:
            continue
        assert parameter_problems(operation, outcome.case.params) == [], outcome.case.id
        if not outcome.served:
            failures.append(f"{outcome.case.id}: {outcome.detail}")
    assert failures == []


def test_the_forecast_names_the_embedded_cases_a_year_window_will_refuse() -> None:
    """QF `annee` is accepted in [N−2, N] (spec §3.5): the embedded `annee: 2025` cases are refused from 2028."""
    report = lint_repository(ROOT, today=datetime.date(2027, 1, 1), forecast_days=365)
    expiring = sorted((f.file, f.line) for f in report.findings if f.rule == "date-window-expiring")
    assert expiring == [
        ("payloads/api_particulier_v2_cnav_quotient_familial_v2/200-msa-couple-annee-mois.yaml", 15),
        ("payloads/api_particulier_v3_cnav_quotient_familial_with_civility/200-msa-couple-annee-mois.yaml", 15),
    ]
    assert all("rejected from 2028-01-01" in f.message for f in report.findings if f.rule == "date-window-expiring")


def test_no_embedded_case_rots_within_a_year_of_the_real_date() -> None:
    """The only test that reads the real date: a warning (not a failure) a year before a case is refused,
    so the suite stays green on any date while the embedded fixtures get updated in time."""
    today = datetime.date.today()
    report = lint_repository(ROOT, today=today, forecast_days=365)
    rotting = [f"{f.file}:{f.line} {f.message}" for f in report.findings if f.rule.startswith("date-window")]
    if rotting:
        warnings.warn(
            f"embedded cases refused within a year of {today} (update their years): " + "; ".join(rotting),
            stacklevel=1,
        )


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
