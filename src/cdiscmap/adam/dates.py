"""ISO 8601 (possibly partial) --DTC text → ADaM numeric dates, with documented imputation.

ADaM dates (``*DT``) are calendar dates; SDTM --DTC may be partial (SDTMIG 3.4 §4.4.4, right
truncation: ``2014-03``, ``2014``; a missing middle component is written ``2014---05``).
Imputation follows the admiral vocabulary so that a reader who knows admiral reads our settings
the same way:

- ``highest``: the highest component that may be imputed — ``"none"`` (complete dates only),
  ``"D"`` (a missing day may be imputed), ``"M"`` (missing month and day may be imputed).
  Year imputation is never done (it needs a reference range and hides real problems).
- ``how``: ``"first"`` (day 01, month 01), ``"mid"`` (day 15; month missing → 30 June, as admiral),
  ``"last"`` (last day of the month; month missing → 31 December).
- The flag (``*DTF``) is ``"D"`` when only the day was imputed and ``"M"`` when month and day were
  (ADaMIG 1.3 §3.1.3 imputation flags; values from the DATEFL codelist C81223).

Times (``THH:MM``) are ignored: ADaM ``*DT`` carry the date only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from cdiscmap.adam.dtypes import DATES, INT, TEXT
from cdiscmap.checks.facts import PlainIso, plain_iso_parts, text_facts

Highest = Literal["none", "D", "M"]


def factorize_text(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values.astype("string"), use_na_sentinel=True)`` with the distinct values
    as an object array of str: pandas' C string table straight (a third of the time: no check
    of every value's type first; :func:`cdiscmap.checks.facts.text_facts`, which, like
    ``pd.factorize`` on NA-free text, compares values up to a NUL character). A column that
    is "string" already is read as it is: ``astype`` would copy it (≈6 ns a row, 4 million
    rows in ``cdiscmap adam`` at 10,000 subjects)."""
    text = values if values.dtype == TEXT else values.astype(TEXT)
    facts = text_facts(text)
    if facts is not None:
        return facts.codes, facts.uniques
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)
How = Literal["first", "mid", "last"]

# year, month ("-" when unknown), day ("-" when unknown); an optional time part is ignored
_ISO = r"^(?P<y>\d{4})(?:-(?P<m>\d{2}|-)(?:-(?P<d>\d{2}|-))?)?(?:T.*)?$"

class ImputedDates:
    """Dates derived from one --DTC column; every Series shares the input index.

    ``dates``: datetime64[ns], NaT when missing, invalid or not imputable; ``flag``: "string",
    "D" / "M" where imputed, <NA> otherwise; ``invalid``: bool, non-blank text that is not an
    ISO 8601 date (or impossible). The flag is spread to the rows when first read (``spread``
    makes it): most callers (LSTALVDT's sources, treatment and disposition dates) read the
    dates only, and spreading a text column costs as much as the dates (≈ 9 ms for LB's
    700,000 rows at 10,000 subjects)."""

    __slots__ = ("_flag", "_spread", "dates", "invalid")

    def __init__(self, dates: pd.Series, flag: pd.Series | None = None,
                 invalid: pd.Series | None = None, *,
                 spread: Callable[[], pd.Series] | None = None) -> None:
        if (flag is None) == (spread is None) or invalid is None:
            raise TypeError("ImputedDates needs invalid and one of flag or spread")
        self.dates = dates
        self.invalid = invalid
        self._flag = flag
        self._spread = spread

    @property
    def flag(self) -> pd.Series:
        """The imputation flags of the rows (made once, on first use)."""
        if self._flag is None:
            assert self._spread is not None
            self._flag, self._spread = self._spread(), None
        return self._flag


def _from_parts(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """datetime64[D] from float year/month/day arrays (NaN anywhere → NaT); no validity check."""
    ok = ~(np.isnan(year) | np.isnan(month) | np.isnan(day))
    months = np.where(ok, (np.nan_to_num(year) - 1970) * 12 + np.nan_to_num(month) - 1, 0)
    first = months.astype(INT).astype("datetime64[M]").astype("datetime64[D]")
    out = first + np.where(ok, np.nan_to_num(day) - 1, 0).astype(INT)
    return np.where(ok, out, np.datetime64("NaT"))


_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)


