"""Double programming end to end: the demo study run twice, the second time with one mapping
change (AETOXGR of serious events set to grade 5), compared with `cdiscmap compare`. The
report must name exactly the AE records whose grade changed, and only AETOXGR."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdiscmap.checks.read import read_xpt_dataset
from cdiscmap.cli import main
from cdiscmap.pipeline.run import RunOptions, run_study
from cdiscmap.resources import studies_root
from cdiscmap.synth import generate

ORIGINAL = "      AETOXGR: {assign_ct: {column: AEGRADE, codelist: TOXGR}}\n"
CHANGED = """\
      AETOXGR:
        when:
          - if: {var: AESER, equals: "Y"}
            then: {constant: "5"}
          - else: {assign_ct: {column: AEGRADE, codelist: TOXGR}}
"""


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("double")
    generate("crizotinib-basket", tmp / "CRZBASKET", n_subjects=20, seed=1)
    study = tmp / "study"
    shutil.copytree(studies_root() / "crizotinib-basket", study)
    ae = study / "sdtm" / "ae.yaml"
    text = ae.read_text(encoding="utf-8")
    assert text.count(ORIGINAL) == 1
    ae.write_text(text.replace(ORIGINAL, CHANGED), encoding="utf-8")
    raw = tmp / "CRZBASKET" / "raw"
    first = run_study(RunOptions(study_dir=studies_root() / "crizotinib-basket", raw_dir=raw,
                                 out_root=tmp / "a", adam=False))
    second = run_study(RunOptions(study_dir=study, raw_dir=raw, out_root=tmp / "b",
                                  adam=False))
    return first.out_dir, second.out_dir


def test_compare_names_exactly_the_changed_records(two_runs: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    base, compare = two_runs
    # expected, from the BASE data itself: serious events not already graded 5
    ae = read_xpt_dataset(base / "sdtm" / "ae.xpt", base, base).frame
    changed = ae.loc[(ae["AESER"] == "Y") & (ae["AETOXGR"] != "5")]
    assert len(changed) > 0
    expected = sorted(zip(changed["USUBJID"], changed["AESEQ"].astype(int).astype(str),
                          changed["AETOXGR"], strict=True))

    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["compare", str(base), str(compare), "--out", str(out),
                                       "--max-records", "1000"])
    assert result.exit_code == 1, result.output + result.stderr
    document = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert document["differences"] == len(expected)
    assert document["datasets_only_in_base"] == document["datasets_only_in_compare"] == []
    differing = [d for d in document["datasets"] if not d["equal"]]
    assert [d["name"] for d in differing] == ["sdtm/AE"]
    (ds,) = differing
    assert ds["keys"] == ["STUDYID", "USUBJID", "AEDECOD", "AESTDTC", "AESEQ"]
    assert ds["attributes"] == [] and ds["only_base"] == ds["only_compare"] == 0
    (values,) = ds["values"]
    assert values["variable"] == "AETOXGR" and values["unequal"] == len(expected)
    found = sorted((r["keys"]["USUBJID"], r["keys"]["AESEQ"], r["base"])
                   for r in values["records"])
    assert found == expected
    assert all(r["compare"] == "5" for r in values["records"])
    assert document["defines"]["sdtm/define.xml"] == []
    html = (out / "compare.html").read_text(encoding="utf-8")
    assert f"sdtm/AE.AETOXGR: {len(expected)} unequal value(s)" in html


def test_a_package_compared_with_itself_is_equal(two_runs: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    base, _ = two_runs
    result = CliRunner().invoke(main, ["compare", str(base), str(base), "--out",
                                       str(tmp_path / "same")])
    assert result.exit_code == 0, result.output + result.stderr
    assert "EQUAL" in result.output
    junit = (tmp_path / "same" / "compare.junit.xml").read_text(encoding="utf-8")
    assert 'failures="0"' in junit
    n_datasets = len(list((base / "sdtm").glob("*.xpt")))
    assert f'tests="{n_datasets + 1}"' in junit     # one per dataset + sdtm/define.xml


def test_define_difference_is_reported(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    base, _ = two_runs
    copy = tmp_path / "pkg"
    shutil.copytree(base / "sdtm", copy / "sdtm")
    define = copy / "sdtm" / "define.xml"
    text = define.read_text(encoding="utf-8")
    item = 'OID="IT.AE.AETOXGR" Name="AETOXGR"'
    assert text.count(item) == 1
    define.write_text(text.replace(item, item.replace('"AETOXGR"', '"AETOXGRX"')),
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["compare", str(base), str(copy), "--out",
                                       str(tmp_path / "r")])
    assert result.exit_code == 1
    document = json.loads((tmp_path / "r" / "compare.json").read_text(encoding="utf-8"))
    diffs = document["defines"]["sdtm/define.xml"]
    assert [(d["element"], d["attribute"], d["base"], d["compare"]) for d in diffs] == [
        ("ItemDef", "Name", "AETOXGR", "AETOXGRX")]
    assert all(d["equal"] for d in document["datasets"])
