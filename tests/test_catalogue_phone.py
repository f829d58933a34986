"""The catalogue on a 390 × 844 phone and a 1366 px laptop (headless Chromium): no page scrolls
sideways (tables scroll inside their box), and try-it's result takes the focus."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.browser_required import skip_browser_tests
from tests.test_catalogue import embedded_app, servable
from tests.test_catalogue_browser import CHROMIUM, CHROMIUM_ARGS, TOKEN, UNITES_LEGALES

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    skip_browser_tests("the playwright Python package is missing (pip install -e '.[dev]')")

from sandbox.serve.local_server import serve_in_thread

MISS = "/v3/insee/sirene/unites_legales/418166096?recipient=10000001700010&context=c&object=o"
OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with serve_in_thread(servable(embedded_app())) as base:
        with httpx.Client(base_url=base, timeout=30) as client:  # a journal with a hit, a miss and a refusal
            client.get(MISS, headers={"authorization": f"Bearer {TOKEN}"})
            client.get("/v3/insee/sirene/unites_legales/130025265", headers={"authorization": "Bearer nope"})
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def open_page(browser: Browser, width: int, height: int) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(15_000)
    return page


def fits(page: Page) -> tuple[bool, int, int]:
    return page.evaluate(OVERFLOW), page.evaluate("document.documentElement.scrollWidth"), page.evaluate("innerWidth")


PAGES = [
    "/",
    "/ui/operations",
    f"/ui/operations/{UNITES_LEGALES}",
    "/ui/journal",
    "/ui/explain?request=" + quote(MISS, safe=""),
]


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("path", PAGES)
def test_no_page_scrolls_sideways_on_a_phone(browser: Browser, served: str, path: str, lang: str) -> None:
    page = open_page(browser, 390, 844)
    page.goto(served + path + ("&" if "?" in path else "?") + f"lang={lang}")
    assert page.locator("html").get_attribute("lang") == lang
    assert fits(page)[0], fits(page)
    page.close()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_try_it_result_fits_a_phone_and_takes_the_focus(browser: Browser, served: str, lang: str) -> None:
    page = open_page(browser, 390, 844)
    page.goto(f"{served}/ui/operations/{UNITES_LEGALES}?lang={lang}&case=personne-morale.yaml#try")
    page.locator("#try-form button[type=submit], #try button[type=submit], form.try button").first.click()
    # locator waits, not wait_for_function: the page's CSP forbids evaluating strings
    page.locator("#try-result").wait_for(state="visible")
    expect(page.locator("#try-result-title")).to_be_focused()
    box = page.locator("#try-result-title").bounding_box()
    assert box is not None and 0 <= box["y"] < 844  # in view, not below the fold
    assert fits(page)[0], fits(page)
    page.close()


def test_the_journal_fits_a_1366_pixel_screen(browser: Browser, served: str) -> None:
    page = open_page(browser, 1366, 768)
    for lang in ("en", "fr"):
        page.goto(f"{served}/ui/journal?lang={lang}")
        assert page.locator("table.journal tbody tr").count() >= 3
        assert fits(page)[0], fits(page)
        table = page.locator("table.journal").bounding_box()
        assert table is not None and table["x"] + table["width"] <= 1366
    page.close()


def test_the_explanation_link_of_a_miss_opens_the_page(browser: Browser, served: str) -> None:
    page = open_page(browser, 390, 844)
    page.goto(f"{served}/ui/journal?lang=fr")
    page.get_by_role("link", name=re.compile("^Expliquer")).first.click()
    page.wait_for_url(re.compile(r"/ui/explain\?request="))
    assert page.locator("h1").inner_text() == "Explication d’une requête"
    page.close()
