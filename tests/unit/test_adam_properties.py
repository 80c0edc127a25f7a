"""Property tests (hypothesis) of the response and time-to-event rules.

The confirmation rule is checked against a plain per-subject loop written from the rule's text
(an oracle, deliberately naive), and the end-to-end invariants (BOR never better than the best
single response, confirmed ⊆ unconfirmed, PFS ≤ OS when both are events, AVAL ≥ 1, CNSR codes)
on random subject histories run through ``derive_all``.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdiscmap.adam import derive_all
from cdiscmap.adam.settings import AdamSettings
from cdiscmap.recist.best_response import (
    RESPONSE_ORDER,
    best_overall_response,
    confirmed_best_overall_response,
    confirmed_flags,
    first_response,
)

REF = pd.Timestamp("2021-03-01")
RANK = {r: i for i, r in enumerate(RESPONSE_ORDER)}
responses = st.sampled_from(["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"])
history = st.lists(st.tuples(st.integers(1, 40), responses), min_size=1, max_size=8)


def frame_of(histories: list[list[tuple[int, str]]]) -> pd.DataFrame:
    rows = []
    for s, hist in enumerate(histories):
        d = 0
        for gap, resp in hist:
            d += gap  # strictly increasing dates, one assessment per day
            rows.append((f"S{s:03d}", REF + pd.Timedelta(days=d), resp, REF))
    frame = pd.DataFrame(rows, columns=["USUBJID", "ADT", "AVALC", "REFDT"])
    return frame.astype({"USUBJID": "string", "AVALC": "string"})


def oracle_confirmed(days: list[int], resp: list[str], gap: int, max_ne: int,
                     accept_sd: bool) -> list[bool]:
    """Naive reading of the rule: for each CR/PR, find the first confirming assessment."""
    out = []
    for i, r in enumerate(resp):
        ok = False
        if r in ("CR", "PR"):
            confirm_set = ("CR",) if r == "CR" else ("CR", "PR")
            j = next((k for k in range(i + 1, len(resp))
                      if resp[k] in confirm_set and days[k] >= days[i] + gap), None)
            if j is not None:
                window = resp[i + 1:j + 1]
                allowed = ("CR", "NE") if r == "CR" else ("CR", "PR", "SD", "NE")
                ok = all(w in allowed for w in window) and window.count("NE") <= max_ne
                if r == "PR":
                    ok = ok and window.count("SD") <= (1 if accept_sd else 0)
                    if "CR" in window:
                        first_cr = window.index("CR")
                        ok = ok and "PR" not in window[first_cr + 1:]
        out.append(ok)
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(history, min_size=1, max_size=6), st.integers(1, 60), st.integers(0, 2),
       st.booleans())
def test_confirmation_matches_the_naive_rule(histories, gap, max_ne, accept_sd):
    frame = frame_of(histories)
    flags = confirmed_flags(frame, gap, max_ne, accept_sd)
    got = (flags["confirmed_cr"] | flags["confirmed_pr"]).reindex(frame.index).tolist()
    expected = []
    for _, sub in frame.groupby("USUBJID", sort=True):
        days = [(d - REF).days for d in sub["ADT"]]
        expected += oracle_confirmed(days, sub["AVALC"].tolist(), gap, max_ne, accept_sd)
    assert got == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(history, min_size=1, max_size=6), st.integers(0, 90))
def test_bor_is_never_better_than_the_best_single_response(histories, sd_min):
    frame = frame_of(histories)
    bor = best_overall_response(frame, sd_min).set_index("USUBJID")
    cbor = confirmed_best_overall_response(frame, sd_min).set_index("USUBJID")
    for subject, sub in frame.groupby("USUBJID"):
        best_single = min(RANK[r] for r in sub["AVALC"])
        assert RANK[bor.loc[subject, "AVALC"]] >= best_single
        # confirmation only ever lowers the response
        assert RANK[cbor.loc[subject, "AVALC"]] >= RANK[bor.loc[subject, "AVALC"]]
        # a confirmed CR needs at least two CR assessments
        if cbor.loc[subject, "AVALC"] == "CR":
            assert (sub["AVALC"] == "CR").sum() >= 2
    assert set(bor.index) == set(frame["USUBJID"])


@settings(max_examples=100, deadline=None)
@given(st.lists(history, min_size=1, max_size=6))
def test_confirmed_responders_are_a_subset_of_responders(histories):
    frame = frame_of(histories)
    unconfirmed = first_response(frame).set_index("USUBJID")["ADT"]
    confirmed = first_response(frame, confirmed=True).set_index("USUBJID")["ADT"]
    assert set(confirmed.index) <= set(unconfirmed.index)
    for subject in confirmed.index:
        assert confirmed[subject] >= unconfirmed[subject]


# --- end to end through derive_all -----------------------------------------------------------

subject_st = st.fixed_dictionaries({
    "dosed": st.booleans(),
    "baseline": st.booleans(),
    "death_day": st.one_of(st.none(), st.integers(1, 600)),
    "visits": st.lists(st.tuples(st.integers(20, 90), responses), max_size=6),
})


def sdtm_of(subjects: list[dict]) -> dict[str, pd.DataFrame]:
    dm, ds, ex, rs, tu = [], [], [], [], []
    for i, s in enumerate(subjects):
        u = f"ST-{i:03d}"
        death = REF + pd.Timedelta(days=s["death_day"]) if s["death_day"] else None
        dm.append({"STUDYID": "ST", "USUBJID": u, "SUBJID": f"{i:03d}", "AGE": 50.0,
                   "DTHDTC": death.strftime("%Y-%m-%d") if death is not None else None})
        ds.append({"USUBJID": u, "DSSEQ": 1.0, "DSTERM": "RANDOMIZED", "DSDECOD": "RANDOMIZED",
                   "DSCAT":
                   "PROTOCOL MILESTONE", "DSSTDTC": REF.strftime("%Y-%m-%d")})
        if s["dosed"]:
            ex.append({"USUBJID": u, "EXSEQ": 1.0, "EXDOSE": 250.0,
                       "EXSTDTC": (REF + pd.Timedelta(days=2)).strftime("%Y-%m-%d"),
                       "EXENDTC": (REF + pd.Timedelta(days=100)).strftime("%Y-%m-%d")})
        if s["baseline"]:
            tu.append({"USUBJID": u, "TUSEQ": 1.0, "TUSTRESC": "TARGET", "VISIT": "BASELINE",
                       "TUDTC": (REF - pd.Timedelta(days=5)).strftime("%Y-%m-%d")})
        d = 0
        for k, (gap, resp) in enumerate(s["visits"]):
            d += gap
            when = REF + pd.Timedelta(days=d)
            if death is not None and when > death:
                break
            rs.append({"USUBJID": u, "RSSEQ": float(k + 1), "RSTESTCD": "OVRLRESP",
                       "RSSTRESC": resp, "RSEVAL": "INVESTIGATOR",
                       "RSDTC": when.strftime("%Y-%m-%d")})

    def frame(rows: list[dict], cols: list[str]) -> pd.DataFrame:
        out = pd.DataFrame(rows, columns=cols)
        for c in cols:
            if not c.endswith("SEQ") and c not in ("AGE", "EXDOSE"):
                out[c] = out[c].astype("string")
            else:
                out[c] = out[c].astype("float64")
        return out

    return {
        "DM": frame(dm, ["STUDYID", "USUBJID", "SUBJID", "AGE", "DTHDTC"]),
        "DS": frame(ds, ["USUBJID", "DSSEQ", "DSTERM", "DSDECOD", "DSCAT", "DSSTDTC"]),
        "EX": frame(ex, ["USUBJID", "EXSEQ", "EXDOSE", "EXSTDTC", "EXENDTC"]),
        "RS": frame(rs, ["USUBJID", "RSSEQ", "RSTESTCD", "RSSTRESC", "RSEVAL", "RSDTC"]),
        "TU": frame(tu, ["USUBJID", "TUSEQ", "TUSTRESC", "VISIT", "TUDTC"]),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(subject_st, min_size=1, max_size=8))
def test_time_to_event_invariants(subjects):
    result = derive_all(sdtm_of(subjects), AdamSettings())
    tte = result.datasets["ADTTE"]
    assert (tte["AVAL"] >= 1).all()
    assert set(tte["CNSR"].unique()) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    assert (tte["ADT"] >= tte["STARTDT"]).all()
    wide = tte.pivot(index="USUBJID", columns="PARAMCD", values=["AVAL", "CNSR"])
    if {"PFS", "OS"} <= set(tte["PARAMCD"]):
        both = wide.dropna(subset=[("CNSR", "PFS"), ("CNSR", "OS")])
        events = both[(both[("CNSR", "PFS")] == 0) & (both[("CNSR", "OS")] == 0)]
        assert (events[("AVAL", "PFS")] <= events[("AVAL", "OS")]).all()
        # a progression (TTP event) is also a PFS event, no later than it
        ttp = both[both[("CNSR", "TTP")] == 0]
        assert (ttp[("CNSR", "PFS")] == 0).all()
        assert (ttp[("AVAL", "PFS")] <= ttp[("AVAL", "TTP")]).all()
    adrs = result.datasets["ADRS"]
    per = adrs.pivot_table(index="USUBJID", columns="PARAMCD", values="AVALC",
                           aggfunc="first")
    # confirmed response implies response; every ADSL subject has a BOR and a CBOR
    assert ((per["CRSP"] == "Y") <= (per["RSP"] == "Y")).all()
    assert per["BOR"].notna().all() and per["CBOR"].notna().all()
    assert len(per) == len(subjects)
    assert adrs.groupby("USUBJID")["ASEQ"].apply(
        lambda s: list(s) == list(range(1, len(s) + 1))).all()


def test_outputs_are_deterministic_and_independent_of_input_row_order():
    subjects = [{"dosed": True, "baseline": True, "death_day": d, "visits": v} for d, v in [
        (None, [(56, "SD"), (56, "PR"), (28, "PR"), (56, "PD")]),
        (300, [(40, "CR"), (30, "NE"), (30, "CR")]),
        (None, []),
        (90, [(20, "SD"), (60, "NON-CR/NON-PD")]),
    ]]
    sdtm = sdtm_of(subjects)
    first = derive_all(sdtm, AdamSettings())
    again = derive_all(sdtm, AdamSettings())
    shuffled = {k: v.sample(frac=1.0, random_state=7) for k, v in sdtm.items()}
    other = derive_all(shuffled, AdamSettings())
    for name, frame in first.datasets.items():
        pd.testing.assert_frame_equal(frame, again.datasets[name])
        pd.testing.assert_frame_equal(frame, other.datasets[name])
    assert first.findings == again.findings
    assert first.methods == other.methods
