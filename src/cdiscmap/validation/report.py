"""Reports of a validation: console summary, findings.json, findings.html, JUnit XML, Excel.

All files are deterministic (findings in a fixed order, no clock, no absolute paths) and written
atomically. findings.json reads back into the same findings (:func:`read_findings_json`);
findings.junit.xml has one testsuite per dataset and one testcase per rule run on it, failed
when the rule found errors, so CI systems show validation results like test results.
findings.xlsx has the sheets Pinnacle 21 users read (Dataset Summary, Issue Summary, Issue
Details, Rules), so a reviewer used to that layout finds the same things in the same places;
its Rules sheet names the CDISC CORE rule and IG section of each rule (checks/core_map.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from lxml import etree
from rich.console import Console
from rich.table import Table

from cdiscmap import __version__
from cdiscmap.checks.core_map import CORE
from cdiscmap.emit.atomic import Staging, atomic_write_bytes
from cdiscmap.emit.xlsx import workbook_bytes
from cdiscmap.errors import InputDataError, display_path
from cdiscmap.findings import FINDING_COLUMNS, Finding, Findings, Severity
from cdiscmap.validation.folder import ValidationReport, rule_catalogue

if TYPE_CHECKING:
    from openpyxl import Workbook

__all__ = ["xml_text", "JSON_NAME", "HTML_NAME", "JUNIT_NAME", "PACKAGE_SUITE", "XLSX_NAME",
           "findings_document", "findings_workbook", "print_summary", "read_findings_json",
           "write_findings_html", "write_findings_json", "write_findings_xlsx",
           "write_junit_xml", "write_reports"]

JSON_NAME = "findings.json"
HTML_NAME = "findings.html"
JUNIT_NAME = "findings.junit.xml"
XLSX_NAME = "findings.xlsx"
PACKAGE_SUITE = "(package)"        # testsuite of findings about no single dataset
MAX_LINES = 50                     # findings listed per JUnit testcase before "... and N more"
SEVERITY_ORDER = (Severity.ERROR, Severity.WARNING, Severity.NOTICE)
# XML 1.0 §2.2: control characters other than tab, newline and carriage return are not allowed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Text that XML 1.0 can hold: data values may carry control characters."""
    return _NOT_XML.sub("\ufffd", text)


def _ordered(findings: Findings) -> list[Finding]:
    """Findings in the order of :meth:`Findings.to_frame` (severity, rule, dataset, ...)."""
    def key(f: Finding) -> tuple:
        return (-f.severity.rank, f.rule, f.dataset, f.usubjid, f.variable, f.source, f.value)
    return sorted(findings, key=key)


def _explanations(findings: Iterable[Finding]) -> dict[str, str]:
    catalogue = rule_catalogue()
    return {f.rule: catalogue[f.rule][1] if f.rule in catalogue else "" for f in findings}


def _write(path: Path, data: bytes) -> Path:
    return atomic_write_bytes(path, data, parents=True)


# ============================================================================================
# Console
# ============================================================================================
def print_summary(report: ValidationReport, console: Console | None = None, *,
                  limit: int = 20) -> None:
    """Datasets read, findings per severity, and the first ``limit`` errors and warnings."""
    console = console or Console(highlight=False, soft_wrap=True)
    datasets = Table(title=f"Datasets in {report.folder.name}")
    for column in ("dataset", "file", "standard", "records", "variables"):
        datasets.add_column(column, justify="right" if column in ("records", "variables")
                            else "left")
    for seen in report.datasets:
        datasets.add_row(seen.name, seen.path, seen.standard, str(seen.records),
                         str(seen.variables))
    console.print(datasets)
    ordered = _ordered(report.findings)
    serious = [f for f in ordered if f.severity != Severity.NOTICE]
    if serious:
        table = Table(title="Errors and warnings" + (f" (first {limit})"
                                                     if len(serious) > limit else ""))
        for column in ("severity", "rule", "dataset", "subject", "variable", "value",
                       "count", "message"):
            table.add_column(column)
        for f in serious[:limit]:
            table.add_row(f.severity.value, f.rule, f.dataset, f.usubjid, f.variable,
                          f.value, str(f.count), f.message)
        console.print(table)
    counts, rows = report.counts(), report.distinct()

    def shown(severity: str) -> str:
        # rows of the report; the records they stand for when findings were folded
        text = f"{rows[severity]} {severity}s"
        return text if counts[severity] == rows[severity] else \
            f"{text} ({counts[severity]} records)"

    defines = ", ".join(report.defines) or "none"
    console.print(f"Findings: {shown('error')}, {shown('warning')}, {shown('notice')} in "
                  f"{len(report.datasets)} datasets (define: {defines}).")


