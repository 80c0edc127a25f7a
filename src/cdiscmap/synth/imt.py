"""The paediatric IMT crizotinib study, exported by a second EDC vendor (docs/raw-forms-imt.md).

Children 0-18 years with ALK- or ROS1-rearranged inflammatory myofibroblastic tumour take
crizotinib 280 mg/m2 twice daily (reductions 215 then 165 mg/m2), dosed by body-surface area.
The subject timeline, exposure intervals, adverse events and tumour course are drawn by the
basket-trial generator's building blocks (``basket``, ``tumour``, ``recist_truth``,
``messiness``); this module adds what the study changes (ages from 2 months, BSA, mg/m2 dose
levels, fusion partners) and re-shapes everything into the vendor's layout: other column names,
YMD dates everywhere, one row per lesion per visit, decoded response texts, cycle-day visits.

Truth files: ``subjects.csv`` (ages, dates, the RECIST and investigator best responses with and
without confirmation), ``planted_disagreements.csv`` and ``planted_defects.csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.synth import basket, clinical_forms, tumour
from cdiscmap.synth import messiness as mess
from cdiscmap.synth import recist_truth as rt
from cdiscmap.synth.basket import StudyFiles, _day

STUDY = "imt-pediatric"


ACCRUAL_START = _day("2018-03-01")
ACCRUAL_END = _day("2020-02-29")
CUTOFF = _day("2021-03-01")            # trial end date of the seed record = data cut-off
INFANT_SHARE = 0.12                    # children under 2 years at consent (AGE in months)
ASSENT_AGE_YEARS = 7                   # children from 7 years sign an assent form
CONFIRMATION_DAYS = 28                 # RECIST 1.1 §4.6.1: CR/PR confirmed >= 4 weeks later
CONFIRMATION_MAX_NE = 1                # NE assessments allowed between response and confirmation
SD_MIN_DAYS = 42                       # RECIST 1.1 §4.4.3: SD minimum duration (protocol value)

# Dose levels (mg/m2 per administration, twice daily): the basket generator's three levels
# (250 -> 200 -> 150 mg) re-expressed as the paediatric levels 280 -> 215 -> 165 mg/m2.
DOSE_LEVEL_MGM2 = {250: 280, 200: 215, 150: 165, 0: 0}
DOSE_ROUNDING_MG = 10                  # each administration rounded to 10 mg

# Centres: (id, ISO 3166 alpha-2 country as exported, accrual weight).
CENTRES = (("01", "RU", 6.0), ("02", "RU", 2.0), ("03", "RU", 1.5), ("04", "RU", 1.0),
           ("05", "BY", 1.0))

# Kinase fusions (seed background: ALK partners TPM3, TPM4, CLTC, CARS, RANBP2, EML4, TFG;
# ROS1 partners YWHAE and TFG) with their relative frequency.
FUSIONS = (("ALK", "TPM3", 4.0), ("ALK", "TPM4", 3.0), ("ALK", "CLTC", 2.5), ("ALK", "CARS", 1.0),
           ("ALK", "RANBP2", 1.5), ("ALK", "EML4", 1.0), ("ALK", "TFG", 0.8),
           ("ROS1", "YWHAE", 1.2), ("ROS1", "TFG", 1.0))

# Body-surface area (m2) by age (years): rough paediatric medians between the knots.
_BSA_AGE = np.array([0.0, 0.25, 1.0, 2.0, 5.0, 10.0, 14.0, 18.0, 19.0])
_BSA_M2 = np.array([0.22, 0.30, 0.45, 0.55, 0.75, 1.10, 1.50, 1.75, 1.78])

# Event codes of basket._timeline, as this vendor words them (paediatric: parents withdraw).
REASON_TEXT = np.array(["", "Progressive disease", "Adverse event", "Physician decision",
                        "Death", "Withdrawal by parent/guardian", "Lost to follow-up",
                        "Completed"])
ADJUST_TEXT = {"": "", "ADVERSE EVENT": "Adverse event", "Toxicity": "Toxicity",
               "Patient decision": "Parent/guardian decision"}

# The vendor exports the decode of each coded answer.
RESPONSE_DECODE = {rt.CR: "Complete Response", rt.PR: "Partial Response",
                   rt.SD: "Stable Disease", rt.PD: "Progressive Disease",
                   rt.NE: "Not Evaluable", rt.NON_CR_NON_PD: "Non-CR/Non-PD",
                   rt.NOT_ALL_EVALUATED: "Not All Evaluated", rt.NOT_APPLICABLE: "Not Applicable"}
TARGET_STATUS_DECODE = {"": "", "TOO SMALL TO MEASURE": "Too small to measure",
                        "NOT EVALUATED": "Not evaluated", "SPLIT": "Split", "MERGED": "Merged"}
NONTARGET_STATUS_DECODE = {"": "", "PRESENT": "Present", "ABSENT": "Absent",
                           "UNEQUIVOCAL PROGRESSION": "Unequivocal progression",
                           "NOT EVALUATED": "Not evaluated"}
# ... and words the reason a lesion was not evaluated in sentence case ("Poor image quality").
NOT_EVALUATED_REASON_DECODE = {"": "", **{str(r): str(r).capitalize()
                                          for r in tumour.NOT_EVALUATED_REASONS}}

# Column names of this vendor for the basket generator's AE log (AESTTIM is not collected).
AE_COLUMNS = {"SUBJECT": "PATIENT_ID", "AESPID": "AE_NO", "AETERM": "AE_VERBATIM",
              "AELLT": "LLT_NAME", "AEPT": "PT_NAME", "AEPTCD": "PT_CODE", "AESOC": "SOC_NAME",
              "AESOCCD": "SOC_CODE", "AESTDAT": "START_DATE", "AEENDAT": "END_DATE",
              "AEONGO": "ONGOING", "AEGRADE": "CTCAE_GRADE", "AESER": "SERIOUS",
              "AESDTH": "SAE_DEATH", "AESLIFE": "SAE_LIFE_THREAT",
              "AESHOSP": "SAE_HOSPITALISATION", "AESDISAB": "SAE_DISABILITY",
              "AESCONG": "SAE_CONGENITAL", "AESMIE": "SAE_OTHER_MEDICAL",
              "AEREL": "CAUSALITY", "AEACN": "ACTION_TAKEN", "AEOUT": "OUTCOME"}

TRUTH_SUBJECT_COLUMNS = ["PATIENT_ID", "FUSION_GENE", "BIRTH_DATE", "CONSENT_DATE", "REG_DATE",
                         "FIRST_DOSE_DATE", "N_ASSESSMENTS", "TRUE_BOR", "INV_BOR",
                         "INV_CONFIRMED_BOR", "RESPONDER", "PD_DATE", "DEATH_DATE"]


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------

def _ymd(days: np.ndarray, unknown: np.ndarray | None = None) -> np.ndarray:
    """``2019-03-05``; this vendor writes an unknown part as ``UK`` (``2019-03-UK``)."""
    return np.char.replace(mess.format_ymd(days, unknown).astype(str), "UN", "UK")


_MONTH_NUMBER = {m: f"{i:02d}" for i, m in enumerate(mess.MONTHS, 1)}


def _dmy_to_ymd(text: pd.Series) -> np.ndarray:
    """Complete ``05-MAR-2014`` dates (the tumour forms) as ``2014-03-05``."""
    s = text.astype(str)
    return (s.str.slice(7, 11) + "-" + s.str.slice(3, 6).map(_MONTH_NUMBER) + "-"
            + s.str.slice(0, 2)).to_numpy(dtype=str)


def _completed_months(birth: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Whole months of life on day ``on`` (days since 1970) for a birth on day ``birth``."""
    by, bm, bd = mess.date_parts(birth)
    oy, om, od = mess.date_parts(on)
    return (oy - by) * 12 + (om - bm) - (od < bd)


