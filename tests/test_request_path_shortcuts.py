"""The request path's shortcuts give the answers of the full computations they stand in for.

Each shortcut (a fast path for the common request) is held, on generated inputs, to the plain
computation it replaces: the query-string check of §3.6 (alone, and with the parsing), the
test that a query string may carry `?token=`, the reading of plain digit strings as Ruby numbers.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.rules.coercion import bounded_int, ruby_integer, ruby_to_i
from sandbox.rules.matching import may_name_token, parse_query, read_query
from sandbox.rules.unreadable import full_query_problem, query_problem

# pieces that make query strings Rack reads, and the ones it refuses
QUERY_ATOMS = [
    b"a",
    b"b",
    b"a[]",
    b"a%5B%5D",
    b"a%5b%5d",
    b"%61",
    b"+",
    b"%2",
    b"%zz",
    b"%C3%A9",
    b"%C3",
    b"%E9",
    "é".encode(),
    b"\xff",
    b"=",
    b"&",
    b"[]",
    b"%5B",
    b"%5D",
    b"%20",
    b"%7F",
    b"%80",
    b"%26",
]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(QUERY_ATOMS), max_size=10))
def test_the_query_string_check_agrees_with_the_full_check(atoms: list[bytes]) -> None:
    query_string = b"".join(atoms)
    assert query_problem(query_string) == full_query_problem(query_string)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from([*QUERY_ATOMS, b"", b"%5B%5D="]), max_size=10))
def test_one_pass_over_the_query_string_gives_the_parameters_and_the_check(atoms: list[bytes]) -> None:
    query_string = b"".join(atoms)
    assert read_query(query_string) == (parse_query(query_string), full_query_problem(query_string))


def test_one_pass_finds_an_array_after_a_scalar_even_an_empty_name() -> None:
    expected = "Invalid query parameters: expected Array (got String) for param `{}'"
    assert read_query(b"a=1&a%5B%5D=2&b=3") == ({"a": ["2"], "b": "3"}, expected.format("a"))
    assert read_query(b"a%5B%5D=2&a=1") == ({"a": "1"}, None)
    assert read_query(b"x=1&&[]=2") == ({"x": "1", "": ["2"]}, expected.format(""))  # an empty piece: name ""


def test_the_shortcut_finds_an_array_after_a_scalar_in_an_escaped_name() -> None:
    expected = "Invalid query parameters: expected Array (got String) for param `prenoms'"
    assert query_problem(b"prenoms=A&prenoms%5B%5D=B") == expected
    assert query_problem(b"prenoms%5B%5D=B&prenoms=A") is None
    assert query_problem(b"nom=%E9") == "Invalid query parameters: invalid byte sequence in UTF-8"


TOKEN_ATOMS = [
    b"t",
    b"o",
    b"k",
    b"e",
    b"n",
    b"%74",
    b"%6F",
    b"%6f",
    b"%6B",
    b"%65",
    b"%6E",
    b"%6b",
    b"%6e",
    b"%5B%5D",
    b"%7A",
    b"token",
    b"=",
    b"&",
    b"%",
    b"+",
    b"x",
]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(TOKEN_ATOMS), max_size=10))
def test_a_query_string_that_names_a_token_is_parsed_for_it(atoms: list[bytes]) -> None:
    query_string = b"".join(atoms)
    if "token" in parse_query(query_string):
        assert may_name_token(query_string)


def test_a_query_string_without_a_token_is_not_parsed_for_one() -> None:
    assert not may_name_token(b"recipient=1&prenoms%5B%5D=A")
    assert may_name_token(b"%74oken=abc") and may_name_token(b"t%6Fken=abc") and may_name_token(b"token=abc")


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789 _+-a²٣", max_size=24))
def test_digit_strings_read_as_the_ruby_literal_reading_reads_them(text: str) -> None:
    """`ruby_to_i` and `ruby_integer` read a plain digit string directly: the same number as the regex path."""
    to_i = re.match(r"[ \t\n\v\f\r]*([+-]?[0-9]+(?:_[0-9]+)*)", text)
    assert ruby_to_i(text) == (bounded_int(to_i.group(1)) if to_i else 0)
    whole = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?[0-9]+(?:_[0-9]+)*)[ \t\n\v\f\r]*", text)
    assert ruby_integer(text) == (bounded_int(whole.group(1)) if whole else None)
