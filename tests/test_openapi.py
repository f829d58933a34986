from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sandbox.load.openapi import generate_example, operations_from_documents, parameter_problems
from sandbox.load.repository import LoadProblem, read_repository
from sandbox.rules.matching import builtin_rules
from sandbox.rules.rendering import encode_json
from tests.conftest import corpus_path

COMPONENTS = {
    "schemas": {
        "Error": {"type": "object", "properties": {"code": {"type": "string", "example": "00101"}}},
        "Node": {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}},
    }
}


def test_example_honours_example_enum_format_and_types() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "example": "x"},
            "b": {"type": "string", "enum": ["e1", "e2"]},
            "c": {"type": "string", "format": "date"},
            "d": {"type": "boolean", "example": False},
            "e": {"type": "integer", "nullable": True},
            "f": {"type": "array", "items": {"type": "string"}},
            "g": {"type": "string"},
        },
    }
    assert generate_example(schema, {}) == {
        "a": "x",
        "b": "e1",
        "c": "2023-01-31",
        "d": False,
        "e": 0,
        "f": ["dummy"],
        "g": "dummy",
    }


def test_example_composition_and_refs() -> None:
    assert generate_example({"oneOf": [{"type": "string", "example": "first"}, {"type": "integer"}]}, {}) == "first"
    assert generate_example({"anyOf": [{"type": "integer", "example": 3}]}, {}) == 3
    merged = generate_example(
        {"allOf": [{"$ref": "#/components/schemas/Error"}, {"type": "object", "properties": {"x": {"example": 1}}}]},
        COMPONENTS,
    )
    assert merged == {"code": "00101", "x": 1}
    assert generate_example({"$ref": "#/components/schemas/Node"}, COMPONENTS) == {"child": None}
    assert generate_example({"$ref": "#/components/schemas/Missing"}, COMPONENTS) is None


schemas: st.SearchStrategy[Any] = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["string", "integer", "number", "boolean", "null", "object", "array", "weird", 3]),
            "format": st.sampled_from(["date", "uuid", "x"]),
            "nullable": st.booleans(),
            "enum": st.lists(st.integers(), max_size=2),
            "$ref": st.sampled_from(["#/components/schemas/Node", "#/nowhere", "http://x"]),
        },
    ),
    lambda inner: st.one_of(
        st.fixed_dictionaries({"type": st.just("array"), "items": inner}),
        st.fixed_dictionaries({"properties": st.dictionaries(st.text(max_size=3), inner, max_size=3)}),
        st.fixed_dictionaries({"oneOf": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"allOf": st.lists(inner, max_size=3)}),
        st.lists(inner, max_size=2),
    ),
    max_leaves=12,
)


@given(schemas)
def test_example_generation_never_crashes_and_is_deterministic(schema: Any) -> None:
    first = generate_example(schema, COMPONENTS)
    assert generate_example(schema, COMPONENTS) == first
    encode_json(first)


def test_documents_are_found_by_content_in_both_corpora(corpus: Path) -> None:
    content = read_repository(corpus)
    problems: list[LoadProblem] = []
    operations = operations_from_documents(content.documents, problems)
    assert len(content.documents) == 3
    expected = 99 if corpus.name == "siade_staging_data" else 100
    assert len(operations) == expected
    for operation in operations.values():
        if operation.api == "entreprise":
            json.loads(encode_json(generate_example(operation.responses.get("200"), operation.components)))


def test_every_builtin_rule_names_a_real_operation() -> None:
    content = read_repository(corpus_path("apistration_mocks"))
    operations = operations_from_documents(content.documents, [])
    for rule in builtin_rules():
        for pattern in rule.patterns:
            assert any(fnmatch.fnmatchcase(op, pattern) for op in operations), f"rule {pattern} matches nothing"


def test_parameter_problems_explain_names_and_types() -> None:
    content = read_repository(corpus_path("siade_staging_data"))
    operations = operations_from_documents(content.documents, [])
    operation = operations["api_particulier_v3_cnav_quotient_familial_with_civility"]
    assert parameter_problems(operation, {"nomNaissance": "X", "prenoms": ["A"], "anneeDateNaissance": "1990"}) == []
    problems = parameter_problems(operation, {"nomNaissange": "X", "prenoms": "A", "anneeDateNaissance": "x"})
    assert problems[0].startswith("`nomNaissange` is not a parameter")
    assert "must be a list" in problems[1]
    assert "anneeDateNaissance" in problems[2]
