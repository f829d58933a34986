"""Routing in process (`sandbox.rules.routing`): a small table of hand-written operations, one test
per rule of the spec (§1.2, §11.1, §11.8). Expectations written out.
"""

from __future__ import annotations

import pytest

from sandbox.rules.operations import Api, Operation
from sandbox.rules.routing import RouteMatch, Router, VersionMiss, alias_paths, api_of_host, without_format


def operation(operation_id: str, api: Api, path: str, version: str = "3") -> Operation:
    return Operation(operation_id, api, path, version, "", (), {}, "doc")


SIRENE = operation("sirene", "entreprise", "/v3/insee/sirene/unites_legales/{siren}")
SIRENE_V4 = operation("sirene4", "entreprise", "/v4/insee/sirene/unites_legales/{siren}", "4")
DIFFUSIBLES = operation("diffusibles", "entreprise", "/v3/insee/sirene/unites_legales/diffusibles/{siren}/siege")
LIASSES = operation("liasses", "entreprise", "/v3/dgfip/unites_legales/{siren}/liasses_fiscales/{year}")
QF_V2 = operation("qf2", "particulier", "/api/v2/composition-familiale-v2", "2")
SHARED_E = operation("shared_e", "entreprise", "/v3/shared/{id}")
SHARED_P = operation("shared_p", "particulier", "/v3/shared/{id}")
ASSOCIATION = operation("association", "entreprise", "/v4/djepva/api-association/associations/{siren_or_rna}", "4")
UNVERSIONED = operation("privileges", "entreprise", "/privileges", "")
# odd but possible templates: braces that do not wrap a whole segment, a `vN` literal after the version
BRACES = operation("braces", "entreprise", "/v3/braces/{a}b/c}")
INNER_V = operation("inner_v", "entreprise", "/v3/inner/v1/{id}")
OPERATIONS = [
    SIRENE,
    SIRENE_V4,
    DIFFUSIBLES,
    LIASSES,
    QF_V2,
    SHARED_E,
    SHARED_P,
    ASSOCIATION,
    UNVERSIONED,
    BRACES,
    INNER_V,
]


@pytest.fixture
def router() -> Router:
    return Router(OPERATIONS)


@pytest.mark.parametrize(
    ("path", "expected", "params"),
    [
        ("/v3/insee/sirene/unites_legales/130025265", SIRENE, {"siren": "130025265"}),
        ("/v4/insee/sirene/unites_legales/130025265", SIRENE_V4, {"siren": "130025265"}),
        ("/v3/insee/sirene/unites_legales/130025265/", SIRENE, {"siren": "130025265"}),
        ("v3//insee/sirene/unites_legales/130025265", SIRENE, {"siren": "130025265"}),
        ("/v3/insee/sirene/unites_legales/diffusibles", SIRENE, {"siren": "diffusibles"}),
        ("/v3/insee/sirene/unites_legales/diffusibles/1/siege", DIFFUSIBLES, {"siren": "1"}),
        ("/v3/dgfip/unites_legales/1/liasses_fiscales/2024", LIASSES, {"siren": "1", "year": "2024"}),
        ("/api/v2/composition-familiale-v2", QF_V2, {}),
        ("/privileges", UNVERSIONED, {}),
        ("/v3/insee/sirene/unites_legales/130025265.json", SIRENE, {"siren": "130025265"}),
        ("/v4/djepva/api-association/associations/W1", ASSOCIATION, {"siren_or_rna": "W1"}),
        ("/v4/ministere_interieur/api-association/associations/W1", ASSOCIATION, {"siren_or_rna": "W1"}),
        ("/v3/braces/{a}b/c}", BRACES, {}),
        ("/v3/inner/v1/7", INNER_V, {"id": "7"}),
    ],
)
def test_a_served_path_names_its_operation_and_parameters(
    router: Router, path: str, expected: Operation, params: dict[str, str]
) -> None:
    assert router.match(path) == RouteMatch(expected, params)


@pytest.mark.parametrize(
    "path",
    [
        "/v3/insee/sirene/unites_legales",
        "/v3/insee/sirene/unites_legales/1/2",
        "/v3/insee/sirene/unites_legales/1.2.json",
        "/v3/insee/sirene/unites_legales/1.json/x",
        "/v3/insee.x/sirene/unites_legales/1",
        "/insee/sirene/unites_legales/1",
        "/x/y/v3/insee/sirene/unites_legales/1",
        "/privileges/v3",
        "/v3/unknown",
        "/v9/unknown",
        "/v9",
        "/v3/braces/x/c}",
        "/v3/braces/{a}b/x",
        "",
        "/",
    ],
)
def test_a_path_of_no_operation_routes_nowhere(router: Router, path: str) -> None:
    assert router.match(path) is None


