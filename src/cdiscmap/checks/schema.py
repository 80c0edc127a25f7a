"""Pandera schemas generated from the standard metadata, and their failures as findings.

One function builds the schema of any dataset from ``specs/`` (no hand-written per-domain
schema); :func:`check_dataset` checks a frame against the same rules and folds the failures
into one finding per rule x variable x distinct value, with a count, the first subject and the
raw source row.

:func:`check_dataset` does not hand the frame to pandera: pandera copies the frame and runs
every value check on every non-null cell, while the value rules here (codelists, ISO 8601
shape, 200 bytes) depend on the value alone. So each text column is factorised once
(:mod:`cdiscmap.checks.facts`), the same test functions the schema's checks call run on its
distinct values, and failures are counted back through the codes: the findings are those the
pandera schema gives (``tests/unit/test_schema.py`` compares both), in a fraction of the time.
A frame pandera would reject before any check (repeated or non-text column labels) still goes
through the schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cdiscmap.checks.facts import (
    complete_days,
    facts_cache,
    iso_date_parts,
    plain_iso_parts,
    text_facts,
)
from cdiscmap.errors import CdiscmapError
from cdiscmap.findings import Finding, Severity
from cdiscmap.standards.models import Codelist, Dataset, Standards, Variable

if TYPE_CHECKING:
    import pandera.pandas as pa


def _pandera() -> ModuleType:
    """pandera, imported on first use: :func:`check_dataset` hands a frame to it only in a
    rare case (labels it must judge), and importing it costs every command a third of a
    second of CPU."""
    import pandera.pandas

    return pandera.pandas

# Rule id -> (severity, what it means). Core designations: SDTMIG 3.4 §4.1.5.
RULES: dict[str, tuple[Severity, str]] = {
    "CMAP-SD0001": (Severity.ERROR, "A Required variable is missing from the dataset."),
    "CMAP-SD0002": (Severity.ERROR, "A Required variable is null on a record."),
    "CMAP-SD0003": (Severity.WARNING, "An Expected variable is missing from the dataset."),
    "CMAP-SD0004": (Severity.ERROR, "A column has the wrong type (Char: string; Num: float64, "
                               "ADaM dates also datetime64)."),
    "CMAP-SD0005": (Severity.ERROR, "A value is not in a non-extensible codelist or in the values "
                               "the IG fixes for the variable."),
    "CMAP-SD0006": (Severity.NOTICE, "A value is not in an extensible codelist (or in the subset "
                                "of a codelist that specs/ carries)."),
    "CMAP-SD0007": (Severity.ERROR, "A --DTC value is not an ISO 8601 date/time (partial allowed)."),
    "CMAP-SD0008": (Severity.ERROR, "A text value is longer than 200 bytes."),
    "CMAP-SD0009": (Severity.ERROR, "Several records share one value of the dataset's keys."),
    "CMAP-SD0010": (Severity.WARNING, "A variable is not in the standard metadata of the dataset."),
}

# Internal columns (conventions.md): never checked, never reported.
INTERNAL_PREFIX = "_"
SOURCE_FILE, SOURCE_ROW, SUBJECT = "_SRCFILE", "_SRCROW", "USUBJID"

# SDTMIG 3.4 §4.2.9 / §4.5.3.2: a character value holds at most 200 bytes (SAS XPT v5).
MAX_TEXT_BYTES = 200
_MAX_UTF8_BYTES_PER_CHAR = 4

# ISO 8601 extended format as SDTMIG 3.4 §4.4.1 writes it (fractional seconds and time zone
# optional) with §4.4.2 precision: right truncation, or a single hyphen for each missing
# intermediate component ("2003---15", "--12-15", "-----T07:15", "2003-12-15T-:15").
# Intervals ("a/b") and durations are not accepted: cdiscmap writes neither into --DTC.
_YEAR, _MONTH, _DAY = r"(?:\d{4}|-)", r"(?:0[1-9]|1[0-2]|-)", r"(?:0[1-9]|[12]\d|3[01]|-)"
_HOUR, _MINUTE = r"(?:[01]\d|2[0-3]|-)", r"(?:[0-5]\d|-)"
_SECOND = r"(?:[0-5]\d(?:\.\d+)?|-)"
_ZONE = r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
_TIME = rf"T{_HOUR}(?::{_MINUTE}(?::{_SECOND})?)?{_ZONE}?"
ISO8601_PATTERN = (rf"(?:{_YEAR}(?:-{_MONTH}(?:-{_DAY})?)?"
                   rf"|{_YEAR}-{_MONTH}-{_DAY}{_TIME})")
_COMPLETE_DATE_PREFIX = r"\d{4}-\d{2}-\d{2}"

_DATE_FORMATS = ("DATE", "DATETIME", "E8601")


def _per_distinct(values: pd.Series, test: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a string test once per distinct value (dates and codes repeat a lot); null -> NA."""
    codes, uniques = pd.factorize(values)
    verdict = test(pd.Series(uniques, dtype="string")).to_numpy(dtype=bool, na_value=False)
    result = pd.Series(verdict[codes] if len(verdict) else np.zeros(len(codes), dtype=bool),
                       index=values.index, dtype="boolean")
    result[codes < 0] = pd.NA
    return result


