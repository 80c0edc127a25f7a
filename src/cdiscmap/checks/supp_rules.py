"""SUPP-- datasets point at their parent records: RDOMAIN, USUBJID, IDVAR and IDVARVAL.

SDTMIG 3.4 §8.4.1-8.4.2: a supplemental qualifier names its parent domain (RDOMAIN, which is
also the suffix of the SUPP-- dataset name) and, unless it qualifies the subject as a whole
(IDVAR null), the parent record by one of its variables (IDVAR, usually --SEQ) and that
variable's value (IDVARVAL). These rules check that the parent record exists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
    keys = pd.DataFrame({"USUBJID": parent["USUBJID"].astype("string"),
                         "IDVARVAL": _text(parent[idvar])}).dropna().drop_duplicates()
    probe = pd.DataFrame({"USUBJID": records["USUBJID"].astype("string"),
                          "IDVARVAL": _text(records["IDVARVAL"])}, index=records.index)
    found = probe.merge(keys.assign(_ok=True), on=["USUBJID", "IDVARVAL"], how="left")
    bad = records[found["_ok"].isna().to_numpy()]
    return _per_record("CMAP-SP0001", name, "IDVARVAL", bad, bad["IDVARVAL"],
                       f"no {parent_name} record of this subject has {idvar} equal to IDVARVAL")


__all__ = ["RULES", "check_supp_links"]
