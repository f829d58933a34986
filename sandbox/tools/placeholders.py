"""The placeholder text `sandbox new-case` writes, and how `sandbox lint` recognises it when left in a case.

A scaffolded case says "À compléter : …" where the contributor must write: its title and
description. Left as is, the generated README shows it to every integrator; lint warns.
"""

from __future__ import annotations

import unicodedata

__all__ = ["PLACEHOLDER_DESCRIPTION", "PLACEHOLDER_MARK", "PLACEHOLDER_TITLE", "is_placeholder"]

PLACEHOLDER_MARK = "À compléter"
PLACEHOLDER_TITLE = f"{PLACEHOLDER_MARK} : titre du cas"
PLACEHOLDER_DESCRIPTION = f"{PLACEHOLDER_MARK} : décrivez ce que ce cas illustre (situation, réponse attendue)."


def _plain(text: str) -> str:
    """Lower case, without accents: "À COMPLÉTER" and "a completer" read the same."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


_MARK = _plain(PLACEHOLDER_MARK)


def is_placeholder(text: object) -> bool:
    """The text starts with the placeholder mark (a description may say "dossier à compléter" further on)."""
    return isinstance(text, str) and _plain(text).lstrip(" '\"*_-").startswith(_MARK)
