"""Assemble the report of a study from its ADaM datasets and ``analysis.yaml``.

``build_report`` computes every table and figure (nothing is read but ADaM); ``write_report``
writes them into a flat ``report/`` folder: ``report.html`` (self-contained: tables as HTML,
figures as inline SVG), each table as ``<id>.csv`` and ``<id>.rtf``, each figure as
``<id>.png`` and ``<id>.svg``, and ``cells.json``: per table cell the ADaM dataset, PARAMCD,
population flag and filter used, with the numbers behind the text (traceability).
"""

from __future__ import annotations

import html
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cdiscmap.analysis import response, simon, survival
from cdiscmap.analysis.change import METHOD as CHANGE_METHOD
from cdiscmap.analysis.change import change_table
from cdiscmap.analysis.demographics import demographics_table
from cdiscmap.analysis.disposition import disposition_tables
from cdiscmap.analysis.exposure import exposure_table
from cdiscmap.analysis.figures import Figure, km_figure
from cdiscmap.analysis.groups import (
    filter_text,
    groups,
    population,
    population_text,
    remembered,
    report_scope,
)
from cdiscmap.analysis.safety import METHOD as SAFETY_METHOD
from cdiscmap.analysis.safety import safety_tables
from cdiscmap.analysis.settings import (
    AnalysisSettings,
    SimonAnalysis,
    SurvivalAnalysis,
    Tumour,
)
from cdiscmap.analysis.tables import Table, to_csv, to_html, to_rtf
from cdiscmap.analysis.text import as_dates
from cdiscmap.analysis.tumour import TumourData, _population_data, tumour_figures, tumour_tables
from cdiscmap.errors import InputDataError
from cdiscmap.forked import PeerChannel, collector_paused, shared_jobs

REPORT_SUFFIXES = (".html", ".csv", ".rtf", ".png", ".svg", ".json")
MAX_FIGURE_GROUPS = 8
# (analysis kind, its tables) of each analysis of a report, in order
TableParts = list[tuple[str, list[Table]]]
# an analysis's figures as a function of ``draw`` (all, none, or the ids it says yes to)
FigureSet = Callable[[bool | Callable[[str], bool]], list[Figure]]


@dataclass
class Report:
    studyid: str
    title: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    methods: dict[str, str] = field(default_factory=dict)
    # each table's RTF and its cells' entries of cells.json (:func:`cell_entries`) by table
    # id, made with the table by build_report's jobs; report_files makes any other
    rtf: dict[str, str] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)


def _need(adam: dict[str, pd.DataFrame], name: str, why: str) -> pd.DataFrame:
    if name not in adam:
        raise InputDataError(f"ADaM {name} not found ({why})")
    return adam[name]


def _response_table(adam: dict[str, pd.DataFrame], settings: AnalysisSettings, spec: Any
                    ) -> Table:
    adsl, adrs = adam["ADSL"], _need(adam, "ADRS", spec.id)
    pop = population(adsl, settings, spec.population)
    pct = f"{100 * spec.confidence:g}%"
    table = Table(spec.id, spec.title, ["Group", "N"] + [f"{e.label}, n/N (%) [{pct} CI]"
                                                         for e in spec.endpoints],
                  footnotes=[f"{pct} CI: {response.METHOD}.",
                             "Denominator: all subjects of the population in the group; a "
                             "subject without a record of the parameter is a non-responder."
                             if spec.denominator == "population" else
                             "Denominator: subjects of the population in the group with a "
                             "record of the parameter."]
                  + [f"{e.label}: ADRS PARAMCD = {e.paramcd}, AVALC in "
                     f"{', '.join(e.responders)}" for e in spec.endpoints],
                  source="Source: ADRS, ADSL; population "
                  + population_text(settings, spec.population))
    # each endpoint's responders and subjects with a record, once (not once per group)
    # as booleans over the population rows, looked up per group by its rows' positions in
    # pop (from their index labels: the groups are those of the report's population frame,
    # made once per report; a renumbered copy of pop was a new frame, grouped again)
    grps = groups(pop, settings, spec.grouping)
    if pop.index.is_unique:
        where = [pop.index.get_indexer(g.subjects.index) for g in grps]
    else:                       # labels that are not positions: groups of a renumbered copy
        pop = pop.reset_index(drop=True)
        grps = groups(pop, settings, spec.grouping)
        where = [g.subjects.index.to_numpy() for g in grps]
    ids = pop["USUBJID"].astype(str)
    param_rows = _param_rows(adrs)
    yes = [ids.isin(response.responder_ids(adrs, e.paramcd, e.responders,
                                           param_rows(e.paramcd))).to_numpy(bool)
           for e in spec.endpoints]
    recorded = [ids.isin(set(adrs["USUBJID"].iloc[param_rows(e.paramcd)].astype(str)))
                .to_numpy(bool) for e in spec.endpoints] \
        if spec.denominator == "records" else []
    for grp, at in zip(grps, where, strict=True):
        texts, traces = [grp.label, str(len(grp.subjects))], {}
        for i, e in enumerate(spec.endpoints):
            rows = at
            if spec.denominator == "records":
                rows = rows[recorded[i][rows]]
            hit = yes[i][rows]
            rate = response.exact_rate(int(hit.sum()), len(hit), spec.confidence)
            texts.append(rate.text())
            traces[i + 2] = {
                "dataset": "ADRS", "paramcd": e.paramcd, "population":
                    population_text(settings, spec.population),
                "filter": " and ".join(f for f in (filter_text(settings, spec.grouping, grp),
                                                   f"AVALC in ({', '.join(e.responders)})") if f),
                "group": grp.label, "x": rate.x, "n": rate.n, "estimate": rate.estimate,
                "lower": rate.lower, "upper": rate.upper, "method": "Clopper-Pearson exact"}
        table.add_row(texts, traces)
    return table


