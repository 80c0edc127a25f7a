"""Collected dates → ISO 8601 (keeping partial precision), and study days.

SDTMIG 3.4 §4.4.2 (ISO 8601 date/time), §4.4.4 (partial dates: omit the unknown components,
right truncation) and §4.4.4/§4.4.6 (--DY: no day 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.sdtm.vectorize import map_unique

MONTHS = {m: f"{i:02d}" for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}

_UNKNOWN = {"UN", "UK", "UNK", "UNKN", "--", "XX", "XXX", "XXXX", "NK", "NA"}

# Both styles tolerate 1- or 2-digit days and the usual unknown tokens.
_DMY = r"^\s*(?P<d>\d{1,2}|[A-Za-z-]{2})[-/ ](?P<m>[A-Za-z]{3}|[A-Za-z-]{2}|\d{1,2})[-/ ](?P<y>\d{4}|[A-Za-z-]{2,4})\s*$"
_YMD = r"^\s*(?P<y>\d{4}|[A-Za-z-]{2,4})-(?P<m>\d{1,2}|[A-Za-z-]{2,3})-(?P<d>\d{1,2}|[A-Za-z-]{2})\s*$"
_TIME = r"^\s*(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?\s*$"


class DateParse:
    """Result of parsing a column of collected dates (all Series share the input index)."""

    def __init__(self, iso: pd.Series, unparseable: pd.Series, impossible: pd.Series) -> None:
        self.iso = iso                  # ISO 8601 text (possibly partial) or NA
        self.unparseable = unparseable  # bool: non-blank text in no known date style
        self.impossible = impossible    # bool: a calendar-impossible date (30 Feb) / time


def _is_unknown(part: pd.Series) -> pd.Series:
    return part.isna() | part.str.upper().isin(_UNKNOWN)


def parse_dates(values: pd.Series, fmt: str, times: pd.Series | None = None) -> DateParse:
    """Parse collected date text into ISO 8601 (see :func:`_parse_dates`), working on the
    distinct date/time pairs only."""
    if len(values) == 0:
        return _parse_dates(values, fmt, times)
    pairs = pd.DataFrame({"d": values.astype("string"),
                          "t": times.astype("string") if times is not None else ""})
    codes = pairs.groupby(["d", "t"], dropna=False, sort=False).ngroup().to_numpy()
    distinct = pairs.drop_duplicates().reset_index(drop=True)
    parsed = _parse_dates(distinct["d"], fmt, distinct["t"] if times is not None else None)

    def back(s: pd.Series) -> pd.Series:
        out = s.take(codes)
        out.index = values.index
        return out

    return DateParse(iso=back(parsed.iso), unparseable=back(parsed.unparseable),
                     impossible=back(parsed.impossible))


def _parse_dates(values: pd.Series, fmt: str, times: pd.Series | None = None) -> DateParse:
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
        with_time = d_known & ~impossible & t_ok.fillna(False).astype(bool)
        iso = iso.mask(with_time, iso + "T" + hhmm)

    return DateParse(iso=iso, unparseable=unparseable.fillna(False).astype(bool),
                     impossible=impossible.fillna(False).astype(bool))


def complete_date(dtc: pd.Series) -> pd.Series:
    """The calendar date of complete ISO 8601 dates (datetime64), NaT for partial ones."""
    if dtc.dtype.kind == "M":
        return dtc
    return map_unique(dtc.astype("string"), _complete_date)


def _complete_date(dtc: pd.Series) -> pd.Series:
    text = dtc.astype("string").str.slice(0, 10)
    ok = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False).astype(bool)
    return pd.to_datetime(text.where(ok), format="%Y-%m-%d", errors="coerce")


def study_day(dtc: pd.Series, reference_dtc: pd.Series) -> pd.Series:
    """--DY per SDTMIG 3.4 §4.4.4: day 1 is the reference date, the day before is −1 (no day 0).

    Missing when either date is partial or missing.
    """
    d = complete_date(dtc)
    r = complete_date(reference_dtc)
    delta = (d - r).dt.days.astype("float64")
    out = np.where(delta >= 0, delta + 1, delta)
    return pd.Series(out, index=dtc.index, dtype="float64")
