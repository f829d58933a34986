"""Routes that real staging answers with 410 Gone and a plain-text explanation (spec §1.5).

A table, checked before routing: a gone path wins over an OpenAPI operation that
still documents it (the v1 quotient familial route keeps 22 cases in the public
repository that no request can reach).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.rules.operations import Api

_ENTREPRISE_V2 = (
    "Cette URL n'existe plus sur Api entreprise depuis le 15/11/2023, veuillez migrer sur la version 3 "
    "d'API Entreprise. Plus d'infos ici: https://entreprise.api.gouv.fr/developpeurs/guide-migration"
)
_INPI_ACTES = (
    "Cette URL n'existe plus sur API Entreprise : les actes et bilans de l'INPI sont servis par "
    "l'endpoint RNE actes_bilans. Plus d'infos ici: "
    "https://entreprise.api.gouv.fr/catalogue/inpi/rne/actes_bilans"
)
_INPI_PROPRIETE = (
    "Cette URL n'existe plus sur API Entreprise : les brevets, marques et modèles de l'INPI ne sont plus disponibles."
)
_QUOTIENT_FAMILIAL_V1 = (
    "L'API Quotient Familial v1 n'est plus disponible depuis le 31/10/2025, veuillez migrer sur la "
    "version 2 : https://particulier.api.gouv.fr/catalogue/cnaf-msa/quotient_familial_v2"
)
_SVAIR = (
    "Cette URL n'existe plus sur API Particulier depuis le 8 janvier 2024, l'API Impôt Particulier est "
    "désormais servie par la DGFIP : https://api.gouv.fr/les-api/impot-particulier"
)


@dataclass(frozen=True, slots=True)
class GoneRoute:
    api: Api
    pattern: re.Pattern[str]
    text: str


GONE_ROUTES: tuple[GoneRoute, ...] = (
    GoneRoute("entreprise", re.compile(r"^/v2/"), _ENTREPRISE_V2),
    GoneRoute("entreprise", re.compile(r"^/v\d+/inpi/unites_legales/[^/]+/actes/?$"), _INPI_ACTES),
    GoneRoute(
        "entreprise", re.compile(r"^/v\d+/inpi/unites_legales/[^/]+/(brevets|marques|modeles)/?$"), _INPI_PROPRIETE
    ),
    GoneRoute("particulier", re.compile(r"^/api/(caf/famille|v2/composition-familiale)/?$"), _QUOTIENT_FAMILIAL_V1),
    GoneRoute("particulier", re.compile(r"^/api/(impots/svair|v2/avis-imposition)/?$"), _SVAIR),
)


def gone_route(path: str, api: Api | None) -> GoneRoute | None:
    if not (path.startswith(("/v2/", "/api/")) or "/inpi/unites_legales/" in path):
        return None  # every gone route is under one of these: most requests skip the patterns
    for route in GONE_ROUTES:
        if (api is None or route.api == api) and route.pattern.match(path):
            return route
    return None
