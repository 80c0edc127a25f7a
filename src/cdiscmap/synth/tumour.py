"""RECIST 1.1 lesion trajectories of the basket trial and the tumour forms (tl, ntl, nl, orr).

Each subject gets measurable baseline disease (RECIST 1.1 §3.1-3.2 and §4.2: at most 5 targets,
at most 2 per organ, non-nodal >= 10 mm, nodes >= 15 mm short axis), a latent response pattern
drawn per cohort (complete/partial responder, stable, early progressor, mixed), and assessments
every 8 weeks. The recorded lesion values (whole mm, "too small to measure", not evaluated,
split, merged, new lesions) are turned into the investigator's responses by the independent
rule in ``recist_truth``, so a correct engine reproduces them from the lesion forms.

All days are counted from the registration date (day 0); arrays are (subject, assessment,
lesion slot) with assessments sorted by date.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from cdiscmap.synth import messiness as mess
from cdiscmap.synth import recist_truth as rt

MAX_TARGETS = 5
MAX_NONTARGETS = 4
MAX_NEW = 2
SCHEDULED_VISITS = 36            # Week 8 .. Week 288: longer than any follow-up to cut-off
VISIT_INTERVAL = 56              # days (every 8 weeks = 2 cycles)
VISIT_JITTER = 7                 # +- days around the scheduled date
TOO_SMALL_COUNTED_MM = 5         # default value for "too small to measure" (RECIST 1.1 §4.3.2)

# Target lesion status codes and their text in tl.csv.
TS_MEASURED, TS_TOO_SMALL, TS_NOT_EVALUATED, TS_SPLIT, TS_MERGED = range(5)
TARGET_STATUS_TEXT = np.array(["", "TOO SMALL TO MEASURE", "NOT EVALUATED", "SPLIT", "MERGED"])
NONTARGET_STATUS_TEXT = np.array(["", "PRESENT", "ABSENT", "UNEQUIVOCAL PROGRESSION",
                                  "NOT EVALUATED"])

# Why a lesion was not evaluated, as eCRFs collect it next to the status (SDTMIG 3.4 §4.5.1.2:
# a test not done carries --STAT NOT DONE and its --REASND), with how often each is ticked.
# Drawn from their own stream ([seed, REASON_STREAM]) so adding them leaves every other column
# of a seed byte-identical.
REASON_STREAM = 1050
NOT_EVALUATED_REASONS = np.array(["SCAN NOT PERFORMED", "LESION NOT IN FIELD OF VIEW",
                                  "POOR IMAGE QUALITY", "DIFFERENT IMAGING METHOD USED"])
NOT_EVALUATED_REASON_P = np.array([0.40, 0.25, 0.20, 0.15])

# Organs (RECIST counts at most 2 targets per organ; all lymph nodes together are one organ, as
# are both lungs, kidneys, adrenals). Every location text begins with the organ name.
ORGANS: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    ("LIVER", False, ("LIVER SEGMENT II", "LIVER SEGMENT IV", "LIVER SEGMENT VI",
                      "LIVER SEGMENT VII", "LIVER SEGMENT VIII")),
    ("LUNG", False, ("LUNG RIGHT UPPER LOBE", "LUNG RIGHT LOWER LOBE", "LUNG LEFT UPPER LOBE",
                     "LUNG LEFT LOWER LOBE", "LUNG RIGHT MIDDLE LOBE")),
    ("LYMPH NODE", True, ("LYMPH NODE MEDIASTINAL", "LYMPH NODE HILAR", "LYMPH NODE AXILLARY",
                          "LYMPH NODE RETROPERITONEAL", "LYMPH NODE INGUINAL",
                          "LYMPH NODE CERVICAL")),
    ("PERITONEUM", False, ("PERITONEUM", "PERITONEUM OMENTUM", "PERITONEUM LEFT FLANK")),
    ("ADRENAL GLAND", False, ("ADRENAL GLAND LEFT", "ADRENAL GLAND RIGHT")),
    ("SOFT TISSUE", False, ("SOFT TISSUE ABDOMINAL WALL", "SOFT TISSUE THIGH",
                            "SOFT TISSUE PARAVERTEBRAL")),
    ("KIDNEY", False, ("KIDNEY LEFT", "KIDNEY RIGHT")),
    ("BRAIN", False, ("BRAIN FRONTAL LOBE", "BRAIN TEMPORAL LOBE", "BRAIN PARIETAL LOBE")),
    ("PLEURA", False, ("PLEURA RIGHT", "PLEURA LEFT")),
    ("BONE", False, ("BONE THORACIC SPINE", "BONE PELVIS", "BONE RIB")),
)
ORGAN_IS_NODE = np.array([o[1] for o in ORGANS])
_LOC_COUNT = np.array([len(o[2]) for o in ORGANS])
_LOC_OFFSET = np.r_[0, np.cumsum(_LOC_COUNT)[:-1]]
LOCATIONS = np.array([loc for o in ORGANS for loc in o[2]])
_BONE = len(ORGANS) - 1

# Organ weights per disease group: LIVER LUNG NODE PERIT ADREN SOFT KIDN BRAIN PLEUR BONE.
# BONE is never a target (lytic bone disease without soft tissue is not measurable).
_ORGAN_WEIGHTS = {
    "default": (3.0, 3.0, 3.0, 1.5, 0.7, 0.7, 0.4, 0.2, 0.7, 1.0),
    "lung": (2.0, 6.0, 4.0, 0.3, 1.5, 0.3, 0.2, 0.6, 1.5, 1.5),
    "digestive": (6.0, 2.0, 3.0, 3.0, 0.3, 0.3, 0.2, 0.0, 0.5, 0.5),
    "renal": (1.5, 3.0, 2.0, 0.3, 1.0, 0.5, 3.0, 0.2, 0.3, 1.0),
    "sarcoma": (1.0, 2.0, 2.0, 3.0, 0.5, 4.0, 0.2, 0.0, 0.5, 0.5),
    "neuroblastoma": (1.0, 0.5, 2.0, 1.0, 3.0, 2.0, 0.5, 0.0, 0.2, 1.5),
    "lymphoma": (1.0, 1.0, 8.0, 0.3, 0.2, 1.0, 0.2, 0.0, 0.3, 0.3),
    "brain": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0),
    "thyroid": (0.5, 3.0, 4.0, 0.0, 0.2, 0.5, 0.0, 0.0, 0.5, 1.5),
    "gynaecological": (3.0, 2.0, 3.0, 3.0, 0.2, 0.3, 0.0, 0.2, 1.0, 1.0),
}

# Response patterns.
P_CR, P_PR, P_SD, P_PD, P_MIXED = range(5)
MODE_TARGET, MODE_NEW, MODE_NONTARGET = range(3)


@dataclass(frozen=True)
class TumourInputs:
    """What the tumour course needs from the subject timeline (one entry per subject)."""

    subject: np.ndarray         # SUBJECT ids, sorted
    organ_group: np.ndarray     # key of _ORGAN_WEIGHTS
    response_rate: np.ndarray   # P(CR or PR) of the subject's cohort
    mri: np.ndarray             # bool: imaging by MRI rather than CT
    dosed: np.ndarray           # bool
    first_dose: np.ndarray      # day of first dose (NaN if never dosed)
    baseline_day: np.ndarray    # day of the baseline scan (<= 0)
    censor_day: np.ndarray      # assessments strictly before this day
    regdat: np.ndarray          # registration date, days since 1970-01-01


@dataclass(frozen=True)
class TumourCourse:
    """Lesion data of every subject at baseline and each assessment, plus RECIST responses."""

    inputs: TumourInputs
    target_organ: np.ndarray     # (n, L) organ index, -1 = no lesion
    target_loc: np.ndarray       # (n, L) location text
    is_node: np.ndarray          # (n, L)
    baseline_diam: np.ndarray    # (n, L) mm, NaN = no lesion
    nontarget_loc: np.ndarray    # (n, M) location text, "" = no lesion
    day: np.ndarray              # (n, K) assessment day (inf = none), date order
    visit: np.ndarray            # (n, K) visit label
    assessed: np.ndarray         # (n, K)
    recorded: np.ndarray         # (n, K, L) whole mm as written (meaningful when measured)
    target_status: np.ndarray    # (n, K, L) TS_* code
    counted: np.ndarray          # (n, K, L) mm as RECIST counts them, NaN = not evaluated
    nontarget: np.ndarray        # (n, K, M) recist_truth.NT_* code
    new_unequivocal: np.ndarray  # (n, K) number of unequivocal new lesions
    new_equivocal: np.ndarray    # (n, K) bool: one equivocal new lesion listed
    new_loc: np.ndarray          # (n, K, MAX_NEW) location of new lesions
    responses: rt.TimepointResponses

    def first_pd_day(self) -> np.ndarray:
        """Day of the first assessment with overall PD (NaN if none)."""
        is_pd = self.assessed & (self.responses.overall == rt.PD)
        first = is_pd.argmax(axis=1)
        return np.where(is_pd.any(axis=1), self.day[np.arange(len(first)), first], np.nan)

    def last_assessment_day(self) -> np.ndarray:
        """Day of the last assessment, baseline included."""
        last = np.where(self.assessed, self.day, -np.inf).max(axis=1)
        return np.maximum(last, self.inputs.baseline_day)

    def truncated(self, limit_day: np.ndarray) -> TumourCourse:
        """The course with assessments on or after ``limit_day`` removed (end of study).

        Responses of the assessments kept do not change: each depends only on earlier ones.
        """
        assessed = self.assessed & (self.day < limit_day[:, None])
        r = self.responses
        none = ~assessed
        return replace(self, assessed=assessed, responses=rt.TimepointResponses(
            target=np.where(none, rt.NOT_APPLICABLE, r.target),
            nontarget=np.where(none, rt.NOT_APPLICABLE, r.nontarget),
            overall=np.where(none, rt.NOT_APPLICABLE, r.overall)))

    def best_overall_response(self) -> np.ndarray:
        return rt.best_overall_response(self.responses.overall)


# --------------------------------------------------------------------------------------------
# Baseline disease
# --------------------------------------------------------------------------------------------

def _organ_weights(groups: np.ndarray) -> np.ndarray:
    """Organ weights per subject, looked up by disease group name."""
    names = np.array(sorted(_ORGAN_WEIGHTS))
    table = np.array([_ORGAN_WEIGHTS[k] for k in names], dtype="float64")
    return table[np.searchsorted(names, np.asarray(groups, dtype=str))]


def _location(organ: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """Location text of lesions in ``organ`` (-1 = none -> "")."""
    safe = np.maximum(organ, 0)
    text = LOCATIONS[_LOC_OFFSET[safe] + pick % _LOC_COUNT[safe]]
    return np.where(organ >= 0, text, "")


def _baseline(rng: np.random.Generator, inputs: TumourInputs) -> dict[str, np.ndarray]:
    n = len(inputs.subject)
    weights = _organ_weights(inputs.organ_group)
    has_targets = rng.random(n) > 0.10
    n_targets = np.where(has_targets, rng.choice(np.arange(1, 6), n, p=[.2, .3, .25, .15, .1]), 0)
    n_nontargets = np.where(
        has_targets, rng.choice(np.arange(0, 5), n, p=[.25, .3, .25, .12, .08]),
        rng.choice(np.arange(1, 5), n, p=[.4, .3, .2, .1]))

    # Targets: weighted draw without replacement of (organ, slot) pairs, 2 slots per organ, so
    # no organ holds more than 2 targets (RECIST 1.1 §4.2). Keys -log(U)/w: smallest win.
    target_weights = weights.copy()
    target_weights[:, _BONE] = 0.0
    pair_weights = np.repeat(target_weights, 2, axis=1)
    with np.errstate(divide="ignore"):
        keys = -np.log(rng.random(pair_weights.shape)) / pair_weights
    order = np.argsort(keys, axis=1, kind="stable")[:, :MAX_TARGETS]
    drawable = np.isfinite(np.take_along_axis(keys, order, axis=1)).sum(axis=1)
    n_targets = np.minimum(n_targets, drawable)
    slot = np.arange(MAX_TARGETS)
    present = slot[None, :] < n_targets[:, None]
    target_organ = np.where(present, order // 2, -1)
    subject_pick = rng.integers(0, 6, n)[:, None]
    target_loc = _location(target_organ, subject_pick + order % 2)
    is_node = present & ORGAN_IS_NODE[np.maximum(target_organ, 0)]

    # Measurable at baseline: non-nodal >= 10 mm longest diameter, nodes >= 15 mm short axis.
    shape = (n, MAX_TARGETS)
    non_nodal = 10 + np.floor(np.exp(rng.normal(2.7, 0.7, shape)))
    nodal = 15 + np.floor(np.exp(rng.normal(2.0, 0.6, shape)))
    baseline_diam = np.where(is_node, np.minimum(nodal, 80), np.minimum(non_nodal, 150))
    baseline_diam = np.where(present, baseline_diam, np.nan)

    # Non-targets: any organ (bone included), no per-organ limit.
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    u = rng.random((n, MAX_NONTARGETS))
    nt_organ = np.minimum((u[:, :, None] > cumulative[:, None, :]).sum(axis=2), len(ORGANS) - 1)
    nt_present = np.arange(MAX_NONTARGETS)[None, :] < n_nontargets[:, None]
    nt_organ = np.where(nt_present, nt_organ, -1)
    nontarget_loc = _location(nt_organ, subject_pick + 2 + np.arange(MAX_NONTARGETS)[None, :])
    return {"target_organ": target_organ, "target_loc": target_loc, "is_node": is_node,
            "baseline_diam": baseline_diam, "nontarget_loc": nontarget_loc,
            "nt_present": nt_present}


# --------------------------------------------------------------------------------------------
# Assessment schedule
# --------------------------------------------------------------------------------------------

def _schedule(rng: np.random.Generator, inputs: TumourInputs) -> tuple[np.ndarray, ...]:
    """Assessment days (sorted, inf = none), labels and which ones were done."""
    n = len(inputs.subject)
    k = np.arange(1, SCHEDULED_VISITS + 1)
    jitter = rng.integers(-VISIT_JITTER, VISIT_JITTER + 1, (n, SCHEDULED_VISITS))
    scheduled = inputs.first_dose[:, None] + VISIT_INTERVAL * k[None, :] + jitter
    # A few subjects are careless about the schedule: many missing assessments.
    careless = rng.random(n) < 0.06
    skip_p = np.where(careless, 0.30, 0.02)[:, None]
    skipped = rng.random((n, SCHEDULED_VISITS)) < skip_p

    # Occasional unscheduled scan, between two early scheduled ones.
    has_unscheduled = rng.random(n) < 0.06
    after = rng.integers(0, 6, n)
    extra = scheduled[np.arange(n), after] + 14 + rng.integers(0, 15, n)
    extra = np.where(has_unscheduled, extra, np.inf)

    days = np.concatenate([scheduled, extra[:, None]], axis=1)
    labels = np.array([f"Week {8 * i}" for i in k] + ["Unscheduled"])
    done = np.concatenate([~skipped, has_unscheduled[:, None]], axis=1)
    days = np.where(np.isfinite(days), days, np.inf)
    order = np.argsort(days, axis=1, kind="stable")
    days = np.take_along_axis(days, order, axis=1)
    done = np.take_along_axis(done, order, axis=1)
    labels = labels[order]
    assessed = (done & inputs.dosed[:, None] & np.isfinite(days)
                & (days < inputs.censor_day[:, None]))
    return days, labels, assessed


# --------------------------------------------------------------------------------------------
# Latent course
# --------------------------------------------------------------------------------------------

def _patterns(rng: np.random.Generator, response_rate: np.ndarray) -> np.ndarray:
    p = response_rate
    probs = np.stack([0.25 * p, 0.75 * p, 0.5 * (1 - p), 0.35 * (1 - p), 0.15 * (1 - p)], axis=1)
    cumulative = np.cumsum(probs, axis=1)
    u = rng.random(len(p))[:, None] * cumulative[:, -1:]
    return np.minimum((u > cumulative).sum(axis=1), P_MIXED)


def simulate(rng: np.random.Generator, inputs: TumourInputs) -> TumourCourse:
    """Draw baseline disease, the latent course and the recorded lesion values; apply RECIST."""
    n = len(inputs.subject)
    base = _baseline(rng, inputs)
    day, visit, assessed = _schedule(rng, inputs)
    n_visits = day.shape[1]
    bd = base["baseline_diam"]
    present = ~np.isnan(bd)
    is_node = base["is_node"]
    has_targets = present.any(axis=1)
    nt_present = base["nt_present"]
    has_nt = nt_present.any(axis=1)

    pattern = _patterns(rng, inputs.response_rate)
    pattern = np.where((pattern == P_MIXED) & (present.sum(axis=1) < 2), P_SD, pattern)
    t_nadir = np.select([pattern == P_CR, pattern == P_PR],
                        [rng.uniform(56, 180, n), rng.uniform(40, 120, n)],
                        rng.uniform(50, 120, n))
    depth = np.select([pattern == P_CR, pattern == P_PR, pattern == P_SD],
                      [np.full(n, -1.0), rng.uniform(-0.85, -0.4, n), rng.uniform(-0.25, 0.12, n)],
                      rng.uniform(-0.05, 0.10, n))
    t_prog = np.select(
        [pattern == P_CR, pattern == P_PR, pattern == P_SD, pattern == P_PD],
        [150 + rng.exponential(1000, n), 150 + rng.exponential(400, n),
         60 + rng.exponential(160, n), rng.uniform(10, 45, n)],
        40 + rng.exponential(100, n))
    mode_u = rng.random(n)
    mode = np.select(
        [has_targets & has_nt, has_targets],
        [np.select([mode_u < 0.6, mode_u < 0.85], [MODE_TARGET, MODE_NEW], MODE_NONTARGET),
         np.where(mode_u < 0.7, MODE_TARGET, MODE_NEW)],
        np.where(mode_u < 0.55, MODE_NEW, MODE_NONTARGET))

    # Per-lesion depth: mixed responders have one growing lesion among shrinking ones; complete
    # responders' nodes shrink to a normal short axis (< 10 mm) instead of 0.
    lesion_depth = np.repeat(depth[:, None], MAX_TARGETS, axis=1)
    mixed = pattern == P_MIXED
    lesion_depth[mixed] = -rng.uniform(0.35, 0.6, (mixed.sum(), MAX_TARGETS))
    lesion_depth[mixed, 0] = rng.uniform(0.25, 0.6, mixed.sum())
    normal_node = rng.uniform(4.0, 9.4, (n, MAX_TARGETS))
    cr_node = (pattern == P_CR)[:, None] & is_node
    lesion_depth = np.where(cr_node, normal_node / np.where(present, bd, 1.0) - 1, lesion_depth)

    t = day - inputs.first_dose[:, None]                              # (n, K) days on study drug
    t = np.where(np.isfinite(t), t, 0.0)
    frac = np.clip(t / t_nadir[:, None], 0, 1)
    noise = np.exp(rng.normal(0, 0.07, (n, n_visits, MAX_TARGETS)))
    bd0 = np.where(present, bd, 0.0)
    size = bd0[:, None, :] * (1 + lesion_depth[:, None, :] * frac[:, :, None]) * noise
    # Nodes below 10 mm stay there until progression (keeps CR and PD apart).
    node_size = np.maximum(size, 3.6)
    running_min = np.minimum.accumulate(node_size, axis=1)
    node_size = np.where(running_min < 10, running_min, node_size)
    size = np.where(is_node[:, None, :], node_size, size)

    # Progression by target growth: all targets grow, the largest one by at least 10 mm.
    progressed = t >= t_prog[:, None]
    growth = rng.uniform(1.35, 1.9, n)[:, None, None]
    driver = np.argmax(bd0, axis=1)
    grown = size * growth
    driver_mask = np.arange(MAX_TARGETS)[None, None, :] == driver[:, None, None]
    grown = np.where(driver_mask, np.maximum(grown, size + 10), grown)
    target_prog = (progressed & (mode == MODE_TARGET)[:, None])[:, :, None]
    size = np.where(target_prog & present[:, None, :], grown, size)
    size = np.where(present[:, None, :], size, 0.0)

    status = np.full(size.shape, TS_MEASURED, dtype=np.int8)
    durable = (pattern == P_CR) | (pattern == P_PR)
    size, status = _merge_lesions(rng, size, status, base["target_organ"], is_node, t,
                                  assessed, durable)
    recorded = np.rint(size).astype(np.int64)
    too_small = present[:, None, :] & (recorded >= 1) & (recorded < TOO_SMALL_COUNTED_MM)
    status[too_small & (status == TS_MEASURED)] = TS_TOO_SMALL
    status = _split_lesions(rng, status, recorded, is_node, present, t, assessed, durable)
    # One target not evaluated at about 1.5 % of assessments.
    ne_visit = (rng.random((n, n_visits)) < 0.015) & has_targets[:, None]
    ne_slot = (rng.random((n, n_visits)) * np.maximum(present.sum(axis=1), 1)[:, None]).astype(int)
    ne_visit = _keep_not_evaluated_unambiguous(bd, recorded, status, present, ne_visit, ne_slot,
                                               assessed)
    status = _with_not_evaluated(status, ne_visit, ne_slot)
    counted = _counted(recorded, status, present)

    nontarget = _nontarget_course(rng, pattern, mode, nt_present, t, t_nadir, progressed)
    new_unequivocal = np.where(progressed & (mode == MODE_NEW)[:, None],
                               rng.integers(1, MAX_NEW + 1, n)[:, None], 0)
    new_equivocal = (new_unequivocal == 0) & (rng.random((n, n_visits)) < 0.02)
    new_organ = rng.integers(0, len(ORGANS), (n, n_visits, MAX_NEW))
    new_loc = _location(new_organ, rng.integers(0, 6, (n, n_visits, MAX_NEW)))

    responses = rt.timepoint_responses(bd, counted, is_node, nontarget, new_unequivocal > 0,
                                       assessed)
    # Scans stop after the first progression.
    is_pd = assessed & (responses.overall == rt.PD)
    first_pd = np.where(is_pd.any(axis=1), is_pd.argmax(axis=1), n_visits)
    assessed = assessed & (np.arange(n_visits)[None, :] <= first_pd[:, None])
    course = TumourCourse(
        inputs=inputs, target_organ=base["target_organ"], target_loc=base["target_loc"],
        is_node=is_node, baseline_diam=bd, nontarget_loc=base["nontarget_loc"], day=day,
        visit=visit, assessed=assessed, recorded=recorded, target_status=status, counted=counted,
        nontarget=nontarget, new_unequivocal=new_unequivocal, new_equivocal=new_equivocal,
        new_loc=new_loc, responses=responses)
    return course.truncated(np.full(n, np.inf))


def _with_not_evaluated(status: np.ndarray, ne_visit: np.ndarray,
                        ne_slot: np.ndarray) -> np.ndarray:
    """Statuses with target ``ne_slot`` NOT EVALUATED at the flagged assessments."""
    slots = np.arange(status.shape[2])[None, None, :]
    out = status.copy()
    out[ne_visit[:, :, None] & (slots == ne_slot[:, :, None])] = TS_NOT_EVALUATED
    return out


def _counted(recorded: np.ndarray, status: np.ndarray, present: np.ndarray) -> np.ndarray:
    """mm as RECIST counts them: too small -> 5 mm, not evaluated -> NaN, no lesion -> NaN."""
    counted = np.where(status == TS_TOO_SMALL, TOO_SMALL_COUNTED_MM, recorded).astype("float64")
    counted[status == TS_NOT_EVALUATED] = np.nan
    counted[~np.broadcast_to(present[:, None, :], counted.shape)] = np.nan
    return counted


def _keep_not_evaluated_unambiguous(baseline_diam: np.ndarray, recorded: np.ndarray,
                                    status: np.ndarray, present: np.ndarray,
                                    ne_visit: np.ndarray, ne_slot: np.ndarray,
                                    assessed: np.ndarray) -> np.ndarray:
    """Drop the not-evaluated flags where the other targets alone already show PD.

    There RECIST 1.1 allows PD while recist_truth says NE; the lesion is measured instead.
    Dropping a flag can lower later nadirs, so repeat until no such assessment is left.
    """
    ne_visit = ne_visit.copy()
    while True:
        counted = _counted(recorded, _with_not_evaluated(status, ne_visit, ne_slot), present)
        ambiguous = rt.progression_despite_missing(baseline_diam, counted, assessed)
        if not ambiguous.any():
            return ne_visit
        ne_visit &= ~ambiguous


def _ensure_one(rng: np.random.Generator, chosen: np.ndarray, eligible: np.ndarray,
                start: np.ndarray, t: np.ndarray, assessed: np.ndarray,
                durable: np.ndarray) -> None:
    """Make sure one subject shows the event on at least two assessments (in place).

    Rare lesion events must occur in every demo-sized export, so when the random draw gave none
    that will be seen, one durable responder with two assessments after day 60 gets it.
    """
    seen = (assessed & (t >= start[:, None])).sum(axis=1) >= 2
    if (chosen & seen & durable).any():
        return
    candidates = np.flatnonzero(eligible & durable & ((assessed & (t >= 60)).sum(axis=1) >= 2))
    if len(candidates):
        pick = candidates[rng.integers(len(candidates))]
        chosen[pick] = True
        start[pick] = 60.0


def _merge_lesions(rng: np.random.Generator, size: np.ndarray, status: np.ndarray,
                   organ: np.ndarray, is_node: np.ndarray, t: np.ndarray, assessed: np.ndarray,
                   durable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two non-nodal targets of one organ merge (RECIST 1.1 §4.3.2).

    From the merge on, the first carries both diameters and the second is recorded as 0 mm.
    """
    n = len(size)
    same = (organ[:, :, None] == organ[:, None, :]) & (organ[:, :, None] >= 0)
    same &= ~is_node[:, :, None] & ~is_node[:, None, :]
    same &= np.triu(np.ones((MAX_TARGETS, MAX_TARGETS), dtype=bool), k=1)[None]
    has_pair = same.reshape(n, -1).any(axis=1)
    flat = same.reshape(n, -1).argmax(axis=1)
    first, second = flat // MAX_TARGETS, flat % MAX_TARGETS
    merging = has_pair & (rng.random(n) < 0.05)
    t_merge = rng.uniform(60, 300, n)
    _ensure_one(rng, merging, has_pair, t_merge, t, assessed, durable)
    after = merging[:, None] & (t >= t_merge[:, None])                   # (n, K)
    rows = np.arange(n)
    size = size.copy()
    carried = size[rows, :, first] + size[rows, :, second]
    size[rows, :, first] = np.where(after, carried, size[rows, :, first])
    size[rows, :, second] = np.where(after, 0.0, size[rows, :, second])
    status[rows, :, second] = np.where(after, TS_MERGED, status[rows, :, second])
    return size, status


