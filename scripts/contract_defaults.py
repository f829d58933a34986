"""`sandbox contract` against a sandbox started with its defaults (rate limits on), as an integrator runs it.

For the embedded fixtures and siade_staging_data (`../shared/fixtures`, skipped when absent): start
`sandbox serve` on a free port, run `sandbox contract --base-url ...`, and print its totals, the 429s
of the rate limiter it met and sent again, and the run time. The run time depends on where in the
minute the run starts (a group limited per minute waits for the next minute).

    .venv/bin/python scripts/contract_defaults.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from _processes import ROOT, server, wait_until_answering

CORPORA = {
    "embedded": None,
    "siade_staging_data": Path(ROOT).parent / "shared" / "fixtures" / "siade_staging_data",
}
_TOTAL = re.compile(r"^(\d+ passed, \d+ failed.*) in ([\d.]+)s$", re.M)
_RATE = re.compile(r"^Rate limits: (\d+) answer", re.M)


def main() -> int:
    failed = 0
    for name, fixtures in CORPORA.items():
        if fixtures is not None and not (fixtures / "payloads").is_dir():
            print(f"{name}: skipped ({fixtures} is absent)")
            continue
        serve = ["-m", "sandbox", "serve", "--port", "{port}", "--no-watch"]
        contract = [sys.executable, "-m", "sandbox", "contract"]
        if fixtures is not None:
            serve += ["--fixtures", str(fixtures)]
            contract += ["--fixtures", str(fixtures)]
        with server(serve) as (_, base_url):
            wait_until_answering(base_url + "/__sandbox/status", time.monotonic() + 120)
            started = time.perf_counter()
            result = subprocess.run(
                [*contract, "--base-url", base_url], capture_output=True, text=True, cwd=ROOT, check=False
            )
            elapsed = time.perf_counter() - started
        total = _TOTAL.search(result.stdout)
        throttled = _RATE.search(result.stdout)
        print(
            f"{name}: {total.group(1) if total else '(no total line)'}; "
            f"{throttled.group(1) if throttled else 0} answers 429 sent again; "
            f"contract {total.group(2) if total else '?'} s, command {elapsed:.1f} s; exit status {result.returncode}"
        )
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
