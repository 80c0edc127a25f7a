"""Named, documented thresholds of the RECIST 1.1 engine, set per study in study.yaml (``recist:``).

The defaults are the published RECIST 1.1 values (Eisenhauer et al. 2009, EJC 45:228-247);
a study changes one only when its protocol says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cdiscmap.errors import SpecError

#: Tolerance of every threshold comparison: sums stay unrounded floats, so a change of exactly
#: -30 % computed as -30.000000000000004 must still count as PR.
EPSILON = 1e-9


class RecistSettings(BaseModel):
    """Thresholds of the timepoint-response rules; immutable so one default can be shared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pr_change: float = Field(
        -30.0, lt=0,
        description="PR when the target sum changed by this % or less from the baseline sum "
                    "(RECIST 1.1 §4.3.1).")
    pd_change: float = Field(
        20.0, gt=0,
        description="Target PD needs a change of at least this % from the nadir "
                    "(RECIST 1.1 §4.3.1).")
    pd_absolute_mm: float = Field(
        5.0, ge=0,
        description="... and an absolute increase of at least this many mm from the nadir "
                    "(RECIST 1.1 §4.3.1).")
    node_normal_mm: float = Field(
        10.0, gt=0,
        description="A lymph node with a short axis below this is normal, so target CR is "
                    "still possible with nodes in the sum (RECIST 1.1 §4.3.1, §4.3.2).")
    too_small_default_mm: float = Field(
        5.0, ge=0,
        description="Value used for a target lesion recorded as too small to measure when TR "
                    "carries no number (RECIST 1.1 §4.3.2).")
    evaluator: str = Field(
        "INVESTIGATOR", min_length=1,
        description="TU/TR records of this evaluator (TUEVAL/TREVAL) are used; null counts as it.")
    equivocal_new_lesion_is_pd: bool = Field(
        False,
        description="RECIST 1.1 §4.3.5 asks for an unequivocal new lesion; set True to count an "
                    "equivocal one as progression at the visit it is seen.")
    evaluators: tuple[str, ...] = Field(
        (),
        description="Evaluators (TUEVAL/TREVAL/RSEVAL) computed in one run, each reader "
                    "(evaluator + --EVALID) its own series; empty = only `evaluator`; `*` = every "
                    "evaluator in the data. Null TUEVAL/TREVAL counts as `evaluator`.")
    nodal_from: Literal["auto", "location", "short_axis_test"] = Field(
        "auto",
        description="How a target lesion is known to be a lymph node (RECIST 1.1 §3.2, §4.1): "
                    "`location` = TULOC names a lymph node (contains LYMPH NODE, as every "
                    "lymph-node term of the CDISC LOC codelist does, or is in `nodal_locations`); "
                    "`short_axis_test` = the lesion has LPERP records and no LDIAM record; "
                    "`auto` = either (the location decides when both axes are recorded).")
    nodal_locations: tuple[str, ...] = Field(
        (),
        description="Further TULOC values that are lymph nodes (sponsor terms without the words "
                    "LYMPH NODE); compared case-blind.")
    backdate_equivocal_new_lesion: bool = Field(
        True,
        description="RECIST 1.1 §4.3.5: an equivocal new lesion confirmed at a later assessment "
                    "makes progression from the date it was first seen (PD back-dated).")
    pd_on_reappearance: bool = Field(
        True,
        description="RECIST 1.1 §4.3.1-§4.3.3, §4.4.1: after an overall CR, a target or "
                    "non-target lesion that reappears means PD.")
    sumdiam_tolerance_mm: float = Field(
        0.5, ge=0,
        description="The investigator's TR SUMDIAM agrees with the computed sum within this many "
                    "mm (cross-check CMAP-RC0003).")

    @field_validator("evaluator")
    @classmethod
    def _upper_evaluator(cls, value: str) -> str:
        return value.strip().upper()

    @field_validator("evaluators", "nodal_locations", mode="before")
    @classmethod
    def _upper_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return tuple(str(v).strip().upper() for v in value if str(v).strip())
        return value

    def readers_wanted(self) -> tuple[str, ...]:
        """Evaluators whose records are read: ``evaluators`` or just ``evaluator``."""
        return self.evaluators or (self.evaluator,)


DEFAULT_SETTINGS = RecistSettings()


def settings_from_mapping(data: Mapping[str, Any] | None, *,
                          file: Path | str | None = None) -> RecistSettings:
    """Build settings from the ``recist:`` block of study.yaml; a bad key becomes a SpecError."""
    try:
        return RecistSettings.model_validate(dict(data or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or None
        raise SpecError(f"recist settings: {first['msg']}", file=file,
                        key=f"recist.{key}" if key else "recist") from None
