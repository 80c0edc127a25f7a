"""SDTM access for the ADaM derivations: required datasets and variables, settings filters,
dated source records, lookups and findings with provenance.

Reading a folder of SDTM datasets (``read_sdtm``, ``normalise_frame``) lives in
:mod:`cdiscmap.checks.read` beside the XPT reader, so that ``cdiscmap recist`` can read SDTM
without importing the ADaM derivations; the names are re-exported here.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cdiscmap.adam.dates import ImputedDates, factorize_text, impute_dtc, spread_text
from cdiscmap.adam.dtypes import DATES, FLOAT, TEXT
from cdiscmap.adam.settings import DateSource
from cdiscmap.checks.read import SDTM_SUFFIXES, SdtmFolder, normalise_frame, read_sdtm
from cdiscmap.errors import InputDataError
from cdiscmap.findings import Finding, Findings, Severity
from cdiscmap.recist.lesions import object_addresses

__all__ = ["SDTM_SUFFIXES", "SdtmFolder", "as_dates", "dataset_columns", "index_positions", "key_index", "lookup",
           "lookup_columns", "normalise_frame", "notice", "provenance", "read_sdtm", "report_bad_dates",
           "report_rows", "require", "select_records", "source_dates", "source_records",
           "text_numbers", "upper_isin", "upper_text", "upper_values"]

def require(sdtm: dict[str, pd.DataFrame], dataset: str, variables: list[str],
            why: str = "") -> pd.DataFrame:
    """The dataset, or an InputDataError naming the missing dataset or variables."""
    reason = f" ({why})" if why else ""
    if dataset not in sdtm:
        raise InputDataError(f"SDTM dataset {dataset} is missing{reason}")
    frame = sdtm[dataset]
    missing = [v for v in variables if v not in frame.columns]
    if missing:
        raise InputDataError(f"SDTM {dataset} lacks required variable"
                             f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}{reason}")
    return frame


def _matches(frame: pd.DataFrame, where: dict[str, str | list[str]], *, any_of: bool,
             skipped: list[str]) -> np.ndarray:
    """Rows meeting all (or, with ``any_of``, any) conditions, as a boolean array; absent
    variables are skipped. Combined as arrays, not as Series aligned on the frame's index
    (≈0.1 ms a condition less: ``select_records`` is called some 40 times a run)."""
    result = np.full(len(frame), not any_of)
    for name, wanted in where.items():
        if name not in frame.columns:
            skipped.append(name)
            continue
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        hit = upper_isin(frame[name], values)
        result = (result | hit) if any_of else (result & hit)
    return result


def selected_rows(frame: pd.DataFrame, where: dict[str, str | list[str]]) -> np.ndarray:
    """The rows :func:`select_records` selects with ``where`` (a boolean array; conditions on
    absent variables skipped), for a caller that reads a few arrays of them and needs no
    copy of the records."""
    return _matches(frame, where, any_of=False, skipped=[])


def select_records(frame: pd.DataFrame, where: dict[str, str | list[str]],
                   where_not: dict[str, str | list[str]] | None = None
                   ) -> tuple[pd.DataFrame, list[str]]:
    """Records of ``frame`` matching ``where`` and none of ``where_not`` (settings filters).

    Returns the records and the filter variables the frame does not have (skipped, so the
    caller can report them: they are permissible SDTM variables a user's SDTM may lack).
    """
    skipped: list[str] = []
    keep = _matches(frame, where, any_of=False, skipped=skipped)
    if where_not:
        keep &= ~_matches(frame, where_not, any_of=True, skipped=skipped)
    if bool(keep.all()):        # no condition, or every record meets them: no copy
        return frame, skipped
    return frame.loc[keep], skipped


def source_dates(sdtm: dict[str, pd.DataFrame], source: DateSource, findings: Findings, *,
                 highest: str = "none", how: str = "first", purpose: str = "") -> pd.DataFrame:
    """Dated records of one settings source: USUBJID, DT, DTF, SEQ (--SEQ or NaN), VALUE.

    A missing dataset gives no records (the source is optional: a notice says so); a missing
    date/value variable is an InputDataError (the settings ask for it). Unparseable dates are
    findings (CMAP-AD0001) and the record is left out.
    """
    found = source_records(sdtm, source, findings, highest=highest, how=how, purpose=purpose)
    if found is None:
        return _no_dates()
    records, imputed = found
    seq_name = source.dataset[:2] + "SEQ" if len(source.dataset) >= 2 else ""
    out = pd.DataFrame({
        "USUBJID": records["USUBJID"].astype(TEXT),
        "DT": imputed.dates,
        "DTF": imputed.flag,
        "SEQ": records[seq_name].astype(FLOAT) if seq_name in records.columns
        else pd.Series(float("nan"), index=records.index),
        "VALUE": records[source.value].astype(TEXT) if source.value
        else pd.Series(pd.NA, index=records.index, dtype=TEXT),
    })
    out = out.loc[out["DT"].notna() & out["USUBJID"].notna()]
    return out if not out.empty else _no_dates()     # its columns in order already: no copy


def _no_dates() -> pd.DataFrame:
    """:func:`source_dates` without records (made only then: ≈0.3 ms)."""
    return pd.DataFrame({"USUBJID": pd.Series(dtype=TEXT),
                         "DT": pd.Series(dtype=DATES),
                         "DTF": pd.Series(dtype=TEXT), "SEQ": pd.Series(dtype=FLOAT),
                         "VALUE": pd.Series(dtype=TEXT)})


def source_records(sdtm: Mapping[str, pd.DataFrame], source: DateSource, findings: Findings, *,
                   highest: str = "none", how: str = "first", purpose: str = ""
                   ) -> tuple[pd.DataFrame, ImputedDates] | None:
    """The records of one settings source and their imputed dates (:func:`source_dates`
    before its frame is built: the notices and CMAP-AD0001 findings are the same); None when
    the dataset is not given. Records without a date or USUBJID are still there."""
    if source.dataset not in sdtm:
        findings.add(notice("CMAP-AD0005", f"SDTM {source.dataset} not given: {purpose or 'source'} "
                             f"uses no {source.dataset} dates", source.dataset))
        return None
    needed = ["USUBJID", source.date] + ([source.value] if source.value else [])
    frame = require(sdtm, source.dataset, needed, purpose)  # type: ignore[arg-type]
    records, skipped = select_records(frame, source.where, source.where_not)
    for name in skipped:
        findings.add(notice("CMAP-AD0004", f"{source.dataset} has no {name}: the condition on it in "
                             f"{purpose or 'a source'} is not applied", source.dataset, name))
    imputed = impute_dtc(records[source.date], highest, how)  # type: ignore[arg-type]
    report_bad_dates(findings, records, imputed.invalid, source.dataset, source.date)
    return records, imputed


# Datasets the derivations read whole (ADSL, ADRS, ADAE, ADEX, ADTR, ADQS): reading a few of
# their columns first would decode those columns twice.
_READ_WHOLE = frozenset({"DM", "SUPPDM", "DS", "EX", "AE", "RS", "TU", "TR", "QS"})


def dataset_columns(sdtm: Mapping[str, pd.DataFrame], dataset: str, names: list[str], *,
                    projected: frozenset[str] = frozenset()) -> pd.DataFrame:
    """The variables ``names`` of ``dataset`` that it has (the dataset must be given).

    From a folder read lazily (``read_sdtm(lazy=True)``), a dataset that nothing else reads
    whole and that is not read yet (LB, read for its dates only, is a third of a package's
    bytes) is read for these variables only: the same values the whole read gives. So is a
    dataset of ``projected`` (read whole by a derivation that another process makes).
    """
    frame = None if dataset in _READ_WHOLE and dataset not in projected else \
        _projected_xpt(sdtm, dataset, names)
    if frame is None:
        frame = sdtm[dataset]
    if frame.columns.has_duplicates:
        return frame[[c for c in dict.fromkeys(names) if c in frame.columns]]
    # the columns themselves, not copies (``frame[names]`` copies them: RS and TR at 10,000
    # subjects are 250,000-300,000 rows); callers only read them
    return pd.DataFrame({c: frame[c] for c in dict.fromkeys(names) if c in frame.columns},
                        index=frame.index, copy=False)


def _projected_xpt(sdtm: Mapping[str, pd.DataFrame], dataset: str, names: list[str]
                   ) -> pd.DataFrame | None:
    """Some variables of an unread XPT v5 file of an SdtmFolder (None: the whole read
    decides; :meth:`cdiscmap.checks.read.SdtmFolder.variables`)."""
    return sdtm.variables(dataset, names) if isinstance(sdtm, SdtmFolder) else None


def notice(rule: str, message: str, dataset: str = "", variable: str = "") -> Finding:
    return Finding(rule=rule, severity=Severity.NOTICE, message=message, dataset=dataset,
                   variable=variable)


def as_dates(values: pd.Series) -> pd.Series:
    """``pd.to_datetime(values)``, without its cost on values that already are datetimes
    (it samples them as Timestamp objects to decide on caching, on every call): those come
    back as they are, which is what ``to_datetime`` gives for them."""
    if isinstance(values, pd.Series) and (values.dtype.kind == "M"
                                          or isinstance(values.dtype, pd.DatetimeTZDtype)):
        return values
    return pd.to_datetime(values)


def lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table[key]`` for every key (missing where absent), on ``keys``' index.

    A vectorised reindex that keeps the table's dtype (also for an empty table, where
    ``Series.map`` on "string" keys trips over datetime values) and takes the first value of a
    repeated key.
    """
    if isinstance(table.index, pd.CategoricalIndex):
        table = table.set_axis(table.index.astype(object))
    if table.index.has_duplicates:
        table = table.loc[~table.index.duplicated(keep="first")]
    objects = key_index(keys)
    runs = _object_runs(objects)
    if runs is None:
        values = table.reindex(objects)
        return pd.Series(values.array, index=keys.index, name=table.name)
    starts, spread = runs           # each run's first key looked up, its value repeated
    values = table.reindex(objects[starts])
    return pd.Series(values.array.take(spread), index=keys.index, name=table.name)


def key_index(keys: pd.Series) -> pd.Index:
    """``pd.Index(keys.to_numpy(dtype=object))`` without its two passes over the rows: a
    "string" column's object array (str and <NA>) is that array already, and its type need
    not be inferred."""
    if type(keys.array) is pd.arrays.StringArray:
        return pd.Index(np.asarray(keys.array), dtype=object, copy=False)
    return pd.Index(keys.to_numpy(dtype=object))


def index_positions(index: pd.Index, keys: pd.Series) -> np.ndarray:
    """``index.get_indexer(key_index(keys))``: the position of each key in ``index`` (-1:
    absent), looked up once per run of rows holding one and the same object (see
    :func:`_object_runs`)."""
    objects = key_index(keys)
    runs = _object_runs(objects)
    if runs is None:
        return index.get_indexer(objects)
    starts, spread = runs
    return index.get_indexer(objects[starts])[spread]


def adsl_positions(adsl: pd.DataFrame, ids: pd.Series) -> np.ndarray:
    """Position of each of ``ids`` among the ADSL records (one per subject), -1 for none."""
    return index_positions(pd.Index(adsl["USUBJID"].to_numpy(dtype=object)), ids)


def _object_runs(objects: pd.Index) -> tuple[np.ndarray, np.ndarray] | None:
    """Runs of consecutive rows that hold the very same object: the first row of each run and,
    per row, its run's number; None when runs are not much fewer than rows.

    SDTM is sorted by subject and the XPT reader gives all rows of one value one ``str``
    object, so a column of USUBJID keys is a few runs (LB: 700,000 rows, 10,000 runs at
    10,000 subjects). One object is one value, so every row of a run finds what its first row
    finds: a lookup per run, told apart by the objects' addresses (integers), instead of
    hashing and comparing every row's text against the table."""
    values = np.asarray(objects, dtype=object)
    n = len(values)
    if n < 1024:
        return None
    addresses = object_addresses(values)
    change = addresses[1:] != addresses[:-1]
    count = 1 + int(np.count_nonzero(change))
    if count * 4 > n:
        return None
    starts = np.flatnonzero(np.concatenate(([True], change)))
    return starts, np.repeat(np.arange(count, dtype=np.intp), np.diff(np.append(starts, n)))


def lookup_columns(keys: pd.Series, table: pd.DataFrame, names: list[str]
                   ) -> dict[str, pd.Series]:
    """``lookup(keys, table[name])`` for several columns of one table (e.g. ADSL variables
    copied onto a BDS dataset): the keys are matched to the table once, not once per column."""
    if isinstance(table.index, pd.CategoricalIndex):
        table = table.set_axis(table.index.astype(object))
    if table.index.has_duplicates:
        table = table.loc[~table.index.duplicated(keep="first")]
    where = index_positions(table.index, keys)
    out = {}
    for name in names:
        column = table[name]
        values = column.array if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) \
            else column.to_numpy()
        out[name] = pd.Series(pd.api.extensions.take(values, where, allow_fill=True),
                              index=keys.index, name=name)
    return out


