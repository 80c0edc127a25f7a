"""Timepoint responses of one TU/TR pair computed once per run, whoever asks first.

``cdiscmap run`` runs the RECIST engine on the mapped TU/TR in its RECIST step, and ADTR asks
the engine for the same timepoints (its target-lesion sums) on the same frames a few seconds
later — half a CPU-second at 10,000 subjects spent twice. Inside :func:`timepoints_memo` the
first result is kept and the second caller gets a copy of it. A result is reused only for the
very same TU and TR frame objects (held for as long as the memo is open, so their identity
cannot be taken by other frames), equal engine settings and the same re-baseline visits; the
frames must not be changed in place in between (the run only reads them). Outside the memo
every call computes, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd

from cdiscmap.recist.overall import Reasons, target_sums, timepoint_responses_deferred
from cdiscmap.recist.series import series_starts, split_series, unsplit_series
from cdiscmap.recist.settings import RecistSettings
from cdiscmap.sdtm.vectorize import memo_scope

_Key = tuple[int, int, RecistSettings, tuple[str, ...]]
_MEMO: ContextVar[dict[_Key, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame,
                                   Reasons]] | None] = ContextVar("recist_timepoints",
                                                                  default=None)


@contextmanager
def timepoints_memo() -> Iterator[None]:
    """Keep the timepoints computed inside the block for the same frames (nested use shares)."""
    with memo_scope(_MEMO):
        yield


def series_timepoints(tu: pd.DataFrame, tr: pd.DataFrame, settings: RecistSettings,
                      rebaseline_visits: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The re-baselined series starts of ``tu`` and the engine's timepoint responses
    (RECIST 1.1 §4.3-§4.4), each series compared with its own baseline and nadir, subjects'
    ids as in TU/TR. Each call gets its own copies: callers may add columns."""
    starts, computed, reasons = series_timepoints_deferred(tu, tr, settings, rebaseline_visits)
    computed["REASON"] = pd.array(reasons.at(np.arange(len(computed))), dtype="string")
    return starts, computed


def series_timepoints_deferred(tu: pd.DataFrame, tr: pd.DataFrame, settings: RecistSettings,
                               rebaseline_visits: list[str]
                               ) -> tuple[pd.DataFrame, pd.DataFrame, Reasons]:
    """:func:`series_timepoints` with REASON null and what it is made of
    (:func:`cdiscmap.recist.overall.timepoint_responses_deferred`: ``reasons.at(rows)`` is
    the REASON of those rows of the timepoints)."""
    memo = _MEMO.get()
    key = (id(tu), id(tr), settings, tuple(rebaseline_visits))
    if memo is not None and key in memo:
        starts, computed, _, _, reasons = memo[key]
        return starts.copy(), computed.copy(), reasons
    starts = series_starts(tu, rebaseline_visits)
    computed, reasons = timepoint_responses_deferred(split_series(tu, starts),
                                                     split_series(tr, starts), settings)
    computed = unsplit_series(computed)             # the same rows, in order
    if memo is not None:
        memo[key] = (starts, computed, tu, tr, reasons)   # the frames held: ids stay theirs
        return starts.copy(), computed.copy(), reasons
    return starts, computed, reasons


__all__ = ["series_timepoints", "series_timepoints_deferred", "timepoints_memo"]


def series_target_sums(tu: pd.DataFrame, tr: pd.DataFrame, settings: RecistSettings,
                       rebaseline_visits: list[str]) -> pd.DataFrame:
    """The target-lesion sums of :func:`series_timepoints` (``overall.SUM_COLUMNS`` and
    RECIST_SERIES; the same rows and values): a copy of the memo's timepoints when the run's
    RECIST step computed them for these frames, else the sums alone (``target_sums``: none of
    the response work ADTR does not read)."""
    memo = _MEMO.get()
    key = (id(tu), id(tr), settings, tuple(rebaseline_visits))
    if memo is not None and key in memo:
        return memo[key][1].copy()
    starts = series_starts(tu, rebaseline_visits)
    return unsplit_series(target_sums(split_series(tu, starts), split_series(tr, starts),
                                      settings))
