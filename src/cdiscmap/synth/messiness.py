"""Realistic messiness of an EDC export, and the planted defects that must produce findings.

Messiness is what every real export shows and the mappings must absorb without a finding:
two date styles, partial dates, mixed case, spelled-out codes. Planted defects are values a
correct pipeline must report; each one is written to ``truth/planted_defects.csv`` with its file,
1-based data row, column and value. Planted investigator/RECIST disagreements go to
``truth/planted_disagreements.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cdiscmap.synth import recist_truth as rt

MONTHS = np.array(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                   "DEC"])
_TWO_DIGITS = np.array([f"{i:02d}" for i in range(100)])

# How much of a date is unknown (the EDC's "UN"/"UNK" convention).
COMPLETE = 0
DAY_UNKNOWN = 1
MONTH_UNKNOWN = 2   # day and month unknown
ALL_UNKNOWN = 3

DEFECT_COLUMNS = ["FILE", "ROW", "SUBJECT", "COLUMN", "VALUE", "DEFECT"]
DISAGREEMENT_COLUMNS = ["SUBJECT", "VISIT", "INVESTIGATOR", "RECIST"]

# Spelled-out forms an investigator sometimes types instead of the code.
SPELLED_RESPONSES: dict[str, tuple[str, ...]] = {
    rt.CR: ("Complete response",),
    rt.PR: ("Partial response", "partial response"),
    rt.SD: ("Stable disease", "stable disease"),
    rt.PD: ("Progressive disease",),
    rt.NE: ("Not evaluable",),
    rt.NON_CR_NON_PD: ("Non-CR/Non-PD",),
    rt.NOT_ALL_EVALUATED: ("Not all evaluated",),
}

# A planted disagreement replaces the RECIST answer by a plausible neighbour.
DISAGREEING_RESPONSE = {rt.CR: rt.PR, rt.PR: rt.SD, rt.SD: rt.PR, rt.PD: rt.SD, rt.NE: rt.SD,
                        rt.NON_CR_NON_PD: rt.CR}

# Planted AE defects (contract: docs/raw-forms.md, ae.csv).
NON_ASCII_TERM = "Nausée"
LONG_TERM_TAIL = (" reported by the patient at the cycle visit, occurring within one hour after"
                  " each morning intake of the study drug, lasting most of the day, partially"
                  " relieved by metoclopramide and by taking the capsules with a light meal")


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------

def date_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month (1-12) and day (1-31) of integer days since 1970-01-01."""
    as_date = days.astype("int64").astype("datetime64[D]")
    months = as_date.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype("int64") + 1970
    month = months.astype("int64") % 12 + 1
    day = (as_date - months).astype("int64") + 1
    return year, month, day


