"""`Prefer: delay=` never holds other requests back: 50 delayed requests and a stream of plain ones, on loopback.

    .venv/bin/python scripts/prefer_delays.py [--fixtures PATH] [--rounds N] [--delayed 50] [--delay-ms 1000]

A sandbox runs as its own process (`sandbox serve --no-rate-limit`). Each round has two
windows of the same length, in turn:

* unloaded: a probe process sends plain requests one after the other and times each;
* loaded: the same probe runs while this process sends `--delayed` requests at once, each with
  `Prefer: delay=<--delay-ms>` on its own already-open connection, and times each of them.

Targets: every delayed request completes in [1.0, 1.1] × its delay, and the p99 of the plain
requests of a loaded window is at most 2 × the p99 of the unloaded window measured just before
it (the median of the rounds' ratios is reported and judged). The probe is a separate
process so that the client side of the delayed requests does not slow the probe's own timing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

from _processes import ROOT, server, wait_until_answering

from sandbox import build_snapshot, case_request

WINDOW_S = 1.6  # each window: the delayed requests start 0.2 s in and end about 1.2 s in
DELAYED_START_S = 0.2
OPERATION = "api_entreprise_v3_insee_unites_legales"


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def raw_request(base_url: str, target: str, headers: dict[str, str]) -> bytes:
    """The bytes of a GET: the clients here write them on a socket themselves (httpx's own cost, about a
    millisecond a request, would hide the server's)."""
    host = base_url.split("://", 1)[1]
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError("no Content-Length")


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer (status line, headers, Content-Length bytes of body) from a blocking socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = _content_length(head)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the body")
        body += chunk
    return head


def probe(base_url: str, request: bytes, start_at: float, out: Connection) -> None:
    """Plain requests one after the other from `start_at` for WINDOW_S; sends back each one's duration (s)."""
    host, port = base_url.split("://", 1)[1].split(":")
    timings: list[float] = []
    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request)
        read_answer(sock)  # the connection is open and used before the window
        while time.monotonic() < start_at:
            time.sleep(0.001)
        end = start_at + WINDOW_S
        while (now := time.monotonic()) < end:
            sock.sendall(request)
            read_answer(sock)
            timings.append(time.monotonic() - now)
    out.send(timings)
    out.close()


async def delayed_requests(base_url: str, request: bytes, count: int, delay_ms: int, at: float) -> list[float]:
    """`count` requests at once, each on its own open connection, each with `Prefer: delay=`; their durations."""
    host, port = base_url.split("://", 1)[1].split(":")
    applied = f"preference-applied: delay={delay_ms}".encode()
    connections = [await asyncio.open_connection(host, int(port)) for _ in range(count)]

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> float:
        started = time.monotonic()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(_content_length(head))
        duration = time.monotonic() - started
        assert applied in head.lower(), head
        writer.close()
        return duration

    await asyncio.sleep(max(0.0, at - time.monotonic()))
    return list(await asyncio.gather(*(one(reader, writer) for reader, writer in connections)))


def window(
    base_url: str, plain: bytes, delayed_request: bytes, delayed: int, delay_ms: int
) -> tuple[list[float], list[float]]:
    """One window: the probe's plain timings, and the delayed requests' (none when `delayed` is 0)."""
    receiving, sending = multiprocessing.Pipe(duplex=False)
    start_at = time.monotonic() + 1.0
    process = multiprocessing.Process(target=probe, args=(base_url, plain, start_at, sending))
    process.start()
    durations: list[float] = []
    if delayed:
        durations = asyncio.run(
            delayed_requests(base_url, delayed_request, delayed, delay_ms, start_at + DELAYED_START_S)
        )
    timings = receiving.recv()
    process.join()
    return timings, durations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", default=ROOT, help="fixture repository (default: the embedded one)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--delayed", type=int, default=50)
    parser.add_argument("--delay-ms", type=int, default=1000)
    args = parser.parse_args()
    snapshot = build_snapshot(args.fixtures)
    table = snapshot.tables[OPERATION]
    token = (Path(args.fixtures) / "tokens" / "default").read_text().strip()
    request = case_request(table.operation, table.cases[0], token)
    command = [
        "-m",
        "sandbox",
        "serve",
        "--fixtures",
        str(args.fixtures),
        "--port",
        "{port}",
        "--no-rate-limit",
        "--no-watch",
    ]
    low, high = args.delay_ms / 1000, args.delay_ms * 1.1 / 1000
    ratios, all_durations = [], []
    with server(command) as (_, base_url):
        wait_until_answering(base_url + "/api/ping", time.monotonic() + 120)
        plain = raw_request(base_url, request.target, dict(request.headers))
        delayed = raw_request(base_url, request.target, {**dict(request.headers), "Prefer": f"delay={args.delay_ms}"})
        for round_ in range(1, args.rounds + 1):
            unloaded, _ = window(base_url, plain, delayed, 0, args.delay_ms)
            loaded, durations = window(base_url, plain, delayed, args.delayed, args.delay_ms)
            ratio = p99(loaded) / p99(unloaded)
            ratios.append(ratio)
            all_durations += durations
            print(
                f"round {round_}: {len(durations)} delayed in {min(durations):.3f}-{max(durations):.3f} s; "
                f"plain p99 unloaded {p99(unloaded) * 1000:.2f} ms ({len(unloaded)} requests), "
                f"loaded {p99(loaded) * 1000:.2f} ms ({len(loaded)} requests): ratio {ratio:.2f}"
            )
    in_range = all(low <= d <= high for d in all_durations)
    median_ratio = statistics.median(ratios)
    print(
        f"delayed: {len(all_durations)} requests, {min(all_durations):.3f}-{max(all_durations):.3f} s "
        f"(target {low:.1f}-{high:.1f} s): {'PASS' if in_range else 'FAIL'}"
    )
    print(
        f"plain p99 loaded / unloaded: median {median_ratio:.2f} (target <= 2): "
        + ("PASS" if median_ratio <= 2 else "FAIL")
    )
    return 0 if in_range and median_ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
