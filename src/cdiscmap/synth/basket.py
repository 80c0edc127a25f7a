"""The crizotinib basket trial (23 cohorts): subjects, demography, consent, exposure, adverse
events, death and end of study, assembled with the tumour forms into one raw eCRF export.

Contract of the files: docs/raw-forms.md. Every date is drawn as a day counted from the
subject's registration (day 0) and only formatted at the end, so the timeline is consistent by
construction: first dose within 14 days of registration, treatment stops at progression (plus a
few days) or earlier for toxicity / withdrawal / death, death after the last assessment, no AE
after death, end of study and last contact on or after every other date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdiscmap.synth import clinical_forms, tumour
from cdiscmap.synth import messiness as mess

STUDY = "crizotinib-basket"


def _day(iso: str) -> int:
    return int(np.datetime64(iso, "D").astype("int64"))


ACCRUAL_START = _day("2014-07-01")
ACCRUAL_END = _day("2018-06-30")
AMENDMENT = _day("2015-06-01")        # protocol v2.0: opens the glioblastoma cohort (18)
CONSENT_V21 = _day("2017-01-01")
CUTOFF = _day("2019-12-31")           # data cut-off
FOLLOW_UP_DAYS = 730                  # post-treatment follow-up, then the subject completes
AE_REPORTING_DAYS = 28                # AEs collected up to 28 days after the last dose


@dataclass(frozen=True)
class Cohort:
    number: int
    pathology: str
    alterations: tuple[str, ...]
    weight: float              # relative accrual: rare diseases are rare
    paediatric_share: float    # share of subjects aged 2-17
    response_rate: float       # P(CR or PR) of the latent course
    organ_group: str           # where lesions sit (tumour._ORGAN_WEIGHTS)


# The 23 cohorts of the seed protocol (pathology x alteration). ALK-fusion IMT responds ~85 %
# (the ALK-sarcoma review: ORR 86.7 %; a latent rate of 0.90 gives ~0.85 observed, as some
# responders die or leave before their first scan); the other cohorts far less.
COHORTS: tuple[Cohort, ...] = (
    Cohort(1, "ALCL", ("ALK translocation",), 3.0, 0.0, 0.35, "lymphoma"),
    Cohort(2, "Colorectal cancer", ("ALK translocation",), 2.0, 0.0, 0.15, "digestive"),
    Cohort(3, "Colorectal cancer", ("MET amplification",), 5.0, 0.0, 0.08, "digestive"),
    Cohort(4, "Colorectal cancer", ("MET mutation",), 3.0, 0.0, 0.05, "digestive"),
    Cohort(5, "NSCLC", ("MET amplification",), 14.0, 0.0, 0.20, "lung"),
    Cohort(6, "NSCLC", ("ROS1 translocation",), 8.0, 0.0, 0.35, "lung"),
    Cohort(7, "Breast cancer", ("ALK translocation",), 3.0, 0.0, 0.15, "gynaecological"),
    Cohort(8, "Gastric cancer", ("MET amplification",), 6.0, 0.0, 0.10, "digestive"),
    Cohort(9, "Cholangiocarcinoma", ("ROS1 translocation",), 3.0, 0.0, 0.15, "digestive"),
    Cohort(10, "Ovarian cancer", ("MET amplification",), 4.0, 0.0, 0.08, "gynaecological"),
    Cohort(11, "Clear cell renal cell carcinoma", ("ALK translocation",), 2.0, 0.0, 0.15,
           "renal"),
    Cohort(12, "Clear cell renal cell carcinoma", ("ALK amplification",), 2.0, 0.0, 0.05,
           "renal"),
    Cohort(13, "Papillary renal cell carcinoma", ("MET mutation", "MET amplification"), 4.0,
           0.0, 0.12, "renal"),
    Cohort(14, "Hepatocarcinoma", ("MET amplification",), 4.0, 0.0, 0.06, "digestive"),
    Cohort(15, "Neuroblastoma", ("ALK amplification", "ALK mutation"), 3.0, 0.7, 0.15,
           "neuroblastoma"),
    Cohort(16, "IMT", ("ALK translocation",), 4.0, 0.4, 0.90, "sarcoma"),
    Cohort(17, "Rhabdomyosarcoma", ("ALK amplification",), 1.5, 0.6, 0.10, "sarcoma"),
    Cohort(18, "Glioblastoma", ("MET amplification",), 2.0, 0.0, 0.05, "brain"),
    Cohort(19, "Anaplastic thyroid cancer", ("ALK mutation",), 1.5, 0.0, 0.10, "thyroid"),
    Cohort(20, "Thyroid cancer", ("MET mutation",), 3.0, 0.0, 0.08, "thyroid"),
    Cohort(21, "Rare paediatric tumour", ("ALK translocation", "ROS1 translocation",
                                         "ALK mutation", "MET amplification"), 1.5, 1.0, 0.35,
           "sarcoma"),
    Cohort(22, "Other pathology A", ("ALK translocation", "MET amplification",
                                     "AXL amplification"), 2.0, 0.0, 0.12, "default"),
    Cohort(23, "Other pathology B", ("ROS1 translocation", "MET mutation", "AXL mutation"),
           2.0, 0.0, 0.12, "default"),
)
PAEDIATRIC_COHORTS = tuple(c.number for c in COHORTS if c.paediatric_share > 0)
GLIOBLASTOMA = 18


def cohort_attribute(cohort: np.ndarray, name: str) -> np.ndarray:
    """Vectorised lookup of a Cohort field by cohort number (COHORTS is ordered 1..23)."""
    return np.array([getattr(c, name) for c in COHORTS])[np.asarray(cohort) - 1]


def _alterations(rng: np.random.Generator, cohort: np.ndarray) -> np.ndarray:
    """One of the cohort's alterations per subject (some cohorts pool several)."""
    width = max(len(c.alterations) for c in COHORTS)
    table = np.array([c.alterations + ("",) * (width - len(c.alterations)) for c in COHORTS])
    count = np.array([len(c.alterations) for c in COHORTS])[cohort - 1]
    pick = (rng.random(len(cohort)) * count).astype(np.int64)
    return table[cohort - 1, pick]