def _param_rows(adrs: pd.DataFrame) -> response.ParamRows:
    """The positions of each PARAMCD's ADRS records, from one factorisation per report (the
    response tables and the Simon table read the same parameters of the same frame)."""
    return remembered("response.param_rows", adrs, "", lambda: response.ParamRows(adrs))


def _parameters(spec: SimonAnalysis, value: str | None) -> dict[str, Any]:
    """The design parameters of a group: its own entries over the default design. A group
    that sets any of p0/p1/alpha/beta/kind searches its design (a default given design does
    not apply to it); one that sets r1/n1/r/n takes that design."""
    base = spec.design.model_dump(exclude_none=True)
    own = spec.groups.get(value or "")
    if own is None:
        return base
    mine = own.model_dump(exclude_none=True)
    if any(k in mine for k in ("p0", "p1", "alpha", "beta", "kind")) and "r1" not in mine:
        for k in ("r1", "n1", "r", "n"):
            base.pop(k, None)
    return {**base, **mine}


def _design_for(spec: SimonAnalysis, value: str | None) -> simon.SimonDesign:
    d = _parameters(spec, value)
    if "r1" in d:
        return simon.describe(d["r1"], d["n1"], d["r"], d["n"], d.get("p0", 1e-9),
                              d.get("p1", 1 - 1e-9), "given")
    optimal, minimax = simon.search(d["p0"], d["p1"], d["alpha"], d["beta"], spec.nmax)
    return minimax if d.get("kind") == "minimax" else optimal


def _simon_table(adam: dict[str, pd.DataFrame], settings: AnalysisSettings,
                 spec: SimonAnalysis) -> Table:
    adsl, adrs = adam["ADSL"], _need(adam, "ADRS", spec.id)
    if spec.order_by not in adsl.columns:
        raise InputDataError(f"ADSL has no {spec.order_by} (order_by of {spec.id})")
    pop = population(adsl, settings, spec.population)
    e = spec.endpoint
    table = Table(spec.id, spec.title,
                  ["Group", "p0 / p1", "alpha / beta", "Design", "r1/n1", "r/n", "EN(p0)",
                   "PET(p0)", "Evaluable", "Stage 1 responders", "Responders", "Stage",
                   "Decision"],
                  footnotes=[simon.METHOD + ".",
                             f"Response: ADRS PARAMCD = {e.paramcd}, AVALC in "
                             f"{', '.join(e.responders)}; subjects in accrual order of "
                             f"ADSL.{spec.order_by}; stage 1 = the first n1 of them.",
                             "Stop for futility when stage 1 has at most r1 responders; reject "
                             "H0 (p <= p0) when more than r of n respond."],
                  source="Source: ADRS, ADSL; population "
                  + population_text(settings, spec.population))
    # the two columns the accrual order needs (not every ADSL column, once per group)
    # the population in accrual order, its responders and its subject codes, once: a stable
    # sort of all rows restricted to a group's rows is the group's own stable sort, and a
    # group's rows are those whose code is one of its subjects' (no hashing of every USUBJID
    # and no sort per group)
    order = pd.DataFrame({"USUBJID": pop["USUBJID"],
                          "_order": as_dates(pop[spec.order_by])}).reset_index(drop=True)
    accrual = order.sort_values(["_order", "USUBJID"], kind="mergesort",
                                na_position="last").index.to_numpy()
    yes = response.responder_ids(adrs, e.paramcd, e.responders,      # once, not per group
                                 _param_rows(adrs)(e.paramcd))
    hits = order["USUBJID"].astype(str).isin(yes).to_numpy(dtype=bool)[accrual]
    codes, distinct = pd.factorize(pop["USUBJID"].astype("string"), use_na_sentinel=False)
    codes = codes[accrual]
    for grp in groups(pop, settings, spec.grouping):
        if grp.value is None:
            continue
        member = np.zeros(len(distinct), dtype=bool)
        found = distinct.get_indexer(grp.subjects.astype("string"))
        member[found[found >= 0]] = True
        hit = hits[member[codes]]
        design = _design_for(spec, grp.value)
        st = simon.status(design, hit)
        d = _parameters(spec, grp.value)
        p0, p1, a, b = d.get("p0"), d.get("p1"), d.get("alpha"), d.get("beta")
        trace = {"dataset": "ADRS", "paramcd": e.paramcd,
                 "population": population_text(settings, spec.population),
                 "filter": " and ".join(f for f in (filter_text(settings, spec.grouping, grp),
                                                    f"AVALC in ({', '.join(e.responders)})")
                                        if f),
                 "group": grp.label, "order_by": f"ADSL.{spec.order_by}",
                 "design": {"r1": design.r1, "n1": design.n1, "r": design.r, "n": design.n,
                            "kind": design.kind, "exact_alpha": design.alpha,
                            "exact_power": design.power}}
        table.add_row([grp.label, f"{p0:g} / {p1:g}" if p0 and p1 else "-",
                       f"{a:g} / {b:g}" if a and b else "-", design.kind,
                       f"{design.r1}/{design.n1}", f"{design.r}/{design.n}",
                       f"{design.en0:.1f}", f"{design.pet0:.2f}", str(len(hit)),
                       f"{st.x1}/{st.n1_seen}", f"{st.x}/{st.n_seen}", st.stage, st.decision],
                      {9: {**trace, "x": st.x1, "n": st.n1_seen},
                       10: {**trace, "x": st.x, "n": st.n_seen},
                       12: {**trace, "stage": st.stage, "decision": st.decision}})
    return table


