"""The web catalogue over HTTP: home, operations list and search, operation pages, journal, languages,
and an accessibility check (html.parser) of every page, for the embedded default and both real corpora."""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from starlette.types import ASGIApp

from sandbox.cli.assembly import assemble
from sandbox.cli.serve_config import ServeConfig
from sandbox.load.snapshot import build_snapshot
from sandbox.serve.app import SandboxApp
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.serve.prefer_header import FAULTS
from sandbox.tools.reaching import case_request
from sandbox.web import catalogue, create_app
from sandbox.web.catalogue import OUTCOMES, labels
from tests import tiny_repository
from tests.conftest import CORPORA, PINNED_TODAY, ROOT, corpus_path

TEMPLATES = ROOT / "sandbox" / "web" / "templates"

# -- serving the catalogue ------------------------------------------------------------------------


def servable(app: SandboxApp) -> ASGIApp:
    """What the tests serve: the app itself routes `/` and `/ui/...` to the catalogue."""
    return app


def embedded_app() -> SandboxApp:
    return create_app(build_snapshot(ROOT), Services(fixed_today=PINNED_TODAY))  # the embedded QF `annee` ages


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[SandboxApp, httpx.Client]]:
    """A sandbox serving the embedded default, for tests that do not read the journal."""
    app = embedded_app()
    with serve_in_thread(servable(app)) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield app, client


@pytest.fixture
def fresh() -> Iterator[tuple[SandboxApp, httpx.Client]]:
    """A sandbox of its own (an empty journal)."""
    app = embedded_app()
    with serve_in_thread(servable(app)) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield app, client


# -- a small HTML tree, for assertions and the accessibility check ---------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
HIDDEN_TEXT = {"script", "style", "template"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)
    parent: Node | None = None

    @property
    def raw_text(self) -> str:
        """The text as written (a textarea's value, a script's content), without the leading newline."""
        parts: list[str] = []

        def walk(node: Node) -> None:
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                else:
                    walk(child)

        walk(self)
        return "".join(parts).removeprefix("\n")

    @property
    def text(self) -> str:
        parts: list[str] = []

        def walk(node: Node) -> None:
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                elif child.tag == "img":
                    parts.append(child.attrs.get("alt", ""))
                elif child.tag not in HIDDEN_TEXT:
                    walk(child)

        walk(self)
        return " ".join(" ".join(parts).split())

    def iter(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str | bool) -> list[Node]:
        found = []
        for node in self.iter():
            if tag is not None and node.tag != tag:
                continue
            wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
            if all((k in node.attrs) if v is True else node.attrs.get(k) == v for k, v in wanted.items()):
                found.append(node)
        return found

    def find(self, tag: str | None = None, **attrs: str | bool) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def hidden(self) -> bool:
        return any("hidden" in n.attrs for n in (self, *self.ancestors()))


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v if v is not None else "" for k, v in attrs}, parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


# -- the accessibility check ------------------------------------------------------------------------

LABELLED_CONTROLS = {"input", "select", "textarea"}
UNLABELLED_INPUT_TYPES = {"hidden", "submit", "button", "reset", "image"}


