"""The request path's shortcuts give the answers of the full computations they stand in for.

Each shortcut (a fast path for the common request) is held, on generated inputs, to the plain
computation it replaces: the query-string check of §3.6, the staging lookup key.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_the_shortcut_finds_an_array_after_a_scalar_in_an_escaped_name() -> None:
    expected = "Invalid query parameters: expected Array (got String) for param `prenoms'"
    assert query_problem(b"prenoms=A&prenoms%5B%5D=B") == expected
    assert query_problem(b"prenoms%5B%5D=B&prenoms=A") is None
    assert query_problem(b"nom=%E9") == "Invalid query parameters: invalid byte sequence in UTF-8"
