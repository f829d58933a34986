"""docs/fidelity.md is true: every row of its table is checked by a test that names the row.

A test names a row by quoting its first cell in its docstring, after `Fidelity row:` (the
text may wrap). `test_every_row_of_the_table_is_checked_by_a_test` reads the table and every
test module with `ast`; the tests of the rows that concern answers to requests follow, each
against a real uvicorn on loopback (both match modes where the row is about answers to API
requests). The rows about loading a repository are in `test_fidelity_table_loading.py`.
"""

from __future__ import annotations

import ast
import datetime
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
import yaml

from sandbox.cli.assembly import assemble
from sandbox.cli.serve_config import ServeConfig
from sandbox.rules.matching import MatchMode
from sandbox.rules.tokens import DEFAULT_SECRET, INTERNAL_JTI, mint
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from tests import tiny_repository
from tests.clock import FakeClock
from tests.conftest import ROOT
from tests.fidelity_support import (
    ALL_SCOPES,
    INE,
    JSON_API,
    MESRI_FRANCE_CONNECT,
    MODES,
    RECIPIENT,
    SECRET,
    TEXT,
    TIMEOUT,
    TOKEN,
    TRACKING,
    UNITE_LEGALE,
    bearer,
    errors_of,
    served,
)

FIDELITY = ROOT / "docs" / "fidelity.md"
TESTS = ROOT / "tests"
MARKER = "Fidelity row:"
TINY_TRACKING = "recipient=13002526500013&context=test&object=test"


def table_rows() -> list[str]:
    """The first cell of every row of the table in docs/fidelity.md."""
    rows = []
    for line in FIDELITY.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or line.startswith(("| area ", "| --- ")):
            continue
        rows.append(line.split(" | ")[0].removeprefix("| ").strip())
    return rows


