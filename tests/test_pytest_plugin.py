"""The pytest plugin, run inside pytester sessions: `sandbox_server` (real HTTP), `sandbox_app`
(in process), `sandbox_token`, the ini options and the `sandbox` marker."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import tiny_repository
from tests.conftest import ROOT

pytest_plugins = ["pytester"]

TRACKING = "recipient=13002526500013&context=test&object=test"
DEFAULT_CASE = "api_entreprise_v3_insee_unites_legales/administration-siren-par-defaut.yaml"


def plugin_args() -> list[str]:
    """`-p sandbox.pytest_plugin` until the package's pytest11 entry point is installed."""
    installed = any(ep.value == "sandbox.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if installed else ["-p", "sandbox.pytest_plugin"]


# hypothesis's plugin costs a second per inner session and plays no part here
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*plugin_args(), *QUIET, "-v", *args)


def test_sandbox_server_serves_the_embedded_repository_over_http_for_the_session(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def entreprise(sandbox_server):  # a session fixture of the integrator may use it
            with sandbox_server.client() as client:
                yield client
        """
    )
    pytester.makepyfile(
        f"""
        from pathlib import Path

        import httpx

        from sandbox.tools.reaching import query_pairs

        URLS = []

        def test_a_documented_case(sandbox_server, entreprise):
            URLS.append(sandbox_server.base_url)
            assert sandbox_server.base_url.startswith("http://127.0.0.1:")
            response = entreprise.get("/v3/insee/sirene/unites_legales/130025265?{TRACKING}")
            assert response.status_code == 200, response.text
            assert response.headers["x-sandbox-case"] == "{DEFAULT_CASE}"
            assert response.json()["data"]["siren"] == "130025265"

        def test_the_token_is_the_repository_one(sandbox_server):
            URLS.append(sandbox_server.base_url)
            assert sandbox_server.token == Path({str(ROOT / "tokens" / "default")!r}).read_text().strip()
            assert Path(sandbox_server.snapshot.root) == Path({str(ROOT)!r})
            answer = httpx.get(
                sandbox_server.base_url + "/v3/insee/sirene/unites_legales/130025265?{TRACKING}",
                headers={{"Authorization": "Bearer " + sandbox_server.token}}, timeout=30.0
            )
            assert answer.status_code == 200

        def test_v2_routes_get_the_token_as_x_api_key(sandbox_server):
            URLS.append(sandbox_server.base_url)
            case = sandbox_server.cases("api_particulier_v2_cnav_quotient_familial_v2", status=200)[0]
            with sandbox_server.client() as client:
                response = client.get("/api/v2/composition-familiale-v2", params=query_pairs(case.params))
                assert response.request.headers["x-api-key"] == sandbox_server.token
                assert "authorization" not in response.request.headers
            assert response.status_code == 200 and response.json() == case.payload

        def test_cases_pick_identifiers_instead_of_hard_coding_them(sandbox_server):
            URLS.append(sandbox_server.base_url)
            (not_found,) = sandbox_server.cases("api_entreprise_v3_insee_unites_legales", status=404)
            with sandbox_server.client() as client:
                response = client.get(f"/v3/insee/sirene/unites_legales/{{not_found.params['siren']}}?{TRACKING}")
            assert response.status_code == 404 and response.json() == not_found.payload

        def test_one_server_for_the_session():
            assert len(URLS) == 4 and len(set(URLS)) == 1
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=5)


def test_sandbox_app_serves_in_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import asyncio

        import httpx

        def test_in_process(sandbox_app, sandbox_token):
            async def call():
                transport = httpx.ASGITransport(app=sandbox_app)
                async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
                    return await client.get(
                        "/v3/insee/sirene/unites_legales/130025265?{TRACKING}",
                        headers={{"Authorization": f"Bearer {{sandbox_token}}"}},
                    )

            response = asyncio.run(call())
            assert response.status_code == 200
            assert response.headers["x-sandbox-case"] == "{DEFAULT_CASE}"

        def test_no_rate_limit(sandbox_app, sandbox_token):
            async def calls():
                transport = httpx.ASGITransport(app=sandbox_app)
                headers = {{"Authorization": f"Bearer {{sandbox_token}}"}}
                async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers=headers) as client:
                    return [
                        (await client.get("/v3/insee/sirene/unites_legales/130025265?{TRACKING}")).status_code
                        for _ in range(300)
                    ]

            assert set(asyncio.run(calls())) == {{200}}

        def test_same_app_and_snapshot_as_the_server(sandbox_app, sandbox_server):
            assert sandbox_app.snapshot is sandbox_server.snapshot
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=3)


