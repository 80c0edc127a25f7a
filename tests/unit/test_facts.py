"""Column facts (checks/facts.py): one factorisation of a text column answers every question
define.xml and the schema checks ask of it. Expected values are worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.checks.facts import complete_days, complete_heads, iso_date_parts, text_facts


def text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def test_codes_and_distinct_values_in_first_appearance_order() -> None:
    facts = text_facts(text("B", None, "A", "B", "", " ", "A"))
    assert facts is not None
    assert facts.codes.tolist() == [0, -1, 1, 0, 2, 3, 1]
    assert facts.uniques.tolist() == ["B", "A", "", " "]
    assert facts.present.tolist() == ["B", "A"]            # blank values are not present
    assert facts.used == {"A", "B"}


def test_byte_lengths_count_utf8_and_blank_values() -> None:
    facts = text_facts(text("é", "abc", "   ", None))
    assert facts.byte_lengths.tolist() == [2, 3, 3]
    assert facts.max_bytes == 3                            # "   " counts, as the XPT writer
    assert text_facts(text(None, None)).max_bytes == 0


def test_used_terms_are_stripped() -> None:
    assert text_facts(text(" MILD", "MILD ", "SEVERE")).used == {"MILD", "SEVERE"}


def test_subset_keeps_the_order_values_first_appear_in_the_selection() -> None:
    facts = text_facts(text("A", "B", "C", "B", None, "A"))
    rows = np.array([False, False, True, True, True, True])
    part = facts.subset(rows)
    assert part.uniques.tolist() == ["C", "B", "A"]
    assert part.codes.tolist() == [0, 1, -1, 2]
    assert part.present.tolist() == ["C", "B", "A"]


def test_isin_and_first_rows() -> None:
    facts = text_facts(text("X", "Y", None, "X", "Z", "X"))
    assert facts.isin(["X", "Z"]).tolist() == [True, False, False, True, True, True]
    codes, first, count = facts.first_rows(np.array([True, False, True]))   # X and Z
    assert codes.tolist() == [0, 2]
    assert first.tolist() == [0, 4]
    assert count.tolist() == [3, 1]


def test_object_text_is_factorised_and_other_columns_are_not() -> None:
    facts = text_facts(pd.Series(["a", None, np.nan, "a"], dtype=object))
    assert facts is not None and facts.codes.tolist() == [0, -1, -1, 0]
    assert text_facts(pd.Series([1.0, 2.0])) is None
    assert text_facts(pd.Series(["a", 1], dtype=object)) is None
    assert text_facts(pd.Series(["a", "b"], dtype="category")) is None


def test_facts_cache_factorises_a_column_once_and_forgets_it_after() -> None:
    from cdiscmap.checks.facts import facts_cache

    column = text("A", None, "B", "A")
    outside = text_facts(column)
    assert text_facts(column) is not outside               # no cache: found again
    with facts_cache():
        first = text_facts(column)
        assert text_facts(column) is first                 # the same column: remembered
        other = text("A", None, "B", "A")                  # equal values, another array
        assert text_facts(other) is not first
        with facts_cache():                                # nested use shares
            assert text_facts(column) is first
    assert text_facts(column) is not first


def test_remembered_facts_answer_while_the_cache_is_open() -> None:
    from cdiscmap.checks.facts import TextFacts, facts_cache, remember

    column = text("X", "Y", None, "X")
    known = TextFacts(np.array([0, 1, -1, 0]), np.array(["X", "Y"], dtype=object))
    remember(column, known)                                # no cache open: not kept
    assert text_facts(column) is not known
    with facts_cache():
        remember(column, known)
        assert text_facts(column) is known
        remember(text("X"), known)                         # wrong length: not kept
        assert text_facts(text("X")).codes.tolist() == [0]


def test_byte_lengths_all_ascii_and_mixed() -> None:
    assert text_facts(text("AB", "C")).byte_lengths.tolist() == [2, 1]
    assert text_facts(text("AB", "€", "ü x")).byte_lengths.tolist() == [2, 3, 4]


def _parts(*values: str) -> list[list[float | None]]:
    parts = iso_date_parts(np.array(values, dtype=object))
    return [[None if np.isnan(x) else x for x in row] for row in parts.tolist()]


def test_iso_date_parts_read_year_month_day_as_given() -> None:
    assert _parts("2019-03-07T10:30", "2019-03", "2019", "0000-01-01") == [
        [2019, 3, 7], [2019, 3, None], [2019, None, None], [0, 1, 1]]
    # each part only after the one before it; nothing is read past the 10th character
    assert _parts("2019---07", "2019-3-07", "2019-03-", "20190307", "--03-07", "", "19") == [
        [2019, None, None], [2019, None, None], [2019, 3, None], [2019, None, None],
        [None, None, None], [None, None, None], [None, None, None]]
    assert _parts("2019-13-45") == [[2019, 13, 45]]        # the shape only: no calendar
    # other scripts' digits are digits to the regex, but pandas reads no number from them:
    # the part is NaN, the parts after it are still read
    assert _parts("٢٠١٩-03-07", "2019-03-0٧") == [[None, 3, 7], [2019, 3, None]]
    assert iso_date_parts(np.array([], dtype=object)).shape == (0, 3)


def test_complete_days_only_for_dates_on_the_calendar() -> None:
    values = np.array(["2020-02-29T08:00", "2019-02-29", "2019-04-31", "2019-13-01",
                       "2019-04-30", "2019-04", "1600-01-01", "2262-04-11", "2262-04-12",
                       "2019-04-1٢"], dtype=object)
    days = complete_days(values, iso_date_parts(values))
    shown = [None if np.isnat(d) else str(d)[:10] for d in days]
    # 1600 and 2262-04-12 are outside datetime64[ns]; pandas reads "1٢" as 12
    assert shown == ["2020-02-29", None, None, None, "2019-04-30", None, None, "2262-04-11",
                     None, "2019-04-12"]


def test_complete_days_agree_with_complete_date() -> None:
    from cdiscmap.sdtm.dates import complete_date

    values = np.array(["2021-01-31", "2021-02-31", "1677-09-21", "1677-09-22", "0000-01-01",
                       "2024-02-29T23:59", "2021-1-01", " 2021-01-01"], dtype=object)
    days = complete_days(values, iso_date_parts(values))
    expected = complete_date(pd.Series(values, dtype="string")).to_numpy()
    assert [str(d) for d in days] == [str(d) for d in expected]


def test_date_parts_are_found_once_per_column() -> None:
    facts = text_facts(text("2019-03-07", None, "2019"))
    assert facts.date_parts is facts.date_parts
    assert [str(d)[:10] for d in facts.complete_days] == ["2019-03-07", "NaT"]


def test_complete_heads_test_the_shape_of_the_first_ten_characters() -> None:
    values = np.array(["2019-03-07T10:30", "2019-13-45", "2019-03", "2019-03-7", " 2019-03-07",
                       "2019/03/07", "2019-03-0٧", ""], dtype=object)
    # the shape only (2019-13-45 passes); other scripts' digits are \d to the regex
    assert complete_heads(values).tolist() == [True, True, False, False, False, False, True,
                                               False]
    assert complete_heads(np.array([], dtype=object)).tolist() == []


def test_facts_reuse_the_runs_factorisation_in_first_appearance_order(monkeypatch) -> None:
    """A column the mapping factorised (sdtm.vectorize) is not hashed again: its remembered
    codes are renumbered as a row scan meets the values (unused table values dropped)."""
    from cdiscmap.checks import facts as facts_module
    from cdiscmap.checks.facts import facts_cache
    from cdiscmap.sdtm.vectorize import clean_text, codes_cache, text_from_codes

    def no_hashing(series: pd.Series) -> None:
        raise AssertionError("the text was hashed again")

    with codes_cache(), facts_cache():
        # the table holds "B" before "A" and an unused "Z"; the rows meet A, null, B, B, A
        column = text_from_codes(np.array([2, -1, 0, 3, 2]),
                                 np.array(["B", "Z", "A", "B"], dtype=object),
                                 pd.RangeIndex(5))
        cleaned = clean_text(text(" Q", "R", None, "Q"))    # already in first-appearance order
        monkeypatch.setattr(facts_module, "_text_facts", no_hashing)
        facts = text_facts(column)
        assert facts.codes.tolist() == [0, -1, 1, 1, 0]
        assert facts.uniques.tolist() == ["A", "B"]
        assert facts.max_bytes == 1
        facts = text_facts(cleaned)
        assert facts.codes.tolist() == [0, 1, -1, 0]
        assert facts.uniques.tolist() == ["Q", "R"]
    monkeypatch.undo()
    assert text_facts(column).uniques.tolist() == ["A", "B"]     # no cache: hashed, same facts
