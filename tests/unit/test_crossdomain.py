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


def _study_day_frames(seq: list[float]) -> dict[str, pd.DataFrame]:
    dm = pd.DataFrame({"USUBJID": text("S1", "S2", "S3"),
                       "RFSTDTC": text("2020-03-10", "2020-03", "2020-02-28T09:00")})
    ae = pd.DataFrame({
        "USUBJID": text("S1", "S1", "S1", "S1", "S1", "S2", "S3", "S1", "S3"),
        "AESEQ": seq,
        "AESTDTC": text("2020-03-09", "2020-03-10", "2020-03-12T08:00", "2020-04", None,
                        "2020-03-15", "2020-03-01", "2020-03-11", "2020-02-30"),
        # days by hand: -1 (no day 0), 1, 3, partial, null; S2's RFSTDTC is partial;
        # S3: 2020-02-28 is day 1, so 2020-03-01 is day 3 (leap year); 2020-03-11 is day 2
        # for S1 but 5.0 is given; 2020-02-30 is no date
        "AESTDY": [-1.0, 1.0, 3.0, 9.0, 4.0, 7.0, 3.0, 5.0, 2.0],
    })
    return {"DM": dm, "AE": ae}


def test_xd0006_study_days_by_hand() -> None:
    found = [f for f in check_sdtm_cross(_study_day_frames([1.0, 2, 3, 4, 5, 1, 1, 6, 2]))
             if f.rule == "CMAP-XD0006"]
    assert [(f.usubjid, f.value) for f in found] == [("S1", "5.0")]
    frames = _study_day_frames([1.0, 2, 3, 4, 5, 1, 1, 6, 2])
    frames["AE"].loc[0, "AESTDY"] = np.nan          # a missing day where one is due
    found = [f for f in check_sdtm_cross(frames) if f.rule == "CMAP-XD0006"]
    assert [(f.usubjid, f.value) for f in found] == [("S1", "nan"), ("S1", "5.0")]


def test_xd0007_repeated_seq_within_a_subject_only() -> None:
    # AESEQ 2 twice for S1 (records 2 and 5); 1 for S1, S2 and S3 is no repeat; NaN twice
    # is not reported; a --SEQ of 1e9 (too wide for a table) takes the general path
    for big in (6.0, 1e9):
        frames = _study_day_frames([1.0, 2, 3, np.nan, 2, 1, 1, np.nan, big])
        found = [f for f in check_sdtm_cross(frames) if f.rule == "CMAP-XD0007"]
        assert [(f.usubjid, f.value) for f in found] == [("S1", "2.0")]
    frames = _study_day_frames([1.0, 2, 3, 4, 5, 1, 1, 6, 2])
    assert not [f for f in check_sdtm_cross(frames) if f.rule == "CMAP-XD0007"]


def test_duplicated_keys_keep_the_first_record() -> None:
    from cdiscmap.checks.crossdomain import duplicated_keys

    assert duplicated_keys(np.array([2, 0, 5])).tolist() == [False, False, False]
    assert duplicated_keys(np.array([3, 1, 3, 0, 1])).tolist() == [False, False, True, False,
                                                                   True]
    # keys the table does not take (negative, huge) are hashed: same answer
    assert duplicated_keys(np.array([-1, 7, -1])).tolist() == [False, False, True]
    assert duplicated_keys(np.array([1 << 40, 1, 1 << 40])).tolist() == [False, False, True]
    assert duplicated_keys(np.zeros(0, dtype=np.int64)).tolist() == []


def test_seq_unique_proves_rising_keys_of_any_range_and_finds_no_false_proof() -> None:
    from cdiscmap.checks.crossdomain import _seq_unique
    from cdiscmap.checks.schema import table_fits

    # each subject's records together, --SEQ rising: proven without a table, even where
    # subjects x numbers is past the table's limit
    pairs = pd.Series([f"S{i:04d}" for i in range(2000) for _ in range(2)], dtype="string")
    seqs = pd.Series([1.0, 4000.0] * 2000)
    assert not table_fits(2001 * 4001, 4000)
    assert _seq_unique(pairs, seqs) is True
    assert _seq_unique(text("A", "A", "B", "B", "C"),
                       pd.Series([1.0, 2.0, 1.0, np.nan, 1.0])) is True   # null: no key
    # not rising (B before A again) but unique: the table proves it
    assert _seq_unique(text("A", "B", "A"), pd.Series([1.0, 1.0, 2.0])) is True
    # a subject's --SEQ twice: never proven, rising or not
    assert _seq_unique(text("A", "A", "B"), pd.Series([1.0, 1.0, 1.0])) is False
    assert _seq_unique(text("A", "B", "A"), pd.Series([1.0, 1.0, 1.0])) is False
    # not rising and past the table: not proven (the caller hashes)
    n = 3000
    wide = pd.Series([f"S{i:04d}" for i in range(n)] * 2, dtype="string")
    seqs = pd.Series([float(n * 2 - i) for i in range(n * 2)])
    assert not table_fits((n + 1) * (n * 2 + 1), n * 2)
    with facts_cache():
        assert _seq_unique(wide, seqs) is False


