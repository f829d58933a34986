"""The snapshot owns every fact of a revision: throttles, authorisations, tokens, lookup rules.

End to end: a local folder followed by a real watcher, served by a real uvicorn; an edit to
`data/throttle.yml`, `data/authorizations.yml`, `tokens/` or `sandbox.yaml` changes the next
answers and `X-Sandbox-Commit`. In process: what the snapshot build resolves and digests, and
what `answer()` hands the app.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sandbox.cli.assembly import assemble, make_syncer
from sandbox.cli.serve_config import ServeConfig
from sandbox.load.snapshot import build_snapshot
from sandbox.rules.throttles import Throttle, ThrottleGroup, ThrottleTable
from sandbox.rules.tokens import mint
from sandbox.rules.validation import CheckTable
from sandbox.serve.app import SandboxApp
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import IncomingRequest, Services, answer
from sandbox.serve.ratelimit import RateLimiter, discriminator
from tests import tiny_repository

SECRET = "snapshot-test-secret-at-least-32-bytes-long"
V2 = "/api/v2/demo"
V2_OPERATION = "api_particulier_v2_demo"
V2_CONTROLLER = "api_particulier/v2/demo"
CLIENT_TIMEOUT_S = 30.0
DEADLINE_S = 60.0  # a reload on a loaded machine: build, swap, and the watcher's debounce


def bearer(token: str) -> dict[str, str]:
    # Bearer only: with an X-Api-Key a v2 route also meets the global v2 limit (two throttles, no headers).
    return {"Authorization": f"Bearer {token}"}


def throttle_file(limit: int) -> str:
    group = {"throttle_type": "by_group_of_endpoints", "endpoints": [V2_OPERATION], "limit": limit, "period": 60}
    return yaml.safe_dump({"shared": {"demo": group}})


def authorizations_file(scopes: list[str]) -> str:
    return yaml.safe_dump({"shared": {V2_CONTROLLER: scopes}})


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout_s} s: {what}")


@contextlib.contextmanager
def followed(root: Path, cache: Path, **options: Any) -> Iterator[tuple[SandboxApp, httpx.Client]]:
    """`root` served by a real uvicorn, its watcher armed before the test writes anything."""
    app = assemble(ServeConfig(fixtures=[str(root)], cache_dir=str(cache), jwt_secrets=[SECRET], **options))
    syncer = app.syncer
    assert syncer is not None
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
            wait_for(lambda: bool(syncer.watchers) and all(w.health.alive for w in syncer.watchers), "watch armed")
            yield app, client
    finally:
        syncer.stop()


def commit_of(response: httpx.Response) -> str:
    return response.headers["x-sandbox-commit"]


# -- end to end: a followed local folder ---------------------------------------------------------


def test_an_edited_throttle_file_changes_the_next_rate_limit_headers(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "local")
    (root / "data").mkdir()
    (root / "data" / "throttle.yml").write_text(throttle_file(1000))
    headers = bearer(mint(SECRET, []))
    with followed(root, tmp_path / "cache", rate_limit=True) as (_, client):
        before = client.get(V2, params={"identifiant": "1"}, headers=headers)
        assert before.status_code == 200
        assert before.headers["ratelimit-limit"] == "1000"

        (root / "data" / "throttle.yml").write_text(throttle_file(1))

        def limited() -> bool:
            limit = client.get(V2, params={"identifiant": "1"}, headers=headers).headers.get("ratelimit-limit")
            return bool(limit == "1")

        wait_for(limited, "RateLimit-Limit: 1 after the edit")
        after = [client.get(V2, params={"identifiant": "1"}, headers=headers) for _ in range(3)]
        assert all(r.headers["ratelimit-limit"] == "1" for r in after)
        # Three requests within at most two 60 s windows: one of them exceeds the new limit.
        assert 429 in [r.status_code for r in after]
        assert commit_of(after[-1]) != commit_of(before)


def test_a_scope_removed_from_the_authorisations_file_refuses_the_next_request(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "local")
    (root / "data").mkdir()
    (root / "data" / "authorizations.yml").write_text(authorizations_file(["demo", "autre"]))
    headers = bearer(mint(SECRET, ["demo"]))
    with followed(root, tmp_path / "cache") as (_, client):
        before = client.get(V2, params={"identifiant": "1"}, headers=headers)
        assert (before.status_code, before.json()) == (200, {"statut": "ok"})

        (root / "data" / "authorizations.yml").write_text(authorizations_file(["autre"]))

        wait_for(lambda: client.get(V2, params={"identifiant": "1"}, headers=headers).status_code != 200, "refused")
        after = client.get(V2, params={"identifiant": "1"}, headers=headers)
        assert after.status_code == 401  # v2: a missing scope is a 401 (spec §3.1)
        assert commit_of(after) != commit_of(before)


def test_a_token_file_added_is_accepted_and_removed_is_refused(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "local")
    # Signed with another secret and with a jti of its own: only a file in tokens/ makes it valid.
    token = mint("another-secret-nobody-configured-32-bytes", [], uid=str(uuid.uuid4()), jti=str(uuid.uuid4()))
    headers = bearer(token)
    with followed(root, tmp_path / "cache") as (_, client):

        def status() -> int:
            return client.get(V2, params={"identifiant": "1"}, headers=headers).status_code

        unknown = client.get(V2, params={"identifiant": "1"}, headers=headers)
        assert unknown.status_code == 401

        (root / "tokens").mkdir(exist_ok=True)
        (root / "tokens" / "partner").write_text(token + "\n")
        wait_for(lambda: status() == 200, "the token of tokens/partner accepted")
        accepted = client.get(V2, params={"identifiant": "1"}, headers=headers)
        assert accepted.json() == {"statut": "ok"}
        assert commit_of(accepted) != commit_of(unknown)

        (root / "tokens" / "partner").unlink()
        wait_for(lambda: status() == 401, "the token refused once its file is gone")
        refused = client.get(V2, params={"identifiant": "1"}, headers=headers)
        assert commit_of(refused) != commit_of(accepted)


def test_a_lookup_rule_added_in_sandbox_yaml_changes_which_case_answers(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "local")
    headers = bearer(mint(SECRET, []))
    with followed(root, tmp_path / "cache", match="staging") as (_, client):
        before = client.get(V2, headers=headers)  # no identifiant: no case has an empty key
        assert before.headers["x-sandbox-case"] == "default"

        rule = {"operations": [V2_OPERATION], "keys": {"identifiant": {"default": "1"}}}
        (root / "sandbox.yaml").write_text(yaml.safe_dump({"lookup_rules": [rule]}))

        case = f"{V2_OPERATION}/200.yaml"
        wait_for(lambda: client.get(V2, headers=headers).headers.get("x-sandbox-case") == case, "the rule's case")
        after = client.get(V2, headers=headers)
        assert (after.status_code, after.json()) == (200, {"statut": "ok"})
        assert commit_of(after) != commit_of(before)


# -- in process: the content revision ------------------------------------------------------------


def _edit_throttles(root: Path) -> None:
    (root / "data" / "throttle.yml").write_text(throttle_file(7))


def _edit_authorizations(root: Path) -> None:
    (root / "data" / "authorizations.yml").write_text(authorizations_file(["autre"]))


def _add_token(root: Path) -> None:
    (root / "tokens" / "partner").write_text(mint(SECRET, [], jti=str(uuid.uuid4())))


def _remove_token(root: Path) -> None:
    (root / "tokens" / "default").unlink()


def _add_lookup_rule(root: Path) -> None:
    (root / "sandbox.yaml").write_text(yaml.safe_dump({"lookup_rules": [{"operations": ["x"], "keys": {"a": {}}}]}))


def _rename_case(root: Path) -> None:
    folder = root / "payloads" / V2_OPERATION
    (folder / "200.yaml").rename(folder / "200-renamed.yaml")


def _copy_case_to_another_folder(root: Path) -> None:
    # Same bytes under another path: a set of content hashes would not see it.
    shutil.copy(root / "payloads" / V2_OPERATION / "200.yaml", root / "payloads" / V2_OPERATION / "200-bis.yaml")


def _edit_document(root: Path) -> None:
    document = dict(tiny_repository.OPENAPI_ENTREPRISE)
    document["info"] = {"title": "API Entreprise", "version": "2"}
    (root / "openapi" / "a.yaml").write_text(yaml.safe_dump(document))


def _repository(root: Path) -> Path:
    tiny_repository.build(root)
    (root / "data").mkdir()
    (root / "data" / "throttle.yml").write_text(throttle_file(1000))
    (root / "data" / "authorizations.yml").write_text(authorizations_file(["demo"]))
    (root / "tokens").mkdir()
    (root / "tokens" / "default").write_text(mint(SECRET, ["demo"]))
    return root


@pytest.mark.parametrize(
    "edit",
    [
        _edit_throttles,
        _edit_authorizations,
        _add_token,
        _remove_token,
        _add_lookup_rule,
        _rename_case,
        _copy_case_to_another_folder,
        _edit_document,
    ],
)
def test_every_file_the_snapshot_is_built_from_is_in_its_revision(tmp_path: Path, edit: Callable[[Path], None]) -> None:
    root = _repository(tmp_path / "repository")
    before = build_snapshot(root, secrets=[SECRET])
    edit(root)
    after = build_snapshot(root, secrets=[SECRET])
    assert after.revision.startswith("content-")
    assert after.revision != before.revision


def test_a_file_the_snapshot_does_not_read_leaves_its_revision(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repository")
    before = build_snapshot(root, secrets=[SECRET])
    (root / "README.md").write_text("# notes\n")
    (root / "tokens" / "README.md").write_text("not a token: a file with a suffix is not read\n")
    assert build_snapshot(root, secrets=[SECRET]).revision == before.revision


def test_the_revision_names_the_files_the_snapshot_read(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repository")
    (root / "sandbox.yaml").write_text("lookup_rules: []\n")
    files = build_snapshot(root, secrets=[SECRET]).content.files
    for read in ("data/throttle.yml", "data/authorizations.yml", "tokens/default", "sandbox.yaml"):
        assert read in files, read
    assert f"payloads/{V2_OPERATION}/200.yaml" in files
    assert "openapi/a.yaml" in files and "openapi/b.json" in files


@pytest.mark.parametrize("edit", [_edit_authorizations, _add_token, _add_lookup_rule, _edit_throttles])
def test_a_followed_folder_edited_outside_its_cases_is_swapped_not_dropped(
    tmp_path: Path, edit: Callable[[Path], None]
) -> None:
    root = _repository(tmp_path / "repository")
    syncer = make_syncer(ServeConfig(fixtures=[str(root)], cache_dir=str(tmp_path / "cache"), jwt_secrets=[SECRET]))
    holder = syncer.start()
    try:
        served = holder.current.revision
        edit(root)
        attempt = syncer.reload("edit", fetch=False)
        assert attempt.outcome == "swapped", attempt
        assert holder.current.revision != served
    finally:
        syncer.stop()


# -- in process: what a snapshot holds -----------------------------------------------------------


def test_each_operation_table_holds_the_throttles_of_its_revision(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repository")
    builtin = build_snapshot(root, secrets=[SECRET])
    # No data/throttle.yml: the built-in groups (every Particulier v3+ route in one group of 20/1 s).
    assert builtin.tables["api_particulier_v3_demo_with_identifiant"].throttles == (
        Throttle(group="json_resources_particulier", endpoint="", limit=20, period=1),
    )
    assert builtin.tables[V2_OPERATION].throttles == ()

    (root / "data").mkdir()
    shared = {
        "v2": {"endpoints": [V2_OPERATION], "limit": 3, "period": 60},
        "each": {
            "throttle_type": "by_single_endpoint",
            "endpoints": ["api_particulier_v3_demo_*"],
            "limit": 5,
            "period": 3600,
        },
    }
    (root / "data" / "throttle.yml").write_text(yaml.safe_dump({"shared": shared}))
    own = build_snapshot(root, secrets=[SECRET])
    assert own.tables[V2_OPERATION].throttles == (Throttle(group="v2", endpoint="", limit=3, period=60),)
    civility = "api_particulier_v3_demo_with_civility"
    assert own.tables[civility].throttles == (Throttle(group="each", endpoint=civility, limit=5, period=3600),)
    assert own.tables["api_entreprise_v3_demo_unites_legales"].throttles == ()
    assert {group.name for group in own.throttles} == {"v2", "each"}


def test_groups_of_one_name_keep_counters_of_their_own() -> None:
    groups = [
        ThrottleGroup(name="g", per_endpoint=False, endpoints=("a",), limit=1, period=60),
        ThrottleGroup(name="g", per_endpoint=False, endpoints=("a",), limit=9, period=60),
    ]
    first, second = ThrottleTable(groups).for_operation("a")
    assert first.group == "g"
    assert second.group != first.group


def test_the_limiter_counts_and_the_caller_gives_the_limits() -> None:
    limiter = RateLimiter(clock=lambda: 1_000_000.0)
    who = discriminator("00000000-0000-0000-0000-000000000000", None)
    generous = (Throttle(group="g", endpoint="", limit=1000, period=60),)
    assert [limiter.count(generous, who).remaining for _ in range(2)] == [999, 998]
    # The next revision lowers the limit: the counter of group g goes on, the new limit applies.
    strict = (Throttle(group="g", endpoint="", limit=2, period=60),)
    refused = limiter.count(strict, who)
    assert (refused.allowed, refused.limit) == (False, 2)
    raised = limiter.count((Throttle(group="g", endpoint="", limit=10, period=60),), who)
    assert (raised.allowed, raised.limit, raised.remaining) == (True, 10, 6)
    # Another group's counter starts from zero.
    assert limiter.count((Throttle(group="h", endpoint="", limit=10, period=60),), who).remaining == 9


def test_the_snapshot_holds_the_rule_tables_it_was_built_with(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "repository")
    rule = {"name": "own", "operations": [V2_OPERATION], "keys": {"identifiant": {"default": "1"}}}
    (root / "sandbox.yaml").write_text(yaml.safe_dump({"lookup_rules": [rule]}))
    snapshot = build_snapshot(root, secrets=[SECRET])
    assert snapshot.rules.rules[0].name == "own"
    assert snapshot.tables[V2_OPERATION].keys.rule is snapshot.rules.rules[0]
    assert isinstance(snapshot.checks, CheckTable)
    checks = snapshot.checks.for_operation("api_particulier_v3_demo_with_civility")
    assert snapshot.tables["api_particulier_v3_demo_with_civility"].checks is checks


# -- in process: answer() says what the app needs ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "operation", "outcome", "near_miss"),
    [
        ("GET", V2, b"identifiant=1", V2_OPERATION, "hit", None),
        ("GET", V2, b"identifiant=2", V2_OPERATION, "fallback", f"{V2_OPERATION}/200.yaml"),
        (
            "GET",
            "/v3/demo/identite",
            b"nomNaissance=DUPONT&prenoms[]=JEAN&moisDateNaissance=9&recipient=13002526500013",
            "api_particulier_v3_demo_with_civility",
            "fallback",
            "api_particulier_v3_demo_with_civility/200.yaml",
        ),
        ("GET", "/v9/demo/identite", b"", "api_particulier_v3_demo_with_civility", "unsupported-version", None),
        ("POST", V2, b"", V2_OPERATION, "unknown-path", None),  # the journal names the route, as before
        ("GET", "/nowhere", b"", None, "unknown-path", None),
    ],
)
def test_answer_names_the_operation_the_outcome_and_the_near_miss(
    tmp_path: Path, method: str, path: str, query: bytes, operation: str | None, outcome: str, near_miss: str | None
) -> None:
    snapshot = build_snapshot(tiny_repository.build(tmp_path / "repository"), secrets=[SECRET])
    headers = {"authorization": f"Bearer {mint(SECRET, [])}"}
    answered = answer(snapshot, IncomingRequest(method, path, query, headers), Services())
    assert answered.operation_id == operation
    assert answered.outcome == outcome
    assert answered.near_miss == near_miss
    assert answered.prepared.header(b"x-sandbox-near-miss") == near_miss
