"""Cold start of `sandbox serve` (process start → first answered request) and RSS after load.

    .venv/bin/python scripts/cold_start.py [--fixtures PATH] [--runs N]

Targets on siade_staging_data (issue 16): ≤ 0.8 s with an empty cache folder, ≤ 0.35 s with a
filled one (the parsed OpenAPI documents), RSS ≤ 100 MB. The package's bytecode is compiled first,
as an installed package has it: with PYTHONDONTWRITEBYTECODE set (some CI and sandboxed shells),
every start would otherwise compile the sources again, ~0.3 s that a deployment never pays.
"""

from __future__ import annotations

import argparse
import compileall
import os
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
        "warm: one run fills the cache first (target <= 0.35 s)",
    )
    args = parser.parse_args()
    compile_bytecode()
    starts, memories, cpus = [], [], []
    with tempfile.TemporaryDirectory() as cache:
        if args.cache == "warm":
            measure(args.fixtures, cache)
        for run in range(args.runs):
            folder = cache if args.cache == "warm" else tempfile.mkdtemp(dir=cache)
            start, memory = measure(args.fixtures, folder)
            starts.append(start)
            memories.append(memory)
            cpus.append(LAST_CPU_S[0])
            print(f"run {run + 1}: cold start {start:.2f} s (CPU {cpus[-1]:.2f} s), RSS {memory:.0f} MB", flush=True)
    target = 0.35 if args.cache == "warm" else 0.8
    median, worst = statistics.median(starts), max(starts)
    print(f"cold start ({args.cache} cache) median {median:.2f} s (max {worst:.2f} s); target <= {target} s")
    cpu = statistics.median(cpus)
    print(f"the server's CPU time until then: median {cpu:.2f} s (load on the machine stretches wall time)")
    print(f"RSS after load median {statistics.median(memories):.0f} MB (max {max(memories):.0f} MB); target <= 100 MB")
    return 0


def compile_bytecode() -> None:
    """The package's bytecode, written once (beside the sources, in `__pycache__`) as `pip install` does."""
    compileall.compile_dir(os.path.join(ROOT, "sandbox"), quiet=1)


# The CPU time (user + system) of the server process when it first answered, of the last `measure`.
LAST_CPU_S = [float("nan")]


def measure(fixtures: str, cache: str) -> tuple[float, float]:
    """Process start → first answered request, and the resident memory then (its CPU time: LAST_CPU_S)."""
    started = time.monotonic()
    command = ["-m", "sandbox", "serve", "--fixtures", fixtures, "--port", "{port}", "--log-level", "warning"]
    command += ["--cache-dir", cache, "--no-watch"]
    with server(command) as (process, base):
        first = wait_until_answering(f"{base}/v3/ping", started + 30)
        LAST_CPU_S[0] = cpu_s(process.pid)
        return first - started, rss_mb(process.pid)


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    sys.exit(main())