def named_rows() -> dict[str, list[str]]:
    """Row text → the tests whose docstring names it (`Fidelity row: <first cell>`)."""
    found: dict[str, list[str]] = {}
    for module in sorted(TESTS.glob("test_*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                text = " ".join((ast.get_docstring(node) or "").split())
                for match in re.finditer(re.escape(MARKER) + r" (.+?)(?:$| \| )", text):
                    found.setdefault(match.group(1).strip(), []).append(f"{module.name}::{node.name}")
    return found


def _names_row(text: str, row: str) -> bool:
    """A docstring names a row when it quotes its first cell, alone or followed by a sentence."""
    return text == row or text.startswith(row + ".")


def test_every_row_of_the_table_is_checked_by_a_test() -> None:
    rows = table_rows()
    named = named_rows()
    assert len(rows) == len(set(rows)) >= 40, rows
    checked = {row: [test for text, tests in named.items() if _names_row(text, row) for test in tests] for row in rows}
    assert [row for row, tests in checked.items() if not tests] == [], "rows no test names"
    stale = [text for text in named if not any(_names_row(text, row) for row in rows)]
    assert stale == [], f"tests name rows the table does not have: {stale}"
    print(f"\n{len(rows)} rows in docs/fidelity.md, each checked by a test:")
    print("\n".join(f"  {row} -> {', '.join(tests)}" for row, tests in checked.items()))


@pytest.fixture(scope="module", params=MODES, ids=[m.value for m in MODES])
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with served(request.param) as http:
        yield http


@pytest.fixture(scope="module", params=MODES, ids=[m.value for m in MODES])
def tiny(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tiny_repository.build(tmp_path_factory.mktemp("tiny"))
    with served(request.param, root) as http:
        yield http


# -- lookup and fallbacks -------------------------------------------------------------------------

LIASSES = "/v3/dgfip/unites_legales/912345675/liasses_fiscales/2024"


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_default_match_mode(mode: MatchMode) -> None:
    """Fidelity row: Default match mode. The DGFIP key holds `user_id` and `request_id` on the real
    staging: only documented mode (the default) answers the case."""
    with served(mode) as http:
        response = http.get(LIASSES, params=TRACKING, headers=bearer())
    assert response.status_code == 200
    if mode is MatchMode.DOCUMENTED:
        assert (
            response.headers["x-sandbox-case"] == "api_entreprise_v3_dgfip_liasses_fiscales/200-reel-normal-2024.yaml"
        )
    else:
        assert response.headers["x-sandbox-case"] == "default"
        assert response.headers["x-sandbox-fallback"] == "openapi-example"
    assert MatchMode(ServeConfig(fixtures=[str(ROOT)]).match) is MatchMode.DOCUMENTED


def test_particulier_miss_without_404_yaml(tiny: httpx.Client) -> None:
    """Fidelity row: Particulier miss with no `404.yaml`."""
    response = tiny.get("/v3/demo/sans_404", params={**RECIPIENT, "identifiant": "2"}, headers=bearer())
    assert response.status_code == 404
    assert response.headers["x-sandbox-fallback"] == "no-case"
    detail = (
        "Aucun cas ne correspond à ces paramètres et le dossier payloads/api_particulier_v3_demo_with_identifiant "
        "n'a pas de cas 404.yaml (cas « non trouvé ») : ajoutez-en un."
    )
    title = "Mauvaise configuration de l'environnement de staging"
    assert errors_of(response) == [{"code": "00104", "title": title, "detail": detail, "meta": {}}]


def _example_repository(root: Path) -> Path:
    schema = {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "floor": {"type": "integer", "minimum": 5},
            "choice": {
                "oneOf": [
                    {"type": "object", "properties": {"first": {"type": "string", "example": "a"}}},
                    {"type": "object", "properties": {"second": {"type": "string", "example": "b"}}},
                ]
            },
            "flag": {"type": "boolean", "example": False},
            "day": {"type": "string", "format": "date"},
            "merged": {
                "allOf": [
                    {"type": "object", "properties": {"x": {"type": "string", "example": "x"}}},
                    {"type": "object", "properties": {"y": {"type": "integer"}}},
                ]
            },
            "any": {"anyOf": [{"type": "string", "example": "first"}, {"type": "integer"}]},
            "thing": {"$ref": "#/components/schemas/Thing"},
            "loose": {},
        },
    }
    document = {
        "openapi": "3.0.3",
        "info": {"title": "API Entreprise", "version": "1"},
        "paths": {
            "/v3/exemple/unites_legales/{siren}": {
                "get": {
                    "summary": "Exemple",
                    "parameters": [{"name": "siren", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "x-operationId": "api_entreprise_v3_exemple_unites_legales",
                            "description": "ok",
                            "content": {"application/json": {"schema": schema}},
                        }
                    },
                }
            }
        },
        "components": {"schemas": {"Thing": {"type": "object", "properties": {"name": {"type": "string"}}}}},
    }
    (root / "openapi").mkdir(parents=True)
    (root / "openapi" / "a.yaml").write_text(yaml.safe_dump(document))
    return root


@pytest.fixture(scope="module", params=MODES, ids=[m.value for m in MODES])
def example(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    root = _example_repository(tmp_path_factory.mktemp("example"))
    with served(request.param, root) as http:
        first = http.get(f"/v3/exemple/unites_legales/130025265?{TINY_TRACKING}", headers=bearer())
        second = http.get(f"/v3/exemple/unites_legales/130025265?{TINY_TRACKING}", headers=bearer())
    assert first.status_code == second.status_code == 200
    assert first.headers["x-sandbox-fallback"] == "openapi-example"
    assert first.content == second.content
    yield first.json()


def test_example_numbers(example: dict[str, object]) -> None:
    """Fidelity row: Entreprise example generation: numbers."""
    assert example["count"] == 0 and example["floor"] == 5


def test_example_one_of(example: dict[str, object]) -> None:
    """Fidelity row: Entreprise example generation: `oneOf`."""
    assert example["choice"] == {"first": "a"}


def test_example_false(example: dict[str, object]) -> None:
    """Fidelity row: Entreprise example generation: `example: false`."""
    assert example["flag"] is False


def test_example_format(example: dict[str, object]) -> None:
    """Fidelity row: Entreprise example generation: `format`."""
    assert example["day"] == "2023-01-31"


def test_example_all_of_any_of_ref_untyped(example: dict[str, object]) -> None:
    """Fidelity row: Entreprise example generation: `allOf`, `anyOf`, `$ref`, untyped nodes."""
    assert example["merged"] == {"x": "x", "y": 0}
    assert example["any"] == "first"
    assert example["thing"] == {"name": "dummy"}
    assert "loose" in example


def test_version_segment_not_a_plain_served_number(client: httpx.Client) -> None:
    """Fidelity row: Version segment that is not a plain served number (`v03`, `v3a`)."""
    padded = client.get("/v03/insee/sirene/unites_legales/130025265", params=TRACKING, headers=bearer())
    assert padded.status_code == 404 and padded.headers["content-type"] == JSON_API
    assert errors_of(padded) == [
        {
            "code": "00402",
            "title": "Version d'API non prise en charge",
            "detail": "La version v03 n'est pas supportée pour cet endpoint",
            "meta": {},
        }
    ]
    lettered = client.get("/v3a/insee/sirene/unites_legales/130025265", params=TRACKING, headers=bearer())
    assert lettered.status_code == 404 and lettered.headers["content-type"] == TEXT


def test_routed_operation_absent_from_the_openapi_documents(client: httpx.Client) -> None:
    """Fidelity row: Routed operation absent from the OpenAPI documents."""
    path = "/v3/inpi/rne/unites_legales/open_data/130025265/beneficiaires_effectifs"
    response = client.get(path, params=TRACKING, headers=bearer())
    assert response.status_code == 404
    assert response.text == "Cette URL n'existe pas sur API entreprise, veuillez vérifier votre URL."


def test_both_apis_on_an_unknown_host(client: httpx.Client) -> None:
    """Fidelity row: Both APIs on an unknown `Host`."""
    entreprise = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer())
    particulier = client.get(INE, params={**RECIPIENT, "ine": "2203456789H"}, headers=bearer())
    assert entreprise.status_code == particulier.status_code == 200
    assert client.get("/api/nowhere").text == "Cette URL n'existe pas sur API particulier, veuillez vérifier votre URL."
    assert client.get("/v3/nowhere").text == "Cette URL n'existe pas sur API entreprise, veuillez vérifier votre URL."
    restricted = client.get(
        INE, params={**RECIPIENT, "ine": "2203456789H"}, headers={**bearer(), "host": "entreprise.api.localtest.me"}
    )
    assert restricted.status_code == 404
    assert restricted.text == "Cette URL n'existe pas sur API entreprise, veuillez vérifier votre URL."


# -- tokens ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_signing_secret(mode: MatchMode, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fidelity row: Signing secret."""
    from sandbox.load.snapshot import build_snapshot
    from sandbox.web import create_app

    shipped = (ROOT / "tokens" / "default").read_text().strip()
    cases = (
        (
            "first-secret-of-the-environment-32b,second-secret-of-the-environment-32",
            "second-secret-of-the-environment-32",
        ),
        (None, DEFAULT_SECRET),
    )
    for environment, signer in cases:
        if environment is None:
            monkeypatch.delenv("SANDBOX_JWT_SECRET", raising=False)
        else:
            monkeypatch.setenv("SANDBOX_JWT_SECRET", environment)
        snapshot = build_snapshot(ROOT, mode)
        with serve_in_thread(create_app(snapshot)) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as http:
            signed = http.get(UNITE_LEGALE, params=TRACKING, headers=bearer(mint(signer, ALL_SCOPES)))
            listed = http.get(UNITE_LEGALE, params=TRACKING, headers=bearer(shipped))
            other = http.get(
                UNITE_LEGALE, params=TRACKING, headers=bearer(mint("not-a-configured-secret-32-bytes", ALL_SCOPES))
            )
        assert (signed.status_code, listed.status_code, other.status_code) == (200, 200, 401)


def test_tokens_whose_jti_is_not_all_zero(tmp_path: Path) -> None:
    """Fidelity row: Tokens whose `jti` is not all-zero."""
    root = tiny_repository.build(tmp_path / "fixtures")
    other = mint(SECRET, [], jti="11111111-2222-3333-4444-555555555555")
    listed = mint(SECRET, [], jti="66666666-7777-8888-9999-000000000000")
    (root / "tokens").mkdir()
    (root / "tokens" / "integrator").write_text(listed + "\n")
    for mode in MODES:
        with served(mode, root) as http:
            target = f"/v3/demo/unites_legales/130025265?{TINY_TRACKING}"
            assert http.get(target, headers=bearer(other)).status_code == 401
            assert http.get(target, headers=bearer(listed)).status_code == 200


def _claims(**changes: object) -> dict[str, object]:
    claims: dict[str, object] = {"uid": INTERNAL_JTI, "jti": INTERNAL_JTI, "scopes": ALL_SCOPES, "iat": 1767225600}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_token_without_uid_jti_iat_or_scopes(client: httpx.Client) -> None:
    """Fidelity row: Token without `uid`, `jti`, `iat` or `scopes`, or with a non-numeric `iat`."""
    for changes in ({"uid": None}, {"jti": None}, {"iat": None}, {"iat": "hier"}):
        token = jwt.encode(_claims(**changes), SECRET, algorithm="HS256")
        response = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer(token))
        assert response.status_code == 401, changes
        assert errors_of(response)[0]["code"] == "00101"
    scopeless = jwt.encode(_claims(scopes=None), SECRET, algorithm="HS256")
    refused = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer(scopeless))
    assert refused.status_code == 403 and errors_of(refused)[0]["code"] == "00100"
    privileges = client.get("/v2/privileges", headers=bearer(scopeless))
    assert privileges.status_code == 200 and privileges.json() == {"data": {"privileges": []}}


