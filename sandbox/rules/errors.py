"""Error bodies in each API's own format (spec §2.5, §3.6).

* json_api (Entreprise and Particulier v3+): `{"errors":[{code,title,detail,source?,meta}]}`
* Particulier v2 organizer errors: `{"error":kind,"reason":detail,"message":detail}`
* flat: `{"errors":["detail", …]}`
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.rules.rendering import encode_json


@dataclass(frozen=True, slots=True)
class ApiError:
    code: str
    title: str
    detail: str
    source: Mapping[str, str] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def as_json_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "title": self.title, "detail": self.detail}
        if self.source is not None:
            body["source"] = dict(self.source)
        body["meta"] = dict(self.meta)
        return body


def json_api_body(errors: Sequence[ApiError]) -> bytes:
    return encode_json({"errors": [e.as_json_api() for e in errors]})


def v2_body(kind: str, detail: str) -> bytes:
    return encode_json({"error": kind, "reason": detail, "message": detail})


def flat_body(details: Sequence[str]) -> bytes:
    return encode_json({"errors": list(details)})


def unknown_path_text(api: str) -> bytes:
    name = "Api particulier" if api == "particulier" else "Api entreprise"
    return f"Cette URL n'existe pas sur {name}, veuillez vérifier votre URL.".encode()


def no_case_error(operation_id: str) -> ApiError:
    """Particulier miss in a folder without `404.yaml` (real staging answers a bare 500)."""
    return ApiError(
        code="00104",
        title="Mauvaise configuration de l'environnement de staging",
        detail=(
            f"Aucun cas ne correspond à ces paramètres et le dossier payloads/{operation_id} "
            "n'a pas de cas 404.yaml (cas « non trouvé ») : ajoutez-en un."
        ),
    )


# ---------------------------------------------------------------------------
# Authentication, FranceConnect, version (texts of spec §1.4, §2.5, §5.2)
# ---------------------------------------------------------------------------

TOKEN_SOURCE = {"parameter": "token"}


def invalid_token() -> ApiError:
    return ApiError("00101", "Interdit", "Votre token n'est pas valide ou n'est pas renseigné", TOKEN_SOURCE)


def insufficient_scopes(api: str) -> ApiError:
    where = "/api/introspect" if api == "particulier" else "/v2/privileges"
    detail = f"Votre token est valide mais vos privilèges sont insuffisants. Listez vos privilèges sur {where}"
    return ApiError("00100", "Privilèges insuffisants", detail, TOKEN_SOURCE)


def expired_token(api: str) -> ApiError:
    if api == "particulier":
        name, site = "API Particulier", "https://particulier.api.gouv.fr"
    else:
        name, site = "API Entreprise", "https://entreprise.api.gouv.fr"
    detail = (
        f"Votre token est expiré. Vous devez refaire une demande à {name}, un guide est disponible sur "
        f"{site}/faq#comment-renouveler-mon-jeton-arrivant-a-expiration"
    )
    return ApiError("00103", "Jeton expiré", detail, TOKEN_SOURCE)


def unsupported_version(version: str) -> ApiError:
    return ApiError(
        "00402", "Version d'API non prise en charge", f"La version {version} n'est pas supportée pour cet endpoint"
    )


def france_connect_unknown_token() -> ApiError:
    return ApiError("50002", "Accès non autorisé", "Le jeton d'accès n'a pas été trouvé ou est expiré.")


def france_connect_missing_token() -> ApiError:
    return ApiError("50001", "Accès non autorisé", "Le jeton d'accès est mal formaté.")


def maintenance(provider_code: str, provider: str, start: str, end: str, retry_in: int) -> ApiError:
    return ApiError(
        f"{provider_code}020",
        "Maintenance du fournisseur de données",
        f"Le fournisseur de données est en maintenance de {start} à {end}",
        meta={"provider": provider, "retry_in": retry_in},
    )
