"""`sandbox contract`: every case replayed against a server, answers checked against the case and
the OpenAPI schema, expected failures with their reasons, JUnit XML, retries, the command line."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import io
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.cli import contract as contract_cli
from sandbox.load.snapshot import Snapshot, build_snapshot
from sandbox.rules.routing import api_of_host
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.serve.response_validation import ResponseValidators
from sandbox.tools import contract
from sandbox.tools.contract import run as contract_run
from sandbox.tools.reaching import CaseRequest
from sandbox.web import create_app
from tests.conftest import ROOT, corpus_path

# The date the public corpus's validation expectations are computed for (as in test_replay).
TODAY = datetime.date(2026, 4, 28)
TOTAL = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) expected failures?)?(?:, (\d+) skipped)? in ", re.M)
UNITES_LEGALES = "api_entreprise_v3_insee_unites_legales"
RETYPED_SIREN = "912345675"  # personne-morale.yaml: data.siren becomes a number
RESTATUSED_SIREN = "793451824"  # association.yaml: 200 becomes 503


def totals(output: str) -> dict[str, int]:
    match = TOTAL.search(output)
    assert match is not None, output[-2000:]
    passed, failed, xfailed, skipped = (int(g or 0) for g in match.groups())
    return {"passed": passed, "failed": failed, "xfailed": xfailed, "skipped": skipped}


def junit_counts(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    for suite in root.findall("testsuite"):
        assert int(suite.attrib["tests"]) == len(suite.findall("testcase"))
        assert int(suite.attrib["failures"]) == len(suite.findall("testcase/failure"))
        assert int(suite.attrib["skipped"]) == len(suite.findall("testcase/skipped"))
    counts = {
        "tests": int(root.attrib["tests"]),
        "failures": int(root.attrib["failures"]),
        "skipped": int(root.attrib["skipped"]),
        "errors": int(root.attrib["errors"]),
    }
    assert counts["tests"] == len(cases)
    assert counts["failures"] == sum(len(c.findall("failure")) for c in cases)
    counts["xfail"] = len(root.findall("./testsuite/testcase/skipped[@type='xfail']"))
    counts["skip"] = len(root.findall("./testsuite/testcase/skipped[@type='skip']"))
    counts["suites"] = len(root.findall("testsuite"))
    return counts


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = contract_cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------------------
# Against the sandbox serving the public corpus
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_server() -> Iterator[tuple[Path, str, Snapshot]]:
    root = corpus_path("siade_staging_data")
    snapshot = build_snapshot(root)
    with serve_in_thread(create_app(snapshot, Services(fixed_today=TODAY))) as base_url:
        yield root, base_url, snapshot


LintResult = tuple[dict[str, list[contract.FindingLike]], str, frozenset[str] | None]


@pytest.fixture(scope="module")
def corpus_lint(corpus_server: tuple[Path, str, Snapshot]) -> LintResult:
    return contract.lint_findings(corpus_server[2], TODAY)


def test_every_public_case_passes_except_expected_failures(
    corpus_server: tuple[Path, str, Snapshot], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, base_url, _ = corpus_server
    junit = tmp_path / "reports" / "contract.xml"
    args = ["--base-url", base_url, "--fixtures", str(root), "--today", TODAY.isoformat(), "--junit", str(junit)]
    code, out, err = run(capsys, *args)
    print(out[out.index("Expected failures by reason") :])
    summary = totals(out)
    assert code == 0
    assert summary["failed"] == 0 and "FAILED" not in out
    assert summary["passed"] > 600
    # every expected failure is listed with its reason, and the reasons add up
    xfails = re.findall(r"^  XFAIL  (payloads/\S+): (.+)$", out, re.M)
    assert len(xfails) == summary["xfailed"] > 0
    assert all(reason.strip() for _, reason in xfails)
    by_category = {}
    for line in out.split("Expected failures by reason:\n")[1].splitlines():
        if not (match := re.match(r"^  (\d+) (.+)$", line)):
            break
        by_category[match.group(2)] = int(match.group(1))
    print(by_category)
    assert by_category[contract.GONE] == 22  # the v1 quotient familial and svair routes
    assert by_category[contract.FRANCE_CONNECT_ONLY] == 83
    assert by_category["lint: invalid-identifier"] > 0 and by_category["lint: server-validation"] > 0
    assert set(by_category) - {contract.GONE, contract.FRANCE_CONNECT_ONLY} == {
        c for c in by_category if c.startswith("lint: ")
    }
    assert sum(by_category.values()) == summary["xfailed"]
    assert any("real staging answers 410 Gone" in reason for _, reason in xfails)
    # one progress line every 10% on a stderr that is not a terminal
    assert err.count("contract: ") == 10 and err.rstrip().endswith("(100%)")
    # the JUnit report says the same
    counts = junit_counts(junit)
    assert counts["tests"] == summary["passed"] + summary["failed"] + summary["xfailed"] + summary["skipped"]
    assert counts["failures"] == summary["failed"] == 0
    assert counts["xfail"] == summary["xfailed"] and counts["skip"] == summary["skipped"]
    assert counts["skipped"] == summary["xfailed"] + summary["skipped"]
    assert counts["suites"] == len(re.findall(r"^api_\w+: \d+ passed", out, re.M))


def test_france_connect_cases_are_replayed_with_their_fake_tokens(
    corpus_server: tuple[Path, str, Snapshot], corpus_lint: LintResult
) -> None:
    root, base_url, snapshot = corpus_server

    def lint(snapshot: Snapshot, today: datetime.date) -> LintResult:
        return corpus_lint

    only = (
        "api_particulier_v2_cnous_student_scholarship",
        "api_particulier_v3_mesri_statut_etudiant_with_france_connect",
        "api_particulier_v3_gip_mds_service_civique_with_france_connect",
    )
    options = contract.ContractOptions(base_url, root, only=only, today=TODAY)
    without = contract.run_contract(options, snapshot=snapshot, findings=lint)
    with_france_connect = contract.run_contract(
        contract.ContractOptions(base_url, root, only=only, today=TODAY, france_connect=True),
        snapshot=snapshot,
        findings=lint,
    )
    before, after = without.counts, with_france_connect.counts
    assert with_france_connect.ok and after["failed"] == 0
    # the cases of the spec's token table (cnous, all_fc, mesri, service_civique) are now answered
    replayed = {r.case.id: r.planned.via for r in with_france_connect.results if r.planned.via != "token"}
    assert {
        "api_particulier_v2_cnous_student_scholarship/fake_france_connect_cnous.yml",
        "api_particulier_v3_gip_mds_service_civique_with_france_connect/fake_france_connect_service_civique.yaml",
        "api_particulier_v3_mesri_statut_etudiant_with_france_connect/fake_france_connect_mesri.yml",
    } <= set(replayed)
    assert all(via.startswith("FranceConnect token ") for via in replayed.values())
    assert after["passed"] - before["passed"] == len(replayed)
    assert after["passed"] + after["xfailed"] == before["passed"] + before["xfailed"]
    assert with_france_connect.expected_failures_by_category()[contract.FRANCE_CONNECT_UNREACHED] > 0
    assert contract.FRANCE_CONNECT_ONLY not in with_france_connect.expected_failures_by_category()


# ---------------------------------------------------------------------------
# Against a deliberately wrong server
# ---------------------------------------------------------------------------


class WrongServer:
    """Proxies to the sandbox (in process) and breaks two answers: a field's type, a status."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.sandbox = create_app(snapshot, Services(fixed_today=TODAY))
        self.hosts: set[str] = set()
        self.requests: Counter[str] = Counter()
        self.app = Starlette(routes=[Route("/{path:path}", self.proxy)])

    async def proxy(self, request: Request) -> Response:
        self.hosts.add(request.headers["host"])
        self.requests[f"{request.url.path}?{request.url.query}"] += 1
        transport = httpx.ASGITransport(app=self.sandbox)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "x-api-key")}
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            answer = await client.get(target, headers=headers)
        status, content = answer.status_code, answer.content
        if request.url.path.endswith(RETYPED_SIREN):
            body = answer.json()
            body["data"]["siren"] = int(body["data"]["siren"])
            content = json.dumps(body).encode()
        if request.url.path.endswith(RESTATUSED_SIREN):
            status = 503
        return Response(content, status, media_type=answer.headers["content-type"])