# ---- adverse event dictionary (MedDRA-like coding) -----------------------------------------
_SOC = {
    "GI": ("Gastrointestinal disorders", "10017947"),
    "EYE": ("Eye disorders", "10015919"),
    "GEN": ("General disorders and administration site conditions", "10018065"),
    "INV": ("Investigations", "10022891"),
    "BLOOD": ("Blood and lymphatic system disorders", "10005329"),
    "NERV": ("Nervous system disorders", "10029205"),
    "METAB": ("Metabolism and nutrition disorders", "10027433"),
    "CARD": ("Cardiac disorders", "10007541"),
    "RESP": ("Respiratory, thoracic and mediastinal disorders", "10038738"),
    "RENAL": ("Renal and urinary disorders", "10038359"),
    "SKIN": ("Skin and subcutaneous tissue disorders", "10040785"),
    "INFEC": ("Infections and infestations", "10021881"),
}


@dataclass(frozen=True)
class AeTerm:
    verbatim: str
    llt: str
    pt: str
    ptcd: str
    soc: str                              # key of _SOC
    weight: float                         # how often it is reported (0 = fatal events only)
    drug_related: bool                    # typical of crizotinib
    grades: tuple[float, float, float, float]   # P(grade 1..4)
    dose_limiting: bool = False           # can cause an interruption / reduction / stop
    fatal: bool = False                   # can be a grade 5 event


AE_TERMS: tuple[AeTerm, ...] = (
    AeTerm("Blurred vision", "Blurred vision", "Vision blurred", "10047513", "EYE", 6, True,
           (.85, .14, .01, 0)),
    AeTerm("Visual disturbance", "Visual disturbance", "Visual impairment", "10047571", "EYE", 6,
           True, (.85, .14, .01, 0)),
    AeTerm("Flashes of light", "Flashing lights", "Photopsia", "10034962", "EYE", 3, True,
           (.9, .1, 0, 0)),
    AeTerm("Nausea", "Nausea", "Nausea", "10028813", "GI", 12, True, (.6, .3, .1, 0), True),
    AeTerm("Diarrhea", "Diarrhea", "Diarrhoea", "10012735", "GI", 10, True, (.65, .27, .08, 0),
           True),
    AeTerm("Vomiting", "Vomiting", "Vomiting", "10047700", "GI", 9, True, (.6, .3, .1, 0), True),
    AeTerm("Constipation", "Constipation", "Constipation", "10010774", "GI", 7, True,
           (.75, .23, .02, 0)),
    AeTerm("Abdominal pain", "Abdominal pain", "Abdominal pain", "10000081", "GI", 3, False,
           (.5, .35, .15, 0)),
    AeTerm("Leg oedema", "Oedema legs", "Oedema peripheral", "10030124", "GEN", 8, True,
           (.7, .27, .03, 0), True),
    AeTerm("Fatigue", "Fatigue", "Fatigue", "10016256", "GEN", 8, True, (.55, .35, .1, 0), True),
    AeTerm("Tiredness", "Tiredness", "Fatigue", "10016256", "GEN", 2, True, (.6, .35, .05, 0)),
    AeTerm("Fever", "Fever", "Pyrexia", "10037660", "GEN", 3, False, (.6, .3, .1, 0)),
    AeTerm("ALT increased", "ALT increased", "Alanine aminotransferase increased", "10001551",
           "INV", 6, True, (.5, .25, .2, .05), True),
    AeTerm("Elevated AST", "AST increased", "Aspartate aminotransferase increased", "10003481",
           "INV", 5, True, (.55, .25, .17, .03), True),
    AeTerm("QT prolongation", "QT prolonged", "Electrocardiogram QT prolonged", "10014387",
           "INV", 2, True, (.5, .3, .2, 0), True),
    AeTerm("Neutropenia", "Neutropenia", "Neutropenia", "10029354", "BLOOD", 5, True,
           (.2, .35, .35, .1), True),
    AeTerm("Anaemia", "Anaemia", "Anaemia", "10002034", "BLOOD", 3, False, (.4, .4, .18, .02)),
    AeTerm("Dizziness", "Dizziness", "Dizziness", "10013573", "NERV", 5, True,
           (.8, .18, .02, 0)),
    AeTerm("Taste disturbance", "Taste disturbance", "Dysgeusia", "10013911", "NERV", 5, True,
           (.85, .15, 0, 0)),
    AeTerm("Peripheral neuropathy", "Neuropathy peripheral", "Neuropathy peripheral",
           "10029331", "NERV", 3, True, (.6, .35, .05, 0)),
    AeTerm("Loss of appetite", "Loss of appetite", "Decreased appetite", "10061428", "METAB", 6,
           True, (.6, .3, .1, 0)),
    AeTerm("Bradycardia", "Bradycardia", "Bradycardia", "10006093", "CARD", 2, True,
           (.7, .25, .05, 0)),
    AeTerm("Dyspnea", "Dyspnea", "Dyspnoea", "10013968", "RESP", 3, False, (.45, .35, .18, .02)),
    AeTerm("Pneumonitis", "Pneumonitis", "Pneumonitis", "10035742", "RESP", 1, True,
           (.2, .4, .3, .1), True, True),
    AeTerm("Renal cyst", "Renal cyst", "Renal cyst", "10038423", "RENAL", 1, True,
           (.6, .3, .1, 0)),
    AeTerm("Rash", "Rash", "Rash", "10037844", "SKIN", 3, True, (.7, .25, .05, 0)),
    AeTerm("Acute respiratory distress syndrome", "Acute respiratory distress syndrome",
           "Acute respiratory distress syndrome", "10001052", "RESP", 0, True, (0, 0, 0, 1),
           fatal=True),
    AeTerm("Tumour lysis syndrome", "Tumour lysis syndrome", "Tumour lysis syndrome",
           "10045170", "METAB", 0, True, (0, 0, 0, 1), fatal=True),
    AeTerm("Sepsis", "Sepsis", "Sepsis", "10040047", "INFEC", 0, False, (0, 0, 0, 1),
           fatal=True),
)
NAUSEA_CODING = {"AELLT": "Nausea", "AEPT": "Nausea", "AEPTCD": "10028813",
                 "AESOC": _SOC["GI"][0], "AESOCCD": _SOC["GI"][1]}

