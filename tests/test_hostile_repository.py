"""A fixture repository is untrusted input: links out of it, alias bombs, huge files, odd names.

Every repository here is written by the test in a temp dir (`tests/tiny_repository.py`), served
by a real uvicorn, and checked over HTTP: what it must not show is looked for in the answers
and the catalogue pages, what it must still serve is asked for.
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import git
import httpx
import pytest
import yaml

from sandbox.cli.assembly import assemble
from sandbox.cli.serve_config import ServeConfig
from sandbox.load.repository import read_repository
from sandbox.load.repository_files import FileLimits, RepositoryTree, TooManyAliases, load_yaml
from sandbox.load.snapshot import build_snapshot
from sandbox.rules import rendering
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.tools.docs import generate
from sandbox.tools.lint import lint_repository
from sandbox.web import catalogue_lint, create_app
from tests import tiny_repository
from tests.conftest import ROOT
from tests.test_cli import free_port
from tests.test_serving import TRACKING
from tests.test_sync import HEADERS, SECRET, served, wait_for

MARKER = "OUTSIDE-SECRET-4b1d"
V2_FOLDER = "api_particulier_v2_demo"
TIMEOUT = httpx.Timeout(30.0)


def case_text(identifiant: str, payload: str) -> str:
    case = {"description": "cas", "params": {"identifiant": identifiant}, "status": 200, "payload": payload}
    return yaml.safe_dump(case, allow_unicode=True, sort_keys=False)


def outside_files(folder: Path) -> Path:
    """Files outside the repository, each holding MARKER, that links in the repository point at."""
    (folder / "cases").mkdir(parents=True)
    (folder / "case.yaml").write_text(case_text("evil", f'{{"secret": "{MARKER}"}}'))
    (folder / "cases" / "200.yaml").write_text(case_text("1", f'"{MARKER}"'))
    (folder / "token").write_text(f"eyJhbGciOiJIUzI1NiJ9.{MARKER}.c2lnbmF0dXJl\n")
    (folder / "authorizations.yml").write_text(yaml.safe_dump({"shared": {MARKER: ["a"]}}))
    (folder / "sandbox.yaml").write_text(yaml.safe_dump({"lookup_rules": [{"operation": MARKER}]}))
    document = dict(tiny_repository.OPENAPI_PARTICULIER)
    document["paths"] = {
        "/v3/outside": {
            "get": {"summary": MARKER, "responses": {"200": {"x-operationId": "api_particulier_v3_outside"}}}
        }
    }
    (folder / "openapi.yaml").write_text(yaml.safe_dump(document))
    return folder


def link_outside(root: Path, outside: Path, *, relative: bool = False) -> dict[str, Path]:
    """Every kind of link leading out of `root`; returns them by their path in the repository."""
    links = {
        f"payloads/{V2_FOLDER}/evil.yaml": outside / "case.yaml",  # a case file
        "payloads/api_particulier_v3_demo_with_identifiant": outside / "cases",  # a case folder
        "tokens/default": outside / "token",
        "data/authorizations.yml": outside / "authorizations.yml",
        "sandbox.yaml": outside / "sandbox.yaml",
        "openapi/outside.yaml": outside / "openapi.yaml",
    }
    for rel, target in links.items():
        link = root / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        link.symlink_to(os.path.relpath(target, link.parent) if relative else target)
    return links


def pages(client: httpx.Client) -> dict[str, str]:
    """Everything a visitor can read of the repository: the cases asked for and the catalogue."""
    answers = {
        "case evil": served(client, "evil").text,
        "case of the linked folder": client.get("/v3/demo/sans_404", params={"identifiant": "1"}, headers=HEADERS).text,
        "outside operation": client.get("/v3/outside", headers=HEADERS).text,
    }
    for path in (
        "/",
        "/ui/operations",
        f"/ui/operations/{V2_FOLDER}",
        "/ui/operations/api_particulier_v3_demo_with_identifiant",
        "/ui/operations/api_particulier_v3_demo_with_civility",
    ):
        response = client.get(path, params={"lang": "en"})
        assert response.status_code == 200, path  # every operation is routed, with or without its cases
        answers[path] = response.text
    return answers


def assert_refused(problems: list[str], links: dict[str, Path]) -> None:
    for rel in links:
        assert any(p.startswith(f"{rel}: ") and "outside the repository" in p for p in problems), (rel, problems)


# -- links leading outside ----------------------------------------------------------------------


def test_links_leading_outside_a_local_folder_are_refused_and_never_shown(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repository")
    links = link_outside(root, outside_files(tmp_path / "outside"))
    inside = root / "elsewhere"  # a link that stays inside the repository is followed
    tiny_repository.write_case(inside, V2_FOLDER, "inside.yaml", {"identifiant": "inside"}, 200, '{"ok": "inside"}')
    (root / "payloads" / V2_FOLDER / "inside.yaml").symlink_to(f"../../elsewhere/payloads/{V2_FOLDER}/inside.yaml")

    snapshot = build_snapshot(root, secrets=[SECRET])
    problems = [str(p) for p in snapshot.report.problems]
    assert_refused(problems, links)
    assert len(problems) == len(links)
    app = create_app(snapshot, Services())
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        for where, text in pages(client).items():
            assert MARKER not in text, where
        assert served(client, "1").json() == {"statut": "ok"}  # the rest serves
        assert served(client, "inside").json() == {"ok": "inside"}
        assert served(client, "evil").headers["x-sandbox-case"] == "default"
    report = lint_repository(root)  # the lint reads through the same rule
    flagged = {finding.file for finding in report.findings}
    assert set(links) <= flagged, flagged
    assert all(MARKER not in f.message for f in report.findings)


def test_a_git_commit_with_links_leading_outside_is_refused_the_same_way(tmp_path: Path) -> None:
    origin = tiny_repository.build(tmp_path / "origin")
    outside = outside_files(tmp_path / "outside")
    links = link_outside(origin, outside)  # absolute targets
    (origin / "payloads" / V2_FOLDER / "up.yaml").symlink_to("../../../outside/case.yaml")  # relative, out
    links[f"payloads/{V2_FOLDER}/up.yaml"] = outside / "case.yaml"
    repo = git.Repo.init(origin, initial_branch="main")
    with repo.config_writer() as writer:
        writer.set_value("user", "name", "Test")
        writer.set_value("user", "email", "test@example.org")
    repo.git.add(A=True)
    repo.index.commit("links leading outside")
    config = ServeConfig(
        fixtures=[f"file://{origin}"], cache_dir=str(tmp_path / "cache"), jwt_secrets=[SECRET], watch=False
    )
    app = assemble(config)
    assert app.syncer is not None
    try:
        status = app.syncer.status()
        assert status["layers"][0]["revision"] == repo.head.commit.hexsha  # the commit is served
        assert_refused(status["problems"], links)
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            for where, text in pages(client).items():
                assert MARKER not in text, where
            assert served(client, "1").json() == {"statut": "ok"}
    finally:
        app.syncer.stop()


def test_a_git_commit_with_a_file_over_every_limit_is_never_copied_whole(tmp_path: Path) -> None:
    origin = tiny_repository.build(tmp_path / "origin")
    tiny_repository.write_case(origin, V2_FOLDER, "big.yaml", {"identifiant": "big"}, 200, '"' + "x" * 20_000 + '"')
    repo = git.Repo.init(origin, initial_branch="main")
    with repo.config_writer() as writer:
        writer.set_value("user", "name", "Test")
        writer.set_value("user", "email", "test@example.org")
    repo.git.add(A=True)
    repo.index.commit("a large case")
    config = ServeConfig(
        fixtures=[f"file://{origin}"],
        cache_dir=str(tmp_path / "cache"),
        jwt_secrets=[SECRET],
        watch=False,
        max_case_bytes=4096,
        max_document_bytes=16384,
    )
    app = assemble(config)
    assert app.syncer is not None
    try:
        (problem,) = app.snapshot.report.problems
        assert problem.path == f"payloads/{V2_FOLDER}/big.yaml" and "over the limit of 4096 bytes" in problem.reason
        exported = Path(app.snapshot.layers[0].root) / "payloads" / V2_FOLDER / "big.yaml"
        assert exported.stat().st_size > 16384 and set(exported.read_bytes()) == {0}  # its size, not its bytes
    finally:
        app.syncer.stop()


def test_link_loops_fifos_and_broken_links_are_problems_not_hangs(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repository")
    folder = root / "payloads" / V2_FOLDER
    (folder / "loop.yaml").symlink_to("loop.yaml")
    (folder / "ping.yaml").symlink_to("pong.yaml")
    (folder / "pong.yaml").symlink_to("ping.yaml")
    (folder / "broken.yaml").symlink_to("absent.yaml")
    os.mkfifo(folder / "fifo.yaml")
    os.mkfifo(root / "sandbox.yaml")  # opened, it would wait for a writer
    (root / "payloads" / "itself").symlink_to(".")  # a folder link inside the root: followed, harmless
    (root / "openapi" / "deeper").symlink_to("..")  # discovery never descends links
    (root / "elsewhere" / "data").mkdir(parents=True)  # a folder link inside the root: followed
    (root / "elsewhere" / "data" / "throttle.yml").write_text("shared:\n  default: {limit: 5}\n")
    (root / "data").symlink_to("elsewhere/data")
    content = read_repository(root)
    assert content.throttles == {"default": {"limit": 5}}
    reasons = {p.path: p.reason for p in content.problems}
    prefix = f"payloads/{V2_FOLDER}/"
    assert "loop" in reasons[prefix + "loop.yaml"]
    assert "loop" in reasons[prefix + "ping.yaml"] and "loop" in reasons[prefix + "pong.yaml"]
    assert "cannot be resolved" in reasons[prefix + "broken.yaml"]
    assert "not a regular file" in reasons[prefix + "fifo.yaml"]
    assert "not a regular file" in reasons["sandbox.yaml"]
    assert [c.file for c in content.folders[V2_FOLDER]] == ["200.yaml"]
    assert len(content.documents) == 2


# -- the watcher --------------------------------------------------------------------------------


def watcher(app: Any) -> dict[str, Any]:
    watchers: list[dict[str, Any]] = app.syncer.status()["sync"]["watchers"]
    assert len(watchers) == 1
    return watchers[0]


def test_a_link_to_the_root_folder_or_a_loop_leaves_reloads_working(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repository")
    folder = root / "payloads" / V2_FOLDER
    (folder / "slash").symlink_to("/")  # watched recursively, it had watchfiles walk the whole disk and die
    (folder / "loop").symlink_to("loop")
    (root / "up").symlink_to("..")
    app = assemble(ServeConfig(fixtures=[str(root)], cache_dir=str(tmp_path / "cache"), jwt_secrets=[SECRET]))
    assert app.syncer is not None
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            wait_for(lambda: watcher(app)["alive"], 30)
            (folder / "root").symlink_to("/")  # more, while watching (names no reader reads: no problem)
            (folder / "again").symlink_to("again")
            tiny_repository.write_case(root, V2_FOLDER, "new.yaml", {"identifiant": "new"}, 200, '{"v": 1}')
            wait_for(lambda: served(client, "new").json() == {"v": 1}, 30)
            tiny_repository.write_case(root, V2_FOLDER, "new.yaml", {"identifiant": "new"}, 200, '{"v": 2}')
            wait_for(lambda: served(client, "new").json() == {"v": 2}, 30)
            health = watcher(app)
            assert health["alive"] and health["restarts"] == 0 and health["last_error"] is None
            assert all(not f.startswith("/proc") for f in _watched(root))
    finally:
        app.syncer.stop()


def _watched(root: Path) -> list[str]:
    from sandbox.load.watching import watched_folders

    return [folder for folder, _, _ in watched_folders(root)]


@pytest.mark.real_clock
def test_a_watcher_that_fails_is_restarted_reported_and_catches_up(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repository")
    app = assemble(ServeConfig(fixtures=[str(root)], cache_dir=str(tmp_path / "cache"), jwt_secrets=[SECRET]))
    assert app.syncer is not None
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            wait_for(lambda: watcher(app)["alive"], 30)
            shutil.rmtree(root)  # the watched folders vanish: the watch cannot go on
            wait_for(lambda: watcher(app)["restarts"] >= 1 and not watcher(app)["alive"], 30)
            assert "FileNotFoundError" in str(watcher(app)["last_error"])
            assert served(client, "1").json() == {"statut": "ok"}  # the last good snapshot still serves
            tiny_repository.build(root)
            tiny_repository.write_case(root, V2_FOLDER, "back.yaml", {"identifiant": "back"}, 200, '{"back": 1}')
            wait_for(lambda: served(client, "back").json() == {"back": 1}, 60)
            wait_for(lambda: watcher(app)["alive"], 30)
            # a case folder deleted and made again is watched again (a new folder, not the old inode)
            shutil.rmtree(root / "payloads" / V2_FOLDER)
            wait_for(lambda: served(client, "back").headers["x-sandbox-case"] != f"{V2_FOLDER}/back.yaml", 30)
            tiny_repository.write_case(root, V2_FOLDER, "200.yaml", {"identifiant": "1"}, 200, '{"statut": "ok"}')
            tiny_repository.write_case(root, V2_FOLDER, "late.yaml", {"identifiant": "late"}, 200, '{"late": 1}')
            wait_for(lambda: served(client, "late").json() == {"late": 1}, 30)
    finally:
        app.syncer.stop()


# -- YAML: aliases, duplicate keys, nesting -----------------------------------------------------


def billion_laughs(levels: int = 9) -> str:
    lines = [
        "params:",
        "  identifiant: bomb",
        '  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
    ]
    for level in range(1, levels):
        aliases = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"  a{level}: &a{level} [{aliases}]")
    lines += ["status: 200", "description: bombe", "payload: '{}'"]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands_and_the_rest_serves(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repository")
    (root / "payloads" / V2_FOLDER / "bomb.yaml").write_text(billion_laughs())
    (root / "payloads" / V2_FOLDER / "self.yaml").write_text("params: &p {identifiant: self, p: *p}\nstatus: 200\n")
    snapshot = build_snapshot(root, secrets=[SECRET])
    reasons = {p.path: p.reason for p in snapshot.report.problems}
    assert "over the limit of 10000" in reasons[f"payloads/{V2_FOLDER}/bomb.yaml"]
    assert "infinite expansion" in reasons[f"payloads/{V2_FOLDER}/self.yaml"]
    app = create_app(snapshot, Services())
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        assert served(client, "1").json() == {"statut": "ok"}
        assert served(client, "bomb").headers["x-sandbox-case"] == "default"
        page = client.get(f"/ui/operations/{V2_FOLDER}", params={"lang": "en"})
        assert page.status_code == 200
    findings = [(f.file, f.rule) for f in lint_repository(root).findings]  # the lint ends, and says why
    assert (f"payloads/{V2_FOLDER}/bomb.yaml", "invalid-yaml") in findings
    # a modest use of aliases still loads
    assert load_yaml("a: &x [1, 2]\nb: *x\n").data == {"a": [1, 2], "b": [1, 2]}
    with pytest.raises(TooManyAliases):
        load_yaml(billion_laughs(4), FileLimits(alias_nodes=1000))
    assert load_yaml(billion_laughs(4), FileLimits(alias_nodes=10_000)).data["params"]["a3"][0][0][0][0] == "lol"
    with pytest.raises(TooManyAliases):  # many `&` in the text: the slower, regular-expression test
        load_yaml("x: '" + "R&D " * 300 + "'\n" + billion_laughs())


def test_an_openapi_ref_bomb_is_bounded_and_the_rest_serves(tmp_path: Path) -> None:
    """Nine properties referring to the next schema, twelve levels down: 9**12 nodes if expanded."""
    root = tiny_repository.build(tmp_path / "repository")
    schemas: dict[str, Any] = {
        f"A{level}": {
            "type": "object",
            "properties": {f"p{k}": {"$ref": f"#/components/schemas/A{level + 1}"} for k in range(9)},
        }
        for level in range(12)
    }
    schemas["A12"] = {"type": "string"}
    document = copy.deepcopy(tiny_repository.OPENAPI_ENTREPRISE)
    document["components"] = {"schemas": schemas}
    (response,) = [op["get"]["responses"]["200"] for op in document["paths"].values()]
    response["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/A0"}
    (root / "openapi" / "a.yaml").write_text(yaml.safe_dump(document, sort_keys=False))  # `openapi:` first
    snapshot = build_snapshot(root, secrets=[SECRET])
    assert snapshot.report.problems == ()
    app = create_app(snapshot, Services())
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        answer = client.get(f"/v3/demo/unites_legales/356000000?{TRACKING}", headers=HEADERS)
        assert answer.headers["x-sandbox-fallback"] == "openapi-example", (answer.status_code, answer.text)
        assert len(answer.content) < 1_000_000  # an example, not 9**12 nodes
        assert served(client, "1").json() == {"statut": "ok"}
    assert lint_repository(root).findings is not None  # the lint converts the schemas too: it ends


def test_duplicate_keys_are_reported_and_the_last_value_wins_as_on_staging(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repository")
    rel = f"payloads/{V2_FOLDER}/twice.yaml"
    (root / rel).write_text(
        "description: deux fois\nparams:\n  identifiant: first\n  identifiant: twice\n"
        "status: 200\npayload: '{\"n\": 1}'\npayload: '{\"n\": 2}'\n"
    )
    snapshot = build_snapshot(root, secrets=[SECRET])
    problems = [(p.path, p.line, p.reason) for p in snapshot.report.problems]
    assert [(path, line) for path, line, _ in problems] == [(rel, 4), (rel, 7)]
    assert "key `identifiant` written twice" in problems[0][2]
    app = create_app(snapshot, Services())
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        assert served(client, "twice").json() == {"n": 2}
        assert served(client, "first").headers["x-sandbox-case"] == "default"
    findings = [(f.file, f.line, f.rule) for f in lint_repository(root).findings if f.rule == "yaml-duplicate-key"]
    assert findings == [(rel, 4, "yaml-duplicate-key"), (rel, 7, "yaml-duplicate-key")]
    fr = [f.message for f in lint_repository(root, lang="fr").findings if f.rule == "yaml-duplicate-key"]
    assert fr[0].startswith("la clé `identifiant` est écrite deux fois")
    merged = load_yaml("base: &b {k: 1, j: 1}\nuse:\n  <<: *b\n  k: 2\n")  # a merge key overrides: no duplicate
    assert merged.data["use"] == {"k": 2, "j": 1} and merged.duplicates == []


def test_deeply_nested_payloads_and_params_are_problems_not_crashes(tmp_path: Path) -> None:
    """Deeper than Python's stack, or deep enough to exhaust it in the code that walks them."""
    root = tiny_repository.build(tmp_path / "repository")
    folder = root / "payloads" / V2_FOLDER
    for name, levels in (("deep", 100_000), ("deep-900", 900), ("deep-65", 65)):
        tiny_repository.write_case(
            root, V2_FOLDER, f"{name}.yaml", {"identifiant": name}, 200, "[" * levels + "]" * levels
        )
    for name, levels in (("params-5000", 5000), ("params-900", 900), ("params-65", 65)):
        nested = "[" * levels + "]" * levels
        (folder / f"{name}.yaml").write_text(
            f"params:\n  identifiant: {name}\n  x: {nested}\nstatus: 200\npayload: '{{}}'\n"
        )
    tiny_repository.write_case(root, V2_FOLDER, "deep-64.yaml", {"identifiant": "64"}, 200, "[" * 64 + "]" * 64)
    snapshot = build_snapshot(root, secrets=[SECRET])
    reasons = {p.path.rsplit("/", 1)[1]: p.reason for p in snapshot.report.problems}
    assert set(reasons) == {
        f"{n}.yaml" for n in ("deep", "deep-900", "deep-65", "params-5000", "params-900", "params-65")
    }
    assert all(
        "nested deeper than 64 levels (--max-nesting)" in reasons[f"{n}.yaml"] for n in ("deep", "deep-900", "deep-65")
    )
    assert "maximum nesting depth" in reasons["params-5000.yaml"]  # libyaml's own limit
    assert "nested deeper than 64 levels" in reasons["params-900.yaml"]
    assert snapshot.report.cases == 7  # the six of the tiny repository and deep-64
    findings = {(f.file.rsplit("/", 1)[1], f.rule) for f in lint_repository(root).findings}  # the lint ends
    assert ("deep-900.yaml", "payload-not-json") in findings and ("params-900.yaml", "invalid-yaml") in findings
    assert generate(root)  # and so do the docs


