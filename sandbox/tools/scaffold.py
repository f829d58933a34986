"""`sandbox new-case`: a case file pre-filled for one operation, that passes `sandbox lint`.

The params are the operation's path parameters and required query parameters, plus
whatever the server's own validators ask for (a civility route needs a name, given
names, a birth date, a sex, a birth country and commune…), each with a value those
validators accept: a Luhn-valid SIREN or SIRET that no case of the folder uses yet, a
birth date that keeps the person inside the DSNJ age window, `prenoms` as a YAML list.
On a FranceConnect route the params are the civility parameters of a token of
`payloads/france_connect` whose identity no case of the folder uses yet, so the case
is reachable.

The payload is the `200` example of the OpenAPI document (`generate_example`, with
values the schema refuses replaced), or, without `--from-openapi`, the payload of an
existing `200` case of the folder when there is one; its identifying fields (SIREN, SIRET,
INE… per `payload_identifiers.yaml`) are then rewritten from the params. Title and
description are placeholders to edit ("À compléter : …", `sandbox.tools.placeholders`).
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

from sandbox.load.openapi import generate_example, operations_from_documents
from sandbox.load.repository import FRANCE_CONNECT_FOLDER, Case, RepositoryContent, read_repository
from sandbox.rules.coercion import to_s
from sandbox.rules.franceconnect import DEFAULT_MAPPING, civility_parameters
from sandbox.rules.gone import gone_route
from sandbox.rules.identifiers import is_ine, is_siren, is_siret
from sandbox.rules.matching import KeyBuilder, LookupRule, MatchMode, RuleBook, builtin_rulebook, strip_brackets
from sandbox.rules.operations import Operation
from sandbox.rules.tracking import TRACKING_PARAMETERS
from sandbox.rules.validation import OperationChecks, build_checks
from sandbox.serve.franceconnect import FranceConnectSession
from sandbox.tools.payload_identifiers import filled
from sandbox.tools.placeholders import PLACEHOLDER_DESCRIPTION, PLACEHOLDER_TITLE

__all__ = ["PLACEHOLDER_DESCRIPTION", "PLACEHOLDER_TITLE", "NewCase", "case_text", "new_case"]

_NAMES = (
    "MARTIN",
    "BERNARD",
    "DUBOIS",
    "THOMAS",
    "ROBERT",
    "RICHARD",
    "PETIT",
    "DURAND",
    "LEROY",
    "MOREAU",
    "SIMON",
    "LAURENT",
    "LEFEBVRE",
    "MICHEL",
    "GARCIA",
    "DAVID",
    "BERTRAND",
    "ROUX",
    "VINCENT",
    "FOURNIER",
)
_FIRST_NAMES = ("CAMILLE", "LOUISE")
# A civility case gives the whole identity even where the server makes parts optional (CNAV).
_CIVILITY = frozenset(
    {
        "nomNaissance",
        "nom",
        "prenoms",
        "prenom",
        "anneeDateNaissance",
        "moisDateNaissance",
        "jourDateNaissance",
        "anneeDateDeNaissance",
        "moisDateDeNaissance",
        "jourDateDeNaissance",
        "dateDeNaissance",
        "dateNaissance",
        "sexeEtatCivil",
        "sexe",
    }
)


def _luhn_complete(body: str) -> str:
    """`body` plus the digit that makes the whole Luhn-valid."""
    for digit in "0123456789":
        candidate = body + digit
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char)
            if position % 2 == 1:
                value *= 2
                if value > 9:
                    value -= 9
            total += value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable: one digit always completes a Luhn number")


@dataclass(slots=True)
class _Values:
    """Fresh values, never one a case of the folder already uses."""

    used: set[str]
    today: datetime.date
    counter: int = 0

    def _fresh(self, make: Callable[[int], str], valid: Callable[[str], bool]) -> str:
        for _ in range(100_000):
            self.counter += 1
            value = make(self.counter)
            if valid(value) and value.lower() not in self.used:
                self.used.add(value.lower())
                return value
        raise ScaffoldError("no fresh value left (every candidate is used in the folder)")

    def siren(self) -> str:
        return self._fresh(lambda n: _luhn_complete(f"9{n:07d}"), is_siren)

    def siret(self) -> str:
        return self._fresh(lambda n: _luhn_complete(f"9{n:07d}00001"), is_siret)

    def ine(self) -> str:
        return self._fresh(lambda n: f"{n:010d}A", is_ine)

    def digits(self) -> str:
        return self._fresh(lambda n: f"{n:08d}", lambda v: True)

    def immatriculation(self) -> str:
        return self._fresh(lambda n: f"AA-{n % 1000:03d}-ZZ", lambda v: True)

    def name(self) -> str:
        return self._fresh(
            lambda n: _NAMES[(n - 1) % len(_NAMES)] + ("" if n <= len(_NAMES) else "-" + _NAMES[n % 7]), lambda v: True
        )

    @property
    def birth(self) -> datetime.date:
        # 20 years old: inside every age window (DSNJ 16-25), in the past, after 1900
        return datetime.date(self.today.year - 20, 1, 15)

    @property
    def school_year(self) -> str:
        return str(self.today.year if self.today.month >= 9 else self.today.year - 1)


def _generators(values: _Values) -> dict[str, Callable[[], Any]]:
    birth = values.birth
    return {
        "siren": values.siren,
        "siren_or_rna": values.siren,
        "siren_or_siret_or_rna": values.siren,
        "siret": values.siret,
        "siret_or_rna": values.siret,
        "siret_or_eori": values.siret,
        "year": lambda: str(values.today.year - 2),
        "month": lambda: "01",
        "ine": values.ine,
        "identifiant": values.digits,
        "immatriculation": values.immatriculation,
        "nomNaissance": values.name,
        "nom": values.name,
        "prenoms": lambda: [_FIRST_NAMES[0]],
        "prenom": lambda: _FIRST_NAMES[0],
        "anneeDateNaissance": lambda: birth.year,
        "moisDateNaissance": lambda: birth.month,
        "jourDateNaissance": lambda: birth.day,
        "anneeDateDeNaissance": lambda: birth.year,
        "moisDateDeNaissance": lambda: birth.month,
        "jourDateDeNaissance": lambda: birth.day,
        "dateDeNaissance": birth.isoformat,
        "dateNaissance": birth.isoformat,
        "sexeEtatCivil": lambda: "F",
        "sexe": lambda: "F",
        "codeCogInseePaysNaissance": lambda: "99100",
        "codePaysLieuDeNaissance": lambda: "99100",
        "codeCogInseeCommuneNaissance": lambda: "75056",
        "codeInseeLieuDeNaissance": lambda: "75056",
        "lieuDeNaissance": lambda: "75056",
        "codeEtablissement": lambda: "0751234A",
        "anneeScolaire": lambda: values.school_year,
    }


def _request_form(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: [to_s(v) for v in value] if isinstance(value, list) else to_s(value) for k, value in params.items()}


def _missing_names(checks: OperationChecks, params: Mapping[str, Any], today: datetime.date) -> list[str]:
    """Parameters the server's validators complain about, in the order of the checks."""
    rule = checks.rule
    if rule is None:
        return []
    request = _request_form(params)
    codes = {e.code for e in checks.errors(request, today=today)}
    names: list[str] = []
    for check in rule.variant_for(request).checks:
        for code, found in check.parameters().items():
            if code in codes:
                names.extend(n for n in found if n not in names)
    return names