def _fmt(v: float | None, digits: int = 1) -> str:
    return "NE" if v is None else f"{v:.{digits}f}"


def _pct(v: float | None) -> float | None:
    return None if v is None else 100 * v


class _KmFits:
    """KM fits of one endpoint's ADTTE records (indexed by USUBJID), once per set of
    subjects: the table's total group and the figure's group are the same subjects."""

    def __init__(self, by_subject: pd.DataFrame, landmarks: list[float], confidence: float
                 ) -> None:
        self.index = by_subject.index
        self.aval = pd.to_numeric(by_subject["AVAL"], errors="coerce").to_numpy(float)
        self.event = (pd.to_numeric(by_subject["CNSR"], errors="coerce") == 0).to_numpy(bool)
        self.landmarks, self.confidence = landmarks, confidence
        self.done: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray, survival.KmSummary]] = {}

    def __call__(self, subjects: pd.Series
                 ) -> tuple[np.ndarray, np.ndarray, survival.KmSummary]:
        key = tuple(subjects.tolist())
        if key not in self.done:
            sel = self.index.isin(subjects)
            t, ev = self.aval[sel], self.event[sel]
            keep = np.isfinite(t)
            self.done[key] = (t[keep], ev[keep], survival.kaplan_meier(
                t[keep], ev[keep], self.landmarks, self.confidence))
        return self.done[key]


def _endpoint_fits(adtte: pd.DataFrame, pop: pd.DataFrame, spec: SurvivalAnalysis
                   ) -> list[tuple[str, str, _KmFits]]:
    """(PARAMCD, PARAM, KM fits of the population's records) of each endpoint with records;
    once per report (:func:`groups.report_scope`): the KM table and the KM figures, made by
    one process, read the same records and fit the whole population's curve alike."""
    return remembered("survival.fits", adtte, spec.id,
                      lambda: list(_each_endpoint_fits(adtte, pop, spec)))


def _each_endpoint_fits(adtte: pd.DataFrame, pop: pd.DataFrame, spec: SurvivalAnalysis
                        ) -> Iterator[tuple[str, str, _KmFits]]:
    for paramcd in spec.endpoints:
        recs = adtte.loc[adtte["PARAMCD"].astype("string") == paramcd]
        if recs.empty:
            continue
        param = str(recs["PARAM"].iloc[0]) if "PARAM" in recs.columns else paramcd
        recs = recs.loc[recs["USUBJID"].astype("string").isin(pop["USUBJID"].astype("string"))]
        by_subject = recs.set_index(recs["USUBJID"].astype("string"))
        yield paramcd, param, _KmFits(by_subject, spec.landmarks_months, spec.confidence)


