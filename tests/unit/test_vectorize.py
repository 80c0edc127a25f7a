"""Distinct-value kernels (sdtm/vectorize.py): the same values as the pandas string methods
they replace, and a factorisation remembered only while its array is alive and unchanged."""

import numpy as np
import pandas as pd
import pytest

from cdiscmap.sdtm.vectorize import (
    DENSE_SPAN,
    by_first_appearance,
    carry,
    carry_concat,
    carry_rows,
    clean_categorical,
    clean_text,
    coded,
    codes_cache,
    combined_codes,
    constant_text,
    forget_codes,
    map_unique,
    memo_apply,
    not_null,
    null_text,
    pack_frame,
    pack_series,
    remembered,
    text_from_codes,
    unpack_frame,
    unpack_series,
)


def test_clean_text_strips_and_nulls_blank_text():
    raw = pd.Series([" a", "a", "", None, "b\t", "\u00a0", "c", np.nan], dtype=object,
                    index=range(10, 18))
    out = clean_text(raw)
    assert out.dtype == "string" and out.index.tolist() == list(range(10, 18))
    assert out.tolist() == ["a", "a", pd.NA, pd.NA, "b", pd.NA, "c", pd.NA]
    # numbers in an object column are spelled as astype("string") spells them
    assert clean_text(pd.Series([1, 2.5, " x "], dtype=object)).tolist() == ["1", "2.5", "x"]


def test_cleaned_text_knows_its_own_factorisation():
    with codes_cache():
        out = clean_text(pd.Series([" b", "a", "b", "", None, "a "], dtype="string"))
        codes, uniques = coded(out)
        # " b" and "b" are one value; blank and missing are null (-1)
        assert codes.tolist() == [0, 1, 0, -1, -1, 1] and uniques.tolist() == ["b", "a"]
        direct_codes, direct_uniques = pd.factorize(out.to_numpy(dtype=object))
        assert codes.tolist() == direct_codes.tolist()
        assert uniques.tolist() == direct_uniques.tolist()


def test_factorisation_forgotten_outside_the_run_and_for_new_arrays():
    s = pd.Series(["x", "y", "x"], dtype="string")
    with codes_cache():
        first = coded(s)
        assert coded(s)[0] is first[0]                  # same array: remembered
        other = pd.Series(["y", "y", "x"], dtype="string")
        assert coded(other)[0].tolist() == [0, 0, 1]    # another array: its own codes
    assert coded(s)[0] is not first[0]                  # no cache outside codes_cache


def test_map_unique_missing_rows_take_the_result_dtypes_null():
    s = pd.Series(["2020-01-02", None, "x", "2020-01-02"], dtype="string", index=[4, 5, 6, 7])
    dates = map_unique(s, lambda u: pd.to_datetime(u, format="%Y-%m-%d", errors="coerce"))
    assert dates.dtype == "datetime64[ns]" and dates.index.tolist() == [4, 5, 6, 7]
    assert dates.isna().tolist() == [False, True, True, False]
    lengths = map_unique(s, lambda u: u.str.len().astype("float64"))
    assert lengths.tolist()[0] == 10.0 and np.isnan(lengths.iloc[1]) and lengths.iloc[2] == 1.0
    flags = map_unique(s, lambda u: u.str.len() > 5)       # boolean: missing is NA
    assert str(flags.dtype) == "boolean" and flags.tolist() == [True, pd.NA, False, True]


def _factorize(s: pd.Series) -> tuple[list, list]:
    codes, uniques = pd.factorize(s.to_numpy(dtype=object))
    return codes.tolist(), uniques.tolist()


def test_rows_taken_from_a_remembered_column_are_numbered_as_factorize_numbers_them():
    frame = pd.DataFrame({"A": pd.array(["a", "b", None, "c", "b", "a"], dtype="string")})
    with codes_cache():
        assert coded(frame["A"])[1].tolist() == ["a", "b", "c"]
        keep = np.array([False, True, True, False, True, True])
        part = frame.loc[keep]
        carry_rows(frame, part, keep)
        codes, uniques = coded(part["A"])
        # "c" is gone, "b" now comes first and null keeps -1: what factorising again gives
        assert codes.tolist() == [0, -1, 0, 1] and uniques.tolist() == ["b", "a"]
        assert (codes.tolist(), uniques.tolist()) == _factorize(part["A"])
        order = np.array([5, 3, 0])                      # positions, e.g. a sort's order
        moved = frame.iloc[order]
        carry_rows(frame, moved, order)
        assert coded(moved["A"])[1].tolist() == ["a", "c"]
        assert coded(moved["A"])[0].tolist() == [0, 1, 0]


