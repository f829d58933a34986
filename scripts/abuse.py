"""Abuse of a real sandbox process on loopback: memory, request bodies, the journal, the event loop.

    .venv/bin/python scripts/abuse.py [--fixtures PATH] [--unique N] [--tokens N]

Starts `sandbox serve` on a free loopback port (the real corpus when present, else the embedded
fixtures; a webhook secret set), warms it up, then reports each target with PASS or FAIL:

  1. RSS growth <= 30 MB after N (10,000) unique 60 KB query strings on an unknown path, N on an API
     path, and 1,000 unique invalid tokens at the header-line limit; then, for the caches that do see
     parsed input, 5,000 unique 7.5 KB query strings on an API path with a valid token.
  2. A 300 MB webhook POST streamed by the client, with and without Content-Length: 413, and RSS
     growth (the peak sampled while it streams) <= 20 MB.
  3. A journal of 1,000 adversarial entries (JWT-like runs, `eyJ` repeated, long words, `token=`
     repeated, percent-escapes, all at the URL limit) read with `GET /__sandbox/requests?limit=1000`
     in <= 100 ms (the first read, which formats every entry; later reads are reported too).
  4. The latency of an API request (a case hit) while another process reads that journal 20 times a
     second: median <= 2 x the unloaded median. For information, the same while the journal is read
     back to back, and while /v3/ping is (any client in a tight loop slows the others on 2 cores).

Every loop is bounded in count and time; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from _processes import ROOT, rss_mb, server, wait_until_answering

from sandbox import build_snapshot, case_request

CORPUS = Path(ROOT).parent / "shared" / "fixtures" / "siade_staging_data"
WEBHOOK_SECRET = "abuse-webhook-secret"
HEADER_LINE = 8192  # the default --max-header-bytes
URL = 8192  # the default --max-url-bytes
TIMEOUT = 60.0
READS_PER_S = 20  # a dashboard refreshing far faster than a person reads
READER = """
import socket, sys, time
host, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seconds, interval = float(sys.argv[4]), float(sys.argv[5])
request = f"GET {target} HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: close\\r\\n\\r\\n".encode()
deadline = time.monotonic() + seconds
for _ in range(100_000):
    started = time.monotonic()
    if started > deadline:
        break
    with socket.create_connection((host, port), timeout=60) as connection:
        connection.sendall(request)
        while connection.recv(1 << 20):
            pass
    time.sleep(max(0.0, interval - (time.monotonic() - started)))