def _blank_where_missing(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    missing = ~np.isfinite(days)
    return np.where(missing, 0, days).astype("int64"), missing


def format_dmy(days: np.ndarray, unknown: np.ndarray | None = None) -> np.ndarray:
    """``05-MAR-2014``; partial ``UN-MAR-2014``, ``UN-UNK-2014``, ``UN-UNK-UNKN``; NaN -> ""."""
    filled, missing = _blank_where_missing(np.asarray(days, dtype="float64"))
    year, month, day = date_parts(filled)
    level = np.zeros(len(filled), dtype=np.int8) if unknown is None else unknown
    dd = np.where(level >= DAY_UNKNOWN, "UN", _TWO_DIGITS[day])
    mon = np.where(level >= MONTH_UNKNOWN, "UNK", MONTHS[month - 1])
    yyyy = np.where(level >= ALL_UNKNOWN, "UNKN", year.astype("U4"))
    text = np.char.add(np.char.add(np.char.add(dd, "-"), np.char.add(mon, "-")), yyyy)
    return np.where(missing, "", text)


def format_ymd(days: np.ndarray, unknown: np.ndarray | None = None) -> np.ndarray:
    """``2014-03-05``; partial ``2014-03-UN``, ``2014-UN-UN``; NaN -> ""."""
    filled, missing = _blank_where_missing(np.asarray(days, dtype="float64"))
    year, month, day = date_parts(filled)
    level = np.zeros(len(filled), dtype=np.int8) if unknown is None else unknown
    dd = np.where(level >= DAY_UNKNOWN, "UN", _TWO_DIGITS[day])
    mm = np.where(level >= MONTH_UNKNOWN, "UN", _TWO_DIGITS[month])
    text = np.char.add(np.char.add(np.char.add(year.astype("U4"), "-"), np.char.add(mm, "-")), dd)
    return np.where(missing, "", text)


def format_iso(days: np.ndarray) -> np.ndarray:
    """Complete ISO 8601 dates for the truth files; NaN -> ""."""
    return format_ymd(days)


def zero_pad(values: np.ndarray, width: int) -> np.ndarray:
    """Integers as zero-padded text (``7`` -> ``07``); safe on empty arrays."""
    text = np.asarray(values, dtype=np.int64).astype(str)
    return np.char.zfill(text, width) if len(text) else text


def unknown_levels(rng: np.random.Generator, n: int, p_day: float,
                   p_month: float = 0.0) -> np.ndarray:
    """Draw how much of each date the site did not know."""
    u = rng.random(n)
    level = np.full(n, COMPLETE, dtype=np.int8)
    level[u < p_day + p_month] = DAY_UNKNOWN
    level[u < p_month] = MONTH_UNKNOWN
    return level


# --------------------------------------------------------------------------------------------
# Text styles
# --------------------------------------------------------------------------------------------

def restyle(rng: np.random.Generator, canonical: np.ndarray,
            variants: Mapping[str, Sequence[tuple[str, float]]]) -> np.ndarray:
    """Replace each canonical value by one of its spellings, drawn with the given weights."""
    out = np.asarray(canonical, dtype=object).copy()
    u = rng.random(len(out))
    for value in sorted(variants):
        spellings = variants[value]
        mask = out == value
        if not mask.any():
            continue
        weights = np.array([w for _, w in spellings], dtype="float64")
        edges = np.cumsum(weights / weights.sum())
        pick = np.minimum(np.searchsorted(edges, u[mask], side="right"), len(spellings) - 1)
        out[mask] = np.array([s for s, _ in spellings], dtype=object)[pick]
    return out


def vary_case(rng: np.random.Generator, values: np.ndarray, p_upper: float,
              p_lower: float) -> np.ndarray:
    """Some values typed in capitals, some in lower case, the rest as given."""
    text = np.asarray(values, dtype="U")
    u = rng.random(len(text))
    return np.where(u < p_upper, np.char.upper(text),
                    np.where(u < p_upper + p_lower, np.char.lower(text), text))


def spell_out_responses(rng: np.random.Generator, codes: np.ndarray, rate: float) -> np.ndarray:
    """A few response codes written out in words (``Partial response``) so recoding is used."""
    out = np.asarray(codes, dtype=object).copy()
    chosen = rng.random(len(out)) < rate
    pick = rng.integers(0, 2, len(out))
    for code in sorted(SPELLED_RESPONSES):
        words = SPELLED_RESPONSES[code]
        mask = chosen & (out == code)
        out[mask] = np.array(words, dtype=object)[pick[mask] % len(words)]
    return out


# --------------------------------------------------------------------------------------------
# Planted defects (each must give a finding) and planted disagreements
# --------------------------------------------------------------------------------------------

def _defect_rows(file: str, frame: pd.DataFrame, rows: np.ndarray, column: str,
                 defect: str) -> pd.DataFrame:
    return pd.DataFrame({
        "FILE": file,
        "ROW": (rows + 1).astype(str),                      # 1-based data row, header excluded
        "SUBJECT": frame["SUBJECT"].to_numpy()[rows],
        "COLUMN": column,
        "VALUE": frame[column].to_numpy()[rows],
        "DEFECT": defect,
    }, columns=DEFECT_COLUMNS)


def plant_unmapped_race(rng: np.random.Generator, enrol: pd.DataFrame,
                        rate: float = 0.01) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``Caucasian`` for about 1 % of subjects (at least one): not in the study's RACE codelist."""
    n = len(enrol)
    chosen = np.flatnonzero(rng.random(n) < rate)
    if len(chosen) == 0 and n > 0:
        chosen = np.array([rng.integers(n)])
    out = enrol.copy()
    race = out["RACE"].to_numpy(dtype=object).copy()
    race[chosen] = "Caucasian"
    out["RACE"] = race
    return out, _defect_rows("enrol.csv", out, chosen, "RACE", "value not in codelist RACE")


def _impossible_day(year: int, month: int) -> str:
    """A day past the end of the month (e.g. ``2015-02-30``)."""
    last = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}.get(month, 31)
    return f"{year:04d}-{month:02d}-{last + 1:02d}"


