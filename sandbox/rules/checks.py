"""The check kinds of validation rules: what each validator reads and the errors it finds.

A check reads request parameters (strings, or lists for `name[]=`) and answers the
`ApiError`s of the codes it emits, with texts from the error catalogue. This module holds
the `Check` base and the generic kinds (identifiers, patterns, years, integers,
the request id, the barrier); `civility_checks` and `men_checks` hold the Particulier ones.
Each module ends with its `KINDS`: kind name → the builder that reads its YAML options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from sandbox.rules.coercion import as_text, is_blank, ruby_integer, ruby_to_i
from sandbox.rules.error_texts import ApiError, Catalogue
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
from sandbox.rules.table import Options, RuleError

Params = Mapping[str, Any]


def line_match(pattern: re.Pattern[str], value: Any) -> bool:
    """Ruby `value.to_s =~ /^…$/`: anchors are per line, so any line may match."""
    text = as_text(value)
    if text is None:
        text = str(value)  # a list renders with brackets (Ruby: Array#to_s), so no identifier pattern matches
    return pattern.search(text) is not None


@dataclass(slots=True)  # not frozen: made for every validated request (a frozen init is ~4x slower)
class Run:
    """What a check knows besides the parameters: where texts come from, the day, the request id."""

    catalogue: Catalogue
    today: date
    request_id: str | None

    def error(self, code: str) -> ApiError:
        return self.catalogue.error(code)


class Check:
    """One validator of a rule: reads some parameters, returns the errors it finds."""

    __slots__ = ()
    code: str  # the error code of the checks that emit one (a field of each subclass)
    param: str  # the parameter of the checks that read one (a field of each subclass)

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        raise NotImplementedError

    def codes(self) -> tuple[str, ...]:
        """The catalogue keys this check can emit (checked against the catalogue at build time).

        Most checks emit one code, their `code` field; the others say which codes they emit."""
        return (self.code,)

    def parameters(self) -> dict[str, tuple[str, ...]]:
        """The request parameters behind each code this check can emit (lint and scaffold name them).

        Most checks read one parameter, their `param` field; the others say what they read."""
        return dict.fromkeys(self.codes(), (self.param,))

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

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        value = params.get(self.param)
        return [] if not is_blank(value) and self.predicate(value) else [run.error(self.code)]


def _identifier(kind: str) -> Callable[[Options], Check]:
    predicate, param, code = _IDENTIFIERS[kind]

    def build(options: Options) -> Check:
        return IdentifierCheck(kind, options.text("param", param), options.code("code", code), predicate)

    return build


# --------------------------------------------------------------- generic


@dataclass(frozen=True, slots=True)
class PresentCheck(Check):
    """`param` must be present and not blank."""

    kind: ClassVar[str] = "present"
    param: str
    code: str

    def errors(self, params: Params, run: Run) -> list[ApiError]:
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

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        value = params.get(self.param)
        if is_blank(value):
            return [] if self.optional else [run.error(self.code)]
        if self.per_line:
            ok = line_match(self.pattern, value)
        else:
            text = as_text(value)
            ok = text is not None and self.pattern.fullmatch(text) is not None
        return [] if ok else [run.error(self.code)]


def _pattern(options: Options) -> Check:
    per_line = options.choice("anchors", "whole", ("whole", "line")) == "line"
    source = options.text("regex")
    try:
        pattern = re.compile(source, re.ASCII | (re.MULTILINE if per_line else 0))
    except re.error as error:
        raise RuleError(f"{options.where}: bad regex {source!r}: {error}") from error
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
            raise RuleError(f"{where}: a year bound is an integer or `current`, `current-N`, `current+N`")
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

    def errors(self, params: Params, run: Run) -> list[ApiError]:
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


def _year(options: Options) -> Check:
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

    def errors(self, params: Params, run: Run) -> list[ApiError]:
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

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        value = params.get(self.param)
        if self.default is not None and is_blank(value):
            value = self.default
        if value is None:
            return []
        number = ruby_integer(value) if self.strict else ruby_to_i(value)
        return [] if number is not None and self.minimum <= number <= self.maximum else [run.error(self.code)]


def _int_range(options: Options) -> Check:
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

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        if run.request_id is None or is_uuid(run.request_id):
            return []
        return [run.error(self.code)]

    def parameters(self) -> dict[str, tuple[str, ...]]:
        return dict.fromkeys(self.codes(), ("X-Request-Id",))


@dataclass(frozen=True, slots=True)
class StopIfErrors(Check):
    """Later checks run only when the earlier ones found nothing (a separate siade interactor)."""

    kind: ClassVar[str] = "stop_if_errors"

    def errors(self, params: Params, run: Run) -> list[ApiError]:
        return []

    def codes(self) -> tuple[str, ...]:
        return ()

    def parameters(self) -> dict[str, tuple[str, ...]]:
        return {}

    @property
    def is_barrier(self) -> bool:
        return True


def simple_kind(cls: Callable[[str, str], Check], param: str, code: str) -> Callable[[Options], Check]:
    """The builder of a check that reads one parameter and emits one code (both overridable)."""

    def build(options: Options) -> Check:
        return cls(options.text("param", param), options.code("code", code))

    return build


KINDS: dict[str, Callable[[Options], Check]] = {
    **{kind: _identifier(kind) for kind in _IDENTIFIERS},
    "present": lambda options: PresentCheck(options.text("param"), options.code("code")),
    "pattern": _pattern,
    "year": _year,
    "month_two_digits": simple_kind(MonthTwoDigitsCheck, "month", "00305"),
    "int_range": _int_range,
    "request_id_uuid": lambda options: RequestIdCheck(options.code("code", "00401")),
    "stop_if_errors": lambda options: StopIfErrors(),
}
"""The generic check kinds, with the builder that reads their options."""
