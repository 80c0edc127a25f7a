"""Excel workbooks (.xlsx/.xlsm) → one text frame per form (sheet), read with openpyxl.

Why a reader of its own: sites and small sponsors keep eCRF listings in workbooks, one sheet per
form. Cells are typed there, so reading "as text" needs care:

- the first row is the header; a duplicated or blank header over data is an InputDataError;
- a cell Excel stores as a date or date-time becomes ISO 8601 text (``2020-02-01``, or
  ``2020-02-01T13:45:00`` when it has a time of day); a time-only cell becomes ``13:45:00``;
- numbers print as in the CSV export (``12``, not ``12.0``); booleans as ``TRUE``/``FALSE``;
- blank cells become missing (``read_form`` trims and blanks every column);
- a row whose cells are all blank is not a record: trailing ones are not read at all, blank rows
  between records are returned as pre-dropped rows (reason "blank row in sheet") so the
  accounting shows them and ``_SRCROW`` stays the sheet's data-row number (sheet row − 1).

A number that only *looks* like a date (a serial such as 43831 in a cell without a date format)
stays a number here; the ``iso8601`` algorithm's ``EXCEL`` format turns it into a date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from cdiscmap.errors import InputDataError, display_path

BLANK_ROW_REASON = "blank row in sheet"


def _sheet_for(path: Path, sheet: str | None, form: str) -> str:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True)
    except Exception as exc:   # zipfile/openpyxl raise several untyped errors
        raise InputDataError(f"{display_path(path)}: not a readable Excel workbook: "
                             f"{exc}") from None
    try:
        names = list(wb.sheetnames)
    finally:
        wb.close()
    if sheet is not None:
        if sheet not in names:
            raise InputDataError(f"{display_path(path)}: no sheet '{sheet}' (sheets: "
                                 f"{', '.join(names)})")
        return sheet
    if len(names) == 1:
        return names[0]
    by_fold = {n.casefold(): n for n in names}
    if form.casefold() in by_fold:
        return by_fold[form.casefold()]
    raise InputDataError(f"{display_path(path)}: {len(names)} sheets and none named like the form "
                         f"'{form}' (sheets: {', '.join(names)}); give 'sheet' in study.yaml")


def read_excel(path: Path, sheet: str | None, form: str = "") -> tuple[pd.DataFrame,
                                                                        pd.DataFrame]:
    """One sheet as text columns plus ``_SRCROW``, and its pre-dropped blank rows."""
    name = _sheet_for(path, sheet, form)
    shown = f"{display_path(path)} [sheet {name}]"
    try:
        raw = pd.read_excel(path, sheet_name=name, header=None, dtype=object,
                            engine="openpyxl", na_filter=False)
    except Exception as exc:
        raise InputDataError(f"{shown}: cannot read: {exc}") from None
    if raw.empty:
        raise InputDataError(f"{shown}: empty sheet (no header row)")
    text = pd.DataFrame({i: _column_text(raw[c]) for i, c in enumerate(raw.columns)})
    header = text.iloc[0].fillna("").str.strip()
    body = text.iloc[1:].reset_index(drop=True)
    # plain bool arrays: pandas 2.x returns object dtype for the comparison of "string" frames
    filled = body.notna().to_numpy(dtype=bool) & (
        body.fillna("").apply(lambda c: c.str.strip()) != "").to_numpy(dtype=bool)
    used_cols = filled.any(axis=0)
    blank_header = (header == "").to_numpy(dtype=bool)
    if (blank_header & used_cols).any():
        col = int(np.flatnonzero(blank_header & used_cols)[0])
        raise InputDataError(f"{shown}: column {_letters(col)} has data but no header")
    keep = ~blank_header
    header = header[keep]
    dupes = sorted({c for c in header if (header == c).sum() > 1})
    if dupes:
        raise InputDataError(f"{shown}: duplicate column names {dupes}")
    body = body.loc[:, keep]
    body.columns = header.tolist()
    row_filled = filled[:, keep].any(axis=1) if keep.any() else np.zeros(len(body), bool)
    last = int(np.flatnonzero(row_filled)[-1]) + 1 if row_filled.any() else 0
    srcrow = np.arange(1, last + 1, dtype="int64")
    blank = ~row_filled[:last]
    frame = body.iloc[:last].loc[~blank].reset_index(drop=True).astype("string")
    frame["_SRCROW"] = srcrow[~blank]
    dropped = pd.DataFrame({"_SRCROW": srcrow[blank], "reason": BLANK_ROW_REASON})
    return frame, dropped


def _letters(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def _column_text(values: pd.Series) -> pd.Series:
    """Cells → text, converting each distinct value once (cells keep their Python types, so
    the distinct values are taken here rather than through the string-only map_unique)."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    texts = pd.array([_cell_text(v) for v in uniques] + [None], dtype="string")
    return pd.Series(texts.take(np.where(codes < 0, len(uniques), codes)), index=values.index)


def _cell_text(value: object) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def resolve_sheet(path: Path, sheet: str | None, form: str) -> str:
    """The sheet a form reads (the named one, the only one, or the one named like the form)."""
    return _sheet_for(path, sheet, form)


def sheet_row_counts(path: Path) -> dict[str, int]:
    """Data rows (non-blank rows below the header) per sheet, for the accounting of sheets that
    no study.yaml form reads."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputDataError(f"{display_path(path)}: not a readable Excel workbook: "
                             f"{exc}") from None
    try:
        out = {}
        for ws in wb.worksheets:
            rows = ws.iter_rows(values_only=True)
            next(rows, None)                                    # header
            out[ws.title] = sum(1 for row in rows
                                if any(v is not None and str(v).strip() for v in row))
        return out
    finally:
        wb.close()
