"""Cost of the request path inside the application: ASGI calls in process, no HTTP, no socket.

    .venv/bin/python scripts/profile_path.py [--fixtures PATH] [--requests N] [--profile N] [--only S]

For each scenario of `scripts/bench.py` ((a) hit, (a') hit with a new query string every
request, (b) Entreprise fallback, (c') Particulier miss with a new query string, (c) the bare
Starlette baseline) it prints the CPU microseconds per request (best of three runs); with
`--profile N`, the top N functions of a cProfile run of each scenario by internal time, then
by cumulative time. Figures in µs are for comparing two trees on one machine, never targets.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import baseline_app
from _processes import ROOT
from _scenarios import targets
from starlette.types import ASGIApp

from sandbox.serve.pipeline import Services
from sandbox.web import create_app

# `&bench=N` never repeats within a process: a later run must not find the earlier one's answers remembered.
_COUNTER = itertools.count()


async def _calls(app: ASGIApp, target: str, headers: list[tuple[bytes, bytes]], count: int, fresh: bool) -> str:
    """`count` GET requests; `fresh`: `&bench=N` appended (new to every memo). Returns the last case."""
    path, _, query = target.partition("?")
    last: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            last.update(message)

    for _ in range(count):
        number = next(_COUNTER)
        query_string = f"{query}&bench={number}".encode() if fresh else query.encode()
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query_string,
            "headers": headers,
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
    case: bytes = dict(last.get("headers", [])).get(b"x-sandbox-case", b"?")
    return case.decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", default=f"{ROOT}/../shared/fixtures/siade_staging_data")
    parser.add_argument("--requests", type=int, default=5000, help="requests per run (default: %(default)s)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N functions of each")
    parser.add_argument("--only", help='run only the scenarios whose name contains this text, e.g. "(c\')"')
    args = parser.parse_args()
    found = targets(Path(args.fixtures))
    app = create_app(found.snapshot, Services())
    headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), (b"authorization", f"Bearer {found.token}".encode())]
    hit_id, hit = next(
        (case_id, target)
        for case_id, target in found.candidates
        if asyncio.run(_calls(app, target, headers, 1, False)) == case_id
    )
    scenarios = [
        ("(a) case hit, civility", hit, False),
        ("(a') hit, every query new", hit, True),
        ("(b) Entreprise fallback", found.fallback, False),
        ("(c') miss, every query new", found.miss(hit_id), True),
    ]
    scenarios.append(("(c) bare Starlette", hit, False))
    print(f"hit {hit_id}; miss near {asyncio.run(_calls(app, found.miss(hit_id), headers, 1, True))}")
    for name, target, fresh in scenarios:
        if args.only and args.only not in name:
            continue
        served = baseline_app.app if name.startswith("(c) bare") else app
        runs = []
        for _ in range(3):
            started = time.process_time()  # CPU time: what other processes on the machine disturb least
            answered = asyncio.run(_calls(served, target, headers, args.requests, fresh))
            runs.append((time.process_time() - started) / args.requests * 1e6)
        print(f"{name:28} {min(runs):8.1f} µs/request  (X-Sandbox-Case: {answered})", flush=True)
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            asyncio.run(_calls(served, target, headers, args.requests, fresh))
            profiler.disable()
            for order in ("tottime", "cumulative"):
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(args.profile)
                body = text.getvalue()
                print(body[body.index("   ncalls") :] if "   ncalls" in body else body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