def upper_text(values: pd.Series) -> pd.Series:
    """Trimmed, upper-cased "string" copy; the work is done once per distinct value."""
    codes, uniques = factorize_text(values)
    return spread_text(upper_values(uniques), codes, values.index)  # no check of every row's object


def text_numbers(values: pd.Series, mapping: Mapping[str, float]) -> pd.Series:
    """``values.map(mapping).astype("float64")`` for "string" values (e.g. AVALC → AVAL): each
    distinct text looked up in the mapping once and spread by code, NaN where missing or not
    mapped. ``Series.map`` makes a Series and an Index of the mapping on every call (≈0.3 ms;
    ADRS maps once per parameter)."""
    codes, uniques = factorize_text(values)
    table = np.array([mapping.get(u, np.nan) for u in uniques.tolist()] + [np.nan],
                     dtype=FLOAT)
    return pd.Series(table[codes], index=values.index)      # code -1: the last entry, NaN


def upper_isin(values: pd.Series, wanted: list[str]) -> np.ndarray:
    """Boolean array: trimmed upper-case value is one of ``wanted`` (missing → False)."""
    codes, uniques = factorize_text(values)
    if not len(uniques):
        return np.zeros(len(values), dtype=bool)
    targets = {w.strip().upper() for w in wanted}
    hit = np.fromiter((u in targets for u in upper_values(uniques)), dtype=bool,
                      count=len(uniques))
    return np.where(codes >= 0, hit[np.clip(codes, 0, None)], False)


