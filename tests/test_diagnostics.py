"""Diagnostics: near misses and /__sandbox/explain, the request journal, response validation."""

from __future__ import annotations

import asyncio
import datetime
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from sandbox.load.repository import Case
from sandbox.load.snapshot import Snapshot, build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.rules.tokens import mint
from sandbox.serve.app import SandboxApp
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.tools.reaching import query_pairs
from sandbox.web import create_app
from tests import tiny_repository
from tests.conftest import corpus_path
from tests.test_cli import free_port

TODAY = datetime.date(2026, 4, 28)


@pytest.fixture(scope="module")
def corpus() -> tuple[Snapshot, str]:
    root = corpus_path("siade_staging_data")
    return build_snapshot(root, MatchMode.DOCUMENTED), (root / "tokens" / "default").read_text().strip()


@pytest.fixture(scope="module")
def served(corpus: tuple[Snapshot, str]) -> Iterator[httpx.Client]:
    snapshot, _ = corpus
    app = create_app(snapshot, Services(fixed_today=TODAY))
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=30.0) as client:
        yield client


# -- near misses --------------------------------------------------------------------------------

PERTURBED_CASES = [
    "api_particulier_v3_cnav_quotient_familial_with_civility/200-roux-david-3_enfants-tuteur.yaml",
    "api_particulier_v3_cnav_quotient_familial_with_civility/200-famille-4_enfants.yaml",
    "api_particulier_v3_cnous_etudiant_boursier_with_civility/civility.yml",
    "api_particulier_v3_mesri_statut_etudiant_with_civility/civility_etudiant_inscrit_zidane_hamid.yml",
    "api_particulier_v2_cnav_quotient_familial_v2/200-seul-1_enfant-qf_caf_650.yaml",
]


def _case(snapshot: Snapshot, case_id: str) -> Case:
    folder, file = case_id.split("/")
    return next(c for c in snapshot.tables[folder].cases if c.file == file)


def _perturbations(case: Case, extra_name: str) -> list[tuple[str, dict[str, Any], str]]:
    """(kind, perturbed params, parameter) for one case: each changes exactly one parameter."""
    params = dict(case.params)
    found: list[tuple[str, dict[str, Any], str]] = []
    text = next(k for k, v in params.items() if isinstance(v, str) and v.isalpha())
    found.append(("case", {**params, text: params[text].swapcase()}, text))
    found.append(("different", {**params, text: params[text] + "X"}, text))
    number = next((k for k, v in params.items() if isinstance(v, int) and not isinstance(v, bool) and v < 10), None)
    if number is not None:
        found.append(("type", {**params, number: f"0{params[number]}"}, number))
    removed = next(k for k in params if k != text)
    found.append(("missing", {k: v for k, v in params.items() if k != removed}, removed))
    found.append(("extra", {**params, extra_name: "MARTIN"}, extra_name))
    listed = next((k for k, v in params.items() if isinstance(v, list) and len(v) >= 2), None)
    if listed is not None:
        found.append(("order", {**params, listed: list(reversed(params[listed]))}, listed))
    return found


def test_explain_names_the_intended_case_and_the_difference(corpus: tuple[Snapshot, str], served: httpx.Client) -> None:
    snapshot, token = corpus
    checked = 0
    failures = []
    for case_id in PERTURBED_CASES:
        case = _case(snapshot, case_id)
        operation = snapshot.operations[case.folder]
        extra_name = next(
            p.key for p in operation.lookup_parameters() if p.key not in case.params and p.location == "query"
        )
        for kind, params, parameter in _perturbations(case, extra_name):
            query = urlencode(query_pairs(params))
            explained = served.get(f"/__sandbox/explain{operation.path}?{query}").json()
            first = explained["closest"][0]
            differences = {(d["parameter"], d["kind"]) for d in first["differences"]}
            checked += 1
            if first["case"] != case.id or differences != {(parameter, kind)}:
                failures.append(f"{case.id} {kind} {parameter}: {first['case']} {differences}")
            auth = {"X-Api-Key": token} if operation.is_v2 else {"Authorization": f"Bearer {token}"}
            query_params = urlencode(query_pairs({"recipient": "13002526500013", **params}))
            answer = served.get(operation.path, params=query_params, headers=auth)
            if kind == "case":  # still a hit: matching ignores letter case
                assert answer.headers["x-sandbox-case"] == case.id, (case.id, answer.status_code, answer.text[:200])
            elif answer.headers["x-sandbox-case"] == "default":
                assert answer.headers["x-sandbox-near-miss"] == case.id, (case.id, kind)
    print(f"\n{checked} perturbed requests explained, {len(failures)} wrong")
    assert failures == []
    assert checked >= 20


def test_explain_gives_the_curl_that_hits_each_close_case(corpus: tuple[Snapshot, str], served: httpx.Client) -> None:
    snapshot, _ = corpus
    case = _case(snapshot, PERTURBED_CASES[0])
    operation = snapshot.operations[case.folder]
    explained = served.get(f"/__sandbox/explain{operation.path}", params=urlencode(query_pairs(case.params))).json()
    assert explained["matched"] == case.id and explained["operation"] == case.folder
    assert explained["lookup_key"] and len(explained["closest"]) == 3
    assert explained["closest"][0]["matches"] is True
    curl = explained["closest"][1]["curl"]
    # the line that sets $TOKEN, then the header in double quotes: the shell expands it
    token_line, command = curl.split("\n")
    assert token_line == f"export TOKEN=$(curl -sSf {served.base_url}/__sandbox/token)".replace("//__", "/__")
    assert command.startswith('curl -H "Authorization: Bearer $TOKEN"') and operation.path in command
    unknown = served.get("/__sandbox/explain/v3/nothing")
    assert unknown.status_code == 404 and unknown.json()["error"] == "no operation has this path"