def _month_length(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Days in the month (float; NaN where year or month is missing or the month is not
    1..12): a table and the Gregorian leap-year rule (the calendar of datetime64), not two
    date conversions."""
    ok = ~np.isnan(year) & (month >= 1) & (month <= 12)
    y = np.where(ok, year, 1).astype(np.int64)
    m = np.where(ok, month, 1).astype(np.intp)
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    return np.where(ok, _DAYS_IN_MONTH[m - 1] + ((m == 2) & leap), np.nan)


def impute_dtc(dtc: pd.Series, highest: Highest = "none", how: How = "first") -> ImputedDates:
    """Turn --DTC text into dates, imputing missing components as allowed (vectorised).

    A complete date is never changed. Unparseable or impossible text (``2015-02-30``,
    ``UNK``) gives NaT and ``invalid=True`` so the caller can report it as a finding.
    """
    if highest not in ("none", "D", "M"):
        raise ValueError(f"highest imputation must be none, D or M, not {highest!r}")
    if how not in ("first", "mid", "last"):
        raise ValueError(f"date imputation must be first, mid or last, not {how!r}")
    # A trial has few distinct dates: parse each distinct text once, then spread by code.
    codes, uniques = factorize_text(dtc)
    return _spread_dates(*_impute_unique(uniques, highest, how), codes, dtc.index)


def _spread_dates(dates_u: np.ndarray, flag_u: np.ndarray, invalid_u: np.ndarray,
                  codes: np.ndarray, index: pd.Index) -> ImputedDates:
    """The rows' :class:`ImputedDates` from those of their distinct texts (``codes``)."""
    # one take per row from tables with a last entry for code -1 (null: NaT, valid)
    dates = np.append(dates_u.astype(DATES), np.datetime64("NaT", "ns"))[codes]
    invalid = np.append(invalid_u.astype(bool), False)[codes]
    return ImputedDates(dates=pd.Series(dates, index=index, copy=False),
                        spread=lambda: spread_text(flag_u, codes, index),
                        invalid=pd.Series(invalid, index=index, copy=False))


def spread_text(table: np.ndarray, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """A "string" Series of ``table[codes]`` (code -1 and None → <NA>): the small table is
    made "string" once and taken, instead of checking every row's object."""
    # the array type's own constructor (what pd.array ends in, without its inference: 20 -> 6 us)
    values = TEXT.construct_array_type()._from_sequence(list(table) if len(table) else [pd.NA],
                                                        dtype=TEXT)
    taken = values.take(np.where(codes >= 0, codes, -1) if len(table) else
                        np.full(len(codes), -1), allow_fill=True)
    return pd.Series(taken, index=index, copy=False)


def _impute_unique(text: np.ndarray, highest: str, how: str, plain: PlainIso | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """impute_dtc on distinct texts (an object array of str, as :func:`factorize_text` gives
    them): dates (datetime64[D]), flags (object), invalid (bool) (``plain``: the texts' plain
    parts when the caller has read them). A "string" Series is made only of the few texts
    that are not plain (none in most columns: its construction and the conversion back were
    ≈ 1 % of the ADaM derivations' CPU at 100 subjects)."""
    if plain is None:
        plain = plain_iso_parts(text)
    # plain shapes are read as arrays (checks.facts.plain_iso_parts); other complete dates without time parse
    # in C (to_datetime takes a few more: "2014-3-05 " has length 10 too); the rest goes
    # through the regex
    n = len(text)
    is_complete = np.zeros(n, dtype=bool)
    complete = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    tens = np.flatnonzero((plain.length == 10) & ~plain.plain)
    if len(tens):
        parsed = pd.to_datetime(_texts(text, tens), format="%Y-%m-%d", errors="coerce")
        is_complete[tens] = parsed.dt.year.between(1678, 2261).fillna(False).to_numpy(bool)
        complete[tens] = parsed.to_numpy(dtype="datetime64[D]")
    from_plain = plain.plain
    year = np.where(from_plain, plain.parts["year"], np.nan)
    month = np.where(from_plain, plain.parts["month"], np.nan)
    day = np.where(from_plain, plain.parts["day"], np.nan)
    blank = np.zeros(n, dtype=bool)
    other = np.flatnonzero(~is_complete & ~plain.plain)
    if len(other):
        stripped = _texts(text, other).str.strip()
        stripped = stripped.mask(stripped == "")
        empty = stripped.isna().to_numpy()
        blank[other[empty]] = True
        read = other[~empty]
        if len(read):
            parts = stripped[~empty].str.extract(_ISO)
            year[read] = pd.to_numeric(parts["y"], errors="coerce").to_numpy(dtype=float)
            month[read] = pd.to_numeric(parts["m"].where(parts["m"] != "-"),
                                        errors="coerce").to_numpy(dtype=float)
            day[read] = pd.to_numeric(parts["d"].where(parts["d"] != "-"),
                                      errors="coerce").to_numpy(dtype=float)
    rest = ~blank & ~is_complete
    matched = rest & ~np.isnan(year)
    # a day under an unknown month carries no usable information (right truncation)
    day = np.where(np.isnan(month), np.nan, day)
    mlen = _month_length(year, np.where((month >= 1) & (month <= 12), month, np.nan))
    bad_month = matched & ~np.isnan(month) & ~((month >= 1) & (month <= 12))
    bad_day = matched & ~np.isnan(day) & ~((day >= 1) & (day <= np.nan_to_num(mlen)))
    # ADaM dates are datetime64[ns], which holds 1677-09-22..2262-04-11 only: a year outside
    # 1678..2261 would wrap around silently (9999-12-31 became 1816-03-29), so it is invalid
    out_of_range = matched & ((year < 1678) | (year > 2261))
    invalid = (rest & ~matched) | bad_month | bad_day | out_of_range
    usable = matched & ~invalid

    # what the imputation may fill in
    has_day = usable & ~np.isnan(day)       # complete in the regex path (e.g. with a time)
    need_day = usable & ~np.isnan(month) & np.isnan(day)
    need_month = usable & np.isnan(month)
    fill_day = need_day & (highest in ("D", "M"))
    fill_month = need_month & (highest == "M")

    imp_month = np.where(fill_month, {"first": 1.0, "mid": 6.0, "last": 12.0}[how], month)
    imp_len = _month_length(year, imp_month)
    if how == "first":
        imp_day = np.ones(n)
    elif how == "mid":
        imp_day = np.where(fill_month, 30.0, 15.0)
    else:
        imp_day = imp_len
    final_day = np.where(has_day, day, np.where(fill_day | fill_month, imp_day, np.nan))
    final_month = np.where(fill_month, imp_month, month)
    built = _from_parts(np.where(usable, year, np.nan), final_month, final_day)

    out = np.where(is_complete, complete, built)
    flag = np.where(fill_month, "M", np.where(fill_day, "D", None)).astype(object)
    return out, flag, invalid


def _texts(text: np.ndarray, rows: np.ndarray) -> pd.Series:
    """The texts at positions ``rows`` as a "string" Series labelled by those positions (what
    ``.iloc[rows]`` of a "string" Series of all the texts gives)."""
    return pd.Series(text[rows], index=rows, dtype=TEXT)


def complete_dates(dtc: pd.Series) -> ImputedDates:
    """Only complete dates count (admiral's ``highest_imputation = "n"``)."""
    return impute_dtc(dtc, "none")


# the time part of an ISO 8601 --DTC: hour, then optional minute and second (fraction ignored)
_TIME = r"T(?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,]\d+)?)?)?$"


@dataclass(frozen=True)
class ImputedDatetimes:
    """Datetimes derived from one --DTC column (``*DTM``, ``*DTF``, ``*TMF``)."""

    datetimes: pd.Series  # datetime64[ns], NaT where the date is missing or not imputable
    date_flag: pd.Series  # "string": D / M where the date was imputed (ADaMIG 1.3 *DTF)
    time_flag: pd.Series  # "string": H / M / S, the highest imputed time component (*TMF)
    invalid: pd.Series    # bool: the date part is not ISO 8601 (as impute_dtc)


def impute_dtm(dtc: pd.Series, highest: Highest = "none", how: How = "first",
               time: Literal["first", "last"] = "first", *,
               flag_seconds: bool = False) -> ImputedDatetimes:
    """--DTC text → datetimes as admiral ``derive_vars_dtm``: the date as :func:`impute_dtc`,
    then missing time components imputed to the start of the day (``time = "first"``,
    00:00:00) or its end (``"last"``, 23:59:59), component by component (``T10`` → 10:00:00 or
    10:59:59). The time flag is the highest imputed component, H, M or S (ADaMIG 1.3 §3.1.3
    TIMEFL C81226); an imputed date has flag H. admiral leaves out S by default
    (``ignore_seconds_flag``: most EDCs never collect seconds), so does ``flag_seconds=False``.
    A time part that is no ISO 8601 time counts as missing (imputed, flag H)."""
    return _datetimes(dtc, highest, how, (time,), flag_seconds)[1][0]


def impute_dtm_times(dtc: pd.Series, highest: Highest, how: How,
                     times: tuple[Literal["first", "last"], ...], *, flag_seconds: bool = False
                     ) -> tuple[ImputedDates, list[ImputedDatetimes]]:
    """:func:`impute_dtc` and :func:`impute_dtm` for each of ``times`` of one column, the
    column factorised and its distinct dates parsed once (ADSL reads EXSTDTC as a date, as
    the first dose's datetime and as an open record's end)."""
    codes, made, (dates_u, flag_u, invalid_u) = _datetimes(dtc, highest, how, times,
                                                           flag_seconds)
    return _spread_dates(dates_u, flag_u, invalid_u, codes, dtc.index), made


def _datetimes(dtc: pd.Series, highest: Highest, how: How,
               times: tuple[Literal["first", "last"], ...], flag_seconds: bool
               ) -> tuple[np.ndarray, list[ImputedDatetimes],
                          tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The column's codes, its :class:`ImputedDatetimes` for each of ``times`` and the
    distinct texts' dates, flags and invalid marks (spread to the rows by
    :func:`impute_dtm_times` only: :func:`impute_dtm` has no use for them)."""
    # few distinct texts: work on each once, then spread by code (as impute_dtc)
    codes, uniques = factorize_text(dtc)
    text = pd.Series(uniques, dtype=TEXT)
    plain = plain_iso_parts(uniques) if len(uniques) else None
    dates_u, flag_u, invalid_u = _impute_unique(uniques, highest, how, plain)
    # the texts are distinct: impute_dtc's own factorisation would give them back in order
    dates = ImputedDates(dates=pd.Series(dates_u.astype(DATES), index=text.index),
                         flag=spread_text(flag_u, np.arange(len(text)), text.index),
                         invalid=pd.Series(invalid_u, index=text.index, dtype=bool))
    present = codes >= 0
    take = np.where(present, codes, 0)

    def spread(values: pd.Series, empty: object, dtype: np.dtype) -> pd.Series:
        arr = values.to_numpy()[take] if len(values) else np.full(len(codes), empty)
        return pd.Series(np.where(present, arr, empty), index=dtc.index).astype(dtype)

    made = []
    for time in times:
        one = _impute_dtm_texts(text, dates, plain, time, flag_seconds)
        made.append(ImputedDatetimes(
            datetimes=spread(one.datetimes, np.datetime64("NaT", "ns"), DATES),
            date_flag=spread_text(one.date_flag.to_numpy(dtype=object), codes, dtc.index),
            time_flag=spread_text(one.time_flag.to_numpy(dtype=object), codes, dtc.index),
            invalid=spread(one.invalid, False, np.dtype(bool))))
    return codes, made, (dates_u, flag_u, invalid_u)


def _impute_dtm_texts(text: pd.Series, dates: ImputedDates, plain: PlainIso | None,
                      time: Literal["first", "last"], flag_seconds: bool) -> ImputedDatetimes:
    """The time part of distinct texts (plain shapes from ``plain``, others by the regex)."""
    hour, minute, second = (np.full(len(text), np.nan) for _ in range(3))
    if plain is not None:
        hour = np.where(plain.plain, plain.parts["hour"], np.nan)
        minute = np.where(plain.plain, plain.parts["minute"], np.nan)
        second = np.where(plain.plain, plain.parts["second"], np.nan)
    other = np.flatnonzero(~plain.plain) if plain is not None else np.arange(len(text))
    if len(other):
        parts = text.iloc[other].str.strip().str.extract(_TIME)
        hour[other] = pd.to_numeric(parts["h"], errors="coerce").to_numpy(dtype=float)
        minute[other] = pd.to_numeric(parts["mi"], errors="coerce").to_numpy(dtype=float)
        second[other] = pd.to_numeric(parts["s"], errors="coerce").to_numpy(dtype=float)
    bad = (hour > 23) | (minute > 59) | (second > 59)
    hour = np.where(bad, np.nan, hour)
    # a component under a missing one carries nothing (right truncation)
    minute = np.where(np.isnan(hour), np.nan, minute)
    second = np.where(np.isnan(minute), np.nan, second)
    imputed_date = dates.flag.notna().to_numpy()
    hour = np.where(imputed_date, np.nan, hour)
    minute = np.where(imputed_date, np.nan, minute)
    second = np.where(imputed_date, np.nan, second)
    last = time == "last"
    seconds = (np.where(np.isnan(hour), 23 if last else 0, hour) * 3600
               + np.where(np.isnan(minute), 59 if last else 0, minute) * 60
               + np.where(np.isnan(second), 59 if last else 0, second))
    # whole seconds (integral floats) added as nanoseconds to the datetime64[ns] dates (NaT
    # stays NaT): to_timedelta and Series arithmetic on arrays of the distinct texts
    day = dates.dates.to_numpy(dtype=DATES)
    stamps = day + (seconds.astype(np.int64) * 1_000_000_000).astype("timedelta64[ns]")
    flag = np.select([np.isnan(hour), np.isnan(minute), np.isnan(second) & flag_seconds],
                     ["H", "M", "S"], default="")
    present = ~np.isnat(day)
    flag = np.where(present & (flag != ""), flag, None)
    return ImputedDatetimes(
        datetimes=pd.Series(stamps, index=text.index),
        date_flag=dates.flag,
        time_flag=pd.Series(flag, index=text.index, dtype=TEXT),
        invalid=dates.invalid)
