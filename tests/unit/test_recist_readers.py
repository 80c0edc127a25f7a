"""Readers: investigator and independent radiologists are separate RECIST series.

TU/TR/RS ``--EVAL`` (+ ``--EVALID``) name the reader; each reader's lesions, responses and
cross-check stay apart even when they reuse the same lesion ids. Hand-checked values in comments.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.recist import RecistSettings, crosscheck, timepoint_responses

INV, IA = "INVESTIGATOR", "INDEPENDENT ASSESSOR"
# reader (EVAL, EVALID): T01 LDIAM at visits 1, 2
READS = {(INV, None): (30.0, 15.0),          # -50 % → PR
         (IA, "RADIOLOGIST 1"): (30.0, 36.0),  # +6 mm, +20 % → PD
         (IA, "RADIOLOGIST 2"): (40.0, 36.0)}  # -10 % → SD


def frames(reads: dict[tuple[str | None, str | None], tuple[float, float]] = READS
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    tu, tr = [], []
    for (ev, evid), values in reads.items():
        tu.append({"USUBJID": "S01", "TULNKID": "T01", "TUSTRESC": "TARGET", "TUEVAL": ev,
                   "TUEVALID": evid, "VISITNUM": 1.0})
        for visit, value in enumerate(values, start=1):
            tr.append({"USUBJID": "S01", "TRLNKID": "T01", "TRTESTCD": "LDIAM",
                       "TRSTRESN": value, "TREVAL": ev, "TREVALID": evid,
                       "VISITNUM": float(visit), "VISIT": f"V{visit}",
                       "TRDTC": f"2024-0{visit}-01"})
    text = ("USUBJID", "TULNKID", "TUSTRESC", "TUEVAL", "TUEVALID")
    tr_text = ("USUBJID", "TRLNKID", "TRTESTCD", "TREVAL", "TREVALID", "VISIT", "TRDTC")
    return (pd.DataFrame(tu).astype({c: "string" for c in text}),
            pd.DataFrame(tr).astype({c: "string" for c in tr_text}))


def post(out: pd.DataFrame) -> dict[str, str]:
    rows = out[out["VISITNUM"] == 2.0]
    return dict(zip(rows["EVALUATOR"], rows["OVRLRESP"], strict=True))


def test_default_reads_the_investigator_only_and_names_it() -> None:
    out = timepoint_responses(*frames())
    assert list(out["EVALUATOR"]) == [INV, INV]
    assert post(out) == {INV: "PR"}


def test_each_reader_is_its_own_series() -> None:
    out = timepoint_responses(*frames(), RecistSettings(evaluators=["investigator", IA]))
    assert post(out) == {f"{IA}/RADIOLOGIST 1": "PD", f"{IA}/RADIOLOGIST 2": "SD", INV: "PR"}
    # sorted by USUBJID, EVALUATOR, VISITNUM; the baselines are the reader's own sums
    assert list(out["EVALUATOR"]) == sorted(out["EVALUATOR"])
    assert list(out["BASE_SUM"]) == [30.0, 30.0, 40.0, 40.0, 30.0, 30.0]
    assert set(out["USUBJID"]) == {"S01"}
    star = timepoint_responses(*frames(), RecistSettings(evaluators=["*"]))
    assert post(star) == post(out)
    only_ia = timepoint_responses(*frames(), RecistSettings(evaluators=[IA]))
    assert post(only_ia) == {f"{IA}/RADIOLOGIST 1": "PD", f"{IA}/RADIOLOGIST 2": "SD"}


def test_null_evaluator_counts_as_the_primary_one() -> None:
    out = timepoint_responses(*frames({(None, None): (30.0, 15.0), (IA, None): (30.0, 36.0)}),
                              RecistSettings(evaluators=["*"]))
    assert post(out) == {IA: "PD", INV: "PR"}


def rs_rows(rows: list[tuple[str, str | None, str]]) -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": pd.array(["S01"] * len(rows), dtype="string"),
        "VISITNUM": [2.0] * len(rows),
        "RSTESTCD": pd.array(["OVRLRESP"] * len(rows), dtype="string"),
        "RSSTRESC": pd.array([r for _, _, r in rows], dtype="string"),
        "RSEVAL": pd.array([e for e, _, _ in rows], dtype="string"),
        "RSEVALID": pd.array([i for _, i, _ in rows], dtype="string")})


def test_crosscheck_compares_each_reader_with_its_own_rs_records() -> None:
    settings = RecistSettings(evaluators=["*"])
    out = timepoint_responses(*frames(), settings)
    rs = rs_rows([(INV, None, "PR"), (IA, "RADIOLOGIST 1", "PD"), (IA, "RADIOLOGIST 2", "PR")])
    table, findings = crosscheck(out, rs, settings=settings)
    assert list(zip(table["EVALUATOR"], table["STATUS"], strict=True)) == [
        (f"{IA}/RADIOLOGIST 1", "AGREE"), (f"{IA}/RADIOLOGIST 2", "DISAGREE"), (INV, "AGREE")]
    assert [(f.rule, f.value) for f in findings] == [
        ("CMAP-RC0001", "independent assessor/radiologist 2=PR computed=SD")]


def test_rs_prepared_before_the_readers_are_known_compares_the_same() -> None:
    """``cdiscmap recist`` prepares RS beside the engine (prepare_rs), before it knows the
    computed readers: the comparison must be the one of the raw RS, for every reader choice."""
    from cdiscmap.recist.crosscheck import prepare_rs

    rs = rs_rows([(INV, None, "PR"), (IA, "RADIOLOGIST 1", "PD"), (IA, "RADIOLOGIST 2", "PR"),
                  (None, None, "SD")])         # null RSEVAL: the primary evaluator's record
    rs["RSCAT"] = pd.array(["RECIST 1.1", "RECIST 1.1", "RECIST 1.1", "IRRC"], dtype="string")
    for settings, evaluator in ((RecistSettings(evaluators=["*"]), None),
                                (RecistSettings(), None), (RecistSettings(), INV)):
        out = timepoint_responses(*frames(), settings)
        raw, raw_findings = crosscheck(out, rs, settings=settings, evaluator=evaluator)
        ready, ready_findings = crosscheck(out, prepare_rs(rs, settings.evaluator),
                                           settings=settings, evaluator=evaluator)
        pd.testing.assert_frame_equal(ready, raw)
        assert ready_findings == raw_findings
    # the IRRC record is no RECIST 1.1 record: only the investigator's PR is compared (agrees)
    assert list(zip(raw["EVALUATOR"], raw["STATUS"], strict=True)) == [(INV, "AGREE")]


def test_crosscheck_with_an_explicit_evaluator_needs_one_reader() -> None:
    from cdiscmap.errors import InputDataError

    out = timepoint_responses(*frames(), RecistSettings(evaluators=["*"]))
    with pytest.raises(InputDataError, match="one reader"):
        crosscheck(out, rs_rows([(INV, None, "PR")]), evaluator=INV)


# --- ADRS: BOR per evaluator in one run ----------------------------------------------------------
def _adrs_data() -> dict[str, pd.DataFrame]:
    """Subject A randomised 2020-01-01; d56 = 2020-02-26, d84 = 2020-03-25 (SD minimum 42 d)."""
    def s(values: list[object]) -> pd.Series:
        return pd.Series(values, dtype="string")

    rs_rows = [  # RSSEQ, RSDTC, RSSTRESC, RSEVAL, RSDRVFL
        (1, "2020-02-26", "PR", INV, None), (2, "2020-03-25", "PR", INV, None),
        (3, "2020-02-26", "SD", IA, None), (4, "2020-03-25", "PD", IA, None),
        (5, "2020-03-25", "CR", None, "Y")]
    rs = pd.DataFrame({
        "USUBJID": s(["A"] * 5), "RSSEQ": [float(r[0]) for r in rs_rows],
        "RSDTC": s([r[1] for r in rs_rows]), "RSSTRESC": s([r[2] for r in rs_rows]),
        "RSEVAL": s([r[3] for r in rs_rows]), "RSDRVFL": s([r[4] for r in rs_rows]),
        "RSTESTCD": s(["OVRLRESP"] * 5), "VISITNUM": [2.0, 3.0, 2.0, 3.0, 3.0],
        "VISIT": s(["V2", "V3", "V2", "V3", "V3"])})
    return {
        "DM": pd.DataFrame({"STUDYID": s(["Z"]), "USUBJID": s(["A"]), "DTHDTC": s([None])}),
        "DS": pd.DataFrame({"USUBJID": s(["A"]), "DSSEQ": [1.0], "DSTERM": s(["RANDOMIZED"]),
                            "DSDECOD": s(["RANDOMIZED"]), "DSSTDTC": s(["2020-01-01"])}),
        "RS": rs,
        "TU": pd.DataFrame({"USUBJID": s(["A"]), "TUSEQ": [1.0], "TUSTRESC": s(["TARGET"]),
                            "VISIT": s(["BASELINE"]), "TUDTC": s(["2019-12-20"])}),
    }


def test_adrs_derives_bor_per_evaluator_in_one_run() -> None:
    from cdiscmap.adam import derive_all
    from cdiscmap.adam.settings import AdamSettings, AdrsSettings, EvaluatorParameters

    plain = derive_all(_adrs_data(), AdamSettings()).datasets["ADRS"]
    settings = AdamSettings(adrs=AdrsSettings(evaluators=[
        EvaluatorParameters(evaluator="independent assessor", paramcd_suffix="i"),
        EvaluatorParameters(evaluator="COMPUTED", paramcd_suffix="C")]))
    adrs = derive_all(_adrs_data(), settings).datasets["ADRS"]
    bor = {r.PARAMCD: (r.AVALC, r.ADT, r.SRCSEQ, r.PARAM) for r in adrs.itertuples()
           if r.PARAMCD.startswith("BOR")}
    # investigator PR d56 (first of the best); independent SD d56 (>= 42 d) beats PD d84;
    # the RECIST engine's computed CR d84
    assert bor["BOR"][:3] == ("PR", pd.Timestamp("2020-02-26"), 1.0)
    assert bor["BORI"][:3] == ("SD", pd.Timestamp("2020-02-26"), 3.0)
    assert bor["BORC"][:3] == ("CR", pd.Timestamp("2020-03-25"), 5.0)
    assert bor["BORI"][3] == ("Best Overall Response by Independent Assessor (confirmation not "
                              "required)")
    codes = list(adrs["PARAMCD"])
    assert codes.count("OVR") == 2 and codes.count("OVRI") == 2 and codes.count("OVRC") == 1
    assert codes.count("DEATH") == 1 and codes.count("MDIS") == 1
    assert adrs["ASEQ"].tolist() == [float(i) for i in range(1, len(adrs) + 1)]
    # OVR records of every evaluator keep their own analysis flags (both PR/SD/PD dates differ)
    assert adrs.loc[adrs["PARAMCD"] == "OVRI", "ANL01FL"].tolist() == ["Y", "Y"]
    # the investigator's part is exactly the single-evaluator ADRS
    assert not set(plain["PARAMCD"]) & {c for c in codes if c[-1] in "IC"}
    mine = adrs[adrs["PARAMCD"].isin(set(plain["PARAMCD"]))].drop(columns="ASEQ")
    assert mine.reset_index(drop=True).equals(plain.drop(columns="ASEQ").reset_index(drop=True))


def test_adrs_evaluators_must_differ() -> None:
    from cdiscmap.adam.settings import AdrsSettings, EvaluatorParameters

    with pytest.raises(ValueError, match="evaluators must differ"):
        AdrsSettings(evaluators=[EvaluatorParameters(evaluator="investigator",
                                                     paramcd_suffix="I")])
    with pytest.raises(ValueError, match="distinct paramcd_suffix"):
        AdrsSettings(evaluators=[EvaluatorParameters(evaluator="A", paramcd_suffix="X"),
                                 EvaluatorParameters(evaluator="B", paramcd_suffix="x")])
