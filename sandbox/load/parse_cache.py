"""Parsed fixture files kept by content hash, in memory and on disk (`ParseCache`).

A reload parses only the files that changed; a restart parses none that an earlier process
parsed with the same code and the same file limits.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sandbox.load.repository_files import FileLimits

C = TypeVar("C")  # a parsed case (`repository.Case`, which imports this module)
P = TypeVar("P")  # a problem found parsing it (`repository.LoadProblem`)
_Entry = tuple[Any, tuple[Any, ...]]  # (the case or None, its problems)

__all__ = ["CaseKey", "ParseCache", "limits_digest"]


class ParseCache:
    """Parsed files by content hash, so a reload parses only what changed.

    Both kinds are also kept on disk (pickled, in a folder of ours) so that a restart does not
    parse them again: the OpenAPI documents, the slowest files to parse, one file each, and the
    cases, all in one file written by `save` after a build (on siade_staging_data: 800 cases,
    ~0.8 MB read in ~10 ms instead of ~0.16 s of YAML). The cases' file is named by a digest of
    the code that parses them and of the file limits: another version or other limits parse again.
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        # "openapi-2": entries are (document, duplicate keys) since duplicate keys are reported
        self._folder = Path(folder) / "openapi-2" if folder is not None else None
        self._case_files = Path(folder) / "cases-1" if folder is not None else None
        self._documents: dict[str, Any] = {}
        self._cases: dict[CaseKey, _Entry] = {}
        self._on_disk: dict[str, dict[CaseKey, _Entry]] = {}
        self._changed = False
        self.hits = 0
        self.misses = 0

    def document(self, digest: str, parse: Callable[[], Any]) -> Any:
        if digest in self._documents:
            self.hits += 1
            return self._documents[digest]
        path = self._folder / f"{digest}.pickle" if self._folder is not None else None
        data: Any = None
        if path is not None and path.is_file():
            try:
                data = pickle.loads(path.read_bytes())
                self.hits += 1
            except Exception:  # a damaged cache file is parsed again
                data = None
        if data is None:
            self.misses += 1
            data = parse()
            if path is not None:
                _write_atomically(path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
        self._documents[digest] = data
        return data

    def case(self, key: CaseKey, parse: Callable[[list[P]], C | None]) -> tuple[C | None, tuple[P, ...]]:
        found = self._cases.get(key) or self._stored(key[3]).get(key)
        if found is not None:
            self.hits += 1
            self._cases[key] = found
            return found
        self.misses += 1
        self._changed = True
        problems: list[P] = []
        entry = (parse(problems), tuple(problems))
        self._cases[key] = entry
        return entry

    def keep_only(self, digests: set[str]) -> None:
        """Forget entries of files that no longer exist (bounded memory across reloads)."""
        self._documents = {k: v for k, v in self._documents.items() if k in digests}
        kept = {k: v for k, v in self._cases.items() if k[2] in digests}
        self._changed = self._changed or len(kept) != len(self._cases)
        self._cases = kept
        self._on_disk.clear()  # read at start only: from now on `_cases` holds what is served

    def save(self) -> None:
        """Write the cases parsed so far, when some were parsed or forgotten since the last save."""
        if self._case_files is None or not self._changed:
            return
        by_limits: dict[str, dict[CaseKey, _Entry]] = {}
        for key, entry in self._cases.items():
            by_limits.setdefault(key[3], {})[key] = entry
        for limits, entries in by_limits.items():
            _write_atomically(self._case_file(limits), pickle.dumps(entries, protocol=pickle.HIGHEST_PROTOCOL))
        self._changed = False
        with contextlib.suppress(OSError):  # files of another version of the code are never read again
            for stale in self._case_files.glob("*.pickle"):
                if not stale.name.startswith(_parser_digest()):
                    stale.unlink()

    def _stored(self, limits: str) -> dict[CaseKey, _Entry]:
        """The cases saved by an earlier process with these limits (read once; empty if none or damaged)."""
        if self._case_files is None:
            return {}
        stored = self._on_disk.get(limits)
        if stored is None:
            stored = {}
            try:
                loaded = pickle.loads(self._case_file(limits).read_bytes())
                if isinstance(loaded, dict):
                    stored = loaded
            except Exception:  # absent or damaged: parsed again
                pass
            self._on_disk[limits] = stored
        return stored

    def _case_file(self, limits: str) -> Path:
        assert self._case_files is not None
        return self._case_files / f"{_parser_digest()}-{limits}.pickle"


CaseKey = tuple[str, str, str, str]  # (path in the repository, layer, content digest, file limits digest)


@functools.cache
def _parser_digest() -> str:
    """The code that parses a case and shapes what is cached: another version, another cache file."""
    here = Path(__file__).parent
    sources = (here / "parse_cache.py", here / "repository.py", here / "repository_files.py", here / "plain_yaml.py")
    return hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()[:16]


@functools.cache
def limits_digest(limits: FileLimits) -> str:
    return hashlib.sha256(repr(limits).encode()).hexdigest()[:16]


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        pass  # the cache is an optimisation: a read-only disk only costs a parse