def test_forgotten_codes_are_made_again_the_same():
    column = pd.Series(["b", None, "a", "b"], dtype="string")
    with codes_cache():
        first = coded(column)
        assert remembered(column) is not None
        forget_codes()
        assert remembered(column) is None            # let go: nothing holds the codes
        again = coded(column)                        # factorised again, remembered again
        assert again[0].tolist() == first[0].tolist() == [0, -1, 1, 0]
        assert again[1].tolist() == ["b", "a"]
        assert remembered(column) is not None
    forget_codes()                                   # outside a run: nothing to forget


def test_copies_and_concatenations_share_the_parts_factorisations():
    a = pd.Series(["x", None, "y"], dtype="string")
    b = pd.Series(["z", "y", "z", None], dtype="string")
    with codes_cache():
        coded(a), coded(b)
        frame = pd.DataFrame(index=a.index)
        frame["V"] = a                                   # pandas copies the array
        carry(a, frame["V"])
        assert coded(frame["V"])[0] is coded(a)[0]
        whole = pd.concat([a, b], ignore_index=True)
        carry_concat([a, b], whole)
        codes, uniques = coded(whole)
        assert codes.tolist() == [0, -1, 1, 2, 1, 2, -1] and uniques.tolist() == ["x", "y", "z"]
        assert (codes.tolist(), uniques.tolist()) == _factorize(whole)


def test_map_unique_and_constants_know_their_results_factorisation():
    s = pd.Series(["b", "a", None, "B", "a"], dtype="string")
    with codes_cache():
        up = map_unique(s, lambda u: u.str.upper())
        codes, uniques = coded(up)
        assert up.tolist() == ["B", "A", pd.NA, "B", "A"]
        # "b" and "B" both give "B": one value in the result
        assert codes.tolist() == [0, 1, -1, 0, 1] and uniques.tolist() == ["B", "A"]
        const = constant_text("LB", pd.RangeIndex(3))
        assert const.tolist() == ["LB"] * 3 and coded(const)[0].tolist() == [0, 0, 0]
        # a constant with blanks around it is not clean text: cleaning still strips it
        assert clean_text(constant_text(" x ", pd.RangeIndex(2))).tolist() == ["x", "x"]
        clean = constant_text("x", pd.RangeIndex(2))
        assert clean_text(clean).tolist() == ["x", "x"]


def test_clean_categorical_gives_clean_text_and_factorize_order():
    # categories come sorted from read_csv(dtype="category"); the codes follow the rows
    cat = pd.Categorical([" b", "a", "", "b", "a ", "c"])
    with codes_cache():
        out = clean_categorical(cat)
        assert list(out) == ["b", "a", pd.NA, "b", "a", "c"]
        codes, uniques = coded(pd.Series(out))
        # numbered by first appearance in the rows, as pd.factorize numbers the text
        assert codes.tolist() == [0, 1, -1, 0, 1, 2] and uniques.tolist() == ["b", "a", "c"]
    assert list(clean_categorical(pd.Categorical([], categories=[]))) == []
    # clean values with blank cells (the usual raw column) skip stripping each value: the
    # blanks still become null, and a blank-only column is all null
    with codes_cache():
        out = clean_categorical(pd.Categorical(["x", "", "y", "", "x"]))
        assert list(out) == ["x", pd.NA, "y", pd.NA, "x"]
        assert coded(pd.Series(out))[0].tolist() == [0, -1, 1, -1, 0]
        assert list(clean_categorical(pd.Categorical(["", ""]))) == [pd.NA, pd.NA]
        assert list(clean_categorical(pd.Categorical(["x", "", " y"]))) == ["x", pd.NA, "y"]


def test_text_from_codes_joins_repeated_table_values_and_nulls():
    table = np.array(["X", pd.NA, "Y", "X"], dtype=object)     # "X" twice (two branches)
    with codes_cache():
        out = text_from_codes(np.array([3, 0, -1, 1, 2]), table, pd.Index(range(5, 10)))
        assert out.dtype == "string" and out.index.tolist() == [5, 6, 7, 8, 9]
        assert out.tolist() == ["X", "X", pd.NA, pd.NA, "Y"]
        codes, uniques = coded(out)
        assert codes.tolist() == [0, 0, -1, -1, 1] and uniques.tolist() == ["X", "Y"]
        nulls = null_text(pd.Index([1, 2]))
        assert nulls.isna().all() and coded(nulls)[0].tolist() == [-1, -1]


