"""`cdiscmap run` on the GIST demo writes the EORTC QLQ-C30 change-from-baseline table
(mappings/gist-imatinib/analysis.yaml ``change_from_baseline``); its numbers are checked against
an independent pandas computation on the ADQS and ADSL XPT files the same run wrote, and its
Analysis Results Metadata names ADQS with the scales' PARAMCDs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from lxml import etree

from cdiscmap.analysis.settings import load_analysis_settings
from cdiscmap.pipeline.run import RunOptions, run_study
from cdiscmap.resources import resolve_study_dir
from cdiscmap.synth import generate

SUBJECTS = 40
SEED = 11


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("report_gist")
    generate("gist-imatinib", root / "export", n_subjects=SUBJECTS, seed=SEED)
    result = run_study(RunOptions(study_dir=resolve_study_dir("gist-imatinib"),
                                  raw_dir=root / "export" / "raw", out_root=root / "out"))
    return result.out_dir


def _xpt(out: Path, name: str) -> pd.DataFrame:
    frame, _ = pyreadstat.read_xport(str(out / "adam" / f"{name}.xpt"))
    return frame


def _expected(out: Path) -> dict[tuple[str, str, str], tuple[int, str]]:
    """(PARAMCD, visit label, arm label) → (n, 'mean (SD)') computed with plain pandas."""
    spec = load_analysis_settings(resolve_study_dir("gist-imatinib")).change_from_baseline[0]
    adsl, adqs = _xpt(out, "adsl"), _xpt(out, "adqs")
    itt = adsl.loc[adsl["ITTFL"] == "Y", ["USUBJID", "ARM"]]
    both = pd.concat([itt, itt.assign(ARM="All subjects")])
    q = adqs.loc[adqs["PARAMCD"].isin(spec.parameters)].merge(both, on="USUBJID")
    base = q.loc[q["ABLFL"] == "Y"].assign(VISIT="Baseline (value)", V=q["AVAL"])
    post = q.loc[(q["ABLFL"] != "Y") & q["CHG"].notna() & q["AVISITN"].isin(spec.visits)]
    post = post.assign(VISIT=post["AVISIT"] + " (change)", V=post["CHG"])
    out_rows = {}
    for (code, visit, arm), v in pd.concat([base, post]).groupby(
            ["PARAMCD", "VISIT", "ARM"])["V"]:
        sd = f"{v.std(ddof=1):.1f}" if len(v) > 1 else "-"
        out_rows[(code, visit, arm)] = (len(v), f"{v.mean():.1f} ({sd})")
    return out_rows


def test_qlq_c30_change_from_baseline_against_pandas(run: Path) -> None:
    table = pd.read_csv(run / "report" / "t_qlq_c30.csv", dtype=str, keep_default_na=False)
    expected = _expected(run)
    arms = [c[:-len(": mean (SD)")] for c in table.columns if c.endswith(": mean (SD)")]
    assert arms[-1] == "All subjects" and len(arms) == 3
    assert len(table) == 15 * 5                 # 15 scales x (baseline + weeks 12/24/48/96)
    checked = 0
    for _, row in table.iterrows():
        code = row["Parameter"].rsplit("(", 1)[1].rstrip(")")
        for arm in arms:
            n_col = next(c for c in table.columns if c.startswith(f"{arm} (N=")
                         and c.endswith(": n"))
            n, text = expected.get((code, row["Visit"], arm), (0, "-"))
            assert (int(row[n_col]), row[f"{arm}: mean (SD)"]) == (n, text), \
                (code, row["Visit"], arm)
            checked += n > 0
    assert checked > 100                        # real numbers, not a table of dashes
    assert {"EOR0131", "EOR0132", "EOR0137"} <= {r.rsplit("(", 1)[1].rstrip(")")
                                                 for r in table["Parameter"]}


def test_qlq_c30_cells_are_traced_and_in_the_analysis_results_metadata(run: Path) -> None:
    import json

    cells = json.loads((run / "report" / "cells.json").read_text("utf-8"))["cells"]
    mine = [c for c in cells if c["table"] == "t_qlq_c30"]
    assert mine and all(c["dataset"] == "ADQS" and c["population"] == "ADSL.ITTFL = 'Y'"
                        for c in mine)
    assert any("AVISITN = 24" in c["filter"] for c in mine)
    root = etree.parse(str(run / "adam" / "define.xml"))
    ns = {"arm": "http://www.cdisc.org/ns/arm/v1.0", "def": "http://www.cdisc.org/ns/def/v2.1",
          "odm": "http://www.cdisc.org/ns/odm/v1.3"}
    rd = root.find(".//arm:ResultDisplay[@OID='RD.t_qlq_c30']", ns)
    assert rd is not None
    datasets = [d.get("ItemGroupOID") for d in rd.iterfind(".//arm:AnalysisDataset", ns)]
    assert "IG.ADQS" in datasets
    wc = root.find(".//def:WhereClauseDef[@OID='WC.AR.t_qlq_c30.ADQS']", ns)
    values = [v.text for v in wc.iterfind(".//odm:CheckValue", ns)]
    assert values == [f"EOR01{i}" for i in range(31, 46)]