def test_token_sources_legacy_requests_still_pass(client: httpx.Client) -> None:
    """Fidelity row: Token sources. The legacy sources (Bearer or `?token=` on v3+, `X-Api-Key` or `?token=` on
    v2) are still read; the current rule lets an invalid Bearer hide a valid `X-Api-Key`."""
    assert client.get(UNITE_LEGALE, params=TRACKING, headers=bearer()).status_code == 200
    assert client.get(UNITE_LEGALE, params={**TRACKING, "token": TOKEN}).status_code == 200
    assert client.get("/api/introspect", headers={"X-Api-Key": TOKEN}).status_code == 200
    assert client.get("/api/introspect", params={"token": TOKEN}).status_code == 200
    hidden = client.get(UNITE_LEGALE, params=TRACKING, headers={**bearer("not-a-token"), "X-Api-Key": TOKEN})
    assert hidden.status_code == 401


def test_operation_missing_from_the_authorisations_file(tmp_path: Path) -> None:
    """Fidelity row: Operation missing from the authorisations file."""
    root = tiny_repository.build(tmp_path / "fixtures")
    (root / "data").mkdir()
    (root / "data" / "authorizations.yml").write_text(
        yaml.safe_dump({"shared": {"api_entreprise/v3_and_more/demo/unites_legales": ["demo_scope"]}})
    )
    token = mint(SECRET, ["another_scope"])
    for mode in MODES:
        with served(mode, root) as http:
            listed = http.get(f"/v3/demo/unites_legales/130025265?{TINY_TRACKING}", headers=bearer(token))
            missing = http.get("/v3/demo/sans_404?recipient=13002526500013&identifiant=1", headers=bearer(token))
        assert (listed.status_code, missing.status_code) == (403, 200)


