"""Cold start of `sandbox serve` (process start → first answered request) and RSS after load.

    .venv/bin/python scripts/cold_start.py [--fixtures PATH] [--runs N]

Targets (issue "Foundation"): ≤ 2 s and ≤ 150 MB on siade_staging_data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from _processes import ROOT, rss_mb, server, wait_until_answering


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", default=f"{ROOT}/../shared/fixtures/siade_staging_data")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--cache",
        choices=["cold", "warm"],
        default="cold",
        help="cold: an empty cache folder for every run (OpenAPI documents parsed); "
        "warm: one run fills the cache first (target <= 1 s)",
    )
    args = parser.parse_args()
    starts, memories = [], []
    with tempfile.TemporaryDirectory() as cache:
        if args.cache == "warm":
            measure(args.fixtures, cache)
        for run in range(args.runs):
            folder = cache if args.cache == "warm" else tempfile.mkdtemp(dir=cache)
            start, memory = measure(args.fixtures, folder)
            starts.append(start)
            memories.append(memory)
            print(f"run {run + 1}: cold start {start:.2f} s, RSS {memory:.0f} MB", flush=True)
    target = 1 if args.cache == "warm" else 2
    median, worst = statistics.median(starts), max(starts)
    print(f"cold start ({args.cache} cache) median {median:.2f} s (max {worst:.2f} s); target <= {target} s")
    print(f"RSS after load median {statistics.median(memories):.0f} MB (max {max(memories):.0f} MB); target <= 150 MB")
    return 0


def measure(fixtures: str, cache: str) -> tuple[float, float]:
    """Process start → first answered request, and the resident memory then."""
    started = time.monotonic()
    command = ["-m", "sandbox", "serve", "--fixtures", fixtures, "--port", "{port}", "--log-level", "warning"]
    command += ["--cache-dir", cache, "--no-watch"]
    with server(command) as (process, base):
        first = wait_until_answering(f"{base}/v3/ping", started + 30)
        return first - started, rss_mb(process.pid)


if __name__ == "__main__":
    sys.exit(main())
