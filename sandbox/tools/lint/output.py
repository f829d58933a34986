"""The three forms of a lint report: text (a finding and its fix per line pair), JSON, GitHub annotations."""

from __future__ import annotations

import json
import os

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


def format_findings(report: LintReport, output_format: str = "text", prefix: str = "") -> str:
    """The report as text (one finding and its fix per line pair), JSON (a list) or GitHub annotations."""

    def where(finding: Finding) -> str:
        return os.path.normpath(os.path.join(prefix, finding.file)) if prefix else finding.file

    if output_format == "json":
        items = [{**f.as_dict(), "file": where(f)} for f in report.findings]
        return json.dumps(items, ensure_ascii=False, indent=2)
    lines = []
    for finding in report.findings:
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
        errors=len(report.errors),
        warnings=len(report.warnings),
        files=report.files,
        mode=report.mode.value,
        today=report.today.isoformat(),
    )
    if output_format == "github":
        lines.append(f"::notice title=sandbox lint::{_github_data(summary)}")
    else:
        lines.append(summary)
    return "\n".join(lines)