@pytest.mark.parametrize(
    ("path", "family", "version"),
    [
        ("/v9/insee/sirene/unites_legales/1", SIRENE, "v9"),
        ("/v9/dgfip/unites_legales/1/liasses_fiscales/2024", LIASSES, "v9"),
        ("/api/v9/composition-familiale-v2", QF_V2, "v9"),
        ("/v2/insee/sirene/unites_legales/1.json", SIRENE, "v2"),
        ("/v3/djepva/api-association/associations/W1", ASSOCIATION, "v3"),
        ("/v3/ministere_interieur/api-association/associations/W1", ASSOCIATION, "v3"),
        ("/v9/inner/v1/7", INNER_V, "v9"),
    ],
)
def test_a_path_under_an_unserved_version_names_its_family(
    router: Router, path: str, family: Operation, version: str
) -> None:
    miss = router.match(path)
    assert miss == VersionMiss((family,), version)
    assert isinstance(miss, VersionMiss) and miss.api == family.api


def test_the_host_api_selects_between_paths_both_apis_serve(router: Router) -> None:
    assert router.match("/v3/shared/1", "entreprise") == RouteMatch(SHARED_E, {"id": "1"})
    assert router.match("/v3/shared/1", "particulier") == RouteMatch(SHARED_P, {"id": "1"})
    assert router.match("/v3/shared/1") == RouteMatch(SHARED_E, {"id": "1"})
    assert router.match("/api/v2/composition-familiale-v2", "entreprise") is None
    assert router.match("/api/v9/composition-familiale-v2", "entreprise") is None
    assert router.match("/v9/shared/1", "particulier") == VersionMiss((SHARED_P,), "v9")


def test_the_remembered_answer_is_per_path_and_api(router: Router) -> None:
    assert router.match("/v3/shared/1", "particulier") == RouteMatch(SHARED_P, {"id": "1"})
    assert router.match("/v3/shared/1", "entreprise") == RouteMatch(SHARED_E, {"id": "1"})
    assert router.match("/v3/shared/1", "particulier") == RouteMatch(SHARED_P, {"id": "1"})


def test_the_memo_stays_bounded_and_long_paths_still_route(router: Router) -> None:
    for index in range(4100):
        router.match(f"/v3/insee/sirene/unites_legales/{index}")
    assert len(router._seen) == 4096
    assert router.match("/v3/insee/sirene/unites_legales/0") == RouteMatch(SIRENE, {"siren": "0"})
    long_siren = "1" * 300
    assert router.match(f"/v3/insee/sirene/unites_legales/{long_siren}") == RouteMatch(SIRENE, {"siren": long_siren})
    assert (f"/v3/insee/sirene/unites_legales/{long_siren}", None) not in router._seen
    long_id = "1" * 300
    assert router.match(f"/v3/shared/{long_id}", "particulier") == RouteMatch(SHARED_P, {"id": long_id})
    at_bound = "/v3/insee/sirene/unites_legales/" + "2" * (256 - 32)
    assert len(at_bound) == 256
    router.match(at_bound)
    assert (at_bound, None) in router._seen


@pytest.mark.parametrize(
    ("path", "stripped"),
    [
        ("/v3/a/552049447.json", "/v3/a/552049447"),
        ("/v3/a/552049447.pdf", "/v3/a/552049447"),
        ("/v3/a/552049447", "/v3/a/552049447"),
        ("/v3/a/552049447.", "/v3/a/552049447."),
        ("/v3/a/.json", "/v3/a/.json"),
        ("/v3/a/1.json.json", "/v3/a/1.json.json"),
        ("/v3.json/a", "/v3.json/a"),
        ("x.json", "/x"),
    ],
)
def test_without_format_strips_one_format_suffix_of_the_last_segment(path: str, stripped: str) -> None:
    assert without_format(path) == stripped


def test_alias_paths_are_the_other_paths_of_the_group_under_the_same_version() -> None:
    assert alias_paths("/v4/djepva/api-association/associations/{siren_or_rna}") == (
        "/v4/ministere_interieur/api-association/associations/{siren_or_rna}",
    )
    assert alias_paths("/v12/ministere_interieur/api-association/associations/open_data/{siren_or_rna}") == (
        "/v12/djepva/api-association/associations/open_data/{siren_or_rna}",
    )
    assert alias_paths("/v4/djepva/api-association/associations/{siren_or_rna}/x") == ()
    assert alias_paths("/vx/djepva/api-association/associations/{siren_or_rna}") == ()
    assert alias_paths("/v3/insee/sirene/unites_legales/{siren}") == ()


@pytest.mark.parametrize(
    ("host", "api"),
    [
        ("entreprise.api.gouv.fr", "entreprise"),
        ("staging.entreprise.api.gouv.fr:443", "entreprise"),
        ("particulier.api.gouv.fr", "particulier"),
        ("staging.particulier.api.localtest.me", "particulier"),
        ("127.0.0.1:8080", None),
        ("entreprise.gouv.fr", None),
        ("", None),
    ],
)
def test_the_host_names_the_api(host: str, api: Api | None) -> None:
    assert api_of_host(host) == api