def upper_values(uniques: np.ndarray) -> np.ndarray:
    """The distinct texts (str) trimmed and upper-cased: ``str.strip``/``str.upper`` per
    distinct value, as ``Series.str.strip().str.upper()`` of a "string" Series does them, without
    building that Series and its two accessors (≈0.35 ms a call; ``upper_isin`` is called
    some 30 times in a run's ADaM derivations at any size)."""
    return np.array([u.strip().upper() for u in uniques.tolist()], dtype=object)


def provenance(rows: pd.DataFrame, dataset: str) -> pd.Series:
    """Where each record came from: ``<file> row <n>`` (cdiscmap lineage) or ``RS RSSEQ=5``."""
    if "_SRCFILE" in rows.columns and "_SRCROW" in rows.columns:
        row = pd.to_numeric(rows["_SRCROW"], errors="coerce").astype("Int64").astype(TEXT)
        return (rows["_SRCFILE"].astype(TEXT) + " row " + row).astype(TEXT)
    seq = dataset[:2] + "SEQ"
    if seq in rows.columns:
        number = pd.to_numeric(rows[seq], errors="coerce").astype("Int64").astype(TEXT)
        return (f"{dataset} {seq}=" + number).astype(TEXT)
    return pd.Series(dataset, index=rows.index, dtype=TEXT)


