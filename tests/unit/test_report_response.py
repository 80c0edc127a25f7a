"""The response table (analysis.report._response_table) on hand-made ADSL/ADRS; the rates and
Clopper-Pearson bounds are worked out by hand: x/n with the exact 95% interval."""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.analysis.groups import report_scope
from cdiscmap.analysis.report import _response_table
from cdiscmap.analysis.settings import AnalysisSettings

SETTINGS = AnalysisSettings.model_validate({
    "populations": {"eff": {"flag": "EFFFL"}},
    "groupings": {"arm": {"variable": "ARMCD", "label": "ARM"}},
    "response": [{"id": "t_orr", "title": "ORR", "population": "eff", "grouping": "arm",
                  "endpoints": [{"label": "ORR", "paramcd": "BOR",
                                 "responders": ["CR", "PR"]}]}],
})
ADRS = pd.DataFrame({"USUBJID": ["S1", "S2", "S3", "S5", "S1"],
                     "PARAMCD": ["BOR", "BOR", "BOR", "BOR", "OVR"],
                     "AVALC": ["CR", "SD", " pd", "PR", "PR"]})
# arm A: S1 CR, S2 SD -> 1/2: 1 - sqrt(0.975) = 0.0126, sqrt(0.975) = 0.9874
# arm B: S3 PD, S4 no BOR record (a non-responder), S5 PR but not in EFFFL -> 0/2:
#   upper 1 - 0.025^(1/2) = 0.8419
# all: 1/4: lower 1 - 0.975^(1/4) = 0.0063; upper p with (1-p)^4 + 4p(1-p)^3 = 0.025: 0.8059
EXPECTED = [["Arm A", "2", "1/2 (50.0%) [1.3, 98.7]"],
            ["Arm B", "2", "0/2 (0.0%) [0.0, 84.2]"],
            ["All subjects", "4", "1/4 (25.0%) [0.6, 80.6]"]]


@pytest.mark.parametrize("index", [[10, 30, 20, 40, 50], [1, 1, 2, 2, 3]],
                         ids=["labels-not-positions", "repeated-labels"])
def test_response_rates_by_hand_whatever_the_adsl_index(index: list[int]) -> None:
    adsl = pd.DataFrame({"STUDYID": "T", "USUBJID": ["S1", "S2", "S3", "S4", "S5"],
                         "EFFFL": ["Y", "Y", "Y", "Y", "N"],
                         "ARMCD": ["A", "A", "B", "B", "B"],
                         "ARM": ["Arm A", "Arm A", "Arm B", "Arm B", "Arm B"]}, index=index)
    with report_scope():
        table = _response_table({"ADSL": adsl, "ADRS": ADRS}, SETTINGS, SETTINGS.response[0])
    assert table.rows == EXPECTED
    assert [(c["x"], c["n"]) for c in table.cells()] == [(1, 2), (0, 2), (1, 4)]
