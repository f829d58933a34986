"""This project's pre-commit hooks, tried from a fixture repository as a contributor would.

    .venv/bin/python scripts/precommit_try_repo.py [--json] [--work DIR]

pre-commit is installed in a virtual environment of its own (from the package index), a
copy of siade_staging_data is made a git repository with one commit adding a broken case
and a good case (`tests/changed_repository.py`), and there, for each hook and case:

    pre-commit try-repo <this project> sandbox-lint --files <case>

`try-repo` clones this project at its current commit (uncommitted changes of tracked files
included) and installs it the way a fixture repository's `.pre-commit-config.yaml` would.
Expected: sandbox-lint fails on the broken case and passes on the good one; sandbox-docs
rewrites the good case's folder files once, then passes. Exit status 0 when all hold, 1
when one does not, 3 when pre-commit cannot be installed (no package index).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import changed_repository  # noqa: E402

CORPUS = ROOT.parent / "shared" / "fixtures" / "siade_staging_data"
CANNOT_INSTALL = 3
_TIMEOUT_S = 900  # installing the project's environment downloads its dependencies


def install_pre_commit(folder: Path) -> tuple[Path | None, str]:
    """pre-commit in a new virtual environment under `folder`, or None and why not."""
    venv.EnvBuilder(with_pip=True).create(folder)
    pip = subprocess.run(
        [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "pre-commit"],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
    )
    executable = folder / "bin" / "pre-commit"
    if pip.returncode != 0 or not executable.exists():
        lines = [line for line in (pip.stderr or pip.stdout).splitlines() if "WARNING" not in line]
        return None, lines[-1] if lines else f"pip exited with {pip.returncode}"
    return executable, ""


def try_repo(pre_commit: Path, repository: Path, hook: str, case: str, home: Path) -> dict[str, object]:
    """`pre-commit try-repo <project> HOOK --files CASE` in `repository`: its exit status and output."""
    environment = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    run = subprocess.run(
        [str(pre_commit), "try-repo", str(ROOT), hook, "--files", case],
        cwd=repository,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        env=environment,
    )
    output = run.stdout + run.stderr
    # what follows the "Using config" block: the hook's own lines
    shown = output.split("[INFO]")[-1].split("\n", 1)[-1] if "[INFO]" in output else output
    return {"hook": hook, "case": case, "exit": run.returncode, "output": shown.strip()}


def scenarios(work: Path) -> dict[str, object]:
    pre_commit, why = install_pre_commit(work / "pre-commit-venv")
    if pre_commit is None:
        return {"installed": False, "reason": why}
    version = subprocess.run([str(pre_commit), "--version"], capture_output=True, text=True, timeout=60).stdout
    repository = changed_repository.build(CORPUS, work / "fixtures")
    home = work / "pre-commit-home"
    runs = [
        try_repo(pre_commit, repository.root, "sandbox-lint", repository.broken, home),
        try_repo(pre_commit, repository.root, "sandbox-lint", repository.good, home),
        try_repo(pre_commit, repository.root, "sandbox-docs", repository.good, home),
        try_repo(pre_commit, repository.root, "sandbox-docs", repository.good, home),
    ]
    repository.fix_broken()
    runs.append(try_repo(pre_commit, repository.root, "sandbox-lint", repository.broken, home))
    return {"installed": True, "version": version.strip(), "runs": runs}


# (hook, case kind, expected exit status) in the order of `scenarios`
EXPECTED = (
    ("sandbox-lint", "broken", 1),
    ("sandbox-lint", "good", 0),
    ("sandbox-docs", "good (first run: rewrites the folder's files)", 1),
    ("sandbox-docs", "good (second run: up to date)", 0),
    ("sandbox-lint", "broken, fixed", 0),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, deleted after)")
    args = parser.parse_args()
    if not (CORPUS / "payloads").is_dir():
        print(f"siade_staging_data not found at {CORPUS}", file=sys.stderr)
        return CANNOT_INSTALL
    with tempfile.TemporaryDirectory(prefix="sandbox-pre-commit-") as temporary:
        work = args.work or Path(temporary)
        results = scenarios(work)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    if not results["installed"]:
        print(f"pre-commit cannot be installed: {results['reason']}", file=sys.stderr)
        return CANNOT_INSTALL
    runs = results["runs"]
    assert isinstance(runs, list)
    ok = True
    for run, (hook, kind, expected) in zip(runs, EXPECTED, strict=True):
        held = run["exit"] == expected
        ok = ok and held
        if not args.json:
            print(f"$ pre-commit try-repo <project> {hook} --files {run['case']}   # {kind}")
            print("\n".join("    " + line for line in str(run["output"]).splitlines()))
            print(f"  → exit {run['exit']} (expected {expected}) {'ok' if held else 'FAILED'}\n")
    if not args.json:
        print(f"{results['version']}: {'all as expected' if ok else 'NOT as expected'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
