"""The web catalogue: server-rendered pages over the snapshot being served, the sync and the journal.

* `/`: what is loaded (sources, revision, counts), sync health and the last reload errors;
* `/ui/operations`: every operation of both APIs, grouped by provider, filtered by `?q=`;
* `/ui/operations/{id}`: parameters, cases (cURL against this sandbox) and a "try it" form;
* `/ui/journal`: the last requests, filtered by outcome, misses linked to their explanation;
  (with a closed admin policy, the journal, the "try it" form and the sync details need the
  admin token; the other pages render for anyone: `sandbox.admin`)
* `/ui/static/...`: one stylesheet and one script (progressive enhancement only).

Every page reads `app.snapshot` when it is requested (a reload swaps it) and is readable
without JavaScript. Labels are French or English (`catalogue_labels.yaml`): `?lang=fr|en`,
else the `Accept-Language` header. Lint counts come from `sandbox.lint`, computed once per
served revision, off the event loop; when the lint cannot run the pages show "—".
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shlex
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jinja2
import yaml
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from sandbox.load.repository import NOT_FOUND_FILE, Case
from sandbox.load.snapshot import Snapshot
from sandbox.rules.coercion import to_s
from sandbox.rules.matching import strip_brackets
from sandbox.rules.operations import Operation, Parameter
from sandbox.tools.reaching import ENTREPRISE_CURL_PAIRS, PARTICULIER_RECIPIENT, case_request, france_connect_request
from sandbox.web.catalogue_lint import LintCache, LintNote, LintResult, LintSummary

if TYPE_CHECKING:  # app.py imports this module to wire the routes
    from sandbox.serve.app import SandboxApp

__all__ = [
    "LANGUAGES",
    "OUTCOMES",
    "auth_kind",
    "catalogue_routes",
    "labels",
    "provider_of",
]

_LOG = logging.getLogger("sandbox.catalogue")
PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
LABELS_FILE = PACKAGE / "catalogue_labels.yaml"

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
# Outcomes the request path records (`Prepared.outcome`); others seen in the journal are added.
OUTCOMES = (
    "hit",
    "fallback",
    "validation-error",
    "auth-error",
    "rate-limited",
    "maintenance",
    "unknown-path",
    "unsupported-version",
    "gone",
    "meta",
)
JOURNAL_LIMITS = (50, 100, 500, 1000)
API_ORDER = ("entreprise", "particulier")
FRANCE_CONNECT_PLACEHOLDER = "$FRANCE_CONNECT_TOKEN"
TOKEN_PLACEHOLDER = "$TOKEN"
_PROVIDER = re.compile(r"^api_(?:entreprise|particulier)_v\d+_([a-z0-9]+)(?:_|$)")
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


# ---------------------------------------------------------------------------
# Labels and languages
# ---------------------------------------------------------------------------


@cache
def labels() -> Mapping[str, Mapping[str, str]]:
    """Every label, by key then language (`catalogue_labels.yaml`)."""
    raw = yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))
    return {str(key): {str(lang): str(text) for lang, text in value.items()} for key, value in raw.items()}


def plural_form(lang: str, n: int) -> str:
    """`one` or `other`: French counts 0 and 1 as singular, English only 1."""
    return "one" if (n in (0, 1) if lang == "fr" else n == 1) else "other"


def translator(lang: str) -> Callable[..., str]:
    table = labels()

    def translate(key: str, /, **args: Any) -> str:
        if f"{key}_one" in table and isinstance(args.get("n"), int):
            key = f"{key}_{plural_form(lang, args['n'])}"
        text = table[key][lang]  # a missing label is a bug: it fails loudly (and in the tests)
        return text.format(**args) if args else text

    return translate


def negotiate(request: Request) -> tuple[str, bool]:
    """The page language and whether it was asked for explicitly (`?lang=`)."""
    asked = request.query_params.get("lang", "").lower()
    if asked in LANGUAGES:
        return asked, True
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return (min(ranked)[2] if ranked else DEFAULT_LANGUAGE), False


# ---------------------------------------------------------------------------
# What the pages show about operations
# ---------------------------------------------------------------------------


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


def default_token(snapshot: Snapshot) -> str | None:
    """The repository's `tokens/default` (of the topmost source that has one)."""
    tokens = snapshot.content.tokens
    if "default" in tokens:
        return tokens["default"]
    layered = sorted((name for name in tokens if name.endswith(":default")), reverse=True)
    return tokens[layered[0]] if layered else None


