"""Watching a local fixture folder: the folders a reload reads, nothing outside it, and a watcher that survives.

watchfiles (notify) follows links when it watches a folder recursively: a link to `/`
in a case folder had it walk the whole disk and die on the first folder it could not
read, silently. So every folder is watched on its own (not recursively), and the list
is made here, without following a link out of the repository: the root, `payloads/`
and each case folder, `data/`, `tokens/`, the folders of the OpenAPI documents and,
when the root is itself a link (git-sync swaps it), the folder holding the link.

The list is made again after every change: a new case folder, a folder deleted and
made again (a new inode), or a swapped root re-arms the watch. A watch that fails
is started again with backoff (changes may have been missed meanwhile: a reload
follows), and `/__sandbox/status` shows each watcher's state.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sandbox.load.repository_files import Entry, RefusedFile, RepositoryTree

_LOG = logging.getLogger("sandbox.sync")
_DEBOUNCE_MS = 200
_STEP_MS = 50
_QUIET_STEP_MS = 500  # a watch yields after this long without a change: it is armed
_FIRST_BACKOFF_S = 0.5
_MAX_BACKOFF_S = 30.0
_MAX_FOLDERS = 10_000

# (path, device, inode): a folder deleted and made again is a new folder to watch
WatchedFolder = tuple[str, int, int]


def watched_folders(path: Path, documents: Iterable[str] = ()) -> list[WatchedFolder]:
    """Each folder a reload of the repository at `path` reads, to watch one by one."""
    folders: list[Path] = []
    if path.is_symlink():
        folders.append(path.absolute().parent)
    tree = RepositoryTree(path)
    if tree.root.is_dir():
        folders.append(tree.root)
        for top in ("payloads", "data", "tokens"):
            folders.extend(_folder(tree, tree.root / top))
        for entry in _entries(tree, tree.root / "payloads"):
            if entry.is_folder and entry.refused is None and not entry.name.startswith("."):
                folders.append(entry.path)
        for document in documents:
            parts = Path(document).parts[:-1]
            for depth in range(1, len(parts) + 1):
                folders.extend(_folder(tree, tree.root.joinpath(*parts[:depth])))
    watched: dict[str, WatchedFolder] = {}
    for folder in folders[:_MAX_FOLDERS]:
        try:
            status = os.stat(folder)
        except OSError:
            continue
        watched.setdefault(str(folder), (str(folder), status.st_dev, status.st_ino))
    return list(watched.values())


def _folder(tree: RepositoryTree, path: Path) -> list[Path]:
    try:
        folder = tree.folder(path)
    except RefusedFile:
        return []
    return [folder] if folder is not None else []


def _entries(tree: RepositoryTree, path: Path) -> list[Entry]:
    try:
        return tree.entries(path) if tree.folder(path) is not None else []
    except (OSError, RefusedFile):
        return []


@dataclass
class WatcherHealth:
    """What `/__sandbox/status` says of one watcher (`sync.watchers`)."""

    path: str
    alive: bool = False
    folders: int = 0
    restarts: int = 0
    last_error: str | None = None
    last_error_at: float | None = None


class FolderWatcher:
    """Watches one local source and calls `on_change` after each burst of writes, until `stop` is set."""

    def __init__(
        self,
        path: Path,
        documents: Callable[[], list[str]],
        on_change: Callable[[str], object],
        stop: threading.Event,
    ) -> None:
        self.path = path
        self.documents = documents
        self.on_change = on_change
        self.stop = stop
        self.health = WatcherHealth(str(path))

    def run(self) -> None:
        backoff = _FIRST_BACKOFF_S
        catch_up = False
        while not self.stop.is_set():
            try:
                self._watch(catch_up)
                backoff = _FIRST_BACKOFF_S
            except Exception as error:  # watchfiles, the file system: the watcher must come back
                self.health.alive = False
                self.health.restarts += 1
                self.health.last_error = f"{type(error).__name__}: {error}"[:500]
                self.health.last_error_at = time.time()
                _LOG.warning("watcher of %s failed (%s): again in %.1f s", self.path, error, backoff)
                if self.stop.wait(backoff):
                    break
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
            catch_up = True  # what changed while no watch was armed is read once the new one is
        self.health.alive = False

    def _watch(self, catch_up: bool) -> None:
        """Watch the folders of the moment; return when they change (to watch the new ones) or on stop.

        With `catch_up`, reload once the watch is armed (its first quiet step): a file written in
        a new folder before the folder was watched is read then."""
        from watchfiles import watch

        plan = watched_folders(self.path, self.documents())
        if not plan:
            raise FileNotFoundError(f"{self.path}: no folder to watch (the repository is missing)")
        self.health.folders = len(plan)
        for changes in watch(
            *(folder for folder, _, _ in plan),
            stop_event=self.stop,
            debounce=_DEBOUNCE_MS,
            step=_STEP_MS,
            rust_timeout=_QUIET_STEP_MS,
            yield_on_timeout=True,
            recursive=False,
            watch_filter=lambda _change, path: "/.git/" not in path,
            raise_interrupt=False,
        ):
            self.health.alive = True
            if not changes and not catch_up:
                continue
            if changes:
                _LOG.info("%d change(s) under %s", len(changes), self.path)
            self.on_change("file change" if changes else "watch re-armed")
            catch_up = False
            if watched_folders(self.path, self.documents()) != plan:
                return