def test_a_wrong_server_is_reported_with_the_json_path_of_the_violation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = WrongServer(build_snapshot(ROOT))
    junit = tmp_path / "wrong.xml"
    with serve_in_thread(wrong.app) as base_url:
        code, out, _ = run(capsys, "--base-url", base_url, "--junit", str(junit), "--concurrency", "3")
    summary = totals(out)
    print(out)
    assert code == 1
    assert summary["failed"] == 2
    retyped = f"payloads/{UNITES_LEGALES}/personne-morale.yaml"
    restatused = f"payloads/{UNITES_LEGALES}/association.yaml"
    assert f"  FAILED {retyped}" in out and f"  FAILED {restatused}" in out
    assert '$.data.siren: expected "912345675", got 912345675' in out  # the diff against the case
    assert "$.data.siren: expected string, got integer 912345675" in out  # the schema violation
    assert "status: expected 200, got 503" in out
    assert f"{UNITES_LEGALES}: 6 passed, 2 failed" in out
    # the Host header is the base URL's, and an HTTP error is never retried
    assert wrong.hosts == {base_url.removeprefix("http://")}
    assert sum(wrong.requests.values()) == summary["passed"] + summary["failed"] + summary["xfailed"]
    assert set(wrong.requests.values()) == {1}
    failures = {
        case.attrib["file"]: case.find("failure")
        for case in ET.parse(junit).getroot().iter("testcase")
        if case.find("failure") is not None
    }
    assert set(failures) == {retyped, restatused}
    retyped_failure = failures[retyped]
    assert retyped_failure is not None and "$.data.siren: expected string, got integer" in (retyped_failure.text or "")
    restatused_failure = failures[restatused]
    assert restatused_failure is not None
    assert restatused_failure.attrib["message"] == "status: expected 200, got 503"
    assert junit_counts(junit)["failures"] == 2


