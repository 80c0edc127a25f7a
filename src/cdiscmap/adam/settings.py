"""Study settings of the SDTM → ADaM stage: ``mappings/<study>/adam/<dataset>.yaml``.

Every field says its default and where the default comes from. "admiral" / "admiralonco" are
the pharmaverse R packages (ad_adsl.R, ad_adrs.R, ad_adtte.R templates and vignettes), the
field's de-facto reference; where we differ the description says why. "FDA 2018" is the FDA
guidance *Clinical Trial Endpoints for the Approval of Cancer Drugs and Biologics* (2018),
appendix tables on PFS censoring.

Filters (``where``) are a small vocabulary: ``{VARIABLE: value}`` or ``{VARIABLE: [v1, v2]}``,
all conditions must hold, values are compared after trimming and upper-casing both sides. A
condition on a variable the dataset does not have is skipped with a notice finding (so the
defaults run on any SDTMIG-conformant SDTM, where such variables are permissible).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cdiscmap.errors import SpecError, display_path
from cdiscmap.spec.yamlload import load_yaml, validate_located

_NAME = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
# Day counts (windows, gaps, landmarks) stay within 100 years: dates are datetime64[ns], which
# spans ±292 years, so a larger count would overflow instead of meaning anything.
MAX_DAYS = 36525
Where = dict[str, str | list[str]]


def _check_name(value: str, what: str) -> str:
    value = value.strip().upper()
    if not _NAME.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a SAS V5 name (letter then letters/digits, "
                         "at most 8)")
    return value


def _check_where(where: Where) -> Where:
    out: Where = {}
    for key, value in where.items():
        name = _check_name(key, "variable")
        out[name] = [v.strip().upper() for v in value] if isinstance(value, list) \
            else value.strip().upper()
    return out


def where_text(where: Where, negate: bool = False) -> str:
    """A filter as people write it: ``DSCAT = X, DSSCAT in (A, B)`` (for method texts)."""
    parts = []
    for name, value in where.items():
        if isinstance(value, list) and len(value) > 1:
            parts.append(f"{name} {'not in' if negate else 'in'} ({', '.join(value)})")
        else:
            one = value[0] if isinstance(value, list) else value
            parts.append(f"{name} {'!=' if negate else '='} {one}")
    return ", ".join(parts)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DateSource(_Model):
    """Dates of one SDTM dataset: ``dataset`` records matching ``where`` (and not ``where_not``)."""

    dataset: str = Field(description="SDTM dataset, e.g. DS, AE, CM.")
    date: str = Field(description="Its --DTC variable, e.g. DSSTDTC.")
    where: Where = Field(default_factory=dict, description="Records to use (all must hold).")
    where_not: Where = Field(default_factory=dict,
                             description="Records to leave out (any condition excludes).")
    value: str | None = Field(None, description="Variable holding the value taken from the "
                                                "record, where one is needed (DTHCAUS).")
    imputation: Literal["none", "D", "M"] = Field(
        "none", description="Highest imputed component of a partial date, to the first day "
                            "(LSTALVDT sources; admiral ad_adsl.R imputes AE and LB dates up "
                            "to M). Default none: complete dates only.")

    _v_ds = field_validator("dataset", "date")(lambda v: _check_name(v, "name"))
    _v_val = field_validator("value")(lambda v: None if v is None else _check_name(v, "value"))
    _v_w = field_validator("where", "where_not")(lambda v: _check_where(v))


class SubjectDate(_Model):
    """An ADSL date variable taken from one SDTM source (first or last matching date)."""

    variable: str = Field(description="ADSL variable to create, e.g. RANDDT or ENRLDT.")
    source: DateSource = Field(description="SDTM records whose date it is (section below).")
    pick: Literal["first", "last"] = Field(
        "first", description="Earliest (default) or latest matching date of the subject.")

    _v = field_validator("variable")(lambda v: _check_name(v, "variable"))


class ExDateRule(_Model):
    """A sponsor ADSL date found in EX, e.g. the re-introduction of treatment after a stop.

    ``rule: first_after_gap`` — the first dosing record whose start is at least ``gap_days``
    after the end of all earlier dosing (or after ``anchor`` when there is none before it);
    ``rule: first_matching`` — the first dosing record matching ``where`` (e.g. EPOCH or
    EXCAT = RECHALLENGE). Only records that count as doses (see ``exposure``) are used, and only
    those starting after ``anchor`` when it is given.
    """

    variable: str = Field(description="ADSL variable to create, e.g. RCHSDT.")
    rule: Literal["first_after_gap", "first_matching"] = Field(
        description="first_after_gap: first dose starting at least gap_days after the end of "
                    "all earlier dosing (or after anchor); first_matching: first dose matching "
                    "where.")
    gap_days: int | None = Field(None, ge=1, le=MAX_DAYS, description="Gap for first_after_gap.")
    anchor: str | None = Field(
        None, description="ADSL date the gap is counted from when no earlier dose exists, and "
                          "before which doses are ignored (e.g. RANDDT).")
    where: Where = Field(default_factory=dict, description="EX filter for first_matching.")
    armcd: list[str] | None = Field(
        None, description="Only subjects whose DM.ARMCD is one of these (e.g. the stop arm).")

    _v = field_validator("variable")(lambda v: _check_name(v, "variable"))
    _v_a = field_validator("anchor")(lambda v: None if v is None else _check_name(v, "anchor"))
    _v_w = field_validator("where")(lambda v: _check_where(v))

    @model_validator(mode="after")
    def _rule_fields(self) -> ExDateRule:
        if self.rule == "first_after_gap" and self.gap_days is None:
            raise ValueError("rule first_after_gap needs gap_days")
        if self.rule == "first_matching" and not self.where:
            raise ValueError("rule first_matching needs where")
        return self


class AgeGroup(_Model):
    """One AGEGR1 category: ``low <= AGE <= high`` (either bound may be left out)."""

    label: str = Field(description="AGEGR1 text, e.g. 18-64; AGEGR1N is its position.")
    low: float | None = Field(None, description="Lowest AGE in the group (left out: no limit).")
    high: float | None = Field(None, description="Highest AGE in the group (left out: no "
                                                 "limit).")

    @model_validator(mode="after")
    def _bounds(self) -> AgeGroup:
        if not self.label.strip():
            raise ValueError("an age group needs a label")
        if any(b is not None and not math.isfinite(b) for b in (self.low, self.high)):
            raise ValueError(f"age group {self.label!r}: bounds are numbers (leave one out "
                             f"for an open end)")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"age group {self.label!r}: low {self.low:g} is above high "
                             f"{self.high:g}")
        return self


def _check_age_groups(groups: list[AgeGroup]) -> list[AgeGroup]:
    """AGEGR1N is the position in the list and the first matching group wins, so groups must
    be in ascending order without overlap (an overlapped age would silently go to the earlier
    group) and without a gap holding a whole year of age (DM AGE is usually whole years: such
    subjects would get a blank AGEGR1). Only the first group may be open below, the last
    above."""
    labels = [g.label for g in groups]
    if len(set(labels)) != len(labels):
        raise ValueError(f"age group labels repeat: {labels}")
    for prev, nxt in zip(groups, groups[1:], strict=False):
        if prev.high is None or nxt.low is None:
            raise ValueError(f"age groups {prev.label!r} and {nxt.label!r} overlap (only the "
                             f"first group may leave out low, only the last high)")
        if nxt.low <= prev.high:
            raise ValueError(f"age groups {prev.label!r} (up to {prev.high:g}) and "
                             f"{nxt.label!r} (from {nxt.low:g}) overlap or are out of order")
        hole = math.floor(prev.high) + 1
        if hole < nxt.low:
            raise ValueError(f"age {hole} falls between age groups {prev.label!r} (up to "
                             f"{prev.high:g}) and {nxt.label!r} (from {nxt.low:g})")
    return groups


def _default_age_groups() -> list[AgeGroup]:
    """admiral ad_adsl.R agegr1_lookup: AGE < 18, 18 <= AGE <= 64, AGE > 64."""
    return [AgeGroup(label="<18", high=17.999999), AgeGroup(label="18-64", low=18, high=64),
            AgeGroup(label=">64", low=64.000001)]


class ValueGroup(_Model):
    """One category of a grouping variable (RACEGR1, REGION1, DTHCGR1): the source values that
    fall in it; its position in the list is the numeric companion (…N)."""

    label: str = Field(description="Group text, e.g. White or North America.")
    values: list[str] | None = Field(
        None, description="Source values (compared trimmed, upper-cased) in the group; null = "
                          "every other non-missing value (put it last).")
    contains: list[str] = Field(
        default_factory=list, description="Or: source values containing one of these texts "
                                          "(e.g. PROGRESSIVE DISEASE in DTHCAUS).")

    @field_validator("values")
    @classmethod
    def _upper_values(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [v.strip().upper() for v in value]

    @field_validator("contains")
    @classmethod
    def _upper_contains(cls, value: list[str]) -> list[str]:
        return [v.strip().upper() for v in value]


class Grouping(_Model):
    """A grouping variable derived from one ADSL/DM variable (admiral ad_adsl.R format_*)."""

    variable: str = Field(description="Variable created, e.g. RACEGR1 (its …N companion too).")
    source: str = Field(description="Variable grouped, e.g. RACE, COUNTRY, DTHCAUS.")
    groups: list[ValueGroup] = Field(description="Groups in order (first match wins).")
    missing: str | None = Field(
        "Missing", description="Text when the source is missing (admiral: Missing; null: "
                               "blank). Its …N is empty.")
    only_dead: bool = Field(False, description="Blank for subjects without DTHFL = Y "
                                               "(cause-of-death groups).")

    _v = field_validator("variable", "source")(lambda v: _check_name(v, "variable"))


def _default_groupings() -> list[Grouping]:
    """admiral ad_adsl.R format_racegr1, format_region1 (and the DTHCGR1 grouping of its
    cause-of-death example)."""
    return [
        Grouping(variable="RACEGR1", source="RACE", groups=[
            ValueGroup(label="White", values=["WHITE"]), ValueGroup(label="Non-white")]),
        Grouping(variable="REGION1", source="COUNTRY", groups=[
            ValueGroup(label="North America", values=["CAN", "USA"]),
            ValueGroup(label="Rest of the World")]),
        Grouping(variable="DTHCGR1", source="DTHCAUS", only_dead=True, missing=None, groups=[
            ValueGroup(label="PROGRESSIVE DISEASE", values=[],
                       contains=["PROGRESSIVE DISEASE", "DISEASE RELAPSE"]),
            ValueGroup(label="OTHER")]),
    ]


class Exposure(_Model):
    """Which EX records count as doses and how their partial dates are read (TRTSDT/TRTEDT)."""

    positive_dose_only: bool = Field(
        True, description="Only EXDOSE > 0 counts as a dose (admiral ad_adsl.R: EXDOSE > 0, or 0 "
                          "for placebo); a 0-dose record is an interruption. Default true.")
    placebo_pattern: str = Field(
        "PLACEBO", description="EXTRT containing this counts as a dose even with EXDOSE 0 "
                               "(admiral).")
    start_imputation: Literal["none", "D", "M"] = Field(
        "none", description="Highest imputed component of EXSTDTC for TRTSDT; default none "
                            "(admiral: only complete dates count).")
    end_imputation: Literal["none", "D", "M"] = Field(
        "none", description="Same for EXENDTC (imputed to the last day when allowed).")
    open_end_uses_start: bool = Field(
        True, description="A dose record without EXENDTC (ongoing at cut-off) contributes its "
                          "start date to TRTEDT. admiral ignores it, which can make TRTEDT "
                          "earlier than a later dose start; we never overstate exposure either "
                          "way. Default true.")
    flag_imputed_seconds: bool = Field(
        False, description="TRTSTMF/TRTETMF = S when only the seconds of TRTSDTM/TRTEDTM were "
                           "imputed. TRTSDTM/TRTEDTM come from the same dose records as "
                           "TRTSDT/TRTEDT, a missing time imputed to 00:00:00 (start) or "
                           "23:59:59 (end) component by component, the flag naming the highest "
                           "imputed component, H or M (admiral derive_vars_dtm, "
                           "ignore_seconds_flag TRUE: no S). true: S as well (ADaMIG 1.3 §3.1.3 "
                           "TIMEFL).")


class Baseline(_Model):
    """Which TU records are the baseline tumour assessment (EFFFL, MDIS)."""

    dataset: str = Field("TU", description="Default TU (lesion identification).")
    date: str = Field("TUDTC", description="Default TUDTC.")
    visits: list[str] = Field(
        default_factory=lambda: ["BASELINE", "SCREENING"],
        description="Records at these VISITs are baseline (admiralonco MDIS: VISIT BASELINE).")
    by_date: bool = Field(
        True, description="Also: records dated on or before first dose (TRTSDT), or before the "
                          "response reference date when never dosed. Default true.")
    evaluator: str | None = Field(
        "INVESTIGATOR", description="TUEVAL value to keep when TUEVAL exists (null = all).")


class EffflRule(_Model):
    """EFFFL: response-evaluable subjects."""

    require_dose: bool = Field(True, description="At least one dose (SAFFL = Y). Default true.")
    require_baseline_assessment: bool = Field(
        True, description="A baseline tumour assessment (see baseline). Default true.")
    require_post_baseline_assessment: bool = Field(
        False, description="At least one analysed post-baseline overall response; default false "
                           "(RECIST 1.1 counts early death/PD without a scan as non-responders).")
    evaluable_responses: list[str] | None = Field(
        None, description="Also require the subject's BOR (ADRS PARAMCD BOR) to be one of these "
                          "responses, e.g. [CR, PR, SD, PD] for a literature review that counts "
                          "only cases with a published evaluable response; default none (no such "
                          "condition).")


class NumberedVariable(_Model):
    """A numeric companion (…N) of a character ADSL variable, e.g. COHORTN of COHORT."""

    variable: str = Field(description="Character ADSL variable, e.g. COHORT; {variable}N is "
                                      "created and must be declared in specs/adamig-1.3/"
                                      "ADSL.json (COHORTN is).")
    order: list[str] = Field(
        default_factory=list,
        description="Values numbered 1, 2, … in this order; values not listed follow them, "
                    "numbers written as text (cohort 2, 10) by their value, other text "
                    "alphabetically. Default [] (that order for all).")
    by: str | None = Field(
        None, description="Order the values not listed like this other ADSL variable's values "
                          "(same rule), e.g. TRT01P by COHORT: an arm's number follows its "
                          "subjects' cohort. Default none.")

    _v = field_validator("variable")(lambda v: _check_name(v, "variable"))
    _v_by = field_validator("by")(lambda v: None if v is None else _check_name(v, "variable"))


class AdslSettings(_Model):
    """ADSL derivations (ADaMIG 1.3 §3.2)."""

    age_groups: list[AgeGroup] = Field(
        default_factory=_default_age_groups,
        description="AGEGR1/AGEGR1N categories, in order; default <18, 18-64, >64 (admiral "
                    "ad_adsl.R format_agegr1; ICH E7 age bands).")
    age_missing: str | None = Field(
        "Missing", description="AGEGR1 of a subject without AGE (admiral ad_adsl.R "
                               "format_agegr1: Missing); its AGEGR1N is empty. null: blank.")
    numbered: list[NumberedVariable] = Field(
        default_factory=list,
        description="Numeric companions of character ADSL variables (ADaMIG 1.3 "
                    "AGEGRyN, TRTxxPN: one number per text, one-to-one), e.g. "
                    "[{variable: COHORT}] for COHORTN. AGEGR1N and the groupings' …N are "
                    "always derived. Default none (admiral has no cohort variable).")
    trt01p_from: str = Field("ARM", description="DM variable for TRT01P (admiral: ARM).")
    trt01a_from: str = Field("ACTARM", description="DM variable for TRT01A (admiral: ACTARM).")
    cohort_variables: list[str] = Field(
        default_factory=list, description="SUPPDM QNAMs copied to ADSL columns of that name.")
    dates: list[SubjectDate] = Field(
        default_factory=lambda: [SubjectDate(variable="RANDDT", source=DateSource(
            dataset="DS", date="DSSTDTC", where={"DSDECOD": "RANDOMIZED"}))],
        description="Disposition dates; default RANDDT = DS DSDECOD RANDOMIZED (admiral). "
                    "admiral's SCRFDT and FRVDT are derived besides (see eos_screen_failure, "
                    "frvdt).")
    frvdt: DateSource | None = Field(
        default_factory=lambda: DateSource(dataset="DS", date="DSSTDTC", where={
            "DSCAT": "OTHER EVENT", "DSDECOD": "FINAL RETRIEVAL VISIT"}),
        description="FRVDT, final retrieval visit (admiral ad_adsl.R: DSCAT OTHER EVENT, "
                    "DSDECOD FINAL RETRIEVAL VISIT); null: no FRVDT.")
    date_imputation: Literal["none", "D", "M"] = Field(
        "none", description="Imputation of the disposition dates above and EOSDT (first day); "
                            "default none (admiral derive_vars_dt without imputation).")
    ex_dates: list[ExDateRule] = Field(default_factory=list,
                                       description="Sponsor dates from EX (re-introduction).")
    ittfl_from: str | None = Field(
        "RANDDT", description="ITTFL = Y when this ADSL date is present (randomized / "
                              "registered); null → no ITTFL. Default RANDDT.")
    exposure: Exposure = Field(default_factory=Exposure,
                               description="Which EX records are doses (TRTSDT, TRTEDT, SAFFL).")
    death_imputation: Literal["none", "D", "M"] = Field(
        "M", description="DTHDT from DM.DTHDTC imputing up to the month to the first day, flag "
                         "DTHDTF (admiral ad_adsl.R: highest_imputation M, first).")
    death_cause_sources: list[DateSource] = Field(
        default_factory=lambda: [
            DateSource(dataset="DD", date="DDDTC", where={"DDTESTCD": "PRCDTH"},
                       value="DDSTRESC"),
            DateSource(dataset="DS", date="DSSTDTC", where={"DSDECOD": "DEATH"},
                       value="DSTERM")],
        description="Where DTHCAUS comes from, in priority order, each with its value "
                    "variable. Default DD primary cause of death (DDSTRESC), then DS DEATH "
                    "(DSTERM) (admiral dthcaus_source). A missing dataset is skipped.")
    last_alive_sources: list[DateSource] = Field(
        default_factory=lambda: [
            DateSource(dataset="AE", date="AESTDTC", imputation="M"),
            DateSource(dataset="AE", date="AEENDTC", imputation="M"),
            DateSource(dataset="LB", date="LBDTC", imputation="M"),
            DateSource(dataset="ADSL", date="TRTEDT"),
            DateSource(dataset="EX", date="EXSTDTC"), DateSource(dataset="EX", date="EXENDTC"),
            DateSource(dataset="RS", date="RSDTC"), DateSource(dataset="TR", date="TRDTC"),
            DateSource(dataset="TU", date="TUDTC"),
            DateSource(dataset="DS", date="DSSTDTC", where_not={"DSDECOD": "DEATH"}),
            DateSource(dataset="DM", date="RFPENDTC")],
        description="LSTALVDT = latest date of these sources. The first four are admiral "
                    "ad_adsl.R's: AE start and end and LB dates with a missing day/month "
                    "imputed to the first (imputation M), and ADSL TRTEDT (dataset ADSL names "
                    "an ADSL date). cdiscmap adds the dates that prove an oncology subject "
                    "alive: EX, tumour assessments (RS, TR, TU), DS records other than death, "
                    "DM RFPENDTC (complete dates only). Listing only the first four restores "
                    "the template. A missing dataset is skipped.")
    eos: DateSource = Field(
        default_factory=lambda: DateSource(dataset="DS", date="DSSTDTC", where={
            "DSCAT": "DISPOSITION EVENT", "DSSCAT": ["STUDY PARTICIPATION", "END OF STUDY"]}),
        description="End-of-study disposition records (last one per subject). Default DSCAT "
                    "DISPOSITION EVENT with DSSCAT STUDY PARTICIPATION (SDTM CT C170443) or "
                    "END OF STUDY (docs/conventions.md).")
    eos_completed: list[str] = Field(
        default_factory=lambda: ["COMPLETED"],
        description="DSDECOD values meaning COMPLETED; other → DISCONTINUED, none → ONGOING "
                    "(SBJTSTAT C124296).")
    eos_screen_failure: list[str] = Field(
        default_factory=lambda: ["SCREEN FAILURE"],
        description="DSDECOD values of screen failures: EOSSTT, EOSDT and DCSREAS stay blank "
                    "for them (admiral ad_adsl.R format_eosstt; EOSDT excludes SCREEN "
                    "FAILURE) and SCRFDT is their date. [] treats them as any other "
                    "discontinuation.")
    groupings: list[Grouping] = Field(
        default_factory=_default_groupings,
        description="Grouping variables and their …N companions; default admiral ad_adsl.R "
                    "RACEGR1 (White / Non-white / Missing) and REGION1 (North America = CAN, "
                    "USA / Rest of the World / Missing), and DTHCGR1 (PROGRESSIVE DISEASE when "
                    "DTHCAUS names it or DISEASE RELAPSE, else OTHER; dead subjects only).")
    death_window_days: int = Field(
        30, ge=0, le=MAX_DAYS,
        description="Window of the death flags (admiral ad_adsl.R): DTH30FL = Y when LDDTHELD "
                    "(DTHDT - TRTEDT) <= this, DTHA30FL = Y when > this, DTHB30FL = Y when "
                    "DTHDT <= TRTSDT + this; LDDTHGR1 '<= 30' / '> 30'.")
    baseline: Baseline = Field(default_factory=Baseline,
                               description="Which TU records are the baseline assessment.")
    efffl: EffflRule = Field(default_factory=EffflRule,
                             description="What makes a subject response-evaluable (EFFFL).")

    _v_from = field_validator("trt01p_from", "trt01a_from")(lambda v: _check_name(v, "name"))
    _v_age = field_validator("age_groups")(lambda v: _check_age_groups(v))
    _v_coh = field_validator("cohort_variables")(
        lambda v: [_check_name(x, "QNAM") for x in v])
    _v_itt = field_validator("ittfl_from")(lambda v: None if v is None else _check_name(v, "name"))


class Confirmation(_Model):
    """RECIST 1.1 §4.6.1 confirmation of CR/PR."""

    min_days: int = Field(28, ge=1, le=MAX_DAYS,
                           description="Confirming assessment at least this many days "
                                       "later (RECIST 1.1 §4.6.1: ≥ 4 weeks; admiralonco "
                                       "ref_confirm 28).")
    max_ne: int = Field(1, ge=0, description="NE assessments allowed in between (admiralonco "
                                             "max_nr_ne 1).")
    accept_sd: bool = Field(False, description="One SD between PR and its confirmation allowed "
                                               "(admiralonco accept_sd, default false).")


class Landmark(_Model):
    """A landmark response parameter (e.g. DCR8W, DCR16W, RSP8W, PFR6M), Y/N per subject.

    Landmark day L = reference date + ``weeks``·7 (or ``days``), the reference date being
    ``reference_date`` (default: the analysis' own). Only analysed assessments with
    ADT ≤ L + ``window_after`` are looked at. Tie the reference date and window to the
    protocol's definition: "after 2 cycles" with scans every 8 weeks ± 7 days from the first
    dose is ``reference_date: TRTSDT, weeks: 8, window_before: 7, window_after: 7``; counting
    it from registration misses every scan of a subject dosed more than a week after it.

    - ``rule: status`` — Y when the LAST of those assessments is dated ≥ L − ``window_before``
      and its response is in ``responses`` and the subject is not dead on or before L; so PD
      before the landmark, no assessment near it, or NE at it give N.
    - ``rule: best`` — Y when the best overall response (unconfirmed, or confirmed when
      ``confirmed``) over those assessments is in ``responses``.
    """

    paramcd: str = Field(description="PARAMCD of the landmark parameter, e.g. DCR8W.")
    param: str = Field(description="Its PARAM, e.g. Disease Control (CR/PR/SD) at Week 8.")
    weeks: float | None = Field(None, gt=0, le=MAX_DAYS / 7,
                                 description="Landmark L in weeks from the reference "
                                             "date (give weeks or days).")
    days: int | None = Field(None, gt=0, le=MAX_DAYS,
                              description="Landmark L in days from the reference "
                                          "date (give weeks or days).")
    reference_date: str | None = Field(
        None, description="ADSL date L counts from (e.g. TRTSDT when the protocol counts "
                          "cycles from the first dose); default the analysis' "
                          "reference_date (the admiralonco ad_adrs.R template defines no "
                          "landmark parameter).")
    window_before: int = Field(7, ge=0, le=MAX_DAYS,
                               description="Days before L still counted; default 7.")
    window_after: int = Field(7, ge=0, le=MAX_DAYS,
                              description="Days after L still counted; default 7.")
    rule: Literal["status", "best"] = Field(
        "status", description="status: Y when the last assessment dated up to L + "
                              "window_after is dated from L - window_before, its response is "
                              "in responses and the subject is alive at L; best: Y when the "
                              "best overall response up to L + window_after is in responses.")
    responses: list[str] = Field(
        default_factory=lambda: ["CR", "PR", "SD", "NON-CR/NON-PD"],
        description="Responses that give Y (names from aval_map); default disease control.")
    confirmed: bool = Field(False, description="With rule best: the confirmed best overall "
                                               "response (confirmation settings).")

    _v = field_validator("paramcd")(lambda v: _check_name(v, "PARAMCD"))
    _v_r = field_validator("responses")(lambda v: _check_responses(v))
    _v_ref = field_validator("reference_date")(
        lambda v: None if v is None else _check_name(v, "reference_date"))

    @model_validator(mode="after")
    def _one_length(self) -> Landmark:
        if (self.weeks is None) == (self.days is None):
            raise ValueError("give exactly one of weeks or days")
        return self

    @property
    def landmark_days(self) -> int:
        return int(round(self.weeks * 7)) if self.weeks is not None else int(self.days or 0)


def _check_responses(values: list[str]) -> list[str]:
    values = [v.strip().upper() for v in values]
    if not values or len(set(values)) != len(values):
        raise ValueError(f"responses: one or more distinct values, got {values}")
    return values


ADRS_PARAMETERS = ("PD", "RSP", "CB", "BOR", "BCP", "CRSP", "CCB", "CBOR", "CBCP", "LSTA")


class ResponseAnalysis(_Model):
    """One set of response parameters with its own reference date (e.g. main, rechallenge)."""

    id: str = Field("main", description="Name used by ADTTE parameters (analysis: ...).")
    reference_date: str = Field(
        "RANDDT", description="ADSL date: assessments before it are not analysed, SD duration "
                              "counts from it. Default RANDDT (admiralonco ad_adrs.R).")
    paramcd_suffix: str = Field("", description="Appended to each PARAMCD (e.g. R for "
                                                "rechallenge: BORR).")
    param_suffix: str = Field("", description="Appended to each PARAM text.")
    subjects: Literal["all", "with_reference_date"] = Field(
        "all", description="all ADSL subjects (admiralonco; MISSING/N for those without data), "
                           "or only those with a reference date (e.g. rechallenged).")
    parameters: list[Literal["PD", "RSP", "CB", "BOR", "BCP", "CRSP", "CCB", "CBOR", "CBCP",
                             "LSTA"]] = Field(
        default_factory=lambda: list(ADRS_PARAMETERS),
        description="Response parameters to derive (admiralonco ad_adrs.R): PD, RSP response, "
                    "CB clinical benefit, BOR, BCP (Y when BOR is CR or PR), their confirmed "
                    "forms CRSP, CCB, CBOR, CBCP (Y when CBOR is CR or PR), and LSTA last "
                    "assessment.")
    lsta_after_progression: bool = Field(
        False, description="LSTA may be an assessment after the first PD (admiralonco: LSTA "
                           "from all ANL01FL records). Default false: LSTA is the last "
                           "assessment up to the first PD, like every other parameter of the "
                           "analysis (ANL02FL).")
    landmarks: list[Landmark] = Field(default_factory=list,
                                      description="Y/N landmark parameters (section below).")

    _v = field_validator("reference_date")(lambda v: _check_name(v, "reference_date"))

    @field_validator("paramcd_suffix")
    @classmethod
    def _suffix(cls, value: str) -> str:
        value = value.strip().upper()
        if value and not re.fullmatch(r"[A-Z0-9]{1,3}", value):
            raise ValueError("paramcd_suffix: 1-3 letters/digits")
        return value


class EvaluatorParameters(_Model):
    """Response parameters of one more evaluator (independent review, computed), same ADRS.

    E.g. the independent review next to the investigator, or the RECIST engine's computed
    responses (RSDRVFL = Y), so both BORs come out of one run."""

    evaluator: str = Field(description="RSEVAL of the records used, or COMPUTED (RSDRVFL = Y).")
    paramcd_suffix: str = Field(description="Appended to every PARAMCD of this evaluator, OVR "
                                            "included (e.g. I: OVRI, BORI); 1-3 letters/digits.")

    @field_validator("evaluator")
    @classmethod
    def _upper_evaluator(cls, value: str) -> str:
        return value.strip().upper()

    @field_validator("paramcd_suffix")
    @classmethod
    def _suffix(cls, value: str) -> str:
        value = value.strip().upper()
        if not re.fullmatch(r"[A-Z0-9]{1,3}", value):
            raise ValueError("paramcd_suffix: 1-3 letters/digits")
        return value


def _default_aval_map() -> dict[str, float]:
    return {"CR": 1, "PR": 2, "SD": 3, "NON-CR/NON-PD": 4, "PD": 5, "NE": 6, "MISSING": 7}


class CollectedResponse(_Model):
    """A response parameter collected as such (a case report's best response), not derived
    from timepoint responses: one record per subject from RS."""

    paramcd: str = Field("BOR", description="PARAMCD of the parameter; default BOR.")
    param: str = Field("Best Overall Response as Collected",
                       description="PARAM of the parameter.")
    testcd: str = Field("BESTRESP", description="RSTESTCD of the collected records (SDTM CT "
                                                "ONCRTSCD BESTRESP, Best Overall Response).")

    _v = field_validator("paramcd")(lambda v: _check_name(v, "PARAMCD"))

    @field_validator("testcd")
    @classmethod
    def _upper_testcd(cls, value: str) -> str:
        return value.strip().upper()


class AdrsSettings(_Model):
    """ADRS derivations (BDS; admiralonco ad_adrs.R conventions)."""

    testcd: str = Field("OVRLRESP", description="RSTESTCD of the overall response.")
    category: str | None = Field("RECIST 1.1", description="RSCAT kept when RSCAT exists; also "
                                                           "PARCAT3.")
    evaluator: str = Field(
        "INVESTIGATOR", description="RSEVAL of the records used (admiralonco: INVESTIGATOR). "
                                    "COMPUTED uses the RSDRVFL = Y records of the RECIST engine; "
                                    "otherwise RSDRVFL = Y records are left out.")
    date_highest_imputation: Literal["none", "D", "M"] = Field(
        "D", description="ADT from RSDTC: a missing day may be imputed (admiralonco ad_adrs.R "
                         "highest_imputation D).")
    date_imputation: Literal["first", "mid", "last"] = Field(
        "last", description="... to the last day of the month (admiralonco ad_adrs.R "
                            "date_imputation last: a response is not dated before it could "
                            "have been seen). ADTF = D flags it.")
    aval_map: dict[str, float] = Field(
        default_factory=_default_aval_map,
        description="AVALC → AVAL (admiralonco aval_resp: CR 1 … NE 6, MISSING 7). Values "
                    "outside the map are findings and not analysed.")
    sd_min_days: int = Field(42, ge=0, le=MAX_DAYS,
                             description="SD minimum duration from the reference date "
                                         "(admiralonco ref_start_window 42; RECIST 1.1 "
                                         "§4.4.3 leaves it to the protocol).")
    confirmation: Confirmation = Field(
        default_factory=Confirmation,
        description="Confirmation of CR/PR for CRSP, CCB, CBOR (section below).")
    new_therapy: list[DateSource] = Field(
        default_factory=list,
        description="Start of new anti-cancer therapy (NACTDT = earliest date after the "
                    "reference date). Assessments after it are not analysed; one ON that date "
                    "still counts (FDA 2018: last adequate assessment on or before new "
                    "therapy; admiralonco's example keeps ADT < NACTDT). Default none.")
    analyses: list[ResponseAnalysis] = Field(
        default_factory=lambda: [ResponseAnalysis()],
        description="Sets of response parameters, each from its own reference date; default "
                    "one, main, from RANDDT.")
    death_parameter: bool = Field(True, description="Add PARAMCD DEATH (admiralonco).")
    mdis_parameter: bool = Field(True, description="Add PARAMCD MDIS, measurable disease at "
                                                   "baseline from TU TARGET (admiralonco).")
    evaluators: list[EvaluatorParameters] = Field(
        default_factory=list,
        description="More evaluators whose OVR records and response parameters are derived in "
                    "the same ADRS, each with its PARAMCD suffix (e.g. [{evaluator: INDEPENDENT "
                    "ASSESSOR, paramcd_suffix: I}, {evaluator: COMPUTED, paramcd_suffix: C}]). "
                    "Default none: one evaluator, `evaluator`.")
    collected: list[CollectedResponse] = Field(
        default_factory=list,
        description="Response parameters taken as collected from RS (RSEVAL `evaluator`, "
                    "RSCAT `category`), one record per subject (the last by RSSEQ; none: "
                    "MISSING): a literature case or case report gives its best response, not "
                    "timepoints (then set the analyses' parameters to [] so BOR is not also "
                    "derived). Default none.")

    @field_validator("evaluator", "testcd")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    @model_validator(mode="after")
    def _unique(self) -> AdrsSettings:
        ids = [a.id for a in self.analyses]
        if len(set(ids)) != len(ids):
            raise ValueError(f"analysis ids must be unique: {ids}")
        who = [self.evaluator] + [e.evaluator for e in self.evaluators]
        if len(set(who)) != len(who):
            raise ValueError(f"evaluators must differ from each other and from evaluator: {who}")
        suffixes = [e.paramcd_suffix for e in self.evaluators]
        if len(set(suffixes)) != len(suffixes):
            raise ValueError(f"evaluators need distinct paramcd_suffix values: {suffixes}")
        if not self.analyses:
            raise ValueError("at least one analysis is needed")
        for key in ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"):
            if key not in self.aval_map:
                raise ValueError(f"aval_map needs {key}")
        codes: list[str] = []
        for a in self.analyses:
            codes += [p + a.paramcd_suffix for p in a.parameters]
            codes += [lm.paramcd for lm in a.landmarks]
        codes += [c.paramcd for c in self.collected]
        for a in self.analyses:   # a typo would silently make every subject N
            for lm in a.landmarks:
                unknown = [r for r in lm.responses if r not in self.aval_map]
                if unknown:
                    raise ValueError(f"landmark {lm.paramcd}: responses {unknown} are not in "
                                     f"aval_map ({', '.join(self.aval_map)})")
        too_long = [c for c in codes if len(c) > 8]
        if too_long:
            raise ValueError(f"PARAMCD longer than 8 characters: {too_long}")
        if len(set(codes)) != len(codes):
            raise ValueError(f"PARAMCD values repeat: {sorted(codes)}")
        return self


Event = Literal["PD", "DEATH"]


class TteSource(_Model):
    """One event or censoring source of an ADTTE parameter, in the spirit of admiral
    ``event_source`` / ``censor_source``: the records of ``dataset`` matching ``where``, their
    ``date``, and what the ADTTE record says when this source decides it.

    The event is the EARLIEST date of the event sources on or after the start date; without
    one, the censoring date is the LATEST date of the censor sources on or after it (ties: the
    source listed first), as admiral ``derive_param_tte`` chooses.
    """

    dataset: Literal["ADRS", "ADSL"] = Field(
        description="ADRS: the analysed overall responses of the parameter's analysis dated on "
                    "or after the start date (variables AVALC, ADT); ADSL: one date per "
                    "subject.")
    where: Where = Field(default_factory=dict,
                         description="Records to use, e.g. {AVALC: PD} on ADRS or {DTHFL: Y} "
                                     "on ADSL (the filter vocabulary above).")
    date: str = Field("ADT", description="ADRS: ADT; ADSL: a date variable (DTHDT, LSTALVDT, "
                                         "…) or START, the parameter's start date.")
    cnsr: int = Field(0, ge=0, description="CNSR of records this source decides: 0 for "
                                           "events, a censoring reason (>= 1) for censors.")
    description: str = Field(description="EVNTDESC, e.g. DISEASE PROGRESSION.")
    date_description: str | None = Field(None, description="CNSDTDSC (censors), e.g. LAST "
                                                           "ADEQUATE TUMOR ASSESSMENT DATE.")
    srcdom: str | None = Field(None, description="SRCDOM; default RS for ADRS, ADSL for ADSL "
                                                 "(START: the start date's own source).")
    srcvar: str | None = Field(None, description="SRCVAR; default RSDTC for ADRS, the date "
                                                 "variable for ADSL.")
    evaluator: str | None = Field(
        None, description="ADRS sources: the responses of this evaluator (adrs.yaml evaluator "
                          "or one of its evaluators, e.g. INDEPENDENT ASSESSOR), same analysis; "
                          "default the parameter's evaluator.")

    _v_d = field_validator("date")(lambda v: _check_name(v, "date"))
    _v_w = field_validator("where")(lambda v: _check_where(v))
    _v_e = field_validator("evaluator")(lambda v: None if v is None else v.strip().upper())

    @model_validator(mode="after")
    def _fits_dataset(self) -> TteSource:
        if self.dataset == "ADSL" and self.evaluator is not None:
            raise ValueError("evaluator applies to ADRS sources only")
        if self.dataset == "ADRS":
            if self.date != "ADT":
                raise ValueError(f"an ADRS source is dated by ADT, not {self.date}")
            other = [k for k in self.where if k != "AVALC"]
            if other:
                raise ValueError(f"an ADRS source filters on AVALC only, not {other}")
        elif self.date == "ADT":
            raise ValueError("an ADSL source needs an ADSL date variable (or START), not ADT")
        return self


def _pd_event() -> TteSource:
    return TteSource(dataset="ADRS", where={"AVALC": "PD"}, description="DISEASE PROGRESSION")


def _death_event() -> TteSource:
    return TteSource(dataset="ADSL", date="DTHDT", description="DEATH")


class MissedAssessments(_Model):
    """FDA 2018 table: an event after two or more missed assessments is censored at the last
    adequate assessment before it. Missed = event date − last adequate assessment (or start)
    > 2 × ``interval_days`` + ``window_days``."""

    interval_days: int = Field(gt=0, le=MAX_DAYS,
                               description="Protocol assessment interval, e.g. 56.")
    window_days: int = Field(0, ge=0, le=MAX_DAYS, description="Visit window, e.g. 7.")


class TteParameter(_Model):
    """One ADTTE parameter (OS, PFS, DOR, TTP, …)."""

    paramcd: str = Field(description="PARAMCD, e.g. PFS.")
    param: str = Field(description="PARAM, e.g. Progression-Free Survival.")
    start: str = Field(description="ADSL date variable (RANDDT, TRTSDT, RCHSDT, …) or RESPONSE "
                                   "(first response of the analysis: duration of response).")
    confirmed: bool = Field(False, description="With start RESPONSE: first confirmed response.")
    analysis: str = Field("main", description="ADRS analysis giving PD and assessments.")
    evaluator: str | None = Field(
        None, description="Whose responses the parameter reads (its ADRS sources, assessments, "
                          "DOR start): adrs.yaml evaluator or one of its evaluators, e.g. "
                          "INDEPENDENT ASSESSOR for PFS by independent review. Default the "
                          "adrs.yaml evaluator (INVESTIGATOR).")
    events: list[Event | TteSource] = Field(
        description="Event sources (section below); the earliest counts. PD and DEATH are "
                    "shorthands: ADRS AVALC = PD (DISEASE PROGRESSION, admiralonco pd_event) "
                    "and ADSL DTHDT (DEATH, admiralonco death_event).")
    censor: Literal["last_adequate_assessment", "last_assessment", "last_alive"] = Field(
        "last_adequate_assessment",
        description="Shorthand for censors when those are not given: the last adequate "
                    "assessment (ADRS AVALC in adtte.adequate_responses), the last assessment, "
                    "or ADSL LSTALVDT (last_alive, admiralonco lastalive_censor), each CNSR "
                    "cnsr.last_assessment, then the start date (CNSR cnsr.start; admiralonco "
                    "rand_censor).")
    censors: list[TteSource] | None = Field(
        None, description="Censoring sources (fields as in the events section below); the "
                          "latest on or after the start "
                          "date counts. Default: from censor.")
    censor_at_new_therapy: bool = Field(
        False, description="Events after new anti-cancer therapy are censored at the last "
                           "adequate assessment on or before it (FDA 2018).")
    missed_assessments: MissedAssessments | None = Field(None, description="Default off.")
    require_baseline_assessment: bool = Field(
        False, description="No baseline tumour assessment → censored at the start date "
                           "(FDA 2018).")

    _v = field_validator("paramcd")(lambda v: _check_name(v, "PARAMCD"))
    _v_s = field_validator("start")(lambda v: _check_name(v, "start"))
    _v_e = field_validator("evaluator")(lambda v: None if v is None else v.strip().upper())

    @model_validator(mode="after")
    def _confirmed_response(self) -> TteParameter:
        if self.confirmed and self.start != "RESPONSE":
            raise ValueError(f"{self.paramcd}: confirmed applies only to start RESPONSE "
                             f"(duration of response), not {self.start}")
        return self

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str | TteSource]) -> list[str | TteSource]:
        if not value or len(set(map(str, value))) != len(value):
            raise ValueError("events: one or more distinct sources (or PD, DEATH)")
        if any(isinstance(e, TteSource) and e.cnsr != 0 for e in value):
            raise ValueError("events: an event source has cnsr 0")
        return value

    @field_validator("censors")
    @classmethod
    def _censors(cls, value: list[TteSource] | None) -> list[TteSource] | None:
        if value is not None and (not value or any(c.cnsr < 1 for c in value)):
            raise ValueError("censors: one or more sources, each with cnsr >= 1")
        return value

    def event_sources(self) -> list[TteSource]:
        """The event sources, shorthands expanded."""
        named = {"PD": _pd_event, "DEATH": _death_event}
        return [named[e]() if isinstance(e, str) else e for e in self.events]

    def censor_sources(self, adequate: list[str], codes: CensorCodes) -> list[TteSource]:
        """The censoring sources: ``censors`` or the expansion of ``censor``."""
        if self.censors is not None:
            return list(self.censors)
        if self.censor == "last_alive":
            last = TteSource(dataset="ADSL", date="LSTALVDT", cnsr=codes.last_assessment,
                             description="LAST KNOWN ALIVE",
                             date_description="LAST KNOWN ALIVE DATE")
            none = "NO DATE KNOWN ALIVE AFTER START"
        else:
            word = "ADEQUATE " if self.censor == "last_adequate_assessment" else ""
            last = TteSource(dataset="ADRS", where={"AVALC": adequate} if word else {},
                             cnsr=codes.last_assessment,
                             description=f"LAST {word}TUMOR ASSESSMENT",
                             date_description=f"LAST {word}TUMOR ASSESSMENT DATE")
            none = "NO ADEQUATE POST-BASELINE TUMOR ASSESSMENT"
        return [last, TteSource(dataset="ADSL", date="START", cnsr=codes.start,
                                description=none, date_description="START DATE")]


class CensorCodes(_Model):
    """CNSR values (ADaMIG 1.3 BDS TTE: 0 = event, positive integers = censoring reasons)."""

    last_assessment: int = Field(1, ge=1, description="No event: last (adequate) assessment / "
                                                      "last known alive.")
    start: int = Field(2, ge=1, description="No baseline or no post-baseline assessment: start "
                                            "date.")
    new_therapy: int = Field(3, ge=1, description="New anti-cancer therapy before any event.")
    missed_assessments: int = Field(4, ge=1, description="Event after ≥ 2 missed assessments.")

    @model_validator(mode="after")
    def _distinct(self) -> CensorCodes:
        codes = self.model_dump()
        if len(set(codes.values())) != len(codes):
            raise ValueError(f"CNSR codes must differ (each is a censoring reason): {codes}")
        return self


def _default_tte() -> list[TteParameter]:
    return [
        TteParameter(paramcd="OS", param="Overall Survival", start="RANDDT", events=["DEATH"],
                     censor="last_alive"),
        TteParameter(paramcd="PFS", param="Progression-Free Survival", start="RANDDT",
                     events=["PD", "DEATH"]),
        TteParameter(paramcd="DOR", param="Duration of Response", start="RESPONSE",
                     events=["PD", "DEATH"]),
        TteParameter(paramcd="TTP", param="Time to Progression", start="RANDDT", events=["PD"]),
    ]


class ValueSource(_Model):
    """One value per subject read from an SDTM dataset: ``value`` of the records matching
    ``where`` (the first by --SEQ when several)."""

    dataset: str = Field(description="SDTM dataset, e.g. SUPPDM.")
    value: str = Field(description="Variable holding the value, e.g. QVAL.")
    where: dict[str, str | list[str]] = Field(default_factory=dict,
                                              description="Records to use (all must hold).")


DURATION_DAYS = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}


class CollectedTteParameter(_Model):
    """A time-to-event parameter whose time is a collected duration (a case report's months of
    follow-up), not the difference of two dates: STARTDT and ADT stay null."""

    paramcd: str = Field(description="PARAMCD, e.g. OS.")
    param: str = Field(description="PARAM, e.g. Overall Survival.")
    duration: ValueSource = Field(description="Where the duration is (section below).")
    unit: Literal["days", "weeks", "months", "years"] = Field(
        description="Unit of the collected duration. AVAL is in days like every ADTTE "
                    "parameter: months × 30.4375 (365.25 / 12), weeks × 7, years × 365.25; "
                    "not rounded and no +1 (a duration, not two dates).")
    event_flag: str = Field("DTHFL", description="ADSL flag: Y = the event happened at the end "
                                                 "of the duration (CNSR 0), else censored there "
                                                 "(CNSR cnsr.last_assessment). Default DTHFL.")
    event_description: str = Field("DEATH", description="EVNTDESC of events.")
    censor_description: str = Field("LAST FOLLOW-UP AS REPORTED",
                                    description="EVNTDESC of censored records.")

    _v = field_validator("paramcd", "event_flag")(lambda v: _check_name(v, "name"))


class AdtteSettings(_Model):
    """ADTTE parameters (admiralonco ad_adtte.R event/censor sources)."""

    adequate_responses: list[str] = Field(
        default_factory=lambda: ["CR", "PR", "SD", "NON-CR/NON-PD"],
        description="Responses that make an assessment adequate for censoring (not NE; FDA "
                    "2018 'last adequate assessment').")
    cnsr: CensorCodes = Field(default_factory=CensorCodes,
                              description="CNSR value of each censoring reason.")
    parameters: list[TteParameter] = Field(
        default_factory=_default_tte,
        description="Time-to-event parameters; default OS, PFS, DOR, TTP from RANDDT.")
    collected: list[CollectedTteParameter] = Field(
        default_factory=list,
        description="Parameters whose time is a collected duration (section below), e.g. OS "
                    "from a case report's months of follow-up; set parameters to [] when the "
                    "data have no dates. Default none.")

    @model_validator(mode="after")
    def _unique(self) -> AdtteSettings:
        codes = [p.paramcd for p in self.parameters] + [c.paramcd for c in self.collected]
        if len(set(codes)) != len(codes):
            raise ValueError(f"PARAMCD values repeat: {codes}")
        return self


class AdaeSettings(_Model):
    """ADAE derivations (OCCDS; admiral ad_adae.R conventions)."""

    start_highest_imputation: Literal["none", "D", "M"] = Field(
        "M", description="ASTDT from AESTDTC: missing day and month may be imputed (admiral "
                         "ad_adae.R highest_imputation M), to the first day; ASTDTF flags it.")
    start_not_before_trtsdt: bool = Field(
        True, description="An imputed ASTDT is moved to TRTSDT when the partial AESTDTC "
                          "(its month, or its year) contains TRTSDT and the first-day "
                          "imputation falls before it (admiral min_dates = TRTSDT): an AE "
                          "reported as 2015-03 by a subject first dosed on 2015-03-10 is not "
                          "dated before the first dose. Default true.")
    end_highest_imputation: Literal["none", "D", "M"] = Field(
        "M", description="AENDT from AEENDTC: missing day and month may be imputed to the last "
                         "day (admiral ad_adae.R highest_imputation M, date_imputation last); "
                         "AENDTF flags it.")
    end_not_after: list[str] = Field(
        default_factory=lambda: ["DTHDT", "EOSDT"],
        description="ADSL dates an imputed AENDT may not pass when the partial AEENDTC "
                    "contains them: the earliest present is used instead (admiral max_dates "
                    "DTHDT, EOSDT).")
    trtemfl_window_days: int = Field(
        30, ge=0, le=MAX_DAYS,
        description="TRTEMFL = Y when TRTSDT <= ASTDT <= TRTEDT + this many days (admiral "
                    "ad_adae.R derive_var_trtemfl end_window 30); an AE without ASTDT is "
                    "treatment-emergent unless it ended before TRTSDT (admiral); no TRTSDT: "
                    "blank.")
    ctcae_version: str = Field(
        "5.0", description="CTCAE version AETOXGR was graded with; ATOXGR = AETOXGR, ATOXGRN its "
                           "number; the version is stated in the define.xml method.")
    related_terms: list[str] = Field(
        default_factory=lambda: ["RELATED", "POSSIBLY RELATED", "PROBABLY RELATED",
                                 "DEFINITELY RELATED", "Y", "YES"],
        description="AEREL values counted as related: RELGR1 = RELATED, other non-blank "
                    "values NOT RELATED, blank AEREL stays blank (compared upper-cased).")
    treatment_numbers: dict[str, int] = Field(
        default_factory=dict,
        description="TRTA → TRTAN; values not listed are numbered after them in alphabetical "
                    "order (default: all alphabetical).")
    flag_imputed_seconds: bool = Field(
        False, description="ASTTMF/AENTMF = S when only the seconds were imputed. ASTDTM/AENDTM "
                           "come from AESTDTC/AEENDTC with the date imputed as ASTDT/AENDT and "
                           "a missing time imputed component by component to 00:00:00 (start) "
                           "or 23:59:59 (end), the bounds above applied to the datetime (TRTSDT "
                           "at 00:00:00, DTHDT/EOSDT at 23:59:59); ASTDT/AENDT are their dates "
                           "(admiral ad_adae.R derive_vars_dtm, derive_vars_dtm_to_dt). The flag "
                           "names the highest imputed component, H or M (admiral "
                           "ignore_seconds_flag TRUE: no S); true adds S (ADaMIG 1.3 §3.1.3).")
    duration_add_one: bool = Field(
        True, description="ADURN = AENDT - ASTDT + 1 days, ADURU = DAYS (admiral ad_adae.R "
                          "derive_vars_duration add_one TRUE: an AE starting and ending on one "
                          "day lasts 1 day; a negative duration gets no + 1); false: AENDT - "
                          "ASTDT. Blank when either date is missing.")
    severity_order: list[str] = Field(
        default_factory=lambda: ["MILD", "MODERATE", "SEVERE", "DEATH THREATENING"],
        description="ASEV = AESEV when AE has AESEV (admiral ad_adae.R); ASEVN = its position "
                    "in this list (admiral: MILD 1, MODERATE 2, SEVERE 3, DEATH THREATENING 4; "
                    "SDTM CT AESEV C66769 has the first three). A value not listed: ASEVN blank "
                    "(CMAP-AD0034). Compared upper-cased.")
    worst_by: Literal["ATOXGRN", "ASEVN"] = Field(
        "ATOXGRN", description="Order of the worst-event flags AOCCIFL/AOCCSIFL/AOCCPIFL: the "
                               "highest CTCAE grade (oncology), or the highest ASEVN (admiral "
                               "ad_adae.R AOCCIFL: desc(ASEVN), ASTDTM, AESEQ). Default "
                               "ATOXGRN.")

    _v_n = field_validator("end_not_after")(
        lambda v: [_check_name(x, "end_not_after") for x in v])

    @field_validator("related_terms", "severity_order")
    @classmethod
    def _upper_terms(cls, value: list[str]) -> list[str]:
        return [v.strip().upper() for v in value]


class PlannedDose(_Model):
    """The planned dose of the subjects of some arms (for RDI)."""

    armcd: list[str] = Field(description="DM.ARMCD values this planned dose applies to; [] = "
                                         "every subject not matched by another entry.")
    dose: float = Field(gt=0, description="Planned dose per administration, e.g. 250.")
    unit: str = Field(description="Its unit as EXDOSU writes it (mg or mg/m2).")
    frequency: str = Field(description="Planned EXDOSFRQ, e.g. BID (its doses per day from "
                                       "doses_per_day).")

    @field_validator("armcd")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [v.strip().upper() for v in value]


class ExRecordParameter(_Model):
    """A parameter with one record per EX record (admiral ad_adex.R "1:1 mapping" part,
    PARCAT1 INDIVIDUAL)."""

    paramcd: str = Field(description="PARAMCD, e.g. DOSE.")
    param: str = Field(description="PARAM, e.g. Dose administered during constant dosing "
                                   "interval (mg).")
    value: Literal["days", "dose", "exdose", "adjusted"] = Field(
        description="days: the record's days (EXENDTC - EXSTDTC + 1, admiral EXDURD); dose: "
                    "its dose in mg as CUMDOSE sums it (admiral DOSEO); exdose: EXDOSE as "
                    "collected, per administration in EXDOSU (SRCVAR EXDOSE); adjusted: AVALC "
                    "Y when EXADJ is one of reasons, else blank (admiral ADJ, ADJAE).")
    reasons: list[str] = Field(
        default_factory=list, description="adjusted: EXADJ values that count (compared "
                                          "upper-cased); [] = any non-blank EXADJ.")

    _v = field_validator("paramcd")(lambda v: _check_name(v, "PARAMCD"))

    @field_validator("reasons")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [v.strip().upper() for v in value]


def _default_record_parameters() -> list[ExRecordParameter]:
    """admiral ad_adex.R param_lookup: DURD, DOSE, ADJ, ADJAE (PLDOSE needs a planned dose per
    record, which SDTM EX does not hold)."""
    interval = "during constant dosing interval"
    return [
        ExRecordParameter(paramcd="DURD", param=f"Study drug duration {interval} (days)",
                          value="days"),
        ExRecordParameter(paramcd="DOSE", param=f"Dose administered {interval} (mg)",
                          value="dose"),
        ExRecordParameter(paramcd="ADJ", param=f"Dose adjusted {interval}", value="adjusted"),
        ExRecordParameter(paramcd="ADJAE", param=f"Dose adjusted due to AE {interval}",
                          value="adjusted", reasons=["ADVERSE EVENT"]),
    ]


def _default_frequencies() -> dict[str, float]:
    return {"QD": 1, "BID": 2, "TID": 3, "QID": 4, "QOD": 0.5}


class AdexSettings(_Model):
    """ADEX exposure parameters (BDS; admiral ad_adex.R conventions)."""

    doses_per_day: dict[str, float] = Field(
        default_factory=_default_frequencies,
        description="EXDOSFRQ → administrations per day (SDTM CT FREQ terms). A record's dose "
                    "= EXDOSE × this × its days (EXENDTC − EXSTDTC + 1; admiral DOSEO = "
                    "EXDOSE × EXDURD for daily dosing). ONCE counts EXDOSE once. A record whose "
                    "frequency is neither is a finding and counts no dose.")
    bsa_units: list[str] = Field(
        default_factory=lambda: ["MG/M2"],
        description="EXDOSU values of body-surface-area dosing: the dose in mg is EXDOSE × BSA "
                    "(BSA from VS, see bsa_testcd).")
    bsa_testcd: str = Field("BSA", description="VSTESTCD of the body surface area (m2). Without "
                                               "it, BSA = √(HEIGHT cm × WEIGHT kg / 3600) "
                                               "(Mosteller 1987) from the latest HEIGHT and "
                                               "WEIGHT on or before the record's start (else "
                                               "the first ones).")
    planned: list[PlannedDose] = Field(
        default_factory=list,
        description="Planned dose per arm. RDI = cumulative actual dose / (planned daily dose × "
                    "TRTDURD) × 100, in the planned dose's unit; no entry for a subject's arm: "
                    "no RDI.")
    open_record_end: Literal["trtedt", "start"] = Field(
        "trtedt", description="End of an EX record without EXENDTC: ADSL TRTEDT (default; the "
                              "same end ADSL gives the treatment) or the record's own start "
                              "(one day).")
    record_parameters: list[ExRecordParameter] = Field(
        default_factory=_default_record_parameters,
        description="Parameters with one record per EX record (PARCAT1 INDIVIDUAL; ASTDT/AENDT "
                    "the record's dates, SRCSEQ its EXSEQ), besides the per-subject summary "
                    "parameters (PARCAT1 OVERALL). Default admiral ad_adex.R's DURD, DOSE, ADJ "
                    "and ADJAE; [] for summaries only. PARAMN follows the summaries' (7, 8, …).")

    @field_validator("bsa_units")
    @classmethod
    def _upper_units(cls, value: list[str]) -> list[str]:
        return [v.strip().upper() for v in value]

    @field_validator("doses_per_day")
    @classmethod
    def _upper_freq(cls, value: dict[str, float]) -> dict[str, float]:
        out = {k.strip().upper(): float(v) for k, v in value.items()}
        if any(not math.isfinite(v) or v <= 0 for v in out.values()):
            raise ValueError("doses_per_day: every value is a positive number")
        return out

    @model_validator(mode="after")
    def _one_default(self) -> AdexSettings:
        arms = [a for p in self.planned for a in p.armcd]
        if len(set(arms)) != len(arms):
            raise ValueError(f"planned: an ARMCD is listed twice: {sorted(arms)}")
        if sum(1 for p in self.planned if not p.armcd) > 1:
            raise ValueError("planned: at most one entry without armcd (the default)")
        for p in self.planned:
            if p.frequency.strip().upper() not in self.doses_per_day:
                raise ValueError(f"planned frequency {p.frequency!r} is not in doses_per_day")
        codes = [p.paramcd for p in self.record_parameters]
        summary = {"TRTDURD", "CUMDOSE", "CUMDOSBS", "DOSEINT", "DOSINTBS", "RDI"}
        if len(set(codes)) != len(codes) or summary & set(codes):
            raise ValueError(f"record_parameters: PARAMCD repeats or names a summary "
                             f"parameter: {codes}")
        return self


class LesionParameter(_Model):
    """A parameter with one record per target lesion and assessment (admiralonco ad_adtr.R
    LDIAMn / NLDIAMn): the TR result of one test, PARAMCD and PARAM naming the lesion number."""

    testcd: str = Field(description="TRTESTCD of the records, e.g. LDIAM.")
    paramcd: str = Field(description="PARAMCD with {n}, the lesion number (the digits of "
                                     "TRLNKID: T03 → 3; a TRLNKID without digits: the lesion's "
                                     "rank within the subject), e.g. LDIAM{n}.")
    param: str = Field(description="PARAM with {n}, e.g. Target Lesion {n} Analysis Diameter.")

    _v = field_validator("testcd")(lambda v: _check_name(v, "TRTESTCD"))

    @field_validator("paramcd")
    @classmethod
    def _code(cls, value: str) -> str:
        value = value.strip().upper()
        if "{N}" not in value:
            raise ValueError(f"lesion PARAMCD {value!r} needs {{n}}, the lesion number")
        _check_name(value.replace("{N}", "99"), "PARAMCD (with lesion 99)")
        return value.replace("{N}", "{n}")

    @field_validator("param")
    @classmethod
    def _text(cls, value: str) -> str:
        if "{n}" not in value:
            raise ValueError(f"lesion PARAM {value!r} needs {{n}}, the lesion number")
        return value


def _default_lesion_parameters() -> list[LesionParameter]:
    """admiralonco ad_adtr.R: LDIAMn (longest diameter) and NLDIAMn (short axis, LPERP)."""
    return [LesionParameter(testcd="LDIAM", paramcd="LDIAM{n}",
                            param="Target Lesion {n} Analysis Diameter"),
            LesionParameter(testcd="LPERP", paramcd="NLDIAM{n}",
                            param="Target Lesion {n} Analysis Perpendicular")]


class AdtrSettings(_Model):
    """ADTR target-lesion sums (BDS; admiralonco ad_adtr.R conventions)."""

    evaluator: str = Field("INVESTIGATOR", description="TUEVAL/TREVAL of the lesions summed "
                                                      "(admiralonco: INVESTIGATOR).")
    rebaseline_visits: list[str] = Field(
        default_factory=list,
        description="TU VISIT values that start a new lesion series (e.g. RECHALLENGE "
                    "BASELINE); later sums are compared with that series' baseline. Default "
                    "none.")
    reference_date: str = Field(
        "TRTSDT", description="ADSL date: ADY counts from it, and the best-change flag "
                              "(ANL02FL) looks only at sums dated after it (admiralonco "
                              "ad_adtr.R: RANDDT).")
    lesion_parameters: list[LesionParameter] = Field(
        default_factory=_default_lesion_parameters,
        description="Per-lesion parameters besides SDIAM: one record per baseline target "
                    "lesion (TU TUSTRESC TARGET of the evaluator) and TR assessment, AVAL = "
                    "TRSTRESN, ANL01FL = Y when measured, SRCSEQ its TRSEQ (admiralonco "
                    "ad_adtr.R LDIAMn, NLDIAMn). [] for SDIAM only.")

    _v = field_validator("reference_date")(lambda v: _check_name(v, "reference_date"))

    @field_validator("evaluator")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()


class QsScale(_Model):
    """One scale of a questionnaire: the items averaged and how the mean is turned into 0-100."""

    paramcd: str = Field(description="PARAMCD of the scale score, e.g. EOR0132 (SDTM CT "
                                     "EOR01TC names the QLQ-C30 scales EOR0131-EOR0145).")
    param: str = Field(description="PARAM of the scale score.")
    kind: Literal["functional", "symptom", "global"] = Field(
        description="functional: S = (1 - (RS - 1) / range) x 100; symptom and global: "
                    "S = (RS - 1) / range x 100, RS the mean of the answered items (EORTC "
                    "QLQ-C30 Scoring Manual, 3rd ed., 2001, linear transformation).")
    items: list[str] = Field(description="QSTESTCD of the items, e.g. [EOR0101, EOR0102].")
    range: float = Field(3, gt=0, description="Highest minus lowest possible answer: 3 for "
                                              "items answered 1-4, 6 for 1-7.")

    _v = field_validator("paramcd")(lambda v: _check_name(v, "PARAMCD"))
    _v_i = field_validator("items")(lambda v: [_check_name(x, "item") for x in v])


def _qlq_c30() -> list[QsScale]:
    """QLQ-C30 v3.0 scales and their items (EORTC QLQ-C30 Scoring Manual, 3rd ed., 2001,
    table of scales; item n is QSTESTCD EOR01nn in SDTM CT EOR01TC)."""
    def scale(code: int, param: str, kind: str, items: list[int], rng: float = 3) -> QsScale:
        return QsScale(paramcd=f"EOR01{code}", param=f"QLQ-C30 {param}", kind=kind,
                       items=[f"EOR01{i:02d}" for i in items], range=rng)
    return [
        scale(31, "Global Health Status/QoL", "global", [29, 30], 6),
        scale(32, "Physical Functioning", "functional", [1, 2, 3, 4, 5]),
        scale(33, "Role Functioning", "functional", [6, 7]),
        scale(34, "Emotional Functioning", "functional", [21, 22, 23, 24]),
        scale(35, "Cognitive Functioning", "functional", [20, 25]),
        scale(36, "Social Functioning", "functional", [26, 27]),
        scale(37, "Fatigue", "symptom", [10, 12, 18]),
        scale(38, "Nausea and Vomiting", "symptom", [14, 15]),
        scale(39, "Pain", "symptom", [9, 19]),
        scale(40, "Dyspnoea", "symptom", [8]),
        scale(41, "Insomnia", "symptom", [11]),
        scale(42, "Appetite Loss", "symptom", [13]),
        scale(43, "Constipation", "symptom", [16]),
        scale(44, "Diarrhoea", "symptom", [17]),
        scale(45, "Financial Difficulties", "symptom", [28]),
    ]


class AdqsSettings(_Model):
    """ADQS questionnaire scale scores (BDS); default the EORTC QLQ-C30 v3.0 scales."""

    category: str | None = Field("EORTC QLQ-C30 V3.0",
                                 description="QSCAT of the records scored (when QS has QSCAT); "
                                             "also PARCAT1.")
    min_answered: float = Field(
        0.5, gt=0, le=1, description="A scale is scored when at least this share of its items "
                                     "is answered (EORTC scoring manual: at least half), the "
                                     "mean then taken over the answered items.")
    reference_date: str = Field(
        "TRTSDT", description="ADSL date: the baseline is the last questionnaire dated on or "
                              "before it (ABLFL); ADY counts from it.")
    scales: list[QsScale] = Field(default_factory=_qlq_c30,
                                  description="The scales (default: the 15 QLQ-C30 v3.0 "
                                              "scales, section below).")

    _v = field_validator("reference_date")(lambda v: _check_name(v, "reference_date"))

    @model_validator(mode="after")
    def _unique(self) -> AdqsSettings:
        codes = [s.paramcd for s in self.scales]
        if len(set(codes)) != len(codes):
            raise ValueError(f"scale PARAMCD values repeat: {codes}")
        return self


class AdamSettings(_Model):
    """All settings of the ADaM stage."""

    adsl: AdslSettings = Field(default_factory=AdslSettings)
    adrs: AdrsSettings = Field(default_factory=AdrsSettings)
    adtte: AdtteSettings = Field(default_factory=AdtteSettings)
    adae: AdaeSettings = Field(default_factory=AdaeSettings)
    adex: AdexSettings = Field(default_factory=AdexSettings)
    adtr: AdtrSettings = Field(default_factory=AdtrSettings)
    adqs: AdqsSettings = Field(default_factory=AdqsSettings)

    def adsl_date_variables(self) -> list[str]:
        """Every ADSL date a reference or start may name."""
        fixed = ["TRTSDT", "TRTEDT", "RFICDT", "DTHDT", "LSTALVDT", "EOSDT", "SCRFDT"] + \
            (["FRVDT"] if self.adsl.frvdt is not None else [])
        return fixed + [d.variable for d in self.adsl.dates] + \
            [d.variable for d in self.adsl.ex_dates]

    def response_key(self, analysis: str, evaluator: str | None) -> str:
        """Key of an analysis's responses by one evaluator in derive_adrs's result (the main
        evaluator's under the analysis id, another's under ``<id>@<evaluator>``)."""
        if evaluator is None or evaluator == self.adrs.evaluator:
            return analysis
        return f"{analysis}@{evaluator}"

    def cross_check(self) -> list[tuple[str, str, str]]:
        """Problems between files as (file, key, message): unknown dates or analyses."""
        problems: list[tuple[str, str, str]] = []
        known = set(self.adsl_date_variables())
        ids = {a.id for a in self.adrs.analyses}
        evaluators = [self.adrs.evaluator] + [e.evaluator for e in self.adrs.evaluators]
        for i, a in enumerate(self.adrs.analyses):
            if a.reference_date not in known:
                problems.append(("adrs", f"analyses.{i}.reference_date",
                                 f"unknown ADSL date {a.reference_date}; known: "
                                 f"{', '.join(sorted(known))}"))
        for i, a in enumerate(self.adrs.analyses):
            for j, lm in enumerate(a.landmarks):
                if lm.reference_date is not None and lm.reference_date not in known:
                    problems.append(("adrs", f"analyses.{i}.landmarks.{j}.reference_date",
                                     f"unknown ADSL date {lm.reference_date}; known: "
                                     f"{', '.join(sorted(known))}"))
        for i, rule in enumerate(self.adsl.ex_dates):
            if rule.anchor is not None and rule.anchor not in known:
                problems.append(("adsl", f"ex_dates.{i}.anchor", f"unknown ADSL date "
                                 f"{rule.anchor}"))
        for stem, date in (("adtr", self.adtr.reference_date),
                           ("adqs", self.adqs.reference_date)):
            if date not in known:
                problems.append((stem, "reference_date", f"unknown ADSL date {date}; known: "
                                 f"{', '.join(sorted(known))}"))
        for i, name in enumerate(self.adae.end_not_after):
            if name not in known:
                problems.append(("adae", f"end_not_after.{i}", f"unknown ADSL date {name}; "
                                 f"known: {', '.join(sorted(known))}"))
        unknown = [r for r in self.adtte.adequate_responses if r not in self.adrs.aval_map]
        if unknown:
            problems.append(("adtte", "adequate_responses", f"responses {unknown} are not in "
                             f"the ADRS aval_map ({', '.join(self.adrs.aval_map)})"))
        for i, p in enumerate(self.adtte.parameters):
            if p.start != "RESPONSE" and p.start not in known:
                problems.append(("adtte", f"parameters.{i}.start",
                                 f"unknown ADSL date {p.start}; known: RESPONSE, "
                                 f"{', '.join(sorted(known))}"))
            sources = [("events", j, e) for j, e in enumerate(p.events)
                       if isinstance(e, TteSource)] + \
                [("censors", j, c) for j, c in enumerate(p.censors or [])]
            for part, j, src in sources:
                if src.dataset == "ADSL" and src.date != "START" and src.date not in known:
                    problems.append(("adtte", f"parameters.{i}.{part}.{j}.date",
                                     f"unknown ADSL date {src.date}; known: START, "
                                     f"{', '.join(sorted(known))}"))
                if src.evaluator is not None and src.evaluator not in evaluators:
                    problems.append(("adtte", f"parameters.{i}.{part}.{j}.evaluator",
                                     f"unknown evaluator {src.evaluator}; adrs.yaml has "
                                     f"{', '.join(evaluators)}"))
            if p.evaluator is not None and p.evaluator not in evaluators:
                problems.append(("adtte", f"parameters.{i}.evaluator",
                                 f"unknown evaluator {p.evaluator}; adrs.yaml has "
                                 f"{', '.join(evaluators)}"))
            if p.analysis not in ids:
                problems.append(("adtte", f"parameters.{i}.analysis",
                                 f"unknown ADRS analysis {p.analysis!r}; known: "
                                 f"{', '.join(sorted(ids))}"))
        return problems


_FILES = {"adsl": AdslSettings, "adrs": AdrsSettings, "adtte": AdtteSettings,
          "adae": AdaeSettings, "adex": AdexSettings, "adtr": AdtrSettings,
          "adqs": AdqsSettings}


def load_adam_settings(study_dir: Path) -> AdamSettings:
    """Read ``study_dir/adam/<dataset>.yaml`` for the datasets of ``_FILES`` (adsl, adrs, adtte,
    adae, adex, adtr, adqs; each optional, defaults otherwise).

    Unknown files in ``adam/``, unknown keys and references between files that do not resolve
    are SpecErrors naming file:line.
    """
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise SpecError("study folder not found", display_path(study_dir))
    folder = study_dir / "adam"
    parts: dict[str, BaseModel] = {}
    located = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.y*ml")):
            stem = path.stem.lower()
            if stem not in _FILES:
                raise SpecError(f"unknown ADaM settings file (expected one of "
                                f"{', '.join(f'{k}.yaml' for k in _FILES)})", display_path(path))
            if stem in parts:
                raise SpecError(f"{stem} settings given twice", display_path(path))
            doc = load_yaml(path)
            located[stem] = doc
            parts[stem] = validate_located(doc, _FILES[stem])
    settings = AdamSettings(**parts)
    for stem, key, message in settings.cross_check():
        doc = located.get(stem)
        path_key = tuple(int(k) if k.isdigit() else k for k in key.split("."))
        if doc is None:
            raise SpecError(message, key=key)
        raise SpecError(message, doc.file, doc.line_of(path_key), key)
    return settings
