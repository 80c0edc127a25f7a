"""The comparison of two datasets, as PROC COMPARE (SAS) and diffdf (R) report it.

Records are matched by key: the dataset's natural keys from ``specs/`` (SDTMIG 3.4 / ADaMIG
1.3 dataset metadata, the "Key Variables" column) unless keys are given; a dataset ``specs/``
does not know (and that declares no keys itself) is matched by row order, with a note. Key
values are factorised over both sides together into one integer per record, the occurrence
number of a repeated key is added (so duplicate keys are reported and still compared, first
with first, second with second), and the two sides are joined with a pandas merge on those
integers. Every variable is then compared as two numpy arrays over the matched records: no
per-record Python anywhere.

Value rules:

- numbers are equal when ``|base - compare| <= tolerance`` or, when a relative tolerance is
  given, ``|base - compare| / |base| <= rel_tolerance`` (both bounds inclusive);
- a missing number equals only the same missing value: ``.`` ≠ ``.A`` ≠ ``.B`` (SAS special
  missing values, SAS TS-140), and a missing value never equals a number;
- text is compared after removing trailing blanks (SAS pads character values, so
  ``"AB  " = "AB"``; leading blanks count); blank equals missing. Options: ignore case, and
  ignore whitespace (leading/trailing removed, inner runs read as one blank);
- dates are compared as dates whatever their storage: a SAS number with a date or datetime
  format, a Dataset-JSON date or an ISO 8601 text value (complete dates only: ``2014-03`` is
  a partial date and equals no SAS date);
- text compared with a number is read as a number (a CSV has no types), unreadable text is
  unequal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cdiscmap.compare.read import Table, VarInfo
from cdiscmap.errors import InputDataError

__all__ = ["AttributeDiff", "CompareOptions", "DatasetDiff", "RecordDiff", "ValueDiff",
           "compare_tables", "natural_keys"]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")
_MISSING_DOT = ord(".")


@dataclass(frozen=True)
class CompareOptions:
    """How values are compared and how much is listed."""

    keys: tuple[str, ...] | None = None        # None: natural keys from specs/ ("auto")
    tolerance: float = 1e-8
    rel_tolerance: float | None = None
    ignore: frozenset[str] = frozenset()
    ignore_case: bool = False
    ignore_whitespace: bool = False
    max_records: int = 20                      # differing records listed per variable


@dataclass(frozen=True)
class AttributeDiff:
    variable: str                              # "" for the dataset itself (its label)
    attribute: str                             # type | length | label | format
    base: str
    compare: str


@dataclass(frozen=True)
class RecordDiff:
    keys: dict[str, str]                       # key values (row number when matched by order)
    base: str
    compare: str
    abs_diff: float | None = None
    rel_diff: float | None = None


@dataclass
class ValueDiff:
    variable: str
    kind: str                                  # char | num | date
    unequal: int
    records: list[RecordDiff] = field(default_factory=list)


@dataclass
class DatasetDiff:
    """Everything found about one dataset pair."""

    name: str
    base_source: str
    compare_source: str
    base_records: int
    compare_records: int
    keys: list[str]
    by_row: bool                                 # matched by row order, not by key
    matched: int = 0
    only_base: int = 0
    only_compare: int = 0
    only_base_records: list[dict[str, str]] = field(default_factory=list)
    only_compare_records: list[dict[str, str]] = field(default_factory=list)
    duplicate_base: int = 0                      # records whose key another record shares
    duplicate_compare: int = 0
    duplicate_base_keys: list[dict[str, str]] = field(default_factory=list)
    duplicate_compare_keys: list[dict[str, str]] = field(default_factory=list)
    variables_only_base: list[str] = field(default_factory=list)
    variables_only_compare: list[str] = field(default_factory=list)
    attributes: list[AttributeDiff] = field(default_factory=list)
    values: list[ValueDiff] = field(default_factory=list)
    compared_variables: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unequal_values(self) -> int:
        return sum(v.unequal for v in self.values)

    @property
    def differences(self) -> int:
        """Number of differences of every kind (0: equal within the tolerances)."""
        return (self.only_base + self.only_compare + self.duplicate_base
                + self.duplicate_compare + len(self.variables_only_base)
                + len(self.variables_only_compare) + len(self.attributes)
                + self.unequal_values)

    @property
    def equal(self) -> bool:
        return self.differences == 0


# ============================================================================================
# Keys
# ============================================================================================
def natural_keys(name: str) -> list[str] | None:
    """The dataset's natural keys from ``specs/``; SUPP-- datasets use SUPPQUAL's."""
    from cdiscmap.standards import load_standards

    datasets = load_standards().datasets
    base_name = name.rsplit("/", 1)[-1].upper()
    if base_name not in datasets and base_name.startswith("SUPP"):
        base_name = "SUPPQUAL"
    found = datasets.get(base_name)
    return list(found.keys) if found is not None and found.keys else None


def _resolve_keys(base: Table, compare: Table, name: str, opts: CompareOptions
                  ) -> tuple[list[str], list[str]]:
    """Keys to match records on ([] = row order) and notes on how they were chosen."""
    if opts.keys is not None:
        keys = [k.upper() for k in opts.keys]
        missing = [f"{k} (not in {side})" for k in keys for side, table in
                   (("BASE", base), ("COMPARE", compare)) if k not in table.variables]
        if missing:
            raise InputDataError(f"{name}: key variables missing: {', '.join(missing)}")
        return keys, []
    keys = natural_keys(name)
    source = "specs/"
    if keys is None and base.keys and base.keys == compare.keys:
        keys, source = list(base.keys), "the Dataset-JSON keySequence"
    if keys is None:
        return [], [f"{name}: no natural keys known for this dataset: records matched by "
                    "row order (give --keys to match by key)"]
    absent = [k for k in keys if k not in base.variables or k not in compare.variables]
    if absent:
        return [], [f"{name}: natural key variable(s) {', '.join(absent)} not in both "
                    "datasets: records matched by row order (give --keys)"]
    return keys, [f"{name}: records matched by {', '.join(keys)} (keys from {source})"]


# ============================================================================================
# Values brought to one comparable form
# ============================================================================================
def _normalise_text(values: np.ndarray, opts: CompareOptions) -> np.ndarray:
    """Text as compared: trailing blanks removed, blank → None, options applied; the work is
    done once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    cleaned = pd.Series(uniques, dtype=object).astype(str).str.rstrip()
    if opts.ignore_whitespace:
        cleaned = cleaned.str.strip().str.replace(r"\s+", " ", regex=True)
    if opts.ignore_case:
        cleaned = cleaned.str.upper()
    table = np.array([*(c or None for c in cleaned), None], dtype=object)
    return table[codes]


