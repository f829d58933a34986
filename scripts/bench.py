"""Throughput of the sandbox against a bare Starlette baseline, measured in one run with wrk on loopback.

    .venv/bin/python scripts/bench.py [--fixtures PATH] [--duration S] [--connections N] [-- SERVE_ARGS...]

Scenarios, each served by its own single-worker uvicorn process (httptools, uvloop):
  (a) a case hit on a civility operation (API Particulier v3, CNAV quotient familial)
  (a') the same hit with a query string new on every request (nothing remembered: the full flow)
  (b) an API Entreprise fallback (OpenAPI example)
  (c) a bare Starlette app returning fixed bytes
Both servers run at once and the scenarios alternate over several rounds (medians reported), so that
machine noise touches every scenario alike. The report gives req/s, p50 and p99 for each, and the
ratios to (c).
Extra arguments after `--` are passed to `sandbox serve` (e.g. `-- --validate-responses`).

`--compare-metrics` serves a second sandbox with `--no-metrics` beside the first: the scenarios
(a), (a'), (b) run against both, alternating round after round (reversed every other round), and
the report adds the server CPU time per request (from /proc, which load on the machine disturbs
less than req/s) and each scenario's metrics-on/metrics-off ratio: the cost of counting.
wrk comes from Debian's package: `apt-get install wrk`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
from _processes import ROOT, server, wait_until_answering, wait_until_ready

from sandbox import MatchMode, build_snapshot, case_request

CIVILITY_OPERATION = "api_particulier_v3_cnav_quotient_familial_with_civility"
ENTREPRISE_OPERATION = "api_entreprise_v3_insee_unites_legales"


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    """wrk's durations: 512.00us, 1.23ms, 2.00s, 1.00m."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}[unit]


