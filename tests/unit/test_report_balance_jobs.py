"""build_report's jobs: the order they are taken in (longest first), and the error a report
raises when several of its jobs fail: that of the first failing job in the report's order
(tables, then figures), as a report made in one process raises it, also when the figures are
taken first and the failing jobs are made by two processes."""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap import forked
from cdiscmap.analysis.report import JOB_RANKS, TABLE_RANKS, _job_rank, build_report
from cdiscmap.analysis.settings import AnalysisSettings
from cdiscmap.errors import InputDataError


def test_job_ranks_by_the_end_of_a_figure_id_or_the_kind_of_a_table() -> None:
    assert [_job_rank(i, JOB_RANKS) for i in ("f_t_swimmer", "f_t_spider", "t_tte_os_km",
                                              "f_t_waterfall", "f_other", "")] == \
        [0, 1, 2, 3, 4, 4]
    assert [_job_rank(k, TABLE_RANKS) for k in ("safety", "response", "tumour",
                                                "change_from_baseline")] == [0, 1, 7, 8]


SETTINGS = AnalysisSettings.model_validate({
    "populations": {"eff": {"flag": "EFFFL"}},
    "groupings": {"all": {}},
    "response": [{"id": "t_orr", "title": "ORR", "population": "eff", "grouping": "all",
                  "endpoints": [{"label": "ORR", "paramcd": "BOR",
                                 "responders": ["CR", "PR"]}]}],
    "survival": [{"id": "t_tte", "title": "OS", "population": "eff", "grouping": "all",
                  "endpoints": ["OS"]}],
})
ADSL = pd.DataFrame({"STUDYID": "T", "USUBJID": ["S1", "S2"], "EFFFL": "Y"})


@pytest.mark.parametrize("fork", [True, False])
def test_first_error_in_the_reports_order(monkeypatch: pytest.MonkeyPatch, fork: bool) -> None:
    # no ADRS (the response table, the report's first job) and no ADTTE (the survival table
    # and the KM figure, taken first): the response table's error, with or without a child
    monkeypatch.setattr(forked, "FORK_UNSAFE_MODULES", ())
    if not fork:
        monkeypatch.setattr(forked, "fork_usable", lambda: False)
    with pytest.raises(InputDataError, match=r"^ADaM ADRS not found \(t_orr\)$"):
        build_report({"ADSL": ADSL}, SETTINGS)
    # with ADRS, the survival table's (before the figure's, the same text)
    adrs = pd.DataFrame({"USUBJID": ["S1", "S2"], "PARAMCD": "BOR", "AVALC": ["PR", "SD"]})
    with pytest.raises(InputDataError, match=r"^ADaM ADTTE not found \(t_tte\)$"):
        build_report({"ADSL": ADSL, "ADRS": adrs}, SETTINGS)
