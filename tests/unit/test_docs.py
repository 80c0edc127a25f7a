"""Docs that are generated or mirror code stay in step with it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from cdiscmap.sdtm.vocabulary import ALGORITHM_FUNCTIONS
from cdiscmap.spec.models import ALGORITHMS

ROOT = Path(__file__).resolve().parents[2]


def test_adam_settings_doc_is_current():
    spec = importlib.util.spec_from_file_location("settings_doc", ROOT / "tools" /
                                                  "settings_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    rendered = module.render()
    assert (ROOT / "docs" / "adam-settings.md").read_text(encoding="utf-8") == rendered, \
        "run: python tools/settings_doc.py"
    # every key has a meaning (a Field description) and a default shown in full
    rows = [line for line in rendered.splitlines() if line.startswith("| `")]
    assert len(rows) > 60
    blank = [row.split("`")[1] for row in rows if re.search(r"\|\s*\|$", row)]
    assert blank == [], f"keys without a description in adam/settings.py: {blank}"
    assert not [row for row in rows if "..." in row.split(" | ")[2]]
    # admiral ad_adsl.R agegr1_lookup bands: < 18, 18-64, > 64
    assert '`[{"label": "<18", "high": 17.999999}, {"label": "18-64", "low": 18.0, ' \
           '"high": 64.0}, {"label": ">64", "low": 64.000001}]`' in rendered


def test_every_algorithm_is_implemented_and_documented():
    assert set(ALGORITHMS) == set(ALGORITHM_FUNCTIONS)
    doc = (ROOT / "docs" / "mapping-language.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_0-9]+)`(?: / `([a-z_0-9]+)`)? \|", doc, re.M))
    names = {n for pair in documented for n in pair if n}
    assert set(ALGORITHMS) <= names