def report_rows(findings: Findings, rows: pd.DataFrame, dataset: str, *, rule: str,
                severity: Severity, message: str, variable: str = "",
                value_col: str | None = None) -> None:
    """One finding per record of ``rows`` with its provenance."""
    if rows.empty:
        return
    findings.add_frame(rows.assign(_SOURCE=provenance(rows, dataset)), rule=rule,
                       severity=severity, message=message, dataset=dataset, variable=variable,
                       value_col=value_col, source_col="_SOURCE")


def report_bad_dates(findings: Findings, records: pd.DataFrame, invalid: pd.Series | np.ndarray,
                     dataset: str, variable: str) -> None:
    """CMAP-AD0001 for the ``records`` flagged ``invalid`` (a boolean per record, by position):
    the same wording wherever a date is read, so duplicates fold in derive_all. Most columns
    have no invalid date: nothing is selected then (selecting no rows of a frame and adding a
    column to it costs ≈0.5-0.9 ms, and dates are read some 25 times a run at any size)."""
    bad = np.asarray(invalid, dtype=bool)
    if not bad.any():
        return
    rows = records.loc[bad]
    report_rows(findings, rows.assign(_V=rows[variable]), dataset, rule="CMAP-AD0001",
                severity=Severity.WARNING,
                message=f"{variable} is not an ISO 8601 date; the record is left out of date "
                        "derivations", variable=variable, value_col="_V")
