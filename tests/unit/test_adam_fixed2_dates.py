"""Dates imputed on the distinct texts of a column (``impute_dtc``, ``impute_dtm``): the texts
stay an object array and only those that are not plain become a "string" Series; times are
added to the dates as whole seconds in nanoseconds. Each row must get what its text gets on
its own (plain, partial, regex-read and unreadable texts mixed in one column), and the times
must be those of ``pd.to_timedelta``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.adam.dates import impute_dtc, impute_dtm
from cdiscmap.adam.dtypes import TEXT

TEXTS = st.one_of(
    st.sampled_from(["2020-02-29", "2021-02-29", "2014-03", "2014", "2014---05", " 2014-03-05 ",
                     "2014-3-05 ", "UNK", "", "  ", "9999-12-31", "2014-03-05T10",
                     "2014-03-05T10:30", "2014-03-05T10:30:15", "2014-03-05T10:30:15.5",
                     "2014-03-05T25:00", "2014-03T10:00", "2014-13-01", "1600-01-01"]),
    st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", st.integers(1990, 2030),
              st.integers(1, 12), st.integers(1, 31)),
    st.none())


@settings(max_examples=200)
@given(texts=st.lists(TEXTS, max_size=30), highest=st.sampled_from(["none", "D", "M"]),
       how=st.sampled_from(["first", "mid", "last"]))
def test_each_row_gets_what_its_text_gets_alone(texts, highest, how):
    column = pd.Series(texts, dtype=TEXT)
    together = impute_dtc(column, highest, how)
    for k, text in enumerate(texts):
        alone = impute_dtc(pd.Series([text], dtype=TEXT), highest, how)
        assert together.dates.iloc[k] is pd.NaT and alone.dates.iloc[0] is pd.NaT or \
            together.dates.iloc[k] == alone.dates.iloc[0]
        assert together.invalid.iloc[k] == alone.invalid.iloc[0]
        assert str(together.flag.iloc[k]) == str(alone.flag.iloc[0])
    assert together.invalid.dtype == bool and together.dates.dtype == "datetime64[ns]"


@settings(max_examples=200)
@given(texts=st.lists(TEXTS, max_size=30), time=st.sampled_from(["first", "last"]))
def test_times_are_whole_seconds_after_the_date(texts, time):
    column = pd.Series(texts, dtype=TEXT)
    made = impute_dtm(column, "M", "first", time)
    dates = impute_dtc(column, "M", "first").dates
    seconds = (made.datetimes - dates).dt.total_seconds()
    expected = dates + pd.to_timedelta(seconds.fillna(0), unit="s")
    pd.testing.assert_series_equal(made.datetimes, expected.where(dates.notna()),
                                   check_names=False)
    assert made.datetimes.dtype == "datetime64[ns]"
    assert ((seconds.dropna() >= 0) & (seconds.dropna() < 86400)
            & (seconds.dropna() == np.floor(seconds.dropna()))).all()


def test_hand_checked_times():
    column = pd.Series(["2014-03-05T10", "2014-03-05T10:30:15", "2014-03", None], dtype=TEXT)
    first = impute_dtm(column, "M", "first", "first")
    last = impute_dtm(column, "M", "first", "last")
    assert first.datetimes.tolist()[:3] == [pd.Timestamp("2014-03-05 10:00:00"),
                                            pd.Timestamp("2014-03-05 10:30:15"),
                                            pd.Timestamp("2014-03-01 00:00:00")]
    assert last.datetimes.tolist()[:3] == [pd.Timestamp("2014-03-05 10:59:59"),
                                           pd.Timestamp("2014-03-05 10:30:15"),
                                           pd.Timestamp("2014-03-01 23:59:59")]
    assert pd.isna(first.datetimes.iloc[3])
    assert first.time_flag.tolist()[:3] == ["M", pd.NA, "H"]