def test_blacklist_ip_allow_list_whitelist_custom_limit(client: httpx.Client) -> None:
    """Fidelity row: Blacklist, IP allow-list, JWT whitelist, per-token custom rate limit (§2.6). Claims that
    would carry them in a database change nothing here."""
    token = jwt.encode(
        _claims(blacklisted=True, allowed_ips=["10.0.0.1"], rate_limit_per_minute=1), SECRET, algorithm="HS256"
    )
    for _ in range(3):
        response = client.get(UNITE_LEGALE, params=TRACKING, headers={**bearer(token), "X-Forwarded-For": "192.0.2.1"})
        assert response.status_code == 200


def _failing_repository(root: Path) -> Path:
    tiny_repository.build(root)
    tiny_repository.write_case(
        root, "api_entreprise_v3_demo_unites_legales", "500.yaml", {"siren": "356000000"}, 500, '{"errors": []}'
    )
    return root


def test_in_flight_duplicate_guard(tmp_path: Path) -> None:
    """Fidelity row: In-flight duplicate guard (409 `00015`)."""
    root = _failing_repository(tmp_path / "fixtures")
    for mode in MODES:
        with served(mode, root) as http:
            failing = [
                http.get(f"/v3/demo/unites_legales/356000000?{TINY_TRACKING}", headers=bearer()) for _ in range(3)
            ]
            assert [r.status_code for r in failing] == [500, 500, 500]
            target = f"/v3/demo/unites_legales/130025265?{TINY_TRACKING}"
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(lambda _, t=target: http.get(t, headers=bearer()).status_code, range(16)))
            assert statuses == [200] * 16


# -- FranceConnect ----------------------------------------------------------------------------------


def test_v3_france_connect_route_without_a_bearer(client: httpx.Client) -> None:
    """Fidelity row: v3 FranceConnect route called without a Bearer header."""
    anonymous = client.get(MESRI_FRANCE_CONNECT, params=RECIPIENT)
    assert anonymous.status_code == 401 and errors_of(anonymous)[0]["code"] == "00101"
    with_api_token = client.get(MESRI_FRANCE_CONNECT, params=RECIPIENT, headers={"X-Api-Key": TOKEN})
    assert with_api_token.status_code == 401 and with_api_token.headers["content-type"] == JSON_API
    assert errors_of(with_api_token) == [
        {"code": "50001", "title": "Accès non autorisé", "detail": "Le jeton d'accès est mal formaté.", "meta": {}}
    ]