def accessibility_problems(html: str) -> list[str]:
    """What a page gets wrong: `lang`, one `h1`, heading levels in order, every form control labelled,
    buttons and links named, images with alt, unique ids, references to existing ids, no click-only
    elements, no positive tabindex."""
    tree = parse(html)
    problems: list[str] = []
    root = tree.find("html")
    if root.attrs.get("lang") not in catalogue.LANGUAGES:
        problems.append(f"<html lang> is {root.attrs.get('lang')!r}")
    nodes = list(tree.iter())
    ids = Counter(n.attrs["id"] for n in nodes if "id" in n.attrs)
    problems += [f"id {i!r} used {n} times" for i, n in ids.items() if n > 1]
    headings = [(int(n.tag[1]), n.text) for n in nodes if re.fullmatch(r"h[1-6]", n.tag)]
    if [level for level, _ in headings].count(1) != 1:
        problems.append(f"{[level for level, _ in headings].count(1)} <h1> elements")
    previous = 0
    for level, text in headings:
        if level > previous + 1:
            problems.append(f"heading level skipped: h{previous} then h{level} ({text!r})")
        if not text:
            problems.append(f"empty h{level}")
        previous = level
    labelled_by_for = {n.attrs.get("for") for n in nodes if n.tag == "label"}
    for node in nodes:
        name = node.attrs.get("aria-label", "").strip()
        for attribute in ("aria-labelledby", "aria-describedby", "for", "aria-controls"):
            for ref in node.attrs.get(attribute, "").split():
                if ref not in ids:
                    problems.append(f"<{node.tag} {attribute}={ref!r}> points to no element")
        if "onclick" in node.attrs or any(k.startswith("on") for k in node.attrs):
            problems.append(f"<{node.tag}> has an inline event handler")
        if node.attrs.get("tabindex", "0").lstrip("-").isdigit() and int(node.attrs.get("tabindex", "0")) > 0:
            problems.append(f"<{node.tag}> has a positive tabindex")
        if node.tag in LABELLED_CONTROLS:
            kind = node.attrs.get("type", "text")
            if node.tag == "input" and kind in UNLABELLED_INPUT_TYPES:
                if kind in ("submit", "button", "reset") and not node.attrs.get("value"):
                    problems.append(f"<input type={kind}> without a value")
                if kind == "image" and not node.attrs.get("alt"):
                    problems.append("<input type=image> without alt")
                continue
            wrapped = any(a.tag == "label" for a in node.ancestors())
            by_id = node.attrs.get("id") in labelled_by_for
            if not (wrapped or by_id or name or node.attrs.get("aria-labelledby")):
                problems.append(f"<{node.tag} id={node.attrs.get('id')!r}> has no label")
        elif node.tag == "button":
            if not (node.text or name or node.attrs.get("aria-labelledby")):
                problems.append(f"<button> without an accessible name ({node.attrs})")
        elif node.tag == "a":
            if "href" not in node.attrs:
                problems.append(f"<a> without href ({node.text!r})")
            if not (node.text or name):
                problems.append(f"<a href={node.attrs.get('href')!r}> without text")
        elif node.tag == "img" and "alt" not in node.attrs:
            problems.append(f"<img src={node.attrs.get('src')!r}> without alt")
        elif node.tag == "label" and node.attrs.get("for") and not node.text:
            problems.append(f"<label for={node.attrs['for']!r}> is empty")
    return problems


def page_urls(app: SandboxApp) -> list[str]:
    return [
        "/",
        "/ui/operations",
        "/ui/operations?q=insee",
        "/ui/operations?q=nothing-matches-this",
        "/ui/journal",
        "/ui/operations/unknown_operation",
        *(f"/ui/operations/{operation_id}" for operation_id in app.snapshot.operations),
    ]


# -- home -------------------------------------------------------------------------------------------