def _iso8601_distinct(text: pd.Series) -> pd.Series:
    shape_ok = text.str.fullmatch(ISO8601_PATTERN)
    # A trailing hyphen is a placeholder with no known component after it (§4.4.2: hyphens
    # stand only for *intermediate* missing components).
    shape_ok &= ~text.str.endswith("-")
    # The pattern bounds each field; a complete date must also exist on the calendar.
    complete = text.str.match(_COMPLETE_DATE_PREFIX).fillna(False).astype(bool)
    if complete.any():
        parsed = pd.to_datetime(text[complete].str.slice(0, 10), format="%Y-%m-%d",
                                errors="coerce")
        shape_ok[complete] &= parsed.notna()
    return shape_ok


_ISO8601 = re.compile(ISO8601_PATTERN)
_COMPLETE_DATE = re.compile(_COMPLETE_DATE_PREFIX)


# Of the plain shapes (facts.PLAIN_SHAPES), those ISO8601_PATTERN accepts as they are (it
# takes no hour without minutes), and each two-digit field's range in the pattern.
_PATTERN_LENGTHS = (4, 7, 10, 16, 19)
_RANGES = {"month": (1, 12), "day": (1, 31), "hour": (0, 23), "minute": (0, 59),
           "second": (0, 59)}


def _common_shapes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For distinct str ``values``: (``ok``, ``complete``, ``known``) where ``known`` marks the
    values of a plain shape the pattern accepts (:func:`~cdiscmap.checks.facts.plain_iso_parts`
    reads them as arrays), whose ``ok`` (:data:`ISO8601_PATTERN` matches, no trailing hyphen)
    and ``complete`` (starts with a complete date) are decided here, as the regexes would:
    each field in its pattern's range (month 01-12, day 01-31, hour 00-23, minute and second
    00-59). The others are left to the regexes."""
    plain = plain_iso_parts(values)
    known = plain.plain & np.isin(plain.length, _PATTERN_LENGTHS)
    ok = known.copy()
    for name, (lowest, highest) in _RANGES.items():
        field = plain.parts[name]
        ok &= np.isnan(field) | ((field >= lowest) & (field <= highest))
    return ok, known & (plain.length >= 10), known


def _iso8601_uniques(values: np.ndarray, days: np.ndarray | None = None) -> np.ndarray:
    """:func:`_iso8601_distinct` of an object array of distinct str (no nulls), as booleans:
    the same expressions called straight on each value, without a pandas string method's
    per-cell overhead (a 10,000-subject study has some 85,000 distinct --DTC values).
    ``days``: the values' :func:`~cdiscmap.checks.facts.complete_days` when known (a column's
    :attr:`TextFacts.complete_days`, which the date rules ask for too), else computed for the
    values that start with a complete date: one whose date is not on the calendar is no
    ISO 8601 date."""
    fullmatch, starts_complete = _ISO8601.fullmatch, _COMPLETE_DATE.match
    ok, complete, known = _common_shapes(values)
    rest = np.flatnonzero(~known)
    if len(rest):
        others = values[rest]
        ok[rest] = np.fromiter((fullmatch(v) is not None and not v.endswith("-")
                                for v in others), dtype=bool, count=len(rest))
        complete[rest] = np.fromiter((starts_complete(v) is not None for v in others),
                                     dtype=bool, count=len(rest))
    if complete.any():
        if days is None:
            chosen = values[complete]
            found = complete_days(chosen, iso_date_parts(chosen))
        else:
            found = days[complete]
        ok[complete] &= ~np.isnat(found)
    return ok


def is_iso8601(values: pd.Series) -> pd.Series:
    """True where a string is an SDTM ISO 8601 date/time (SDTMIG 3.4 §4.4.1-4.4.2); null -> NA."""
    return _per_distinct(values, _iso8601_distinct)


def text_within_limit(values: pd.Series, limit: int = MAX_TEXT_BYTES) -> pd.Series:
    """True where the UTF-8 encoding of a value has at most ``limit`` bytes; null -> NA."""
    text = values.astype("string")
    result = pd.Series(True, index=values.index, dtype="boolean")
    result[text.isna()] = pd.NA
    # Only values longer than limit/4 characters can pass the limit: encode just those.
    long_enough = (text.str.len() > limit // _MAX_UTF8_BYTES_PER_CHAR).fillna(False)
    long_enough = long_enough.astype(bool)
    if long_enough.any():
        encoded = text[long_enough].str.encode("utf-8").str.len()
        result[long_enough] = (encoded <= limit).to_numpy()
    return result


# ============================================================================================
# What to check per variable (shared by the schema and the finding messages)
# ============================================================================================
@dataclass(frozen=True)
class _Membership:
    rule: str                       # CMAP-SD0005 or CMAP-SD0006
    allowed: frozenset[str]
    described: str                  # for messages: "codelist AESEV (non-extensible)"


@dataclass(frozen=True)
class _Plan:
    var: Variable
    iso8601: bool
    dates_allowed: bool
    memberships: tuple[_Membership, ...]


# The terms of each codelist met so far in the process, by the codelist's id (the codelist
# is kept beside them, so the id stays its own; codelists are immutable, standards.models).
# A codelist serves many variables (NY 44 of the demo study's, UNIT 9) and LBTESTCD holds
# 2,438 terms: the datasets' own checks read 26,000 terms of 64 codelists (9,900 terms) per
# run, each a pydantic object whose first touch in a forked checks child copies its page
# (_plans of the demo's mapped datasets in a fresh fork: 12.8 -> 10.5 ms, min of 15).
# Emptied when it holds _ALLOWED_LIMIT codelists (a long-lived process loading many studies).
_ALLOWED: dict[int, tuple[Codelist, frozenset[str]]] = {}
_ALLOWED_LIMIT = 4096


def _allowed_terms(codelist: Codelist) -> frozenset[str]:
    """``frozenset(codelist.values())``, made once per codelist (see :data:`_ALLOWED`)."""
    entry = _ALLOWED.get(id(codelist))
    if entry is not None and entry[0] is codelist:
        return entry[1]
    if len(_ALLOWED) >= _ALLOWED_LIMIT:
        _ALLOWED.clear()
    terms = frozenset(codelist.values())
    _ALLOWED[id(codelist)] = (codelist, terms)
    return terms


def _membership(var: Variable, standards: Standards,
                codelist_names: list[str]) -> tuple[_Membership, ...]:
    out: list[_Membership] = []
    if var.value_list:
        # Values the IG itself fixes (DOMAIN = "AE", flags "Y"): nothing else is conformant.
        out.append(_Membership("CMAP-SD0005", frozenset(var.value_list),
                               f"the fixed values {', '.join(var.value_list)}"))
    codelists = [standards.codelist(name) for name in codelist_names]
    # A union of codelists is only decidable when every member carries its terms.
    if codelists and all(c.checkable for c in codelists):
        allowed = _allowed_terms(codelists[0]) if len(codelists) == 1 else \
            frozenset().union(*(_allowed_terms(c) for c in codelists))
        # SDTMIG 3.4 §4.3.3: extensible lists may grow; a subset may miss valid terms.
        closed = all(not c.extensible and not c.subset for c in codelists)
        kind = "non-extensible" if closed else "extensible"
        names = " or ".join(c.name for c in codelists)
        out.append(_Membership("CMAP-SD0005" if closed else "CMAP-SD0006", allowed,
                               f"codelist {names} ({kind})"))
    return tuple(out)


def _plans(dataset: Dataset, standards: Standards,
           codelist_overrides: dict[str, str | None] | None) -> dict[str, _Plan]:
    overrides = dict(codelist_overrides or {})
    for name in overrides:
        dataset.variable(name)                 # StandardsError naming dataset and variable
    plans = {}
    for var in dataset.variables:
        if var.name in overrides:
            # None: the variable's codelist depends on another variable (value-level
            # metadata, checked by the caller per where-clause)
            names = [overrides[var.name]] if overrides[var.name] is not None else []
        else:
            names = var.codelists
        plans[var.name] = _Plan(
            var=var,
            # SDTMIG 3.4 §4.4.1: every *DTC variable (--DTC, --STDTC, --ENDTC, RFSTDTC, ...).
            iso8601=var.data_type == "Char" and var.name.endswith("DTC"),
            dates_allowed=var.data_type == "Num" and bool(var.display_format)
            and var.display_format.upper().startswith(_DATE_FORMATS),
            memberships=_membership(var, standards, names),
        )
    return plans


# ============================================================================================
# The schema
# ============================================================================================
def _is_char(values: pd.Series) -> bool:
    if isinstance(values.dtype, pd.StringDtype):
        return True
    return values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in (
        "string", "empty")


def _type_ok(plan: _Plan, values: pd.Series) -> bool:
    """CMAP-SD0004 on a column's non-null values: Char is text; Num is float64 (a date
    variable also datetime64)."""
    if plan.var.data_type == "Char":
        return _is_char(values)
    if values.dtype == np.float64:
        return True
    return plan.dates_allowed and pd.api.types.is_datetime64_dtype(values.dtype)


def _type_check(plan: _Plan) -> pa.Check:
    return _pandera().Check(lambda values: _type_ok(plan, values), name="CMAP-SD0004",
                    element_wise=False)


def _guarded(test: Callable[[pd.Series], pd.Series]) -> Callable[[pd.Series], object]:
    """Run a value check only on string columns (CMAP-SD0004 reports the others).

    Pandera drops nulls before calling a check, so nulls never fail a value rule.
    """
    def check(values: pd.Series) -> pd.Series | bool:
        if not _is_char(values):
            return True
        return test(values).fillna(True).astype(bool)
    return check


def _numbers_in(membership: _Membership) -> Callable[[pd.Series], pd.Series | bool]:
    """The membership test of a Num variable: float64 values among the list's numbers."""
    numbers = pd.to_numeric(pd.Series(sorted(membership.allowed)), errors="coerce")
    allowed_numbers = set(numbers.dropna().tolist())

    def in_list(values: pd.Series) -> pd.Series | bool:
        if values.dtype != np.float64:
            return True
        return values.isin(allowed_numbers)

    return in_list


