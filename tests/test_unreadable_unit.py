"""`rules/unreadable.py` on its own: what Rails cannot read (spec §3.6), with the messages written out.

The content type is looked up by its media type (up to the first `,` or `;`, stripped, lower-cased)
and refused when it is not `type/subtype` (Rails' `MIME_REGEXP`), the media type quoted as Ruby's
`inspect` writes it. A body is parsed only under a JSON content type. A query string is refused for
a bad escape, bytes that are not UTF-8 once decoded, or a name sent as a scalar then as an array.
"""

from __future__ import annotations

import pytest

from sandbox.rules.unreadable import (
    PARSE_ERROR,
    REMEMBERED_QUERY_BYTES,
    body_problem,
    content_type_problem,
    full_query_problem,
    media_type,
    query_problem,
    reads_body,
    remember_query_problem,
    remembered_query_problem,
    unreadable,
)

ARRAY = "Invalid query parameters: expected Array (got String) for param `{}'"


@pytest.mark.parametrize(
    ("header", "media"),
    [
        ("application/json", "application/json"),
        ("  Application/JSON ; charset=utf-8", "application/json"),
        ("text/plain,application/json", "text/plain"),
        ("a;b,c", "a"),
        ("a,b;c", "a"),
        (";x", ""),
    ],
)
def test_the_media_type_is_the_header_up_to_its_first_comma_or_semicolon(header: str, media: str) -> None:
    assert media_type(header) == media


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (None, None),
        ("", None),
        ("application/json", None),
        ("*/*", None),
        ("text/*", None),
        ("application/vnd.api+json; charset=utf-8", None),
        ("foo", '"foo" is not a valid MIME type'),
        ("Foo Bar", '"foo bar" is not a valid MIME type'),
        ('a"b', '"a\\"b" is not a valid MIME type'),
        ("a\\b", '"a\\\\b" is not a valid MIME type'),
        ("#{x}", '"\\#{x}" is not a valid MIME type'),
        ("a\tb", '"a\\tb" is not a valid MIME type'),
        ("a\nb", '"a\\nb" is not a valid MIME type'),  # no HTTP parser lets one through; Ruby's words all the same
        ("a\rb", '"a\\rb" is not a valid MIME type'),
        ("a\x01b", '"a\\u0001b" is not a valid MIME type'),
        ("a\x7fb", '"a\\u007Fb" is not a valid MIME type'),
        ("a\x1bb", '"a\\eb" is not a valid MIME type'),
        ("é/x", '"é/x" is not a valid MIME type'),
    ],
)
def test_a_content_type_that_is_not_a_mime_type_is_refused(header: str | None, problem: str | None) -> None:
    assert content_type_problem(header) == problem


def test_only_a_json_content_type_has_its_body_read() -> None:
    assert reads_body("application/json") and reads_body("text/x-json; charset=utf-8")
    assert reads_body("application/problem+json") and reads_body("application/jsonrequest")
    assert not reads_body(None) and not reads_body("application/vnd.api+json") and not reads_body("text/plain")
    assert body_problem("application/json", b"{") == PARSE_ERROR
    assert body_problem("application/json", b"[" * 100_000) == PARSE_ERROR  # too deep for the parser
    assert body_problem("application/json", b'{"a": 1}') is None
    assert body_problem("application/json", b"") is None  # nothing to parse
    assert body_problem("text/plain", b"{") is None  # not parsed: not refused


@pytest.mark.parametrize(
    ("query_string", "problem"),
    [
        (b"", None),
        (b"a=1&b=2", None),
        (b"a=%zz", "Invalid query parameters: invalid %-encoding (%zz)"),
        (b"a%2=1", "Invalid query parameters: invalid %-encoding (a%2)"),
        (b"a=%E9", "Invalid query parameters: invalid byte sequence in UTF-8"),
        (b"a=\xff", "Invalid query parameters: invalid byte sequence in UTF-8"),
        (b"a=%C3%A9", None),
        (b"a=1&a[]=2", ARRAY.format("a")),
        (b"a=1&a%5B%5D=2", ARRAY.format("a")),
        (b"a+b=1&a%20b[]=2", ARRAY.format("a b")),
        (b"prenoms[]=A&prenoms=B", None),
        (b"x=%C3%A9&a=1&a[]=2", ARRAY.format("a")),
        (b"&&[]=1", ARRAY.format("")),
        (b"a=1&b[]=2&a[]=3", ARRAY.format("a")),
    ],
)
def test_a_query_string_rack_cannot_parse_is_refused(query_string: bytes, problem: str | None) -> None:
    assert query_problem(query_string) == problem
    assert full_query_problem(query_string) == problem


def test_a_long_escaped_name_is_decoded_too() -> None:
    name = b"n" * 70
    assert query_problem(name + b"=1&" + name + b"%5B%5D=2") == ARRAY.format("n" * 70)
    assert query_problem(b"%6E" * 30 + b"=1&" + b"n" * 30 + b"[]=2") == ARRAY.format("n" * 30)
    assert query_problem(name + b"+x=1&" + name + b"%20x%5B%5D=2") == ARRAY.format("n" * 70 + " x")


def test_the_first_problem_is_the_one_told() -> None:
    assert query_problem(b"a=1&a[]=2&b=%zz") == ARRAY.format("a")
    assert query_problem(b"b=%zz&a=1&a[]=2") == "Invalid query parameters: invalid %-encoding (%zz)"
    assert unreadable("foo", b"{", b"a=%zz") == '"foo" is not a valid MIME type'
    assert unreadable("application/json", b"{", b"a=%zz") == "Invalid query parameters: invalid %-encoding (%zz)"
    assert unreadable("application/json", b"{", b"a=1") == PARSE_ERROR
    assert unreadable(None, b"", b"a=1") is None


def test_the_verdict_on_a_short_query_string_is_remembered_a_long_one_is_not() -> None:
    short = b"a=1&a[]=2&remembered=1"
    assert remembered_query_problem(short) is None
    assert query_problem(short) == ARRAY.format("a")
    assert remembered_query_problem(short) == (ARRAY.format("a"),)
    remember_query_problem(b"q=1", None)
    assert remembered_query_problem(b"q=1") == (None,)
    exactly = b"q=" + b"x" * (REMEMBERED_QUERY_BYTES - 2)
    query_problem(exactly)
    assert remembered_query_problem(exactly) == (None,)
    longer = exactly + b"x"
    query_problem(longer)
    assert remembered_query_problem(longer) is None