def _survival(adam: dict[str, pd.DataFrame], settings: AnalysisSettings,
              spec: SurvivalAnalysis) -> list[Table]:
    """The KM table and the table of comparisons (when groups are compared); the figures are
    :func:`_survival_figures`."""
    adsl, adtte = adam["ADSL"], _need(adam, "ADTTE", spec.id)
    pop = population(adsl, settings, spec.population)
    pct = f"{100 * spec.confidence:g}%"
    lms = spec.landmarks_months
    km_table = Table(f"{spec.id}_km", spec.title,
                     ["Endpoint", "Group", "N", "Events", "Censored",
                      f"Median, months ({pct} CI)"]
                     + [f"{m:g}-month rate, % ({pct} CI)" for m in lms],
                     footnotes=[survival.METHODS["km"] + ".",
                                "ADTTE AVAL in days (ADT - STARTDT + 1) / 30.4375 = months; "
                                "CNSR = 0 is an event. NE: not estimable.",
                                "Rate at a landmark beyond the longest follow-up: NE."],
                     source="Source: ADTTE, ADSL; population "
                     + population_text(settings, spec.population))
    cmp_table = Table(f"{spec.id}_compare", spec.title + ": comparison between groups",
                      ["Endpoint", "Comparison", "Log-rank chi-square", "p-value",
                       f"Hazard ratio ({pct} CI)"],
                      footnotes=[survival.METHODS["logrank"] + " (two-sided).",
                                 survival.METHODS["cox"] + "; HR < 1 favours the first group."],
                      source="Source: ADTTE, ADSL; population "
                      + population_text(settings, spec.population))
    grps = groups(pop, settings, spec.grouping)
    for paramcd, param, fit in _endpoint_fits(adtte, pop, spec):
        fits: dict[str, tuple[np.ndarray, np.ndarray, survival.KmSummary]] = {}
        for grp in grps:
            fits[grp.label] = fit(grp.subjects)
            km = fits[grp.label][2]
            trace = {"dataset": "ADTTE", "paramcd": paramcd,
                     "population": population_text(settings, spec.population),
                     "filter": filter_text(settings, spec.grouping, grp), "group": grp.label}
            texts = [f"{param} ({paramcd})", grp.label, str(km.n), str(km.events),
                     str(km.censored),
                     f"{_fmt(km.median)} ({_fmt(km.median_lower)}, {_fmt(km.median_upper)})"]
            traces = {2: {**trace, "n": km.n}, 3: {**trace, "events": km.events,
                                                    "filter_extra": "CNSR = 0"},
                      4: {**trace, "censored": km.censored},
                      5: {**trace, "median": km.median, "lower": km.median_lower,
                          "upper": km.median_upper}}
            for j, m in enumerate(lms):
                s, lo, hi = km.rates[m]
                texts.append(f"{_fmt(_pct(s))} ({_fmt(_pct(lo))}, {_fmt(_pct(hi))})")
                traces[6 + j] = {**trace, "landmark_months": m, "estimate": s,
                                 "lower": lo, "upper": hi}
            km_table.add_row(texts, traces)
        if spec.compare:
            labels = [g.label for g in grps if g.value is not None]
            values = [g.value for g in grps if g.value is not None]
            ref = spec.reference if spec.reference in values else (values[0] if values else None)
            if ref is not None:
                ref_label = labels[values.index(ref)]
                for label, value in zip(labels, values, strict=True):
                    if value == ref:
                        continue
                    tg, eg, _ = fits[label]
                    tr, er, _ = fits[ref_label]
                    if len(tg) == 0 or len(tr) == 0:
                        continue        # e.g. PFS after rechallenge: one arm only
                    c = survival.compare(tr, er, tg, eg, label, ref_label, spec.confidence)
                    trace = {"dataset": "ADTTE", "paramcd": paramcd,
                             "population": population_text(settings, spec.population),
                             "filter": f"{settings.groupings[spec.grouping].variable} in "
                                       f"('{value}', '{ref}')",
                             "chi2": c.chi2, "p_value": c.p_value, "hr": c.hr,
                             "lower": c.hr_lower, "upper": c.hr_upper}
                    cmp_table.add_row([f"{param} ({paramcd})", f"{label} vs {ref_label}",
                                       f"{c.chi2:.3f}", f"{c.p_value:.4f}",
                                       f"{_fmt(c.hr, 2)} ({_fmt(c.hr_lower, 2)}, "
                                       f"{_fmt(c.hr_upper, 2)})"],
                                      {2: trace, 3: trace, 4: trace})
    return [km_table] + ([cmp_table] if cmp_table.rows else [])


def _survival_figures(adam: dict[str, pd.DataFrame], settings: AnalysisSettings,
                      spec: SurvivalAnalysis, *, draw: bool | Callable[[str], bool] = True
                      ) -> list[Figure]:
    """A Kaplan-Meier figure per endpoint: a curve per group of the figure grouping (the
    whole population alone when it has more than MAX_FIGURE_GROUPS groups); ``draw=False``:
    ids, titles and sources alone (``draw`` a function of the figure id: those it says yes
    to)."""
    adsl, adtte = adam["ADSL"], _need(adam, "ADTTE", spec.id)
    pop = population(adsl, settings, spec.population)
    fig_groups = groups(pop, settings, spec.figure_grouping or spec.grouping)
    if sum(g.value is not None for g in fig_groups) > MAX_FIGURE_GROUPS:
        fig_groups = [g for g in fig_groups if g.value is None]
    figures = []
    for paramcd, param, fit in _endpoint_fits(adtte, pop, spec):
        fig_id, title = f"{spec.id}_{paramcd.lower()}_km", f"Kaplan-Meier: {param}"
        drawn = km_figure(fig_id, title, [(grp.label, fit(grp.subjects)[2])
                                          for grp in fig_groups]) \
            if (draw(fig_id) if callable(draw) else draw) else Figure(fig_id, title, b"", "")
        figures.append(replace(drawn, sources=(("ADSL", None), ("ADTTE", paramcd))))
    return figures


def build_report(adam: dict[str, pd.DataFrame], settings: AnalysisSettings, *,
                 draw: bool = True) -> Report:
    """Every table and figure analysis.yaml asks for, from the ADaM frames (by upper name).

    The tables (each analysis's, with their RTF) and the figures (each one) are jobs that
    need nothing from each other: this process and a forked child take them one at a time,
    the longest first (:data:`JOB_RANKS`, :data:`TABLE_RANKS`), whichever is free
    (:func:`cdiscmap.forked.shared_jobs`), so that both end within about one job of each
    other at every size and study; the report is assembled in its own order, so the bytes
    do not depend on who made what. matplotlib and scipy.special, which both need, are
    imported before the fork, and the tumour data and the figures' ids (with the KM fits
    behind them) made once, not in each process. Without a second CPU every job is made
    here, in the report's order (tables, then figures): the first error is that of a report
    made in one process. ``draw=False`` gives the figures' ids, titles and sources without
    images, for their metadata alone (ARM in ``cdiscmap define``): such a report is not to
    be written. Populations and groups are worked out once for the whole report
    (:func:`groups.report_scope`).
    """
    with report_scope():
        return _build_report(adam, settings, draw=draw)


