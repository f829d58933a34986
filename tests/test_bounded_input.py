"""Bounded input: size limits before parsing, caches that cannot grow with client input, redaction
in linear time, odd values answered in the API's format (never a 500), nosniff on every answer."""

from __future__ import annotations

import dataclasses
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.cli.logs import TokenRedaction
from sandbox.load.near_miss import CANDIDATES, NearIndex
from sandbox.load.repository import Case
from sandbox.load.snapshot import Snapshot, build_snapshot
from sandbox.rules.bounded_cache import ENTRY_OVERHEAD, BoundedCache
from sandbox.rules.coercion import OVERSIZED, ruby_integer, ruby_to_i
from sandbox.rules.matching import CACHED_CHARS, _cached_unquote, parse_query
from sandbox.rules.tokens import TokenVerifier, mint
from sandbox.serve.journal import PATH_CHARS, QUERY_CHARS, REDACTED, VALUE_CHARS, Entry, redact_jwt, redact_text
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.meta_routes import DOCUMENT_CSP
from sandbox.serve.pipeline import Services
from sandbox.serve.request_limits import RequestLimits
from sandbox.tools.reaching import case_request
from sandbox.web import create_app
from tests import tiny_repository
from tests.conftest import ROOT

SECRET = "bounded-input-secret-at-least-32-bytes"
WEBHOOK_SECRET = "bounded-webhook-secret"
TIMEOUT = 30.0
JWT = mint(SECRET, ["x"])
PLAIN_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")  # the unbounded pattern the journal used to run


@pytest.fixture(scope="module")
def embedded() -> Snapshot:
    return build_snapshot(ROOT, secrets=[SECRET])


@pytest.fixture(scope="module")
def token(embedded: Snapshot) -> str:
    return mint(SECRET, sorted({s for listed in (embedded.content.authorizations or {}).values() for s in listed}))


@pytest.fixture(scope="module")
def base(embedded: Snapshot) -> Iterator[str]:
    limits = RequestLimits(
        max_url_bytes=2048, max_header_bytes=1024, max_total_header_bytes=4096, max_webhook_bytes=65536
    )
    app = create_app(embedded, Services(limits=limits), webhook_secret=WEBHOOK_SECRET)
    with serve_in_thread(app) as url:
        yield url


# -- request target and headers -------------------------------------------------------------------


def test_a_request_target_over_the_limit_is_414_before_anything_is_parsed(base: str) -> None:
    path = "/v3/ping?pad="
    at_limit = path + "a" * (2048 - len(path))
    over = at_limit + "a"
    assert httpx.get(base + at_limit, timeout=TIMEOUT).status_code == 200
    refused = httpx.get(base + over, timeout=TIMEOUT)
    assert refused.status_code == 414
    assert refused.headers["content-type"] == "text/plain; charset=utf-8"
    assert refused.text.startswith("414 URI Too Long") and "2048" in refused.text
    assert refused.headers["x-sandbox-outcome"] == "uri-too-long"
    assert refused.headers["x-content-type-options"] == "nosniff"


def test_the_default_url_limit_is_8_kib(embedded: Snapshot) -> None:
    with serve_in_thread(create_app(embedded)) as url:
        target = "/nothing?" + "x" * (8192 - len("/nothing?"))
        assert httpx.get(url + target, timeout=TIMEOUT).status_code == 404
        assert httpx.get(url + target + "x", timeout=TIMEOUT).status_code == 414


def test_a_header_line_or_all_headers_over_the_limit_are_431(base: str) -> None:
    line = httpx.get(base + "/v3/ping", headers={"X-Long": "a" * 1024}, timeout=TIMEOUT)
    assert line.status_code == 431 and "a header line is over 1024 bytes" in line.text
    many = {f"X-Part-{index}": "a" * 500 for index in range(10)}  # each line fits, together they do not
    total = httpx.get(base + "/v3/ping", headers=many, timeout=TIMEOUT)
    assert total.status_code == 431 and "the headers are over 4096 bytes" in total.text
    assert total.headers["x-content-type-options"] == "nosniff"
    token = httpx.get(base + "/v3/ping", headers={"Authorization": "Bearer " + "e" * 2000}, timeout=TIMEOUT)
    assert token.status_code == 431  # an oversized token is refused before anything verifies it


# -- the webhook ----------------------------------------------------------------------------------


