"""Reading a fixture repository in the siade_staging_data layout from a local path.

The reader only parses files: it knows nothing of routing or lookup. It never
raises on a bad file; every file it cannot use becomes a `LoadProblem` with a
path, a line and a reason, and the rest of the tree still loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from sandbox.load.parse_cache import ParseCache, limits_digest
from sandbox.load.repository_files import (
    Entry,
    FileLimits,
    RefusedFile,
    RepositoryTree,
    TooDeep,
    control_character,
    load_json,
    load_yaml,
)
from sandbox.rules.rendering import encode_json

CASE_SUFFIXES = (".yaml", ".yml")
FRANCE_CONNECT_FOLDER = "france_connect"
NOT_FOUND_FILE = "404.yaml"
# Folders that never hold OpenAPI documents; skipping them keeps discovery fast.
_SKIPPED_DIRS = frozenset(
    {"payloads", "future_payloads", "node_modules", "tests", "__pycache__", "venv", "site-packages"}
)
_DISCOVERY_DEPTH = 3
_SNIFF_BYTES = 4096


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """A file (or part of one) that could not be used, and why."""

    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Case:
    """One fixture file: the parameters it documents and the answer it gives."""

    folder: str
    file: str
    params: dict[str, Any]
    status: int
    payload: Any
    title: str | None
    description: str | None
    api_path: str | None
    source: str
    # 1-based line of each top-level key, for messages that point into the file.
    lines: dict[str, int] = field(default_factory=dict)
    # index of the fixture source this case comes from (--fixtures A --fixtures B: 0, 1)
    layer: int = 0
    # `payload` as served (`rendering.encode_json`), written once when the file is parsed: the parse
    # cache keeps it, so that a start-up from the cache encodes no payload (~6 ms on siade_staging_data)
    body: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.folder}/{self.file}"

    def __reduce__(self) -> tuple[type[Case], tuple[Any, ...]]:
        """Pickled as its fields in order: the parse cache's ~800 cases are unpickled by one call of the
        constructor each, in about half the time of the dataclass's own state, set field by field."""
        return (Case, tuple(getattr(self, name) for name in _CASE_FIELDS))


_CASE_FIELDS = tuple(declared.name for declared in fields(Case))


@dataclass(frozen=True, slots=True)
class OpenAPIDocument:
    path: str
    content: dict[str, Any]
    text: str = field(default="", repr=False)
    layer: int = 0


@dataclass(slots=True)
class RepositoryContent:
    """Everything read from one fixture tree, before any index is built."""

    root: str
    documents: list[OpenAPIDocument] = field(default_factory=list)
    folders: dict[str, list[Case]] = field(default_factory=dict)
    problems: list[LoadProblem] = field(default_factory=list)
    authorizations: dict[str, list[str]] | None = None
    throttles: dict[str, Any] | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    lookup_rules: list[dict[str, Any]] = field(default_factory=list)
    files_read: int = 0
    # content hashes of the parsed documents and cases (what the parse cache keeps across reloads)
    digests: set[str] = field(default_factory=set)
    # every file the snapshot is built from, by path: its SHA-256 (the content revision digests this)
    files: dict[str, str] = field(default_factory=dict)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_repository(
    root: str | os.PathLike[str],
    cache: ParseCache | None = None,
    *,
    layer: int = 0,
    limits: FileLimits | None = None,
) -> RepositoryContent:
    """Read one fixture tree; nothing outside `root` (resolved once, here) is ever read."""
    with RepositoryTree(root, limits) as tree:
        return _read_tree(tree, cache or ParseCache(), layer)


