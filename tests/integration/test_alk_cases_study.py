"""End to end: a literature case series (33 published ALK-fusion sarcoma cases on crizotinib) as
a reviewer's Excel workbook, mapped by YAML only to DM, RS, PR and ADaM (ADSL, ADRS with the
published best response as BOR, ADTTE OS from months of follow-up).

Expected values come from the generator's truth files, the raw workbook read back with
openpyxl, and the review's published totals (seed: ORR 26/30 = 86.7 %, DCR 29/30 = 96.7 %),
never from the code under test.
"""

from __future__ import annotations

import json

import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from cdiscmap.cli import main
from cdiscmap.pipeline.run import RunOptions, project_root, run_study
from cdiscmap.synth import generate
from cdiscmap.synth.alk_cases import build

STUDY_DIR = project_root() / "mappings" / "alk-sarcoma-cases"
N, SEED = 33, 20211014


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("alk")
    generate("alk-sarcoma-cases", root / "export", n_subjects=N, seed=SEED)
    result = run_study(RunOptions(study_dir=STUDY_DIR, raw_dir=root / "export" / "raw",
                                  out_root=root / "out"))
    truth = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False)
             for p in (root / "export" / "truth").glob("*.csv")}
    book = load_workbook(root / "export" / "raw" / "cases.xlsx", read_only=True)
    rows = [r for r in book["Cases"].iter_rows(values_only=True)]
    notes = [r for r in book["Sources"].iter_rows(values_only=True)]
    summary = json.loads((result.out_dir / "run-summary.json").read_text())
    adam = {n: pyreadstat.read_xport(result.out_dir / "adam" / f"{n}.xpt")[0]
            for n in ("adsl", "adrs", "adtte")}
    return result, truth, rows, notes, summary, adam


def test_workbook_is_byte_identical_per_seed_and_holds_the_review_totals():
    a, b, c = build(N, SEED), build(N, SEED), build(N, SEED + 1)
    assert a.raw["cases.xlsx"].data == b.raw["cases.xlsx"].data
    assert a.raw["cases.xlsx"].data != c.raw["cases.xlsx"].data
    for files in (a, c):                      # response counts fixed, other fields drawn
        bor = files.truth["cases.csv"]["BOR"].value_counts().to_dict()
        assert bor == {"PR": 17, "CR": 9, "SD": 3, "NE": 3, "PD": 1}


def test_every_raw_row_is_accounted(study):
    result, truth, rows, notes, summary, _ = study
    data_rows = [r for r in rows[1:] if any(v is not None for v in r)]
    blank_rows = len(rows) - 1 - len(data_rows)
    assert len(data_rows) == 33 and blank_rows == 1
    text = (result.out_dir / "run-summary.md").read_text()
    assert "| cases.xlsx | cases | 34 | 33 | 1 | True |" in text
    assert f"| cases.xlsx [Sources] | (not in study.yaml) | {len(notes) - 1} | 0 | " \
           f"{len(notes) - 1} | True |" in text
    assert "| cases.xlsx | blank row in sheet [read] | 1 |" in text


def test_dm_one_subject_per_case(study):
    result, truth, rows, *_ = study
    dm = result.datasets["DM"]
    assert len(dm) == 33 and dm["USUBJID"].is_unique
    assert sorted(dm["USUBJID"]) == sorted(truth["cases"]["USUBJID"])
    header = list(rows[0])
    by_case = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:] if r[0] is not None}
    for rec in dm.itertuples():
        case = by_case[rec.SUBJID]
        assert case["AGE"] == rec.AGE
        assert case["AGE_UNIT"].upper() == rec.AGEU
        assert {"Male": "M", "Female": "F", None: "U"}[case["SEX"]] == rec.SEX
        assert ("CRIZOTINIB + SURGERY" if case["SURGERY"] == "Yes" else "CRIZOTINIB") == rec.ARM
        assert (rec.DTHFL if isinstance(rec.DTHFL, str) else "") == \
            ("Y" if case["VITAL_STATUS"] == "Dead" else "")
    assert dm["RFSTDTC"].isna().all()      # a literature case has no reference dates


def test_rs_best_responses_equal_truth(study):
    result, truth, *_ = study
    rs = result.datasets["RS"]
    assert set(rs["RSTESTCD"]) == {"BESTRESP"}
    got = rs.set_index("USUBJID")["RSSTRESC"].sort_index()
    want = truth["cases"].set_index("USUBJID")["BOR"].sort_index()
    assert got.tolist() == want.tolist()


def test_pr_surgery(study):
    result, truth, *_ = study
    pr = result.datasets["PR"].set_index("USUBJID")["PROCCUR"].sort_index()
    assert pr.tolist() == truth["cases"].set_index("USUBJID")["SURGERY"].sort_index().tolist()


def test_adrs_bor_gives_the_published_orr_and_dcr(study):
    *_, adam = study
    adsl, adrs = adam["adsl"], adam["adrs"]
    bor = adrs.loc[adrs["PARAMCD"] == "BOR"]
    evaluable = set(adsl.loc[adsl["EFFFL"] == "Y", "USUBJID"])
    analysed = bor.loc[bor["USUBJID"].isin(evaluable), "AVALC"]
    assert len(analysed) == 30
    assert (analysed.isin(["CR", "PR"]).sum(), analysed.isin(["CR", "PR", "SD"]).sum()) == (26, 29)
    assert round(100 * 26 / 30, 1) == 86.7 and round(100 * 29 / 30, 1) == 96.7


def test_truth_alone_gives_the_published_orr_and_dcr(study):
    _, truth, *_ = study
    cases = truth["cases"]
    ev = cases.loc[cases["EVALUABLE"] == "Y", "BOR"]
    assert (len(ev), ev.isin(["CR", "PR"]).sum(), ev.isin(["CR", "PR", "SD"]).sum()) == \
        (30, 26, 29)
    assert truth["summary"][["ORR_PCT", "DCR_PCT"]].iloc[0].tolist() == ["86.7", "96.7"]


def test_adtte_os_equals_truth(study):
    _, truth, _, _, _, adam = study
    adtte = adam["adtte"]
    os_ = adtte.loc[adtte["PARAMCD"] == "OS"].set_index("USUBJID").sort_index()
    want = truth["cases"].set_index("USUBJID").sort_index()
    assert len(os_) == 33
    # AVAL = months x 30.4375 days, by hand for one case as well as for all from truth
    months = want["FOLLOW_UP_MONTHS"].astype(float)
    assert os_["AVAL"].to_numpy() == pytest.approx((months * 30.4375).to_numpy(), abs=1e-6)
    assert os_["AVAL"].to_numpy() == pytest.approx(want["OS_AVAL"].astype(float).to_numpy(),
                                                   abs=1e-6)
    assert os_["CNSR"].astype(int).astype(str).tolist() == want["OS_CNSR"].tolist()


def test_no_error_finding_and_ts_complete(study):
    result, *_ = study
    rules = {f.rule for f in result.findings if f.severity.name in ("ERROR", "WARNING")}
    assert rules == set()
    assert "CMAP-XD0009" not in {f.rule for f in result.findings}


def test_check_spec_passes():
    out = CliRunner().invoke(main, ["check-spec", str(STUDY_DIR)])
    assert out.exit_code == 0, out.output
