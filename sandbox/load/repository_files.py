"""Opening the files of a fixture repository, which is untrusted input.

Every reader of a repository (the server's load, `sandbox lint`, `sandbox docs`,
`sandbox new-case`) reads through a `RepositoryTree`, so the same rules hold everywhere:

* containment: the root is resolved once per load (git-sync swaps a link to it), a
  path is resolved with its links followed and must stay inside that root, and the file
  is then opened one folder at a time with `O_NOFOLLOW`, so a link swapped in between
  cannot lead outside either. Links inside the root are followed; loops are refused.
* size: read from the open file (`fstat`) before a byte is read, and never more than
  the limit even if the file grows meanwhile. FIFOs and devices are refused.
* YAML: libyaml composes the node graph; when the text holds an anchor, the size of the
  graph with every alias expanded is counted (linear, memoised per node) before a Python
  object is built; data nested deeper than the limit is refused (JSON payloads too), and
  duplicate mapping keys are recorded (both Ruby's Psych and PyYAML keep the last value
  silently).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sandbox.load import plain_yaml

MIB = 1024 * 1024
DEFAULT_MAX_CASE_BYTES = 5 * MIB
DEFAULT_MAX_DOCUMENT_BYTES = 64 * MIB
DEFAULT_MAX_ALIAS_NODES = 10_000
DEFAULT_MAX_NESTING = 64
# a control character cannot go into an HTTP header (C0, DEL, C1)
_CONTROL = frozenset([*range(0x00, 0x20), *range(0x7F, 0xA0)])
_READ_CHUNK = 1024 * 1024
# An anchor (`&name`) starts a node: at the start, after a blank or a flow indicator, and
# a name follows. Without one there is no alias either (an undefined alias does not compose).
_BEFORE_ANCHOR = frozenset(" \t\r\n\x85\u2028\u2029\ufeff[]{},:")
_NOT_A_NAME = frozenset(" \t\r\n\x85\u2028\u2029\ufeff[]{},")
_ANCHOR = re.compile(r"(?:^|[\s\ufeff\[\]{},:])&[^\s\ufeff\[\]{},]")
_FEW_AMPERSANDS = 256


@dataclass(frozen=True, slots=True)
class FileLimits:
    """What one file of a repository may cost; `sandbox serve --max-…` sets them."""

    # a case, a data/ file, a token, sandbox.yaml
    case_bytes: int = DEFAULT_MAX_CASE_BYTES
    # an OpenAPI document (the real ones are ~2 MB)
    document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    # nodes that aliases may add to one YAML document once expanded
    alias_nodes: int = DEFAULT_MAX_ALIAS_NODES
    # levels of mappings and lists in one file (and in a case's JSON payload); the real ones have 25 at most,
    # and deeper ones would exhaust Python's stack in the code that walks them
    nesting: int = DEFAULT_MAX_NESTING


class RefusedFile(Exception):
    """A file (or folder) of the repository that is not read; the message says why."""


class _LinkOnTheWay(RefusedFile):
    """`O_NOFOLLOW` met a link: resolve the path (and check where it leads) before opening it."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One name in a folder of the repository, with its links resolved."""

    name: str
    path: Path  # the real path to read (a link inside the root: its target)
    is_file: bool = False
    is_folder: bool = False
    link: bool = False
    refused: str | None = None  # why the entry is not read (a link leading outside, a loop)


def control_character(name: str) -> str | None:
    """The first character of `name` that cannot go into an HTTP header, as U+XXXX, if any."""
    for character in name:
        if ord(character) in _CONTROL:
            return f"U+{ord(character):04X}"
    return None


