"""Parameter validation of the real staging (spec §3), with its exact error texts.

Three entry points, used by the request pipeline:

* `entreprise_tracking_errors(params)`: API Entreprise's `context` / `recipient` /
  `object` (§3.2), one error per missing parameter.
* `recipient_error(params, required=…)`: `recipient` must be a SIRET (00210).
* `build_checks().for_operation(operation_id).errors(params, today=…, request_id=…)`:
  the endpoint's own validators (§3.4, §3.5), every error they find.

Per-operation rules are data (`validation_rules.yaml`, same conventions as
`lookup_rules.yaml`); this module only implements the closed vocabulary of check
kinds those rules use (see `CHECK_KINDS`). Texts come from `error_catalogue.yaml`.

`params` is the request as `sandbox.matching.parse_query` gives it plus the path
parameters: strings, or lists of strings for `name[]=` parameters. Absent means
absent from the mapping (or `None`). No check reads the clock: dates are relative
to the `today` argument.
"""

from __future__ import annotations

import fnmatch
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any, ClassVar

import yaml

from sandbox.rules.coercion import as_text, is_blank, ruby_integer, ruby_to_i, ruby_valid_date
from sandbox.rules.errors import ApiError
from sandbox.rules.identifiers import (
    is_ine,
    is_siren,
    is_siren_or_rna,
    is_siren_or_siret_or_rna,
    is_siret,
    is_siret_or_eori,
    is_siret_or_rna,
    is_uuid,
)

__all__ = [
    "CHECK_KINDS",
    "Catalogue",
    "CatalogueError",
    "Check",
    "CheckTable",
    "CheckVariant",
    "OperationChecks",
    "ValidationRule",
    "ValidationRuleError",
    "build_checks",
    "builtin_checks",
    "builtin_validation_rules",
    "entreprise_tracking_errors",
    "load_catalogue",
    "parse_validation_rules",
    "recipient_error",
]

Params = Mapping[str, Any]

# ---------------------------------------------------------------------------
# Error catalogue
# ---------------------------------------------------------------------------


class CatalogueError(ValueError):
    """`error_catalogue.yaml` is malformed, or an error was asked for with wrong arguments."""


@dataclass(frozen=True, slots=True)
class _Entry:
    code: str
    title: str
    details: Mapping[str, str]  # api ("entreprise", "particulier", "default", or "" when single) -> text
    source: Mapping[str, str] | None
    meta: Mapping[str, Any]
    args: frozenset[str]


