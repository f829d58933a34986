"""Following git repositories live: real repositories made in a temp dir, served through file:// remotes."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import git
import httpx
import pytest

from sandbox.cli.assembly import assemble, make_syncer
from sandbox.cli.serve_config import ServeConfig
from sandbox.load.sources import GitSource
from sandbox.rules.tokens import mint
from sandbox.serve.local_server import serve_in_thread
from tests import tiny_repository
from tests.conftest import corpus_path
from tests.test_cli import free_port

SECRET = "sync-test-secret-at-least-32-bytes-long"
WEBHOOK_SECRET = "webhook-secret"
TOKEN = mint(SECRET, [])
HEADERS = {"Authorization": f"Bearer {TOKEN}", "X-Api-Key": TOKEN}
V2 = "/api/v2/demo"
DEADLINE_S = 60.0  # how long a wait polls for its condition: generous, it holds on a loaded machine
CLIENT_TIMEOUT_S = 60.0  # a reload route answers once its reload has run: a big build on a loaded machine


def commit(repo: git.Repo, message: str) -> str:
    repo.git.add(A=True)
    repo.index.commit(message)
    return repo.head.commit.hexsha


def make_repository(path: Path) -> git.Repo:
    tiny_repository.build(path)
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.org")
    commit(repo, "initial cases")
    return repo


def add_v2_case(repo: git.Repo, identifiant: str, payload: str) -> str:
    tiny_repository.write_case(
        Path(repo.working_dir),
        "api_particulier_v2_demo",
        f"{identifiant}.yaml",
        {"identifiant": identifiant},
        200,
        payload,
    )
    return commit(repo, f"case {identifiant}")


def config(repo: git.Repo, cache: Path, **options: Any) -> ServeConfig:
    values: dict[str, Any] = {
        "fixtures": [f"file://{repo.working_dir}"],
        "cache_dir": str(cache),
        "poll_s": 1.0,
        "jwt_secrets": [SECRET],
        "webhook_secret": WEBHOOK_SECRET,
        "rate_limit": False,
        **options,
    }
    return ServeConfig(**values)


def wait_for(check: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until `check()` holds; fails after `timeout_s`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not reached within {timeout_s} s")


def signed(body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push", "Content-Type": "application/json"}


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    return make_repository(tmp_path / "origin")


def served(client: httpx.Client, identifiant: str) -> httpx.Response:
    return client.get(V2, params={"identifiant": identifiant}, headers=HEADERS)


@pytest.mark.real_clock
def test_a_commit_is_served_after_a_poll(repo: git.Repo, tmp_path: Path) -> None:
    app = assemble(config(repo, tmp_path / "cache"))
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
            first = served(client, "1")
            assert first.json() == {"statut": "ok"}
            assert first.headers["x-sandbox-commit"] == repo.head.commit.hexsha
            sha = add_v2_case(repo, "42", '{"statut": "nouveau"}')
            elapsed = wait_for(lambda: served(client, "42").json() == {"statut": "nouveau"}, timeout_s=DEADLINE_S)
            print(f"\ncommit served after {elapsed:.2f} s (poll 1 s)")
            assert served(client, "42").headers["x-sandbox-commit"] == sha
    finally:
        if app.syncer is not None:
            app.syncer.stop()


def test_webhook_swaps_before_it_answers_and_checks_its_signature(repo: git.Repo, tmp_path: Path) -> None:
    app = assemble(config(repo, tmp_path / "cache", poll_s=0))
    assert app.syncer is not None
    source = app.syncer.sources[0]
    assert isinstance(source, GitSource)
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
            sha = add_v2_case(repo, "7", '{"statut": "sept"}')
            body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
            fetches = source.health.fetches
            wrong = client.post("/__sandbox/webhook", content=body, headers=signed(body, "not-the-secret"))
            missing = client.post("/__sandbox/webhook", content=body)
            assert (wrong.status_code, missing.status_code) == (401, 401)
            assert source.health.fetches == fetches  # nothing fetched
            assert served(client, "7").headers["x-sandbox-case"] == "default"
            hook = client.post("/__sandbox/webhook", content=body, headers=signed(body))
            assert hook.status_code == 200 and hook.json()["outcome"] == "swapped"
            # "swapped" means the new snapshot serves from now on: no wait, whatever the machine's load
            answered = served(client, "7")
            assert answered.json() == {"statut": "sept"} and answered.headers["x-sandbox-commit"] == sha
            assert source.health.fetches == fetches + 1
    finally:
        app.syncer.stop()


def test_a_broken_commit_keeps_the_previous_one_serving(repo: git.Repo, tmp_path: Path) -> None:
    app = assemble(config(repo, tmp_path / "cache", poll_s=0))
    assert app.syncer is not None
    good = repo.head.commit.hexsha
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
            broken = Path(repo.working_dir) / "payloads" / "api_particulier_v2_demo" / "cassé.yaml"
            broken.write_text("params:\n  identifiant: [1\nstatus: 200\n")
            bad = commit(repo, "broken case")
            reload = client.post("/api/reload-mocks")
            assert reload.status_code == 422
            status = client.get("/__sandbox/status").json()
            failure = status["sync"]["last_failure"]
            assert failure["revision"] == bad and failure["outcome"] == "refused"
            assert any("payloads/api_particulier_v2_demo/cassé.yaml:3: invalid YAML" in e for e in failure["errors"])
            response = served(client, "1")
            assert response.headers["x-sandbox-commit"] == good and response.json() == {"statut": "ok"}
            assert status["revision"] == good
            broken.unlink()
            fixed = add_v2_case(repo, "8", '{"statut": "huit"}')
            assert client.post("/api/reload-mocks").json() == {"message": "Mock backend reloaded"}
            response = served(client, "8")
            assert response.json() == {"statut": "huit"} and response.headers["x-sandbox-commit"] == fixed
    finally:
        app.syncer.stop()


def test_unreachable_remote_with_a_filled_cache_serves_the_cached_commit(repo: git.Repo, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = make_syncer(config(repo, cache))
    first.start()
    first.stop()
    sha = repo.head.commit.hexsha
    shutil.rmtree(repo.working_dir)
    syncer = make_syncer(config(repo, cache))
    holder = syncer.start()
    status = syncer.status()
    assert holder.current.revision == sha
    assert status["sources"][0]["serving_cached_commit"] is True
    assert status["sources"][0]["health"]["failures"] == 1 and status["sources"][0]["health"]["last_error"]
    attempt = syncer.reload("retry")
    assert attempt.outcome == "failed" and holder.current.revision == sha
    syncer.stop()


def test_unreachable_remote_with_an_empty_cache_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "--fixtures",
            f"file://{tmp_path}/nowhere",
            "--cache-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "no cached commit to serve" in result.stderr


def test_layers_add_and_override_cases(repo: git.Repo, tmp_path: Path) -> None:
    private = tmp_path / "private"
    tiny_repository.write_case(
        private, "api_particulier_v2_demo", "1.yaml", {"identifiant": "1"}, 200, '{"statut": "privé"}'
    )
    tiny_repository.write_case(
        private, "api_particulier_v2_demo", "99.yaml", {"identifiant": "99"}, 200, '{"statut": "ajouté"}'
    )
    app = assemble(config(repo, tmp_path / "cache", watch=False, fixtures=[f"file://{repo.working_dir}", str(private)]))
    assert app.syncer is not None
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
        assert served(client, "1").json() == {"statut": "privé"}
        assert served(client, "99").json() == {"statut": "ajouté"}
        status = client.get("/__sandbox/status").json()
    assert [layer["overrides"] for layer in status["layers"]] == [0, 1]
    assert status["layers"][0]["revision"] == repo.head.commit.hexsha
    assert status["revision"].startswith(repo.head.commit.hexsha + " + content-")
    app.syncer.stop()


def test_a_local_folder_is_watched_and_a_burst_of_writes_gives_one_reload(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "local")
    app = assemble(ServeConfig(fixtures=[str(root)], cache_dir=str(tmp_path / "cache"), jwt_secrets=[SECRET]))
    assert app.syncer is not None
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
            time.sleep(0.3)  # let the watcher start
            for index in range(10):
                tiny_repository.write_case(
                    root, "api_particulier_v2_demo", f"burst{index}.yaml", {"identifiant": f"b{index}"}, 200, "{}"
                )
            wait_for(lambda: served(client, "b9").status_code == 200 and served(client, "b9").json() == {}, DEADLINE_S)
            time.sleep(0.5)
            assert app.syncer.reloads == 1
    finally:
        app.syncer.stop()


def test_reload_under_load_never_mixes_snapshots(repo: git.Repo, tmp_path: Path) -> None:
    """Two clients request without pause while 20 reloads alternate between two commits whose answers differ:
    every answer is the one of the commit it names (throughput is measured by scripts/bench.py, not here)."""
    commit_a = add_v2_case(repo, "x", '{"version": "A"}')
    tiny_repository.write_case(
        Path(repo.working_dir), "api_particulier_v2_demo", "x.yaml", {"identifiant": "x"}, 200, '{"version": "B"}'
    )
    commit_b = commit(repo, "answer B")
    expected = {commit_a: {"version": "A"}, commit_b: {"version": "B"}}
    app = assemble(config(repo, tmp_path / "cache", poll_s=0))
    assert app.syncer is not None
    tally: Counter[str] = Counter()
    wrong: list[str] = []
    stop = threading.Event()
    commits: set[str] = set()

    def load(base: str) -> None:
        with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
            while not stop.is_set():
                try:
                    response = served(client, "x")
                except httpx.TransportError as error:
                    tally["connection errors"] += 1
                    wrong.append(repr(error))
                    continue
                tally["responses"] += 1
                if response.status_code >= 500:
                    tally["5xx"] += 1
                commits.add(response.headers["x-sandbox-commit"])
                if response.json() != expected.get(response.headers["x-sandbox-commit"]):
                    wrong.append(f"{response.headers['x-sandbox-commit']}: {response.text}")

    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as control:
            workers = [threading.Thread(target=load, args=(base,)) for _ in range(2)]
            started = time.monotonic()
            for worker in workers:
                worker.start()
            swaps = 0
            for index in range(20):
                repo.git.update_ref("refs/heads/main", commit_a if index % 2 == 0 else commit_b)
                body = b"{}"
                if (
                    control.post("/__sandbox/webhook", content=body, headers=signed(body)).json()["outcome"]
                    == "swapped"
                ):
                    swaps += 1
                time.sleep(max(0.0, started + (index + 1) * 1.0 - time.monotonic()))
            stop.set()
            for worker in workers:
                worker.join(timeout=DEADLINE_S)
            duration = time.monotonic() - started
    finally:
        app.syncer.stop()
    print(f"\n{tally['responses']} responses in {duration:.1f} s, {swaps} swaps, {dict(tally)}")
    assert swaps == 20
    assert commits == {commit_a, commit_b}  # both snapshots were served while they swapped
    assert tally["5xx"] == 0 and tally["connection errors"] == 0
    assert wrong == []


def _copy_corpus(name: str, destination: Path) -> None:
    source = corpus_path(name)
    for entry in destination.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.copytree(source, destination, dirs_exist_ok=True)


def test_upgrade_from_one_corpus_to_the_other_is_followed_live(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    repo = git.Repo.init(origin, initial_branch="main")
    with repo.config_writer() as writer:
        writer.set_value("user", "name", "Test")
        writer.set_value("user", "email", "test@example.org")
    _copy_corpus("siade_staging_data", origin)
    first = commit(repo, "siade_staging_data")
    app = assemble(config(repo, tmp_path / "cache", poll_s=0, jwt_secrets=[]))
    assert app.syncer is not None
    token = (origin / "tokens" / "default").read_text().strip()
    men_v5 = "/v5/men/scolarites/identite"
    try:
        with (
            serve_in_thread(app) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=CLIENT_TIMEOUT_S
            ) as client,
        ):
            assert client.get("/__sandbox/status").json()["operations"] == 99
            before = client.get(men_v5)
            assert before.status_code == 404 and before.json()["errors"][0]["code"] == "00402"  # v5 not served yet
            _copy_corpus("apistration_mocks", origin)
            second = commit(repo, "apistration_mocks")
            assert first != second
            assert client.post("/api/reload-mocks").status_code == 200
            status = client.get("/__sandbox/status").json()
            assert status["operations"] == 100 and status["revision"] == second
            assert "api_particulier_v5_men_scolarites_with_civility" in app.snapshot.operations
            token = (origin / "tokens" / "default").read_text().strip()
            client.headers["Authorization"] = f"Bearer {token}"
            routed = client.get(men_v5, params={"recipient": "13002526500013"})
            assert routed.status_code == 422  # routed now: its validators answer
            changed = _a_changed_case(corpus_path("siade_staging_data"), corpus_path("apistration_mocks"))
            table = app.snapshot.tables[changed[0]]
            case = next(c for c in table.cases if c.file == changed[1])
            from sandbox.tools.reaching import case_request

            request = case_request(table.operation, case, token)
            response = client.get(request.path, params=list(request.query), headers=dict(request.headers))
            assert response.headers["x-sandbox-case"] == case.id and response.json() == case.payload
    finally:
        app.syncer.stop()


def _a_changed_case(old: Path, new: Path) -> tuple[str, str]:
    """A 200 case of an Entreprise operation whose file differs between the two corpora."""
    for path in sorted((new / "payloads").glob("api_entreprise_v3_qualifelec_certificats/*.yaml")):
        before = old / path.relative_to(new)
        if before.is_file() and before.read_bytes() != path.read_bytes() and "status: 200" in path.read_text():
            return path.parent.name, path.name
    raise AssertionError("no changed case found")


@pytest.mark.real_clock
def test_two_workers_converge_on_a_new_commit(repo: git.Repo, tmp_path: Path) -> None:
    port = free_port()
    command = [
        sys.executable, "-m", "sandbox", "serve", "--workers", "2", "--port", str(port), "--poll", "1",
        "--fixtures", f"file://{repo.working_dir}", "--cache-dir", str(tmp_path / "cache"), "--jwt-secret", SECRET,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        # Which worker answers a connection is the kernel's choice (a busy worker may accept none for a
        # while): the workers seen at a revision are gathered across polls. A worker never goes back
        # to an older revision, so a worker once seen at `revision` stays there.
        seen: dict[str, set[int]] = {}

        def pids_at(revision: str) -> set[int]:
            for _ in range(20):
                status = httpx.get(f"{base}/__sandbox/status", timeout=CLIENT_TIMEOUT_S).json()
                seen.setdefault(status["revision"], set()).add(status["sync"]["pid"])
            return seen.get(revision, set())

        def answering() -> bool:
            try:
                return len(pids_at(repo.head.commit.hexsha)) == 2
            except httpx.TransportError:
                return False

        wait_for(answering, timeout_s=DEADLINE_S)
        sha = add_v2_case(repo, "w", '{"statut": "workers"}')
        committed = time.monotonic()
        wait_for(lambda: len(pids_at(sha)) == 2, timeout_s=DEADLINE_S)
        print(f"\nworkers at {sha[:8]} after {time.monotonic() - committed:.1f} s")
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.real_clock
def test_a_follower_asked_to_fetch_hands_the_fetch_to_the_leader(repo: git.Repo, tmp_path: Path) -> None:
    """Two processes' syncers on one cache: the webhook reaches the follower, the leader fetches."""
    options = {"poll_s": 0.0}
    leader = make_syncer(config(repo, tmp_path / "cache", **options))
    leader.start()
    follower = make_syncer(config(repo, tmp_path / "cache", **options))
    follower.start()
    assert leader.leader is not None and leader.leader.held
    assert follower.leader is not None and not follower.leader.try_acquire()
    leader.run_in_background()
    follower.run_in_background()
    try:
        sha = add_v2_case(repo, "f", '{"statut": "suivi"}')
        follower.reload("webhook")
        holders = [s.holder for s in (leader, follower) if s.holder is not None]
        wait_for(lambda: all(h.current.revision == sha for h in holders) and len(holders) == 2, timeout_s=DEADLINE_S)
        git_source = follower.sources[0]
        assert isinstance(git_source, GitSource) and git_source.health.fetches == 0  # the follower never fetched
    finally:
        follower.stop()
        leader.stop()


def test_a_symlink_swapped_atomically_is_followed(tmp_path: Path) -> None:
    """The git-sync layout: a `current` link moved from one complete tree to the next."""
    first = tiny_repository.build(tmp_path / "rev-1")
    second = tiny_repository.build(tmp_path / "rev-2")
    tiny_repository.write_case(
        second, "api_particulier_v2_demo", "s.yaml", {"identifiant": "s"}, 200, '{"statut": "lien"}'
    )
    link = tmp_path / "current"
    link.symlink_to(first)
    app = assemble(ServeConfig(fixtures=[str(link)], cache_dir=str(tmp_path / "cache"), jwt_secrets=[SECRET]))
    assert app.syncer is not None
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
            assert served(client, "s").headers["x-sandbox-case"] == "default"
            time.sleep(0.3)  # let the watcher start
            staging = tmp_path / "current.new"
            staging.symlink_to(second)
            staging.replace(link)  # atomic, as git-sync does
            wait_for(lambda: served(client, "s").json() == {"statut": "lien"}, timeout_s=DEADLINE_S)
    finally:
        app.syncer.stop()
