"""The web catalogue in headless Chromium (Debian's `chromium`, driven by Playwright), against a sandbox on
loopback serving the embedded default: a user's journey, keyboard use, reading without JavaScript, and
axe-core over every page. Screenshots go to `artefacts/screenshots/` (git-ignored).

Needs `/usr/bin/chromium` (`apt-get install -y chromium`) and the `playwright` Python package; Playwright's
own browser download is never used. axe-core is read from `$SANDBOX_AXE_JS`, `.venv/axe/…` (`make test`
installs it there with npm) or `/tmp/axe/…`; the axe test is skipped without it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.serve.app import SandboxApp
from sandbox.serve.local_server import serve_in_thread
from tests.browser_required import skip_browser_tests
from tests.conftest import ROOT
from tests.test_catalogue import embedded_app, servable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artefacts" / "screenshots"
AXE_CANDIDATES = [
    Path(os.environ["SANDBOX_AXE_JS"]) if os.environ.get("SANDBOX_AXE_JS") else None,
    ROOT / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js",
    Path("/tmp/axe/node_modules/axe-core/axe.min.js"),
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

if not CHROMIUM.is_file():
    skip_browser_tests(f"{CHROMIUM} is missing: install Debian's chromium (make browser-deps)")
try:
    from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    skip_browser_tests("the playwright Python package is missing (pip install -e '.[dev]')")

TOKEN = (ROOT / "tokens" / "default").read_text().strip()
UNITES_LEGALES = "api_entreprise_v3_insee_unites_legales"


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxApp, str]]:
    app = embedded_app()
    with serve_in_thread(servable(app)) as base:
        yield app, base


def open_browser(playwright: Playwright, base: str, **options: Any) -> BrowserContext:
    """Chromium from Debian, a fresh profile, clipboard allowed for the sandbox's origin."""
    profile = tempfile.mkdtemp(prefix="sandbox-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        headless=True,
        viewport={"width": 1280, "height": 900},
        locale="en-US",
        **options,
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def browser(playwright: Playwright, sandbox: tuple[SandboxApp, str]) -> Iterator[BrowserContext]:
    context = open_browser(playwright, sandbox[1], bypass_csp=True)  # bypass_csp: to inject axe-core
    yield context
    context.close()


def shot(page: Page, name: str, selector: str | None = None) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    if selector is None:
        page.screenshot(path=str(path), full_page=True)
    else:
        page.locator(selector).screenshot(path=str(path))
    return path


def visible_rows(page: Page) -> list[str]:
    return [row.locator("code").first.inner_text() for row in page.locator("tr[data-search]").all() if row.is_visible()]


# -- a user's journey -----------------------------------------------------------------------------


def test_journey_home_search_operation_copy_try_and_journal(
    browser: BrowserContext, sandbox: tuple[SandboxApp, str]
) -> None:
    app, base = sandbox
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # home
    page.goto(base + "/?lang=en")
    assert page.locator("h1").inner_text() == "API Particulier and API Entreprise sandbox"
    assert app.snapshot.revision in page.locator("main").inner_text()
    shot(page, "01-home.png")

    # search an operation: instant filtering, the address keeps the query
    page.get_by_role("link", name="Operations", exact=True).click()
    page.wait_for_url(re.compile(r"/ui/operations"))
    assert len(visible_rows(page)) == len(app.snapshot.operations)
    page.get_by_label("Search an operation").fill("insee unites")
    assert visible_rows(page) == [UNITES_LEGALES]
    assert page.locator("#search-count").inner_text() == "Operations shown: 1 of 10"
    assert "q=insee+unites" in page.url
    assert page.get_by_role("heading", name="API Particulier").is_hidden()
    shot(page, "02-operations-search.png")

    # open it
    page.get_by_role("link", name=app.snapshot.operations[UNITES_LEGALES].summary).click()
    page.wait_for_url(re.compile(UNITES_LEGALES))
    assert page.locator("h1").inner_text() == app.snapshot.operations[UNITES_LEGALES].summary
    shot(page, "03-operation.png")

    # copy a cURL command
    first = page.locator("article.case").first
    first.get_by_role("button", name=re.compile("^Copy the cURL command")).click()
    expect(first.locator(".copy-status")).to_have_text("Command copied to the clipboard.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == first.locator("pre.curl").inner_text()
    assert copied.startswith(f"export TOKEN=$(curl -sSf {base}/__sandbox/token)\ncurl \\\n  -H ")
    assert '-H "Authorization: Bearer $TOKEN"' in copied and f"--url {base}/v3/insee/" in copied

    # try it on a hit case
    case = next(c for c in app.snapshot.tables[UNITES_LEGALES].cases if c.file == "personne-morale.yaml")
    page.get_by_label("Prefill from the case").select_option(case.file)
    assert page.get_by_label("siren").input_value() == case.params["siren"]
    assert page.get_by_label("Token (Authorization: Bearer)").input_value() == TOKEN
    page.get_by_role("button", name="Send the request").click()
    result = page.locator("#try-result")
    result.wait_for(state="visible")
    assert result.get_attribute("data-verdict") == "hit"
    assert result.locator('[data-result="status"]').inner_text() == "HTTP 200 OK"
    assert result.locator('[data-header="x-sandbox-case"]').inner_text() == case.id
    assert result.locator('[data-header="x-sandbox-commit"]').inner_text() == app.snapshot.revision
    assert json.loads(result.locator('[data-result="body"]').inner_text()) == case.payload
    assert result.locator('[data-result="explain"]').is_hidden()
    assert page.evaluate("document.activeElement.id") == "try-result-title"
    shot(page, "04-try-hit.png", "#try-section")

    # try it on a miss: the explanation is one click away
    page.get_by_label("siren").fill("418166096")
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_function("document.querySelector('#try-result').dataset.verdict === 'miss'")
    assert result.locator('[data-header="x-sandbox-case"]').inner_text() == "default"
    assert result.locator('[data-header="x-sandbox-fallback"]').inner_text() == "openapi-example"
    explain = result.get_by_role("link", name="Why no case answered: see the explanation")
    assert explain.is_visible()
    shot(page, "05-try-miss.png", "#try-section")
    explain.click()
    page.wait_for_url(re.compile(r"/__sandbox/explain/v3/insee/sirene/unites_legales/418166096\?"))
    # a page of the catalogue, in the page's language (JSON for `Accept: application/json`)
    assert page.locator("h1").inner_text() == "Explanation of a request"
    assert UNITES_LEGALES in page.locator("main").inner_text()
    assert page.get_by_text("default answer").first.is_visible()
    page.go_back()

    # the journal has both requests; the miss links to its explanation; filter by outcome
    page.goto(base + "/ui/journal?lang=en")
    # (Chromium may ask for /favicon.ico: an unknown-path entry)
    rows = [row for row in page.locator("table.journal tbody tr").all() if "/favicon.ico" not in row.inner_text()]
    assert [row.get_attribute("class") for row in rows] == ["outcome-fallback", "outcome-hit"]
    assert rows[0].get_by_role("link", name=re.compile("^Explain")).is_visible()
    assert "personne-morale.yaml" in rows[1].inner_text()
    page.get_by_label("Outcome").select_option("fallback")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"outcome=fallback"))
    assert page.locator("table.journal tbody tr").count() == 1
    shot(page, "06-journal.png")
    assert errors == []