def _civility(operation: Operation, checks: OperationChecks, rule: LookupRule, values: _Values) -> dict[str, Any]:
    generators = _generators(values)
    params: dict[str, Any] = {}
    for parameter in operation.parameters:
        if parameter.location not in ("path", "query") or parameter.key in TRACKING_PARAMETERS:
            continue
        if parameter.location == "path" or parameter.required or parameter.key in _CIVILITY:
            make = generators.get(parameter.key)
            if make is not None:
                params[parameter.key] = make()
            elif parameter.location == "path":
                params[parameter.key] = to_s(parameter.schema.get("example", "1"))
    for _ in range(6):
        wanted = [n for n in _missing_names(checks, params, values.today) if n not in params and n in generators]
        if not wanted:
            break
        for name in wanted:
            params[name] = generators[name]()
    variant = rule.variant_for(_request_form(params))
    if not variant.compact:  # the server sends every key of this lookup, empty or not: give them all
        for spec in variant.keys:
            if spec.source == "param" and spec.param not in params and spec.param in generators:
                params[spec.param] = generators[spec.param]()
    declared = {p.key: p for p in operation.parameters if p.location in ("path", "query")}
    for name, value in params.items():
        if isinstance(value, list) and name in declared and not declared[name].is_array:
            params[name] = " ".join(to_s(v) for v in value)  # a v2 `prenoms` is one space-separated string
    order = {p.key: i for i, p in enumerate(operation.parameters)}
    return dict(sorted(params.items(), key=lambda item: order.get(item[0], len(order))))


def _france_connect(
    operation: Operation,
    checks: OperationChecks,
    keys: KeyBuilder,
    mapping: Mapping[str, str],
    tokens: Iterable[Case],
    used_keys: set[str],
    today: datetime.date,
    readable: frozenset[str],
) -> dict[str, Any] | None:
    """The civility params of the first token whose identity is valid here and unused in the folder."""
    for case in tokens:
        session = FranceConnectSession.from_case(case)
        if not session.usable(0, check_expiry=False):
            continue
        identity = session.identity()
        params = civility_parameters(identity, mapping)
        checked = {
            k: v if isinstance(v, (str, list)) else str(v)
            for k, v in civility_parameters(identity, DEFAULT_MAPPING).items()
        }
        if checks.errors(checked, today=today):
            continue
        # Only names the folder's key already reads: a new name would change the key of every
        # FranceConnect request of the folder (documented mode), and of none in staging mode.
        params = {k: v for k, v in params.items() if k in readable}
        if keys.case_key(params) in used_keys:
            continue
        return params
    return None


def _set(document: Any, path: Sequence[Any], value: Any) -> None:
    target = document
    for part in path[:-1]:
        target = target[part]
    if path:
        target[path[-1]] = value


