"""The CPU that counting requests adds to the app, measured in-process: no network, no wrk.

    .venv/bin/python scripts/metrics_cost.py [--fixtures PATH] [--requests N] [--blocks N]

The same snapshot is served by two apps, one with metrics (as `sandbox serve` by default) and one
without (`--no-metrics`), called directly as ASGI apps. Blocks of requests alternate between them
(the order reversed every other block) and the CPU time of this process (`time.process_time`) is
read around each block: on a shared machine other processes slow the wall clock but not the CPU
that this one spends. The report gives the median µs per request of each app and their ratio for:
  (a)  a case hit on a civility operation, the same request every time (the memoized path);
  (a') the same hit with a query string new on every request (the full flow).
The app's own CPU is a part of a served request's (uvicorn and httptools add the rest, see
`scripts/bench.py --compare-metrics`, which measures the whole server but is at the mercy of load).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from _processes import ROOT
from starlette.types import Message

from sandbox import MatchMode, build_snapshot, case_request
from sandbox.serve.app import SandboxApp
from sandbox.web import create_app

CIVILITY_OPERATION = "api_particulier_v3_cnav_quotient_familial_with_civility"


def request_scope(target: str, token: str) -> dict[str, Any]:
    path, _, query = target.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }


class Caller:
    """Calls an app as uvicorn would and keeps the start of the answer."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.start: Message = {}

    async def receive(self) -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message

    async def call(self, app: SandboxApp, target: str) -> Message:
        await app(request_scope(target, self.token), self.receive, self.send)
        return self.start


async def measure(fixtures: Path, requests: int, blocks: int) -> int:
    token = (fixtures / "tokens" / "default").read_text().strip()
    snapshot = build_snapshot(fixtures, MatchMode.DOCUMENTED)
    table = snapshot.tables[CIVILITY_OPERATION]
    apps = {"metrics": create_app(snapshot, metrics=True), "no metrics": create_app(snapshot)}
    caller = Caller(token)
    for case in table.cases:  # the first documented 200 case answered as documented
        if case.status != 200:
            continue
        target = case_request(table.operation, case, token).target
        start = await caller.call(apps["no metrics"], target)
        if dict(start["headers"]).get(b"x-sandbox-case", b"").decode() == case.id:
            break
    else:
        print(f"metrics_cost: no 200 case of {CIVILITY_OPERATION} is answered as documented")
        return 1
    print(f"(a) hit {case.id}")
    scenarios = {"(a) case hit, civility": False, "(a') hit, every query new": True}
    cpu: dict[tuple[str, str], list[float]] = {}
    counter = 0
    for block in range(blocks):
        order = list(apps) if block % 2 == 0 else list(reversed(apps))
        for scenario, distinct in scenarios.items():
            for name in order:
                app = apps[name]
                used = time.process_time()
                for _ in range(requests):
                    counter += 1
                    await caller.call(app, f"{target}&bench={counter}" if distinct else target)
                cpu.setdefault((scenario, name), []).append((time.process_time() - used) / requests * 1e6)
    metrics = apps["metrics"].metrics
    assert metrics is not None
    metrics.flush()
    counted = metrics.usage().of(CIVILITY_OPERATION)
    expected = blocks * requests * len(scenarios)
    print(f"{'scenario':28} {'µs/req metrics':>15} {'no metrics':>11} {'on/off':>7}")
    for scenario in scenarios:
        on, off = statistics.median(cpu[(scenario, "metrics")]), statistics.median(cpu[(scenario, "no metrics")])
        print(f"{scenario:28} {on:15.2f} {off:11.2f} {on / off:7.3f}")
    print(f"counted by the metrics app: {counted.requests} requests, {counted.hits} hits (sent: {expected})")
    return 0 if counted.requests == counted.hits == expected else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", default=f"{ROOT}/../shared/fixtures/siade_staging_data")
    parser.add_argument("--requests", type=int, default=5000, help="requests per block (default: %(default)s)")
    parser.add_argument("--blocks", type=int, default=12, help="alternating blocks (default: %(default)s)")
    args = parser.parse_args()
    return asyncio.run(measure(Path(args.fixtures), args.requests, args.blocks))


if __name__ == "__main__":
    raise SystemExit(main())
