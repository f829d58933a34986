"""Parsed cases kept on disk (`sandbox.load.parse_cache`): a restart parses no case an earlier process
parsed with the same code and limits; a changed file, other limits or a damaged cache file parse again."""

from __future__ import annotations

from pathlib import Path

from sandbox.load.parse_cache import ParseCache
from sandbox.load.repository_files import FileLimits
from sandbox.load.snapshot import Snapshot, build_snapshot
from tests import tiny_repository

CASES = 6  # the cases tiny_repository writes
DOCUMENTS = 2


def started(root: Path, cache_dir: Path, limits: FileLimits | None = None) -> tuple[Snapshot, ParseCache]:
    """What a start does: build with a cache on `cache_dir`, then keep what is served and save it."""
    cache = ParseCache(cache_dir)
    snapshot = build_snapshot(root, cache=cache, limits=limits)
    cache.keep_only(snapshot.content.digests)
    cache.save()
    return snapshot, cache


def answers(snapshot: Snapshot) -> dict[str, tuple[object, ...]]:
    return {
        case.id: (case.params, case.status, case.payload, case.lines)
        for table in snapshot.tables.values()
        for case in table.cases
    }


def test_a_restart_parses_no_case_and_serves_the_same_answers(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "fixtures")
    first, cache = started(root, tmp_path / "cache")
    assert (cache.hits, cache.misses) == (0, CASES + DOCUMENTS)
    again, cache = started(root, tmp_path / "cache")
    assert (cache.hits, cache.misses) == (CASES + DOCUMENTS, 0)
    assert answers(again) == answers(first) and len(answers(first)) == CASES


def test_a_changed_case_alone_is_parsed_again(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "fixtures")
    started(root, tmp_path / "cache")
    tiny_repository.write_case(
        root, "api_particulier_v3_demo_with_identifiant", "200.yaml", {"identifiant": "2"}, 200, '{"data": 2}'
    )
    snapshot, cache = started(root, tmp_path / "cache")
    assert (cache.hits, cache.misses) == (CASES + DOCUMENTS - 1, 1)
    changed = snapshot.tables["api_particulier_v3_demo_with_identifiant"]
    assert [case.params for case in changed.cases] == [{"identifiant": "2"}]


def test_other_file_limits_parse_again(tmp_path: Path) -> None:
    """A case refused by a smaller nesting limit must not come back from a cache filled without it."""
    root = tiny_repository.build(tmp_path / "fixtures")
    first, _ = started(root, tmp_path / "cache")
    deep = "api_particulier_v3_demo_with_civility/200.yaml"  # params → prenoms → a list: three levels
    assert deep in answers(first)
    snapshot, cache = started(root, tmp_path / "cache", FileLimits(nesting=2))
    assert cache.misses == CASES
    assert deep not in answers(snapshot)
    assert any(problem.path == "payloads/" + deep for problem in snapshot.report.problems)


def test_a_damaged_cache_file_is_parsed_again(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "fixtures")
    first, _ = started(root, tmp_path / "cache")
    saved = list((tmp_path / "cache" / "cases-1").iterdir())
    assert len(saved) == 1
    saved[0].write_bytes(b"\x80\x05not a pickle")
    again, cache = started(root, tmp_path / "cache")
    assert cache.misses == CASES
    assert answers(again) == answers(first)


def test_without_a_folder_nothing_is_written(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "fixtures")
    cache = ParseCache()
    build_snapshot(root, cache=cache)
    cache.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixtures"]


def test_a_cache_file_of_another_version_is_removed_on_save(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "fixtures")
    folder = tmp_path / "cache" / "cases-1"
    folder.mkdir(parents=True)
    (folder / "0000000000000000-0000000000000000.pickle").write_bytes(b"older code")
    started(root, tmp_path / "cache")
    assert len(list(folder.iterdir())) == 1 and not (folder / "0000000000000000-0000000000000000.pickle").exists()


def test_a_case_from_the_cache_equals_the_parsed_one_in_every_field(tmp_path: Path) -> None:
    """Cases are pickled as their fields in order (`Case.__reduce__`): none is lost or swapped."""
    root = tiny_repository.build(tmp_path / "fixtures")
    first, _ = started(root, tmp_path / "cache")
    again, cache = started(root, tmp_path / "cache")
    assert cache.misses == 0
    parsed = [case for table in first.tables.values() for case in table.cases]
    cached = [case for table in again.tables.values() for case in table.cases]
    assert len(parsed) == CASES and cached == parsed  # a dataclass's equality compares every field
