"""The `Prefer` header's grammar (RFC 7240): what is read, what is ignored, what is an error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.serve.prefer_header import (
    MAX_PREFER_BYTES,
    NO_PREFERENCES,
    Preferences,
    parse_prefer,
    prefer_header,
    preference_value,
)


def test_each_preference_is_read() -> None:
    assert parse_prefer(["case=503.yaml"]) == Preferences(case="503.yaml")
    assert parse_prefer(["code=404"]) == Preferences(code=404)
    assert parse_prefer(["delay=2000"]) == Preferences(delay_ms=2000)
    assert parse_prefer(["fault=reset"]) == Preferences(fault="reset")


def test_preferences_combine_with_whitespace_and_letter_case_tolerated() -> None:
    assert parse_prefer([" CASE = 503.yaml ,Delay=2000 ,  fault=TimeOut"]) == Preferences(
        case="503.yaml", delay_ms=2000, fault="timeout"
    )
    # several header fields are one list
    assert parse_prefer(["case=a.yaml", "delay=5"]) == Preferences(case="a.yaml", delay_ms=5)
    # empty list elements are allowed (`#rule`)
    assert parse_prefer([",, code=502 ,,"]) == Preferences(code=502)


def test_a_quoted_value_may_hold_any_character_and_escapes() -> None:
    assert parse_prefer(['case="my case, v2.yaml"']).case == "my case, v2.yaml"
    assert parse_prefer(['case="a \\"quoted\\" name.yaml"']).case == 'a "quoted" name.yaml'


def test_unknown_preferences_and_parameters_are_ignored() -> None:
    assert parse_prefer(["return=minimal, respond-async, wait=10"]) == NO_PREFERENCES
    assert parse_prefer(["handling=lenient; foo=bar, code=404; detail=1; x"]) == Preferences(code=404)


def test_a_repeated_preference_counts_the_first_time() -> None:
    assert parse_prefer(["code=404, code=502", "code=503"]) == Preferences(code=404)


@pytest.mark.parametrize(
    ("header", "said"),
    [
        ("code=4044", "`code`"),
        ("code=099", "`code`"),
        ("code", "`code`"),
        ("delay=-1", "`delay`"),
        ("delay=1.5", "`delay`"),
        ("fault=fire", "`fault`"),
        ("case=", "malformed"),
        ('case=""', "`case`"),
        ('case="open', "malformed"),
        ("case=a b", "malformed"),
        ("=x", "malformed"),
        ("case=a.yaml code=1", "malformed"),
    ],
)
def test_a_bad_value_or_a_malformed_header_is_a_problem_that_says_what(header: str, said: str) -> None:
    problem = parse_prefer([header]).problem
    assert problem is not None and said in problem


def test_an_oversized_header_is_a_problem_read_no_further() -> None:
    problem = parse_prefer(["code=404, " + "x" * MAX_PREFER_BYTES]).problem
    assert problem is not None and str(MAX_PREFER_BYTES) in problem
    assert parse_prefer(["delay=" + "9" * 20]).delay_ms == 10**9  # a huge delay is clamped later


def test_the_header_builder_writes_what_the_parser_reads() -> None:
    assert prefer_header(case="503.yaml", delay=2000) == {"Prefer": "case=503.yaml, delay=2000"}
    assert prefer_header() == {}
    assert prefer_header(case="a b.yaml")["Prefer"] == 'case="a b.yaml"'
    with pytest.raises(ValueError):
        prefer_header(fault="fire")


@given(
    case=st.none() | st.text(min_size=1, max_size=60).filter(str.isprintable),
    code=st.none() | st.integers(100, 599),
    delay=st.none() | st.integers(0, 10**6),
    fault=st.none() | st.sampled_from(["reset", "empty", "timeout", "truncated"]),
)
def test_any_header_the_builder_writes_reads_back(
    case: str | None, code: int | None, delay: int | None, fault: str | None
) -> None:
    header = prefer_header(case=case, code=code, delay=delay, fault=fault)
    parsed = parse_prefer([header["Prefer"]] if header else [])
    assert parsed == Preferences(case=case, code=code, delay_ms=delay, fault=fault)


@given(st.text(max_size=2 * MAX_PREFER_BYTES))
def test_any_text_gives_preferences_or_a_problem_never_an_exception(text: str) -> None:
    parsed = parse_prefer([text])
    assert isinstance(parsed, Preferences)
    if parsed.case is not None:
        assert len(parsed.case) <= 255


def test_a_value_is_quoted_only_when_it_must_be() -> None:
    assert preference_value("503.yaml") == "503.yaml"
    assert preference_value('a"b') == '"a\\"b"'
