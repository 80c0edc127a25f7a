"""Raw forms of what the seed protocols collect beside efficacy, for the basket and IMT studies.

Prior and concomitant medications (CM), medical history with the primary diagnosis (MH),
eligibility checklists (IE), height and weight (VS), haematology and chemistry with normal ranges
(LB) and prior surgery and radiotherapy (PR). Death causes (DD) come from each study's existing
death forms.

Each study keeps its own export conventions (a ``Layout``: file and column names, date style,
visit names). The forms draw their random numbers from their own stream
(``np.random.default_rng([seed, STREAM])``), so adding them leaves every older form of a seed
byte-identical. Dates never fall after the subject's latest recorded day, so no new date moves
the last-contact or end-of-study logic of the older forms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cdiscmap.synth import messiness as mess

STREAM = 1010            # the second word of the new forms' seed: [seed, STREAM]
VISIT_EVERY_DAYS = 28    # vital signs and laboratory on day 1 of every 28-day cycle


@dataclass(frozen=True)
class ClinicalInputs:
    """What the new forms need to know of each subject (days since 1970; relative days from
    registration/randomization, NaN = did not happen)."""

    subject: np.ndarray
    regdat: np.ndarray            # registration (or randomization) day
    icdat: np.ndarray             # informed consent day
    first_dose: np.ndarray        # relative day of first dose (NaN: never dosed)
    treatment_end: np.ndarray     # relative last day on treatment (inf / NaN: ongoing)
    last_day: np.ndarray          # relative latest recorded day (finite)
    age_years: np.ndarray         # age at consent (fraction of years)
    female: np.ndarray            # bool
    diagnosis: np.ndarray         # primary diagnosis text as the site writes it
    alk: np.ndarray               # bool: ALK-driven tumour (prior ALK inhibitor possible)
    bsa: np.ndarray | None = None  # BSA at first dose (children dosed by BSA), else from age


@dataclass(frozen=True)
class Layout:
    """One EDC vendor's way of writing the forms: file names, column names, dates, visits."""

    files: dict[str, str]                              # form key -> file name
    columns: dict[str, str]                            # generic column -> vendor column
    date: Callable[[np.ndarray, np.ndarray | None], np.ndarray]
    visit: Callable[[np.ndarray], np.ndarray]          # cycle index (0 = screening) -> name
    day1_visit: bool                                   # a visit on the day of first dose
    height_every_visit: bool                           # children: height at every visit
    lab_tests: tuple[str, ...]
    lab_names: dict[str, str]                          # LBTESTCD -> test name as collected
    unit_variants: dict[str, tuple[str, float]] = field(default_factory=dict)
    criteria: tuple[tuple[str, str, str], ...] = ()    # (code, Inclusion/Exclusion, text)


def ymd_uk(days: np.ndarray, unknown: np.ndarray | None = None) -> np.ndarray:
    """``2019-03-05``; an unknown part written ``UK`` (the IMT vendor's style)."""
    if len(days) == 0:    # numpy's char.replace fails on a zero-size array
        return np.array([], dtype=str)
    return np.char.replace(mess.format_ymd(days, unknown).astype(str), "UN", "UK")


# --------------------------------------------------------------------------------------------
# Study content (synthetic EDC libraries)
# --------------------------------------------------------------------------------------------

