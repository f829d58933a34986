"""The case agrees with itself: payload identifiers that follow from the params, no placeholder left.

`payload-identifier`: a payload field that repeats an identifying parameter (a SIREN, a
SIRET, an INE… per `sandbox/tools/payload_identifiers.yaml`) holds another value; the
finding points at the field's line inside the payload. `placeholder-text`: a title or
description still starts with the "À compléter" that `sandbox new-case` wrote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from sandbox.load.repository import Case
from sandbox.tools.lint.context import LintRun, OperationContext
from sandbox.tools.lint.reading import CaseFile
from sandbox.tools.payload_identifiers import mismatches
from sandbox.tools.placeholders import is_placeholder

__all__ = ["check_consistency"]

# The block scalar that holds the JSON text: its lines are the file's lines, one for one.
_BLOCK_PAYLOAD = re.compile(r"^payload:\s*[|>][-+0-9]*\s*(?:#.*)?$")
_PLACEHOLDER_KEYS = ("title", "description")


def check_consistency(run: LintRun, context: OperationContext, file: CaseFile, case: Case) -> None:
    for key in _PLACEHOLDER_KEYS:
        if isinstance(file.data, dict) and is_placeholder(file.data.get(key)):
            run.add("placeholder-text", file.rel, file.lines.get(key), key=key, text=str(file.data[key])[:80])
    found = mismatches(context.operation.id, case.params, case.payload)
    if not found:
        return
    raw = file.data.get("payload") if isinstance(file.data, dict) else None
    for mismatch in found:
        run.add(
            "payload-identifier",
            file.rel,
            _payload_line(file, raw, mismatch.parts),
            field="payload" + mismatch.pointer,
            pointer=mismatch.pointer,
            actual=mismatch.actual,
            name=mismatch.param,
            value=mismatch.value,
            expected=mismatch.expected,
        )


def _payload_line(file: CaseFile, raw: Any, parts: Sequence[str | int]) -> int | None:
    """The file line of the value at `parts` inside the payload's JSON, else the line of `payload:`."""
    start = file.lines.get("payload")
    if start is None or not isinstance(raw, str):
        return start
    lines = file.text.split("\n")
    if start > len(lines) or not _BLOCK_PAYLOAD.match(lines[start - 1]):
        return start  # a quoted or inline payload: its lines do not map one for one
    try:
        node: yaml.Node | None = yaml.compose(raw, Loader=yaml.CSafeLoader)  # JSON is YAML: nodes have marks
    except yaml.YAMLError:
        return start
    for part in parts:
        node = _child(node, part)
        if node is None:
            return start
    assert node is not None
    return start + 1 + node.start_mark.line


def _child(node: yaml.Node | None, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        return next((value for key, value in node.value if getattr(key, "value", None) == part), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None
