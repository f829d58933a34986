"""What the pytest plugin costs an integrator's suite: its import, and the start of each fixture.

    .venv/bin/python scripts/pytest_fixture_start.py [--runs N] [--fixtures PATH]

Each figure is the median of N fresh processes (nothing shared between runs):

* import: `python -X importtime -c "import sandbox.pytest_plugin"`, the plugin's cumulative time
  (every pytest run of an environment with the sandbox installed pays it); target ≤ 20 ms;
* sandbox_app: the fixture's work (snapshot, app) until a first request is answered in-process through
  `httpx.ASGITransport`; target ≤ 0.2 s on the embedded fixtures;
* sandbox_server: the same, served by uvicorn on a loopback port, until a first request is answered
  over HTTP; target ≤ 0.5 s.

The fixtures run inside pytest, whose own import is not counted (pytest and httpx are imported
before the clock starts, as they are in a test session).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_FIXTURE = """
import asyncio, json, sys, time
from pathlib import Path
import httpx, pytest
from sandbox.pytest_fixtures import SandboxSettings, _Pool

def settings():
    if sys.argv[2]:
        return SandboxSettings(fixtures=Path(sys.argv[2]))
    from sandbox import default_fixtures
    return SandboxSettings(fixtures=default_fixtures())

async def in_process(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        return (await client.get("/__sandbox/status")).status_code

start = time.perf_counter()
pool = _Pool()
with pool.exits:
    if sys.argv[1] == "app":
        status = asyncio.run(in_process(pool.app(settings())))
    else:
        with pool.server(settings()).client() as client:
            status = client.get("/__sandbox/status").status_code
    elapsed = time.perf_counter() - start
print(json.dumps({"status": status, "seconds": elapsed}))
"""


def import_ms() -> float:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import sandbox.pytest_plugin"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    line = next(line for line in done.stderr.splitlines() if line.rstrip().endswith("| sandbox.pytest_plugin"))
    match = re.match(r"import time:\s*\d+\s*\|\s*(\d+)", line)
    assert match, line
    return int(match.group(1)) / 1000


def fixture_s(kind: str, fixtures: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _FIXTURE, kind, fixtures], capture_output=True, text=True, check=True, cwd=ROOT
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200, answer
    return float(answer["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fixtures", default="", help="a fixture repository (default: the embedded one)")
    args = parser.parse_args()
    fixture_s("app", args.fixtures)  # fills the OpenAPI cache, as any earlier run of the suite has
    imports = [import_ms() for _ in range(args.runs)]
    apps = [fixture_s("app", args.fixtures) for _ in range(args.runs)]
    servers = [fixture_s("server", args.fixtures) for _ in range(args.runs)]
    print(
        f"import sandbox.pytest_plugin: median {statistics.median(imports):.1f} ms  (runs: "
        + ", ".join(f"{x:.1f}" for x in imports)
        + ")  target <= 20 ms"
    )
    print(
        f"sandbox_app ready:            median {statistics.median(apps):.3f} s  (runs: "
        + ", ".join(f"{x:.3f}" for x in apps)
        + ")  target <= 0.2 s"
    )
    print(
        f"sandbox_server ready:         median {statistics.median(servers):.3f} s  (runs: "
        + ", ".join(f"{x:.3f}" for x in servers)
        + ")  target <= 0.5 s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