# (name, indication, adult dose, unit, frequency, route)
CONMEDS = (
    ("Paracetamol", "Pain", 1000, "mg", "TID", "Oral"),
    ("Ondansetron", "Nausea", 8, "mg", "BID", "Oral"),
    ("Omeprazole", "Gastric protection", 20, "mg", "QD", "Oral"),
    ("Loperamide", "Diarrhoea", 2, "mg", "PRN", "Oral"),
    ("Metoclopramide", "Nausea", 10, "mg", "TID", "Oral"),
    ("Enoxaparin", "Thromboprophylaxis", 4000, "IU", "QD", "Subcutaneous"),
    ("Ibuprofen", "Pain", 400, "mg", "TID", "Oral"),
)
# (name, subcategory, ALK inhibitor)
PRIOR_THERAPIES = (
    ("Ceritinib", "ALK inhibitor", True),
    ("Alectinib", "ALK inhibitor", True),
    ("Carboplatin", "Chemotherapy", False),
    ("Doxorubicin", "Chemotherapy", False),
    ("Vinblastine", "Chemotherapy", False),
    ("Methotrexate", "Chemotherapy", False),
    ("Prednisolone", "Corticosteroid", False),
    ("Celecoxib", "Non-steroidal anti-inflammatory", False),
)
HISTORY_ADULT = ("Hypertension", "Type 2 diabetes mellitus", "Hypothyroidism",
                 "Gastro-oesophageal reflux disease", "Depression", "Asthma")
HISTORY_CHILD = ("Asthma", "Atopic dermatitis", "Iron deficiency anaemia", "Epilepsy")
SURGERY_TEXT = ("Resection of primary tumour", "Partial resection of tumour", "Tumour biopsy")
RADIOTHERAPY_TEXT = "External beam radiotherapy"

# Normal ranges (low, high) by test for adults and children, unit, decimals, category.
LAB = {
    "NEUT":  ((1.8, 7.5), (1.5, 8.0), "10^9/L", 2, "Haematology"),
    "HGB":   ((120, 160), (110, 145), "g/L", 0, "Haematology"),
    "PLAT":  ((150, 400), (150, 450), "10^9/L", 0, "Haematology"),
    "WBC":   ((4.0, 10.0), (4.5, 13.5), "10^9/L", 1, "Haematology"),
    "ALT":   ((7, 45), (5, 40), "U/L", 0, "Biochemistry"),
    "AST":   ((10, 40), (10, 45), "U/L", 0, "Biochemistry"),
    "BILI":  ((3, 21), (3, 17), "umol/L", 0, "Biochemistry"),
    "CREAT": ((60, 110), (20, 70), "umol/L", 0, "Biochemistry"),
    "UREA":  ((2.5, 7.5), (1.8, 6.4), "mmol/L", 1, "Biochemistry"),
}

# Height (cm) and weight (kg) medians by age (years) for children.
_AGE = np.array([0.0, 0.25, 1.0, 2.0, 5.0, 10.0, 14.0, 18.0, 19.0])
_HEIGHT = np.array([50.0, 61.0, 75.0, 87.0, 110.0, 138.0, 163.0, 172.0, 172.5])
_WEIGHT = np.array([3.4, 6.0, 9.5, 12.2, 18.5, 32.0, 50.0, 64.0, 65.0])


# --------------------------------------------------------------------------------------------
# Visits
# --------------------------------------------------------------------------------------------

