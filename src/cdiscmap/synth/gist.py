"""The randomized imatinib stop/continue GIST trial: a raw eCRF export of any size.

Patients whose advanced GIST has been controlled by imatinib for at least 10 years are
randomized 1:1 (permuted blocks of 4 within each centre) to continue imatinib 400 mg once daily
(CONTINUE) or to stop it (STOP: last dose on the day of randomization). At progression most STOP
patients restart imatinib (the rechallenge); their response to it is measured against a new
baseline scan taken before the re-introduction, whose lesions are identified again (ids ``RT01``,
``RNT01``, ``RNEW01``).

Contract of the files: docs/raw-forms-gist.md (shared forms: docs/raw-forms.md). Every date is
drawn as a day counted from randomization (day 0) and formatted at the end, so the timeline holds
by construction. Building blocks of the basket trial are reused rather than copied: the baseline
disease and scan calendar of ``tumour`` (the randomized phase), its whole latent course (the
rechallenge, a response to a re-introduced drug), the independent RECIST rule of
``recist_truth``, the tumour forms, the EDC date styles and planted defects of ``messiness``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from cdiscmap.synth import basket, qlq_c30, tumour
from cdiscmap.synth import messiness as mess
from cdiscmap.synth import recist_truth as rt
from cdiscmap.synth.basket import (
    EV_COMPLETED,
    EV_DEATH,
    EV_LOST,
    EV_NONE,
    EV_PD,
    EV_PHYSICIAN,
    EV_TOXICITY,
    EV_WITHDRAWAL,
    REASON_TEXT,
    AeTerm,
    StudyFiles,
)

STUDY = "gist-imatinib"

ACCRUAL_START = basket._day("2020-03-01")
ACCRUAL_END = basket._day("2022-02-28")
CONSENT_V2 = basket._day("2021-06-01")     # protocol amendment: consent form version 2.0
CUTOFF = basket._day("2025-06-30")         # data cut-off
FOLLOW_UP_DAYS = 1826                      # 5 years after randomization, then completed
AE_REPORTING_DAYS = 30                     # AEs collected up to 30 days after the treatment phase

ARM_STOP, ARM_CONTINUE = "STOP", "CONTINUE"
# Permuted blocks of 4 (True = STOP): the 6 orders of two STOP and two CONTINUE.
BLOCK_ORDERS = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 1, 0, 1],
                         [0, 0, 1, 1]], dtype=bool)
BLOCK_SIZE = BLOCK_ORDERS.shape[1]
# The centres of the seed (CHU Besancon ... "and 3 more locations"): relative accrual.
SITE_WEIGHTS = (1.0, 2.0, 0.6, 2.5, 1.5, 2.0, 0.8, 1.0, 1.2, 0.6, 1.0, 0.8, 0.8)

# Latent progression after randomization: a share of each arm progresses during the trial, after
# an exponential time (BFR14 update: 91 % vs 62 % progressed at a median follow-up of 37 months).
PROGRESSION_SHARE = {ARM_STOP: 0.95, ARM_CONTINUE: 0.85}
MEDIAN_ONSET_DAYS = {ARM_STOP: 240.0, ARM_CONTINUE: 850.0}
MIN_ONSET_DAYS = 21.0
# Re-introduction at progression (STOP arm): most patients, 1-5 weeks after the progression scan;
# the new baseline scan is at most 14 days before it. The basket's latent course with a response
# rate of 0.7 gives ~90 % tumour control after re-introduction (BFR14: 92 %).
P_RECHALLENGE = 0.88
REINTRO_DELAY_DAYS = (7, 35)
REBASELINE_MAX_DAYS = 14
RECHALLENGE_RESPONSE_RATE = 0.7
# GIST spreads to the liver and the peritoneum; the basket's "digestive" organ profile is the
# nearest one tumour.py offers (it has no GIST profile).
ORGAN_GROUP = "digestive"
NEW_LESION_ORGANS = {"LIVER": 0.55, "PERITONEUM": 0.35, "LUNG": 0.04, "BONE": 0.03,
                     "SOFT TISSUE": 0.03}
# Survival after progression (re-introduction, second-line TKIs): exponential scale in days.
POST_PD_SURVIVAL_SCALE = {"randomized": 3000.0, "rechallenge": 2500.0}

# The protocol's primary endpoint: non-progression 6 months after randomization, read on the last
# tumour assessment within 4 weeks of it (mappings/gist-imatinib/adam/adrs.yaml, PFR6M).
PFR_LANDMARK_DAY = 183
PFR_WINDOW_DAYS = 28
CONTROL = (rt.CR, rt.PR, rt.SD, rt.NON_CR_NON_PD)

# ---- adverse events (MedDRA-like coding; CTCAE v5 grades) -----------------------------------
_SOC = {**basket._SOC,
        "MUSC": ("Musculoskeletal and connective tissue disorders", "10028395")}

# weight > 0 and drug_related: reported while on imatinib; weight > 0 and not related: background
# events of any period; weight 0: only by the rules below (withdrawal syndrome, fatal events).
AE_TERMS: tuple[AeTerm, ...] = (
    AeTerm("Periorbital oedema", "Periorbital oedema", "Periorbital oedema", "10034545", "EYE",
           10, True, (.75, .23, .02, 0), True),
    AeTerm("Swollen ankles", "Ankle swelling", "Oedema peripheral", "10030124", "GEN", 6, True,
           (.7, .27, .03, 0), True),
    AeTerm("Muscle cramps", "Muscle cramps", "Muscle spasms", "10028334", "MUSC", 9, True,
           (.75, .22, .03, 0)),
    AeTerm("Diarrhoea", "Diarrhoea", "Diarrhoea", "10012735", "GI", 8, True, (.65, .27, .08, 0),
           True),
    AeTerm("Nausea", "Nausea", "Nausea", "10028813", "GI", 7, True, (.7, .25, .05, 0), True),
    AeTerm("Fatigue", "Fatigue", "Fatigue", "10016256", "GEN", 7, True, (.6, .33, .07, 0), True),
    AeTerm("Skin rash", "Skin rash", "Rash", "10037844", "SKIN", 4, True, (.7, .24, .06, 0),
           True),
    AeTerm("Anaemia", "Anaemia", "Anaemia", "10002034", "BLOOD", 5, True, (.5, .38, .11, .01),
           True),
    AeTerm("Neutropenia", "Neutropenia", "Neutropenia", "10029354", "BLOOD", 3, True,
           (.3, .4, .25, .05), True),
    AeTerm("Low phosphate", "Hypophosphataemia", "Hypophosphataemia", "10021058", "METAB", 3,
           True, (.4, .45, .15, 0)),
    AeTerm("Weight gain", "Weight gain", "Weight increased", "10047899", "INV", 3, True,
           (.7, .3, 0, 0)),
    AeTerm("Red eye", "Conjunctival haemorrhage", "Conjunctival haemorrhage", "10010719", "EYE",
           2, True, (.9, .1, 0, 0)),
    AeTerm("Watery eyes", "Lacrimation increased", "Lacrimation increased", "10023644", "EYE", 3,
           True, (.9, .1, 0, 0)),
    AeTerm("ALT increased", "ALT increased", "Alanine aminotransferase increased", "10001551",
           "INV", 2, True, (.6, .25, .12, .03), True),
    AeTerm("Abdominal pain", "Abdominal pain", "Abdominal pain", "10000081", "GI", 4, False,
           (.55, .35, .1, 0)),
    AeTerm("Back pain", "Back pain", "Back pain", "10003988", "MUSC", 3, False, (.6, .35, .05, 0)),
    AeTerm("Cough", "Cough", "Cough", "10011224", "RESP", 3, False, (.8, .2, 0, 0)),
    AeTerm("Common cold", "Common cold", "Nasopharyngitis", "10028810", "INFEC", 4, False,
           (.85, .15, 0, 0)),
    AeTerm("Constipation", "Constipation", "Constipation", "10010774", "GI", 3, False,
           (.8, .2, 0, 0)),
    AeTerm("Dizziness", "Dizziness", "Dizziness", "10013573", "NERV", 2, False, (.85, .15, 0, 0)),
    AeTerm("Fever", "Fever", "Pyrexia", "10037660", "GEN", 2, False, (.6, .3, .1, 0)),
    # imatinib withdrawal syndrome: diffuse musculoskeletal pain weeks after stopping
    AeTerm("Diffuse muscle and joint pain", "Musculoskeletal pain", "Musculoskeletal pain",
           "10028391", "MUSC", 0, True, (.7, .3, 0, 0)),
    AeTerm("GI bleeding", "Gastrointestinal bleeding", "Gastrointestinal haemorrhage", "10017955",
           "GI", 0, True, (0, 0, 0, 1), fatal=True),
    AeTerm("Sepsis", "Sepsis", "Sepsis", "10040047", "INFEC", 0, False, (0, 0, 0, 1), fatal=True),
    AeTerm("Heart failure", "Heart failure", "Cardiac failure", "10007554", "CARD", 0, True,
           (0, 0, 0, 1), fatal=True),
)
WITHDRAWAL_TERM = next(i for i, t in enumerate(AE_TERMS) if t.pt == "Musculoskeletal pain")
NAUSEA_CODING = {"AELLT": "Nausea", "AEPT": "Nausea", "AEPTCD": "10028813",
                 "AESOC": _SOC["GI"][0], "AESOCCD": _SOC["GI"][1]}
DRUG_AE_PER_YEAR = {ARM_CONTINUE: 1.5, ARM_STOP: 3.0}   # long-term use vs re-introduction
BACKGROUND_AE_PER_YEAR = 1.0
P_WITHDRAWAL_SYNDROME = 0.35

# Dose lines of an on-imatinib period (mg once daily; 0 = interruption), when it is long enough.
EX_PATTERNS = ((400,), (400, 0, 400), (400, 300), (400, 0, 300))
EX_PATTERN_P = (0.78, 0.10, 0.08, 0.04)
MIN_DAYS_FOR_CHANGE = 150


# --------------------------------------------------------------------------------------------
# Subjects, randomization and demography
# --------------------------------------------------------------------------------------------

def _randomize(rng: np.random.Generator, site: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Arm of the k-th subject randomized at each site: permuted blocks of 4 per centre."""
    n_blocks = int(position.max()) // BLOCK_SIZE + 1 if len(position) else 1
    order = rng.integers(0, len(BLOCK_ORDERS), (len(SITE_WEIGHTS), n_blocks))
    stop = BLOCK_ORDERS[order[site, position // BLOCK_SIZE], position % BLOCK_SIZE]
    return np.where(stop, ARM_STOP, ARM_CONTINUE)


def _subjects(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Site, randomization date and arm, consent and baseline scan days; sorted by SUBJECT."""
    weights = np.array(SITE_WEIGHTS)
    frame = pd.DataFrame({"site": rng.choice(len(weights), n, p=weights / weights.sum()),
                          "randdt": rng.integers(ACCRUAL_START, ACCRUAL_END + 1, n)})
    frame = frame.sort_values(["site", "randdt"], kind="stable").reset_index(drop=True)
    position = frame.groupby("site").cumcount().to_numpy()
    site_id = mess.zero_pad(frame["site"].to_numpy() + 1, 2)
    frame["SITE"] = site_id
    frame["SUBJECT"] = np.char.add(np.char.add(site_id, "-"), mess.zero_pad(position + 1, 4))
    frame["arm"] = _randomize(rng, frame["site"].to_numpy(), position)
    # Consent 1-6 weeks before randomization; the baseline scan between consent and
    # randomization, at most 28 days before it.
    gap = rng.integers(7, 43, n)
    frame["consent_day"] = -gap.astype("float64")
    frame["baseline_day"] = -np.floor(rng.random(n) * (np.minimum(gap, 28) + 1))
    frame["imatinib_years"] = 10 + rng.gamma(2.0, 1.2, n)
    frame["mri"] = rng.random(n) < 0.05           # imaged by MRI rather than CT
    return frame


def _enrol_form(rng: np.random.Generator, subjects: pd.DataFrame) -> pd.DataFrame:
    """enrol.csv: randomization, demography, GIST mutation, start of imatinib."""
    n = len(subjects)
    randdt = subjects["randdt"].to_numpy()
    icdat = randdt + subjects["consent_day"].to_numpy().astype(np.int64)
    age_target = np.clip(np.rint(rng.normal(64, 10, n)), 32, 89).astype(np.int64)
    birth = icdat - np.rint((age_target + rng.uniform(0.05, 0.95, n)) * 365.2425).astype(np.int64)
    by, bm, bd = mess.date_parts(birth)
    iy, im, idd = mess.date_parts(icdat)
    age = iy - by - ((im < bm) | ((im == bm) & (idd < bd)))
    imatinib_start = randdt - np.rint(subjects["imatinib_years"].to_numpy() * 365.25)
    sex = np.where(rng.random(n) < 0.55, "Male", "Female")
    # French sites rarely record race or ethnicity (not collected unless justified).
    race = np.where(rng.random(n) < 0.2, "White", "Not reported")
    ethnic = np.where(rng.random(n) < 0.15, "Not Hispanic or Latino", "Not reported")
    mutation = rng.choice(np.array(["KIT exon 11", "KIT exon 9", "PDGFRA exon 12", "Wild-type",
                                    "Not done"]), n, p=[0.72, 0.10, 0.03, 0.05, 0.10])
    return pd.DataFrame({
        "SITE": subjects["SITE"].to_numpy(),
        "SUBJECT": subjects["SUBJECT"].to_numpy(),
        "COUNTRY": np.where(rng.random(n) < 0.15, "FRANCE", "France"),
        "RANDDAT": mess.format_dmy(randdt),
        "ARM": subjects["arm"].to_numpy(),
        "BRTHDAT": mess.format_dmy(birth, mess.unknown_levels(rng, n, p_day=0.5, p_month=0.1)),
        "AGE": age.astype(str),
        "SEX": mess.restyle(rng, sex, {"Male": [("Male", 0.8), ("M", 0.2)],
                                       "Female": [("Female", 0.8), ("F", 0.2)]}),
        "RACE": mess.restyle(rng, race, {"White": [("White", 0.7), ("WHITE", 0.3)]}),
        "ETHNIC": ethnic,
        "GISTMUT": mess.vary_case(rng, mutation, 0.1, 0.05),
        "IMSTDAT": mess.format_dmy(imatinib_start,
                                   mess.unknown_levels(rng, n, p_day=0.4, p_month=0.15)),
    })


def _consent_form(subjects: pd.DataFrame) -> pd.DataFrame:
    icdat = subjects["randdt"].to_numpy() + subjects["consent_day"].to_numpy().astype(np.int64)
    return pd.DataFrame({"SUBJECT": subjects["SUBJECT"].to_numpy(),
                         "ICDAT": mess.format_dmy(icdat),
                         "ICVER": np.where(icdat < CONSENT_V2, "1.0", "2.0")})


# --------------------------------------------------------------------------------------------
# Tumour course: the randomized phase (GIST model) and the rechallenge (basket model)
# --------------------------------------------------------------------------------------------

def _tumour_inputs(subjects: pd.DataFrame, first_dose: np.ndarray, baseline_day: np.ndarray,
                   censor_day: np.ndarray, response_rate: float) -> tumour.TumourInputs:
    n = len(subjects)
    return tumour.TumourInputs(
        subject=subjects["SUBJECT"].to_numpy().astype(str),
        organ_group=np.full(n, ORGAN_GROUP), response_rate=np.full(n, response_rate),
        mri=subjects["mri"].to_numpy(), dosed=np.ones(n, dtype=bool),
        first_dose=first_dose.astype("float64"), baseline_day=baseline_day.astype("float64"),
        censor_day=censor_day, regdat=subjects["randdt"].to_numpy())


def _progression_onset(rng: np.random.Generator, arm: np.ndarray) -> np.ndarray:
    """Day the disease starts to progress (inf: not during the trial), by arm."""
    stop = arm == ARM_STOP
    share = np.where(stop, PROGRESSION_SHARE[ARM_STOP], PROGRESSION_SHARE[ARM_CONTINUE])
    median = np.where(stop, MEDIAN_ONSET_DAYS[ARM_STOP], MEDIAN_ONSET_DAYS[ARM_CONTINUE])
    onset = MIN_ONSET_DAYS + rng.exponential(median / np.log(2))
    return np.where(rng.random(len(arm)) < share, onset, np.inf)


def _progression_mode(rng: np.random.Generator, has_targets: np.ndarray,
                      has_nontargets: np.ndarray) -> np.ndarray:
    """How progression shows: target growth, new lesions (GIST: often liver/peritoneum) or
    unequivocal growth of a non-target lesion."""
    u = rng.random(len(has_targets))
    return np.select(
        [has_targets & has_nontargets, has_targets],
        [np.select([u < 0.5, u < 0.85], [tumour.MODE_TARGET, tumour.MODE_NEW],
                   tumour.MODE_NONTARGET),
         np.where(u < 0.6, tumour.MODE_TARGET, tumour.MODE_NEW)],
        np.where(u < 0.6, tumour.MODE_NEW, tumour.MODE_NONTARGET))


def _new_lesion_locations(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    organ_names = [o[0] for o in tumour.ORGANS]
    organs = np.array([organ_names.index(name) for name in NEW_LESION_ORGANS])
    p = np.array(list(NEW_LESION_ORGANS.values()))
    return tumour._location(rng.choice(organs, shape, p=p / p.sum()),
                            rng.integers(0, 6, shape))


def _randomized_course(rng: np.random.Generator, subjects: pd.DataFrame,
                       scan_end: np.ndarray) -> tumour.TumourCourse:
    """Residual disease after 10+ years of imatinib: stable (CONTINUE drifting slightly down)
    until the progression onset, then PD at the next scan; scans every 8 weeks from
    randomization, stopping after the first PD.

    tumour.simulate draws its progression day from the basket's response patterns (no parameter
    for it), so its baseline disease and calendar are used with this course instead.
    """
    n = len(subjects)
    inputs = _tumour_inputs(subjects, np.zeros(n), subjects["baseline_day"].to_numpy(),
                            scan_end, 0.0)
    base = tumour._baseline(rng, inputs)
    day, visit, assessed = tumour._schedule(rng, inputs)
    n_visits, n_targets = day.shape[1], tumour.MAX_TARGETS
    bd = base["baseline_diam"]
    present = ~np.isnan(bd)
    nt_present = base["nt_present"]
    arm = subjects["arm"].to_numpy()
    onset = _progression_onset(rng, arm)
    mode = _progression_mode(rng, present.any(axis=1), nt_present.any(axis=1))

    t = np.where(np.isfinite(day), day, 0.0)
    progressed = t >= onset[:, None]
    trend = np.where(arm == ARM_STOP, rng.uniform(-0.03, 0.05, n), rng.uniform(-0.12, 0.0, n))
    drift = 1 + trend[:, None] * np.clip(t / 365.25, 0, 1)
    noise = np.exp(rng.normal(0, 0.03, (n, n_visits, n_targets)))
    bd0 = np.where(present, bd, 0.0)
    size = bd0[:, None, :] * drift[:, :, None] * noise
    # Progression by target growth: every target grows, the largest by at least 10 mm.
    grown = size * rng.uniform(1.35, 1.9, n)[:, None, None]
    driver = np.arange(n_targets)[None, None, :] == np.argmax(bd0, axis=1)[:, None, None]
    grown = np.where(driver, np.maximum(grown, size + 10), grown)
    target_prog = (progressed & (mode == tumour.MODE_TARGET)[:, None])[:, :, None]
    size = np.where(target_prog, grown, size)
    recorded = np.rint(np.where(present[:, None, :], size, 0.0)).astype(np.int64)
    status = np.full(recorded.shape, tumour.TS_MEASURED, dtype=np.int8)
    status[present[:, None, :] & (recorded >= 1) & (recorded < tumour.TOO_SMALL_COUNTED_MM)] = \
        tumour.TS_TOO_SMALL
    counted = tumour._counted(recorded, status, present)

    slots = np.arange(tumour.MAX_NONTARGETS)[None, None, :]
    n_nt = nt_present.sum(axis=1)
    nontarget = np.where(nt_present[:, None, :], rt.NT_PRESENT, rt.NT_NONE).astype(np.int8)
    nontarget = np.repeat(nontarget, n_visits, axis=1)
    ne_visit = (rng.random((n, n_visits)) < 0.015) & (n_nt > 0)[:, None]
    ne_slot = (rng.random((n, n_visits)) * np.maximum(n_nt, 1)[:, None]).astype(np.int64)
    nontarget[ne_visit[:, :, None] & (slots == ne_slot[:, :, None])] = rt.NT_NOT_EVALUATED
    prog_slot = (rng.random(n) * np.maximum(n_nt, 1)).astype(np.int64)
    nt_prog = (progressed & (mode == tumour.MODE_NONTARGET)[:, None])[:, :, None]
    nontarget[nt_prog & (slots == prog_slot[:, None, None])] = rt.NT_PROGRESSION

    new_unequivocal = np.where(progressed & (mode == tumour.MODE_NEW)[:, None],
                               rng.integers(1, tumour.MAX_NEW + 1, n)[:, None], 0)
    new_equivocal = (new_unequivocal == 0) & (rng.random((n, n_visits)) < 0.02)
    new_loc = _new_lesion_locations(rng, (n, n_visits, tumour.MAX_NEW))

    responses = rt.timepoint_responses(bd, counted, base["is_node"], nontarget,
                                       new_unequivocal > 0, assessed)
    is_pd = assessed & (responses.overall == rt.PD)
    first_pd = np.where(is_pd.any(axis=1), is_pd.argmax(axis=1), n_visits)
    assessed = assessed & (np.arange(n_visits)[None, :] <= first_pd[:, None])
    course = tumour.TumourCourse(
        inputs=inputs, target_organ=base["target_organ"], target_loc=base["target_loc"],
        is_node=base["is_node"], baseline_diam=bd, nontarget_loc=base["nontarget_loc"],
        day=day, visit=visit, assessed=assessed, recorded=recorded, target_status=status,
        counted=counted, nontarget=nontarget, new_unequivocal=new_unequivocal,
        new_equivocal=new_equivocal, new_loc=new_loc, responses=responses)
    return course.truncated(np.full(n, np.inf))


def _reintroduction(rng: np.random.Generator, subjects: pd.DataFrame, pd_day: np.ndarray,
                    scan_end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Day imatinib is re-introduced in the STOP arm (NaN: not) and day of the new baseline
    scan (after the progression scan, at most 14 days before the re-introduction)."""
    n = len(subjects)
    delay = rng.integers(REINTRO_DELAY_DAYS[0], REINTRO_DELAY_DAYS[1] + 1, n)
    back = np.floor(rng.random(n) * np.minimum(delay, REBASELINE_MAX_DAYS + 1))
    reintro = pd_day + delay
    chosen = ((subjects["arm"].to_numpy() == ARM_STOP) & np.isfinite(pd_day)
              & (rng.random(n) < P_RECHALLENGE) & (reintro < scan_end))
    reintro = np.where(chosen, reintro, np.nan)
    return reintro, reintro - back


def _calendar_labels(visit: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """'Week k' counted from ``anchor`` → weeks counted from randomization ('Week 8k + a/7')."""
    text = visit.astype(str)
    is_week = np.char.startswith(text, "Week ")
    weeks = np.where(is_week, np.char.replace(text, "Week ", ""), "0").astype(np.int64)
    shifted = weeks + (anchor // 7).astype(np.int64)[:, None]
    return np.where(is_week, np.char.add("Week ", shifted.astype(str)), text)


def _rechallenge_course(rng: np.random.Generator, subjects: pd.DataFrame, reintro: np.ndarray,
                        rebase: np.ndarray, scan_end: np.ndarray) -> tumour.TumourCourse:
    """The basket's latent course of a (re-)introduced drug, for the rechallenged subjects.

    Scans stay on the randomization calendar (every 8 weeks): the course is anchored on the
    calendar day between 28 days before and 28 days after the re-introduction, so the first
    scan comes 3-13 weeks after it; its 'Baseline' is the new baseline scan.
    """
    interval = tumour.VISIT_INTERVAL
    anchor = interval * np.ceil((reintro - 28) / interval)
    inputs = _tumour_inputs(subjects, anchor, rebase, scan_end, RECHALLENGE_RESPONSE_RATE)
    course = tumour.simulate(rng, inputs)
    return replace(course, visit=_calendar_labels(course.visit, anchor))


def _rechallenge_forms(forms: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Lesions identified again at the rechallenge baseline: ids prefixed R, visit renamed."""
    out = {}
    for name, frame in forms.items():
        frame = frame.copy()
        if "VISIT" in frame and name in ("tl.csv", "ntl.csv"):
            frame["VISIT"] = np.where(frame["VISIT"] == "Baseline", "Rechallenge Baseline",
                                      frame["VISIT"])
        for column in frame.columns:
            if column.endswith("_ID") or column == "NLID":
                values = frame[column].to_numpy(dtype=str)
                frame[column] = np.where(values != "", np.char.add("R", values), "")
        out[name] = frame
    return out


# --------------------------------------------------------------------------------------------
# Timeline: end of the treatment phase, death, end of study
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timeline:
    """Per-subject days from randomization (NaN: did not happen; inf: not by cut-off)."""

    pd_day: np.ndarray          # first PD after randomization
    reintro_day: np.ndarray     # re-introduction of imatinib (STOP arm)
    rebase_day: np.ndarray      # new baseline scan before it
    rch_pd_day: np.ndarray      # first PD after re-introduction
    eot_day: np.ndarray         # end of the treatment phase (continuation, or interruption
    eot_reason: np.ndarray      # and rechallenge) and its EV_* code
    death_day: np.ndarray
    death_cause: np.ndarray
    eos_day: np.ndarray
    eos_reason: np.ndarray
    cutoff_day: np.ndarray

    def last_dose_day(self) -> np.ndarray:
        """Last imatinib day of the treatment phase (cut-off when ongoing)."""
        return np.where(np.isfinite(self.eot_day), self.eot_day, self.cutoff_day)


def _other_events(rng: np.random.Generator, subjects: pd.DataFrame) -> dict[str, np.ndarray]:
    """Events other than progression, days from randomization (inf: none)."""
    n = len(subjects)
    zero = np.zeros(n)
    return {
        "death": basket._maybe(rng, n, 0.07, 30, 1800, zero),       # not from GIST
        "withdrawal": basket._maybe(rng, n, 0.05, 30, 1500, zero),
        "lost": basket._maybe(rng, n, 0.02, 90, 1500, zero),
        "toxicity": basket._maybe(rng, n, 0.06, 30, 1200, zero),    # stops imatinib
        "physician": basket._maybe(rng, n, 0.02, 60, 1200, zero),
        "cutoff": (CUTOFF - subjects["randdt"].to_numpy()).astype("float64"),
        "completion": np.full(n, float(FOLLOW_UP_DAYS)),
    }


def _timeline(rng: np.random.Generator, subjects: pd.DataFrame, events: dict[str, np.ndarray],
              pd_day: np.ndarray, reintro: np.ndarray, rebase: np.ndarray,
              rch_pd: np.ndarray) -> Timeline:
    """End of the treatment phase, death and end of study from the progression days.

    CONTINUE leaves imatinib at progression (a few days after the scan), toxicity, physician
    decision or leaving the study; STOP without re-introduction leaves the interruption at
    progression; a rechallenge ends at its own progression or toxicity. Death from GIST follows
    the last progression; the study ends at death, withdrawal, loss or 5 years.
    """
    n = len(subjects)
    stop = subjects["arm"].to_numpy() == ARM_STOP
    rechallenged = np.isfinite(reintro)

    def finite_or_inf(days: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(days), days, np.inf)

    pd_stop = finite_or_inf(pd_day + rng.integers(0, 15, n))
    rch_pd_stop = finite_or_inf(rch_pd + rng.integers(0, 15, n))
    after_pd = finite_or_inf(pd_day + 1 + np.floor(
        rng.exponential(POST_PD_SURVIVAL_SCALE["randomized"], n)))
    after_rch_pd = finite_or_inf(rch_pd + 1 + np.floor(
        rng.exponential(POST_PD_SURVIVAL_SCALE["rechallenge"], n)))
    disease_death = np.where(rechallenged, after_rch_pd, after_pd)
    death = np.minimum(events["death"], disease_death)
    on_rechallenge = np.where(rechallenged, reintro, np.inf)
    rch_toxicity = np.where(rng.random(n) < 0.06,
                            on_rechallenge + np.floor(rng.uniform(30, 900, n)), np.inf)
    leaving = [(EV_WITHDRAWAL, events["withdrawal"]), (EV_LOST, events["lost"]),
               (EV_COMPLETED, events["completion"])]

    continued, continued_why = basket._first_event([
        (EV_DEATH, death), (EV_PD, pd_stop), (EV_TOXICITY, events["toxicity"]),
        (EV_PHYSICIAN, events["physician"]), *leaving])
    rechallenge_end, rechallenge_why = basket._first_event([
        (EV_DEATH, death), (EV_PD, rch_pd_stop), (EV_TOXICITY, rch_toxicity), *leaving])
    interrupted, interrupted_why = basket._first_event([
        (EV_DEATH, death), (EV_PD, pd_stop), *leaving])
    eot_day = np.select([~stop, rechallenged], [continued, rechallenge_end], interrupted)
    eot_reason = np.select([~stop, rechallenged], [continued_why, rechallenge_why],
                           interrupted_why)
    ongoing = eot_day > events["cutoff"]
    eot_day = np.where(ongoing, np.inf, eot_day)
    eot_reason = np.where(ongoing, EV_NONE, eot_reason)

    eos_day, eos_reason = basket._first_event([(EV_DEATH, death), *leaving])
    in_study = eos_day > events["cutoff"]
    eos_day = np.where(in_study, np.inf, eos_day)
    eos_reason = np.where(in_study, EV_NONE, eos_reason)

    recorded = eos_reason == EV_DEATH
    death_day = np.where(recorded, death, np.inf)
    # Cause: progression for most deaths after PD; a death while on imatinib (or within the AE
    # reporting period) without progression is an adverse event (grade 5) in 35 % of cases.
    u = rng.random(n)
    from_disease = disease_death <= events["death"]
    on_imatinib = (~stop | rechallenged) & (eot_reason == EV_DEATH)
    cause = np.select([from_disease & (u < 0.9), from_disease, on_imatinib & (u < 0.35)],
                      ["Disease progression", "Other", "Adverse event"], "Other")
    return Timeline(pd_day=pd_day, reintro_day=reintro, rebase_day=rebase, rch_pd_day=rch_pd,
                    eot_day=eot_day, eot_reason=eot_reason, death_day=death_day,
                    death_cause=np.where(recorded, cause, ""), eos_day=eos_day,
                    eos_reason=eos_reason, cutoff_day=events["cutoff"])


# --------------------------------------------------------------------------------------------
# Exposure
# --------------------------------------------------------------------------------------------

def _exposure(rng: np.random.Generator, subjects: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """Dosing lines (day columns): the imatinib taken at entry (STOP: up to randomization), then
    the on-imatinib period of the treatment phase (CONTINUE from entry, STOP from the
    re-introduction) with an interruption or a reduction for some subjects."""
    n = len(subjects)
    stop = subjects["arm"].to_numpy() == ARM_STOP
    consent = subjects["consent_day"].to_numpy()
    last = tl.last_dose_day()
    open_end = ~np.isfinite(tl.eot_day)
    has_period = ~stop | np.isfinite(tl.reintro_day)
    start = np.where(stop, tl.reintro_day, consent)
    # a change comes at least 30 days into the period and 60 days before its end
    from_day = np.maximum(start, 0) + 30
    room = last - 60 - from_day
    long_enough = has_period & (last - np.maximum(start, 0) >= MIN_DAYS_FOR_CHANGE) & (room > 0)
    pattern = rng.choice(len(EX_PATTERNS), n, p=EX_PATTERN_P)
    pattern = np.where(long_enough, pattern, 0)
    change = from_day + np.floor(rng.random(n) * np.maximum(room, 0))
    pause = rng.integers(7, 22, n).astype("float64")
    paused = np.isin(pattern, [1, 3])
    reduced = np.isin(pattern, [2, 3])

    # up to 3 lines per period: before the change, pause or reduced dose, after the pause
    line_start = np.stack([start, change, change + pause], axis=1)
    line_end = np.stack([np.where(pattern > 0, change - 1, last),
                         np.where(paused, change + pause - 1, last), last], axis=1)
    dose = np.stack([np.full(n, 400), np.where(paused, 0, 300), np.where(reduced, 300, 400)],
                    axis=1)
    valid = np.stack([has_period, pattern > 0, paused], axis=1)
    kind = np.stack([np.full(n, ""), np.where(paused, "interruption", "reduction"),
                     np.where(reduced, "reduction", "")], axis=1)
    last_line = np.where(paused, 2, np.where(pattern > 0, 1, 0))
    is_open = open_end[:, None] & (np.arange(3)[None, :] == last_line[:, None])

    subj = np.repeat(np.arange(n)[:, None], 3, axis=1)
    lines = pd.DataFrame({"_subj": subj[valid], "_start": line_start[valid],
                          "_end": line_end[valid], "_dose": dose[valid], "_kind": kind[valid],
                          "_open": is_open[valid]})
    entry = np.flatnonzero(stop)        # STOP: the imatinib taken until randomization
    lines = pd.concat([pd.DataFrame({"_subj": entry, "_start": consent[entry], "_end": 0.0,
                                     "_dose": 400, "_kind": "", "_open": False}), lines],
                      ignore_index=True)
    lines = lines.sort_values(["_subj", "_start"], kind="stable").reset_index(drop=True)
    lines["EXLINE"] = lines.groupby("_subj").cumcount().to_numpy() + 1
    u = rng.random(len(lines))
    lines["_adj"] = np.select(
        [(lines["_kind"] == "interruption") & (u < 0.7),
         (lines["_kind"] == "interruption") & (u < 0.85), lines["_kind"] == "interruption",
         (lines["_kind"] == "reduction") & (u < 0.8), lines["_kind"] == "reduction"],
        ["ADVERSE EVENT", "Toxicity", "Patient decision", "ADVERSE EVENT", "Toxicity"], "")
    return lines


def _ex_form(rng: np.random.Generator, subjects: pd.DataFrame, ex: pd.DataFrame) -> pd.DataFrame:
    randdt = subjects["randdt"].to_numpy()[ex["_subj"].to_numpy()]
    end = np.where(ex["_open"].to_numpy(), np.nan, ex["_end"].to_numpy())
    n = len(ex)
    u = rng.random(n)
    return pd.DataFrame({
        "SUBJECT": subjects["SUBJECT"].to_numpy()[ex["_subj"].to_numpy()],
        "EXLINE": ex["EXLINE"].astype(str).to_numpy(),
        "EXSTDAT": mess.format_dmy(randdt + ex["_start"].to_numpy()),
        "EXENDAT": mess.format_dmy(randdt + end),
        "EXDOSE": ex["_dose"].astype(np.int64).astype(str).to_numpy(),
        "EXDOSEU": np.full(n, "mg"),
        "EXFREQ": np.select([u < 0.1, u < 0.15], ["Once daily", "qd"], "QD"),
        "EXROUTE": np.where(rng.random(n) < 0.2, "Oral", "ORAL"),
        "EXADJ": ex["_adj"].to_numpy(),
    })


# --------------------------------------------------------------------------------------------
# Adverse events
# --------------------------------------------------------------------------------------------

def _term_table() -> dict[str, np.ndarray]:
    return basket.term_arrays(AE_TERMS, _SOC)


def _uniform_events(rng: np.random.Generator, start: np.ndarray, length: np.ndarray,
                    per_year: np.ndarray, pool: np.ndarray, weights: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson counts over [start, start + length], uniform days, terms drawn from ``pool``."""
    count = rng.poisson(per_year * np.maximum(length, 0) / 365.25)
    subj = np.repeat(np.arange(len(start)), count)
    day = start[subj] + np.floor(rng.random(len(subj)) * (length[subj] + 1))
    term = rng.choice(pool, len(subj), p=weights[pool] / weights[pool].sum())
    return subj, day, term


def _adverse_events(rng: np.random.Generator, subjects: pd.DataFrame, tl: Timeline,
                    ex: pd.DataFrame) -> pd.DataFrame:
    """AE records (day columns) from randomization to 30 days after the treatment phase."""
    terms = _term_table()
    n = len(subjects)
    arm = subjects["arm"].to_numpy()
    stop = arm == ARM_STOP
    end_limit = np.minimum.reduce([tl.death_day, tl.eos_day, tl.cutoff_day])
    window_end = np.minimum(tl.eot_day + AE_REPORTING_DAYS, end_limit)
    on_start = np.where(stop, tl.reintro_day, 0.0)
    on_end = np.minimum(tl.last_dose_day(), window_end)
    on_len = np.where(np.isfinite(on_start), on_end - np.nan_to_num(on_start), -1.0)
    on_start = np.nan_to_num(on_start)
    related_pool = np.flatnonzero(terms["related"] & (terms["weight"] > 0))
    background_pool = np.flatnonzero(~terms["related"] & (terms["weight"] > 0))
    parts = []

    def part(subj: np.ndarray, day: np.ndarray, term: np.ndarray, grade: np.ndarray,
             acn: np.ndarray | str, origin: int) -> None:
        parts.append(pd.DataFrame({"_subj": subj, "_term": term, "_start": day, "_grade": grade,
                                   "_acn": acn, "_origin": origin}))

    # 1) imatinib-typical events while on imatinib, 2) background events of any period
    rate = np.where(stop, DRUG_AE_PER_YEAR[ARM_STOP], DRUG_AE_PER_YEAR[ARM_CONTINUE])
    s, d, t = _uniform_events(rng, on_start, on_len, rate, related_pool, terms["weight"])
    part(s, d, t, basket._draw_grade(rng, terms["grades"][t]), "Dose not changed", 0)
    s, d, t = _uniform_events(rng, np.zeros(n), window_end, np.full(n, BACKGROUND_AE_PER_YEAR),
                              background_pool, terms["weight"])
    on_drug = (d >= on_start[s]) & (d <= on_start[s] + on_len[s])
    part(s, d, t, basket._draw_grade(rng, terms["grades"][t]),
         np.where(on_drug, "Dose not changed", "Not applicable"), 0)
    # 3) imatinib withdrawal syndrome in the STOP arm, 1-6 weeks after the last dose
    day = rng.integers(7, 43, n).astype("float64")
    hit = np.flatnonzero(stop & (rng.random(n) < P_WITHDRAWAL_SYNDROME) & (day <= window_end))
    part(hit, day[hit], np.full(len(hit), WITHDRAWAL_TERM),
         basket._draw_grade(rng, terms["grades"][np.full(len(hit), WITHDRAWAL_TERM)]),
         "Not applicable", 4)
    # 4) events behind interruptions / reductions, and behind stopping for toxicity
    limiting = np.flatnonzero(terms["dose_limiting"])
    changed = ex[ex["_adj"].isin(["ADVERSE EVENT", "Toxicity"])]
    k = len(changed)
    csubj = changed["_subj"].to_numpy()
    part(csubj, np.maximum(changed["_start"].to_numpy() - rng.integers(1, 6, k), on_start[csubj]),
         rng.choice(limiting, k), rng.integers(2, 4, k),
         np.where(changed["_kind"].to_numpy() == "interruption", "Drug interrupted",
                  "Dose reduced"), 1)
    stopped = np.flatnonzero(tl.eot_reason == EV_TOXICITY)
    part(stopped, np.maximum(tl.eot_day[stopped] - rng.integers(0, 6, len(stopped)),
                             on_start[stopped]),
         rng.choice(limiting, len(stopped)), rng.integers(3, 5, len(stopped)), "Drug withdrawn", 2)
    # 5) grade 5 events: one per death whose cause is an adverse event
    fatal = np.flatnonzero(tl.death_cause == "Adverse event")
    part(fatal, np.maximum(tl.death_day[fatal] - rng.integers(0, 8, len(fatal)), 0),
         rng.choice(np.flatnonzero(terms["fatal"]), len(fatal)), 5, "Drug withdrawn", 3)

    ae = pd.concat(parts, ignore_index=True)
    return basket.finish_ae_records(rng, ae, tl.death_day, end_limit, median_days=14)


def _ae_form(rng: np.random.Generator, subjects: pd.DataFrame, ae: pd.DataFrame) -> pd.DataFrame:
    terms = _term_table()
    n = len(ae)
    subj = ae["_subj"].to_numpy()
    term = ae["_term"].to_numpy()
    grade = ae["_grade"].to_numpy()
    ongoing = ae["_ongoing"].to_numpy()
    randdt = subjects["randdt"].to_numpy()[subj]
    fatal = grade == 5
    start_unknown = mess.unknown_levels(rng, n, p_day=0.05, p_month=0.01)
    start_unknown[fatal] = mess.COMPLETE
    serious = rng.random(n) < np.array([0, 0.01, 0.05, 0.3, 0.7, 1.0])[grade]
    u = rng.random((n, 2))
    hosp = u[:, 0] < 0.85
    life = (grade >= 4) & (u[:, 1] < 0.5)

    def criterion(flag: np.ndarray) -> np.ndarray:
        return np.where(serious, np.where(flag, "Y", "N"), "")

    rel_u = rng.random(n)
    linked = ae["_origin"].to_numpy() > 0
    aerel = np.where(
        linked & ~fatal, np.where(rel_u < 0.8, "Related", "Possibly related"),
        np.where(terms["related"][term],
                 np.select([rel_u < 0.55, rel_u < 0.85], ["Related", "Possibly related"],
                           "Unlikely related"),
                 np.select([rel_u < 0.6, rel_u < 0.85], ["Not related", "Unlikely related"],
                           "Possibly related")))
    out_u = rng.random(n)
    outcome = np.where(
        ongoing, np.where(out_u < 0.7, "Not recovered/Not resolved", "Recovering/Resolving"),
        np.where(out_u < 0.95, "Recovered/Resolved", "Recovered/Resolved with sequelae"))
    return pd.DataFrame({
        "SUBJECT": subjects["SUBJECT"].to_numpy()[subj],
        "AESPID": ae["AESPID"].astype(str).to_numpy(),
        "AETERM": mess.vary_case(rng, terms["verbatim"][term], 0.15, 0.1),
        "AELLT": terms["llt"][term], "AEPT": terms["pt"][term], "AEPTCD": terms["ptcd"][term],
        "AESOC": terms["soc"][term], "AESOCCD": terms["soccd"][term],
        "AESTDAT": mess.format_ymd(randdt + ae["_start"].to_numpy(), start_unknown),
        "AEENDAT": mess.format_ymd(randdt + ae["_end"].to_numpy(),
                                   mess.unknown_levels(rng, n, p_day=0.03)),
        "AEONGO": np.where(ongoing, "Y", np.where(rng.random(n) < 0.15, "", "N")),
        "AEGRADE": np.where(rng.random(n) < 0.08, np.char.add("Grade ", grade.astype(str)),
                            grade.astype(str)),
        "AESER": np.where(serious, "Yes", "No"),
        "AESDTH": criterion(fatal),
        "AESLIFE": criterion(life),
        "AESHOSP": criterion(hosp),
        "AESDISAB": criterion(np.zeros(n, dtype=bool)),
        "AESCONG": criterion(np.zeros(n, dtype=bool)),
        "AESMIE": criterion(~hosp & ~life & ~fatal),
        "AEREL": aerel,
        "AEACN": ae["_acn"].to_numpy(),
        "AEOUT": np.where(fatal, "Fatal", outcome),
    })


# --------------------------------------------------------------------------------------------
# Death, end of treatment / study
# --------------------------------------------------------------------------------------------

def _death_form(subjects: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """One row per recorded death; the sites know the date of death to the day."""
    idx = np.flatnonzero(np.isfinite(tl.death_day))
    return pd.DataFrame({
        "SUBJECT": subjects["SUBJECT"].to_numpy()[idx],
        "DTHDAT": mess.format_dmy(subjects["randdt"].to_numpy()[idx] + tl.death_day[idx]),
        "DTHCAUS": tl.death_cause[idx]})


def _latest_day(n: int, tl: Timeline, courses: list[tuple[np.ndarray, tumour.TumourCourse]],
                frames: list[tuple[pd.DataFrame, str]]) -> np.ndarray:
    """Latest recorded day per subject: scans of both phases, dosing, AE dates, end of phase."""
    latest = np.where(np.isfinite(tl.eot_day), tl.eot_day, -np.inf)
    for idx, course in courses:
        np.maximum.at(latest, idx, course.last_assessment_day())
    for frame, column in frames:
        values = frame[column].to_numpy(dtype="float64")
        keep = np.isfinite(values)
        np.maximum.at(latest, frame["_subj"].to_numpy()[keep], values[keep])
    return latest


def _eos_form(rng: np.random.Generator, subjects: pd.DataFrame, tl: Timeline,
              latest: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per subject: end of the treatment phase, end of study, last contact.

    A subject still followed at cut-off has blank end dates and a last contact in the last two
    months before cut-off, never before any other date of that subject. Also returns the last
    contact day.
    """
    n = len(subjects)
    follow_up = np.maximum(tl.cutoff_day - rng.integers(0, 61, n), latest)
    last_contact = np.where(np.isfinite(tl.eos_day), tl.eos_day, follow_up)
    randdt = subjects["randdt"].to_numpy()
    return pd.DataFrame({
        "SUBJECT": subjects["SUBJECT"].to_numpy(),
        "EOTDAT": mess.format_dmy(np.where(np.isfinite(tl.eot_day), randdt + tl.eot_day, np.nan)),
        "EOTREAS": REASON_TEXT[tl.eot_reason],
        "EOSDAT": mess.format_dmy(np.where(np.isfinite(tl.eos_day), randdt + tl.eos_day, np.nan)),
        "EOSREAS": REASON_TEXT[tl.eos_reason],
        "LSTCONDT": mess.format_dmy(randdt + last_contact),
    }), last_contact


# --------------------------------------------------------------------------------------------
# Tumour forms of both phases, planted disagreements
# --------------------------------------------------------------------------------------------

def _tumour_forms(rng: np.random.Generator, reason_rng: np.random.Generator,
                  randomized: tumour.TumourCourse, rechallenge: tumour.TumourCourse | None,
                  n_subjects: int) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """tl, ntl, nl, orr of both phases (phase 1 rows first within a subject) and the planted
    investigator/RECIST disagreements (randomized phase, never on a PD or NE response, so the
    endpoints are untouched). ``reason_rng`` draws only the not-evaluated reasons."""
    forms = tumour.tumour_forms(rng, randomized, reason_rng)
    phase1 = {name: np.ones(len(frame), dtype=bool) for name, frame in forms.items()}
    if rechallenge is not None:
        second = _rechallenge_forms(tumour.tumour_forms(rng, rechallenge, reason_rng))
        for name in forms:
            phase1[name] = np.r_[phase1[name], np.zeros(len(second[name]), dtype=bool)]
            forms[name] = pd.concat([forms[name], second[name]], ignore_index=True)
    for name, frame in forms.items():
        order = np.argsort(frame["SUBJECT"].to_numpy(dtype=str), kind="stable")
        forms[name] = frame.iloc[order].reset_index(drop=True)
        phase1[name] = phase1[name][order]

    orr = forms["orr.csv"]
    eligible = np.flatnonzero(phase1["orr.csv"] & ~orr["OVRLRESP"].isin([rt.PD, rt.NE]))
    planted, disagreements, rows = mess.plant_disagreements(
        rng, orr.iloc[eligible].reset_index(drop=True), max(1, round(n_subjects / 50)))
    overall = orr["OVRLRESP"].to_numpy(dtype=object).copy()
    overall[eligible] = planted["OVRLRESP"].to_numpy(dtype=object)
    orr = orr.assign(OVRLRESP=overall)
    protected = eligible[rows]
    for column in ("TRGRESP", "NTRGRESP", "OVRLRESP"):
        codes = orr[column].to_numpy(dtype=object)
        spelled = mess.spell_out_responses(rng, codes, 0.04)
        if column == "OVRLRESP":
            spelled[protected] = codes[protected]
        orr[column] = spelled
    forms["orr.csv"] = orr
    return forms, disagreements


# --------------------------------------------------------------------------------------------
# Truth
# --------------------------------------------------------------------------------------------

def _last_scan_day(course: tumour.TumourCourse) -> np.ndarray:
    """Day of the last post-baseline assessment (NaN: none)."""
    last = np.where(course.assessed, course.day, -np.inf).max(axis=1)
    return np.where(np.isfinite(last), last, np.nan)


def _progression_free_at_landmark(course: tumour.TumourCourse, death_day: np.ndarray
                                  ) -> np.ndarray:
    """Y when alive at day 183 and the last assessment up to day 183 + 28 (scans stop at PD) is
    dated from day 183 - 28 and shows disease control; else N."""
    upto = course.assessed & (course.day <= PFR_LANDMARK_DAY + PFR_WINDOW_DAYS)
    last = np.where(upto.any(axis=1), np.where(upto, np.arange(upto.shape[1]), -1).max(axis=1),
                    0)
    rows = np.arange(len(last))
    near = upto.any(axis=1) & (course.day[rows, last] >= PFR_LANDMARK_DAY - PFR_WINDOW_DAYS)
    controlled = np.isin(course.responses.overall[rows, last], CONTROL)
    alive = death_day > PFR_LANDMARK_DAY
    return np.where(near & controlled & alive, "Y", "N")


def _truth_subjects(subjects: pd.DataFrame, tl: Timeline, randomized: tumour.TumourCourse,
                    rechallenge: tumour.TumourCourse | None, idx: np.ndarray,
                    last_contact: np.ndarray) -> pd.DataFrame:
    n = len(subjects)
    randdt = subjects["randdt"].to_numpy()

    def iso(days: np.ndarray) -> np.ndarray:
        return mess.format_iso(randdt + np.where(np.isfinite(days), days, np.nan))

    rch_last = np.full(n, np.nan)
    rch_bor = np.full(n, "", dtype=object)
    if rechallenge is not None:
        rch_last[idx] = _last_scan_day(rechallenge)
        rch_bor[idx] = rechallenge.best_overall_response()
    dead = np.isfinite(tl.death_day)
    return pd.DataFrame({
        "SUBJECT": subjects["SUBJECT"].to_numpy(),
        "ARM": subjects["arm"].to_numpy(),
        "RANDDT": iso(np.zeros(n)),
        "TRUE_BOR": randomized.best_overall_response(),
        "PD_DATE": iso(tl.pd_day),
        "LAST_TA_DATE": iso(_last_scan_day(randomized)),
        "PF6M": _progression_free_at_landmark(randomized, tl.death_day),
        "RCH_DATE": iso(tl.reintro_day),
        "RCH_BASELINE_DATE": iso(tl.rebase_day),
        "RCH_BOR": rch_bor,
        "RCH_PD_DATE": iso(tl.rch_pd_day),
        "RCH_LAST_TA_DATE": iso(rch_last),
        "DEATH_DATE": iso(tl.death_day),
        "LAST_ALIVE_DATE": iso(np.where(dead, np.nan, last_contact)),
    })


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------

def build(n_subjects: int, seed: int) -> StudyFiles:
    """Generate every raw form and truth table of the stop/continue trial for n subjects."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(14)]
    subjects = _subjects(streams[0], n_subjects)
    n = len(subjects)
    events = _other_events(streams[1], subjects)
    # scans stop at death, withdrawal, loss to follow-up, completion or cut-off
    scan_end = np.minimum.reduce([events["death"], events["withdrawal"], events["lost"],
                                  events["completion"], events["cutoff"] + 1])
    randomized = _randomized_course(streams[2], subjects, scan_end)
    pd_day = randomized.first_pd_day()
    reintro, rebase = _reintroduction(streams[3], subjects, pd_day, scan_end)
    idx = np.flatnonzero(np.isfinite(reintro))
    rch_pd = np.full(n, np.nan)
    rechallenge = None
    if len(idx):
        rechallenge = _rechallenge_course(streams[4], subjects.iloc[idx], reintro[idx],
                                          rebase[idx], scan_end[idx])
        rch_pd[idx] = rechallenge.first_pd_day()
    tl = _timeline(streams[5], subjects, events, pd_day, reintro, rebase, rch_pd)

    ex = _exposure(streams[6], subjects, tl)
    ae = _adverse_events(streams[7], subjects, tl, ex)
    courses = [(np.arange(n), randomized)]
    if rechallenge is not None:
        courses.append((idx, rechallenge))
    closed = ex.assign(_end=ex["_end"].where(~ex["_open"]))
    latest = _latest_day(n, tl, courses, [(ex, "_start"), (closed, "_end"), (ae, "_start"),
                                          (ae, "_end")])
    eos, last_contact = _eos_form(streams[8], subjects, tl, latest)
    forms, disagreements = _tumour_forms(streams[9], tumour.reason_stream(seed), randomized,
                                          rechallenge, n)
    ae_form, ae_defects = mess.plant_ae_defects(streams[10], _ae_form(streams[11], subjects, ae),
                                                NAUSEA_CODING)
    raw = {
        "enrol.csv": _enrol_form(streams[12], subjects),
        "ic.csv": _consent_form(subjects),
        "ex.csv": _ex_form(streams[13], subjects, ex),
        "ae.csv": ae_form,
        "death.csv": _death_form(subjects, tl),
        "eos.csv": eos,
        **forms,
    }
    raw["qlq_c30.csv"] = qlq_c30.qlq_c30_form(
        seed, subjects["SUBJECT"].to_numpy().astype(str), subjects["randdt"].to_numpy(),
        subjects["consent_day"].to_numpy(), np.where(np.isfinite(latest), latest, 0.0))
    truth = {
        "planted_disagreements.csv": disagreements,
        "planted_defects.csv": ae_defects,
        "subjects.csv": _truth_subjects(subjects, tl, randomized, rechallenge, idx,
                                        last_contact),
    }
    return StudyFiles(raw=raw, truth=truth)
