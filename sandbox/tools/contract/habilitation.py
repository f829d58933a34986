"""What a habilitation receives in production: `sandbox contract --profile production --scopes ...`.

Offline (no `--base-url`), the view lists for each operation of the fixture repository whether
the scopes open its route (the entry gate, from the repository's authorisations) and which
attributes production sends or leaves out for them (`sandbox/rules/production_fields.yaml`),
with the 200 cases that lose something. With `--base-url`, the contract replays every case with
a token of these scopes and expects each 200 body as production would send it
(`production_cases`); a route the scopes do not open is an expected failure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.load.snapshot import OperationTable, Snapshot
from sandbox.rules.production_fields import OperationFields, Who, load_production_table
from sandbox.rules.tokens import granted
from sandbox.serve.franceconnect import FranceConnectSession
from sandbox.serve.response_validation import json_path
from sandbox.tools.contract.planning import ExpectedFailure, PlannedCase

NOT_OPENED = "not opened by the habilitation"
FRANCE_CONNECT_PREFIX = "FranceConnect token "
_SHOWN_FILES = 3  # case files named per group of cases that lose the same attributes


def effective_scopes(table: OperationTable, scopes: frozenset[str]) -> frozenset[str]:
    """The scopes a caller holds on this route: a v3+ FranceConnect user never holds an `_identite` scope."""
    if table.operation.is_france_connect and not table.operation.is_v2:
        return frozenset(scope for scope in scopes if "_identite" not in scope)
    return scopes


def _present(payload: object, path: str) -> bool:
    values = [payload]
    for segment in path.split("."):
        key = segment.removesuffix("[]")
        values = [value[key] for value in values if isinstance(value, dict) and key in value]
        if segment.endswith("[]"):
            values = [item for value in values if isinstance(value, list) for item in value]
    return bool(values)


@dataclass(frozen=True, slots=True)
class OperationView:
    operation_id: str
    path: str
    opened: bool
    gate: tuple[str, ...]  # the route's scopes, one of which opens it (empty: any valid token)
    fields: OperationFields | None  # None: the table does not describe the operation
    received: tuple[tuple[str, Who], ...]
    left_out: tuple[tuple[str, Who], ...]
    cases_200: int
    cases_cut: tuple[tuple[str, tuple[str, ...]], ...]  # case file → the paths it has that production leaves out


def habilitation(snapshot: Snapshot, scopes: Iterable[str], only: Sequence[str] = ()) -> list[OperationView]:
    """For each operation (or those of `only`): what a token with `scopes` gets from production."""
    held = frozenset(scopes)
    table_of_fields = load_production_table()
    views = []
    for operation_id, table in sorted(snapshot.tables.items()):
        if only and operation_id not in only:
            continue
        fields = table_of_fields.for_operation(operation_id)
        effective = effective_scopes(table, held)
        received: list[tuple[str, Who]] = []
        left_out: list[tuple[str, Who]] = []
        for path, who in fields.paths if fields is not None else ():
            (received if who.holds(effective) else left_out).append((path, who))
        cut = []
        cases_200 = [case for case in table.cases if case.status == 200]
        for case in cases_200:
            lost = tuple(path for path, _ in left_out if _present(case.payload, path))
            items_cut = (
                fields is not None and fields.item_rules and fields.shape(case.payload, effective) != case.payload
            )
            if lost or items_cut:
                cut.append((case.file, lost or ("some list items",)))
        views.append(
            OperationView(
                operation_id=operation_id,
                path=table.operation.path,
                opened=granted(effective, table.scopes),
                gate=tuple(sorted(table.scopes or ())),
                fields=fields,
                received=tuple(received),
                left_out=tuple(left_out),
                cases_200=len(cases_200),
                cases_cut=tuple(cut),
            )
        )
    return views


def format_habilitation(views: Sequence[OperationView], scopes: Iterable[str]) -> list[str]:
    """The text `sandbox contract --profile production --scopes ...` prints."""
    listed = ", ".join(sorted(scopes)) or "(none)"
    opened = [view for view in views if view.opened]
    refused = [view for view in views if not view.opened]
    lines = [
        f"Habilitation {listed}, production profile: {len(opened)} operation(s) open, {len(refused)} refused",
        "",
    ]
    for view in opened:
        lines.append(f"{view.operation_id}  GET {view.path}")
        if view.fields is None:
            lines.append("  not described by the production table: the payload is sent whole")
        elif view.fields.whole:
            lines.append("  receives the whole payload (no attribute depends on a scope)")
        else:
            lines.append("  receives: " + (", ".join(path for path, _ in view.received) or "nothing the table lists"))
            if view.left_out:
                lines.append("  left out: " + ", ".join(f"{path} ({who.describe()})" for path, who in view.left_out))
            for path, rules in view.fields.item_rules:
                lines.append(f"  {path}[]: each item kept by its kind's scope ({', '.join(sorted(rules.scopes))})")
            lines.append(f"  200 cases: {view.cases_200}, of which {len(view.cases_cut)} lose something")
            groups: dict[tuple[str, ...], list[str]] = {}
            for file, paths in view.cases_cut:
                groups.setdefault(paths, []).append(file)
            for paths, files in groups.items():
                shown = ", ".join(files[:_SHOWN_FILES]) + (", …" if len(files) > _SHOWN_FILES else "")
                lines.append(f"    {len(files)} without {', '.join(paths)} ({shown})")
    if refused:
        lines += ["", "Refused (the token holds none of the route's scopes):"]
        lines.extend(f"  {view.operation_id} (needs one of: {', '.join(view.gate)})" for view in refused)
    return lines


def production_cases(planned: Sequence[PlannedCase], snapshot: Snapshot, scopes: Iterable[str]) -> list[PlannedCase]:
    """The planned cases as a production-profile server answers a token with `scopes`: each 200 payload
    cut to the caller's scopes (a FranceConnect token's own, when the case goes through one), and the
    routes the scopes do not open as expected failures."""
    held = frozenset(scopes)
    table_of_fields = load_production_table()
    adjusted = []
    for item in planned:
        table = snapshot.tables.get(item.operation_id)
        if table is None or item.request is None:
            adjusted.append(item)
            continue
        caller = effective_scopes(table, held)
        if item.via.startswith(FRANCE_CONNECT_PREFIX):
            session = FranceConnectSession.from_case(snapshot.france_connect[item.via[len(FRANCE_CONNECT_PREFIX) :]])
            caller = session.user(v2=table.operation.is_v2).scopes
        elif not granted(caller, table.scopes):
            failure = ExpectedFailure(NOT_OPENED, f"the route needs one of: {', '.join(sorted(table.scopes or ()))}")
            adjusted.append(dataclasses.replace(item, expected_failure=failure))
            continue
        fields = table_of_fields.for_operation(item.operation_id)
        if fields is not None and item.case.status == 200:
            shaped = fields.shape(item.case.payload, caller)
            case = dataclasses.replace(item.case, payload=shaped)
            item = dataclasses.replace(item, case=case, left_out=tuple(_removed(item.case.payload, shaped)))
        adjusted.append(item)
    return adjusted


def _removed(whole: Any, shaped: Any, parts: tuple[str | int, ...] = ()) -> Iterator[str]:
    """The JSON path of every key of `whole` that `shaped` no longer has."""
    if isinstance(whole, dict) and isinstance(shaped, dict):
        for key, value in whole.items():
            if key not in shaped:
                yield json_path((*parts, key))
            else:
                yield from _removed(value, shaped[key], (*parts, key))
    elif isinstance(whole, list) and isinstance(shaped, list):
        for index, (item, kept) in enumerate(zip(whole, shaped, strict=False)):
            yield from _removed(item, kept, (*parts, index))