# -- maintenance, reload -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_maintenance_windows_are_off_by_default(mode: MatchMode) -> None:
    """Fidelity row: Maintenance windows."""
    clock = FakeClock(datetime.datetime(2026, 4, 28, 1, 30, tzinfo=ZoneInfo("Europe/Paris")).timestamp())
    for maintenance, status in ((False, 200), (True, 503)):
        services = Services(maintenance=maintenance, clock=clock, fixed_today=datetime.date(2026, 4, 28))
        with served(mode, services=services) as http:
            assert http.get(LIASSES, params=TRACKING, headers=bearer()).status_code == status
    assert ServeConfig(fixtures=[str(ROOT)]).maintenance is False


def _assembled(root: Path, cache: Path, **options: object) -> ServeConfig:
    config = ServeConfig(
        fixtures=[str(root)], cache_dir=str(cache), jwt_secrets=[SECRET], watch=False, rate_limit=False
    )
    for name, value in options.items():
        setattr(config, name, value)
    return config


def test_reload_mocks_with_a_broken_file(tmp_path: Path) -> None:
    """Fidelity row: `POST /api/reload-mocks` when the new tree has a broken file."""
    root = tiny_repository.build(tmp_path / "fixtures")
    app = assemble(_assembled(root, tmp_path / "cache"))
    assert app.syncer is not None
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=60.0) as http:
            target = f"/v3/demo/unites_legales/130025265?{TINY_TRACKING}"
            before = http.get(target, headers=bearer())
            broken = root / "payloads" / "api_entreprise_v3_demo_unites_legales" / "casse.yaml"
            broken.write_text("params:\n  siren: [1\nstatus: 200\n")
            reload = http.post("/api/reload-mocks")
            assert reload.status_code == 422
            assert "casse.yaml" in reload.text
            after = http.get(target, headers=bearer())
            assert after.status_code == 200 and after.content == before.content
            assert after.headers["x-sandbox-commit"] == before.headers["x-sandbox-commit"]
    finally:
        app.syncer.stop()


def test_reload_mocks_off_loopback(tmp_path: Path) -> None:
    """Fidelity row: `POST /api/reload-mocks` off loopback."""
    root = tiny_repository.build(tmp_path / "fixtures")
    admin = "admin-token-of-the-fidelity-tests-0123456789"
    app = assemble(_assembled(root, tmp_path / "cache", admin_policy="closed", admin_token=admin))
    assert app.syncer is not None
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=60.0) as http:
            assert http.post("/api/reload-mocks").status_code == 403
            assert http.post("/api/reload-mocks", headers=bearer(TOKEN)).status_code == 403
            granted = http.post("/api/reload-mocks", headers={"Authorization": f"Bearer {admin}"})
            assert granted.json() == {"message": "Mock backend reloaded"}
    finally:
        app.syncer.stop()
    loopback = assemble(_assembled(root, tmp_path / "cache-loopback"))
    assert loopback.admin.open


# -- routes ---------------------------------------------------------------------------------------------


def test_non_get_request_on_an_api_path(client: httpx.Client) -> None:
    """Fidelity row: Non-GET request on an API path."""
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = client.request(method, UNITE_LEGALE, params=TRACKING, headers=bearer())
        assert response.status_code == 404 and response.headers["content-type"] == TEXT
        gone = client.request(method, "/v2/etablissements/13002526500013", headers=bearer())
        assert gone.status_code == 410


def test_document_proxy_and_mcp_routes(client: httpx.Client) -> None:
    """Fidelity row: Document proxy and MCP routes (`/proxy/files/…`, `/proxy/inpi/download/…`, `/mcp`)."""
    for method, path in (
        ("GET", "/proxy/files/9f6d1c2e-4b1a-4c7e-9d2f-1a2b3c4d5e6f"),
        ("GET", "/proxy/inpi/download/9f6d1c2e-4b1a-4c7e-9d2f-1a2b3c4d5e6f"),
        ("GET", "/mcp"),
        ("POST", "/mcp"),
    ):
        response = client.request(method, path, headers=bearer())
        assert response.status_code == 404 and response.headers["content-type"] == TEXT


