"""What writing a dataset learnt about its columns, kept for the define.xml of the same frames.

Sizing a dataset for XPT v5 factorises every text column (codes per row into its distinct
values, the byte length of each). Define-XML asks the same questions of the same columns
(lengths, used terms, date precision, value-level subsets), so ``write_datasets`` leaves its
plans here and ``write_define`` in the same process takes them instead of factorising each
column again (about a CPU second at 10,000 subjects).

An entry is found by the frame's identity (held weakly: it goes when the frame goes) and a
column only while it still holds the very array that was written (its memory is kept, so its
address cannot be reused). As for an :class:`~cdiscmap.emit.xpt.XptPlan`, a frame must not be
changed in place between writing and define; a column replaced, or a frame of another length,
is simply factorised again.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdiscmap.checks.facts import TextFacts
from cdiscmap.emit.xpt import XptColumn, XptPlan

__all__ = ["forget", "recall_lengths", "recall_text_facts", "remember_plan", "series_by_name"]


@dataclass(frozen=True, eq=False)
class _Column:
    column: XptColumn           # as written: its type and declared length set its length
    values: object              # the column's values as written (kept alive: see module doc)
    codes: np.ndarray | None    # text: codes per row (-1 missing) into ``uniques``
    uniques: np.ndarray | None
    byte_lengths: np.ndarray | None


@dataclass(frozen=True, eq=False)
class _Written:
    frame: weakref.ref[pd.DataFrame]
    n_rows: int
    lengths: dict[str, int]
    columns: dict[str, _Column]


_WRITTEN: dict[int, _Written] = {}


def _values(series: pd.Series) -> object:
    """What holds a column's values: its pandas array (the same object on every access), or
    for a plain numpy column (whose ``.array`` is a new wrapper each time) the numpy view."""
    array = series.array
    if type(array) is pd.arrays.NumpyExtensionArray:
        return np.asarray(array)
    return array


def _is_text(series: pd.Series) -> bool:
    """The dtypes :func:`~cdiscmap.checks.facts.text_facts` factorises."""
    dtype = series.dtype
    return isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype)


def series_by_name(frame: pd.DataFrame) -> dict[str, pd.Series] | None:
    """Every column of ``frame`` by name, in one pass (None when a name occurs twice).

    ``frame[name]`` costs about 5 µs a call in pandas 2 (key checks, item cache); this, about
    2 µs a column. Writing and describing a 1,000-subject package asks for each of its ≈ 600
    columns several times (plan, remember, lengths, text facts, define values), so the
    lookups were ≈ 20 ms of a small run's serial tail. The Series differ from the frame's
    cached ones but hold the same arrays (what :func:`_same_values` compares)."""
    if not frame.columns.is_unique:
        return None
    return dict(frame.items())


def _column_of(frame: pd.DataFrame, columns: dict[str, pd.Series] | None, name: str
               ) -> pd.Series | None:
    """Column ``name`` of ``frame`` (``columns``: :func:`series_by_name` of it), or None when
    it is absent or occurs more than once."""
    if columns is not None:
        return columns.get(name)
    if name not in frame.columns:
        return None
    series = frame[name]
    return None if isinstance(series, pd.DataFrame) else series


def remember_plan(plan: XptPlan) -> None:
    """Keep what ``plan`` knows of its frame's columns until the frame is gone."""
    frame = plan.frame
    key = id(frame)
    columns: dict[str, _Column] = {}
    by_name = series_by_name(frame)
    for column_plan in plan.plans:
        name = column_plan.column.name
        series = _column_of(frame, by_name, name)
        if series is None:
            continue
        text = column_plan.uniques is not None and _is_text(series)
        columns[name] = _Column(column_plan.column, _values(series),
                                column_plan.codes if text else None,
                                column_plan.uniques if text else None,
                                column_plan.byte_lengths if text else None)
    if key not in _WRITTEN:
        weakref.finalize(frame, _WRITTEN.pop, key, None)
    _WRITTEN[key] = _Written(weakref.ref(frame), len(frame), plan.lengths, columns)


def _entry(frame: pd.DataFrame) -> _Written | None:
    entry = _WRITTEN.get(id(frame))
    if entry is None or entry.frame() is not frame or entry.n_rows != len(frame):
        return None
    return entry


def _same_values(column: _Column, series: pd.Series) -> bool:
    values, kept = _values(series), column.values
    if not isinstance(kept, np.ndarray):
        return values is kept
    return (isinstance(values, np.ndarray) and values.shape == kept.shape
            and values.dtype == kept.dtype
            and values.__array_interface__["data"][0] == kept.__array_interface__["data"][0])


def recall_lengths(frame: pd.DataFrame, columns: Sequence[XptColumn]) -> dict[str, int] | None:
    """The XPT lengths written for these columns of ``frame``, when all were written with the
    same type and declared length from the arrays the frame still holds; else None."""
    entry = _entry(frame)
    if entry is None:
        return None
    by_name = series_by_name(frame)
    for wanted in columns:
        name = wanted.name
        column = entry.columns.get(name)
        if column is None or name not in entry.lengths or \
                (column.column.type, column.column.length) != (wanted.type, wanted.length):
            return None
        series = _column_of(frame, by_name, name)
        if series is None or not _same_values(column, series):
            return None
    return {column.name: entry.lengths[column.name] for column in columns}


def recall_text_facts(frame: pd.DataFrame, name: str, series: pd.Series | None = None
                      ) -> TextFacts | None:
    """The text facts of a written text column (as ``text_facts`` would find them), else
    None. ``series``: the column, when the caller holds it already (``frame[name]``)."""
    entry = _entry(frame)
    column = entry.columns.get(name) if entry is not None else None
    if column is None or column.codes is None or column.uniques is None:
        return None
    if series is None:
        series = _column_of(frame, None, name)
    if series is None or not _is_text(series) or not _same_values(column, series):
        return None
    facts = TextFacts(column.codes, column.uniques)
    facts.__dict__["byte_lengths"] = column.byte_lengths      # the cached property, known
    return facts


def forget(frames: Iterable[pd.DataFrame]) -> None:
    """Drop what was kept for these frames (their define is written: about 40 MB of codes at
    10,000 subjects need not live as long as the frames)."""
    for frame in frames:
        entry = _entry(frame)
        if entry is not None:
            del _WRITTEN[id(frame)]