def _build_report(adam: dict[str, pd.DataFrame], settings: AnalysisSettings, *,
                  draw: bool) -> Report:
    adam = {k.upper(): v for k, v in adam.items()}
    adsl = _need(adam, "ADSL", "populations and groups")
    if not draw:
        memo: dict[str, TumourData] = {}
        rep = _tables(adam, adsl, settings, memo=memo)
        rep.figures = _figures(adam, settings, draw=False, memo=memo)
        return rep
    drawing = bool(settings.survival or settings.tumour)
    if drawing:
        _drawing_imports()
    # the tumour data (the waterfall table and all three tumour figures read it) made once,
    # before the fork, not once in each process
    memo = _tumour_memo(adam, settings)
    tables = _table_makers(adam, adsl, settings, memo=memo)
    figures = [job for figure_set in _figure_sets(adam, settings, memo=memo)
               for job in _figure_jobs(figure_set)]
    jobs: list[Callable[[], Any]] = [partial(_table_job, make) for _, make in tables]
    jobs += [make for _, make in figures]
    ranks = [_job_rank(kind, TABLE_RANKS) + len(JOB_RANKS) + 1 for kind, _ in tables]
    ranks += [_job_rank(fig_id, JOB_RANKS) for fig_id, _ in figures]
    # no figure to draw: the tables alone are not worth a child
    made = shared_jobs(jobs, sorted(range(len(jobs)), key=ranks.__getitem__),
                       fork=None if drawing else False)
    rep = _report(adsl, settings, [(kind, made[i][0]) for i, (kind, _) in enumerate(tables)])
    for _, rtf, cells in made[:len(tables)]:
        rep.rtf.update(rtf)
        rep.cells.update(cells)
    rep.figures = [f for drawn in made[len(tables):] for f in drawn]
    return rep


# The order in which the report's jobs are taken, longest first: the figures by the end of
# their id (any other figure after these), then the tables by analysis kind (any other kind
# after these); the last jobs, small, even out the two processes' ends. Demo study, CPU-s in
# one process (min of 3; 100 / 1,000 / 10,000 subjects): swimmer 0.31 / 0.30 / 0.38, spider
# 0.13 / 0.16 / 0.48, each KM figure 0.10 / 0.11 / 0.15-0.18, waterfall 0.09 / 0.09 / 0.18;
# tables with their RTF: safety 0.024 / 0.037 / 0.155, response 0.013 / 0.023 / 0.073,
# survival 0.011 / 0.018 / 0.052, demographics 0.013 / 0.018 / 0.041, Simon 0.006 / 0.009 /
# 0.021, disposition 0.008 / 0.009 / 0.027, exposure 0.004 / 0.005 / 0.019, tumour 0.005 /
# 0.006 / 0.013.
JOB_RANKS = ("_swimmer", "_spider", "_km", "_waterfall")
TABLE_RANKS = ("safety", "response", "survival", "demographics", "disposition", "simon",
               "exposure", "tumour")


def _job_rank(name: str, ranks: tuple[str, ...]) -> int:
    """The place in ``ranks`` of the first entry that ``name`` ends with (after them: any
    other name)."""
    return next((i for i, end in enumerate(ranks) if name.endswith(end)), len(ranks))


def _table_job(make: Callable[[], list[Table]]
                     ) -> tuple[list[Table], dict[str, str], dict[str, str]]:
    """An analysis's tables, the RTF of each and its entries of cells.json, by table id
    (made by the process that made the tables, not at the end by the one that writes the
    files: 0.012 CPU-s of cells.json and 0.017 of RTF at 100 subjects)."""
    tables = make()
    return tables, {t.id: to_rtf(t) for t in tables}, \
        {t.id: cell_entries(t.cells()) for t in tables}


def _figure_jobs(figure_set: FigureSet) -> list[tuple[str, Callable[[], list[Figure]]]]:
    """(figure id, a job drawing it alone) of each figure of one analysis, the ids made here
    (without images). When they cannot be made, one job drawing every figure of the
    analysis: it raises the same error, in its place among the report's jobs."""
    try:
        ids = [f.id for f in figure_set(False)]
    except Exception:   # noqa: BLE001 - raised again by the job, in the report's order
        return [("", partial(figure_set, True))]
    return [(fig_id, partial(_one_figure, figure_set, fig_id)) for fig_id in ids]


def _one_figure(figure_set: FigureSet, fig_id: str) -> list[Figure]:
    """The figure ``fig_id`` of an analysis, drawn (the analysis's others without image)."""
    return [f for f in figure_set(lambda i: i == fig_id) if f.id == fig_id]


def _drawing_imports() -> None:
    """matplotlib (Agg) and scipy.special, imported once before the report forks (with the
    collector paused: :func:`cdiscmap.forked.collector_paused`; importing them makes
    ~100,000 long-lived objects and no garbage)."""
    with collector_paused():
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot  # noqa: F401
        import scipy.special  # noqa: F401


def prepare_report() -> None:
    """Import what making a report needs beyond what ``cdiscmap run`` imports anyway:
    matplotlib (Agg), scipy.special and scipy's brentq (of the Clopper-Pearson bounds, without
    the scipy.optimize package: :func:`response._brentq`), ≈0.35 CPU-s. For a process forked
    early in a run that makes the report later (:func:`report_peer`): there the imports take a
    core that is idle while the run loads its specs, instead of coming after ADaM, when the
    report is on the run's critical path."""
    _drawing_imports()
    with collector_paused():
        response._brentq()


