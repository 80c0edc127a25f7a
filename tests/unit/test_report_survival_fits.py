"""The KM table and the KM figures of one report share their endpoints' records and fits."""

from __future__ import annotations

import pandas as pd

from cdiscmap.analysis import report
from cdiscmap.analysis.groups import population, report_scope
from cdiscmap.analysis.settings import AnalysisSettings

SETTINGS = AnalysisSettings.model_validate({
    "populations": {"itt": {"flag": "ITTFL"}},
    "groupings": {"arm": {"variable": "ARMCD"}, "all": {}},
    "survival": [{"id": "t_tte", "title": "PFS", "population": "itt", "grouping": "arm",
                  "figure_grouping": "all", "endpoints": ["PFS", "OS"],
                  "landmarks_months": [6]}]})
ADSL = pd.DataFrame({"STUDYID": "T", "USUBJID": ["S-1", "S-2", "S-3", "S-4"],
                     "ITTFL": ["Y", "Y", "Y", "N"], "ARMCD": ["A", "A", "B", "B"]})
# PFS only (OS has no records: no fit, no figure); S-4 is outside the population
ADTTE = pd.DataFrame({"STUDYID": "T", "USUBJID": ["S-1", "S-2", "S-3", "S-4"],
                      "PARAMCD": "PFS", "PARAM": "Progression-free survival",
                      "AVAL": [100.0, 200.0, 300.0, 50.0], "CNSR": [0, 1, 0, 0]})


def test_km_fits_are_made_once_per_report_and_anew_outside_one() -> None:
    spec = SETTINGS.survival[0]
    pop = population(ADSL, SETTINGS, spec.population)
    with report_scope():
        first = report._endpoint_fits(ADTTE, pop, spec)
        assert report._endpoint_fits(ADTTE, pop, spec) is first
        assert [(p, name) for p, name, _ in first] == [("PFS", "Progression-free survival")]
        fit = first[0][2]
        whole = fit(pop["USUBJID"].astype("string"))
        assert fit(pop["USUBJID"].astype("string")) is whole      # the total's curve once
        # 3 subjects of the population: events at 100 and 300 days, 200 censored
        km = whole[2]
        assert (km.n, km.events, km.censored) == (3, 2, 1)
    assert report._endpoint_fits(ADTTE, pop, spec) is not report._endpoint_fits(ADTTE, pop, spec)
