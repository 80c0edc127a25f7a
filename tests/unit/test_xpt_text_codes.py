"""The XPT writer's text factorisation is exact, NUL included, and a NUL in a value is refused.

pandas' C-string hash table (behind ``pd.factorize`` for all-str arrays) ends a text at its first
NUL, so "a" and "a\\x00b" used to get one code and "a\\x00b" was written as "a". The writer groups
shared str objects by identity and compares texts with Python's equality, or hashes one-object-
per-row columns by C string and checks that no NUL was cut; a value with NUL is then refused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.emit.xpt import XptColumn, _factorize_text, write_xpt
from cdiscmap.errors import XptLimitError


@pytest.fixture(autouse=True)
def _long_column_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    """These short columns take the routes of long ones (object identity, C-string table):
    short columns are hashed directly (``_DIRECT_ROWS``, tested in test_emit_fixed_xpt)."""
    import cdiscmap.emit.xpt as xpt

    monkeypatch.setattr(xpt, "_DIRECT_ROWS", 0)


def fresh(texts: list[str | None]) -> list[str | None]:
    """The same texts, each cell its own str object (as after a per-row string operation)."""
    return [None if t is None else "".join(list(t)) for t in texts]


def shared(texts: list[str | None], repeat: int = 10) -> list[str | None]:
    """The texts repeated, each distinct text one object (as read_csv or the reader give)."""
    return [t for t in texts for _ in range(repeat)]


@pytest.mark.parametrize("make", [fresh, shared])
@pytest.mark.parametrize("dtype", ["string", object])
def test_texts_differing_after_nul_get_their_own_codes(make, dtype):
    texts = make(["ab", "ab\x00b", "ab\x00c", None, "ab", "bc"])
    codes, uniques = _factorize_text(pd.Series(texts, dtype=dtype))
    assert uniques.tolist() == ["ab", "ab\x00b", "ab\x00c", "bc"]
    expected = {"ab": 0, "ab\x00b": 1, "ab\x00c": 2, None: -1, "bc": 3}
    assert codes.tolist() == [expected[t] for t in texts]


def test_nul_swallowed_behind_an_earlier_value_is_found_with_one_object_per_row(monkeypatch):
    # the C-string table gives "ab\x00c" the code of "ab" and keeps "ab" as the value: only the
    # longer row betrays it
    import cdiscmap.emit.xpt as xpt

    found = []
    check = xpt._cut_at_nul
    monkeypatch.setattr(xpt, "_cut_at_nul", lambda *a: found.append(check(*a)) or found[-1])
    texts = fresh(["ab", "cd", "ab\x00c"] * 3)
    codes, uniques = _factorize_text(pd.Series(texts, dtype="string"))
    assert found == [True]                        # the C-string route ran, and saw the cut
    assert uniques.tolist() == ["ab", "cd", "ab\x00c"] and codes.tolist() == [0, 1, 2] * 3


@pytest.mark.parametrize("texts, uniques", [
    # all values 2 long: the longest row (4, "ab\x00c") betrays the cut
    (["ab", None, "cd", "ab\x00c", None], ["ab", "cd", "ab\x00c"]),
    # values 2 and 3 long: each row compared with its value; missing rows are not compared
    (["ab", None, "abc", "ab\x00c", None], ["ab", "abc", "ab\x00c"]),
    # the first row holds NUL, so the value kept does: found among the values
    (["ab\x00c", "ab", None, "xyz"], ["ab\x00c", "ab", "xyz"]),
])
def test_cut_found_by_either_check_with_missing_rows(monkeypatch, texts, uniques):
    import cdiscmap.emit.xpt as xpt

    found = []
    check = xpt._cut_at_nul
    monkeypatch.setattr(xpt, "_cut_at_nul", lambda *a: found.append(check(*a)) or found[-1])
    codes, got = _factorize_text(pd.Series(fresh(texts * 3), dtype="string"))
    assert found == [True]
    assert got.tolist() == uniques
    code = {value: i for i, value in enumerate(uniques)} | {None: -1}
    assert codes.tolist() == [code[t] for t in texts * 3]


@pytest.mark.parametrize("texts", [
    ["ab", None, "cd", "ab"],                       # one length, missing rows
    ["ab", "abc", None, "abc", "abcd", "ab"],       # several lengths, missing rows
])
def test_no_cut_reported_without_nul(monkeypatch, texts):
    import cdiscmap.emit.xpt as xpt

    found = []
    check = xpt._cut_at_nul
    monkeypatch.setattr(xpt, "_cut_at_nul", lambda *a: found.append(check(*a)) or found[-1])
    codes, uniques = _factorize_text(pd.Series(fresh(texts * 3), dtype="string"))
    assert found == [False]
    distinct = list(dict.fromkeys(t for t in texts if t is not None))
    assert uniques.tolist() == distinct
    assert codes.tolist() == [-1 if t is None else distinct.index(t) for t in texts * 3]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["", "X", "NOT DONE", "ÉCHO", "a b"]),
                          st.text(max_size=6)), max_size=60),
       st.booleans())
def test_codes_equal_pd_factorize_on_texts_without_nul(texts, one_object_per_cell):
    texts = [t if t is None or "\x00" not in t else t.replace("\x00", "0") for t in texts]
    cells = fresh(texts) if one_object_per_cell else texts
    codes, uniques = _factorize_text(pd.Series(cells, dtype="string"))
    want_codes, want_uniques = pd.factorize(np.array(texts, dtype=object))
    assert codes.tolist() == want_codes.tolist()
    assert uniques.tolist() == list(want_uniques)


def test_writer_refuses_a_value_with_nul_naming_dataset_variable_and_row(tmp_path):
    frame = pd.DataFrame({"USUBJID": pd.array(["S-1", "S-2", "S-2\x00X"], dtype="string"),
                          "_SRCFILE": ["dm.csv"] * 3, "_SRCROW": [2, 3, 4]})
    with pytest.raises(XptLimitError) as caught:
        write_xpt(tmp_path / "dm.xpt", frame, dataset_name="DM", dataset_label="Demographics",
                  columns=[XptColumn("USUBJID", "Unique Subject Identifier", "char")])
    problem = [line for line in str(caught.value).splitlines() if "NUL" in line]
    assert problem == ["  - DM.USUBJID: value 'S-2\\x00X' at dm.csv row 4 holds a NUL character "
                       "(U+0000), which XPT readers take as the end of the text; remove it"]
    assert not (tmp_path / "dm.xpt").exists()


def test_a_sorted_column_of_shared_objects_is_grouped_by_object():
    # 2,000 subjects x 50 rows, sorted: a sample every 24th row sees each subject about twice,
    # which looked like "nearly one object per row"; random rows see each about 7 times.
    import cdiscmap.emit.xpt as xpt

    subjects = [f"S-{i:05d}" for i in range(2000)]
    sorted_shared = np.array([s for s in subjects for _ in range(50)], dtype=object)
    assert xpt._shares_objects(xpt._addresses(sorted_shared))
    # one object per row, every 33rd row missing (one shared NA object): hash every text
    cells = np.array(fresh([None if i % 33 == 0 else f"V{i:06d}" for i in range(100_000)]),
                     dtype=object)
    assert not xpt._shares_objects(xpt._addresses(cells))
    # the route does not change the result
    codes, uniques = _factorize_text(pd.Series(sorted_shared, dtype="string"))
    assert uniques.tolist() == subjects
    assert codes.tolist() == [i for i in range(2000) for _ in range(50)]


def test_runs_of_one_object_are_hashed_once_per_run_with_the_same_codes():
    import cdiscmap.emit.xpt as xpt

    s1, s2, s1_again = "".join(["S", "1"]), "".join(["S", "2"]), "".join(["S", "1"])
    assert s1 is not s1_again
    cells = [s1] * 5 + [None] * 4 + [s2] * 6 + [s1_again] * 5 + [s1] * 4
    column = pd.Series(cells, dtype="string")
    # 5 runs over 24 rows (at least 4 rows each on average): one address per run is hashed
    assert xpt._run_starts(xpt._addresses(np.asarray(column.array))).tolist() == [0, 5, 9, 15, 20]
    codes, uniques = _factorize_text(column)
    assert uniques.tolist() == ["S1", "S2"]
    assert codes.tolist() == [0] * 5 + [-1] * 4 + [1] * 6 + [0] * 9
    # runs of 2 rows on average: every row's address is hashed, same codes
    short = pd.Series([s1, s1, s2, s2, None, None, s1_again, s1_again] * 3, dtype="string")
    assert xpt._run_starts(xpt._addresses(np.asarray(short.array))) is None
    codes, uniques = _factorize_text(short)
    assert uniques.tolist() == ["S1", "S2"]
    assert codes.tolist() == [0, 0, 1, 1, -1, -1, 0, 0] * 3


def test_long_columns_of_short_runs_are_told_by_a_sample_of_neighbours():
    import cdiscmap.emit.xpt as xpt

    # 40,000 rows (more than 4 samples' worth): two objects taking turns change on every
    # row, so the sample of neighbour pairs says "short runs" without the pass over all rows
    a, b = "".join(["A", "1"]), "".join(["B", "2"])
    turns = pd.Series([a, b] * 20_000, dtype="string")
    assert xpt._run_starts(xpt._addresses(np.asarray(turns.array))) is None
    codes, uniques = _factorize_text(turns)
    assert uniques.tolist() == ["A1", "B2"] and codes.tolist() == [0, 1] * 20_000
    # runs of 8 rows over as many rows are still found, every run start
    runs = pd.Series([a] * 8 + [b] * 8 + [None] * 8 + [b] * 8, dtype="string")
    long_runs = pd.concat([runs] * 1_250, ignore_index=True)
    starts = xpt._run_starts(xpt._addresses(np.asarray(long_runs.array)))
    assert starts is not None and starts.tolist() == list(range(0, 40_000, 8))
    codes, uniques = _factorize_text(long_runs)
    assert uniques.tolist() == ["A1", "B2"]
    assert codes.tolist() == ([0] * 8 + [1] * 8 + [-1] * 8 + [1] * 8) * 1_250


def test_the_neighbour_sample_decides_the_route_and_not_the_codes():
    import cdiscmap.emit.xpt as xpt

    # "B2" right after every sampled row, "A1" elsewhere: at most 8,192 changes in 40,000
    # rows (runs of about 5 on average) yet every sampled pair differs, so the sample sends
    # the column the way of short runs; the codes are the same either way
    a, b = "".join(["A", "1"]), "".join(["B", "2"])
    n_rows = 40_000
    cells = np.array([a] * n_rows, dtype=object)
    cells[xpt._sample_rows(n_rows - 1, xpt._RUN_SAMPLE) + 1] = b
    addresses = xpt._addresses(cells)
    assert (int(np.count_nonzero(addresses[1:] != addresses[:-1])) + 1) * 4 <= n_rows
    assert xpt._run_starts(addresses) is None
    codes, uniques = _factorize_text(pd.Series(cells, dtype="string"))
    assert uniques.tolist() == ["A1", "B2"]
    assert codes.tolist() == [0 if cell is a else 1 for cell in cells]
