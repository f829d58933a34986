"""The catalogue's languages and labels: which language a page is in and the words it uses.

Labels are French or English (`catalogue_labels.yaml`): `?lang=fr|en`, else the `Accept-Language`
header, else French. A label with `_one`/`_other` variants follows the language's plural rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from starlette.requests import Request

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "labels", "negotiate", "plural_form", "translator"]

LABELS_FILE = Path(__file__).resolve().parent / "catalogue_labels.yaml"

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


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


def negotiate(request: Request, *, from_query: bool = True) -> tuple[str, bool]:
    """The page language and whether it was asked for explicitly (`?lang=`; not read when the query string
    is not the page's own: the explanation of a request)."""
    asked = request.query_params.get("lang", "").lower() if from_query else ""
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
