"""The application under test: an eligibility service of a fictional "Pass Jeunes Entreprises".

It checks a company with API Entreprise (SIREN → active or ceased) and a student's
scholarship with API Particulier (INE → scholarship level → discount). It knows nothing
of the sandbox: only base URLs and a token, as in production.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import httpx

# Who calls the APIs (the SIRET of the organisation) and why: sent with every request.
RECIPIENT = "13002526500013"
CONTEXT = "Pass Jeunes Entreprises"
OBJECT = "Instruction d'une demande"


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


class NotFound(ApiError):
    """The API knows no such company or student."""


class ProviderUnavailable(ApiError):
    """The data provider behind the API failed (502, 503, 504): try again later."""


@dataclass(frozen=True)
class Company:
    siren: str
    name: str
    active: bool


@dataclass(frozen=True)
class Scholarship:
    holder: bool
    level: int | None  # échelon 0 is written "0bis" by CNOUS: level 0
    start: datetime.date | None


@dataclass(frozen=True)
class Decision:
    accepted: bool
    reason: str


class ApiGouv:
    """A thin client for the two APIs; each has its own host in production."""

    def __init__(self, entreprise: httpx.Client, particulier: httpx.Client) -> None:
        self.entreprise = entreprise
        self.particulier = particulier

    @classmethod
    def connect(cls, entreprise_url: str, particulier_url: str, token: str, timeout: float = 10.0) -> ApiGouv:
        headers = {"Authorization": f"Bearer {token}"}
        return cls(
            httpx.Client(base_url=entreprise_url, headers=headers, timeout=timeout),
            httpx.Client(base_url=particulier_url, headers=headers, timeout=timeout),
        )

    def close(self) -> None:
        self.entreprise.close()
        self.particulier.close()

    def company(self, siren: str) -> Company:
        params = {"recipient": RECIPIENT, "context": CONTEXT, "object": OBJECT}
        data = _data(self.entreprise.get(f"/v3/insee/sirene/unites_legales/{siren}", params=params))
        morale = data.get("personne_morale_attributs") or {}
        physique = data.get("personne_physique_attributs") or {}
        name = morale.get("raison_sociale") or " ".join(
            part for part in (physique.get("prenom_usuel"), physique.get("nom_naissance")) if part
        )
        return Company(siren=data["siren"], name=name, active=data.get("etat_administratif") == "A")

    def scholarship(self, ine: str) -> Scholarship:
        data = _data(
            self.particulier.get("/v3/cnous/etudiant_boursier/ine", params={"ine": ine, "recipient": RECIPIENT})
        )
        level = (data.get("echelon_bourse") or {}).get("echelon")
        start = (data.get("periode_versement_bourse") or {}).get("date_rentree")
        return Scholarship(
            holder=bool(data.get("est_boursier")),
            level=None if level is None else int(str(level).removesuffix("bis")),
            start=datetime.date.fromisoformat(start) if start else None,
        )


def _data(response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 200:
        data: dict[str, Any] = response.json()["data"]
        return data
    errors = response.json().get("errors") or [{}]
    code, detail = str(errors[0].get("code", "")), str(errors[0].get("detail", response.text))
    if response.status_code == 404:
        raise NotFound(404, code, detail)
    if response.status_code in (502, 503, 504):
        raise ProviderUnavailable(response.status_code, code, detail)
    raise ApiError(response.status_code, code, detail)


def company_may_apply(api: ApiGouv, siren: str) -> Decision:
    try:
        company = api.company(siren)
    except NotFound:
        return Decision(False, "unknown SIREN")
    except ProviderUnavailable:
        return Decision(False, "INSEE is unavailable, try again later")
    if not company.active:
        return Decision(False, f"{company.name} has ceased trading")
    return Decision(True, f"{company.name} is active")


def student_discount(api: ApiGouv, ine: str) -> int:
    """Percent off: 50 from scholarship level 5, 25 below, 0 for a student without scholarship."""
    try:
        scholarship = api.scholarship(ine)
    except NotFound:
        return 0
    if not scholarship.holder or scholarship.level is None:
        return 0
    return 50 if scholarship.level >= 5 else 25