class Catalogue:
    """Error texts by key (a code, or `code:variant`), read from `error_catalogue.yaml`."""

    def __init__(self, entries: Mapping[str, _Entry]) -> None:
        self._entries = dict(entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def error(self, code: str, **args: str) -> ApiError:
        """The error `code` (a catalogue key) with its placeholders filled from `args`.

        `api` ("entreprise" / "particulier") picks the detail of codes whose text
        differs per API (00100, 00103); it is ignored by the others. Every other
        argument must be a placeholder of the detail, and every placeholder must be given.
        """
        entry = self._entries.get(code)
        if entry is None:
            raise CatalogueError(f"unknown error code {code!r} (not in error_catalogue.yaml)")
        api = args.pop("api", None)
        missing = entry.args - args.keys()
        unexpected = args.keys() - entry.args
        if missing or unexpected:
            raise CatalogueError(
                f"error {code}: expected arguments {sorted(entry.args)}, "
                f"missing {sorted(missing)}, unexpected {sorted(unexpected)}"
            )
        if "" in entry.details:
            template = entry.details[""]
        elif api is not None and api in entry.details:
            template = entry.details[api]
        elif "default" in entry.details:
            template = entry.details["default"]
        else:
            raise CatalogueError(
                f"error {code}: its detail depends on the API; pass api= one of {sorted(entry.details)}"
            )
        detail = template.format_map(args) if entry.args else template
        return ApiError(code=entry.code, title=entry.title, detail=detail, source=entry.source, meta=dict(entry.meta))


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _string_mapping(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise CatalogueError(f"{where}: must be a non-empty mapping of strings")
    result = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise CatalogueError(f"{where}: {key!r} must be a string")
        result[str(key)] = value
    return result


def parse_catalogue(raw: Any, origin: str) -> Catalogue:
    errors = raw.get("errors") if isinstance(raw, dict) else None
    if not isinstance(errors, dict) or not errors:
        raise CatalogueError(f"{origin}: expected a top-level `errors:` mapping")
    entries: dict[str, _Entry] = {}
    for key, body in errors.items():
        key = str(key)
        where = f"{origin}: {key}"
        code = key.split(":", 1)[0]
        if not re.fullmatch(r"[0-9]{5}", code):
            raise CatalogueError(f"{where}: the key must be a 5-digit code, optionally followed by `:variant`")
        if not isinstance(body, dict) or not isinstance(body.get("title"), str):
            raise CatalogueError(f"{where}: needs a string `title`")
        raw_detail = body.get("detail")
        details = {"": raw_detail} if isinstance(raw_detail, str) else _string_mapping(raw_detail, f"{where}: detail")
        declared = frozenset(str(a) for a in body.get("args") or ())
        for variant, text in details.items():
            used = _placeholders(text)
            if used != declared:
                raise CatalogueError(
                    f"{where}: detail {variant or ''} uses placeholders {sorted(used)}, "
                    f"`args` declares {sorted(declared)}"
                )
        source = body.get("source")
        meta = body.get("meta") or {}
        if not isinstance(meta, dict):
            raise CatalogueError(f"{where}: `meta` must be a mapping")
        entries[key] = _Entry(
            code=code,
            title=body["title"],
            details=details,
            source=None if source is None else _string_mapping(source, f"{where}: source"),
            meta=meta,
            args=declared,
        )
    return Catalogue(entries)


@cache
def load_catalogue() -> Catalogue:
    """The built-in catalogue (read once)."""
    text = resources.files("sandbox.rules").joinpath("error_catalogue.yaml").read_text(encoding="utf-8")
    return parse_catalogue(yaml.load(text, Loader=yaml.CSafeLoader), "sandbox/error_catalogue.yaml")


# ---------------------------------------------------------------------------
# Value helpers (Rails semantics)
# ---------------------------------------------------------------------------


def _line_match(pattern: re.Pattern[str], value: Any) -> bool:
    """Ruby `value.to_s =~ /^…$/`: anchors are per line, so any line may match."""
    text = as_text(value)
    if text is None:
        text = str(value)  # a list renders with brackets (Ruby: Array#to_s), so no identifier pattern matches
    return pattern.search(text) is not None


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Run:
    catalogue: Catalogue
    today: date
    request_id: str | None

    def error(self, code: str) -> ApiError:
        return self.catalogue.error(code)


class ValidationRuleError(ValueError):
    """A validation rule in the table is malformed."""


class _Options:
    """The options of one check in the YAML, each read at most once; leftovers are an error."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw = dict(raw)
        self.where = where
        self.read: set[str] = {"kind"}

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return self.raw.get(name, default)

    def text(self, name: str, default: str | None = None) -> str:
        """A string option; without a default it is required."""
        value = self.get(name, default)
        if value is None:
            raise ValidationRuleError(f"{self.where}: `{name}` is required")
        if not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
            raise ValidationRuleError(f"{self.where}: `{name}` must be a non-empty string")
        return str(value)

    def code(self, name: str, default: str | None = None) -> str:
        """An error code (a catalogue key); without a default it is required."""
        value = self.get(name, default)
        if value is None:
            raise ValidationRuleError(f"{self.where}: `{name}` is required")
        if not isinstance(value, str):
            # YAML reads an unquoted 00301 as a number: codes must be quoted
            raise ValidationRuleError(f'{self.where}: `{name}` must be a quoted error code like "00301"')
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.get(name, default)
        if not isinstance(value, bool):
            raise ValidationRuleError(f"{self.where}: `{name}` must be true or false")
        return value

    def choice(self, name: str, default: str, allowed: Iterable[str]) -> str:
        value = self.get(name, default)
        value = "false" if value is False else "true" if value is True else value
        allowed = tuple(allowed)
        if value not in allowed:
            raise ValidationRuleError(f"{self.where}: `{name}` must be one of {list(allowed)}, not {value!r}")
        return str(value)

    def integer(self, name: str, default: int | None = None) -> int:
        value = self.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationRuleError(f"{self.where}: `{name}` must be an integer")
        return value

    def finish(self) -> None:
        unknown = set(self.raw) - self.read
        if unknown:
            raise ValidationRuleError(f"{self.where}: unknown option(s) {sorted(unknown)}")


class Check:
    """One validator of a rule: reads some parameters, returns the errors it finds."""

    __slots__ = ()
    code: str  # the error code of the checks that emit one (a field of each subclass)

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        raise NotImplementedError

    def codes(self) -> tuple[str, ...]:
        """The catalogue keys this check can emit (checked against the catalogue at build time).

        Most checks emit one code, their `code` field; the others say which codes they emit."""
        return (self.code,)

    @property
    def is_barrier(self) -> bool:
        return False


# --------------------------------------------------------------- identifiers


_IDENTIFIERS: dict[str, tuple[Callable[[object], bool], str, str]] = {
    # kind: (predicate, default parameter, default code)
    "siren": (is_siren, "siren", "00301"),
    "siret": (is_siret, "siret", "00302"),
    "siret_or_rna": (is_siret_or_rna, "siret_or_rna", "00303"),
    "siret_or_eori": (is_siret_or_eori, "siret_or_eori", "00304"),
    "siren_or_siret_or_rna": (is_siren_or_siret_or_rna, "siren_or_siret_or_rna", "00330"),
    "siren_or_rna": (is_siren_or_rna, "siren_or_rna", "00333"),
    "ine": (is_ine, "ine", "00360"),
}


@dataclass(frozen=True, slots=True)
class IdentifierCheck(Check):
    """`param` must be an identifier of the kind's format (§3.3); absent is invalid."""

    kind: str
    param: str
    code: str
    predicate: Callable[[object], bool] = field(repr=False, compare=False)

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        value = params.get(self.param)
        return [] if not is_blank(value) and self.predicate(value) else [run.error(self.code)]


def _identifier(kind: str) -> Callable[[_Options], Check]:
    predicate, param, code = _IDENTIFIERS[kind]

    def build(options: _Options) -> Check:
        return IdentifierCheck(kind, options.text("param", param), options.code("code", code), predicate)

    return build


# --------------------------------------------------------------- generic


@dataclass(frozen=True, slots=True)
class PresentCheck(Check):
    """`param` must be present and not blank."""

    kind: ClassVar[str] = "present"
    param: str
    code: str

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        return [run.error(self.code)] if is_blank(params.get(self.param)) else []


@dataclass(frozen=True, slots=True)
class PatternCheck(Check):
    """`param` must match `regex` (whole value, or any line with `anchors: line`); blank is invalid unless optional."""

    kind: ClassVar[str] = "pattern"
    param: str
    pattern: re.Pattern[str]
    code: str
    optional: bool
    per_line: bool

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        value = params.get(self.param)
        if is_blank(value):
            return [] if self.optional else [run.error(self.code)]
        if self.per_line:
            ok = _line_match(self.pattern, value)
        else:
            text = as_text(value)
            ok = text is not None and self.pattern.fullmatch(text) is not None
        return [] if ok else [run.error(self.code)]


def _pattern(options: _Options) -> Check:
    per_line = options.choice("anchors", "whole", ("whole", "line")) == "line"
    source = options.text("regex")
    try:
        pattern = re.compile(source, re.ASCII | (re.MULTILINE if per_line else 0))
    except re.error as error:
        raise ValidationRuleError(f"{options.where}: bad regex {source!r}: {error}") from error
    return PatternCheck(
        param=options.text("param"),
        pattern=pattern,
        code=options.code("code"),
        optional=options.flag("optional", False),
        per_line=per_line,
    )


@dataclass(frozen=True, slots=True)
class _YearBound:
    """A year, absolute (`2006`) or relative to today (`current`, `current-1`)."""

    absolute: int | None
    offset: int

    def resolve(self, today: date) -> int:
        return self.absolute if self.absolute is not None else today.year + self.offset

    @classmethod
    def parse(cls, raw: Any, where: str) -> _YearBound:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return cls(raw, 0)
        match = re.fullmatch(r"current(?:\s*([+-])\s*([0-9]+))?", str(raw).strip())
        if not match:
            raise ValidationRuleError(f"{where}: a year bound is an integer or `current`, `current-N`, `current+N`")
        offset = int(match.group(2) or 0) * (-1 if match.group(1) == "-" else 1)
        return cls(None, offset)


@dataclass(frozen=True, slots=True)
class YearCheck(Check):
    """`param` is 4 digits in [min, max]; `code` when badly formatted, `range_code` when out of range.

    `optional`: `absent` (a parameter not sent is fine) or `blank` (an empty one too).
    """

    kind: ClassVar[str] = "year"
    param: str
    minimum: _YearBound
    maximum: _YearBound
    code: str
    range_code: str
    optional: str

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        value = params.get(self.param)
        if (self.optional == "absent" and value is None) or (self.optional == "blank" and is_blank(value)):
            return []
        text = as_text(value)
        if is_blank(value) or text is None or not re.fullmatch(r"[0-9]{4}", text):
            return [run.error(self.code)]
        if self.minimum.resolve(run.today) <= int(text) <= self.maximum.resolve(run.today):
            return []
        return [run.error(self.range_code)]

    def codes(self) -> tuple[str, ...]:
        return (self.code, self.range_code)


def _year(options: _Options) -> Check:
    code = options.code("code", "00307")
    return YearCheck(
        param=options.text("param", "year"),
        minimum=_YearBound.parse(options.get("min", 1900), options.where),
        maximum=_YearBound.parse(options.get("max", "current"), options.where),
        code=code,
        range_code=options.code("range_code", code),
        optional=options.choice("optional", "false", ("false", "absent", "blank")),
    )


_MONTHS = frozenset(f"{m:02d}" for m in range(1, 13))


@dataclass(frozen=True, slots=True)
class MonthTwoDigitsCheck(Check):
    """`param` is exactly `01` … `12`."""

    kind: ClassVar[str] = "month_two_digits"
    param: str
    code: str

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        value = params.get(self.param)
        return [] if isinstance(value, str) and value in _MONTHS else [run.error(self.code)]


@dataclass(frozen=True, slots=True)
class IntRangeCheck(Check):
    """An optional integer `param` in [min, max].

    `parse: integer` (Ruby `Integer()`: the whole value, an empty value is invalid) or
    `to_i` (Ruby `to_i`: leading digits, anything else is 0). `default` replaces a blank value.
    """

    kind: ClassVar[str] = "int_range"
    param: str
    minimum: int
    maximum: int
    code: str
    strict: bool
    default: str | None

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        value = params.get(self.param)
        if self.default is not None and is_blank(value):
            value = self.default
        if value is None:
            return []
        number = ruby_integer(value) if self.strict else ruby_to_i(value)
        return [] if number is not None and self.minimum <= number <= self.maximum else [run.error(self.code)]


def _int_range(options: _Options) -> Check:
    default = options.get("default")
    return IntRangeCheck(
        param=options.text("param"),
        minimum=options.integer("min"),
        maximum=options.integer("max"),
        code=options.code("code"),
        strict=options.choice("parse", "integer", ("integer", "to_i")) == "integer",
        default=None if default is None else str(default),
    )


@dataclass(frozen=True, slots=True)
class RequestIdCheck(Check):
    """The request id (X-Request-Id) must be a UUID; only checked when the caller passes one."""

    kind: ClassVar[str] = "request_id_uuid"
    code: str

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        if run.request_id is None or is_uuid(run.request_id):
            return []
        return [run.error(self.code)]


@dataclass(frozen=True, slots=True)
class StopIfErrors(Check):
    """Later checks run only when the earlier ones found nothing (a separate siade interactor)."""

    kind: ClassVar[str] = "stop_if_errors"

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        return []

    def codes(self) -> tuple[str, ...]:
        return ()

    @property
    def is_barrier(self) -> bool:
        return True


# --------------------------------------------------------------- civility (§3.4)

_CHARSETS = {
    "civility": re.compile(r"[a-zA-ZÀ-ÖØ-öø-ÿ' -]+"),
    "dsnj": re.compile(r"[a-zA-ZÀ-ÖØ-öø-ÿÆæ' -]+"),
}


def _charset(options: _Options, default: str, allow_none: bool) -> re.Pattern[str] | None:
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

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        value = params.get(self.param)
        ok = isinstance(value, str) and not is_blank(value) and self.charset.fullmatch(value) is not None
        return [] if ok else [run.error(self.code)]


def _nom_naissance(options: _Options) -> Check:
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

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        value = params.get(self.param)
        if self.optional and value is None:
            return []
        names: Any
        if self.form == "scalar":
            names = [value]
        elif self.form == "words":
            names = value.split() if isinstance(value, str) else [] if value is None else None
        else:
            names = value
        ok = (
            isinstance(names, list)
            and bool(names)
            and all(isinstance(name, str) for name in names)
            and (self.charset is None or all(self.charset.fullmatch(name) for name in names))
        )
        return [] if ok else [run.error(self.code)]


def _prenoms(options: _Options) -> Check:
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

    @classmethod
    def from_options(cls, options: _Options) -> _DateParams:
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

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
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


@dataclass(frozen=True, slots=True)
class CnavDateNaissanceCheck(Check):
    """CNAV birth date: each part may be absent, present parts must be valid, and a complete
    date must be real and in [1900-01-01, yesterday]. One code for every failure."""

    kind: ClassVar[str] = "cnav_date_naissance"
    where: _DateParams
    code: str

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        year, month, day = self.where.parts(params)
        bad = (
            (year is not None and ruby_to_i(year) <= 0)
            or (month is not None and not 1 <= ruby_to_i(month) <= 12)
            or (day is not None and not 1 <= ruby_to_i(day) <= 31)
        )
        if not bad and year is not None and month is not None and day is not None:
            born = _birth_date(year, month, day)
            yesterday = run.today - timedelta(days=1)
            bad = born is None or not (1900, 1, 1) <= born <= (yesterday.year, yesterday.month, yesterday.day)
        return [run.error(self.code)] if bad else []


@dataclass(frozen=True, slots=True)
class SexeCheck(Check):
    """Sex `M` or `F`, any case; blank is an error unless `optional` (CNAV)."""

    kind: ClassVar[str] = "sexe"
    param: str
    optional: bool
    code: str

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
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

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        value = params.get(self.param)
        text = as_text(value)
        ok = (
            not is_blank(value)
            and text is not None
            and _line_match(_PAYS, text)
            and (text.startswith("99") or text == "92352")
        )
        return [] if ok else [run.error(self.code)]


@dataclass(frozen=True, slots=True)
class CommuneNaissanceCheck(Check):
    """Birth commune: optional, else a COG code (`75056`, `2A004`)."""

    kind: ClassVar[str] = "commune_naissance"
    param: str
    code: str

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        value = params.get(self.param)
        return [] if is_blank(value) or _line_match(_COMMUNE, value) else [run.error(self.code)]


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

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        commune = params.get(self.commune)
        france = as_text(params.get(self.pays)) == FRANCE
        if not is_blank(commune) or not france:
            ok = (is_blank(commune) and not france) or _line_match(_COMMUNE, commune)
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


def _cnav_lieu_naissance(options: _Options) -> Check:
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

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        born = _birth_date(*self.where.parts(params))
        if born is None:
            return []
        year, month, day = born
        today = run.today
        age = today.year - year - ((today.month, today.day) < (month, day))
        return [] if self.minimum <= age <= self.maximum else [run.error(self.code)]


@dataclass(frozen=True, slots=True)
class CnavMoisCheck(Check):
    """CNAV QF `mois`: optional; 1..12 and, when `annee` is this year or later, not after this month.
    (siade can append the same error twice for `mois=13` this year; one is reported.)"""

    kind: ClassVar[str] = "cnav_mois"
    param: str
    annee: str
    code: str

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        value = params.get(self.param)
        if value is None:
            return []
        month = ruby_to_i(value)
        annee = params.get(self.annee)
        future = annee is not None and ruby_to_i(annee) >= run.today.year and month > run.today.month
        return [run.error(self.code)] if future or not 1 <= month <= 12 else []


# --------------------------------------------------------------- MEN scolarités

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

    def errors(self, params: Params, run: _Run) -> list[ApiError]:
        code = params.get(self.code_etablissement)
        perimeters = [
            (name, params.get(name)) for name in (self.departements, self.regions) if not is_blank(params.get(name))
        ]
        if not is_blank(code) and perimeters:
            return [run.error("00419")]
        if not is_blank(code):
            return [] if _line_match(_CODE_ETABLISSEMENT, code) else [run.error("00410")]
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


# --------------------------------------------------------------- vocabulary


def _simple(cls: Callable[[str, str], Check], param: str, code: str) -> Callable[[_Options], Check]:
    def build(options: _Options) -> Check:
        return cls(options.text("param", param), options.code("code", code))

    return build


def _sexe(options: _Options) -> Check:
    return SexeCheck(
        options.text("param", "sexeEtatCivil"), options.flag("optional", False), options.code("code", "00427")
    )


def _date_naissance(options: _Options) -> Check:
    return DateNaissanceCheck(_DateParams.from_options(options))


def _cnav_date_naissance(options: _Options) -> Check:
    return CnavDateNaissanceCheck(_DateParams.from_options(options), options.code("code", "00363"))


def _dsnj_age(options: _Options) -> Check:
    return DsnjAgeCheck(
        _DateParams.from_options(options),
        options.integer("min", 16),
        options.integer("max", 25),
        options.code("code", "39400"),
    )


def _cnav_mois(options: _Options) -> Check:
    return CnavMoisCheck(options.text("param", "mois"), options.text("annee", "annee"), options.code("code", "00354"))


def _men_search(options: _Options) -> Check:
    return MenSearchCheck(
        code_etablissement=options.text("code_etablissement", "codeEtablissement"),
        degre=options.text("degre", "degreEtablissement"),
        departements=options.text("departements", "codesBcnDepartements"),
        regions=options.text("regions", "codesBcnRegions"),
    )


CHECK_KINDS: dict[str, Callable[[_Options], Check]] = {
    **{kind: _identifier(kind) for kind in _IDENTIFIERS},
    "present": lambda options: PresentCheck(options.text("param"), options.code("code")),
    "pattern": _pattern,
    "year": _year,
    "month_two_digits": _simple(MonthTwoDigitsCheck, "month", "00305"),
    "int_range": _int_range,
    "request_id_uuid": lambda options: RequestIdCheck(options.code("code", "00401")),
    "stop_if_errors": lambda options: StopIfErrors(),
    "nom_naissance": _nom_naissance,
    "prenoms": _prenoms,
    "date_naissance": _date_naissance,
    "cnav_date_naissance": _cnav_date_naissance,
    "sexe": _sexe,
    "pays_naissance": _simple(PaysNaissanceCheck, "codeCogInseePaysNaissance", "00400"),
    "commune_naissance": _simple(CommuneNaissanceCheck, "codeCogInseeCommuneNaissance", "00365"),
    "cnav_lieu_naissance": _cnav_lieu_naissance,
    "dsnj_age": _dsnj_age,
    "cnav_mois": _cnav_mois,
    "men_search": _men_search,
}
"""Every check kind a rule may use, with the builder that reads its options."""


def parse_check(raw: Any, where: str) -> Check:
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str):
        raise ValidationRuleError(f"{where}: a check is a mapping with a `kind`")
    kind = raw["kind"]
    builder = CHECK_KINDS.get(kind)
    if builder is None:
        raise ValidationRuleError(f"{where}: unknown check kind {kind!r} (one of {sorted(CHECK_KINDS)})")
    options = _Options(raw, f"{where}: {kind}")
    check = builder(options)
    options.finish()
    return check


# ---------------------------------------------------------------------------
# Rules (data)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckVariant:
    """The checks of a rule, applied when `when_present` is sent (or always, when it is None)."""

    checks: tuple[Check, ...]
    when_present: str | None = None


@dataclass(frozen=True, slots=True)
class ValidationRule:
    name: str
    patterns: tuple[str, ...]
    variants: tuple[CheckVariant, ...]
    note: str = ""

    def applies_to(self, operation_id: str) -> bool:
        return any(fnmatch.fnmatchcase(operation_id, pattern) for pattern in self.patterns)

    def variant_for(self, params: Params) -> CheckVariant:
        for variant in self.variants:
            if variant.when_present is None or not is_blank(params.get(variant.when_present)):
                return variant
        return self.variants[-1]


def _flatten(items: Any) -> Iterable[Any]:
    """Checks may nest lists, so YAML aliases of shared check lists can be combined."""
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def _variant(raw: Mapping[str, Any], where: str) -> CheckVariant:
    checks = raw.get("checks")
    if not isinstance(checks, list):
        raise ValidationRuleError(f"{where}: `checks` must be a list")
    when = raw.get("when_present")
    unknown = set(raw) - {"checks", "when_present"}
    if unknown:
        raise ValidationRuleError(f"{where}: unknown key(s) {sorted(unknown)}")
    return CheckVariant(
        checks=tuple(parse_check(c, f"{where}: check {i + 1}") for i, c in enumerate(_flatten(checks))),
        when_present=None if when is None else str(when),
    )


def parse_validation_rules(raw_rules: Iterable[Any], origin: str) -> list[ValidationRule]:
    """Rules from YAML data: `operations` (fnmatch patterns) and `checks`, or `variants` of
    `{when_present: param, checks: …}` (the first whose parameter is sent applies, the last is the default)."""
    rules = []
    for index, raw in enumerate(raw_rules):
        where = f"{origin}: rule {index + 1}"
        if not isinstance(raw, dict):
            raise ValidationRuleError(f"{where}: a rule is a mapping")
        patterns = raw.get("operations")
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list) or not patterns:
            raise ValidationRuleError(f"{where}: `operations` must list operation ids or patterns")
        unknown = set(raw) - {"operations", "checks", "variants", "note", "name"}
        if unknown:
            raise ValidationRuleError(f"{where}: unknown key(s) {sorted(unknown)}")
        if ("checks" in raw) == ("variants" in raw):
            raise ValidationRuleError(f"{where}: give either `checks` or `variants`")
        raw_variants = raw.get("variants")
        if raw_variants is not None:
            if not isinstance(raw_variants, list) or not raw_variants:
                raise ValidationRuleError(f"{where}: `variants` must be a non-empty list")
            variants = tuple(_variant(v, f"{where}: variant {i + 1}") for i, v in enumerate(raw_variants))
        else:
            variants = (_variant({"checks": raw["checks"]}, where),)
        rules.append(
            ValidationRule(
                name=str(raw.get("name", patterns[0])),
                patterns=tuple(str(p) for p in patterns),
                variants=variants,
                note=str(raw.get("note", "")).strip(),
            )
        )
    return rules