def report_peer(channel: PeerChannel) -> None:
    """The work of a :class:`cdiscmap.forked.ForkedPeer` forked at the start of a run that
    will make a report: :func:`prepare_report` first (while the parent loads specs and
    maps), then it waits for ``(ADaM frames by name, AnalysisSettings)`` and answers
    ``(report files by name, Report)``, what ``pipeline.run.analysis_report`` returns but
    for what the files hold already (:func:`_metadata`). Anything but such a pair (the
    parent closed its end: no ADaM) ends it without a report; an error ends it without an
    answer, so that the parent makes the report itself and the error surfaces as in a serial
    run. What the imports made is frozen out of the
    collector's sight (``gc.freeze``) in this process of its own: the report's collections
    (and its tables' child, forked from it) then leave those objects alone."""
    with collector_paused(freeze=True):
        prepare_report()
    message = channel.recv()
    if not isinstance(message, tuple) or len(message) != 2:
        return
    adam, settings = message
    rep = build_report(adam, settings)
    channel.send((report_files(rep), _metadata(rep)))


def _metadata(rep: Report) -> Report:
    """``rep`` without what its files hold (the figures' images, the tables' RTF and cells'
    text): what the run's parent reads of the report process's Report is its metadata
    (ARM: :mod:`cdiscmap.analysis.arm`). Unpickling the images again there took 0.006 s of
    the parent's 0.0075 (100 subjects, min of 7), at the end of the run."""
    return replace(rep, figures=[replace(f, png=b"", svg="") for f in rep.figures],
                   rtf={}, cells={})


def _tumour_memo(adam: dict[str, pd.DataFrame], settings: AnalysisSettings
                 ) -> dict[str, TumourData]:
    """The tumour data of each ``tumour`` analysis by id (what :func:`_tables` and
    :func:`_figures` take as ``memo``). A spec whose data cannot be made is left out: its
    error then surfaces where a report made without this memo raises it (the same first
    error)."""
    memo: dict[str, TumourData] = {}
    for tu in settings.tumour:
        try:
            _population_data(adam, settings, tu, memo)
        except Exception:   # noqa: BLE001 - raised again, in order, by the tables/figures
            break
    return memo


def _figures(adam: dict[str, pd.DataFrame], settings: AnalysisSettings, *,
             draw: bool | Callable[[str], bool] = True,
             memo: dict[str, TumourData] | None = None) -> list[Figure]:
    """Every figure, in the report's order: Kaplan-Meier curves, then the tumour figures
    (``draw``: all, none, or those of the ids it says yes to)."""
    return [f for figure_set in _figure_sets(adam, settings, memo=memo)
            for f in figure_set(draw)]


def _figure_sets(adam: dict[str, pd.DataFrame], settings: AnalysisSettings, *,
                 memo: dict[str, TumourData] | None = None) -> list[FigureSet]:
    """The figures of each analysis that has any, in the report's order (see
    :data:`FigureSet`)."""
    sets: list[FigureSet] = [partial(_survival_set, adam, settings, s)
                             for s in settings.survival]
    sets += [partial(_tumour_set, adam, settings, tu, memo) for tu in settings.tumour]
    return sets


def _survival_set(adam: dict[str, pd.DataFrame], settings: AnalysisSettings,
                  spec: SurvivalAnalysis, draw: bool | Callable[[str], bool]) -> list[Figure]:
    return _survival_figures(adam, settings, spec, draw=draw)


def _tumour_set(adam: dict[str, pd.DataFrame], settings: AnalysisSettings, spec: Tumour,
                memo: dict[str, TumourData] | None, draw: bool | Callable[[str], bool]
                ) -> list[Figure]:
    return tumour_figures(adam, settings, spec, draw=draw, memo=memo)


def _tables(adam: dict[str, pd.DataFrame], adsl: pd.DataFrame, settings: AnalysisSettings,
            *, memo: dict[str, TumourData] | None = None) -> Report:
    """The report without its figures: every table and the methods."""
    return _report(adsl, settings, _table_parts(adam, adsl, settings, memo=memo))


def _table_parts(adam: dict[str, pd.DataFrame], adsl: pd.DataFrame,
                 settings: AnalysisSettings, *, memo: dict[str, TumourData] | None = None
                 ) -> TableParts:
    """(analysis kind, its tables) of each analysis in the report's order."""
    return [(kind, make()) for kind, make in _table_makers(adam, adsl, settings, memo=memo)]


def _table_makers(adam: dict[str, pd.DataFrame], adsl: pd.DataFrame,
                  settings: AnalysisSettings, *, memo: dict[str, TumourData] | None = None
                  ) -> list[tuple[str, Callable[[], list[Table]]]]:
    """(analysis kind, a function making its tables) of each analysis, in the report's
    order."""
    makers: list[tuple[str, Callable[[], list[Table]]]] = []
    for d in settings.demographics:
        makers.append(("demographics", lambda d=d: [demographics_table(adsl, settings, d)]))
    for r in settings.response:
        makers.append(("response", lambda r=r: [_response_table(adam, settings, r)]))
    for s in settings.simon:
        makers.append(("simon", lambda s=s: [_simon_table(adam, settings, s)]))
    for sv in settings.survival:
        makers.append(("survival", lambda sv=sv: _survival(adam, settings, sv)))
    for sa in settings.safety:
        makers.append(("safety", lambda sa=sa: safety_tables(adam, settings, sa)))
    for ex in settings.exposure:
        makers.append(("exposure", lambda ex=ex: [exposure_table(adam, settings, ex)]))
    for dp in settings.disposition:
        makers.append(("disposition", lambda dp=dp: disposition_tables(adam, settings, dp)))
    for ch in settings.change_from_baseline:
        makers.append(("change_from_baseline",
                       lambda ch=ch: [change_table(adam, settings, ch)]))
    for tu in settings.tumour:
        makers.append(("tumour", lambda tu=tu: tumour_tables(adam, settings, tu, memo=memo)))
    return makers


