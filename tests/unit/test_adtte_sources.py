"""ADTTE event and censoring sources declared in settings (admiral event_source /
censor_source), on hand-written subjects; start = randomization 2020-01-01.

Days after 2020-01-01 (leap year): 2020-02-26 = 56, 2020-03-25 = 84, 2020-04-22 = 112,
2020-07-19 = 200; AVAL = days + 1.

Q1 SD d56, PR d84, PD d112.   Q2 PR d56.   Q3 no assessment, died d200.   Q4 NE d56.
Q5 no assessment, alive (last known alive = randomization day = start).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from cdiscmap.adam import derive_all, load_adam_settings
from cdiscmap.adam.settings import AdamSettings, AdtteSettings, TteParameter, TteSource
from cdiscmap.errors import InputDataError

T = pd.Timestamp
REF = "2020-01-01"
SUBJECTS = ["Q1", "Q2", "Q3", "Q4", "Q5"]
ROOT = Path(__file__).resolve().parents[2]


def s(values: list) -> pd.Series:
    return pd.Series(values, dtype="string")


def data() -> dict[str, pd.DataFrame]:
    n = len(SUBJECTS)
    dm = pd.DataFrame({"STUDYID": s(["Q"] * n), "USUBJID": s(SUBJECTS),
                       "DTHDTC": s([None, None, "2020-07-19", None, None])})
    ds = pd.DataFrame({"USUBJID": s(SUBJECTS), "DSSEQ": [1.0] * n,
                       "DSTERM": s(["RANDOMIZED"] * n), "DSDECOD": s(["RANDOMIZED"] * n),
                       "DSSTDTC": s([REF] * n)})
    rows = [("Q1", "2020-02-26", "SD"), ("Q1", "2020-03-25", "PR"), ("Q1", "2020-04-22", "PD"),
            ("Q2", "2020-02-26", "PR"), ("Q4", "2020-02-26", "NE")]
    rs = pd.DataFrame(rows, columns=["USUBJID", "RSDTC", "RSSTRESC"]).astype("string")
    rs["RSSEQ"] = rs.groupby("USUBJID").cumcount().astype("float64") + 1
    rs["RSTESTCD"] = s(["OVRLRESP"] * len(rs))
    rs["RSEVAL"] = s(["INVESTIGATOR"] * len(rs))
    return {"DM": dm, "DS": ds, "RS": rs}


def tte(*parameters: TteParameter) -> pd.DataFrame:
    settings = AdamSettings(adtte=AdtteSettings(parameters=list(parameters)))
    return derive_all(data(), settings).datasets["ADTTE"]


def got(frame: pd.DataFrame, code: str) -> dict[str, tuple]:
    part = frame[frame["PARAMCD"] == code]
    return {r.USUBJID: (r.ADT, r.AVAL, r.CNSR, r.EVNTDESC, r.CNSDTDSC if pd.notna(r.CNSDTDSC)
                        else None, r.SRCDOM, r.SRCVAR, None if pd.isna(r.SRCSEQ) else r.SRCSEQ)
            for r in part.itertuples()}


PD = TteSource(dataset="ADRS", where={"AVALC": "PD"}, description="DISEASE PROGRESSION")
DEATH = TteSource(dataset="ADSL", date="DTHDT", description="DEATH")
ADEQUATE = TteSource(dataset="ADRS", where={"AVALC": ["CR", "PR", "SD", "NON-CR/NON-PD"]},
                     cnsr=1, description="LAST ADEQUATE TUMOR ASSESSMENT",
                     date_description="LAST ADEQUATE TUMOR ASSESSMENT DATE")
START = TteSource(dataset="ADSL", date="START", cnsr=2,
                  description="NO ADEQUATE POST-BASELINE TUMOR ASSESSMENT",
                  date_description="START DATE")


def test_written_out_sources_equal_the_shorthand():
    short = TteParameter(paramcd="PFS", param="PFS", start="RANDDT", events=["PD", "DEATH"])
    written = TteParameter(paramcd="PFS", param="PFS", start="RANDDT", events=[PD, DEATH],
                           censors=[ADEQUATE, START])
    a, b = tte(short), tte(written)
    pd.testing.assert_frame_equal(a, b)
    pfs = got(b, "PFS")
    assert pfs["Q1"] == (T("2020-04-22"), 113.0, 0.0, "DISEASE PROGRESSION", None, "RS",
                         "RSDTC", 3.0)
    assert pfs["Q3"] == (T("2020-07-19"), 201.0, 0.0, "DEATH", None, "ADSL", "DTHDT", None)
    # NE is no adequate assessment: censored at the start date, CNSR 2
    assert pfs["Q4"] == (T(REF), 1.0, 2.0, "NO ADEQUATE POST-BASELINE TUMOR ASSESSMENT",
                         "START DATE", "ADSL", "RANDDT", None)


def test_a_study_defines_its_own_parameter():
    """Time to response (not a built-in): event = first CR/PR; death is no event here."""
    ttr = TteParameter(paramcd="TTR", param="Time to Response", start="RANDDT",
                       events=[TteSource(dataset="ADRS", where={"AVALC": ["CR", "PR"]},
                                         description="RESPONSE")],
                       censors=[ADEQUATE, START])
    r = got(tte(ttr), "TTR")
    assert r["Q1"] == (T("2020-03-25"), 85.0, 0.0, "RESPONSE", None, "RS", "RSDTC", 2.0)
    assert r["Q2"] == (T("2020-02-26"), 57.0, 0.0, "RESPONSE", None, "RS", "RSDTC", 1.0)
    assert r["Q3"][:3] == (T(REF), 1.0, 2.0)          # died, never assessed: censored at start
    assert r["Q4"][:3] == (T(REF), 1.0, 2.0)


def test_admiralonco_censor_coding_is_expressible():
    """admiralonco lasta_censor and rand_censor both carry CNSR 1 (censor_source default)."""
    lasta = TteSource(dataset="ADRS", cnsr=1, description="LAST TUMOR ASSESSMENT",
                      date_description="LAST TUMOR ASSESSMENT")
    rand = TteSource(dataset="ADSL", date="START", cnsr=1, description="RANDOMIZATION DATE",
                     date_description="RANDOMIZATION DATE", srcvar="RANDDT")
    pfs = TteParameter(paramcd="PFS", param="PFS", start="RANDDT", events=[PD, DEATH],
                       censors=[lasta, rand])
    r = got(tte(pfs), "PFS")
    # Q4: its NE assessment is the last tumour assessment (any response), CNSR 1
    assert r["Q4"] == (T("2020-02-26"), 57.0, 1.0, "LAST TUMOR ASSESSMENT",
                       "LAST TUMOR ASSESSMENT", "RS", "RSDTC", 1.0)
    assert r["Q5"] == (T(REF), 1.0, 1.0, "RANDOMIZATION DATE", "RANDOMIZATION DATE", "ADSL",
                       "RANDDT", None)


def test_censor_ties_go_to_the_source_listed_first():
    alive = TteSource(dataset="ADSL", date="LSTALVDT", cnsr=1, description="LAST KNOWN ALIVE")
    start = START.model_copy(update={"description": "START"})
    first = TteParameter(paramcd="OS", param="OS", start="RANDDT", events=[DEATH],
                         censors=[alive, start])
    second = first.model_copy(update={"paramcd": "OS2", "censors": [start, alive]})
    frame = tte(first, second)
    # Q5: last known alive = the randomization day = the start date
    assert got(frame, "OS")["Q5"][1:4] == (1.0, 1.0, "LAST KNOWN ALIVE")
    assert got(frame, "OS2")["Q5"][1:4] == (1.0, 2.0, "START")
    # Q2: alive until its PR on d56, later than the start: the latest date wins either way
    assert got(frame, "OS")["Q2"][1:4] == got(frame, "OS2")["Q2"][1:4] == \
        (57.0, 1.0, "LAST KNOWN ALIVE")


def test_adsl_filter_on_a_source():
    """An ADSL filter: DTHFL = Y (ADSL derives it); on a variable ADSL lacks: an input error."""
    dead = DEATH.model_copy(update={"where": {"DTHFL": "Y"}})
    os_ = TteParameter(paramcd="OS", param="OS", start="RANDDT", events=[dead],
                       censor="last_alive")
    assert got(tte(os_), "OS")["Q3"][:3] == (T("2020-07-19"), 201.0, 0.0)
    bad = DEATH.model_copy(update={"where": {"XXFL": "Y"}})
    with pytest.raises(InputDataError, match="XXFL"):
        tte(os_.model_copy(update={"events": [bad]}))


def test_sources_are_checked_when_read():
    with pytest.raises(ValidationError, match="dated by ADT"):
        TteSource(dataset="ADRS", date="DTHDT", description="X")
    with pytest.raises(ValidationError, match="AVALC only"):
        TteSource(dataset="ADRS", where={"PARAMCD": "PD"}, description="X")
    with pytest.raises(ValidationError, match="ADSL date variable"):
        TteSource(dataset="ADSL", description="X")
    with pytest.raises(ValidationError, match="event source has cnsr 0"):
        TteParameter(paramcd="X", param="X", start="RANDDT",
                     events=[PD.model_copy(update={"cnsr": 1})])
    with pytest.raises(ValidationError, match="cnsr >= 1"):
        TteParameter(paramcd="X", param="X", start="RANDDT", events=[PD], censors=[PD])
    unknown = TteParameter(paramcd="X", param="X", start="RANDDT", events=[
        TteSource(dataset="ADSL", date="PROGDT", description="X")])
    problems = AdamSettings(adtte=AdtteSettings(parameters=[unknown])).cross_check()
    assert [(f, k) for f, k, _ in problems] == [("adtte", "parameters.0.events.0.date")]
    assert problems[0][2].startswith("unknown ADSL date PROGDT; known: START, ")


@pytest.mark.parametrize("study", ["crizotinib-basket", "gist-imatinib", "imt-pediatric",
                                   "imt-edc", "imt-odm"])
def test_bundled_studies_wrote_out_their_former_shorthands(study):
    """The bundled adtte.yaml files list their sources explicitly; each list is what the
    shorthand it replaced (events [PD, DEATH] / [DEATH] / [PD], censor last_adequate_assessment
    / last_assessment / last_alive) expands to, so their ADTTE did not change."""
    settings = load_adam_settings(ROOT / "mappings" / study)
    cfg = settings.adtte
    for p in cfg.parameters:
        assert all(isinstance(e, TteSource) for e in p.events) and p.censors is not None
        names = [{"DISEASE PROGRESSION": "PD", "DEATH": "DEATH"}[e.description]
                 for e in p.events]
        kind = {"LAST ADEQUATE TUMOR ASSESSMENT": "last_adequate_assessment",
                "LAST TUMOR ASSESSMENT": "last_assessment",
                "LAST KNOWN ALIVE": "last_alive"}[p.censors[0].description]
        short = p.model_copy(update={"events": names, "censor": kind, "censors": None})
        assert p.event_sources() == short.event_sources(), p.paramcd
        assert p.censor_sources(cfg.adequate_responses, cfg.cnsr) == \
            short.censor_sources(cfg.adequate_responses, cfg.cnsr), p.paramcd
