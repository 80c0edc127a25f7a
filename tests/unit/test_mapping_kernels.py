"""Integer/code kernels of the mapping engine (issue 13): each gives what the pandas call it
replaces gives, on hand-made values including nulls and ties."""

import numpy as np
import pandas as pd

from cdiscmap.sdtm.engine import _duplicated, _subject_ids
from cdiscmap.sdtm.vectorize import codes_cache
from cdiscmap.sdtm.vocabulary import _numbers_within, _text_max_by, _text_rank


def test_duplicated_keys_on_codes_match_pandas_with_nulls():
    frame = pd.DataFrame({"S": ["1", "1", "2", None, None, "1"],
                          "V": ["A", "B", "A", "A", "A", "A"]}, dtype="string")
    with codes_cache():
        dup = _duplicated(frame, ["S", "V"])
    # rows 0 and 5 share (1, A); rows 3 and 4 share (null, A): null is a value of its own
    assert dup.tolist() == [True, False, False, True, True, True]
    assert dup.tolist() == frame.duplicated(["S", "V"], keep=False).tolist()


def test_text_max_by_owner_is_the_greatest_text_nulls_skipped():
    text = pd.Series(["2014-03-05", None, "2014-03", "2015-01-01", None, "2014-12-31"],
                     dtype="string")
    owner = np.array(["S1", "S1", "S1", "S2", "S3", "S2"], dtype=object)
    got = _text_max_by(text, owner)
    # "2014-03-05" > "2014-03" in string order; S3 has only a null
    assert got.index.tolist() == ["S1", "S2", "S3"]
    assert got.iloc[:2].tolist() == ["2014-03-05", "2015-01-01"] and got.isna().iloc[2]
    pd.testing.assert_series_equal(got, text.groupby(owner).max(), check_names=False)


def test_text_rank_sorts_as_the_text():
    files = pd.Series(["tl.csv", "ae.csv", "tl.csv", "nl.csv"], dtype=object)
    assert _text_rank(files).tolist() == [2, 0, 2, 1]


def test_subject_ids_one_number_per_subject_across_blocks():
    a = pd.Series(["X-1", "X-2", None], dtype="string")
    b = pd.Series(["X-2", "X-3", "X-1"], dtype="string", index=[7, 8, 9])
    with codes_cache():
        ids_a, ids_b = _subject_ids([a, b])
    assert ids_b.index.tolist() == [7, 8, 9]
    assert ids_a.iloc[0] == ids_b.iloc[2] and ids_a.iloc[1] == ids_b.iloc[0]
    assert len({ids_a.iloc[0], ids_a.iloc[1], ids_b.iloc[1]}) == 3 and np.isnan(ids_a.iloc[2])


def test_numbers_within_groups_match_a_stable_pandas_sort():
    table = pd.DataFrame({"S": [1, 0, 1, 0, 1, 1],
                          "V": [2.0, np.nan, np.nan, 1.0, 2.0, 1.0],
                          "_POS": np.arange(6)})
    got = _numbers_within(table, ["S", "V", "_POS"], ["S"])
    # subject 0: V 1.0 (row 3) then NaN (row 1); subject 1: 1.0 (row 5), 2.0 (rows 0, 4), NaN
    assert got.tolist() == [2.0, 2.0, 4.0, 1.0, 3.0, 1.0]
    order = table.sort_values(["S", "V", "_POS"], kind="mergesort", na_position="last")
    expected = (order.groupby(["S"], dropna=False, sort=False).cumcount() + 1).sort_index()
    assert got.tolist() == expected.astype("float64").tolist()
    assert _numbers_within(table.assign(S=["a"] * 6), ["S", "_POS"], ["S"]) is None
