"""Text rules applied to every SDTM dataset before checks: ASCII and the 200-byte limit.

FDA Study Data Technical Conformance Guide §3.3.x / SAS V5 transport: character values are
ASCII and at most 200 bytes. SDTMIG 3.4 §4.5.3.2: text longer than 200 characters keeps its
first 200 characters in the variable and the rest goes to SUPP-- as QNAM <VAR>1, <VAR>2, ...
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import numpy as np
import pandas as pd

from cdiscmap.errors import InputDataError
from cdiscmap.findings import Finding, Findings, Severity
from cdiscmap.sdtm.vectorize import coded, remembered_distinct

# Letters NFKD does not decompose into ASCII.
_SPECIAL = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o",
                          "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "‘": "'", "’": "'",
                          "“": '"', "”": '"', "–": "-", "—": "-", "µ": "u", "°": " deg",
                          "\u00a0": " "})

MAX_BYTES = 200
QNAM_LENGTH = 8     # SDTMIG 3.4 §8.4.1: QNAM is a SAS name of at most 8 characters


def _as_text(values: pd.Series) -> pd.Series:
    """The column as ``string`` (a ``string`` column itself, so its factorisation is shared)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python":
        return values
    return values.astype("string")


def _per_row(flags: list[bool], codes: np.ndarray, index: pd.Index) -> pd.Series:
    """A test of each distinct value (``flags``) on every row; null rows are False."""
    return pd.Series(np.append(np.array(flags, dtype=bool), False)[codes], index=index)