def _read_tree(tree: RepositoryTree, cache: ParseCache, layer: int) -> RepositoryContent:
    base = tree.root
    content = RepositoryContent(root=str(base))
    if not base.is_dir():
        content.problems.append(LoadProblem(str(base), None, "fixture repository not found (not a folder)"))
        return content
    _read_documents(tree, content, cache, layer)
    try:
        payloads = tree.folder(base / "payloads")
    except RefusedFile as refusal:
        content.problems.append(LoadProblem("payloads", None, str(refusal)))
        payloads = None
    if payloads is not None:
        for entry in _entries(tree, payloads, "payloads", content):
            if entry.name.startswith("."):
                continue
            if entry.refused is not None:
                content.problems.append(LoadProblem(f"payloads/{entry.name}", None, entry.refused))
            elif entry.is_folder and _nameable(f"payloads/{entry.name}", entry.name, content):
                content.folders[entry.name] = list(_read_folder(tree, entry, content, cache, layer))
    elif not tree.exists(base / "payloads"):
        content.problems.append(LoadProblem(str(base / "payloads"), None, "no payloads/ folder: no case loaded"))
    _read_data_files(tree, content)
    content.problems = list(dict.fromkeys(content.problems))  # a link met by two readers: one problem
    return content


def _entries(tree: RepositoryTree, folder: Path, rel: str, content: RepositoryContent) -> list[Entry]:
    try:
        return tree.entries(folder)
    except (OSError, RefusedFile) as error:
        content.problems.append(LoadProblem(rel, None, f"folder not read: {_short(error)}"))
        return []


def _nameable(rel: str, name: str, content: RepositoryContent) -> bool:
    """A case is named in response headers (`X-Sandbox-Case`): its folder and file names must fit there."""
    character = control_character(name)
    if character is None:
        return True
    content.problems.append(
        LoadProblem(
            rel, None, f"name holding the control character {character}, which no HTTP header can carry: not read"
        )
    )
    return False


def _relative(base: Path, path: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _read_documents(tree: RepositoryTree, content: RepositoryContent, cache: ParseCache, layer: int) -> None:
    """Walk the tree (bounded depth) for YAML/JSON files that look like OpenAPI documents."""
    for folder, entry in tree.walk(_DISCOVERY_DEPTH, _SKIPPED_DIRS):
        if not entry.name.endswith((".yaml", ".yml", ".json")):
            continue
        rel = tree.relative(folder / entry.name)
        if entry.refused is not None:
            content.problems.append(LoadProblem(rel, None, entry.refused))
            continue
        if not entry.is_file:
            continue
        try:
            if b"openapi" not in tree.read_head(entry.path, _SNIFF_BYTES):
                continue
        except (OSError, RefusedFile):
            continue
        content.files_read += 1
        try:
            raw = tree.read_bytes(entry.path, tree.limits.document_bytes, "--max-document-bytes")
            content.digests.add(digest := _digest(raw))
            content.files[rel] = digest
            text = raw.decode("utf-8")
            parse = partial(_parse_document, text, entry.name.endswith(".json"), tree.limits)
            data, duplicates = cache.document(digest, parse)
        except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError, OSError) as error:
            content.problems.append(
                LoadProblem(rel, _error_line(error), f"OpenAPI document unreadable: {_short(error)}")
            )
            continue
        except RefusedFile as refusal:
            content.problems.append(LoadProblem(rel, None, f"OpenAPI document {refusal}"))
            continue
        content.problems.extend(_duplicate_problems(rel, duplicates))
        if not isinstance(data, dict) or "openapi" not in data or not isinstance(data.get("paths"), dict):
            continue
        content.documents.append(OpenAPIDocument(rel, data, text, layer))


def _parse_document(text: str, is_json: bool, limits: FileLimits) -> tuple[Any, list[tuple[int, str]]]:
    if is_json:
        return load_json(text, limits), []
    document = load_yaml(text, limits)
    return document.data, document.duplicates


def _duplicate_problems(rel: str, duplicates: Sequence[tuple[int, str]]) -> list[LoadProblem]:
    return [
        LoadProblem(
            rel, line, f"key `{key}` written twice in the same mapping: the last value is used, as on real staging"
        )
        for line, key in duplicates
    ]