def _split_lesions(rng: np.random.Generator, status: np.ndarray, recorded: np.ndarray,
                   is_node: np.ndarray, present: np.ndarray, t: np.ndarray,
                   assessed: np.ndarray, durable: np.ndarray) -> np.ndarray:
    """A non-nodal target splits; its diameter is the sum of the fragments (RECIST 1.1 §4.3.2)."""
    n = len(status)
    candidates = present & ~is_node
    pick = np.argmax(candidates, axis=1)
    rows = np.arange(n)
    lesion_status = status[rows, :, pick]
    measured = (lesion_status == TS_MEASURED) & (recorded[rows, :, pick] >= TOO_SMALL_COUNTED_MM)
    eligible = candidates.any(axis=1) & measured.any(axis=1)
    splitting = eligible & (rng.random(n) < 0.04)
    t_split = rng.uniform(60, 300, n)
    _ensure_one(rng, splitting, eligible, t_split, t, assessed & measured, durable)
    after = splitting[:, None] & (t >= t_split[:, None])
    status[rows, :, pick] = np.where(after & measured, TS_SPLIT, lesion_status)
    return status


def _nontarget_course(rng: np.random.Generator, pattern: np.ndarray, mode: np.ndarray,
                      nt_present: np.ndarray, t: np.ndarray, t_nadir: np.ndarray,
                      progressed: np.ndarray) -> np.ndarray:
    """Non-target status per assessment: disappearance in responders, unequivocal progression."""
    n, n_visits = t.shape
    shape = (n, n_visits, MAX_NONTARGETS)
    at_nadir = (t >= t_nadir[:, None])[:, :, None]
    vanishes = np.where((pattern == P_CR)[:, None], True,
                        (pattern == P_PR)[:, None] & (rng.random((n, MAX_NONTARGETS)) < 0.3))
    status = np.where(at_nadir & vanishes[:, None, :], rt.NT_ABSENT, rt.NT_PRESENT).astype(np.int8)
    n_nt = nt_present.sum(axis=1)
    ne_visit = (rng.random((n, n_visits)) < 0.02) & (n_nt > 0)[:, None]
    ne_slot = (rng.random((n, n_visits)) * np.maximum(n_nt, 1)[:, None]).astype(int)
    slots = np.arange(MAX_NONTARGETS)[None, None, :]
    status[ne_visit[:, :, None] & (slots == ne_slot[:, :, None])] = rt.NT_NOT_EVALUATED
    prog_slot = (rng.random(n) * np.maximum(n_nt, 1)).astype(int)
    prog = (progressed & (mode == MODE_NONTARGET)[:, None])[:, :, None] & \
        (slots == prog_slot[:, None, None])
    status[prog] = rt.NT_PROGRESSION
    status[~np.broadcast_to(nt_present[:, None, :], shape)] = rt.NT_NONE
    return status


