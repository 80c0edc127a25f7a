"""Read one side of a comparison: any dataset file, or a folder/package of them.

``cdiscmap compare`` takes what a second programmer produced, in whatever format it came:
XPT (v5 by cdiscmap's own numpy reader, others through pyreadstat), Dataset-JSON v1.1, SAS7BDAT
(pyreadstat), CSV and parquet. Each becomes a :class:`Table`: the variables with the metadata
the file carries (what it does not carry is None and is not compared) and one numpy array per
variable, in the forms the comparison works on:

- char → object array of ``str`` with trailing blanks removed (SAS pads them, so they never
  count) and ``None`` for blank (SAS has no empty string distinct from missing);
- num → float64 with NaN for missing, plus :attr:`Table.special`: per record the SAS missing
  value (0 = a value, else the byte of ``.``, ``._``, ``.A``-``.Z``), so ``.A`` and ``.B``
  differ (PROC COMPARE tells them apart);
- numbers with a SAS date/datetime format, Dataset-JSON dates and parquet timestamps →
  datetime64[ns] (NaT = missing), so dates compare as dates whatever their storage.

A CSV carries no types: its columns stay text and are converted when the other side says the
variable is a number or a date (:mod:`cdiscmap.compare.diff`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cdiscmap.errors import InputDataError, display_path

__all__ = ["DATASET_SUFFIXES", "Side", "Table", "VarInfo", "read_side", "read_table"]

# preferred first when one folder holds a dataset in several formats (run --format both)
DATASET_SUFFIXES = (".xpt", ".json", ".sas7bdat", ".parquet", ".csv")
_PACKAGE_FOLDERS = ("sdtm", "adam")
_MISSING_DOT = ord(".")


@dataclass(frozen=True)
class VarInfo:
    """One variable as its file describes it; None where the format has no such metadata."""

    name: str
    type: str | None              # "char" | "num" (stored type); None: unknown (CSV)
    kind: str                     # "char" | "num" | "date": how values are compared
    label: str | None = None
    length: int | None = None
    format: str | None = None    # "" = no format; None = the file cannot say


@dataclass
class Table:
    """A dataset ready to compare: metadata, and one array per variable (module docstring)."""

    name: str
    source: str                   # the file as shown in reports
    format: str                   # xpt | json | sas7bdat | csv | parquet
    label: str | None
    variables: dict[str, VarInfo]
    columns: dict[str, np.ndarray]
    special: dict[str, np.ndarray] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)   # keys the file itself declares (JSON)

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def missing_codes(self, name: str) -> np.ndarray:
        """Per record: 0 for a value, else the SAS missing byte ('.' when no more is known)."""
        values = self.columns[name]
        known = self.special.get(name)
        if known is not None:
            return known
        return np.where(np.isnan(values), _MISSING_DOT, 0).astype(np.uint8)


@dataclass
class Side:
    """One side of a comparison: datasets by match key (``sdtm/AE`` or ``AE``) and define.xml
    files by folder (``sdtm`` or ``""``)."""

    root: Path
    datasets: dict[str, Path]
    defines: dict[str, Path]
    notes: list[str] = field(default_factory=list)


# ============================================================================================
# Conversions
# ============================================================================================
def text_array(values: Any) -> np.ndarray:
    """Object array of str without trailing blanks, None for missing or blank (distinct
    values are cleaned once)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object).to_numpy(dtype=object),
                                  use_na_sentinel=True)
    cleaned = [str(u).rstrip() or None for u in uniques]
    table = np.array([*cleaned, None], dtype=object)
    return table[codes]                     # code -1 picks the trailing None


