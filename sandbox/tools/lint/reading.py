"""Reading one case file as the server reads it, and where its keys are.

Files are read through `sandbox.load.repository_files` (nothing outside the repository,
bounded sizes, bounded aliases). A file that cannot be read or parsed is a finding, never
a crash; line numbers of top-level keys and of each key of `params:` point every later
finding at its line.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sandbox.load.repository import Case
from sandbox.load.repository_files import Entry, RefusedFile, control_character, load_yaml
from sandbox.tools.lint.context import LintRun
from sandbox.tools.lint.messages import localised

__all__ = ["CaseFile", "folder_entries", "read_case_file"]

_ANCHOR_HINT = re.compile(r"(?:^|[\s\[{,:-])[&*][^\s,\[\]{}]")
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.M)
_PARAM_KEY = re.compile(r"\s*(?:'((?:[^']|'')*)'|\"((?:[^\"\\]|\\.)*)\"|([^\s:#'\"][^:#]*?))\s*:(?:\s|$)")
_UNQUOTED_DATE = re.compile(r"^\s*(?:-\s+)?([^\s:#][^:#]*?)\s*:\s+(\d{4}-\d{1,2}-\d{1,2}(?:[Tt ][^#]*)?)\s*(?:#.*)?$")


@dataclass(slots=True)
class CaseFile:
    folder: str
    name: str
    rel: str
    text: str
    data: Any = None
    lines: dict[str, int] = field(default_factory=dict)
    param_lines: dict[str, int] = field(default_factory=dict)
    case: Case | None = None
    failed: bool = False  # unreadable or not YAML: already reported, nothing more to check

    def param_line(self, name: str) -> int | None:
        """The line of the params key `name`, else the line of `params:`."""
        return self.param_lines.get(name) or self.lines.get("params")

    def field_at(self, line: int | None) -> str:
        """The case key `line` belongs to (`params.siren`, `status`…): what stays when lines above move."""
        if line is None:
            return ""
        for name, number in self.param_lines.items():
            if number == line:
                return f"params.{name}"
        above = [(number, key) for key, number in self.lines.items() if number <= line]
        return max(above)[1] if above else ""


def _key_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for match in _TOP_KEY.finditer(text):
        lines.setdefault(match.group(1), text.count("\n", 0, match.start()) + 1)
    return lines


def _param_lines(text: str, params_line: int | None) -> dict[str, int]:
    """1-based line of each key of the `params:` block (block style; flow style gives none)."""
    found: dict[str, int] = {}
    if params_line is None:
        return found
    lines = text.split("\n")
    indent: int | None = None
    for index in range(params_line, len(lines)):
        line = lines[index]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current = len(line) - len(line.lstrip(" "))
        if current == 0:
            break
        if indent is None:
            indent = current
        if current != indent:
            continue
        match = _PARAM_KEY.match(line)
        if match:
            quoted, double, plain = match.groups()
            name = quoted.replace("''", "'") if quoted is not None else double if double is not None else plain
            found.setdefault(name, index + 1)
    return found


def _yaml_line(error: Exception) -> int | None:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return int(mark.line) + 1 if mark is not None else None


def _yaml_detail(error: Exception) -> str:
    problem = getattr(error, "problem", None)
    context = getattr(error, "context", None)
    if isinstance(problem, str):
        return f"{context} {problem}" if isinstance(context, str) else problem
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _contains_date(value: Any) -> bool:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return True
    if isinstance(value, dict):
        return any(_contains_date(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_date(v) for v in value)
    return False


def folder_entries(run: LintRun, folder: Path, rel: str, wanted: Callable[[Entry], bool]) -> list[Entry]:
    """The wanted names of a folder of the repository; links leading outside it are findings."""
    try:
        if run.tree.folder(folder) is None:
            return []
        entries = [entry for entry in run.tree.entries(folder) if wanted(entry)]
    except (OSError, RefusedFile) as error:
        run.add("unreadable-file", rel, None, detail=localised(str(error), run.lang))
        return []
    for entry in entries:
        if entry.refused is not None:
            run.add("unreadable-file", f"{rel}/{entry.name}", None, detail=localised(entry.refused, run.lang))
    return entries


def read_case_file(run: LintRun, folder: str, entry: Entry, cases: Mapping[tuple[str, str], Case]) -> CaseFile:
    run.files += 1
    rel = f"payloads/{folder}/{entry.name}"
    try:
        if (character := control_character(entry.name)) is not None:
            raise RefusedFile(f"name holding the control character {character}, which no HTTP header can carry")
        limit = run.tree.limits.case_bytes
        text = run.tree.read_text(entry.path, limit, "--max-case-bytes")
    except (OSError, UnicodeDecodeError, RefusedFile) as error:
        run.add("unreadable-file", rel, None, detail=localised(str(error).splitlines()[0], run.lang))
        return CaseFile(folder, entry.name, rel, "", failed=True)
    file = CaseFile(folder, entry.name, rel, text)
    run.fields[rel] = file.field_at
    file.case = cases.get((folder, entry.name))
    file.lines = dict(file.case.lines) if file.case is not None else _key_lines(text)
    try:
        document = load_yaml(text, run.tree.limits)
    except (yaml.YAMLError, RecursionError) as error:
        run.add("invalid-yaml", rel, _yaml_line(error), detail=localised(_yaml_detail(error), run.lang))
        file.case = None
        file.failed = True
        return file
    file.data = document.data
    for line, key in document.duplicates:
        run.add("yaml-duplicate-key", rel, line, key=key)
    file.param_lines = _param_lines(text, file.lines.get("params"))
    _yaml_safety(run, file)
    return file


def _yaml_safety(run: LintRun, file: CaseFile) -> None:
    """What Ruby's safe loader refuses and PyYAML's accepts: anchors, aliases, dates."""
    if _ANCHOR_HINT.search(file.text):
        try:
            for event in yaml.parse(file.text, Loader=yaml.CSafeLoader):
                if isinstance(event, yaml.AliasEvent):  # an anchor alone loads; its alias does not
                    mark = event.start_mark.line + 1 if event.start_mark is not None else None
                    run.add("yaml-alias", file.rel, mark, name=f"*{event.anchor}")
        except yaml.YAMLError:
            pass
    if _contains_date(file.data):
        reported = False
        for number, line in enumerate(file.text.split("\n"), start=1):
            match = _UNQUOTED_DATE.match(line)
            if match and not match.group(1).startswith(("'", '"')):
                run.add("yaml-date", file.rel, number, key=match.group(1), value=match.group(2).strip())
                reported = True
        if not reported:
            run.add("yaml-date", file.rel, file.lines.get("params"), key="params", value="…")