def test_france_connect_try_it_uses_the_token_of_the_chosen_case(
    browser: BrowserContext, sandbox: tuple[SandboxApp, str]
) -> None:
    _, base = sandbox
    page = browser.new_page()
    page.goto(base + "/ui/operations/api_particulier_v3_mesri_statut_etudiant_with_france_connect?lang=fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.get_by_label("Préremplir depuis le cas").select_option("200-etudiante-inscrite.yaml")
    assert page.get_by_label("Jeton FranceConnect (Authorization: Bearer)").input_value() == "etudiante"
    page.get_by_role("button", name="Envoyer la requête").click()
    page.wait_for_function("document.querySelector('#try-result').dataset.verdict === 'hit'")
    case = page.locator('#try-result [data-header="x-sandbox-case"]').inner_text()
    assert case.endswith("/200-etudiante-inscrite.yaml")
    shot(page, "07-france-connect-fr.png")


# -- keyboard -------------------------------------------------------------------------------------


def focused(page: Page) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
                const el = document.activeElement;
                const style = getComputedStyle(el);
                return {tag: el.tagName.toLowerCase(), text: el.textContent.trim(), id: el.id,
                        outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
            }"""
        )
    )


def test_keyboard_only_skip_link_copy_and_send_with_visible_focus(
    browser: BrowserContext, sandbox: tuple[SandboxApp, str]
) -> None:
    _, base = sandbox
    page = browser.new_page()
    page.goto(f"{base}/ui/operations/{UNITES_LEGALES}?lang=en")
    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["text"] == "Skip to content" and skip["outline"] != "none" and skip["width"] >= 2
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"
    for _ in range(80):  # Tab until the first copy button
        page.keyboard.press("Tab")
        current = focused(page)
        if current["tag"] == "button" and current["text"].startswith("Copy the cURL command"):
            break
    else:
        pytest.fail("no copy button reachable with Tab")
    assert current["outline"] != "none" and current["width"] >= 2
    page.keyboard.press("Enter")
    expect(page.locator("article.case .copy-status").first).to_have_text("Command copied to the clipboard.")
    # the payload is behind a <summary>: opened with the keyboard
    page.keyboard.press("Tab")
    assert focused(page)["tag"] == "summary"
    page.keyboard.press("Enter")
    assert page.locator("article.case details").first.get_attribute("open") is not None
    # Enter in a field of the "try it" form sends it
    page.get_by_label("siren").focus()
    page.keyboard.press("Enter")
    page.locator("#try-result").wait_for(state="visible")
    assert focused(page)["id"] == "try-result-title"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    shot(page, "08-keyboard-focus.png", "#try-section")


# -- without JavaScript ---------------------------------------------------------------------------


def test_pages_read_and_search_without_javascript(playwright: Playwright, sandbox: tuple[SandboxApp, str]) -> None:
    app, base = sandbox
    context = open_browser(playwright, base, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(base + "/ui/operations?lang=en")
        page.get_by_label("Search an operation").fill("quotient")
        page.get_by_label("Search an operation").press("Enter")
        page.wait_for_url(re.compile(r"q=quotient"))
        assert sorted(visible_rows(page)) == [
            "api_particulier_v2_cnav_quotient_familial_v2",
            "api_particulier_v3_cnav_quotient_familial_with_civility",
        ]
        shot(page, "09-operations-no-js.png")
        page.goto(f"{base}/ui/operations/{UNITES_LEGALES}?lang=en")
        assert page.locator("button.copy").first.is_hidden()  # nothing to click that would do nothing
        assert page.get_by_role("button", name="Send the request").is_disabled()
        assert "Sending needs JavaScript" in page.locator("#try-section").inner_text()
        page.get_by_label("Prefill from the case").select_option("association.yaml")
        page.get_by_role("button", name="Prefill", exact=True).click()
        page.wait_for_url(re.compile(r"case=association\.yaml"))
        siren = next(c for c in app.snapshot.tables[UNITES_LEGALES].cases if c.file == "association.yaml").params
        assert page.get_by_label("siren").input_value() == siren["siren"]
        page.goto(base + "/ui/journal?lang=en")
        page.get_by_label("Outcome").select_option("hit")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url(re.compile(r"outcome=hit"))
    finally:
        context.close()


# -- axe-core -------------------------------------------------------------------------------------


def axe_script() -> Path:
    for candidate in AXE_CANDIDATES:
        if candidate is not None and candidate.is_file():
            return candidate
    skip_browser_tests("axe-core not found: make browser-deps (or set SANDBOX_AXE_JS to axe.min.js)", module=False)


def axe_violations(page: Page, script: Path) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(script))
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    results = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results["violations"]
    ]


def test_axe_core_finds_no_violation_on_any_page(browser: BrowserContext, sandbox: tuple[SandboxApp, str]) -> None:
    app, base = sandbox
    script = axe_script()
    page = browser.new_page()
    urls = [
        "/",
        "/ui/operations",
        "/ui/operations?q=insee",
        "/ui/operations?q=nothing-matches",
        "/ui/operations/unknown",
        *(f"/ui/operations/{operation_id}" for operation_id in app.snapshot.operations),
        "/ui/journal",
    ]
    report: dict[str, list[dict[str, Any]]] = {}
    checked = 0
    for lang in ("en", "fr"):
        for url in urls:
            page.goto(base + url + ("&" if "?" in url else "?") + f"lang={lang}")
            if url.startswith("/ui/operations/api_"):
                page.locator("#try-form button[type=submit]").click()  # with the result shown
                page.locator("#try-result").wait_for(state="visible")
            violations = axe_violations(page, script)
            checked += 1
            if violations:
                report[f"{url} ({lang})"] = violations
    artefact = ROOT / "artefacts" / "axe-report.json"
    artefact.parent.mkdir(parents=True, exist_ok=True)
    artefact.write_text(json.dumps({"pages": checked, "tags": AXE_TAGS, "violations": report}, indent=2))
    assert checked == 2 * len(urls)
    assert report == {}
