"""End to end on the demo study: synthetic raw export → SDTM XPT and report.

The expectations come from the generator's truth files (what it planted), not from the code
under test.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cdiscmap.pipeline.run import RunOptions, default_study_dir, run_study
from cdiscmap.synth import generate

SUBJECTS = 150
SEED = 20140701


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    generate("crizotinib-basket", root / "export", n_subjects=SUBJECTS, seed=SEED)
    result = run_study(RunOptions(study_dir=default_study_dir(), raw_dir=root / "export" / "raw",
                                  out_root=root / "out"))
    return root, result


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_expected_files(demo):
    root, result = demo
    sdtm = {p.name for p in (result.out_dir / "sdtm").iterdir()}
    # relrec.xpt: study.yaml relates TU/TR by link id and TR/RS by assessment (4 records)
    assert {"dm.xpt", "ae.xpt", "ex.xpt", "ds.xpt", "tu.xpt", "tr.xpt", "rs.xpt",
            "suppdm.xpt", "ts.xpt", "relrec.xpt"} <= sdtm
    assert result.summary["records_written"]["RELREC"] == 4
    for name in ("run-summary.md", "run-summary.json", "findings.csv", "findings.json",
                 "lineage.csv"):
        assert (result.out_dir / name).is_file()
    assert not [p.name for p in result.out_dir.parent.iterdir() if p.name.startswith(".")]


def test_accounting_balances_for_every_raw_file(demo):
    root, result = demo
    summary = json.loads((result.out_dir / "run-summary.json").read_text())
    assert summary["balanced"] is True
    raw_files = sorted(p.name for p in (root / "export" / "raw").iterdir())
    reported = sorted(r["file"] for r in summary["raw_files"])
    assert reported == raw_files
    for row in summary["raw_files"]:
        n = len(pd.read_csv(root / "export" / "raw" / row["file"], dtype=str))
        assert row["read"] == n
        assert row["read"] == row["used"] + row["dropped"]
    # DM has one record per enrolled subject; EX drops exactly the dose-0 interruption rows
    enrol = pd.read_csv(root / "export" / "raw" / "enrol.csv", dtype=str)
    assert summary["records_written"]["DM"] == len(enrol)
    ex = pd.read_csv(root / "export" / "raw" / "ex.csv", dtype=str)
    assert summary["records_written"]["EX"] == int((ex["EXDOSE"] != "0").sum())


def test_lineage_points_every_record_at_its_raw_row(demo):
    root, result = demo
    lineage = pd.read_csv(result.out_dir / "lineage.csv", dtype=str)
    ae = lineage[lineage["dataset"] == "AE"]
    assert len(ae) == len(result.datasets["AE"])
    raw = pd.read_csv(root / "export" / "raw" / "ae.csv", dtype=str)
    # each AE record's raw row holds the same verbatim term (modulo the text rules)
    xpt, _ = pyreadstat.read_xport(str(result.out_dir / "sdtm" / "ae.xpt"))
    merged = xpt.assign(SEQ=xpt["AESEQ"].astype(int).astype(str)).merge(
        ae, on=["USUBJID", "SEQ"])
    assert len(merged) == len(xpt)
    terms = raw["AETERM"].str.strip().to_numpy()[merged["source_row"].astype(int) - 1]
    same = merged["AETERM"].to_numpy() == terms
    assert same.sum() >= len(merged) - 2        # the non-ASCII and the >200-byte terms differ


def test_trial_summary_derived_parameters(demo):
    root, result = demo
    ts = result.datasets["TS"].set_index("TSPARMCD")
    enrol = pd.read_csv(root / "export" / "raw" / "enrol.csv", dtype=str)
    ic = pd.read_csv(root / "export" / "raw" / "ic.csv", dtype=str)
    assert ts.loc["ACTSUB", "TSVAL"] == str(len(enrol))
    first_consent = pd.to_datetime(ic["ICDAT"], format="%d-%b-%Y").min()
    assert ts.loc["SSTDTC", "TSVAL"] == first_consent.strftime("%Y-%m-%d")
    assert ts.loc["TPHASE", "TSPARM"] == "Trial Phase Classification"


def test_every_planted_defect_is_a_finding(demo):
    root, result = demo
    planted = pd.read_csv(root / "export" / "truth" / "planted_defects.csv", dtype=str)
    findings = result.findings.to_frame()
    for _, d in planted.iterrows():
        here = findings[findings["source"].str.startswith(f"{d['FILE']} row {d['ROW']}")]
        assert len(here) >= 1, f"no finding for planted {d.to_dict()}"
    assert (findings["severity"] == "error").sum() == 0


def test_recist_crosscheck_finds_exactly_the_planted_disagreements(demo):
    root, result = demo
    planted = pd.read_csv(root / "export" / "truth" / "planted_disagreements.csv", dtype=str)
    findings = result.findings.to_frame()
    rc = findings[(findings["rule"] == "CMAP-RC0001") & findings["message"].str.startswith("OVRLRESP")]
    got = sorted(zip(rc["usubjid"], rc["value"], strict=True))
    want = sorted((f"CRZBASKET-{r.SUBJECT}", f"investigator={r.INVESTIGATOR} computed={r.RECIST}")
                  for r in planted.itertuples())
    assert got == want


def test_xpt_round_trip_every_value(demo):
    root, result = demo
    for name, frame in result.datasets.items():
        path = result.out_dir / ("adam" if name.startswith("AD") else "sdtm") / \
            f"{name.lower()}.xpt"
        back, meta = pyreadstat.read_xport(str(path))
        cols = [c for c in frame.columns if not c.startswith("_")]
        assert sorted(back.columns) == sorted(cols), name
        assert len(back) == len(frame), name
        for col in cols:
            ours = frame[col].reset_index(drop=True)
            theirs = back[col]
            if ours.dtype.kind == "M":
                # pyreadstat gives SAS dates back as dates: compare day numbers
                days = (ours - pd.Timestamp("1960-01-01")).dt.days.to_numpy(dtype="float64")
                back_days = (pd.to_datetime(theirs) - pd.Timestamp("1960-01-01")).dt.days
                np.testing.assert_array_equal(days, back_days.to_numpy(dtype="float64"),
                                              err_msg=f"{name}.{col}")
            elif ours.dtype.kind in "fiu":
                np.testing.assert_array_equal(ours.to_numpy(dtype="float64"),
                                              theirs.to_numpy(dtype="float64"), err_msg=col)
            else:
                a = ours.astype("string").fillna("").tolist()
                b = theirs.astype("string").fillna("").str.rstrip().tolist()
                assert a == b, f"{name}.{col}"


def test_labels_come_from_the_standard(demo):
    root, result = demo
    _, meta = pyreadstat.read_xport(str(result.out_dir / "sdtm" / "dm.xpt"), metadataonly=True)
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["RFSTDTC"] == "Subject Reference Start Date/Time"
    assert labels["USUBJID"] == "Unique Subject Identifier"
    assert meta.file_label == "Demographics"


def test_rerun_is_byte_identical(demo, tmp_path):
    root, result = demo
    again = run_study(RunOptions(study_dir=default_study_dir(),
                                 raw_dir=root / "export" / "raw", out_root=tmp_path / "out"))
    assert _digest(result.out_dir) == _digest(again.out_dir)


def test_failed_run_leaves_previous_outputs(demo, tmp_path):
    root, result = demo
    out = tmp_path / "out"
    shutil.copytree(result.out_dir, out / "CRZBASKET")
    before = _digest(out / "CRZBASKET")
    raw = tmp_path / "raw"
    shutil.copytree(root / "export" / "raw", raw)
    ae = pd.read_csv(raw / "ae.csv", dtype=str).drop(columns=["AEGRADE"])
    ae.to_csv(raw / "ae.csv", index=False)
    with pytest.raises(Exception, match="AEGRADE"):
        run_study(RunOptions(study_dir=default_study_dir(), raw_dir=raw, out_root=out))
    assert _digest(out / "CRZBASKET") == before


def test_run_summary_lists_the_disagreements(demo):
    root, result = demo
    text = (result.out_dir / "run-summary.md").read_text()
    planted = pd.read_csv(root / "export" / "truth" / "planted_disagreements.csv", dtype=str)
    section = text.split("## RECIST 1.1 cross-check", 1)[1]
    for r in planted.itertuples():
        assert f"CRZBASKET-{r.SUBJECT}" in section
        assert f"investigator={r.INVESTIGATOR} computed={r.RECIST}" in section
