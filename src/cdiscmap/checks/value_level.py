"""Value-level codelist checks: a variable's codelist that depends on another variable
(RSSTRESC by RSTESTCD, DSDECOD by DSCAT), as in define.xml ValueListDefs.

The run takes the rules from the study's `value_level:` specs; `cdiscmap validate` takes them
from the package's define.xml. Either way the whole-variable codelist check is switched off for
those variables and each where-clause is checked on its own records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdiscmap.checks.facts import TextFacts, text_facts
from cdiscmap.findings import Finding, Severity


@dataclass(frozen=True)
class ValueRule:
    variable: str
    where_variable: str
    where_values: tuple[str, ...]       # records whose where_variable is one of these
    codelist: str                       # name shown in findings
    allowed: frozenset[str]
    extensible: bool


def check_value_rules(frame: pd.DataFrame, dataset: str, rules: list[ValueRule]
                      ) -> list[Finding]:
    """One finding per rule and value outside its codelist (CMAP-SD0005 non-extensible error,
    CMAP-SD0006 extensible notice), with the count, first subject and source."""
    out: list[Finding] = []
    for rule in rules:
        if rule.variable not in frame or rule.where_variable not in frame:
            continue
        where, coded = _facts(frame[rule.where_variable]), _facts(frame[rule.variable])
        if where is not None and coded is not None:
            # each distinct value tested once, the answers taken to the rows by their codes
            bad = pd.Series(where.isin(list(rule.where_values))
                            & coded.mask_of(~_isin(coded.uniques, rule.allowed)),
                            index=frame.index)
            if not bad.any():
                continue
            values = frame[rule.variable].astype("string")
        else:
            selected = frame[rule.where_variable].astype("string").isin(rule.where_values)
            values = frame[rule.variable].astype("string")
            bad = (selected & values.notna() & ~values.isin(rule.allowed)).fillna(False)
            if not bad.any():
                continue
        rule_id, severity = ("CMAP-SD0006", Severity.NOTICE) if rule.extensible else \
            ("CMAP-SD0005", Severity.ERROR)
        table = pd.DataFrame({"v": values[bad]})
        table["u"] = frame.loc[bad, "USUBJID"].astype(str) if "USUBJID" in frame else ""
        if "_SRCFILE" in frame:
            table["s"] = (frame.loc[bad, "_SRCFILE"].astype(str) + " row "
                          + frame.loc[bad, "_SRCROW"].astype(str))
        else:
            table["s"] = ""
        where = f"{rule.where_variable} in {', '.join(rule.where_values)}"
        for value, group in table.groupby("v", sort=True):
            first = group.iloc[0]
            out.append(Finding(rule_id, severity,
                               f"value not in codelist {rule.codelist} for records with "
                               f"{where} (value-level metadata)", dataset, str(first["u"]),
                               rule.variable, str(value), str(first["s"]), len(group)))
    return out


def _facts(series: pd.Series) -> TextFacts | None:
    """A "string" column's text facts (shared with the schema checks), else None."""
    return text_facts(series) if isinstance(series.dtype, pd.StringDtype) else None


def _isin(uniques: np.ndarray, allowed: frozenset[str]) -> np.ndarray:
    """Which distinct values (str, text facts') are in ``allowed``, as "string" ``isin``
    tests them (str equality): a set lookup each, with no "string" Series and hash table of
    the codelist per rule."""
    return np.fromiter(map(allowed.__contains__, uniques), dtype=bool, count=len(uniques))