# ---------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------


def test_the_embedded_repository_passes_against_the_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(create_app(build_snapshot(ROOT), Services())) as base_url:
        code, out, _ = run(capsys, "--base-url", base_url, "--france-connect")
    assert code == 0 and totals(out)["failed"] == 0 and totals(out)["passed"] >= 55


def test_connection_errors_are_retried_then_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contract_run, "RETRY_BACKOFF_S", 0.001)  # where `fetch` reads it
    with serve_in_thread(Starlette()) as base_url:
        pass  # the port is free again: nothing listens there any more
    code, out, _ = run(capsys, "--base-url", base_url, "--only", UNITES_LEGALES)
    assert code == 1 and totals(out) == {"passed": 0, "failed": 8, "xfailed": 0, "skipped": 0}
    assert out.count(f"connection failed after {contract.CONNECTION_RETRIES + 1} attempts: ConnectError") == 8


def test_fetch_retries_connection_errors_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract_run, "RETRY_BACKOFF_S", 0.001)  # where `fetch` reads it
    calls: Counter[str] = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        calls[request.url.path] += 1
        if request.url.path == "/flaky" and calls["/flaky"] < 3:
            raise httpx.ConnectError("refused", request=request)
        if request.url.path == "/down":
            raise httpx.RemoteProtocolError("closed", request=request)
        return httpx.Response(500 if request.url.path == "/error" else 200)

    async def fetch(path: str) -> tuple[int | None, str, int]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://x") as client:
            response, error, attempts = await contract.fetch(client, CaseRequest("GET", path, (), ()))
            return (response.status_code if response is not None else None), error, attempts

    assert asyncio.run(fetch("/flaky")) == (200, "", 3)
    assert asyncio.run(fetch("/error")) == (500, "", 1)
    status, error, attempts = asyncio.run(fetch("/down"))
    assert status is None and attempts == 4 and "RemoteProtocolError" in error
    assert calls == {"/flaky": 3, "/error": 1, "/down": 4}