class RepositoryTree:
    """The files of one repository root, resolved once: nothing outside it is ever read."""

    def __init__(self, root: str | os.PathLike[str], limits: FileLimits | None = None) -> None:
        self._last_folder: tuple[Path, int] | None = None
        self.root = Path(os.path.realpath(root))
        self._prefix = str(self.root).rstrip("/") + "/"
        self.limits = limits or FileLimits()

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def resolve(self, path: Path) -> Path:
        """The real path of `path` (links followed); `RefusedFile` when it leads outside the root.

        Where a link leads is checked before whether its target exists: the reason never tells
        whether a file outside the repository exists.
        """
        if not self._inside(Path(os.path.realpath(path))):
            raise RefusedFile("symbolic link leading outside the repository: not read")
        try:
            real = Path(os.path.realpath(path, strict=True))
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise RefusedFile("symbolic link loop: not read") from None
            raise RefusedFile(f"cannot be resolved: {error.strerror or error}") from None
        if not self._inside(real):  # swapped meanwhile
            raise RefusedFile("symbolic link leading outside the repository: not read")
        return real

    def _inside(self, real: Path) -> bool:
        text = str(real)
        return text == self._prefix[:-1] or text.startswith(self._prefix)

    def _plain(self, path: Path) -> bool:
        """Lexically inside the root: opened as it is, with O_NOFOLLOW on every folder on the way."""
        return path.is_absolute() and self._inside(path) and ".." not in path.parts

    def exists(self, path: Path) -> bool:
        """Is there anything (a link included, even a broken one) at `path`?"""
        return os.path.lexists(path)

    def folder(self, path: Path) -> Path | None:
        """The real path of the folder at `path`; None when absent or not a folder."""
        if not self.exists(path):
            return None
        real = self.resolve(path)
        return real if real.is_dir() else None

    def entries(self, folder: Path) -> list[Entry]:
        """The names in `folder` (sorted), each link resolved and checked; hidden names included."""
        real = folder
        try:
            if not self._plain(folder):
                raise _LinkOnTheWay("resolve first")
            descriptor = self._open_folder(folder)
        except _LinkOnTheWay:
            real = self.resolve(folder)
            descriptor = self._open_folder(real)
        try:
            with os.scandir(descriptor) as scan:
                found = sorted(
                    (e.name, e.is_symlink(), e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False))
                    for e in scan
                )
        finally:
            os.close(descriptor)
        entries = []
        for name, is_link, is_dir, is_file in found:
            path = real / name
            if not is_link:
                entries.append(Entry(name, path, is_file=is_file, is_folder=is_dir))
                continue
            try:
                target = self.resolve(path)
            except RefusedFile as refusal:
                entries.append(Entry(name, path, link=True, refused=str(refusal)))
                continue
            entries.append(Entry(name, target, is_file=target.is_file(), is_folder=target.is_dir(), link=True))
        return entries

    def walk(self, depth: int, skipped: frozenset[str]) -> Iterator[tuple[Path, Entry]]:
        """Every entry down to `depth` folders, without descending into links, hidden or `skipped` folders."""
        stack = [(self.root, 0)]
        while stack:
            folder, level = stack.pop()
            try:
                entries = self.entries(folder)
            except (OSError, RefusedFile):
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_folder and not entry.link:
                    if level < depth and entry.name not in skipped:
                        stack.append((entry.path, level + 1))
                    continue
                yield folder, entry

    def read_bytes(self, path: Path, limit: int, option: str) -> bytes:
        """The content of the regular file at `path`, refused when larger than `limit` bytes."""
        descriptor = self._open(path)
        try:
            size = os.fstat(descriptor).st_size
            if size > limit:
                raise RefusedFile(_too_large(size, limit, option))
            chunks, total = [], 0
            while chunk := os.read(descriptor, min(_READ_CHUNK, limit + 1 - total)):
                chunks.append(chunk)
                total += len(chunk)
                if total > limit:
                    raise RefusedFile(_too_large(total, limit, option))
            return b"".join(chunks)
        finally:
            os.close(descriptor)

    def read_head(self, path: Path, count: int) -> bytes:
        descriptor = self._open(path)
        try:
            return os.read(descriptor, count)
        finally:
            os.close(descriptor)

    def read_text(self, path: Path, limit: int, option: str) -> str:
        return self.read_bytes(path, limit, option).decode("utf-8")

    def writable(self, path: Path) -> Path:
        """Where writing `path` lands; `RefusedFile` when a link would take the write outside the root."""
        if self.exists(path):
            return self.resolve(path)
        parent = path.parent
        while not self.exists(parent):
            parent = parent.parent
        return self.resolve(parent) / path.relative_to(parent)

    # -- opening without following links ------------------------------------------------

    def _open(self, path: Path) -> int:
        """A descriptor on the regular file at `path`; a path without links is opened as it is,
        one with links is resolved (and checked) first."""
        if self._plain(path):
            try:
                return self._open_file(path)
            except _LinkOnTheWay:
                pass
        return self._open_file(self.resolve(path))

    def _walk_to(self, real: Path) -> int:
        """A descriptor on the folder holding `real`, reached one real folder at a time."""
        descriptor = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in real.relative_to(self.root).parts[:-1]:
                flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                following = os.open(part, flags, dir_fd=descriptor)
                os.close(descriptor)
                descriptor = following
        except OSError as error:
            os.close(descriptor)
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _LinkOnTheWay(f"a link on the way, or a folder replaced by one: {error.strerror}") from None
            raise RefusedFile(f"cannot be opened: {error.strerror}") from None
        return descriptor

    def _folder_of(self, real: Path) -> int:
        """The descriptor of the folder holding `real`, kept for the next file of the same folder."""
        if self._last_folder is not None and self._last_folder[0] == real.parent:
            return self._last_folder[1]
        descriptor = self._walk_to(real)
        self.close()
        self._last_folder = (real.parent, descriptor)
        return descriptor

    def close(self) -> None:
        if self._last_folder is not None:
            os.close(self._last_folder[1])
            self._last_folder = None

    def __enter__(self) -> RepositoryTree:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _open_folder(self, real: Path) -> int:
        if real == self.root:
            return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        parent = self._folder_of(real)
        try:
            return os.open(real.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _LinkOnTheWay(f"a link, or not a folder: {error.strerror}") from None
            raise RefusedFile(f"cannot be opened as a folder: {error.strerror}") from None

    def _open_file(self, real: Path) -> int:
        if real == self.root:
            raise RefusedFile("is the repository folder itself, not a file")
        parent = self._folder_of(real)
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            descriptor = os.open(real.name, flags, dir_fd=parent)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise _LinkOnTheWay(f"a link, or a file replaced by one: {error.strerror}") from None
            raise RefusedFile(f"cannot be opened: {error.strerror}") from None
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise RefusedFile("not a regular file: not read")
        return descriptor


def _too_large(size: int, limit: int, option: str) -> str:
    return f"file of {size} bytes, over the limit of {limit} bytes ({option}): not read"


# ---------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------


class TooManyAliases(yaml.YAMLError):
    """A document whose aliases expand past the limit, or expand into themselves."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class TooDeep(TooManyAliases):
    """A document nested deeper than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"nested deeper than {limit} levels (--max-nesting)", None)


