"""Collected dates → ISO 8601 (keeping partial precision), and study days.

SDTMIG 3.4 §4.4.2 (ISO 8601 date/time), §4.4.4 (partial dates: omit the unknown components,
right truncation) and §4.4.4/§4.4.6 (--DY: no day 0).

Collected styles (``format`` of the ``iso8601`` algorithm): ``DMY`` (05-MAR-2014), ``YMD``
(2014-03-05), ``ISO`` (ISO 8601 text as ODM and Excel give it: 2014, 2014-03, 2014-03-05,
2014-03-05T10:30[:00]), SAS ``DATE9`` (05MAR2014) and ``DATETIME`` (05MAR2014:10:30[:00]), and
numbers: ``SAS_DATE`` (days since 1960-01-01), ``SAS_DATETIME`` (seconds since
1960-01-01T00:00:00) and ``EXCEL`` (serial days, 1900 date system); separate year/month/day
columns go through :func:`parse_date_parts`. Every text style is first rewritten to the YMD or
DMY shape and checked by the one calendar-aware parser below, so unknown tokens, partial dates
and impossible dates behave the same whatever the style.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cdiscmap.sdtm.vectorize import coded, map_unique, memo_apply, text_from_codes

MONTHS = {m: f"{i:02d}" for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}

_UNKNOWN = {"UN", "UK", "UNK", "UNKN", "--", "XX", "XXX", "XXXX", "NK", "NA"}

# Both styles tolerate 1- or 2-digit days and the usual unknown tokens.
_DMY = r"^\s*(?P<d>\d{1,2}|[A-Za-z-]{2})[-/ ](?P<m>[A-Za-z]{3}|[A-Za-z-]{2}|\d{1,2})[-/ ](?P<y>\d{4}|[A-Za-z-]{2,4})\s*$"
_YMD = r"^\s*(?P<y>\d{4}|[A-Za-z-]{2,4})-(?P<m>\d{1,2}|[A-Za-z-]{2,3})-(?P<d>\d{1,2}|[A-Za-z-]{2})\s*$"
_TIME = r"^\s*(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?\s*$"
# SAS DATE9 (ddMONyyyy) and DATETIME (ddMONyyyy:hh:mm[:ss[.fff]]); a date-only value is allowed
_DATE9 = r"^\s*(?P<d>\d{1,2}|[A-Za-z]{2})(?P<m>[A-Za-z]{3})(?P<y>\d{4}|[A-Za-z]{4})\s*$"
_SASDT = (r"^\s*(?P<d>\d{1,2}|[A-Za-z]{2})(?P<m>[A-Za-z]{3})(?P<y>\d{4}|[A-Za-z]{4})"
          r"(?:[:T ](?P<t>\d{1,2}:\d{2}(?::\d{2})?)(?:\.\d*)?)?\s*$")
# ISO 8601 as exported (ODM date/datetime/partialDate, Excel): a time zone is accepted and
# dropped (SDTM --DTC keeps local time, SDTMIG 3.4 §4.4.2)
_ISO = (r"^\s*(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:[T ](?P<t>\d{2}:\d{2}(?::\d{2})?)"
        r"(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?\s*$")

TEXT_FORMATS = ("DMY", "YMD", "ISO", "DATE9", "DATETIME")
NUMERIC_FORMATS = ("SAS_DATE", "SAS_DATETIME", "EXCEL")
FORMATS = TEXT_FORMATS + NUMERIC_FORMATS
# formats whose value carries its own time: a separate time column is refused for them
TIMED_FORMATS = ("DATETIME", "SAS_DATETIME", "EXCEL")
SAS_EPOCH = np.datetime64("1960-01-01", "D")
# Excel's 1900 date system counts 1900-02-29, which never existed, as serial 60 (kept for
# Lotus 1-2-3 compatibility): serials 1-59 count from 1899-12-31, serials from 61 from
# 1899-12-30, and 60 is not a date.
EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
_ISO_LIMITS = (np.datetime64("0001-01-01", "s"), np.datetime64("9999-12-31T23:59:59", "s"))


class DateParse:
    """Result of parsing a column of collected dates (all Series share the input index)."""

    def __init__(self, iso: pd.Series, unparseable: pd.Series, impossible: pd.Series) -> None:
        self.iso = iso                  # ISO 8601 text (possibly partial) or NA
        self.unparseable = unparseable  # bool: non-blank text in no known date style
        self.impossible = impossible    # bool: a calendar-impossible date (30 Feb) / time

    @property
    def failed(self) -> pd.Series:
        """Rows whose collected value is not a date of the declared style."""
        return self.unparseable | self.impossible

    def nothing_parsed(self) -> bool:
        """True when some value failed and none gave a date: the declared style (or column)
        is wrong, which is a spec/input error, not one finding per row."""
        return bool(self.failed.any()) and not bool(self.iso.notna().any())


def _is_unknown(part: pd.Series) -> pd.Series:
    return part.isna() | part.str.upper().isin(_UNKNOWN)


def parse_dates(values: pd.Series, fmt: str, times: pd.Series | None = None) -> DateParse:
    """Parse collected date text into ISO 8601 (see :func:`_parse_dates`), working on the
    distinct date/time pairs only."""
    if len(values) == 0:
        return _parse_dates(values, fmt, times)
    # distinct pairs from the two columns' factorisations (code -1: null, a value of its own)
    d_codes, d_values = coded(_string(values))
    if times is None:
        # each spelling parsed once per run (the memo), not once per column: a null date is
        # no date, neither unparseable nor impossible
        found = memo_apply(f"dates:{fmt}", d_values, lambda fresh: _parsed_arrays(fresh, fmt))
        if found is not None:
            iso_d, unparseable_d, impossible_d = found
            return DateParse(
                iso=text_from_codes(d_codes, iso_d, values.index),
                unparseable=pd.Series(np.append(unparseable_d, False)[d_codes],
                                      index=values.index),
                impossible=pd.Series(np.append(impossible_d, False)[d_codes],
                                     index=values.index))
    elif fmt in ("DMY", "YMD"):
        # a time is kept only on a complete date, so dates and times are parsed apart (each
        # spelling once per run) and joined on the distinct pairs
        t_codes, t_values = coded(_string(times))
        dates_found = memo_apply(f"dates:{fmt}", d_values,
                                 lambda fresh: _parsed_arrays(fresh, fmt))
        times_found = memo_apply("times", t_values, _time_arrays)
        if dates_found is not None and times_found is not None:
            return _with_times(values.index, d_codes, dates_found, t_codes, times_found)
    key = d_codes.astype("int64") + 1
    if times is not None:
        t_codes, t_values = coded(_string(times))
        key = key * (len(t_values) + 1) + t_codes + 1
    codes, pair_keys = pd.factorize(key)

    def distinct(part: np.ndarray, found: np.ndarray) -> pd.Series:
        return pd.Series(pd.arrays.StringArray(np.append(found, pd.NA).astype(object)[part - 1]))

    if times is None:
        parsed = _parse_any(distinct(pair_keys, d_values), fmt, None)
    else:
        width = len(t_values) + 1
        parsed = _parse_any(distinct(pair_keys // width, d_values), fmt,
                            distinct(pair_keys % width, t_values))

    def back(s: pd.Series) -> pd.Series:
        out = s.take(codes)
        out.index = values.index
        return out

    # the ISO text by the pairs' codes: its factorisation known (epoch, --DY, checks use it)
    iso = text_from_codes(codes, parsed.iso.to_numpy(dtype=object, na_value=pd.NA),
                          values.index)
    return DateParse(iso=iso, unparseable=back(parsed.unparseable),
                     impossible=back(parsed.impossible))


def _parsed_arrays(distinct: np.ndarray, fmt: str) -> list[np.ndarray]:
    """:func:`_parse_any` of distinct date texts (no nulls) as arrays: ISO text (object,
    ``pd.NA`` where none), unparseable and impossible (bool)."""
    if fmt in ("DMY", "YMD"):
        shaped = _parsed_shape(distinct, fmt)
        if shaped is not None:
            return shaped
    parsed = _parse_any(pd.Series(pd.arrays.StringArray(np.asarray(distinct, dtype=object))),
                        fmt, None)
    return [parsed.iso.to_numpy(dtype=object, na_value=pd.NA),
            parsed.unparseable.to_numpy(dtype=bool), parsed.impossible.to_numpy(dtype=bool)]


_SHAPES = {"DMY": re.compile(_DMY), "YMD": re.compile(_YMD)}
_FOUR_DIGITS = re.compile(r"\d{4}")
_DAY_DIGITS = re.compile(r"\d{1,2}")
_MONTH_NUMBERS = frozenset(f"{i:02d}" for i in range(1, 13))


def _parsed_shape(distinct: np.ndarray, fmt: str) -> list[np.ndarray] | None:
    """:func:`_parse_dates` of distinct ASCII date texts (no nulls) in the DMY or YMD shape,
    as :func:`_parsed_arrays` gives it; None when a value is not ASCII (the caller parses
    them with :func:`_parse_dates`).

    Why: the distinct values are few (a study's calendar) but each of the ~20 pandas string
    steps of :func:`_parse_dates` costs a fixed ~0.3 ms per call, so the steps are applied
    here value by value with the same regular expressions and rules (right truncation of
    unknown parts, unknown and impossible months); the calendar check of complete dates is
    still the one ``pd.to_datetime`` call that :func:`_parse_dates` makes."""
    search = _SHAPES[fmt].search
    n = len(distinct)
    iso = np.full(n, pd.NA, dtype=object)
    unparseable = np.zeros(n, dtype=bool)
    impossible = np.zeros(n, dtype=bool)
    complete: list[int] = []
    for i, value in enumerate(distinct):
        if not value.isascii():
            return None
        found = search(value)
        if found is None:
            unparseable[i] = value.strip() != ""        # a blank value is no date
            continue
        y, m, d = found.group("y", "m", "d")
        m = m.upper()
        if _FOUR_DIGITS.fullmatch(y) is None:           # unknown year: no date
            continue
        month = MONTHS.get(m)
        if month is None and _DAY_DIGITS.fullmatch(m) is not None:
            month = m.zfill(2)
        if month is None:
            # a month that is neither a month nor an unknown token is unparseable; an
            # unknown month keeps the year
            if m in _UNKNOWN:
                iso[i] = y
            else:
                unparseable[i] = True
            continue
        if month not in _MONTH_NUMBERS:                 # month 00, 13...
            impossible[i] = True
        elif _DAY_DIGITS.fullmatch(d) is None:          # unknown day: year and month
            iso[i] = f"{y}-{month}"
        else:
            iso[i] = f"{y}-{month}-{d.zfill(2)}"
            complete.append(i)
    if complete:
        at = np.array(complete, dtype=np.intp)
        checked = pd.to_datetime(pd.Series(iso[at], dtype="string"), format="%Y-%m-%d",
                                 errors="coerce")
        bad = at[checked.isna().to_numpy()]
        impossible[bad] = True
        iso[bad] = pd.NA
    return [iso, unparseable, impossible]


def _time_arrays(distinct: np.ndarray) -> list[np.ndarray]:
    """Distinct collected times (no nulls) as :func:`_parse_dates` reads them: valid (hours
    0-23, minutes 0-59), given but invalid, and ``HH:MM`` (object, ``pd.NA`` where none)."""
    text = pd.Series(pd.arrays.StringArray(np.asarray(distinct, dtype=object)))
    t = text.str.extract(_TIME)
    h = pd.to_numeric(t["h"], errors="coerce")
    mi = pd.to_numeric(t["mi"], errors="coerce")
    t_given = text.fillna("").str.strip() != ""
    t_ok = (h.between(0, 23) & mi.between(0, 59)).fillna(False).astype(bool)
    hhmm = t["h"].str.zfill(2) + ":" + t["mi"]
    return [t_ok.to_numpy(dtype=bool), (t_given & ~t_ok).to_numpy(dtype=bool),
            hhmm.to_numpy(dtype=object, na_value=pd.NA)]


def _with_times(index: pd.Index, d_codes: np.ndarray, dates: list[np.ndarray],
                t_codes: np.ndarray, times: list[np.ndarray]) -> DateParse:
    """Parsed dates and times (code -1: null) joined as :func:`_parse_dates` joins them: the
    time appended to a complete date when valid; an invalid time given with a complete date
    makes the record impossible (its date kept)."""
    iso_d, unparseable_d, impossible_d = dates
    t_ok, t_bad, hhmm = times
    width = len(t_ok) + 1
    codes, pair_keys = pd.factorize((d_codes.astype("int64") + 1) * width + t_codes + 1)
    dc, tc = pair_keys // width - 1, pair_keys % width - 1      # -1 takes the appended null
    # a complete date (known day, possible) is the only ISO text of ten characters
    full = np.append(np.array([isinstance(v, str) and len(v) == 10 for v in iso_d],
                              dtype=bool), False)[dc]
    impossible = np.append(impossible_d, False)[dc] | (np.append(t_bad, False)[tc] & full)
    timed = full & np.append(t_ok, False)[tc]
    iso = np.append(iso_d, pd.NA).astype(object)[dc]
    hours = np.append(hhmm, pd.NA).astype(object)[tc]
    iso[timed] = [d + "T" + t for d, t in zip(iso[timed], hours[timed], strict=True)]
    return DateParse(iso=text_from_codes(codes, iso, index),
                     unparseable=pd.Series(np.append(unparseable_d, False)[dc][codes],
                                           index=index),
                     impossible=pd.Series(impossible[codes], index=index))


def _string(values: pd.Series) -> pd.Series:
    """The values as ``string`` (a ``string`` column itself: its factorisation is shared)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python":
        return values
    return values.astype("string")


def _parse_any(values: pd.Series, fmt: str, times: pd.Series | None) -> DateParse:
    """Dispatch on the collected style (values are distinct here)."""
    if fmt in ("DMY", "YMD"):
        return _parse_dates(values, fmt, times)
    if fmt in NUMERIC_FORMATS:
        return _parse_numeric(values, fmt)
    text = values.astype("string")
    if fmt == "ISO":
        p = text.str.extract(_ISO)
        ymd = p["y"] + "-" + p["m"].fillna("UN") + "-" + p["d"].fillna("UN")
        shape = "YMD"
    elif fmt in ("DATE9", "DATETIME"):
        p = text.str.extract(_DATE9 if fmt == "DATE9" else _SASDT)
        ymd = p["d"] + "-" + p["m"] + "-" + p["y"]
        shape = "DMY"
    else:
        raise ValueError(f"unknown date format {fmt!r}")
    if "t" in p:        # a time inside the value wins over a separate time column
        t = p["t"] if times is None else p["t"].fillna(times.astype("string"))
        times = t.where(p["y"].notna(), pd.NA)
    # a non-blank value in no shape of this style is unparseable (never re-read as another)
    blank = text.isna() | (text.str.strip() == "")
    ymd = ymd.fillna(text.where(blank, "?"))
    return _parse_dates(ymd, shape, times, keep_seconds=fmt != "DATE9")


def _parse_numeric(values: pd.Series, fmt: str) -> DateParse:
    """SAS dates/datetimes and Excel serials (as the raw readers print them) → ISO 8601.

    Fractional SAS days and seconds are truncated; an Excel fraction is the time of day,
    rounded to the second. Numeric date-times keep seconds (they are in the data).
    """
    text = values.astype("string").str.strip()
    blank = text.isna() | (text == "")
    num = pd.to_numeric(text.where(~blank), errors="coerce").astype("float64").to_numpy()
    unparseable = (~blank).to_numpy() & ~np.isfinite(num)
    ok = np.isfinite(num)
    impossible = np.zeros(len(num), dtype=bool)
    with_time = np.full(len(num), fmt == "SAS_DATETIME")
    safe = np.where(ok & (np.abs(num) < 4e11), num, 0.0)        # |seconds| of ±12 000 years
    impossible |= ok & (np.abs(num) >= 4e11)
    if fmt == "SAS_DATE":
        seconds = np.floor(safe).astype("int64") * 86400 + \
            (SAS_EPOCH - np.datetime64("1970-01-01", "D")).astype("int64") * 86400
    elif fmt == "SAS_DATETIME":
        seconds = np.floor(safe).astype("int64") + \
            (SAS_EPOCH - np.datetime64("1970-01-01", "D")).astype("int64") * 86400
    else:   # EXCEL
        day = np.floor(safe).astype("int64")
        impossible |= ok & ((day < 1) | (day == 60))
        day = np.where(day < 60, day + 1, day)          # 1..59 count from 1899-12-31
        frac_s = np.rint((safe - np.floor(safe)) * 86400).astype("int64")
        with_time = frac_s > 0
        seconds = (day + (EXCEL_EPOCH - np.datetime64("1970-01-01", "D")).astype("int64")) * \
            86400 + frac_s
    stamps = seconds.astype("datetime64[s]")
    impossible |= ok & ((stamps < _ISO_LIMITS[0]) | (stamps > _ISO_LIMITS[1]))
    good = ok & ~impossible
    date_txt = np.datetime_as_string(stamps, unit="D")
    full_txt = np.datetime_as_string(stamps, unit="s")
    out = np.where(with_time, full_txt, date_txt)
    iso = pd.Series(out, index=values.index, dtype="string").where(good, pd.NA)
    return DateParse(iso=iso, unparseable=pd.Series(unparseable, index=values.index),
                     impossible=pd.Series(impossible, index=values.index))


def parse_date_parts(year: pd.Series, month: pd.Series | None, day: pd.Series | None,
                     times: pd.Series | None = None) -> DateParse:
    """A date collected as separate year / month / day fields → ISO 8601 (partial precision).

    A blank or unknown part (UN, UNK, UNKN, NK...) is unknown: 2020 + UNK + blank gives
    ``2020``, 2020 + 02 + UN gives ``2020-02``; months may be numbers or JAN..DEC. The parts are
    joined into the YMD shape and parsed there, so the same unknown/impossible rules apply.
    """
    def part(s: pd.Series | None, unknown: str) -> pd.Series:
        if s is None:
            return pd.Series(unknown, index=year.index, dtype="string")
        t = s.astype("string").str.strip()
        return t.mask(t.isna() | (t == "") | t.str.upper().isin(_UNKNOWN), unknown)

    text = part(year, "UNKN") + "-" + part(month, "UN") + "-" + part(day, "UN")
    return parse_dates(text, "YMD", times)


def _parse_dates(values: pd.Series, fmt: str, times: pd.Series | None = None,
                 keep_seconds: bool = False) -> DateParse:
    """Parse collected date text into ISO 8601, vectorised.

    Unknown day → ``YYYY-MM``; unknown month → ``YYYY`` (a known day under an unknown month is
    dropped: right truncation, SDTMIG 3.4 §4.4.4); unknown year → missing. A time is appended
    only to complete dates.
    """
    text = values.astype("string")
    blank = text.isna() | (text.str.strip() == "")
    parts = text.str.extract(_DMY if fmt == "DMY" else _YMD)
    matched = parts["y"].notna()
    unparseable = (~blank) & (~matched)

    y, m, d = parts["y"], parts["m"].str.upper(), parts["d"]
    y_known = ~_is_unknown(y) & y.str.fullmatch(r"\d{4}").fillna(False).astype(bool)
    month_num = m.map(MONTHS, na_action="ignore").astype("string")
    numeric_month = m.where(m.str.fullmatch(r"\d{1,2}").fillna(False).astype(bool))
    month_num = month_num.fillna(numeric_month.str.zfill(2))
    m_known = y_known & month_num.notna() & ~_is_unknown(m)
    d_known = m_known & d.str.fullmatch(r"\d{1,2}").fillna(False).astype(bool)
    # month tokens that are neither a month nor an unknown marker are unparseable
    bad_month = matched & y_known & month_num.isna() & ~_is_unknown(m)
    unparseable = unparseable | bad_month

    iso = pd.Series(pd.NA, index=values.index, dtype="string")
    iso = iso.mask(y_known & ~bad_month, y)
    ym = y + "-" + month_num
    iso = iso.mask(m_known, ym)
    full = ym + "-" + d.str.zfill(2)
    iso = iso.mask(d_known, full)

    impossible = pd.Series(False, index=values.index)
    # calendar validity of complete dates and of months
    bad_m = m_known & ~month_num.astype("string").isin([f"{i:02d}" for i in range(1, 13)])
    checked = pd.to_datetime(full.where(d_known), format="%Y-%m-%d", errors="coerce")
    bad_d = d_known & checked.isna()
    impossible = (bad_m | bad_d).fillna(False).astype(bool)
    iso = iso.mask(impossible, pd.NA)

    if times is not None:
        t = times.astype("string").str.extract(_TIME)
        h = pd.to_numeric(t["h"], errors="coerce")
        mi = pd.to_numeric(t["mi"], errors="coerce")
        t_given = times.astype("string").fillna("").str.strip() != ""
        t_ok = h.between(0, 23) & mi.between(0, 59)
        bad_t = t_given & ~t_ok
        impossible = impossible | (bad_t & d_known)
        hhmm = t["h"].str.zfill(2) + ":" + t["mi"]
        if keep_seconds:    # seconds as collected (the new styles keep full precision)
            sec = pd.to_numeric(t["s"], errors="coerce")
            t_ok = t_ok & (sec.isna() | sec.between(0, 59))
            bad_t = t_given & ~t_ok
            impossible = impossible | (bad_t & d_known)
            hhmm = hhmm + (":" + t["s"]).fillna("")
        with_time = d_known & ~impossible & t_ok.fillna(False).astype(bool)
        iso = iso.mask(with_time, iso + "T" + hhmm)

    return DateParse(iso=iso, unparseable=unparseable.fillna(False).astype(bool),
                     impossible=impossible.fillna(False).astype(bool))


def complete_date(dtc: pd.Series) -> pd.Series:
    """The calendar date of complete ISO 8601 dates (datetime64), NaT for partial ones."""
    if dtc.dtype.kind == "M":
        return dtc
    if not (isinstance(dtc.dtype, pd.StringDtype) and dtc.dtype.storage == "python"):
        dtc = dtc.astype("string")      # a string column as it is: its distinct values are kept
    return map_unique(dtc, _complete_date, memo="complete_date")


def complete_days(dtc: pd.Series) -> np.ndarray:
    """``complete_date(dtc).to_numpy(dtype="datetime64[ns]")`` without the Series: the
    distinct texts' dates (the run's memo) taken by the rows' codes. A datetime64 Series costs
    ≈ 0.1 ms to make whatever its length, and --DY and EPOCH (≈ 70 calls a study) read the
    dates as an array."""
    if dtc.dtype.kind != "M":
        text = dtc if isinstance(dtc.dtype, pd.StringDtype) and \
            dtc.dtype.storage == "python" else dtc.astype("string")
        codes, uniques = coded(text)
        if not len(uniques):
            return np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
        found = memo_apply("complete_date", np.asarray(uniques, dtype=object),
                           lambda fresh: [_complete_date(pd.Series(fresh, dtype="string"))
                                          .to_numpy()])
        if found is not None and found[0].dtype == np.dtype("datetime64[ns]"):
            return pd.api.extensions.take(found[0], codes, allow_fill=True)
    return complete_date(dtc).to_numpy(dtype="datetime64[ns]")


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _complete_date(dtc: pd.Series) -> pd.Series:
    """The first 10 characters of each text when they are a YYYY-MM-DD date, parsed
    (``to_datetime`` with that format; NaT otherwise). Tested value by value in Python, as
    pandas' string methods would on these Python strings, without their chain of Series
    steps (≈ 0.5 ms a call whatever the size: the values are a column's new distinct ones)."""
    text = dtc.astype("string").to_numpy(dtype=object, na_value=None)
    day = np.empty(len(text), dtype=object)
    for i, value in enumerate(text):
        head = value[:10] if value is not None else None
        day[i] = head if head is not None and _ISO_DAY.fullmatch(head) is not None else None
    return pd.Series(pd.to_datetime(day, format="%Y-%m-%d", errors="coerce"),
                     index=dtc.index, name=dtc.name)


def study_day(dtc: pd.Series, reference_dtc: pd.Series) -> pd.Series:
    """--DY per SDTMIG 3.4 §4.4.4: day 1 is the reference date, the day before is −1 (no day 0).

    Missing when either date is partial or missing.
    """
    if not dtc.index.equals(reference_dtc.index):    # aligned by label, as pandas does
        d = complete_date(dtc)
        r = complete_date(reference_dtc)
        delta = (d - r).dt.days.astype("float64")
    else:
        # the days between two dates of the same records as numpy arrays (floor of the
        # difference, as Timedelta.days; NaT: NaN): the Series arithmetic, ``.dt`` and
        # ``astype`` steps cost ≈ 0.3 ms a call whatever the size (26 calls a study)
        diff = complete_days(dtc) - complete_days(reference_dtc)
        missing = np.isnat(diff)
        delta = np.floor_divide(diff.view("int64"), 86_400_000_000_000).astype("float64")
        delta[missing] = np.nan
    out = np.where(delta >= 0, delta + 1, delta)
    return pd.Series(out, index=dtc.index, dtype="float64")