def test_memo_apply_computes_each_value_once_per_run():
    seen: list[list[str]] = []

    def lengths(fresh: np.ndarray) -> list[np.ndarray]:
        seen.append(fresh.tolist())
        return [np.array([len(v) for v in fresh], dtype="int64"),
                np.array([v.upper() for v in fresh], dtype=object)]

    assert memo_apply("len", np.array(["ab", "c"], dtype=object), lengths) is None  # no run
    with codes_cache():
        first = memo_apply("len", np.array(["ab", "c"], dtype=object), lengths)
        second = memo_apply("len", np.array(["xyz", "c", "ab"], dtype=object), lengths)
        other = memo_apply("other", np.array(["c"], dtype=object), lengths)
    assert [a.tolist() for a in first] == [[2, 1], ["AB", "C"]]
    # results aligned on the values asked for; only "xyz" was new to the "len" memo
    assert [a.tolist() for a in second] == [[3, 1, 2], ["XYZ", "C", "AB"]]
    assert [a.tolist() for a in other] == [[1], ["C"]]
    assert seen == [["ab", "c"], ["xyz"], ["c"]]


def test_map_unique_with_a_memo_gives_the_values_and_nulls_of_the_plain_call():
    def as_date(u: pd.Series) -> pd.Series:
        return pd.to_datetime(u.where(u.str.len() == 10), format="%Y-%m-%d", errors="coerce")

    a = pd.Series(["2020-01-31", None, "2020-02", "2020-01-31"], dtype="string")
    b = pd.Series(["2020-02", "2021-12-01", None], dtype="string", index=[7, 8, 9])
    with codes_cache():
        got_a = map_unique(a, as_date, memo="date")
        got_b = map_unique(b, as_date, memo="date")
    assert got_a.dtype == "datetime64[ns]" and got_b.index.tolist() == [7, 8, 9]
    assert got_a.tolist()[0] == pd.Timestamp("2020-01-31") and got_a.isna().tolist() == \
        [False, True, True, False]
    assert got_b.isna().tolist() == [True, False, True]
    assert got_b[8] == pd.Timestamp("2021-12-01")


def test_packed_frame_pickles_text_as_small_codes_and_comes_back_equal():
    import pickle

    frame = pd.DataFrame({
        "USUBJID": pd.Series(["S-2", None, "S-1", "S-2"], dtype="string"),
        "AESEQ": [1.0, np.nan, 2.0, 3.0],
        "N": pd.array([1, None, 3, 4], dtype="Int64"),
        "FLAG": [True, False, True, False],
    }, index=pd.RangeIndex(4))
    packed = pack_frame(frame)
    kind, _, name, codes, uniques, clean = packed[2][0]
    # the text column travels as its factorisation, codes in one byte each
    assert (kind, name, codes.dtype, codes.tolist(), uniques.tolist(), clean) == \
        ("text", "USUBJID", np.int8, [0, -1, 1, 0], ["S-2", "S-1"], False)
    with codes_cache():
        back = unpack_frame(pickle.loads(pickle.dumps(packed, protocol=5)))
        pd.testing.assert_frame_equal(back, frame, check_exact=True)
        assert list(back.dtypes) == list(frame.dtypes)
        # the receiver knows the text column's factorisation without hashing it again
        from cdiscmap.sdtm.vectorize import _entry

        entry = _entry(back["USUBJID"])
        assert entry is not None and entry[0].tolist() == [0, -1, 1, 0]
    only = unpack_frame(pack_frame(frame, ["FLAG", "USUBJID"]))
    pd.testing.assert_frame_equal(only, frame[["FLAG", "USUBJID"]], check_exact=True)


def test_packed_text_keeps_the_senders_factorisation_and_cleanliness():
    with codes_cache():
        text = clean_text(pd.Series([" b", "a", "", "b"], dtype="string"))
        packed = pack_series(text)
        assert packed[3].tolist() == [0, 1, -1, 0] and packed[5] is True     # known clean
        back = unpack_series(packed)
        assert back.tolist() == ["b", "a", pd.NA, "b"]
        assert coded(back)[1].tolist() == ["b", "a"]
    # outside a run: factorised for the pipe, nothing remembered
    packed = pack_series(pd.Series(["x"] * 300 + ["y"], dtype="string"))
    assert packed[3].dtype == np.int8 and packed[4].tolist() == ["x", "y"]


