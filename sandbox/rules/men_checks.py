"""The check kind of API Particulier's MEN scolarités search: one school, or a perimeter."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from sandbox.rules.checks import Check, Params, Run, line_match
from sandbox.rules.coercion import is_blank
from sandbox.rules.error_texts import ApiError
from sandbox.rules.table import Options

_CODE_ETABLISSEMENT = re.compile(r"^[0-9]{7}\w$", re.MULTILINE | re.ASCII)
# The BCN code lists (siade/config/data/men/codes_bcn_*.yml) are not shipped with the
# fixtures, so any 2- or 3-character alphanumeric code is accepted as "known".
_BCN_CODE = re.compile(r"[0-9A-Za-z]{2,3}")


@dataclass(frozen=True, slots=True)
class MenSearchCheck(Check):
    """MEN: exactly one of `codeEtablissement` (7 digits + 1 character) or a perimeter.

    Both → 00419; neither → 00410; bad code → 00410. A perimeter needs `degreEtablissement`
    `1D`/`2D` (00412) and exactly one of the department / region lists (00413), a non-empty
    list without blanks (00414) of known BCN codes (00416 departments, 00417 regions).
    """

    kind: ClassVar[str] = "men_search"
    code_etablissement: str
    degre: str
    departements: str
    regions: str

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        code = params.get(self.code_etablissement)
        perimeters = [
            (name, params.get(name)) for name in (self.departements, self.regions) if not is_blank(params.get(name))
        ]
        if not is_blank(code) and perimeters:
            return [run.error("00419")]
        if not is_blank(code):
            return [] if line_match(_CODE_ETABLISSEMENT, code) else [run.error("00410")]
        if not perimeters:
            return [run.error("00410")]
        found = []
        if params.get(self.degre) not in ("1D", "2D"):
            found.append(run.error("00412"))
        if len(perimeters) != 1:
            found.append(run.error("00413"))
            return found
        name, values = perimeters[0]
        if not isinstance(values, list) or not values or any(is_blank(v) for v in values):
            found.append(run.error("00414"))
        elif not all(isinstance(v, str) and _BCN_CODE.fullmatch(v) for v in values):
            found.append(run.error("00416" if name == self.departements else "00417"))
        return found

    def codes(self) -> tuple[str, ...]:
        return ("00410", "00412", "00413", "00414", "00416", "00417", "00419")

    def parameters(self) -> dict[str, tuple[str, ...]]:
        perimeter = self.departements, self.regions
        return {
            "00410": (self.code_etablissement,),
            "00419": (self.code_etablissement, *perimeter),
            "00412": (self.degre,),
            "00413": perimeter,
            "00414": perimeter,
            "00416": (self.departements,),
            "00417": (self.regions,),
        }


def _men_search(options: Options) -> Check:
    return MenSearchCheck(
        code_etablissement=options.text("code_etablissement", "codeEtablissement"),
        degre=options.text("degre", "degreEtablissement"),
        departements=options.text("departements", "codesBcnDepartements"),
        regions=options.text("regions", "codesBcnRegions"),
    )


KINDS: dict[str, Callable[[Options], Check]] = {"men_search": _men_search}
"""The MEN check kind, with the builder that reads its options."""