def plant_ae_defects(rng: np.random.Generator, ae: pd.DataFrame,
                     nausea_coding: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One non-ASCII verbatim term, one term over 200 characters, one impossible start date.

    Three different AE rows are used; nothing is planted when the log has fewer than 3 rows.
    """
    if len(ae) < 3:
        return ae, pd.DataFrame(columns=DEFECT_COLUMNS)
    out = ae.copy()
    term = out["AETERM"].to_numpy(dtype=object).copy()
    start = out["AESTDAT"].to_numpy(dtype=object).copy()
    complete = np.char.str_len(start.astype("U")) == 10
    complete &= ~np.char.endswith(start.astype("U"), "UN")

    is_nausea = out["AEPT"].to_numpy(dtype=object) == nausea_coding["AEPT"]
    candidates = np.flatnonzero(is_nausea) if is_nausea.any() else np.arange(len(out))
    row_accent = int(rng.choice(candidates))
    if not is_nausea[row_accent]:
        for column, value in nausea_coding.items():
            values = out[column].to_numpy(dtype=object).copy()
            values[row_accent] = value
            out[column] = values
    term[row_accent] = NON_ASCII_TERM

    others = np.setdiff1d(np.arange(len(out)), [row_accent])
    dated = others[complete[others]]
    row_date = int(rng.choice(dated if len(dated) else others))
    rest = np.setdiff1d(others, [row_date])
    row_long = int(rng.choice(rest))
    term[row_long] = f"{term[row_long]}{LONG_TERM_TAIL}"

    year, month = (int(start[row_date][:4]), int(start[row_date][5:7])) if complete[row_date] \
        else (2015, 2)
    start[row_date] = _impossible_day(year, month)
    out["AETERM"] = term
    out["AESTDAT"] = start

    defects = pd.concat([
        _defect_rows("ae.csv", out, np.array([row_accent]), "AETERM", "non-ASCII character"),
        _defect_rows("ae.csv", out, np.array([row_long]), "AETERM", "longer than 200 characters"),
        _defect_rows("ae.csv", out, np.array([row_date]), "AESTDAT", "impossible date"),
    ], ignore_index=True)
    return out, defects


def plant_disagreements(rng: np.random.Generator, orr: pd.DataFrame,
                        count: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Change OVRLRESP on ``count`` rows of distinct subjects to a neighbouring response.

    ``orr`` must still hold RECIST codes. Returns the frame, the truth table and the positions
    changed (so spelled-out variants leave them alone).
    """
    if count <= 0 or orr.empty:
        return orr, pd.DataFrame(columns=DISAGREEMENT_COLUMNS), np.array([], dtype=np.int64)
    subjects = orr["SUBJECT"].to_numpy(dtype=object)
    first_rows = np.flatnonzero(np.r_[True, subjects[1:] != subjects[:-1]])
    chosen_subjects = rng.choice(first_rows, size=min(count, len(first_rows)), replace=False)
    counts = np.diff(np.r_[first_rows, len(orr)])
    by_first = dict(zip(first_rows.tolist(), counts.tolist(), strict=True))
    rows = np.sort(np.array([s + int(rng.integers(by_first[s])) for s in chosen_subjects],
                            dtype=np.int64))
    out = orr.copy()
    overall = out["OVRLRESP"].to_numpy(dtype=object).copy()
    recist = overall[rows].copy()
    overall[rows] = [DISAGREEING_RESPONSE[r] for r in recist]
    out["OVRLRESP"] = overall
    truth = pd.DataFrame({"SUBJECT": subjects[rows], "VISIT": out["VISIT"].to_numpy()[rows],
                          "INVESTIGATOR": overall[rows], "RECIST": recist},
                         columns=DISAGREEMENT_COLUMNS)
    return out, truth, rows
