"""Value-level codelists (checks/value_level.py): RSSTRESC by RSTESTCD, findings by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.checks.facts import facts_cache
from cdiscmap.checks.value_level import ValueRule, check_value_rules

RULE = ValueRule(variable="RSSTRESC", where_variable="RSTESTCD", where_values=("OVRLRESP",),
                 codelist="OVRLRESP", allowed=frozenset({"CR", "PR", "SD", "PD", "NE"}),
                 extensible=False)


def frame(dtype: str) -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": pd.Series(["S1", "S1", "S2", "S2", "S3", "S3", "S4"], dtype=dtype),
        "RSTESTCD": pd.Series(["OVRLRESP", "TRGRESP", "OVRLRESP", "OVRLRESP", None,
                               "OVRLRESP", "OVRLRESP"], dtype=dtype),
        # row 2: "XX" is a target response (another where value): not checked; row 5: null
        # test code; row 6: null value; rows 3 and 7: "UNK" twice, row 4 "pr" (case counts)
        "RSSTRESC": pd.Series(["CR", "XX", "UNK", "pr", "XX", None, "UNK"], dtype=dtype),
        "_SRCFILE": "rs.xpt", "_SRCROW": range(1, 8)})


@pytest.mark.parametrize("dtype", ["string", "object"])
def test_values_outside_the_where_clause_codelist(dtype: str) -> None:
    with facts_cache():
        found = check_value_rules(frame(dtype), "RS", [RULE])
    assert [(f.rule, f.value, f.usubjid, f.source, f.count) for f in found] == [
        ("CMAP-SD0005", "UNK", "S2", "rs.xpt row 3", 2),
        ("CMAP-SD0005", "pr", "S2", "rs.xpt row 4", 1)]
    assert found[0].message.startswith("value not in codelist OVRLRESP for records with "
                                       "RSTESTCD in OVRLRESP")


def test_no_finding_when_every_selected_value_conforms() -> None:
    data = frame("string")
    data["RSSTRESC"] = pd.Series(["CR", "XX", "PR", "SD", "XX", None, "NE"], dtype="string")
    assert check_value_rules(data, "RS", [RULE]) == []