def _default_for(schema: Mapping[str, Any]) -> Any:
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return {"string": "dummy", "integer": 0, "number": 0, "boolean": True, "array": [], "object": {}}.get(str(kind))


def _repair(example: Any, validator: Draft4Validator) -> Any:
    """Replace the values the schema refuses (a bad `example` in the document) by plain ones."""
    for _ in range(20):
        errors = [e for e in validator.iter_errors(example) if e.validator in ("type", "enum")]
        if not errors:
            break
        for error in errors:
            if error.absolute_path:
                _set(example, list(error.absolute_path), _default_for(error.schema))
    return example


def _payload(operation: Operation, existing: Sequence[Case], from_openapi: bool) -> Any:
    from sandbox.load.openapi import openapi_to_json_schema

    schema = operation.responses.get("200")
    validator = Draft4Validator(openapi_to_json_schema(schema, operation.components)) if schema else None
    if not from_openapi:
        for case in existing:
            if case.status == 200 and (validator is None or validator.is_valid(case.payload)):
                return case.payload
    # a JSON round trip: dates of the document's examples become ISO text, as on the wire
    example = json.loads(json.dumps(generate_example(schema, operation.components), default=str))
    return _repair(example, validator) if validator is not None else example


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + to_s(value).replace("'", "''") + "'"


def case_text(params: Mapping[str, Any], payload: Any, status: int = 200) -> str:
    """A case file: quoted strings (never read as dates or numbers), lists in block style."""
    lines = [
        "---",
        f"title: {_yaml_scalar(PLACEHOLDER_TITLE)}",
        f"description: {_yaml_scalar(PLACEHOLDER_DESCRIPTION)}",
    ]
    lines.append("params:" if params else "params: {}")
    for name, value in params.items():
        if isinstance(value, list):
            lines.append(f"  {_yaml_scalar(name) if ':' in name else name}:")
            lines.extend(f"    - {_yaml_scalar(v)}" for v in value)
        else:
            lines.append(f"  {_yaml_scalar(name) if ':' in name else name}: {_yaml_scalar(value)}")
    lines.append(f"status: {status}")
    lines.append("payload: |-")
    body = json.dumps(payload, ensure_ascii=False, indent=2)
    lines.extend(("  " + line) if line else "" for line in body.split("\n"))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class NewCase:
    operation: str
    params: Mapping[str, Any]
    payload: Any
    text: str
    path: Path  # where it goes by default: payloads/<operation>/200-a-completer[-N].yaml


class ScaffoldError(ValueError):
    """The operation is unknown, or no case can be made for it."""


def _folder_values(cases: Sequence[Case]) -> set[str]:
    used: set[str] = set()
    for case in cases:
        for value in case.params.values():
            for item in value if isinstance(value, list) else [value]:
                used.add(to_s(item).lower())
    return used


def new_case(
    root: str | Path,
    operation_id: str,
    *,
    from_openapi: bool = False,
    today: datetime.date | None = None,
    content: RepositoryContent | None = None,
    rulebook: RuleBook | None = None,
) -> NewCase:
    base = Path(root).resolve()
    content = content or read_repository(base)
    operations = operations_from_documents(content.documents, [])
    operation = operations.get(operation_id)
    if operation is None:
        import difflib

        close = difflib.get_close_matches(operation_id, list(operations), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ScaffoldError(f"unknown operation {operation_id!r} in {base}{hint}")
    gone = gone_route(operation.path, operation.api)
    if gone is not None:
        raise ScaffoldError(
            f"{operation_id} is a retired route ({operation.path} answers 410 Gone): no case is ever answered"
        )
    when = today or datetime.date.today()
    existing = content.folders.get(operation_id, [])
    book = (rulebook or builtin_rulebook()).extended(content.lookup_rules, "sandbox.yaml")
    checks = build_checks().for_operation(operation_id)
    keys = KeyBuilder.for_operation(
        operation, book.rule_for(operation), MatchMode.DOCUMENTED, (n for c in existing for n in c.params)
    )
    used_keys = {keys.case_key(c.params) for c in existing}
    params: dict[str, Any] | None = None
    if operation.is_france_connect:
        mapping = book.identity_mapping(operation_id)
        tokens = content.folders.get(FRANCE_CONNECT_FOLDER, [])
        rule_keys = {spec.key for variant in book.rule_for(operation).variants for spec in variant.keys}
        readable = keys.names if existing else frozenset(rule_keys & set(mapping)) | keys.names
        params = _france_connect(operation, checks, keys, mapping, tokens, used_keys, when, readable)
    if params is None:
        params = _civility(operation, checks, book.rule_for(operation), _Values(_folder_values(existing), when))
    # the payload copied or generated describes some entity: make it the one the params ask for
    payload = filled(operation_id, params, _payload(operation, existing, from_openapi))
    folder = base / "payloads" / operation_id
    path = folder / "200-a-completer.yaml"
    number = 1
    names = {strip_brackets(c.file) for c in existing}
    while os.path.lexists(path) or path.name in names:
        number += 1
        path = folder / f"200-a-completer-{number}.yaml"
    return NewCase(operation_id, params, payload, case_text(params, payload), path)
