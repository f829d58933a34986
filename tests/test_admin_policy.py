"""The admin access policy: the sandbox's own routes need the admin token unless the bind is loopback.

A real uvicorn on 127.0.0.1 serves the app; the "non-loopback" policy is forced with
`admin_policy="closed"` (what `sandbox serve --host 0.0.0.0` decides), the loopback one is
the default of `--host 127.0.0.1`.
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.cli.assembly import assemble
from sandbox.cli.serve_config import ServeConfig
from sandbox.rules.tokens import mint
from sandbox.serve.access import CLOSED_TEXT, PUBLIC_STATUS_KEYS, AdminPolicy, is_loopback
from sandbox.serve.app import SandboxApp
from sandbox.serve.local_server import serve_in_thread
from sandbox.web.catalogue import labels
from tests import tiny_repository
from tests.test_catalogue import accessibility_problems, parse
from tests.test_cli import sandbox_process

SECRET = "admin-test-secret-at-least-32-bytes-long"
ADMIN_TOKEN = "admin-token-for-the-tests-0123456789"
WEBHOOK_SECRET = "webhook-secret-of-the-admin-tests"
API_TOKEN = mint(SECRET, [])
OPERATION = "api_particulier_v2_demo"
TIMEOUT = 30.0

# (method, path): every admin route, each refused without the admin token on a closed policy
ADMIN_ROUTES = [
    ("GET", "/__sandbox/requests"),
    ("GET", "/__sandbox/requests?outcome=fallback&limit=5"),
    ("GET", "/__sandbox/explain/api/v2/demo?identifiant=1"),
    ("GET", "/__sandbox/explain/v3/nothing"),
    ("POST", "/api/reload-mocks"),
    ("GET", "/metrics"),  # metrics are on by default; --metrics-public opens this one alone (test_metrics)
]
# What each admin route answers once admitted: the explanation of a path no API routes is a 404.
ADMITTED_STATUS = {"/__sandbox/explain/v3/nothing": 404}
WRONG_AUTHORIZATIONS = [
    {},
    {"Authorization": "Bearer not-the-admin-token"},
    {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},  # a prefix of the right one
    {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    {"Authorization": f"bearer {ADMIN_TOKEN}"},  # the scheme is case-sensitive, as for API tokens
    {"Authorization": f"Basic {ADMIN_TOKEN}"},
    {"Authorization": f"Bearer {API_TOKEN}"},  # an API token is not an admin token
    {"X-Admin-Token": ADMIN_TOKEN},
]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def sandbox(root: Path, cache: Path, **options: object) -> SandboxApp:
    config = ServeConfig(
        fixtures=[str(root)],
        cache_dir=str(cache),
        jwt_secrets=[SECRET],
        webhook_secret=WEBHOOK_SECRET,
        watch=False,
        rate_limit=False,
    )
    for name, value in options.items():
        setattr(config, name, value)
    return assemble(config)


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxApp, httpx.Client, Path]]:
    """A sandbox with the policy a non-loopback bind gets, served on loopback."""
    work = tmp_path_factory.mktemp("closed")
    root = tiny_repository.build(work / "fixtures")
    app = sandbox(root, work / "cache", admin_policy="closed", admin_token=ADMIN_TOKEN)
    assert app.syncer is not None
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            client.get("/api/v2/demo", params={"identifiant": "1"}, headers={"X-Api-Key": API_TOKEN})
            yield app, client, root
    finally:
        app.syncer.stop()


def send(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    return client.request(method, path, headers=headers)


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}


# -- the policy value -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_a_loopback_bind_opens_the_admin_routes(host: str) -> None:
    assert is_loopback(host)
    assert AdminPolicy.decide(host, None).open
    assert AdminPolicy.decide(host, None).allows(None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "sandbox.example.org", ""])
def test_any_other_bind_closes_them(host: str) -> None:
    assert not is_loopback(host)
    without_token = AdminPolicy.decide(host, None)
    assert not without_token.open and not without_token.allows(f"Bearer {ADMIN_TOKEN}")
    with_token = AdminPolicy.decide(host, ADMIN_TOKEN)
    assert with_token.allows(f"Bearer {ADMIN_TOKEN}")
    assert not with_token.allows(None) and not with_token.allows("Bearer nope")


def test_the_policy_can_be_forced_either_way() -> None:
    assert not AdminPolicy.decide("127.0.0.1", ADMIN_TOKEN, "closed").open
    assert AdminPolicy.decide("0.0.0.0", None, "open").open
    assert AdminPolicy.decide("127.0.0.1", None, "auto").open
    assert AdminPolicy.decide("0.0.0.0", "", "auto") == AdminPolicy(open=False, token=None)  # empty: no token


# -- closed: admin routes ---------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_each_admin_route_is_refused_without_the_admin_token(
    closed: tuple[SandboxApp, httpx.Client, Path], method: str, path: str
) -> None:
    app, client, _ = closed
    assert app.syncer is not None
    counts = (app.syncer.fetches, app.syncer.rebuilds, app.syncer.queue.triggers)
    for headers in WRONG_AUTHORIZATIONS:
        response = send(client, method, path, headers)
        assert response.status_code == 403, (path, headers)
        assert response.text == CLOSED_TEXT + "\n"
        assert response.headers["content-type"].startswith("text/plain")
    assert (app.syncer.fetches, app.syncer.rebuilds, app.syncer.queue.triggers) == counts  # nothing triggered


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_each_admin_route_answers_the_admin_token(
    closed: tuple[SandboxApp, httpx.Client, Path], method: str, path: str
) -> None:
    _, client, _ = closed
    response = send(client, method, path, ADMIN)
    assert response.status_code == ADMITTED_STATUS.get(path, 200), response.text
    if path.startswith("/__sandbox/requests"):
        assert "entries" in response.json()
    elif path.startswith("/__sandbox/explain/api"):
        assert response.json()["operation"] == OPERATION
    elif path == "/api/reload-mocks":
        assert response.json() == {"message": "Mock backend reloaded"}
    elif path == "/metrics":
        assert response.status_code == 200 and "sandbox_requests_total" in response.text


def test_status_without_the_token_tells_the_revision_and_health_only(
    closed: tuple[SandboxApp, httpx.Client, Path],
) -> None:
    app, client, root = closed
    for headers in WRONG_AUTHORIZATIONS:
        public = client.get("/__sandbox/status", headers=headers)
        assert public.status_code == 200
        body = public.json()
        assert set(body) == {*PUBLIC_STATUS_KEYS, "details"}
        assert body["revision"] == app.snapshot.revision and body["healthy"] is True
        assert body["details"] == CLOSED_TEXT
        assert (
            str(root) not in public.text
            and str(app.syncer.sources[0].location if app.syncer else "") not in public.text
        )
    full = client.get("/__sandbox/status", headers=ADMIN).json()
    assert {"sources", "sync", "layers", "problems"} <= set(full)
    assert full["sources"][0]["location"] == str(root) and isinstance(full["sync"]["pid"], int)


def test_the_catalogue_renders_for_anyone_but_keeps_the_journal_and_try_it_for_admins(
    closed: tuple[SandboxApp, httpx.Client, Path],
) -> None:
    _, client, root = closed
    closed_line = labels()["admin_closed"]["en"]
    assert closed_line == CLOSED_TEXT

    journal = client.get("/ui/journal?lang=en")
    assert journal.status_code == 403
    page = parse(journal.text)
    assert page.find("p", data_admin_closed=True).text == CLOSED_TEXT
    assert page.find_all("table") == [] and accessibility_problems(journal.text) == []
    served_journal = client.get("/ui/journal?lang=en", headers=ADMIN)
    assert served_journal.status_code == 200 and parse(served_journal.text).find_all("table", class_="journal")

    operation = client.get(f"/ui/operations/{OPERATION}?lang=en")
    assert operation.status_code == 200
    page = parse(operation.text)
    assert page.find_all("form", id="try-form") == [] and page.find_all("script", id="try-data") == []
    assert page.find("section", id="try-section").find("p", data_admin_closed=True).text == CLOSED_TEXT
    assert page.find_all("article", class_="case")  # the cases, their cURL and payloads stay readable
    assert accessibility_problems(operation.text) == []
    admin_page = parse(client.get(f"/ui/operations/{OPERATION}?lang=en", headers=ADMIN).text)
    assert admin_page.find("form", id="try-form") and admin_page.find_all("p", data_admin_closed=True) == []

    home = client.get("/?lang=en")
    assert home.status_code == 200 and str(root) not in home.text
    assert parse(home.text).find("p", data_admin_closed=True).text == CLOSED_TEXT
    assert accessibility_problems(home.text) == []
    admin_home = client.get("/?lang=en", headers=ADMIN)
    assert str(root) in admin_home.text and "Source health" in admin_home.text


def test_the_api_ping_the_open_pages_and_the_webhook_stay_open(closed: tuple[SandboxApp, httpx.Client, Path]) -> None:
    _, client, _ = closed
    answer = client.get("/api/v2/demo", params={"identifiant": "1"}, headers={"X-Api-Key": API_TOKEN})
    assert answer.status_code == 200 and answer.json() == {"statut": "ok"}
    assert client.get("/api/ping").status_code == 200
    assert client.get("/api/v2/demo", params={"identifiant": "1"}).status_code == 401  # the API's own auth
    for path in (
        "/",
        "/ui/operations",
        "/ui/operations?q=demo",
        f"/ui/operations/{OPERATION}",
        "/ui/static/catalogue.css",
    ):
        assert client.get(path).status_code == 200, path
    assert client.get("/ui").status_code == 307
    body = b"{}"
    hook = client.post("/__sandbox/webhook", content=body, headers=signed(body))
    assert hook.status_code == 200 and hook.json()["outcome"] == "unchanged"
    assert client.post("/__sandbox/webhook", content=body, headers=ADMIN).status_code == 401  # HMAC, not the token


def test_without_an_admin_token_a_closed_sandbox_refuses_everyone(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "fixtures")
    app = sandbox(root, tmp_path / "cache", host="0.0.0.0")  # decided from the bind address
    assert app.syncer is not None and not app.admin.open and app.admin.token is None
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            for method, path in ADMIN_ROUTES:
                for headers in (*WRONG_AUTHORIZATIONS, ADMIN):
                    assert send(client, method, path, headers).status_code == 403, (path, headers)
            assert client.get("/api/ping").status_code == 200
    finally:
        app.syncer.stop()


# -- loopback: everything open, as before -----------------------------------------------------------


def test_on_a_loopback_bind_everything_is_open_as_before(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "fixtures")
    app = sandbox(root, tmp_path / "cache")  # host 127.0.0.1, policy auto
    assert app.syncer is not None and app.admin.open
    try:
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            for method, path in ADMIN_ROUTES:
                response = send(client, method, path, {})
                assert response.status_code == ADMITTED_STATUS.get(path, 200), (path, response.text)
                assert CLOSED_TEXT not in response.text
            assert "sandbox_requests_total" in client.get("/metrics").text
            assert client.post("/api/reload-mocks").json() == {"message": "Mock backend reloaded"}  # legacy: no auth
            assert "sync" in client.get("/__sandbox/status").json()
            assert client.get("/ui/journal").status_code == 200
            assert parse(client.get(f"/ui/operations/{OPERATION}").text).find("form", id="try-form")
            assert str(root) in client.get("/").text
    finally:
        app.syncer.stop()


# -- the command line -------------------------------------------------------------------------------


def test_serve_help_lists_the_admin_flags() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for text in ("--admin-token", "SANDBOX_ADMIN_TOKEN", "--admin-policy", "/__sandbox/requests"):
        assert text in result.stdout, text


def test_serve_refuses_a_short_admin_token() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--admin-token", "short"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "at least 16 characters" in result.stderr


def test_serve_reads_the_admin_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_ADMIN_TOKEN", ADMIN_TOKEN)
    with sandbox_process("--admin-policy", "closed") as (base, lines):
        assert any("admin routes: closed: admin token required" in line for line in lines), lines
        assert httpx.get(f"{base}/__sandbox/requests", timeout=TIMEOUT).status_code == 403
        assert httpx.get(f"{base}/__sandbox/requests", headers=ADMIN, timeout=TIMEOUT).status_code == 200
        assert httpx.post(f"{base}/api/reload-mocks", timeout=TIMEOUT).status_code == 403
        public = httpx.get(f"{base}/__sandbox/status", timeout=TIMEOUT).json()
        assert "sync" not in public and public["healthy"] is True
