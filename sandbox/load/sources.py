"""Where fixtures come from: a local folder, or a git remote followed through a local cache.

A git source keeps a bare clone in the cache folder and exports every commit it serves
to its own immutable folder (`trees/<sha>`), then points `CURRENT` at it with an atomic
rename. A snapshot is therefore always built from the files of exactly one commit, and
several worker processes can share the cache: one of them (the leader) fetches, the
others follow `CURRENT`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # GitPython costs ~0.1 s to import: only a git source (or a lint of a ref) loads it
    import git

_REMOTE = re.compile(r"^(https?|file|ssh|git)://|^[\w.-]+@[\w.-]+:")
_GIT_TIMEOUT_S = 120
_KEPT_TREES = 3
# no file of an exported commit is larger than this (the largest file the reader accepts)
MAX_EXPORTED_BYTES = 64 * 1024 * 1024
# A local folder's fingerprint walks what a reload may read (a superset), bounded.
_FINGERPRINT_DEPTH = 3
_FINGERPRINT_MAX_ENTRIES = 200_000
_FINGERPRINT_SKIPPED = frozenset({"node_modules", "__pycache__", "venv", "site-packages"})
_RACY_NS = 2_000_000_000  # a file changed this recently may change again with the same times


def is_remote(location: str) -> bool:
    return bool(_REMOTE.match(location))


def redact(location: str) -> str:
    """A URL without its credentials, fit for logs and the status route."""
    return re.sub(r"//[^/@]+@", "//***@", location)


CACHE_DIR_ENVIRONMENT = "SANDBOX_CACHE_DIR"


def default_cache_dir() -> Path:
    """SANDBOX_CACHE_DIR (a container's writable volume), else the user's cache folder."""
    if os.environ.get(CACHE_DIR_ENVIRONMENT):
        return Path(os.environ[CACHE_DIR_ENVIRONMENT])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sandbox"


class FetchError(RuntimeError):
    """The remote could not be reached or did not give the requested ref."""


@dataclass
class SourceHealth:
    last_fetch: float | None = None
    last_success: float | None = None
    next_fetch: float | None = None
    failures: int = 0
    last_error: str | None = None
    fetches: int = 0


@dataclass
class LocalSource:
    path: Path
    health: SourceHealth = field(default_factory=SourceHealth)

    kind = "local"

    @property
    def location(self) -> str:
        return str(self.path)

    def tree(self) -> Path:
        return self.path

    def revision(self) -> str | None:
        """None: the snapshot names a local folder by a digest of its files."""
        return None

    def fingerprint(self) -> str | None:
        """The folder's revision before any build: a digest of the name, inode, size and change
        times of every file a reload may read. Equal fingerprints, same files: no rebuild needed.
        None (unknown: rebuild) when the folder is too large or a file changed in the last seconds
        (file times are coarse: a second write in the same tick would keep them)."""
        digest = hashlib.sha256(os.fsencode(os.path.realpath(self.path)))
        now = time.time_ns()
        entries = 0
        stack: list[tuple[str, str, int]] = [(str(self.path), "", 0)]
        while stack:
            folder, prefix, depth = stack.pop()
            try:
                listed = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as error:
                digest.update(os.fsencode(f"{prefix}: {error.errno}\n"))
                continue
            for entry in listed:
                entries += 1
                if entries > _FINGERPRINT_MAX_ENTRIES:
                    return None
                if entry.name.startswith(".") or entry.name in _FINGERPRINT_SKIPPED:
                    continue
                name = prefix + entry.name
                try:
                    if entry.is_dir():
                        if depth < _FINGERPRINT_DEPTH:
                            stack.append((entry.path, name + "/", depth + 1))
                        continue
                    stat = entry.stat()
                except OSError as error:
                    digest.update(os.fsencode(f"{name}: {error.errno}\n"))
                    continue
                if now - max(stat.st_mtime_ns, stat.st_ctime_ns) < _RACY_NS:
                    return None
                digest.update(
                    os.fsencode(f"{name}\0{stat.st_ino}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ctime_ns}\n")
                )
        return "local-" + digest.hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": self.location}


class GitSource:
    kind = "git"

    def __init__(self, url: str, ref: str | None, cache_dir: Path, max_file_bytes: int = MAX_EXPORTED_BYTES) -> None:
        self.url = url
        self.ref = ref
        self.max_file_bytes = max_file_bytes
        key = hashlib.sha256(f"{url}#{ref or ''}".encode()).hexdigest()[:16]
        self.home = cache_dir / "git" / key
        self.repo_dir = self.home / "repo.git"
        self.trees = self.home / "trees"
        self.pointer = self.home / "CURRENT"
        self.health = SourceHealth()
        self.serving_cached = False

    @property
    def location(self) -> str:
        return redact(self.url)

    def current(self) -> str | None:
        """The commit the cache points at (what every worker serves), if any."""
        try:
            sha = self.pointer.read_text().strip()
        except OSError:
            return None
        return sha if sha and (self.trees / sha).is_dir() else None

    def tree(self) -> Path:
        sha = self.current()
        if sha is None:
            raise FetchError(f"no commit of {self.location} in the cache yet")
        return self.trees / sha

    def revision(self) -> str | None:
        return self.current()

    def fetch(self) -> str:
        """Fetch the ref, export its commit, point CURRENT at it; returns the commit sha."""
        self.health.last_fetch = time.time()
        self.health.fetches += 1
        try:
            sha = self._fetch()
        except Exception as error:
            self.health.failures += 1
            self.health.last_error = _git_error(error)
            raise FetchError(self.health.last_error) from error
        self.health.failures = 0
        self.health.last_error = None
        self.health.last_success = time.time()
        self.serving_cached = False
        return sha

    def _fetch(self) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        import git

        repo = git.Repo(self.repo_dir) if self.repo_dir.is_dir() else git.Repo.init(self.repo_dir, bare=True)
        environment = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
        target = self.ref or "HEAD"
        with repo.git.custom_environment(**environment):
            try:
                repo.git.fetch("--depth=1", "--force", "--no-tags", self.url, target, kill_after_timeout=_GIT_TIMEOUT_S)
            except git.GitCommandError:
                # Some servers refuse shallow fetches of a commit id: fetch what they give.
                repo.git.fetch("--force", "--tags", self.url, kill_after_timeout=_GIT_TIMEOUT_S)
                repo.git.fetch("--force", self.url, target, kill_after_timeout=_GIT_TIMEOUT_S)
        sha = str(repo.git.rev_parse("FETCH_HEAD^{commit}"))
        self._export(repo, sha)
        _replace_text(self.pointer, sha)
        self._collect(keep=sha)
        return sha

    def _export(self, repo: git.Repo, sha: str) -> None:
        destination = self.trees / sha
        if destination.is_dir():
            return
        self.trees.mkdir(parents=True, exist_ok=True)
        staging = self.trees / f".{sha}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        export_tree(repo, sha, staging, self.max_file_bytes)
        try:
            os.rename(staging, destination)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another process exported it first

    def _collect(self, keep: str) -> None:
        """Delete old exported commits, keeping the newest few (a follower may still read one)."""
        trees = sorted(
            (p for p in self.trees.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in trees[_KEPT_TREES:]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "location": self.location,
            "ref": self.ref or "HEAD (remote default)",
            "commit": self.current(),
            "serving_cached_commit": self.serving_cached,
        }


Source = LocalSource | GitSource


def make_source(location: str, ref: str | None, cache_dir: Path, max_file_bytes: int = MAX_EXPORTED_BYTES) -> Source:
    if is_remote(location):
        return GitSource(location, ref, cache_dir, max_file_bytes)
    # Not resolved: a symlink swapped atomically (git-sync) is followed at every reload.
    return LocalSource(Path(location).absolute())


def export_tree(repo: git.Repo, treeish: str, destination: Path, max_file_bytes: int = MAX_EXPORTED_BYTES) -> None:
    """The files of a commit written under `destination`, as untrusted input: no path outside it,
    a file over `max_file_bytes` as an empty placeholder of its size (see `_placeholder`)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    # on disk, not in memory: a commit may be large, and it is untrusted input
    with tempfile.TemporaryFile(dir=destination.parent) as archive:
        repo.archive(archive, treeish=treeish, format="tar")
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            for member in tar:
                if member.isreg() and member.size > max_file_bytes:
                    _placeholder(member, destination)
                else:
                    tar.extract(member, destination, filter=_export_filter)


def _export_filter(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo:
    """tarfile's `data` filter, except that a symbolic link leading outside the tree is kept as it is:
    the reader refuses it and names it in the load report (as for a local folder) instead of the
    whole commit failing to export. Nothing is ever extracted through it: the `data` filter
    refuses any later member whose path resolves outside the destination."""
    try:
        return tarfile.data_filter(member, destination)
    except (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError):
        if not member.issym():
            raise
        ownership: dict[str, Any] = {"uid": None, "gid": None, "uname": None, "gname": None, "mode": None}
        return tarfile.tar_filter(member, destination).replace(**ownership, deep=False)


def _placeholder(member: tarfile.TarInfo, staging: Path) -> None:
    """A file too large for any reader: exported as an empty (sparse) file of its size, which the
    reader refuses by its size and names in the load report, without its bytes ever being copied."""
    checked = _export_filter(member, str(staging))
    target = staging / checked.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        handle.truncate(member.size)


def _replace_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)


_GIT_STDERR_PREFIX = "stderr: '"


def _git_error(error: Exception) -> str:
    """What git said, in one line: its first `fatal:` (or `error:`) line, which names the cause; the
    last line of its message is advice ("…and the repository exists.") that names nothing."""
    import git

    if isinstance(error, git.GitCommandError):
        text = (error.stderr or "").strip()
        if text.startswith(_GIT_STDERR_PREFIX):  # GitPython's framing: stderr: '<git's own text>'
            text = text[len(_GIT_STDERR_PREFIX) :].removesuffix("'")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        for marker in ("fatal:", "error:"):
            found = next((line for line in lines if line.startswith(marker)), None)
            if found is not None:
                return redact(found)
        return redact(lines[0] if lines else f"git exited with {error.status}")
    return redact(f"{type(error).__name__}: {error}")


class LeaderLock:
    """At most one process per cache folder fetches from remotes (the others follow CURRENT)."""

    def __init__(self, cache_dir: Path) -> None:
        self.path = cache_dir / "leader.lock"
        self._request = cache_dir / "fetch.requested"
        self._handle: IO[str] | None = None

    def request_fetch(self) -> None:
        """A follower was asked to fetch (webhook, reload route): the leader will, within a second."""
        with contextlib.suppress(OSError):
            self._request.touch()

    def take_fetch_request(self) -> bool:
        try:
            self._request.unlink()
        except OSError:
            return False
        return True

    def try_acquire(self) -> bool:
        if self._handle is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    @property
    def held(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
