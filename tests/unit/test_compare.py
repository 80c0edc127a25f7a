"""`cdiscmap compare`: hand-built dataset pairs, one per kind of difference PROC COMPARE and
diffdf report, with the expected counts and records worked out by hand."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cdiscmap.cli import main
from cdiscmap.compare.diff import CompareOptions, compare_paths
from cdiscmap.emit.xpt import XptColumn, write_xpt

CREATED = datetime(2024, 1, 2, 3, 4, 5)
AE_COLUMNS = [XptColumn("STUDYID", "Study Identifier", "char"),
              XptColumn("USUBJID", "Unique Subject Identifier", "char"),
              XptColumn("AEDECOD", "Dictionary-Derived Term", "char"),
              XptColumn("AESTDTC", "Start Date/Time of Adverse Event", "char"),
              XptColumn("AESEQ", "Sequence Number", "num"),
              XptColumn("AETOXGR", "Standard Toxicity Grade", "char"),
              XptColumn("AVAL", "Value", "num")]


def ae_frame(**changes: list) -> pd.DataFrame:
    data = {"STUDYID": ["S1"] * 4, "USUBJID": ["S1-01", "S1-01", "S1-02", "S1-03"],
            "AEDECOD": ["NAUSEA", "FATIGUE", "NAUSEA", "RASH"],
            "AESTDTC": ["2020-01-01", "2020-01-05", "2020-02-01", "2020-03-01"],
            "AESEQ": [1.0, 2.0, 1.0, 1.0], "AETOXGR": ["1", "2", "3", "1"],
            "AVAL": [0.5, 10.0, -2.0, np.nan]}
    data.update(changes)
    return pd.DataFrame({k: pd.array(v, dtype="string") if isinstance(v[0], str)
                         or (k in ("AETOXGR",)) else np.asarray(v, dtype=float)
                         for k, v in data.items()})


def write(path: Path, frame: pd.DataFrame, columns: list[XptColumn] = AE_COLUMNS,
          name: str = "AE", label: str = "Adverse Events", **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_xpt(path, frame, dataset_name=name, dataset_label=label, columns=columns,
              created=CREATED, **kw)
    return path


def run(tmp_path: Path, base: pd.DataFrame, compare: pd.DataFrame, opts: CompareOptions
        | None = None, **kw: object):
    b = write(tmp_path / "base" / "ae.xpt", base, **kw)
    c = write(tmp_path / "compare" / "ae.xpt", compare, **kw)
    result = compare_paths(b, c, opts or CompareOptions())
    (found,) = result.datasets
    return found


def test_identical_datasets_are_equal(tmp_path: Path) -> None:
    found = run(tmp_path, ae_frame(), ae_frame())
    assert found.equal and found.differences == 0
    assert found.keys == ["STUDYID", "USUBJID", "AEDECOD", "AESTDTC", "AESEQ"]   # specs/ AE
    assert found.matched == 4 and not found.by_row


def test_numeric_tolerance_edges(tmp_path: Path) -> None:
    # |0.5 - 0.75| = 0.25 exactly (binary fractions): at the tolerance is equal;
    # |10 - 10.25| = 0.25 equal; |-2 - (-2.2500001)| = 0.2500001 just above: unequal
    compare = ae_frame(AVAL=[0.75, 10.25, -2.2500001, np.nan])
    found = run(tmp_path, ae_frame(), compare, CompareOptions(tolerance=0.25))
    (values,) = found.values
    assert values.variable == "AVAL" and values.unequal == 1
    (record,) = values.records
    assert record.keys["USUBJID"] == "S1-02"
    assert (record.base, record.compare) == ("-2", "-2.2500001")
    assert record.abs_diff == pytest.approx(0.2500001)
    assert record.rel_diff == pytest.approx(0.2500001 / 2)
    # relative tolerance: 0.25/0.5 = 0.5 and 0.2500001/2 = 0.125 are within 0.5
    found = run(tmp_path / "r", ae_frame(), compare,
                CompareOptions(tolerance=0.0, rel_tolerance=0.5))
    assert found.equal
    # default tolerance 1e-8: each of the three differs
    found = run(tmp_path / "d", ae_frame(), compare)
    assert found.values[0].unequal == 3


def test_special_missing_values_are_distinguished(tmp_path: Path) -> None:
    base = ae_frame(AVAL=[np.nan, np.nan, np.nan, np.nan])
    special_b = {"AVAL": pd.Series(["A", "B", "", "_"])}
    special_c = {"AVAL": pd.Series(["A", "C", "A", "_"])}
    b = write(tmp_path / "b" / "ae.xpt", base, special_missing=special_b)
    c = write(tmp_path / "c" / "ae.xpt", base, special_missing=special_c)
    (found,) = compare_paths(b, c).datasets
    (values,) = found.values
    assert values.unequal == 2           # .B vs .C, . vs .A; .A = .A and ._ = ._
    assert [(r.base, r.compare) for r in values.records] == [(".B", ".C"), (".", ".A")]
    assert [r.keys["AEDECOD"] for r in values.records] == ["FATIGUE", "NAUSEA"]


def test_label_only_difference(tmp_path: Path) -> None:
    b = write(tmp_path / "b" / "ae.xpt", ae_frame())
    relabelled = [XptColumn(c.name, "Toxicity Grade" if c.name == "AETOXGR" else c.label,
                            c.type, c.length, c.format) for c in AE_COLUMNS]
    c = write(tmp_path / "c" / "ae.xpt", ae_frame(), relabelled, label="AE")
    (found,) = compare_paths(b, c).datasets
    assert not found.values and not found.only_base and not found.only_compare
    assert [(a.variable, a.attribute, a.base, a.compare) for a in found.attributes] == [
        ("", "label", "Adverse Events", "AE"),
        ("AETOXGR", "label", "Standard Toxicity Grade", "Toxicity Grade")]
    assert found.differences == 2


def test_type_length_and_format_differences(tmp_path: Path) -> None:
    b = write(tmp_path / "b" / "ae.xpt", ae_frame())
    changed = [XptColumn(c.name, c.label, c.type,
                         20 if c.name == "AEDECOD" else c.length,
                         "8.2" if c.name == "AVAL" else c.format) for c in AE_COLUMNS]
    changed[5] = XptColumn("AETOXGR", "Standard Toxicity Grade", "num")     # char → num
    frame = ae_frame().assign(AETOXGR=[1.0, 2.0, 3.0, 1.0])
    c = write(tmp_path / "c" / "ae.xpt", frame, changed)
    (found,) = compare_paths(b, c).datasets
    assert {(a.variable, a.attribute, a.base, a.compare) for a in found.attributes} == {
        ("AEDECOD", "length", "7", "20"), ("AETOXGR", "type", "char", "num"),
        ("AVAL", "format", "", "8.2")}
    assert not found.values      # "1" read as the number 1: the values are the same


def test_records_and_variables_only_in_one_side(tmp_path: Path) -> None:
    base = ae_frame()
    compare = ae_frame(USUBJID=["S1-01", "S1-01", "S1-02", "S1-09"])
    b = write(tmp_path / "b" / "ae.xpt", base)
    c = write(tmp_path / "c" / "ae.xpt", compare.drop(columns=["AVAL"]).assign(
        AEOUT=pd.array(["RECOVERED"] * 4, dtype="string")),
        [*AE_COLUMNS[:6], XptColumn("AEOUT", "Outcome of Adverse Event", "char")])
    (found,) = compare_paths(b, c).datasets
    assert (found.only_base, found.only_compare, found.matched) == (1, 1, 3)
    assert found.only_base_records[0]["USUBJID"] == "S1-03"
    assert found.only_compare_records[0]["USUBJID"] == "S1-09"
    assert found.variables_only_base == ["AVAL"]
    assert found.variables_only_compare == ["AEOUT"]
    assert not found.values


def test_duplicate_keys_reported_and_compared_by_occurrence(tmp_path: Path) -> None:
    # the first two records share every key variable; COMPARE changes the second one only
    dup = {"AEDECOD": ["NAUSEA", "NAUSEA", "NAUSEA", "RASH"],
           "AESTDTC": ["2020-01-01", "2020-01-01", "2020-02-01", "2020-03-01"],
           "AESEQ": [1.0, 1.0, 1.0, 1.0]}
    base = ae_frame(**dup)
    compare = ae_frame(**dup, AETOXGR=["1", "4", "3", "1"])
    found = run(tmp_path, base, compare)
    assert (found.duplicate_base, found.duplicate_compare) == (2, 2)
    assert found.duplicate_base_keys == [{"STUDYID": "S1", "USUBJID": "S1-01",
                                          "AEDECOD": "NAUSEA", "AESTDTC": "2020-01-01",
                                          "AESEQ": "1", "_COUNT": "2"}]
    (values,) = found.values
    assert values.variable == "AETOXGR" and values.unequal == 1
    assert (values.records[0].base, values.records[0].compare) == ("2", "4")
    assert found.matched == 4 and found.only_base == found.only_compare == 0


def test_record_order_does_not_matter_with_keys(tmp_path: Path) -> None:
    reordered = ae_frame().iloc[[3, 1, 0, 2]].reset_index(drop=True)
    assert run(tmp_path, ae_frame(), reordered).equal


def test_text_rules_trailing_blanks_case_and_whitespace(tmp_path: Path) -> None:
    base = pd.DataFrame({"USUBJID": ["1", "2", "3"], "TXT": ["ABC", "a  b", " x"]})
    compare = pd.DataFrame({"USUBJID": ["1", "2", "3"], "TXT": ["ABC   ", "A B", "x"]})
    base.to_csv(tmp_path / "b.csv", index=False)
    compare.to_csv(tmp_path / "c.csv", index=False)
    opts = CompareOptions(keys=("USUBJID",))
    (found,) = compare_paths(tmp_path / "b.csv", tmp_path / "c.csv", opts).datasets
    # trailing blanks never count; case, inner blanks and a leading blank do
    assert found.values[0].unequal == 2
    (found,) = compare_paths(tmp_path / "b.csv", tmp_path / "c.csv", CompareOptions(
        keys=("USUBJID",), ignore_case=True)).datasets
    assert found.values[0].unequal == 2
    (found,) = compare_paths(tmp_path / "b.csv", tmp_path / "c.csv", CompareOptions(
        keys=("USUBJID",), ignore_case=True, ignore_whitespace=True)).datasets
    assert found.equal


def test_iso_text_dates_equal_sas_numeric_dates(tmp_path: Path) -> None:
    cols = [XptColumn("STUDYID", "Study Identifier", "char"),
            XptColumn("USUBJID", "Unique Subject Identifier", "char"),
            XptColumn("TRTSDT", "Date of First Exposure to Treatment", "num", format="DATE9.")]
    frame = pd.DataFrame({"STUDYID": pd.array(["S"] * 3, dtype="string"),
                          "USUBJID": pd.array(["1", "2", "3"], dtype="string"),
                          "TRTSDT": pd.to_datetime(["2014-03-05", "2015-01-01", None])})
    b = write(tmp_path / "adsl.xpt", frame, cols, name="ADSL", label="Subject-Level")
    pd.DataFrame({"STUDYID": ["S"] * 3, "USUBJID": ["1", "2", "3"],
                  "TRTSDT": ["2014-03-05", "2015-01", ""]}).to_csv(tmp_path / "adsl.csv",
                                                                    index=False)
    (found,) = compare_paths(b, tmp_path / "adsl.csv").datasets
    assert found.keys == ["STUDYID", "USUBJID"]
    (values,) = found.values     # 2014-03-05 equal, missing equal, partial 2015-01 is not a date
    assert values.kind == "date" and values.unequal == 1
    assert (values.records[0].base, values.records[0].compare) == ("2015-01-01", "2015-01")


def test_unknown_dataset_falls_back_to_row_order_with_a_note(tmp_path: Path) -> None:
    pd.DataFrame({"A": ["x", "y"]}).to_csv(tmp_path / "zz.csv", index=False)
    pd.DataFrame({"A": ["x", "z", "w"]}).to_csv(tmp_path / "zz2.csv", index=False)
    (found,) = compare_paths(tmp_path / "zz.csv", tmp_path / "zz2.csv").datasets
    assert found.by_row and "row order" in found.notes[0]
    assert found.only_compare == 1 and found.only_compare_records == [{"_ROW": "3"}]
    assert found.values[0].records[0].keys == {"_ROW": "2"}


def test_cli_exit_codes_and_reports(tmp_path: Path) -> None:
    b = write(tmp_path / "b" / "ae.xpt", ae_frame())
    c = write(tmp_path / "c" / "ae.xpt", ae_frame(AETOXGR=["1", "2", "4", "1"]))
    runner = CliRunner()
    out = tmp_path / "rep"
    same = runner.invoke(main, ["compare", str(b), str(b), "--out", str(out)])
    assert same.exit_code == 0, same.output
    differ = runner.invoke(main, ["compare", str(b), str(c), "--out", str(out), "--excel"])
    assert differ.exit_code == 1
    assert "1 difference(s)" in differ.stderr
    document = json.loads((out / "compare.json").read_text())
    (ds,) = document["datasets"]
    assert ds["values"][0]["variable"] == "AETOXGR"
    assert ds["values"][0]["records"][0]["keys"]["USUBJID"] == "S1-02"
    junit = (out / "compare.junit.xml").read_text()
    assert 'tests="1"' in junit and 'failures="1"' in junit
    html = (out / "compare.html").read_text()
    assert "AE.AETOXGR: 1 unequal value(s)" in html
    assert (out / "compare.xlsx").stat().st_size > 0
    first = (out / "compare.xlsx").read_bytes()
    runner.invoke(main, ["compare", str(b), str(c), "--out", str(out), "--excel"])
    assert (out / "compare.xlsx").read_bytes() == first      # deterministic workbook
    assert runner.invoke(main, ["compare", str(b), str(c), "--out", str(out),
                                "--fail-on", "none"]).exit_code == 0
    bad_keys = runner.invoke(main, ["compare", str(b), str(c), "--keys", "NOPE"])
    assert bad_keys.exit_code == 2 and "NOPE" in bad_keys.stderr
    missing = runner.invoke(main, ["compare", str(b), str(tmp_path / "nothing.xpt")])
    assert missing.exit_code == 2 and "not found" in missing.stderr


def test_cdiscmap_xpt_equals_pyreadstat_xpt(tmp_path: Path) -> None:
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = ae_frame()
    ours = write(tmp_path / "ours" / "ae.xpt", frame)
    theirs = tmp_path / "theirs" / "ae.xpt"
    theirs.parent.mkdir()
    plain = pd.DataFrame({c: frame[c].astype(object).where(frame[c].notna(), "")
                          if frame[c].dtype == "string" else frame[c] for c in frame.columns})
    pyreadstat.write_xport(plain, str(theirs), file_format_version=5, table_name="AE",
                           file_label="Adverse Events",
                           column_labels=[c.label for c in AE_COLUMNS])
    result = compare_paths(ours, theirs)
    (found,) = result.datasets
    assert result.equal, (found.attributes, found.values)
    assert found.matched == 4 and found.compared_variables == [c.name for c in AE_COLUMNS]