def test_lint_findings_of_severity_error_are_expected_failures(tmp_path: Path) -> None:
    findings: dict[str, list[contract.FindingLike]] = {
        "payloads/op/a.yaml": [contract.Finding("error", "unreachable: the server adds `user_id`")],
        "payloads/op/b.yaml": [contract.Finding("warning", "expires next month")],
        str(tmp_path / "payloads" / "op" / "c.yaml"): [
            contract.Finding("ERROR", "invalid SIREN"),
            contract.Finding("error", "invalid SIREN"),
        ],
        "/elsewhere/payloads/op/d.yaml": [contract.Finding("error", "outside the repository")],
    }
    assert contract.expected_failures_from_findings(findings, str(tmp_path)) == {
        "payloads/op/a.yaml": contract.ExpectedFailure("lint", "unreachable: the server adds `user_id`"),
        "payloads/op/c.yaml": contract.ExpectedFailure("lint", "invalid SIREN"),
    }
    # with rules, only the findings that mean "never answered as documented" count
    ruled: dict[str, list[contract.FindingLike]] = {
        "payloads/op/a.yaml": [contract.Finding("error", "unreachable in staging mode", "unreachable")],
        "payloads/op/b.yaml": [contract.Finding("error", "no description", "missing-description")],
    }
    assert contract.expected_failures_from_findings(ruled, str(tmp_path), {"unreachable"}) == {
        "payloads/op/a.yaml": contract.ExpectedFailure("lint: unreachable", "unreachable in staging mode")
    }


def test_the_lint_gives_the_expected_failures_of_the_public_corpus(
    corpus_server: tuple[Path, str, Snapshot], corpus_lint: LintResult
) -> None:
    _, _, snapshot = corpus_server
    findings, source, rules = corpus_lint
    assert source == "sandbox lint (documented mode)" and rules is not None and "unreachable" in rules
    expected = contract.expected_failures_from_findings(findings, snapshot.root, rules)
    reasons = " ".join(e.reason for e in expected.values())
    assert {e.category for e in expected.values()} >= {"lint: invalid-identifier", "lint: server-validation"}
    assert "fails the server's validation" in reasons and "00301" in reasons
    assert all(path.startswith("payloads/") for path in expected)


def test_the_diff_is_strict_about_types() -> None:
    assert contract.json_diff({"a": 1, "b": [1, 2], "c": True}, {"a": 1.0, "b": [1, 2], "c": True}) == []
    assert contract.json_diff({"a": "1", "b": True, "c": [1, 2], "d": 1}, {"a": 1, "b": 1, "c": [1], "e": None}) == [
        '$.a: expected "1", got 1',
        "$.b: expected true, got 1",
        "$.c: expected 2 items, got 1",
        "$.d: missing (expected 1)",
        "$.e: unexpected (got null)",
    ]


def test_progress_is_redrawn_on_a_terminal_and_every_tenth_otherwise() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    plain, terminal = io.StringIO(), Terminal()
    for stream in (plain, terminal):
        progress = contract.Progress(25, stream)
        for _ in range(25):
            progress.tick()
        progress.close()
    assert plain.getvalue().splitlines()[0] == "contract: 3/25 (12%)"
    assert len(plain.getvalue().splitlines()) == 10
    assert terminal.getvalue().count("\r") == 25 and terminal.getvalue().endswith("contract: 25/25 (100%)\n")


def test_setup_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--base-url", "http://127.0.0.1:9", "--only", "api_nope")
    assert code == 2 and "unknown operation(s): api_nope" in err
    code, _, err = run(capsys, "--base-url", "http://127.0.0.1:9", "--fixtures", str(tmp_path))
    assert code == 2 and "not a fixture repository" in err
    with pytest.raises(SystemExit) as exit_info:
        contract_cli.main(["--base-url", "ftp://x"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        (["--concurrency", "0"], "expected a number of requests in flight from 1 to 256, got '0'"),
        (["--concurrency", "many"], "expected a number of requests in flight from 1 to 256, got 'many'"),
        (["--timeout", "0"], "expected a number of seconds from 0.001 to 3600, got '0'"),
        (["--timeout", "nan"], "expected a number of seconds from 0.001 to 3600, got 'nan'"),
        (["--today", "2026-02-30"], "expected a date YYYY-MM-DD, e.g. 2026-01-31, got '2026-02-30'"),
    ],
)
def test_bad_numbers_and_dates_stop_at_parsing(
    argument: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        contract_cli.main(["--base-url", "http://127.0.0.1:9", *argument])
    assert exit_info.value.code == 2
    assert f"argument {argument[0]}: {expected}" in capsys.readouterr().err


def test_the_subcommand_registers_with_full_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="sandbox")
    contract_cli.add_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["contract", "--base-url", "http://127.0.0.1:8000/", "--only", "a", "b", "--only", "c"])
    assert args.handler is contract_cli.run_command
    assert args.base_url == "http://127.0.0.1:8000" and args.only == ["a", "b", "c"] and args.concurrency == 8
    with pytest.raises(SystemExit):
        parser.parse_args(["contract", "--help"])
    help_text = capsys.readouterr().out
    for option in ("--base-url", "--fixtures", "--token", "--france-connect", "--junit", "--only", "--concurrency"):
        assert option in help_text
    assert "--timeout" in help_text and "--today" in help_text and "exit status" in help_text


