"""Plausibility of SDTM values: impossible dates, negative measures, AGE against BRTHDTC.

These values pass the schema (a well-formed ISO 8601 date in year 0000 is still well-formed) but
cannot be true, and usually betray a placeholder or a keying error in the raw export. Each rule
has an id, a default severity and a one-line explanation in ``RULES``; a study may set the
thresholds and severities in study.yaml ``plausibility:`` (:class:`PlausibilitySpec`).
Findings name dataset, subject, variable, value and the raw row (``_SRCFILE``/``_SRCROW``)
when the data carries lineage. Everything is computed on columns (dates on their distinct
values), never per record in Python.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cdiscmap.checks.crossdomain import domain_class
from cdiscmap.checks.facts import facts_cache, iso_date_parts, text_facts
from cdiscmap.findings import Finding, Severity
from cdiscmap.sdtm.vectorize import coded, codes_cache
from cdiscmap.spec.plausibility import PlausibilitySpec
from cdiscmap.standards.models import Standards

RULES: dict[str, tuple[Severity, str]] = {
    "CMAP-PL0001": (Severity.WARNING, "date before the earliest plausible date (study.yaml "
                                 "plausibility.earliest_date, default 1900-01-01)"),
    "CMAP-PL0002": (Severity.WARNING, "date after the data cut-off (plausibility.data_cutoff, else "
                                 "TS DCUTDTC)"),
    "CMAP-PL0003": (Severity.ERROR, "date in year 0000 or 9999: a placeholder, not a date"),
    "CMAP-PL0004": (Severity.ERROR, "negative age, dose or lesion diameter"),
    "CMAP-PL0005": (Severity.WARNING, "AGE differs by more than 1 year from the age BRTHDTC gives "
                                 "at RFSTDTC (else DMDTC)"),
    "CMAP-PL0006": (Severity.WARNING, "AGE above plausibility.max_age_years (default 120)"),
}

PER_RECORD_LIMIT = 100     # above this, one finding per distinct value (with its count)
# lesion size tests (CDISC CT TRTESTCD: longest diameter, longest perpendicular, sums)
DIAMETER_TESTS = ("LDIAM", "LPERP", "SUMDIAM", "SUMNLNLD", "DIAMETER")
FINDINGS_CLASSES = ("Findings", "Findings About")
# AGEU (CDISC CT AGEU) → factor to years; AGE without AGEU is taken as years
_YEARS_PER = {"YEARS": 1.0, "MONTHS": 1 / 12, "WEEKS": 7 / 365.25, "DAYS": 1 / 365.25,
              "HOURS": 1 / 8766.0}


# ============================================================================================
# Reporting
# ============================================================================================
def _source(frame: pd.DataFrame) -> pd.Series:
    if "_SRCFILE" in frame and "_SRCROW" in frame:
        row = pd.to_numeric(frame["_SRCROW"], errors="coerce").astype("Int64").astype("string")
        return (frame["_SRCFILE"].astype("string") + " row " + row).fillna("")
    return pd.Series("", index=frame.index, dtype="string")


def _emit(rule: str, settings: PlausibilitySpec, dataset: str, variable: str,
          bad: pd.DataFrame, values: pd.Series, detail: str = "") -> list[Finding]:
    """One finding per offending record while they are few, else one per distinct value; a
    rule a study turned into a notice (``plausibility.severities``) is always one finding per
    distinct value, with its count, as the other notices are (a report is read in a minute)."""
    if bad.empty:
        return []
    severity = Severity(settings.severities.get(rule, RULES[rule][0].value))
    message = RULES[rule][1] + detail
    table = pd.DataFrame({
        "u": (bad["USUBJID"].astype("string").fillna("") if "USUBJID" in bad
              else pd.Series("", index=bad.index)),
        "v": values.loc[bad.index].astype("string").fillna(""),
        "s": _source(bad)})
    if len(table) > PER_RECORD_LIMIT or severity == Severity.NOTICE:
        grouped = table.groupby("v", sort=True)
        first, counts = grouped.first(), grouped.size()
        return [Finding(rule, severity, message, dataset, str(r["u"]), variable, str(v),
                        str(r["s"]), int(counts[v])) for v, r in first.iterrows()]
    return [Finding(rule, severity, message, dataset, u, variable, v, s)
            for u, v, s in zip(table["u"], table["v"], table["s"], strict=True)]


# ============================================================================================
# Dates
# ============================================================================================
def _date_parts(dtc: pd.Series) -> pd.DataFrame:
    """Year, month, day (NaN where absent) of ISO 8601 dates, computed on distinct values."""
    codes, uniques = coded(dtc)       # remembered: the CR and XD rules ask the same columns
    if not len(uniques):
        return pd.DataFrame({"Y": np.nan, "M": np.nan, "D": np.nan}, index=dtc.index)
    taken = iso_date_parts(np.asarray(uniques, dtype=object))[np.where(codes < 0, 0, codes)]
    taken[codes < 0] = np.nan
    return pd.DataFrame(taken, index=dtc.index, columns=["Y", "M", "D"])


def _key(day: date) -> float:
    return day.year * 10000 + day.month * 100 + day.day


def _cutoff(domains: dict[str, pd.DataFrame], settings: PlausibilitySpec) -> date | None:
    if settings.data_cutoff is not None:
        return settings.data_cutoff
    ts = domains.get("TS")
    if ts is None or not {"TSPARMCD", "TSVAL"} <= set(ts.columns):
        return None
    value = ts.loc[ts["TSPARMCD"].astype("string") == "DCUTDTC", "TSVAL"].dropna()
    try:
        return date.fromisoformat(str(value.iloc[0])[:10]) if len(value) else None
    except ValueError:
        return None


def _distinct_dates(dtc: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: null) of a date column and the year, month, day of each distinct value
    (float64 columns, NaN where not given): the column's text facts and their date parts,
    shared with the XD and CR rules while facts_cache is open (:attr:`TextFacts.date_parts`;
    read-only, as every consumer shares it)."""
    facts = text_facts(dtc) if isinstance(dtc.dtype, pd.StringDtype) else None
    if facts is not None:
        return facts.codes, facts.date_parts
    codes, uniques = coded(dtc)
    return codes, iso_date_parts(np.asarray(uniques, dtype=object))


