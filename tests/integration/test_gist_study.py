"""End to end on the GIST stop/continue study: synthetic export → SDTM → ADaM → validator.

The second study is YAML only (mappings/gist-imatinib). Every expected value comes from the
generator's truth files (arms, randomization, progression, re-introduction and death dates, the
6-month status it planted), recomputed here by the protocol's rules, never from the code under
test.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdiscmap.findings import Severity
from cdiscmap.pipeline.run import RunOptions, run_study
from cdiscmap.synth import generate
from cdiscmap.synth.gist import build
from cdiscmap.validation.folder import validate_folder

SEED = 20200301
SIZES = (50, 400)
STUDY_DIR = Path(__file__).resolve().parents[2] / "mappings" / "gist-imatinib"
ARMCD = {"STOP": "STOP", "CONTINUE": "CONT"}
CONTROL = ["CR", "PR", "SD", "NON-CR/NON-PD"]

class Run:
    """One synthesised export and its run, with the truth tables at hand."""

    def __init__(self, root: Path, size: int) -> None:
        generate("gist-imatinib", root / "export", n_subjects=size, seed=SEED)
        self.raw = root / "export" / "raw"
        self.truth = pd.read_csv(root / "export" / "truth" / "subjects.csv", dtype=str,
                                 keep_default_na=False)
        self.truth["USUBJID"] = "GISTSTOP-" + self.truth["SUBJECT"]
        # labels typed like the datasets' USUBJID, so Series align on pandas 2 (object from
        # read_csv) as on pandas 3 (str)
        self.truth = self.truth.set_index("USUBJID")
        self.truth.index = self.truth.index.astype("string")
        self.planted = pd.read_csv(root / "export" / "truth" / "planted_disagreements.csv",
                                   dtype=str)
        self.defects = pd.read_csv(root / "export" / "truth" / "planted_defects.csv", dtype=str)
        self.result = run_study(RunOptions(study_dir=STUDY_DIR, raw_dir=self.raw,
                                           out_root=root / "out"))
        self.data = self.result.datasets

    def raw_form(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.raw / name, dtype=str, keep_default_na=False)

    def date(self, column: str) -> pd.Series:
        """A truth date column as datetimes (NaT where blank), by USUBJID."""
        return pd.to_datetime(self.truth[column].replace("", None), format="%Y-%m-%d")


@pytest.fixture(scope="module", params=SIZES, ids=[f"n{n}" for n in SIZES])
def run(request, tmp_path_factory) -> Run:
    return Run(tmp_path_factory.mktemp(f"gist{request.param}"), request.param)


def by_subject(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame.set_index("USUBJID")[column]


def parameter(adtte: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    return adtte[adtte["PARAMCD"] == paramcd].set_index("USUBJID")


def dmy(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.replace("", None), format="%d-%b-%Y")


# --------------------------------------------------------------------------------------------
# SDTM
# --------------------------------------------------------------------------------------------

def test_every_raw_row_is_accounted_for_and_no_error(run):
    summary = run.result.summary
    assert summary["balanced"] is True
    for row in summary["raw_files"]:
        assert row["read"] == row["used"] + row["dropped"], row["file"]
    assert summary["records_written"]["DM"] == len(run.raw_form("enrol.csv"))
    ex = run.raw_form("ex.csv")
    assert summary["records_written"]["EX"] == int((ex["EXDOSE"] != "0").sum())
    errors = [f for f in run.result.findings if f.severity == Severity.ERROR]
    assert errors == []


def test_dm_arms_and_reference_start_are_the_randomization(run):
    dm = run.data["DM"].set_index("USUBJID")
    truth = run.truth.loc[dm.index]
    assert (dm["ARMCD"] == truth["ARM"].map(ARMCD)).all()
    assert (dm["ACTARMCD"] == dm["ARMCD"]).all()
    assert set(dm["ARM"]) == {"Imatinib interruption, re-introduction at progression",
                              "Imatinib continuation 400 mg QD"}
    assert (dm["RFSTDTC"] == truth["RANDDT"]).all()
    # randomization is 1:1 in permuted blocks of 4 per centre: arms differ by at most 2 a centre
    balance = truth.assign(s=np.where(truth["ARM"] == "STOP", 1, -1)) \
        .groupby(dm["SITEID"])["s"].sum()
    assert balance.abs().max() <= 2


def test_stop_arm_takes_its_last_dose_on_the_randomization_day(run):
    ex = run.data["EX"].sort_values(["USUBJID", "EXSEQ"])
    first = ex.drop_duplicates("USUBJID").set_index("USUBJID")
    truth = run.truth.loc[first.index]
    stop = truth["ARM"] == "STOP"
    assert (first.loc[stop, "EXENDTC"] == truth.loc[stop, "RANDDT"]).all()
    # the next STOP dose is the re-introduction, exactly for the rechallenged subjects
    later = ex[ex["EXSEQ"] == 2].set_index("USUBJID")["EXSTDTC"]
    rechallenged = truth.index[stop & (truth["RCH_DATE"] != "")]
    assert later.reindex(rechallenged).tolist() == truth.loc[rechallenged, "RCH_DATE"].tolist()
    assert later.reindex(truth.index[stop & (truth["RCH_DATE"] == "")]).isna().all()
    # epochs: the imatinib taken at entry is before randomization, later doses in treatment
    rfstdtc = by_subject(run.data["DM"], "RFSTDTC")
    before = ex["EXSTDTC"] < ex["USUBJID"].map(rfstdtc)
    assert (ex.loc[before, "EPOCH"] == "SCREENING").all()
    assert (ex.loc[~before, "EPOCH"] == "TREATMENT").all()


def test_lesions_are_identified_again_at_the_rechallenge_baseline(run):
    tu = run.data["TU"]
    assert (tu["TULOBXFL"].eq("Y") == tu["VISIT"].eq("BASELINE")).all()
    again = tu[tu["VISIT"] == "RECHALLENGE BASELINE"]
    assert again["TULNKID"].str.startswith("R").all()
    rebase = again.drop_duplicates("USUBJID").set_index("USUBJID")["TUDTC"]
    rechallenged = run.truth[run.truth["RCH_DATE"] != ""]
    assert rebase.sort_index().to_dict() == rechallenged["RCH_BASELINE_DATE"].to_dict()
    # numbered after the subject's last scheduled visit on or before it, across all domains
    # (the engine's calendar): the progression scan's visit, or a later scheduled QLQ-C30
    # questionnaire ("Week 36") filled in between the progression and the new baseline scan
    rs = run.data["RS"]
    pd_visit = rs[(rs["RSTESTCD"] == "OVRLRESP") & (rs["RSDTC"] == rs["USUBJID"].map(
        run.truth["PD_DATE"]))].set_index("USUBJID")["VISITNUM"]
    num = again.drop_duplicates("USUBJID").set_index("USUBJID")["VISITNUM"]
    qs = run.raw_form("qlq_c30.csv")
    qs = qs.assign(USUBJID="GISTSTOP-" + qs["SUBJECT"],
                   WEEK=pd.to_numeric(qs["VISIT"].str.extract(r"(?i)^week\s*(\d+)$")[0]),
                   DATE=pd.to_datetime(qs["QSDAT"], format="%d-%b-%Y", errors="coerce"))
    qs = qs[qs["USUBJID"].isin(num.index)]
    qs = qs[qs["DATE"] <= qs["USUBJID"].map(run.date("RCH_BASELINE_DATE"))]
    qs_visit = qs.groupby("USUBJID")["WEEK"].max()
    before = pd.concat([pd_visit.reindex(num.index), qs_visit.reindex(num.index)],
                       axis=1).max(axis=1)
    gap = num - before
    assert ((gap > 0) & (gap < 0.1)).all(), gap[~((gap > 0) & (gap < 0.1))]
    assert (num > pd_visit.reindex(num.index)).all()


def test_recist_crosscheck_finds_exactly_the_planted_with_rebaseline(run):
    """RECIST restarts at the rechallenge baseline (study.yaml recist_rebaseline): the engine
    agrees with the investigator everywhere, before and after re-introduction, except the
    planted rows."""
    findings = run.result.findings.to_frame()
    rc = findings[(findings["rule"] == "CMAP-RC0001") & findings["message"].str.startswith("OVRLRESP")]
    got = sorted(zip(rc["usubjid"], rc["value"], strict=True))
    want = sorted((f"GISTSTOP-{r.SUBJECT}", f"investigator={r.INVESTIGATOR} computed={r.RECIST}")
                  for r in run.planted.itertuples())
    assert got == want
    # and nothing else: no component (target/non-target) disagreement either
    assert set(findings.loc[findings["rule"] == "CMAP-RC0001", "usubjid"]) == {u for u, _ in want}
    assert len(want) == max(1, round(len(run.truth) / 50))


def test_every_planted_defect_is_a_finding(run):
    findings = run.result.findings.to_frame()
    for d in run.defects.itertuples():
        here = findings[findings["source"].str.startswith(f"{d.FILE} row {d.ROW}")]
        assert len(here) >= 1, f"no finding for planted {d}"


# --------------------------------------------------------------------------------------------
# ADaM
# --------------------------------------------------------------------------------------------

def test_adsl_randomization_and_rechallenge_dates(run):
    adsl = run.data["ADSL"].set_index("USUBJID")
    assert (adsl["RANDDT"] == run.date("RANDDT").reindex(adsl.index)).all()
    rch = run.date("RCH_DATE").reindex(adsl.index)
    assert ((adsl["RCHSDT"] == rch) | (adsl["RCHSDT"].isna() & rch.isna())).all()
    assert adsl.loc[adsl["ARMCD"] == "CONT", "RCHSDT"].isna().all()
    assert (adsl["ITTFL"] == "Y").all()


def test_pfs_from_randomization_matches_progression_and_death(run):
    pfs = parameter(run.data["ADTTE"], "PFS")
    assert sorted(pfs.index) == sorted(run.truth.index)
    # event: the earlier of the first PD and death; else censored at the last tumour
    # assessment (CNSR 1), or at randomization without one (CNSR 2)
    event = pd.concat([run.date("PD_DATE"), run.date("DEATH_DATE")], axis=1).min(axis=1)
    last = run.date("LAST_TA_DATE")
    cnsr = pd.Series(np.select([event.notna(), last.notna()], [0.0, 1.0], 2.0),
                     index=event.index)
    adt = event.fillna(last).fillna(run.date("RANDDT"))
    assert pfs["CNSR"].to_dict() == cnsr.to_dict()
    assert pfs["ADT"].to_dict() == adt.to_dict()
    assert (pfs["STARTDT"] == run.date("RANDDT").reindex(pfs.index)).all()
    assert (pfs["AVAL"] == (pfs["ADT"] - pfs["STARTDT"]).dt.days + 1).all()


def test_pfs_after_rechallenge_starts_at_the_reintroduction(run):
    pfsr = parameter(run.data["ADTTE"], "PFSR")
    rechallenged = run.truth.index[run.truth["RCH_DATE"] != ""]
    assert sorted(pfsr.index) == sorted(rechallenged)
    start = run.date("RCH_DATE").reindex(rechallenged)
    event = pd.concat([run.date("RCH_PD_DATE"), run.date("DEATH_DATE")], axis=1) \
        .min(axis=1).reindex(rechallenged)
    last = run.date("RCH_LAST_TA_DATE").reindex(rechallenged)
    cnsr = pd.Series(np.select([event.notna(), last.notna()], [0.0, 1.0], 2.0),
                     index=rechallenged)
    assert pfsr["STARTDT"].to_dict() == start.to_dict()
    assert pfsr["CNSR"].to_dict() == cnsr.to_dict()
    assert pfsr["ADT"].to_dict() == event.fillna(last).fillna(start).to_dict()


def test_progression_free_rate_at_6_months(run):
    adrs = run.data["ADRS"]
    pfr = adrs[adrs["PARAMCD"] == "PFR6M"].set_index("USUBJID")
    assert pfr["AVALC"].to_dict() == run.truth["PF6M"].to_dict()
    assert (pfr["AVAL"] == pfr["AVALC"].map({"Y": 1.0, "N": 0.0})).all()


def test_overall_survival_matches_deaths(run):
    os_ = parameter(run.data["ADTTE"], "OS")
    death, alive = run.date("DEATH_DATE"), run.date("LAST_ALIVE_DATE")
    assert os_["CNSR"].to_dict() == pd.Series(np.where(death.notna(), 0.0, 1.0),
                                               index=death.index).to_dict()
    assert os_["ADT"].to_dict() == death.fillna(alive).to_dict()


def test_output_passes_the_validator(run):
    report = validate_folder(run.result.out_dir)
    assert [f for f in report.findings if f.severity == Severity.ERROR] == []


@pytest.mark.parametrize("run", [SIZES[0]], ids=[f"n{SIZES[0]}"], indirect=True)
def test_rerun_is_byte_identical(run, tmp_path):
    again = run_study(RunOptions(study_dir=STUDY_DIR, raw_dir=run.raw, out_root=tmp_path))

    def digest(folder: Path) -> dict[str, str]:
        return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file() and "raw" not in p.parts}

    assert digest(again.out_dir) == digest(run.result.out_dir)


# --------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------

def test_stop_arm_progresses_far_more_often_and_most_regain_control():
    truth = build(400, SEED).truth["subjects.csv"]
    stop = truth[truth["ARM"] == "STOP"]
    cont = truth[truth["ARM"] == "CONTINUE"]
    assert 150 <= len(stop) <= 250
    progressed = {arm: (t["PD_DATE"] != "").mean() for arm, t in (("STOP", stop),
                                                                 ("CONT", cont))}
    assert progressed["STOP"] >= 0.8                      # seed: ~90 % vs ~60 % at follow-up
    assert 0.4 <= progressed["CONT"] <= 0.75
    pf6m = {arm: (t["PF6M"] == "Y").mean() for arm, t in (("STOP", stop), ("CONT", cont))}
    assert pf6m["STOP"] + 0.15 <= pf6m["CONT"]
    rechallenged = stop[stop["RCH_DATE"] != ""]
    assert len(rechallenged) >= 0.7 * (stop["PD_DATE"] != "").sum()
    assert rechallenged["RCH_BOR"].isin(CONTROL).mean() >= 0.8  # seed: 92 % regain control
    assert (cont["RCH_DATE"] == "").all()


def test_same_seed_same_files_any_size(tmp_path):
    a = generate("gist-imatinib", tmp_path / "a", n_subjects=7, seed=3)
    b = generate("gist-imatinib", tmp_path / "b", n_subjects=7, seed=3)
    for name in a.rows:
        assert (a.raw_dir / name).read_bytes() == (b.raw_dir / name).read_bytes()
    one = build(1, 5)
    assert len(one.raw["enrol.csv"]) == 1 and len(one.truth["subjects.csv"]) == 1


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(min_value=1, max_value=60), seed=st.integers(min_value=0, max_value=2**32))
def test_timeline_rules_hold_for_any_size_and_seed(n, seed):
    files = build(n, seed)
    truth = files.truth["subjects.csv"].set_index("SUBJECT")
    day = {c: pd.to_datetime(truth[c].replace("", None), format="%Y-%m-%d")
           for c in truth.columns if c.endswith("DATE") or c == "RANDDT"}
    # permuted blocks of 4 per centre: in randomization order (subject number) the running
    # STOP - CONTINUE difference stays within 2 and is 0 after every complete block
    sign = pd.Series(np.where(truth["ARM"] == "STOP", 1, -1), index=truth.index)
    site = truth.index.str.slice(0, 2)
    running = sign.groupby(site).cumsum()
    position = sign.groupby(site).cumcount() + 1
    assert running.abs().max() <= 2
    assert (running[position % 4 == 0] == 0).all()
    # re-introduction only in the STOP arm, 7-35 days after the progression scan, after the new
    # baseline scan, which follows the progression scan by at least a day
    rch = day["RCH_DATE"].notna()
    assert (truth.loc[rch, "ARM"] == "STOP").all()
    delay = (day["RCH_DATE"] - day["PD_DATE"]).dt.days[rch]
    assert delay.between(7, 35).all()
    assert (day["RCH_BASELINE_DATE"][rch] > day["PD_DATE"][rch]).all()
    assert (day["RCH_BASELINE_DATE"][rch] <= day["RCH_DATE"][rch]).all()
    assert (day["RCH_PD_DATE"].notna() <= rch).all()
    # nothing after death; the last contact of the living is after every other date
    dates = pd.concat([v for k, v in day.items() if k not in ("DEATH_DATE",
                                                              "LAST_ALIVE_DATE")], axis=1)
    latest = dates.max(axis=1)
    dead = day["DEATH_DATE"].notna()
    assert (latest[dead] <= day["DEATH_DATE"][dead]).all()
    assert (latest[~dead] <= day["LAST_ALIVE_DATE"][~dead]).all()
    # the STOP arm's dosing stops on the randomization day and resumes only at re-introduction
    ex = files.raw["ex.csv"]
    start, end = dmy(ex["EXSTDAT"]), dmy(ex["EXENDAT"])
    arm = ex["SUBJECT"].map(truth["ARM"])
    rand = ex["SUBJECT"].map(day["RANDDT"])
    first_line = ex["EXLINE"] == "1"
    assert (end[first_line & (arm == "STOP")] == rand[first_line & (arm == "STOP")]).all()
    later = ~first_line & (arm == "STOP")
    assert (start[later] >= ex.loc[later, "SUBJECT"].map(day["RCH_DATE"])).all()