def test_ini_options_choose_the_repository_and_the_match_mode(pytester: pytest.Pytester) -> None:
    tiny_repository.build(pytester.path / "cases" / "tiny")
    pytester.makeini(
        """
        [pytest]
        sandbox_fixtures = cases/tiny
        sandbox_match = staging
        sandbox_today = 2026-04-28
        """
    )
    pytester.makepyfile(
        f"""
        import datetime
        from pathlib import Path

        import jwt

        def test_settings(sandbox_server):
            assert Path(sandbox_server.snapshot.root) == Path({str(pytester.path / "cases" / "tiny")!r}).resolve()
            assert sandbox_server.snapshot.mode.value == "staging"
            assert sandbox_server.settings.today == datetime.date(2026, 4, 28)

        def test_a_minted_token_when_the_repository_has_none(sandbox_server, sandbox_token):
            assert sandbox_server.token == sandbox_token
            assert jwt.decode(sandbox_token, options={{"verify_signature": False}})["scopes"] == []
            with sandbox_server.client() as client:
                response = client.get("/v3/demo/unites_legales/130025265?{TRACKING}")
            assert response.status_code == 200, response.text
            assert response.headers["x-sandbox-case"] == "api_entreprise_v3_demo_unites_legales/200.yaml"
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2)
    assert "Unknown config option" not in result.stdout.str()


def test_the_marker_gives_a_test_its_own_sandbox(pytester: pytest.Pytester) -> None:
    tiny_repository.build(pytester.path / "tiny")
    pytester.makepyfile(
        f"""
        from pathlib import Path

        import pytest

        EMBEDDED = Path({str(ROOT)!r})
        TINY = Path({str(pytester.path / "tiny")!r}).resolve()
        SERVERS = {{}}

        def test_default(sandbox_server):
            SERVERS["default"] = sandbox_server.base_url
            assert Path(sandbox_server.snapshot.root) == EMBEDDED
            assert sandbox_server.snapshot.mode.value == "documented"

        @pytest.mark.sandbox(fixtures="tiny", match="staging")
        def test_marked(sandbox_server, sandbox_app, sandbox_token):
            SERVERS["tiny"] = sandbox_server.base_url
            assert Path(sandbox_server.snapshot.root) == TINY
            assert sandbox_server.snapshot.mode.value == "staging"
            assert sandbox_app.snapshot is sandbox_server.snapshot
            assert sandbox_token == sandbox_server.token

        @pytest.mark.sandbox(fixtures=TINY)
        def test_marked_app_only(sandbox_app):
            assert Path(sandbox_app.snapshot.root) == TINY

        @pytest.mark.sandbox(match="staging")
        class TestAClassMarker:
            def test_embedded_in_staging_mode(self, sandbox_server):
                SERVERS["staging"] = sandbox_server.base_url
                assert Path(sandbox_server.snapshot.root) == EMBEDDED
                assert sandbox_server.snapshot.mode.value == "staging"

        def test_each_configuration_has_its_server():
            assert len(set(SERVERS.values())) == 3
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*test_marked[[]sandbox:tiny:staging[]] PASSED*"])
    assert "sandbox(fixtures=None, match=None, today=None, profile=None)" in run(pytester, "--markers").stdout.str()


def test_wrong_settings_are_reported_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad_match="""
        import pytest

        @pytest.mark.sandbox(match="fuzzy")
        def test_it(sandbox_server):
            pass
        """,
        test_missing="""
        import pytest

        @pytest.mark.sandbox(fixtures="nowhere")
        def test_it(sandbox_server):
            pass
        """,
    )
    result = run(pytester, "test_bad_match.py")
    assert result.ret != 0
    assert "match must be one of documented, staging, not 'fuzzy'" in result.stdout.str() + result.stderr.str()
    result = run(pytester, "test_missing.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*is not a fixture repository (no payloads/ folder)*"])


