"""`sandbox.tools.lint` as a package: its command line lives in `sandbox.cli.lint`, its parts answer alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from sandbox.tools.lint import rule_ids
from sandbox.tools.lint.reading import CaseFile
from tests.conftest import ROOT


def _help(*command: str) -> str:
    environment = {**os.environ, "COLUMNS": "100"}
    run = subprocess.run(
        [sys.executable, *command, "--help"], capture_output=True, text=True, check=True, cwd=ROOT, env=environment
    )
    return run.stdout


def test_the_sandbox_command_and_the_module_entry_print_the_same_help() -> None:
    """`sandbox lint` is registered through `add_command`: one declaration of its arguments."""
    registered = _help("-c", "import sys; from sandbox.cli import main; sys.exit(main(sys.argv[1:]))", "lint")
    module = _help("-m", "sandbox.cli.lint")
    assert registered == module
    assert module.startswith("usage: sandbox lint ")
    assert "Rules and examples: docs/lint.md." in module


def test_a_finding_on_a_param_points_at_its_line_else_at_params() -> None:
    file = CaseFile("folder", "200.yaml", "payloads/folder/200.yaml", "", lines={"params": 3}, param_lines={"siren": 4})
    assert file.param_line("siren") == 4
    assert file.param_line("siret") == 3
    assert CaseFile("folder", "200.yaml", "payloads/folder/200.yaml", "").param_line("siren") is None


def test_docs_lint_md_lists_every_rule_of_messages_yaml() -> None:
    """The rules table of docs/lint.md and messages.yaml name the same rules, with the same severities."""
    text = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `([a-z-]+)` \| (error|warning) \|", text, flags=re.M))
    assert table == {rule: severity for rule, (severity, _) in rule_ids().items()}
