"""Reload triggers coalesce, and a refused revision is not rebuilt until a new one arrives.

Real git repositories in a temp dir served through file:// remotes, a real uvicorn on loopback,
the counters read from `GET /__sandbox/status`.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import git
import httpx
import pytest

from sandbox.cli.assembly import assemble, make_syncer
from sandbox.cli.serve_config import ServeConfig
from sandbox.load.reload_queue import ReloadQueue
from sandbox.load.snapshot import Snapshot, SnapshotHolder
from sandbox.load.sync import Syncer
from sandbox.serve.local_server import serve_in_thread
from tests import tiny_repository
from tests.test_sync import SECRET, add_v2_case, commit, config, make_repository, served, signed, wait_for

TIMEOUT = 60.0
BROKEN_CASE = "payloads/api_particulier_v2_demo/cassé.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    return make_repository(tmp_path / "origin")


def sync_counters(client: httpx.Client) -> dict[str, Any]:
    return dict(client.get("/__sandbox/status").json()["sync"])


def break_repository(repo: git.Repo) -> str:
    (Path(repo.working_dir) / BROKEN_CASE).write_text("params:\n  identifiant: [1\nstatus: 200\n")
    return commit(repo, "broken case")


def fix_repository(repo: git.Repo, identifiant: str) -> str:
    (Path(repo.working_dir) / BROKEN_CASE).unlink()
    return add_v2_case(repo, identifiant, '{"statut": "réparé"}')


def hundred_triggers(base: str) -> list[httpx.Response]:
    """50 `POST /api/reload-mocks` and 50 signed webhooks at once: 100 threads, each with a connection
    opened beforehand, released together."""
    clients = [httpx.Client(base_url=base, timeout=TIMEOUT) for _ in range(100)]
    responses: list[httpx.Response | None] = [None] * 100
    barrier = threading.Barrier(100, timeout=TIMEOUT)

    def trigger(index: int) -> None:
        client = clients[index]
        client.get("/api/ping")  # the connection, opened and kept alive
        barrier.wait()
        if index % 2:
            responses[index] = client.post("/api/reload-mocks")
        else:
            body = json.dumps({"ref": "refs/heads/main", "index": index}).encode()
            responses[index] = client.post("/__sandbox/webhook", content=body, headers=signed(body))

    threads = [threading.Thread(target=trigger, args=(index,)) for index in range(100)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TIMEOUT)
    finally:
        for client in clients:
            client.close()
    assert all(response is not None for response in responses)
    return [response for response in responses if response is not None]


@pytest.mark.real_clock
def test_a_hundred_triggers_give_at_most_two_fetches_and_one_rebuild(repo: git.Repo, tmp_path: Path) -> None:
    app = assemble(config(repo, tmp_path / "cache", poll_s=0))  # no poll: only the triggers fetch
    assert app.syncer is not None
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            sha = add_v2_case(repo, "c", '{"statut": "coalescé"}')
            before = sync_counters(client)
            started = time.monotonic()
            responses = hundred_triggers(base)
            elapsed = time.monotonic() - started
            after = sync_counters(client)
            fetches = after["fetches"] - before["fetches"]
            rebuilds = after["rebuilds"] - before["rebuilds"]
            triggers = after["triggers"] - before["triggers"]
            coalesced = after["coalesced"] - before["coalesced"]
            print(
                f"\n100 triggers (50 reload-mocks + 50 webhooks) in {elapsed:.2f} s: "
                f"{fetches} fetches, {rebuilds} rebuilds, {coalesced} coalesced"
            )
            assert [r.status_code for r in responses] == [200] * 100
            reloads = [r.json() for r in responses[1::2]]
            hooks = [r.json() for r in responses[0::2]]
            assert all(body == {"message": "Mock backend reloaded"} for body in reloads)
            assert {hook["outcome"] for hook in hooks} <= {"swapped", "unchanged"}
            assert all(hook["revision"] == sha for hook in hooks)
            assert triggers >= 100  # the poll loop may follow CURRENT once too
            assert 1 <= fetches <= 2 and rebuilds == 1
            assert coalesced >= 98  # at most two triggers started a reload: every other joined one
            answer = served(client, "c")
            assert answer.json() == {"statut": "coalescé"} and answer.headers["x-sandbox-commit"] == sha
            assert after["reload_in_flight"] is False and after["reload_queued"] is False
    finally:
        app.syncer.stop()


@pytest.mark.real_clock
def test_a_broken_commit_is_built_once_however_many_polls_and_triggers_follow(repo: git.Repo, tmp_path: Path) -> None:
    app = assemble(config(repo, tmp_path / "cache", poll_s=0.2))
    assert app.syncer is not None
    good = repo.head.commit.hexsha
    polls = 10
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            start = sync_counters(client)
            bad = break_repository(repo)
            wait_for(lambda: sync_counters(client)["refused_revision"] == bad, timeout_s=30)
            refused = sync_counters(client)
            assert refused["rebuilds"] == start["rebuilds"] + 1
            wait_for(lambda: sync_counters(client)["fetches"] >= refused["fetches"] + polls, timeout_s=60)
            body = b"{}"
            for _ in range(3):
                again = client.post("/api/reload-mocks")
                assert again.status_code == 422
                assert any(f"{BROKEN_CASE}:3: invalid YAML" in error for error in again.json()["errors"])
                hook = client.post("/__sandbox/webhook", content=body, headers=signed(body))
                assert hook.status_code == 422 and hook.json()["outcome"] == "refused"
                assert hook.json()["revision"] == bad
            status = client.get("/__sandbox/status").json()
            later = status["sync"]
            builds_of_bad = later["rebuilds"] - start["rebuilds"]
            print(
                f"\nbroken commit: {builds_of_bad} build over {later['fetches'] - refused['fetches']} "
                f"fetches (polls every 0.2 s and 6 triggers)"
            )
            assert builds_of_bad == 1
            assert status["revision"] == good and status["healthy"] is False
            assert later["last_failure"]["revision"] == bad and later["last_failure"]["rebuilt"] is True
            assert served(client, "1").headers["x-sandbox-commit"] == good

            fixed = fix_repository(repo, "r")
            wait_for(lambda: served(client, "r").json() == {"statut": "réparé"}, timeout_s=30)
            final = client.get("/__sandbox/status").json()
            assert final["revision"] == fixed and final["healthy"] is True
            assert final["sync"]["rebuilds"] == later["rebuilds"] + 1
            assert served(client, "r").headers["x-sandbox-commit"] == fixed
    finally:
        app.syncer.stop()


@pytest.mark.real_clock
def test_a_follower_builds_a_refused_commit_once(repo: git.Repo, tmp_path: Path) -> None:
    """Before: a follower rebuilt the leader's broken CURRENT every half second."""
    options = {"poll_s": 0.2}
    leader = make_syncer(config(repo, tmp_path / "cache", **options))
    leader.start()
    follower = make_syncer(config(repo, tmp_path / "cache", **options))
    follower.start()
    leader.run_in_background()
    follower.run_in_background()
    try:
        bad = break_repository(repo)
        syncers = (leader, follower)
        wait_for(lambda: all(s.refusal is not None and s.refusal.revision == bad for s in syncers), timeout_s=30)
        rebuilds = (leader.rebuilds, follower.rebuilds)
        fetches = leader.fetches
        wait_for(lambda: leader.fetches >= fetches + 10, timeout_s=60)  # ten polls, each a fetch of `bad`
        assert (leader.rebuilds, follower.rebuilds) == rebuilds == (1, 1)
        fixed = fix_repository(repo, "f")
        wait_for(lambda: all(s.holder is not None and s.holder.current.revision == fixed for s in syncers), 30)
        assert (leader.rebuilds, follower.rebuilds) == (2, 2)
    finally:
        follower.stop()
        leader.stop()


