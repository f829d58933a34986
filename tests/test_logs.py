"""`sandbox serve --log-format json`, a real process: every line on stdout is a JSON object with an
ISO 8601 UTC time and the documented keys of its event (request, summary, load, fetch,
fetch-failed, reload, serving...), and a token sent every way (Bearer, X-Api-Key, ?token=,
?access_token=, pasted in another parameter, in X-Request-Id, in the path) appears in no line,
nor an opaque key sent as ?api_key=. Text logs carry the same times."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import git
import httpx

from sandbox.cli.logs import BASE_KEYS, EVENT_FIELDS
from sandbox.rules.tokens import mint
from tests import metrics_sequence as sequence
from tests import tiny_repository
from tests.metrics_sequence import CLIENT_TIMEOUT_S, SECRET

DEADLINE_S = 60.0
OPAQUE = "opaque-api-key-0123456789abcdef"  # a secret that is no JWT, recognised by its parameter's name
ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


class Lines:
    """A stream of the process read line by line in a thread."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=lambda: self.lines.extend(line.rstrip("\n") for line in stream or ()))
        self.thread.start()

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if text in line]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no line with {text!r} in:\n" + "\n".join(self.lines))


def start(*args: str) -> tuple[subprocess.Popen[str], Lines, Lines]:
    environment = {k: v for k, v in os.environ.items() if k != "SANDBOX_JWT_SECRET"}
    command = [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--jwt-secret", SECRET, *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    return process, Lines(process.stdout), Lines(process.stderr)


def stop(process: subprocess.Popen[str], *streams: Lines) -> int:
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=DEADLINE_S)
    for stream in streams:
        stream.thread.join(timeout=DEADLINE_S)
    return code


def git_repository(path: Path) -> git.Repo:
    sequence.build(path)
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.org")
    repo.git.add(A=True)
    repo.index.commit("cases")
    return repo


def test_every_json_line_parses_with_its_documented_keys_and_no_token(tmp_path: Path) -> None:
    repo = git_repository(tmp_path / "repo")
    first_commit = repo.head.commit.hexsha
    token = mint(SECRET, [])
    process, out, err = start(
        "--fixtures", f"file://{repo.working_dir}", "--cache-dir", str(tmp_path / "cache"), "--poll", "0",
        "--log-format", "json", "--access-log",
    )  # fmt: skip
    try:
        base = json.loads(out.wait_for('"event":"serving"'))["url"]
        with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
            hit = "/v3/demo/unites_legales/130025265"
            client.get(hit, params=sequence.TRACKING, headers={"Authorization": f"Bearer {token}"})
            client.get("/api/v2/demo", params={"identifiant": "1"}, headers={"X-Api-Key": token})
            client.get("/api/v2/demo", params={"identifiant": "1", "token": token})
            client.get("/api/v2/demo", params={"identifiant": token}, headers={"X-Request-Id": token})  # pasted
            client.get(f"/nowhere/{token}")
            client.get("/__sandbox/ready")
            client.get("/api/v2/demo", params={"identifiant": "1", "access_token": token})
            client.get("/api/v2/demo", params={"identifiant": "1", "api_key": OPAQUE})  # not a JWT: by its name
            tiny_repository.write_case(
                Path(repo.working_dir), sequence.V2, "3.yaml", {"identifiant": "3"}, 200, '{"statut": "trois"}'
            )
            repo.git.add(A=True)
            repo.index.commit("case 3")
            assert client.post("/api/reload-mocks").status_code == 200  # fetch, then swapped
            shutil.move(repo.working_dir, tmp_path / "gone")
            assert client.post("/api/reload-mocks").status_code == 422  # the fetch fails: git says why
            out.wait_for('"event":"fetch-failed"')
    finally:
        code = stop(process, out, err)
    assert code == 0, "\n".join(err.lines)
    assert err.lines == [], "JSON logs go to stdout"
    events = []
    for line in out.lines:
        entry = json.loads(line)
        event = entry["event"]
        assert list(entry)[: len(BASE_KEYS)] == list(BASE_KEYS), line
        assert ISO_UTC.fullmatch(entry["time"]), line
        assert event in EVENT_FIELDS, line
        assert set(EVENT_FIELDS[event]) <= set(entry), (event, set(EVENT_FIELDS[event]) - set(entry))
        events.append(entry)
    seen = {entry["event"] for entry in events}
    assert {"summary", "load", "fetch", "fetch-failed", "reload", "serving", "request"} <= seen, seen
    assert not any(token in line or OPAQUE in line for line in out.lines + err.lines)
    requests = [e for e in events if e["event"] == "request"]
    assert [e["status"] for e in requests][:6] == [200, 200, 200, 401, 404, 200]
    assert requests[0]["operation"] == sequence.ENTREPRISE and requests[0]["case"].endswith("/200.yaml")
    assert requests[0]["outcome"] == "hit" and requests[0]["revision"] == first_commit
    assert "[redacted]" in requests[2]["query"] and "[redacted]" in requests[3]["query"]
    assert "[redacted]" in requests[4]["path"]
    assert requests[6]["query"] == "identifiant=1&access_token=[redacted]", requests[6]
    assert requests[7]["query"] == "identifiant=1&api_key=[redacted]", requests[7]
    assert all(len(e["request_id"]) == 32 for e in requests[:4])  # the token sent as X-Request-Id is not kept
    failed = next(e for e in events if e["event"] == "fetch-failed")
    assert "repository" in failed["error"] and failed["failures"] == 1, failed
    swapped = next(e for e in events if e["event"] == "reload" and e["outcome"] == "swapped")
    assert swapped["revision"] == swapped["serving"] and swapped["duration_ms"] > 0


def test_text_logs_carry_iso_utc_times_and_the_summary_stays_on_stdout(tmp_path: Path) -> None:
    root = sequence.build(tmp_path / "repo")
    process, out, err = start("--fixtures", str(root), "--cache-dir", str(tmp_path / "cache"), "--access-log")
    try:
        base = re.search(r"on (http://\S+)", out.wait_for("Serving in")).group(1)  # type: ignore[union-attr]
        httpx.get(f"{base}/api/v2/demo", params={"identifiant": "1"}, timeout=CLIENT_TIMEOUT_S)
        err.wait_for("sandbox.access: GET /api/v2/demo?identifiant=1 401 auth-error")
    finally:
        code = stop(process, out, err)
    assert code == 0
    assert out.lines[0].startswith("Loaded ") and any(line.startswith("  revision: ") for line in out.lines)
    assert err.lines and all(re.match(rf"{ISO_UTC.pattern} [A-Z]+ [\w.]+: ", line) for line in err.lines), err.lines


def test_the_documented_log_schema_is_the_one_written() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for key in BASE_KEYS:
        assert f"`{key}`" in text, key
    for event, fields in EVENT_FIELDS.items():
        assert f"`{event}`" in text, event
        row = next((line for line in text.splitlines() if line.startswith(f"| `{event}`")), "")
        for field in fields:
            assert f"`{field}`" in row, (event, field)