def builtin_validation_rules() -> list[ValidationRule]:
    text = resources.files("sandbox.rules").joinpath("validation_rules.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=yaml.CSafeLoader)
    return parse_validation_rules(data["rules"], "sandbox/validation_rules.yaml")


# ---------------------------------------------------------------------------
# Per operation
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperationChecks:
    """The validators of one operation (empty when no rule applies)."""

    operation_id: str
    rule: ValidationRule | None
    catalogue: Catalogue = field(repr=False)

    @property
    def is_empty(self) -> bool:
        return self.rule is None or all(not variant.checks for variant in self.rule.variants)

    def errors(self, params: Params, *, today: date, request_id: str | None = None) -> list[ApiError]:
        """Every error of the operation's validators, in the order of the rule's checks.

        A `stop_if_errors` check ends the run when errors were found before it. API
        Particulier v2 answers only the first error; v3+ and Entreprise list them all.
        """
        if self.rule is None:
            return []
        run = _Run(self.catalogue, today, request_id)
        found: list[ApiError] = []
        for check in self.rule.variant_for(params).checks:
            if check.is_barrier:
                if found:
                    break
                continue
            found.extend(check.errors(params, run))
        return found


class CheckTable:
    """Operation id → its `OperationChecks`, the first matching rule winning."""

    def __init__(self, rules: Sequence[ValidationRule], catalogue: Catalogue) -> None:
        self.rules = tuple(rules)
        self.catalogue = catalogue
        self._by_operation: dict[str, OperationChecks] = {}

    def rule_for(self, operation_id: str) -> ValidationRule | None:
        return next((rule for rule in self.rules if rule.applies_to(operation_id)), None)

    def for_operation(self, operation_id: str) -> OperationChecks:
        checks = self._by_operation.get(operation_id)
        if checks is None:
            checks = OperationChecks(operation_id, self.rule_for(operation_id), self.catalogue)
            self._by_operation[operation_id] = checks
        return checks


@cache
def builtin_checks() -> CheckTable:
    """The built-in table, built once per process: every reload's snapshot shares it."""
    return build_checks()


def build_checks(rules: Sequence[ValidationRule] | None = None) -> CheckTable:
    """The check table of `rules` (default: the built-in `validation_rules.yaml`).

    To let a fixture repository add rules, parse them with `parse_validation_rules` and
    pass `[*extra, *builtin_validation_rules()]`: the first matching rule wins.
    Raises `ValidationRuleError` when a rule uses a code the catalogue does not define.
    """
    catalogue = load_catalogue()
    chosen = builtin_validation_rules() if rules is None else list(rules)
    for rule in chosen:
        for variant in rule.variants:
            for check in variant.checks:
                missing = [code for code in check.codes() if code not in catalogue]
                if missing:
                    raise ValidationRuleError(
                        f"rule {rule.name}: {type(check).__name__} uses unknown error code(s) {missing}"
                    )
    return CheckTable(chosen, catalogue)


# ---------------------------------------------------------------------------
# Tracking parameters and recipient (§3.1, §3.2)
# ---------------------------------------------------------------------------

_TRACKING = (("context", "00201"), ("recipient", "00203"), ("object", "00202"))


def entreprise_tracking_errors(params: Mapping[str, Any]) -> list[ApiError]:
    """API Entreprise v3+: one error per blank `context` (00201), `recipient` (00203), `object` (00202).

    In that order; `[]` when all three are sent. Whitespace-only counts as blank.
    """
    catalogue = load_catalogue()
    return [catalogue.error(code) for name, code in _TRACKING if is_blank(params.get(name))]


def recipient_error(params: Mapping[str, Any], *, required: bool) -> ApiError | None:
    """00210 when `recipient` is sent but is not a SIRET, or when it is blank and `required`."""
    value = params.get("recipient")
    if is_blank(value):
        return load_catalogue().error("00210") if required else None
    return None if is_siret(value) else load_catalogue().error("00210")