def _column(values: pd.Series, var_type: str | None) -> tuple[np.ndarray, str]:
    """The array and comparison kind of a frame column."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if getattr(values.dtype, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        return values.to_numpy().astype("datetime64[ns]"), "date"
    if var_type == "num" or (var_type is None and pd.api.types.is_numeric_dtype(values.dtype)
                             and not pd.api.types.is_bool_dtype(values.dtype)):
        numbers = pd.to_numeric(values, errors="coerce")
        return np.asarray(numbers, dtype=np.float64), "num"
    return text_array(values), "char"


def _from_frame(frame: pd.DataFrame, metas: list[Any], *, name: str, source: str, fmt: str,
                label: str | None, types_known: bool, labels_known: bool,
                lengths_known: bool, formats_known: bool) -> Table:
    variables: dict[str, VarInfo] = {}
    columns: dict[str, np.ndarray] = {}
    for meta in metas:
        var_name = str(meta.name).strip().upper()
        var_type = meta.type if types_known else None
        array, kind = _column(frame[meta.name], var_type)
        columns[var_name] = array
        variables[var_name] = VarInfo(
            name=var_name, type=var_type if types_known else None, kind=kind,
            label=(meta.label or "").strip() if labels_known else None,
            length=meta.length if lengths_known else None,
            format=(meta.format or "") if formats_known else None)
    return Table(name=name, source=source, format=fmt, label=label, variables=variables,
                 columns=columns)


@dataclass(frozen=True)
class _Meta:
    name: str
    type: str | None
    label: str | None = None
    length: int | None = None
    format: str | None = None


# ============================================================================================
# One file
# ============================================================================================
def _read_xpt(path: Path, shown: str) -> Table:
    from cdiscmap.checks.read import read_xpt_dataset, read_xpt_special_missing

    read = read_xpt_dataset(path, path.parent, path.parent)
    frame = read.frame
    table = _from_frame(frame, read.variables, name=path.stem.upper(), source=shown, fmt="xpt",
                        label=read.label, types_known=True, labels_known=True,
                        lengths_known=True, formats_known=True)
    numeric = [v.name for v in read.variables if v.type == "num"]
    if any(frame[n].isna().any() for n in numeric):       # only then look for .A-.Z
        for var_name, codes in read_xpt_special_missing(path).items():
            table.special[var_name.upper()] = codes
    return table


def _read_json(path: Path, shown: str) -> Table:
    from cdiscmap.checks.files import VariableMeta
    from cdiscmap.checks.read import normalise
    from cdiscmap.emit.datasetjson import read_dataset_json

    loaded = read_dataset_json(path)
    metas = [VariableMeta(c.name, c.label, c.type, c.length, c.format) for c in loaded.columns]
    frame = pd.DataFrame(normalise(loaded.frame, metas), index=loaded.frame.index)
    table = _from_frame(frame, metas, name=path.stem.upper(), source=shown, fmt="json",
                        label=loaded.label, types_known=True, labels_known=True,
                        lengths_known=True, formats_known=True)
    table.keys = [k.upper() for k in loaded.keys]
    return table


def _read_sas7bdat(path: Path, shown: str) -> Table:
    import pyreadstat

    try:
        raw, meta = pyreadstat.read_sas7bdat(str(path), user_missing=True,
                                             disable_datetime_conversion=True)
    except Exception as exc:  # pyreadstat raises its own types for unreadable files
        raise InputDataError(f"{shown}: cannot be read as SAS7BDAT ({exc})") from None
    from cdiscmap.checks.read import _date_unit, sas_dates

    formats = meta.original_variable_types or {}
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    variables: dict[str, VarInfo] = {}
    columns: dict[str, np.ndarray] = {}
    special: dict[str, np.ndarray] = {}
    for name in meta.column_names:
        var_type = "char" if meta.readstat_variable_types.get(name) == "string" else "num"
        fmt = formats.get(name)
        fmt = None if not fmt or fmt in ("$", "NULL") else (fmt if "." in fmt else fmt + ".")
        upper = name.upper()
        values = raw[name]
        if var_type == "char":
            columns[upper], kind = text_array(values), "char"
        else:
            # user_missing=True: .A-.Z and ._ arrive as the letters, in an object column
            objects = values.to_numpy(dtype=object)
            is_letter = np.array([isinstance(v, str) for v in objects], dtype=bool) \
                if values.dtype == object else np.zeros(len(values), dtype=bool)
            numbers = pd.to_numeric(pd.Series(np.where(is_letter, np.nan, objects)),
                                    errors="coerce").to_numpy(dtype=np.float64)
            codes = np.where(np.isnan(numbers), _MISSING_DOT, 0).astype(np.uint8)
            if is_letter.any():
                letters = pd.Series(objects[is_letter]).astype(str).str[:1]
                codes[is_letter] = letters.map(ord).to_numpy(dtype=np.uint8)
                special[upper] = codes
            unit = _date_unit(fmt)
            columns[upper] = sas_dates(numbers, unit) if unit else numbers
            kind = "date" if unit else "num"
        length = (meta.variable_storage_width or {}).get(name)
        variables[upper] = VarInfo(name=upper, type=var_type, kind=kind,
                                   label=(labels.get(name) or "").strip(),
                                   length=int(length) if length else None, format=fmt or "")
    return Table(name=path.stem.upper(), source=shown, format="sas7bdat",
                 label=(meta.file_label or "").strip(), variables=variables, columns=columns,
                 special=special)


def _read_csv(path: Path, shown: str) -> Table:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[],
                            encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})"
                             ) from None
    metas = [_Meta(str(c), None) for c in frame.columns]
    return _from_frame(frame, metas, name=path.stem.upper(), source=shown, fmt="csv",
                       label=None, types_known=False, labels_known=False,
                       lengths_known=False, formats_known=False)


def _read_parquet(path: Path, shown: str) -> Table:
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise InputDataError(f"{shown}: reading .parquet needs the pyarrow package "
                             "(pip install pyarrow)") from None
    metas = []
    for column in frame.columns:
        dtype = frame[column].dtype
        numeric = (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)) \
            or pd.api.types.is_datetime64_any_dtype(dtype)
        metas.append(_Meta(str(column), "num" if numeric else "char"))
    return _from_frame(frame, metas, name=path.stem.upper(), source=shown, fmt="parquet",
                       label=None, types_known=True, labels_known=False,
                       lengths_known=False, formats_known=False)


_READERS = {".xpt": _read_xpt, ".json": _read_json, ".sas7bdat": _read_sas7bdat,
            ".csv": _read_csv, ".parquet": _read_parquet}


def read_table(path: Path, shown: str | None = None) -> Table:
    """One dataset file as a :class:`Table`; InputDataError when it cannot be read."""
    path = Path(path)
    shown = shown or path.name
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise InputDataError(f"{display_path(path)}: not a dataset file (expected one of "
                             f"{', '.join(DATASET_SUFFIXES)})")
    try:
        return reader(path, shown)
    except InputDataError:
        raise
    except OSError as exc:
        raise InputDataError(f"{display_path(path)}: cannot be read ({exc.strerror or exc})"
                             ) from None
    except Exception as exc:  # any other reader failure is a file the user must fix
        raise InputDataError(f"{display_path(path)}: cannot be read as "
                             f"{path.suffix[1:]} ({exc})") from None


# ============================================================================================
# A folder or package
# ============================================================================================
def _dataset_files(folder: Path, prefix: str, side: Side) -> None:
    by_name: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in DATASET_SUFFIXES \
                and not path.name.startswith("."):
            if path.suffix.lower() == ".json" and not _looks_like_dataset_json(path):
                continue
            by_name.setdefault(path.stem.upper(), []).append(path)
    for name, paths in sorted(by_name.items()):
        paths.sort(key=lambda p: DATASET_SUFFIXES.index(p.suffix.lower()))
        side.datasets[prefix + name] = paths[0]
        if len(paths) > 1:
            side.notes.append(f"{prefix}{name}: {paths[0].name} compared, "
                              f"{', '.join(p.name for p in paths[1:])} not read")
    define = folder / "define.xml"
    if define.is_file():
        side.defines[prefix.rstrip("/")] = define


def _looks_like_dataset_json(path: Path) -> bool:
    """A .json file that starts like Dataset-JSON (reports such as findings.json are not)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return b"datasetJSONVersion" in head or b"itemGroupOID" in head


def read_side(path: Path) -> Side:
    """Which datasets (and define.xml files) one side of a comparison holds.

    A file is one dataset. A folder is either a package root with ``sdtm/`` and/or ``adam/``
    (only those are read: a run's folder also holds its raw export) or a folder of datasets.
    """
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{display_path(path)}: not found")
    if path.is_file():
        return Side(root=path.parent, datasets={path.stem.upper(): path}, defines={})
    side = Side(root=path, datasets={}, defines={})
    subfolders = [name for name in _PACKAGE_FOLDERS if (path / name).is_dir()]
    if subfolders:
        for name in subfolders:
            _dataset_files(path / name, f"{name}/", side)
    else:
        _dataset_files(path, "", side)
    if not side.datasets:
        raise InputDataError(f"{display_path(path)}: no dataset files "
                             f"({', '.join(DATASET_SUFFIXES)})")
    return side
