"""Per-module figures of the last `mutmut run` (read from mutants/**/*.py.meta), for `make mutation`.

Prints one row per mutated module: generated, killed, survived, timed out, no tests, and the share
killed; exits 1 when a module is under the threshold given with --min-killed (a percentage).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit codes (mutmut/stats.py): 1 and 3 kill, 0 survives, 33 and 5 mean no test ran it.
KILLED = {1, 3}
SURVIVED = {0}
TIMED_OUT = {-24, 24, 152, 255, 36}
NO_TESTS = {5, 33}


def module_counts(meta: Path) -> Counter[str]:
    codes = json.loads(meta.read_text())["exit_code_by_key"].values()
    counts: Counter[str] = Counter(generated=len(codes))
    for code in codes:
        if code in KILLED:
            counts["killed"] += 1
        elif code in SURVIVED:
            counts["survived"] += 1
        elif code in TIMED_OUT:
            counts["timed out"] += 1
        elif code in NO_TESTS:
            counts["no tests"] += 1
        elif code is None:
            counts["not run"] += 1
        else:
            counts["other"] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutants", default="mutants", help="the folder mutmut writes (default: mutants)")
    parser.add_argument("--min-killed", type=float, default=0.0, help="fail under this share killed, in percent")
    args = parser.parse_args()
    metas = sorted(Path(args.mutants).rglob("*.py.meta"))
    if not metas:
        print(f"no mutmut results under {args.mutants}/: run `make mutation` first", file=sys.stderr)
        return 2
    columns = ("generated", "killed", "survived", "timed out", "no tests", "not run")
    print(f"{'module':40} " + " ".join(f"{c:>9}" for c in columns) + "   killed%")
    total: Counter[str] = Counter()
    under = []
    for meta in metas:
        module = str(meta.relative_to(args.mutants)).removesuffix(".py.meta").replace("/", ".")
        counts = module_counts(meta)
        total.update(counts)
        share = 100.0 * counts["killed"] / counts["generated"] if counts["generated"] else 100.0
        if share < args.min_killed:
            under.append(module)
        print(f"{module:40} " + " ".join(f"{counts[c]:>9}" for c in columns) + f"   {share:6.1f}")
    share = 100.0 * total["killed"] / total["generated"] if total["generated"] else 100.0
    print(f"{'total':40} " + " ".join(f"{total[c]:>9}" for c in columns) + f"   {share:6.1f}")
    if under:
        print(f"under {args.min_killed:.0f}% killed: {', '.join(under)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
