"""`make fuzz`: tens of thousands of hostile requests to a real sandbox on loopback, then schemathesis.

    .venv/bin/python scripts/fuzz.py [--requests N] [--seed S] [--fixtures PATH] [--max-examples N]
                                     [--no-schemathesis]

1. Raw fuzz: N requests (default 20,000) made by `tests/hostile_requests.py` from a fixed seed
   (methods, paths, queries, headers, bodies; over-long numbers and URLs, broken percent-encodings,
   invalid UTF-8, JWT-like runs, odd Host headers, non-ASCII signatures), sent byte for byte to
   `sandbox serve` over a socket. The sandbox serves ../shared/fixtures/siade_staging_data when
   present, else the embedded fixtures.
2. schemathesis (check `not_a_server_error`, fixed seed) over every served OpenAPI document with a
   valid token from `sandbox token`: schemas/*.yaml against a sandbox of the embedded fixtures, and
   the corpus's openapi_files/*.yaml against a sandbox of the corpus.

Figures: requests, answers per status class, 5xx that no matched case documents, empty replies,
tracebacks in the sandbox's output, schemathesis test cases and failures. Exit status 1 when any of
those failure counts is not zero.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from _processes import ROOT, server, wait_until_answering

sys.path.insert(0, ROOT)  # tests/hostile_requests.py: the generator the fuzz test uses too

from sandbox import build_snapshot
from tests.hostile_requests import (
    Vocabulary,
    case_statuses,
    hostile_request,
    send_raw,
    unexplained_server_error,
)

CORPUS = Path(ROOT).parent / "shared" / "fixtures" / "siade_staging_data"
WEBHOOK_SECRET = "fuzz-webhook-secret"
SANDBOX = str(Path(sys.executable).parent / "sandbox")


@dataclass
class Figures:
    requests: int = 0
    classes: Counter[str] = field(default_factory=Counter)
    unexplained_5xx: list[str] = field(default_factory=list)
    empty_replies: list[str] = field(default_factory=list)
    tracebacks: int = 0


def serve_command(fixtures: Path, cache: str) -> list[str]:
    command = ["-m", "sandbox", "serve", "--fixtures", str(fixtures), "--port", "{port}", "--no-watch"]
    command += ["--cache-dir", cache, "--log-level", "warning", "--webhook-secret", WEBHOOK_SECRET]
    # Rate limits would turn most valid requests into 429s: the fuzz wants the whole flow.
    return [*command, "--no-rate-limit", "--validate-responses"]


def token(fixtures: Path) -> str:
    return subprocess.run(
        [SANDBOX, "token", "--fixtures", str(fixtures)], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def tracebacks(output: IO[bytes]) -> int:
    output.flush()
    output.seek(0)
    return output.read().count(b"Traceback (most recent call last)")


def raw_fuzz(fixtures: Path, count: int, seed: int) -> Figures:
    snapshot = build_snapshot(fixtures)
    tokens = [token(fixtures)]
    corpus_token = fixtures / "tokens" / "default"
    if corpus_token.is_file():
        tokens.append(corpus_token.read_text().strip())
    vocabulary = Vocabulary.from_snapshot(snapshot, tokens, WEBHOOK_SECRET)
    statuses = case_statuses(snapshot)
    figures = Figures()
    rng = random.Random(seed)
    with (
        tempfile.TemporaryDirectory() as cache,
        tempfile.TemporaryFile() as output,
        server(serve_command(fixtures, cache), output=output) as (_, base),
    ):
        wait_until_answering(f"{base}/v3/ping", time.monotonic() + 60)
        host, port = base.removeprefix("http://").split(":")
        started = time.monotonic()
        for index in range(count):
            request = hostile_request(rng, vocabulary)
            try:
                reply = send_raw(host, int(port), request)
            except OSError as error:
                reply = None
                print(f"  connection error: {error!r} on {request.describe()}", flush=True)
            figures.requests += 1
            if reply is None:
                figures.empty_replies.append(request.describe())
                continue
            figures.classes[f"{reply.status // 100}xx"] += 1
            if unexplained_server_error(reply, statuses):
                figures.unexplained_5xx.append(f"{reply.status} {request.describe()}")
            if (index + 1) % 5000 == 0:
                print(f"  {index + 1} requests, {time.monotonic() - started:.0f} s", flush=True)
        figures.tracebacks = tracebacks(output)
    return figures


def schemathesis(fixtures: Path, documents: list[Path], max_examples: int, seed: int) -> tuple[int, int, int]:
    """(test cases, failures, tracebacks) of schemathesis over `documents` against a sandbox of `fixtures`."""
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if command is None:
        raise SystemExit("fuzz: schemathesis is not installed (make fuzz installs it)")
    valid = token(fixtures)
    generated = failures = 0
    with (
        tempfile.TemporaryDirectory() as cache,
        tempfile.TemporaryFile() as output,
        server(serve_command(fixtures, cache), output=output) as (_, base),
    ):
        wait_until_answering(f"{base}/v3/ping", time.monotonic() + 60)
        for document in documents:
            report = Path(cache) / "schemathesis.json"
            run = [command, "run", str(document), "--url", base, "--checks", "not_a_server_error"]
            run += ["-H", f"Authorization: Bearer {valid}", "-H", f"X-Api-Key: {valid}"]
            run += ["--max-examples", str(max_examples), "--seed", str(seed), "--workers", "1"]
            run += ["--report", "json", "--report-json-path", str(report), "--request-timeout", "30"]
            # run in the temporary folder: schemathesis keeps a cache in its working directory
            subprocess.run(run, capture_output=True, timeout=1800, check=False, cwd=cache)
            result = json.loads(report.read_text())
            cases = int(result["test_cases"]["generated"])
            found = len(result["failures"]) + len(result["errors"])
            generated += cases
            failures += found
            name = document.relative_to(document.parent.parent)
            print(f"  schemathesis {name}: {cases} test cases, {found} failures", flush=True)
            for failure in result["failures"][:5]:
                print(f"    {json.dumps(failure)[:400]}")
        return generated, failures, tracebacks(output)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20_260_429)
    parser.add_argument("--fixtures", type=Path, help="default: the real corpus when present, else the embedded one")
    parser.add_argument("--max-examples", type=int, default=50, help="schemathesis examples per operation")
    parser.add_argument("--no-schemathesis", action="store_true")
    args = parser.parse_args()
    fixtures = args.fixtures or (CORPUS if (CORPUS / "payloads").is_dir() else Path(ROOT))
    print(f"raw fuzz: {args.requests} requests, seed {args.seed}, fixtures {fixtures}", flush=True)
    figures = raw_fuzz(fixtures, args.requests, args.seed)
    print(f"  requests: {figures.requests}")
    print(f"  answers: {', '.join(f'{k} {v}' for k, v in sorted(figures.classes.items()))}")
    print(f"  5xx no matched case documents: {len(figures.unexplained_5xx)}")
    print(f"  empty replies: {len(figures.empty_replies)}")
    print(f"  tracebacks in the sandbox's output: {figures.tracebacks}")
    for line in (figures.unexplained_5xx + figures.empty_replies)[:10]:
        print(f"    {line[:300]}")
    failed = len(figures.unexplained_5xx) + len(figures.empty_replies) + figures.tracebacks
    if not args.no_schemathesis:
        targets = [(Path(ROOT), sorted(Path(ROOT, "schemas").glob("*.yaml")))]
        if (CORPUS / "openapi_files").is_dir():
            targets.append((CORPUS, sorted((CORPUS / "openapi_files").glob("*.yaml"))))
        for target, documents in targets:
            cases, failures, logged = schemathesis(target, documents, args.max_examples, args.seed % 2**31)
            print(f"schemathesis on {target}: {cases} test cases, {failures} failures, {logged} tracebacks")
            failed += failures + logged
    print("fuzz: PASS" if failed == 0 else f"fuzz: FAIL ({failed} problems)")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