# --------------------------------------------------------------------------------------------
# Forms
# --------------------------------------------------------------------------------------------

def _rows(course: TumourCourse) -> tuple[np.ndarray, np.ndarray]:
    """(subject index, assessment index) of baseline (index -1) and done assessments, in order."""
    n = len(course.inputs.subject)
    subj, k = np.nonzero(course.assessed)
    subj = np.r_[np.arange(n), subj]
    k = np.r_[np.full(n, -1), k]
    order = np.lexsort((k, subj))
    return subj[order], k[order]


def _int_text(values: np.ndarray) -> np.ndarray:
    return values.astype(np.int64).astype(str)


def reason_stream(seed: int) -> np.random.Generator:
    """The stream the not-evaluated reasons of ``tumour_forms`` are drawn from (see
    ``REASON_STREAM``): separate from the study's spawned streams so no other value moves."""
    return np.random.default_rng([seed, REASON_STREAM])


def _reasons(reason_rng: np.random.Generator, not_evaluated: np.ndarray) -> np.ndarray:
    """A reason for each True cell of ``not_evaluated`` (rows, slots), "" elsewhere."""
    pick = reason_rng.choice(len(NOT_EVALUATED_REASONS), not_evaluated.shape,
                             p=NOT_EVALUATED_REASON_P)
    return np.where(not_evaluated, NOT_EVALUATED_REASONS[pick], "")


