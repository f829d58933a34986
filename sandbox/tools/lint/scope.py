"""What a lint run reports: files and folders named on the command line, or what changed since a git ref.

Any path inside a fixture repository names it (its root is the nearest folder upward with a
`payloads/` folder); a file or a folder below the root narrows the report to the findings
located there, or that name a file there as their other side (a later duplicate). The lint
itself still reads the whole folder of each case, so a file's findings are exactly those of a
run over the repository.

`--changed-since REF` compares the working tree with the merge base of REF and HEAD: the
findings on the files changed since, plus those anywhere else that the base revision did not
have (a duplicate of an existing case, a token change that leaves a case unreachable, a
deleted `404.yaml`). The base revision is exported from git and linted the same way.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import git

from sandbox.load.sources import export_tree
from sandbox.tools.lint.baseline import identity
from sandbox.tools.lint.report import Finding, LintReport

__all__ = [
    "Changes",
    "ScopeError",
    "Selection",
    "caused_by",
    "changed_since",
    "changes_first",
    "findings_at_base",
    "repository_root",
    "select",
]


class ScopeError(ValueError):
    """A path outside any fixture repository, two repositories at once, an unknown git ref."""


def repository_root(path: Path) -> Path | None:
    """The nearest folder at or above `path` that holds a `payloads/` folder."""
    start = path.resolve()
    for candidate in (start, *start.parents):
        if (candidate / "payloads").is_dir():
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class Selection:
    """The repository and, inside it, the files and folders whose findings are reported (None: all)."""

    root: Path
    paths: tuple[str, ...] | None

    def covers(self, finding: Finding) -> bool:
        """The finding is in the selection, or names a file of it as its other side."""
        return self.covers_file(finding.file) or (finding.related is not None and self.covers_file(finding.related))

    def covers_file(self, file: str) -> bool:
        return self.paths is None or any(_within(file, p) for p in self.paths)

    def folders(self) -> frozenset[str] | None:
        """The case folders the lint must read (None: every one)."""
        if self.paths is None:
            return None
        names = set()
        for path in self.paths:
            parts = path.split("/")
            if parts[0] != "payloads" or len(parts) < 2:
                return None  # a file outside payloads/ (sandbox.yaml, an OpenAPI document) concerns every folder
            names.add(parts[1])
        return frozenset(names)


def _within(file: str, path: str) -> bool:
    return file == path or file.startswith(path + "/")


def select(arguments: Sequence[str]) -> Selection:
    """The repository the paths lie in, and the paths relative to its root."""
    roots: dict[Path, list[str]] = {}
    for argument in arguments or ["."]:
        path = Path(argument)
        if not os.path.lexists(path):
            raise ScopeError(f"{argument}: no such file or folder")
        root = repository_root(path if path.is_dir() else path.parent)
        if root is None:
            raise ScopeError(f"{argument} is in no fixture repository (no payloads/ folder at or above it)")
        rel = _relative(path, root)
        roots.setdefault(root, []).append(rel)
    if len(roots) > 1:
        raise ScopeError("the paths lie in different fixture repositories: " + ", ".join(str(r) for r in roots))
    root, rels = next(iter(roots.items()))
    if "" in rels:
        return Selection(root, None)
    return Selection(root, tuple(sorted(set(rels))))


def _relative(path: Path, root: Path) -> str:
    """`path` relative to `root`, `/`-separated ("" for the root itself); a file that is a link is not followed."""
    absolute = Path(os.path.abspath(path))
    if absolute.is_dir() and not absolute.is_symlink():
        target = absolute.resolve()
    else:
        target = absolute.parent.resolve() / absolute.name
    try:
        text = target.relative_to(root).as_posix()
    except ValueError:
        raise ScopeError(f"{path} is outside the fixture repository {root}") from None
    return "" if text == "." else text


@dataclass(frozen=True, slots=True)
class Changes:
    """The files changed since a revision, relative to the repository root."""

    base: str  # the commit compared with (the merge base of REF and HEAD when there is one)
    files: frozenset[str]
    merge_base: bool
    prefix: str  # the fixture repository's folder inside the git working tree ("" at its top)
    repo: git.Repo


def changed_since(root: Path, ref: str) -> Changes:
    """The files of `root` changed since `ref`: committed, staged, modified or new (untracked)."""
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ScopeError(f"--changed-since: {root} is not inside a git repository") from None
    if repo.working_tree_dir is None:
        raise ScopeError(f"--changed-since: {root} is inside a bare git repository")
    top = Path(repo.working_tree_dir).resolve()
    prefix = root.resolve().relative_to(top).as_posix()
    prefix = "" if prefix == "." else prefix
    try:
        commit = str(repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"))
    except git.GitCommandError:
        raise ScopeError(f"--changed-since: unknown revision {ref!r} (fetch it first in a shallow clone)") from None
    base, merge_base = commit, True
    try:
        base = str(repo.git.merge_base(commit, "HEAD"))
    except git.GitCommandError:
        merge_base = False  # a shallow clone, or no HEAD yet: compare with REF itself
    names = repo.git.diff("--name-only", "-z", "--no-renames", base, "--").split("\0")
    names += repo.git.ls_files("--others", "--exclude-standard", "-z").split("\0")
    files = set()
    for name in names:
        if not name:
            continue
        if prefix:
            if not name.startswith(prefix + "/"):
                continue
            name = name[len(prefix) + 1 :]
        files.add(name)
    return Changes(base, frozenset(files), merge_base, prefix, repo)


def findings_at_base(changes: Changes, lint: Callable[[Path], LintReport]) -> tuple[Finding, ...]:
    """The findings of the base revision: its tree exported to a temporary folder and linted there."""
    with tempfile.TemporaryDirectory(prefix="sandbox-lint-base-") as temporary:
        tree = Path(temporary) / "tree"
        export_tree(changes.repo, changes.base, tree)
        root = tree / changes.prefix if changes.prefix else tree
        if not (root / "payloads").is_dir():
            return ()  # no fixture repository there yet: every finding is new
        return lint(root).findings


def caused_by(findings: Sequence[Finding], base: Sequence[Finding], changed: Collection[str]) -> list[Finding]:
    """The findings on changed files, and the others the base revision did not have."""
    files = set(changed)
    left = Counter(identity(f) for f in base)
    kept = []
    for finding in findings:
        if finding.file in files:
            kept.append(finding)
            continue
        key = identity(finding)
        if left[key] > 0:
            left[key] -= 1
        else:
            kept.append(finding)
    return kept


def changes_first(findings: Sequence[Finding], changed: Collection[str]) -> list[Finding]:
    """Findings on the changed (or named) files first, then the others; each group in file and line order."""
    files = set(changed)
    return sorted(findings, key=lambda f: (f.file not in files, f.file, f.line or 0, f.rule, f.message))