def schema_text(parameter: Parameter) -> str:
    schema = parameter.schema
    kind = str(schema.get("type") or ("array" if parameter.is_array else "string"))
    if kind == "array":
        items = schema.get("items")
        item_kind = items.get("type") if isinstance(items, Mapping) else None
        kind = f"array<{item_kind}>" if item_kind else "array"
    details = [kind]
    if schema.get("format"):
        details.append(f"({schema['format']})")
    return " ".join(details)


def schema_constraints(parameter: Parameter) -> str:
    schema = parameter.schema
    parts = []
    if isinstance(schema.get("enum"), list):
        parts.append(" | ".join(to_s(v) for v in schema["enum"]))
    if schema.get("pattern"):
        parts.append(f"/{schema['pattern']}/")
    for keyword in ("minLength", "maxLength", "minimum", "maximum"):
        if keyword in schema:
            parts.append(f"{keyword} {schema[keyword]}")
    if "example" in schema:
        parts.append(f"e.g. {to_s(schema['example'])}")
    return ", ".join(parts)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def _matches(terms: Sequence[str], haystack: str) -> bool:
    return all(term in haystack for term in terms)


def search_terms(query: str) -> list[str]:
    return [term for term in query.lower().split() if term]


# ---------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperationRow:
    operation: Operation
    provider: str
    auth: str
    cases: int
    lint: LintSummary | None
    search: str


@dataclass(frozen=True, slots=True)
class ProviderGroup:
    api: str
    provider: str
    rows: tuple[OperationRow, ...]


@dataclass(slots=True)
class Field:
    """One control of the "try it" form."""

    name: str
    location: str  # path | query
    required: bool
    is_array: bool
    type: str
    control_id: str


@dataclass(slots=True)
class CaseView:
    case: Case
    anchor: str
    title: str
    params: list[tuple[str, str]]
    payload: str
    curl: str | None
    tokens: tuple[str, ...]  # FranceConnect tokens that reach the case
    findings: tuple[LintNote, ...]
    prefill: dict[str, Any] = field(default_factory=dict)


def operation_rows(snapshot: Snapshot, lint: LintResult | None) -> list[OperationRow]:
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
            )
        )
    return rows


def _api_rank(api: str) -> int:
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
        for (api, provider), found in sorted(buckets.items(), key=lambda item: (_api_rank(item[0][0]), item[0][1]))
    ]


def _fields(operation: Operation) -> list[Field]:
    found = []
    for index, parameter in enumerate(p for p in operation.parameters if p.location in ("path", "query")):
        found.append(
            Field(
                name=parameter.name,
                location=parameter.location,
                required=parameter.required,
                is_array=parameter.is_array,
                type=schema_text(parameter),
                control_id=f"try-{parameter.location}-{index}",
            )
        )
    return found


def _prefill(fields: Sequence[Field], pairs: Sequence[tuple[str, str]], case: Case | None) -> dict[str, str]:
    """The values of the "try it" controls, by control id: path values from the case's params, query values
    from the request's pairs (arrays: one value per line)."""
    values: dict[str, str] = {}
    params = case.params if case is not None else {}
    for item in fields:
        if item.location == "path":
            raw = params.get(item.name)
            values[item.control_id] = "" if raw is None else to_s(raw)
            continue
        sent = [
            value for name, value in pairs if name == item.name or strip_brackets(name) == strip_brackets(item.name)
        ]
        values[item.control_id] = "\n".join(sent) if item.is_array else (sent[0] if sent else "")
    return values


def _tracking_pairs(operation: Operation) -> list[tuple[str, str]]:
    if operation.api == "entreprise":
        return list(ENTREPRISE_CURL_PAIRS)
    return [PARTICULIER_RECIPIENT] if not operation.is_v2 else []


def france_connect_tokens_for(snapshot: Snapshot, operation: Operation) -> list[Case]:
    """The FranceConnect tokens (cases of `payloads/france_connect`) whose route is this operation's."""
    return [case for case in snapshot.france_connect.values() if case.api_path == operation.path]


_CURL_OPTIONS_WITH_VALUE = frozenset({"-H", "-d", "--url", "-X", "--data", "--data-urlencode", "--header"})


def multiline_curl(command: str) -> str:
    """A one-line cURL command, one option per line (`\\` continuations): the same words, easier to read."""
    words = shlex.split(command)
    lines = [words[0]]
    index = 1
    while index < len(words):
        if words[index] in _CURL_OPTIONS_WITH_VALUE and index + 1 < len(words):
            lines.append(f"{words[index]} {shlex.quote(words[index + 1])}")
            index += 2
        else:
            lines.append(shlex.quote(words[index]))
            index += 1
    return " \\\n  ".join(lines)


