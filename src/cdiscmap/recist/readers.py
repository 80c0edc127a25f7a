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


def reader_labels(frame: pd.DataFrame, prefix: str, default: str) -> np.ndarray:
    """Reader label of every row (see the module docstring); vectorised over distinct values."""
    n = len(frame)
    if f"{prefix}EVAL" in frame.columns:
        codes, cats = text_codes(frame[f"{prefix}EVAL"], upper=True)
        eval_lab = np.append(cats, default).astype(object)[np.where(codes < 0, len(cats), codes)]
    else:
        eval_lab = np.full(n, default, dtype=object)
    if f"{prefix}EVALID" in frame.columns:
        id_codes, id_cats = text_codes(frame[f"{prefix}EVALID"], upper=True)
        if (id_codes >= 0).any():
            with_id = id_codes >= 0
            eval_lab = eval_lab.copy()
            eval_lab[with_id] = eval_lab[with_id] + "/" + id_cats[id_codes[with_id]]
    return eval_lab


def evaluator_of(labels: np.ndarray) -> np.ndarray:
    """The ``--EVAL`` part of reader labels."""
    return pd.Series(labels, dtype=object).str.split("/", n=1).str[0].to_numpy(dtype=object)


def wanted_mask(labels: np.ndarray, wanted: tuple[str, ...]) -> np.ndarray:
    """Rows whose evaluator is selected (``*`` selects all)."""
    if ALL in wanted:
        return np.ones(len(labels), dtype=bool)
    codes, uniques = pd.factorize(np.asarray(labels, dtype=object))
    keep = np.isin(evaluator_of(np.asarray(uniques, dtype=object)), list(wanted))
    return keep[codes] if len(codes) else np.zeros(0, dtype=bool)


def split_readers(frames: list[tuple[pd.DataFrame, str]], default: str,
                  wanted: tuple[str, ...]) -> tuple[list[pd.DataFrame], list[str]]:
    """Keep the wanted readers' rows; with several readers, key subjects as ``USUBJID<SEP>reader``.

    ``frames``: (frame, variable prefix) pairs such as ``(tu, "TU")``. Returns the frames and the
    sorted reader labels found.
    """
    labels = [reader_labels(frame, prefix, default) for frame, prefix in frames]
    keeps = [wanted_mask(lab, wanted) for lab in labels]
    found = sorted({str(x) for lab, keep in zip(labels, keeps, strict=True)
                    for x in pd.unique(lab[keep])})
    out = []
    for (frame, _), lab, keep in zip(frames, labels, keeps, strict=True):
        sub = frame.loc[keep] if not keep.all() else frame
        if len(found) > 1:
            sub = sub.copy()
            sub["USUBJID"] = (sub["USUBJID"].astype("string") + READER_SEP
                              + pd.array(lab[keep], dtype="string"))
        out.append(sub)
    return out, found


def join_readers(computed: pd.DataFrame, readers: list[str], default: str) -> pd.DataFrame:
    """Undo ``split_readers`` on the engine's output: USUBJID back, reader in EVALUATOR."""
    if len(readers) > 1 and len(computed):
        parts = computed["USUBJID"].astype("string").str.split(READER_SEP, n=1, expand=True)
        usubjid, reader = parts[0], parts[1]
    else:
        usubjid = computed["USUBJID"]
        reader = pd.Series([readers[0] if readers else default] * len(computed),
                           index=computed.index, dtype="string")
    out = computed.copy()
    out["USUBJID"] = pd.array(usubjid.to_numpy(dtype=object), dtype="string")
    out.insert(1, "EVALUATOR", pd.array(reader.to_numpy(dtype=object), dtype="string"))
    return out
