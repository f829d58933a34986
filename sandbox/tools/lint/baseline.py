"""The baseline: the findings a repository knows about and tolerates, so that only new ones fail.

A repository adopts `sandbox lint` in one step: `--write-baseline FILE` records every current
finding, `--baseline FILE` then fails only on findings the file does not list. A finding is
identified by its rule, its file and its field (`params.siren`, `payload/data/siren`,
`status`, or "" for the whole file), never by its line, which moves when a file is edited
above it, nor by its message, which quotes values and changes with `--lang`. The file is JSON,
sorted, one finding per line, so that a pull request that fixes one shows one removed line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sandbox.tools.lint.report import Finding

__all__ = ["FORMAT", "Baseline", "BaselineError", "Identity", "identity", "read_baseline", "write_baseline"]

FORMAT = "sandbox-lint-baseline/1"
# A baseline lists findings, a few hundred bytes each: anything larger is not one.
MAX_BASELINE_BYTES = 16 * 1024 * 1024

Identity = tuple[str, str, str]  # rule, file, field


def identity(finding: Finding) -> Identity:
    return (finding.rule, finding.file, finding.field)


class BaselineError(ValueError):
    """The baseline file cannot be read or is not a baseline."""


@dataclass(frozen=True, slots=True)
class Baseline:
    """Known findings, each with how many times it may occur."""

    known: Counter[Identity]
    match: str | None = None

    @classmethod
    def of(cls, findings: Iterable[Finding], match: str | None = None) -> Baseline:
        return cls(Counter(identity(f) for f in findings), match)

    def new(self, findings: Sequence[Finding]) -> list[Finding]:
        """The findings the baseline does not account for, in their order."""
        left = Counter(self.known)
        fresh = []
        for finding in findings:
            key = identity(finding)
            if left[key] > 0:
                left[key] -= 1
            else:
                fresh.append(finding)
        return fresh

    def fixed(self, findings: Sequence[Finding], within: Callable[[str], bool]) -> Counter[Identity]:
        """Known findings of the files `within` says were checked, that are no longer found."""
        gone = self.known - Counter(identity(f) for f in findings)
        return Counter({key: count for key, count in gone.items() if within(key[1])})

    def __len__(self) -> int:
        return sum(self.known.values())


def read_baseline(path: Path) -> Baseline:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BASELINE_BYTES + 1)
    except OSError as error:
        raise BaselineError(f"{path}: cannot be read ({error.strerror or error})") from None
    if len(raw) > MAX_BASELINE_BYTES:
        raise BaselineError(f"{path}: over {MAX_BASELINE_BYTES} bytes, not a baseline")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineError(f"{path}: not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BaselineError(f'{path}: not a baseline (expected a JSON object with "format": "{FORMAT}")')
    entries = document.get("findings")
    if not isinstance(entries, list):
        raise BaselineError(f"{path}: `findings` must be a list")
    known: Counter[Identity] = Counter()
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("rule", "file")):
            raise BaselineError(f"{path}: finding {number} needs `rule` and `file` (strings)")
        field = entry.get("field", "")
        count = entry.get("count", 1)
        if not isinstance(field, str) or isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise BaselineError(f"{path}: finding {number}: `field` must be a string and `count` a positive integer")
        known[(entry["rule"], entry["file"], field)] += count
    match = document.get("match")
    return Baseline(known, match if isinstance(match, str) else None)


def baseline_text(baseline: Baseline) -> str:
    """The baseline as written: sorted by file, field and rule, one finding per line."""
    lines = []
    for (rule, file, field), count in sorted(
        baseline.known.items(), key=lambda item: (item[0][1], item[0][2], item[0][0])
    ):
        entry: dict[str, object] = {"file": file, "field": field, "rule": rule}
        if count > 1:
            entry["count"] = count
        lines.append("    " + json.dumps(entry, ensure_ascii=False))
    header = json.dumps(FORMAT)
    match = json.dumps(baseline.match)
    body = ",\n".join(lines)
    findings = f"[\n{body}\n  ]" if lines else "[]"
    return f'{{\n  "format": {header},\n  "match": {match},\n  "findings": {findings}\n}}\n'


def write_baseline(path: Path, baseline: Baseline) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(baseline_text(baseline), encoding="utf-8")
    temporary.replace(path)
