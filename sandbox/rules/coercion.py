"""How the real server turns request values into text and numbers (Ruby and Rails semantics).

Shared by matching (lookup keys), identifiers and validation, so the three agree on
what `8`, `"08"`, `" 12"`, `true` or an empty string mean.
"""

from __future__ import annotations

import re
from typing import Any


def as_text(value: object) -> str | None:
    """The value as Ruby's `to_s` renders a scalar; `None` for lists and mappings."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return None


def to_s(value: Any) -> str:
    """Ruby `to_s` of any value (lists and mappings as Python renders them)."""
    text = as_text(value)
    return str(value) if text is None else text


def is_empty_container(value: Any) -> bool:
    """An empty list or mapping (Rails `to_query` skips them)."""
    return isinstance(value, (dict, list)) and not value


def is_empty(value: Any) -> bool:
    """Absent, `""`, or an empty list or mapping: what a lookup key leaves out.

    Unlike `is_blank`, a whitespace-only string is a value."""
    return value is None or value == "" or is_empty_container(value)


def is_blank(value: Any) -> bool:
    """Rails `blank?`: absent, empty or whitespace-only string, empty list or mapping."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return value == "" or value.isspace()
    if isinstance(value, (list, tuple, dict)):
        return not value
    return False


_TO_I = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+(?:_[0-9]+)*)")
_RUBY_INTEGER = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+(?:_[0-9]+)*)[ \t\n\v\f\r]*")

# Digits read exactly; a longer number (after leading zeros) saturates to ±OVERSIZED. Python's
# `int()` of a long digit string is super-linear and refused past 4300 digits; no rule of the
# real staging tells apart numbers of more than 20 digits (every bound fits in a few digits),
# so the saturated value gives the same verdict as Ruby's exact Bignum.
MAX_DIGITS = 20
OVERSIZED: int = 10**MAX_DIGITS


def bounded_int(literal: str) -> int:
    """`int()` of a Ruby integer literal (`[+-]digits(_digits)*`), saturated past MAX_DIGITS digits."""
    negative = literal.startswith("-")
    digits = literal.lstrip("+-").replace("_", "").lstrip("0")
    if len(digits) > MAX_DIGITS:
        return -OVERSIZED if negative else OVERSIZED
    number = int(digits) if digits else 0
    return -number if negative else number


def ruby_to_i(value: Any) -> int:
    """Ruby `to_i`: leading integer of the text, 0 when there is none (lists count as 0)."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return value
    if type(value) is str and len(value) <= MAX_DIGITS and value.isascii() and value.isdigit():
        return int(value)  # the common case: digits only, read exactly
    text = as_text(value)
    if text is None:
        return 0
    match = _TO_I.match(text)
    return bounded_int(match.group(1)) if match else 0


def ruby_integer(value: Any) -> int | None:
    """Ruby `Integer(value, 10)`: the whole text must be an integer, else `None`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if type(value) is str and len(value) <= MAX_DIGITS and value.isascii() and value.isdigit():
        return int(value)  # the common case: digits only, read exactly
    text = value if isinstance(value, str) else None
    match = _RUBY_INTEGER.fullmatch(text) if text is not None else None
    return None if match is None else bounded_int(match.group(1))


def ruby_valid_date(year: int, month: int, day: int) -> bool:
    """Ruby `Date.valid_date?` for positive parts: Julian calendar before 1582-10-15, Gregorian after."""
    if not 1 <= month <= 12 or day < 1:
        return False
    if (year, month, day) < (1582, 10, 15):
        if (year, month) == (1582, 10) and day >= 5:
            return False  # 1582-10-05 .. 1582-10-14 never existed
        leap = year % 4 == 0
    else:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    return day <= days
