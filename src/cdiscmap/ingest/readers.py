"""Read one raw form (CSV, SAS7BDAT or XPT) into text columns with lineage."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cdiscmap.errors import InputDataError, display_path


@dataclass
class RawForm:
    """A raw form as read: text columns (blank → NA) and the lineage columns."""

    name: str
    file: str           # file name as reported in findings
    path: Path
    frame: pd.DataFrame

    @property
    def n_rows(self) -> int:
        return len(self.frame)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        with path.open("r", encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{display_path(path)}: not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start}); re-export the form as UTF-8") from None
    if not header:
        raise InputDataError(f"{display_path(path)}: empty file (no header row)")
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise InputDataError(f"{display_path(path)}: duplicate column names {dupes}")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[],
                            encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{display_path(path)}: not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start}); re-export the form as UTF-8") from None
    except pd.errors.ParserError as exc:
        raise InputDataError(f"{display_path(path)}: malformed CSV: {exc}") from None
    return frame


def _read_sas(path: Path) -> pd.DataFrame:
    import pyreadstat

    reader = pyreadstat.read_sas7bdat if path.suffix.lower() == ".sas7bdat" else \
        pyreadstat.read_xport
    try:
        frame, _ = reader(str(path))
    except Exception as exc:  # pyreadstat raises its own untyped errors
        raise InputDataError(f"{display_path(path)}: cannot read SAS file: {exc}") from None
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        s = frame[col]
        if s.dtype.kind in "fiu":
            # integers print without ".0" so recoding and keys behave like the CSV export
            values = s.astype("float64")
            whole = values.notna() & np.isfinite(values) & (values == np.floor(values))
            text = pd.Series("", index=s.index, dtype="string")
            text[whole] = values[whole].astype("int64").astype("string")
            other = values.notna() & ~whole
            text[other] = values[other].map(repr).astype("string")   # fractions: shortest repr
            out[col] = text
        else:
            out[col] = s.astype("string")
    return out


def read_form(name: str, path: Path) -> RawForm:
    """Read a raw form; all values as text, blanks as NA, plus ``_SRCFILE``/``_SRCROW``."""
    if not path.exists():
        raise InputDataError(f"raw form '{name}': file {display_path(path)} not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(path)
    elif suffix in (".sas7bdat", ".xpt"):
        frame = _read_sas(path)
    else:
        raise InputDataError(f"raw form '{name}': {display_path(path)}: unsupported file type "
                             f"'{suffix}' (csv, sas7bdat, xpt)")
    frame = frame.astype("string")
    for col in frame.columns:
        stripped = frame[col].str.strip()
        frame[col] = stripped.mask(stripped == "", pd.NA)
    frame["_SRCFILE"] = path.name
    frame["_SRCROW"] = np.arange(1, len(frame) + 1, dtype="int64")
    return RawForm(name=name, file=path.name, path=path, frame=frame)