def test_picked_records_as_frame_selection() -> None:
    from cdiscmap.checks.crossdomain import _picked

    frame = pd.DataFrame({"USUBJID": pd.array(["A", "B", "C"], dtype="string"),
                          "X": [1.0, 2.0, 3.0]},
                         index=[10, 11, 12])
    none = _picked(frame, np.zeros(3, dtype=bool))
    assert none.empty and list(none.columns) == ["USUBJID", "X"]
    some = _picked(frame, pd.Series([False, True, True], index=frame.index))
    assert some.index.tolist() == [11, 12] and some["USUBJID"].tolist() == ["B", "C"]


def test_key_tables_hold_at_most_16_entries_a_record_above_a_floor(monkeypatch) -> None:
    from cdiscmap.checks import crossdomain, schema

    assert schema.table_fits(1 << 16, 10)             # the floor
    assert not schema.table_fits((1 << 16) + 1, 10)
    assert schema.table_fits(16 * 100_000, 100_000)    # 16 a record
    assert not schema.table_fits(16 * 100_000 + 1, 100_000)
    assert not schema.table_fits((1 << 25) + 1, 10_000_000)   # 32 MiB at most
    # past the table, the keys are hashed: the same answers
    monkeypatch.setattr(schema, "_TABLE_FLOOR", 0)
    monkeypatch.setattr(schema, "_TABLE_PER_RECORD", 0)
    assert crossdomain.duplicated_keys(np.array([3, 1, 3, 0, 1])).tolist() == [
        False, False, True, False, True]
    # not rising, unique: proven by the table only
    assert crossdomain._seq_unique(text("A", "B", "A"), pd.Series([1.0, 1.0, 2.0])) is False
    monkeypatch.setattr(schema, "_TABLE_PER_RECORD", 16)
    assert crossdomain._seq_unique(text("A", "B", "A"), pd.Series([1.0, 1.0, 2.0])) is True
    assert crossdomain._seq_unique(text("A", "B", "A"), pd.Series([1.0, 1.0, 1.0])) is False


def test_xd0011_death_dates_by_codes_by_hand() -> None:
    from cdiscmap.checks.crossdomain import _death_dates, _death_differs, _Subjects

    dm = pd.DataFrame({"USUBJID": text("S1", "S2", "S3", "S4"),
                       "DTHDTC": text("2020-06-01T10:00", "2020-05", None, "2019-01-02")})
    ref = dm.set_index("USUBJID")
    ds = pd.DataFrame({
        "USUBJID": text("S1", "S2", "S3", "S9", "S4", None, "S1"),
        "DSDECOD": text("DEATH", "DEATH", "DEATH", "DEATH", "COMPLETED", "DEATH", None),
        "DSSTDTC": text("2020-06-01", "2020-05-31", "2021-01-01", "2020-01-01", "2000-01-01",
                        "2020-01-01", "2020-06-01"),
        "_SRCFILE": text(*["ds.csv"] * 7), "_SRCROW": np.arange(1, 8)})
    # S1: first 10 characters agree; S2: "2020-05-31" is not "2020-05"; S3: no DTHDTC;
    # S9: not in DM; S4: not a death; the null subject: not in DM; last: no DSDECOD
    with facts_cache():
        assert _death_differs(ds, "DSDECOD", "DEATH", "DSSTDTC", ref["DTHDTC"],
                              _Subjects(ref)).tolist() == [False, True, True, True, False,
                                                           True, False]
        coded = _death_dates({"DS": ds}, ref["DTHDTC"], _Subjects(ref))
    assert coded == _death_dates({"DS": ds}, ref["DTHDTC"])       # the pandas path
    assert [(f.usubjid, f.value, f.source) for f in coded] == [
        ("S2", "2020-05-31 vs DM.DTHDTC 2020-05", "ds.csv row 2"),
        ("S3", "2021-01-01 vs DM.DTHDTC (null)", "ds.csv row 3"),
        ("S9", "2020-01-01 vs DM.DTHDTC (null)", "ds.csv row 4"),
        ("<NA>", "2020-01-01 vs DM.DTHDTC (null)", "ds.csv row 6")]
