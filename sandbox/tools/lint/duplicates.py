"""Duplicate rules (spec §9.2, and after normalisation): two cases of a folder the server cannot tell apart.

Equal params are the upstream check; equal lookup keys in the chosen match mode are what
the server sees. In both, the later file (in path order) wins, as on the server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sandbox.tools.lint.context import LintRun, OperationContext
from sandbox.tools.lint.reading import CaseFile

__all__ = ["check_duplicates"]


def check_duplicates(run: LintRun, context: OperationContext, files: Sequence[CaseFile]) -> None:
    raw: dict[str, CaseFile] = {}
    keyed: dict[str, CaseFile] = {}
    for file in files:  # path order: the later file wins, as on the server
        assert file.case is not None
        params = file.case.params
        raw_key = json.dumps(params, sort_keys=True, default=str)
        key = context.keys.case_key(params)
        if raw_key in raw:
            run.add(
                "duplicate-params",
                raw[raw_key].rel,
                raw[raw_key].lines.get("params"),
                related=file.rel,
                other=file.name,
            )
        elif key in keyed:
            run.add(
                "duplicate-key",
                keyed[key].rel,
                keyed[key].lines.get("params"),
                related=file.rel,
                other=file.name,
                mode=run.mode.value,
                key=key or "∅",
            )
        raw[raw_key] = file
        keyed[key] = file