def _rows(codes: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """A test of the distinct values (``hit``) taken to the rows; null rows False."""
    return np.append(np.asarray(hit, dtype=bool), False)[codes]


def _check_dates(name: str, frame: pd.DataFrame, settings: PlausibilitySpec,
                 cutoff: date | None) -> list[Finding]:
    """PL0001-PL0003, each asked of the distinct values of every --DTC column."""
    out: list[Finding] = []
    earliest = _key(settings.earliest_date)
    for variable in [c for c in frame.columns if str(c).endswith("DTC")]:
        codes, parts = _distinct_dates(frame[variable])
        # the distinct values' year, month, day as arrays (a handful of numpy passes over
        # a few thousand values; pandas' per-call cost dominates otherwise)
        year, month, day = parts[:, 0], parts[:, 1], parts[:, 2]
        placeholder = (year == 0) | (year == 9999)
        real = ~np.isnan(year) & ~placeholder
        # wholly before the earliest date: even its latest completion is earlier
        latest = year * 10000 + np.where(np.isnan(month), 12, month) * 100 + \
            np.where(np.isnan(day), 31, day)
        before = real & (latest < earliest)
        after = None
        if cutoff is not None:
            first = year * 10000 + np.where(np.isnan(month), 1, month) * 100 + \
                np.where(np.isnan(day), 1, day)
            after = real & (first > _key(cutoff))
        for rule, hit, detail in (
                ("CMAP-PL0003", placeholder, ""),
                ("CMAP-PL0001", before, f"; earliest {settings.earliest_date.isoformat()}"),
                ("CMAP-PL0002", after, f"; cut-off {cutoff.isoformat()}" if cutoff else "")):
            if hit is not None and hit.any():
                out += _emit(rule, settings, name, variable, frame[_rows(codes, hit)],
                             frame[variable], detail)
    return out


# ============================================================================================
# Numbers and age
# ============================================================================================
def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _check_negative(name: str, frame: pd.DataFrame, settings: PlausibilitySpec,
                    class_name: str | None = None) -> list[Finding]:
    out: list[Finding] = []
    measures = [c for c in frame.columns if c == "AGE" or
                (len(c) >= 6 and c[2:] in ("DOSE", "DOSTOT") and c[:2] == name[:2])]
    # the records are selected only when some are negative (a selection of no record still
    # copies every column: ≈ 0.3 ms a dataset and rule)
    for variable in measures:
        bad = (_numbers(frame[variable]) < 0).fillna(False)
        if bad.any():
            out += _emit("CMAP-PL0004", settings, name, variable, frame[bad],
                         frame[variable])
    test, result = f"{name[:2]}TESTCD", f"{name[:2]}STRESN"
    # a lesion size is a Findings result (TR, or any findings domain, custom ones included,
    # that measures lesions with the TRTESTCD diameter tests)
    if class_name in FINDINGS_CLASSES and test in frame and result in frame:
        facts = text_facts(frame[test]) if isinstance(frame[test].dtype, pd.StringDtype) \
            else None                   # asked of the distinct test codes, not each record
        diameter = facts.isin(list(DIAMETER_TESTS)) if facts is not None else \
            frame[test].astype("string").isin(DIAMETER_TESTS).fillna(False)
        bad = diameter & (_numbers(frame[result]) < 0).fillna(False)
        if bad.any():
            out += _emit("CMAP-PL0004", settings, name, result, frame[bad], frame[result])
    return out


def _age_years(dm: pd.DataFrame) -> pd.Series:
    """AGE in years (AGEU YEARS/MONTHS/WEEKS/DAYS/HOURS; NaN for another unit)."""
    age = _numbers(dm["AGE"])
    if "AGEU" not in dm:
        return age
    unit = dm["AGEU"].astype("string").str.strip().str.upper().fillna("YEARS")
    return age * unit.map(_YEARS_PER).astype("float64")


def _completed_years(reference: pd.DataFrame, birth: pd.DataFrame) -> pd.Series:
    """Whole years from ``birth`` to ``reference`` (both Y/M/D frames, complete)."""
    years = reference["Y"] - birth["Y"]
    earlier = (reference["M"] * 100 + reference["D"]) < (birth["M"] * 100 + birth["D"])
    return years - earlier.astype("float64")


def _check_age(dm: pd.DataFrame, settings: PlausibilitySpec) -> list[Finding]:
    if "AGE" not in dm:
        return []
    age = _age_years(dm)
    out = _emit("CMAP-PL0006", settings, "DM", "AGE", dm[(age > settings.max_age_years).fillna(False)],
                dm["AGE"], f"; maximum {settings.max_age_years:g} years")
    if "BRTHDTC" not in dm:
        return out
    reference = pd.Series(pd.NA, index=dm.index, dtype="string")
    for variable in ("DMDTC", "RFSTDTC"):           # RFSTDTC first, DMDTC where it is missing
        if variable in dm:
            reference = dm[variable].astype("string").where(dm[variable].notna(), reference)
    ref = _date_parts(reference)
    birth = _date_parts(dm["BRTHDTC"])
    complete_ref = ref.notna().all(axis=1)
    # a partial birth date (year, or year-month) allows a range of ages
    earliest_birth = pd.DataFrame({"Y": birth["Y"], "M": birth["M"].fillna(1),
                                   "D": birth["D"].fillna(1)})
    latest_birth = pd.DataFrame({"Y": birth["Y"], "M": birth["M"].fillna(12),
                                 "D": birth["D"].fillna(31)})
    oldest = _completed_years(ref, earliest_birth)
    youngest = _completed_years(ref, latest_birth)
    usable = complete_ref & birth["Y"].notna() & age.notna()
    wrong = (usable & ((age < youngest - 1) | (age > oldest + 1))).fillna(False)
    if not wrong.any():
        return out
    # the text shown only for the records reported (each record's own text: the same strings)
    bad = dm[wrong]
    shown = ("AGE=" + bad["AGE"].astype("string").fillna("") + " BRTHDTC="
             + bad["BRTHDTC"].astype("string").fillna("") + " reference="
             + reference[wrong].fillna(""))
    return out + _emit("CMAP-PL0005", settings, "DM", "AGE", bad, shown)


# ============================================================================================
# Entry point
# ============================================================================================
def check_plausibility(domains: dict[str, pd.DataFrame],
                       settings: PlausibilitySpec | None = None, *,
                       standards: Standards | None = None) -> list[Finding]:
    """PL findings for SDTM ``domains`` (by name); ``settings`` from study.yaml or defaults.

    ``standards`` gives each dataset's SDTM class (default specs/;
    :func:`cdiscmap.checks.crossdomain.domain_class`).

    The data cut-off is ``settings.data_cutoff``, else TS DCUTDTC when TS has it, else no
    after-cut-off check runs.
    """
    with facts_cache(), codes_cache():
        return _check_plausibility(domains, settings or PlausibilitySpec(), standards)


def _check_plausibility(domains: dict[str, pd.DataFrame], settings: PlausibilitySpec,
                        standards: Standards | None) -> list[Finding]:
    cutoff = _cutoff(domains, settings)
    out: list[Finding] = []
    for name, frame in domains.items():
        if frame is None or frame.empty:
            continue
        out += _check_dates(name, frame, settings, cutoff)
        out += _check_negative(name, frame, settings, domain_class(name, frame, standards))
    dm = domains.get("DM")
    if dm is not None and not dm.empty:
        out += _check_age(dm, settings)
    return out


__all__ = ["DIAMETER_TESTS", "RULES", "check_plausibility"]
