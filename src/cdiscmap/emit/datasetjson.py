"""CDISC Dataset-JSON v1.1 writer and reader: the JSON twin of an XPT file.

Layout (Dataset-JSON 1.1 specification, "Top-level Metadata Attributes" and "Column
Metadata"): top-level attributes in the order the specification recommends (so streaming
readers find the metadata first), then ``columns`` (one object per variable, file order) and
``rows`` (one array per record). The writer puts each column object and each row on its own
line: the file stays valid JSON, diffs stay readable, and identical inputs give identical bytes.

Types written (Dataset-JSON 1.1 "Supported Column Data Type Combinations"):

- char variables → ``dataType "string"`` with ``length`` = the XPT length (the same number
  Define-XML reports, from :func:`cdiscmap.emit.xpt.xpt_lengths`). SDTM ``--DTC`` values stay
  ``"string"``: they may be partial (``2014-03``), which a reader of ``"date"`` would reject.
- num variables whose values are all whole (|x| ≤ 2**53, no negative zero) → ``"integer"``,
  written as JSON integers; other numbers → ``"double"``, written with Python's shortest
  round-trip repr (``0.1``, ``1e-10``, ``-0.0``), so reading gives back the same float64 bits.
- num variables holding dates (``datetime64``, the ADaM ``*DT`` with DATE9.) → ``"date"``
  (ISO ``YYYY-MM-DD``) or ``"datetime"`` (``YYYY-MM-DDThh:mm:ss``) strings with
  ``targetDataType "integer"``, as the specification's ADaM example does.
- missing values → ``null``. Infinite numbers cannot be written (JSON has none).

The creation time is passed in, never read from the clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cdiscmap import __version__
from cdiscmap.emit.atomic import atomic_write_text
from cdiscmap.emit.xpt import XptColumn, xpt_lengths
from cdiscmap.errors import InputDataError, OutputError, display_path

__all__ = ["DATASET_JSON_VERSION", "DatasetJson", "is_dataset_json", "read_dataset_json",
           "write_dataset_json"]

DATASET_JSON_VERSION = "1.1.0"
_VERSION_PATTERN = re.compile(r"1\.1(\.(0|[1-9][0-9]*))?")   # Dataset-JSON 1.1 top-level table
_MAX_EXACT_INTEGER = 2 ** 53          # float64 holds every integer up to here exactly
_DATE_FORMAT = "DATE9."
_DATETIME_FORMAT = "DATETIME20."

# Dataset-JSON 1.1 top-level attributes: required ones and their JSON types.
_REQUIRED_TOP = {"datasetJSONCreationDateTime": str, "datasetJSONVersion": str,
                 "itemGroupOID": str, "records": int, "name": str, "label": str,
                 "columns": list}
_REQUIRED_COLUMN = {"itemOID": str, "name": str, "label": str, "dataType": str}
_DATA_TYPES = {"string", "integer", "decimal", "float", "double", "boolean", "datetime", "date",
               "time", "URI"}
_NUMBER_TYPES = {"integer", "decimal", "float", "double"}
_TEXT_TYPES = {"string", "URI", "time"}


@dataclass(frozen=True)
class DatasetJson:
    """A Dataset-JSON file read back: the data and the metadata that travels with it.

    ``frame``: char variables as pandas "string" (``null`` → <NA>, ``""`` kept), numbers as
    float64, dates with ``targetDataType "integer"`` as ``datetime64[ns]``; SDTM ISO 8601 text
    dates stay strings. ``columns`` are the variables as XPT metadata (type, length, display
    format); ``data_types`` the logical ``dataType`` of each variable.
    """

    frame: pd.DataFrame
    name: str
    label: str
    columns: list[XptColumn]
    data_types: dict[str, str]
    keys: list[str] = field(default_factory=list)
    item_group_oid: str = ""
    study_oid: str | None = None
    metadata_version_oid: str | None = None
    metadata_ref: str | None = None
    created: str = ""
    version: str = DATASET_JSON_VERSION


# ============================================================================================
# Writing
# ============================================================================================
def write_dataset_json(path: Path | str, frame: pd.DataFrame, *, dataset_name: str,
                       dataset_label: str, columns: Sequence[XptColumn], keys: list[str],
                       study_oid: str, created: datetime, originator: str = "cdiscmap",
                       metadata_version_oid: str | None = None,
                       metadata_ref: str | None = None,
                       lengths: Mapping[str, int] | None = None) -> Path:
    """Write one dataset as Dataset-JSON v1.1, atomically (temporary file, then rename).

    ``columns`` gives the variables in file order (internal ``_`` columns are never written);
    ``keys`` their key sequence. OIDs follow Define-XML practice: ``IG.<DATASET>`` and
    ``IT.<DATASET>.<VARIABLE>``; ``metaDataVersionOID`` defaults to ``MDV.<study_oid>``.
    A package passes its define.xml's Study and MetaDataVersion OIDs (``emit/oids.py``) and
    ``metadata_ref``, the define.xml's path relative to the file (Dataset-JSON v1.1
    ``metaDataRef``), so that a reader finds the metadata the OIDs name. ``lengths`` are the
    XPT lengths when the caller has planned the XPT file already (``XptPlan.lengths``).
    """
    names = [c.name for c in columns]
    missing_keys = [k for k in keys if k not in names]
    if missing_keys:
        raise OutputError(f"{dataset_name}: key variables {missing_keys} are not among the "
                          "columns to write")
    if lengths is None or any(c.name not in lengths for c in columns):
        lengths = xpt_lengths(frame, columns)      # XptLimitError for a column not in frame
    key_sequence = {name: number for number, name in enumerate(keys, start=1)}
    stamp = created.isoformat(timespec="seconds")

    column_meta: list[dict[str, Any]] = []
    tokens: list[np.ndarray] = []
    for column in columns:
        encoded = _encode_column(frame[column.name], column, dataset_name)
        meta: dict[str, Any] = {"itemOID": f"IT.{dataset_name}.{column.name}",
                                "name": column.name, "label": column.label,
                                "dataType": encoded.data_type}
        if encoded.target_type:
            meta["targetDataType"] = encoded.target_type
        if column.type == "char":
            meta["length"] = lengths[column.name]
        if encoded.display_format:
            meta["displayFormat"] = encoded.display_format
        if column.name in key_sequence:
            meta["keySequence"] = key_sequence[column.name]
        column_meta.append(meta)
        tokens.append(encoded.tokens)

    top: dict[str, Any] = {
        "datasetJSONCreationDateTime": stamp,
        "datasetJSONVersion": DATASET_JSON_VERSION,
        "fileOID": f"{originator}.{study_oid}.{dataset_name}",
        "dbLastModifiedDateTime": stamp,
        "originator": originator,
        "sourceSystem": {"name": "cdiscmap", "version": __version__},
        "studyOID": study_oid,
        "metaDataVersionOID": metadata_version_oid or f"MDV.{study_oid}",
        "itemGroupOID": f"IG.{dataset_name}",
        **({"metaDataRef": metadata_ref} if metadata_ref else {}),
        "records": len(frame),
        "name": dataset_name,
        "label": dataset_label,
    }
    text = _document(top, column_meta, _rows(tokens, len(frame)))
    return _atomic_write(Path(path), text)


@dataclass(frozen=True)
class _Encoded:
    data_type: str
    tokens: np.ndarray                  # object array: the JSON text of each value
    target_type: str | None = None
    display_format: str | None = None


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _tokens(values: pd.Series, encode: Any) -> np.ndarray:
    """JSON text per row, encoding each distinct value once (codes and dates repeat a lot).

    pandas (2.x) factorizes an all-string array with a C-string hash table that stops at the
    first NUL, so "" and "\\x00" (or "a" and "a\\x00b") would share one code and one token:
    text holding a NUL is left out of the factorization and encoded on its own (rare).
    """
    nul = pd.Series(values).astype("string").str.contains("\x00", regex=False) \
        .fillna(False).to_numpy(dtype=bool) if values.dtype == "string" else None
    if nul is not None and nul.any():
        out = _tokens(values[~nul], encode)
        tokens = np.empty(len(values), dtype=object)
        tokens[~nul] = out
        tokens[nul] = [encode(v) for v in values[nul]]
        return tokens
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([encode(u) for u in uniques] + ["null"], dtype=object)
    return table[codes]                 # code -1 (missing) picks the trailing "null"


def _encode_column(series: pd.Series, column: XptColumn, dataset: str) -> _Encoded:
    where = f"{dataset}.{column.name}"
    if column.type == "char":
        text = series.astype("string")
        return _Encoded("string", _tokens(text, lambda v: _dumps(str(v))))
    if pd.api.types.is_object_dtype(series.dtype) and pd.api.types.infer_dtype(
            series, skipna=True) in ("date", "datetime", "datetime64"):
        series = pd.to_datetime(series)            # dates as Python objects (e.g. pyreadstat)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize(None)       # wall-clock time, as the XPT writer does
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return _encode_dates(series, column)
    try:
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise OutputError(f"{where}: declared num but holds values that are not numbers; "
                          "convert them or declare the variable char") from None
    finite = numbers[~np.isnan(numbers)]
    if np.isinf(finite).any():
        raise OutputError(f"{where}: holds an infinite value, which JSON cannot represent")
    whole = bool(np.all(finite == np.floor(finite))
                 and np.all(np.abs(finite) <= _MAX_EXACT_INTEGER)
                 and not np.any(np.signbit(finite) & (finite == 0)))
    if whole:
        return _Encoded("integer", _number_tokens(numbers, lambda v: str(int(v))),
                        display_format=column.format)
    # float.__repr__ is the shortest text that reads back to the same double.
    return _Encoded("double", _number_tokens(numbers, repr), display_format=column.format)


def _number_tokens(numbers: np.ndarray, encode: Any) -> np.ndarray:
    """Like :func:`_tokens` for float64, distinct by bit pattern so -0.0 stays apart from 0.0."""
    codes, unique_bits = pd.factorize(numbers.view(np.int64))
    uniques = np.asarray(unique_bits, dtype=np.int64).view(np.float64)
    table = np.array(["null" if np.isnan(u) else encode(float(u)) for u in uniques],
                     dtype=object)
    return table[codes] if len(table) else np.empty(0, dtype=object)


def _encode_dates(series: pd.Series, column: XptColumn) -> _Encoded:
    stamps = series.astype("datetime64[ns]")
    at_midnight = bool((stamps.dropna() == stamps.dropna().dt.normalize()).all())
    datetime_format = column.format is not None and column.format.upper().startswith(
        ("DATETIME", "E8601DT", "IS8601DT", "B8601DT"))
    if at_midnight and not datetime_format:
        return _Encoded("date", _tokens(stamps, lambda v: _dumps(v.strftime("%Y-%m-%d"))),
                        target_type="integer", display_format=column.format or _DATE_FORMAT)
    return _Encoded("datetime",
                    _tokens(stamps, lambda v: _dumps(v.strftime("%Y-%m-%dT%H:%M:%S"))),
                    target_type="integer", display_format=column.format or _DATETIME_FORMAT)


def _rows(tokens: list[np.ndarray], n_rows: int) -> np.ndarray:
    """One ``[v1, v2, ...]`` line per record, assembled column by column (vectorised)."""
    if not tokens:
        return np.full(n_rows, "[]", dtype=object)
    line = "[" + tokens[0]
    for column in tokens[1:]:
        line = line + ", " + column
    return line + "]"


def _document(top: dict[str, Any], columns: list[dict[str, Any]], rows: np.ndarray) -> str:
    parts = ["{\n"]
    parts += [f"  {_dumps(key)}: {_dumps(value)},\n" for key, value in top.items()]
    parts.append('  "columns": [\n')
    parts.append(",\n".join(f"    {_dumps(c)}" for c in columns))
    parts.append("\n  ],\n")
    if len(rows):
        parts.append('  "rows": [\n    ')
        parts.append(",\n    ".join(rows.tolist()))
        parts.append("\n  ]\n}\n")
    else:
        parts.append('  "rows": []\n}\n')
    return "".join(parts)


def _atomic_write(target: Path, text: str) -> Path:
    return atomic_write_text(target, text)


# ============================================================================================
# Reading
# ============================================================================================
def is_dataset_json(document: object) -> bool:
    """Whether a parsed JSON document claims to be a Dataset-JSON dataset."""
    return isinstance(document, dict) and "datasetJSONVersion" in document


def read_dataset_json(path: Path | str, document: dict[str, Any] | None = None) -> DatasetJson:
    """Read a Dataset-JSON v1.1 file; InputDataError names what is wrong with a bad one.

    ``document`` is the already parsed JSON when the caller has it (saves a second parse).
    """
    path = Path(path)
    shown = display_path(path)
    if document is None:
        document = load_json(path)
    _check_structure(document, shown)
    columns_meta: list[dict[str, Any]] = document["columns"]
    names = [c["name"] for c in columns_meta]
    rows = document.get("rows", [])
    if not isinstance(rows, list):
        raise InputDataError(f"{shown}: 'rows' must be an array of record arrays")
    _check_rows(rows, len(names), document["records"], shown)

    table = np.array(rows, dtype=object) if rows else np.empty((0, len(names)), dtype=object)
    if table.ndim != 2:
        raise InputDataError(f"{shown}: 'rows' must hold one scalar value per column")
    data = {meta["name"]: _decode_column(np.ascontiguousarray(table[:, number]), meta, shown)
            for number, meta in enumerate(columns_meta)}
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))

    keyed = sorted((c["keySequence"], c["name"]) for c in columns_meta if "keySequence" in c)
    columns = [XptColumn(name=c["name"], label=c["label"],
                         type="char" if _is_text(c) else "num",
                         length=c.get("length") if _is_text(c) else None,
                         format=c.get("displayFormat"))
               for c in columns_meta]
    return DatasetJson(frame=frame, name=document["name"], label=document["label"],
                       columns=columns, data_types={c["name"]: c["dataType"]
                                                    for c in columns_meta},
                       keys=[name for _, name in keyed],
                       item_group_oid=document["itemGroupOID"],
                       study_oid=document.get("studyOID"),
                       metadata_version_oid=document.get("metaDataVersionOID"),
                       metadata_ref=document.get("metaDataRef"),
                       created=document["datasetJSONCreationDateTime"],
                       version=document["datasetJSONVersion"])


def load_json(path: Path) -> Any:
    """Parse a JSON file strictly (no NaN/Infinity literals); InputDataError when it is not."""
    def no_constants(name: str) -> None:
        raise ValueError(f"{name} is not a JSON value")

    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle, parse_constant=no_constants)
    except OSError as exc:
        raise InputDataError(f"{display_path(path)}: cannot be read ({exc.strerror or exc})"
                             ) from None
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{display_path(path)}: not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start})") from None
    except ValueError as exc:            # json.JSONDecodeError is a ValueError
        raise InputDataError(f"{display_path(path)}: not valid JSON ({exc})") from None
    except RecursionError:               # Dataset-JSON is 3 levels deep; this is no dataset
        raise InputDataError(f"{display_path(path)}: JSON nested too deeply to be a "
                             f"Dataset-JSON file") from None


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", list: "an array"}[kind]


def _check_structure(document: object, shown: str) -> None:
    """The Dataset-JSON 1.1 required attributes are present with their JSON types."""
    if not is_dataset_json(document):
        raise InputDataError(f"{shown}: not a Dataset-JSON file (no datasetJSONVersion)")
    assert isinstance(document, dict)
    version = document["datasetJSONVersion"]
    if not isinstance(version, str) or not _VERSION_PATTERN.fullmatch(version):
        raise InputDataError(f"{shown}: datasetJSONVersion {version!r} is not 1.1.x; only "
                             "Dataset-JSON v1.1 is read")
    for key, kind in _REQUIRED_TOP.items():
        if key not in document:
            raise InputDataError(f"{shown}: required attribute {key!r} is missing")
        value = document[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InputDataError(f"{shown}: {key!r} must be {_type_name(kind)}")
    if document["records"] < 0:
        raise InputDataError(f"{shown}: 'records' must not be negative")
    seen: set[str] = set()
    for number, column in enumerate(document["columns"], start=1):
        if not isinstance(column, dict):
            raise InputDataError(f"{shown}: column {number} must be an object")
        for key, kind in _REQUIRED_COLUMN.items():
            if not isinstance(column.get(key), kind):
                raise InputDataError(f"{shown}: column {number} needs {key!r} as "
                                     f"{_type_name(kind)}")
        if column["dataType"] not in _DATA_TYPES:
            raise InputDataError(f"{shown}: column {column['name']} has dataType "
                                 f"{column['dataType']!r}; expected one of "
                                 f"{', '.join(sorted(_DATA_TYPES))}")
        for key in ("length", "keySequence"):
            if key in column and (not isinstance(column[key], int) or column[key] < 1
                                  or isinstance(column[key], bool)):
                raise InputDataError(f"{shown}: column {column['name']} {key} must be a "
                                     "positive integer")
        if column["name"] in seen:
            raise InputDataError(f"{shown}: column {column['name']} is listed twice")
        seen.add(column["name"])


def _check_rows(rows: list[Any], n_columns: int, records: int, shown: str) -> None:
    if len(rows) != records and rows:
        raise InputDataError(f"{shown}: 'records' says {records} but 'rows' holds {len(rows)}")
    if not rows:
        return
    is_list = np.fromiter(map(isinstance, rows, [list] * len(rows)), dtype=bool,
                          count=len(rows))
    if not is_list.all():
        raise InputDataError(f"{shown}: row {int(np.argmin(is_list)) + 1} is not an array")
    widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    wrong = np.flatnonzero(widths != n_columns)
    if len(wrong):
        first = int(wrong[0])
        raise InputDataError(f"{shown}: row {first + 1} has {widths[first]} values for "
                             f"{n_columns} columns")


def _is_text(meta: dict[str, Any]) -> bool:
    data_type = meta["dataType"]
    if data_type in _TEXT_TYPES:
        return True
    # ISO 8601 text dates (SDTM --DTC) unless the receiver must turn them into numbers.
    return data_type in ("date", "datetime") and meta.get("targetDataType") != "integer"


def _decode_column(raw: np.ndarray, meta: dict[str, Any], shown: str) -> pd.Series:
    """One column of ``rows`` to a typed Series; type checks run on the whole column at once."""
    name, data_type = meta["name"], meta["dataType"]
    missing = np.equal(raw, None)          # JSON null; JSON has no other missing value
    kind = pd.api.types.infer_dtype(raw[~missing], skipna=False)

    def wrong(expected: str) -> InputDataError:
        first = raw[~missing][0] if (~missing).any() else None
        return InputDataError(f"{shown}: column {name} ({data_type}) holds values that are not "
                              f"{expected} (e.g. {first!r})")

    if _is_text(meta):
        if kind not in ("string", "empty"):
            raise wrong("strings")
        return pd.Series(pd.array(raw, dtype="string"))
    if data_type == "boolean":
        if kind not in ("boolean", "empty"):
            raise wrong("true/false")
        return pd.Series(pd.array(raw, dtype="boolean"))
    if data_type in ("date", "datetime"):
        if kind not in ("string", "empty"):
            raise wrong("ISO 8601 strings")
        parsed = pd.to_datetime(pd.Series(raw), format="ISO8601", errors="coerce")
        bad = parsed.isna().to_numpy() & ~missing
        if bad.any():
            raise InputDataError(f"{shown}: column {name} ({data_type}) value "
                                 f"{raw[int(np.argmax(bad))]!r} is not an ISO 8601 {data_type}")
        return parsed.astype("datetime64[ns]")
    numeric_kinds = ("integer", "floating", "mixed-integer-float", "empty")
    if data_type == "decimal" and kind == "string":
        # Dataset-JSON 1.1 "Decimal Variables": text with "." decimals, "," thousands.
        raw = np.where(missing, None, pd.Series(raw).str.replace(",", "", regex=False))
    elif kind not in numeric_kinds:
        raise wrong("numbers")
    numbers = pd.to_numeric(pd.Series(np.where(missing, np.nan, raw), dtype=object),
                            errors="coerce").astype("float64")
    if (numbers.isna().to_numpy() & ~missing).any():
        raise wrong("numbers")
    return numbers