"""


class Report:
    def __init__(self) -> None:
        self.failed = 0

    def target(self, name: str, value: float, limit: float, unit: str, detail: str = "") -> None:
        verdict = "PASS" if value <= limit else "FAIL"
        self.failed += verdict == "FAIL"
        print(f"[{verdict}] {name}: {value:.1f} {unit} (target <= {limit:g} {unit}){detail}", flush=True)


def _repeat(count: int, send: Callable[[int], int], expected: set[int], label: str) -> None:
    started = time.monotonic()
    statuses: dict[int, int] = {}
    for index in range(count):
        status = send(index)
        statuses[status] = statuses.get(status, 0) + 1
    unexpected = {s: n for s, n in statuses.items() if s not in expected}
    note = f", unexpected statuses {unexpected}" if unexpected else ""
    print(f"  {label}: {count} requests in {time.monotonic() - started:.1f} s, statuses {statuses}{note}", flush=True)


def memory_abuse(client: httpx.Client, pid: int, api_target: str, token: str, unique: int, tokens: int) -> None:
    padding = "a" * 60_000
    _repeat(unique, lambda i: client.get(f"/nothing?q{i}={padding}").status_code, {414}, "60 KB queries, unknown path")
    separator = "&" if "?" in api_target else "?"
    _repeat(
        unique,
        lambda i: client.get(f"{api_target}{separator}q{i}={padding}").status_code,
        {414},
        "60 KB queries, API path",
    )
    filler = "x" * (HEADER_LINE - len("authorization: Bearer ") - 12)

    def invalid_token(index: int) -> int:
        headers = {"Authorization": f"Bearer {index:012d}{filler}"}
        return client.get(api_target, headers=headers).status_code

    _repeat(tokens, invalid_token, {401}, f"unique invalid tokens of {HEADER_LINE} bytes a line")
    print(f"  RSS now {rss_mb(pid):.1f} MB", flush=True)


def parsed_abuse(client: httpx.Client, api_target: str, token: str, count: int) -> None:
    separator = "&" if "?" in api_target else "?"
    room = URL - len(api_target) - 40
    headers = {"Authorization": f"Bearer {token}", "X-Api-Key": token}
    _repeat(
        count,
        lambda i: client.get(f"{api_target}{separator}extra{i}={'b' * room}", headers=headers).status_code,
        {200, 400, 404, 422},
        "7.5 KB queries parsed on an API path (valid token)",
    )


def stream_webhook(base: str, pid: int, total: int, with_length: bool) -> tuple[int | None, int, float]:
    """Send `total` bytes to the webhook; (status, bytes the server took, peak RSS while sending)."""
    host, port = base.removeprefix("http://").split(":")
    framing = f"Content-Length: {total}" if with_length else "Transfer-Encoding: chunked"
    head = f"POST /__sandbox/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n{framing}\r\n"
    head += "X-Hub-Signature-256: sha256=00\r\nX-GitHub-Event: push\r\n\r\n"
    chunk = b"{" * (1 << 20)
    sent, peak, reply = 0, rss_mb(pid), b""
    deadline = time.monotonic() + 300
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as connection:
        connection.sendall(head.encode())
        try:
            while sent < total and time.monotonic() < deadline:
                piece = chunk if with_length else b"%x\r\n" % len(chunk) + chunk + b"\r\n"
                connection.sendall(piece)
                sent += len(chunk)
                if sent % (16 << 20) == 0:
                    peak = max(peak, rss_mb(pid))
                readable, _, _ = select.select([connection], [], [], 0)
                if readable and not reply:
                    reply = connection.recv(65536)  # answered early: keep streaming, as a client would
            if not with_length:
                connection.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection: it took no more
        peak = max(peak, rss_mb(pid))
        if not reply:
            connection.settimeout(TIMEOUT)
            reply = connection.recv(65536)
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else None
    return status, sent, peak


ADVERSARIAL = (
    lambda i: f"/v3/{i}/" + "eyJ" * 2700,
    lambda i: f"/nothing/{i}?q=" + "eyJa." * 1620,
    lambda i: f"/nothing/{i}?w=" + "a" * 8100,
    lambda i: f"/nothing/{i}?" + "token=" * 1350,
    lambda i: f"/nothing/{i}?p=" + "%41" * 2700,
    lambda i: f"/nothing/{i}?" + "&" * 8100,
    lambda i: f"/nothing/{i}/" + "-" * 4000 + "?q=" + "eyJhbGciOiJIUzI1NiJ9." * 190,
    lambda i: f"/nothing/{i}?" + "&".join(f"k{n}=eyJ{n}.a.b" for n in range(520)),
)


def journal_abuse(client: httpx.Client, report: Report) -> str:
    for index in range(1000):
        target = ADVERSARIAL[index % len(ADVERSARIAL)](index)
        assert len(target) <= URL, (index % len(ADVERSARIAL), len(target))
        client.get(target)
    url = "/__sandbox/requests?limit=1000"
    started = time.perf_counter()
    first = client.get(url)
    first_ms = (time.perf_counter() - started) * 1000
    entries = first.json()["entries"]
    later = []
    for _ in range(10):
        started = time.perf_counter()
        client.get(url)
        later.append((time.perf_counter() - started) * 1000)
    size = len(first.content) / 1e6
    detail = f" ({len(entries)} entries, {size:.1f} MB; later reads median {statistics.median(later):.1f} ms)"
    report.target("journal of 1,000 adversarial entries, first read", first_ms, 100, "ms", detail)
    return url


def latencies(client: httpx.Client, target: str, headers: dict[str, str], count: int) -> list[float]:
    found = []
    for _ in range(count):
        started = time.perf_counter()
        client.get(target, headers=headers)
        found.append((time.perf_counter() - started) * 1000)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path)
    parser.add_argument("--unique", type=int, default=10_000, help="unique 60 KB queries per path")
    parser.add_argument("--tokens", type=int, default=1_000, help="unique invalid tokens")
    parser.add_argument("--webhook-mb", type=int, default=300)
    args = parser.parse_args()
    fixtures = args.fixtures or (CORPUS if (CORPUS / "payloads").is_dir() else Path(ROOT))
    snapshot = build_snapshot(fixtures)
    token = subprocess.run(
        [str(Path(sys.executable).parent / "sandbox"), "token", "--fixtures", str(fixtures)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    table = next(t for t in snapshot.tables.values() if t.operation.api == "entreprise" and t.cases)
    hit = next(c for c in table.cases if c.status == 200)
    request = case_request(table.operation, hit, token)
    api_target, headers = request.target, dict(request.headers)
    print(f"fixtures {fixtures}; API target {api_target[:100]}", flush=True)
    command = ["-m", "sandbox", "serve", "--fixtures", str(fixtures), "--port", "{port}", "--no-watch"]
    # No rate limit: every request goes through the whole flow (parsing, memo, journal), the worst case.
    command += ["--log-level", "warning", "--webhook-secret", WEBHOOK_SECRET, "--no-rate-limit"]
    report = Report()
    with (
        tempfile.TemporaryDirectory() as cache,
        server([*command, "--cache-dir", cache]) as (process, base),
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        wait_until_answering(f"{base}/v3/ping", time.monotonic() + 60)
        memory_abuse(client, process.pid, api_target, token, 300, 100)  # warm-up: allocator, lazy tables
        parsed_abuse(client, api_target, token, 300)
        baseline = rss_mb(process.pid)
        print(f"RSS after warm-up: {baseline:.1f} MB", flush=True)

        memory_abuse(client, process.pid, api_target, token, args.unique, args.tokens)
        grown = rss_mb(process.pid) - baseline
        report.target("RSS growth, 60 KB queries and invalid tokens", grown, 30, "MB")
        parsed_abuse(client, api_target, token, 5000)
        grown = rss_mb(process.pid) - baseline
        report.target("RSS growth, the above and 5,000 parsed 7.5 KB queries", grown, 30, "MB")

        total = args.webhook_mb << 20
        for with_length in (True, False):
            before = rss_mb(process.pid)
            status, sent, peak = stream_webhook(base, process.pid, total, with_length)
            how = "with Content-Length" if with_length else "chunked, no Content-Length"
            detail = f" (status {status}, {sent >> 20} MB streamed, peak RSS {peak:.1f} MB)"
            report.target(f"webhook {args.webhook_mb} MB {how}: RSS growth", peak - before, 20, "MB", detail)
            if status != 413:
                report.target(f"webhook {how}: status 413", 1, 0, "wrong status", f" ({status})")

        journal = journal_abuse(client, report)
        host, port = base.removeprefix("http://").split(":")

        def under_load(target: str, interval: float) -> tuple[list[float], list[float]]:
            """API latencies without and with a reader of `target` every `interval` s (0: back to back)."""
            unloaded: list[float] = []
            loaded: list[float] = []
            for _ in range(3):  # alternating rounds: a burst of load from elsewhere touches both alike
                unloaded += latencies(client, api_target, headers, 150)
                command = [sys.executable, "-c", READER, host, port, target, "60", str(interval)]
                reader = subprocess.Popen(command)
                try:
                    time.sleep(0.5)
                    loaded += latencies(client, api_target, headers, 150)
                finally:
                    reader.terminate()
                    reader.wait(timeout=30)
            return unloaded, loaded

        unloaded, loaded = under_load(journal, 1 / READS_PER_S)
        ratio = statistics.median(loaded) / statistics.median(unloaded)
        detail = f" (unloaded median {statistics.median(unloaded):.2f} ms, loaded {statistics.median(loaded):.2f} ms)"
        report.target(f"API latency, journal read {READS_PER_S} times a second: ratio", ratio, 2, "x", detail)
        for target, name in ((journal, "the journal"), ("/v3/ping", "/v3/ping (for comparison)")):
            unloaded, loaded = under_load(target, 0)
            ratio = statistics.median(loaded) / statistics.median(unloaded)
            print(f"  (info) API latency while {name} is read back to back: {ratio:.1f} x", flush=True)
        print(f"RSS at the end: {rss_mb(process.pid):.1f} MB", flush=True)
    print("abuse: PASS" if report.failed == 0 else f"abuse: FAIL ({report.failed} targets missed)")
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