def _text_to_dates(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ISO 8601 text → datetime64[ns]; and a mask of non-blank values that are not complete
    ISO dates (they equal no date)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = pd.Series(uniques, dtype=object).astype(str).str.strip()
    full = texts.str.fullmatch(_ISO_DATE.pattern).fillna(False).to_numpy(dtype=bool)
    stamps = pd.to_datetime(texts.where(full), format="ISO8601", errors="coerce")
    parsed = np.asarray(stamps, dtype="datetime64[ns]")
    bad_unique = ~full | np.isnat(parsed)
    stamp_table = np.concatenate([parsed, np.array(["NaT"], dtype="datetime64[ns]")])
    bad_table = np.concatenate([bad_unique, [False]])
    return stamp_table[codes], bad_table[codes]


def _text_to_numbers(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Text → float64; and a mask of non-blank values that are not numbers."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    numbers = pd.to_numeric(pd.Series(uniques, dtype=object).astype(str).str.strip(),
                            errors="coerce").to_numpy(dtype=np.float64)
    bad_unique = np.isnan(numbers)
    return (np.concatenate([numbers, [np.nan]])[codes],
            np.concatenate([bad_unique, [False]])[codes])


@dataclass
class _Aligned:
    """Both sides of one variable in one comparable kind, over all their records."""

    kind: str                    # char | num | date
    base: np.ndarray
    compare: np.ndarray
    base_bad: np.ndarray | None = None      # text that could not be read as the kind
    compare_bad: np.ndarray | None = None
    base_missing: np.ndarray | None = None  # num: SAS missing byte per record
    compare_missing: np.ndarray | None = None


def _align(name: str, base: Table, compare: Table) -> _Aligned:
    b_var, c_var = base.variables[name], compare.variables[name]
    b, c = base.columns[name], compare.columns[name]
    kinds = {b_var.kind, c_var.kind}
    if kinds == {"char"}:
        return _Aligned("char", b, c)
    if "date" in kinds:
        b_bad = c_bad = None
        if b_var.kind == "char":
            b, b_bad = _text_to_dates(b)
        elif b_var.kind == "num":
            b, b_bad = _numbers_as_dates(b, c_var)
        if c_var.kind == "char":
            c, c_bad = _text_to_dates(c)
        elif c_var.kind == "num":
            c, c_bad = _numbers_as_dates(c, b_var)
        return _Aligned("date", b, c, b_bad, c_bad)
    b_bad = c_bad = None
    b_missing = base.missing_codes(name) if b_var.kind == "num" else None
    c_missing = compare.missing_codes(name) if c_var.kind == "num" else None
    if b_var.kind == "char":
        b, b_bad = _text_to_numbers(b)
        b_missing = np.where(np.isnan(b), _MISSING_DOT, 0).astype(np.uint8)
    if c_var.kind == "char":
        c, c_bad = _text_to_numbers(c)
        c_missing = np.where(np.isnan(c), _MISSING_DOT, 0).astype(np.uint8)
    return _Aligned("num", b, c, b_bad, c_bad, b_missing, c_missing)


def _numbers_as_dates(numbers: np.ndarray, other: VarInfo) -> tuple[np.ndarray, np.ndarray]:
    """A plain number against a date: read as SAS days since 1960 (a date format lost on the
    way, e.g. parquet without metadata)."""
    from cdiscmap.checks.read import sas_dates

    return sas_dates(numbers, "D"), np.zeros(len(numbers), dtype=bool)


def _unequal(al: _Aligned, bi: np.ndarray, ci: np.ndarray, opts: CompareOptions
             ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Unequal mask over matched pairs; for numbers also the absolute and relative
    differences."""
    b, c = al.base[bi], al.compare[ci]
    if al.kind == "char":
        same = b == c                              # identical objects and equal text: fast
        candidates = np.flatnonzero(~np.asarray(same, dtype=bool))
        unequal = np.zeros(len(bi), dtype=bool)
        if len(candidates):
            both = _normalise_text(np.concatenate([b[candidates], c[candidates]]), opts)
            nb = len(candidates)
            unequal[candidates] = both[:nb] != both[nb:]
        return unequal, None, None
    bad = np.zeros(len(bi), dtype=bool)
    if al.base_bad is not None:
        bad |= al.base_bad[bi]
    if al.compare_bad is not None:
        bad |= al.compare_bad[ci]
    if al.kind == "date":
        bv, cv = b.view(np.int64), c.view(np.int64)
        return (bv != cv) | bad, None, None
    assert al.base_missing is not None and al.compare_missing is not None
    mb, mc = al.base_missing[bi], al.compare_missing[ci]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        diff = np.abs(b - c)
        rel = diff / np.abs(b)
        close = (diff <= opts.tolerance) | (b == c)
        if opts.rel_tolerance is not None:
            close |= rel <= opts.rel_tolerance
    either = (mb != 0) | (mc != 0)
    equal = np.where(either, mb == mc, close)
    return ~equal | bad, diff, rel


# ============================================================================================
# Display
# ============================================================================================
def _show_values(al: _Aligned, values: np.ndarray, rows: np.ndarray, side: str) -> list[str]:
    """Values of ``rows`` as people read them: text, numbers (.A for special missing),
    ISO dates."""
    picked = values[rows]
    if al.kind == "char":
        return ["" if v is None else str(v) for v in picked]
    if al.kind == "date":
        out = []
        for v in picked:
            if np.isnat(v):
                out.append("")
            else:
                text = str(np.datetime_as_string(v, unit="s"))
                out.append(text[:10] if text.endswith("T00:00:00") else text)
        return out
    missing = (al.base_missing if side == "base" else al.compare_missing)
    codes = missing[rows] if missing is not None else np.zeros(len(rows), dtype=np.uint8)
    shown = []
    for v, code in zip(picked, codes, strict=True):
        if code:
            shown.append("." if code == _MISSING_DOT else "." + chr(int(code)))
        elif np.isnan(v):
            shown.append("")
        else:
            shown.append(_number(float(v)))
    return shown


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 2 ** 53 else repr(value)


def _original_text(table: Table, name: str, rows: np.ndarray) -> list[str] | None:
    """Text as stored, when a value could not be read as a number or date."""
    if table.variables[name].kind != "char":
        return None
    return ["" if v is None else str(v) for v in table.columns[name][rows]]


def _key_records(table: Table, keys: list[str], rows: np.ndarray) -> list[dict[str, str]]:
    if not keys:
        return [{"_ROW": str(int(r) + 1)} for r in rows]
    shown: dict[str, list[str]] = {}
    for key in keys:
        var = table.variables[key]
        al = _Aligned(var.kind if var.kind != "num" else "num", table.columns[key],
                      table.columns[key], base_missing=table.missing_codes(key)
                      if var.kind == "num" else None)
        shown[key] = _show_values(al, table.columns[key], rows, "base")
    return [{key: shown[key][i] for key in keys} for i in range(len(rows))]


# ============================================================================================
# The comparison
# ============================================================================================
def _factorised_keys(base: Table, compare: Table, keys: list[str], opts: CompareOptions
                     ) -> tuple[np.ndarray, np.ndarray]:
    """One int64 per record over both sides: equal keys give equal numbers."""
    nb = base.n_rows
    combined = np.zeros(nb + compare.n_rows, dtype=np.int64)
    for key in keys:
        al = _align(key, base, compare)
        values = np.concatenate([al.base, al.compare])
        if al.kind == "char":
            values = _normalise_text(values, opts)
        elif al.kind == "date":
            values = values.view(np.int64)
        if al.kind == "num":
            # a missing value is keyed by its SAS missing byte: . and .A are different keys
            missing = np.concatenate([al.base_missing, al.compare_missing])  # type: ignore[list-item]
            codes, uniques = pd.factorize(values + 0.0, use_na_sentinel=True)   # -0.0 = 0.0
            codes = np.where(missing != 0, len(uniques) + missing.astype(np.int64),
                             codes).astype(np.int64)
            n_codes = len(uniques) + 256
        else:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            codes = np.where(codes < 0, len(uniques), codes).astype(np.int64)
            n_codes = len(uniques) + 1
        combined = combined * n_codes + codes
        combined, _ = pd.factorize(combined)
        combined = combined.astype(np.int64)
    return combined[:nb], combined[nb:]


def _occurrence(codes: np.ndarray) -> np.ndarray:
    return pd.Series(codes).groupby(codes, sort=False).cumcount().to_numpy(dtype=np.int64)


def _duplicates(codes: np.ndarray) -> np.ndarray:
    """Mask of records whose key another record of the same side shares."""
    if not len(codes):
        return np.zeros(0, dtype=bool)
    counts = np.bincount(codes)
    return counts[codes] > 1


def compare_tables(base: Table, compare: Table, opts: CompareOptions | None = None,
                   name: str | None = None) -> DatasetDiff:
    """Compare two datasets; see the module docstring for the rules."""
    opts = opts or CompareOptions()
    name = name or base.name
    keys, notes = _resolve_keys(base, compare, name, opts)
    result = DatasetDiff(name=name, base_source=base.source, compare_source=compare.source,
                         base_records=base.n_rows, compare_records=compare.n_rows, keys=keys,
                         by_row=not keys, notes=notes)
    ignored = {v.upper() for v in opts.ignore}
    b_names = [n for n in base.variables if n not in ignored]
    c_names = [n for n in compare.variables if n not in ignored]
    common = [n for n in b_names if n in compare.variables and n not in ignored]
    result.variables_only_base = [n for n in b_names if n not in compare.variables]
    result.variables_only_compare = [n for n in c_names if n not in base.variables]
    if base.label is not None and compare.label is not None \
            and base.label.strip() != compare.label.strip():
        result.attributes.append(AttributeDiff("", "label", base.label, compare.label))
    for var_name in common:
        result.attributes.extend(_attribute_diffs(base.variables[var_name],
                                                  compare.variables[var_name]))

    # ---- match records
    nb, nc = base.n_rows, compare.n_rows
    if keys:
        b_codes, c_codes = _factorised_keys(base, compare, keys, opts)
        b_dup, c_dup = _duplicates(b_codes), _duplicates(c_codes)
        result.duplicate_base, result.duplicate_compare = int(b_dup.sum()), int(c_dup.sum())
        result.duplicate_base_keys = _first_keys(base, keys, b_dup, b_codes, opts.max_records)
        result.duplicate_compare_keys = _first_keys(compare, keys, c_dup, c_codes,
                                                    opts.max_records)
        b_occ, c_occ = _occurrence(b_codes), _occurrence(c_codes)
        width = int(max(b_occ.max(initial=0), c_occ.max(initial=0))) + 1
        joined = pd.merge(pd.DataFrame({"id": b_codes * width + b_occ,
                                        "b": np.arange(nb, dtype=np.int64)}),
                          pd.DataFrame({"id": c_codes * width + c_occ,
                                        "c": np.arange(nc, dtype=np.int64)}),
                          on="id", how="inner", sort=False)
        bi = joined["b"].to_numpy(dtype=np.int64)
        ci = joined["c"].to_numpy(dtype=np.int64)
        order = np.argsort(bi, kind="stable")
        bi, ci = bi[order], ci[order]
    else:
        n = min(nb, nc)
        bi = ci = np.arange(n, dtype=np.int64)
    only_b = np.ones(nb, dtype=bool)
    only_b[bi] = False
    only_c = np.ones(nc, dtype=bool)
    only_c[ci] = False
    result.matched = len(bi)
    result.only_base, result.only_compare = int(only_b.sum()), int(only_c.sum())
    result.only_base_records = _key_records(base, keys, np.flatnonzero(only_b)[:opts.max_records])
    result.only_compare_records = _key_records(compare, keys,
                                               np.flatnonzero(only_c)[:opts.max_records])

    # ---- compare values
    key_set = set(keys)
    for var_name in common:
        al = _align(var_name, base, compare)
        unequal, diff, rel = _unequal(al, bi, ci, opts)
        result.compared_variables.append(var_name)
        count = int(unequal.sum())
        if not count or (var_name in key_set and not result.by_row):
            continue
        rows = np.flatnonzero(unequal)[:opts.max_records]
        b_rows, c_rows = bi[rows], ci[rows]
        b_shown = _original_text(base, var_name, b_rows) if al.kind != "char" else None
        c_shown = _original_text(compare, var_name, c_rows) if al.kind != "char" else None
        b_shown = b_shown or _show_values(al, al.base, b_rows, "base")
        c_shown = c_shown or _show_values(al, al.compare, c_rows, "compare")
        key_values = _key_records(base, keys, b_rows)
        records = []
        for i in range(len(rows)):
            abs_d = rel_d = None
            if diff is not None and rel is not None and np.isfinite(diff[rows[i]]):
                abs_d = float(diff[rows[i]])
                rel_d = float(rel[rows[i]]) if np.isfinite(rel[rows[i]]) else None
            records.append(RecordDiff(keys=key_values[i], base=b_shown[i], compare=c_shown[i],
                                      abs_diff=abs_d, rel_diff=rel_d))
        result.values.append(ValueDiff(var_name, al.kind, count, records))
    return result


def _first_keys(table: Table, keys: list[str], mask: np.ndarray, codes: np.ndarray,
                limit: int) -> list[dict[str, str]]:
    """The first ``limit`` distinct duplicated keys, with how many records share each."""
    rows = np.flatnonzero(mask)
    if not len(rows):
        return []
    _, first = np.unique(codes[rows], return_index=True)
    firsts = np.sort(rows[first])[:limit]
    counts = np.bincount(codes)
    shown = _key_records(table, keys, firsts)
    for record, row in zip(shown, firsts, strict=True):
        record["_COUNT"] = str(int(counts[codes[row]]))
    return shown


def _canonical_format(text: str | None) -> str:
    """``DATE9.`` and ``DATE9`` (pyreadstat releases differ) are one format; none is ''."""
    value = (text or "").strip().upper()
    return value if not value or "." in value else value + "."


def _attribute_diffs(b: VarInfo, c: VarInfo) -> list[AttributeDiff]:
    found = []
    if b.type is not None and c.type is not None and b.type != c.type:
        found.append(AttributeDiff(b.name, "type", b.type, c.type))
    if b.type == c.type and b.length is not None and c.length is not None \
            and b.length != c.length:
        found.append(AttributeDiff(b.name, "length", str(b.length), str(c.length)))
    if b.label is not None and c.label is not None and b.label != c.label:
        found.append(AttributeDiff(b.name, "label", b.label, c.label))
    if b.format is not None and c.format is not None \
            and _canonical_format(b.format) != _canonical_format(c.format):
        found.append(AttributeDiff(b.name, "format", b.format or "", c.format or ""))
    return found


def as_dict(value: Any) -> Any:
    """Plain JSON-ready data of a result object."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        data = asdict(value)
        if isinstance(value, DatasetDiff):
            data["differences"] = value.differences
            data["equal"] = value.equal
            data["unequal_values"] = value.unequal_values
        return data
    return value


# ============================================================================================
# Two files, folders or packages
# ============================================================================================
@dataclass
class CompareResult:
    """The comparison of BASE with COMPARE: every dataset pair, plus what only one side has."""

    base: str
    compare: str
    options: CompareOptions
    datasets: list[DatasetDiff] = field(default_factory=list)
    only_base: list[str] = field(default_factory=list)        # datasets
    only_compare: list[str] = field(default_factory=list)
    defines: dict[str, list[Any]] = field(default_factory=dict)   # folder → DefineDiffs
    define_only: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def differences(self) -> int:
        return (sum(d.differences for d in self.datasets) + len(self.only_base)
                + len(self.only_compare) + sum(len(v) for v in self.defines.values())
                + len(self.define_only))

    @property
    def equal(self) -> bool:
        return self.differences == 0


def _pairs(base_path: Any, compare_path: Any, result: CompareResult
           ) -> list[tuple[str, Any, Any]]:
    from cdiscmap.compare.read import read_side

    base, compare = read_side(base_path), read_side(compare_path)
    result.notes.extend(f"BASE {n}" for n in base.notes)
    result.notes.extend(f"COMPARE {n}" for n in compare.notes)
    if base_path.is_file() or compare_path.is_file():
        if base_path.is_file() and compare_path.is_file():
            (b_path,), (c_path,) = base.datasets.values(), compare.datasets.values()
            return [(b_path.stem.upper(), b_path, c_path)]
        single, folder = (base, compare) if base_path.is_file() else (compare, base)
        (name,) = single.datasets
        hits = [k for k in folder.datasets if k.rsplit("/", 1)[-1] == name]
        if len(hits) != 1:
            raise InputDataError(f"dataset {name} is {'not' if not hits else 'more than once'} "
                                 f"in {folder.root.name}: compare a file with a file or a "
                                 "folder with a folder")
        pair = (single.datasets[name], folder.datasets[hits[0]])
        return [(name, *(pair if base_path.is_file() else pair[::-1]))]
    for folder in sorted(set(base.defines) | set(compare.defines)):
        shown = f"{folder}/define.xml" if folder else "define.xml"
        if folder not in compare.defines:
            result.define_only.append(f"{shown} only in BASE")
        elif folder not in base.defines:
            result.define_only.append(f"{shown} only in COMPARE")
        else:
            from cdiscmap.compare.define import compare_defines

            result.defines[shown] = compare_defines(base.defines[folder],
                                                    compare.defines[folder])
    result.only_base = sorted(set(base.datasets) - set(compare.datasets))
    result.only_compare = sorted(set(compare.datasets) - set(base.datasets))
    return [(name, base.datasets[name], compare.datasets[name])
            for name in sorted(set(base.datasets) & set(compare.datasets))]


def compare_paths(base_path: Any, compare_path: Any, opts: CompareOptions | None = None,
                  progress: Any = None) -> CompareResult:
    """Compare two dataset files, or two folders/packages (datasets matched by name)."""
    from pathlib import Path

    from cdiscmap.compare.read import read_table
    from cdiscmap.errors import display_path

    opts = opts or CompareOptions()
    base_path, compare_path = Path(base_path), Path(compare_path)
    result = CompareResult(base=display_path(base_path), compare=display_path(compare_path),
                           options=opts)
    for name, b_file, c_file in _pairs(base_path, compare_path, result):
        if progress is not None:
            progress.step(name)
        b_table = read_table(b_file, _shown(b_file, base_path))
        c_table = read_table(c_file, _shown(c_file, compare_path))
        found = compare_tables(b_table, c_table, opts, name=name)
        result.datasets.append(found)
    return result


def _shown(path: Any, root: Any) -> str:
    from cdiscmap.checks.read import relative_path

    return path.name if root.is_file() else relative_path(path, root)
