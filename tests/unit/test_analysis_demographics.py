"""The demographics table on a hand-made ADSL: ages per unit (years and months apart, ICH E11
age classes), a missing age, text ages, categories; every expected cell worked out by hand."""

from __future__ import annotations

import pandas as pd

from cdiscmap.analysis.demographics import demographics_table
from cdiscmap.analysis.groups import report_scope
from cdiscmap.analysis.settings import AnalysisSettings

SETTINGS = AnalysisSettings.model_validate({
    "populations": {"itt": {"flag": "ITTFL"}},
    "groupings": {"arm": {"variable": "ARMCD"}},
    "demographics": [{"id": "t_dm", "title": "DM", "population": "itt", "grouping": "arm",
                      "categorical": ["SEX"]}],
})
ADSL = pd.DataFrame({
    "STUDYID": "T", "USUBJID": ["A-1", "A-2", "A-3", "A-4", "B-1", "B-2", "X-1"],
    "ITTFL": ["Y", "Y", "Y", "Y", "Y", "Y", "N"],
    "ARMCD": ["A", "A", "A", "A", "B", "B", "B"],
    # A-3's age is missing; B-2 is an infant (months); X-1 is not in the population
    "AGE": ["40", "60", None, "50", "30", "9", "99"],
    "AGEU": ["YEARS", "YEARS", "YEARS", "YEARS", "YEARS", "MONTHS", "YEARS"],
    "SEX": ["F", "M", "F", "F", "M", "F", "M"]}, index=[5, 3, 8, 1, 9, 2, 7])


def test_demographics_by_hand() -> None:
    with report_scope():
        table = demographics_table(ADSL, SETTINGS, SETTINGS.demographics[0])
    rows = {r[0]: r[1:] for r in table.rows}
    assert rows["N"] == ["4", "2", "6"]
    # years: A 40, 60, 50 (A-3 missing): mean 50, SD 10; B 30 alone; all 40, 60, 50, 30:
    # mean 45, SD sqrt((25 + 225 + 25 + 225) / 3) = 12.9, median 45
    assert rows["AGE (years)"] == ["n=3; mean 50.0 (SD 10.0); median 50.0 [40-60]",
                                   "n=1; mean 30.0 (SD -); median 30.0 [30-30]",
                                   "n=4; mean 45.0 (SD 12.9); median 45.0 [30-60]"]
    assert rows["AGE (months)"] == ["-", "n=1; mean 9.0 (SD -); median 9.0 [9-9]",
                                    "n=1; mean 9.0 (SD -); median 9.0 [9-9]"]
    assert rows["SEX: F"] == ["3 (75.0%)", "1 (50.0%)", "4 (66.7%)"]
    assert rows["SEX: M"] == ["1 (25.0%)", "1 (50.0%)", "2 (33.3%)"]
    # the trace counts the unit's subjects, the missing age included
    age = [c for c in table.cells() if c["row_label"] == "AGE (years)"]
    assert [c["n"] for c in age] == [4, 1, 5]