def test_home_shows_the_revision_the_counts_and_no_sync(shared: tuple[SandboxApp, httpx.Client]) -> None:
    app, client = shared
    response = client.get("/", headers={"accept-language": "en"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = parse(response.text)
    report = app.snapshot.report
    assert app.snapshot.revision in page.find("main").text
    stats = [item.text for item in page.find("ul", class_="stats").find_all("li")]
    assert stats == [
        f"{report.operations_by_api['entreprise']} API Entreprise operations",
        f"{report.operations_by_api['particulier']} API Particulier operations",
        f"{report.cases} cases",
        f"{report.france_connect_tokens} FranceConnect tokens",
        "0 operations without a case folder (default answers only)",
    ]
    assert report.cases == 62 and report.france_connect_tokens == 5
    text = page.find("main").text
    assert "No sync: the fixtures were loaded once, at start." in text
    assert "None: every file was loaded." in text
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


def test_home_shows_sync_health_and_the_last_reload_failure(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "local")
    app = assemble(ServeConfig(fixtures=[str(root)], cache_dir=str(tmp_path / "cache"), watch=False))
    assert app.syncer is not None
    broken = root / "payloads" / "api_particulier_v2_demo" / "cassé.yaml"
    broken.write_text("params:\n  identifiant: [1\nstatus: 200\n")
    attempt = app.syncer.reload("test")
    assert attempt.outcome == "refused"
    with serve_in_thread(servable(app)) as base, httpx.Client(base_url=base, timeout=30.0) as client:
        page = parse(client.get("/?lang=en").text)
    text = page.find("main").text
    assert "Polling every" in text and "Source health" in text
    assert str(root) in text
    headings = [h.text for h in page.find_all("h3")]
    assert headings == ["Last reload attempt", "Last reload failure", "Files rejected at load"]
    assert "refused" in text and "payloads/api_particulier_v2_demo/cassé.yaml:3: invalid YAML" in text
    assert app.snapshot.revision in text


# -- operations list --------------------------------------------------------------------------------


def test_operations_are_grouped_by_api_then_provider(shared: tuple[SandboxApp, httpx.Client]) -> None:
    app, client = shared
    page = parse(client.get("/ui/operations?lang=en").text)
    assert [h.text for h in page.find_all("h2")] == ["API Entreprise", "API Particulier"]
    providers = {
        section.attrs["data-api"]: [h.text.split(" (")[0] for h in section.find_all("h3")]
        for section in page.find_all("section", data_api=True)
    }
    assert providers == {"entreprise": ["acoss", "dgfip", "insee"], "particulier": ["cnav", "cnous", "mesri"]}
    rows = {row.find("code").text: row for row in page.find_all("tr", data_search=True)}
    assert set(rows) == set(app.snapshot.operations)
    cells = [c.text for c in rows["api_entreprise_v3_insee_unites_legales"].find_all("td")]
    assert cells[1:5] == ["/v3/insee/sirene/unites_legales/{siren}", "v3", "Bearer", "8"]
    assert cells[5] == "no problem"
    assert rows["api_particulier_v2_cnav_quotient_familial_v2"].find_all("td")[3].text == "X-Api-Key"
    france_connect = rows["api_particulier_v3_mesri_statut_etudiant_with_france_connect"].find_all("td")
    assert france_connect[3].text == "FranceConnect" and france_connect[5].text == "no problem"


def test_search_filters_without_javascript(shared: tuple[SandboxApp, httpx.Client]) -> None:
    _, client = shared

    def shown(query: str) -> list[str]:
        page = parse(client.get("/ui/operations", params={"q": query, "lang": "en"}).text)
        return sorted(row.find("code").text for row in page.find_all("tr", data_search=True))

    assert shown("insee") == ["api_entreprise_v3_insee_etablissements", "api_entreprise_v3_insee_unites_legales"]
    assert shown("QUOTIENT  v2") == ["api_particulier_v2_cnav_quotient_familial_v2"]
    assert shown("/v4/urssaf") == ["api_entreprise_v4_acoss_attestations_sociales"]
    assert shown("franceconnect") == ["api_particulier_v3_mesri_statut_etudiant_with_france_connect"]
    page = parse(client.get("/ui/operations", params={"q": "zzz", "lang": "en"}).text)
    assert page.find("p", id="search-count").text == "No operation matches."
    assert page.find("input", id="q").attrs["value"] == "zzz"
    page = parse(client.get("/ui/operations", params={"q": "insee", "lang": "en"}).text)
    assert page.find("p", id="search-count").text == "Operations shown: 2 of 10"


def test_lint_status_is_a_dash_when_the_lint_is_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    import sandbox.tools.lint

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("lint in progress")

    monkeypatch.setattr(sandbox.tools.lint, "lint_repository", broken)
    app = embedded_app()
    with serve_in_thread(servable(app)) as base, httpx.Client(base_url=base, timeout=30.0) as client:
        page = parse(client.get("/ui/operations?lang=en").text)
        operation = parse(client.get("/ui/operations/api_entreprise_v3_insee_unites_legales?lang=en").text)
    lint_cells = {row.find_all("td")[5].text for row in page.find_all("tr", data_search=True)}
    assert lint_cells == {"— lint not available"}
    assert "The repository lint is not available" in page.find("main").text
    facts = {div.find("dt").text: div.find("dd").text for div in operation.find("dl", class_="facts").find_all("div")}
    assert facts["Lint"] == "— lint not available"
    assert operation.find_all("div", class_="findings") == []


# -- operation page ---------------------------------------------------------------------------------


def test_operation_page_lists_parameters_and_cases(shared: tuple[SandboxApp, httpx.Client]) -> None:
    app, client = shared
    operation = app.snapshot.operations["api_particulier_v3_cnav_quotient_familial_with_civility"]
    page = parse(client.get(f"/ui/operations/{operation.id}?lang=en").text)
    assert page.find("h1").text == operation.summary
    parameters = page.find("section", data_section="parameters").find("tbody").find_all("tr")
    assert [(r.find("th").text, *[c.text for c in r.find_all("td")][:3]) for r in parameters] == [
        (p.name, p.location, "yes" if p.required else "no", "array<string>" if p.is_array else p.schema["type"])
        for p in operation.parameters
    ]
    articles = page.find_all("article", class_="case")
    cases = app.snapshot.tables[operation.id].cases
    assert len(articles) == len(cases)
    for article, case in zip(articles, cases, strict=True):
        assert article.find("h3").text.startswith(case.title or case.file)
        assert str(case.status) in article.find("h3").text
        assert json.loads(article.find("pre", class_="payload").text) == case.payload
        assert (
            article.find("button", class_="copy").attrs["data-copy"] == article.find("pre", class_="curl").attrs["id"]
        )


def test_each_curl_command_reaches_its_case_on_this_sandbox(shared: tuple[SandboxApp, httpx.Client]) -> None:
    app, client = shared
    reached = 0
    for operation in app.snapshot.operations.values():
        page = parse(client.get(f"/ui/operations/{operation.id}").text)
        articles = page.find("section", aria_labelledby="cases").find_all("article", class_="case")
        for article, case in zip(articles, app.snapshot.tables[operation.id].cases, strict=True):
            command = article.find("pre", class_="curl").raw_text
            if "$FRANCE_CONNECT_TOKEN" in command:
                continue  # a FranceConnect case no token of the repository reaches (a lint error)
            response = run_curl(client, command)
            assert str(client.base_url).rstrip("/") in command
            assert response.headers["x-sandbox-case"] == case.id, (case.id, command)
            reached += 1
    # 62 cases, minus the FranceConnect folder's 404.yaml, which no token reaches as a match (an
    # unknown identity gets it as the fallback)
    assert reached == 61


def run_curl(client: httpx.Client, command: str) -> httpx.Response:
    """The request of a `curl -H … -G -d … --url …` command, sent with httpx; a first line
    `export TOKEN=$(curl -sSf …/__sandbox/token)` is run too, and `$TOKEN` expanded as the shell would."""
    token = None
    first, _, rest = command.partition("\n")
    if first.startswith("export TOKEN="):
        assert first == f"export TOKEN=$(curl -sSf {str(client.base_url).rstrip('/')}/__sandbox/token)"
        answered = client.get("/__sandbox/token")
        assert answered.status_code == 200
        token, command = answered.text.strip(), rest
    words = shlex.split(command.replace("\\\n", " "))  # a line continuation, as the shell reads it
    assert words[0] == "curl"
    if token is not None:
        words = [word.replace("$TOKEN", token) for word in words]
    else:
        assert not any("$TOKEN" in word for word in words), "a command reads $TOKEN without the line that sets it"
    headers: dict[str, str] = {}
    query: list[tuple[str, str | int | float | bool | None]] = []
    url = ""
    index = 1
    while index < len(words):
        word = words[index]
        if word == "-H":
            name, _, value = words[index + 1].partition(": ")
            headers[name] = value
            index += 2
        elif word == "-d":
            query += parse_qsl(words[index + 1], keep_blank_values=True)
            index += 2
        elif word == "--url":
            url = words[index + 1]
            index += 2
        else:
            assert word == "-G", word
            index += 1
    return client.get(urlsplit(url).path, params=query, headers=headers)


def test_france_connect_tokens_and_the_case_they_reach(shared: tuple[SandboxApp, httpx.Client]) -> None:
    _, client = shared
    page = parse(client.get("/ui/operations/api_particulier_v3_mesri_statut_etudiant_with_france_connect?lang=en").text)
    section = page.find("section", aria_labelledby="france-connect")
    commands = {a.find("h3").find("code").text: a.find("pre").raw_text for a in section.find_all("article")}
    assert set(commands) == {
        "etudiant_admis",
        "etudiant_inconnu",
        "etudiante",
        "fournisseur_indisponible",
        "jeton_expire",
    }
    answered = run_curl(client, commands["etudiante"])
    assert answered.headers["x-sandbox-case"].endswith("/200-etudiante-inscrite.yaml")
    articles = {
        a.find("p", class_="file").text.split("/")[1]: a
        for a in page.find("section", aria_labelledby="cases").find_all("article", class_="case")
    }
    assert "Reached with the FranceConnect token: etudiante" in articles["200-etudiante-inscrite.yaml"].text
    assert "Reached with the FranceConnect token: fournisseur_indisponible" in articles["503.yaml"].text
    assert "answers a FranceConnect token whose identity matches no case" in articles["404.yaml"].text
    assert "Authorization: Bearer etudiante" in articles["200-etudiante-inscrite.yaml"].find("pre", class_="curl").text


def test_try_it_is_prefilled_from_the_chosen_case_and_the_default_token(
    shared: tuple[SandboxApp, httpx.Client],
) -> None:
    app, client = shared
    token = (ROOT / "tokens" / "default").read_text().strip()
    operation = app.snapshot.operations["api_particulier_v3_cnav_quotient_familial_with_civility"]
    case = app.snapshot.tables[operation.id].cases[2]
    page = parse(client.get(f"/ui/operations/{operation.id}", params={"case": case.file}).text)
    assert page.find("option", selected=True).attrs["value"] == case.file
    form = page.find("form", id="try-form")
    assert form.find("input", id="try-token").attrs["value"] == token
    values = {
        control.attrs["data-name"]: control.attrs["value"] if control.tag == "input" else control.raw_text
        for control in form.find_all()
        if "data-location" in control.attrs
    }
    sent = case_request(operation, case, token).query
    expected = {name: "\n".join(v for n, v in sent if n == name) for name, _ in sent}
    assert {name: value for name, value in values.items() if value} == expected
    assert "prenoms[]" in expected
    data = json.loads(page.find("script", id="try-data").raw_text)
    assert data["path"] == operation.path and data["auth"] == "Bearer"
    assert set(data["cases"]) == {c.file for c in app.snapshot.tables[operation.id].cases}
    # every control of the form is labelled by its parameter name
    for control in form.find_all():
        if "data-location" in control.attrs:
            assert form.find("label", for_=control.attrs["id"]).find("code").text == control.attrs["data-name"]


def test_path_parameters_and_the_v2_header_in_try_it(shared: tuple[SandboxApp, httpx.Client]) -> None:
    _, client = shared
    page = parse(client.get("/ui/operations/api_entreprise_v3_dgfip_liasses_fiscales?lang=en").text)
    legends = [legend.text for legend in page.find("form", id="try-form").find_all("legend")]
    assert legends == [
        "Path parameters",
        "Query parameters",
        "Authentication",
        "Scenario (Prefer header, sandbox only)",
    ]
    path_controls = page.find_all(data_location="path")
    assert [c.attrs["data-name"] for c in path_controls] == ["siren", "year"]
    assert all(c.attrs["value"] for c in path_controls)
    v2 = parse(client.get("/ui/operations/api_particulier_v2_cnav_quotient_familial_v2?lang=en").text)
    assert v2.find("label", for_="try-token").text == "Token (X-Api-Key)"


def test_cases_are_escaped_and_the_curl_follows_the_host(tmp_path: Path) -> None:
    root = tiny_repository.build(tmp_path / "tiny")
    app = create_app(build_snapshot(root), Services())
    with serve_in_thread(servable(app)) as base, httpx.Client(base_url=base, timeout=30.0) as client:
        response = client.get("/ui/operations/api_entreprise_v3_demo_unites_legales")
        proxied = client.get(
            "/ui/operations/api_entreprise_v3_demo_unites_legales", headers={"host": "sandbox.example.test:8443"}
        )
    assert "&lt;DINUM&gt; &amp; co" in response.text and "<DINUM>" not in response.text
    command = parse(response.text).find("article", class_="case").find("pre", class_="curl").raw_text
    assert command.splitlines()[-1] == f"  --url {base}/v3/demo/unites_legales/130025265"
    # the first line sets $TOKEN (from this sandbox), the header reads it in double quotes so the shell expands it
    assert command.startswith(f"export TOKEN=$(curl -sSf {base}/__sandbox/token)\ncurl \\\n  -H ")
    assert "--url http://sandbox.example.test:8443/v3/demo/unites_legales/130025265" in proxied.text
    assert '  -H "Authorization: Bearer $TOKEN" \\\n' in command
    assert "Bearer $TOKEN'" not in response.text


def test_unknown_operation_is_a_404_page(shared: tuple[SandboxApp, httpx.Client]) -> None:
    _, client = shared
    response = client.get("/ui/operations/api_entreprise_v9_nothing?lang=en")
    assert response.status_code == 404
    assert parse(response.text).find("h1").text == "Unknown operation"


# -- journal ----------------------------------------------------------------------------------------


def test_journal_lists_requests_and_filters_them_by_outcome(fresh: tuple[SandboxApp, httpx.Client]) -> None:
    app, client = fresh
    token = (ROOT / "tokens" / "default").read_text().strip()
    operation = app.snapshot.operations["api_entreprise_v3_insee_unites_legales"]
    case = next(c for c in app.snapshot.tables[operation.id].cases if c.file == "personne-morale.yaml")
    hit = case_request(operation, case, token)
    assert client.get(hit.target, headers=dict(hit.headers)).headers["x-sandbox-case"] == case.id
    miss = client.get(
        "/v3/insee/sirene/unites_legales/418166096",
        params={"recipient": "10000001700010", "context": "test", "object": "test"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert miss.headers["x-sandbox-fallback"] == "openapi-example"

    page = parse(client.get("/ui/journal?lang=en").text)
    rows = page.find("tbody").find_all("tr")
    assert [r.attrs["class"] for r in rows] == ["outcome-fallback", "outcome-hit"]
    assert "418166096" in rows[0].text and "personne-morale.yaml" in rows[1].text
    assert rows[1].find_all("td")[5].text == "—"
    # a language chosen: the explanation page in it; none: the route itself (a page, or JSON for curl)
    explain_page = rows[0].find_all("td")[5].find("a").attrs["href"]
    assert explain_page.startswith("/ui/explain?request=%2Fv3%2Finsee%2Fsirene%2Funites_legales%2F418166096%3F")
    assert explain_page.endswith("&lang=en")
    assert "Explanation of a request" in client.get(explain_page).text
    unasked = parse(client.get("/ui/journal").text).find("tbody").find_all("tr")
    explain = unasked[0].find_all("td")[5].find("a").attrs["href"]
    assert explain.startswith("/__sandbox/explain/v3/insee/sirene/unites_legales/418166096?recipient=")
    explained = client.get(explain, headers={"accept": "application/json"}).json()
    assert explained["operation"] == operation.id and explained["fallback"] == "openapi-example"

    filtered = parse(client.get("/ui/journal", params={"outcome": "fallback", "lang": "en"}).text)
    assert [r.attrs["class"] for r in filtered.find("tbody").find_all("tr")] == ["outcome-fallback"]
    assert filtered.find("option", selected=True).attrs["value"] == "fallback"
    hits = parse(client.get("/ui/journal", params={"outcome": "hit", "operation": operation.id}).text)
    assert len(hits.find("tbody").find_all("tr")) == 1
    assert parse(client.get("/ui/journal?outcome=auth-error&lang=en").text).find("p", class_="count").text == (
        "Requests shown: 0"
    )


def test_journal_hides_tokens(fresh: tuple[SandboxApp, httpx.Client]) -> None:
    _, client = fresh
    client.get("/api/v2/composition-familiale-v2", params={"token": "secret-value", "nomNaissance": "X"})
    text = client.get("/ui/journal").text
    assert "secret-value" not in text and "[redacted]" in text


# -- languages and labels -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ("", "", "fr"),
        ("", "en-US,en;q=0.9", "en"),
        ("", "de-DE, fr;q=0.5, en;q=0.4", "fr"),
        ("", "fr;q=0.2, en;q=0.8", "en"),
        ("?lang=en", "fr-FR", "en"),
        ("?lang=fr", "en", "fr"),
        ("?lang=xx", "en", "en"),
    ],
)
def test_language_from_the_query_then_accept_language(
    shared: tuple[SandboxApp, httpx.Client], query: str, accept: str, expected: str
) -> None:
    _, client = shared
    response = client.get("/ui/operations" + query, headers={"accept-language": accept} if accept else {})
    page = parse(response.text)
    assert page.find("html").attrs["lang"] == expected
    assert page.find("h1").text == labels()["operations_title"][expected]
    switch = page.find("a", class_="lang-switch")
    other = "en" if expected == "fr" else "fr"
    assert switch.attrs["href"].endswith(f"lang={other}") and switch.attrs["lang"] == other


def test_an_explicit_language_is_kept_in_links_and_forms(shared: tuple[SandboxApp, httpx.Client]) -> None:
    _, client = shared
    page = parse(client.get("/ui/operations?lang=en&q=insee").text)
    operation_links = [a.attrs["href"] for a in page.find("main").find_all("a") if "/ui/operations/" in a.attrs["href"]]
    assert operation_links and all(href.endswith("?lang=en") for href in operation_links)
    assert page.find("form", role="search").find("input", type="hidden").attrs == {
        "type": "hidden",
        "name": "lang",
        "value": "en",
    }
    assert page.find("a", class_="lang-switch").attrs["href"] == "/ui/operations?q=insee&lang=fr"


def test_every_label_has_both_languages_and_every_used_label_exists() -> None:
    table = labels()
    assert all(set(texts) == {"fr", "en"} and all(texts.values()) for texts in table.values()), [
        key for key, texts in table.items() if set(texts) != {"fr", "en"}
    ]
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']""", template.read_text()))
    prefixes = {key for key in used if key.endswith("_")}  # completed in the template: t("api_" ~ api)
    assert prefixes == {
        *("api_", "auth_", "fallback_", "fault_", "severity_", "try_token_"),
        *("difference_", "outcome_", "param_in_", "attempt_"),
    }
    dynamic = {
        *(f"difference_{kind}" for kind in ("case", "type", "order", "array", "different", "missing", "extra")),
        *(f"outcome_{name.replace('-', '_')}" for name in OUTCOMES),
        *(f"param_in_{where}" for where in ("path", "query", "header")),
        *(f"attempt_{kind}" for kind in ("swapped", "unchanged", "refused", "failed")),
        *(f"api_{api}" for api in ("entreprise", "particulier")),
        *(f"{prefix}{kind}" for prefix in ("auth_", "try_token_") for kind in ("bearer", "x_api_key", "franceconnect")),
        *(f"fallback_{kind}" for kind in ("openapi", "no_case", "folder")),
        *(f"severity_{kind}" for kind in ("error", "warning")),
        *(f"fault_{fault}" for fault in FAULTS),
    }
    known = set(table) | {key.removesuffix("_one") for key in table if f"{key.removesuffix('_one')}_other" in table}
    assert (used - prefixes) | dynamic <= known, sorted(((used - prefixes) | dynamic) - known)
    for key, texts in table.items():
        assert set(re.findall(r"{(\w+)}", texts["fr"])) == set(re.findall(r"{(\w+)}", texts["en"])), key


# -- reloads ---------------------------------------------------------------------------------------


def test_pages_read_the_snapshot_being_served(tmp_path: Path) -> None:
    app = embedded_app()
    with serve_in_thread(servable(app)) as base, httpx.Client(base_url=base, timeout=30.0) as client:
        assert "api_entreprise_v3_demo_unites_legales" not in client.get("/ui/operations").text
        app.holder.swap(build_snapshot(tiny_repository.build(tmp_path / "tiny")))
        page = parse(client.get("/ui/operations").text)
        assert {row.find("code").text for row in page.find_all("tr", data_search=True)} == set(app.snapshot.operations)
        assert app.snapshot.revision in page.find("footer").text
        assert client.get("/ui/operations/api_entreprise_v3_demo_unites_legales").status_code == 200
        assert client.get("/ui/operations/api_entreprise_v3_insee_unites_legales").status_code == 404


# -- static files ----------------------------------------------------------------------------------


def test_static_files_are_served_and_versioned(shared: tuple[SandboxApp, httpx.Client]) -> None:
    _, client = shared
    page = parse(client.get("/").text)
    stylesheet = page.find("link", rel="stylesheet").attrs["href"]
    script = page.find("script", src=True).attrs["src"]
    assert re.fullmatch(r"/ui/static/catalogue\.css\?v=[0-9a-f]{10}", stylesheet)
    assert client.get(stylesheet).headers["content-type"].startswith("text/css")
    assert "javascript" in client.get(script).headers["content-type"]
    css = client.get(stylesheet).text
    assert ":focus-visible" in css and "outline" in css
    redirect = client.get("/ui?lang=en")
    assert redirect.status_code == 307 and redirect.headers["location"] == "/?lang=en"


# -- accessibility (static) -------------------------------------------------------------------------


def test_every_page_of_the_embedded_default_passes_the_static_accessibility_check(
    shared: tuple[SandboxApp, httpx.Client],
) -> None:
    app, client = shared
    checked = 0
    for url in page_urls(app):
        for lang in catalogue.LANGUAGES:
            response = client.get(url, params={"lang": lang})
            assert response.status_code == (404 if url == "/ui/operations/unknown_operation" else 200), url
            assert accessibility_problems(response.text) == [], (url, lang)
            checked += 1
    assert checked == 2 * (6 + len(app.snapshot.operations))


def test_the_accessibility_check_finds_problems() -> None:
    bad = (
        '<html><body><h2>x</h2><h1>a</h1><h1>b</h1><h4>c</h4><input id="i"><select></select>'
        '<button></button><a href="/"></a><img src="x.png"><div onclick="go()">go</div>'
        '<span id="d"></span><span id="d"></span><label for="nope">n</label></body></html>'
    )
    problems = accessibility_problems(bad)
    for expected in (
        "<html lang> is None",
        "id 'd' used 2 times",
        "2 <h1> elements",
        "heading level skipped: h0 then h2 ('x')",
        "heading level skipped: h1 then h4 ('c')",
        "<input id='i'> has no label",
        "<select id=None> has no label",
        "<a href='/'> without text",
        "<img src='x.png'> without alt",
        "<div> has an inline event handler",
        "<label for='nope'> points to no element",
    ):
        assert expected in problems, (expected, problems)
    assert any(p.startswith("<button> without an accessible name") for p in problems)


# -- the real corpora ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CORPORA)
def test_every_page_renders_for_every_operation_of_the_real_corpora(name: str) -> None:
    root = corpus_path(name)
    app = create_app(build_snapshot(root), Services())
    urls = page_urls(app)
    with serve_in_thread(servable(app)) as base, httpx.Client(base_url=base, timeout=120) as client:
        failures: list[tuple[str, object]] = []
        for url in urls:
            response = client.get(url)
            expected = 404 if url.endswith("/unknown_operation") else 200
            if response.status_code != expected:
                failures.append((url, response.status_code))
            elif problems := accessibility_problems(response.text):
                failures.append((url, problems[:3]))
    assert failures == []
    assert len(urls) - 6 == len(app.snapshot.operations) > 90
