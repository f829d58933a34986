"""Cold start of `sandbox serve` (process start → first answered request) and RSS after load.

    .venv/bin/python scripts/cold_start.py [--fixtures PATH] [--runs N]

Targets (issue "Foundation"): ≤ 2 s and ≤ 150 MB on siade_staging_data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _processes import ROOT, rss_mb, server, wait_until_answering


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", default=f"{ROOT}/../shared/fixtures/siade_staging_data")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    starts, memories = [], []
    for run in range(args.runs):
        started = time.monotonic()
        command = ["-m", "sandbox", "serve", "--fixtures", args.fixtures, "--port", "{port}", "--log-level", "warning"]
        with server(command) as (process, base):
            first = wait_until_answering(f"{base}/v3/ping", started + 30)
            starts.append(first - started)
            memories.append(rss_mb(process.pid))
        print(f"run {run + 1}: cold start {starts[-1]:.2f} s, RSS {memories[-1]:.0f} MB", flush=True)
    print(f"cold start median {statistics.median(starts):.2f} s (max {max(starts):.2f} s); target <= 2 s")
    print(f"RSS after load median {statistics.median(memories):.0f} MB (max {max(memories):.0f} MB); target <= 150 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