def _text_in(membership: _Membership, var: Variable) -> Callable[[pd.Series], pd.Series]:
    """The membership test of a Char variable, on non-null text values. The terms are
    sorted only when the test runs: a plain membership is asked through ``allowed`` (a set
    lookup per distinct value, :func:`_text_failures`), and sorting LBTESTCD's 2,438 terms
    for every variable that never runs the test was wasted."""
    if var.name.endswith("STRESC"):
        # SDTMIG 3.4 §4.5.1.1: --STRESC mixes coded results with numeric results written as
        # text (also in --STRESN); a number there is a measurement, not a term of the codelist.
        def in_list_or_number(values: pd.Series) -> pd.Series:
            return values.isin(sorted(membership.allowed)) | _is_number(values)
        in_list_or_number.allowed = membership.allowed      # type: ignore[attr-defined]
        in_list_or_number.numbers = True                    # type: ignore[attr-defined]
        return in_list_or_number

    def in_list(values: pd.Series) -> pd.Series:
        return values.isin(sorted(membership.allowed))
    in_list.allowed = membership.allowed      # type: ignore[attr-defined]  # see _text_failures
    return in_list


def _text_tests(plan: _Plan) -> list[tuple[str, Callable[[pd.Series], pd.Series]]]:
    """(rule, test) of every value rule of a Char variable: a test takes non-null text values
    and says which conform. Value-only tests, so they may run on distinct values."""
    tests: list[tuple[str, Callable[[pd.Series], pd.Series]]] = []
    if plan.iso8601:
        tests.append(("CMAP-SD0007", is_iso8601))
    tests.append(("CMAP-SD0008", text_within_limit))
    tests.extend((m.rule, _text_in(m, plan.var)) for m in plan.memberships)
    return tests


