"""The request journal in process (`sandbox.serve.journal`): redaction, bounds, formatting, ring buffer.

Fast unit tests for `make mutation` (the end-to-end ones run over uvicorn, outside it); every
expected value is written out.
"""

from __future__ import annotations

import json

import pytest

from sandbox.serve.journal import (
    CUT,
    PARAMETERS,
    PATH_CHARS,
    QUERY_CHARS,
    REDACTED,
    VALUE_CHARS,
    Entry,
    Journal,
    journal_text,
    redact_jwt,
    redact_query,
    redact_text,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def entry(
    path: str = "/v3/x", query: str = "", *, outcome: str = "hit", operation: str | None = "op", at: float = 0.0
) -> Entry:
    return Entry(
        at=at,
        method="GET",
        path=path,
        query=query,
        operation=operation,
        outcome=outcome,
        case="op/200.yaml",
        status=200,
        duration_ms=1.23456,
        revision="abc",
        near_miss=None,
        schema="s",
        schema_errors=("e1",),
    )


def test_the_bounds_are_the_documented_ones() -> None:
    assert (PATH_CHARS, QUERY_CHARS, VALUE_CHARS, PARAMETERS, CUT, REDACTED) == (512, 1024, 256, 50, "…", "[redacted]")


def test_journal_text_keeps_one_character_past_the_limit() -> None:
    assert journal_text("abcdef", 3) == "abcd"
    assert journal_text("ab", 3) == "ab"
    assert journal_text(b"ab\xe9cd", 2) == "ab\xe9"


def test_a_jwt_is_redacted_anywhere_its_word_prefix_kept() -> None:
    assert redact_jwt(f"Bearer {JWT} x") == f"Bearer {REDACTED} x"
    assert redact_jwt(f"a=pre{JWT}&b") == f"a=pre{REDACTED}&b"
    assert redact_jwt("no token here eyJ only") == "no token here eyJ only"
    assert redact_jwt("plain") == "plain"


def test_a_query_loses_named_token_values_and_jwts_in_names_and_values() -> None:
    assert redact_query("token=abc&API_KEY=k&access_token=t&siren=1&empty=") == [
        ("token", REDACTED),
        ("API_KEY", REDACTED),
        ("access_token", REDACTED),
        ("siren", "1"),
        ("empty", ""),
    ]
    encoded = JWT.replace(".", "%2E")
    assert redact_query(f"q={encoded}&{encoded}=v") == [("q", REDACTED), (REDACTED, "v")]


def test_a_text_loses_named_token_parameters_and_jwts() -> None:
    assert redact_text("GET /x?token=abc&siren=1") == f"GET /x?token={REDACTED}&siren=1"
    assert redact_text("api_key=k other") == f"api_key={REDACTED} other"
    assert redact_text('"/x?access_token=t" 200') == f'"/x?access_token={REDACTED}" 200'
    assert redact_text("mytoken=abc") == "mytoken=abc"
    assert redact_text(f"auth {JWT}") == f"auth {REDACTED}"


def test_an_entry_is_formatted_once_as_documented() -> None:
    shown = entry("/v3/a", "siren=1&token=x", at=86401.25).as_json()
    assert shown == {
        "time": "1970-01-02T00:00:01.250Z",
        "method": "GET",
        "path": "/v3/a",
        "params": [["siren", "1"], ["token", REDACTED]],
        "truncated": False,
        "operation": "op",
        "outcome": "hit",
        "case": "op/200.yaml",
        "status": 200,
        "duration_ms": 1.235,
        "revision": "abc",
        "near_miss": None,
        "schema": "s",
        "schema_errors": ["e1"],
        "preference": None,
        "auth": None,
    }


def test_as_json_is_a_fresh_copy_and_encoded_is_remembered() -> None:
    one = entry()
    first = one.as_json()
    first["status"] = 999
    assert one.as_json()["status"] == 200
    assert one.formatted is None
    encoded = one.encoded()
    assert one.formatted is encoded and one.encoded() is encoded
    assert json.loads(encoded)["path"] == "/v3/x"
    assert b": " not in encoded and b", " not in encoded


def test_non_ascii_is_kept_as_utf8_in_the_encoded_entry() -> None:
    assert "é".encode() in entry("/v3/é").encoded()


def test_a_long_path_is_cut_and_a_cut_jwt_hidden() -> None:
    long_path = "/" + "a" * 600
    shown = entry(long_path).as_json()
    assert shown["path"] == "/" + "a" * (PATH_CHARS - 1) + CUT and shown["truncated"] is True
    at_limit = entry("/" + "a" * (PATH_CHARS - 1)).as_json()
    assert at_limit["path"] == "/" + "a" * (PATH_CHARS - 1) and at_limit["truncated"] is False
    cut_jwt = "/" + "a" * 500 + "/x" + JWT + "b" * 100
    assert entry(cut_jwt).as_json()["path"] == "/" + "a" * 500 + "/x" + REDACTED + CUT


def test_a_long_query_is_cut_and_its_last_pair_hides_a_cut_jwt() -> None:
    query = "a=" + "1" * 1000 + "&t=" + JWT * 3
    shown = entry(query=query).as_json()
    assert shown["truncated"] is True
    assert shown["params"][0] == ["a", "1" * VALUE_CHARS + CUT]
    assert shown["params"][1] == ["t", REDACTED]


def test_a_long_value_or_name_is_cut_to_value_chars() -> None:
    shown = entry(query="n=" + "v" * VALUE_CHARS).as_json()
    assert shown["params"] == [["n", "v" * VALUE_CHARS]] and shown["truncated"] is False
    shown = entry(query="n=" + "v" * (VALUE_CHARS + 1)).as_json()
    assert shown["params"] == [["n", "v" * VALUE_CHARS + CUT]] and shown["truncated"] is True
    shown = entry(query="n" * (VALUE_CHARS + 1) + "=v").as_json()
    assert shown["params"] == [["n" * VALUE_CHARS + CUT, "v"]] and shown["truncated"] is True


def test_at_most_parameters_pairs_are_shown() -> None:
    exactly = "&".join(f"p{i}={i}" for i in range(PARAMETERS))
    shown = entry(query=exactly).as_json()
    assert len(shown["params"]) == PARAMETERS and shown["truncated"] is False
    more = "&".join(f"p{i}={i}" for i in range(PARAMETERS + 1))
    shown = entry(query=more).as_json()
    assert len(shown["params"]) == PARAMETERS and shown["params"][-1] == [f"p{PARAMETERS - 1}", str(PARAMETERS - 1)]
    assert shown["truncated"] is True


def test_a_query_of_exactly_query_chars_is_not_cut() -> None:
    head = "&".join(f"a{i}=" + "x" * 200 for i in range(5))
    exactly = head + "&b=" + "y" * (QUERY_CHARS - len(head) - 3)
    assert len(exactly) == QUERY_CHARS
    shown = entry(query=exactly).as_json()
    assert shown["truncated"] is False and shown["params"][-1] == ["b", "yy"]
    shown = entry(query=exactly + "z").as_json()
    assert shown["truncated"] is True and shown["params"][-1] == ["b", "yy"]


def test_the_journal_is_a_bounded_ring_newest_first() -> None:
    journal = Journal(size=3)
    assert journal.size == 3 and len(journal) == 0 and journal.recorded == 0
    for index in range(5):
        journal.record(entry(f"/{index}", outcome="hit" if index % 2 else "fallback", operation=f"op{index % 2}"))
    assert len(journal) == 3 and journal.recorded == 5
    assert [e.path for e in journal.entries()] == ["/4", "/3", "/2"]
    assert [e.path for e in journal.entries(limit=2)] == ["/4", "/3"]
    assert [e.path for e in journal.entries(limit=0)] == ["/4"]
    assert [e.path for e in journal.entries(limit=99)] == ["/4", "/3", "/2"]
    assert [e.path for e in journal.entries(outcome="fallback")] == ["/4", "/2"]
    assert [e.path for e in journal.entries(outcome="fallback", limit=1)] == ["/4"]
    assert [e.path for e in journal.entries(operation="op1")] == ["/3"]
    assert [e.path for e in journal.entries(outcome="hit", operation="op1")] == ["/3"]
    assert journal.entries(outcome="hit", operation="op0") == []


def test_the_default_journal_keeps_a_thousand() -> None:
    journal = Journal()
    for index in range(1001):
        journal.record(entry(f"/{index}"))
    assert journal.size == 1000 and len(journal) == 1000 and journal.entries()[-1].path == "/1"


def test_milliseconds_are_cut_not_rounded() -> None:
    assert entry(at=86401.9995).as_json()["time"] == "1970-01-02T00:00:01.999Z"


def test_a_nan_is_never_written_as_json() -> None:
    with pytest.raises(ValueError):
        Entry(0.0, "GET", "/", "", None, "hit", None, 200, float("nan"), "r", None, None, ()).encoded()


def test_only_the_cut_word_of_a_cut_path_is_hidden() -> None:
    earlier = "/eyJx/" + "a" * 600
    assert entry(earlier).as_json()["path"] == "/eyJx/" + "a" * (PATH_CHARS - 6) + CUT
    twice = "/" + "a" * 495 + "/eyJ1eyJ2" + "c" * 100
    assert entry(twice).as_json()["path"] == "/" + "a" * 495 + "/" + REDACTED + CUT


def test_a_value_that_merely_starts_like_a_jwt_is_kept_when_nothing_was_cut() -> None:
    assert entry(query="a=eyJx&b=eyJy").as_json()["params"] == [["a", "eyJx"], ["b", "eyJy"]]


def test_the_first_parameters_pairs_are_the_ones_shown() -> None:
    query = "&".join(f"p{i}={i}" for i in range(PARAMETERS + 10))
    shown = entry(query=query).as_json()["params"]
    assert shown == [[f"p{i}", str(i)] for i in range(PARAMETERS)]
