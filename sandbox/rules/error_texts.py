"""The error catalogue: every error text the sandbox sends, read from `error_catalogue.yaml`.

`load_catalogue().error(code, **args)` makes the `ApiError` of a code (or `code:variant`)
with its placeholders filled. It is the one source of error texts: the validators, the
tracking checks, the gates' refusals (`sandbox.rules.errors`) and the rate limiter all
ask it, so the wire, lint and the docs read the same words.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["ApiError", "Catalogue", "CatalogueError", "load_catalogue", "parse_catalogue"]


@dataclass(frozen=True, slots=True)
class ApiError:
    """One error of a json_api body; `sandbox.rules.errors` renders it in each API's format."""

    code: str
    title: str
    detail: str
    source: Mapping[str, str] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def as_json_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "title": self.title, "detail": self.detail}
        if self.source is not None:
            body["source"] = dict(self.source)
        body["meta"] = dict(self.meta)
        return body


class CatalogueError(ValueError):
    """`error_catalogue.yaml` is malformed, or an error was asked for with wrong arguments."""


@dataclass(frozen=True, slots=True)
class _Entry:
    code: str
    title: str
    details: Mapping[str, str]  # api ("entreprise", "particulier", "default", or "" when single) -> text
    source: Mapping[str, str] | None
    meta: Mapping[str, Any]
    args: frozenset[str]


class Catalogue:
    """Error texts by key (a code, or `code:variant`), read from `error_catalogue.yaml`."""

    def __init__(self, entries: Mapping[str, _Entry]) -> None:
        self._entries = dict(entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def error(self, code: str, **args: str) -> ApiError:
        """The error `code` (a catalogue key) with its placeholders filled from `args`.

        `api` ("entreprise" / "particulier") picks the detail of codes whose text
        differs per API (00100, 00103); it is ignored by the others. Every other
        argument must be a placeholder of the detail, and every placeholder must be given.
        """
        entry = self._entries.get(code)
        if entry is None:
            raise CatalogueError(f"unknown error code {code!r} (not in error_catalogue.yaml)")
        api = args.pop("api", None)
        missing = entry.args - args.keys()
        unexpected = args.keys() - entry.args
        if missing or unexpected:
            raise CatalogueError(
                f"error {code}: expected arguments {sorted(entry.args)}, "
                f"missing {sorted(missing)}, unexpected {sorted(unexpected)}"
            )
        if "" in entry.details:
            template = entry.details[""]
        elif api is not None and api in entry.details:
            template = entry.details[api]
        elif "default" in entry.details:
            template = entry.details["default"]
        else:
            raise CatalogueError(
                f"error {code}: its detail depends on the API; pass api= one of {sorted(entry.details)}"
            )
        detail = template.format_map(args) if entry.args else template
        return ApiError(code=entry.code, title=entry.title, detail=detail, source=entry.source, meta=dict(entry.meta))


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _string_mapping(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise CatalogueError(f"{where}: must be a non-empty mapping of strings")
    result = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise CatalogueError(f"{where}: {key!r} must be a string")
        result[str(key)] = value
    return result


def parse_catalogue(raw: Any, origin: str) -> Catalogue:
    errors = raw.get("errors") if isinstance(raw, dict) else None
    if not isinstance(errors, dict) or not errors:
        raise CatalogueError(f"{origin}: expected a top-level `errors:` mapping")
    entries: dict[str, _Entry] = {}
    for key, body in errors.items():
        key = str(key)
        where = f"{origin}: {key}"
        code = key.split(":", 1)[0]
        if not re.fullmatch(r"[0-9]{5}", code):
            raise CatalogueError(f"{where}: the key must be a 5-digit code, optionally followed by `:variant`")
        if not isinstance(body, dict) or not isinstance(body.get("title"), str):
            raise CatalogueError(f"{where}: needs a string `title`")
        raw_detail = body.get("detail")
        details = {"": raw_detail} if isinstance(raw_detail, str) else _string_mapping(raw_detail, f"{where}: detail")
        declared = frozenset(str(a) for a in body.get("args") or ())
        for variant, text in details.items():
            used = _placeholders(text)
            if used != declared:
                raise CatalogueError(
                    f"{where}: detail {variant or ''} uses placeholders {sorted(used)}, "
                    f"`args` declares {sorted(declared)}"
                )
        source = body.get("source")
        meta = body.get("meta") or {}
        if not isinstance(meta, dict):
            raise CatalogueError(f"{where}: `meta` must be a mapping")
        entries[key] = _Entry(
            code=code,
            title=body["title"],
            details=details,
            source=None if source is None else _string_mapping(source, f"{where}: source"),
            meta=meta,
            args=declared,
        )
    return Catalogue(entries)


@cache
def load_catalogue() -> Catalogue:
    """The built-in catalogue (read once)."""
    text = resources.files("sandbox.rules").joinpath("error_catalogue.yaml").read_text(encoding="utf-8")
    return parse_catalogue(yaml.load(text, Loader=yaml.CSafeLoader), "sandbox/error_catalogue.yaml")
