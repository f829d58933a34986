"""The web catalogue: server-rendered pages over the snapshot being served, the sync and the journal.

* `/`: what is loaded (sources, revision, counts), sync health and the last reload errors;
* `/ui/operations`: every operation of both APIs, grouped by provider, filtered by `?q=`; for
  admins with metrics on, each one's requests and misses since start, `?sort=misses` most first;
* `/ui/operations/{id}`: parameters, cases (cURL against this sandbox, hits since start for
  admins) and a "try it" form;
* `/ui/journal`: the last requests, filtered by outcome, misses linked to their explanation;
  (with a closed admin policy, the journal, the "try it" form and the sync details need the
  admin token; the other pages render for anyone: `sandbox.admin`)
* `/ui/static/...`: one stylesheet and one script (progressive enhancement only).

Every page reads `app.snapshot` when it is requested (a reload swaps it) and is readable
without JavaScript. Labels are French or English (`catalogue_labels.yaml`): `?lang=fr|en`,
else the `Accept-Language` header. Lint counts come from `sandbox.lint`, computed once per
served revision, off the event loop; when the lint cannot run the pages show "—".

This module serves the pages; what they show is built by `sandbox.web.views` (lists, home,
journal) and `sandbox.web.operation_view` (one operation), in words from `sandbox.web.labels`.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from sandbox.load.repository import NOT_FOUND_FILE
from sandbox.load.snapshot import Snapshot
from sandbox.rules.coercion import to_s
from sandbox.serve.metrics import Usage
from sandbox.web.catalogue_lint import LintCache
from sandbox.web.labels import LANGUAGES, labels, negotiate, translator
from sandbox.web.operation_view import operation_page
from sandbox.web.views import (
    api_rank,
    by_misses,
    explain_url,
    format_time,
    grouped,
    matches,
    operation_rows,
    relative_time,
    search_terms,
    sync_view,
)

if TYPE_CHECKING:  # app.py imports this module to wire the routes
    from sandbox.serve.app import SandboxApp

__all__ = [
    "LANGUAGES",  # the languages and labels of the pages (`sandbox.web.labels`)
    "OUTCOMES",
    "catalogue_routes",
    "labels",
]

_LOG = logging.getLogger("sandbox.catalogue")
PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
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
    "preference",
    "preference-error",
)
JOURNAL_LIMITS = (50, 100, 500, 1000)
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


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
        api_counts = sorted(report.operations_by_api.items(), key=lambda item: api_rank(item[0]))
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

    def _usage(self, request: Request) -> Usage | None:
        """Request counts since start, for admins when metrics are on (they show integrators' use)."""
        if self.app.metrics is None or not self.app.admin.admits(request):
            return None
        return self.app.metrics.usage()

    async def operations(self, request: Request) -> Response:
        snapshot = self.app.snapshot
        query = request.query_params.get("q", "").strip()
        terms = search_terms(query)
        lint = await self.lint.result(snapshot, "en")
        usage = self._usage(request)
        rows = operation_rows(snapshot, lint, usage)
        shown = [row for row in rows if matches(terms, row.search)]
        sort = "misses" if usage is not None and request.query_params.get("sort") == "misses" else ""
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
                "usage": usage,
                "sort": sort,
                "by_misses": by_misses(shown) if sort else [],
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
        context = operation_page(snapshot, operation, base_url, lint, request.query_params.get("case"))
        usage = self._usage(request)
        context["usage"] = None if usage is None else usage.of(operation.id)
        context["case_hits"] = {} if usage is None else usage.cases
        context["usage_scope"] = None if usage is None else usage.workers
        return self._render(request, "operation.html", "operations", context)

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
