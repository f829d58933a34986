"""The explanation of a request as a page of the catalogue (a browser), JSON otherwise; the cURL it
prints reads `$TOKEN` in double quotes after the line that sets it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox import build_snapshot, create_app, default_fixtures, serve_in_thread
from sandbox.serve.pipeline import Services
from tests.test_catalogue import parse, servable

MISS = "/__sandbox/explain/v3/insee/sirene/unites_legales/418166096?recipient=10000001700010&context=c&object=o"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    app = create_app(build_snapshot(default_fixtures()), Services())
    with serve_in_thread(servable(app)) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def test_json_for_curl_and_for_accept_json(client: httpx.Client) -> None:
    for accept in ("*/*", "application/json", "text/html;q=0.5, application/json"):
        answered = client.get(MISS, headers={"accept": accept})
        assert answered.headers["content-type"] == "application/json", accept
        assert answered.json()["operation"] == "api_entreprise_v3_insee_unites_legales"


def test_a_browser_gets_the_page_in_its_language(client: httpx.Client) -> None:
    english = client.get(MISS, headers={"accept": BROWSER, "accept-language": "en"})
    assert english.headers["content-type"].startswith("text/html")
    page = parse(english.text)
    assert page.find("h1").text == "Explanation of a request"
    closest = page.find("section", aria_labelledby="explain-closest").find_all("article")
    assert len(closest) == 3
    command = closest[0].find("pre", class_="curl").raw_text
    token_line, curl = command.split("\n", 1)
    assert token_line == f"export TOKEN=$(curl -sSf {client.base_url}/__sandbox/token)".replace("//__", "/__")
    assert '-H "Authorization: Bearer $TOKEN"' in curl and "'Authorization" not in curl

    french = parse(client.get(MISS, headers={"accept": BROWSER, "accept-language": "fr-FR,fr;q=0.9"}).text)
    assert french.find("h1").text == "Explication d’une requête"
    text = french.find("main").text
    for english_word in ("default answer", "Closest cases", "e.g.", "fallback", " hit "):
        assert english_word not in text, english_word
    # the language switch leads to the same explanation, through /ui/explain
    switch = french.find("a", hreflang="en") or french.find("a", lang="en")
    assert switch is not None and switch.attrs["href"].startswith("/ui/explain?request=")
    assert parse(client.get(switch.attrs["href"]).text).find("h1").text == "Explanation of a request"


def test_an_unknown_path_is_a_404_page_that_says_so(client: httpx.Client) -> None:
    answered = client.get("/__sandbox/explain/v3/nothing", headers={"accept": BROWSER, "accept-language": "en"})
    assert answered.status_code == 404
    assert "No operation has this path" in parse(answered.text).find("main").text
