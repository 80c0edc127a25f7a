"""Subject-code helpers of the ADRS/ADTTE derivations on hand-written records.

They replace text sorts, merges and lookups on USUBJID by integer codes; each must give what
the text version gave (first record per subject, missing dates last, ids outside ADSL
unmatched), checked here on values worked out by hand.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from cdiscmap.adam.adrs import ResponseData, _ParamBuilder
from cdiscmap.adam.adtte import _by_subject, _pick_by_code
from cdiscmap.adam.settings import ResponseAnalysis

SUBJECTS = pd.CategoricalDtype(["A", "B", "C"])
T = pd.Timestamp


def _records() -> pd.DataFrame:
    # A: three records, two on 2020-01-01 (SRCSEQ 3 before 1 in record order); B: one dated,
    # one without a date; C: none
    return pd.DataFrame({
        "USUBJID": pd.Series(["A", "A", "A", "B", "B"], dtype=SUBJECTS),
        "ADT": pd.to_datetime(["2020-01-05", "2020-01-01", "2020-01-01", "2020-02-01", None]),
        "SRCSEQ": [2.0, 3.0, 1.0, 5.0, 4.0],
    })


def test_pick_by_code_first_and_last_record_per_subject():
    ids = pd.Series(["C", "A", "B", "Z"], dtype="string", index=[10, 11, 12, 13])
    adt, seq = _pick_by_code(_records(), ids, "first")
    # A: earliest date, then lowest SRCSEQ; C has no record, Z is not a subject
    assert list(adt.index) == [10, 11, 12, 13]
    assert adt.tolist()[1:3] == [T("2020-01-01"), T("2020-02-01")]
    assert adt.isna().tolist() == [True, False, False, True]
    assert seq.tolist()[1:3] == [1.0, 5.0] and np.isnan(seq.tolist()[0])
    adt, seq = _pick_by_code(_records(), ids, "last")
    # B's undated record sorts after its dated one, as sort_values(na_position="last") did
    assert adt.tolist()[1] == T("2020-01-05") and pd.isna(adt.tolist()[2])
    assert seq.tolist()[1:3] == [2.0, 4.0]


def test_param_builder_matches_first_chosen_record_per_population_subject():
    population = pd.Series(["A", "B", "C"], dtype=SUBJECTS)
    holder = SimpleNamespace(subjects=SUBJECTS, population_codes=population.cat.codes.to_numpy())
    chosen = pd.DataFrame({"USUBJID": pd.Series(["B", "A", "B"], dtype=SUBJECTS),
                           "source_index": [7, 8, 9]})
    # B's first chosen row is position 0, A's is 1; C has none
    assert _ParamBuilder._matched(holder, chosen).tolist() == [1, 0, -1]
    as_text = chosen.assign(USUBJID=chosen["USUBJID"].astype(object))   # cast to the codes
    assert _ParamBuilder._matched(holder, as_text).tolist() == [1, 0, -1]


def test_response_data_first_response_once_per_question():
    ovr = pd.DataFrame({
        "USUBJID": pd.Categorical(["A", "A", "A"], dtype=SUBJECTS),
        "ADT": pd.to_datetime(["2020-01-10", "2020-02-20", "2020-03-01"]),
        "AVALC": pd.array(["PR", "PR", "PR"], dtype="string"),
        "SRCSEQ": [1.0, 2.0, 3.0],
        "REFDT": pd.to_datetime(["2020-01-01"] * 3),
    }, index=[4, 5, 6])
    rd = ResponseData(analysis=ResponseAnalysis(id="main", reference_date="RANDDT"), ovr=ovr,
                      nactdt=pd.Series(dtype="datetime64[ns]"),
                      population=pd.Series(["A"], dtype="string"))
    first = rd.first_response()
    assert first["source_index"].tolist() == [4]          # the first PR, unconfirmed
    assert rd.first_response(min_gap_days=99) is first    # settings do not change that one
    # confirmed 28 days later: the PR of 2020-01-10 by the PR of 2020-02-20 (41 days)
    confirmed = rd.first_response(confirmed=True, min_gap_days=28)
    assert confirmed["source_index"].tolist() == [4]
    assert rd.first_response(confirmed=True, min_gap_days=28) is confirmed
    # 51 days from 2020-01-10 to the last PR (2020-03-01): confirmed with 50, not with 60
    assert rd.first_response(confirmed=True, min_gap_days=50)["source_index"].tolist() == [4]
    assert rd.first_response(confirmed=True, min_gap_days=60).empty


def test_by_subject_orders_numbers_and_carries_adsl():
    adtte = pd.DataFrame({
        "USUBJID": pd.Series(["B", "A", "B", "A", "Z"], dtype="string"),
        "PARAMCD": pd.Series(["PFS", "PFS", "OS", None, "OS"], dtype="string"),
        "AVAL": [1.0, 2.0, 3.0, 4.0, 5.0],
    })
    adsl = pd.DataFrame({"USUBJID": pd.Series(["A", "B"], dtype="string"),
                         "SITEID": pd.Series(["S1", "S2"], dtype="string")})
    out = _by_subject(adtte, adsl)
    # A: PFS then the missing PARAMCD; B: OS, PFS; Z (not in ADSL) last with no SITEID
    assert out["AVAL"].tolist() == [2.0, 4.0, 3.0, 1.0, 5.0]
    assert out["ASEQ"].tolist() == [1.0, 2.0, 1.0, 2.0, 1.0]
    assert out["SITEID"].tolist()[:4] == ["S1", "S1", "S2", "S2"]
    assert pd.isna(out["SITEID"].iloc[4]) and out["SITEID"].dtype == "string"
    assert list(out.index) == [0, 1, 2, 3, 4]
