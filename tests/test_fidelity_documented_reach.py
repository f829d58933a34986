"""Documented mode reaches at least what real staging reaches (issue 12, item 9).

For every case of both public corpora, the request of its README cURL and the variants of it
that real staging normalises (letter case, zero-padded numbers, parameters the server drops,
a commune sent with a foreign birth country, date parts after a missing year, blank values,
a repeated parameter, a `.json` suffix, an `X-Request-Id` Rails sanitises, the token in the
query) are answered in process by `pipeline.answer` from a staging-mode snapshot and from a
documented-mode one. Wherever the staging answer is a case, the documented answer must be
that same case. The FranceConnect routes are tried with every FranceConnect token of the
corpus, its letter case changed too (there the case is the one the token reaches).

A variant of a case that real staging answers with *another* case (the README request of
`200-boeth.yaml` carries `nature_effectif`, which real staging drops: it answers `200-2024.yaml`)
is outside the property: documented mode answers the case that documents exactly what was
sent, as its promise says; those requests are counted apart.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlencode

import pytest

from sandbox.load.snapshot import OperationTable, Snapshot, build_snapshot
from sandbox.rules.gone import gone_route
from sandbox.rules.matching import KeySpec, MatchMode
from sandbox.serve.pipeline import IncomingRequest, Services, answer
from sandbox.tools.reaching import CaseRequest, case_request, france_connect_request
from tests.conftest import CORPORA, corpus_path

TODAY = datetime.date(2026, 4, 28)  # the reference model's date (tests/test_replay.py)
FOREIGN_COMMUNE = "75056"


@dataclass(frozen=True)
class Variant:
    name: str
    request: CaseRequest


def _with_query(request: CaseRequest, query: list[tuple[str, str]]) -> CaseRequest:
    return replace(request, query=tuple(query))


def _declared_query(table: OperationTable) -> list[str]:
    return [p.name for p in table.operation.lookup_parameters() if p.location == "query"]


def _read_by_staging(table: OperationTable) -> set[str]:
    """The request parameters the real staging's lookup hash reads (any variant of its rule)."""
    return {spec.param for variant in table.keys.rule.variants for spec in variant.keys if spec.source == "param"}


def _specs(table: OperationTable) -> list[KeySpec]:
    return [spec for variant in table.keys.rule.variants for spec in variant.keys]


def variants(table: OperationTable, request: CaseRequest) -> Iterator[Variant]:
    """The request and what real staging normalises of it."""
    query = list(request.query)
    sent = {name.removesuffix("[]") for name, _ in query}
    yield Variant("as documented", request)
    yield Variant("upper case", _with_query(request, [(n, v.upper()) for n, v in query]))
    yield Variant("lower case", _with_query(request, [(n, v.lower()) for n, v in query]))
    for index, (name, value) in enumerate(query):
        if value.isdigit() and len(value) <= 4:
            padded = [*query[:index], (name, "0" + value), *query[index + 1 :]]
            yield Variant(f"zero-padded {name}", _with_query(request, padded))
    read = _read_by_staging(table)
    for name in _declared_query(table):
        key = name.removesuffix("[]")
        if key in sent:
            continue
        yield Variant(f"blank {key}", _with_query(request, [*query, (name, "")]))
        if key not in read:
            yield Variant(f"dropped {key}", _with_query(request, [*query, (name, "1")]))
    for spec in _specs(table):
        if spec.only_if is not None and spec.param not in sent:
            country, expected = spec.only_if
            if dict(query).get(country, "").lower() != expected:
                extra = [*query, (spec.param, FOREIGN_COMMUNE)]
                yield Variant(f"{spec.param} with {country} not {expected}", _with_query(request, extra))
        if spec.source == "param" and spec.param != spec.key and spec.key in sent:
            renamed = [(spec.param if n == spec.key else n, v) for n, v in query]
            yield Variant(f"{spec.key} sent as {spec.param}", _with_query(request, renamed))
        if spec.requires and spec.param not in sent and any(r not in sent for r in spec.requires):
            yield Variant(f"{spec.param} without {spec.requires}", _with_query(request, [*query, (spec.param, "5")]))
    scalar = next(((n, v) for n, v in query if not n.endswith("[]")), None)
    if scalar is not None:
        yield Variant("repeated parameter", _with_query(request, [(scalar[0], "zzz"), *query]))
    yield Variant(".json suffix", replace(request, path=request.path + ".json"))
    yield Variant(
        "sanitised X-Request-Id",
        replace(request, headers=(*request.headers, ("X-Request-Id", "9f6d1c2e-4b1a-4c7e-9d2f-1a2b3c4d5e6f!"))),
    )


