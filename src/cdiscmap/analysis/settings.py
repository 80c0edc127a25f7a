"""``mappings/<study>/analysis.yaml``: what the report shows (populations, groupings, endpoints,
landmarks, two-stage designs). Study knowledge lives here, never in the analysis code.

Unknown keys are refused and every error names ``file:line`` (``spec.yamlload``). A reference
to a population or grouping that is not defined is an error at load time, before any data is
read. Documented with an example in docs/report.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cdiscmap.spec.yamlload import load_model

FILE_NAME = "analysis.yaml"
_ID = r"^[a-z][a-z0-9_]{0,39}$"
_VAR = r"^[A-Z][A-Z0-9]{0,7}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Population(_Strict):
    """Subjects of ADSL whose ``flag`` equals ``value`` (ADaMIG 1.3 §3.2 population flags)."""

    flag: str = Field(pattern=_VAR)
    value: str = "Y"
    label: str | None = None


class Grouping(_Strict):
    """Columns/rows of the tables: the distinct values of an ADSL variable (``label`` shown)."""

    variable: str | None = Field(default=None, pattern=_VAR)   # None: everyone in one group
    label: str | None = Field(default=None, pattern=_VAR)
    total: bool = True              # add an "All subjects" group
    total_label: str = "All subjects"


class DesignParameters(_Strict):
    """p0/p1/alpha/beta of a Simon design, or a given design (r1, n1, r, n)."""

    p0: float | None = Field(default=None, gt=0, lt=1)
    p1: float | None = Field(default=None, gt=0, lt=1)
    alpha: float | None = Field(default=None, gt=0, lt=0.5)
    beta: float | None = Field(default=None, gt=0, lt=0.5)
    kind: Literal["optimal", "minimax"] | None = None
    r1: int | None = Field(default=None, ge=0)
    n1: int | None = Field(default=None, ge=1)
    r: int | None = Field(default=None, ge=0)
    n: int | None = Field(default=None, ge=2)
    note: str | None = None


class ResponseEndpoint(_Strict):
    label: str
    paramcd: str = Field(pattern=_VAR)
    responders: list[str] = Field(min_length=1)     # AVALC values counted as responders


class ResponseTable(_Strict):
    id: str = Field(pattern=_ID)
    title: str
    population: str
    grouping: str
    dataset: Literal["ADRS"] = "ADRS"
    # population: every subject of the population is in the denominator (no record = no
    # response); records: only subjects with a record of the PARAMCD (e.g. responses after
    # rechallenge, derived only for rechallenged subjects)
    denominator: Literal["population", "records"] = "population"
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    endpoints: list[ResponseEndpoint] = Field(min_length=1)


class SimonAnalysis(_Strict):
    id: str = Field(pattern=_ID)
    title: str
    population: str
    grouping: str
    endpoint: ResponseEndpoint
    order_by: str = Field(pattern=_VAR)       # ADSL date giving accrual order (ENRLDT, RANDDT)
    design: DesignParameters                  # default for every group
    groups: dict[str, DesignParameters] = Field(default_factory=dict)  # per group value
    nmax: int = Field(default=100, ge=5, le=300)


class SurvivalAnalysis(_Strict):
    id: str = Field(pattern=_ID)
    title: str
    population: str
    grouping: str
    endpoints: list[str] = Field(min_length=1)         # ADTTE PARAMCDs
    landmarks_months: list[float] = Field(default_factory=lambda: [6.0, 12.0, 24.0])
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    compare: bool = False                               # log-rank and Cox HR vs reference
    reference: str | None = None                        # group value of the reference arm
    figure_grouping: str | None = None                  # grouping of the KM figures


class Demographics(_Strict):
    id: str = Field(pattern=_ID)
    title: str
    population: str
    grouping: str
    continuous: list[str] = Field(default_factory=lambda: ["AGE"])
    categorical: list[str] = Field(default_factory=lambda: ["SEX", "RACE"])
    groups_as_rows: bool = False          # many groups (a basket's cohorts): one row each


class Safety(_Strict):
    """Treatment-emergent AEs (ADAE TRTEMFL = Y): overview, maximum CTCAE grade per subject,
    and subjects by SOC/PT at any grade and at grade >= ``grade_threshold`` (docs/report.md)."""

    id: str = Field(pattern=_ID)
    title: str
    population: str
    grouping: str
    grade_threshold: int = Field(default=3, ge=2, le=5)
    soc_pt: bool = True
    # AEACN values that count as "leading to discontinuation" (CDISC CT ACN)
    discontinuation_actions: list[str] = Field(default_factory=lambda: ["DRUG WITHDRAWN"])


class Exposure(_Strict):
    """ADEX parameters summarised per group (n, mean (SD), median [min-max])."""

    id: str = Field(pattern=_ID)
    title: str
    population: str
    grouping: str
    parameters: list[str] = Field(default_factory=lambda: [
        "TRTDURD", "CUMDOSE", "CUMDOSBS", "DOSEINT", "DOSINTBS", "RDI"])


class FlowStep(_Strict):
    """One box of the subject flow: ADSL rows where ``flag`` = ``value`` and/or ``variable``
    is one of ``values`` (neither: every ADSL row, e.g. screened)."""

    label: str
    flag: str | None = Field(default=None, pattern=_VAR)
    value: str = "Y"
    variable: str | None = Field(default=None, pattern=_VAR)
    values: list[str] = Field(default_factory=list)


class Disposition(_Strict):
    """End-of-study status and reasons for discontinuation (ADSL EOSSTT/DCSREAS) of the
    population by group, and a CONSORT-style flow over every ADSL row."""

    id: str = Field(pattern=_ID)
    title: str
    population: str
    grouping: str
    flow: list[FlowStep] = Field(default_factory=list)


class Tumour(_Strict):
    """Waterfall, spider and swimmer plots (ADTR, ADRS, ADSL)."""

    id: str = Field(pattern=_ID)
    title: str
    population: str
    grouping: str                                   # rows of the summary table
    paramcd: str = Field(default="SDIAM", pattern=_VAR)       # ADTR sum of diameters
    bor_paramcd: str = Field(default="BOR", pattern=_VAR)     # ADRS colour of the bars
    timepoint_paramcd: str = Field(default="OVR", pattern=_VAR)  # ADRS response per visit
    responders: list[str] = Field(default_factory=lambda: ["CR", "PR"])
    figures: list[Literal["waterfall", "spider", "swimmer"]] = Field(
        default_factory=lambda: ["waterfall", "spider", "swimmer"])
    # the swimmer shows at most this many subjects, the longest treatment durations (a bar
    # per subject of thousands is unreadable); the figure's title says when it is a subset
    swimmer_max_subjects: int = Field(default=50, ge=1, le=2000)


class ChangeFromBaseline(_Strict):
    """Mean change from baseline per group and visit of BDS parameters (e.g. ADQS QLQ-C30
    scale scores): baseline AVAL and post-baseline CHG, n and mean (SD)."""

    id: str = Field(pattern=_ID)
    title: str
    population: str
    grouping: str
    dataset: str = Field(default="ADQS", pattern=_VAR)
    parameters: list[str] = Field(min_length=1)      # PARAMCDs, in the table's order
    visits: list[float] = Field(default_factory=list)   # AVISITN shown (empty: every one)
    analysis_flag: str | None = Field(default=None, pattern=_VAR)   # e.g. ANL01FL = 'Y' only


class AnalysisSettings(_Strict):
    title: str | None = None
    primary: list[str] = Field(default_factory=list)   # ids of primary-endpoint analyses (ARM)
    populations: dict[str, Population]
    groupings: dict[str, Grouping]
    demographics: list[Demographics] = Field(default_factory=list)
    response: list[ResponseTable] = Field(default_factory=list)
    simon: list[SimonAnalysis] = Field(default_factory=list)
    survival: list[SurvivalAnalysis] = Field(default_factory=list)
    safety: list[Safety] = Field(default_factory=list)
    exposure: list[Exposure] = Field(default_factory=list)
    disposition: list[Disposition] = Field(default_factory=list)
    tumour: list[Tumour] = Field(default_factory=list)
    change_from_baseline: list[ChangeFromBaseline] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> AnalysisSettings:
        ids: set[str] = set()
        for part in (*self.demographics, *self.response, *self.simon, *self.survival,
                     *self.safety, *self.exposure, *self.disposition, *self.tumour,
                     *self.change_from_baseline):
            if part.id in ids:
                raise ValueError(f"analysis id '{part.id}' is used twice")
            ids.add(part.id)
            if part.population not in self.populations:
                raise ValueError(f"{part.id}: population '{part.population}' is not defined "
                                 f"under populations ({', '.join(self.populations)})")
            names = [part.grouping] + ([part.figure_grouping] if isinstance(
                part, SurvivalAnalysis) and part.figure_grouping else [])
            for g in names:
                if g not in self.groupings:
                    raise ValueError(f"{part.id}: grouping '{g}' is not defined under "
                                     f"groupings ({', '.join(self.groupings)})")
        unknown = [p for p in self.primary if p not in ids]
        if unknown:
            raise ValueError(f"primary: {', '.join(unknown)} is not an analysis id")
        for s in self.simon:
            for key, d in [("design", s.design), *s.groups.items()]:
                given = [d.r1, d.n1, d.r, d.n]
                if any(v is not None for v in given) and any(v is None for v in given):
                    raise ValueError(f"{s.id} {key}: a given design needs r1, n1, r and n")
            d = s.design
            if d.r1 is None and None in (d.p0, d.p1, d.alpha, d.beta):
                raise ValueError(f"{s.id}: design needs p0, p1, alpha, beta (or r1, n1, r, n)")
        return self


def load_analysis_settings(study_dir: Path | str) -> AnalysisSettings | None:
    """The study's analysis.yaml, or None when it has none (no report)."""
    path = Path(study_dir) / FILE_NAME
    if not path.is_file():
        return None
    return load_model(path, AnalysisSettings)


def safe_id(text: str) -> str:
    """A file-name-safe id."""
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "x"
