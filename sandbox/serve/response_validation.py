"""Answers checked against the OpenAPI schema of their status.

One JSON Schema validator per (operation, status), compiled on first use and kept:
the OpenAPI 3.0 dialect is turned into Draft 4 (`nullable` admits null on scalars,
objects, arrays, enums and `$ref`/`allOf` nodes; `example`, `x-…` and the other
annotation keywords are dropped), OpenAPI 3.1 documents are validated as JSON Schema
2020-12. `$ref`s to `#/components/...` resolve through a `referencing` registry that
holds each document's converted components once, so recursive schemas are fine.

`check` answers a `SchemaOutcome`: `valid`, `invalid` with the JSON path and a short
message per violation, or `undocumented` when the status has no response in the
OpenAPI document. `check_bytes` remembers its verdicts (bounded), for servers that
answer the same pre-serialised bodies over and over.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from jsonschema import Draft4Validator, Draft202012Validator
from jsonschema.exceptions import SchemaError as JsonSchemaError
from jsonschema.exceptions import UnknownType, ValidationError, best_match
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT4, DRAFT202012

from sandbox.rules.operations import Operation

if TYPE_CHECKING:
    from sandbox.load.snapshot import Snapshot

Verdict = Literal["valid", "invalid", "undocumented"]

MAX_ERRORS = 20
_MEMO_SIZE = 4096
_VALUE_CHARS = 60
_MESSAGE_CHARS = 240
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMPONENTS_PREFIX = "#/components/"

# Keywords whose value is a map of name → schema, a list of schemas, or one schema.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_VALUES = frozenset(
    {"items", "additionalProperties", "additionalItems", "not", "contains", "propertyNames", "if", "then", "else"}
)
_COMPOSITIONS = ("allOf", "anyOf", "oneOf")
_JSON_TYPES = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})
# Types some documents write that JSON Schema does not know: read as strings (their values are).
_STRING_LIKE_TYPES = frozenset({"date", "date-time", "datetime", "time", "uuid", "email", "uri"})
# Annotations that never change a verdict (and OpenAPI-only keywords JSON Schema does not know).
_DROPPED = frozenset(
    {
        "example",
        "examples",
        "nullable",
        "discriminator",
        "xml",
        "externalDocs",
        "readOnly",
        "writeOnly",
        "deprecated",
        "title",
        "description",
    }
)


@dataclass(frozen=True, slots=True)
class SchemaError:
    """One violation: where in the body (`$.data.siren`, `$.errors[0].code`) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class SchemaOutcome:
    verdict: Verdict
    errors: tuple[SchemaError, ...] = ()

    @property
    def ok(self) -> bool:
        """Nothing to complain about: valid, or a status the document does not describe."""
        return self.verdict != "invalid"


VALID = SchemaOutcome("valid")
UNDOCUMENTED = SchemaOutcome("undocumented")


