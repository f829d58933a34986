"""The GitHub Action (`action.yml`) and the workflow that uses it (`docs/contributing-workflow.yml`).

Structure: every input is described and used, Python is set up without a pip cache (a fixture
repository has no requirements file), the sandbox is installed from the action's own ref, and
every `sandbox …` command its steps run exists in the command line with those options and
values (read from the argparse parser itself). Then the steps' shell scripts run for real,
with bash as a runner would, on a fixture repository with a pull request's commit.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.cli import build_parser
from tests.changed_repository import build, git
from tests.conftest import ROOT, corpus_path

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
WORKFLOW = yaml.safe_load((ROOT / "docs" / "contributing-workflow.yml").read_text(encoding="utf-8"))
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {option: action for action in parser._actions for option in action.option_strings}


def _sandbox_invocations(script: str) -> Iterator[tuple[str, list[str]]]:
    """Each `sandbox COMMAND …` of a shell script: the command and its words (`${X:+--opt "$X"}` opened)."""
    for line in script.splitlines():
        line = re.sub(r"\$\{(\w+):\+([^}]*)\}", r"\2", line)  # the words an optional expansion adds
        words = shlex.split(line, comments=True, posix=True)
        for index, word in enumerate(words):
            if word == "sandbox" and index + 1 < len(words):
                rest = []
                for token in words[index + 2 :]:
                    if token in ("&&", "||", ";", "|", ";;") or token.endswith(";;"):
                        break
                    rest.append(token)
                yield words[index + 1], rest


def test_inputs_are_described_defaulted_and_used() -> None:
    inputs: dict[str, Any] = ACTION["inputs"]
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"inputs\.([\w-]+)", text))
    assert used == set(inputs)  # no input unused, none used undeclared
    for name, spec in inputs.items():
        assert spec["description"].strip(), name
        assert isinstance(spec["default"], str), name  # inputs are strings
    assert {"path", "match", "lang", "today", "baseline", "changed-since", "docs", "python-version"} <= set(inputs)


def test_steps_set_up_python_install_the_sandbox_at_the_action_ref_lint_and_check_docs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    steps = ACTION["runs"]["steps"]
    setup = steps[0]
    assert setup["uses"].startswith("actions/setup-python@")
    assert "cache" not in setup.get("with", {})  # `cache: pip` fails without a requirements file
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"
    install = steps[1]
    assert install["env"]["SANDBOX_SOURCE"] == "${{ github.action_path }}"
    assert '"$SANDBOX_SOURCE"' in install["run"] and "pip install" in install["run"]
    commands = [command for step in steps if "run" in step for command, _ in _sandbox_invocations(step["run"])]
    assert commands == ["lint", "docs", "docs"]
    for step in steps:
        assert "shell" in step or "uses" in step  # a composite step must name its shell
        for value in step.get("env", {}).values():  # inputs reach scripts through env, never spliced in
            assert isinstance(value, str)
        assert "${{" not in step.get("run", "")


def test_every_sandbox_command_and_option_exists_in_the_command_line() -> None:
    commands = _commands()
    defaults = {name: spec["default"] for name, spec in ACTION["inputs"].items()}
    checked = 0
    for step in ACTION["runs"]["steps"]:
        if "run" not in step:
            continue
        environment = {
            name: _EXPRESSION.sub(lambda m: defaults.get(m.group(1).removeprefix("inputs."), "x"), value)
            for name, value in step.get("env", {}).items()
        }
        for command, words in _sandbox_invocations(step["run"]):
            assert command in commands, command
            options = _options(commands[command])
            for index, word in enumerate(words):
                if not word.startswith("--"):
                    continue
                assert word in options, f"sandbox {command} has no option {word}"
                action = options[word]
                if action.choices is not None:  # a literal value, or an input's default, must be a choice
                    value = words[index + 1]
                    value = environment.get(value.strip('"$'), value) if value.startswith("$") else value
                    assert value in action.choices, f"{word} {value} not in {action.choices}"
                checked += 1
    assert checked == 8  # lint: 7 options (3 of them optional), docs: --check


def test_the_workflow_is_a_few_lines_that_use_the_action_with_no_placeholder() -> None:
    text = (ROOT / "docs" / "contributing-workflow.yml").read_text(encoding="utf-8")
    assert "OWNER" not in text and "cache: pip" not in text
    uses = [step["uses"] for job in WORKFLOW["jobs"].values() for step in job["steps"] if "uses" in step]
    ours = [u for u in uses if not u.startswith("actions/")]
    assert ours and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[\w.-]+", u) for u in ours)
    inputs = set(ACTION["inputs"])
    for job in WORKFLOW["jobs"].values():
        for step in job["steps"]:
            if step.get("uses") in ours:
                assert set(step.get("with", {})) <= inputs
    assert len([line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]) <= 40


def _render(value: str, inputs: Mapping[str, str], context: Mapping[str, str]) -> str:
    def evaluate(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("inputs."):
            return inputs[expression.removeprefix("inputs.")]
        return context[expression]

    return _EXPRESSION.sub(evaluate, value)


def _run_step(step: Mapping[str, Any], root: Path, inputs: Mapping[str, str], context: Mapping[str, str]) -> Any:
    """A `run` step as a runner runs it: bash -eo pipefail, its env rendered, in the workspace."""
    # the `sandbox` installed beside the interpreter running the tests (the install step's result)
    sandbox_bin = str(Path(sys.executable).parent)
    environment = {**os.environ, "PATH": sandbox_bin + os.pathsep + os.environ.get("PATH", "")}
    environment.update({k: _render(v, inputs, context) for k, v in step.get("env", {}).items()})
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_steps_run_on_a_pull_request(tmp_path: Path) -> None:
    """The lint and docs steps' scripts, run by bash on a repository whose last commit is the pull request."""
    repository = build(corpus_path("siade_staging_data"), tmp_path / "fixtures")
    base = git(repository.root, "rev-parse", "HEAD~1").strip()
    steps = {step["name"]: step for step in ACTION["runs"]["steps"]}
    inputs = {name: spec["default"] for name, spec in ACTION["inputs"].items()}
    inputs["today"] = "2026-04-28"
    context = {"github.action_path": str(ROOT), "github.event.pull_request.base.sha": base}
    lint = _run_step(steps["sandbox lint"], repository.root, inputs, context)
    print(f"\n[lint step] exit {lint.returncode}\n{lint.stdout}{lint.stderr}")
    assert lint.returncode == 1
    annotations = [line for line in lint.stdout.splitlines() if line.startswith(("::error", "::warning"))]
    assert len(annotations) == 3 and all(repository.broken in line for line in annotations)
    assert "::notice title=sandbox lint::" in lint.stdout and "modifié depuis" in lint.stdout  # French
    docs = _run_step(steps["sandbox docs"], repository.root, inputs, context)
    print(f"[docs step, check] exit {docs.returncode}\n{docs.stdout}{docs.stderr}")
    assert docs.returncode == 1 and "::warning title=sandbox docs::" in docs.stdout
    assert _run_step(steps["sandbox docs"], repository.root, {**inputs, "docs": "warn"}, context).returncode == 0
    repository.fix_broken()
    assert _run_step(steps["sandbox docs"], repository.root, {**inputs, "docs": "write"}, context).returncode == 0
    again = _run_step(steps["sandbox lint"], repository.root, inputs, context)
    assert again.returncode == 0, again.stdout
    assert _run_step(steps["sandbox docs"], repository.root, inputs, context).returncode == 0
    # outside a pull request: the whole repository, old findings included
    whole = _run_step(
        steps["sandbox lint"], repository.root, inputs, {**context, "github.event.pull_request.base.sha": ""}
    )
    assert whole.returncode == 1 and whole.stdout.count("::error") > 150


@pytest.mark.parametrize("value", ["bogus"])
def test_an_unknown_docs_value_fails_clearly(tmp_path: Path, value: str) -> None:
    repository = tmp_path / "r"
    shutil.copytree(ROOT / "payloads", repository / "payloads")
    steps = {step["name"]: step for step in ACTION["runs"]["steps"]}
    inputs = {name: spec["default"] for name, spec in ACTION["inputs"].items()}
    result = _run_step(steps["sandbox docs"], repository, {**inputs, "docs": value}, {})
    assert result.returncode == 1 and "docs must be check, warn, write or skip" in result.stdout