def case_views(
    snapshot: Snapshot, operation: Operation, fields: Sequence[Field], base_url: str, lint: LintResult | None
) -> list[CaseView]:
    token = default_token(snapshot) or TOKEN_PLACEHOLDER
    table = snapshot.tables.get(operation.id)
    views = []
    for index, case in enumerate(table.cases if table is not None else ()):
        tokens: tuple[str, ...] = ()
        if operation.is_france_connect:
            tokens = lint.france_connect_reach.get(case.id, ()) if lint is not None else ()
            request = france_connect_request(operation.path, tokens[0] if tokens else FRANCE_CONNECT_PLACEHOLDER)
            try_token = tokens[0] if tokens else ""
        else:
            request = case_request(operation, case, token)
            try_token = default_token(snapshot) or ""
        views.append(
            CaseView(
                case=case,
                anchor=f"case-{index + 1}",
                title=case.title or case.file,
                params=[(str(name), _param_text(value)) for name, value in case.params.items()],
                payload=pretty_json(case.payload),
                curl=multiline_curl(request.curl(base_url)),
                tokens=tokens,
                findings=lint.by_case.get(case.id, ()) if lint is not None else (),
                prefill={"values": _prefill(fields, request.query, case), "token": try_token},
            )
        )
    return views


def _param_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else to_s(value)


def chosen_case(views: Sequence[CaseView], wanted: str | None) -> CaseView | None:
    """The case the form is prefilled from: the one asked for, else the first success, else the first."""
    if wanted:
        for view in views:
            if view.case.file == wanted:
                return view
    hits = [v for v in views if 200 <= v.case.status < 300 and v.case.file != NOT_FOUND_FILE]
    return hits[0] if hits else (views[0] if views else None)


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


# ---------------------------------------------------------------------------
# The pages
# ---------------------------------------------------------------------------


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.glob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_version"] = _static_version()
    env.globals["not_found_file"] = NOT_FOUND_FILE
    env.filters["when"] = format_time
    return env


