"""Disposition from ADSL: end-of-study status (EOSSTT) and reasons for discontinuation
(DCSREAS) per group, and a CONSORT-style subject flow (CONSORT 2010 flow diagram: enrolment,
allocation, follow-up, analysis) whose boxes are ADSL conditions given in analysis.yaml.

The flow counts every ADSL row (a screen failure is in ADSL only when the study keeps one, so
"screened" is what ADSL holds); the status table counts the population.
"""

from __future__ import annotations

import pandas as pd

from cdiscmap.analysis.groups import filter_text, groups, population, population_text
from cdiscmap.analysis.safety import count_text
from cdiscmap.analysis.settings import AnalysisSettings, Disposition, FlowStep
from cdiscmap.analysis.tables import Table
from cdiscmap.analysis.text import clean_text
from cdiscmap.errors import InputDataError


def _text(adsl: pd.DataFrame, var: str, why: str) -> pd.Series:
    if var not in adsl.columns:
        raise InputDataError(f"ADSL has no {var} ({why})")
    return clean_text(adsl[var], upper=True)


def step_mask(adsl: pd.DataFrame, step: FlowStep, why: str) -> tuple[pd.Series, str]:
    """ADSL rows in a flow box and the condition as text."""
    mask = pd.Series(True, index=adsl.index)
    parts = []
    if step.flag is not None:
        mask &= _text(adsl, step.flag, why).eq(step.value.upper()).fillna(False)
        parts.append(f"ADSL.{step.flag} = '{step.value}'")
    if step.variable is not None:
        mask &= _text(adsl, step.variable, why).isin([v.upper() for v in step.values]) \
            .fillna(False)
        parts.append(f"ADSL.{step.variable} in ({', '.join(repr(v) for v in step.values)})")
    return mask.astype(bool), " and ".join(parts) or "every ADSL row"


def disposition_tables(adam: dict[str, pd.DataFrame], settings: AnalysisSettings,
                       spec: Disposition) -> list[Table]:
    """The status/reasons table and, when ``flow`` is given, the flow table."""
    adsl = adam["ADSL"]
    pop = population(adsl, settings, spec.population)
    grps = groups(pop, settings, spec.grouping)
    popt = population_text(settings, spec.population)
    status = _text(pop, "EOSSTT", spec.id)
    reason = _text(pop, "DCSREAS", spec.id) if "DCSREAS" in pop.columns else \
        pd.Series(pd.NA, index=pop.index, dtype="string")
    ids = pop["USUBJID"].astype("string")
    table = Table(spec.id, spec.title, ["Status / reason"] + [f"{g.label} (N={len(g.subjects)})"
                                                               for g in grps],
                  footnotes=["End-of-study status ADSL.EOSSTT; reasons for discontinuation "
                             "ADSL.DCSREAS (indented) of the discontinued subjects. Percentages "
                             "of the group's N."],
                  source="Source: ADSL; population " + popt)
    rows: list[tuple[str, pd.Series, str]] = []
    for st in sorted(status.dropna().unique()):
        is_st = status.eq(st).fillna(False)
        rows.append((str(st), is_st, f"ADSL.EOSSTT = '{st}'"))
        if st == "DISCONTINUED":
            for rs in sorted(reason[is_st].dropna().unique()):
                rows.append((f"    {rs}", is_st & reason.eq(rs).fillna(False),
                             f"ADSL.EOSSTT = '{st}' and ADSL.DCSREAS = '{rs}'"))
            no_reason = is_st & reason.isna()
            if no_reason.any():
                rows.append(("    (reason missing)", no_reason,
                             f"ADSL.EOSSTT = '{st}' and ADSL.DCSREAS missing"))
    for label, mask, filt in rows:
        hit = ids[mask.to_numpy(dtype=bool)]
        texts, traces = [label], {}
        for gi, grp in enumerate(grps):
            n, total = int(grp.subjects.isin(hit).sum()), len(grp.subjects)
            texts.append(count_text(n, total))
            traces[gi + 1] = {"dataset": "ADSL", "paramcd": None, "population": popt,
                              "filter": " and ".join(f for f in (filter_text(
                                  settings, spec.grouping, grp), filt) if f),
                              "group": grp.label, "n": n, "denominator": total}
        table.add_row(texts, traces)
    tables = [table]
    if spec.flow:
        tables.append(flow_table(adsl, settings, spec))
    return tables


def flow_table(adsl: pd.DataFrame, settings: AnalysisSettings, spec: Disposition) -> Table:
    """One row per flow box: subjects of every ADSL row meeting its condition, per group of
    the grouping variable (a subject without a value, e.g. not allocated, is in the total)."""
    everyone = groups(adsl, settings, spec.grouping)
    table = Table(f"{spec.id}_flow", spec.title + ": subject flow (CONSORT)",
                  ["Step"] + [g.label for g in everyone],
                  footnotes=["Subject flow after the CONSORT 2010 flow diagram; each step's "
                             "ADSL condition is in cells.json. Counts of ADSL rows (no "
                             "population restriction)."],
                  source="Source: ADSL")
    ids = adsl["USUBJID"].astype("string")
    for step in spec.flow:
        mask, cond = step_mask(adsl, step, f"flow step '{step.label}' of {spec.id}")
        hit = ids[mask.to_numpy(dtype=bool)]
        texts, traces = [step.label], {}
        for gi, grp in enumerate(everyone):
            n = int(grp.subjects.isin(hit).sum())
            texts.append(str(n))
            traces[gi + 1] = {"dataset": "ADSL", "paramcd": None, "population": None,
                              "filter": " and ".join(f for f in (filter_text(
                                  settings, spec.grouping, grp), cond) if f),
                              "group": grp.label, "n": n}
        table.add_row(texts, traces)
    return table
