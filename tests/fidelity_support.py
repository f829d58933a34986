"""What the fidelity tests share: a real uvicorn on loopback per match mode, tokens, and the
texts of the spec, written out here (never taken from the product's own code)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from sandbox.load.snapshot import build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.rules.tokens import mint
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.web import create_app
from tests.conftest import ROOT

SECRET = "fidelity-test-secret-at-least-32-bytes"
ALL_SCOPES = sorted({s for v in (build_snapshot(ROOT).content.authorizations or {}).values() for s in v})
TOKEN = mint(SECRET, ALL_SCOPES)
INVALID_TOKEN = mint("another-secret-that-is-32-bytes-long", ALL_SCOPES)
TIMEOUT = 30.0
MODES = list(MatchMode)

TRACKING = {"recipient": "13002526500013", "context": "test", "object": "test"}
RECIPIENT = {"recipient": "13002526500013"}
UNITE_LEGALE = "/v3/insee/sirene/unites_legales/130025265"  # embedded case administration-siren-par-defaut.yaml
INE = "/v3/cnous/etudiant_boursier/ine"
CNOUS_CIVILITY = "/v3/cnous/etudiant_boursier/identite"
QF_V3 = "/v3/dss/quotient_familial/identite"
QF_V2 = "/api/v2/composition-familiale-v2"
MESRI_FRANCE_CONNECT = "/v3/mesri/statut_etudiant/france_connect"

# Content types on the wire (spec §11.6)
JSON = "application/json; charset=utf-8"
JSON_BARE = "application/json"
JSON_API = "application/vnd.api+json; charset=utf-8"
JSON_API_BARE = "application/vnd.api+json"
TEXT = "text/plain; charset=utf-8"

INVALID_DETAIL = "Votre token n'est pas valide ou n'est pas renseigné"
INVALID_ERROR = {
    "code": "00101",
    "title": "Interdit",
    "detail": INVALID_DETAIL,
    "source": {"parameter": "token"},
    "meta": {},
}
INVALID_V2 = {"error": "access_denied", "reason": INVALID_DETAIL, "message": INVALID_DETAIL}


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def served(mode: MatchMode, root: Path | list[Path] = ROOT, services: Services | None = None) -> Iterator[httpx.Client]:
    """A real uvicorn on loopback serving `root` in `mode`, and a client with generous timeouts."""
    snapshot = build_snapshot(root, mode, secrets=[SECRET])
    services = services or Services(fixed_today=datetime.date(2026, 4, 28))
    with (
        serve_in_thread(create_app(snapshot, services)) as base_url,
        httpx.Client(base_url=base_url, timeout=TIMEOUT) as client,
    ):
        yield client


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list), body
    errors: list[dict[str, Any]] = body["errors"]
    return errors


# The texts of the routes real staging answers with 410 (§11.2), as observed, written out here.
ACTES_GONE = (
    "Cette route a été déplacée. Merci de mettre à jour votre application vers la nouvelle route. Vous pouvez "
    "consulter la documentation à l'adresse suivante: https://entreprise.api.gouv.fr/catalogue/inpi/rne/actes_bilans"
)
INPI_GONE = (
    "Cette route n'existe plus sur API Entreprise. Vous pouvez consulter la liste des routes sur notre documentation "
    "OpenAPI: https://entreprise.api.gouv.fr/developpeurs/openapi"
)
QF_V1_GONE = (
    "L'API Quotient Familial v1 n'est plus disponible depuis le 31/10/2025. Veuillez utiliser l'API v2 : "
    "https://particulier.api.gouv.fr/catalogue/cnav/quotient_familial"
)
SVAIR_GONE = (
    "Cette URL n'existe plus sur API Particulier depuis le 8 janvier 2024. Veuillez mettre à jour votre application."
)