class Catalogue:
    def __init__(self, app: SandboxApp, lint: LintCache | None = None) -> None:
        self.app = app
        self.lint = lint or LintCache()
        self.templates = Jinja2Templates(env=_environment())

    # -- shared -----------------------------------------------------------------------------

    def _render(
        self, request: Request, name: str, page: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        lang, explicit = negotiate(request)
        t = translator(lang)
        other = "en" if lang == "fr" else "fr"
        switch_params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", other)]

        def link(path: str, **params: Any) -> str:
            pairs = [(k, to_s(v)) for k, v in params.items() if v not in (None, "")]
            if explicit:
                pairs.append(("lang", lang))
            return path + ("?" + urlencode(pairs) if pairs else "")

        snapshot: Snapshot = context.get("snapshot") or self.app.snapshot
        response = self.templates.TemplateResponse(
            request,
            name,
            {
                "lang": lang,
                "lang_explicit": explicit,
                "other_lang": other,
                "switch_url": request.url.path + "?" + urlencode(switch_params),
                "t": t,
                "link": link,
                "page": page,
                "revision": snapshot.revision,
                "ago": lambda ts: relative_time(ts, t),
                "admin": self.app.admin.admits(request),
                **context,
            },
            status_code=status_code,
            headers={
                "Content-Security-Policy": _CSP,
                "Content-Language": lang,
                "Vary": "Accept-Language",
                "Cache-Control": "no-store",
            },
        )
        return response

    # -- pages ------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        snapshot = self.app.snapshot
        report = snapshot.report
        admin = self.app.admin.admits(request)
        status = sync_view(self.app.syncer.status() if self.app.syncer is not None and admin else None)
        api_counts = sorted(report.operations_by_api.items(), key=lambda item: _api_rank(item[0]))
        return self._render(
            request,
            "home.html",
            "home",
            {
                "snapshot": snapshot,
                "report": report,
                "status": status,
                "api_counts": api_counts,
                "problems": [str(p) for p in report.problems],
                "journal_size": len(self.app.journal),
            },
        )

    async def operations(self, request: Request) -> Response:
        snapshot = self.app.snapshot
        query = request.query_params.get("q", "").strip()
        terms = search_terms(query)
        lint = await self.lint.result(snapshot, "en")
        rows = operation_rows(snapshot, lint)
        shown = [row for row in rows if _matches(terms, row.search)]
        return self._render(
            request,
            "operations.html",
            "operations",
            {
                "snapshot": snapshot,
                "query": query,
                "groups": grouped(shown),
                "shown": len(shown),
                "total": len(rows),
                "lint_available": lint is not None,
            },
        )

    async def operation(self, request: Request) -> Response:
        snapshot = self.app.snapshot
        operation = snapshot.operations.get(request.path_params["operation_id"])
        if operation is None:
            return self._render(
                request,
                "not_found.html",
                "operations",
                {"snapshot": snapshot, "missing": request.path_params["operation_id"]},
                status_code=404,
            )
        lang, _ = negotiate(request)
        lint = await self.lint.result(snapshot, lang)
        base_url = str(request.base_url).rstrip("/")
        fields = _fields(operation)
        views = case_views(snapshot, operation, fields, base_url, lint)
        chosen = chosen_case(views, request.query_params.get("case"))
        token = default_token(snapshot)
        france_connect = [
            (
                case,
                multiline_curl(
                    france_connect_request(operation.path, str(case.params.get("token", ""))).curl(base_url)
                ),
            )
            for case in france_connect_tokens_for(snapshot, operation)
        ]
        if chosen is not None:
            prefill = chosen.prefill
        else:
            fc_token = str(france_connect[0][0].params.get("token", "")) if france_connect else ""
            prefill = {
                "values": _prefill(fields, _tracking_pairs(operation), None),
                "token": fc_token if operation.is_france_connect else (token or ""),
            }
        table = snapshot.tables.get(operation.id)
        fallback = None
        if table is not None:
            fallback = next((v.decode() for k, v in table.fallback.headers if k == b"x-sandbox-fallback"), None)
        return self._render(
            request,
            "operation.html",
            "operations",
            {
                "snapshot": snapshot,
                "operation": operation,
                "provider": provider_of(operation),
                "auth": auth_kind(operation),
                "parameters": [(p, schema_text(p), schema_constraints(p)) for p in operation.parameters],
                "cases": views,
                "chosen": chosen,
                "fields": fields,
                "prefill": prefill,
                "try_data": {
                    "path": operation.path,
                    "auth": auth_kind(operation),
                    "cases": {v.case.file: v.prefill for v in views},
                },
                "france_connect": france_connect,
                "base_url": base_url,
                "has_default_token": token is not None,
                "lint_available": lint is not None,
                "lint_total": lint.by_folder.get(operation.id, LintSummary()) if lint is not None else None,
                "fallback": fallback,
            },
        )

    async def journal(self, request: Request) -> Response:
        if not self.app.admin.admits(request):
            return self._render(request, "closed.html", "journal", {"title_key": "journal_title"}, status_code=403)
        outcome = request.query_params.get("outcome", "")
        operation = request.query_params.get("operation", "")
        try:
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            limit = 100
        limit = min(max(limit, 1), 1000)
        journal = self.app.journal
        seen = {entry.outcome for entry in journal.entries()}
        outcomes = [*OUTCOMES, *sorted(seen - set(OUTCOMES))]
        entries = []
        for entry in journal.entries(outcome=outcome or None, operation=operation or None, limit=limit):
            data = entry.as_json()
            missed = entry.outcome == "fallback" or bool(entry.near_miss)
            data["explain"] = explain_url(entry.path, data["params"]) if missed else None
            entries.append(data)
        return self._render(
            request,
            "journal.html",
            "journal",
            {
                "entries": entries,
                "outcome": outcome,
                "operation": operation,
                "outcomes": outcomes,
                "limit": limit,
                "limits": sorted({*JOURNAL_LIMITS, limit}),
                "recorded": journal.recorded,
                "size": journal.size,
            },
        )

    async def to_home(self, request: Request) -> Response:
        query = request.url.query
        return RedirectResponse("/" + ("?" + query if query else ""), status_code=307)


def catalogue_routes(app: SandboxApp) -> list[BaseRoute]:
    """The pages: `GET /` and everything under `/ui/` (static files under `/ui/static/`)."""
    catalogue = Catalogue(app)
    return [
        Route("/", catalogue.home, name="catalogue-home"),
        Route("/ui", catalogue.to_home),
        Route("/ui/", catalogue.to_home),
        Route("/ui/operations", catalogue.operations, name="catalogue-operations"),
        Route("/ui/operations/{operation_id}", catalogue.operation, name="catalogue-operation"),
        Route("/ui/journal", catalogue.journal, name="catalogue-journal"),
        Mount("/ui/static", app=StaticFiles(directory=str(STATIC)), name="catalogue-static"),
    ]