def deeper_than(value: Any, limit: int) -> bool:
    """Does `value` hold mappings and lists more than `limit` levels deep? (level by level: any depth)"""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            below.extend(
                [
                    child
                    for child in (item.values() if isinstance(item, dict) else item)
                    if isinstance(child, (dict, list))
                ]
            )
        level = below
    return False


def load_json(text: str, limits: FileLimits | None = None) -> Any:
    """`json.loads`, refusing (`TooDeep`) what is nested deeper than `limits.nesting` levels."""
    nesting = (limits or FileLimits()).nesting
    try:
        data = json.loads(text)
    except RecursionError:
        raise TooDeep(nesting) from None
    # fewer brackets than the limit: no need to look (most payloads)
    if text.count("[") + text.count("{") > nesting and deeper_than(data, nesting):
        raise TooDeep(nesting)
    return data


@dataclass(slots=True)
class YamlDocument:
    data: Any
    # (line, key) of every mapping key written twice in the same mapping; the last value wins
    duplicates: list[tuple[int, str]] = field(default_factory=list)


class _Loader(yaml.CSafeLoader):  # libyaml's parser and composer, PyYAML's safe constructor
    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # flatten_mapping (merge keys) deletes the `<<` pairs from this very list, then replaces it
        own = node.value if isinstance(node, yaml.MappingNode) else []
        pairs = len(own)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if len(mapping) < pairs:  # fewer keys than pairs: a key written twice, or merged keys overridden
            seen: set[Any] = set()
            for key_node, _ in own:
                key = self.construct_object(key_node)
                if key in seen:
                    self.duplicates.append((key_node.start_mark.line + 1, str(key)))
                seen.add(key)
        return mapping


def load_yaml(text: str, limits: FileLimits | None = None) -> YamlDocument:
    """Like `yaml.load(text, CSafeLoader)`, refusing alias bombs before they are built.

    Raises `yaml.YAMLError` (`TooManyAliases` for an expansion over `limits.alias_nodes`,
    `TooDeep` for more than `limits.nesting` levels).
    """
    limits = limits or FileLimits()
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None)
        anchored = _may_hold_an_anchor(text)
        if anchored:  # no anchor, no alias: nothing to expand
            _check_expansion(node, limits.alias_nodes)
        try:
            data, duplicates = _construct(loader, node, plain=not anchored)
        except RecursionError:
            raise TooDeep(limits.nesting) from None
        if deeper_than(data, limits.nesting):
            raise TooDeep(limits.nesting)
        return YamlDocument(data, sorted(duplicates))
    finally:
        loader.dispose()


def _construct(loader: _Loader, node: yaml.Node, *, plain: bool) -> tuple[Any, list[tuple[int, str]]]:
    """The document and its duplicate keys: built by `plain_yaml` when it can, else by PyYAML."""
    if plain:
        duplicates: list[tuple[int, str]] = []
        try:
            return plain_yaml.build(loader, node, duplicates), duplicates
        except plain_yaml.NotPlain:
            pass
    return loader.construct_document(node), loader.duplicates


def _may_hold_an_anchor(text: str) -> bool:
    """A fast, never falsely negative test (the texts of real repositories hold few `&`)."""
    if text.count("&") > _FEW_AMPERSANDS:
        return _ANCHOR.search(text) is not None
    index = text.find("&")
    while index != -1:
        if (index == 0 or text[index - 1] in _BEFORE_ANCHOR) and text[index + 1 : index + 2] not in _NOT_A_NAME:
            return True
        index = text.find("&", index + 1)
    return False


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def _check_expansion(root: yaml.Node, alias_nodes: int) -> None:
    """Count the nodes of the document with every alias expanded, in one pass over its distinct nodes."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            open_nodes.discard(key)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise TooManyAliases("an alias refers to a node that contains it (infinite expansion)", node.start_mark)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    extra = sizes[id(root)] - len(sizes)
    if extra > alias_nodes:
        raise TooManyAliases(
            f"aliases expand the document by {extra} nodes, over the limit of {alias_nodes} (--max-alias-nodes)",
            None,
        )
