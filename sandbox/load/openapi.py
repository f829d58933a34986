"""Operations read from OpenAPI documents, and example bodies generated from their schemas.

An operation is any path whose `get` `200` response carries `x-operationId`: that id
is also the fixture folder name. Documents are recognised by content, never by
file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sandbox.load.repository import LoadProblem, OpenAPIDocument
from sandbox.rules.operations import Api, Operation, Parameter

_VERSION_SEGMENT = re.compile(r"^v(\d+)$")
_MAX_DEPTH = 24
# nodes one schema may expand to through its `$ref`s (example generation, JSON Schema conversion)
MAX_EXPANDED_NODES = 10_000


def api_of(operation_id: str, document: Mapping[str, Any]) -> Api:
    if operation_id.startswith("api_entreprise"):
        return "entreprise"
    if operation_id.startswith("api_particulier"):
        return "particulier"
    title = str(document.get("info", {}).get("title", "")).lower()
    return "particulier" if "particulier" in title else "entreprise"


def version_of(path: str, operation_id: str) -> str:
    segments = [s for s in path.split("/") if s]
    for segment in segments[:2]:
        if _VERSION_SEGMENT.match(segment):
            return segment
    match = re.match(r"api_(?:entreprise|particulier)_(v\d+)_", operation_id)
    return match.group(1) if match else ""


def operations_from_documents(
    documents: Iterable[OpenAPIDocument], problems: list[LoadProblem]
) -> dict[str, Operation]:
    operations: dict[str, Operation] = {}
    for document in documents:
        content = document.content
        components = content.get("components") or {}
        for path, item in (content.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            get = item.get("get")
            if not isinstance(get, dict):
                continue
            responses = get.get("responses") or {}
            ok = responses.get("200") or responses.get(200) or {}
            operation_id = ok.get("x-operationId") if isinstance(ok, dict) else None
            if not isinstance(operation_id, str) or not operation_id:
                continue
            if operation_id in operations:
                if operations[operation_id].layer != document.layer:
                    continue  # a later fixture source redefines it: the later one was read first
                problems.append(
                    LoadProblem(
                        document.path,
                        None,
                        f"operation {operation_id} is defined again for {path}; "
                        f"keeping {operations[operation_id].path} from {operations[operation_id].document}",
                    )
                )
                continue
            shared = item.get("parameters") or []
            parameters = tuple(
                _parameter(resolve(p, components))
                for p in [*shared, *(get.get("parameters") or [])]
                if isinstance(resolve(p, components), dict) and "name" in resolve(p, components)
            )
            operations[operation_id] = Operation(
                id=operation_id,
                api=api_of(operation_id, content),
                path=str(path),
                version=version_of(str(path), operation_id),
                summary=str(get.get("summary") or ok.get("description") or operation_id),
                parameters=parameters,
                responses={str(status): _response_schema(body, components) for status, body in responses.items()},
                document=document.path,
                components=components,
                layer=document.layer,
                examples={
                    str(status): example
                    for status, body in responses.items()
                    if (example := _response_example(body, components)) is not _NO_EXAMPLE
                },
            )
    return operations


def _parameter(raw: Mapping[str, Any]) -> Parameter:
    schema = raw.get("schema")
    return Parameter(
        name=str(raw["name"]),
        location=str(raw.get("in", "query")),
        required=bool(raw.get("required", False)),
        schema=schema if isinstance(schema, dict) else {},
    )


_NO_EXAMPLE = object()


def _response_example(body: Any, components: Mapping[str, Any]) -> Any:
    """The first example of a response (`example`, else the first of `examples`), JSON media first."""
    body = resolve(body, components)
    media = body.get("content") if isinstance(body, dict) else None
    if not isinstance(media, dict):
        return _NO_EXAMPLE
    ordered = [media.get("application/json"), media.get("application/vnd.api+json"), *media.values()]
    for candidate in ordered:
        if not isinstance(candidate, dict):
            continue
        if "example" in candidate:
            return candidate["example"]
        examples = candidate.get("examples")
        if isinstance(examples, dict):
            for named in examples.values():
                named = resolve(named, components)
                if isinstance(named, dict) and "value" in named:
                    return named["value"]
    return _NO_EXAMPLE


def _response_schema(body: Any, components: Mapping[str, Any]) -> Mapping[str, Any] | None:
    body = resolve(body, components)
    if not isinstance(body, dict):
        return None
    media = body.get("content") or {}
    for media_type in ("application/json", "application/vnd.api+json"):
        candidate = media.get(media_type)
        if isinstance(candidate, dict) and isinstance(candidate.get("schema"), dict):
            return resolve(candidate["schema"], components)  # type: ignore[no-any-return]
    for candidate in media.values():
        if isinstance(candidate, dict) and isinstance(candidate.get("schema"), dict):
            return resolve(candidate["schema"], components)  # type: ignore[no-any-return]
    return None


def resolve(node: Any, components: Mapping[str, Any], depth: int = 0) -> Any:
    """Follow a local `$ref` (`#/components/...`); anything else is returned as is."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < _MAX_DEPTH:
        ref = node["$ref"]
        if not ref.startswith("#/components/"):
            return {}
        target: Any = components
        for part in ref[len("#/components/") :].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        if target is None:
            return {}
        node = target
        depth += 1
    return node


