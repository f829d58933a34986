"""Reading a fixture repository in the siade_staging_data layout from a local path.

The reader only parses files: it knows nothing of routing or lookup. It never
raises on a bad file; every file it cannot use becomes a `LoadProblem` with a
path, a line and a reason, and the rest of the tree still loads.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# libyaml's C loader: ~10x faster than the pure-Python one, and as safe.
_Loader: type[yaml.CSafeLoader] = yaml.CSafeLoader

CASE_SUFFIXES = (".yaml", ".yml")
FRANCE_CONNECT_FOLDER = "france_connect"
NOT_FOUND_FILE = "404.yaml"
# Folders that never hold OpenAPI documents; skipping them keeps discovery fast.
_SKIPPED_DIRS = {"payloads", "future_payloads", "node_modules", "tests", "__pycache__", "venv", "site-packages"}
_DISCOVERY_DEPTH = 3
_SNIFF_BYTES = 4096
_MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


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

    @property
    def id(self) -> str:
        return f"{self.folder}/{self.file}"


@dataclass(frozen=True, slots=True)
class OpenAPIDocument:
    path: str
    content: dict[str, Any]
    text: str = field(default="", repr=False)


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


def read_repository(root: str | os.PathLike[str]) -> RepositoryContent:
    base = Path(root).resolve()
    content = RepositoryContent(root=str(base))
    if not base.is_dir():
        content.problems.append(LoadProblem(str(base), None, "fixture repository not found (not a folder)"))
        return content
    _read_documents(base, content)
    payloads = base / "payloads"
    if payloads.is_dir():
        for folder in sorted(p for p in payloads.iterdir() if p.is_dir() and not p.name.startswith(".")):
            content.folders[folder.name] = list(_read_folder(base, folder, content))
    else:
        content.problems.append(LoadProblem(str(payloads), None, "no payloads/ folder: no case loaded"))
    _read_data_files(base, content)
    return content


def _relative(base: Path, path: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _candidate_documents(base: Path) -> Iterator[Path]:
    """Walk the tree (bounded depth) for YAML/JSON files that look like OpenAPI documents."""
    stack = [(base, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth < _DISCOVERY_DEPTH and entry.name not in _SKIPPED_DIRS:
                    stack.append((Path(entry.path), depth + 1))
            elif entry.name.endswith((".yaml", ".yml", ".json")):
                path = Path(entry.path)
                try:
                    if path.stat().st_size > _MAX_DOCUMENT_BYTES:
                        continue
                    with path.open("rb") as handle:
                        head = handle.read(_SNIFF_BYTES)
                except OSError:
                    continue
                if b"openapi" in head:
                    yield path


def _read_documents(base: Path, content: RepositoryContent) -> None:
    for path in _candidate_documents(base):
        rel = _relative(base, path)
        content.files_read += 1
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
        except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError, OSError) as error:
            content.problems.append(
                LoadProblem(rel, _error_line(error), f"OpenAPI document unreadable: {_short(error)}")
            )
            continue
        if not isinstance(data, dict) or "openapi" not in data or not isinstance(data.get("paths"), dict):
            continue
        content.documents.append(OpenAPIDocument(rel, data, text))


def _read_folder(base: Path, folder: Path, content: RepositoryContent) -> Iterator[Case]:
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not path.name.endswith(CASE_SUFFIXES):
            continue
        content.files_read += 1
        rel = _relative(base, path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            content.problems.append(LoadProblem(rel, None, f"cannot read file: {_short(error)}"))
            continue
        case = parse_case(folder.name, path.name, text, rel, content.problems)
        if case is not None:
            yield case


_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.M)


def _key_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for match in _TOP_KEY.finditer(text):
        lines.setdefault(match.group(1), text.count("\n", 0, match.start()) + 1)
    return lines


def parse_case(folder: str, file: str, text: str, rel: str, problems: list[LoadProblem]) -> Case | None:
    """Parse one case file; on failure append the reason to `problems` and return None."""
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        problems.append(LoadProblem(rel, _error_line(error), f"invalid YAML: {_short(error)}"))
        return None
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
        payload = json.loads(raw_payload)
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
    )


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _read_data_files(base: Path, content: RepositoryContent) -> None:
    """Authorisations (either name), throttles, tokens and lookup-rule extensions."""
    for name in ("data/authorizations.yml", "data/siade_authorizations.yml", "data/authorizations.yaml"):
        shared = _read_shared(base, name, content)
        if shared is not None:
            content.authorizations = {str(k): list(v or []) for k, v in shared.items()}
            break
    for name in ("data/throttle.yml", "data/throttle.yaml"):
        shared = _read_shared(base, name, content)
        if shared is not None:
            content.throttles = shared
            break
    tokens = base / "tokens"
    if tokens.is_dir():
        for path in sorted(tokens.iterdir()):
            if path.is_file() and not path.suffix and not path.name.startswith("."):
                value = path.read_text(encoding="utf-8", errors="replace").strip()
                if value.count(".") == 2:
                    content.tokens[path.name] = value
    extension = base / "sandbox.yaml"
    if extension.is_file():
        try:
            data = yaml.load(extension.read_text(encoding="utf-8"), Loader=_Loader) or {}
        except yaml.YAMLError as error:
            content.problems.append(LoadProblem("sandbox.yaml", _error_line(error), f"invalid YAML: {_short(error)}"))
            return
        rules = data.get("lookup_rules") if isinstance(data, dict) else None
        if isinstance(rules, list):
            content.lookup_rules = [r for r in rules if isinstance(r, dict)]


def _read_shared(base: Path, name: str, content: RepositoryContent) -> dict[str, Any] | None:
    path = base / name
    if not path.is_file():
        return None
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as error:
        content.problems.append(LoadProblem(name, _error_line(error), f"invalid YAML: {_short(error)}"))
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