def test_ensure_registered_is_idempotent(pytester: pytest.Pytester) -> None:
    """What a source checkout's conftest does when the entry point is not installed."""
    pytester.makeconftest(
        """
        from sandbox.pytest_plugin import ensure_registered

        def pytest_configure(config):
            ensure_registered(config)
            ensure_registered(config)
        """
    )
    pytester.makepyfile("def test_it(sandbox_token):\n    assert sandbox_token.count('.') == 2\n")
    result = pytester.runpytest(*QUIET)
    result.assert_outcomes(passed=1)


def test_the_plugin_module_imports_little() -> None:
    """Every pytest run of an environment with the package installed imports the plugin."""
    heavy = ("httpx", "starlette", "uvicorn", "sandbox.load.snapshot")
    code = f"import sys, sandbox.pytest_plugin; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert output.stdout.strip() == "[]"
    # nothing at all beyond the package and the plugin: not pytest, not typing, not dataclasses
    code = "import sys; old = set(sys.modules); import sandbox.pytest_plugin; print(sorted(set(sys.modules) - old))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    added = set(ast.literal_eval(output.stdout.strip()))
    frozen = {"__future__", "warnings", "importlib", "importlib._bootstrap", "importlib._bootstrap_external"}
    assert {"sandbox", "sandbox.pytest_plugin"} <= added <= {"sandbox", "sandbox.pytest_plugin", *frozen}


def test_the_example_integrator_suite_passes() -> None:
    """`pytest examples/` as a user runs it (the plugin comes from the entry point or the example's conftest)."""
    command = [sys.executable, "-m", "pytest", "examples", "-q", *QUIET]
    output = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert output.returncode == 0, output.stdout[-3000:] + output.stderr[-3000:]
    assert " passed" in output.stdout and "failed" not in output.stdout


def test_sandbox_prefer_asks_for_a_status_and_the_profile_marker_cuts_payloads(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        QF = "/v3/dss/quotient_familial/identite"

        def test_a_provider_error_on_request(sandbox_server, sandbox_prefer):
            assert sandbox_prefer(code=502, delay=10) == {{"Prefer": "code=502, delay=10"}}
            with sandbox_server.client() as client:
                path = "/v3/insee/sirene/unites_legales/130025265?{TRACKING}"
                response = client.get(path, headers=sandbox_prefer(code=502))
            assert response.status_code == 502
            assert response.headers["preference-applied"] == "code=502"
            assert response.headers["x-sandbox-profile"] == "staging"

        @pytest.mark.sandbox(profile="production")
        def test_production_keeps_what_the_scopes_allow(sandbox_server, sandbox_prefer):
            case = next(c for c in sandbox_server.cases("api_particulier_v3_cnav_quotient_familial_with_civility", 200))
            token = sandbox_server.token_with("quotient_familial", "cnaf_adresse")
            with sandbox_server.client() as client:
                response = client.get(
                    QF + "?recipient=13002526500013",
                    headers={{"Authorization": "Bearer " + token, **sandbox_prefer(case=case.file)}},
                )
            assert response.status_code == 200 and response.headers["x-sandbox-profile"] == "production"
            assert list(response.json()["data"]) == ["adresse"]
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2)


def test_the_session_hands_out_one_token_per_repository_even_when_minted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository without `tokens/default` gets a minted token, whose `iat` is the second it was made:
    `sandbox_server.token` and `sandbox_token` must be the same one, whatever second each asks in."""
    import shutil
    import types

    from sandbox.pytest_fixtures import SandboxSettings, _Pool, token_for
    from sandbox.rules import tokens

    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    shutil.copytree(ROOT / "payloads", tmp_path / "payloads")
    pool, settings = _Pool(), SandboxSettings(tmp_path)
    first = pool.token(settings)
    later = types.SimpleNamespace(time=lambda: time.time() + 10)  # ten seconds on: another `iat`
    monkeypatch.setattr(tokens, "time", later)
    assert token_for(pool.snapshot(settings)) != first  # a token minted now differs
    assert pool.token(settings) == first