def json_path(parts: Iterable[str | int]) -> str:
    """`$` followed by `.name`, `['odd name']` or `[index]` for each step."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.match(part):
            path += f".{part}"
        else:
            path += "[" + repr(part) + "]"
    return path


def is_openapi_31(version: str | None) -> bool:
    return bool(version) and str(version).startswith("3.1")


# ---------------------------------------------------------------------------
# OpenAPI schema → JSON Schema
# ---------------------------------------------------------------------------


def convert_schema(
    node: Any, *, base_uri: str = "", openapi_30: bool = True, notes: list[str] | None = None, where: str = "#"
) -> Any:
    """An OpenAPI schema as JSON Schema: annotations dropped, `nullable` expanded, local `$ref`s
    pointed at `base_uri` (the registry resource holding the document's components).

    A `type` JSON Schema does not know (`date`, a typo) would make every check raise: date-like
    ones are read as `string`, others are dropped, and each is noted in `notes`.
    """
    if not isinstance(node, dict):
        return node

    def sub(value: Any, step: str) -> Any:
        return convert_schema(value, base_uri=base_uri, openapi_30=openapi_30, notes=notes, where=f"{where}/{step}")

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or key.startswith("x-"):
            continue
        if key == "$ref" and isinstance(value, str):
            out[key] = _rewrite_ref(value, base_uri)
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: sub(schema, f"{key}/{name}") for name, schema in value.items()}
        elif isinstance(value, list) and (key in _SCHEMA_LISTS or key in _SCHEMA_VALUES):
            out[key] = [sub(schema, f"{key}/{i}") for i, schema in enumerate(value)]
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            out[key] = sub(value, key)
        elif key == "type":
            kind = _known_type(value, where, notes)
            if kind is not None:
                out[key] = kind
        else:
            out[key] = value
    if openapi_30 and node.get("nullable") is True:
        return _nullable(out)
    return out


def _known_type(value: Any, where: str, notes: list[str] | None) -> Any:
    kinds = value if isinstance(value, list) else [value]
    known: list[Any] = []
    for kind in kinds:
        if kind in _JSON_TYPES:
            known.append(kind)
        elif kind in _STRING_LIKE_TYPES:
            known.append("string")
            if notes is not None:
                notes.append(f"{where}: type {kind!r} is not a JSON Schema type, read as 'string'")
        elif notes is not None:
            notes.append(f"{where}: type {kind!r} is not a JSON Schema type, ignored")
    if not known:
        return None
    if isinstance(value, list):
        return list(dict.fromkeys(known))
    return known[0]


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if "$ref" in schema or any(k in schema for k in _COMPOSITIONS):
        # `$ref` siblings are ignored and compositions may each demand a type: admit null beside them.
        return {"anyOf": [{"type": "null"}, schema]}
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        schema["type"] = [*kind, "null"]
    if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _rewrite_ref(ref: str, base_uri: str) -> str:
    if ref.startswith(_COMPONENTS_PREFIX):
        return base_uri + ref
    if ref.startswith("#"):
        return base_uri + ref if base_uri else ref
    return ref  # external references are left to the registry (unresolvable → reported)


# ---------------------------------------------------------------------------
# Validators
# ---------------------------------------------------------------------------


class ResponseValidators:
    """Validators for every response schema of a set of operations, built on first use."""

    def __init__(self, operations: Mapping[str, Operation], versions: Mapping[str, str] | None = None) -> None:
        self._operations = operations
        self._versions = dict(versions or {})
        # (document path, fixture layer) → base URI of the document's components in the registry
        self._documents: dict[tuple[str, int], str] = {}
        self._registry: Registry[Any] = Registry()
        self._validators: dict[tuple[str, str], Validator | None] = {}
        self._memo: dict[tuple[str, int, bytes], SchemaOutcome] = {}
        self._lock = threading.Lock()
        # What the conversion had to work around in the documents (unknown types), one line each.
        self.notes: list[str] = []

    @classmethod
    def from_operations(
        cls, operations: Mapping[str, Operation], versions: Mapping[str, str] | None = None
    ) -> ResponseValidators:
        """`versions`: OpenAPI version per document path (`3.0.3`, `3.1.0`); 3.0 when absent."""
        return cls(operations, versions)

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> ResponseValidators:
        versions = {d.path: str(d.content.get("openapi", "")) for d in snapshot.content.documents}
        return cls(snapshot.operations, versions)

    # -- public ----------------------------------------------------------------------

    def check(self, operation_id: str, status: int, body: Any) -> SchemaOutcome:
        operation = self._operations.get(operation_id)
        if operation is None:
            return UNDOCUMENTED
        response = _response_key(operation, status)
        if response is None:
            return UNDOCUMENTED
        validator = self.validator(operation_id, response)
        if validator is None:
            return VALID
        try:
            if validator.is_valid(body):
                return VALID
            return SchemaOutcome("invalid", _describe(validator.iter_errors(body)))
        except (Unresolvable, UnknownType, JsonSchemaError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            return SchemaOutcome("invalid", (SchemaError("$", f"the OpenAPI schema cannot be used: {reason}"),))

    def check_bytes(self, operation_id: str, status: int, body: bytes) -> SchemaOutcome:
        """`check` on a serialised JSON body; verdicts are remembered (bounded)."""
        key = (operation_id, status, body)
        known = self._memo.get(key)
        if known is not None:
            return known
        try:
            parsed = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError) as error:
            outcome = self.check_unparsable(operation_id, status, str(error))
        else:
            outcome = self.check(operation_id, status, parsed)
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.pop(next(iter(self._memo)), None)
        self._memo[key] = outcome
        return outcome

    def check_unparsable(self, operation_id: str, status: int, reason: str) -> SchemaOutcome:
        """The verdict on a body that is not JSON: fine only where the status has no JSON schema."""
        operation = self._operations.get(operation_id)
        response = _response_key(operation, status) if operation is not None else None
        if response is None:
            return UNDOCUMENTED
        if self.validator(operation_id, response) is None:
            return VALID
        return SchemaOutcome("invalid", (SchemaError("$", f"the body is not JSON: {reason}"),))

    def documented(self, operation_id: str, status: int) -> bool:
        operation = self._operations.get(operation_id)
        return operation is not None and _response_key(operation, status) is not None

    def validator(self, operation_id: str, response: str) -> Validator | None:
        """The validator of one response of one operation (`response`: `200`, `4XX`, `default`)."""
        key = (operation_id, response)
        if key in self._validators:
            return self._validators[key]
        with self._lock:
            if key not in self._validators:
                self._validators[key] = self._compile(self._operations[operation_id], response)
            return self._validators[key]

    def compile_all(self) -> int:
        """Compile every validator now (instead of on first use); the number compiled."""
        count = 0
        for operation_id, operation in self._operations.items():
            for response in operation.responses:
                count += self.validator(operation_id, response) is not None
        return count

    # -- compilation -----------------------------------------------------------------

    def _compile(self, operation: Operation, response: str) -> Validator | None:
        schema = operation.responses.get(response)
        if not isinstance(schema, Mapping):
            return None
        openapi_30 = not is_openapi_31(self._versions.get(operation.document))
        base_uri = self._components_uri(operation, openapi_30)
        notes: list[str] = []
        converted = convert_schema(dict(schema), base_uri=base_uri, openapi_30=openapi_30, notes=notes)
        self.notes.extend(f"{operation.id} {response}: {note}" for note in notes)
        cls: type[Validator] = Draft4Validator if openapi_30 else Draft202012Validator
        return cls(converted, registry=self._registry)

    def _components_uri(self, operation: Operation, openapi_30: bool) -> str:
        """Register the document's components once (converted); the URI local refs point to."""
        document = (operation.document, int(getattr(operation, "layer", 0)))
        uri = self._documents.get(document)
        if uri is not None:
            return uri
        uri = f"urn:sandbox:openapi:{len(self._documents)}"
        components = dict(operation.components or {})
        schemas = components.get("schemas")
        if isinstance(schemas, dict):
            notes: list[str] = []
            components["schemas"] = {
                name: convert_schema(
                    sub, base_uri=uri, openapi_30=openapi_30, notes=notes, where=f"#/components/schemas/{name}"
                )
                for name, sub in schemas.items()
            }
            self.notes.extend(f"{operation.document}: {note}" for note in notes)
        specification = DRAFT4 if openapi_30 else DRAFT202012
        self._registry = self._registry.with_resource(uri, specification.create_resource({"components": components}))
        self._documents[document] = uri
        return uri


def _response_key(operation: Operation, status: int) -> str | None:
    responses = operation.responses
    for candidate in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default"):
        if candidate in responses:
            return candidate
    return None


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------


def _describe(errors: Iterable[ValidationError]) -> tuple[SchemaError, ...]:
    described: list[SchemaError] = []
    for error in errors:
        described.append(_one(error))
        if len(described) >= MAX_ERRORS:
            break
    return tuple(sorted(set(described), key=lambda e: (e.path, e.message)))


def _one(error: ValidationError) -> SchemaError:
    if error.validator in ("anyOf", "oneOf") and error.context:
        # a branch refused for its type alone (the `null` of a nullable wrapper) is the least telling
        telling = [e for e in error.context if not (e.validator == "type" and not e.relative_path)]
        if not telling:  # every branch wants another type: say which ones
            kinds: list[str] = []
            for branch in error.context:
                value = branch.validator_value
                kinds.extend(str(k) for k in (value if isinstance(value, list) else [value]) if str(k) not in kinds)
            names = " or ".join(sorted(kinds, key=lambda k: k == "null"))
            got = f"got {_json_type(error.instance)} {_short(error.instance)}"
            return SchemaError(json_path(error.absolute_path), f"expected {names}, {got}")
        deeper = best_match(telling)
        if deeper is not None and len(deeper.absolute_path) >= len(error.absolute_path):
            # the nullable wrapper (`anyOf: [null, X]`) says nothing useful: name the real violation
            return _one(deeper)
    parts = list(error.absolute_path)
    instance = error.instance
    if error.validator == "type":
        expected = error.validator_value
        names = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return SchemaError(json_path(parts), f"expected {names}, got {_json_type(instance)} {_short(instance)}")
    if error.validator == "required" and isinstance(instance, dict):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [p for p in required if p not in instance and f"{p!r} is a required" in error.message]
        if missing:
            return SchemaError(json_path([*parts, str(missing[0])]), "required property is missing")
    if error.validator == "enum":
        return SchemaError(json_path(parts), f"{_short(instance)} is not one of {_short(error.validator_value)}")
    message = error.message
    if len(message) > _MESSAGE_CHARS:
        message = message[: _MESSAGE_CHARS - 1] + "…"
    return SchemaError(json_path(parts), message)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"
