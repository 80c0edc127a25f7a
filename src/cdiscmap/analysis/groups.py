"""Analysis populations and groups from ADSL (shared by every analysis module)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cdiscmap.analysis.settings import AnalysisSettings
from cdiscmap.analysis.text import clean_text
from cdiscmap.errors import InputDataError
from cdiscmap.sdtm.vectorize import memo_scope

# population() and groups() results of one report by (kind, id of the frame, name), each kept
# with the frame and settings it was made from (the frame held: its id is not reused meanwhile)
_REPORT: ContextVar[dict[tuple[str, int, str], tuple[Any, Any, Any]] | None] = \
    ContextVar("cdiscmap_report_groups", default=None)


@contextmanager
def report_scope() -> Iterator[None]:
    """Inside the block (one report), :func:`population` and :func:`groups` give the same
    result objects again for the same frame and name instead of recomputing them: a report
    asks for the same population and grouping in most of its tables and figures (about 20
    calls, 6 distinct). Callers only read the results. A forked child inherits the block."""
    with memo_scope(_REPORT):
        yield


def remembered(kind: str, frame: pd.DataFrame, name: str, make: Any) -> Any:
    """``make()`` once per :func:`report_scope` for this frame (by identity) and name, for
    results derived from a frame that more than one table reads (callers only read them);
    outside a report scope, ``make()`` each time."""
    return _remembered(kind, frame, name, None, make)


def _remembered(kind: str, frame: pd.DataFrame, name: str, settings: AnalysisSettings | None,
                make: Any) -> Any:
    memo = _REPORT.get()
    if memo is None:
        return make()
    key = (kind, id(frame), name)
    hit = memo.get(key)
    if hit is None or hit[0] is not frame or hit[1] is not settings:
        hit = memo[key] = (frame, settings, make())
    return hit[2]


@dataclass(frozen=True)
class Group:
    """One column/row group: its value of the grouping variable (None: all), label, subjects."""

    value: str | None
    label: str
    subjects: pd.Series     # USUBJID (string)


def population(adsl: pd.DataFrame, settings: AnalysisSettings, name: str) -> pd.DataFrame:
    """ADSL rows of the population ``name`` (its flag equal to its value); once per
    :func:`report_scope`."""
    return _remembered("population", adsl, name, settings,
                       lambda: _population(adsl, settings, name))


def _population(adsl: pd.DataFrame, settings: AnalysisSettings, name: str) -> pd.DataFrame:
    pop = settings.populations[name]
    if pop.flag not in adsl.columns:
        raise InputDataError(f"ADSL has no {pop.flag} (population '{name}' of analysis.yaml)")
    flag = clean_text(adsl[pop.flag])
    return adsl.loc[(flag == pop.value).fillna(False).to_numpy(dtype=bool)]


def population_text(settings: AnalysisSettings, name: str) -> str:
    pop = settings.populations[name]
    return f"ADSL.{pop.flag} = '{pop.value}'"


def groups(pop: pd.DataFrame, settings: AnalysisSettings, name: str) -> list[Group]:
    """The groups of ``pop`` by the grouping ``name``, in sorted value order, then the total;
    once per :func:`report_scope` (a new list of the same groups)."""
    return list(_remembered("groups", pop, name, settings,
                            lambda: _groups(pop, settings, name)))


def _groups(pop: pd.DataFrame, settings: AnalysisSettings, name: str) -> list[Group]:
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

    def in_group(self, i: int, codes: np.ndarray) -> np.ndarray:
        """Boolean per entry of ``codes``: the subject is one of group ``i``'s (-1: no)."""
        return self._flags(self.members[i])[codes]

    def counts(self, codes: np.ndarray) -> list[int]:
        """Per group, its subjects whose code is among ``codes``."""
        hit = self._flags(codes)
        return [int(hit[m].sum()) for m in self.members]

    def _flags(self, codes: np.ndarray) -> np.ndarray:
        """Boolean per subject code, True for ``codes``; its last slot, read by code -1,
        stays False."""
        hit = np.zeros(len(self.index) + 1, dtype=bool)
        hit[codes] = True
        hit[-1] = False
        return hit
