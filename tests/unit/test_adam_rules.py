"""ADaM cross-record rules (checks/adam_rules.py): SRCDOM/SRCSEQ traceability and PARAMCD/PARAM
pairs, by hand, and the code-based paths against the record-by-record ones they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.checks.adam_rules import _pairs, _traceability, _traceability_rows


def text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def ae() -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": text("S-1", "S-1", "S-2", None),
                         "AESEQ": [1.0, 2.0, 1.0, 3.0]})


def test_links_to_missing_records_are_found_per_subject() -> None:
    adae = pd.DataFrame({
        "USUBJID": text("S-1", "S-1", "S-2", "S-2", "S-3", None, "S-1"),
        "SRCDOM": text("AE", "AE", "AE", "AE", "AE", "AE", "XX"),
        "SRCSEQ": [1.0, 3.0, 1.0, 2.0, 1.0, 3.0, 1.0],
        "_SRCFILE": text(*["adae.xpt"] * 7), "_SRCROW": np.arange(1, 8)})
    found = _traceability("ADAE", adae, {"AE": ae()})
    # S-1 AESEQ 3 and S-2 AESEQ 2 do not exist, S-3 is not in AE, the null subject matches
    # nothing (AE's null-subject record is not a key); XX is not available
    assert [(f.rule, f.usubjid, f.value, f.source, f.count) for f in found] == [
        ("CMAP-AR0003", "", "3", "adae.xpt row 6", 1),
        ("CMAP-AR0003", "S-1", "3", "adae.xpt row 2", 1),
        ("CMAP-AR0003", "S-2", "2", "adae.xpt row 4", 1),
        ("CMAP-AR0003", "S-3", "1", "adae.xpt row 5", 1),
        ("CMAP-AR0004", "", "XX", "", 1)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["S-1", "S-2", "S-3", None]),
                          st.sampled_from(["AE", "EX", "ZZ", None]),
                          st.sampled_from([1.0, 2.0, 0.0, -0.0, None])), max_size=25),
       st.lists(st.tuples(st.sampled_from(["S-1", "S-2", None]),
                          st.sampled_from([1.0, 2.0, 0.0, None])), max_size=8))
def test_traceability_by_codes_is_the_merge(records, source_rows) -> None:
    frame = pd.DataFrame({
        "USUBJID": pd.array([r[0] for r in records], dtype="string"),
        "SRCDOM": pd.array([r[1] for r in records], dtype="string"),
        "SRCSEQ": pd.Series([np.nan if r[2] is None else r[2] for r in records], dtype=float),
        "_SRCFILE": pd.array(["f"] * len(records), dtype="string"),
        "_SRCROW": np.arange(len(records))})
    source = pd.DataFrame({
        "USUBJID": pd.array([r[0] for r in source_rows], dtype="string"),
        "AESEQ": pd.Series([np.nan if r[1] is None else r[1] for r in source_rows],
                           dtype=float)})
    every = {"AE": source, "EX": source.rename(columns={"AESEQ": "EXSEQ"}).iloc[:3]}
    assert _traceability("ADX", frame, every) == _traceability_rows("ADX", frame, every)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", None]),
                          st.sampled_from(["x", "y", None])), max_size=20))
def test_pairs_are_the_distinct_non_null_pairs(rows) -> None:
    frame = pd.DataFrame({"PARAMCD": pd.array([r[0] for r in rows], dtype="string"),
                          "PARAM": pd.array([r[1] for r in rows], dtype="string")})
    expected = frame.dropna().drop_duplicates()
    got = _pairs(frame, "PARAMCD", "PARAM")
    assert sorted(map(tuple, got.to_numpy().tolist())) == \
        sorted(map(tuple, expected.to_numpy().tolist()))


def test_pairs_of_columns_without_values() -> None:
    frame = pd.DataFrame({"PARAMCD": text(None, None), "PARAM": text("x", None)})
    assert len(_pairs(frame, "PARAMCD", "PARAM")) == 0


def test_one_to_one_by_hand_on_text_and_object_pairs() -> None:
    from cdiscmap.checks.adam_rules import _one_to_one

    pairs = {"PARAMCD": ["TTP", "OS", "OS", "PFS", "TTP", "OS"],
             "PARAM": ["Time to progression", "Overall survival (days)", "Overall survival",
                       "PFS", "TTP", "OS"]}
    # keys in sorted order, each key's values sorted; a key with one value is no finding
    expected = [("OS", "PARAMCD 'OS' has 3 PARAM values: OS; Overall survival; "
                       "Overall survival (days)"),
                ("TTP", "PARAMCD 'TTP' has 2 PARAM values: TTP; Time to progression")]
    for dtype in ("string", object):      # the text path and the pandas groupby path
        frame = pd.DataFrame({k: pd.array(v, dtype=dtype) for k, v in pairs.items()})
        found = _one_to_one("CMAP-AR0006", "ADTTE", frame, "PARAMCD", "PARAM")
        assert [(f.value, f.message) for f in found] == expected
        assert {(f.rule, f.dataset, f.variable) for f in found} == {
            ("CMAP-AR0006", "ADTTE", "PARAMCD")}