# ---------------------------------------------------------------------------
# Example generation
# ---------------------------------------------------------------------------

_FORMAT_EXAMPLES = {
    "date": "2023-01-31",
    "date-time": "2023-01-31T12:00:00Z",
    "email": "contact@example.org",
    "uri": "https://example.org",
    "url": "https://example.org",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.org",
    "ipv4": "192.0.2.1",
}


class _Budget:
    """Nodes one expansion of `$ref`s may still produce: a document is untrusted, and refs used
    several times in a schema that refers to itself level after level expand exponentially (the
    OpenAPI twin of a YAML alias bomb). The real documents need under 200 per schema."""

    __slots__ = ("left",)

    def __init__(self, nodes: int = MAX_EXPANDED_NODES) -> None:
        self.left = nodes

    def spent(self) -> bool:
        self.left -= 1
        return self.left < 0


def generate_example(schema: Any, components: Mapping[str, Any]) -> Any:
    """A deterministic example for `schema`: the same schema always gives the same value.

    Honours `example`, `enum`, `default`, `format`, `nullable`, arrays, objects,
    `oneOf`/`anyOf` (first branch), `allOf` (merged) and local `$ref`, and never
    raises: a node it cannot understand (or past `MAX_EXPANDED_NODES`) becomes null.
    """
    return _example(schema, components, 0, frozenset(), _Budget())