def _token_in_query(request: CaseRequest, token: str) -> CaseRequest:
    return replace(request, query=(*request.query, ("token", token)), headers=())


def _incoming(request: CaseRequest) -> IncomingRequest:
    headers = {name.lower(): value for name, value in request.headers}
    return IncomingRequest("GET", request.path, urlencode(request.query).encode(), headers)


@dataclass
class Tally:
    pairs: Counter[str]
    counterexamples: list[str]
    other_case: list[str]  # staging answers another case than the one varied (outside the property)
    tried: int = 0


SERVICES = Services(fixed_today=TODAY)


def _compare(
    staging: Snapshot, documented: Snapshot, tally: Tally, label: str, request: CaseRequest, case_id: str | None
) -> None:
    """`case_id`: the case the request varies (None: any case, a FranceConnect token's)."""
    tally.tried += 1
    incoming = _incoming(request)
    real = answer(staging, incoming, SERVICES).prepared
    if real.outcome != "hit":
        return
    ours = answer(documented, incoming, SERVICES).prepared
    if case_id is not None and real.case_id != case_id:
        tally.other_case.append(f"{case_id} [{label}]: staging {real.case_id}, documented {ours.case_id}")
        return
    tally.pairs[label] += 1
    if ours.outcome != "hit" or ours.case_id != real.case_id:
        tally.counterexamples.append(f"{real.case_id} [{label}] {request.path}: documented gave {ours.case_id}")


def _reach(name: str) -> tuple[Tally, int]:
    root: Path = corpus_path(name)
    token = (root / "tokens" / "default").read_text().strip()
    staging = build_snapshot(root, MatchMode.STAGING)
    documented = build_snapshot(root, MatchMode.DOCUMENTED)
    tally = Tally(Counter(), [], [])
    cases = 0
    for table in staging.tables.values():
        operation = table.operation
        if gone_route(operation.path, operation.api) is not None:
            continue
        for case in table.cases:
            cases += 1
            base = case_request(operation, case, token)
            for variant in variants(table, base):
                _compare(staging, documented, tally, variant.name, variant.request, case.id)
            _compare(staging, documented, tally, "token in the query", _token_in_query(base, token), case.id)
        if table.identity is not None:
            for france_connect_token in staging.france_connect:
                for spelled in (france_connect_token, france_connect_token.upper()):
                    request = france_connect_request(operation.path, spelled)
                    for variant in variants(table, request):
                        label = f"FranceConnect {variant.name}" + (" (token upper case)" if spelled.isupper() else "")
                        _compare(staging, documented, tally, label, variant.request, None)
    return tally, cases


@pytest.mark.parametrize("name", CORPORA)
def test_documented_mode_reaches_every_case_staging_reaches(name: str) -> None:
    tally, cases = _reach(name)
    pairs = sum(tally.pairs.values())
    print(
        f"\n[{name}] {cases} cases, {tally.tried} requests tried, {pairs} (case, variant) pairs answered by a case "
        f"in staging mode, {len(tally.counterexamples)} counterexamples; pairs by variant: {dict(tally.pairs)}"
    )
    print("\n".join(f"  COUNTEREXAMPLE {line}" for line in tally.counterexamples[:50]))
    print(f"  {len(tally.other_case)} requests answered by another case in staging mode (outside the property):")
    print("\n".join(f"    {line}" for line in tally.other_case[:20]))
    assert tally.counterexamples == []
    assert pairs > 1000  # the variants do reach cases: the property is not vacuous
    assert tally.pairs["zero-padded moisDateNaissance"] > 0
    assert any(label.endswith("with codeCogInseePaysNaissance not 99100") for label in tally.pairs)
