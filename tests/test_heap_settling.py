"""A serving process keeps its heap settled (`sandbox.load.collection`): what lives on is frozen out of
the collector's sight, and a swap lets the previous snapshot go rather than freezing it for good."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from sandbox.load.collection import keep_heap_settled
from sandbox.load.embedded import default_fixtures
from sandbox.load.snapshot import SnapshotHolder, build_snapshot


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def settled() -> Iterator[None]:
    keep_heap_settled()
    try:
        yield
    finally:
        keep_heap_settled(False)  # the rest of the test session collects as usual


def test_settling_freezes_what_lives_and_thaws_when_turned_off() -> None:
    gc.unfreeze()
    keep_heap_settled()
    try:
        assert gc.get_freeze_count() > 0
    finally:
        keep_heap_settled(False)
    assert gc.get_freeze_count() == 0


def test_a_swap_frees_what_was_frozen_and_is_no_longer_held(settled: None) -> None:
    holder = SnapshotHolder(build_snapshot(default_fixtures()))
    held = [Node()]  # alive when the heap settles, as the served snapshot is
    gone = weakref.ref(held[0])
    keep_heap_settled()
    held.clear()  # now garbage, as the previous snapshot is after a reload
    gc.collect()
    assert gone() is not None  # frozen: out of the collector's sight
    holder.swap(build_snapshot(default_fixtures()))
    assert gone() is None
    assert gc.get_freeze_count() > 0  # and what lives on is frozen again


def test_without_settling_a_swap_freezes_nothing() -> None:
    gc.unfreeze()
    holder = SnapshotHolder(build_snapshot(default_fixtures()))
    holder.swap(build_snapshot(default_fixtures()))
    assert gc.get_freeze_count() == 0


def test_a_build_in_a_settled_process_leaves_its_objects_frozen(settled: None) -> None:
    """Frozen as the build ends, before the collector resumes: its next collection walks none of them."""
    before = gc.get_freeze_count()
    snapshot = build_snapshot(default_fixtures())
    assert gc.get_freeze_count() > before + 1000  # the snapshot's objects (thousands)
    assert gc.get_count()[0] < 1000  # not left in the young generation for the next collection to walk
    assert snapshot.report.cases > 0


def test_without_settling_a_build_leaves_its_objects_to_the_collector() -> None:
    gc.unfreeze()
    build_snapshot(default_fixtures())
    assert gc.get_freeze_count() == 0