# -- sizes --------------------------------------------------------------------------------------


def test_a_case_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repository")
    big = root / "payloads" / V2_FOLDER / "big.yaml"
    with big.open("wb") as handle:  # 50 MB, sparse: almost nothing on disk
        handle.write(b"params: {identifiant: big}\nstatus: 200\npayload: '{}'\n#")
        handle.truncate(50 * 1024 * 1024)
    small = f"payloads/{V2_FOLDER}/small.yaml"
    tiny_repository.write_case(
        root, V2_FOLDER, "small.yaml", {"identifiant": "small"}, 200, '{"x": "' + "y" * 9000 + '"}'
    )
    try:
        content = read_repository(root)
        reasons = {p.path: p.reason for p in content.problems}
        assert reasons == {f"payloads/{V2_FOLDER}/big.yaml": reasons[f"payloads/{V2_FOLDER}/big.yaml"]}
        assert (
            "52428800 bytes, over the limit of 5242880 bytes (--max-case-bytes)"
            in reasons[f"payloads/{V2_FOLDER}/big.yaml"]
        )
        # the limit is the server's option, down to the snapshot build
        config = ServeConfig(
            fixtures=[str(root)], cache_dir=str(tmp_path / "cache"), jwt_secrets=[SECRET], max_case_bytes=8192
        )
        app = assemble(config)
        try:
            problems = app.snapshot.report.problems
            assert {p.path for p in problems} == {f"payloads/{V2_FOLDER}/big.yaml", small}
            with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
                assert served(client, "1").json() == {"statut": "ok"}
                assert served(client, "small").headers["x-sandbox-case"] == "default"
        finally:
            assert app.syncer is not None
            app.syncer.stop()
        limits = FileLimits(document_bytes=100)  # and the OpenAPI documents have theirs
        reasons = {p.path: p.reason for p in read_repository(root, limits=limits).problems}
        assert "(--max-document-bytes)" in reasons["openapi/a.yaml"]
    finally:
        big.unlink()