def test_a_local_folder_is_rebuilt_only_when_its_files_change(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "local")
    syncer = make_syncer(ServeConfig(fixtures=[str(root)], cache_dir=str(tmp_path / "cache"), jwt_secrets=[SECRET]))
    syncer.start()
    source = syncer.sources[0]

    def settled() -> bool:
        """File times are coarse: a folder written in the last seconds has no fingerprint yet."""
        return syncer.source_key() is not None

    try:
        wait_for(settled, timeout_s=30)
        # The start may have seen files too fresh to fingerprint (then the first reload builds once
        # more) or not (a slow start, or a clock ahead of the file times): both are right.
        first = syncer.reload("first")
        assert first.outcome == "unchanged"
        built = 1 if first.rebuilt else 0
        for _ in range(3):
            assert not syncer.reload("again").rebuilt
        assert syncer.rebuilds == built

        (root / BROKEN_CASE).write_text("params:\n  identifiant: [1\nstatus: 200\n")
        wait_for(settled, timeout_s=30)
        refused = syncer.reload("broken")
        assert refused.outcome == "refused" and refused.rebuilt and syncer.rebuilds == built + 1
        for _ in range(3):
            again = syncer.reload("again")
            assert again.outcome == "refused" and not again.rebuilt and again.errors == refused.errors
        assert syncer.rebuilds == built + 1 and not syncer.healthy()

        (root / BROKEN_CASE).unlink()
        wait_for(settled, timeout_s=30)
        back = syncer.reload("fixed")
        assert back.outcome == "unchanged" and not back.rebuilt  # the very files of the snapshot served
        assert syncer.rebuilds == built + 1 and syncer.healthy()

        tiny_repository.write_case(root, "api_particulier_v2_demo", "n.yaml", {"identifiant": "n"}, 200, "{}")
        wait_for(settled, timeout_s=30)
        new = syncer.reload("new case")
        assert new.outcome == "swapped" and new.rebuilt and syncer.rebuilds == built + 2
        assert source.kind == "local" and syncer.holder is not None
        assert syncer.holder.current.revision == new.revision
    finally:
        syncer.stop()


