"""Exposure from ADEX: treatment duration, cumulative dose and dose intensity (mg and mg/m2),
relative dose intensity, summarised per group (n, mean (SD), median [min-max]).

The parameters are those ``cdiscmap.adam.adex`` derives (TRTDURD, CUMDOSE, CUMDOSBS, DOSEINT,
DOSINTBS, RDI; admiral ad_adex.R conventions); one record per subject and parameter. A
parameter absent from ADEX is left out of the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.analysis.demographics import summary_text
from cdiscmap.analysis.groups import (
    Membership,
    filter_text,
    groups,
    population,
    population_text,
)
from cdiscmap.analysis.settings import AnalysisSettings, Exposure
from cdiscmap.analysis.tables import Table
from cdiscmap.analysis.text import CleanCodes
from cdiscmap.errors import InputDataError


def exposure_table(adam: dict[str, pd.DataFrame], settings: AnalysisSettings,
                   spec: Exposure) -> Table:
    """Rows: the ADEX parameters (PARAM); columns: the groups."""
    if "ADEX" not in adam:
        raise InputDataError(f"ADaM ADEX not found ({spec.id})")
    adsl, adex = adam["ADSL"], adam["ADEX"]
    pop = population(adsl, settings, spec.population)
    grps = groups(pop, settings, spec.grouping)
    # PARAMCD cleaned once (not a text comparison of every record per parameter), and the
    # three columns read taken per parameter (not every ADEX column)
    paramcd = CleanCodes(adex["PARAMCD"])
    used = adex[[c for c in ("USUBJID", "AVAL", "PARAM") if c in adex.columns]]
    table = Table(spec.id, spec.title, ["Parameter"] + [f"{g.label} (N={len(g.subjects)})"
                                                        for g in grps],
                  footnotes=["n; mean (SD); median [min-max] of ADEX AVAL per parameter, one "
                             "record per subject.",
                             "CUMDOSE/DOSEINT in mg (mg/m2 doses times body surface area); "
                             "CUMDOSBS/DOSINTBS in mg/m2; RDI = actual / planned cumulative "
                             "dose x 100."],
                  source="Source: ADEX, ADSL; population "
                  + population_text(settings, spec.population))
    # each group's subjects as integer codes, once: a parameter's records of a group are then
    # an array lookup of each record's code (not a hash of every record's USUBJID per group
    # and parameter, and a copy of every ADEX column per cell)
    member = Membership(grps)
    for code in spec.parameters:
        recs = used.iloc[paramcd.rows(code)]
        if recs.empty:
            continue
        label = str(recs["PARAM"].iloc[0]) if "PARAM" in recs.columns else code
        codes = member.codes(recs["USUBJID"])
        # AVAL as numbers once per parameter; a cell's values are its group's (numpy's mean
        # and median: the floats pandas' Series.mean/median give, without a Series per cell)
        aval = pd.to_numeric(recs["AVAL"], errors="coerce").to_numpy(dtype=float)
        found = ~np.isnan(aval)
        texts, traces = [f"{label} ({code})"], {}
        for gi, grp in enumerate(grps):
            values = aval[member.in_group(gi, codes) & found]
            texts.append(summary_text(values))
            traces[gi + 1] = {"dataset": "ADEX", "paramcd": code,
                              "population": population_text(settings, spec.population),
                              "filter": filter_text(settings, spec.grouping, grp),
                              "group": grp.label, "n": int(len(values)),
                              "mean": float(values.mean()) if len(values) else None,
                              "median": float(np.median(values)) if len(values) else None}
        table.add_row(texts, traces)
    return table