def _membership_check(membership: _Membership, var: Variable) -> pa.Check:
    pa = _pandera()
    if var.data_type == "Num":
        return pa.Check(_numbers_in(membership), name=membership.rule)
    return pa.Check(_guarded(_text_in(membership, var)), name=membership.rule)


def _is_number(values: pd.Series) -> pd.Series:
    return _per_distinct(values, lambda text: pd.to_numeric(text, errors="coerce").notna())


def _column(plan: _Plan) -> pa.Column:
    pa = _pandera()
    var = plan.var
    checks = [_type_check(plan)]
    if var.data_type == "Char":
        checks.extend(pa.Check(_guarded(test), name=rule) for rule, test in _text_tests(plan))
    else:
        checks.extend(_membership_check(m, var) for m in plan.memberships)
    return pa.Column(
        None,                                   # types are checked by CMAP-SD0004, not coerced
        checks=checks,
        nullable=var.core != "Req",
        required=var.core in ("Req", "Exp"),
        name=var.name,
    )


def build_schema(dataset: Dataset, standards: Standards, *,
                 codelist_overrides: dict[str, str | None] | None = None) -> pa.DataFrameSchema:
    """The pandera schema of ``dataset``, generated from its metadata.

    ``codelist_overrides`` maps a variable to a codelist name (e.g. ``{"AETOXGR": "TOXGR"}``)
    and replaces the IG's codelists for it. Columns starting with "_" are allowed and ignored;
    any other column not in the metadata fails (strict).
    """
    return _schema(dataset, _plans(dataset, standards, codelist_overrides))


