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

import functools
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from sandbox.load.handed_token import handed_token
from sandbox.load.repository import NOT_FOUND_FILE
from sandbox.load.snapshot import Snapshot
from sandbox.rules.coercion import to_s
from sandbox.serve.access import admin_only
from sandbox.serve.metrics import Usage
from sandbox.tools.explain import explanation
from sandbox.tools.first_request import FirstRequest, first_request
from sandbox.tools.reaching import token_line
from sandbox.web.catalogue_lint import LintCache
from sandbox.web.explain_view import explain_page, wants_html
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
    import jinja2
    from starlette.templating import Jinja2Templates

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
    "preference",
    "preference-error",
    "bad-request",
    "gone",
    "meta",
)
JOURNAL_LIMITS = (50, 100, 500, 1000)
# `?curl_token=inline` on an operation page: its cURL commands hold the token instead of reading `$TOKEN`.
INLINE_TOKEN_PARAMETER = "curl_token"
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
    import jinja2

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
        self._first: tuple[Snapshot, FirstRequest | None] | None = None

    @functools.cached_property
    def templates(self) -> Jinja2Templates:
        """Made on the first page: jinja2 costs `sandbox serve` ~20 ms of start-up, and an API never needs it."""
        from starlette.templating import Jinja2Templates

        return Jinja2Templates(env=_environment())

    # -- shared -----------------------------------------------------------------------------

    def _render(
        self,
        request: Request,
        name: str,
        page: str,
        context: dict[str, Any],
        status_code: int = 200,
        *,
        own_query: bool = True,
        switch_path: str | None = None,
    ) -> Response:
        """`own_query=False`: the query string is not the page's (an explained request): the language comes
        from `Accept-Language` and the other language's page is `switch_path` plus `lang`."""
        lang, explicit = negotiate(request, from_query=own_query)
        t = translator(lang)
        other = "en" if lang == "fr" else "fr"
        if own_query:
            switch_params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", other)]
            switch_url = request.url.path + "?" + urlencode(switch_params)
        else:
            switch_url = (switch_path or "/") + ("&" if "?" in (switch_path or "/") else "?") + f"lang={other}"

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
                "switch_url": switch_url,
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

    def _first_request(self, snapshot: Snapshot) -> FirstRequest | None:
        """Found once per snapshot (a few requests answered in-process)."""
        if self._first is None or self._first[0] is not snapshot:
            self._first = (snapshot, first_request(snapshot))
        return self._first[1]

    async def home(self, request: Request) -> Response:
        snapshot = self.app.snapshot
        report = snapshot.report
        base_url = str(request.base_url).rstrip("/")
        found = self._first_request(snapshot)
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
                "first": found,
                "first_commands": f"{token_line(base_url)}\n{found.request.short_curl(base_url)}" if found else None,
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
        inline = None
        if request.query_params.get(INLINE_TOKEN_PARAMETER) == "inline":  # the reader's explicit choice
            handed = handed_token(snapshot)
            inline = handed.value if handed.public or self.app.admin.admits(request) else None
        context = operation_page(snapshot, operation, base_url, lint, request.query_params.get("case"), inline)
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
            # the same explanation as a catalogue page in the language asked for (`/ui/explain?request=…&lang=`)
            data["explain_request"] = data["explain"].removeprefix("/__sandbox/explain") if missed else None
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
                "known_outcomes": OUTCOMES,
                "limit": limit,
                "limits": sorted({*JOURNAL_LIMITS, limit}),
                "recorded": journal.recorded,
                "size": journal.size,
            },
        )

    async def explain(self, request: Request) -> Response:
        """`/__sandbox/explain/<path>?<query>`: JSON, or the page for a browser (`Accept: text/html`)."""
        target = "/" + request.path_params["target"]
        query = request.url.query
        if not wants_html(request.headers.get("accept", "")):
            explained = self._explained(request, target, query)
            return JSONResponse(explained, status_code=200 if "operation" in explained else 404)
        return self._explain_page(request, target, query, own_query=False)

    async def explain_ui(self, request: Request) -> Response:
        """`/ui/explain?request=<path?query>&lang=…`: the same page, with a query string of its own."""
        path, _, query = request.query_params.get("request", "/").partition("?")
        return self._explain_page(request, "/" + path.lstrip("/"), query, own_query=True)

    def _explained(self, request: Request, target: str, query: str) -> dict[str, Any]:
        base_url = str(request.base_url).rstrip("/")
        prefer = ", ".join(request.headers.getlist("prefer")) or None
        return explanation(
            self.app.snapshot,
            target,
            query.encode(),
            request.headers.get("host", ""),
            base_url,
            prefer,
            self.app.services.scenarios,
        )

    def _explain_page(self, request: Request, target: str, query: str, *, own_query: bool) -> Response:
        if not self.app.admin.admits(request):
            return self._render(request, "closed.html", "journal", {"title_key": "explain_title"}, status_code=403)
        explained = self._explained(request, target, query)
        page = explain_page(explained)
        switch = "/ui/explain?" + urlencode([("request", page["target"])])
        return self._render(
            request,
            "explain.html",
            "journal",
            page,
            status_code=200 if "operation" in explained else 404,
            own_query=own_query,
            switch_path=switch,
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
        Route("/ui/explain", catalogue.explain_ui, name="catalogue-explain"),
        Route("/__sandbox/explain/{target:path}", admin_only(app.admin, catalogue.explain), name="explain"),
        Mount("/ui/static", app=StaticFiles(directory=str(STATIC)), name="catalogue-static"),
    ]
