"""Before/after throughput in one run: this tree and an earlier commit served side by side.

    .venv/bin/python scripts/bench_compare.py --before REF [--rounds N] [--duration S] [-- SERVE_ARGS...]

The earlier commit is exported with `git archive` into a temporary folder and run from there
(its own code, this virtualenv's libraries). Both sandboxes and the bare Starlette baseline
serve at once; the scenarios of `scripts/bench.py` ((a) hit, (a') hit with a new query string
on every request, (b) Entreprise fallback, (c') Particulier miss) run against each sandbox, alternating round after
round (reversed every other round), so that machine noise touches both trees alike. The report
gives the medians, the ratios to the baseline, after/before, and the server CPU time per
request (from /proc), which load on the machine disturbs less than req/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from _processes import ROOT, free_port, wait_until_answering
from _scenarios import targets
from bench import DISTINCT_QUERIES, run_wrk

SCENARIOS = ("(a)", "(a')", "(b)", "(c')")


@contextmanager
def serving(tree: str, args: Sequence[str]) -> Iterator[tuple[int, str]]:
    """`python args...` run from `tree` (its code first on the path); yields the pid and the base URL."""
    port = free_port()
    command = [sys.executable, *(a.replace("{port}", str(port)) for a in args)]
    environment = {**os.environ, "PYTHONPATH": tree}
    process = subprocess.Popen(command, cwd=tree, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process.pid, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def export(ref: str, into: Path) -> None:
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, metavar="REF", help="the earlier commit (any git ref)")
    parser.add_argument("--fixtures", default=f"{ROOT}/../shared/fixtures/siade_staging_data")
    parser.add_argument("--duration", type=int, default=8, help="seconds per scenario and round (default: 8)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (default: 4)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("serve_args", nargs="*", help="extra `sandbox serve` arguments for both trees (after --)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench_compare: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    fixtures = Path(args.fixtures).resolve()
    found = targets(fixtures)
    token, fallback = found.token, found.fallback
    auth = [f"Authorization: Bearer {token}"]
    serve = ["-m", "sandbox", "serve", "--fixtures", str(fixtures), "--port", "{port}", "--log-level", "warning"]
    serve += ["--no-rate-limit", *args.serve_args]
    baseline = ["-m", "uvicorn", "--app-dir", f"{ROOT}/scripts", "baseline_app:app", "--port", "{port}"]
    baseline += ["--log-level", "warning", "--no-access-log", "--http", "httptools", "--loop", "uvloop"]
    with ExitStack() as stack:
        earlier = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-before-")))
        export(args.before, earlier)
        script = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".lua"))
        script.write(DISTINCT_QUERIES)
        script.flush()
        trees = {"before": str(earlier), "after": ROOT}
        servers = {label: stack.enter_context(serving(tree, serve)) for label, tree in trees.items()}
        bare_pid, bare = stack.enter_context(serving(ROOT, baseline))
        deadline = time.monotonic() + 120
        for _, base in servers.values():
            wait_until_answering(base + "/api/ping", deadline)
        wait_until_answering(bare + "/", deadline)
        for case_id, hit in found.candidates:
            answer = httpx.get(servers["after"][1] + hit, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            if answer.headers.get("x-sandbox-case") == case_id:
                break
        miss = found.miss(case_id)
        runs: list[tuple[str, int, str, str | None]] = [
            (f"{label} {scenario}", pid, base + target, lua)
            for label, (pid, base) in servers.items()
            for scenario, target, lua in (
                ("(a)", hit, None),
                ("(a')", hit, script.name),
                ("(b)", fallback, None),
                ("(c')", miss, script.name),
            )
        ]
        runs.append(("(c) bare", bare_pid, bare + hit, None))
        rates: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        for index in range(args.rounds):
            for name, pid, url, lua in runs if index % 2 == 0 else reversed(runs):
                used = cpu_seconds(pid)
                result = run_wrk(name, url, auth, args.duration, args.connections, lua)
                used = cpu_seconds(pid) - used
                rates.setdefault(name, []).append(result.requests_per_s)
                cpu.setdefault(name, []).append(used / (result.requests_per_s * args.duration) * 1e6)
            print(f"round {index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    median = {name: statistics.median(values) for name, values in rates.items()}
    bare_rate = median["(c) bare"]
    print(f"before: {args.before}   after: the working tree   fixtures: {fixtures}")
    for name in rates:
        cpu_us = statistics.median(cpu[name])
        print(
            f"{name:14} {median[name]:9.0f} req/s  ratio {median[name] / bare_rate:.3f}  CPU {cpu_us:6.1f} µs/request"
        )
    for scenario in SCENARIOS:
        before, after = median[f"before {scenario}"], median[f"after {scenario}"]
        print(
            f"{scenario:5} ratio before {before / bare_rate:.3f}  after {after / bare_rate:.3f}  "
            f"after/before {after / before:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