def _schema(dataset: Dataset, plans: dict[str, _Plan]) -> pa.DataFrameSchema:
    pa = _pandera()
    columns = {name: _column(plan) for name, plan in plans.items()}
    columns[f"^{INTERNAL_PREFIX}"] = pa.Column(None, regex=True, required=False, nullable=True)
    return pa.DataFrameSchema(
        columns=columns,
        strict=True,
        ordered=False,
        # SDTMIG 3.4 §4.1.9: the natural keys identify a record.
        unique=list(dataset.keys) or None,
        report_duplicates="all",
        name=dataset.name,
    )


# ============================================================================================
# Failures -> findings
# ============================================================================================
_PANDERA_RULE = {"not_nullable": "CMAP-SD0002", "column_in_schema": "CMAP-SD0010",
                 "multiple_fields_uniqueness": "CMAP-SD0009"}


def check_dataset(frame: pd.DataFrame, dataset: Dataset, standards: Standards, *,
                  codelist_overrides: dict[str, str | None] | None = None,
                  dataset_name: str | None = None) -> list[Finding]:
    """Check ``frame`` against the metadata of ``dataset``; return aggregated findings.

    ``dataset_name`` names the dataset in findings when it differs from the metadata name
    (e.g. "SUPPAE" checked against SUPPQUAL).
    """
    plans = _plans(dataset, standards, codelist_overrides)
    if not (isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0
            and frame.index.step == 1):
        frame = frame.reset_index(drop=True)    # failure indexes become row positions
    report = _Report(frame, dataset, plans, dataset_name or dataset.name)
    with facts_cache():                         # nulls, keys and value rules share codes
        failures = _failures(frame, dataset, plans)
    if failures is None:                        # labels pandera must judge: run the schema
        from pandera.errors import SchemaErrors

        try:
            _schema(dataset, plans).validate(frame, lazy=True)
        except SchemaErrors as errors:
            return report.findings(errors.failure_cases)
        return []
    return report.from_failures(failures)


@dataclass
class _Failures:
    """What the schema would report, already counted: missing variables, column-level rules
    (type, not in the metadata), duplicated keys, and per (rule, variable, value) the first
    row and the number of rows (``value`` as the finding shows it; nulls are "")."""

    missing: list[str]
    column_level: list[tuple[str, str]]
    duplicates: bool
    values: dict[tuple[str, str, str], tuple[int, int]]

    def add(self, rule: str, variable: str, value: str, first: int, count: int) -> None:
        key = (rule, variable, value)
        if key in self.values:                  # two checks of one rule: pandera lists both
            seen_first, seen_count = self.values[key]
            first, count = min(first, seen_first), count + seen_count
        self.values[key] = (first, count)


def _failures(frame: pd.DataFrame, dataset: Dataset, plans: dict[str, _Plan]
              ) -> _Failures | None:
    """The schema's failures found column by column on distinct values (see the module
    docstring); None when the frame's labels are repeated or not text (pandera's case)."""
    labels = list(frame.columns)
    if not all(isinstance(c, str) for c in labels) or len(set(labels)) != len(labels):
        return None
    found = _Failures(
        missing=[name for name, plan in plans.items()
                 if plan.var.core in ("Req", "Exp") and name not in frame.columns],
        column_level=[("CMAP-SD0010", c) for c in labels
                      if c not in plans and not c.startswith(INTERNAL_PREFIX)],
        duplicates=False, values={})
    keys = [k for k in dataset.keys if k in frame.columns]
    if keys:
        # pandera lists the key cells of duplicated records without their nulls: records
        # that share all-null keys alone report nothing
        duplicated = duplicated_rows(frame, keys)
        if duplicated.any():
            found.duplicates = bool(frame.loc[duplicated, keys].notna().to_numpy().any())
    for name, plan in plans.items():
        if name not in frame.columns:
            continue
        series = frame[name]
        present = series.dropna() if series.dtype == object else series
        if plan.var.core == "Req":
            nulls = _null_rows(series)
            if len(nulls):
                found.add("CMAP-SD0002", name, "", int(nulls[0]), len(nulls))
        if not _type_ok(plan, present):
            found.column_level.append(("CMAP-SD0004", name))
        if plan.var.data_type == "Char":
            if _is_char(present) and not _text_failures(found, name, series, plan):
                return None
        else:
            _number_failures(found, name, series, plan)
    return found


