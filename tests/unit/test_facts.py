"""Column facts (checks/facts.py): one factorisation of a text column answers every question
define.xml and the schema checks ask of it. Expected values are worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.checks.facts import text_facts


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
