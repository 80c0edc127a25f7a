"""End to end: the paediatric IMT study as a commercial EDC's CSV export, mapped by YAML only.

``cdiscmap synth --study imt-edc`` lays the imt-pediatric trial out as that EDC exports it
(RecordActive soft deletes, date families, folder/instance visits, audit columns, a lesion
re-entered under a new number); ``mappings/imt-edc`` maps it with the ``commercial-edc-csv``
profile. Expectations come from the generator's truth files and the raw files read back,
never from the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cdiscmap.cli import main
from cdiscmap.pipeline.run import RunOptions, project_root, run_study
from cdiscmap.synth import generate
from cdiscmap.synth.imt_edc import build, date_family, iso_truth

STUDY_DIR = project_root() / "mappings" / "imt-edc"
STUDYID = "IMTEDC"
N = 35
SEED = 20180301
DELETED = "deleted in the EDC (RecordActive = 0) [form]"
INTERRUPTION = "dose interruption line: no drug taken, not an exposure interval [EX/dosing log]"


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("imtedc")
    generate("imt-edc", root / "export", n_subjects=N, seed=SEED)
    result = run_study(RunOptions(study_dir=STUDY_DIR, raw_dir=root / "export" / "raw",
                                  out_root=root / "out"))
    raw = {p.name: _read(p) for p in (root / "export" / "raw").glob("*.csv")}
    truth = {p.stem: _read(p) for p in (root / "export" / "truth").glob("*.csv")}
    summary = json.loads((result.out_dir / "run-summary.json").read_text())
    lineage = _read(result.out_dir / "lineage.csv")
    return result, raw, truth, summary, lineage


def _usubjid(subject: pd.Series) -> pd.Series:
    return f"{STUDYID}-" + subject


def _iso(series: pd.Series) -> list[str]:
    return series.fillna("").astype(str).tolist()


# ---- the generator ---------------------------------------------------------------------------

def test_export_is_byte_identical_for_a_seed_and_differs_across_seeds():
    a, b, c = build(12, 8), build(12, 8), build(12, 9)
    assert sorted(a.raw) == ["ae.csv", "enrol.csv", "eos.csv", "ex.csv", "nl.csv", "ntl.csv",
                             "resp.csv", "tl.csv"]
    for name in a.raw:
        assert a.raw[name].equals(b.raw[name]), name
    for name in a.truth:
        assert a.truth[name].equals(b.truth[name]), name
    assert not a.raw["enrol.csv"].equals(c.raw["enrol.csv"])


def test_date_family_by_hand():
    rng = pytest.importorskip("numpy").random.default_rng(0)
    text = pd.Series(["2020-02-01", "2020-02-UK", "2020-UK-UK", "2019-02-30", ""])
    fam = date_family(text, "AESTDAT", True, rng)
    assert fam["AESTDAT"].tolist() == ["01FEB2020:00:00:00", "", "", "", ""]
    assert fam["AESTDAT_INT"].tolist() == ["", "01FEB2020:00:00:00", "01JAN2020:00:00:00", "",
                                           ""]
    assert fam["AESTDAT_YY"].tolist() == ["2020", "2020", "2020", "2019", ""]
    assert fam["AESTDAT_MM"].tolist() == ["2", "2", "UNK", "2", ""]
    assert fam["AESTDAT_DD"].tolist() == ["1", "UN", "UN", "30", ""]
    assert fam["AESTDAT_RAW"].tolist()[1].upper() == "UN FEB 2020"
    assert fam["AESTDAT_RAW"].tolist()[2].upper() == "UN UNK 2020"
    assert date_family(text, "X", False, rng)["X"].tolist()[0] == "01FEB2020"
    assert iso_truth(text).tolist() == ["2020-02-01", "2020-02", "2020", "", ""]


def test_planted_layout_features(study):
    _, raw, truth, _, _ = study
    deletes = truth["soft_deletes"]
    assert set(deletes["FILE"]) == {"ae.csv", "ex.csv", "tl.csv", "resp.csv"}
    for file, rows in deletes.groupby("FILE"):
        frame = raw[file]
        assert sorted(frame.loc[frame["RecordActive"] == "0", "RecordID"]) == \
            sorted(rows["RecordID"])
    assert len(truth["renumbered_lesions"]) >= 1
    assert (raw["tl.csv"]["PREVLESNUM"] != "").any()
    assert raw["tl.csv"]["TUDAT"].str.fullmatch(r"\d{2}[A-Z]{3}\d{4}").all()       # DATE9
    assert raw["ae.csv"]["AESTDAT"].str.fullmatch(r"(\d{2}[A-Z]{3}\d{4}:00:00:00)?").all()
    assert (raw["ae.csv"]["AESTDAT_DD"] == "UN").any()
    assert (raw["tl.csv"]["InstanceRepeatNumber"] == "1").any()     # an unscheduled visit


# ---- the run ---------------------------------------------------------------------------------

def test_check_spec_passes():
    result = CliRunner().invoke(main, ["check-spec", str(STUDY_DIR)])
    assert result.exit_code == 0, result.output


def test_every_raw_row_accounted_and_soft_deletes_counted(study):
    result, raw, truth, summary, _ = study
    assert summary["balanced"] is True
    by_file = {r["file"]: r for r in summary["raw_files"]}
    assert sorted(by_file) == sorted(raw)
    for name, frame in raw.items():
        row = by_file[name]
        assert row["read"] == len(frame) == row["used"] + row["dropped"], name
    dropped = pd.DataFrame(summary["dropped"])
    deletes = truth["soft_deletes"].groupby("FILE").size()
    got = dropped[dropped["reason"] == DELETED].set_index("file")["rows"]
    assert got.sort_index().to_dict() == deletes.sort_index().to_dict()
    # nothing else is dropped but the dosing log's interruption lines
    other = dropped[dropped["reason"] != DELETED]
    assert other["reason"].tolist() == [INTERRUPTION]
    ex = raw["ex.csv"]
    assert other["rows"].iloc[0] == int(((ex["EXINT"] == "Y") & (ex["RecordActive"] == "1"))
                                        .sum())
    findings = result.findings.to_frame()
    errors = findings[findings["severity"] == "error"]
    assert errors.empty, errors.to_dict("records")
    assert "CMAP-RAW0002" not in set(findings["rule"])     # deleted duplicates are no key clash


def test_soft_deleted_rows_never_reach_sdtm(study):
    result, raw, truth, _, lineage = study
    for file in ("ae.csv", "ex.csv", "tl.csv", "resp.csv"):
        frame = raw[file]
        deleted_rows = {str(i + 1) for i in frame.index[frame["RecordActive"] == "0"]}
        used = set(lineage.loc[lineage["source_file"] == file, "source_row"])
        assert deleted_rows and not deleted_rows & used, file
    # the AE re-entered after deletion is one AE record: counts per subject as truth
    records = truth["records"].set_index("Subject")
    ae = result.datasets["AE"]
    got = ae.groupby("USUBJID").size().reindex(_usubjid(records.index), fill_value=0)
    assert got.tolist() == records["N_AE"].astype(int).tolist()
    assert not ae.duplicated(["USUBJID", "AESPID"]).any()
    ex = result.datasets["EX"].groupby("USUBJID").size()
    assert ex.reindex(_usubjid(records.index), fill_value=0).tolist() == \
        records["N_EX"].astype(int).tolist()


def test_dates_as_truth_partial_dates_partial(study):
    result, _, truth, _, _ = study
    dates = truth["dates"]
    dm = result.datasets["DM"].set_index("USUBJID")
    for item, var in (("BRTHDAT", "BRTHDTC"), ("ICDAT", "RFICDTC")):
        want = dates[dates["ITEM"] == item]
        assert _iso(dm.loc[_usubjid(want["Subject"]), var]) == want["ISO"].tolist(), item
    death = dates[(dates["ITEM"] == "DTHDAT") & (dates["ISO"] != "")]
    assert _iso(dm.loc[_usubjid(death["Subject"]), "DTHDTC"]) == death["ISO"].tolist()
    ae = result.datasets["AE"].assign(AESPID=lambda f: f["AESPID"].astype(str))
    ae = ae.set_index(["USUBJID", "AESPID"])
    for item, var in (("AESTDAT", "AESTDTC"), ("AEENDAT", "AEENDTC")):
        want = dates[dates["ITEM"] == item]
        keys = list(zip(_usubjid(want["Subject"]), want["AESPID"], strict=True))
        assert _iso(ae.loc[keys, var]) == want["ISO"].tolist(), item
    # the export does carry partial dates, which SDTM keeps partial
    assert (dates["ISO"].str.len() == 7).any()


def test_visitnums_as_truth(study):
    result, _, truth, _, _ = study
    visits = truth["visits"]
    want = {(f"{STUDYID}-{s}", d): (v, float(n)) for s, d, v, n in
            visits[["Subject", "DATE", "VISIT", "VISITNUM"]].itertuples(index=False)}
    for domain, dtc in (("TR", "TRDTC"), ("TU", "TUDTC"), ("RS", "RSDTC")):
        data = result.datasets[domain]
        got = {(u, d): (v, n) for u, d, v, n in
               data[["USUBJID", dtc, "VISIT", "VISITNUM"]].drop_duplicates()
               .itertuples(index=False)}
        assert got == {k: want[k] for k in got}, domain
    tr_keys = set(result.datasets["TR"][["USUBJID", "TRDTC"]].itertuples(index=False))
    assert tr_keys == set(want)
    unscheduled = visits[visits["VISIT"] == "UNSCHEDULED"]
    assert len(unscheduled) >= 1
    assert all(n.endswith(".01") for n in unscheduled["VISITNUM"])


def test_renumbered_lesion_is_one_tulnkid(study):
    result, _, truth, _, _ = study
    tu, tr = result.datasets["TU"], result.datasets["TR"]
    records = truth["records"].set_index("Subject")
    ids = _usubjid(records.index)
    for kind, column in (("TARGET", "N_TARGET_LESIONS"), ("NON-TARGET", "N_NONTARGET_LESIONS"),
                         ("NEW", "N_NEW_LESIONS")):
        got = tu[tu["TUSTRESC"] == kind].groupby("USUBJID").size()
        assert got.reindex(ids, fill_value=0).tolist() == records[column].astype(int).tolist()
    diam = tr[tr["TRTESTCD"].isin(["LDIAM", "LPERP"])]
    # every measured target lesion is a lesion of TU, and as many links as lesions
    links = diam.groupby("USUBJID")["TRLNKID"].nunique()
    assert links.reindex(ids, fill_value=0).tolist() == \
        records["N_TARGET_LESIONS"].astype(int).tolist()
    tu_links = set(tu[["USUBJID", "TULNKID"]].itertuples(index=False))
    assert set(diam[["USUBJID", "TRLNKID"]].itertuples(index=False)) <= tu_links
    for r in truth["renumbered_lesions"].itertuples():
        mine = diam[diam["USUBJID"] == f"{STUDYID}-{r.Subject}"]
        old, new = f"T{int(r.PREVLESNUM):02d}", f"T{int(r.LESNUM):02d}"
        assert new not in set(mine["TRLNKID"])
        at_first = mine[mine["VISITNUM"] == float(r.FIRST_VISITNUM)]
        assert old in set(at_first["TRLNKID"])
        assert mine["TRLNKID"].eq(old).sum() == mine["VISITNUM"].nunique()


def test_rs_responses_per_visit_as_truth(study):
    result, _, truth, _, _ = study
    rs = result.datasets["RS"]
    collected = rs[rs["RSDRVFL"].isna() & (rs["RSTESTCD"] == "OVRLRESP")]
    got = sorted(zip(collected["USUBJID"], collected["VISITNUM"], collected["RSDTC"],
                     collected["RSSTRESC"], strict=True))
    want = truth["responses"]
    expected = sorted(zip(_usubjid(want["Subject"]), want["VISITNUM"].astype(float),
                          want["RSDTC"], want["OVRLRESP"], strict=True))
    assert got == expected


def test_recist_agrees_with_investigator_except_planted(study):
    """The renumbered lesion keeps its link, so the engine's sums match the investigator's."""
    result, _, truth, _, _ = study
    findings = result.findings.to_frame()
    rc = findings[findings["rule"] == "CMAP-RC0001"]
    planted = truth["planted_disagreements"]
    assert sorted(rc["usubjid"]) == sorted(_usubjid(planted["Subject"]))
    adrs = result.datasets["ADRS"]
    bor = adrs[adrs["PARAMCD"] == "BOR"].set_index("USUBJID")["AVALC"]
    subjects = truth["subjects"].set_index(_usubjid(truth["subjects"]["Subject"]))
    want = subjects["INV_BOR"].mask(subjects["N_ASSESSMENTS"] == "0", "MISSING")
    assert bor.reindex(want.index).tolist() == want.tolist()