def test_cors_for_the_api_gouv_fr_sites(client: httpx.Client) -> None:
    """Fidelity row: CORS for the api.gouv.fr sites."""
    origin = {"Origin": "https://entreprise.api.gouv.fr"}
    preflight = client.options(UNITE_LEGALE, headers={**origin, "Access-Control-Request-Method": "GET"})
    answer = client.get(UNITE_LEGALE, params=TRACKING, headers={**bearer(), **origin})
    for response in (preflight, answer):
        assert not [name for name in response.headers if name.startswith("access-control-")]
    document = client.get("/v3/openapi-entreprise.yaml", headers=origin)
    assert document.headers["access-control-allow-origin"] == "*"


def test_response_headers(client: httpx.Client) -> None:
    """Fidelity row: Response headers."""
    hit = client.get(UNITE_LEGALE, params=TRACKING, headers=bearer())
    fallback = client.get("/v3/insee/sirene/unites_legales/356000000", params=TRACKING, headers=bearer())
    assert hit.headers["x-sandbox-case"].startswith("api_entreprise_v3_insee_unites_legales/")
    assert fallback.headers["x-sandbox-case"] == "default"
    assert fallback.headers["x-sandbox-fallback"] == "openapi-example"
    for response in (hit, fallback):
        assert response.headers["x-sandbox-commit"]
        assert response.headers["x-response-cached"] == "false"
        assert "x-request-id" not in response.headers and "etag" not in response.headers
    refused = client.get(UNITE_LEGALE, params=TRACKING)
    assert refused.headers["x-sandbox-outcome"] == "auth-error"


def test_oversized_requests(client: httpx.Client) -> None:
    """Fidelity row: Oversized requests."""
    long_target = client.get(UNITE_LEGALE, params={**TRACKING, "pad": "a" * 9000}, headers=bearer())
    assert long_target.status_code == 414 and long_target.headers["x-sandbox-outcome"] == "uri-too-long"
    long_header = client.get(UNITE_LEGALE, params=TRACKING, headers={**bearer(), "X-Big": "b" * 9000})
    assert long_header.status_code == 431 and long_header.headers["x-sandbox-outcome"] == "headers-too-large"
    body = b"[" + b"1," * 600_000 + b"1]"
    large_body = client.request(
        "GET", UNITE_LEGALE, params=TRACKING, content=body, headers={**bearer(), "Content-Type": "application/json"}
    )
    assert large_body.status_code == 413 and large_body.headers["x-sandbox-outcome"] == "body-too-large"
    for response in (long_target, long_header, large_body):
        assert response.headers["content-type"] == TEXT and response.text.count("\n") == 1


def test_integers_of_more_than_20_digits(client: httpx.Client) -> None:
    """Fidelity row: Integers of more than 20 digits (date parts, `int` lookup keys)."""
    civility = {
        **RECIPIENT,
        "nomNaissance": "MARTIN",
        "prenoms[]": "Camille",
        "anneeDateNaissance": "2003",
        "moisDateNaissance": "9" * 5000,
        "jourDateNaissance": "14",
    }
    response = client.get("/v3/cnous/etudiant_boursier/identite", params=civility, headers=bearer())
    assert response.status_code == 422
    assert "00423" in [e["code"] for e in errors_of(response)]


def test_nosniff_on_every_answer(client: httpx.Client) -> None:
    """Fidelity row: `X-Content-Type-Options: nosniff`."""
    for response in (
        client.get(UNITE_LEGALE, params=TRACKING, headers=bearer()),
        client.get("/v3/nowhere"),
        client.get("/api/impots/svair"),
        client.get("/"),
        client.get("/__sandbox/status"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"


def test_openapi_downloads(client: httpx.Client) -> None:
    """Fidelity row: OpenAPI downloads `/api/open-api*.yml`."""
    for path in (
        "/api/open-api.yml",
        "/api/open-api-v2.yml",
        "/api/france-connect/open-api.yml",
        "/api/open-api-v3.yml",
    ):
        response = client.get(path)
        assert response.status_code == 200 and b"openapi" in response.content
        assert "content-type" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"


def test_journal_entries_are_bounded(client: httpx.Client) -> None:
    """Fidelity row: Journal (`/__sandbox/requests`)."""
    path = "/v3/" + "x" * 2000 + "/" + TOKEN
    client.get(path)
    entries = client.get("/__sandbox/requests", params={"limit": 50}).json()["entries"]
    entry = next(e for e in entries if e["path"].startswith("/v3/xxxx"))
    assert len(entry["path"]) <= 513 and entry.get("truncated") is True
    assert TOKEN not in json.dumps(entries)
