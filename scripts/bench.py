"""Throughput of the sandbox against a bare Starlette baseline, measured in one run with wrk on loopback.

    .venv/bin/python scripts/bench.py [--fixtures PATH] [--duration S] [--rounds N] [--connections N]
                                      [--no-prism] [--no-workers] [--no-start-up] [--json FILE] [-- SERVE_ARGS...]

Scenarios, each served by a single-worker uvicorn process (httptools, uvloop) unless said otherwise:
  (a)  a case hit on a civility operation (API Particulier v3, CNAV quotient familial)
  (a') the same hit with a query string new on every request (nothing remembered: the full flow)
  (b)  an API Entreprise fallback (OpenAPI example)
  (c') an API Particulier miss, new query string every request (404.yaml and its near-miss header)
  (c)  a bare Starlette app returning fixed bytes
  (ca) (cb) the same bare app returning (a)'s and (b)'s answers byte for byte (status, headers, body):
       what the wire format alone costs (uvicorn works on every response header), none of the logic
  (p)  Stoplight Prism mocking the same route as (a), when `npx @stoplight/prism-cli` runs (else skipped)
  (w)  (a') and (c) again with `--workers 2` (both servers), the ratio between them
The servers run at once and the scenarios alternate over several rounds (medians reported), so that
machine noise touches every scenario alike. The report gives req/s, p50, p99 and the server's CPU time per
request for each, the ratios to (c) (of req/s, and of CPU time: less disturbed by a loaded machine),
and the start-up figures of `scripts/cold_start.py` (cold, cached, RSS).
Extra arguments after `--` are passed to `sandbox serve` (e.g. `-- --validate-responses`).
`--compare-metrics` serves a second sandbox with `--no-metrics` beside the first: the scenarios
(a), (a'), (b) run against both, alternating round after round, and the report adds each
scenario's metrics-on/metrics-off ratio, in req/s and in server CPU time per request (from /proc,
which load on the machine disturbs less than req/s): the cost of counting.
wrk comes from Debian's package: `apt-get install wrk`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from _processes import ROOT, free_port, server, wait_until_answering
from _scenarios import CIVILITY_OPERATION, targets

__all__ = ["DISTINCT_QUERIES", "Result", "run_wrk"]

PRISM = ["npx", "--yes", "@stoplight/prism-cli@5"]


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float = float("nan")  # the server's CPU time per request (single-process servers)


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
        statistics.median(r.cpu_us for r in runs),
    )


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of one process, from /proc (what load on the machine disturbs least)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def prism(document: Path) -> Iterator[str | None]:
    """Stoplight Prism mocking `document` on loopback; None (and a message) when it cannot run."""
    if shutil.which("npx") is None:
        print("bench: npx not found: the Prism comparison is skipped", flush=True)
        yield None
        return
    port = free_port()
    command = [*PRISM, "mock", "-h", "127.0.0.1", "-p", str(port), str(document)]
    # its own session: npx starts node children, stopped with it by the group id of this one process
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_answering(base + "/", time.monotonic() + 180)
        except TimeoutError:
            print("bench: `npx @stoplight/prism-cli` did not start: the Prism comparison is skipped", flush=True)
            yield None
            return
        yield base
    finally:
        with _quiet():
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with _quiet():
                os.killpg(process.pid, signal.SIGKILL)


def _quiet() -> suppress:
    return suppress(ProcessLookupError)


@contextmanager
def _recorded(response: httpx.Response) -> Iterator[Path]:
    """A JSON file holding `response` as `baseline_app` reads it (`BASELINE_REPLY`)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reply.json"
        headers = [[name.decode("latin-1"), value.decode("latin-1")] for name, value in response.headers.raw]
        path.write_text(json.dumps({"status": response.status_code, "headers": headers, "body": response.text}))
        yield path


