"""Repeated notices fold into one per rule, dataset, variable and value (issue 10 §3: a
validation report should be read in a minute, not 1,216 rows for one Y/N value)."""

from __future__ import annotations

import pandas as pd

from cdiscmap.checks.plausibility import check_plausibility
from cdiscmap.findings import Severity
from cdiscmap.spec.models import PlausibilitySpec


def test_a_plausibility_rule_made_a_notice_is_one_finding_per_value() -> None:
    # 3 records dated 1850-01-01 and one 1860-06: a study that made CMAP-PL0001 a notice reads
    # two rows (count 3 and 1), not four; as an error (few records) each record is listed
    ae = pd.DataFrame({"USUBJID": pd.Series(["S-1", "S-2", "S-3", "S-4"], dtype="string"),
                       "AESTDTC": pd.Series(["1850-01-01", "1850-01-01", "1860-06",
                                             "1850-01-01"], dtype="string")})
    notice = PlausibilitySpec(severities={"CMAP-PL0001": "notice"})
    out = [f for f in check_plausibility({"AE": ae}, notice) if f.rule == "CMAP-PL0001"]
    assert [(f.severity, f.value, f.count, f.usubjid) for f in out] == [
        (Severity.NOTICE, "1850-01-01", 3, "S-1"), (Severity.NOTICE, "1860-06", 1, "S-3")]
    error = PlausibilitySpec(severities={"CMAP-PL0001": "error"})
    out = [f for f in check_plausibility({"AE": ae}, error) if f.rule == "CMAP-PL0001"]
    assert [(f.value, f.count, f.usubjid) for f in out] == [
        ("1850-01-01", 1, "S-1"), ("1850-01-01", 1, "S-2"), ("1860-06", 1, "S-3"),
        ("1850-01-01", 1, "S-4")]
