"""The tracking parameters of the real staging (spec §3.1, §3.2) and their checks.

The one table of them: API Entreprise v3+ requires `context`, `recipient` and `object`
on every call; API Particulier v3+ reads `recipient`, which must be a SIRET. None of
them, nor `token`, ever takes part in a lookup. Lint, scaffold, the lookup keys and the
README cURL commands all read their names here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.rules.coercion import is_blank
from sandbox.rules.error_texts import ApiError, load_catalogue
from sandbox.rules.identifiers import is_siret

RECIPIENT = "recipient"

_ENTREPRISE = (("context", "00201"), (RECIPIENT, "00203"), ("object", "00202"))
# name, and the code of the error when it is missing; in the order siade checks them

ENTREPRISE_TRACKING: tuple[str, ...] = tuple(name for name, _ in _ENTREPRISE)
"""The parameters API Entreprise v3+ requires, in the order of their errors."""

PARTICULIER_TRACKING: tuple[str, ...] = (RECIPIENT,)
"""The tracking parameter API Particulier v3+ reads (v2 reads none)."""

TRACKING_PARAMETERS = frozenset({*ENTREPRISE_TRACKING, *PARTICULIER_TRACKING, "token"})
"""Parameters the APIs read for tracking and authentication, never for a lookup."""


def entreprise_tracking_errors(params: Mapping[str, Any]) -> list[ApiError]:
    """API Entreprise v3+: one error per blank `context` (00201), `recipient` (00203), `object` (00202).

    In that order; `[]` when all three are sent. Whitespace-only counts as blank.
    """
    catalogue = load_catalogue()
    return [catalogue.error(code) for name, code in _ENTREPRISE if is_blank(params.get(name))]


def recipient_error(params: Mapping[str, Any], *, required: bool) -> ApiError | None:
    """00210 when `recipient` is sent but is not a SIRET, or when it is blank and `required`."""
    value = params.get(RECIPIENT)
    if is_blank(value):
        return load_catalogue().error("00210") if required else None
    return None if is_siret(value) else load_catalogue().error("00210")
