"""Days in a month from a table and the leap-year rule, against the standard library's
Gregorian calendar; missing or impossible components give NaN."""

from __future__ import annotations

import calendar

import numpy as np

from cdiscmap.adam.dates import _month_length


def test_month_length_against_calendar() -> None:
    years = np.repeat(np.array([1600, 1700, 1900, 1999, 2000, 2004, 2023, 2024, 2100, 2400],
                               dtype=float), 12)
    months = np.tile(np.arange(1, 13, dtype=float), 10)
    expected = [calendar.monthrange(int(y), int(m))[1] for y, m in zip(years, months,
                                                                      strict=True)]
    assert _month_length(years, months).tolist() == expected
    # February by hand: 1900 and 2100 are not leap years, 2000 and 2400 are
    feb = _month_length(np.array([1900.0, 2000.0, 2023.0, 2024.0, 2100.0, 2400.0]),
                        np.full(6, 2.0))
    assert feb.tolist() == [28.0, 29.0, 28.0, 29.0, 28.0, 29.0]


def test_month_length_missing_or_impossible() -> None:
    got = _month_length(np.array([np.nan, 2020.0, 2020.0, 2020.0]),
                        np.array([1.0, np.nan, 0.0, 13.0]))
    assert np.isnan(got).all()