# --------------------------------------------------------------------------------------------
# Subjects and demography
# --------------------------------------------------------------------------------------------

def _subjects(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Centre, registration, consent, first dose, birth, fusion; sorted by PATIENT_ID."""
    weights = np.array([c[2] for c in CENTRES])
    centre = rng.choice(len(CENTRES), n, p=weights / weights.sum())
    regdat = rng.integers(ACCRUAL_START, ACCRUAL_END + 1, n)
    frame = pd.DataFrame({"centre": centre, "regdat": regdat,
                          "icdat": regdat - rng.integers(0, 22, n)})
    frame = frame.sort_values(["centre", "regdat"], kind="stable")
    number = frame.groupby("centre").cumcount().to_numpy() + 1
    centre_id = np.array([c[0] for c in CENTRES])[frame["centre"].to_numpy()]
    frame["CENTRE_ID"] = centre_id
    frame["SUBJECT"] = np.char.add(np.char.add(centre_id, "-"), mess.zero_pad(number, 3))
    frame = frame.sort_values("SUBJECT", kind="stable").reset_index(drop=True)

    rows = len(frame)
    icdat = frame["icdat"].to_numpy()
    # Age at consent: about 12 % infants (2-23 months), the rest 2-18 years, median near 8
    # (seed background: median 8.4 years in the earlier paediatric study).
    infant = rng.random(rows) < INFANT_SHARE
    if rows >= 10 and not infant.any():
        infant[rng.integers(rows)] = True
    years = np.where(infant, rng.uniform(2 / 12, 23.5 / 12, rows),
                     np.clip(rng.gamma(3.0, 2.9, rows), 2.05, 18.9))
    birth = icdat - np.floor(years * 365.2425).astype(np.int64)
    months = _completed_months(birth, icdat)
    frame["birth"] = birth
    frame["age_months"] = months
    gap = (frame["regdat"] - frame["icdat"]).to_numpy()
    # Baseline scan after consent, at most 14 days before registration (CMAP-XD0008-safe).
    frame["baseline_day"] = -np.floor(rng.random(rows) * (np.minimum(gap, 14) + 1))
    dosed = rng.random(rows) >= 0.02
    if rows >= 50 and dosed.all():
        dosed[rng.integers(rows)] = False
    frame["dosed"] = dosed
    frame["first_dose"] = np.where(dosed, rng.integers(1, 11, rows), np.nan)
    fusion_weights = np.array([f[2] for f in FUSIONS])
    fusion = rng.choice(len(FUSIONS), rows, p=fusion_weights / fusion_weights.sum())
    frame["gene"] = np.array([f[0] for f in FUSIONS])[fusion]
    frame["partner"] = np.array([f[1] for f in FUSIONS])[fusion]
    frame["bsa"] = np.round(np.interp(years, _BSA_AGE, _BSA_M2)
                            * np.exp(rng.normal(0, 0.07, rows)), 2)
    return frame


def _patients_form(rng: np.random.Generator, subjects: pd.DataFrame) -> pd.DataFrame:
    """patients.csv: registration, consent and assent, demography, fusion (before defects)."""
    n = len(subjects)
    months = subjects["age_months"].to_numpy()
    infant = months < 24
    age = np.where(infant, months, months // 12)
    unit = np.where(infant, "Months", "Years")
    unit = mess.restyle(rng, unit, {"Years": [("Years", 0.85), ("years", 0.1), ("YEARS", 0.05)],
                                    "Months": [("Months", 0.8), ("months", 0.2)]})
    icdat = subjects["icdat"].to_numpy()
    assent = np.where(months >= 12 * ASSENT_AGE_YEARS, icdat, np.nan)
    # Older children's exact birthday is sometimes withheld (day unknown); never an infant's.
    birth_unknown = np.where(~infant & (rng.random(n) < 0.1), mess.DAY_UNKNOWN,
                             mess.COMPLETE).astype(np.int8)
    country = np.array([c[1] for c in CENTRES])[subjects["centre"].to_numpy()]
    sex = np.where(rng.random(n) < 0.5, "1", "2")
    race = rng.choice(np.array(["White", "Asian", "Not reported"]), n, p=[0.85, 0.07, 0.08])
    ethnic = rng.choice(np.array(["Not Hispanic or Latino", "Not reported"]), n, p=[0.9, 0.1])
    return pd.DataFrame({
        "CENTRE_ID": subjects["CENTRE_ID"].to_numpy(),
        "SUBJECT": subjects["SUBJECT"].to_numpy(),
        "COUNTRY_CODE": mess.restyle(rng, country, {"RU": [("RU", 0.9), ("ru", 0.1)]}),
        "REGISTRATION_DATE": _ymd(subjects["regdat"].to_numpy()),
        "CONSENT_DATE": _ymd(icdat),
        "ASSENT_DATE": _ymd(assent),
        "BIRTH_DATE": _ymd(subjects["birth"].to_numpy(), birth_unknown),
        "AGE": age.astype(str),
        "AGE_UNIT": unit,
        "SEX": sex,
        "RACE": race,
        "ETHNICITY": ethnic,
        "HISTOLOGY": "Inflammatory myofibroblastic tumour",
        "FUSION_GENE": subjects["gene"].to_numpy(),
        "FUSION_PARTNER": subjects["partner"].to_numpy(),
    })


def _other_events(rng: np.random.Generator, subjects: pd.DataFrame) -> dict[str, np.ndarray]:
    """Events other than progression (IMT is rarely fatal without progression)."""
    n = len(subjects)
    first = subjects["first_dose"].to_numpy()
    return {
        "death": basket._maybe(rng, n, 0.01, 30, 600, first),
        "withdrawal": basket._maybe(rng, n, 0.04, 20, 500, first),
        "lost": basket._maybe(rng, n, 0.02, 60, 700, first),
        "toxicity": basket._maybe(rng, n, 0.05, 15, 300, first),
        "physician": basket._maybe(rng, n, 0.03, 30, 400, first),
        "cutoff": (CUTOFF - subjects["regdat"].to_numpy()).astype("float64"),
    }


def _tumour_inputs(rng: np.random.Generator, subjects: pd.DataFrame,
                   censor_day: np.ndarray) -> tumour.TumourInputs:
    n = len(subjects)
    return tumour.TumourInputs(
        subject=subjects["SUBJECT"].to_numpy().astype(str),
        organ_group=np.full(n, "sarcoma"),
        # latent 0.90 gives ~0.85 observed (seed: 86 % responses in the phase 2 study)
        response_rate=np.full(n, 0.90),
        mri=rng.random(n) < 0.5,                       # children: MRI spares radiation
        dosed=subjects["dosed"].to_numpy(),
        first_dose=subjects["first_dose"].to_numpy(dtype="float64"),
        baseline_day=subjects["baseline_day"].to_numpy(dtype="float64"),
        censor_day=censor_day, regdat=subjects["regdat"].to_numpy())


# --------------------------------------------------------------------------------------------
# Dosing (mg/m2 by body-surface area)
# --------------------------------------------------------------------------------------------

def _dosing_form(rng: np.random.Generator, subjects: pd.DataFrame,
                 ex: pd.DataFrame) -> pd.DataFrame:
    """dosing.csv: one row per constant-dose interval or interruption.

    BSA is re-measured at each line (children grow); the actual total daily dose is
    2 x (mg/m2 x BSA rounded to 10 mg), the prescribed dose stays in mg/m2.
    """
    subj = ex["_subj"].to_numpy()
    regdat = subjects["regdat"].to_numpy()[subj]
    interrupted = ex["_dose"].to_numpy() == 0
    mgm2 = pd.Series(ex["_dose"].to_numpy()).map(DOSE_LEVEL_MGM2).to_numpy()
    months = subjects["age_months"].to_numpy()[subj]
    years_on = (ex["_start"].to_numpy() - subjects["first_dose"].to_numpy()[subj]) / 365.25
    growth = np.where(months < 24, 0.15, 0.04)
    bsa = np.round(subjects["bsa"].to_numpy()[subj] * (1 + growth * years_on), 2)
    per_dose = np.maximum(np.rint(mgm2 * bsa / DOSE_ROUNDING_MG) * DOSE_ROUNDING_MG,
                          DOSE_ROUNDING_MG)
    daily = np.where(interrupted, 0, 2 * per_dose).astype(np.int64)
    end = np.where(ex["_open"].to_numpy(), np.nan, ex["_end"].to_numpy())
    n = len(ex)
    # Under 6 years: the oral solution; older children swallow capsules.
    form = np.where(months < 72, "Oral solution", "Capsule")

    def blank_if_interrupted(values: np.ndarray) -> np.ndarray:
        return np.where(interrupted, "", values)

    return pd.DataFrame({
        "PATIENT_ID": subjects["SUBJECT"].to_numpy()[subj],
        "LINE_NO": ex["EXLINE"].astype(str).to_numpy(),
        "START_DATE": _ymd(regdat + ex["_start"].to_numpy()),
        "STOP_DATE": _ymd(regdat + end),
        "INTERRUPTED": np.where(interrupted, "Y", "N"),
        "BSA_M2": blank_if_interrupted(np.char.mod("%.2f", bsa)),
        "DOSE_MG_M2": blank_if_interrupted(mgm2.astype(np.int64).astype(str)),
        "DOSE_UNIT": blank_if_interrupted(np.where(rng.random(n) < 0.8, "mg/m²", "mg/m2")),
        "TOTAL_DAILY_DOSE_MG": daily.astype(str),
        "FREQUENCY": blank_if_interrupted(mess.restyle(
            rng, np.full(n, "BID"), {"BID": [("BID", 0.6), ("Twice daily", 0.3),
                                             ("bid", 0.1)]})),
        "FORMULATION": blank_if_interrupted(form),
        "CHANGE_REASON": pd.Series(ex["_adj"].to_numpy()).map(ADJUST_TEXT).to_numpy(),
    })


# --------------------------------------------------------------------------------------------
# Adverse events, end of study
# --------------------------------------------------------------------------------------------

def _ae_form(rng_form: np.random.Generator, rng_defects: np.random.Generator,
             subjects: pd.DataFrame, ae: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """adverse_events.csv in this vendor's names, and the planted AE defects."""
    form = basket._ae_form(rng_form, subjects, ae).drop(columns="AESTTIM")
    form, defects = mess.plant_ae_defects(rng_defects, form, basket.NAUSEA_CODING)
    for column in ("AESTDAT", "AEENDAT"):
        form[column] = np.char.replace(form[column].to_numpy(dtype=str), "UN", "UK")
    form["AEONGO"] = form["AEONGO"].map({"Y": "Yes", "N": "No", "": ""})
    form = form.rename(columns=AE_COLUMNS)
    defects = defects.assign(FILE="adverse_events.csv",
                             COLUMN=defects["COLUMN"].map(AE_COLUMNS))
    return form, defects


def _end_of_study_form(rng: np.random.Generator, subjects: pd.DataFrame,
                       timeline: basket.Timeline, latest_day: np.ndarray) -> pd.DataFrame:
    """end_of_study.csv: end of treatment, end of study, last contact and death in one row."""
    off = np.isfinite(timeline.eot_day) | np.isfinite(timeline.eos_day)
    idx = np.flatnonzero(off)
    eos = timeline.eos_day[idx]
    follow_up = np.maximum(timeline.cutoff_day[idx] - rng.integers(0, 61, len(idx)),
                           latest_day[idx])
    last_contact = np.where(np.isfinite(eos), eos, follow_up)
    death = timeline.death_day[idx]
    died = np.isfinite(death)
    death_unknown = np.where(died & (rng.random(len(idx)) < 0.15), mess.DAY_UNKNOWN,
                             mess.COMPLETE).astype(np.int8)
    regdat = subjects["regdat"].to_numpy()[idx]
    return pd.DataFrame({
        "PATIENT_ID": subjects["SUBJECT"].to_numpy()[idx],
        "TREATMENT_END_DATE": _ymd(regdat + timeline.eot_day[idx]),
        "TREATMENT_END_REASON": REASON_TEXT[timeline.eot_reason[idx]],
        "STUDY_END_DATE": _ymd(np.where(np.isfinite(eos), regdat + eos, np.nan)),
        "STUDY_END_REASON": REASON_TEXT[timeline.eos_reason[idx]],
        "LAST_CONTACT_DATE": _ymd(regdat + last_contact),
        "DEATH_DATE": _ymd(np.where(died, regdat + death, np.nan), death_unknown),
        "DEATH_CAUSE": timeline.death_cause[idx],
    })


# --------------------------------------------------------------------------------------------
# Tumour forms: the basket generator's wide forms re-shaped to one row per lesion per visit
# --------------------------------------------------------------------------------------------

def _visit_names(visit: pd.Series) -> np.ndarray:
    """``Baseline`` -> ``SCREENING``; ``Week 8k`` -> ``C{2k+1}D1`` (28-day cycles, scans every
    second cycle); ``Unscheduled`` -> ``UNSCHEDULED``."""
    week = pd.to_numeric(visit.str.extract(r"^Week (\d+)$", expand=False), errors="coerce")
    cycle = "C" + (week // 4 + 1).astype("Int64").astype("string") + "D1"
    out = np.where(visit == "Baseline", "SCREENING", np.where(visit == "Unscheduled",
                                                              "UNSCHEDULED", ""))
    return np.where(week.notna().to_numpy(), cycle.fillna("").to_numpy(dtype=str), out)


def _visit_columns(frame: pd.DataFrame, date_column: str) -> dict[str, np.ndarray]:
    return {"PATIENT_ID": frame["SUBJECT"].to_numpy(dtype=str),
            "VISIT_NAME": _visit_names(frame["VISIT"]),
            date_column: _dmy_to_ymd(frame["TADAT" if "TADAT" in frame else "RSDAT"])}


def _long(wide: pd.DataFrame, prefix: str, count: int, parts: tuple[str, ...]
          ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rows (visit row, lesion slot) of the slots with a lesion id, and their slot values."""
    ids = np.stack([wide[f"{prefix}{i}_ID"].to_numpy(dtype=str) for i in range(1, count + 1)],
                   axis=1)
    row, slot = np.nonzero(ids != "")        # row-major: visit rows in order, then slots
    values = {p: np.stack([wide[f"{prefix}{i}_{p}"].to_numpy(dtype=str)
                           for i in range(1, count + 1)], axis=1)[row, slot] for p in parts}
    return row, {"SLOT": slot + 1, **values}


def _carry_site(patient: np.ndarray, lesion: np.ndarray, site: np.ndarray) -> np.ndarray:
    """The lesion site printed on every line (the EDC pre-fills it from screening)."""
    frame = pd.DataFrame({"p": patient, "l": lesion,
                          "s": pd.Series(site).replace("", pd.NA)})
    return frame.groupby(["p", "l"], sort=False)["s"].ffill().fillna("").to_numpy(dtype=str)


def _target_form(tl: pd.DataFrame) -> pd.DataFrame:
    row, v = _long(tl, "TL", tumour.MAX_TARGETS, ("LOC", "NODE", "DIAM", "STAT", "REASND"))
    head = {k: a[row] for k, a in _visit_columns(tl, "SCAN_DATE").items()}
    lesion = np.char.add("TL", v["SLOT"].astype(str))
    imaging = np.where(tl["METHOD"].str.upper().to_numpy(dtype=str) == "MRI", "MRI", "CT")
    return pd.DataFrame({
        **head,
        "IMAGING": imaging[row],
        "LESION_NO": lesion,
        "SITE": _carry_site(head["PATIENT_ID"], lesion, v["LOC"]),
        "NODAL": v["NODE"],
        "LONGEST_DIAM_MM": v["DIAM"],
        "LESION_STATUS": pd.Series(v["STAT"]).map(TARGET_STATUS_DECODE).to_numpy(dtype=str),
        "REASON_NOT_EVALUATED": pd.Series(v["REASND"]).map(NOT_EVALUATED_REASON_DECODE)
        .to_numpy(dtype=str),
        "TARGET_SUM_MM": tl["SUMDIAM"].to_numpy(dtype=str)[row],
    })


def _nontarget_form(ntl: pd.DataFrame) -> pd.DataFrame:
    row, v = _long(ntl, "NTL", tumour.MAX_NONTARGETS, ("LOC", "STAT", "REASND"))
    head = {k: a[row] for k, a in _visit_columns(ntl, "SCAN_DATE").items()}
    lesion = np.char.add("NTL", v["SLOT"].astype(str))
    return pd.DataFrame({
        **head,
        "LESION_NO": lesion,
        "SITE": _carry_site(head["PATIENT_ID"], lesion, v["LOC"]),
        "LESION_STATUS": pd.Series(v["STAT"]).map(NONTARGET_STATUS_DECODE).to_numpy(dtype=str),
        "REASON_NOT_EVALUATED": pd.Series(v["REASND"]).map(NOT_EVALUATED_REASON_DECODE)
        .to_numpy(dtype=str),
    })


def _new_lesion_form(nl: pd.DataFrame) -> pd.DataFrame:
    number = nl["NLID"].str.slice(3).astype(int).astype(str).to_numpy(dtype=str)
    return pd.DataFrame({
        **_visit_columns(nl, "SCAN_DATE"),
        "LESION_NO": np.char.add("NL", number),
        "SITE": nl["NLLOC"].to_numpy(dtype=str),
        "CERTAINTY": nl["NLSTAT"].str.capitalize().to_numpy(dtype=str),
    })


def _response_form(orr: pd.DataFrame) -> pd.DataFrame:
    """response.csv from the (planted) investigator codes: decoded, "Not Applicable" for none."""
    def decode(column: str) -> np.ndarray:
        return orr[column].map(RESPONSE_DECODE).to_numpy(dtype=str)

    return pd.DataFrame({
        **_visit_columns(orr, "ASSESSMENT_DATE"),
        "TARGET_RESPONSE": decode("TRGRESP"),
        "NONTARGET_RESPONSE": decode("NTRGRESP"),
        "NEW_LESION": orr["NEWLES"].map({"Y": "Yes", "N": "No"}).to_numpy(dtype=str),
        "OVERALL_RESPONSE": decode("OVRLRESP"),
    })


# --------------------------------------------------------------------------------------------
# Truth: best overall response with and without confirmation (independent of cdiscmap.recist)
# --------------------------------------------------------------------------------------------

def _grid(orr: pd.DataFrame, subjects: np.ndarray, regdat: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Overall responses (n, K) in date order ("" = none) and their days from registration."""
    index = pd.Index(subjects)
    s = index.get_indexer(orr["SUBJECT"].to_numpy())
    k = orr.groupby("SUBJECT", sort=False).cumcount().to_numpy()
    width = int(k.max()) + 1 if len(k) else 1
    resp = np.full((len(subjects), width), rt.NOT_APPLICABLE, dtype="<U17")
    day = np.full((len(subjects), width), np.inf)
    resp[s, k] = orr["OVRLRESP"].to_numpy(dtype=str)
    iso = _dmy_to_ymd(orr["RSDAT"]).astype("datetime64[D]").astype("int64")
    day[s, k] = iso - regdat[s]
    return resp, day


def confirmed_best_response(resp: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Best overall response with confirmation, RECIST 1.1 §4.4.3 table 3 and §4.6.1.

    ``resp`` (n, K): overall responses in date order ("" = no assessment); ``day`` (n, K): days
    from the reference date. A CR is confirmed by the first CR at least 28 days later with only
    CR/NE in between; a PR by the first CR/PR at least 28 days later with only CR/PR/NE in
    between and no PR after a CR; at most one NE in between. SD/NON-CR/NON-PD count from day
    42. Without any assessment: NE.
    """
    n, k = resp.shape
    pos = np.arange(k)
    known = np.where(np.isfinite(day), day, 0.0)    # empty slots are never a start or a hit
    later = (known[:, None, :] - known[:, :, None] >= CONFIRMATION_DAYS) & \
        (pos[None, None, :] > pos[None, :, None])                       # (n, i, j)

    def count_between(flags: np.ndarray, j: np.ndarray) -> np.ndarray:
        """How many of positions i+1..j carry ``flags`` (per subject, per i)."""
        cum = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(flags, axis=1)], axis=1)
        return np.take_along_axis(cum, j + 1, axis=1) - cum[:, 1:]

    def confirmed(is_start: np.ndarray, confirms: np.ndarray,
                  allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each assessment is confirmed, and the position of its confirming one."""
        hit = later & confirms[:, None, :]
        found = hit.any(axis=2)
        j = np.where(found, hit.argmax(axis=2), pos[None, :])
        ok = found & is_start
        ok &= count_between(allowed, j) == j - pos[None, :]
        ok &= count_between(resp == rt.NE, j) <= CONFIRMATION_MAX_NE
        return ok, j

    is_cr, is_pr = resp == rt.CR, resp == rt.PR
    cr_ok, _ = confirmed(is_cr, is_cr, is_cr | (resp == rt.NE))
    pr_ok, j_pr = confirmed(is_pr, is_cr | is_pr, is_cr | is_pr | (resp == rt.NE))
    # No PR after a CR between the PR and its confirmation (RECIST 1.1 §4.4.3 table 3 note):
    # a PR at p in (i, j] with a CR in (i, p) spoils the confirmation of the PR at i.
    cum_cr = np.cumsum(is_cr, axis=1)
    cr_between = (cum_cr - is_cr)[:, None, :] - cum_cr[:, :, None]      # CRs in (i, p)
    in_window = (pos[None, None, :] > pos[None, :, None]) & \
        (pos[None, None, :] <= j_pr[:, :, None])
    pr_ok &= ~(in_window & is_pr[:, None, :] & (cr_between > 0)).any(axis=2)

    window = day >= SD_MIN_DAYS
    best = np.full(n, rt.NE, dtype="<U17")
    assessed = resp != rt.NOT_APPLICABLE
    best[(assessed & (resp == rt.PD)).any(axis=1)] = rt.PD
    best[(window & (resp == rt.NON_CR_NON_PD)).any(axis=1)] = rt.NON_CR_NON_PD
    best[(window & np.isin(resp, [rt.CR, rt.PR, rt.SD])).any(axis=1)] = rt.SD
    best[pr_ok.any(axis=1)] = rt.PR
    best[cr_ok.any(axis=1)] = rt.CR
    return best


def _truth_subjects(subjects: pd.DataFrame, course: tumour.TumourCourse, orr: pd.DataFrame,
                    timeline: basket.Timeline) -> pd.DataFrame:
    ids = subjects["SUBJECT"].to_numpy()
    regdat = subjects["regdat"].to_numpy()
    resp, day = _grid(orr, ids, regdat)
    investigator = rt.best_overall_response(resp)
    confirmed = confirmed_best_response(resp, day)
    pd_day = course.first_pd_day()
    return pd.DataFrame({
        "PATIENT_ID": ids,
        "FUSION_GENE": subjects["gene"].to_numpy(),
        "BIRTH_DATE": mess.format_iso(subjects["birth"].to_numpy()),
        "CONSENT_DATE": mess.format_iso(subjects["icdat"].to_numpy()),
        "REG_DATE": mess.format_iso(regdat),
        "FIRST_DOSE_DATE": mess.format_iso(regdat + subjects["first_dose"].to_numpy()),
        "N_ASSESSMENTS": (resp != rt.NOT_APPLICABLE).sum(axis=1).astype(str),
        "TRUE_BOR": course.best_overall_response(),
        "INV_BOR": investigator,
        "INV_CONFIRMED_BOR": confirmed,
        "RESPONDER": np.where(np.isin(confirmed, [rt.CR, rt.PR]), "Y", "N"),
        "PD_DATE": mess.format_iso(regdat + pd_day),
        "DEATH_DATE": mess.format_iso(np.where(np.isfinite(timeline.death_day),
                                               regdat + timeline.death_day, np.nan)),
    }, columns=TRUTH_SUBJECT_COLUMNS)


def clinical_inputs(subjects: pd.DataFrame, patients: pd.DataFrame, timeline: basket.Timeline,
                    latest: np.ndarray) -> clinical_forms.ClinicalInputs:
    """What the CM/MH/IE/VS/LB/PR forms need, read from the frames already drawn (no draw)."""
    icdat = subjects["icdat"].to_numpy().astype(np.int64)
    return clinical_forms.ClinicalInputs(
        subject=subjects["SUBJECT"].to_numpy().astype(str),
        regdat=subjects["regdat"].to_numpy().astype(np.int64),
        icdat=icdat,
        first_dose=subjects["first_dose"].to_numpy(dtype="float64"),
        treatment_end=timeline.eot_day,
        last_day=np.where(np.isfinite(latest), latest, 0.0),
        age_years=(icdat - subjects["birth"].to_numpy()) / 365.25,
        female=patients["SEX"].to_numpy() == "2",
        diagnosis=np.full(len(subjects), "Inflammatory myofibroblastic tumour"),
        alk=subjects["gene"].to_numpy() == "ALK",
        bsa=subjects["bsa"].to_numpy(dtype="float64"))


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------

def build(n_subjects: int, seed: int) -> StudyFiles:
    """Generate every raw form and truth table of the paediatric IMT study for n subjects."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(12)]
    subjects = _subjects(streams[0], n_subjects)
    n = len(subjects)
    events = _other_events(streams[1], subjects)
    censor = np.minimum.reduce([events["death"], events["withdrawal"], events["lost"],
                                events["cutoff"] + 1])
    course = tumour.simulate(streams[3], _tumour_inputs(streams[2], subjects, censor))
    timeline = basket._timeline(streams[4], subjects, events, course.first_pd_day())
    course = course.truncated(np.where(np.isfinite(timeline.eos_day), timeline.eos_day,
                                       timeline.cutoff_day + 1))

    ex = basket._exposure(streams[5], subjects, timeline)
    ae = basket._adverse_events(streams[6], subjects, timeline, ex)
    latest = basket._latest_day(n, course, ex, ae, timeline)

    patients, race_defects = mess.plant_unmapped_race(streams[7],
                                                      _patients_form(streams[8], subjects))
    race_defects = race_defects.assign(FILE="patients.csv")
    ae_form, ae_defects = _ae_form(streams[10], streams[9], subjects, ae)
    forms = tumour.tumour_forms(streams[11], course, tumour.reason_stream(seed))
    orr, disagreements, _ = mess.plant_disagreements(streams[9], forms["orr.csv"],
                                                     max(1, round(n / 50)))
    vendor_id = {"SUBJECT": "PATIENT_ID"}
    raw = {
        "patients.csv": patients.rename(columns=vendor_id),
        "dosing.csv": _dosing_form(streams[5], subjects, ex),
        "adverse_events.csv": ae_form,
        "end_of_study.csv": _end_of_study_form(streams[4], subjects, timeline, latest),
        "target_lesions.csv": _target_form(forms["tl.csv"]),
        "nontarget_lesions.csv": _nontarget_form(forms["ntl.csv"]),
        "new_lesions.csv": _new_lesion_form(forms["nl.csv"]),
        "response.csv": _response_form(orr),
    }
    raw.update(clinical_forms.build_forms(seed, clinical_inputs(subjects, patients, timeline,
                                                                latest),
                                          clinical_forms.IMT_LAYOUT))
    disagreements = disagreements.assign(VISIT=_visit_names(disagreements["VISIT"]))
    truth = {
        "planted_disagreements.csv": disagreements.rename(columns=vendor_id),
        "planted_defects.csv": pd.concat([race_defects, ae_defects], ignore_index=True)
        .rename(columns=vendor_id),
        "subjects.csv": _truth_subjects(subjects, course, orr, timeline),
    }
    return StudyFiles(raw=raw, truth=truth)
