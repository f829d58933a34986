"""The pre-commit hooks of `.pre-commit-hooks.yaml`, tried from a fixture repository with `pre-commit try-repo`.

pre-commit is installed from the package index into a virtual environment of the test's
own, and `try-repo` installs this project in an environment of pre-commit's (its
dependencies come from the index too): without an index the test is skipped, saying so.
The steps are `scripts/precommit_try_repo.py`, which prints the same runs for a person.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, corpus_path

SCRIPT = ROOT / "scripts" / "precommit_try_repo.py"


def test_the_hooks_file_declares_a_lint_and_a_docs_hook() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert set(hooks) == {"sandbox-lint", "sandbox-docs"}
    for hook in hooks.values():
        assert hook["language"] == "python"  # the project installed as a package: its `sandbox` command
        assert hook["entry"].split()[0] == "sandbox"
        assert hook["files"].startswith("^payloads/")
    assert hooks["sandbox-lint"]["entry"].split()[1] == "lint"
    assert hooks["sandbox-docs"]["entry"].split()[1] == "docs"


def test_try_repo_fails_on_the_broken_case_and_passes_on_the_good_one(tmp_path: Path) -> None:
    corpus_path("siade_staging_data")
    if not (ROOT / ".git").exists():
        pytest.skip("pre-commit try-repo clones this project: it must be a git checkout")
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if run.returncode == 3:
        pytest.skip(f"pre-commit cannot be installed here (no package index?): {run.stderr.strip()[-300:]}")
    results = json.loads(run.stdout)
    runs = results["runs"]
    for item in runs:
        print(f"\n[{item['hook']} {item['case']}] exit {item['exit']}\n{item['output']}")
    broken, good, docs_first, docs_again, fixed = runs
    assert broken["exit"] == 1
    assert "[payload-identifier]" in broken["output"] and "zz-entreprise-individuelle.yaml:9" in broken["output"]
    assert "[placeholder-text]" in broken["output"]
    assert good["exit"] == 0 and "Passed" in good["output"]
    assert docs_first["exit"] == 1 and "files were modified by this hook" in docs_first["output"]
    assert "api_entreprise_v3_insee_etablissements/README.md" in docs_first["output"]
    assert docs_again["exit"] == 0
    assert fixed["exit"] == 0
    assert run.returncode == 0
