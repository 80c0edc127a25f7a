"""End to end: the analysis report of the literature case series (mappings/alk-sarcoma-cases/
analysis.yaml) -- ORR/DCR with exact CIs over the evaluable cases and overall survival by
surgery -- from the generated workbook through ``run_study``.

Expected values: the review's published totals (seed: ORR 26/30 = 86.7 %, DCR 29/30 = 96.7 %),
the Clopper-Pearson interval of 26/30 checked from its definition in
tests/unit/test_analysis_stats.py (69.3-96.2 %), and Kaplan-Meier / log-rank numbers worked by
hand from the generator's truth listing (seed 20211014) -- never from the code under test.
"""

from __future__ import annotations

import csv
import json
import math

import pandas as pd
import pytest

from cdiscmap.pipeline.run import RunOptions, project_root, run_study
from cdiscmap.synth import generate

STUDY_DIR = project_root() / "mappings" / "alk-sarcoma-cases"
N, SEED = 33, 20211014


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("alk_report")
    generate("alk-sarcoma-cases", root / "export", n_subjects=N, seed=SEED)
    result = run_study(RunOptions(study_dir=STUDY_DIR, raw_dir=root / "export" / "raw",
                                  out_root=root / "out"))
    folder = result.out_dir / "report"
    truth = pd.read_csv(root / "export" / "truth" / "cases.csv", dtype=str,
                        keep_default_na=False)
    cells = json.loads((folder / "cells.json").read_text(encoding="utf-8"))["cells"]
    return folder, truth, cells