def _example(schema: Any, components: Mapping[str, Any], depth: int, seen: frozenset[str], budget: _Budget) -> Any:
    if depth > _MAX_DEPTH or not isinstance(schema, dict) or budget.spent():
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return None
        return _example(resolve(schema, components), components, depth + 1, seen | {ref}, budget)
    if "example" in schema:
        return schema["example"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = _example(part, components, depth + 1, seen, budget)
            if isinstance(value, dict):
                merged.update(value)
            elif value is not None and not merged:
                return value
        for key, value in (_object_example(schema, components, depth, seen, budget) or {}).items():
            merged.setdefault(key, value)
        return merged
    for keyword in ("oneOf", "anyOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and branches:
            return _example(branches[0], components, depth + 1, seen, budget)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        return _object_example(schema, components, depth, seen, budget) or {}
    if kind == "array":
        item = _example(schema.get("items", {}), components, depth + 1, seen, budget)
        return [] if item is None and not schema.get("items") else [item]
    if kind == "string":
        return _FORMAT_EXAMPLES.get(str(schema.get("format", "")), "dummy")
    if kind == "integer":
        return int(schema.get("minimum", 0) or 0)
    if kind == "number":
        return schema.get("minimum", 0) or 0
    if kind == "boolean":
        return True
    return None


def _object_example(
    schema: Mapping[str, Any], components: Mapping[str, Any], depth: int, seen: frozenset[str], budget: _Budget
) -> dict[str, Any] | None:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return None
    return {str(name): _example(sub, components, depth + 1, seen, budget) for name, sub in properties.items()}


# ---------------------------------------------------------------------------
# Case params against the operation's parameter schemas
# ---------------------------------------------------------------------------


def query_value(value: Any, schema: Mapping[str, Any]) -> Any:
    """What a query-string value becomes for its schema: digits may stand for numbers."""
    kind = schema.get("type")
    if isinstance(value, str) and kind in ("integer", "number"):
        try:
            return int(value) if kind == "integer" else float(value)
        except ValueError:
            return value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [query_value(v, schema["items"]) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and kind == "string":
        return str(value)
    return value


def parameter_problems(operation: Operation, params: Mapping[str, Any]) -> list[str]:
    """Why a case's params are not a valid request for `operation` by its OpenAPI parameters."""
    from jsonschema import Draft4Validator

    declared = {p.key: p for p in operation.lookup_parameters()}
    problems = []
    for name, value in params.items():
        key = name[:-2] if name.endswith("[]") else name
        parameter = declared.get(key)
        if parameter is None:
            problems.append(f"`{name}` is not a parameter of {operation.id}")
            continue
        schema = dict(parameter.schema)
        if parameter.is_array and "type" not in schema:
            schema["type"] = "array"
        if parameter.is_array and not isinstance(value, list):
            problems.append(f"`{name}` must be a list (sent as {key}[]=…)")
            continue
        for error in Draft4Validator(openapi_to_json_schema(schema, operation.components)).iter_errors(
            query_value(value, schema)
        ):
            problems.append(f"`{name}`: {error.message}")
    return problems


_DROPPED_KEYWORDS = frozenset(
    {"nullable", "example", "examples", "discriminator", "xml", "externalDocs", "deprecated", "readOnly", "writeOnly"}
)


_JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})


def openapi_to_json_schema(schema: Any, components: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.0 schema as JSON Schema (draft 4): local `$ref` resolved, `nullable: true`
    admitting `null` on scalars and objects alike (and in `enum`), recursively."""
    return _convert(schema, components, 0, frozenset(), _Budget())


def _convert(
    node: Any, components: Mapping[str, Any], depth: int, seen: frozenset[str], budget: _Budget
) -> dict[str, Any]:
    if not isinstance(node, dict) or depth > 40 or budget.spent():
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return {}
        return _convert(resolve(node, components), components, depth + 1, seen | {ref}, budget)
    converted: dict[str, Any] = {
        key: value for key, value in node.items() if key not in _DROPPED_KEYWORDS and not str(key).startswith("x-")
    }
    if isinstance(converted.get("properties"), dict):
        converted["properties"] = {
            str(k): _convert(v, components, depth + 1, seen, budget) for k, v in converted["properties"].items()
        }
    for keyword in ("items", "additionalProperties", "not"):
        if isinstance(converted.get(keyword), dict):
            converted[keyword] = _convert(converted[keyword], components, depth + 1, seen, budget)
    for keyword in ("allOf", "oneOf", "anyOf"):
        if isinstance(converted.get(keyword), list):
            converted[keyword] = [_convert(v, components, depth + 1, seen, budget) for v in converted[keyword]]
    kind = converted.get("type")
    if isinstance(kind, str) and kind not in _JSON_TYPES:
        # `type: date` and other non-JSON types (seen in real documents) constrain nothing
        del converted["type"]
    if node.get("nullable") is True:
        kind = converted.get("type")
        if isinstance(kind, str):
            converted["type"] = [kind, "null"]
        elif kind is None and any(k in converted for k in ("allOf", "oneOf", "anyOf")):
            converted = {"anyOf": [converted, {"type": "null"}]}
        if isinstance(converted.get("enum"), list) and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
    return converted
