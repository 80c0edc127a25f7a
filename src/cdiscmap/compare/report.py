"""Reports of a comparison: console summary, compare.json, compare.html, JUnit XML, Excel.

Like the validator's reports (:mod:`cdiscmap.validation.report`) they are deterministic (fixed
order, no clock, no absolute paths) and published together through
:class:`cdiscmap.emit.atomic.Staging`, so a reader never sees a new compare.json beside an old
compare.html. compare.junit.xml has one testcase per dataset, failed when it differs, so CI
shows a double-programming verdict like a test result. The Excel workbook is written with
openpyxl (already a dependency for raw .xlsx exports; xlsxwriter would be a new one) with its
document dates and zip entry times fixed (:mod:`cdiscmap.emit.xlsx`), so it too is
byte-identical for the same inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from lxml import etree
from rich.console import Console
from rich.table import Table as RichTable

from cdiscmap import __version__
from cdiscmap.compare.diff import CompareResult, DatasetDiff, as_dict
from cdiscmap.emit.atomic import Staging, atomic_write_bytes
from cdiscmap.emit.xlsx import workbook_bytes
from cdiscmap.validation.report import xml_text

__all__ = ["EXCEL_NAME", "HTML_NAME", "JSON_NAME", "JUNIT_NAME", "compare_document",
           "print_summary", "write_reports"]

JSON_NAME = "compare.json"
HTML_NAME = "compare.html"
JUNIT_NAME = "compare.junit.xml"
EXCEL_NAME = "compare.xlsx"


def _verdict(diff: DatasetDiff) -> str:
    return "equal" if diff.equal else f"{diff.differences} difference(s)"


# ============================================================================================
# Console
# ============================================================================================
def print_summary(result: CompareResult, console: Console | None = None, *,
                  limit: int = 5) -> None:
    """One row per dataset, then the variables that differ (first ``limit`` per dataset)."""
    console = console or Console(highlight=False, soft_wrap=True)
    table = RichTable(title=f"Compare {result.base} (BASE) with {result.compare} (COMPARE)")
    for column in ("dataset", "n BASE", "n COMP", "only B", "only C", "dup", "vars",
                   "unequal", "verdict"):
        table.add_column(column, justify="left" if column in ("dataset", "verdict")
                         else "right")
    for d in result.datasets:
        table.add_row(d.name, str(d.base_records), str(d.compare_records), str(d.only_base),
                      str(d.only_compare), str(d.duplicate_base + d.duplicate_compare),
                      str(len(d.attributes) + len(d.variables_only_base)
                          + len(d.variables_only_compare)),
                      str(d.unequal_values), "equal" if d.equal else "DIFF")
    console.print(table)
    for d in result.datasets:
        for v in d.values[:limit]:
            first = v.records[0] if v.records else None
            example = (f" (first: {', '.join(f'{k}={x}' for k, x in first.keys.items())}: "
                       f"{first.base!r} vs {first.compare!r})") if first else ""
            console.print(f"  {d.name}.{v.variable}: {v.unequal} unequal value(s){example}")
        for a in d.attributes[:limit]:
            console.print(f"  {d.name}.{a.variable or '(dataset)'}: {a.attribute} "
                          f"{a.base!r} vs {a.compare!r}")
        if d.variables_only_base or d.variables_only_compare:
            console.print(f"  {d.name}: variables only in BASE: "
                          f"{', '.join(d.variables_only_base) or 'none'}; only in COMPARE: "
                          f"{', '.join(d.variables_only_compare) or 'none'}")
    for name in result.only_base:
        console.print(f"  dataset {name} only in BASE")
    for name in result.only_compare:
        console.print(f"  dataset {name} only in COMPARE")
    for shown, diffs in result.defines.items():
        if diffs:
            console.print(f"  {shown}: {len(diffs)} difference(s)")
    for line in result.define_only:
        console.print(f"  {line}")
    console.print(("EQUAL" if result.equal else f"DIFFERENT: {result.differences} "
                   "difference(s)") + f" in {len(result.datasets)} dataset pair(s)")


# ============================================================================================
# compare.json
# ============================================================================================
def compare_document(result: CompareResult) -> dict[str, Any]:
    opts = result.options
    return {
        "tool": "cdiscmap compare",
        "version": __version__,
        "base": result.base,
        "compare": result.compare,
        "options": {"keys": list(opts.keys) if opts.keys is not None else "auto",
                    "tolerance": opts.tolerance, "rel_tolerance": opts.rel_tolerance,
                    "ignore": sorted(opts.ignore), "ignore_case": opts.ignore_case,
                    "ignore_whitespace": opts.ignore_whitespace,
                    "max_records": opts.max_records},
        "equal": result.equal,
        "differences": result.differences,
        "datasets": [as_dict(d) for d in result.datasets],
        "datasets_only_in_base": result.only_base,
        "datasets_only_in_compare": result.only_compare,
        "defines": {k: [as_dict(x) for x in v] for k, v in result.defines.items()},
        "define_only": result.define_only,
        "notes": result.notes,
    }


def _json(result: CompareResult) -> bytes:
    return (json.dumps(compare_document(result), indent=1, ensure_ascii=False) + "\n"
            ).encode("utf-8")


# ============================================================================================
# compare.html
# ============================================================================================
_HTML = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                           undefined=jinja2.StrictUndefined).from_string("""\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cdiscmap compare: {{ r.base }} vs {{ r.compare }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.n { text-align: right; }
.equal { color: #1a6b1a; } .diff { color: #a40000; }
code { font-size: 95%; }
</style>
</head>
<body>
<h1>Compare <code>{{ r.base }}</code> (BASE) with <code>{{ r.compare }}</code> (COMPARE)</h1>
<p class="{{ 'equal' if r.equal else 'diff' }}"><strong>{{ "EQUAL" if r.equal else
"DIFFERENT: %d difference(s)"|format(r.differences) }}</strong> in {{ r.datasets|length }}
dataset pair(s). cdiscmap {{ version }}; keys {{ keys }}; tolerance {{ o.tolerance }}
{%- if o.rel_tolerance is not none %}, relative tolerance {{ o.rel_tolerance }}{% endif %}
{%- if o.ignore %}; ignored: {{ o.ignore|sort|join(", ") }}{% endif %}
{%- if o.ignore_case %}; case ignored{% endif %}
{%- if o.ignore_whitespace %}; whitespace ignored{% endif %}.</p>
<table>
<tr><th>Dataset</th><th>BASE records</th><th>COMPARE records</th><th>Only in BASE</th>
<th>Only in COMPARE</th><th>Duplicate keys (B/C)</th><th>Variables differing</th>
<th>Unequal values</th><th>Verdict</th></tr>
{% for d in r.datasets %}
<tr><td><a href="#{{ d.name }}">{{ d.name }}</a></td><td class="n">{{ d.base_records }}</td>
<td class="n">{{ d.compare_records }}</td><td class="n">{{ d.only_base }}</td>
<td class="n">{{ d.only_compare }}</td>
<td class="n">{{ d.duplicate_base }}/{{ d.duplicate_compare }}</td>
<td class="n">{{ d.values|length }}</td><td class="n">{{ d.unequal_values }}</td>
<td class="{{ 'equal' if d.equal else 'diff' }}">{{ "equal" if d.equal else
"%d difference(s)"|format(d.differences) }}</td></tr>
{% endfor %}
</table>
{% if r.only_base or r.only_compare or r.define_only %}
<ul>
{% for n in r.only_base %}<li>Dataset {{ n }} only in BASE</li>{% endfor %}
{% for n in r.only_compare %}<li>Dataset {{ n }} only in COMPARE</li>{% endfor %}
{% for n in r.define_only %}<li>{{ n }}</li>{% endfor %}
</ul>
{% endif %}
{% for d in r.datasets %}
<h2 id="{{ d.name }}">{{ d.name }} <small class="{{ 'equal' if d.equal else 'diff' }}">
{{ "equal" if d.equal else "%d difference(s)"|format(d.differences) }}</small></h2>
<p><code>{{ d.base_source }}</code> vs <code>{{ d.compare_source }}</code>;
{{ d.matched }} records matched {{ "by row order" if d.by_row else "by " + d.keys|join(", ") }};
{{ d.compared_variables|length }} variables compared.</p>
{% for n in d.notes %}<p><em>{{ n }}</em></p>{% endfor %}
{% for title, count, rows in [("Records only in BASE", d.only_base, d.only_base_records),
                              ("Records only in COMPARE", d.only_compare,
                               d.only_compare_records),
                              ("Duplicate keys in BASE", d.duplicate_base,
                               d.duplicate_base_keys),
                              ("Duplicate keys in COMPARE", d.duplicate_compare,
                               d.duplicate_compare_keys)] %}
{% if count %}
<h3>{{ title }} ({{ count }} records{% if rows|length < count %}, first {{ rows|length }}
{%- endif %})</h3>
<table><tr>{% for k in rows[0] %}<th>{{ k }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for v in row.values() %}<td>{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endif %}
{% endfor %}
{% if d.variables_only_base or d.variables_only_compare %}
<p>Variables only in BASE: {{ d.variables_only_base|join(", ") or "none" }}.
Only in COMPARE: {{ d.variables_only_compare|join(", ") or "none" }}.</p>
{% endif %}
{% if d.attributes %}
<h3>Attribute differences</h3>
<table><tr><th>Variable</th><th>Attribute</th><th>BASE</th><th>COMPARE</th></tr>
{% for a in d.attributes %}<tr><td>{{ a.variable or "(dataset)" }}</td><td>{{ a.attribute }}
</td><td><code>{{ a.base }}</code></td><td><code>{{ a.compare }}</code></td></tr>
{% endfor %}</table>
{% endif %}
{% for v in d.values %}
<h3>{{ d.name }}.{{ v.variable }}: {{ v.unequal }} unequal value(s)
{%- if v.records|length < v.unequal %} (first {{ v.records|length }}){% endif %}</h3>
<table><tr>{% for k in v.records[0].keys %}<th>{{ k }}</th>{% endfor %}<th>BASE</th>
<th>COMPARE</th>{% if v.kind == "num" %}<th>abs diff</th><th>rel diff</th>{% endif %}</tr>
{% for rec in v.records %}<tr>{% for x in rec.keys.values() %}<td>{{ x }}</td>{% endfor %}
<td><code>{{ rec.base }}</code></td><td><code>{{ rec.compare }}</code></td>
{% if v.kind == "num" %}<td class="n">{{ "%.6g"|format(rec.abs_diff) if rec.abs_diff is not
none else "" }}</td><td class="n">{{ "%.6g"|format(rec.rel_diff) if rec.rel_diff is not none
else "" }}</td>{% endif %}</tr>
{% endfor %}</table>
{% endfor %}
{% endfor %}
{% for shown, diffs in r.defines.items() %}
<h2>{{ shown }}: {{ diffs|length }} difference(s)</h2>
{% if diffs %}
<table><tr><th>Element</th><th>OID</th><th>Attribute</th><th>BASE</th><th>COMPARE</th></tr>
{% for x in diffs %}<tr><td>{{ x.element }}</td><td>{{ x.oid }}</td><td>{{ x.attribute }}</td>
<td><code>{{ x.base }}</code></td><td><code>{{ x.compare }}</code></td></tr>
{% endfor %}</table>
{% endif %}
{% endfor %}
{% if r.notes %}<h2>Notes</h2><ul>{% for n in r.notes %}<li>{{ n }}</li>{% endfor %}</ul>
{% endif %}
</body>
</html>
""")


def _html(result: CompareResult) -> bytes:
    opts = result.options
    keys = ", ".join(opts.keys) if opts.keys is not None else "auto (specs/)"
    return _HTML.render(r=result, o=opts, keys=keys, version=__version__).encode("utf-8")


# ============================================================================================
# JUnit XML
# ============================================================================================
def _failure_lines(d: DatasetDiff) -> str:
    lines = []
    if d.base_records != d.compare_records:
        lines.append(f"records: BASE {d.base_records}, COMPARE {d.compare_records}")
    if d.only_base or d.only_compare:
        lines.append(f"records only in BASE: {d.only_base}; only in COMPARE: {d.only_compare}")
    if d.duplicate_base or d.duplicate_compare:
        lines.append(f"records with duplicate keys: BASE {d.duplicate_base}, COMPARE "
                     f"{d.duplicate_compare}")
    if d.variables_only_base or d.variables_only_compare:
        lines.append(f"variables only in BASE: {', '.join(d.variables_only_base) or 'none'}; "
                     f"only in COMPARE: {', '.join(d.variables_only_compare) or 'none'}")
    lines.extend(f"{a.variable or '(dataset)'}: {a.attribute} {a.base!r} vs {a.compare!r}"
                 for a in d.attributes)
    lines.extend(f"{v.variable}: {v.unequal} unequal value(s)" for v in d.values)
    return "\n".join(lines)


def _junit(result: CompareResult) -> bytes:
    root = etree.Element("testsuites", name=xml_text(
        f"cdiscmap compare {result.base} {result.compare}"))
    suite = etree.SubElement(root, "testsuite", name="cdiscmap compare")
    cases: list[tuple[str, str | None, str]] = []
    for d in result.datasets:
        cases.append((d.name, None if d.equal else f"{d.differences} difference(s)",
                      _failure_lines(d)))
    cases.extend((n, "only in BASE", "") for n in result.only_base)
    cases.extend((n, "only in COMPARE", "") for n in result.only_compare)
    for shown, diffs in result.defines.items():
        cases.append((shown, f"{len(diffs)} difference(s)" if diffs else None,
                      "\n".join(f"{x.element} {x.oid} {x.attribute}: {x.base!r} vs "
                                f"{x.compare!r}" for x in diffs[:200])))
    cases.extend((line.split(" ", 1)[0], line, "") for line in result.define_only)
    failures = 0
    for name, failure, text in cases:
        case = etree.SubElement(suite, "testcase", classname="cdiscmap.compare",
                                name=xml_text(name))
        if failure:
            failures += 1
            node = etree.SubElement(case, "failure", type="difference",
                                    message=xml_text(f"{name}: {failure}"))
            node.text = xml_text(text)
    for element in (suite, root):
        element.set("tests", str(len(cases)))
        element.set("failures", str(failures))
        element.set("errors", "0")
    suite.set("skipped", "0")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ============================================================================================
# Excel
# ============================================================================================
def _excel(result: CompareResult) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    summary = book.active
    summary.title = "Summary"
    summary.append(["dataset", "BASE records", "COMPARE records", "only in BASE",
                    "only in COMPARE", "duplicate keys BASE", "duplicate keys COMPARE",
                    "variables differing", "unequal values", "verdict"])
    for d in result.datasets:
        summary.append([d.name, d.base_records, d.compare_records, d.only_base,
                        d.only_compare, d.duplicate_base, d.duplicate_compare, len(d.values),
                        d.unequal_values, _verdict(d)])
    for name in result.only_base:
        summary.append([name, None, None, None, None, None, None, None, None, "only in BASE"])
    for name in result.only_compare:
        summary.append([name, None, None, None, None, None, None, None, None,
                        "only in COMPARE"])
    attributes = book.create_sheet("Attributes")
    attributes.append(["dataset", "variable", "difference", "BASE", "COMPARE"])
    for d in result.datasets:
        for var in d.variables_only_base:
            attributes.append([d.name, var, "only in BASE", var, None])
        for var in d.variables_only_compare:
            attributes.append([d.name, var, "only in COMPARE", None, var])
        for a in d.attributes:
            attributes.append([d.name, a.variable or "(dataset)", a.attribute, a.base,
                               a.compare])
    values = book.create_sheet("Values")
    values.append(["dataset", "variable", "unequal values", "keys", "BASE", "COMPARE",
                   "abs diff", "rel diff"])
    for d in result.datasets:
        for v in d.values:
            for rec in v.records:
                values.append([d.name, v.variable, v.unequal,
                               ", ".join(f"{k}={x}" for k, x in rec.keys.items()),
                               rec.base, rec.compare, rec.abs_diff, rec.rel_diff])
    records = book.create_sheet("Records")
    records.append(["dataset", "where", "keys"])
    for d in result.datasets:
        for where, rows in (("only in BASE", d.only_base_records),
                            ("only in COMPARE", d.only_compare_records),
                            ("duplicate key in BASE", d.duplicate_base_keys),
                            ("duplicate key in COMPARE", d.duplicate_compare_keys)):
            for row in rows:
                records.append([d.name, where, ", ".join(f"{k}={x}" for k, x in row.items())])
    return workbook_bytes(book, creator=f"cdiscmap {__version__}")


# ============================================================================================
def write_reports(result: CompareResult, out_dir: Path, *, excel: bool = False
                  ) -> dict[str, Path]:
    """compare.json, compare.html, compare.junit.xml (and compare.xlsx) in ``out_dir``,
    published together."""
    out_dir = Path(out_dir)
    files = {"json": (JSON_NAME, _json), "html": (HTML_NAME, _html),
             "junit": (JUNIT_NAME, _junit)}
    if excel:
        files["excel"] = (EXCEL_NAME, _excel)
    owned = {JSON_NAME, HTML_NAME, JUNIT_NAME, EXCEL_NAME}
    with Staging(out_dir) as stage:
        for name, render in files.values():
            atomic_write_bytes(stage.folder / name, render(result))
        stage.publish(owned.__contains__, shared=True)
    return {kind: out_dir / name for kind, (name, _) in files.items()}