def start_up(fixtures: Path, runs: int) -> dict[str, float]:
    """Cold start without and with the cache, and RSS after load (medians): `scripts/cold_start.py`."""
    from cold_start import compile_bytecode, measure

    compile_bytecode()
    figures: dict[str, list[float]] = {"cold_s": [], "cached_s": [], "rss_mb": []}
    with tempfile.TemporaryDirectory() as cache:
        measure(str(fixtures), cache)  # fills the cache
        for _ in range(runs):
            started, rss = measure(str(fixtures), tempfile.mkdtemp(dir=cache))
            figures["cold_s"].append(started)
            figures["rss_mb"].append(rss)
            figures["cached_s"].append(measure(str(fixtures), cache)[0])
    return {name: statistics.median(values) for name, values in figures.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", default=f"{ROOT}/../shared/fixtures/siade_staging_data")
    parser.add_argument("--duration", type=int, default=12, help="seconds per scenario (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per scenario (default: %(default)s)")
    parser.add_argument("--no-prism", action="store_true", help="skip the Stoplight Prism comparison")
    parser.add_argument("--no-workers", action="store_true", help="skip the --workers 2 scenario")
    parser.add_argument("--no-start-up", action="store_true", help="skip the start-up figures")
    parser.add_argument(
        "--start-up-runs", type=int, default=9, help="start-ups timed, with and without cache (median: %(default)s)"
    )
    parser.add_argument(
        "--compare-metrics", action="store_true", help="also serve with --no-metrics and compare, alternating"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("serve_args", nargs="*", help="extra `sandbox serve` arguments (after --)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    fixtures = Path(args.fixtures).resolve()
    found = targets(fixtures)
    auth = [f"Authorization: Bearer {found.token}"] if found.token else []

    serve = ["-m", "sandbox", "serve", "--fixtures", str(fixtures), "--port", "{port}", "--log-level", "warning"]
    # Real staging allows 20 requests per second on API Particulier v3: a load test would only measure 429s.
    serve += ["--no-rate-limit", *args.serve_args]
    baseline = ["-m", "uvicorn", "--app-dir", "scripts", "baseline_app:app", "--port", "{port}"]
    baseline += ["--log-level", "warning", "--no-access-log", "--http", "httptools", "--loop", "uvloop"]
    rounds: dict[str, list[Result]] = {}
    with ExitStack() as stack:
        sandbox_process, base = stack.enter_context(server(serve))
        bare_process, bare_base = stack.enter_context(server(baseline))
        script = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".lua"))
        script.write(DISTINCT_QUERIES)
        script.flush()
        wait_until_answering(base + "/__sandbox/status", time.monotonic() + 60)
        wait_until_answering(bare_base + "/", time.monotonic() + 60)
        # The first documented 200 case that this server answers as documented (some drift out of date windows).
        headers = dict(h.split(": ", 1) for h in auth)
        for case_id, hit in found.candidates:
            if httpx.get(base + hit, headers=headers, timeout=30).headers.get("x-sandbox-case") == case_id:
                break
        else:
            print(f"bench: no 200 case of {CIVILITY_OPERATION} is answered as documented", file=sys.stderr)
            return 1
        replies = {
            name: stack.enter_context(_recorded(httpx.get(base + target, headers=headers, timeout=30)))
            for name, target in (("a", hit), ("b", found.fallback))
        }
        same_bytes = {
            name: stack.enter_context(server(baseline, env={"BASELINE_REPLY": str(path)}))
            for name, path in replies.items()
        }
        for _, same_base in same_bytes.values():
            wait_until_answering(same_base + "/", time.monotonic() + 60)
        miss = found.miss(case_id)
        near = httpx.get(base + miss, headers=headers, timeout=30).headers.get("x-sandbox-near-miss")
        print(f"(a) hit {case_id}\n(c') miss {miss}\n     near miss {near}", flush=True)
        # (name, URL, wrk script, pid whose CPU time is read: None for the multi-process servers)
        sandbox_pid, bare_pid = sandbox_process.pid, bare_process.pid
        scenarios: list[tuple[str, str, str | None, int | None]] = [
            ("(a) case hit, civility", base + hit, None, sandbox_pid),
            ("(a') hit, every query new", base + hit, script.name, sandbox_pid),
            ("(b) Entreprise fallback", base + found.fallback, None, sandbox_pid),
            ("(c') miss, every query new", base + miss, script.name, sandbox_pid),
            ("(c) bare Starlette", bare_base + hit, None, bare_pid),
            ("(ca) bare, (a)'s answer", same_bytes["a"][1] + hit, None, same_bytes["a"][0].pid),
            ("(cb) bare, (b)'s answer", same_bytes["b"][1] + found.fallback, None, same_bytes["b"][0].pid),
        ]
        if args.compare_metrics:
            off_process, off_base = stack.enter_context(server([*serve, "--no-metrics"]))
            wait_until_answering(off_base + "/__sandbox/status", time.monotonic() + 60)
            scenarios += [
                (f"no metrics {name}", off_base + url.removeprefix(base), lua, off_process.pid)
                for name, url, lua, _ in scenarios[:3]
            ]
        if not args.no_workers:
            _, base_2 = stack.enter_context(server([*serve, "--workers", "2"]))
            _, bare_2 = stack.enter_context(server([*baseline, "--workers", "2"]))
            wait_until_answering(base_2 + "/__sandbox/status", time.monotonic() + 60)
            wait_until_answering(bare_2 + "/", time.monotonic() + 60)
            scenarios += [
                ("(w a') 2 workers, query new", base_2 + hit, script.name, None),
                ("(w c) 2 workers, bare", bare_2 + hit, None, None),
            ]
        if not args.no_prism:
            document = fixtures / "openapi_files" / "api_particulier.yaml"
            prism_base = stack.enter_context(prism(document))
            if prism_base is not None:
                scenarios.append(("(p) Prism, route of (a)", prism_base + hit, None, None))
        # Scenarios alternate, round after round, so that a slow moment of the machine touches them all.
        seconds = max(1, args.duration // args.rounds)
        for _ in range(args.rounds):
            for name, url, lua, pid in scenarios:
                used = cpu_seconds(pid) if pid else 0.0
                result = run_wrk(name, url, auth, seconds, args.connections, lua)
                if pid:
                    result.cpu_us = (cpu_seconds(pid) - used) / (result.requests_per_s * seconds) * 1e6
                rounds.setdefault(name, []).append(result)
    results = {name: _median(name, runs) for name, runs in rounds.items()}

    print(f"{'scenario':30} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU µs/req':>11}")
    for result in results.values():
        row = f"{result.name:30} {result.requests_per_s:10.0f} {result.p50_ms:8.2f} {result.p99_ms:8.2f}"
        print(f"{row} {result.errors:7d} {result.cpu_us:11.1f}")
    bare = results["(c) bare Starlette"]
    ratios = {
        name.split(" ", 1)[0] + "/(c)": result.requests_per_s / bare.requests_per_s
        for name, result in results.items()
        if name.startswith(("(a", "(b", "(c')"))
    }
    ratios["p99 (a')/(c)"] = results["(a') hit, every query new"].p99_ms / bare.p99_ms
    # The wire format's own cost, and the logic's cost measured against an app sending the same bytes
    same_a, same_b = results["(ca) bare, (a)'s answer"], results["(cb) bare, (b)'s answer"]
    ratios["(ca)/(c)"] = same_a.requests_per_s / bare.requests_per_s
    ratios["(cb)/(c)"] = same_b.requests_per_s / bare.requests_per_s
    ratios["(a)/(ca)"] = results["(a) case hit, civility"].requests_per_s / same_a.requests_per_s
    ratios["(b)/(cb)"] = results["(b) Entreprise fallback"].requests_per_s / same_b.requests_per_s
    if "(w c) 2 workers, bare" in results:
        workers = results["(w a') 2 workers, query new"].requests_per_s
        ratios["(w a')/(w c)"] = workers / results["(w c) 2 workers, bare"].requests_per_s
    if "(p) Prism, route of (a)" in results:
        ratios["(a)/(p)"] = (
            results["(a) case hit, civility"].requests_per_s / results["(p) Prism, route of (a)"].requests_per_s
        )
    print("   ".join(f"{name} = {value:.2f}" for name, value in ratios.items()) + f"   serve args: {args.serve_args}")
    # The same ratios from the servers' CPU time per request: what a loaded machine disturbs least.
    cpu = {
        name.split(" ", 1)[0] + "/(c) CPU": bare.cpu_us / result.cpu_us
        for name, result in results.items()
        if name.startswith(("(a", "(b", "(c')")) and result.cpu_us == result.cpu_us
    }
    ratios.update(cpu)
    print("   ".join(f"{name} = {value:.2f}" for name, value in cpu.items()))
    if args.compare_metrics:
        for name in [name for name in results if name.startswith(("(a", "(b"))]:
            on, off = results[name], results[f"no metrics {name}"]
            ratios[f"metrics on/off req/s {name.split(' ', 1)[0]}"] = on.requests_per_s / off.requests_per_s
            ratios[f"metrics on/off CPU {name.split(' ', 1)[0]}"] = on.cpu_us / off.cpu_us
            print(
                f"{name:30} metrics on/off: req/s {on.requests_per_s / off.requests_per_s:.3f}, "
                f"CPU per request {on.cpu_us / off.cpu_us:.3f}"
            )
    started = {} if args.no_start_up else start_up(fixtures, args.start_up_runs)
    if started:
        print(
            f"start-up (median of {args.start_up_runs}): cold {started['cold_s']:.2f} s, "
            f"cached {started['cached_s']:.2f} s, RSS {started['rss_mb']:.0f} MB"
        )
    if args.json:
        report = {"results": [asdict(r) for r in results.values()], "ratios": ratios, "start_up": started}
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