def transliterate(text: str) -> str:
    """Closest ASCII spelling: accents dropped, ligatures spelled out, others removed."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _with_rows_set(out: pd.DataFrame, frame: pd.DataFrame, col: str, rows: pd.Series,
                   values: pd.Series) -> pd.DataFrame:
    """``out`` (``frame`` itself until a first change) with ``values`` set on ``rows`` of
    ``col``: a shallow copy of ``frame`` whose changed column alone is a new array, so the
    other columns keep their arrays and the factorisations remembered for them
    (sdtm/vectorize.py), where a deep copy would have every later step hash them again."""
    if out is frame:
        out = frame.copy(deep=False)
    column = out[col].copy()
    column.loc[rows] = values
    out[col] = column
    return out


def _source(frame: pd.DataFrame, mask: pd.Series) -> pd.Series:
    if "_SRCFILE" in frame:
        return frame.loc[mask, "_SRCFILE"].astype(str) + " row " + \
            frame.loc[mask, "_SRCROW"].astype(str)
    return pd.Series("", index=frame.index[mask])


def enforce_ascii(frame: pd.DataFrame, dataset: str, policy: str,
                  findings: Findings) -> pd.DataFrame:
    """Transliterate non-ASCII text (finding CMAP-ASCII0001 per value) or stop, per study.yaml."""
    out = frame
    for col in frame.columns:
        if col.startswith("_") and not col.startswith("_SUPP_"):
            continue
        s = frame[col]
        if s.dtype.kind in "fiubmM":
            continue
        text = _as_text(s)
        codes, uniques = coded(text)
        if "".join(uniques).isascii():      # the usual case: one C pass over the values
            continue
        bad = _per_row([not u.isascii() for u in uniques], codes, frame.index)
        if not bad.any():
            continue
        values = text[bad]
        where = _source(frame, bad)
        usub = frame.loc[bad, "USUBJID"].astype(str) if "USUBJID" in frame else where
        if policy == "error":
            raise InputDataError(f"{dataset}.{col}: non-ASCII text {values.iloc[0]!r} at "
                                 f"{where.iloc[0]} (study.yaml non_ascii: error)")
        fixed = values.map(transliterate)          # only the few offending values
        out = _with_rows_set(out, frame, col, bad, fixed)
        for value, new, u, w in zip(values, fixed, usub, where, strict=True):
            findings.add(Finding("CMAP-ASCII0001", Severity.WARNING,
                                 f"non-ASCII text transliterated to '{new}'", dataset, u,
                                 col.removeprefix("_SUPP_"), value, w))
    return out


def _cut_between_words(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """First segment of at most 200 bytes, cut at the last blank (the blank itself is dropped,
    so segments rejoin with one space); a word longer than 200 is cut hard."""
    window = values.str.slice(0, MAX_BYTES + 1)
    blank = window.str.rfind(" ")
    fits = values.str.len() <= MAX_BYTES
    cut = blank.where((blank > 0) & ~fits, MAX_BYTES).astype("int64")
    head = pd.Series([v[:c] for v, c in zip(values, cut, strict=True)], index=values.index,
                     dtype="string")
    skip = (blank == cut) & ~fits
    tail = pd.Series([v[c + int(s):] for v, c, s in zip(values, cut, skip, strict=True)],
                     index=values.index, dtype="string")
    return head, tail


def cut_between_words(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """First segment of at most 200 characters and the rest, cut at the last blank (the one
    other modules use for numbered continuation columns, e.g. CO.COVAL1)."""
    return _cut_between_words(values)


def _check_parts(frame: pd.DataFrame, values: pd.Series, where: pd.Series, dataset: str,
                 col: str, max_parts: int) -> None:
    """Stop before splitting when a value needs more continuation QNAMs than fit in 8 characters.

    Each continuation holds at most 200 characters plus the one blank dropped at its cut, so a
    value longer than (parts + 1) · 201 characters cannot fit; shorter values are counted while
    cutting (a word longer than 200 is cut hard, so this bound is exact for the worst case only).
    """
    too_long = values.str.len() > (max_parts + 1) * (MAX_BYTES + 1)
    if too_long.any():
        first = too_long[too_long].index[0]
        raise InputDataError(f"{dataset}.{col}: text of {len(values[first])} "
                             f"characters at {where[first]} would need more than {max_parts} "
                             f"SUPP{dataset} continuation records ({col}1..{col}{max_parts}: "
                             f"QNAM is at most {QNAM_LENGTH} characters); check the raw file")


def split_long_text(frame: pd.DataFrame, dataset: str, char_variables: set[str], policy: str,
                    findings: Findings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut text over 200 bytes; the remainder becomes SUPP-- rows (QNAM VAR1, VAR2, ...).

    The continuation number is part of an 8-character QNAM, so a value may need at most
    VAR1..VAR99 (VAR1..VAR9 for a 7-character variable). A longer value is almost surely a
    raw-file problem (e.g. an unclosed quote swallowing rows), and would otherwise produce
    thousands of invalid QNAMs, so it stops the run naming the raw row and variable.
    """
    overflow = []
    out = frame
    for col in sorted(c for c in frame.columns if c in char_variables):
        text = _as_text(frame[col])
        codes, uniques = coded(text)
        if max(map(len, uniques), default=0) <= MAX_BYTES:     # the usual case, in C
            continue
        long = _per_row([len(u) > MAX_BYTES for u in uniques], codes, frame.index)
        if not long.any():
            continue
        where = _source(frame, long)
        if policy == "error":
            raise InputDataError(f"{dataset}.{col}: text longer than {MAX_BYTES} bytes at "
                                 f"{where.iloc[0]} (study.yaml long_text: error)")
        if len(col) > 7:
            raise InputDataError(f"{dataset}.{col}: text over {MAX_BYTES} bytes cannot go to "
                                 f"SUPP{dataset} because {col}1 would exceed 8 characters")
        values = text[long]
        max_parts = 10 ** (QNAM_LENGTH - len(col)) - 1
        _check_parts(frame, values, where, dataset, col, max_parts)
        head, rest = _cut_between_words(values)
        out = _with_rows_set(out, frame, col, long, head)
        k = 1
        while rest.notna().any() and (rest.str.len() > 0).any():
            has = (rest.str.len() > 0).fillna(False).astype(bool)
            chunk, rest = _cut_between_words(rest[has])
            if k > max_parts:
                first = chunk.index[0]
                raise InputDataError(f"{dataset}.{col}: text at {where[first]} would need more "
                                     f"than {max_parts} SUPP{dataset} continuation records "
                                     f"(QNAM is at most {QNAM_LENGTH} characters); check the "
                                     f"raw file")
            part = frame.loc[chunk.index]
            overflow.append(pd.DataFrame({
                "USUBJID": part["USUBJID"].astype("string"),
                f"{dataset}SEQ": part.get(f"{dataset}SEQ"),
                "QNAM": f"{col}{k}", "QLABEL": f"{col} continued ({k})"[:40],
                "QVAL": chunk, "QORIG": "CRF", "QEVAL": "",
                "_SRCFILE": part["_SRCFILE"], "_SRCROW": part["_SRCROW"]}))
            k += 1
        for u, w, v in zip(frame.loc[long, "USUBJID"].astype(str), where, values, strict=True):
            findings.add(Finding("CMAP-TXT0001", Severity.NOTICE,
                                 f"text over {MAX_BYTES} bytes: first {MAX_BYTES} kept, rest in "
                                 f"SUPP{dataset}", dataset, u, col, v[:60] + "...", w))
    if overflow:
        return out, pd.concat(overflow, ignore_index=True)
    return out, no_overflow()


def no_overflow() -> pd.DataFrame:
    """The SUPP-- continuation records of a dataset without text over 200 bytes (none)."""
    # a copy of one empty frame made once: building it costs ≈ 0.5 ms (a frame of 8 empty
    # object columns), once per domain of every run, nearly always this case
    return _NO_OVERFLOW.copy()


def plain_text(columns: Iterable[object]) -> bool:
    """Whether a dataset with these columns (text as ``string`` arrays, others as Series)
    is surely left as it is by :func:`enforce_ascii` and :func:`split_long_text`: every text
    column's remembered distinct values (a superset of its values) ASCII and at most 200
    characters, every other column numeric, boolean or datetime. False when unsure (a text
    column without remembered values): the rules then run. Both read every column of the
    dataset again, ≈ 10 µs a column even when, as nearly always, nothing is to be done."""
    for column in columns:
        if isinstance(column, pd.arrays.StringArray):
            distinct = remembered_distinct(column)
            if distinct is None or not "".join(distinct).isascii() or \
                    max(map(len, distinct), default=0) > MAX_BYTES:
                return False
        elif getattr(column, "dtype", None) is None or column.dtype.kind not in "fiubmM":
            return False
    return True


_NO_OVERFLOW = pd.DataFrame(columns=["USUBJID", "QNAM", "QLABEL", "QVAL", "QORIG", "QEVAL",
                                     "_SRCFILE", "_SRCROW"])
