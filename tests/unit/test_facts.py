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