def _null_rows(series: pd.Series) -> np.ndarray:
    """Positions of the null records; a "string" column's from its codes (an object scan of
    every cell otherwise)."""
    facts = text_facts(series) if isinstance(series.dtype, pd.StringDtype) else None
    if facts is not None:
        return np.flatnonzero(facts.codes < 0)
    if not series.hasnans:
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(series.isna().to_numpy())


def _key_codes(series: pd.Series) -> tuple[np.ndarray, int]:
    """Codes of a key column's values, null its own code 0 (as ``DataFrame.duplicated``
    treats nulls), and how many codes there are. Whole numbers from 0 to the number of
    records (--SEQ, VISITNUM) are their own codes, shifted by one: no hash of the column."""
    facts = text_facts(series) if isinstance(series.dtype, pd.StringDtype) else None
    if facts is not None:           # one new array, not a copy and then a sum
        return np.add(facts.codes, 1, dtype=np.int64), len(facts.uniques) + 1
    whole = _whole_number_codes(series)
    if whole is not None:
        return whole
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return np.add(codes, 1, dtype=np.int64), len(uniques) + 1


def _whole_number_codes(series: pd.Series) -> tuple[np.ndarray, int] | None:
    """A float64 column of whole numbers between 0 and its length (NaN allowed) as codes:
    the number plus one, NaN 0 (-0.0 is 0.0, as pandas compares them)."""
    if series.dtype != np.float64 or not len(series):
        return None
    values = series.to_numpy()
    missing = np.isnan(values)
    given = values[~missing]
    if len(given) and (given.min() < 0 or given.max() > len(values) or
                       (given != np.floor(given)).any()):
        return None
    codes = np.where(missing, 0, values + 1).astype(np.int64)
    return codes, int(given.max()) + 2 if len(given) else 1