def _report(adsl: pd.DataFrame, settings: AnalysisSettings, parts: TableParts) -> Report:
    """The report of these tables (every part made), with the methods of its analyses."""
    studyid = str(adsl["STUDYID"].dropna().iloc[0]) if "STUDYID" in adsl.columns \
        and adsl["STUDYID"].notna().any() else "STUDY"
    rep = Report(studyid, settings.title or f"{studyid}: analysis report")
    for _, tables in parts:
        rep.tables += tables
    for kinds, (name, method) in (
            (settings.response, ("Response rates", response.METHOD)),
            (settings.simon, ("Two-stage designs", simon.METHOD)),
            (settings.survival, ("Time to event", "; ".join(survival.METHODS.values()))),
            (settings.safety, ("Safety", SAFETY_METHOD)),
            (settings.change_from_baseline, ("Change from baseline", CHANGE_METHOD)),
            (settings.tumour, ("Tumour figures", "Best % change of the target-lesion sum "
                               "(ADTR ANL02FL), lines at -30% / +20% (RECIST 1.1 §4.3.1)"))):
        if kinds:
            rep.methods[name] = method
    return rep


_CSS = ("body{font-family:'DejaVu Sans',Arial,sans-serif;font-size:13px;margin:2em;}"
        "table{border-collapse:collapse;margin:1em 0;}caption{font-weight:bold;text-align:left;"
        "padding:.3em 0;}th,td{border:1px solid #999;padding:3px 6px;text-align:center;}"
        "th[scope=row]{text-align:left;font-weight:normal;white-space:pre-wrap;}thead th{background:#eee;}"
        ".notes,.source{font-size:11px;color:#333;}figure{margin:1em 0;}")


def _inline_svg(svg: str) -> str:
    """The SVG element alone (no XML declaration or DOCTYPE) for inline HTML."""
    return svg[svg.index("<svg"):] if "<svg" in svg else svg


def render_html(rep: Report) -> str:
    esc = html.escape
    toc = "".join(f"<li><a href=\"#{esc(t.id)}\">{esc(t.title)}</a></li>" for t in rep.tables)
    toc += "".join(f"<li><a href=\"#{esc(f.id)}\">{esc(f.title)}</a></li>" for f in rep.figures)
    methods = "".join(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in rep.methods.items())
    tables = "\n".join(to_html(t) for t in rep.tables)
    figures = "\n".join(f"<figure id=\"{esc(f.id)}\">{_inline_svg(f.svg)}<figcaption>"
                        f"{esc(f.title)}</figcaption></figure>" for f in rep.figures)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(rep.title)}</title><style>{_CSS}</style></head><body>\n"
            f"<h1>{esc(rep.title)}</h1>\n<p>Study {esc(rep.studyid)}. Every number comes "
            f"from the ADaM datasets; cells.json names, per cell, the dataset, PARAMCD, "
            f"population flag and filter.</p>\n<h2>Contents</h2><ul>{toc}</ul>\n"
            f"<h2>Methods</h2><ul>{methods}</ul>\n<h2>Tables</h2>\n{tables}\n"
            f"<h2>Figures</h2>\n{figures}\n</body></html>\n")


def report_files(rep: Report) -> dict[str, bytes]:
    """File name → content of every report file (flat; names from the analysis ids)."""
    files: dict[str, bytes] = {"report.html": render_html(rep).encode("utf-8")}
    entries = []
    for t in rep.tables:
        files[f"{t.id}.csv"] = to_csv(t).encode("utf-8")
        files[f"{t.id}.rtf"] = (rep.rtf.get(t.id) or to_rtf(t)).encode("utf-8")
        entries.append(rep.cells[t.id] if t.id in rep.cells else cell_entries(t.cells()))
    for f in rep.figures:
        files[f"{f.id}.png"] = f.png
        files[f"{f.id}.svg"] = f.svg.encode("utf-8")
    files["cells.json"] = _cells_document(rep.studyid, entries).encode("utf-8")
    return files


# one level of cells.json's indentation; the separator of a cell's entries (3 levels in)
# and of the cells (2 levels in)
_INDENT = " "
_ENTRY = ",\n" + 3 * _INDENT
_NEXT_CELL = ",\n" + 2 * _INDENT
# the types of the values a cell written by json's C encoder may have (see cell_entries)
_SCALARS = frozenset({str, int, float, bool, type(None)})


def cells_json(studyid: str, cells: list[dict[str, Any]]) -> str:
    """cells.json: ``json.dumps({"studyid": studyid, "cells": cells}, indent=1,
    default=...) + "\\n"``, the same text (from :func:`cell_entries`)."""
    return _cells_document(studyid, [cell_entries(cells)])


def _cells_document(studyid: str, entries: list[str]) -> str:
    """cells.json from the :func:`cell_entries` of consecutive runs of its cells."""
    body = _NEXT_CELL.join(e for e in entries if e)
    return ("{\n" + _INDENT + '"studyid": ' + json.dumps(studyid, default=_json_default)
            + ",\n" + _INDENT + '"cells": '
            + ("[\n" + 2 * _INDENT + body + "\n" + _INDENT + "]" if body else "[]") + "\n}\n")


