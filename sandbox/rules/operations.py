"""What an operation is: its id, API, path, version, parameters and responses (from OpenAPI).

The fixture folder of an operation is named by its id; `load.openapi` reads documents
into these values, and everything downstream (routes, lookup rules, checks) reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.rules.tracking import TRACKING_PARAMETERS

Api = Literal["entreprise", "particulier"]


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]

    @property
    def key(self) -> str:
        """The parameter's name as a lookup key: `prenoms[]` is looked up as `prenoms`."""
        return self.name[:-2] if self.name.endswith("[]") else self.name

    @property
    def is_array(self) -> bool:
        return self.schema.get("type") == "array" or self.name.endswith("[]")


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    api: Api
    path: str
    version: str
    summary: str
    parameters: tuple[Parameter, ...]
    responses: Mapping[str, Mapping[str, Any] | None]
    document: str
    components: Mapping[str, Any] = field(repr=False, default_factory=dict)
    layer: int = 0
    # the first example the document gives for each response status (what `Prefer: code=` answers)
    examples: Mapping[str, Any] = field(repr=False, default_factory=dict)

    @property
    def is_v2(self) -> bool:
        """Particulier v2 routes answer in their own flat formats, not json_api."""
        return self.path.startswith("/api/v2/") or self.path.startswith("/api/")

    @property
    def is_france_connect(self) -> bool:
        return self.id.endswith("_with_france_connect")

    @property
    def version_number(self) -> str:
        return self.version[1:] if self.version.startswith("v") else self.version

    def lookup_parameters(self) -> tuple[Parameter, ...]:
        """Path and query parameters that can take part in a lookup (no headers, no tracking)."""
        return tuple(p for p in self.parameters if p.location in ("path", "query") and p.key not in TRACKING_PARAMETERS)
