"""An integrator's first request, as printed: the README's first shell block and the startup banner's
`curl`, run by bash against a sandbox started the way `make run` starts it; the home page's box, the
token route and the cURL commands of the catalogue."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox import build_snapshot, create_app, default_fixtures, serve_in_thread
from sandbox.serve.access import AdminPolicy
from sandbox.serve.pipeline import Services
from sandbox.tools.first_request import first_request
from tests import tiny_repository
from tests.test_catalogue import parse, servable

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 60.0
README_CASE = "api_entreprise_v3_insee_unites_legales/administration-siren-par-defaut.yaml"


class MakeRun:
    """`make run PORT=0` (the install stamp taken as done: `-o`), its output read line by line."""

    def __init__(self) -> None:
        if not (ROOT / ".venv" / "bin" / "sandbox").is_file() or shutil.which("make") is None:
            pytest.skip("needs make and the project's .venv (make run creates it)")
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "-o", ".venv/.runtime-stamp", "run", "PORT=0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # make, its shell and the sandbox: one process group, stopped together
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str) -> int:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            for index, line in enumerate(list(self.lines)):
                if text in line:
                    return index
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} in:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=DEADLINE_S)
        self._reader.join(timeout=DEADLINE_S)


@pytest.fixture(scope="module")
def make_run() -> Iterator[tuple[MakeRun, str]]:
    served = MakeRun()
    try:
        line = served.lines[served.wait_for_line("Serving in ")]
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        served.wait_for_line("first request (")
        yield served, match.group(1)
    finally:
        served.stop()


def bash(script: str) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE_S
    )
    assert done.returncode == 0, (script, done.stdout, done.stderr)
    return done.stdout


def status_and_headers(output: str) -> tuple[str, dict[str, str]]:
    """`curl -i` output: the status line and the headers (lower-cased names)."""
    head = output.replace("\r\n", "\n").split("\n\n", 1)[0].split("\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return head[0], headers


def first_shell_block(markdown: str) -> str:
    """The README's first `sh` block that gets a token and sends a request."""
    for block in re.findall(r"```sh\n(.*?)```", markdown, flags=re.DOTALL):
        if "sandbox token" in block and "curl" in block:
            return str(block)
    raise AssertionError("no shell block with `sandbox token` and `curl` in README.md")


def test_the_readme_opens_with_make_run_then_the_token_then_curl() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)
    assert blocks[0].startswith("make run")
    assert blocks[1].startswith("export TOKEN=$(.venv/bin/sandbox token)\ncurl ")
    assert '-H "Authorization: Bearer $TOKEN"' in blocks[1]


def test_the_readme_first_shell_block_answers_200_from_a_server_started_as_make_run(
    make_run: tuple[MakeRun, str],
) -> None:
    _, base = make_run
    block = first_shell_block((ROOT / "README.md").read_text())
    assert "http://127.0.0.1:8000/" in block  # what `make run` serves on by default
    status, headers = status_and_headers(bash(block.replace("http://127.0.0.1:8000/", base + "/")))
    assert status.split()[:2] == ["HTTP/1.1", "200"], status
    assert headers["x-sandbox-case"] == README_CASE


def test_the_banner_prints_the_catalogue_and_a_curl_that_works_as_printed(make_run: tuple[MakeRun, str]) -> None:
    served, base = make_run
    index = served.wait_for_line("first request (")
    assert f"  catalogue: {base}/" in served.lines
    case = re.search(r"first request \((\S+)\)", served.lines[index])
    assert case, served.lines[index]
    token_line, command = (line.strip() for line in served.lines[index + 1 : index + 3])
    assert token_line == f"export TOKEN=$(curl -sSf {base}/__sandbox/token)"
    assert command.startswith('curl -i -H "Authorization: Bearer $TOKEN" ')
    status, headers = status_and_headers(bash(f"{token_line}\n{command}"))
    assert status.split()[:2] == ["HTTP/1.1", "200"], status
    assert headers["x-sandbox-case"] == case.group(1)


def test_the_home_page_has_the_same_first_request_box() -> None:
    app = create_app(build_snapshot(default_fixtures()), Services())
    found = first_request(app.snapshot)
    assert found is not None and found.case.id == README_CASE
    with serve_in_thread(servable(app)) as base, httpx.Client(base_url=base, timeout=30) as client:
        for lang, heading in (("en", "First request"), ("fr", "Première requête")):
            page = parse(client.get(f"/?lang={lang}").text)
            box = page.find("section", aria_labelledby="first-request")
            assert box.find("h2").text == heading
            commands = box.find("pre", class_="curl").raw_text
            assert commands.splitlines()[0] == f"export TOKEN=$(curl -sSf {base}/__sandbox/token)"
            assert commands.splitlines()[1] == found.request.short_curl(base)
        status, headers = status_and_headers(bash(commands))
    assert status.split()[:2] == ["HTTP/1.1", "200"] and headers["x-sandbox-case"] == README_CASE


def test_the_token_route_hands_the_public_token_to_anyone_and_a_minted_one_to_admins_only(tmp_path: Path) -> None:
    embedded = create_app(build_snapshot(default_fixtures()), Services())
    with serve_in_thread(servable(embedded)) as base:
        answered = httpx.get(base + "/__sandbox/token", timeout=30)
    assert answered.status_code == 200 and answered.headers["cache-control"] == "no-store"
    assert answered.text.strip() == (ROOT / "tokens" / "default").read_text().strip()
    # no tokens/default: a token signed with the sandbox's secret, which only an admin may be handed
    admin = AdminPolicy(open=False, token="a-long-enough-admin-token-for-tests")
    tiny = create_app(build_snapshot(tiny_repository.build(tmp_path / "tiny")), Services(), admin=admin)
    with serve_in_thread(servable(tiny)) as base:
        refused = httpx.get(base + "/__sandbox/token", timeout=30)
        admitted = {"authorization": "Bearer a-long-enough-admin-token-for-tests"}
        handed = httpx.get(base + "/__sandbox/token", headers=admitted, timeout=30)
    assert refused.status_code == 403 and "eyJ" not in refused.text  # the closed admin policy
    assert handed.status_code == 200 and handed.text.startswith("eyJ")
