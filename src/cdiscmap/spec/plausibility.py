"""The model of study.yaml ``plausibility:`` (the PL rules' thresholds and severities).

Why a module of its own: ``cdiscmap validate`` checks plausibility with the default settings
and reads no study spec, so :mod:`cdiscmap.checks.plausibility` imports this model alone
instead of :mod:`cdiscmap.spec.models`, whose ~60 pydantic classes cost every validate run
~40 ms to build. :class:`cdiscmap.spec.models.StudySpec` holds it (and re-exports the name).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PlausibilitySpec(BaseModel):
    """study.yaml ``plausibility:``: thresholds and severities of the PL rules
    (:mod:`cdiscmap.checks.plausibility`, docs/validation-rules.md). Unknown keys are refused,
    as in every spec model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    earliest_date: date = date(1900, 1, 1)     # dates wholly before it are implausible
    data_cutoff: date | None = None            # absent: TS DCUTDTC, else no cut-off check
    max_age_years: float = Field(120, gt=0)
    severities: dict[Literal["CMAP-PL0001", "CMAP-PL0002", "CMAP-PL0003", "CMAP-PL0004",
                             "CMAP-PL0005", "CMAP-PL0006"],
                     Literal["error", "warning", "notice"]] = {}