def _visits(rng: np.random.Generator, inp: ClinicalInputs, layout: Layout) -> pd.DataFrame:
    """Screening plus cycle visits up to the end of treatment: subject index, cycle, day."""
    n = len(inp.subject)
    gap = inp.regdat - inp.icdat
    screen = inp.regdat - np.floor(rng.random(n) * (np.minimum(gap, 7) + 1))
    first = inp.first_dose
    end = np.where(np.isfinite(inp.treatment_end), np.minimum(inp.treatment_end, inp.last_day),
                   inp.last_day)
    count = np.where(np.isfinite(first), np.floor((end - first) / VISIT_EVERY_DAYS), -1)
    count = np.maximum(count, -1).astype(np.int64) + (1 if layout.day1_visit else 0)
    subj = np.repeat(np.arange(n), np.maximum(count, 0))
    k = pd.Series(subj).groupby(subj).cumcount().to_numpy() + (0 if layout.day1_visit else 1)
    day = inp.regdat[subj] + first[subj] + k * VISIT_EVERY_DAYS
    frame = pd.DataFrame({"subj": np.r_[np.arange(n), subj],
                          "cycle": np.r_[np.full(n, -1), k],
                          "day": np.r_[screen, day].astype(np.int64)})
    return frame.sort_values(["subj", "day"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Forms
# --------------------------------------------------------------------------------------------

def _rename(frame: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    return frame.rename(columns={c: layout.columns.get(c, c) for c in frame.columns})


def _medications(rng: np.random.Generator, inp: ClinicalInputs, layout: Layout,
                 bsa: np.ndarray) -> pd.DataFrame:
    """Prior anticancer therapies (ended before consent) and concomitant medications."""
    n = len(inp.subject)
    child = inp.age_years < 18
    # prior lines: 0-3 (ALK inhibitors only for ALK-driven tumours, about 1 in 8)
    n_prior = rng.choice(4, n, p=[0.35, 0.35, 0.2, 0.1])
    p_subj = np.repeat(np.arange(n), n_prior)
    names = np.array([p[0] for p in PRIOR_THERAPIES])
    scat = np.array([p[1] for p in PRIOR_THERAPIES])
    is_alk = np.array([p[2] for p in PRIOR_THERAPIES])
    draw = rng.integers(2, len(PRIOR_THERAPIES), len(p_subj))
    alk_line = inp.alk[p_subj] & (rng.random(len(p_subj)) < 0.12)
    draw = np.where(alk_line, rng.integers(0, 2, len(p_subj)), draw)
    # one line per drug and subject
    keep = ~pd.DataFrame({"s": p_subj, "d": draw}).duplicated().to_numpy()
    p_subj, draw = p_subj[keep], draw[keep]
    p_end = inp.icdat[p_subj] - rng.integers(15, 400, len(p_subj))
    p_start = p_end - rng.integers(30, 360, len(p_subj))
    p_unknown = np.where(rng.random(len(p_subj)) < 0.2, mess.DAY_UNKNOWN,
                         mess.COMPLETE).astype(np.int8)
    prior = pd.DataFrame({
        "s": p_subj, "CMCAT": "Prior anticancer therapy", "CMSCAT": scat[draw],
        "CMTRT": names[draw], "CMINDC": inp.diagnosis[p_subj], "CMDOSE": "", "CMDOSU": "",
        "CMFREQ": "", "CMROUTE": np.where(is_alk[draw], "Oral", ""),
        "CMSTDAT": layout.date(p_start, p_unknown), "CMENDAT": layout.date(p_end, p_unknown),
        "CMONGO": "No", "_start": p_start})

    n_con = rng.choice(5, n, p=[0.15, 0.3, 0.3, 0.15, 0.1])
    c_subj = np.repeat(np.arange(n), n_con)
    pick = rng.integers(0, len(CONMEDS), len(c_subj))
    keep = ~pd.DataFrame({"s": c_subj, "d": pick}).duplicated().to_numpy()
    c_subj, pick = c_subj[keep], pick[keep]
    last = inp.regdat[c_subj] + inp.last_day[c_subj]
    start = inp.icdat[c_subj] - rng.integers(0, 200, len(c_subj)) \
        + np.floor(rng.random(len(c_subj)) * np.maximum(last - inp.icdat[c_subj], 1))
    start = np.minimum(start, last).astype(np.int64)
    ongoing = rng.random(len(c_subj)) < 0.4
    stop = np.minimum(start + rng.integers(3, 120, len(c_subj)), last)
    adult_dose = np.array([c[2] for c in CONMEDS], dtype="float64")[pick]
    scale = np.where(child[c_subj], np.minimum(bsa[c_subj] / 1.73, 1.0), 1.0)
    dose = np.where(scale < 1, np.maximum(np.round(adult_dose * scale, -1), 1), adult_dose)
    con = pd.DataFrame({
        "s": c_subj, "CMCAT": "Concomitant medication", "CMSCAT": "",
        "CMTRT": np.array([c[0] for c in CONMEDS])[pick],
        "CMINDC": np.array([c[1] for c in CONMEDS])[pick],
        "CMDOSE": np.char.mod("%d", dose.astype(np.int64)),
        "CMDOSU": np.array([c[3] for c in CONMEDS])[pick],
        "CMFREQ": np.array([c[4] for c in CONMEDS])[pick],
        "CMROUTE": np.array([c[5] for c in CONMEDS])[pick],
        "CMSTDAT": layout.date(start, None),
        "CMENDAT": layout.date(np.where(ongoing, np.nan, stop), None),
        "CMONGO": np.where(ongoing, "Yes", "No"), "_start": start})
    frame = pd.concat([prior, con], ignore_index=True).sort_values(["s", "_start"],
                                                                     kind="stable")
    frame.insert(0, "SUBJECT", inp.subject[frame["s"].to_numpy()])
    frame.insert(1, "CMSPID", (frame.groupby("s").cumcount() + 1).astype(str).to_numpy())
    return _rename(frame.drop(columns=["s", "_start"]).reset_index(drop=True), layout)


def _history(rng: np.random.Generator, inp: ClinicalInputs, layout: Layout) -> pd.DataFrame:
    """Primary diagnosis (with its date) and other conditions, one row each."""
    n = len(inp.subject)
    child = inp.age_years < 18
    dx_day = inp.icdat - np.minimum(np.floor(rng.gamma(2.0, 200.0, n)) + 20,
                                    np.floor(inp.age_years * 365.25) - 1)
    dx_unknown = np.where(rng.random(n) < 0.25, mess.DAY_UNKNOWN, mess.COMPLETE).astype(np.int8)
    primary = pd.DataFrame({"s": np.arange(n), "MHCAT": "Primary diagnosis",
                            "MHTERM": inp.diagnosis, "MHSTDAT": layout.date(dx_day, dx_unknown),
                            "MHONGO": "Yes"})
    count = rng.choice(3, n, p=[0.45, 0.35, 0.2])
    subj = np.repeat(np.arange(n), count)
    adult = rng.integers(0, len(HISTORY_ADULT), len(subj))
    kid = rng.integers(0, len(HISTORY_CHILD), len(subj))
    term = np.where(child[subj], np.array(HISTORY_CHILD)[kid], np.array(HISTORY_ADULT)[adult])
    keep = ~pd.DataFrame({"s": subj, "t": term}).duplicated().to_numpy()
    subj, term = subj[keep], term[keep]
    span = np.maximum(np.floor(inp.age_years[subj] * 365.25) - 30, 1)
    start = inp.icdat[subj] - np.floor(rng.random(len(subj)) * np.minimum(span, 7300)) - 30
    unknown = np.where(rng.random(len(subj)) < 0.4, mess.MONTH_UNKNOWN,
                       mess.DAY_UNKNOWN).astype(np.int8)
    other = pd.DataFrame({"s": subj, "MHCAT": "General medical history", "MHTERM": term,
                          "MHSTDAT": layout.date(start, unknown),
                          "MHONGO": np.where(rng.random(len(subj)) < 0.7, "Yes", "No")})
    frame = pd.concat([primary, other], ignore_index=True).sort_values("s", kind="stable")
    frame.insert(0, "SUBJECT", inp.subject[frame["s"].to_numpy()])
    frame.insert(1, "MHSPID", (frame.groupby("s").cumcount() + 1).astype(str).to_numpy())
    return _rename(frame.drop(columns="s").reset_index(drop=True), layout)


def _eligibility(rng: np.random.Generator, inp: ClinicalInputs, layout: Layout) -> pd.DataFrame:
    """The whole checklist per subject; about 1 subject in 12 enrolled on a waived criterion."""
    n, c = len(inp.subject), len(layout.criteria)
    code = np.array([x[0] for x in layout.criteria])
    cat = np.array([x[1] for x in layout.criteria])
    text = np.array([x[2] for x in layout.criteria])
    waived = np.full((n, c), False)
    who = np.flatnonzero(rng.random(n) < 1 / 12)
    waived[who, rng.integers(0, c, len(who))] = True
    met_answer = np.where(cat == "Inclusion", "Yes", "No")[None, :]
    other_answer = np.where(cat == "Inclusion", "No", "Yes")[None, :]
    answer = np.where(waived, other_answer, met_answer)
    subj = np.repeat(np.arange(n), c)
    return _rename(pd.DataFrame({
        "SUBJECT": inp.subject[subj], "IETESTCD": np.tile(code, n), "IECAT": np.tile(cat, n),
        "IETEST": np.tile(text, n), "IEANS": answer.ravel(),
        "IEDAT": layout.date(inp.icdat[subj], None)}), layout)


def _body_size(rng: np.random.Generator, inp: ClinicalInputs, visits: pd.DataFrame,
               bsa0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Height (cm) and weight (kg) per visit row, rounded to 0.1 as the sites write them."""
    n = len(inp.subject)
    child = inp.age_years < 18
    adult_height = np.where(inp.female, rng.normal(163, 6.5, n), rng.normal(175, 7, n))
    height0 = np.where(child, np.interp(inp.age_years, _AGE, _HEIGHT)
                       * np.exp(rng.normal(0, 0.04, n)), adult_height)
    # children: weight so that Mosteller's BSA is the subject's BSA; adults: BMI 18-38
    bmi = np.clip(rng.normal(25, 4, n), 18, 38)
    weight0 = np.where(child, 3600 * bsa0 ** 2 / height0, bmi * (adult_height / 100) ** 2)
    s = visits["subj"].to_numpy()
    years = np.maximum(visits["day"].to_numpy() - inp.icdat[s], 0) / 365.25
    height = height0[s] + np.where(child[s], 6.0 * years, 0.0)
    weight = np.where(child[s], weight0[s] * (1 + 0.12 * years),
                      weight0[s] * (1 - 0.03 * years + rng.normal(0, 0.01, len(s))))
    return np.round(height, 1), np.round(weight, 1)


def _vital_signs(rng: np.random.Generator, inp: ClinicalInputs, layout: Layout,
                 visits: pd.DataFrame, bsa0: np.ndarray) -> pd.DataFrame:
    height, weight = _body_size(rng, inp, visits, bsa0)
    screening = visits["cycle"].to_numpy() == -1
    show_height = screening | layout.height_every_visit
    return _rename(pd.DataFrame({
        "SUBJECT": inp.subject[visits["subj"].to_numpy()],
        "VISIT": layout.visit(visits["cycle"].to_numpy()),
        "VSDAT": layout.date(visits["day"].to_numpy(), None),
        "HEIGHT": np.where(show_height, np.char.mod("%.1f", height), ""),
        "WEIGHT": np.char.mod("%.1f", weight)}), layout)


def _laboratory(rng: np.random.Generator, inp: ClinicalInputs, layout: Layout,
                visits: pd.DataFrame) -> pd.DataFrame:
    """One row per test per visit. On crizotinib: neutropenia and raised ALT/AST."""
    tests = layout.lab_tests
    t = len(tests)
    rows = len(visits)
    s = np.repeat(visits["subj"].to_numpy(), t)
    cycle = np.repeat(visits["cycle"].to_numpy(), t)
    day = np.repeat(visits["day"].to_numpy(), t)
    test = np.tile(np.array(tests), rows)
    child = inp.age_years[s] < 18
    lo = np.array([LAB[x][0][0] for x in tests], dtype="float64")
    hi = np.array([LAB[x][0][1] for x in tests], dtype="float64")
    clo = np.array([LAB[x][1][0] for x in tests], dtype="float64")
    chi = np.array([LAB[x][1][1] for x in tests], dtype="float64")
    ti = np.tile(np.arange(t), rows)
    low = np.where(child, clo[ti], lo[ti])
    high = np.where(child, chi[ti], hi[ti])
    value = low + (high - low) * rng.beta(2.0, 2.0, len(s))
    u = rng.random(len(s))
    on = cycle >= 0
    # neutropenia on treatment: CTCAE grades 1-4 (v4.03 / v5.0 thresholds alike)
    neut = (test == "NEUT") & on & (u < 0.18)
    value = np.where(neut, low * rng.choice([0.9, 0.7, 0.5, 0.3, 0.2], len(s),
                                            p=[0.3, 0.3, 0.2, 0.15, 0.05]), value)
    liver = np.isin(test, ["ALT", "AST"]) & on & (u < 0.14)
    value = np.where(liver, high * np.exp(rng.normal(0.9, 0.8, len(s))).clip(1.05, 30), value)
    anaemia = (test == "HGB") & (u < 0.12)
    value = np.where(anaemia, low * rng.uniform(0.7, 0.97, len(s)), value)
    decimals = np.array([LAB[x][3] for x in tests])[ti]
    text = np.where(decimals == 0, np.char.mod("%.0f", value),
                    np.where(decimals == 1, np.char.mod("%.1f", value),
                             np.char.mod("%.2f", value)))
    unit = np.array([LAB[x][2] for x in tests])[ti]
    for canonical, (variant, share) in layout.unit_variants.items():
        unit = np.where((unit == canonical) & (rng.random(len(s)) < share), variant, unit)

    def fmt(values: np.ndarray) -> np.ndarray:
        return np.where(decimals == 0, np.char.mod("%.0f", values),
                        np.char.mod("%.1f", values))

    return _rename(pd.DataFrame({
        "SUBJECT": inp.subject[s],
        "VISIT": layout.visit(cycle),
        "LBDAT": layout.date(day, None),
        "LBCAT": np.array([LAB[x][4] for x in tests])[ti],
        "LBTEST": pd.Series(test).map(layout.lab_names).to_numpy(dtype=str),
        "LBORRES": text, "LBORRESU": unit, "LBORNRLO": fmt(low), "LBORNRHI": fmt(high)}),
        layout)


def _procedures(rng: np.random.Generator, inp: ClinicalInputs, layout: Layout) -> pd.DataFrame:
    """Surgery of the tumour and radiotherapy before the study."""
    n = len(inp.subject)
    child = inp.age_years < 18
    surgery = rng.random(n) < 0.55
    radio = rng.random(n) < np.where(child, 0.05, 0.25)
    s_idx = np.flatnonzero(surgery)
    r_idx = np.flatnonzero(radio)
    s_day = inp.icdat[s_idx] - rng.integers(30, 700, len(s_idx))
    r_end = inp.icdat[r_idx] - rng.integers(28, 500, len(r_idx))
    r_start = r_end - rng.integers(20, 42, len(r_idx))
    frame = pd.concat([
        pd.DataFrame({"s": s_idx, "PRCAT": "Surgery",
                      "PRTRT": np.array(SURGERY_TEXT)[rng.integers(0, 3, len(s_idx))],
                      "PRSTDAT": layout.date(s_day, None), "PRENDAT": "", "_d": s_day}),
        pd.DataFrame({"s": r_idx, "PRCAT": "Radiotherapy", "PRTRT": RADIOTHERAPY_TEXT,
                      "PRSTDAT": layout.date(r_start, None),
                      "PRENDAT": layout.date(r_end, None), "_d": r_start}),
    ], ignore_index=True).sort_values(["s", "_d"], kind="stable")
    frame.insert(0, "SUBJECT", inp.subject[frame["s"].to_numpy()])
    frame.insert(1, "PRSPID", (frame.groupby("s").cumcount() + 1).astype(str).to_numpy())
    frame["PRINDC"] = inp.diagnosis[frame["s"].to_numpy()]
    return _rename(frame.drop(columns=["s", "_d"]).reset_index(drop=True), layout)


def build_forms(seed: int, inp: ClinicalInputs, layout: Layout) -> dict[str, pd.DataFrame]:
    """The CM, MH, IE, VS, LB and PR raw forms, keyed by the layout's file names."""
    streams = [np.random.default_rng([seed, STREAM, k]) for k in range(8)]
    bsa0 = inp.bsa if inp.bsa is not None else np.sqrt(
        np.interp(inp.age_years, _AGE, _HEIGHT) * np.interp(inp.age_years, _AGE, _WEIGHT)
        / 3600)
    visits = _visits(streams[0], inp, layout)
    return {
        layout.files["cm"]: _medications(streams[1], inp, layout, bsa0),
        layout.files["mh"]: _history(streams[2], inp, layout),
        layout.files["ie"]: _eligibility(streams[3], inp, layout),
        layout.files["vs"]: _vital_signs(streams[4], inp, layout, visits, bsa0),
        layout.files["lb"]: _laboratory(streams[5], inp, layout, visits),
        layout.files["pr"]: _procedures(streams[6], inp, layout),
    }


# --------------------------------------------------------------------------------------------
# The two studies' layouts
# --------------------------------------------------------------------------------------------

def _basket_visit(cycle: np.ndarray) -> np.ndarray:
    """Screening, then ``Week 4``, ``Week 8``... (cycle k ends week 4k)."""
    return np.where(cycle < 0, "Screening", np.char.add("Week ", (4 * cycle).astype(str)))


def _imt_visit(cycle: np.ndarray) -> np.ndarray:
    """SCREENING, then ``C1D1`` (first dose), ``C2D1``..."""
    return np.where(cycle < 0, "SCREENING",
                    np.char.add(np.char.add("C", (cycle + 1).astype(str)), "D1"))


BASKET_LAYOUT = Layout(
    files={"cm": "cm.csv", "mh": "mh.csv", "ie": "ie.csv", "vs": "vs.csv", "lb": "lb.csv",
           "pr": "pr.csv"},
    columns={},
    date=mess.format_dmy,
    visit=_basket_visit,
    day1_visit=False,
    height_every_visit=False,
    lab_tests=("NEUT", "HGB", "PLAT", "WBC", "ALT", "AST", "BILI", "CREAT"),
    lab_names={"NEUT": "Neutrophils", "HGB": "Haemoglobin", "PLAT": "Platelets",
               "WBC": "Leukocytes", "ALT": "ALAT", "AST": "ASAT", "BILI": "Total bilirubin",
               "CREAT": "Creatinine"},
    unit_variants={"10^9/L": ("x10E9/L", 0.15)},    # some labs write the exponent so
    criteria=(
        ("IN01", "Inclusion", "Age 18 years or older, or a child in a paediatric cohort"),
        ("IN02", "Inclusion", "ALK, MET or ROS1 alteration identified by a national platform"),
        ("IN03", "Inclusion", "Measurable disease (RECIST 1.1)"),
        ("IN04", "Inclusion", "Performance status ECOG 0-2 (Lansky >= 50 for children)"),
        ("IN05", "Inclusion", "Adequate bone marrow, liver and renal function"),
        ("IN06", "Inclusion", "Signed informed consent"),
        ("EX01", "Exclusion", "Prior treatment with crizotinib"),
        ("EX02", "Exclusion", "Symptomatic brain metastases"),
        ("EX03", "Exclusion", "Pregnancy or breast-feeding"),
        ("EX04", "Exclusion", "QTc interval above 470 ms"),
    ),
)

IMT_LAYOUT = Layout(
    files={"cm": "medications.csv", "mh": "medical_history.csv", "ie": "eligibility.csv",
           "vs": "vital_signs.csv", "lb": "laboratory.csv", "pr": "procedures.csv"},
    columns={"SUBJECT": "PATIENT_ID", "CMSPID": "LINE_NO", "CMCAT": "CATEGORY",
             "CMSCAT": "THERAPY_CLASS", "CMTRT": "MEDICATION", "CMINDC": "INDICATION",
             "CMDOSE": "DOSE", "CMDOSU": "DOSE_UNIT", "CMFREQ": "FREQUENCY",
             "CMROUTE": "ROUTE", "CMSTDAT": "START_DATE", "CMENDAT": "STOP_DATE",
             "CMONGO": "ONGOING",
             "MHSPID": "LINE_NO", "MHCAT": "CATEGORY", "MHTERM": "CONDITION",
             "MHSTDAT": "ONSET_DATE", "MHONGO": "ONGOING",
             "IETESTCD": "CRITERION_ID", "IECAT": "CRITERION_TYPE", "IETEST": "CRITERION_TEXT",
             "IEANS": "ANSWER", "IEDAT": "ASSESSMENT_DATE",
             "VISIT": "VISIT_NAME", "VSDAT": "MEASURE_DATE", "HEIGHT": "HEIGHT_CM",
             "WEIGHT": "WEIGHT_KG",
             "LBDAT": "SAMPLE_DATE", "LBCAT": "PANEL", "LBTEST": "TEST_NAME",
             "LBORRES": "RESULT", "LBORRESU": "UNIT", "LBORNRLO": "NORMAL_LOW",
             "LBORNRHI": "NORMAL_HIGH",
             "PRSPID": "LINE_NO", "PRCAT": "PROCEDURE_TYPE", "PRTRT": "PROCEDURE",
             "PRSTDAT": "START_DATE", "PRENDAT": "END_DATE", "PRINDC": "INDICATION"},
    date=ymd_uk,
    visit=_imt_visit,
    day1_visit=True,
    height_every_visit=True,
    lab_tests=("NEUT", "HGB", "PLAT", "WBC", "ALT", "AST", "BILI", "CREAT", "UREA"),
    lab_names={"NEUT": "Absolute neutrophil count", "HGB": "Hemoglobin",
               "PLAT": "Platelet count", "WBC": "White blood cells", "ALT": "ALT", "AST": "AST",
               "BILI": "Bilirubin total", "CREAT": "Creatinine", "UREA": "Urea"},
    # seed overview (imt-pediatric-crizotinib-overview.txt), inclusion and exclusion criteria
    criteria=(
        ("IN01", "Inclusion", "Age 0-18 years"),
        ("IN02", "Inclusion", "Histologically verified inflammatory myofibroblastic tumour"),
        ("IN03", "Inclusion", "Tumour masses on CT or MRI at inclusion"),
        ("IN04", "Inclusion", "Unresectable or metastatic tumour"),
        ("IN05", "Inclusion", "Relapse or progressive disease"),
        ("IN06", "Inclusion", "Good performance status"),
        ("IN07", "Inclusion", "Normal bone marrow function"),
        ("IN08", "Inclusion", "Normal liver function"),
        ("IN09", "Inclusion", "Normal creatinine and urea"),
        ("IN10", "Inclusion", "Normal heart function (LVEF > 60%)"),
        ("IN11", "Inclusion", "ALK or ROS1 rearrangement"),
        ("IN12", "Inclusion", "Signed informed consent"),
        ("EX01", "Exclusion", "Age over 18 years"),
        ("EX02", "Exclusion", "Informed consent refused"),
        ("EX03", "Exclusion", "Comorbidities that may endanger patient safety"),
        ("EX04", "Exclusion", "No ALK or ROS1 rearrangement"),
        ("EX05", "Exclusion", "No tumour on CT or MRI"),
    ),
)


__all__ = ["BASKET_LAYOUT", "IMT_LAYOUT", "STREAM", "ClinicalInputs", "Layout", "build_forms",
           "ymd_uk"]
