"""Exposure from ADEX: treatment duration, cumulative dose and dose intensity (mg and mg/m2),
relative dose intensity, summarised per group (n, mean (SD), median [min-max]).

The parameters are those ``cdiscmap.adam.adex`` derives (TRTDURD, CUMDOSE, CUMDOSBS, DOSEINT,
DOSINTBS, RDI; admiral ad_adex.R conventions); one record per subject and parameter. A
parameter absent from ADEX is left out of the table.
"""

from __future__ import annotations

import pandas as pd

from cdiscmap.analysis.demographics import _continuous
from cdiscmap.analysis.groups import filter_text, groups, population, population_text
from cdiscmap.analysis.settings import AnalysisSettings, Exposure
from cdiscmap.analysis.tables import Table
from cdiscmap.analysis.text import clean_text
from cdiscmap.errors import InputDataError


def exposure_table(adam: dict[str, pd.DataFrame], settings: AnalysisSettings,
                   spec: Exposure) -> Table:
    """Rows: the ADEX parameters (PARAM); columns: the groups."""
    if "ADEX" not in adam:
        raise InputDataError(f"ADaM ADEX not found ({spec.id})")
    adsl, adex = adam["ADSL"], adam["ADEX"]
    pop = population(adsl, settings, spec.population)
    grps = groups(pop, settings, spec.grouping)
    paramcd = clean_text(adex["PARAMCD"])
    table = Table(spec.id, spec.title, ["Parameter"] + [f"{g.label} (N={len(g.subjects)})"
                                                        for g in grps],
                  footnotes=["n; mean (SD); median [min-max] of ADEX AVAL per parameter, one "
                             "record per subject.",
                             "CUMDOSE/DOSEINT in mg (mg/m2 doses times body surface area); "
                             "CUMDOSBS/DOSINTBS in mg/m2; RDI = actual / planned cumulative "
                             "dose x 100."],
                  source="Source: ADEX, ADSL; population "
                  + population_text(settings, spec.population))
    for code in spec.parameters:
        recs = adex.loc[paramcd.eq(code).fillna(False).to_numpy(dtype=bool)]
        if recs.empty:
            continue
        label = str(recs["PARAM"].iloc[0]) if "PARAM" in recs.columns else code
        uid = recs["USUBJID"].astype("string")
        texts, traces = [f"{label} ({code})"], {}
        for gi, grp in enumerate(grps):
            sub = recs.loc[uid.isin(grp.subjects).fillna(False).to_numpy(dtype=bool)]
            texts.append(_continuous(sub["AVAL"]))
            values = pd.to_numeric(sub["AVAL"], errors="coerce").dropna()
            traces[gi + 1] = {"dataset": "ADEX", "paramcd": code,
                              "population": population_text(settings, spec.population),
                              "filter": filter_text(settings, spec.grouping, grp),
                              "group": grp.label, "n": int(len(values)),
                              "mean": float(values.mean()) if len(values) else None,
                              "median": float(values.median()) if len(values) else None}
        table.add_row(texts, traces)
    return table