# -- the queue itself ---------------------------------------------------------------------------------


class GatedReload:
    """A reload that runs until the test lets it end: the in-flight window made explicit."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, bool]] = []
        self.running = threading.Event()
        self.release = threading.Event()

    def __call__(self, reason: str, fetch: bool) -> str:
        self.runs.append((reason, fetch))
        self.running.set()
        assert self.release.wait(timeout=30)
        return f"run {len(self.runs)}"


def test_triggers_during_a_running_reload_cause_one_more() -> None:
    reload = GatedReload()
    queue: ReloadQueue[str] = ReloadQueue(reload, lambda reason: f"stopped: {reason}", settle_s=0.0)
    try:
        first = queue.trigger("webhook", fetch=True)
        assert reload.running.wait(timeout=30) and queue.in_flight and not queue.queued
        reload.running.clear()
        later = [queue.trigger(reason, fetch=False) for reason in ("poll", "file change") * 25]
        assert queue.queued and all(future is later[0] for future in later)
        assert queue.coalesced == 49 and queue.triggers == 51
        reload.release.set()
        assert first.result(timeout=30) == "run 1"
        assert later[0].result(timeout=30) == "run 2"
        assert reload.runs == [("webhook", True), ("poll + file change", False)]
        third = queue.trigger("reload-mocks")
        assert third.result(timeout=30) == "run 3"
        assert reload.runs[-1] == ("reload-mocks", True)
    finally:
        reload.release.set()
        queue.stop()


def test_a_queued_reload_waits_to_gather_a_burst_then_a_stopped_queue_answers() -> None:
    reload = GatedReload()
    reload.release.set()
    queue: ReloadQueue[str] = ReloadQueue(reload, lambda reason: f"stopped: {reason}", settle_s=60.0)
    first = queue.trigger("a")
    assert first.result(timeout=30) == "run 1"
    queued = queue.trigger("b")  # nothing in flight: runs at once, whatever the settle time
    assert queued.result(timeout=30) == "run 2"
    gate = GatedReload()
    blocked: ReloadQueue[str] = ReloadQueue(gate, lambda reason: f"stopped: {reason}", settle_s=60.0)
    running = blocked.trigger("c")
    assert gate.running.wait(timeout=30)
    waiting = blocked.trigger("d")  # must wait 60 s after "c" started: still queued when the queue stops
    gate.release.set()
    assert running.result(timeout=30) == "run 1"
    blocked.stop()
    assert waiting.result(timeout=30) == "stopped: d" and gate.runs == [("c", True)]
    assert blocked.trigger("e").result(timeout=30) == "stopped: e"
    queue.stop()


@pytest.mark.real_clock
def test_reload_route_answers_202_when_the_reload_outlasts_its_wait(repo: git.Repo, tmp_path: Path) -> None:
    app = assemble(config(repo, tmp_path / "cache", poll_s=0))
    assert app.syncer is not None
    app.reload_wait_s = 0.0
    syncer: Syncer = app.syncer
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            sha = add_v2_case(repo, "q", '{"statut": "en file"}')
            response = client.post("/api/reload-mocks")
            assert response.status_code == 202 and response.json()["outcome"] == "queued"
            body = b"{}"
            hook = client.post("/__sandbox/webhook", content=body, headers=signed(body))
            assert hook.status_code == 202 and hook.json() == {"outcome": "queued", "revision": None, "errors": []}
            wait_for(lambda: served(client, "q").headers["x-sandbox-commit"] == sha, timeout_s=30)
            wait_for(lambda: not syncer.queue.in_flight and not syncer.queue.queued, timeout_s=30)
            assert syncer.rebuilds == 1
    finally:
        syncer.stop()


class _Watched(SnapshotHolder):
    """The syncer's real holder, noting what the status says at the moment each snapshot is swapped in."""

    def __init__(self, syncer: Syncer) -> None:
        assert syncer.holder is not None
        super().__init__(syncer.holder.current)
        self.syncer = syncer
        self.seen: list[tuple[str, bool]] = []

    def swap(self, snapshot: Snapshot) -> Snapshot:
        previous = super().swap(snapshot)
        self.seen.append((self.syncer.status()["revision"], self.syncer.healthy()))
        return previous


def test_once_a_fixed_commit_is_served_the_status_says_healthy(repo: git.Repo, tmp_path: Path) -> None:
    """A request served the new snapshot never reads the failure before it in the status."""
    syncer = make_syncer(config(repo, tmp_path / "cache", poll_s=0))
    syncer.start()
    watched = _Watched(syncer)
    syncer.holder = watched
    try:
        break_repository(repo)
        assert syncer.reload("test").outcome == "refused" and not syncer.healthy()
        fixed = fix_repository(repo, "r")
        assert syncer.reload("test").outcome == "swapped"
        assert watched.seen == [(fixed, True)]
    finally:
        syncer.stop()