def _read_folder(
    tree: RepositoryTree, folder: Entry, content: RepositoryContent, cache: ParseCache, layer: int
) -> Iterator[Case]:
    for entry in _entries(tree, folder.path, f"payloads/{folder.name}", content):
        if not entry.name.endswith(CASE_SUFFIXES):
            continue
        rel = f"payloads/{folder.name}/{entry.name}"
        if entry.refused is not None:
            content.problems.append(LoadProblem(rel, None, entry.refused))
            continue
        if not entry.is_file:
            if not entry.is_folder:  # a FIFO, a socket, a device
                content.problems.append(LoadProblem(rel, None, "not a regular file: not read"))
            continue
        content.files_read += 1
        if not _nameable(rel, entry.name, content):
            continue
        try:
            raw = tree.read_bytes(entry.path, tree.limits.case_bytes, "--max-case-bytes")
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, RefusedFile) as error:
            content.problems.append(LoadProblem(rel, None, f"cannot read file: {_short(error)}"))
            continue
        content.digests.add(digest := _digest(raw))
        content.files[rel] = digest
        case, problems = cache.case(
            (rel, str(layer), digest, limits_digest(tree.limits)),
            partial(parse_case, folder.name, entry.name, text, rel, layer=layer, limits=tree.limits),
        )
        content.problems.extend(problems)
        if case is not None:
            yield case


_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.M)


def _key_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for match in _TOP_KEY.finditer(text):
        lines.setdefault(match.group(1), text.count("\n", 0, match.start()) + 1)
    return lines


def parse_case(
    folder: str,
    file: str,
    text: str,
    rel: str,
    problems: list[LoadProblem],
    *,
    layer: int = 0,
    limits: FileLimits | None = None,
) -> Case | None:
    """Parse one case file; on failure append the reason to `problems` and return None.

    A key written twice is a problem, but the case still loads with the last value, as
    real staging's Ruby loader does (so a reload that brings one is refused, visibly).
    """
    try:
        document = load_yaml(text, limits)
    except yaml.YAMLError as error:
        problems.append(LoadProblem(rel, _error_line(error), f"invalid YAML: {_short(error)}"))
        return None
    problems.extend(_duplicate_problems(rel, document.duplicates))
    data = document.data
    lines = _key_lines(text)
    if not isinstance(data, dict):
        problems.append(LoadProblem(rel, 1, "a case must be a YAML mapping with params, status and payload"))
        return None
    params = data.get("params")
    if not isinstance(params, dict):
        problems.append(LoadProblem(rel, lines.get("params", 1), "`params` is missing or is not a mapping"))
        return None
    status = data.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        problems.append(
            LoadProblem(rel, lines.get("status", 1), f"`status` must be an HTTP status code, got {status!r}")
        )
        return None
    raw_payload = data.get("payload")
    if not isinstance(raw_payload, str):
        problems.append(LoadProblem(rel, lines.get("payload", 1), "`payload` must be a string holding a JSON document"))
        return None
    try:
        payload = load_json(raw_payload, limits)
    except TooDeep as error:
        problems.append(LoadProblem(rel, lines.get("payload", 1), f"`payload` is JSON {error.problem}"))
        return None
    except json.JSONDecodeError as error:
        line = lines.get("payload", 1) + error.lineno
        problems.append(LoadProblem(rel, line, f"`payload` is not valid JSON: {error.msg} (column {error.colno})"))
        return None
    return Case(
        folder=folder,
        file=file,
        params=params,
        status=status,
        payload=payload,
        title=_optional_text(data.get("title")),
        description=_optional_text(data.get("description")),
        api_path=_optional_text(data.get("api_path")),
        source=rel,
        lines=lines,
        layer=layer,
        body=_served(payload),
    )


