"""Error bodies in each API's own format (spec §2.5, §3.6).

* json_api (Entreprise and Particulier v3+): `{"errors":[{code,title,detail,source?,meta}]}`
* Particulier v2 organizer errors: `{"error":kind,"reason":detail,"message":detail}`
* flat: `{"errors":["detail", …]}`
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.rendering import encode_json


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