def cell_entries(cells: list[dict[str, Any]]) -> str:
    """The text of ``cells`` as items of cells.json's list (as ``json.dumps(indent=1)``
    writes them there, two levels in, separated by a comma and a newline; "" for none).

    The cells whose values are text, numbers, booleans or None (all but the Simon tables',
    ~5 %) are encoded by json's C encoder: Python 3.11 has none for ``indent``, and its
    pure-Python one took 0.010-0.012 CPU-s for the demo report's cells.json, this way
    0.006 (min / median of 15, 100 to 10,000 subjects: ~1,450 cells). The C encoder writes a run of such cells with ``_ENTRY`` between the entries of
    a cell and between cells: a newline occurs in JSON text only in separators (strings
    escape it), and the separator between two cells is the one preceded by ``}`` (a value
    never ends with it: a string ends with a quote) and followed by ``{`` (a key starts
    with a quote), replaced by the indented form. Any other cell (a list or dict in it, a
    value of another type, no entries) is encoded by ``json.dumps(indent=1)``, indented two
    levels."""
    flat = json.JSONEncoder(separators=(_ENTRY, ": "), default=_json_default).encode
    texts: list[str] = []
    for simple, run in itertools.groupby(cells, key=_flat_cell):
        if simple:
            text = flat(list(run))     # [{...}<_ENTRY>{...}]
            texts.append("{\n" + 3 * _INDENT + text[2:-2].replace(
                "}" + _ENTRY + "{", "\n" + 2 * _INDENT + "}" + _NEXT_CELL + "{\n"
                + 3 * _INDENT) + "\n" + 2 * _INDENT + "}")
        else:
            texts += [json.dumps(c, indent=1, default=_json_default).replace(
                "\n", "\n" + 2 * _INDENT) for c in run]
    return _NEXT_CELL.join(texts)


def _flat_cell(cell: dict[str, Any]) -> bool:
    """Whether a cell has entries, each of a type of :data:`_SCALARS` (see
    :func:`cell_entries`)."""
    return bool(cell) and _SCALARS.issuperset(map(type, cell.values()))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


def write_report(rep: Report, folder: Path) -> list[Path]:
    """Write the report files into ``folder`` (each atomically); returns their paths."""
    from cdiscmap.emit.atomic import atomic_write_many

    folder.mkdir(parents=True, exist_ok=True)
    return atomic_write_many(folder, dict(sorted(report_files(rep).items())))


def is_report_file(name: str) -> bool:
    """Whether a file name in ``report/`` is one this module writes (replaced on rerun)."""
    return bool(re.fullmatch(r"[a-z0-9_]+\.(html|csv|rtf|png|svg|json)", name))


def write_report_folder(rep: Report, folder: Path) -> list[Path]:
    """Publish ``folder`` (``<out>/<STUDYID>/report``) all or nothing: built in a staging
    folder, switched in one step (``emit.atomic.Staging``); files that are not the report's
    (a user's notes) are carried over, stale report files dropped."""
    from cdiscmap.emit.atomic import Staging

    with Staging(folder) as stage:
        write_report(rep, stage.folder)
        return stage.publish(is_report_file)


def report_command(study_dir: Path, adam_dir: Path, out_root: Path) -> list[Path]:
    """``cdiscmap report``: ADaM folder + the study's analysis.yaml → ``<out>/<STUDYID>/report/``."""
    from cdiscmap.analysis.settings import FILE_NAME, load_analysis_settings
    from cdiscmap.emit.paths import safe_child
    from cdiscmap.errors import SpecError, display_path

    settings = load_analysis_settings(study_dir)
    if settings is None:
        raise SpecError(f"{display_path(Path(study_dir) / FILE_NAME)} not found: the study "
                        f"has no analysis settings (docs/report.md)")
    rep = build_report(read_adam(adam_dir), settings)
    return write_report_folder(rep, safe_child(out_root, rep.studyid) / "report")


def read_adam(folder: Path) -> dict[str, pd.DataFrame]:
    """The ADaM datasets of ``folder`` by upper-case name, as the report uses them.

    XPT files are read with the vectorised reader and kept as it gives them (text trimmed,
    blanks <NA>; numbers float64; SAS dates datetime64, as in the frames ``cdiscmap run`` hands
    over in memory), not normalised to text like SDTM: turning every date into text row by row
    was a third of the reading time and the report parses dates anyway. Other formats
    (.csv, .parquet) are read as ``cdiscmap adam`` reads SDTM.
    """
    from cdiscmap.checks.read import SDTM_SUFFIXES, read_sdtm, read_xpt_dataset
    from cdiscmap.errors import display_path

    frames = read_sdtm(folder, lazy=True)       # the folder's checks: one file per dataset
    paths = {p.stem.strip().upper(): p for p in Path(folder).iterdir()
             if p.is_file() and p.suffix.lower() in SDTM_SUFFIXES}
    out: dict[str, pd.DataFrame] = {}
    for name in frames:
        path = paths[name]
        if path.suffix.lower() != ".xpt":
            out[name] = frames[name]
            continue
        try:
            frame = read_xpt_dataset(path, path.parent, path.parent, strip=True,
                                     lineage=False).frame
        except InputDataError as exc:    # the reader names the file alone: show the path
            text = str(exc)
            if text.startswith(path.name + ":"):
                text = display_path(path) + text[len(path.name):]
            raise InputDataError(text) from None
        out[name] = frame.rename(columns=lambda c: str(c).strip().upper())
    return out
