"""Reload time after a one-file change, on a copy of siade_staging_data (target ≤ 300 ms).

    .venv/bin/python scripts/reload_timing.py [--fixtures PATH] [--runs N]

The sandbox follows the copy as a local folder with a warm parse cache; each run edits
one case file and times the reload (read every file, re-parse the changed one, build the
snapshot, swap).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _processes import ROOT

from sandbox import ServeConfig, make_syncer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", default=f"{ROOT}/../shared/fixtures/siade_staging_data")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        tree = Path(work) / "fixtures"
        shutil.copytree(args.fixtures, tree)
        syncer = make_syncer(ServeConfig(fixtures=[str(tree)], cache_dir=str(Path(work) / "cache"), watch=False))
        holder = syncer.start()
        case = next(iter(sorted((tree / "payloads").glob("api_entreprise_v3_insee_unites_legales/*.yaml"))))
        original = case.read_text()
        timings = []
        for run in range(args.runs):
            case.write_text(original.replace("description:", f"description: run {run} -", 1))
            attempt = syncer.reload("measure", fetch=False)
            if attempt.outcome != "swapped":
                print(f"reload {run}: {attempt.outcome} {attempt.errors}", file=sys.stderr)
                return 1
            timings.append(attempt.duration_ms)
        syncer.stop()
        print(f"reload after a one-file change: median {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms")
        print(f"({args.runs} runs, {holder.current.report.cases} cases; target <= 300 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