def test_clean_text_of_clean_values_is_the_same_array_and_blanks_are_still_found():
    # clean_text_array tests cleanliness in one pass over the joined values: a blank at any
    # value's edge (NBSP and \x1f are blanks to str.strip), an empty value or a NUL inside a
    # value must give what stripping each value gives
    with codes_cache():
        clean = pd.Series(["a", "b c", "a\x00b", None], dtype="string")
        assert clean_text(clean).array._ndarray is clean.array._ndarray
        assert clean_text(clean).tolist() == ["a", "b c", "a\x00b", pd.NA]
        for blank in (" a", "a ", "a\u00a0", "\x1fa", "", "a\x00 ", "\ta\x00b"):
            values = pd.Series(["x", blank, None], dtype="string")
            out = clean_text(values)
            assert out.array._ndarray is not values.array._ndarray
            assert out.tolist() == ["x", blank.strip() or pd.NA, pd.NA]


def test_codes_cache_finds_a_column_that_came_back_from_a_forked_child(monkeypatch):
    # an unpickled column's array has an equal, not the identical, object dtype: asking numpy
    # for it "as object" made a new view on every call, which the identity-keyed cache never
    # found, so every step hashed the column again
    import pickle

    from cdiscmap.sdtm.vectorize import coded, codes_cache

    column = pickle.loads(pickle.dumps(pd.Series(["b", "a", "b", None], dtype="string")))
    with codes_cache():
        codes, uniques = coded(column)
        monkeypatch.setattr(pd, "factorize", lambda *a, **k: pytest.fail("hashed again"))
        again_codes, again_uniques = coded(column)
    assert codes.tolist() == [0, 1, 0, -1] and list(uniques) == ["b", "a"]
    assert again_codes.tolist() == [0, 1, 0, -1] and list(again_uniques) == ["b", "a"]


def test_codes_renumbered_by_first_appearance_by_hand():
    # code 3 first (row 0), then 1 (row 2), then 0 (row 5); code 2 never occurs; -1 is null
    inner, present = by_first_appearance(np.array([3, -1, 1, 3, -1, 0, 1], dtype=np.int8), 5)
    assert inner.tolist() == [0, -1, 1, 0, -1, 2, 1]
    assert present.tolist() == [3, 1, 0]
    inner, present = by_first_appearance(np.zeros(0, dtype=np.intp), 3)
    assert inner.tolist() == [] and present.tolist() == []
    inner, present = by_first_appearance(np.array([-1, -1]), 0)
    assert inner.tolist() == [-1, -1] and present.tolist() == []


def test_codes_renumbered_by_first_appearance_as_factorize_numbers_them():
    rng = np.random.default_rng(7)
    for count in (1, 5, 3000):
        codes = rng.integers(-1, count, 20_000)
        inner, present = by_first_appearance(codes, count)
        expected, values = pd.factorize(codes[codes >= 0])
        assert (inner[codes >= 0] == expected).all() and (inner[codes < 0] == -1).all()
        assert present.tolist() == values.tolist()


def test_combined_codes_by_hand_with_null_a_value_of_its_own():
    a = np.array([0, 1, 0, -1, 1, -1])          # values x, y; -1 null
    b = np.array([2, 0, 2, 0, 1, 0])
    # combinations (x,2) (y,0) (x,2) (null,0) (y,1) (null,0)
    assert combined_codes([(a, 2), (b, 3)]).tolist() == [0, 1, 0, 2, 3, 2]
    assert combined_codes([(a, 2)]).tolist() == [0, 1, 0, 2, 1, 2]


def test_combined_codes_past_the_dense_span_are_hashed_to_the_same_numbers():
    rng = np.random.default_rng(3)
    n = 5_000
    # 3 columns of 200 values: a range of 201**3 (8 million), far past DENSE_SPAN + 2n
    columns = [(rng.integers(-1, 200, n), 200) for _ in range(3)]
    assert DENSE_SPAN + 2 * n < 201 ** 3
    rows = list(zip(*(c for c, _ in columns), strict=True))
    expected = pd.factorize(pd.Series(rows))[0]
    assert combined_codes(columns).tolist() == expected.tolist()


def test_not_null_from_remembered_codes_and_without():
    values = pd.Series(["a", None, "b", None], dtype="string", index=[5, 6, 7, 8], name="X")
    plain = not_null(values)                    # outside a run: pandas' own test
    with codes_cache():
        coded(values)
        known = not_null(values)
    for out in (plain, known):
        assert out.tolist() == [True, False, True, False]
        assert out.index.tolist() == [5, 6, 7, 8] and out.name == "X"
    assert not_null(pd.Series([1.0, np.nan])).tolist() == [True, False]