def _address(base: str) -> tuple[str, int]:
    url = urlsplit(base)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


def _read_reply(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_the_webhook_refuses_a_streamed_body_without_content_length_before_its_end(base: str) -> None:
    """Chunked upload, no Content-Length: 413 once past the limit, while the client is still sending."""
    with socket.create_connection(_address(base), timeout=TIMEOUT) as connection:
        connection.sendall(
            b"POST /__sandbox/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"X-Hub-Signature-256: sha256=00\r\n\r\n"
        )
        chunk = b"x" * 16384
        for _ in range(6):  # 96 KiB sent, over the 64 KiB limit; the terminating chunk never is
            connection.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        reply = _read_reply(connection)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def test_the_webhook_refuses_an_announced_body_over_the_limit_without_reading_it(base: str) -> None:
    with socket.create_connection(_address(base), timeout=TIMEOUT) as connection:
        connection.sendall(
            b"POST /__sandbox/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 314572800\r\n\r\n" + b"{}"
        )
        reply = _read_reply(connection)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def test_the_webhook_streams_a_body_under_the_limit_and_checks_it(base: str) -> None:
    body = b'{"zen": "' + b"a" * 60000 + b'"}'
    chunks = iter([body[:30000], body[30000:]])
    response = httpx.post(base + "/__sandbox/webhook", content=chunks, timeout=TIMEOUT)
    assert response.status_code == 401  # read whole (under the limit), then the missing signature


def test_a_non_ascii_webhook_signature_is_401_not_500(base: str) -> None:
    for signature in ("sha256=é".encode("latin-1"), b"sha256=\xff\xfe", b"sha256=" + "é".encode() * 32):
        response = httpx.post(
            base + "/__sandbox/webhook",
            content=b"{}",
            headers={b"X-Hub-Signature-256": signature, b"X-GitHub-Event": b"ping"},
            timeout=TIMEOUT,
        )
        assert response.status_code == 401, signature
        assert response.json() == {"error": "missing or invalid X-Hub-Signature-256"}


# -- caches keyed by client input -----------------------------------------------------------------


def test_invalid_tokens_are_never_cached(embedded: Snapshot, base: str, token: str) -> None:
    cache = embedded.verifier.cache
    before = len(cache)
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        for index in range(200):
            forged = mint("another-secret-of-at-least-32-bytes", [], uid=f"{index:08d}-0000-0000-0000-000000000000")
            headers = {"Authorization": f"Bearer {forged}", "X-Api-Key": f"garbage-{index}"}
            assert client.get("/v3/insee/sirene/unites_legales/130025265", headers=headers).status_code == 401
        assert len(cache) == before
        client.get("/v3/insee/sirene/unites_legales/130025265", headers={"Authorization": f"Bearer {token}"})
    assert len(cache) == before + 1 and cache.get(token) is not None


def test_verified_tokens_are_cached_within_a_byte_bound() -> None:
    verifier = TokenVerifier([SECRET], cache_size=10_000, cache_bytes=200_000)
    for index in range(300):  # the signing secret may be public: anyone can mint valid tokens
        user = verifier.user(mint(SECRET, [f"scope-{index}-" + "s" * 1000]))
        assert user is not None
    assert verifier.cache.bytes <= 200_000 and 0 < len(verifier.cache) < 300


def test_a_bounded_cache_keeps_within_entries_and_bytes_and_refuses_a_huge_entry() -> None:
    cache: BoundedCache[str, str] = BoundedCache(max_entries=100, max_bytes=50_000)
    for index in range(1000):
        cache.put(f"key-{index}", "v", 1000)
    assert len(cache) <= 100 and cache.bytes <= 50_000
    assert cache.get("key-999") == "v" and cache.get("key-0") is None  # least recently used went first
    cache.put("huge", "v", 20_000)  # more than a quarter of the budget: not kept
    assert cache.get("huge") is None
    cache.put("key-999", "w", 10)
    assert cache.get("key-999") == "w" and cache.bytes <= 50_000
    assert cache.bytes == sum(1000 + ENTRY_OVERHEAD for _ in range(len(cache) - 1)) + 10 + ENTRY_OVERHEAD


def test_parse_caches_keep_only_short_strings() -> None:
    before = _cached_unquote.cache_info().currsize
    for index in range(500):
        value = f"%41{index}" + "b" * CACHED_CHARS
        assert parse_query(f"name={value}")["name"] == f"A{index}" + "b" * CACHED_CHARS
    assert _cached_unquote.cache_info().currsize == before
    parse_query("short=%41")
    assert _cached_unquote.cache_info().currsize <= before + 1


def test_the_answer_memo_stays_within_its_byte_bound(embedded: Snapshot, token: str) -> None:
    services = Services(memo_bytes=500_000)
    with serve_in_thread(create_app(embedded, services)) as url, httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for index in range(300):
            query = urlencode({"recipient": "13002526500013", "context": "c", "object": str(index) + "o" * 7000})
            for _ in range(2):  # a request is remembered when it comes again
                client.get(f"/v3/insee/sirene/unites_legales/130025265?{query}", headers=headers)
    memo = services._memo
    assert 0 < len(memo) < 300 and memo.bytes <= memo.max_bytes


def test_a_stream_of_new_requests_leaves_the_answer_memo_empty(embedded: Snapshot, token: str) -> None:
    services = Services()
    with serve_in_thread(create_app(embedded, services)) as url, httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for index in range(50):
            query = urlencode({"recipient": "13002526500013", "context": "c", "object": f"o{index}"})
            assert client.get(f"/v3/insee/sirene/unites_legales/130025265?{query}", headers=headers).status_code == 200
        assert len(services._memo) == 0
        client.get(f"/v3/insee/sirene/unites_legales/130025265?{query}", headers=headers)  # the last one again
        assert len(services._memo) == 1


# -- integers, dates --------------------------------------------------------------------------------


def test_long_integers_saturate_instead_of_failing() -> None:
    assert ruby_to_i("9" * 5000) == OVERSIZED
    assert ruby_to_i("-" + "9" * 5000 + "abc") == -OVERSIZED
    assert ruby_to_i("0" * 5000 + "12") == 12  # leading zeros do not count
    assert ruby_integer(" -000" + "9" * 30 + " ") == -OVERSIZED
    assert ruby_integer("1_000") == 1000 and ruby_integer("9" * 20) == 10**20 - 1
    assert ruby_integer("12a") is None


def test_a_4301_digit_date_part_is_a_422_in_the_api_format(embedded: Snapshot, token: str) -> None:
    folder = "api_particulier_v3_cnav_quotient_familial_with_civility"
    table = embedded.tables[folder]
    case = next(c for c in table.cases if "anneeDateNaissance" in c.params)
    with serve_in_thread(create_app(embedded)) as base:  # default limits: 4,301 digits fit in 8 KiB
        for name in ("anneeDateNaissance", "moisDateNaissance", "jourDateNaissance"):
            params = {**case.params, name: "9" * 4301}
            request = case_request(table.operation, dataclasses.replace(case, params=params), token)
            response = httpx.get(base + request.target, headers=dict(request.headers), timeout=TIMEOUT)
            assert response.status_code == 422, (name, response.text[:200])
            assert response.json()["errors"][0]["code"]
            explained = httpx.get(f"{base}/__sandbox/explain{request.target}", timeout=TIMEOUT)
            assert explained.status_code == 200 and explained.json()["operation"] == folder


# -- redaction ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="eyJa.-_x =&?", max_size=40))
def test_the_linear_jwt_pattern_redacts_what_the_plain_one_did(text: str) -> None:
    assert redact_jwt(text) == PLAIN_JWT.sub(REDACTED, text)


def test_redaction_of_adversarial_60_kb_texts() -> None:
    """Each of these took the plain pattern seconds (it rescans a word from every `eyJ` in it)."""
    assert redact_jwt("eyJ" * 20_000) == "eyJ" * 20_000
    assert redact_jwt("eyJa." * 12_000) == "[redacted]." * 4_000
    assert redact_jwt("x" + "eyJ" * 20_000 + ".b.c") == "x" + REDACTED
    assert redact_jwt("a" * 60_000 + ".b.c") == "a" * 60_000 + ".b.c"
    assert redact_jwt("-" * 60_000 + "eyJ.b.c") == "-" * 60_000 + REDACTED
    assert redact_text("token=" * 10_000) == "token=" + REDACTED
    assert redact_text("&token=" * 8_000) == ("&token=" + REDACTED) * 8_000
    assert (
        redact_text(f"GET /v3/{JWT}/x?token={JWT}&a=b HTTP/1.1")
        == f"GET /v3/{REDACTED}/x?token={REDACTED}&a=b HTTP/1.1"
    )


def test_the_access_log_filter_redacts_paths_and_queries() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s %s", ("GET", f"/a/{JWT}?x={JWT}"), None)
    TokenRedaction().filter(record)
    assert JWT not in record.getMessage() and REDACTED in record.getMessage()


def _entry(path: str, query: str) -> Entry:
    return Entry(1.0, "GET", path, query, None, "unknown-path", None, 404, 0.1, "r", None, None, ())


def test_journal_entries_are_cut_and_a_jwt_cut_in_half_is_still_hidden() -> None:
    filler = "a=" + "b" * (QUERY_CHARS - 2 - 10)
    shown = _entry("/x", f"{filler}&token2={JWT}").as_json()  # the JWT straddles the cut
    assert shown["truncated"] is True
    assert all("eyJ" not in value for _, value in shown["params"])
    assert all(len(name) <= VALUE_CHARS + 1 and len(value) <= VALUE_CHARS + 1 for name, value in shown["params"])
    long_path = _entry("/" + "a" * (PATH_CHARS - 10) + "/" + JWT, "").as_json()
    assert "eyJ" not in long_path["path"] and long_path["path"].endswith(REDACTED + "…")
    assert long_path["truncated"] is True and len(long_path["path"]) <= PATH_CHARS + len(REDACTED) + 1
    short = _entry("/x", "a=1&b=2").as_json()
    assert short["truncated"] is False and short["params"] == [["a", "1"], ["b", "2"]]


def test_a_jwt_in_the_path_is_redacted_in_the_journal(base: str) -> None:
    httpx.get(f"{base}/v3/insee/sirene/unites_legales/{JWT}?recipient=1", timeout=TIMEOUT)
    httpx.get(f"{base}/nothing/{JWT}", timeout=TIMEOUT)
    journal = httpx.get(f"{base}/__sandbox/requests?limit=20", timeout=TIMEOUT)
    assert journal.status_code == 200 and JWT not in journal.text
    paths = [entry["path"] for entry in journal.json()["entries"]]
    assert f"/nothing/{REDACTED}" in paths and f"/v3/insee/sirene/unites_legales/{REDACTED}" in paths


def test_any_journal_limit_is_answered(base: str) -> None:
    httpx.get(f"{base}/nothing", timeout=TIMEOUT)
    for limit in ("9" * 30, "9" * 1500, "-5", "0", "1"):
        response = httpx.get(f"{base}/__sandbox/requests?limit={limit}", timeout=TIMEOUT)
        assert response.status_code == 200 and len(response.json()["entries"]) >= 1, limit
    assert httpx.get(f"{base}/__sandbox/requests?limit=ten", timeout=TIMEOUT).status_code == 400


# -- near misses ----------------------------------------------------------------------------------


def _case(file: str, params: dict[str, object]) -> Case:
    return Case("folder", file, dict(params), 200, {}, None, None, None, file)


def test_near_miss_scoring_touches_a_bounded_number_of_cases() -> None:
    cases = [_case(f"{index:05d}.yaml", {"siren": f"{index:09d}", "sexe": "M", "annee": 1990}) for index in range(5000)]
    cases.append(_case("huge.yaml", {"siren": "x" * 1_000_000, "liste": list(range(200_000))}))
    index = NearIndex.build(cases)
    request = {"siren": "000004321", "sexe": "F", "annee": "01990"}
    assert len(index.candidates(request)) <= CANDIDATES
    closest = index.nearest(request, limit=1)
    assert closest[0].case.file == "04321.yaml"
    assert [(d.parameter, d.kind) for d in closest[0].differences] == [("annee", "type"), ("sexe", "different")]
    huge = next(e for e in index.entries if e.case.file == "huge.yaml")
    assert all(isinstance(value, str) and len(value) < 100 for value in huge.params.values())


def test_a_miss_on_an_operation_with_a_huge_case_names_the_near_miss(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path)
    folder = "api_particulier_v3_demo_with_identifiant"
    tiny_repository.write_case(root, folder, "huge.yaml", {"identifiant": "9" * 300_000}, 200, "{}")
    snapshot = build_snapshot(root, secrets=[SECRET])
    with serve_in_thread(create_app(snapshot)) as url:
        response = httpx.get(
            f"{url}/v3/demo/sans_404?identifiant=2&recipient=13002526500013",
            headers={"Authorization": f"Bearer {mint(SECRET, [])}"},
            timeout=TIMEOUT,
        )
    assert response.headers["x-sandbox-case"] == "default"
    assert response.headers["x-sandbox-near-miss"] == f"{folder}/200.yaml"


# -- nosniff and the OpenAPI downloads ------------------------------------------------------------


def test_every_answer_says_nosniff(base: str, token: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    requests = [
        ("GET", "/v3/insee/sirene/unites_legales/130025265?recipient=1&context=c&object=o", bearer),
        ("GET", "/v3/insee/sirene/unites_legales/356000000?recipient=1&context=c&object=o", bearer),
        ("GET", "/v3/insee/sirene/unites_legales/130025265", {}),
        ("GET", "/nothing", {}),
        ("POST", "/v3/ping", {}),
        ("GET", "/api/v2/composition-familiale", {}),
        ("GET", "/v3/ping", {}),
        ("GET", "/api/open-api-v3.yml", {}),
        ("GET", "/v3/openapi-entreprise.yaml", {}),
        ("GET", "/__sandbox/status", {}),
        ("GET", "/__sandbox/requests", {}),
        ("GET", "/__sandbox/explain/v3/insee/sirene/unites_legales/1", {}),
        ("GET", "/__sandbox/webhook", {}),
        ("POST", "/__sandbox/webhook", {}),
        ("GET", "/", {}),
        ("GET", "/ui/operations", {}),
        ("GET", "/ui/static/catalogue.css", {}),
        ("GET", "/ui/nothing", {}),
        ("GET", "/" + "a" * 3000, {}),
    ]
    seen = set()
    for method, target, headers in requests:
        response = httpx.request(method, base + target, headers=headers, timeout=TIMEOUT)
        seen.add(response.status_code)
        assert response.headers.get("x-content-type-options") == "nosniff", (method, target, response.status_code)
    assert {200, 401, 404, 405, 410, 414} <= seen


def _hostile_document_repository(root: Path) -> Path:
    """The tiny repository, its Particulier v3 OpenAPI document starting with an HTML page."""
    tiny_repository.build(root)
    (root / "openapi" / "b.json").unlink()
    particulier = dict(tiny_repository.OPENAPI_PARTICULIER)
    paths = particulier["paths"]
    v3 = {**particulier, "paths": {p: v for p, v in paths.items() if not p.startswith("/api/")}}
    v2 = {**particulier, "paths": {p: v for p, v in paths.items() if p.startswith("/api/")}}
    page = "<html><body><script>document.title='pwned'</script><h1>hello</h1></body></html>: 1\n"
    (root / "openapi" / "particulier.yaml").write_text(page + yaml.safe_dump(v3))
    (root / "openapi" / "particulier_v2.yaml").write_text(yaml.safe_dump(v2))
    return root


def test_openapi_downloads_keep_their_bytes_and_cannot_run_as_html(tmp_path: Path) -> None:
    root = _hostile_document_repository(tmp_path)
    snapshot = build_snapshot(root, secrets=[SECRET])
    with serve_in_thread(create_app(snapshot)) as url:
        document = httpx.get(url + "/api/open-api-v3.yml", timeout=TIMEOUT)
    assert document.status_code == 200
    assert document.content == (root / "openapi" / "particulier.yaml").read_bytes()
    assert "content-type" not in document.headers  # as the real route: no Content-Type at all
    assert document.headers["x-content-type-options"] == "nosniff"
    assert document.headers["content-security-policy"] == DOCUMENT_CSP


def test_a_browser_does_not_render_a_hostile_openapi_document(tmp_path: Path) -> None:
    """Chromium, as a person opening the download link: plain text, no script run."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.is_file():
        pytest.skip("needs Debian's chromium (apt-get install -y chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    root = _hostile_document_repository(tmp_path)
    snapshot = build_snapshot(root, secrets=[SECRET])
    with serve_in_thread(create_app(snapshot)) as url, playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--headless"])
        try:
            page = browser.new_page()
            page.goto(url + "/api/open-api-v3.yml")
            assert page.evaluate("document.contentType") != "text/html"
            assert page.title() != "pwned" and page.locator("h1").count() == 0
        finally:
            browser.close()