def test_the_token_comes_from_the_repository_or_the_command_line() -> None:
    snapshot = build_snapshot(ROOT)
    seen: list[Any] = []

    def findings(
        snapshot: Snapshot, today: datetime.date
    ) -> tuple[dict[str, list[contract.FindingLike]], str, frozenset[str] | None]:
        seen.append(today)
        return {}, "test", None

    options = contract.ContractOptions(
        "http://127.0.0.1:9", ROOT, token=None, only=("api_entreprise_v3_insee_unites_legales",), today=TODAY
    )
    planned = contract.plan(snapshot, "T", expected={}, only=options.only)
    assert {dict(p.request.headers)["Authorization"] for p in planned if p.request} == {"Bearer T"}
    with serve_in_thread(create_app(snapshot, Services())) as base_url:
        report = contract.run_contract(
            contract.ContractOptions(base_url, ROOT, only=options.only, today=TODAY), findings=findings
        )
    assert seen == [TODAY] and report.ok and report.lint_source == "test"


def test_the_host_of_the_base_url_decides_the_api_as_the_router_does() -> None:
    for base_url in (
        "https://staging.entreprise.api.gouv.fr:443/",
        "https://user@STAGING.Particulier.API.gouv.fr",
        "http://[::1]:8000",
        "http://entreprise.example",
    ):
        host = urlsplit(base_url).hostname or ""
        assert contract.api_of_base_url(base_url) == api_of_host(host)
    assert contract.api_of_base_url("https://user@STAGING.Particulier.API.gouv.fr") == "particulier"


def test_a_staging_host_answers_one_api_and_the_other_is_skipped() -> None:
    assert contract.api_of_base_url("https://staging.entreprise.api.gouv.fr") == "entreprise"
    assert contract.api_of_base_url("https://staging.particulier.api.gouv.fr/") == "particulier"
    assert contract.api_of_base_url("http://127.0.0.1:8000") is None
    snapshot = build_snapshot(ROOT)
    token = snapshot.content.tokens["default"]
    planned = contract.plan(snapshot, token, expected={}, api="particulier")
    skipped = [p for p in planned if p.request is None]
    assert skipped and {p.operation_id.split("_")[1] for p in skipped} == {"entreprise"}
    assert skipped[0].skip_reason == "API Entreprise: not served by this API Particulier host"
    validators = ResponseValidators.from_snapshot(snapshot)
    with serve_in_thread(create_app(snapshot, Services(fixed_today=TODAY))) as base_url:
        results = asyncio.run(contract.replay_all(base_url, planned, validators))
    report = contract.ContractReport(base_url, snapshot.root, results, 0.1, "test")
    counts = report.counts
    assert counts["failed"] == 0 and counts["skipped"] == len(skipped)
    assert report.total_line().endswith(f", {len(skipped)} skipped")
    assert f"  SKIP   {skipped[0].case.source}: API Entreprise" in "\n".join(contract.format_report(report))
    tree = contract.junit_tree(report).getroot()
    assert tree is not None
    assert len(tree.findall("./testsuite/testcase/skipped[@type='skip']")) == len(skipped)
    assert int(tree.attrib["skipped"]) == counts["skipped"] + counts["xfailed"]