# Dose patterns (mg BID): 0 = interruption. Reductions 250 -> 200 -> 150.
EX_PATTERNS = ((250,), (250, 0, 250), (250, 200), (250, 0, 200), (250, 200, 150),
               (250, 0, 200, 150))
EX_PATTERN_P = (0.55, 0.12, 0.13, 0.08, 0.07, 0.05)
MIN_DAYS_PER_INTERVAL = 30

# End of treatment / study reasons (eos.csv text), in order of the event codes below.
EV_NONE, EV_PD, EV_TOXICITY, EV_PHYSICIAN, EV_DEATH, EV_WITHDRAWAL, EV_LOST, EV_COMPLETED = \
    range(8)
REASON_TEXT = np.array(["", "Progressive disease", "Adverse event", "Physician decision",
                        "Death", "Withdrawal by subject", "Lost to follow-up", "Completed"])


@dataclass(frozen=True)
class StudyFiles:
    """Raw eCRF frames and truth frames, each keyed by file name, all values text."""

    raw: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]


# --------------------------------------------------------------------------------------------
# Subjects and demography
# --------------------------------------------------------------------------------------------

def _cohorts(rng: np.random.Generator, n: int) -> np.ndarray:
    """Cohort per subject by accrual weight; every cohort gets a subject once n >= 23."""
    weights = np.array([c.weight for c in COHORTS])
    numbers = np.array([c.number for c in COHORTS])
    guaranteed = numbers if n >= len(COHORTS) else np.array([], dtype=np.int64)
    drawn = rng.choice(numbers, n - len(guaranteed), p=weights / weights.sum())
    return rng.permutation(np.r_[guaranteed, drawn].astype(np.int64))


