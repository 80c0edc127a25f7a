"""Cross-dataset rules (checks/crossdomain.py): TR ↔ TU links (CMAP-XD0002) found by codes.
Expected values are worked out by hand."""

from __future__ import annotations

import pandas as pd

from cdiscmap.checks.crossdomain import _pairs_in, check_sdtm_cross


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
