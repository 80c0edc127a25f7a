"""Readers: each evaluator (``--EVAL``) and evaluator id (``--EVALID``) is its own RECIST series.

SDTMIG 3.4 TU/TR/RS carry the assessor in ``--EVAL`` (e.g. INVESTIGATOR, INDEPENDENT ASSESSOR)
and, when several people of one kind read the images, in ``--EVALID`` (e.g. RADIOLOGIST 1). Each
reader identifies, measures and judges the lesions on their own (RECIST 1.1 §4.2, §5.2 on
independent review), so a reader's lesions are never mixed with another's: the engine treats the
pair (subject, reader) as the unit every group operation is keyed on.

Reader label: ``--EVAL`` upper-cased (null = the settings' primary ``evaluator``), followed by
``/`` and ``--EVALID`` when that is filled: ``INDEPENDENT ASSESSOR/RADIOLOGIST 1``. A reader is
selected when its ``--EVAL`` is in ``settings.readers_wanted()`` (``*`` selects every one).

The split is done on integer codes; only when the kept rows hold more than one reader does the
subject key become ``USUBJID<SEP>reader`` (text work on the rows of multi-reader data only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.recist.lesions import text_codes

READER_SEP = "\x1e"
ALL = "*"


def reader_codes(frame: pd.DataFrame, prefix: str, default: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Integer reader code of every row and the label of each code (see the module docstring).

    Only the distinct (evaluator, evaluator id) pairs are turned into text, so a million rows
    cost two factorisations and no string work per row.
    """
    n = len(frame)
    if f"{prefix}EVAL" in frame.columns:
        e_codes, e_cats = text_codes(frame[f"{prefix}EVAL"], upper=True)
    else:
        e_codes, e_cats = np.full(n, -1, dtype=np.int64), np.array([], dtype=object)
    e_lab = np.append(e_cats, default).astype(object)
    e_codes = np.where(e_codes < 0, len(e_cats), e_codes)
    if f"{prefix}EVALID" in frame.columns:
        i_codes, i_cats = text_codes(frame[f"{prefix}EVALID"], upper=True)
    else:
        i_codes, i_cats = np.full(n, -1, dtype=np.int64), np.array([], dtype=object)
    i_lab = np.append(i_cats, None).astype(object)
    i_codes = np.where(i_codes < 0, len(i_cats), i_codes)
    pair = e_codes * (len(i_cats) + 1) + i_codes
    codes, uniq = pd.factorize(pair, sort=True)
    uniq = np.asarray(uniq, dtype=np.int64)
    e_u, i_u = uniq // (len(i_cats) + 1), uniq % (len(i_cats) + 1)
    labels = np.array([e_lab[e] if i_lab[i] is None else f"{e_lab[e]}/{i_lab[i]}"
                       for e, i in zip(e_u, i_u, strict=True)], dtype=object)
    return codes.astype(np.int64), labels


def reader_labels(frame: pd.DataFrame, prefix: str, default: str) -> np.ndarray:
    """Reader label of every row."""
    codes, labels = reader_codes(frame, prefix, default)
    return labels[codes] if len(codes) else np.array([], dtype=object)


def evaluator_of(labels: np.ndarray) -> np.ndarray:
    """The ``--EVAL`` part of reader labels (NaN for a label that is not text, as pandas'
    ``str.split`` gives it). Split per distinct label in Python: there are a handful, and
    the engine and the cross-check ask this several times a run (a Series and two string
    accessor calls each cost more than the labels)."""
    return np.array([label.split("/", 1)[0] if isinstance(label, str) else np.nan
                     for label in labels], dtype=object)


def _wanted_labels(labels: np.ndarray, wanted: tuple[str, ...]) -> np.ndarray:
    if ALL in wanted:
        return np.ones(len(labels), dtype=bool)
    return np.isin(evaluator_of(labels), list(wanted))


def split_readers(frames: list[tuple[pd.DataFrame, str]], default: str,
                  wanted: tuple[str, ...]) -> tuple[list[pd.DataFrame], list[str]]:
    """Keep the wanted readers' rows; with several readers, key subjects as ``USUBJID<SEP>reader``.

    ``frames``: (frame, variable prefix) pairs such as ``(tu, "TU")``. Returns the frames and the
    sorted reader labels found.
    """
    coded = [reader_codes(frame, prefix, default) for frame, prefix in frames]
    found_set: set[str] = set()
    for codes, labels in coded:
        used = np.zeros(len(labels), dtype=bool)
        used[codes] = True
        found_set.update(str(lab) for lab in labels[used & _wanted_labels(labels, wanted)])
    found = sorted(found_set)
    out = []
    for (frame, _), (codes, labels) in zip(frames, coded, strict=True):
        keep = _wanted_labels(labels, wanted)[codes] if len(codes) else np.zeros(0, dtype=bool)
        sub = frame.loc[keep] if not keep.all() else frame
        if len(found) > 1:
            sub = sub.copy()
            sub["USUBJID"] = (sub["USUBJID"].astype("string") + READER_SEP
                              + pd.array(labels[codes[keep]], dtype="string"))
        out.append(sub)
    return out, found


def _text(values: pd.Series) -> pd.arrays.StringArray:
    """``pd.array(values.to_numpy(dtype=object), dtype="string")``: a Python-backed
    ``string`` column's own array as it is (already that text), anything else converted."""
    if isinstance(values.array, pd.arrays.StringArray):
        return values.array
    return pd.array(values.to_numpy(dtype=object), dtype="string")


def join_readers(computed: pd.DataFrame, readers: list[str], default: str) -> pd.DataFrame:
    """Undo ``split_readers`` on the engine's output: USUBJID back, reader in EVALUATOR."""
    if len(readers) > 1 and len(computed):
        parts = computed["USUBJID"].astype("string").str.split(READER_SEP, n=1, expand=True)
        usubjid, reader = parts[0], parts[1]
    else:
        usubjid = computed["USUBJID"]
        reader = pd.Series([readers[0] if readers else default] * len(computed),
                           index=computed.index, dtype="string")
    out = computed.copy(deep=False)     # columns replaced and inserted, none written into
    # already text (the engine's output, the split's parts): kept as it is, no conversion
    out["USUBJID"] = _text(usubjid)
    out.insert(1, "EVALUATOR", _text(reader))
    return out
