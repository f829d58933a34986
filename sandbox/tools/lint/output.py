"""The three forms of a lint report: text (a finding and its fix per line pair), JSON, GitHub annotations."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from sandbox.tools.lint.report import Finding, LintReport

__all__ = ["format_findings"]

_SUMMARY = {
    "en": "{errors} error(s), {warnings} warning(s) in {files} file(s) ({mode} mode, today {today})",
    "fr": "{errors} erreur(s), {warnings} avertissement(s) dans {files} fichier(s) (mode {mode}, date {today})",
}
_SEVERITY = {"en": {"error": "error", "warning": "warning"}, "fr": {"error": "erreur", "warning": "avertissement"}}
_HINT = {"en": "fix", "fr": "correctif"}


def _github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def format_findings(
    report: LintReport,
    output_format: str = "text",
    prefix: str = "",
    *,
    shown: Sequence[Finding] | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The report as text (one finding and its fix per line pair), JSON (a list) or GitHub annotations.

    `shown` is the findings to print, in their order (default: all of the report); `notes` are
    lines added after the summary (what a baseline tolerated, what is left out of the scope).
    """
    findings = report.findings if shown is None else tuple(shown)

    def where(finding: Finding) -> str:
        return os.path.normpath(os.path.join(prefix, finding.file)) if prefix else finding.file

    if output_format == "json":
        items = [{**f.as_dict(), "file": where(f)} for f in findings]
        return json.dumps(items, ensure_ascii=False, indent=2)
    lines = []
    for finding in findings:
        if output_format == "github":
            props = f"file={_github_property(where(finding))}"
            if finding.line:
                props += f",line={finding.line}"
            props += f",title={_github_property(finding.rule)}"
            text = f"{finding.message} — {finding.hint}"
            lines.append(f"::{finding.severity} {props}::{_github_data(text)}")
        else:
            location = f"{where(finding)}:{finding.line}" if finding.line else where(finding)
            severity = _SEVERITY[report.lang][finding.severity]
            lines.append(f"{location}: {severity} [{finding.rule}] {finding.message}")
            lines.append(f"    {_HINT[report.lang]}: {finding.hint}")
    summary = _SUMMARY[report.lang].format(
        errors=sum(f.severity == "error" for f in findings),
        warnings=sum(f.severity == "warning" for f in findings),
        files=report.files,
        mode=report.mode.value,
        today=report.today.isoformat(),
    )
    for text in (summary, *notes):
        lines.append(f"::notice title=sandbox lint::{_github_data(text)}" if output_format == "github" else text)
    return "\n".join(lines)
