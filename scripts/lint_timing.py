"""How long `sandbox lint` takes on a whole fixture tree, process start included.

    .venv/bin/python scripts/lint_timing.py [--fixtures PATH] [--runs N] [--match staging|documented]

Target (issue "contributor tooling"): <= 3 s for siade_staging_data. Each run is a fresh
`python -m sandbox.cli.lint` process (imports, OpenAPI documents, every case, every check);
the in-process figure is `lint_repository` alone, after the imports.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", default=str(ROOT.parent / "shared" / "fixtures" / "siade_staging_data"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--match", choices=["documented", "staging"], default="staging")
    args = parser.parse_args()
    if not (Path(args.fixtures) / "payloads").is_dir():
        print(f"no fixture repository at {args.fixtures}", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "sandbox.cli.lint", args.fixtures, "--format", "json", "--match", args.match]
    command += ["--today", "2026-04-28"]
    walls = []
    for run in range(args.runs):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode not in (0, 1):
            print(done.stderr.decode(), file=sys.stderr)
            return 2
        walls.append(wall)
        print(f"run {run + 1}: {wall:.2f} s (process start to exit)", flush=True)

    sys.path.insert(0, str(ROOT))
    import datetime

    from sandbox import MatchMode, lint_repository

    started = time.perf_counter()
    report = lint_repository(args.fixtures, mode=MatchMode(args.match), today=datetime.date(2026, 4, 28))
    in_process = time.perf_counter() - started
    median = statistics.median(walls)
    print(
        f"lint of {report.files} files ({len(report.errors)} errors, {len(report.warnings)} warnings, "
        f"{args.match} mode): median {median:.2f} s, max {max(walls):.2f} s per process; "
        f"{in_process:.2f} s in process; target <= {TARGET_S:.0f} s"
    )
    return 0 if median <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
