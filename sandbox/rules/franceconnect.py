"""FranceConnect mode (spec §5): a fake introspection per token, an identity, civility parameters.

On a FranceConnect route, `Authorization: Bearer <x>` carries a FranceConnect access
token. Its introspection comes from the `payloads/france_connect/` case whose
`params.token` equals `<x>` (case-insensitive); no network call is ever made. The
identity then becomes the civility parameters of the operation (a mapping written
as data in the lookup rules), which are validated and looked up like any request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# How the real controllers turn an identity into civility parameters (§5.4).
DEFAULT_MAPPING: Mapping[str, str] = {
    "nomNaissance": "family_name",
    "prenoms": "given_names",
    "anneeDateNaissance": "birth_year",
    "moisDateNaissance": "birth_month",
    "jourDateNaissance": "birth_day",
    "sexeEtatCivil": "gender_letter",
    "codeCogInseeCommuneNaissance": "birthplace",
    "codeCogInseePaysNaissance": "birthcountry",
}


@dataclass(frozen=True, slots=True)
class Identity:
    family_name: str
    given_name: str
    birthdate: str
    gender: str
    birthplace: str
    birthcountry: str

    @classmethod
    def from_introspection(cls, introspection: Mapping[str, Any]) -> Identity:
        def text(name: str) -> str:
            value = introspection.get(name)
            return value if isinstance(value, str) else ""

        return cls(
            family_name=text("family_name"),
            given_name=text("given_name"),
            birthdate=text("birthdate"),
            gender=text("gender"),
            birthplace=text("birthplace"),
            birthcountry=text("birthcountry"),
        )

    def _date_part(self, index: int) -> int | None:
        parts = self.birthdate.split("-")
        try:
            return int(parts[index])
        except (IndexError, ValueError):
            return None

    def _fr_date(self) -> str:
        parts = self.birthdate.split("-")
        return "/".join(reversed(parts)) if len(parts) == 3 else self.birthdate


EXPRESSIONS: Mapping[str, Callable[[Identity], Any]] = {
    "family_name": lambda i: i.family_name or None,
    "given_name": lambda i: i.given_name or None,
    "given_names": lambda i: i.given_name.split() or None,
    "first_given_name": lambda i: next(iter(i.given_name.split()), None),
    "given_names_comma": lambda i: ", ".join(i.given_name.split()) or None,
    "birth_year": lambda i: i._date_part(0),
    "birth_month": lambda i: i._date_part(1),
    "birth_day": lambda i: i._date_part(2),
    "birthdate": lambda i: i.birthdate or None,
    "birthdate_fr": lambda i: i._fr_date() or None,
    "gender": lambda i: i.gender or None,
    "gender_letter": lambda i: "M" if i.gender == "male" else "F",
    "birthplace": lambda i: i.birthplace or None,
    "birthplace_or_empty": lambda i: i.birthplace,
    "birthcountry": lambda i: i.birthcountry or None,
}


def check_mapping(mapping: Mapping[str, str], where: str) -> None:
    unknown = sorted(set(mapping.values()) - set(EXPRESSIONS))
    if unknown:
        raise ValueError(f"{where}: unknown FranceConnect identity field(s) {unknown} (one of {sorted(EXPRESSIONS)})")


def civility_parameters(identity: Identity, mapping: Mapping[str, str]) -> dict[str, Any]:
    """The parameters the controller builds from the identity; absent fields are left out."""
    built = {name: EXPRESSIONS[expression](identity) for name, expression in mapping.items()}
    return {name: value for name, value in built.items() if value is not None}