# -- names and headers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["new\nline.yaml", "carriage\rreturn.yaml", "soh\x01.yaml", "del\x7f.yaml", "c1\x85.yaml"]
)
def test_a_case_file_name_no_header_can_carry_is_refused(tmp_path: Path, name: str) -> None:
    root = tiny_repository.build(tmp_path / "repository")
    tiny_repository.write_case(root, V2_FOLDER, name, {"identifiant": "odd"}, 200, '{"odd": true}')
    snapshot = build_snapshot(root, secrets=[SECRET])
    (problem,) = snapshot.report.problems
    assert problem.path == f"payloads/{V2_FOLDER}/{name}" and "control character U+00" in problem.reason
    app = create_app(snapshot, Services())
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        answer = served(client, "odd")  # a complete answer, not an empty reply
        assert answer.status_code == 404 and answer.headers["x-sandbox-fallback"] == "no-case"
        assert served(client, "1").headers["x-sandbox-case"] == f"{V2_FOLDER}/200.yaml"
    assert any(f.rule == "unreadable-file" and "control character" in f.message for f in lint_repository(root).findings)


def test_header_values_built_from_repository_data_never_break_a_response() -> None:
    ((_, value),) = rendering.headers(("X-Sandbox-Case", "a\r\nX-Injected: 1\x00\x7f\x85é.yaml"))
    assert value == "a%0D%0AX-Injected: 1%00%7F%85é.yaml".encode()
    assert rendering.header_value("api_particulier_v2_demo/200.yaml") == b"api_particulier_v2_demo/200.yaml"