def _rows(path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _cell(cells, table: str, row_label: str, column_prefix: str) -> dict:
    hits = [c for c in cells if c["table"] == table and c["row_label"] == row_label
            and c["column"].startswith(column_prefix)]
    assert len(hits) == 1, (table, row_label, column_prefix, hits)
    return hits[0]


def test_report_files_exist(report):
    folder, *_ = report
    names = {p.name for p in folder.iterdir()}
    assert {"report.html", "cells.json", "t_resp.csv", "t_resp.rtf", "t_tte_km.csv",
            "t_tte_compare.csv", "t_tte_os_km.png", "t_tte_os_km.svg"} <= names
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "Kaplan-Meier: Overall Survival" in html


def test_orr_and_dcr_equal_the_published_totals_with_exact_ci(report):
    folder, _, cells = report
    rows = _rows(folder / "t_resp.csv")
    assert rows[0][:4] == ["Group", "N", "ORR (CR+PR), n/N (%) [95% CI]",
                           "DCR (CR+PR+SD), n/N (%) [95% CI]"]
    overall = next(r for r in rows if r[0] == "All subjects")
    assert overall[1] == "30"
    assert overall[2] == "26/30 (86.7%) [69.3, 96.2]"
    assert overall[3].startswith("29/30 (96.7%) [")
    orr = _cell(cells, "t_resp", "All subjects", "ORR")
    assert (orr["dataset"], orr["paramcd"], orr["population"]) == \
        ("ADRS", "BOR", "ADSL.EFFFL = 'Y'")
    assert orr["filter"] == "AVALC in (CR, PR)" and (orr["x"], orr["n"]) == (26, 30)
    assert (round(100 * orr["lower"], 1), round(100 * orr["upper"], 1)) == (69.3, 96.2)
    dcr = _cell(cells, "t_resp", "All subjects", "DCR")
    assert dcr["filter"] == "AVALC in (CR, PR, SD)" and (dcr["x"], dcr["n"]) == (29, 30)


def test_response_by_surgery_equals_truth(report):
    folder, truth, cells = report
    ev = truth.loc[truth["EVALUABLE"] == "Y"]
    for surgery, label in (("N", "CRIZOTINIB"), ("Y", "CRIZOTINIB + SURGERY")):
        bor = ev.loc[ev["SURGERY"] == surgery, "BOR"]
        orr = _cell(cells, "t_resp", label, "ORR")
        dcr = _cell(cells, "t_resp", label, "DCR")
        assert (orr["x"], orr["n"]) == (bor.isin(["CR", "PR"]).sum(), len(bor))
        assert (dcr["x"], dcr["n"]) == (bor.isin(["CR", "PR", "SD"]).sum(), len(bor))
        assert orr["filter"].startswith("ADSL.ARMCD = ")
    # the two groups add up to the published 30 evaluable cases
    assert sum(_cell(cells, "t_resp", g, "ORR")["n"]
               for g in ("CRIZOTINIB", "CRIZOTINIB + SURGERY")) == 30


def test_overall_survival_by_surgery_worked_by_hand(report):
    folder, truth, cells = report
    rows = {r[1]: r for r in _rows(folder / "t_tte_km.csv")[1:]}
    # N / events / censored per group: truth counts (all 33 published cases)
    for surgery, label in (("N", "CRIZOTINIB"), ("Y", "CRIZOTINIB + SURGERY")):
        grp = truth.loc[truth["SURGERY"] == surgery]
        dead = int((grp["OS_CNSR"] == "0").sum())
        assert rows[label][2:5] == [str(len(grp)), str(dead), str(len(grp) - dead)]
    assert rows["All subjects"][2:5] == ["33", "9", "24"]
    # Crizotinib alone (22 cases), deaths at 0.5, 4.0, 8.9, 27.4, 27.6, 29.8, 40.4 months with
    # 22, 18, 15, 7, 6, 5, ... at risk: S(12) = S(24) = 21/22 * 17/18 * 14/15 = 84.1 %, and
    # S first <= 0.5 at 29.8 months (0.841 * 6/7 * 5/6 * 4/5 = 0.481): median 29.8.
    alone = rows["CRIZOTINIB"]
    assert round(100 * 21 / 22 * 17 / 18 * 14 / 15, 1) == 84.1
    assert alone[5].startswith("29.8 (") and alone[6].startswith("84.1 (") \
        and alone[7].startswith("84.1 (")
    # With surgery (11 cases): no death before 55.2 months, where 2 of the 3 at risk die:
    # S(12) = S(24) = 100 %, median 55.2.
    surg = rows["CRIZOTINIB + SURGERY"]
    assert surg[5].startswith("55.2 (") and surg[6].startswith("100.0 (") \
        and surg[7].startswith("100.0 (")
    med = [c for c in cells if c["table"] == "t_tte_km" and c["group"] == "CRIZOTINIB"
           and c["column"].startswith("Median")]
    assert len(med) == 1 and (med[0]["dataset"], med[0]["paramcd"]) == ("ADTTE", "OS")
    assert med[0]["median"] == pytest.approx(29.8, abs=0.05)
    assert med[0]["population"] == "ADSL.STUDYID = 'ALKSARC'"      # every published case


def test_log_rank_surgery_versus_crizotinib_alone_worked_by_hand(report):
    folder, *_ = report
    # Death times (all cases) with at risk N, of them with surgery N1, one death each except
    # 55.2 months (N = N1 = 3, 2 deaths, both with surgery). Observed with surgery: 2.
    at_risk = [(33, 11), (28, 10), (24, 9), (12, 5), (11, 5), (10, 5), (7, 4)]
    expected = sum(n1 / n for n, n1 in at_risk) + 2 * 3 / 3
    variance = sum(n1 / n * (1 - n1 / n) for n, n1 in at_risk)   # last time: N1 = N, none
    chi2 = (2 - expected) ** 2 / variance
    assert round(chi2, 3) == 5.412
    row = _rows(folder / "t_tte_compare.csv")[1]
    assert row[:3] == ["Overall Survival (OS)", "CRIZOTINIB + SURGERY vs CRIZOTINIB",
                       f"{chi2:.3f}"]
    # p of a chi-square on 1 df: P(|Z| > sqrt(chi2)) = erfc(sqrt(chi2 / 2)) = 0.0200
    assert row[3] == f"{math.erfc(math.sqrt(chi2 / 2)):.4f}" == "0.0200"
    # both surgery deaths fall at 55.2 months, after the last crizotinib-alone case left the
    # risk set: the Cox likelihood is monotone and the hazard ratio is not estimable
    assert row[4] == "NE (NE, NE)"
