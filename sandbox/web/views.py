"""What the catalogue pages show about the snapshot: operations grouped by provider and found by a
search, the sync health of the home page, times, and the journal's links to an explanation.

Plain data built from the snapshot and the lint result; `sandbox.web.catalogue` renders it (the page of
one operation: `sandbox.web.operation_view`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sandbox.load.snapshot import Snapshot
from sandbox.rules.operations import Operation
from sandbox.serve.metrics import OperationUsage, Usage
from sandbox.web.catalogue_lint import LintResult, LintSummary

__all__ = [
    "OperationRow",
    "ProviderGroup",
    "auth_kind",
    "by_misses",
    "grouped",
    "operation_rows",
    "provider_of",
    "sync_view",
]

API_ORDER = ("entreprise", "particulier")
_PROVIDER = re.compile(r"^api_(?:entreprise|particulier)_v\d+_([a-z0-9]+)(?:_|$)")


def provider_of(operation: Operation) -> str:
    """The data provider: the segment after the version in the id (`cnav`, `insee`, `dgfip`…)."""
    match = _PROVIDER.match(operation.id)
    if match:
        return match.group(1)
    segments = [s for s in operation.path.split("/") if s and s not in ("api", operation.version)]
    return segments[0] if segments else operation.api


def auth_kind(operation: Operation) -> str:
    """How a client authenticates: `FranceConnect`, `X-Api-Key` (API Particulier v2) or `Bearer`."""
    if operation.is_france_connect:
        return "FranceConnect"
    return "X-Api-Key" if operation.is_v2 else "Bearer"


def matches(terms: Sequence[str], haystack: str) -> bool:
    return all(term in haystack for term in terms)


def search_terms(query: str) -> list[str]:
    return [term for term in query.lower().split() if term]


@dataclass(frozen=True, slots=True)
class OperationRow:
    operation: Operation
    provider: str
    auth: str
    cases: int
    lint: LintSummary | None
    search: str
    usage: OperationUsage | None = None  # requests since start (admins, metrics on)


@dataclass(frozen=True, slots=True)
class ProviderGroup:
    api: str
    provider: str
    rows: tuple[OperationRow, ...]


def operation_rows(snapshot: Snapshot, lint: LintResult | None, usage: Usage | None = None) -> list[OperationRow]:
    rows = []
    for operation in snapshot.operations.values():
        provider = provider_of(operation)
        auth = auth_kind(operation)
        table = snapshot.tables.get(operation.id)
        search = " ".join((operation.id, operation.summary, operation.path, provider, operation.api, auth)).lower()
        rows.append(
            OperationRow(
                operation=operation,
                provider=provider,
                auth=auth,
                cases=len(table.cases) if table is not None else 0,
                lint=None if lint is None else lint.by_folder.get(operation.id, LintSummary()),
                search=search,
                usage=None if usage is None else usage.of(operation.id),
            )
        )
    return rows


def api_rank(api: str) -> int:
    return API_ORDER.index(api) if api in API_ORDER else len(API_ORDER)


def grouped(rows: Iterable[OperationRow]) -> list[ProviderGroup]:
    buckets: dict[tuple[str, str], list[OperationRow]] = {}
    for row in rows:
        buckets.setdefault((row.operation.api, row.provider), []).append(row)

    return [
        ProviderGroup(
            api,
            provider,
            tuple(sorted(found, key=lambda r: (r.operation.path, r.operation.version, r.operation.id))),
        )
        for (api, provider), found in sorted(buckets.items(), key=lambda item: (api_rank(item[0][0]), item[0][1]))
    ]


def by_misses(rows: Iterable[OperationRow]) -> list[OperationRow]:
    """Most fallbacks first (the cases integrators lack), then most requests, then by id."""

    def misses(row: OperationRow) -> tuple[int, int, str]:
        usage = row.usage or OperationUsage()
        return (-usage.fallbacks, -usage.requests, row.operation.id)

    return sorted(rows, key=misses)


def format_time(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def relative_time(timestamp: float | None, t: Callable[..., str], now: float | None = None) -> str:
    if timestamp is None:
        return ""
    delta = timestamp - (time.time() if now is None else now)
    amount = abs(delta)
    if amount < 90:
        text = t("unit_seconds", n=round(amount))
    elif amount < 90 * 60:
        text = t("unit_minutes", n=round(amount / 60))
    elif amount < 36 * 3600:
        text = t("unit_hours", n=round(amount / 3600))
    else:
        text = t("unit_days", n=round(amount / 86400))
    return t("time_in", span=text) if delta > 0 else t("time_ago", span=text)


_HEALTH_KEYS = ("last_fetch", "last_success", "next_fetch", "failures", "last_error", "fetches")
_ATTEMPT_KEYS = ("reason", "started_at", "duration_ms", "outcome", "revision", "errors")


def sync_view(status: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """`Syncer.status()` with every key the home page reads (missing ones are None)."""
    if status is None:
        return None
    sync = status.get("sync") or {}
    sources = []
    for source in status.get("sources") or ():
        health = source.get("health") or {}
        sources.append(
            {
                "kind": source.get("kind"),
                "location": source.get("location"),
                "ref": source.get("ref"),
                "commit": source.get("commit"),
                "cached": bool(source.get("serving_cached_commit")),
                "health": {key: health.get(key) for key in _HEALTH_KEYS},
            }
        )

    def attempt(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
        return None if not raw else {key: raw.get(key) for key in _ATTEMPT_KEYS}

    return {
        "sources": sources,
        "poll_s": sync.get("poll_s"),
        "leader": sync.get("leader", True),
        "reloads": sync.get("reloads", 0),
        "last_attempt": attempt(sync.get("last_attempt")),
        "last_failure": attempt(sync.get("last_failure")),
    }


def explain_url(path: str, params: Iterable[Sequence[str]]) -> str:
    query = urlencode([(str(name), str(value)) for name, value in params])
    return "/__sandbox/explain" + path + ("?" + query if query else "")
