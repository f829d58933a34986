"""Identifier formats checked by the real staging (spec §3.3), as pure predicates.

Every predicate takes any value (fixture YAML may give an `int`, a query string gives
a `str`) and answers a bool; it never raises. A value is read the way Ruby's `to_s`
would render it: `None` is empty, `True` is `"true"`, `123` is `"123"`. Lists and
mappings are never a valid identifier.

Digit classes are ASCII only (Ruby's `\\d`, unlike Python's, never matches `٣`).
Where siade anchors with `\\A…\\z` we match the whole value; where it uses `^…$`
(RNA ids) Ruby anchors are per line, so the match is a multi-line search.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sandbox.rules.coercion import as_text

__all__ = [
    "is_ine",
    "is_rna",
    "is_siren",
    "is_siren_or_rna",
    "is_siren_or_siret_or_rna",
    "is_siret",
    "is_siret_or_eori",
    "is_siret_or_rna",
    "is_uuid",
    "luhn_valid",
    "request_id_of",
]

_DIGITS = re.compile(r"[0-9]+")
_SIREN = re.compile(r"[0-9]{9}")
_SIRET = re.compile(r"[0-9]{14}")
# La Poste's establishments share one SIREN and their SIRETs do not follow Luhn.
_LA_POSTE_PREFIX = "356000000"
# Per-line anchors, as in Ruby: "garbage\nW123456789" is accepted.
_RNA = (
    re.compile(r"^W[0-9][A-Z0-9][0-9]{7}$", re.MULTILINE),
    re.compile(r"^0[0-9]{3}0{2}[0-9]{4}$", re.MULTILINE),
)
_EORI_FOREIGN = re.compile(r"[A-Z]{2}")
_INE = (
    re.compile(r"[0-9]{9}[A-HJK]{2}", re.IGNORECASE),  # RNIE
    re.compile(r"[0-9]{10}[A-HJ-NPR-Z]", re.IGNORECASE),  # BEA
    re.compile(r"[0-9A-Z]{10}[0-9]", re.IGNORECASE),  # base 36
    re.compile(r"[0-9]{4}A[0-9]{5}[A-HJ-NPR-Z]", re.IGNORECASE),  # SIFA
)
_UUID = re.compile(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}", re.IGNORECASE)


def luhn_valid(digits: object) -> bool:
    """Luhn checksum ≡ 0 (mod 10): from the right, every second digit is doubled (minus 9 above 9)."""
    text = as_text(digits)
    if not text:
        return False
    # the same recipients and SIRENs come back on every request: short ones are remembered (bounded)
    return _remembered_luhn(text) if len(text) <= 32 else _luhn(text)


@lru_cache(maxsize=4096)
def _remembered_luhn(text: str) -> bool:
    return _luhn(text)


def _luhn(text: str) -> bool:
    if not _DIGITS.fullmatch(text):
        return False
    total = 0
    for position, char in enumerate(reversed(text)):
        digit = ord(char) - 48
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def is_siren(value: object) -> bool:
    """Exactly 9 digits with a valid Luhn checksum (`000000000` passes, `000000001` fails)."""
    text = as_text(value)
    return text is not None and _SIREN.fullmatch(text) is not None and luhn_valid(text)


def is_siret(value: object) -> bool:
    """Exactly 14 digits, Luhn-valid or starting with La Poste's `356000000`."""
    text = as_text(value)
    if text is None or _SIRET.fullmatch(text) is None:
        return False
    return text.startswith(_LA_POSTE_PREFIX) or luhn_valid(text)


def is_rna(value: object) -> bool:
    """An RNA association id: `W` + digit + alphanumeric + 7 digits, or the old `0ddd00dddd` form."""
    text = as_text(value)
    return text is not None and any(pattern.search(text) for pattern in _RNA)


def is_siret_or_eori(value: object) -> bool:
    """A SIRET, `FR` + a SIRET, or any value starting with two upper-case letters other than `FR`."""
    text = as_text(value)
    if text is None:
        return False
    if is_siret(text):
        return True
    if text.startswith("FR"):
        return is_siret(text[2:])
    return _EORI_FOREIGN.match(text) is not None


def is_ine(value: object) -> bool:
    """A student number in one of the four INE formats (RNIE, BEA, base 36, SIFA), any case."""
    text = as_text(value)
    if not text:
        return False
    return any(pattern.fullmatch(text) for pattern in _INE)


def is_uuid(value: object) -> bool:
    """`8-4-4-4-12` hexadecimal digits, any case (no version check)."""
    text = as_text(value)
    return text is not None and _UUID.fullmatch(text) is not None


def is_siren_or_rna(value: object) -> bool:
    return is_siren(value) or is_rna(value)


def is_siret_or_rna(value: object) -> bool:
    return is_siret(value) or is_rna(value)


def is_siren_or_siret_or_rna(value: object) -> bool:
    return is_siren(value) or is_siret(value) or is_rna(value)


_REQUEST_ID_DROPPED = re.compile(r"[^A-Za-z0-9_\-@]")


def request_id_of(header: str | None) -> str | None:
    """The request id Rails gives the application for an `X-Request-Id` header (§11.8):
    `ActionDispatch::RequestId` keeps word characters, `-` and `@`, at most 255 of them.
    None: no header, or a blank one (Rails then makes a random UUID)."""
    if header is None or not header.strip():
        return None
    return _REQUEST_ID_DROPPED.sub("", header)[:255]