def duplicated_rows(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """``frame.duplicated(keys, keep=False)`` as a boolean array: every record whose key
    values (nulls equal to nulls) another record shares. Text keys are taken by their codes
    (:func:`cdiscmap.checks.facts.text_facts`, shared with the other checks) and combined as
    integers, instead of hashing each key's text again. Usually a few keys already tell every
    record apart (the subject and --SEQ): when the keys with the most values, combined
    while they fit a table, have no combination twice (one ``bincount``), no record is
    duplicated and nothing is hashed."""
    coded = [_key_codes(frame[key]) for key in keys]
    if _unique_by_table(keys, coded):
        return np.zeros(len(frame), dtype=bool)
    combined = np.zeros(len(frame), dtype=np.int64)
    size = 1
    for codes, count in coded:
        if size * count >= 2 ** 62:                 # keep the combined number exact
            combined, uniques = pd.factorize(combined)
            size = len(uniques)
        combined = combined * count + codes
        size *= count
    return pd.Series(combined, copy=False).duplicated(keep=False).to_numpy()


# key combinations marked in a table of flags (32 MiB at most) rather than hashed; the table
# is filled and counted end to end (about 1 ns an entry), hashing costs about 20 ns a record:
# a table much larger than the records costs more than the hashing it could spare (a 32 Mi
# table took 25-36 ms for a few thousand records), so it holds at most 16 entries a record
_TABLE_LIMIT = 1 << 25
_TABLE_PER_RECORD = 16
_TABLE_FLOOR = 1 << 16


def table_fits(size: int, records: int) -> bool:
    """Whether ``records`` keys from 0 to ``size`` - 1 are marked in a table of flags rather
    than hashed: at most :data:`_TABLE_LIMIT` entries, and at most :data:`_TABLE_PER_RECORD`
    entries a record above :data:`_TABLE_FLOOR` (the key tables of the checks: here,
    ``checks.crossdomain``'s, ``checks.adam_rules``')."""
    return size <= min(_TABLE_LIMIT, max(_TABLE_FLOOR, _TABLE_PER_RECORD * records))


def _unique_by_table(keys: list[str], coded: list[tuple[np.ndarray, int]]) -> bool:
    """Whether some of the keys give every record its own combination (then so do all the
    keys): --SEQ (unique within a subject, SDTMIG 3.4 §4.1.5), USUBJID, then the keys with
    the most values, combined while their combinations fit the table (:func:`table_fits`),
    and the combinations present
    counted in a table of flags. False means "not shown"."""
    def priority(at: int) -> tuple[int, int]:
        name = keys[at]
        return (0 if name.endswith("SEQ") else 1 if name == "USUBJID" else 2, -coded[at][1])

    records = len(coded[0][0]) if coded else 0
    combined, size = None, 1
    for at in sorted(range(len(keys)), key=priority):
        codes, count = coded[at]
        if not table_fits(size * count, records):
            continue
        combined = codes if combined is None else combined * count + codes
        size *= count
    if combined is None or not len(combined):
        return False
    seen = np.zeros(size, dtype=bool)
    seen[combined] = True
    return int(np.count_nonzero(seen)) == len(combined)


def _text_failures(found: _Failures, name: str, series: pd.Series, plan: _Plan) -> bool:
    """Run the Char value rules on the column's distinct values; False when the column cannot
    be factorised as text (then the caller lets pandera check the frame)."""
    facts = text_facts(series)
    if facts is None:
        return False
    if not len(facts.uniques):
        return True
    for rule, test in _text_tests(plan):
        if test is text_within_limit:           # the bytes of each value are known already
            conform = facts.byte_lengths <= MAX_TEXT_BYTES
        elif test is is_iso8601:                # the values are distinct already
            conform = _iso8601_uniques(facts.uniques, facts.complete_days)
        elif hasattr(test, "allowed"):          # plain membership: a set lookup per value
            allowed = test.allowed
            conform = np.fromiter((value in allowed for value in facts.uniques), dtype=bool,
                                  count=len(facts.uniques))
            if getattr(test, "numbers", False) and not conform.all():
                # --STRESC: or a number (_is_number of the distinct values, which they are
                # already: pd.to_numeric of them all, as one call decides their parse)
                conform |= pd.to_numeric(facts.distinct, errors="coerce").notna().to_numpy(
                    dtype=bool, na_value=False)
        else:
            conform = test(facts.distinct).fillna(True).to_numpy(dtype=bool)
        if conform.all():
            continue
        codes, first, count = facts.first_rows(~conform)
        for code, row, n in zip(codes.tolist(), first.tolist(), count.tolist(), strict=True):
            found.add(rule, name, str(facts.uniques[code]), row, n)
    return True


def _number_failures(found: _Failures, name: str, series: pd.Series, plan: _Plan) -> None:
    """Membership of a Num variable's float64 values (other dtypes are CMAP-SD0004's)."""
    if series.dtype != np.float64 or not plan.memberships:
        return
    values = series.to_numpy()
    present = ~np.isnan(values)
    for membership in plan.memberships:
        bad = present & ~np.asarray(_numbers_in(membership)(series), dtype=bool)
        if not bad.any():
            continue
        rows = np.flatnonzero(bad)
        # distinct by bit pattern, so -0.0 and 0.0 stay apart as the text of each does
        codes, _ = pd.factorize(values[rows].view(np.int64))
        _, first, count = np.unique(codes, return_index=True, return_counts=True)
        for row, n in zip(rows[first].tolist(), count.tolist(), strict=True):
            found.add(membership.rule, name, str(float(values[row])), row, n)


class _Report:
    """Turns pandera's failure-case table into findings for people."""

    def __init__(self, frame: pd.DataFrame, dataset: Dataset, plans: dict[str, _Plan],
                 name: str) -> None:
        self.frame, self.dataset, self.plans, self.name = frame, dataset, plans, name

    def findings(self, cases: pd.DataFrame) -> list[Finding]:
        cases = cases.copy()
        cases["rule"] = cases["check"].map(_PANDERA_RULE).fillna(cases["check"])
        unknown = set(cases["rule"]) - set(RULES) - {"column_in_dataframe"}
        if unknown:
            raise CdiscmapError(f"internal: unexpected schema failure {sorted(unknown)} for "
                                f"{self.name}; please report this")
        missing = cases["check"] == "column_in_dataframe"
        out: list[Finding] = []
        out += [self._missing(str(v)) for v in cases.loc[missing, "failure_case"]]
        out += [self._column_level(rule, str(column if rule == "CMAP-SD0004" else value))
                for rule, column, value in cases.loc[
                    cases["rule"].isin(["CMAP-SD0004", "CMAP-SD0010"]),
                    ["rule", "column", "failure_case"]].itertuples(index=False)]
        if (cases["rule"] == "CMAP-SD0009").any():
            out += self._duplicates()
        value_rules = cases[cases["rule"].isin(["CMAP-SD0002", "CMAP-SD0005", "CMAP-SD0006", "CMAP-SD0007",
                                                "CMAP-SD0008"])]
        out += self._values(value_rules)
        return sorted(out, key=lambda f: (f.rule, f.variable, f.value, f.source))

    def from_failures(self, failures: _Failures) -> list[Finding]:
        """Findings of the failures :func:`_failures` counted (as :meth:`findings` makes them
        from pandera's failure cases)."""
        out = [self._missing(v) for v in failures.missing]
        out += [self._column_level(rule, variable) for rule, variable in failures.column_level]
        if failures.duplicates:
            out += self._duplicates()
        out += [self._finding(rule, self._message(rule, variable, value), variable,
                              _shorten(value), first, count)
                for (rule, variable, value), (first, count) in sorted(failures.values.items())]
        return sorted(out, key=lambda f: (f.rule, f.variable, f.value, f.source))

    def _finding(self, rule: str, message: str, variable: str, value: str = "",
                 position: int | None = None, count: int = 1) -> Finding:
        usubjid = source = ""
        if position is not None:
            row = self.frame.iloc[position]
            if SUBJECT in self.frame.columns and pd.notna(row[SUBJECT]):
                usubjid = str(row[SUBJECT])
            if SOURCE_FILE in self.frame.columns and SOURCE_ROW in self.frame.columns:
                source = f"{row[SOURCE_FILE]} row {row[SOURCE_ROW]}"
        return Finding(rule=rule, severity=RULES[rule][0], message=message,
                       dataset=self.name, usubjid=usubjid, variable=variable, value=value,
                       source=source, count=count)

    def _missing(self, variable: str) -> Finding:
        core = self.plans[variable].var.core
        rule = "CMAP-SD0001" if core == "Req" else "CMAP-SD0003"
        kind = "Required" if core == "Req" else "Expected"
        return self._finding(rule, f"{kind} variable {variable} is missing from {self.name}",
                             variable)

    def _column_level(self, rule: str, variable: str) -> Finding:
        if rule == "CMAP-SD0010":
            return self._finding(rule, f"{variable} is not in the {self.dataset.standard} "
                                       f"metadata of {self.dataset.name}", variable)
        plan = self.plans[variable]
        expected = "a string column" if plan.var.data_type == "Char" else "float64"
        if plan.dates_allowed:
            expected += " or datetime64"
        found = str(self.frame[variable].dtype)
        return self._finding(rule, f"{variable} ({plan.var.data_type}) is {found}, expected "
                                   f"{expected}", variable, found)

    def _duplicates(self) -> list[Finding]:
        keys = [k for k in self.dataset.keys if k in self.frame.columns]
        duplicated = self.frame.duplicated(keys, keep=False)
        rows = self.frame.loc[duplicated, keys]
        key_text = pd.Series("", index=rows.index, dtype="string")
        for number, key in enumerate(keys):
            separator = ", " if number else ""
            key_text = key_text + f"{separator}{key}=" + _as_text(rows[key])
        groups = pd.DataFrame({"key": key_text, "position": rows.index})
        summary = groups.groupby("key", sort=True)["position"].agg(["min", "size"])
        variable = ", ".join(keys)
        return [self._finding("CMAP-SD0009", f"{count} {self.name} records share the key {key}",
                              variable, key, int(first), int(count))
                for key, (first, count) in summary.iterrows()]

    def _values(self, cases: pd.DataFrame) -> list[Finding]:
        if cases.empty:
            return []
        values = pd.Series(cases["failure_case"].to_numpy(), dtype=object)
        table = pd.DataFrame({
            "rule": cases["rule"].to_numpy(),
            "variable": cases["column"].astype(str).to_numpy(),
            "value": values.astype(str).where(values.notna(), "").to_numpy(),
            "position": pd.to_numeric(cases["index"]).to_numpy(),
        })
        summary = table.groupby(["rule", "variable", "value"], sort=True)["position"].agg(
            ["min", "size"])
        return [self._finding(rule, self._message(rule, variable, value), variable,
                              _shorten(value), int(first), int(count))
                for (rule, variable, value), (first, count) in summary.iterrows()]

    def _message(self, rule: str, variable: str, value: str) -> str:
        if rule == "CMAP-SD0002":
            return f"Required variable {variable} is null"
        if rule == "CMAP-SD0007":
            return f"{variable} value {value!r} is not an ISO 8601 date/time"
        if rule == "CMAP-SD0008":
            size = len(value.encode("utf-8"))
            return f"{variable} value is {size} bytes, more than {MAX_TEXT_BYTES}"
        failing = [m.described for m in self.plans[variable].memberships
                   if m.rule == rule and value not in m.allowed]
        return f"{variable} value {value!r} is not in {' nor '.join(failing)}"


def _as_text(values: pd.Series) -> pd.Series:
    """Values as strings for messages: whole floats without ".0", null as ""."""
    if values.dtype == np.float64:
        finite = values.dropna()
        if (finite == np.floor(finite)).all():
            values = values.astype("Int64")
    return values.astype("string").fillna("")


def _shorten(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


__all__ = ["RULES", "build_schema", "check_dataset", "duplicated_rows", "is_iso8601",
           "text_within_limit"]
