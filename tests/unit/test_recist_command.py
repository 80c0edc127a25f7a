"""``cdiscmap recist --sdtm DIR``: computed timepoints, comparison and report from any TU/TR/RS.

The SDTM folder is hand-built as CSV: one subject whose target lesions carry both axes at every
visit (oesophagus 20/8/14 mm longest diameter, mediastinal node 15/6/6 mm short axis), so the
sums are 35, 14, 20 mm: V2 -60 % → PR, V3 +6 mm/+42.9 % from nadir 14 → PD.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdiscmap.cli import main

TU = """STUDYID,DOMAIN,USUBJID,TUSEQ,TULNKID,TUTESTCD,TUSTRESC,TULOC,TUEVAL,VISITNUM,VISIT
X,TU,S01,1,T01,TUMIDENT,TARGET,ESOPHAGUS,INVESTIGATOR,1,SCREENING
X,TU,S01,2,T02,TUMIDENT,TARGET,MEDIASTINAL LYMPH NODE,INVESTIGATOR,1,SCREENING
"""
_TR_ROWS = [  # lesion, test, value, visit
    ("T01", "LDIAM", 20, 1), ("T01", "LPERP", 12, 1), ("T02", "LDIAM", 25, 1),
    ("T02", "LPERP", 15, 1), ("T01", "LDIAM", 8, 2), ("T01", "LPERP", 4.9, 2),
    ("T02", "LDIAM", 12, 2), ("T02", "LPERP", 6, 2), ("T01", "LDIAM", 14, 3),
    ("T01", "LPERP", 4.9, 3), ("T02", "LDIAM", 12, 3), ("T02", "LPERP", 6, 3),
    ("", "SUMDIAM", 35, 1), ("", "SUMDIAM", 14, 2), ("", "SUMDIAM", 20, 3)]
TR = "STUDYID,DOMAIN,USUBJID,TRSEQ,TRLNKID,TRTESTCD,TRSTRESC,TRSTRESN,TREVAL,VISITNUM,VISIT," \
     "TRDTC\n" + "".join(
         f"X,TR,S01,{i},{les},{test},{val},{val},INVESTIGATOR,{v},WEEK {6 * (v - 1)},"
         f"2024-0{v}-10\n" for i, (les, test, val, v) in enumerate(_TR_ROWS, start=1))


def rs_text(v2: str, v3: str) -> str:
    return ("STUDYID,DOMAIN,USUBJID,RSSEQ,RSTESTCD,RSCAT,RSSTRESC,RSEVAL,VISITNUM,VISIT\n"
            f"X,RS,S01,1,OVRLRESP,RECIST 1.1,{v2},INVESTIGATOR,2,WEEK 6\n"
            f"X,RS,S01,2,OVRLRESP,RECIST 1.1,{v3},INVESTIGATOR,3,WEEK 12\n")


def sdtm(tmp_path: Path, rs: str | None = rs_text("PR", "PD"), tr: str = TR) -> Path:
    folder = tmp_path / "sdtm"
    folder.mkdir()
    (folder / "tu.csv").write_text(TU, encoding="utf-8")
    (folder / "tr.csv").write_text(tr, encoding="utf-8")
    if rs is not None:
        (folder / "rs.csv").write_text(rs, encoding="utf-8")
    return folder


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_agreeing_study_exits_0_and_writes_every_output(tmp_path: Path) -> None:
    folder = sdtm(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["recist", "--sdtm", str(folder), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "recist_comparison.csv", "recist_report.html", "recist_report.json",
        "recist_timepoints.csv"]
    tp = rows(out / "recist_timepoints.csv")
    assert [(r["VISITNUM"], r["SUMDIAM"], r["NADIR"], r["OVRLRESP"]) for r in tp] == [
        ("1", "35", "", ""), ("2", "14", "35", "PR"), ("3", "20", "14", "PD")]
    assert tp[2]["PCHG_NADIR"] == "42.8571" and tp[1]["PCHG_BASE"] == "-60"
    assert tp[0]["EVALUATOR"] == "INVESTIGATOR" and tp[0]["BASELINE_FL"] == "Y"
    comp = rows(out / "recist_comparison.csv")
    # OVRLRESP at V2, V3 and the investigator's sums at V1-V3, all agreeing
    assert [(r["RSTESTCD"], r["VISITNUM"], r["STATUS"]) for r in comp] == [
        ("SUMDIAM", "1", "AGREE"), ("OVRLRESP", "2", "AGREE"), ("SUMDIAM", "2", "AGREE"),
        ("OVRLRESP", "3", "AGREE"), ("SUMDIAM", "3", "AGREE")]
    report = json.loads((out / "recist_report.json").read_text(encoding="utf-8"))
    assert report["summary"]["status"] == {"AGREE": 5}
    assert report["summary"]["readers"] == ["INVESTIGATOR"] and report["findings"] == []
    page = (out / "recist_report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    assert "<td>PD:sum+42.9%/+6mm from nadir</td>" in page
    # deterministic: a second run writes the same bytes
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert CliRunner().invoke(main, ["recist", "--sdtm", str(folder), "--out", str(out),
                                     "-q"]).exit_code == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_a_disagreement_exits_1_unless_fail_on_is_raised(tmp_path: Path) -> None:
    # the investigator calls V3 CR (the old short-axis-of-everything reading): computed PD
    folder = sdtm(tmp_path, rs=rs_text("PR", "CR"))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["recist", "--sdtm", str(folder), "--out", str(out), "-q"])
    assert result.exit_code == 1
    assert "1 finding(s) at or above 'warning' (first: CMAP-RC0001 RS" in result.output
    report = json.loads((out / "recist_report.json").read_text(encoding="utf-8"))
    assert report["summary"]["findings_by_rule"] == {"CMAP-RC0001": 1}
    assert [(d["VISITNUM"], d["RSSTRESC"], d["COMPUTED"]) for d in report["disagreements"]] == [
        ("3", "CR", "PD")]
    assert '<tr class="DISAGREE">' in (out / "recist_report.html").read_text(encoding="utf-8")
    ok = CliRunner().invoke(main, ["recist", "--sdtm", str(folder), "--out", str(out), "-q",
                                   "--fail-on", "error"])
    assert ok.exit_code == 0


def test_investigator_sum_off_by_more_than_the_tolerance_is_rc0003(tmp_path: Path) -> None:
    folder = sdtm(tmp_path, tr=TR.replace(",SUMDIAM,20,20,", ",SUMDIAM,17,17,"))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["recist", "--sdtm", str(folder), "--out", str(out), "-q"])
    assert result.exit_code == 1
    report = json.loads((out / "recist_report.json").read_text(encoding="utf-8"))
    assert [(f["rule"], f["dataset"], f["value"]) for f in report["findings"]] == [
        ("CMAP-RC0003", "TR", "investigator=17 computed=20")]


def test_without_rs_the_responses_are_still_computed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["recist", "--sdtm", str(sdtm(tmp_path, rs=None)),
                                       "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "recist_report.json").read_text(encoding="utf-8"))
    assert report["summary"]["compared"] == 0
    assert "no RS dataset: responses computed, nothing to compare" in report["notes"]


def test_settings_file_and_options(tmp_path: Path) -> None:
    settings = tmp_path / "study.yaml"
    settings.write_text("recist:\n  nodal_from: short_axis_test\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["recist", "--sdtm", str(sdtm(tmp_path)), "--out",
                                       str(out), "-q", "--settings", str(settings),
                                       "--fail-on", "none"])
    assert result.exit_code == 0, result.output
    # short_axis_test: both lesions have LDIAM too → both non-nodal, read by LDIAM: 45, 20, 26
    tp = rows(out / "recist_timepoints.csv")
    assert [r["SUMDIAM"] for r in tp] == ["45", "20", "26"]
    report = json.loads((out / "recist_report.json").read_text(encoding="utf-8"))
    assert report["settings"]["nodal_from"] == "short_axis_test"
    bad = tmp_path / "bad.yaml"
    bad.write_text("recist:\n  nodal_from: tulat\n", encoding="utf-8")
    (tmp_path / "b").mkdir()
    result = CliRunner().invoke(main, ["recist", "--sdtm", str(sdtm(tmp_path / "b")),
                                       "--settings", str(bad)])
    assert result.exit_code == 2 and "nodal_from" in result.output


@pytest.mark.parametrize("missing", ["tu.csv", "tr.csv"])
def test_missing_tu_or_tr_stops_with_exit_2(tmp_path: Path, missing: str) -> None:
    folder = sdtm(tmp_path)
    (folder / missing).unlink()
    result = CliRunner().invoke(main, ["recist", "--sdtm", str(folder), "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 2
    assert f"no {missing[:2].upper()} dataset; the RECIST engine needs both" in result.output
    assert not (tmp_path / "out").exists()


def xpt_package(tmp_path: Path) -> Path:
    """The CSV package of :func:`sdtm` as XPT files, TR with a variable the engine does not
    read (TRMETHOD)."""
    import pandas as pd

    from cdiscmap.emit.xpt import XptColumn, write_xpt

    csv_dir = sdtm(tmp_path)
    xpt_dir = tmp_path / "xpt"
    xpt_dir.mkdir()
    for name in ("tu", "tr", "rs"):
        frame = pd.read_csv(csv_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        if name == "tr":
            frame["TRMETHOD"] = "CT SCAN"
        numeric = {c for c in frame.columns if c.endswith(("SEQ", "NUM", "STRESN"))}
        frame = frame.astype({c: float for c in numeric}) if name != "tr" else frame.assign(
            **{c: pd.to_numeric(frame[c].replace("", None)) for c in numeric})
        columns = [XptColumn(c, c, "num" if c in numeric else "char") for c in frame.columns]
        write_xpt(xpt_dir / f"{name}.xpt", frame, dataset_name=name.upper(),
                  dataset_label=name.upper(), columns=columns)
    return xpt_dir


def test_xpt_package_read_for_the_engines_variables_gives_the_csv_packages_outputs(
        tmp_path: Path) -> None:
    # the same TU/TR/RS as XPT files: only the engine's variables are decoded, and every
    # output is the CSV package's
    xpt_dir = xpt_package(tmp_path)
    csv_dir = tmp_path / "sdtm"
    for folder, out in ((csv_dir, "out-csv"), (xpt_dir, "out-xpt")):
        result = CliRunner().invoke(main, ["recist", "--sdtm", str(folder), "--out",
                                           str(tmp_path / out), "-q", "--fail-on", "none"])
        assert result.exit_code == 0, result.output
    for name in ("recist_timepoints.csv", "recist_comparison.csv"):
        assert (tmp_path / "out-xpt" / name).read_bytes() == (
            tmp_path / "out-csv" / name).read_bytes()
    assert ",PR," in (tmp_path / "out-xpt" / "recist_timepoints.csv").read_text()
    from cdiscmap.checks.read import read_sdtm
    from cdiscmap.pipeline.recist_command import _engine_datasets

    read = _engine_datasets(read_sdtm(xpt_dir, lazy=True))
    assert "TRMETHOD" not in read["TR"].columns and "TRSTRESN" in read["TR"].columns


def test_text_columns_read_for_the_engine_carry_the_readers_codes(tmp_path: Path,
                                                                  monkeypatch) -> None:
    # the XPT reader factorises text on its bytes: inside the command's codes cache the
    # engine's factorisation of those columns is the reader's (no hashing of the rows), equal
    # to pd.factorize of the values, which are the whole read's
    import numpy as np
    import pandas as pd

    from cdiscmap.checks.read import read_sdtm
    from cdiscmap.pipeline.recist_command import _engine_datasets
    from cdiscmap.sdtm import vectorize

    xpt_dir = xpt_package(tmp_path)
    whole = read_sdtm(xpt_dir)
    with vectorize.codes_cache():
        read = _engine_datasets(read_sdtm(xpt_dir, lazy=True))
        text = [(name, col) for name, frame in read.items() for col in frame.columns
                if isinstance(frame[col].dtype, pd.StringDtype)]
        hashed: list[int] = []
        factorize = pd.factorize
        monkeypatch.setattr(pd, "factorize",
                            lambda *a, **k: hashed.append(1) or factorize(*a, **k))
        codes = {key: vectorize.coded(read[key[0]][key[1]]) for key in text}
        monkeypatch.undo()
    assert not hashed
    assert ("TR", "TRTESTCD") in codes and ("RS", "RSSTRESC") in codes
    for name, col in text:
        assert read[name][col].equals(whole[name][col])
        expected_codes, expected = pd.factorize(
            np.asarray(read[name][col].array, dtype=object), use_na_sentinel=True)
        assert codes[name, col][0].tolist() == expected_codes.tolist()
        assert list(codes[name, col][1]) == list(expected)
    # by hand: 12 lesion records then the three SUMDIAM rows without TRLNKID
    assert list(codes["TR", "TRTESTCD"][1]) == ["LDIAM", "LPERP", "SUMDIAM"]
    assert codes["TR", "TRTESTCD"][0].tolist() == [0, 1] * 6 + [2, 2, 2]
    assert list(codes["TR", "TRLNKID"][1]) == ["T01", "T02"]
    assert codes["TR", "TRLNKID"][0].tolist() == [0, 0, 1, 1] * 3 + [-1, -1, -1]


def test_outputs_are_the_same_with_or_without_forked_children(tmp_path: Path,
                                                              monkeypatch) -> None:
    # RS is prepared, the timepoints' CSV and HTML table and half of a large comparison CSV
    # are composed in forked children when a second CPU is there; one CPU (or no fork) gives
    # the very same bytes
    import os

    from cdiscmap import forked
    from cdiscmap.pipeline import recist_command

    monkeypatch.setattr(recist_command, "_SPLIT_ROWS", 1)      # split the tiny table too

    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    folder = sdtm(tmp_path, rs=rs_text("PR", "SD"))
    started: list[int] = []
    start = forked.ForkedCall._start
    monkeypatch.setattr(forked.ForkedCall, "_start",
                        lambda self: started.append(1) or start(self))
    outputs = {}
    for fork in (False, True):
        monkeypatch.setattr(forked, "fork_usable", lambda fork=fork: fork)
        out = tmp_path / f"out-{fork}"
        result = CliRunner().invoke(main, ["recist", "--sdtm", str(folder), "--out", str(out),
                                           "-q", "--fail-on", "none"])
        assert result.exit_code == 0, result.output
        outputs[fork] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert len(started) == 3               # RS, the timepoints' files, half the comparison
    assert outputs[True] == outputs[False]
    assert sorted(outputs[True]) == ["recist_comparison.csv", "recist_report.html",
                                     "recist_report.json", "recist_timepoints.csv"]
    html = outputs[True]["recist_report.html"].decode("utf-8")
    assert html.endswith("</body></html>\n")
    table = html.split("<h2>Computed timepoints</h2>\n", 1)[1].split("<h2>Settings</h2>")[0]
    assert table.count("<tr class=") == 3           # baseline, V2 PR, V3 PD
    assert '<tr class="PD"><td>S01</td>' in table
    assert b"S01,INVESTIGATOR,3,WEEK 12,OVRLRESP,SD,PD,DISAGREE," in outputs[True][
        "recist_comparison.csv"]
