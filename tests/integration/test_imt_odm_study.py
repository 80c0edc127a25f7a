"""End to end: the paediatric IMT study as one CDISC ODM 1.3 file, mapped by YAML only.

``cdiscmap synth --study imt-odm`` writes the imt-pediatric trial (with the visits and the
re-numbered lesion of the imt-edc layout) as a transactional ODM file: MetaData with code
lists, ClinicalData with audit removals (TransactionType="Remove") of duplicated item groups;
``mappings/imt-odm`` maps it with the ``cdisc-odm`` profile. Expectations come from the
generator's truth files and the XML read back, never from the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cdiscmap.cli import main
from cdiscmap.ingest.odm import read_odm
from cdiscmap.pipeline.run import RunOptions, project_root, run_study
from cdiscmap.synth import generate
from cdiscmap.synth.imt_odm import FILE, build

STUDY_DIR = project_root() / "mappings" / "imt-odm"
STUDYID = "IMTODM"
N = 35
SEED = 20180301
REMOVED = ("ODM audit: TransactionType=Remove on ItemGroupData [read]",
           "ODM audit: TransactionType=Remove on ItemGroupData (earlier transaction) [read]")
FORMS = {"enrol": "IG.ENROL", "ex": "IG.EX", "ae": "IG.AE", "eos": "IG.EOS", "tl": "IG.TL",
         "ntl": "IG.NTL", "nl": "IG.NL", "resp": "IG.RESP"}
INTERRUPTION = "dose interruption line: no drug taken, not an exposure interval [EX/dosing log]"


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("imtodm")
    generate("imt-odm", root / "export", n_subjects=N, seed=SEED)
    result = run_study(RunOptions(study_dir=STUDY_DIR, raw_dir=root / "export" / "raw",
                                  out_root=root / "out"))
    raw = (root / "export" / "raw" / FILE).read_text(encoding="utf-8")
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
    assert list(a.raw) == [FILE]
    assert a.raw[FILE] == b.raw[FILE]
    for name in a.truth:
        assert a.truth[name].equals(b.truth[name]), name
    assert a.raw[FILE] != c.raw[FILE]


def test_planted_layout_features(study):
    _, raw, truth, _, _ = study
    assert raw.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"')
    deletes = truth["soft_deletes"]
    assert set(deletes["ITEMGROUP"]) == {"IG.AE", "IG.EX", "IG.TL"}
    removes = raw.count('TransactionType="Remove"/>')
    assert removes == len(deletes)
    assert raw.count('<SubjectData SubjectKey=') - raw.count('TransactionType="Update"') == N
    assert '<CodeListItem CodedValue="PR"><Decode><TranslatedText xml:lang="en">Partial Response' \
        in raw
    assert 'StudyEventOID="SE.UNS" StudyEventRepeatKey="1"' in raw
    assert '<ItemData ItemOID="IT.TL.PREVLESNUM"' in raw


# ---- the run ---------------------------------------------------------------------------------

def test_check_spec_passes():
    result = CliRunner().invoke(main, ["check-spec", str(STUDY_DIR)])
    assert result.exit_code == 0, result.output


def _records(raw: str, item_group: str) -> int:
    return raw.count(f'<ItemGroupData ItemGroupOID="{item_group}" ')


def test_every_record_accounted_and_removals_counted(study, tmp_path):
    result, raw, truth, summary, _ = study
    assert summary["balanced"] is True
    by_form = {r["form"]: r for r in summary["raw_files"] if r.get("form")}
    assert set(by_form) == set(FORMS)
    for form, group in FORMS.items():
        row = by_form[form]
        assert row["file"] == FILE
        assert row["read"] == _records(raw, group) == row["used"] + row["dropped"], form
    dropped = pd.DataFrame(summary["dropped"])
    # each removal: the duplicate's Insert (earlier transaction) and the Remove itself
    removed = dropped[dropped["reason"].isin(REMOVED)]
    assert removed["rows"].sum() == 2 * len(truth["soft_deletes"])
    other = dropped[~dropped["reason"].isin(REMOVED)]
    assert other["reason"].tolist() == [INTERRUPTION]
    path = tmp_path / FILE
    path.write_text(raw, encoding="utf-8")
    ex, _ = read_odm(path, "IG.EX")
    assert other["rows"].iloc[0] == int((ex["EXINT"] == "Y").sum())
    findings = result.findings.to_frame()
    errors = findings[findings["severity"] == "error"]
    assert errors.empty, errors.to_dict("records")
    assert "CMAP-RAW0002" not in set(findings["rule"])     # removed duplicates are no key clash


def test_removed_item_groups_never_reach_sdtm(study):
    result, _, truth, _, lineage = study
    # the removed duplicates sit under repeat keys past each log's last line: no record has them
    deletes = truth["soft_deletes"]
    assert len(deletes) >= 3
    records = truth["records"].set_index("Subject")
    ae = result.datasets["AE"]
    got = ae.groupby("USUBJID").size().reindex(_usubjid(records.index), fill_value=0)
    assert got.tolist() == records["N_AE"].astype(int).tolist()
    assert not ae.duplicated(["USUBJID", "AESPID"]).any()
    ex = result.datasets["EX"].groupby("USUBJID").size()
    assert ex.reindex(_usubjid(records.index), fill_value=0).tolist() == \
        records["N_EX"].astype(int).tolist()
    tr = result.datasets["TR"]
    diam = tr[tr["TRTESTCD"].isin(["LDIAM", "LPERP"])]
    assert not diam.duplicated(["USUBJID", "TRLNKID", "VISITNUM"]).any()


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