# -- journal ------------------------------------------------------------------------------------


def _call(app: SandboxApp, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """One request straight through the ASGI interface (no socket): for volume tests."""
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query, "headers": headers}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return status


def test_the_journal_stays_within_its_bound() -> None:
    snapshot = build_snapshot(tiny_repository.build(Path(__import__("tempfile").mkdtemp())))
    app = create_app(snapshot, Services(journal_size=250))
    for index in range(10_000):
        _call(app, "/api/v2/demo", f"identifiant={index}".encode(), [])
    assert app.journal.recorded == 10_000
    assert len(app.journal) == 250
    newest = app.journal.entries(limit=1)[0]
    assert newest.query == "identifiant=9999" and newest.outcome == "auth-error"


def test_no_token_value_appears_in_the_journal_or_the_logs(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repo")
    secret = "journal-test-secret-at-least-32-bytes"
    token = mint(secret, [])
    port = free_port()
    command = [sys.executable, "-m", "sandbox", "serve", "--fixtures", str(root), "--port", str(port)]
    command += ["--jwt-secret", secret, "--access-log", "--log-level", "debug", "--no-watch"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # ready: 503 while the corpus loads, 200 once it serves
            try:
                if httpx.get(f"{base}/__sandbox/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        httpx.get(f"{base}/api/v2/demo", params={"identifiant": "1", "token": token}, timeout=30.0)
        httpx.get(f"{base}/api/v2/demo", params={"identifiant": "1"}, headers={"X-Api-Key": token}, timeout=30.0)
        httpx.get(
            f"{base}/v3/demo/identite",
            params={"recipient": "13002526500013"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
        )
        httpx.get(
            f"{base}/api/v2/demo", params={"identifiant": token}, timeout=30.0
        )  # a token pasted in the wrong place
        journal = httpx.get(f"{base}/__sandbox/requests", timeout=30.0).text
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert token not in journal and "[redacted]" in journal
    assert "identifiant=1" in output or "/api/v2/demo" in output  # the access log did print the requests
    assert token not in output


def test_journal_filters_by_outcome_and_operation(tmp_path: Path) -> None:
    secret = "journal-filter-secret-at-least-32-bytes"
    snapshot = build_snapshot(tiny_repository.build(tmp_path), secrets=[secret])
    token = mint(secret, [])
    with serve_in_thread(create_app(snapshot)) as base, httpx.Client(base_url=base, timeout=30.0) as client:
        client.get("/api/v2/demo", params={"identifiant": "1"}, headers={"X-Api-Key": token})
        client.get("/api/v2/demo", params={"identifiant": "2"}, headers={"X-Api-Key": token})
        client.get("/api/v2/demo", params={"identifiant": "2"})
        client.get("/nowhere")
        hits = client.get("/__sandbox/requests", params={"outcome": "hit"}).json()["entries"]
        misses = client.get("/__sandbox/requests", params={"outcome": "fallback"}).json()["entries"]
        demo = client.get("/__sandbox/requests", params={"operation": "api_particulier_v2_demo"}).json()["entries"]
    assert [e["case"] for e in hits] == ["api_particulier_v2_demo/200.yaml"]
    assert len(misses) == 1 and misses[0]["params"] == [["identifiant", "2"]]
    assert len(demo) == 3 and {e["outcome"] for e in demo} == {"hit", "fallback", "auth-error"}
    assert all(e["duration_ms"] >= 0 and e["revision"].startswith("content-") for e in demo)


# -- response validation ------------------------------------------------------------------------


def test_validate_responses_says_valid_invalid_or_undocumented(tmp_path: Path) -> None:
    secret = "schema-test-secret-at-least-32-bytes"
    root = tiny_repository.build(tmp_path)
    folder = "api_entreprise_v3_demo_unites_legales"
    tiny_repository.write_case(root, folder, "mauvais.yaml", {"siren": "552100554"}, 200, '{"data": {"actif": "oui"}}')
    snapshot = build_snapshot(root, secrets=[secret])
    token = mint(secret, [])
    tracking = {"recipient": "13002526500013", "context": "c", "object": "o"}
    with (
        serve_in_thread(create_app(snapshot, Services(validate_responses=True))) as base,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, params=tracking, timeout=30.0
        ) as client,
    ):
        assert client.get("/v3/demo/unites_legales/130025265").headers["x-sandbox-schema"] == "valid"
        assert client.get("/v3/demo/unites_legales/552100554").headers["x-sandbox-schema"] == "invalid"
        assert client.get("/v3/demo/unites_legales/000000000").headers["x-sandbox-schema"] == "undocumented"
        journal = client.get("/__sandbox/requests", params={"limit": 3}).json()["entries"]
    invalid = next(e for e in journal if e["schema"] == "invalid")
    assert any("$.data.actif" in error for error in invalid["schema_errors"])