def _subjects(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Site, registration, consent, first dose; one row per subject sorted by SUBJECT."""
    cohort = _cohorts(rng, n)
    n_sites = int(np.clip(np.ceil(n / 12), 3, 99))
    site_weights = rng.gamma(2.0, 1.0, n_sites)
    site = rng.choice(n_sites, n, p=site_weights / site_weights.sum())
    country = np.where(rng.random(n_sites) < 0.12, "Belgium", "France").astype("U11")
    country[rng.random(n_sites) < 0.05] = "Switzerland"
    if "Belgium" not in country:
        country[n_sites - 2] = "Belgium"
    if "Switzerland" not in country:
        country[n_sites - 1] = "Switzerland"

    glio = cohort == GLIOBLASTOMA
    regdat = np.where(glio, rng.integers(AMENDMENT, ACCRUAL_END + 1, n),
                      rng.integers(ACCRUAL_START, ACCRUAL_END + 1, n))
    consent_gap = rng.integers(0, 22, n)
    frame = pd.DataFrame({"site": site, "cohort": cohort, "regdat": regdat,
                          "icdat": regdat - consent_gap, "country": country[site]})
    frame = frame.sort_values(["site", "regdat"], kind="stable")
    number = frame.groupby("site").cumcount().to_numpy() + 1
    site_id = (101 + frame["site"].to_numpy()).astype(str)
    frame["SITE"] = site_id
    frame["SUBJECT"] = np.char.add(np.char.add(site_id, "-"), mess.zero_pad(number, 4))
    frame = frame.sort_values("SUBJECT", kind="stable").reset_index(drop=True)

    n_rows = len(frame)
    gap = (frame["regdat"] - frame["icdat"]).to_numpy()
    # Baseline scan between consent and registration, at most 14 days before registration, so
    # it falls within 28 days before the first dose.
    frame["baseline_day"] = -np.floor(rng.random(n_rows) * (np.minimum(gap, 14) + 1))
    dosed = rng.random(n_rows) >= 0.02
    if n_rows >= 50 and dosed.all():
        dosed[rng.integers(n_rows)] = False
    frame["dosed"] = dosed
    frame["first_dose"] = np.where(dosed, rng.integers(1, 15, n_rows), np.nan)
    return frame


def _demography(rng: np.random.Generator, subjects: pd.DataFrame) -> pd.DataFrame:
    """enrol.csv (before planted defects)."""
    n = len(subjects)
    cohort = subjects["cohort"].to_numpy()
    child = rng.random(n) < cohort_attribute(cohort, "paediatric_share")
    age_target = np.where(child, rng.integers(2, 18, n),
                          np.clip(np.rint(rng.normal(60, 12, n)), 18, 84)).astype(np.int64)
    icdat = subjects["icdat"].to_numpy()
    # Birth date a fraction of a year before the age-th birthday, then the exact age at consent.
    birth = icdat - np.rint((age_target + rng.uniform(0.05, 0.95, n)) * 365.2425).astype(np.int64)
    by, bm, bd = mess.date_parts(birth)
    iy, im, idd = mess.date_parts(icdat)
    age = iy - by - ((im < bm) | ((im == bm) & (idd < bd)))
    birth_unknown = mess.unknown_levels(rng, n, p_day=0.55, p_month=0.10)

    pathology = cohort_attribute(cohort, "pathology")
    alteration = _alterations(rng, cohort)
    sex = np.where(rng.random(n) < 0.5, "Male", "Female")
    race = rng.choice(np.array(["White", "Black or African American", "Asian", "Not reported"]),
                      n, p=[0.82, 0.05, 0.05, 0.08])
    ethnic = rng.choice(np.array(["Not Hispanic or Latino", "Hispanic or Latino",
                                  "Not reported"]), n, p=[0.85, 0.03, 0.12])
    return pd.DataFrame({
        "SITE": subjects["SITE"].to_numpy(),
        "SUBJECT": subjects["SUBJECT"].to_numpy(),
        "COUNTRY": mess.restyle(rng, subjects["country"].to_numpy(), {
            "France": [("France", 0.85), ("FRANCE", 0.15)],
            "Switzerland": [("Switzerland", 0.9), ("SWITZERLAND", 0.1)]}),
        "REGDAT": mess.format_dmy(subjects["regdat"].to_numpy()),
        "COHORT": cohort.astype(str),
        "PATHOL": pathology,
        "ALTERATION": alteration,
        "BRTHDAT": mess.format_dmy(birth, birth_unknown),
        "AGE": age.astype(str),
        "SEX": mess.restyle(rng, sex, {"Male": [("Male", 0.7), ("M", 0.15), ("male", 0.15)],
                                       "Female": [("Female", 0.8), ("F", 0.2)]}),
        "RACE": mess.restyle(rng, race, {"White": [("White", 0.8), ("WHITE", 0.2)]}),
        "ETHNIC": ethnic,
    })


def _consent(subjects: pd.DataFrame) -> pd.DataFrame:
    icdat = subjects["icdat"].to_numpy()
    version = np.select([icdat < AMENDMENT, icdat < CONSENT_V21], ["1.0", "2.0"], "2.1")
    return pd.DataFrame({"SUBJECT": subjects["SUBJECT"].to_numpy(),
                         "ICDAT": mess.format_dmy(icdat), "ICVER": version})


# --------------------------------------------------------------------------------------------
# Timeline: events other than progression, then treatment end, death, end of study
# --------------------------------------------------------------------------------------------

def _maybe(rng: np.random.Generator, n: int, p: float, low: float, high: float,
           start: np.ndarray) -> np.ndarray:
    """Day of an event that happens with probability p, uniformly low..high days after start."""
    day = start + np.floor(rng.uniform(low, high, n))
    return np.where(rng.random(n) < p, day, np.inf)


@dataclass(frozen=True)
class Timeline:
    """Per-subject days (relative to registration; inf / NaN = did not happen)."""

    eot_day: np.ndarray          # last dose (NaN: never dosed; inf: ongoing at cut-off)
    eot_reason: np.ndarray       # EV_* code
    death_day: np.ndarray        # inf = alive (or not known to the study)
    death_cause: np.ndarray      # text
    eos_day: np.ndarray          # inf = still in the study at cut-off
    eos_reason: np.ndarray       # EV_* code
    cutoff_day: np.ndarray


def _other_events(rng: np.random.Generator, subjects: pd.DataFrame) -> dict[str, np.ndarray]:
    n = len(subjects)
    first = subjects["first_dose"].to_numpy()
    return {
        "death": _maybe(rng, n, 0.07, 10, 400, first),        # death before any progression
        "withdrawal": _maybe(rng, n, 0.04, 20, 500, first),
        "lost": _maybe(rng, n, 0.02, 60, 900, first),
        "toxicity": _maybe(rng, n, 0.08, 15, 300, first),    # stops treatment, scans go on
        "physician": _maybe(rng, n, 0.03, 30, 400, first),
        "cutoff": (CUTOFF - subjects["regdat"].to_numpy()).astype("float64"),
    }


def _first_event(candidates: list[tuple[int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Earliest day among (code, days) candidates and the code that won (ties: listed first)."""
    days = np.stack([d for _, d in candidates], axis=1)
    winner = np.argmin(days, axis=1)
    codes = np.array([c for c, _ in candidates])
    return days[np.arange(len(days)), winner], codes[winner]


def _timeline(rng: np.random.Generator, subjects: pd.DataFrame, events: dict[str, np.ndarray],
              pd_day: np.ndarray) -> Timeline:
    n = len(subjects)
    dosed = subjects["dosed"].to_numpy()
    cutoff = events["cutoff"]
    has_pd = np.isfinite(pd_day)
    # Most stop within days of progression; about 15 % go on for a few weeks beyond it.
    beyond = rng.random(n) < 0.15
    stop_after_pd = np.where(beyond, rng.integers(14, 61, n), rng.integers(0, 11, n))
    pd_stop = np.where(has_pd, pd_day + stop_after_pd, np.inf)
    # Survival after progression: most within a year, a quarter much longer.
    survival = rng.exponential(np.where(rng.random(n) < 0.75, 300, 900))
    death_after_pd = np.where(has_pd, pd_day + 1 + np.floor(survival), np.inf)
    death = np.minimum(events["death"], death_after_pd)

    eot_day, eot_reason = _first_event([
        (EV_DEATH, death), (EV_PD, pd_stop), (EV_TOXICITY, events["toxicity"]),
        (EV_PHYSICIAN, events["physician"]), (EV_WITHDRAWAL, events["withdrawal"]),
        (EV_LOST, events["lost"])])
    ongoing = eot_day > cutoff
    eot_day = np.where(ongoing, np.inf, eot_day)
    eot_reason = np.where(ongoing, EV_NONE, eot_reason)

    eos_day, eos_reason = _first_event([
        (EV_DEATH, death), (EV_WITHDRAWAL, events["withdrawal"]), (EV_LOST, events["lost"]),
        (EV_COMPLETED, eot_day + FOLLOW_UP_DAYS)])
    in_study = eos_day > cutoff
    eos_day = np.where(in_study, np.inf, eos_day)
    eos_reason = np.where(in_study, EV_NONE, eos_reason)

    # Never dosed: leave the study within weeks of registration.
    never_eos = rng.integers(7, 46, n).astype("float64")
    never_reason = np.where(rng.random(n) < 0.5, EV_WITHDRAWAL, EV_PHYSICIAN)
    eot_day = np.where(dosed, eot_day, np.nan)
    eot_reason = np.where(dosed, eot_reason, EV_NONE)
    eos_day = np.where(dosed, eos_day, never_eos)
    eos_reason = np.where(dosed, eos_reason, never_reason)

    recorded_death = dosed & (eos_reason == EV_DEATH)
    death_day = np.where(recorded_death, death, np.inf)
    # Cause: progression for deaths after PD; a death on treatment without progression is an
    # adverse event (grade 5) in 40 % of cases, else progression without scan or other.
    u = rng.random(n)
    after_pd = has_pd & (death_after_pd <= events["death"])
    on_treatment = eot_reason == EV_DEATH
    cause = np.select(
        [after_pd & (u < 0.9), after_pd, on_treatment & (u < 0.4), u < 0.6],
        ["Disease progression", "Other", "Adverse event", "Disease progression"], "Other")
    cause = np.where(recorded_death, cause, "")
    return Timeline(eot_day=eot_day, eot_reason=eot_reason, death_day=death_day,
                    death_cause=cause, eos_day=eos_day, eos_reason=eos_reason,
                    cutoff_day=cutoff)


# --------------------------------------------------------------------------------------------
# Exposure
# --------------------------------------------------------------------------------------------

def _exposure(rng: np.random.Generator, subjects: pd.DataFrame,
              timeline: Timeline) -> pd.DataFrame:
    """Constant-dose intervals from first dose to last dose (internal day columns kept)."""
    idx = np.flatnonzero(subjects["dosed"].to_numpy())
    first = subjects["first_dose"].to_numpy()[idx]
    ongoing = ~np.isfinite(timeline.eot_day[idx])
    last = np.where(ongoing, timeline.cutoff_day[idx], timeline.eot_day[idx])
    duration = last - first + 1
    n = len(idx)
    width = max(len(p) for p in EX_PATTERNS)
    table = np.full((len(EX_PATTERNS), width), -1)
    for i, pattern in enumerate(EX_PATTERNS):
        table[i, :len(pattern)] = pattern
    lengths_of = np.array([len(p) for p in EX_PATTERNS])
    pattern = rng.choice(len(EX_PATTERNS), n, p=EX_PATTERN_P)
    pattern = np.where(duration >= MIN_DAYS_PER_INTERVAL * lengths_of[pattern], pattern, 0)
    dose = table[pattern]
    valid = dose >= 0
    n_lines = valid.sum(axis=1)
    interruption = valid & (dose == 0)
    treated = valid & (dose > 0)

    pause = np.where(interruption, rng.integers(5, 15, (n, width)), 0)
    weights = np.where(treated, rng.exponential(1.0, (n, width)), 0.0)
    free = duration - pause.sum(axis=1) - 7 * treated.sum(axis=1)
    share = np.floor(free[:, None] * weights / weights.sum(axis=1, keepdims=True))
    length = np.where(treated, 7 + share, pause)
    rows = np.arange(n)
    length[rows, n_lines - 1] += free - share.sum(axis=1)     # last interval takes the rest
    start = first[:, None] + np.cumsum(length, axis=1) - length
    end = start + length - 1

    previous = np.concatenate([np.full((n, 1), 250), dose[:, :-1]], axis=1)
    last_given = _last_positive(previous)
    reduced = treated & (dose < last_given)
    line = np.arange(width)[None, :]

    sel = valid
    subj = np.repeat(idx, n_lines)
    ex = pd.DataFrame({
        "_subj": subj,
        "EXLINE": line.repeat(n, axis=0)[sel] + 1,
        "_start": start[sel], "_end": end[sel],
        "_dose": dose[sel],
        "_kind": np.select([interruption[sel], reduced[sel]], ["interruption", "reduction"], ""),
        "_open": (ongoing[:, None] & (line == n_lines[:, None] - 1))[sel],
    })
    adj_u = rng.random(len(ex))
    ex["_adj"] = np.select(
        [(ex["_kind"] == "interruption") & (adj_u < 0.7), (ex["_kind"] == "interruption")
         & (adj_u < 0.85), ex["_kind"] == "interruption",
         (ex["_kind"] == "reduction") & (adj_u < 0.8), ex["_kind"] == "reduction"],
        ["ADVERSE EVENT", "Toxicity", "Patient decision", "ADVERSE EVENT", "Toxicity"], "")
    return ex


def _last_positive(previous: np.ndarray) -> np.ndarray:
    """Per row, the last positive dose up to each column (carried over interruptions)."""
    positive = previous > 0
    col = np.where(positive, np.arange(previous.shape[1])[None, :], 0)
    col = np.maximum.accumulate(col, axis=1)
    return np.take_along_axis(previous, col, axis=1)


def _ex_form(rng: np.random.Generator, subjects: pd.DataFrame, ex: pd.DataFrame) -> pd.DataFrame:
    regdat = subjects["regdat"].to_numpy()[ex["_subj"].to_numpy()]
    end = np.where(ex["_open"].to_numpy(), np.nan, ex["_end"].to_numpy())
    n = len(ex)
    return pd.DataFrame({
        "SUBJECT": subjects["SUBJECT"].to_numpy()[ex["_subj"].to_numpy()],
        "EXLINE": ex["EXLINE"].astype(str).to_numpy(),
        "EXSTDAT": mess.format_dmy(regdat + ex["_start"].to_numpy()),
        "EXENDAT": mess.format_dmy(regdat + end),
        "EXDOSE": ex["_dose"].astype(str).to_numpy(),
        "EXDOSEU": np.full(n, "mg"),
        "EXFREQ": np.where(rng.random(n) < 0.1, "bid", "BID"),
        "EXROUTE": np.where(rng.random(n) < 0.2, "Oral", "ORAL"),
        "EXADJ": ex["_adj"].to_numpy(),
    })


# --------------------------------------------------------------------------------------------
# Adverse events
# --------------------------------------------------------------------------------------------

def term_arrays(terms: Sequence[AeTerm] = AE_TERMS,
                socs: dict[str, tuple[str, str]] | None = None) -> dict[str, np.ndarray]:
    """An AE term list as parallel arrays (used by every study generator); ``socs`` maps the
    terms' SOC keys to (name, code), default the basket's table."""
    socs = _SOC if socs is None else socs
    return {
        "verbatim": np.array([t.verbatim for t in terms]),
        "llt": np.array([t.llt for t in terms]),
        "pt": np.array([t.pt for t in terms]),
        "ptcd": np.array([t.ptcd for t in terms]),
        "soc": np.array([socs[t.soc][0] for t in terms]),
        "soccd": np.array([socs[t.soc][1] for t in terms]),
        "weight": np.array([t.weight for t in terms], dtype="float64"),
        "related": np.array([t.drug_related for t in terms]),
        "grades": np.array([t.grades for t in terms], dtype="float64"),
        "dose_limiting": np.array([t.dose_limiting for t in terms]),
        "fatal": np.array([t.fatal for t in terms]),
    }


def _draw_grade(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    cumulative = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cumulative[:, -1:]
    return (u > cumulative).sum(axis=1) + 1


def _adverse_events(rng: np.random.Generator, subjects: pd.DataFrame, timeline: Timeline,
                    ex: pd.DataFrame) -> pd.DataFrame:
    """AE records with day columns: random ones, those behind dose changes, grade 5 ones."""
    terms = term_arrays()
    first = subjects["first_dose"].to_numpy()
    dosed = subjects["dosed"].to_numpy()
    last_dose = np.where(np.isfinite(timeline.eot_day), timeline.eot_day, timeline.cutoff_day)
    # Nothing after death, end of study or cut-off; collection stops 28 days after last dose.
    end_limit = np.minimum(np.minimum(timeline.death_day, timeline.eos_day), timeline.cutoff_day)
    window_end = np.minimum(last_dose + AE_REPORTING_DAYS, end_limit)
    span = np.where(dosed, np.maximum(window_end - first, 0), 0)

    # 1) Random AEs over the reporting window.
    rate = 1 + 5 * np.minimum(span / 180, 1)
    count = np.where(dosed, rng.poisson(rate), 0)
    subj = np.repeat(np.arange(len(subjects)), count)
    m = len(subj)
    common = np.flatnonzero(terms["weight"] > 0)
    term = rng.choice(common, m, p=terms["weight"][common] / terms["weight"][common].sum())
    start = first[subj] + np.floor(rng.random(m) * (span[subj] + 1))
    random_ae = pd.DataFrame({"_subj": subj, "_term": term, "_start": start,
                              "_grade": _draw_grade(rng, terms["grades"][term]),
                              "_acn": np.where(start <= last_dose[subj], "Dose not changed",
                                               "Not applicable"),
                              "_origin": 0})

    # 2) AEs behind interruptions / reductions, and behind stopping for toxicity.
    limiting = np.flatnonzero(terms["dose_limiting"])
    changed = ex[ex["_adj"].isin(["ADVERSE EVENT", "Toxicity"])]
    k = len(changed)
    dose_ae = pd.DataFrame({
        "_subj": changed["_subj"].to_numpy(),
        "_term": rng.choice(limiting, k),
        "_start": np.maximum(changed["_start"].to_numpy() - rng.integers(1, 6, k),
                             first[changed["_subj"].to_numpy()]),
        "_grade": rng.integers(2, 4, k),
        "_acn": np.where(changed["_kind"].to_numpy() == "interruption", "Drug interrupted",
                         "Dose reduced"),
        "_origin": 1})
    stopped = np.flatnonzero(timeline.eot_reason == EV_TOXICITY)
    s = len(stopped)
    stop_ae = pd.DataFrame({
        "_subj": stopped, "_term": rng.choice(limiting, s),
        "_start": np.maximum(timeline.eot_day[stopped] - rng.integers(0, 6, s), first[stopped]),
        "_grade": rng.integers(3, 5, s), "_acn": "Drug withdrawn", "_origin": 2})

    # 3) Grade 5 AEs: one per death whose cause is "Adverse event".
    fatal_subj = np.flatnonzero(timeline.death_cause == "Adverse event")
    f = len(fatal_subj)
    fatal_ae = pd.DataFrame({
        "_subj": fatal_subj, "_term": rng.choice(np.flatnonzero(terms["fatal"]), f),
        "_start": np.maximum(timeline.death_day[fatal_subj] - rng.integers(0, 8, f),
                             first[fatal_subj]),
        "_grade": 5, "_acn": "Drug withdrawn", "_origin": 3})

    ae = pd.concat([random_ae, dose_ae, stop_ae, fatal_ae], ignore_index=True)
    return finish_ae_records(rng, ae, timeline.death_day, end_limit, median_days=10)


def finish_ae_records(rng: np.random.Generator, ae: pd.DataFrame, death_day: np.ndarray,
                      end_limit: np.ndarray, *, median_days: float) -> pd.DataFrame:
    """End days (log-normal durations; grade 5 ends at death; still going at the subject's
    limit → ongoing), then the per-subject order and AESPID. Shared by the study generators."""
    subj = ae["_subj"].to_numpy()
    grade = ae["_grade"].to_numpy()
    duration = np.ceil(np.exp(rng.normal(np.log(median_days), 1.0, len(ae))))
    end = ae["_start"].to_numpy() + duration
    fatal = grade == 5
    end = np.where(fatal, death_day[subj], end)
    ongoing = ~fatal & (end > end_limit[subj])
    ae["_end"] = np.where(ongoing, np.nan, end)
    ae["_ongoing"] = ongoing
    ae = ae.sort_values(["_subj", "_start", "_origin"], kind="stable").reset_index(drop=True)
    ae["AESPID"] = ae.groupby("_subj").cumcount().to_numpy() + 1
    return ae


def _ae_form(rng: np.random.Generator, subjects: pd.DataFrame, ae: pd.DataFrame) -> pd.DataFrame:
    terms = term_arrays()
    n = len(ae)
    subj = ae["_subj"].to_numpy()
    term = ae["_term"].to_numpy()
    grade = ae["_grade"].to_numpy()
    ongoing = ae["_ongoing"].to_numpy()
    regdat = subjects["regdat"].to_numpy()[subj]
    fatal = grade == 5

    start_unknown = mess.unknown_levels(rng, n, p_day=0.05, p_month=0.01)
    start_unknown[fatal] = mess.COMPLETE
    end_unknown = mess.unknown_levels(rng, n, p_day=0.03)
    time = np.char.add(np.char.add(mess.zero_pad(rng.integers(7, 20, n), 2), ":"),
                       mess.zero_pad(rng.integers(0, 60, n), 2))
    serious = rng.random(n) < np.array([0, 0.01, 0.04, 0.3, 0.7, 1.0])[grade]
    u = rng.random((n, 3))
    hosp = u[:, 0] < 0.85
    life = (grade >= 4) & (u[:, 1] < 0.5)
    other = ~hosp & ~life & ~fatal

    def criterion(flag: np.ndarray, blank_p: float = 0.0) -> np.ndarray:
        text = np.where(flag, "Y", "N")
        text = np.where(~flag & (u[:, 2] < blank_p), "", text)
        return np.where(serious, text, "")

    related = terms["related"][term]
    rel_u = rng.random(n)
    drug_typical = np.select([rel_u < 0.5, rel_u < 0.75, rel_u < 0.85],
                             ["Related", "Possibly related", "Unlikely related"], "Not related")
    atypical = np.select([rel_u < 0.5, rel_u < 0.75, rel_u < 0.9],
                         ["Not related", "Unlikely related", "Possibly related"], "Related")
    linked = ae["_origin"].to_numpy() > 0
    aerel = np.where(linked & ~fatal, np.where(rel_u < 0.8, "Related", "Possibly related"),
                     np.where(related, drug_typical, atypical))
    out_u = rng.random(n)
    outcome = np.where(
        ongoing, np.select([out_u < 0.6, out_u < 0.95], ["Not recovered/Not resolved",
                                                         "Recovering/Resolving"], "Unknown"),
        np.where(out_u < 0.93, "Recovered/Resolved", "Recovered/Resolved with sequelae"))
    outcome = np.where(fatal, "Fatal", outcome)
    grade_text = np.where(rng.random(n) < 0.08, np.char.add("Grade ", grade.astype(str)),
                          grade.astype(str))
    ongo_text = np.where(ongoing, "Y", np.where(rng.random(n) < 0.15, "", "N"))
    return pd.DataFrame({
        "SUBJECT": subjects["SUBJECT"].to_numpy()[subj],
        "AESPID": ae["AESPID"].astype(str).to_numpy(),
        "AETERM": mess.vary_case(rng, terms["verbatim"][term], 0.15, 0.15),
        "AELLT": terms["llt"][term], "AEPT": terms["pt"][term], "AEPTCD": terms["ptcd"][term],
        "AESOC": terms["soc"][term], "AESOCCD": terms["soccd"][term],
        "AESTDAT": mess.format_ymd(regdat + ae["_start"].to_numpy(), start_unknown),
        "AESTTIM": np.where(rng.random(n) < 0.25, time, ""),
        "AEENDAT": mess.format_ymd(regdat + ae["_end"].to_numpy(), end_unknown),
        "AEONGO": ongo_text,
        "AEGRADE": grade_text,
        "AESER": np.where(serious, "Yes", "No"),
        "AESDTH": criterion(fatal),
        "AESLIFE": criterion(life),
        "AESHOSP": criterion(hosp),
        "AESDISAB": criterion(np.zeros(n, dtype=bool), 0.1),
        "AESCONG": criterion(np.zeros(n, dtype=bool), 0.1),
        "AESMIE": criterion(other),
        "AEREL": aerel,
        "AEACN": ae["_acn"].to_numpy(),
        "AEOUT": outcome,
    })


# --------------------------------------------------------------------------------------------
# Death and end of study
# --------------------------------------------------------------------------------------------

def _death_form(rng: np.random.Generator, subjects: pd.DataFrame,
                timeline: Timeline) -> pd.DataFrame:
    idx = np.flatnonzero(np.isfinite(timeline.death_day))
    day_unknown = np.where(rng.random(len(idx)) < 0.15, mess.DAY_UNKNOWN, mess.COMPLETE)
    return pd.DataFrame({
        "SUBJECT": subjects["SUBJECT"].to_numpy()[idx],
        "DTHDAT": mess.format_dmy(subjects["regdat"].to_numpy()[idx] + timeline.death_day[idx],
                                  day_unknown.astype(np.int8)),
        "DTHCAUS": timeline.death_cause[idx]})


def _eos_form(rng: np.random.Generator, subjects: pd.DataFrame, timeline: Timeline,
              latest_day: np.ndarray) -> pd.DataFrame:
    """One row per subject off treatment or off study; LSTCONDT >= every other date."""
    off_treatment = np.isfinite(timeline.eot_day)
    off_study = np.isfinite(timeline.eos_day)
    idx = np.flatnonzero(off_treatment | off_study)
    eos = timeline.eos_day[idx]
    # Still followed at cut-off: last contact a few weeks before cut-off, never before the
    # subject's latest recorded date.
    follow_up = np.maximum(timeline.cutoff_day[idx] - rng.integers(0, 61, len(idx)),
                           latest_day[idx])
    last_contact = np.where(np.isfinite(eos), eos, follow_up)
    regdat = subjects["regdat"].to_numpy()[idx]
    return pd.DataFrame({
        "SUBJECT": subjects["SUBJECT"].to_numpy()[idx],
        "EOTDAT": mess.format_dmy(regdat + timeline.eot_day[idx]),
        "EOTREAS": REASON_TEXT[timeline.eot_reason[idx]],
        "EOSDAT": mess.format_dmy(np.where(np.isfinite(eos), regdat + eos, np.nan)),
        "EOSREAS": REASON_TEXT[timeline.eos_reason[idx]],
        "LSTCONDT": mess.format_dmy(regdat + last_contact),
    })


def _latest_day(n: int, course: tumour.TumourCourse, ex: pd.DataFrame, ae: pd.DataFrame,
                timeline: Timeline) -> np.ndarray:
    """Latest recorded day per subject (assessments, doses, AE dates, end of treatment)."""
    latest = course.last_assessment_day()
    latest = np.fmax(latest, np.where(np.isfinite(timeline.eot_day), timeline.eot_day, -np.inf))
    for frame, column in ((ex, "_end"), (ae, "_start"), (ae, "_end")):
        values = frame[column].to_numpy(dtype="float64")
        keep = np.isfinite(values)
        per_subject = np.full(n, -np.inf)
        np.maximum.at(per_subject, frame["_subj"].to_numpy()[keep], values[keep])
        latest = np.maximum(latest, per_subject)
    return latest


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------

def _tumour_inputs(subjects: pd.DataFrame, censor_day: np.ndarray,
                   rng: np.random.Generator) -> tumour.TumourInputs:
    cohort = subjects["cohort"].to_numpy()
    n = len(subjects)
    paediatric = np.isin(cohort, PAEDIATRIC_COHORTS)
    mri = (cohort == GLIOBLASTOMA) | (rng.random(n) < np.where(paediatric, 0.4, 0.08))
    return tumour.TumourInputs(
        subject=subjects["SUBJECT"].to_numpy().astype(str),
        organ_group=cohort_attribute(cohort, "organ_group"),
        response_rate=cohort_attribute(cohort, "response_rate"),
        mri=mri, dosed=subjects["dosed"].to_numpy(),
        first_dose=subjects["first_dose"].to_numpy(dtype="float64"),
        baseline_day=subjects["baseline_day"].to_numpy(dtype="float64"),
        censor_day=censor_day, regdat=subjects["regdat"].to_numpy())


def build(n_subjects: int, seed: int) -> StudyFiles:
    """Generate every raw form and truth table of the basket trial for n subjects."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(12)]
    subjects = _subjects(streams[0], n_subjects)
    n = len(subjects)
    events = _other_events(streams[1], subjects)
    censor = np.minimum.reduce([events["death"], events["withdrawal"], events["lost"],
                                events["cutoff"] + 1])
    inputs = _tumour_inputs(subjects, censor, streams[2])
    course = tumour.simulate(streams[3], inputs)
    timeline = _timeline(streams[4], subjects, events, course.first_pd_day())
    # No scan after the end of study (completion after the follow-up period, death, ...).
    course = course.truncated(np.where(np.isfinite(timeline.eos_day), timeline.eos_day,
                                       timeline.cutoff_day + 1))

    ex = _exposure(streams[5], subjects, timeline)
    ae = _adverse_events(streams[6], subjects, timeline, ex)
    latest = _latest_day(n, course, ex, ae, timeline)

    enrol, race_defects = mess.plant_unmapped_race(streams[7], _demography(streams[8], subjects))
    ae_form, ae_defects = mess.plant_ae_defects(streams[9], _ae_form(streams[10], subjects, ae),
                                                NAUSEA_CODING)
    forms = tumour.tumour_forms(streams[11], course, tumour.reason_stream(seed))
    orr, disagreements, planted_rows = mess.plant_disagreements(
        streams[9], forms["orr.csv"], max(1, round(n / 50)))
    investigator = orr["OVRLRESP"].to_numpy()      # RECIST codes, before any spelled out
    orr = _spell_out(streams[9], orr, planted_rows)

    raw = {
        "enrol.csv": enrol,
        "ic.csv": _consent(subjects),
        "ex.csv": _ex_form(streams[5], subjects, ex),
        "ae.csv": ae_form,
        "death.csv": _death_form(streams[4], subjects, timeline),
        "eos.csv": _eos_form(streams[4], subjects, timeline, latest),
        "tl.csv": forms["tl.csv"],
        "ntl.csv": forms["ntl.csv"],
        "nl.csv": forms["nl.csv"],
        "orr.csv": orr,
    }
    raw.update(clinical_forms.build_forms(seed, _clinical_inputs(subjects, enrol, timeline,
                                                                 latest),
                                          clinical_forms.BASKET_LAYOUT))
    pd_day = course.first_pd_day()
    regdat = subjects["regdat"].to_numpy()
    truth_subjects = pd.DataFrame({
        "SUBJECT": subjects["SUBJECT"].to_numpy(),
        "COHORT": subjects["cohort"].astype(str).to_numpy(),
        "TRUE_BOR": course.best_overall_response(),
        "PD_DATE": mess.format_iso(regdat + pd_day),
        "DEATH_DATE": mess.format_iso(np.where(np.isfinite(timeline.death_day),
                                               regdat + timeline.death_day, np.nan)),
        "REG_DATE": mess.format_iso(regdat.astype("float64")),
        "FIRST_DOSE_DATE": mess.format_iso(regdat + subjects["first_dose"].to_numpy(
            dtype="float64")),
    })
    truth = {
        "planted_disagreements.csv": disagreements,
        "planted_defects.csv": pd.concat([race_defects, ae_defects], ignore_index=True),
        "subjects.csv": truth_subjects,
        "timepoints.csv": _truth_timepoints(course, regdat, investigator),
    }
    return StudyFiles(raw=raw, truth=truth)


def _truth_timepoints(course: tumour.TumourCourse, regdat: np.ndarray,
                      investigator: np.ndarray) -> pd.DataFrame:
    """Every post-baseline assessment with its true date and responses (landmark truth):
    RECIST is the generator's overall response, INVESTIGATOR the one written on orr.csv
    (a planted disagreement changes it) before any is spelled out in words."""
    subj, k = np.nonzero(course.assessed)
    order = np.lexsort((k, subj))
    subj, k = subj[order], k[order]
    return pd.DataFrame({
        "SUBJECT": course.inputs.subject[subj],
        "VISIT": course.visit[subj, k],
        "DATE": mess.format_iso(regdat[subj] + course.day[subj, k]),
        "RECIST": course.responses.overall[subj, k],
        "INVESTIGATOR": investigator,
    })


def _clinical_inputs(subjects: pd.DataFrame, enrol: pd.DataFrame, timeline: Timeline,
                     latest: np.ndarray) -> clinical_forms.ClinicalInputs:
    """What the CM/MH/IE/VS/LB/PR forms need, read from the frames already drawn (no draw)."""
    return clinical_forms.ClinicalInputs(
        subject=subjects["SUBJECT"].to_numpy().astype(str),
        regdat=subjects["regdat"].to_numpy().astype(np.int64),
        icdat=subjects["icdat"].to_numpy().astype(np.int64),
        first_dose=subjects["first_dose"].to_numpy(dtype="float64"),
        treatment_end=timeline.eot_day,
        last_day=np.where(np.isfinite(latest), latest, 0.0),
        age_years=enrol["AGE"].astype(float).to_numpy() + 0.5,
        female=enrol["SEX"].str.upper().str.startswith("F").to_numpy(),
        diagnosis=enrol["PATHOL"].to_numpy().astype(str),
        alk=enrol["ALTERATION"].str.upper().str.contains("ALK").to_numpy())


def _spell_out(rng: np.random.Generator, orr: pd.DataFrame,
               protected_rows: np.ndarray) -> pd.DataFrame:
    """About 4 % of response codes written in words (never on a planted disagreement)."""
    out = orr.copy()
    for column in ("TRGRESP", "NTRGRESP", "OVRLRESP"):
        codes = out[column].to_numpy(dtype=object)
        spelled = mess.spell_out_responses(rng, codes, 0.04)
        if column == "OVRLRESP":
            spelled[protected_rows] = codes[protected_rows]
        out[column] = spelled
    return out
