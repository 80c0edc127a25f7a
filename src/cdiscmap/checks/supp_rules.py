"""SUPP-- datasets point at their parent records: RDOMAIN, USUBJID, IDVAR and IDVARVAL.

SDTMIG 3.4 §8.4.1-8.4.2: a supplemental qualifier names its parent domain (RDOMAIN, which is
also the suffix of the SUPP-- dataset name) and, unless it qualifies the subject as a whole
(IDVAR null), the parent record by one of its variables (IDVAR, usually --SEQ) and that
variable's value (IDVARVAL). These rules check that the parent record exists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.checks.facts import text_facts
from cdiscmap.findings import Finding, Severity

RULES: dict[str, tuple[Severity, str]] = {
    "CMAP-SP0001": (Severity.ERROR, "SUPP-- record points to no parent record (RDOMAIN, USUBJID, "
                               "IDVAR, IDVARVAL; SDTMIG 3.4 §8.4.1)"),
    "CMAP-SP0002": (Severity.ERROR, "IDVAR names a variable the parent domain does not have"),
    "CMAP-SP0003": (Severity.ERROR, "RDOMAIN differs from the domain in the SUPP-- dataset name "
                               "(SDTMIG 3.4 §8.4.2)"),
    "CMAP-SP0004": (Severity.NOTICE, "The parent domain of a SUPP-- dataset is not in the folder: "
                                "its links are not checked"),
}


def _text(values: pd.Series) -> pd.Series:
    """Values as IDVARVAL writes them: whole numbers without ".0", trimmed text, null → NA;
    formatted once per distinct value (a --SEQ or date column repeats its values)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    distinct = _text_distinct(pd.Series(uniques, dtype=values.dtype))
    return pd.Series(distinct.array.take(codes, allow_fill=True), index=values.index)


def _text_distinct(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.astype("float64")
        whole = numbers.notna() & (numbers == np.floor(numbers))
        text = numbers.astype("string")
        text[whole] = numbers[whole].astype("int64").astype("string")
        return text
    return values.astype("string").str.strip()


def _source(frame: pd.DataFrame) -> pd.Series:
    if "_SRCFILE" in frame.columns and "_SRCROW" in frame.columns:
        return frame["_SRCFILE"].astype("string") + " row " + frame["_SRCROW"].astype("string")
    return pd.Series("", index=frame.index, dtype="string")


def _per_record(rule: str, dataset: str, variable: str, bad: pd.DataFrame, values: pd.Series,
                message: str) -> list[Finding]:
    if bad.empty:
        return []
    severity = RULES[rule][0]
    subjects = bad["USUBJID"].astype("string").fillna("").tolist()
    shown = values.loc[bad.index].astype("string").fillna("").tolist()
    sources = _source(bad).fillna("").tolist()
    return [Finding(rule, severity, message, dataset, u, variable, v, s)
            for u, v, s in zip(subjects, shown, sources, strict=True)]


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: null) into the distinct values of a column: its text facts (known from
    the reader) when it is text, else its factorisation."""
    facts = text_facts(values) if isinstance(values.dtype, pd.StringDtype) else None
    if facts is not None:
        return facts.codes, facts.uniques
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, np.asarray(uniques)


def _linked(records: pd.DataFrame, parent: pd.DataFrame, idvar: str) -> np.ndarray:
    """Whether each SUPP-- record's (USUBJID, IDVARVAL) is a (USUBJID, ``idvar``) pair of a
    ``parent`` record, both sides as IDVARVAL writes values (:func:`_text`); null matches
    nothing. The parent's values are formatted and numbered once per distinct value and its
    pairs compared as integers (a merge on text hashes every parent record)."""
    subject_codes, subjects = _codes(parent["USUBJID"])
    subjects = pd.Series(subjects, dtype="string")
    subject_index = pd.Index(subjects.to_numpy(dtype=object, na_value=None), dtype=object)
    value_codes, values = _codes(parent[idvar])
    texts = _text_distinct(pd.Series(values, dtype=parent[idvar].dtype))
    text_codes, text_values = pd.factorize(texts, use_na_sentinel=True)   # 1.0 and 1 → "1"
    value_codes = np.append(text_codes, -1)[value_codes]
    wide = len(text_values) + 1
    valid = (subject_codes >= 0) & (value_codes >= 0)
    keys = pd.Index(pd.unique(subject_codes[valid].astype(np.int64) * wide
                              + value_codes[valid]))
    subject_at = subject_index.get_indexer(
        records["USUBJID"].astype("string").to_numpy(dtype=object, na_value=None))
    value_at = pd.Index(np.asarray(text_values, dtype=object), dtype=object).get_indexer(
        _text(records["IDVARVAL"]).to_numpy(dtype=object, na_value=None))
    probe = subject_at.astype(np.int64) * wide + value_at
    return (subject_at >= 0) & (value_at >= 0) & (keys.get_indexer(probe) >= 0)


def check_supp_links(domains: dict[str, pd.DataFrame],
                     supp: dict[str, pd.DataFrame]) -> list[Finding]:
    """Findings for SUPP-- records whose parent record cannot be found in ``domains``."""
    out: list[Finding] = []
    for name in sorted(supp):
        frame = supp[name]
        if not {"RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL"} <= set(frame.columns):
            continue                # missing Required variables: the schema check says so
        suffix = name[4:]
        rdomain = frame["RDOMAIN"].astype("string")
        wrong = frame[(rdomain != suffix).fillna(False).to_numpy()] if suffix else frame.iloc[:0]
        out += _per_record("CMAP-SP0003", name, "RDOMAIN", wrong, frame["RDOMAIN"],
                           f"RDOMAIN is not {suffix}, the domain {name} qualifies")
        groups = frame.assign(_RD=rdomain.fillna(""),
                              _IV=frame["IDVAR"].astype("string").fillna(""))
        for (parent_name, idvar), records in groups.groupby(["_RD", "_IV"], sort=True):
            parent = domains.get(str(parent_name))
            if parent is None:
                out.append(Finding("CMAP-SP0004", RULES["CMAP-SP0004"][0],
                                   f"{name} qualifies {parent_name or '(no RDOMAIN)'}, which is "
                                   "not in the folder", name, variable="RDOMAIN",
                                   value=str(parent_name), count=len(records)))
                continue
            out += _check_group(name, str(parent_name), str(idvar), records, parent)
    return out


def _check_group(name: str, parent_name: str, idvar: str, records: pd.DataFrame,
                 parent: pd.DataFrame) -> list[Finding]:
    if "USUBJID" not in parent.columns:
        return []
    if not idvar:
        # Subject-level qualifier: the subject must have a record in the parent domain.
        known = records["USUBJID"].isin(parent["USUBJID"].dropna().unique())
        bad = records[~known.to_numpy()]
        return _per_record("CMAP-SP0001", name, "USUBJID", bad, bad["USUBJID"],
                           f"subject has no {parent_name} record")
    if idvar not in parent.columns:
        return _per_record("CMAP-SP0002", name, "IDVAR", records, records["IDVAR"],
                           f"{parent_name} has no variable {idvar}")
    bad = records[~_linked(records, parent, idvar)]
    return _per_record("CMAP-SP0001", name, "IDVARVAL", bad, bad["IDVARVAL"],
                       f"no {parent_name} record of this subject has {idvar} equal to IDVARVAL")


__all__ = ["RULES", "check_supp_links"]
