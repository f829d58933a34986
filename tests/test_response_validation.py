"""Answers checked against the OpenAPI schema of their status: OpenAPI 3.0 `nullable`, `$ref`,
annotations ignored, undocumented statuses, JSON paths of the violations, and speed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from sandbox.load.snapshot import build_snapshot
from sandbox.rules.operations import Operation
from sandbox.serve.response_validation import ResponseValidators, SchemaError, convert_schema, json_path
from tests.conftest import ROOT, corpus_path

ERROR = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "title"],
                "properties": {"code": {"type": "string"}, "title": {"type": "string"}},
            },
        }
    },
}
COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Error": ERROR,
        "Adresse": {
            "type": "object",
            "required": ["commune"],
            "properties": {"commune": {"type": "string"}, "code_postal": {"type": "string", "nullable": True}},
        },
        # recursive: an entity and its parent entity
        "Entite": {
            "type": "object",
            "properties": {
                "nom": {"type": "string"},
                "parent": {"$ref": "#/components/schemas/Entite", "nullable": True},
            },
        },
    }
}
UNITE_LEGALE = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "object",
            "required": ["siren", "adresse"],
            "additionalProperties": False,
            "properties": {
                "siren": {"type": "string", "example": 130025265, "x-internal": {"type": "integer"}},
                "rna": {"type": "string", "nullable": True, "example": None},
                "effectif": {"type": "integer", "nullable": True},
                "categorie": {"type": "string", "enum": ["PME", "ETI"], "nullable": True},
                "adresse": {"$ref": "#/components/schemas/Adresse"},
                "siege": {"$ref": "#/components/schemas/Adresse", "nullable": True},
                "dirigeant": {
                    "type": "object",
                    "nullable": True,
                    "required": ["nom"],
                    "properties": {"nom": {"type": "string"}},
                },
                "tags": {"type": "array", "items": {"type": "string"}, "nullable": True},
                "entite": {"$ref": "#/components/schemas/Entite"},
                # a property named like an annotation keyword is still a property
                "example": {"type": "integer"},
                "odd-name": {"type": "boolean"},
            },
        }
    },
}


def operation(responses: Mapping[str, Any], components: Mapping[str, Any] = COMPONENTS) -> Operation:
    return Operation(
        id="api_entreprise_v3_demo",
        api="entreprise",
        path="/v3/demo/{siren}",
        version="v3",
        summary="demo",
        parameters=(),
        responses=responses,
        document="openapi/demo.yaml",
        components=components,
    )


@pytest.fixture(scope="module")
def validators() -> ResponseValidators:
    op = operation({"200": UNITE_LEGALE, "404": {"$ref": "#/components/schemas/Error"}, "204": None, "5XX": ERROR})
    return ResponseValidators.from_operations({op.id: op})


def body(**data: Any) -> dict[str, Any]:
    return {"data": {"siren": "130025265", "adresse": {"commune": "Paris"}, **data}}


def errors(validators: ResponseValidators, value: Any, status: int = 200) -> list[tuple[str, str]]:
    outcome = validators.check("api_entreprise_v3_demo", status, value)
    assert (outcome.verdict == "valid") == (not outcome.errors)
    return [(e.path, e.message) for e in outcome.errors]


def test_a_conforming_body_is_valid(validators: ResponseValidators) -> None:
    outcome = validators.check("api_entreprise_v3_demo", 200, body(rna="W1", effectif=3, categorie="PME"))
    assert outcome.verdict == "valid" and outcome.errors == () and outcome.ok


@pytest.mark.parametrize("field", ["rna", "effectif", "categorie", "siege", "dirigeant", "tags"])
def test_nullable_admits_null_on_scalars_enums_objects_arrays_and_refs(
    validators: ResponseValidators, field: str
) -> None:
    assert errors(validators, body(**{field: None})) == []


def test_a_field_that_is_not_nullable_refuses_null(validators: ResponseValidators) -> None:
    assert errors(validators, body(siren=None)) == [("$.data.siren", "expected string, got null null")]


def test_nullable_keeps_the_type_of_non_null_values(validators: ResponseValidators) -> None:
    found = errors(validators, body(rna=12, categorie="GE", dirigeant={"prenom": "x"}, tags="a"))
    assert found == [
        ("$.data.categorie", '"GE" is not one of ["PME", "ETI", null]'),
        ("$.data.dirigeant.nom", "required property is missing"),
        ("$.data.rna", "expected string or null, got integer 12"),
        ("$.data.tags", 'expected array or null, got string "a"'),
    ]


def test_a_type_change_is_reported_with_its_json_path(validators: ResponseValidators) -> None:
    assert errors(validators, body(siren=130025265)) == [("$.data.siren", "expected string, got integer 130025265")]


def test_refs_to_components_are_resolved_also_when_nullable_and_recursive(validators: ResponseValidators) -> None:
    assert errors(validators, body(adresse={"code_postal": None})) == [
        ("$.data.adresse.commune", "required property is missing")
    ]
    assert errors(validators, body(siege={"commune": 75})) == [
        ("$.data.siege.commune", "expected string, got integer 75")
    ]
    assert errors(validators, body(siege="Paris")) == [("$.data.siege", 'expected object or null, got string "Paris"')]
    nested = {"nom": "a", "parent": {"nom": "b", "parent": {"nom": 3, "parent": None}}}
    assert errors(validators, body(entite=nested)) == [
        ("$.data.entite.parent.parent.nom", "expected string, got integer 3")
    ]


def test_annotations_and_extensions_are_ignored_but_properties_named_like_them_are_not(
    validators: ResponseValidators,
) -> None:
    # `example: 130025265` and `x-internal: {type: integer}` beside `siren` change nothing
    assert errors(validators, body(siren="130025265")) == []
    assert errors(validators, body(example="not an integer")) == [
        ("$.data.example", 'expected integer, got string "not an integer"')
    ]


def test_json_paths_of_indexes_and_odd_names(validators: ResponseValidators) -> None:
    assert errors(validators, body(**{"odd-name": "yes"})) == [
        ("$.data['odd-name']", 'expected boolean, got string "yes"')
    ]
    found = errors(validators, {"errors": [{"code": "1", "title": "t"}, {"code": 2, "title": "t"}]}, status=404)
    assert found == [("$.errors[1].code", "expected string, got integer 2")]
    assert json_path(["data", 0, "a b", "c"]) == "$.data[0]['a b'].c"


def test_additional_properties_are_reported(validators: ResponseValidators) -> None:
    found = errors(validators, body(inconnu=1))
    assert len(found) == 1 and found[0][0] == "$.data" and "inconnu" in found[0][1]


def test_statuses_without_a_response_are_undocumented(validators: ResponseValidators) -> None:
    outcome = validators.check("api_entreprise_v3_demo", 418, {"anything": True})
    assert outcome.verdict == "undocumented" and outcome.errors == () and outcome.ok
    assert validators.check("unknown_operation", 200, {}).verdict == "undocumented"
    assert validators.documented("api_entreprise_v3_demo", 200)
    assert not validators.documented("api_entreprise_v3_demo", 418)


def test_range_responses_and_responses_without_schema(validators: ResponseValidators) -> None:
    assert validators.check("api_entreprise_v3_demo", 503, {"errors": [{"code": "1", "title": "t"}]}).verdict == "valid"
    assert errors(validators, {"errors": "down"}, status=502) == [("$.errors", 'expected array, got string "down"')]
    assert validators.check("api_entreprise_v3_demo", 204, "whatever").verdict == "valid"


def test_check_bytes_remembers_and_reports_bodies_that_are_not_json(validators: ResponseValidators) -> None:
    raw = json.dumps(body(siren=1)).encode()
    first = validators.check_bytes("api_entreprise_v3_demo", 200, raw)
    assert first.verdict == "invalid"
    assert validators.check_bytes("api_entreprise_v3_demo", 200, raw) is first
    assert (
        validators.check_bytes("api_entreprise_v3_demo", 200, b"<html>")
        .errors[0]
        .message.startswith("the body is not JSON")
    )
    assert validators.check_bytes("api_entreprise_v3_demo", 410, b"Gone").verdict == "undocumented"


def test_openapi_31_documents_are_json_schema_2020() -> None:
    schema = {
        "type": "object",
        "properties": {"rna": {"type": ["string", "null"]}, "n": {"$ref": "#/components/schemas/N"}},
    }
    op = operation({"200": schema}, {"schemas": {"N": {"type": "integer"}}})
    validators = ResponseValidators.from_operations({op.id: op}, {"openapi/demo.yaml": "3.1.0"})
    assert validators.check(op.id, 200, {"rna": None, "n": 1}).verdict == "valid"
    assert [str(e) for e in validators.check(op.id, 200, {"rna": 1, "n": "1"}).errors] == [
        '$.n: expected integer, got string "1"',
        "$.rna: expected string or null, got integer 1",
    ]


def test_types_json_schema_does_not_know_are_noted_not_fatal() -> None:
    op = operation({"200": {"type": "object", "properties": {"le": {"type": "date"}, "x": {"type": "strnig"}}}})
    validators = ResponseValidators.from_operations({op.id: op})
    assert validators.check(op.id, 200, {"le": "2024-01-31", "x": 1}).verdict == "valid"
    assert validators.check(op.id, 200, {"le": 20240131}).errors == (
        SchemaError("$.le", "expected string, got integer 20240131"),
    )
    assert len(validators.notes) == 2 and "type 'date'" in validators.notes[0]


def test_conversion_leaves_the_openapi_schema_untouched() -> None:
    original = json.loads(json.dumps(UNITE_LEGALE))
    convert_schema(UNITE_LEGALE, base_uri="urn:x")
    assert original == UNITE_LEGALE


def test_every_embedded_case_matches_its_schema() -> None:
    snapshot = build_snapshot(ROOT)
    validators = ResponseValidators.from_snapshot(snapshot)
    invalid = [
        (case.id, outcome.errors)
        for table in snapshot.tables.values()
        for case in table.cases
        if (outcome := validators.check(case.folder, case.status, case.payload)).verdict != "valid"
    ]
    assert invalid == []


def test_the_whole_public_corpus_compiles_and_checks() -> None:
    """Speed is scripts/bench.py's to measure (as a ratio within one run), not a test's."""
    snapshot = build_snapshot(corpus_path("siade_staging_data"))
    validators = ResponseValidators.from_snapshot(snapshot)
    compiled = validators.compile_all()
    cases = [case for table in snapshot.tables.values() for case in table.cases]
    verdicts = {case.id: validators.check(case.folder, case.status, case.payload).verdict for case in cases}
    print(f"\n{compiled} validators; {len(cases)} checks")
    assert compiled > 700
    assert set(verdicts.values()) == {"valid"}  # every public case matches the schema of its status
