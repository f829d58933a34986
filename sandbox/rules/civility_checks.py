"""Check kinds of API Particulier's person searches (spec §3.4): birth name, given names,
birth date and place, sex, and the CNAV and DSNJ variants of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from sandbox.rules.checks import Check, Params, Run, line_match, simple_kind
from sandbox.rules.coercion import as_text, is_blank, ruby_to_i, ruby_valid_date
from sandbox.rules.error_texts import ApiError
from sandbox.rules.table import Options

_CHARSETS = {
    "civility": re.compile(r"[a-zA-ZÀ-ÖØ-öø-ÿ' -]+"),
    "dsnj": re.compile(r"[a-zA-ZÀ-ÖØ-öø-ÿÆæ' -]+"),
}


def _charset(options: Options, default: str, allow_none: bool) -> re.Pattern[str] | None:
    names = [*_CHARSETS, "none"] if allow_none else list(_CHARSETS)
    name = options.choice("charset", default, names)
    return None if name == "none" else _CHARSETS[name]


@dataclass(frozen=True, slots=True)
class NomNaissanceCheck(Check):
    """Birth name: required, letters (Latin-1 accents), apostrophe, space and hyphen."""

    kind: ClassVar[str] = "nom_naissance"
    param: str
    charset: re.Pattern[str]
    code: str

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        value = params.get(self.param)
        ok = isinstance(value, str) and not is_blank(value) and self.charset.fullmatch(value) is not None
        return [] if ok else [run.error(self.code)]


def _nom_naissance(options: Options) -> Check:
    charset = _charset(options, "civility", allow_none=False)
    assert charset is not None
    return NomNaissanceCheck(options.text("param", "nomNaissance"), charset, options.code("code", "00420"))


@dataclass(frozen=True, slots=True)
class PrenomsCheck(Check):
    """Given names: a non-empty list of strings, each matching `charset` when one is set.

    `form` says how the request carries them: `list` (`prenoms[]=…`; a bare `prenoms=`
    string is invalid), `scalar` (one name, v2 `prenom`: always a one-element list) or
    `words` (v2 `prenoms`, split on spaces). `optional`: a parameter not sent is fine (CNAV).
    """

    kind: ClassVar[str] = "prenoms"
    param: str
    form: str
    charset: re.Pattern[str] | None
    optional: bool
    code: str

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        value = params.get(self.param)
        if self.optional and value is None:
            return []
        names: Any
        if self.form == "scalar":
            names = [value]
        elif self.form == "words":
            names = value.split() if isinstance(value, str) else None  # absent or a list: invalid
        else:
            names = value
        ok = (
            isinstance(names, list)
            and bool(names)
            and all(isinstance(name, str) for name in names)
            and (self.charset is None or all(self.charset.fullmatch(name) for name in names))
        )
        return [] if ok else [run.error(self.code)]


def _prenoms(options: Options) -> Check:
    return PrenomsCheck(
        param=options.text("param", "prenoms"),
        form=options.choice("form", "list", ("list", "scalar", "words")),
        charset=_charset(options, "none", allow_none=True),
        optional=options.flag("optional", False),
        code=options.code("code", "00421"),
    )


@dataclass(frozen=True, slots=True)
class _DateParams:
    """Where a birth date is read: three parameters, or one `YYYY-MM-DD` parameter (`iso`)."""

    year: str
    month: str
    day: str
    iso: str | None

    def parts(self, params: Params) -> tuple[Any, Any, Any]:
        if self.iso is None:
            return params.get(self.year), params.get(self.month), params.get(self.day)
        raw = params.get(self.iso)
        pieces = raw.split("-") if isinstance(raw, str) else []
        # Ruby `"".split("-")` is [], so missing pieces are nil
        while pieces and pieces[-1] == "":
            pieces.pop()
        padded = [*pieces, None, None, None]
        return padded[0], padded[1], padded[2]

    def names(self) -> tuple[str, ...]:
        """The parameters the date is read from."""
        return (self.iso,) if self.iso else (self.year, self.month, self.day)

    @classmethod
    def from_options(cls, options: Options) -> _DateParams:
        iso = options.get("iso")
        return cls(
            year=options.text("year", "anneeDateNaissance"),
            month=options.text("month", "moisDateNaissance"),
            day=options.text("day", "jourDateNaissance"),
            iso=None if iso is None else str(iso),
        )


def _birth_date(year: Any, month: Any, day: Any) -> tuple[int, int, int] | None:
    y, m, d = ruby_to_i(year), ruby_to_i(month), ruby_to_i(day)
    return (y, m, d) if y > 0 and ruby_valid_date(y, m, d) else None


@dataclass(frozen=True, slots=True)
class DateNaissanceCheck(Check):
    """Birth date, all three parts required: year > 0 (00422), month 1..12 (00423), day 1..31 (00424),
    a real calendar date (00425). Parts are read with Ruby `to_i`; the first failure is the only error."""

    kind: ClassVar[str] = "date_naissance"
    where: _DateParams

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        year, month, day = (ruby_to_i(part) for part in self.where.parts(params))
        if year <= 0:
            return [run.error("00422")]
        if not 1 <= month <= 12:
            return [run.error("00423")]
        if not 1 <= day <= 31:
            return [run.error("00424")]
        return [] if ruby_valid_date(year, month, day) else [run.error("00425")]

    def codes(self) -> tuple[str, ...]:
        return ("00422", "00423", "00424", "00425")

    def parameters(self) -> dict[str, tuple[str, ...]]:
        if self.where.iso:
            return dict.fromkeys(self.codes(), self.where.names())
        where = self.where
        return {"00422": (where.year,), "00423": (where.month,), "00424": (where.day,), "00425": where.names()}


@dataclass(frozen=True, slots=True)
class CnavDateNaissanceCheck(Check):
    """CNAV birth date: each part may be absent, present parts must be valid, and a complete
    date must be real and in [1900-01-01, yesterday]. One code for every failure."""

    kind: ClassVar[str] = "cnav_date_naissance"
    where: _DateParams
    code: str

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        # each part read once (`to_i`): absent parts stay None
        year, month, day = (None if part is None else ruby_to_i(part) for part in self.where.parts(params))
        bad = (
            (year is not None and year <= 0)
            or (month is not None and not 1 <= month <= 12)
            or (day is not None and not 1 <= day <= 31)
        )
        if not bad and year is not None and month is not None and day is not None:
            yesterday = run.today - timedelta(days=1)
            born = (year, month, day)
            latest = (yesterday.year, yesterday.month, yesterday.day)
            bad = not ruby_valid_date(*born) or not (1900, 1, 1) <= born <= latest
        return [run.error(self.code)] if bad else []

    def parameters(self) -> dict[str, tuple[str, ...]]:
        return dict.fromkeys(self.codes(), self.where.names())


@dataclass(frozen=True, slots=True)
class SexeCheck(Check):
    """Sex `M` or `F`, any case; blank is an error unless `optional` (CNAV)."""

    kind: ClassVar[str] = "sexe"
    param: str
    optional: bool
    code: str

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        value = params.get(self.param)
        if is_blank(value):
            return [] if self.optional else [run.error(self.code)]
        return [] if isinstance(value, str) and value.upper() in ("M", "F") else [run.error(self.code)]


_PAYS = re.compile(r"^[0-9]{5}$", re.MULTILINE)
_COMMUNE = re.compile(r"^(?:[013-9][0-9]|2[AB1-9])[0-9]{3}$", re.MULTILINE)
_DEPARTEMENT = re.compile(r"2A|2B|97[1-4]|976|0[1-9]|[1-8][0-9]|9[0-5]")
FRANCE = "99100"


@dataclass(frozen=True, slots=True)
class PaysNaissanceCheck(Check):
    """Birth country: required, 5 digits, starting with `99` (or `92352`)."""

    kind: ClassVar[str] = "pays_naissance"
    param: str
    code: str

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        value = params.get(self.param)
        text = as_text(value)
        ok = (
            not is_blank(value)
            and text is not None
            and line_match(_PAYS, text)
            and (text.startswith("99") or text == "92352")
        )
        return [] if ok else [run.error(self.code)]


@dataclass(frozen=True, slots=True)
class CommuneNaissanceCheck(Check):
    """Birth commune: optional, else a COG code (`75056`, `2A004`)."""

    kind: ClassVar[str] = "commune_naissance"
    param: str
    code: str

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        value = params.get(self.param)
        return [] if is_blank(value) or line_match(_COMMUNE, value) else [run.error(self.code)]


@dataclass(frozen=True, slots=True)
class CnavLieuNaissanceCheck(Check):
    """CNAV birth place: a commune code is required when born in France (country `99100`),
    unless the trio commune name + departement + birth year is given. The trio is then
    checked instead: year 4 digits in 1900..today (00422), departement code (00428)."""

    kind: ClassVar[str] = "cnav_lieu_naissance"
    commune: str
    pays: str
    nom_commune: str
    departement: str
    annee: str
    code: str

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        commune = params.get(self.commune)
        france = as_text(params.get(self.pays)) == FRANCE
        if not is_blank(commune) or not france:
            ok = (is_blank(commune) and not france) or line_match(_COMMUNE, commune)
            return [] if ok else [run.error(self.code)]
        if all(not is_blank(params.get(name)) for name in (self.nom_commune, self.departement, self.annee)):
            found = []
            year = as_text(params.get(self.annee))
            if year is None or not re.fullmatch(r"[0-9]{4}", year) or not 1900 <= int(year) <= run.today.year:
                found.append(run.error("00422"))
            departement = as_text(params.get(self.departement))
            if departement is None or not _DEPARTEMENT.fullmatch(departement):
                found.append(run.error("00428"))
            return found
        return [run.error(self.code)]

    def codes(self) -> tuple[str, ...]:
        return (self.code, "00422", "00428")

    def parameters(self) -> dict[str, tuple[str, ...]]:
        return {self.code: (self.commune, self.pays), "00422": (self.annee,), "00428": (self.departement,)}


def _cnav_lieu_naissance(options: Options) -> Check:
    return CnavLieuNaissanceCheck(
        commune=options.text("commune", "codeCogInseeCommuneNaissance"),
        pays=options.text("pays", "codeCogInseePaysNaissance"),
        nom_commune=options.text("nom_commune", "nomCommuneNaissance"),
        departement=options.text("departement", "codeCogInseeDepartementNaissance"),
        annee=options.text("annee", "anneeDateNaissance"),
        code=options.code("code", "00365"),
    )


@dataclass(frozen=True, slots=True)
class DsnjAgeCheck(Check):
    """DSNJ: the person must be `min`..`max` years old (inclusive) on `today`; only checked on a valid date."""

    kind: ClassVar[str] = "dsnj_age"
    where: _DateParams
    minimum: int
    maximum: int
    code: str

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        born = _birth_date(*self.where.parts(params))
        if born is None:
            return []
        year, month, day = born
        today = run.today
        age = today.year - year - ((today.month, today.day) < (month, day))
        return [] if self.minimum <= age <= self.maximum else [run.error(self.code)]

    def parameters(self) -> dict[str, tuple[str, ...]]:
        return dict.fromkeys(self.codes(), self.where.names())


@dataclass(frozen=True, slots=True)
class CnavMoisCheck(Check):
    """CNAV QF `mois`: optional; 1..12 and, when `annee` is this year or later, not after this month.
    (siade can append the same error twice for `mois=13` this year; one is reported.)"""

    kind: ClassVar[str] = "cnav_mois"
    param: str
    annee: str
    code: str

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        value = params.get(self.param)
        if value is None:
            return []
        month = ruby_to_i(value)
        annee = params.get(self.annee)
        future = annee is not None and ruby_to_i(annee) >= run.today.year and month > run.today.month
        return [run.error(self.code)] if future or not 1 <= month <= 12 else []


def _sexe(options: Options) -> Check:
    return SexeCheck(
        options.text("param", "sexeEtatCivil"), options.flag("optional", False), options.code("code", "00427")
    )


def _date_naissance(options: Options) -> Check:
    return DateNaissanceCheck(_DateParams.from_options(options))


def _cnav_date_naissance(options: Options) -> Check:
    return CnavDateNaissanceCheck(_DateParams.from_options(options), options.code("code", "00363"))


def _dsnj_age(options: Options) -> Check:
    return DsnjAgeCheck(
        _DateParams.from_options(options),
        options.integer("min", 16),
        options.integer("max", 25),
        options.code("code", "39400"),
    )


def _cnav_mois(options: Options) -> Check:
    return CnavMoisCheck(options.text("param", "mois"), options.text("annee", "annee"), options.code("code", "00354"))


KINDS: dict[str, Callable[[Options], Check]] = {
    "nom_naissance": _nom_naissance,
    "prenoms": _prenoms,
    "date_naissance": _date_naissance,
    "cnav_date_naissance": _cnav_date_naissance,
    "sexe": _sexe,
    "pays_naissance": simple_kind(PaysNaissanceCheck, "codeCogInseePaysNaissance", "00400"),
    "commune_naissance": simple_kind(CommuneNaissanceCheck, "codeCogInseeCommuneNaissance", "00365"),
    "cnav_lieu_naissance": _cnav_lieu_naissance,
    "dsnj_age": _dsnj_age,
    "cnav_mois": _cnav_mois,
}
"""The person-search check kinds, with the builder that reads their options."""
