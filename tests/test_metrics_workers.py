"""`sandbox serve --workers 2`, a real process: requests spread over both workers, and a scrape of
either one adds every worker's counts up exactly (prometheus_client's multiprocess mode, in a
directory the sandbox makes for the run and removes after it)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.multiprocess import MultiProcessCollector

from tests import metrics_sequence as sequence
from tests import tiny_repository
from tests.metrics_sequence import CLIENT_TIMEOUT_S, SECRET, Expected, one

DEADLINE_S = 90.0
CLIENTS = 4
MAX_BATCHES = 10


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout_s} s: {what}")


def requests_per_worker(directory: Path) -> dict[str, int]:
    """Each worker's own request count, read from its file (`counter_<pid>.db`)."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        families = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
        counts[path.stem] = int(sum(s.value for f in families for s in f.samples if s.name == "sandbox_requests_total"))
    return counts


def batch(base: str) -> Expected:
    """The sequence, CLIENTS times at once, each request on a new connection (any worker may accept it)."""
    results = [Expected() for _ in range(CLIENTS)]

    def client(expected: Expected) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S, limits=limits) as session:
            sequence.run_sequence(session, expected)

    threads = [threading.Thread(target=client, args=(expected,)) for expected in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE_S)
    total = Expected()
    for expected in results:
        total.counters.update(expected.counters)
        total.by_api.update(expected.by_api)
    return total


def test_two_workers_add_up_exactly(tmp_path: Path) -> None:
    root = sequence.build(tmp_path / "repo")
    temporary = tmp_path / "tmp"  # where the run's metrics directory is made
    temporary.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in ("SANDBOX_JWT_SECRET", "PROMETHEUS_MULTIPROC_DIR")}
    environment["TMPDIR"] = str(temporary)
    command = [sys.executable, "-m", "sandbox", "serve", "--workers", "2", "--port", "0", "--no-watch"]
    command += ["--fixtures", str(root), "--cache-dir", str(tmp_path / "cache"), "--jwt-secret", SECRET]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.rstrip() for line in process.stdout or ()))
    reader.start()
    try:
        wait_for(lambda: any("Serving in" in line for line in list(lines)), "the serving line")
        base = re.search(r"on (http://\S+)", next(line for line in lines if "Serving in" in line)).group(1)  # type: ignore[union-attr]
        # made as the workers start, just after the banner
        wait_for(lambda: len(list(temporary.glob("sandbox-metrics-*"))) == 1, "the metrics directory")
        (directory,) = temporary.glob("sandbox-metrics-*")

        pids: set[int] = set()

        def both_answer() -> bool:
            with contextlib.suppress(httpx.TransportError):
                pids.add(httpx.get(f"{base}/__sandbox/status", timeout=CLIENT_TIMEOUT_S).json()["sync"]["pid"])
            return len(pids) == 2

        wait_for(both_answer, "both workers answering")
        expected = Expected()
        for _ in range(MAX_BATCHES):
            sent = batch(base)
            expected.counters.update(sent.counters)
            expected.by_api.update(sent.by_api)
            total = sum(expected.by_api.values())
            # each worker writes its counts within a second
            wait_for(lambda: sum(requests_per_worker(directory).values()) == total, "every count written")  # noqa: B023
            if len([n for n in requests_per_worker(directory).values() if n]) == 2:
                break
        per_worker = requests_per_worker(directory)
        assert len(per_worker) == 2 and all(per_worker.values()), per_worker

        tiny_repository.write_case(root, sequence.V2, "3.yaml", {"identifiant": "3"}, 200, '{"statut": "trois"}')
        assert httpx.post(f"{base}/api/reload-mocks", timeout=CLIENT_TIMEOUT_S).status_code == 200
        with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
            scraped: dict[sequence.Key, float] = {}

            def exact() -> bool:
                scraped.update(sequence.scrape(client))
                return sequence.counter_values(scraped) == expected.counters

            wait_for(exact, "a scrape that adds both workers up")
            samples = sequence.scrape(client)  # and no later count changes it
            page = client.get(f"/ui/operations/{sequence.ENTREPRISE}", params={"lang": "en"}).text
        assert sequence.counter_values(samples) == expected.counters
        assert sequence.durations_by_api(samples) == expected.by_api
        assert one(samples, "sandbox_reloads_total", result="swapped") == 1  # the worker that was asked
        assert one(samples, "sandbox_reloads_total", result="refused") == 0
        assert "counts of every worker since start" in page
        total_requests = sum(v for (name, _), v in samples.items() if name == "sandbox_requests_total")
        print(f"requests {int(total_requests)} over 2 workers: {sorted(per_worker.values())}")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE_S) == 0, "\n".join(lines)
        assert not directory.exists(), "the run's metrics directory is removed"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=DEADLINE_S)
        reader.join(timeout=DEADLINE_S)