def _served(payload: Any) -> bytes | None:
    """The payload's bytes; None when it cannot be written (the snapshot's build says why)."""
    try:
        return encode_json(payload)
    except (ValueError, TypeError):
        return None


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _read_data_files(tree: RepositoryTree, content: RepositoryContent) -> None:
    """Authorisations (either name), throttles, tokens and lookup-rule extensions."""
    for name in ("data/authorizations.yml", "data/siade_authorizations.yml", "data/authorizations.yaml"):
        shared = _read_shared(tree, name, content)
        if shared is not None:
            content.authorizations = {str(k): list(v or []) for k, v in shared.items()}
            break
    for name in ("data/throttle.yml", "data/throttle.yaml"):
        shared = _read_shared(tree, name, content)
        if shared is not None:
            content.throttles = shared
            break
    try:
        tokens = tree.folder(tree.root / "tokens")
    except RefusedFile as refusal:
        content.problems.append(LoadProblem("tokens", None, str(refusal)))
        tokens = None
    for entry in _entries(tree, tokens, "tokens", content) if tokens is not None else []:
        if entry.name.startswith(".") or Path(entry.name).suffix:
            continue
        if entry.refused is not None:
            content.problems.append(LoadProblem(f"tokens/{entry.name}", None, entry.refused))
            continue
        if not entry.is_file:
            continue
        try:
            raw = tree.read_bytes(entry.path, tree.limits.case_bytes, "--max-case-bytes")
        except (OSError, RefusedFile) as error:
            content.problems.append(LoadProblem(f"tokens/{entry.name}", None, f"cannot read file: {_short(error)}"))
            continue
        content.files[f"tokens/{entry.name}"] = _digest(raw)
        value = raw.decode("utf-8", errors="replace").strip()
        if value.count(".") == 2:
            content.tokens[entry.name] = value
    _, data = _read_yaml(tree, "sandbox.yaml", content)
    rules = data.get("lookup_rules") if isinstance(data, dict) else None
    if isinstance(rules, list):
        content.lookup_rules = [r for r in rules if isinstance(r, dict)]


def _read_yaml(tree: RepositoryTree, name: str, content: RepositoryContent) -> tuple[bool, Any]:
    """A YAML file at a fixed place of the repository: (False, None) and a problem when it cannot be used."""
    path = tree.root / name
    if not tree.exists(path):
        return False, None
    try:
        raw = tree.read_bytes(path, tree.limits.case_bytes, "--max-case-bytes")
        content.files[name] = _digest(raw)
        document = load_yaml(raw.decode("utf-8"), tree.limits)
    except yaml.YAMLError as error:
        content.problems.append(LoadProblem(name, _error_line(error), f"invalid YAML: {_short(error)}"))
        return False, None
    except RefusedFile as refusal:  # the same words as the discovery walk's: reported once
        content.problems.append(LoadProblem(name, None, str(refusal)))
        return False, None
    except (OSError, UnicodeDecodeError) as error:
        content.problems.append(LoadProblem(name, None, f"cannot read file: {_short(error)}"))
        return False, None
    content.problems.extend(_duplicate_problems(name, document.duplicates))
    return True, document.data


def _read_shared(tree: RepositoryTree, name: str, content: RepositoryContent) -> dict[str, Any] | None:
    read, data = _read_yaml(tree, name, content)
    if not read:
        return None
    shared = data.get("shared") if isinstance(data, dict) else None
    if not isinstance(shared, dict):
        content.problems.append(LoadProblem(name, 1, "expected a top-level `shared:` mapping"))
        return None
    return shared


def _error_line(error: Exception) -> int | None:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    lineno = getattr(error, "lineno", None)
    return int(lineno) if isinstance(lineno, int) else None


def _short(error: Exception) -> str:
    problem = getattr(error, "problem", None)
    if isinstance(problem, str):
        return problem
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def merge_layers(contents: list[RepositoryContent]) -> RepositoryContent:
    """Several sources, later ones on top: they add operations and cases, and win on the same key.

    Cases keep their layer; the snapshot resolves overrides when it indexes them (a later
    case with the same normalised params replaces the earlier one). Documents of later
    layers come first, so their operations replace the earlier definitions.
    """
    if len(contents) == 1:
        return contents[0]
    merged = RepositoryContent(root=" + ".join(c.root for c in contents))
    for layer, content in enumerate(contents):
        merged.documents[:0] = content.documents
        for folder, cases in content.folders.items():
            merged.folders.setdefault(folder, []).extend(cases)
        merged.problems.extend(content.problems)
        if content.authorizations is not None:
            merged.authorizations = {**(merged.authorizations or {}), **content.authorizations}
        if content.throttles is not None:
            merged.throttles = content.throttles
        merged.tokens.update({f"{layer}:{name}": token for name, token in content.tokens.items()})
        merged.lookup_rules[:0] = content.lookup_rules
        merged.files_read += content.files_read
        merged.digests |= content.digests
        merged.files.update({f"{layer}:{path}": digest for path, digest in content.files.items()})
    return merged
