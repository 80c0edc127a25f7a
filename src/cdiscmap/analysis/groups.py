"""Analysis populations and groups from ADSL (shared by every analysis module)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdiscmap.analysis.settings import AnalysisSettings
from cdiscmap.analysis.text import clean_text
from cdiscmap.errors import InputDataError


@dataclass(frozen=True)
class Group:
    """One column/row group: its value of the grouping variable (None: all), label, subjects."""

    value: str | None
    label: str
    subjects: pd.Series     # USUBJID (string)


def population(adsl: pd.DataFrame, settings: AnalysisSettings, name: str) -> pd.DataFrame:
    """ADSL rows of the population ``name`` (its flag equal to its value)."""
    pop = settings.populations[name]
    if pop.flag not in adsl.columns:
        raise InputDataError(f"ADSL has no {pop.flag} (population '{name}' of analysis.yaml)")
    flag = clean_text(adsl[pop.flag])
    return adsl.loc[(flag == pop.value).fillna(False).to_numpy(dtype=bool)]


def population_text(settings: AnalysisSettings, name: str) -> str:
    pop = settings.populations[name]
    return f"ADSL.{pop.flag} = '{pop.value}'"


def groups(pop: pd.DataFrame, settings: AnalysisSettings, name: str) -> list[Group]:
    """The groups of ``pop`` by the grouping ``name``, in sorted value order, then the total."""
    g = settings.groupings[name]
    out: list[Group] = []
    if g.variable is not None:
        for var in (g.variable, g.label):
            if var is not None and var not in pop.columns:
                raise InputDataError(f"ADSL has no {var} (grouping '{name}' of analysis.yaml)")
        values = clean_text(pop[g.variable])
        labels = pop[g.label].astype("string") if g.label else values
        codes, uniques = values.factorize()         # one pass; missing values are -1
        ids = pop["USUBJID"].astype("string")
        for code, value in sorted(enumerate(uniques), key=lambda item: item[1]):
            mask = codes == code
            label = str(labels[mask].iloc[0]) if g.label else str(value)
            out.append(Group(str(value), label, ids[mask]))
    if g.total or g.variable is None:
        out.append(Group(None, g.total_label, pop["USUBJID"].astype("string")))
    return out


def filter_text(settings: AnalysisSettings, grouping: str, group: Group) -> str:
    g = settings.groupings[grouping]
    if group.value is None or g.variable is None:
        return ""
    return f"ADSL.{g.variable} = '{group.value}'"


class Membership:
    """The groups' subjects as integer codes, so that "how many of the group's subjects are
    among these USUBJIDs" (``group.subjects.isin(ids).sum()``) is an array lookup: ``isin`` on
    text hashes every id again for each group and each row of a table."""

    def __init__(self, grps: list[Group]) -> None:
        ids = pd.concat([g.subjects.astype("string") for g in grps], ignore_index=True)
        self.index = pd.Index(ids.dropna().unique())
        self.members = [self.codes(g.subjects) for g in grps]

    def codes(self, ids: pd.Series) -> np.ndarray:
        """Code of each id (-1: in no group, or missing)."""
        return self.index.get_indexer(ids.astype("string"))

    def counts(self, codes: np.ndarray) -> list[int]:
        """Per group, its subjects whose code is among ``codes``."""
        hit = np.zeros(len(self.index) + 1, dtype=bool)     # the last slot stands for -1
        hit[codes] = True
        hit[-1] = False
        return [int(hit[m].sum()) for m in self.members]
