"""From a request path to an operation.

Both APIs share one port: their path templates never collide. Templates are
grouped by family, the template with its version segment generalised, so that a
path under an unserved version (`/v9/...`) still names its operation family.

As in Rails routes (spec §11.8): a path segment never holds a dot, except for an optional
`.format` suffix on the last one (`/v3/insee/sirene/unites_legales/552049447.json` routes like
the path without it), and the alias paths of `routes.yaml` reach their operation too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from sandbox.rules.operations import Api, Operation

_VERSION = re.compile(r"^v(\d+)$")
_UNSEEN = object()
_SEEN_SIZE = 4096
_SEEN_PATH_CHARS = 256  # longer paths are routed every time: the memo stays within about 2 MB


@dataclass(frozen=True, slots=True)
class _Template:
    segments: tuple[str | None, ...]  # None: a path parameter
    names: tuple[str, ...]  # parameter names, in order
    version_index: int | None


@dataclass(frozen=True, slots=True)
class RouteMatch:
    operation: Operation
    path_params: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class VersionMiss:
    """The path belongs to an operation family, but not under this version."""

    family: tuple[Operation, ...]
    version: str

    @property
    def api(self) -> Api:
        return self.family[0].api


def _parse(path: str) -> _Template:
    segments: list[str | None] = []
    names: list[str] = []
    version_index = None
    for index, part in enumerate(p for p in path.split("/") if p):
        if part.startswith("{") and part.endswith("}"):
            segments.append(None)
            names.append(part[1:-1])
        else:
            if version_index is None and index < 2 and _VERSION.match(part):
                version_index = index
            segments.append(part)
    return _Template(tuple(segments), tuple(names), version_index)


class _Node:
    __slots__ = ("children", "leaves", "param")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.leaves: list[tuple[_Template, Operation]] = []

    def add(self, segments: tuple[str | None, ...], entry: tuple[_Template, Operation]) -> None:
        node = self
        for segment in segments:
            if segment is None:
                node.param = node.param or _Node()
                node = node.param
            else:
                node = node.children.setdefault(segment, _Node())
        node.leaves.append(entry)

    def find(self, parts: list[str], index: int, api: Api | None) -> tuple[_Template, Operation] | None:
        if index == len(parts):
            return next((leaf for leaf in self.leaves if api is None or leaf[1].api == api), None)
        literal = self.children.get(parts[index])
        if literal is not None:
            found = literal.find(parts, index + 1, api)
            if found is not None:
                return found
        return self.param.find(parts, index + 1, api) if self.param is not None else None


def _version_index(parts: list[str] | tuple[str | None, ...]) -> int | None:
    for index, part in enumerate(parts[:2]):
        if part is not None and _VERSION.match(part):
            return index
    return None


def _generalised(parts: list[str]) -> list[str]:
    index = _version_index(parts)
    return parts if index is None else [*parts[:index], "v*", *parts[index + 1 :]]


def without_format(path: str) -> str:
    """The path without Rails' optional `.format` suffix on its last segment (`…/552049447.json` → `…/552049447`)."""
    head, _, last = path.rpartition("/")
    stem, dot, suffix = last.partition(".")
    if not dot or not stem or not suffix or "." in suffix:
        return path
    return f"{head}/{stem}"


@lru_cache(maxsize=1)
def _alias_groups() -> tuple[tuple[tuple[str, re.Pattern[str]], ...], ...]:
    """Each group of `routes.yaml` `aliases`: its paths, with a pattern that captures the version."""
    text = resources.files("sandbox.rules").joinpath("routes.yaml").read_text(encoding="utf-8")
    groups = yaml.load(text, Loader=yaml.CSafeLoader)["aliases"]
    return tuple(
        tuple(
            (str(path), re.compile("^" + re.escape(str(path)).replace(re.escape("{version}"), r"(\d+)") + "$"))
            for path in group
        )
        for group in groups
    )


def alias_paths(path: str) -> tuple[str, ...]:
    """The other paths that reach the operation documented at `path`, under its version (`routes.yaml`)."""
    for group in _alias_groups():
        for template, pattern in group:
            found = pattern.match(path)
            if found is not None:
                version = found.group(1)
                return tuple(other.replace("{version}", version) for other, _ in group if other != template)
    return ()


class Router:
    """Immutable once built; matching walks a segment tree (literals first, then parameters)."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        self._exact = _Node()
        self._families = _Node()
        self._seen: dict[tuple[str, Api | None], object] = {}
        for operation in operations:
            for path in (operation.path, *alias_paths(operation.path)):
                template = _parse(path)
                self._exact.add(template.segments, (template, operation))
                family = list(template.segments)
                if template.version_index is not None:
                    family[template.version_index] = "v*"
                self._families.add(tuple(family), (template, operation))

    def match(self, path: str, api: Api | None = None) -> RouteMatch | VersionMiss | None:
        """Remembered per path (bounded): the same paths come back on every request."""
        if len(path) > _SEEN_PATH_CHARS:
            return self._match(path, api)
        key = (path, api)
        found = self._seen.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = self._match(path, api)
            if len(self._seen) >= _SEEN_SIZE:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = found
        return found  # type: ignore[return-value]

    def _match(self, path: str, api: Api | None) -> RouteMatch | VersionMiss | None:
        parts = [p for p in without_format(path).split("/") if p]
        if any("." in part for part in parts):
            return None  # a Rails segment never holds a dot
        found = self._exact.find(parts, 0, api)
        if found is not None:
            template, operation = found
            values = [part for part, segment in zip(parts, template.segments, strict=True) if segment is None]
            return RouteMatch(operation, dict(zip(template.names, values, strict=True)))
        if _version_index(parts) is None:
            return None
        family = self._families.find(_generalised(parts), 0, api)
        if family is None:
            return None
        version = parts[_version_index(parts) or 0]
        return VersionMiss((family[1],), version)


def api_of_host(host: str) -> Api | None:
    """Real staging dispatches on Host; on any other host both APIs are served by path."""
    if "entreprise.api" in host:
        return "entreprise"
    if "particulier.api" in host:
        return "particulier"
    return None