def tumour_forms(rng: np.random.Generator, course: TumourCourse,
                 reason_rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """tl, ntl, nl and orr (investigator responses as RECIST codes, before any planted change).

    ``reason_rng`` (``reason_stream(seed)``) draws the reason collected next to each lesion
    status NOT EVALUATED (``TL{i}_REASND``, ``NTL{j}_REASND``); ``rng`` draws everything else.
    """
    inp = course.inputs
    subj, k = _rows(course)
    baseline = k < 0
    kk = np.maximum(k, 0)
    day = np.where(baseline, inp.baseline_day[subj], course.day[subj, kk])
    visit = np.where(baseline, "Baseline", course.visit[subj, kk])
    tadat = mess.format_dmy(inp.regdat[subj] + day)
    subject = inp.subject[subj]

    modality = np.where(inp.mri[subj], "MRI", "CT SCAN")
    method = np.where((modality == "CT SCAN") & (rng.random(len(subj)) < 0.15), "ct scan",
                      modality)
    tl: dict[str, np.ndarray] = {"SUBJECT": subject, "VISIT": visit, "TADAT": tadat,
                                 "METHOD": method}
    present = ~np.isnan(course.baseline_diam[subj])                                 # (r, L)
    counted = np.where(baseline[:, None], course.baseline_diam[subj], course.counted[subj, kk])
    sums = np.where(present, counted, 0.0).sum(axis=1)
    has_targets = present.any(axis=1)
    tl["SUMDIAM"] = np.where(has_targets & np.isfinite(sums), _int_text(np.nan_to_num(sums)), "")
    status = np.where(baseline[:, None], TS_MEASURED, course.target_status[subj, kk])
    diam = np.where(baseline[:, None], np.nan_to_num(course.baseline_diam[subj]),
                    course.recorded[subj, kk])
    tl_reason = _reasons(reason_rng, present & (status == TS_NOT_EVALUATED))
    for i in range(MAX_TARGETS):
        here = present[:, i]
        measured = here & ((status[:, i] == TS_MEASURED) | (status[:, i] == TS_SPLIT)
                           | (status[:, i] == TS_MERGED))
        tl[f"TL{i + 1}_ID"] = np.where(here, f"T{i + 1:02d}", "")
        tl[f"TL{i + 1}_LOC"] = np.where(here & baseline, course.target_loc[subj, i], "")
        node = np.where(course.is_node[subj, i], "Y", "N")
        tl[f"TL{i + 1}_NODE"] = np.where(here & baseline, node, "")
        tl[f"TL{i + 1}_DIAM"] = np.where(measured, _int_text(diam[:, i]), "")
        tl[f"TL{i + 1}_STAT"] = np.where(here, TARGET_STATUS_TEXT[status[:, i]], "")
        tl[f"TL{i + 1}_REASND"] = tl_reason[:, i]

    ntl: dict[str, np.ndarray] = {"SUBJECT": subject, "VISIT": visit, "TADAT": tadat}
    nt_status = np.where(baseline[:, None], rt.NT_PRESENT, course.nontarget[subj, kk])
    nt_here = course.nontarget_loc[subj] != ""                                       # (r, J)
    ntl_reason = _reasons(reason_rng, nt_here & (nt_status == rt.NT_NOT_EVALUATED))
    for j in range(MAX_NONTARGETS):
        here = nt_here[:, j]
        ntl[f"NTL{j + 1}_ID"] = np.where(here, f"NT{j + 1:02d}", "")
        ntl[f"NTL{j + 1}_LOC"] = np.where(here & baseline, course.nontarget_loc[subj, j], "")
        ntl[f"NTL{j + 1}_STAT"] = np.where(here, NONTARGET_STATUS_TEXT[nt_status[:, j]], "")
        ntl[f"NTL{j + 1}_REASND"] = ntl_reason[:, j]

    post = ~baseline
    ps, pk = subj[post], k[post]
    r = course.responses
    orr = pd.DataFrame({
        "SUBJECT": subject[post], "VISIT": visit[post], "RSDAT": tadat[post],
        "TRGRESP": r.target[ps, pk], "NTRGRESP": r.nontarget[ps, pk],
        "NEWLES": np.where(course.new_unequivocal[ps, pk] > 0, "Y", "N"),
        "OVRLRESP": r.overall[ps, pk]})
    return {"tl.csv": pd.DataFrame(tl), "ntl.csv": pd.DataFrame(ntl),
            "nl.csv": _new_lesion_form(course, subj[post], k[post], tadat[post], visit[post]),
            "orr.csv": orr}


def _new_lesion_form(course: TumourCourse, subj: np.ndarray, k: np.ndarray, tadat: np.ndarray,
                     visit: np.ndarray) -> pd.DataFrame:
    """One row per new lesion: unequivocal ones at progression, equivocal ones now and then."""
    count = np.where(course.new_equivocal[subj, k], 1, course.new_unequivocal[subj, k])
    row = np.repeat(np.arange(len(subj)), count)
    within = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
    s, kk = subj[row], k[row]
    frame = pd.DataFrame({"SUBJECT": course.inputs.subject[s], "VISIT": visit[row],
                          "TADAT": tadat[row], "NLID": "", "NLLOC": course.new_loc[s, kk, within],
                          "NLSTAT": np.where(course.new_equivocal[s, kk], "EQUIVOCAL",
                                             "UNEQUIVOCAL")})
    number = frame.groupby("SUBJECT", sort=False).cumcount().to_numpy() + 1
    frame["NLID"] = np.char.add("NEW", mess.zero_pad(number, 2))
    return frame
