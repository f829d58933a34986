"""The immutable snapshot: everything a request needs, built once per load.

A snapshot holds the router, one lookup table per operation (key → pre-serialised
answer, scopes, checks, throttles), the fallback answers and the load report. It owns
every fact of its revision: authorisations, tokens, throttle limits, lookup and validation
rules; what outlives a reload (rate-limit counters, memos) lives in `serve.pipeline.Services`.
The request path reads it and never parses YAML or JSON, never touches a file. A reload
builds a new snapshot and swaps one reference (`SnapshotHolder`); a build that fails leaves
the old one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sandbox.load.collection import collection_paused, settle_heap
from sandbox.load.openapi import generate_example, operations_from_documents
from sandbox.load.parse_cache import ParseCache
from sandbox.load.repository import (
    FRANCE_CONNECT_FOLDER,
    NOT_FOUND_FILE,
    Case,
    LoadProblem,
    OpenAPIDocument,
    RepositoryContent,
    merge_layers,
    read_repository,
)
from sandbox.load.repository_files import FileLimits
from sandbox.rules import errors, rendering
from sandbox.rules.key_filter import NO_FILTER, KeyFilter
from sandbox.rules.maintenance import Window, windows_for
from sandbox.rules.matching import (
    NO_FACTS,
    KeyBuilder,
    MatchMode,
    Params,
    RequestFacts,
    RuleBook,
    Unmatchable,
    builtin_rulebook,
    without_tracking,
)
from sandbox.rules.operations import Operation
from sandbox.rules.routing import Router
from sandbox.rules.throttles import Throttle, ThrottleGroup, ThrottleTable, throttle_groups
from sandbox.rules.tokens import TokenVerifier, configured_secrets, scopes_by_operation
from sandbox.rules.validation import CheckTable, OperationChecks, builtin_checks

if TYPE_CHECKING:
    from sandbox.load.near_miss import NearIndex


@dataclass(frozen=True, slots=True)
class Prepared:
    """A complete answer, ready to be written: status, headers and body bytes."""

    status: int
    headers: tuple[rendering.Header, ...]
    body: bytes
    case_id: str | None  # folder/file of the case, None for a generated answer
    outcome: str  # hit | fallback
    near_miss: str | None = None  # the case a fallback names in X-Sandbox-Near-Miss

    def with_headers(self, extra: Sequence[rendering.Header]) -> Prepared:
        return Prepared(self.status, (*self.headers, *extra), self.body, self.case_id, self.outcome, self.near_miss)

    def naming_near_miss(self, case_id: str) -> Prepared:
        """This fallback, naming the closest case in `X-Sandbox-Near-Miss` (and in `near_miss`)."""
        headers = (*self.headers, *rendering.headers(("X-Sandbox-Near-Miss", case_id)))
        return Prepared(self.status, headers, self.body, self.case_id, self.outcome, case_id)

    def header(self, name: bytes) -> str | None:
        """The value of a header (lower-case name), as text."""
        return next((value.decode() for key, value in self.headers if key == name), None)


@dataclass(frozen=True, slots=True)
class OperationTable:
    """Everything the request path needs to know about one operation."""

    operation: Operation
    keys: KeyBuilder
    index: Mapping[str, Prepared]
    fallback: Prepared
    cases: tuple[Case, ...]
    scopes: frozenset[str] | None
    checks: OperationChecks
    # FranceConnect: the identity mapping when a Bearer header carries a FranceConnect token
    identity: Mapping[str, str] | None
    # query parameters the operation declares (FranceConnect routes read only these from the query)
    declared: frozenset[str]
    maintenance: tuple[Window, ...]
    # the throttles that count the operation, with this revision's limits (`data/throttle.yml`)
    throttles: tuple[Throttle, ...]
    # documented mode: the real staging's key and index, tried on a miss, so that every request
    # that reaches a case on the real staging reaches it here too (None in staging mode)
    staging: tuple[KeyBuilder, Mapping[str, Prepared]] | None = None
    # True when a lookup reads the token, the request id or the route version (worked out once)
    needs_facts: bool = field(init=False)
    # the near-miss index, built on the operation's first miss (a start-up spends nothing on
    # operations that never miss); building it twice in a race gives equal indexes
    _near: list[NearIndex] = field(init=False, default_factory=list, repr=False, compare=False)
    # the key filters of `index` and of the staging index, made on the operation's first lookup
    _filters: list[tuple[KeyFilter, KeyFilter]] = field(init=False, default_factory=list, repr=False, compare=False)
    # the fallback naming each case a near miss named (at most one per case of the operation)
    _named: dict[str, Prepared] = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        facts = self.keys.needs_facts or (self.staging is not None and self.staging[0].needs_facts)
        object.__setattr__(self, "needs_facts", facts)

    @property
    def near(self) -> NearIndex:
        """The cases indexed by value, for the near-miss scoring of a fallback (bounded work)."""
        built = self._near
        if not built:
            from sandbox.load.near_miss import NearIndex  # on the first miss: a start-up loads none of it

            built.append(NearIndex.build(self.cases))
        return built[0]

    def look_up(self, params: Params, facts: RequestFacts = NO_FACTS) -> Prepared | None:
        """The case these parameters reach, or None (the caller answers the fallback).

        Documented mode: the parameters the case documents, exactly; else the real staging's
        key (§4.2). Staging mode: the real staging's key only.
        """
        documented, staging = self.filters
        found = _found(self.keys, self.index, params, facts, documented)
        if found is None and self.staging is not None:
            keys, index = self.staging
            found = _found(keys, index, params, facts, staging)
        return found

    def fallback_naming(self, case_id: str) -> Prepared:
        """The fallback with `X-Sandbox-Near-Miss: case_id`, made once per case."""
        named = self._named.get(case_id)
        if named is None:
            named = self._named[case_id] = self.fallback.naming_near_miss(case_id)
        return named

    @property
    def filters(self) -> tuple[KeyFilter, KeyFilter]:
        """What tells most misses without building a key (`rules.key_filter`), for each index."""
        made = self._filters
        if not made:
            staging = NO_FILTER if self.staging is None else KeyFilter.of(*self.staging)
            made.append((KeyFilter.of(self.keys, self.index), staging))
        return made[0]


def _found(
    keys: KeyBuilder, index: Mapping[str, Prepared], params: Params, facts: RequestFacts, screen: KeyFilter
) -> Prepared | None:
    if screen.excludes(params):
        return None
    if keys.mode is MatchMode.STAGING:
        params = without_tracking(params)
    try:
        return index.get(keys.request_key(params, facts))
    except Unmatchable:
        return None


@dataclass(frozen=True, slots=True)
class LoadReport:
    root: str
    operations_by_api: Mapping[str, int]
    cases: int
    france_connect_tokens: int
    problems: tuple[LoadProblem, ...]
    folders_without_operation: tuple[str, ...]
    operations_without_folder: tuple[str, ...]
    duration_s: float

    @property
    def operations(self) -> int:
        return sum(self.operations_by_api.values())

    def summary_lines(self) -> list[str]:
        apis = ", ".join(f"{api} {count}" for api, count in sorted(self.operations_by_api.items()))
        lines = [
            f"Loaded {self.root} in {self.duration_s * 1000:.0f} ms",
            f"  operations: {self.operations} ({apis})",
            f"  cases: {self.cases} (+ {self.france_connect_tokens} FranceConnect tokens)",
            f"  operations without a case folder (default answers only): {len(self.operations_without_folder)}",
        ]
        if self.folders_without_operation:
            lines.append(
                "  case folders with no operation in the OpenAPI documents (not served): "
                + ", ".join(self.folders_without_operation)
            )
        lines.append(f"  files rejected: {len(self.problems)}")
        lines.extend(f"    {problem}" for problem in self.problems)
        return lines


@dataclass(frozen=True, slots=True)
class Snapshot:
    mode: MatchMode
    root: str
    operations: Mapping[str, Operation]
    tables: Mapping[str, OperationTable]
    france_connect: Mapping[str, Case]
    content: RepositoryContent = field(repr=False)
    report: LoadReport = field(repr=False)
    router: Router = field(repr=False)
    verifier: TokenVerifier = field(repr=False)
    throttles: tuple[ThrottleGroup, ...] = field(repr=False)
    # the lookup rules (built in, extended by the repository's `sandbox.yaml`) and validation rules used
    rules: RuleBook = field(repr=False)
    checks: CheckTable = field(repr=False)
    # raw OpenAPI documents by family (entreprise, particulier, particulier_v2), for the download routes
    documents: Mapping[str, bytes] = field(repr=False)
    # what was loaded: one revision per source (git commit, or a digest of a folder's files)
    revision: str = ""
    layers: tuple[Layer, ...] = ()
    loaded_at: float = field(default_factory=time.time)
    # what one file of the repository may cost (the catalogue's lint reads with the same)
    limits: FileLimits = field(default_factory=FileLimits, repr=False)

    @property
    def revision_header(self) -> tuple[bytes, bytes]:
        return (b"x-sandbox-commit", rendering.header_value(self.revision))


@dataclass(frozen=True, slots=True)
class Layer:
    """One fixture source of a snapshot, as the status route shows it."""

    root: str
    revision: str
    cases: int
    overrides: int  # cases of earlier sources this one replaces


def prepare_case(operation: Operation, case: Case, *, fallback: bool = False) -> Prepared:
    pairs = [("X-Sandbox-Case", "default" if fallback else case.id)]
    if fallback:
        pairs.append(("X-Sandbox-Fallback", case.id))
    return Prepared(
        status=case.status,
        headers=(*_case_headers(operation.is_v2), *rendering.headers(*pairs)),
        body=case.body if case.body is not None else rendering.encode_json(case.payload),
        case_id=case.id,
        outcome="fallback" if fallback else "hit",
    )


@functools.cache
def _case_headers(is_v2: bool) -> tuple[rendering.Header, ...]:
    """What every case's answer carries first: v3+ controllers write the content type themselves (no
    charset), v2 renders JSON (spec §11.6)."""
    content_type = rendering.JSON if is_v2 else rendering.JSON_API_BARE
    return rendering.headers(("Content-Type", content_type), *rendering.CACHE_HEADERS)


def _fallback(operation: Operation, cases: Sequence[Case]) -> Prepared:
    if operation.api == "entreprise":
        schema = operation.responses.get("200")
        body = rendering.encode_json(generate_example(schema, operation.components))
        return Prepared(
            status=200,
            headers=rendering.headers(
                ("Content-Type", rendering.JSON_API_BARE),
                *rendering.CACHE_HEADERS,
                ("X-Sandbox-Case", "default"),
                ("X-Sandbox-Fallback", "openapi-example"),
            ),
            body=body,
            case_id=None,
            outcome="fallback",
        )
    not_found = next((c for c in cases if c.file == NOT_FOUND_FILE), None)
    if not_found is not None:
        return prepare_case(operation, not_found, fallback=True)
    error = errors.no_case_error(operation.id)
    if operation.is_v2:
        body, content_type = errors.v2_body("not_found", error.detail), rendering.JSON
    else:
        body, content_type = errors.json_api_body([error]), rendering.JSON_API_BARE
    return Prepared(
        status=404,
        headers=rendering.headers(
            ("Content-Type", content_type),
            *rendering.CACHE_HEADERS,
            ("X-Sandbox-Case", "default"),
            ("X-Sandbox-Fallback", "no-case"),
        ),
        body=body,
        case_id=None,
        outcome="fallback",
    )


def _document_family(document: OpenAPIDocument, operations: Mapping[str, Operation]) -> str | None:
    families = {
        ("particulier_v2" if op.is_v2 else op.api) for op in operations.values() if op.document == document.path
    }
    return families.pop() if len(families) == 1 else None


def content_revision(content: RepositoryContent) -> str:
    """A short digest of every file the snapshot is built from (OpenAPI documents, cases, `data/`,
    `tokens/`, `sandbox.yaml`), by path and content: two trees with the same files have the same revision."""
    listing = json.dumps(sorted(content.files.items()))
    return f"content-{hashlib.sha256(listing.encode()).hexdigest()[:12]}"


@collection_paused
def build_snapshot(
    root: str | Path | Sequence[str | Path],
    mode: MatchMode = MatchMode.DOCUMENTED,
    *,
    secrets: Sequence[str] | None = None,
    rulebook: RuleBook | None = None,
    cache: ParseCache | None = None,
    revisions: Sequence[str | None] | None = None,
    limits: FileLimits | None = None,
) -> Snapshot:
    """Read one fixture source, or several layered ones, and build a complete snapshot.

    Bad files are reported in the load report, never fatal. `revisions` names what each
    source is (a git commit); a source without one is named by a digest of its files.
    """
    started = time.perf_counter()
    roots = [root] if isinstance(root, (str, Path)) else list(root)
    cache = cache or ParseCache()
    layer_contents = [read_repository(r, cache, layer=index, limits=limits) for index, r in enumerate(roots)]
    named = list(revisions or [None] * len(layer_contents))
    layer_revisions = [r or content_revision(c) for r, c in zip(named, layer_contents, strict=True)]
    content = merge_layers(layer_contents)
    problems = list(content.problems)
    operations = operations_from_documents(content.documents, problems)
    book = (rulebook or builtin_rulebook()).extended(content.lookup_rules, "sandbox.yaml")
    scopes = scopes_by_operation(content.authorizations, operations)
    checks = builtin_checks()
    groups = throttle_groups(content.throttles)
    throttles = ThrottleTable(groups)

    tables: dict[str, OperationTable] = {}
    overrides: Counter[int] = Counter()
    for operation_id, operation in operations.items():
        cases = tuple(content.folders.get(operation_id, ()))
        keys = KeyBuilder.for_operation(
            operation,
            book.rule_for(operation),
            mode,
            (name for case in cases for name in case.params),
        )
        index: dict[str, Prepared] = {}
        owners: dict[str, Case] = {}
        prepared: dict[int, Prepared] = {}
        for number, case in enumerate(cases):
            key = keys.case_key(case.params)
            if key in owners and owners[key].layer != case.layer:
                overrides[case.layer] += 1
            elif key in owners:
                problems.append(
                    LoadProblem(
                        case.source,
                        case.lines.get("params"),
                        f"same lookup key as {owners[key].file} in {mode.value} mode; this file wins",
                    )
                )
            owners[key] = case
            prepared[number] = index[key] = prepare_case(operation, case)
        staging = None
        if mode is MatchMode.DOCUMENTED and cases:
            staging_keys = KeyBuilder.for_operation(operation, keys.rule, MatchMode.STAGING)
            # same answers (the bytes are shared), keyed the real staging's way; the later file wins
            staging_index = {staging_keys.case_key(case.params): prepared[n] for n, case in enumerate(cases)}
            staging = (staging_keys, MappingProxyType(staging_index))
        tables[operation_id] = OperationTable(
            operation=operation,
            keys=keys,
            index=MappingProxyType(index),
            fallback=_fallback(operation, cases),
            cases=cases,
            scopes=scopes[operation_id],
            checks=checks.for_operation(operation_id),
            identity=book.identity_mapping(operation_id) if book.accepts_france_connect(operation_id) else None,
            declared=frozenset(p.key for p in operation.lookup_parameters() if p.location == "query"),
            maintenance=windows_for(operation_id),
            throttles=throttles.for_operation(operation_id),
            staging=staging,
        )

    france_connect = {
        str(case.params.get("token", "")).lower(): case
        for case in content.folders.get(FRANCE_CONNECT_FOLDER, ())
        if isinstance(case.params.get("token"), str)
    }
    folders_without_operation = tuple(
        sorted(f for f in content.folders if f not in operations and f != FRANCE_CONNECT_FOLDER)
    )
    documents = {
        family: document.text.encode()
        for document in content.documents
        if (family := _document_family(document, operations)) is not None
    }
    report = LoadReport(
        root=content.root,
        operations_by_api=MappingProxyType(Counter(op.api for op in operations.values())),
        cases=sum(len(v) for k, v in content.folders.items() if k != FRANCE_CONNECT_FOLDER),
        france_connect_tokens=len(france_connect),
        problems=tuple(problems),
        folders_without_operation=folders_without_operation,
        operations_without_folder=tuple(sorted(op for op in operations if op not in content.folders)),
        duration_s=time.perf_counter() - started,
    )
    return Snapshot(
        mode=mode,
        root=content.root,
        operations=MappingProxyType(operations),
        tables=MappingProxyType(tables),
        france_connect=MappingProxyType(france_connect),
        content=content,
        report=report,
        router=Router(operations.values()),
        verifier=TokenVerifier(configured_secrets() if secrets is None else secrets, content.tokens.values()),
        throttles=groups,
        rules=book,
        checks=checks,
        documents=MappingProxyType(documents),
        revision=" + ".join(layer_revisions),
        limits=limits or FileLimits(),
        layers=tuple(
            Layer(
                root=layer_content.root,
                revision=layer_revision,
                cases=sum(len(v) for k, v in layer_content.folders.items() if k != FRANCE_CONNECT_FOLDER),
                overrides=overrides[index],
            )
            for index, (layer_content, layer_revision) in enumerate(zip(layer_contents, layer_revisions, strict=True))
        ),
    )


def describe(snapshot: Snapshot) -> dict[str, Any]:
    """What `/__sandbox/status` says of the snapshot being served."""
    report = snapshot.report
    return {
        "revision": snapshot.revision,
        "loaded_at": snapshot.loaded_at,
        "mode": snapshot.mode.value,
        "operations": report.operations,
        "operations_by_api": dict(report.operations_by_api),
        "cases": report.cases,
        "france_connect_tokens": report.france_connect_tokens,
        "problems": [str(p) for p in report.problems],
        "layers": [dataclasses.asdict(layer) for layer in snapshot.layers],
    }


class SnapshotHolder:
    """The single reference the request path reads; a reload replaces it in one assignment."""

    __slots__ = ("current",)

    def __init__(self, snapshot: Snapshot) -> None:
        self.current = snapshot

    def swap(self, snapshot: Snapshot) -> Snapshot:
        previous, self.current = self.current, snapshot
        settle_heap()  # in a serving process: the collector no longer walks the new snapshot
        return previous
