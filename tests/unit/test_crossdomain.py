"""Cross-dataset rules (checks/crossdomain.py): TR ↔ TU links (CMAP-XD0002) found by codes.
Expected values are worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.checks.crossdomain import _duplicated_among, _null, _pairs_in, check_sdtm_cross
from cdiscmap.checks.facts import facts_cache


def text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def test_pairs_are_looked_up_whole_and_null_matches_null() -> None:
    tu = pd.DataFrame({"USUBJID": text("S1", "S1", "S2", None),
                       "TULNKID": text("T01", "T02", "T01", "T09")})
    tr = pd.DataFrame({"USUBJID": text("S1", "S2", "S2", "S3", None, "S1"),
                       "TRLNKID": text("T02", "T01", "T02", "T01", "T09", None)})
    # S2/T02: S2 and T02 each exist in TU, the pair does not; S3 is no TU subject;
    # (null, T09) is in TU; (S1, null) is not
    assert _pairs_in(tr, ("USUBJID", "TRLNKID"), tu, ("USUBJID", "TULNKID")).tolist() == [
        True, True, False, False, True, False]


def test_xd0002_names_each_unlinked_tr_record_in_order() -> None:
    dm = pd.DataFrame({"USUBJID": text("S1", "S2")})
    tu = pd.DataFrame({"USUBJID": text("S1", "S2"), "TULNKID": text("T01", "T01"),
                       "TUTESTCD": text("TUMIDENT", "TUMIDENT")})
    tr = pd.DataFrame({"USUBJID": text("S2", "S1", "S1", "S2"),
                       "TRLNKID": text("T03", "T01", None, "T02")})
    found = [f for f in check_sdtm_cross({"DM": dm, "TU": tu, "TR": tr})
             if f.rule == "CMAP-XD0002"]
    assert [(f.usubjid, f.value) for f in found] == [("S2", "T03"), ("S2", "T02")]


def test_duplicates_among_chosen_records_only_null_equal_to_null() -> None:
    rs = pd.DataFrame({"USUBJID": text("S1", "S1", "S1", "S1", None, None, "S2"),
                       "RSTESTCD": text("OVRLRESP", "TRGRESP", "OVRLRESP", "OVRLRESP",
                                        "OVRLRESP", "OVRLRESP", "OVRLRESP"),
                       "VISITNUM": [1.0, 1.0, 2.0, 1.0, np.nan, np.nan, 1.0]})
    rs.index = [10, 11, 12, 13, 14, 15, 16]
    chosen = rs["RSTESTCD"] == "OVRLRESP"
    with facts_cache():
        picked, dup = _duplicated_among(rs, chosen, ["USUBJID", "VISITNUM"])
    # record 11 (S1, 1) is not chosen: 13 repeats 10 among the chosen; 15 repeats 14
    # (null, NaN); 16 is another subject
    assert picked.index.tolist() == [10, 12, 13, 14, 15, 16]
    assert dup.index.tolist() == picked.index.tolist()
    assert dup.tolist() == [False, False, True, False, True, False]


def test_null_of_a_text_column_from_its_codes() -> None:
    with facts_cache():
        assert np.asarray(_null(text("A", None, "B", None))).tolist() == [False, True, False, True]
    assert np.asarray(_null(pd.Series([1.0, np.nan]))).tolist() == [False, True]
