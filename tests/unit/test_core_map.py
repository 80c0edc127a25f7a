"""docs/validation-rules.md "CDISC CORE rules and IG sections" equals checks/core_map.CORE.

The page is read as text (its own table), the map as code, so a CORE id or section changed on
one side only fails here; the workbook's Rules sheet reads the same map.
"""

from __future__ import annotations

import re
from pathlib import Path

from cdiscmap.checks.core_map import CORE, CoreRef
from cdiscmap.validation.folder import rule_catalogue

PAGE = Path(__file__).resolve().parents[2] / "docs" / "validation-rules.md"
HEADING = "## CDISC CORE rules and IG sections"


def page_table() -> dict[str, CoreRef]:
    text = PAGE.read_text(encoding="utf-8")
    assert HEADING in text
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("| ")]
    assert lines[0] == "| rule | CORE | conformance | IG section |"
    table: dict[str, CoreRef] = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == 4, line
        rule, core, conformance, ig = cells

        def split(cell: str) -> tuple[str, ...]:
            return () if cell == "—" else tuple(c.strip() for c in cell.split(","))
        assert rule not in table, f"{rule} listed twice"
        table[rule] = CoreRef(split(core), split(conformance), ig)
    return table


def test_the_page_and_the_map_agree():
    page = page_table()
    assert sorted(page) == sorted(CORE)
    for rule, ref in CORE.items():
        assert page[rule] == ref, rule


def test_every_mapped_rule_is_a_validate_rule_and_ids_are_well_formed():
    catalogue = rule_catalogue()
    assert set(CORE) <= set(catalogue)
    for rule, ref in CORE.items():
        assert all(re.fullmatch(r"CORE-\d{6}", c) for c in ref.core), rule
        assert bool(ref.core) == bool(ref.conformance), rule
        assert re.fullmatch(r"(SDTMIG 3\.4|ADaMIG 1\.3) §\d+(\.\d+)*(, §\d+(\.\d+)*)*",
                            ref.section), rule


def test_known_mappings():
    # hand-checked against the CORE rule YAMLs (Published/CORE-000355, -000201, -000034)
    assert CORE["CMAP-SD0001"] == CoreRef(("CORE-000355",), ("CG0014",), "SDTMIG 3.4 §4.1.5")
    assert CORE["CMAP-XD0001"].core == ("CORE-000201",)
    assert CORE["CMAP-XD0011"] == CoreRef(("CORE-000034",), ("CG0069",), "SDTMIG 3.4 §5.2")
    assert "CMAP-SD0004" not in CORE                 # no CORE rule checks column types generically
