"""What a hostile fixture repository costs the load: time and peak memory, against the same repository without it.

    .venv/bin/python scripts/hostile_repository.py [--runs N]

Each scenario is loaded (`build_snapshot`) in a fresh process, after the same small repository
alone (the baseline), and reported as the extra time and extra peak RSS (VmHWM) over it.
Targets (issue "Harden the sandbox for shared hosting"): an alias bomb is refused in <= 2 s with
<= 100 MB extra RSS; a 50 MB case is refused without being read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import tiny_repository  # noqa: E402

FOLDER = "api_particulier_v2_demo"


def billion_laughs(levels: int = 9) -> str:
    lines = ["params:", "  identifiant: bomb", "  a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    for level in range(1, levels):
        lines.append(f"  a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join([*lines, "status: 200", "payload: '{}'"]) + "\n"


def make(scenario: str, folder: Path) -> Path:
    root = tiny_repository.build(folder / scenario)
    cases = root / "payloads" / FOLDER
    if scenario == "alias-bomb":
        (cases / "bomb.yaml").write_text(billion_laughs())
    elif scenario == "50-MB-case":
        with (cases / "big.yaml").open("wb") as handle:  # sparse: the size is what matters
            handle.write(b"params: {identifiant: big}\nstatus: 200\npayload: '{}'\n#")
            handle.truncate(50 * 1024 * 1024)
    elif scenario == "link-to-root":
        (cases / "slash.yaml").symlink_to("/")
        (root / "payloads" / "slash").symlink_to("/")
    return root


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load(root: str) -> None:
    """In the child process: import everything first, then measure the load alone."""
    from sandbox import build_snapshot

    build_snapshot(tiny_repository.build(Path(tempfile.mkdtemp()) / "warm"))  # imports, caches
    before = peak_rss_mb()
    started = time.perf_counter()
    snapshot = build_snapshot(root)
    elapsed = time.perf_counter() - started
    problems = [str(p) for p in snapshot.report.problems]
    print(
        json.dumps({"s": elapsed, "rss": peak_rss_mb() - before, "problems": problems, "cases": snapshot.report.cases})
    )


def measure(root: Path) -> dict[str, object]:
    command = [sys.executable, __file__, "--load", str(root)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load(args.load)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        baseline = make("baseline", Path(folder))
        for scenario in ("alias-bomb", "50-MB-case", "link-to-root"):
            root = make(scenario, Path(folder))
            seconds, extra_s, extra_mb = [], [], []
            for _ in range(args.runs):
                base, hostile = measure(baseline), measure(root)
                seconds.append(float(hostile["s"]))  # type: ignore[arg-type]
                extra_s.append(float(hostile["s"]) - float(base["s"]))  # type: ignore[arg-type]
                extra_mb.append(float(hostile["rss"]) - float(base["rss"]))  # type: ignore[arg-type]
            print(
                f"{scenario}: load {statistics.median(seconds) * 1000:.1f} ms "
                f"({statistics.median(extra_s) * 1000:+.1f} ms over the same repository without it), "
                f"extra peak RSS {statistics.median(extra_mb):.2f} MB, cases served {hostile['cases']}"
            )
            for problem in hostile["problems"]:  # type: ignore[attr-defined]
                print(f"    {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
