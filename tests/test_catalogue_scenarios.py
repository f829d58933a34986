"""The catalogue's scenarios: on each case the cURL that forces it, and "try it" with a case, a status,
a delay or a fault (the `Prefer` header). Served from the embedded default by a real uvicorn."""

from __future__ import annotations

import itertools
import json
import shlex
from collections.abc import Iterator

import httpx
import pytest

from sandbox.serve.app import SandboxApp
from sandbox.serve.local_server import serve_in_thread
from tests.test_catalogue import embedded_app, parse, servable

OPERATION = "api_particulier_v3_cnav_quotient_familial_with_civility"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SandboxApp, str]]:
    app = embedded_app()
    with serve_in_thread(servable(app)) as base:
        yield app, base


def curl_request(command: str, token: str) -> tuple[dict[str, str], tuple[tuple[str, str], ...], str]:
    """The headers, query pairs (`-G -d`) and URL of a cURL command the catalogue shows (`$TOKEN`, which
    its first line sets from `/__sandbox/token`, replaced by `token`)."""
    words = shlex.split(command.replace("\\\n", " ").replace("$TOKEN", token))
    headers: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    url = ""
    for option, value in itertools.pairwise(words):
        if option == "-H":
            name, _, text = value.partition(": ")
            headers[name] = text
        elif option == "-d":
            name, _, text = value.partition("=")
            query.append((httpx.QueryParams(f"n={name}")["n"], httpx.QueryParams(f"v={text}")["v"]))
        elif option == "--url":
            url = value
    return headers, tuple(query), url


def _token(base: str) -> str:
    """The token the printed commands read (`export TOKEN=$(curl -sSf …/__sandbox/token)`)."""
    return httpx.get(f"{base}/__sandbox/token", timeout=30).text.strip()


def test_each_case_shows_the_curl_that_forces_it_and_that_curl_gets_the_case(served: tuple[SandboxApp, str]) -> None:
    app, base = served
    page = parse(httpx.get(f"{base}/ui/operations/{OPERATION}?lang=en", timeout=30).text)
    cases = app.snapshot.tables[OPERATION].cases
    for index, case in enumerate(cases, 1):
        block = page.find("pre", id=f"case-{index}-force")
        assert block is not None, case.file
        headers, query, url = curl_request(block.raw_text, _token(base))
        assert headers["Prefer"] == f"case={case.file}"
        response = httpx.get(url, params=query, headers=headers, timeout=30)
        assert response.headers["x-sandbox-case"] == case.id and response.status_code == case.status
        assert response.json() == case.payload and response.headers["preference-applied"] == f"case={case.file}"


def test_try_it_offers_the_cases_the_statuses_and_the_faults(served: tuple[SandboxApp, str]) -> None:
    app, base = served
    page = parse(httpx.get(f"{base}/ui/operations/{OPERATION}?lang=en", timeout=30).text)
    form = page.find("form", id="try-form")

    def options(control_id: str) -> list[str]:
        control = form.find("select", id=control_id)
        return [option.attrs["value"] for option in control.find_all("option") if option.attrs["value"]]

    table = app.snapshot.tables[OPERATION]
    assert options("try-prefer-case") == sorted(case.file for case in table.cases)
    statuses = {case.status for case in table.cases} | {int(s) for s in table.operation.responses}
    assert options("try-prefer-code") == [str(status) for status in sorted(statuses)]
    assert options("try-prefer-fault") == ["reset", "empty", "timeout", "truncated"]
    assert form.find("input", id="try-prefer-delay").attrs["type"] == "number"
    assert json.loads(page.find("script", id="try-data").raw_text)["path"] == table.operation.path


def test_the_journal_page_shows_the_preference_applied(served: tuple[SandboxApp, str]) -> None:
    _, base = served
    page = parse(httpx.get(f"{base}/ui/operations/{OPERATION}?lang=en", timeout=30).text)
    headers, query, url = curl_request(page.find("pre", id="case-1-force").raw_text, _token(base))
    httpx.get(url, params=query, headers={**headers, "Prefer": "code=503, delay=10"}, timeout=30)
    journal = httpx.get(f"{base}/ui/journal?lang=en&outcome=preference", timeout=30).text
    assert "Prefer applied:" in journal and "code=503, delay=10" in journal


def test_try_it_in_a_browser_sends_the_prefer_header(served: tuple[SandboxApp, str]) -> None:
    """The form's scenario controls become one `Prefer` header; the answer says what was applied."""
    pytest.importorskip("playwright")
    from tests.test_catalogue_browser import CHROMIUM, open_browser

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    _, base = served
    with sync_playwright() as driver:
        context = open_browser(driver, base, bypass_csp=True)  # wait_for_function evaluates a string
        try:
            page = context.new_page()
            page.goto(f"{base}/ui/operations/{OPERATION}?lang=en")
            page.get_by_label("Status to answer").select_option("502")
            page.get_by_label("Delay (ms)").fill("50")
            page.get_by_role("button", name="Send the request").click()
            page.wait_for_function("document.querySelector('#try-result').dataset.verdict === 'preference'")
            applied = page.locator('#try-result [data-header="preference-applied"]').inner_text()
            assert applied == "code=502, delay=50"
            assert "HTTP 502" in page.locator('#try-result [data-result="status"]').inner_text()
            page.get_by_label("Status to answer").select_option("")
            page.get_by_label("Delay (ms)").fill("")
            page.get_by_label("Fault").select_option("empty")
            page.get_by_role("button", name="Send the request").click()
            page.wait_for_function("document.querySelector('#try-result').dataset.verdict === 'error'")
        finally:
            context.close()


def test_the_explanation_says_what_the_prefer_header_would_obtain(served: tuple[SandboxApp, str]) -> None:
    app, base = served
    table = app.snapshot.tables[OPERATION]
    case = table.cases[-1]
    target = f"{base}/__sandbox/explain{table.operation.path}?recipient=13002526500013"
    explained = httpx.get(target, headers={"Prefer": f"case={case.file}, delay=20"}, timeout=30).json()
    assert explained["profile"] == "staging"
    assert explained["preference"]["applied"] == f"case={case.file}, delay=20"
    assert explained["preference"]["answer"] == {"status": case.status, "case": case.id, "outcome": "preference"}
    unknown = httpx.get(target, headers={"Prefer": "case=nope.yaml"}, timeout=30).json()["preference"]
    assert unknown["applied"] is None and unknown["answer"]["outcome"] == "preference-error"
    assert "preference" not in httpx.get(target, timeout=30).json()
