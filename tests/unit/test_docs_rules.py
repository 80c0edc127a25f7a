"""docs/validation-rules.md lists every rule id the code can emit, and only those.

The ids are found two ways, so that a rule added anywhere (a new ``RULES`` table, a literal
passed to ``Finding``) is picked up without editing this test: every string constant of
``src/cdiscmap`` shaped like a rule id (2-5 capitals, 4 digits), and the keys of every
module-level ``RULES`` table. Where the code fixes a rule's severity (a ``RULES`` entry, or a
``Severity.X`` next to the id in one call), the page must give the same one.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import cdiscmap
from cdiscmap.findings import Severity

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "cdiscmap"
PAGE = ROOT / "docs" / "validation-rules.md"
RULE_ID = re.compile(r"CMAP-[A-Z]{2,5}[0-9]{4}")
# String constants shaped like a rule id that are not one (a date format name).
NOT_RULE_IDS = {"ISO8601"}
# Outside rule ids (CDISC conformance CG...., FDA FB....) that cdiscmap rules map to: not its own.
OUTSIDE_IDS = SOURCE / "checks" / "core_map.py"


def documented() -> dict[str, str]:
    rows = re.findall(r"^\| (CMAP-[A-Z]{2,5}[0-9]{4}) \| (error|warning|notice) \|",
                      PAGE.read_text(encoding="utf-8"), re.MULTILINE)
    ids = [rule for rule, _ in rows]
    assert len(ids) == len(set(ids)), f"listed twice: {sorted({r for r in ids if ids.count(r) > 1})}"
    return dict(rows)


def _severity_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == "Severity":
        return Severity[node.attr].value
    return None


def source_rules() -> tuple[set[str], dict[str, set[str]]]:
    """Rule-id constants in the source, and the severities calls give them next to the id."""
    ids: set[str] = set()
    severities: dict[str, set[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        if path == OUTSIDE_IDS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and RULE_ID.fullmatch(node.value) and node.value not in NOT_RULE_IDS:
                ids.add(node.value)
            if isinstance(node, ast.Call):
                args = [*node.args, *(k.value for k in node.keywords
                                       if k.arg in ("rule", "severity"))]
                rules = {a.value for a in args if isinstance(a, ast.Constant)
                         and isinstance(a.value, str) and RULE_ID.fullmatch(a.value)}
                found = {s for a in args if (s := _severity_of(a))}
                if len(rules) == 1 and len(found) == 1:
                    severities.setdefault(rules.pop(), set()).update(found)
    return ids - NOT_RULE_IDS, severities


def rules_tables() -> dict[str, tuple[Severity, str]]:
    """Every module-level ``RULES`` table of the package, merged."""
    merged: dict[str, tuple[Severity, str]] = {}
    for info in pkgutil.walk_packages(cdiscmap.__path__, "cdiscmap."):
        module = importlib.import_module(info.name)
        table = getattr(module, "RULES", None)
        if isinstance(table, dict):
            for rule, entry in table.items():
                assert merged.get(rule, entry) == entry, f"{rule} defined twice, differently"
                merged[rule] = entry
    return merged


def test_every_rule_the_code_can_emit_is_documented_and_nothing_else():
    page = documented()
    literals, _ = source_rules()
    tables = rules_tables()
    in_code = literals | set(tables)
    missing = sorted(in_code - set(page))
    stale = sorted(set(page) - in_code)
    assert not missing, "add to docs/validation-rules.md: " + "; ".join(
        f"{r} ({tables[r][0].value}: {tables[r][1]})" if r in tables else r for r in missing)
    assert not stale, f"documented but never emitted: {stale}"


def test_documented_severities_match_the_code():
    page = documented()
    _, called = source_rules()
    for rule, (severity, _) in rules_tables().items():
        assert page.get(rule) == severity.value, rule
    for rule, severities in called.items():
        if len(severities) == 1 and rule in page:
            assert page[rule] == next(iter(severities)), rule


def test_the_scan_finds_rules_of_each_kind():
    # the scan itself: a RULES table, a Finding(...) literal, a ctx.report(rule=...) keyword
    literals, called = source_rules()
    assert {"CMAP-SD0001", "CMAP-RC0001", "CMAP-MAP0002", "CMAP-RAW0003", "CMAP-ASCII0001"} <= literals
    assert "ISO8601" not in literals
    assert called["CMAP-RC0002"] == {"notice"} and called["CMAP-RAW0002"] == {"error"}
    assert called["CMAP-MAP0002"] == {"warning"}
    assert rules_tables()["CMAP-XD0006"][0] is Severity.WARNING


def test_page_states_the_default_report_folder():
    text = PAGE.read_text(encoding="utf-8")
    assert "default `FOLDER/validation/`" in text
    from cdiscmap.cli import validate

    out = next(p for p in validate.params if p.name == "out_dir")
    assert "default: FOLDER/validation" in (out.help or "")


def test_readme_exit_statuses_match_the_cli():
    import cdiscmap.cli as cli

    table = re.findall(r"^(\d+)\s{2,}\S", cli.__doc__ or "", re.MULTILINE)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^\| (\d+) \|", section, re.MULTILINE) == table == \
        ["0", "1", "2", "3", "130", "143"]
