"""Models of the study.yaml keys for trial design, relationships, comments and custom domains.

Why a module of its own: these keys describe the study (arms, elements, planned visits,
criteria; which records relate; where comments are collected), not a mapping of a raw form, and
they are read by :mod:`cdiscmap.sdtm.trial_design`, :mod:`cdiscmap.sdtm.relationships` and
:mod:`cdiscmap.standards.custom` only. :class:`cdiscmap.spec.models.StudySpec` holds them.
Like every spec model they refuse unknown keys.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# SDTMIG 3.4 §7.2.2/§7.4.1: ETCD, ARMCD and IETESTCD are short codes (ETCD and IETESTCD at
# most 8 characters, ARMCD at most 20); letters, digits and '_' keep them usable as names.
_CODE = re.compile(r"[A-Z][A-Z0-9_]*")
# A DM variable holding a date (RFICDTC, RFXSTDTC, ...), read per subject for SE.
_DM_DATE = re.compile(r"[A-Z][A-Z0-9]{1,7}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _code(value: str, what: str, longest: int) -> str:
    if not _CODE.fullmatch(value) or len(value) > longest:
        raise ValueError(f"{what} {value!r} must be 1-{longest} capital letters, digits or "
                         "'_', starting with a letter")
    return value


class ElementSpec(_Strict):
    """One planned Element (TE, SDTMIG 3.4 §7.3.2). ``start``/``end`` are the protocol's rules
    (TESTRL/TEENRL); ``start_date``/``end_date`` name the DM variable that dates the element
    for each subject (SE, SDTMIG 3.4 §5.3): a subject without that date did not enter it."""

    etcd: str
    element: str
    start: str                          # TESTRL
    end: str | None = None              # TEENRL
    duration: str | None = None         # TEDUR, ISO 8601 duration (P28D)
    start_date: str | None = None       # DM variable giving SESTDTC (RFICDTC, RFXSTDTC, ...)
    end_date: str | None = None         # DM variable giving SEENDTC of the last element

    @field_validator("etcd")
    @classmethod
    def _etcd(cls, value: str) -> str:
        return _code(value, "ETCD", 8)

    @field_validator("start_date", "end_date")
    @classmethod
    def _dm_variable(cls, value: str | None) -> str | None:
        if value is not None and not _DM_DATE.fullmatch(value):
            raise ValueError(f"{value!r} is not a DM variable name")
        return value

    @field_validator("duration")
    @classmethod
    def _iso_duration(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"P(?=\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?"
                                                  r"(T(\d+H)?(\d+M)?(\d+S)?)?", value):
            raise ValueError(f"duration {value!r} is not an ISO 8601 duration (e.g. P28D)")
        return value


class ArmElement(_Strict):
    """An Element of an Arm in order (TA, SDTMIG 3.4 §7.2.1), in the Epoch it belongs to."""

    etcd: str
    epoch: str
    branch: str | None = None           # TABRANCH
    transition: str | None = None       # TATRANS


class ArmSpec(_Strict):
    armcd: str
    arm: str
    elements: list[ArmElement] = Field(min_length=1)

    @field_validator("armcd")
    @classmethod
    def _armcd(cls, value: str) -> str:
        return _code(value, "ARMCD", 20)


class PlannedVisit(_Strict):
    """One planned Visit (TV, SDTMIG 3.4 §7.3.1); ``arms`` restricts it to some Arms (one TV
    record per Arm), default: the same visit for every Arm (ARMCD null)."""

    visitnum: float
    visit: str
    visitdy: float | None = None
    start: str                          # TVSTRL
    end: str | None = None              # TVENRL
    arms: list[str] = []


class Criterion(_Strict):
    """One inclusion/exclusion criterion (TI, SDTMIG 3.4 §7.4.1)."""

    ietestcd: str
    category: Literal["INCLUSION", "EXCLUSION"]       # IECAT (CT codelist IECAT)
    test: str                           # IETEST: the criterion text, at most 200 characters
    subcategory: str | None = None      # IESCAT
    rule: str | None = None             # TIRL
    version: str | None = None          # TIVERS

    @field_validator("ietestcd")
    @classmethod
    def _testcd(cls, value: str) -> str:
        return _code(value, "IETESTCD", 8)

    @field_validator("test")
    @classmethod
    def _test(cls, value: str) -> str:
        if len(value.encode("utf-8")) > 200:
            raise ValueError("IETEST is at most 200 characters (SDTMIG 3.4 §7.4.1: longer "
                             "text goes into the protocol, with a shortened IETEST)")
        return value


class TrialDesignSpec(_Strict):
    """study.yaml ``trial_design:``: TE, TA, TV and TI (SDTMIG 3.4 §7.2-§7.4)."""

    elements: list[ElementSpec] = []
    arms: list[ArmSpec] = []
    visits: list[PlannedVisit] = []
    criteria: list[Criterion] = []

    @model_validator(mode="after")
    def _references(self) -> TrialDesignSpec:
        etcds = [e.etcd for e in self.elements]
        if len(set(etcds)) != len(etcds):
            raise ValueError("an ETCD is listed twice in trial_design.elements")
        armcds = [a.armcd for a in self.arms]
        if len(set(armcds)) != len(armcds):
            raise ValueError("an ARMCD is listed twice in trial_design.arms")
        for arm in self.arms:
            for element in arm.elements:
                if element.etcd not in etcds:
                    raise ValueError(f"arm {arm.armcd}: element {element.etcd} is not in "
                                     f"trial_design.elements ({', '.join(etcds) or 'none'})")
        for visit in self.visits:
            for armcd in visit.arms:
                if armcd not in armcds:
                    raise ValueError(f"visit {visit.visit}: arm {armcd} is not in "
                                     "trial_design.arms")
        codes = [c.ietestcd for c in self.criteria]
        if len(set(codes)) != len(codes):
            raise ValueError("an IETESTCD is listed twice in trial_design.criteria")
        return self


class RelatedRecords(_Strict):
    """One side of a relationship: a domain and the variable that identifies its records."""

    domain: str
    idvar: str                          # IDVAR: --SEQ, --LNKID, --GRPID, --SPID, ...
    reltype: Literal["ONE", "MANY"] | None = None     # dataset-level only (RELTYPE)
    on: str | None = None               # record-level: variable whose equal values relate


class RelrecSpec(_Strict):
    """study.yaml ``relrec:`` entry (SDTMIG 3.4 §8.2 RELREC).

    ``level: dataset`` relates whole datasets by an identifier variable (one RELREC record
    per side, USUBJID and IDVARVAL null, RELTYPE ONE/MANY); ``level: record`` relates, per
    subject, the records of the sides whose ``on`` variables hold the same value (one RELREC
    record per record, RELID ``<relid>-<n>``)."""

    relid: str
    level: Literal["dataset", "record"] = "dataset"
    records: list[RelatedRecords] = Field(min_length=2)

    @model_validator(mode="after")
    def _sides(self) -> RelrecSpec:
        for side in self.records:
            if self.level == "dataset" and side.reltype is None:
                raise ValueError(f"relrec {self.relid}: a dataset-level relationship gives "
                                 f"reltype ONE or MANY for {side.domain}")
            if self.level == "record" and side.on is None:
                raise ValueError(f"relrec {self.relid}: a record-level relationship gives "
                                 f"'on' (the linking variable) for {side.domain}")
        return self


class CommentSpec(_Strict):
    """study.yaml ``comments:`` entry: a raw comment column → CO records (SDTMIG 3.4 §5.1).

    The comment is attached to the SDTM records of ``domain`` that the raw row produced
    (record lineage ``_SRCFILE``/``_SRCROW``), identified by ``idvar`` (default: the domain's
    --SEQ; none: the comment is about the subject's whole domain)."""

    form: str
    column: str
    domain: str
    idvar: str | None = "SEQ"           # "SEQ" = <domain>SEQ; null = no record identifier
    date: str | None = None             # a variable of the record giving CODTC (e.g. AESTDTC)
    evaluator: str | None = None        # COEVAL (CT EVAL, e.g. INVESTIGATOR)


class CustomDomainSpec(_Strict):
    """study.yaml ``custom_domains: {XP: ...}`` (SDTMIG 3.4 §2.6), built by
    :func:`cdiscmap.standards.custom.custom_dataset`."""

    class_: str = Field(alias="class")
    label: str
    like: str | None = None
    structure: str | None = None
    labels: dict[str, str] = {}


__all__ = ["ArmElement", "ArmSpec", "CommentSpec", "Criterion", "CustomDomainSpec",
           "ElementSpec", "PlannedVisit", "RelatedRecords", "RelrecSpec", "TrialDesignSpec"]
