"""The explanation of a request (`/__sandbox/explain/<path>?<query>`) as a catalogue page, or as JSON.

`sandbox.tools.explain.explanation` says what the sandbox does with the request; this module chooses
how to answer (a page for a browser, JSON for `Accept: application/json` and for clients that name
no type) and turns the explanation into what the page shows, in the page's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from sandbox.rules.coercion import to_s

__all__ = ["explain_page", "wants_html"]


def _qualities(accept: str) -> dict[str, float]:
    """Media range → quality, as the `Accept` header gives them (bounded: the header is bounded)."""
    found: dict[str, float] = {}
    for part in accept.split(",")[:64]:
        media, _, parameters = part.strip().partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        found[media.strip().lower()] = quality
    return found


def wants_html(accept: str) -> bool:
    """A page only for a client that names `text/html` (a browser) at least as high as JSON; everything
    else (curl's `*/*`, `fetch()`, `Accept: application/json`) gets the JSON it always got."""
    qualities = _qualities(accept)
    html = qualities.get("text/html", 0.0)
    return html > 0 and html >= qualities.get("application/json", 0.0)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(to_s(item) for item in value)
    return "—" if value is None else to_s(value)


def explain_page(explained: Mapping[str, Any]) -> dict[str, Any]:
    """What the page shows: the request, the verdict, the parameters compared and the closest cases."""
    request = explained.get("request", {})
    query = request.get("query", {})
    pairs = [(str(name), _text(value)) for name, value in query.items()]
    closest = []
    for near in explained.get("closest", ()):
        folder, _, file = str(near["case"]).partition("/")
        closest.append(
            {
                **near,
                "folder": folder,
                "file": file,
                "differences": [
                    {
                        **difference,
                        "case_text": _text(difference["case_value"]),
                        "request_text": _text(difference["request_value"]),
                    }
                    for difference in near["differences"]
                ],
            }
        )
    target = request.get("path", "") + ("?" + urlencode(pairs) if pairs else "")
    return {
        "explained": explained,
        "target": target,
        "query_pairs": pairs,
        "compared": [(str(name), _text(value)) for name, value in (explained.get("compared_parameters") or {}).items()],
        "closest": closest,
        "operation_id": explained.get("operation"),
        "matched": explained.get("matched"),
        "fallback": explained.get("fallback"),
        "error": explained.get("error"),
        "reason": explained.get("reason"),
        "version": explained.get("version"),
        "lookup_key": explained.get("lookup_key"),
        "unmatchable": request.get("unmatchable"),
        "server_added_keys": explained.get("server_added_keys") or [],
    }