# ============================================================================================
# findings.json
# ============================================================================================
def findings_document(report: ValidationReport) -> dict[str, object]:
    ordered = _ordered(report.findings)
    catalogue = rule_catalogue()
    rules = sorted({f.rule for f in ordered})
    return {
        "tool": "cdiscmap validate",
        "version": __version__,
        "folder": report.folder.name,
        "counts": report.counts(),
        "datasets": [asdict(d) for d in report.datasets],
        "defines": report.defines,
        "references": report.references,
        "ignored": report.ignored,
        "rules": {r: {"severity": catalogue[r][0].value, "explanation": catalogue[r][1]}
                  for r in rules if r in catalogue},
        "findings": [f.as_dict() for f in ordered],
    }


def write_findings_json(report: ValidationReport, path: Path) -> Path:
    text = json.dumps(findings_document(report), indent=1, ensure_ascii=False) + "\n"
    return _write(path, text.encode("utf-8"))


def read_findings_json(path: Path) -> Findings:
    """The findings of a findings.json written by :func:`write_findings_json`."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        items = [Finding(**{**{k: row[k] for k in FINDING_COLUMNS},
                            "severity": Severity(row["severity"])})
                 for row in document["findings"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputDataError(f"{display_path(path)}: not a cdiscmap findings.json ({exc})"
                             ) from None
    return Findings(items)


# ============================================================================================
# findings.html
# ============================================================================================
_HTML = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                           undefined=jinja2.StrictUndefined).from_string("""\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cdiscmap validate: {{ folder }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.n { text-align: right; }
h2.error { color: #a40000; } h2.warning { color: #8a5a00; } h2.notice { color: #245; }
code { font-size: 95%; }
</style>
</head>
<body>
<h1>Validation of {{ folder }}</h1>
<p>cdiscmap {{ version }}. {{ rows.error }} errors, {{ rows.warning }} warnings,
{{ rows.notice }} notices ({{ counts.error }}, {{ counts.warning }} and {{ counts.notice }}
records) in {{ datasets|length }} datasets.
Define: {{ defines|join(", ") if defines else "none" }}.</p>
<h2>Datasets</h2>
<table>
<tr><th>Dataset</th><th>File</th><th>Standard</th><th>Records</th><th>Variables</th></tr>
{% for d in datasets %}
<tr><td>{{ d.name }}</td><td><code>{{ d.path }}</code></td><td>{{ d.standard }}</td>
<td class="n">{{ d.records }}</td><td class="n">{{ d.variables }}</td></tr>
{% endfor %}
</table>
{% for severity, rows in sections %}
<h2 class="{{ severity }}">{{ severity|capitalize }}s ({{ rows|length }})</h2>
{% if rows %}
<table>
<tr><th>Rule</th><th>Explanation</th><th>Dataset</th><th>Subject</th><th>Variable</th>
<th>Value</th><th>Source</th><th>Count</th><th>Message</th></tr>
{% for f in rows %}
<tr><td>{{ f.rule }}</td><td>{{ explanations[f.rule] }}</td><td>{{ f.dataset }}</td>
<td>{{ f.usubjid }}</td><td>{{ f.variable }}</td><td><code>{{ f.value }}</code></td>
<td>{{ f.source }}</td><td class="n">{{ f.count }}</td><td>{{ f.message }}</td></tr>
{% endfor %}
</table>
{% else %}
<p>None.</p>
{% endif %}
{% endfor %}
{% if ignored %}
<p>Not datasets, not read: {{ ignored|join(", ") }}.</p>
{% endif %}
</body>
</html>
""")


def write_findings_html(report: ValidationReport, path: Path) -> Path:
    ordered = _ordered(report.findings)
    sections = [(severity.value, [f for f in ordered if f.severity == severity])
                for severity in SEVERITY_ORDER]
    html = _HTML.render(folder=report.folder.name, version=__version__,
                        counts=report.counts(), rows=report.distinct(),
                        datasets=report.datasets,
                        defines=report.defines, sections=sections,
                        explanations=_explanations(ordered), ignored=report.ignored)
    return _write(path, html.encode("utf-8"))


# ============================================================================================
# JUnit XML
# ============================================================================================
def _line(f: Finding) -> str:
    where = ", ".join(part for part in (
        f"subject {f.usubjid}" if f.usubjid else "", f"variable {f.variable}" if f.variable
        else "", f"value {f.value!r}" if f.value else "", f.source,
        f"{f.count} records" if f.count > 1 else "") if part)
    return f"[{f.severity.value}] {f.message}" + (f" ({where})" if where else "")


def _lines(findings: list[Finding]) -> str:
    shown = [_line(f) for f in findings[:MAX_LINES]]
    if len(findings) > MAX_LINES:
        shown.append(f"... and {len(findings) - MAX_LINES} more findings (see findings.html)")
    return "\n".join(shown)


def write_junit_xml(report: ValidationReport, path: Path) -> Path:
    """One testsuite per dataset, one testcase per rule run; errors fail the testcase.

    Warnings and notices do not fail a testcase: they are listed in its system-out.
    """
    by_suite: dict[str, dict[str, list[Finding]]] = {}
    for f in _ordered(report.findings):
        by_suite.setdefault(f.dataset or PACKAGE_SUITE, {}).setdefault(f.rule, []).append(f)
    suites = sorted(set(report.rules_run) | set(by_suite),
                    key=lambda name: (name == PACKAGE_SUITE, name))
    catalogue = rule_catalogue()
    root = etree.Element("testsuites",
                         name=xml_text(f"cdiscmap validate {report.folder.name}"))
    total_tests = total_failures = 0
    for suite_name in suites:
        found = by_suite.get(suite_name, {})
        rules = sorted(set(report.rules_run.get(suite_name, [])) | set(found))
        suite = etree.SubElement(root, "testsuite", name=xml_text(suite_name))
        failures = 0
        for rule in rules:
            explanation = catalogue[rule][1] if rule in catalogue else ""
            case = etree.SubElement(suite, "testcase",
                                    classname=xml_text(f"cdiscmap.validate.{suite_name}"),
                                    name=xml_text(f"{rule} {explanation}".strip()))
            hits = found.get(rule, [])
            errors = [f for f in hits if f.severity == Severity.ERROR]
            others = [f for f in hits if f.severity != Severity.ERROR]
            if errors:
                failures += 1
                records = sum(f.count for f in errors)
                failure = etree.SubElement(case, "failure", type="error",
                                           message=xml_text(
                                               f"{len(errors)} finding(s), {records} "
                                               f"record(s): {errors[0].message}"))
                failure.text = xml_text(_lines(errors))
            if others:
                out = etree.SubElement(case, "system-out")
                out.text = xml_text(_lines(others))
        suite.set("tests", str(len(rules)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total_tests += len(rules)
        total_failures += failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return _write(path, data)


# ============================================================================================
# findings.xlsx
# ============================================================================================
DATASET_SUMMARY = ("Dataset", "File", "Standard", "Records", "Variables", "Errors", "Warnings",
                   "Notices")
ISSUE_SUMMARY = ("Rule", "Severity", "Message", "Dataset", "Count")
ISSUE_DETAILS = ("Rule", "Severity", "Dataset", "Subject", "Variable", "Value", "Source",
                 "Count", "Message")
RULES_SHEET = ("Rule", "Severity", "Description", "CORE", "Conformance", "IG section")
# column widths in characters, per sheet (fixed, so the bytes do not depend on the data)
_WIDTHS = {"Dataset Summary": (12, 24, 10, 10, 10, 10, 10, 10),
           "Issue Summary": (10, 10, 80, 12, 10),
           "Issue Details": (10, 10, 12, 16, 12, 24, 24, 8, 80),
           "Rules": (10, 10, 80, 40, 32, 28)}


def _cell(value: object) -> object:
    """Text without the control characters XML refuses (data values may carry them)."""
    if not isinstance(value, str):
        return value
    return xml_text(value)


def _sheet(book: Workbook, title: str, header: tuple[str, ...], rows: Iterable[Iterable[object]],
           *, first: bool = False) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = book.active if first else book.create_sheet(title)
    sheet.title = title
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for number, row in enumerate(rows, start=2):
        values = [_cell(v) for v in row]
        sheet.append(values)
        # text starting with '=' is data, not a formula; only such text can be one, so only
        # its cells are looked at (``sheet[sheet.max_row]`` scans every cell for the size)
        for column, value in enumerate(values, start=1):
            if isinstance(value, str) and value.startswith("="):
                cell = sheet.cell(row=number, column=column)
                if cell.data_type == "f":
                    cell.data_type = "s"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{sheet.max_row}"
    for i, width in enumerate(_WIDTHS[title], start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width


def _by_severity(findings: Iterable[Finding]) -> dict[str, dict[str, int]]:
    """Records per dataset and severity (a folded finding counts its records)."""
    totals: dict[str, dict[str, int]] = {}
    for f in findings:
        per = totals.setdefault(f.dataset, {s.value: 0 for s in Severity})
        per[f.severity.value] += f.count
    return totals


def findings_workbook(report: ValidationReport) -> bytes:
    """findings.xlsx as bytes: Dataset Summary, Issue Summary, Issue Details and Rules.

    Dataset Summary has a row per dataset read, then one per dataset named only by findings
    (a define.xml dataset without a file) and one ``(package)`` row for findings about no
    dataset; Errors/Warnings/Notices count records, as ``ValidationReport.counts`` does.
    Issue Summary has a row per rule and dataset; Rules a row per rule run or reported.
    """
    from openpyxl import Workbook

    ordered = _ordered(report.findings)
    catalogue = rule_catalogue()
    totals = _by_severity(ordered)
    empty = {s.value: 0 for s in Severity}
    seen = {d.name for d in report.datasets}
    summary: list[list[object]] = [
        [d.name, d.path, d.standard, d.records, d.variables,
         *(totals.get(d.name, empty)[s.value] for s in SEVERITY_ORDER)]
        for d in report.datasets]
    for name in sorted(n for n in totals if n and n not in seen):
        summary.append([name, None, None, None, None,
                        *(totals[name][s.value] for s in SEVERITY_ORDER)])
    if "" in totals:
        summary.append([PACKAGE_SUITE, None, None, None, None,
                        *(totals[""][s.value] for s in SEVERITY_ORDER)])

    issues: dict[tuple[str, str], list[Finding]] = {}
    for f in ordered:                   # ordered by severity, rule, dataset: kept as grouped
        issues.setdefault((f.rule, f.dataset), []).append(f)
    issue_rows = [[rule, found[0].severity.value,
                   catalogue[rule][1] if rule in catalogue else found[0].message,
                   dataset or PACKAGE_SUITE, sum(f.count for f in found)]
                  for (rule, dataset), found in issues.items()]

    detail_rows = [[f.rule, f.severity.value, f.dataset, f.usubjid, f.variable, f.value,
                    f.source, f.count, f.message] for f in ordered]

    applied = {r for run in report.rules_run.values() for r in run} | {f.rule for f in ordered}
    reported = {f.rule: f.severity.value for f in reversed(ordered)}
    rule_rows = []
    for rule in sorted(applied):
        severity, text = catalogue.get(rule, (None, ""))
        ref = CORE.get(rule)
        rule_rows.append([rule, severity.value if severity else reported[rule], text,
                          ", ".join(ref.core) if ref else "",
                          ", ".join(ref.conformance) if ref else "",
                          ref.section if ref else ""])

    book = Workbook()
    _sheet(book, "Dataset Summary", DATASET_SUMMARY, summary, first=True)
    _sheet(book, "Issue Summary", ISSUE_SUMMARY, issue_rows)
    _sheet(book, "Issue Details", ISSUE_DETAILS, detail_rows)
    _sheet(book, "Rules", RULES_SHEET, rule_rows)
    return workbook_bytes(book, creator=f"cdiscmap {__version__}")


def write_findings_xlsx(report: ValidationReport, path: Path) -> Path:
    return _write(path, findings_workbook(report))


def write_reports(report: ValidationReport, out_dir: Path) -> dict[str, Path]:
    """findings.json, findings.html, findings.junit.xml and findings.xlsx in ``out_dir``."""
    out_dir = Path(out_dir)
    names = {"json": JSON_NAME, "html": HTML_NAME, "junit": JUNIT_NAME, "xlsx": XLSX_NAME}
    with Staging(out_dir) as stage:     # all four complete before any old one is replaced
        write_findings_json(report, stage.folder / JSON_NAME)
        write_findings_html(report, stage.folder / HTML_NAME)
        write_junit_xml(report, stage.folder / JUNIT_NAME)
        write_findings_xlsx(report, stage.folder / XLSX_NAME)
        stage.publish(set(names.values()).__contains__, shared=True)
    return {kind: out_dir / name for kind, name in names.items()}
