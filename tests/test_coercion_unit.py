"""Fast unit tests of `sandbox.rules.coercion`: Ruby's `to_s`, `blank?`, `to_i`, `Integer()` and
`Date.valid_date?` as the real server applies them to request values.

Every expected value is written out by hand (what Ruby answers), never computed with the module.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.rules.coercion import bounded_int, is_blank, ruby_integer, ruby_to_i, ruby_valid_date, to_s


def test_to_s_renders_containers_as_python_does() -> None:
    assert to_s(["a", 1]) == "['a', 1]"
    assert to_s({"k": "v"}) == "{'k': 'v'}"
    assert to_s(None) == ""
    assert to_s(8) == "8"


@pytest.mark.parametrize(
    ("value", "blank"),
    [
        (None, True),
        (False, True),
        (True, False),
        (0, False),
        (12, False),
        (0.0, False),
        ("", True),
        (" \t", True),
        ("x", False),
        ([], True),
        (["x"], False),
        ({}, True),
        ((), True),
    ],
    ids=["None", "False", "True", "0", "12", "0.0", "empty", "spaces", "x", "list", "list-x", "dict", "tuple"],
)
def test_is_blank_is_rails_blank(value: Any, blank: bool) -> None:
    assert is_blank(value) is blank


def test_bounded_int_reads_twenty_digits_exactly_and_saturates_past_them() -> None:
    assert bounded_int("99999999999999999999") == 99999999999999999999  # 20 digits: exact
    assert bounded_int("-99999999999999999999") == -99999999999999999999
    assert bounded_int("100000000000000000000") == 100000000000000000000  # 21 digits: the bound itself
    assert bounded_int("123456789012345678901") == 100000000000000000000  # saturated
    assert bounded_int("-123456789012345678901") == -100000000000000000000
    assert bounded_int("+123456789012345678901") == 100000000000000000000


def test_bounded_int_leading_zeros_and_underscores_do_not_count_as_digits() -> None:
    assert bounded_int("0000099999999999999999999") == 99999999999999999999
    assert bounded_int("-0007") == -7
    assert bounded_int("1_000") == 1000
    assert bounded_int("0_1") == 1  # Ruby "0_1".to_i
    assert bounded_int("12_345_678_901_234_567_890") == 12345678901234567890  # 20 digits, 26 characters
    assert bounded_int("000") == 0
    assert bounded_int("-0") == 0


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (True, 0),
        (False, 0),
        (None, 0),
        (42, 42),
        (3.7, 3),
        (-2.5, -2),
        ([], 0),
        (["12"], 0),
        ({"a": 1}, 0),
        ("12abc", 12),
        ("  -4", -4),
        ("1_000", 1000),
        ("00000000000000000000012", 12),
        ("x12", 0),
    ],
    ids=[
        "True",
        "False",
        "None",
        "int",
        "float",
        "negative-float",
        "empty-list",
        "list",
        "dict",
        "digits-then-letters",
        "blank-then-sign",
        "underscore",
        "many-leading-zeros",
        "letter-first",
    ],
)
def test_ruby_to_i(value: Any, number: int) -> None:
    assert ruby_to_i(value) == number


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (5, 5),
        (0, 0),
        (True, None),
        (False, None),
        (None, None),
        (3.0, None),
        (["1"], None),
        ({"1": 1}, None),
        ("12", 12),
        (" 12 ", 12),
        ("-12", -12),
        ("1_2", 12),
        ("12a", None),
        ("", None),
        ("00000000000000000000012", 12),
    ],
    ids=[
        "int",
        "zero",
        "True",
        "False",
        "None",
        "float",
        "list",
        "dict",
        "digits",
        "spaces-around",
        "negative",
        "underscore",
        "trailing-letter",
        "empty",
        "many-leading-zeros",
    ],
)
def test_ruby_integer(value: Any, number: int | None) -> None:
    assert ruby_integer(value) == number


# The last day of each month of a common year, by hand.
LAST_DAYS = {1: 31, 2: 28, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


@pytest.mark.parametrize("month", list(LAST_DAYS))
def test_each_month_ends_on_its_last_day(month: int) -> None:
    last = LAST_DAYS[month]
    assert ruby_valid_date(2023, month, last)
    assert not ruby_valid_date(2023, month, last + 1)
    assert ruby_valid_date(2023, month, 1)
    assert not ruby_valid_date(2023, month, 0)


def test_months_outside_one_to_twelve_are_invalid() -> None:
    assert not ruby_valid_date(2024, 13, 1)
    assert not ruby_valid_date(2024, 0, 1)
    assert not ruby_valid_date(2024, 13, 0)


@pytest.mark.parametrize(
    ("year", "valid"),
    [
        (2024, True),  # divisible by 4
        (2023, False),
        (1900, False),  # Gregorian: a century is not leap...
        (2000, True),  # ...unless divisible by 400
        (2025, False),
        (1600, True),
        (1500, True),  # Julian: every fourth year, centuries too
        (1004, True),
        (1005, False),
        (1583, False),
    ],
)
def test_february_29th_follows_julian_then_gregorian_leap_years(year: int, valid: bool) -> None:
    assert ruby_valid_date(year, 2, 29) is valid


def test_the_ten_days_dropped_in_october_1582_never_existed() -> None:
    assert ruby_valid_date(1582, 10, 4)
    assert not ruby_valid_date(1582, 10, 5)
    assert not ruby_valid_date(1582, 10, 14)
    assert ruby_valid_date(1582, 10, 15)
    assert ruby_valid_date(1581, 10, 5)
    assert ruby_valid_date(1582, 9, 5)
