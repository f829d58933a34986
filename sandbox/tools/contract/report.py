"""What a contract run found, and its two reports: a text summary per operation and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sandbox.load.repository import Case
from sandbox.serve.response_validation import SchemaOutcome
from sandbox.tools.contract.planning import PlannedCase

Outcome = Literal["passed", "failed", "xfailed", "skipped"]


@dataclass(slots=True)
class CaseResult:
    planned: PlannedCase
    outcome: Outcome
    messages: list[str] = field(default_factory=list)
    status: int | None = None
    schema: SchemaOutcome | None = None
    duration_s: float = 0.0
    attempts: int = 0
    skip_reason: str | None = None  # why the run did not check it (the rate limits kept it waiting)

    @property
    def case(self) -> Case:
        return self.planned.case

    @property
    def operation_id(self) -> str:
        return self.planned.operation_id

    @property
    def reason(self) -> str | None:
        if self.skip_reason is not None:
            return self.skip_reason
        if self.planned.expected_failure is not None:
            return self.planned.expected_failure.reason
        return self.planned.skip_reason

    @property
    def unexpectedly_passed(self) -> bool:
        return self.outcome == "passed" and self.planned.expected_failure is not None


@dataclass(slots=True)
class ContractReport:
    base_url: str
    fixtures: str
    results: list[CaseResult]
    duration_s: float
    lint_source: str
    schema_notes: list[str] = field(default_factory=list)
    throttled: int = 0  # 429s of the server's rate limiter, each one sent again after Retry-After
    waited_s: float = 0.0  # time requests waited for the rate limits, summed over requests

    @property
    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter({"passed": 0, "failed": 0, "xfailed": 0, "skipped": 0})
        counts.update(r.outcome for r in self.results)
        return counts

    @property
    def ok(self) -> bool:
        return self.counts["failed"] == 0

    def by_operation(self) -> dict[str, list[CaseResult]]:
        grouped: dict[str, list[CaseResult]] = {}
        for result in self.results:
            grouped.setdefault(result.operation_id, []).append(result)
        return grouped

    def expected_failures_by_category(self) -> Counter[str]:
        return Counter(
            r.planned.expected_failure.category
            for r in self.results
            if r.outcome == "xfailed" and r.planned.expected_failure is not None
        )

    def total_line(self) -> str:
        return total_line(self.counts)


def total_line(counts: Mapping[Any, int]) -> str:
    """`N passed, N failed`, then `, N expected failures` and `, N skipped` when there are any."""
    line = f"{counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed"
    if counts.get("xfailed"):
        line += f", {counts['xfailed']} expected failure" + ("s" if counts["xfailed"] != 1 else "")
    if counts.get("skipped"):
        line += f", {counts['skipped']} skipped"
    return line


def _indent(lines: Iterable[str], prefix: str = "      ") -> list[str]:
    return [prefix + line for line in lines]


def format_report(report: ContractReport) -> list[str]:
    lines = [f"Contract of {report.fixtures} against {report.base_url}"]
    for operation_id, results in report.by_operation().items():
        counts = Counter(r.outcome for r in results)
        lines.append(f"{operation_id}: {total_line(counts)}")
        for result in results:
            source = result.case.source
            if result.outcome == "failed":
                lines.append(f"  FAILED {source}")
                lines.extend(_indent(result.messages))
            elif result.outcome == "xfailed":
                lines.append(f"  XFAIL  {source}: {result.reason}")
            elif result.outcome == "skipped":
                lines.append(f"  SKIP   {source}: {result.reason}")
            elif result.unexpectedly_passed:
                lines.append(f"  XPASS  {source}: answered as documented although {result.reason}")
            if result.schema is not None and result.schema.verdict == "undocumented" and result.outcome != "xfailed":
                lines.append(f"  NOTE   {source}: status {result.status} is not documented in the OpenAPI document")
    categories = report.expected_failures_by_category()
    if categories:
        lines.append("Expected failures by reason:")
        lines.extend(f"  {count} {category}" for category, count in categories.most_common())
    if report.schema_notes:
        lines.append("OpenAPI schemas read with a workaround:")
        lines.extend(f"  {note}" for note in report.schema_notes)
    lines.append(f"Expected failures from the lint: {report.lint_source}")
    if report.throttled or report.waited_s >= 0.5:
        lines.append(
            f"Rate limits: {report.throttled} answer(s) 429 sent again after Retry-After; "
            f"requests waited {report.waited_s:.1f} s in all for the server's limits"
        )
    lines.append(f"{report.total_line()} in {report.duration_s:.1f}s")
    return lines


def _failure_text(result: CaseResult) -> str:
    parts = [f"{result.planned.request.method} {result.planned.request.target}"] if result.planned.request else []
    parts.append(f"case: {result.case.source} (status {result.case.status})")
    parts.extend(result.messages)
    return "\n".join(parts)


def junit_tree(report: ContractReport) -> ET.ElementTree:
    counts = report.counts
    root = ET.Element(
        "testsuites",
        {
            "name": "sandbox contract",
            "tests": str(len(report.results)),
            "failures": str(counts["failed"]),
            "errors": "0",
            "skipped": str(counts["xfailed"] + counts["skipped"]),
            "time": f"{report.duration_s:.3f}",
        },
    )
    for operation_id, results in report.by_operation().items():
        suite_counts = Counter(r.outcome for r in results)
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": operation_id,
                "tests": str(len(results)),
                "failures": str(suite_counts["failed"]),
                "errors": "0",
                "skipped": str(suite_counts["xfailed"] + suite_counts["skipped"]),
                "time": f"{sum(r.duration_s for r in results):.3f}",
            },
        )
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", {"name": "base_url", "value": report.base_url})
        ET.SubElement(properties, "property", {"name": "fixtures", "value": report.fixtures})
        for result in results:
            case = ET.SubElement(
                suite,
                "testcase",
                {
                    "classname": operation_id,
                    "name": result.case.file,
                    "file": result.case.source,
                    "time": f"{result.duration_s:.3f}",
                },
            )
            if result.outcome == "failed":
                first = result.messages[0] if result.messages else "failed"
                failure = ET.SubElement(case, "failure", {"type": "contract", "message": first})
                failure.text = _failure_text(result)
            elif result.outcome == "xfailed":
                ET.SubElement(case, "skipped", {"type": "xfail", "message": f"expected failure: {result.reason}"})
                ET.SubElement(case, "system-out").text = _failure_text(result)
            elif result.outcome == "skipped":
                ET.SubElement(case, "skipped", {"type": "skip", "message": result.reason or "skipped"})
            elif result.unexpectedly_passed:
                ET.SubElement(case, "system-out").text = f"passed although expected to fail: {result.reason}"
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report: ContractReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_tree(report).write(path, encoding="utf-8", xml_declaration=True)
