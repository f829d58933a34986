"""`sandbox contract --profile production --scopes ...`: what a habilitation receives, offline and over HTTP."""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator

import pytest

from sandbox.cli.contract import main, run_command
from sandbox.load.snapshot import build_snapshot
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.serve.scenarios import Scenarios
from sandbox.tools.contract import NOT_OPENED, ContractOptions, ExpectedFailure, habilitation, run_contract
from sandbox.web import create_app
from tests.conftest import corpus_path
from tests.test_replay import MODEL_TODAY

SECRET = "contract-profile-test-secret-32-bytes!"
QF_V3 = "api_particulier_v3_cnav_quotient_familial_with_civility"
QF_V2 = "api_particulier_v2_cnav_quotient_familial_v2"
PRIME_V2 = "api_particulier_v2_cnav_prime_activite"
SCOPES = ("cnaf_quotient_familial", "cnaf_adresse")
NOT_KEPT = ExpectedFailure("none", "")


def test_the_offline_view_says_what_the_habilitation_receives_and_what_it_does_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = corpus_path("siade_staging_data")
    code = main(["--profile", "production", "--scopes", ",".join(SCOPES), "--fixtures", str(root), "--only", QF_V3])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 operation(s) open, 0 refused" in out
    assert "receives: data.quotient_familial, data.adresse" in out
    assert "data.allocataires (needs cnaf_allocataires)" in out and "data.enfants (needs cnaf_enfants)" in out
    views = habilitation(build_snapshot(root), SCOPES, (QF_V3, PRIME_V2))
    by_id = {view.operation_id: view for view in views}
    assert by_id[QF_V3].opened and not by_id[PRIME_V2].opened
    assert by_id[QF_V3].cases_cut and all("data.enfants" in paths for _, paths in by_id[QF_V3].cases_cut)


def test_without_a_base_url_the_profile_and_scopes_are_needed() -> None:
    err = io.StringIO()
    code = run_command(build_args(["--scopes", "cnaf_adresse"]), out=io.StringIO(), err=err)
    assert code == 2 and "--profile production --scopes" in err.getvalue()


def build_args(argv: list[str]) -> argparse.Namespace:
    from sandbox.cli.contract import build_parser

    return build_parser().parse_args(argv)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    snapshot = build_snapshot(corpus_path("siade_staging_data"), secrets=[SECRET])
    production = create_app(snapshot, Services(fixed_today=MODEL_TODAY, scenarios=Scenarios(profile="production")))
    staging = create_app(snapshot, Services(fixed_today=MODEL_TODAY))
    with serve_in_thread(production) as production_url, serve_in_thread(staging) as staging_url:
        yield production_url, staging_url


def options(base_url: str) -> ContractOptions:
    return ContractOptions(
        base_url=base_url,
        fixtures=corpus_path("siade_staging_data"),
        only=(QF_V3, QF_V2, PRIME_V2),
        today=MODEL_TODAY,
        profile="production",
        scopes=SCOPES,
        jwt_secret=SECRET,
    )


def test_the_replay_expects_each_200_body_cut_to_the_habilitation(servers: tuple[str, str]) -> None:
    production_url, staging_url = servers
    report = run_contract(options(production_url))
    counts = report.counts
    passed_200 = [r for r in report.results if r.outcome == "passed" and r.status == 200]
    assert counts["failed"] == 0, [r.messages for r in report.results if r.outcome == "failed"][:3]
    assert len(passed_200) > 10
    refused = [
        r for r in report.results if r.planned.expected_failure and r.planned.expected_failure.category == NOT_OPENED
    ]
    assert refused and all(r.operation_id == PRIME_V2 for r in refused)
    # the same expectations fail against a server that sends payloads whole
    whole = run_contract(options(staging_url))
    assert whole.counts["failed"] >= len(passed_200)