# -- the catalogue's lint -----------------------------------------------------------------------


def test_the_catalogue_never_waits_for_a_lint_that_does_not_end(monkeypatch: pytest.MonkeyPatch) -> None:
    import sandbox.tools.lint

    release = threading.Event()
    real = sandbox.tools.lint.lint_repository

    def slow(*args: Any, **kwargs: Any) -> Any:
        release.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(sandbox.tools.lint, "lint_repository", slow)
    monkeypatch.setattr(catalogue_lint, "LINT_WAIT_S", 0.2)
    app = create_app(build_snapshot(ROOT), Services())
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            page = client.get("/ui/operations", params={"lang": "en"}).text
            assert "The repository lint is not available" in page  # rendered without it
            (thread,) = [t for t in threading.enumerate() if t.name == "sandbox-lint"]
            assert thread.daemon  # never holds the process up at exit
            release.set()
            wait_for(lambda: "lint is not available" not in client.get("/ui/operations?lang=en").text, 60)
    finally:
        release.set()


def test_sigterm_stops_the_server_while_the_catalogue_lint_runs(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repository")
    port = free_port()
    script = (
        "import sys, threading, sandbox.tools.lint\n"
        "sandbox.tools.lint.lint_repository = lambda *a, **k: threading.Event().wait()\n"  # a lint that never ends
        "from sandbox.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    command = [sys.executable, "-c", script, "serve", "--fixtures", str(root), "--port", str(port)]
    command += ["--cache-dir", str(tmp_path / "cache"), "--no-watch", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{base}/v3/ping"), 60)
        pending = threading.Thread(target=_answers, args=(f"{base}/ui/operations",), daemon=True)
        pending.start()  # a page waiting for the lint
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn may re-raise the signal it handled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=30)
    except httpx.HTTPError:
        return False
    return True


def test_writers_never_write_through_a_link_leading_outside(tmp_path: Path) -> None:
    from sandbox.load.repository_files import RefusedFile
    from sandbox.tools.docs import write_files

    root = tiny_repository.build(tmp_path / "repository")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "payloads" / V2_FOLDER / "README.md").symlink_to(outside / "README.md")  # a generated file: replaced
    files = generate(root)
    write_files(root, files)
    assert not (outside / "README.md").exists() and (root / "payloads" / V2_FOLDER / "README.md").is_file()
    tree = RepositoryTree(root)
    (root / "payloads" / "away").symlink_to(outside)
    with pytest.raises(RefusedFile):
        tree.writable(root / "payloads" / "away" / "x.yaml")
    assert tree.writable(root / "payloads" / "new" / "x.yaml") == tree.root / "payloads" / "new" / "x.yaml"