# Appends a counter to every request's query string: each request is new to the sandbox's memo.
DISTINCT_QUERIES = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, wrk.path .. "&bench=" .. counter)
end
"""


def run_wrk(
    name: str, url: str, headers: list[str], duration: int, connections: int, script: str | None = None
) -> Result:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if script is not None:
        command += ["-s", script]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run([*command, url], capture_output=True, text=True, timeout=duration + 30).stdout
    if "Requests/sec" not in output:
        raise RuntimeError(f"wrk failed on {url}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|Socket errors:.*?timeout)\D*(\d+)", output))
    return Result(name, rps, p50, p99, errors)


def _median(name: str, runs: list[Result]) -> Result:
    return Result(
        name,
        statistics.median(r.requests_per_s for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.errors for r in runs),
    )


def cpu_seconds(pid: int) -> float:
    """User and system time of a process so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char) * (2 if index % 2 else 1)
        total += number - 9 if number > 9 else number
    return total % 10 == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", default=f"{ROOT}/../shared/fixtures/siade_staging_data")
    parser.add_argument("--duration", type=int, default=12, help="seconds per scenario (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per scenario (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--compare-metrics", action="store_true", help="also serve with --no-metrics and compare, alternating"
    )
    parser.add_argument("serve_args", nargs="*", help="extra `sandbox serve` arguments (after --)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    fixtures = Path(args.fixtures)
    token_file = fixtures / "tokens" / "default"
    token = token_file.read_text().strip() if token_file.is_file() else ""
    snapshot = build_snapshot(fixtures, MatchMode.DOCUMENTED)
    table = snapshot.tables[CIVILITY_OPERATION]
    candidates = [c for c in table.cases if c.status == 200]
    entreprise = snapshot.tables[ENTREPRISE_OPERATION]
    documented = {str(c.params.get("siren")) for c in entreprise.cases}
    siren = next(s for s in (f"{n:09d}" for n in range(100000000, 100100000)) if luhn_ok(s) and s not in documented)
    tracking = urlencode({"recipient": "13002526500013", "context": "bench", "object": "bench"})
    fallback_target = entreprise.operation.path.replace("{siren}", siren) + "?" + tracking
    auth = [f"Authorization: Bearer {token}"] if token else []

    serve = ["-m", "sandbox", "serve", "--fixtures", str(fixtures), "--port", "{port}", "--log-level", "warning"]
    # Real staging allows 20 requests per second on API Particulier v3: a load test would only measure 429s.
    serve.append("--no-rate-limit")
    baseline = ["-m", "uvicorn", "--app-dir", "scripts", "baseline_app:app", "--port", "{port}"]
    baseline += ["--log-level", "warning", "--no-access-log", "--http", "httptools", "--loop", "uvloop"]
    rounds: dict[str, list[Result]] = {}
    cpu: dict[str, list[float]] = {}
    with ExitStack() as stack:
        process, base = stack.enter_context(server([*serve, *args.serve_args]))
        bare_process, bare_base = stack.enter_context(server(baseline))
        script = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".lua"))
        sandboxes = [("", process.pid, base)]
        if args.compare_metrics:
            off_process, off_base = stack.enter_context(server([*serve, *args.serve_args, "--no-metrics"]))
            sandboxes.append(("no metrics ", off_process.pid, off_base))
        script.write(DISTINCT_QUERIES)
        script.flush()
        for _, _, url in sandboxes:
            wait_until_ready(url, time.monotonic() + 120)
        wait_until_answering(bare_base + "/", time.monotonic() + 60)
        # The first documented 200 case that this server answers as documented (some drift out of date windows).
        headers = dict(h.split(": ", 1) for h in auth)
        for case in candidates:
            hit = case_request(table.operation, case, token)
            if httpx.get(base + hit.target, headers=headers, timeout=10).headers.get("x-sandbox-case") == case.id:
                break
        else:
            print(f"bench: no 200 case of {CIVILITY_OPERATION} is answered as documented", file=sys.stderr)
            return 1
        print(f"(a) hit {case.id}", flush=True)
        scenarios = [
            (f"{label}{name}", pid, url + target, lua)
            for label, pid, url in sandboxes
            for name, target, lua in (
                ("(a) case hit, civility", hit.target, None),
                ("(a') hit, every query new", hit.target, script.name),
                ("(b) Entreprise fallback", fallback_target, None),
            )
        ]
        scenarios.append(("(c) bare Starlette", bare_process.pid, bare_base + hit.target, None))
        # Scenarios alternate, round after round (reversed every other round), so that a slow moment
        # of the machine touches them all.
        seconds = max(1, args.duration // args.rounds)
        for index in range(args.rounds):
            for name, pid, url, lua in scenarios if index % 2 == 0 else reversed(scenarios):
                used = cpu_seconds(pid)
                result = run_wrk(name, url, auth, seconds, args.connections, lua)
                used = cpu_seconds(pid) - used
                rounds.setdefault(name, []).append(result)
                cpu.setdefault(name, []).append(used / max(result.requests_per_s * seconds, 1) * 1e6)
    results = [_median(name, runs) for name, runs in rounds.items()]

    print(f"{'scenario':40} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU µs/req':>11}")
    for result in results:
        row = f"{result.name:40} {result.requests_per_s:10.0f} {result.p50_ms:8.2f} {result.p99_ms:8.2f}"
        print(f"{row} {result.errors:7d} {statistics.median(cpu[result.name]):11.1f}")
    by_name = {result.name: result for result in results}
    if args.compare_metrics:
        bare_rate = by_name["(c) bare Starlette"].requests_per_s
        for name in [r.name for r in results if not r.name.startswith(("no metrics", "(c)"))]:
            on, off = by_name[name], by_name[f"no metrics {name}"]
            cpu_on, cpu_off = statistics.median(cpu[name]), statistics.median(cpu[f"no metrics {name}"])
            print(
                f"{name:28} ratio to (c): metrics {on.requests_per_s / bare_rate:.3f}, "
                f"no metrics {off.requests_per_s / bare_rate:.3f}; "
                f"on/off req/s {on.requests_per_s / off.requests_per_s:.3f}, "
                f"CPU per request on/off {cpu_on / cpu_off:.3f}"
            )
    hit_result, distinct, fallback_result = results[:3]
    bare = by_name["(c) bare Starlette"]
    ratio_hit = hit_result.requests_per_s / bare.requests_per_s
    ratio_distinct = distinct.requests_per_s / bare.requests_per_s
    ratio_fallback = fallback_result.requests_per_s / bare.requests_per_s
    print(
        f"ratio (a)/(c) = {ratio_hit:.2f}   (a')/(c) = {ratio_distinct:.2f}   (b)/(c) = {ratio_fallback:.2f}"
        f"   serve args: {args.serve_args}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"results": [asdict(r) for r in results], "ratio_hit": ratio_hit, "ratio_fallback": ratio_fallback}
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
