"""ADaM rules that look across records or datasets: ADSL subjects, parameters, traceability, TTE.

Findings about many records of one subject are folded into one finding per subject and rule
(``count`` says how many records), so a systematic error cannot bury the report.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cdiscmap.checks.facts import TextFacts, text_facts
from cdiscmap.checks.schema import table_fits
from cdiscmap.findings import Finding, Severity

RULES: dict[str, tuple[Severity, str]] = {
    "CMAP-AR0001": (Severity.ERROR, "ADSL has more than one record for a subject (ADaMIG 1.3 §3.2: "
                               "one record per subject)"),
    "CMAP-AR0002": (Severity.ERROR, "USUBJID of an ADaM dataset is not in ADSL"),
    "CMAP-AR0003": (Severity.ERROR, "SRCDOM/SRCSEQ point to no record of the source dataset "
                               "(ADaMIG 1.3 §3.3 datapoint traceability)"),
    "CMAP-AR0004": (Severity.NOTICE, "The dataset named in SRCDOM is not available: its SRCSEQ "
                                "links are not checked"),
    "CMAP-AR0005": (Severity.ERROR, "PARAMCD is longer than 8 characters or not a SAS name "
                               "(ADaMIG 1.3 §3.3, PARAMCD)"),
    "CMAP-AR0006": (Severity.ERROR, "A PARAMCD has more than one PARAM (ADaMIG 1.3 §3.3: one-to-one)"),
    "CMAP-AR0007": (Severity.ERROR, "A PARAM has more than one PARAMCD (ADaMIG 1.3 §3.3: one-to-one)"),
    "CMAP-AR0008": (Severity.ERROR, "CNSR is not a whole number 0, 1, 2, ... (ADaMIG 1.3 §3.3 "
                               "time-to-event: 0 = event, positive = censored)"),
    "CMAP-AR0009": (Severity.ERROR, "AVAL of a time-to-event record is negative"),
    "CMAP-AR0010": (Severity.WARNING, "ADaM datasets without ADSL: subjects cannot be checked "
                                 "against ADSL"),
}

# ADaMIG 1.3 §3.3, PARAMCD: at most 8 characters, a letter first, then letters, digits, "_".
_PARAMCD = re.compile(r"[A-Z][A-Z0-9_]{0,7}")


def _source(frame: pd.DataFrame) -> pd.Series:
    if "_SRCFILE" in frame.columns and "_SRCROW" in frame.columns:
        return frame["_SRCFILE"].astype("string") + " row " + frame["_SRCROW"].astype("string")
    return pd.Series("", index=frame.index, dtype="string")


def _by_subject(rule: str, dataset: str, variable: str, bad: pd.DataFrame,
                values: pd.Series, message: str) -> list[Finding]:
    """One finding per subject: its first offending record, and how many there are."""
    if bad.empty:
        return []
    subject = (bad["USUBJID"].astype("string").fillna("") if "USUBJID" in bad.columns
               else pd.Series("", index=bad.index, dtype="string"))
    table = pd.DataFrame({"u": subject, "v": values.loc[bad.index].astype("string").fillna(""),
                          "s": _source(bad).fillna("")})
    first = table.groupby("u", sort=True).agg(v=("v", "first"), s=("s", "first"),
                                              n=("v", "size"))
    severity = RULES[rule][0]
    return [Finding(rule, severity, message, dataset, str(u), variable, str(v), str(s), int(n))
            for u, v, s, n in first.itertuples(index=True)]


def _seq_variable(name: str) -> str:
    """The sequence variable of a dataset: --SEQ for SDTM domains, ASEQ for ADaM datasets."""
    return "ASEQ" if name.startswith("AD") else f"{name[:2]}SEQ"


def check_adam_cross(adam: dict[str, pd.DataFrame],
                     sources: dict[str, pd.DataFrame]) -> list[Finding]:
    """ADaM rules over the ADaM datasets; ``sources`` are the SDTM (and ADaM) datasets that
    SRCDOM may name."""
    out: list[Finding] = []
    adsl = adam.get("ADSL")
    if adsl is not None and "USUBJID" in adsl.columns:
        dup = adsl.duplicated("USUBJID", keep="first") & adsl["USUBJID"].notna()
        out += _by_subject("CMAP-AR0001", "ADSL", "USUBJID", adsl[dup], adsl["USUBJID"],
                           "subject has more than one ADSL record")
        subjects = adsl["USUBJID"].dropna().unique()
        for name in sorted(adam):
            frame = adam[name]
            if name == "ADSL" or "USUBJID" not in frame.columns:
                continue
            bad = frame[~_isin(frame["USUBJID"], subjects)]
            out += _by_subject("CMAP-AR0002", name, "USUBJID", bad, bad["USUBJID"],
                               "subject is not in ADSL")
    elif any(name != "ADSL" for name in adam):
        out.append(Finding("CMAP-AR0010", RULES["CMAP-AR0010"][0], "no ADSL among the ADaM datasets",
                           "ADSL", count=1))
    every = {**sources, **adam}
    for name in sorted(adam):
        frame = adam[name]
        out += _traceability(name, frame, every)
        out += _parameters(name, frame)
        if "CNSR" in frame.columns:
            out += _time_to_event(name, frame)
    return out


def _isin(values: pd.Series, allowed: np.ndarray) -> np.ndarray:
    """``values.isin(allowed)`` as an array, asked once per distinct value of a text column."""
    facts = text_facts(values)
    if facts is None:
        return values.isin(allowed).to_numpy()
    return facts.mask_of(pd.Series(facts.uniques, dtype=object).isin(allowed).to_numpy())


def _traceability(name: str, frame: pd.DataFrame, every: dict[str, pd.DataFrame]
                  ) -> list[Finding]:
    """CMAP-AR0003/CMAP-AR0004: every SRCDOM/SRCSEQ link names a record of the source.

    Subjects are matched by the codes of their distinct values and (subject, sequence) pairs
    as integers, not by a merge hashing every record's text; frames whose SRCDOM or USUBJID
    are not text take :func:`_traceability_rows`."""
    if not {"SRCDOM", "SRCSEQ", "USUBJID"} <= set(frame.columns):
        return []
    domains, subjects = text_facts(frame["SRCDOM"]), text_facts(frame["USUBJID"])
    if domains is None or subjects is None:
        return _traceability_rows(name, frame, every)
    linked = (domains.codes >= 0) & frame["SRCSEQ"].notna().to_numpy()
    present = np.unique(domains.codes[linked])
    out: list[Finding] = []
    for code in sorted(present.tolist(), key=lambda c: str(domains.uniques[c])):
        source_name = str(domains.uniques[code])
        rows = np.flatnonzero(linked & (domains.codes == code))
        seq = _seq_variable(source_name)
        source = every.get(source_name)
        unchecked = _unchecked_links(name, source_name, source, seq, len(rows))
        if unchecked is not None:
            out.append(unchecked)
            continue
        found = _links_found(source, seq, subjects, frame["SRCSEQ"], rows)
        if found is None:
            records = frame.iloc[rows]
            out += _unlinked(name, source_name, seq, source, records)
            continue
        if found.all():                 # every link found: nothing to show (no text made)
            continue
        bad = frame.iloc[rows[~found]]
        out += _by_subject("CMAP-AR0003", name, "SRCSEQ", bad, _whole(bad["SRCSEQ"]),
                           f"no {source_name} record of this subject has {seq} = SRCSEQ")
    return out


def _unchecked_links(name: str, source_name: str, source: pd.DataFrame | None, seq: str,
                     links: int) -> Finding | None:
    """CMAP-AR0004 when ``links`` records point at a SRCDOM that cannot be checked (absent,
    or without USUBJID or its --SEQ); None when the links can be checked."""
    if source is not None and seq in source.columns and "USUBJID" in source.columns:
        return None
    missing = "is not available" if source is None else f"has no {seq}"
    return Finding("CMAP-AR0004", RULES["CMAP-AR0004"][0],
                   f"SRCDOM {source_name} {missing}: {links} link(s) not checked", name,
                   variable="SRCSEQ", value=source_name, count=links)


def _links_found(source: pd.DataFrame, seq: str, subjects: TextFacts, srcseq: pd.Series,
                 rows: np.ndarray) -> np.ndarray | None:
    """For the records at ``rows``: whether the source has a record of the same subject with
    ``seq`` = SRCSEQ (nulls match nothing). None when the source's USUBJID is not text."""
    source_subjects = text_facts(source["USUBJID"])
    if source_subjects is None:
        return None
    source_seq = source[seq].astype("float64").to_numpy()
    usable = (source_subjects.codes >= 0) & ~np.isnan(source_seq)
    wanted = srcseq.astype("float64").to_numpy()[rows]
    # the records' subjects as codes of the source's (-1: null or not in the source)
    lookup = pd.Index(source_subjects.uniques).get_indexer(subjects.uniques)
    record_subject = np.append(lookup, -1)[subjects.codes[rows]].astype(np.int64)
    numbers, distinct = pd.factorize(np.concatenate([source_seq[usable], wanted]))
    size = max(len(distinct), 1)
    have = source_subjects.codes[usable].astype(np.int64) * size + numbers[:usable.sum()]
    asked = record_subject * size + numbers[usable.sum():]
    known = record_subject >= 0
    span = len(source_subjects.uniques) * size
    if table_fits(span, len(have) + len(asked)):
        # (subject, sequence) pairs marked in a table of flags: no hash of every pair
        table = np.zeros(max(span, 1), dtype=bool)     # (no subject: nothing is known)
        table[have] = True
        return known & table[np.where(known, asked, 0)]
    return known & pd.Series(asked, copy=False).isin(have).to_numpy()


def _traceability_rows(name: str, frame: pd.DataFrame, every: dict[str, pd.DataFrame]
                       ) -> list[Finding]:
    """:func:`_traceability` by merging records (SRCDOM or USUBJID not text)."""
    linked = frame[(frame["SRCDOM"].notna() & frame["SRCSEQ"].notna()).to_numpy()]
    out: list[Finding] = []
    for source_name, records in linked.groupby(linked["SRCDOM"].astype(str), sort=True):
        seq = _seq_variable(source_name)
        source = every.get(source_name)
        unchecked = _unchecked_links(name, source_name, source, seq, len(records))
        if unchecked is not None:
            out.append(unchecked)
            continue
        out += _unlinked(name, source_name, seq, source, records)
    return out


def _unlinked(name: str, source_name: str, seq: str, source: pd.DataFrame,
              records: pd.DataFrame) -> list[Finding]:
    """CMAP-AR0003 for ``records`` (all linked to ``source_name``), by a merge."""
    keys = pd.DataFrame({"USUBJID": source["USUBJID"].astype("string"),
                         "SRCSEQ": source[seq].astype("float64")}).dropna()
    keys = keys.drop_duplicates().assign(_ok=True)
    probe = pd.DataFrame({"USUBJID": records["USUBJID"].astype("string"),
                          "SRCSEQ": records["SRCSEQ"].astype("float64")})
    found = probe.merge(keys, on=["USUBJID", "SRCSEQ"], how="left")
    bad = records[found["_ok"].isna().to_numpy()]
    return _by_subject("CMAP-AR0003", name, "SRCSEQ", bad, _whole(bad["SRCSEQ"]),
                       f"no {source_name} record of this subject has {seq} = SRCSEQ")


def _whole(values: pd.Series) -> pd.Series:
    """Numbers as text, whole ones without ".0" (SRCSEQ 3, not 3.0)."""
    numbers = values.astype("float64")
    text = numbers.astype("string")
    whole = numbers.notna() & (numbers == np.floor(numbers))
    text[whole] = numbers[whole].astype("int64").astype("string")
    return text


def _parameters(name: str, frame: pd.DataFrame) -> list[Finding]:
    if "PARAMCD" not in frame.columns:
        return []
    out: list[Finding] = []
    facts = text_facts(frame["PARAMCD"])
    distinct = facts.uniques if facts is not None else frame["PARAMCD"].dropna().unique()
    codes = pd.Series(distinct, dtype="string").sort_values()
    invalid = codes[~codes.str.fullmatch(_PARAMCD.pattern).fillna(False).to_numpy()]
    for code in invalid:
        count = int((frame["PARAMCD"] == code).sum())
        out.append(Finding("CMAP-AR0005", RULES["CMAP-AR0005"][0],
                           f"PARAMCD {code!r} is {len(code)} characters or not a SAS name",
                           name, variable="PARAMCD", value=str(code), count=count))
    if "PARAM" not in frame.columns:
        return out
    pairs = _pairs(frame, "PARAMCD", "PARAM")
    out += _one_to_one("CMAP-AR0006", name, pairs, "PARAMCD", "PARAM")
    out += _one_to_one("CMAP-AR0007", name, pairs, "PARAM", "PARAMCD")
    return out


def _pairs(frame: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
    """The distinct non-null (first, second) value pairs, from the codes of two text columns
    (``dropna().drop_duplicates()`` of the two columns otherwise); the order of the pairs does
    not matter to :func:`_one_to_one`."""
    a, b = text_facts(frame[first]), text_facts(frame[second])
    if a is None or b is None:
        return frame[[first, second]].dropna().drop_duplicates()
    both = (a.codes >= 0) & (b.codes >= 0)
    size = max(len(b.uniques), 1)
    distinct = pd.unique(a.codes[both].astype(np.int64) * size + b.codes[both])
    return pd.DataFrame({first: pd.array(a.uniques[distinct // size], dtype="string"),
                         second: pd.array(b.uniques[distinct % size], dtype="string")})


def _one_to_one(rule: str, dataset: str, pairs: pd.DataFrame, key: str, other: str
                ) -> list[Finding]:
    if all(isinstance(pairs[c].dtype, pd.StringDtype) for c in (key, other)):
        # distinct text pairs (:func:`_pairs`), a few dozen: grouped in a dict, as the
        # groupby below would (keys in sorted order, each key's values sorted), without a
        # pandas aggregation per rule (≈ 5 ms each)
        grouped: dict[str, list[str]] = {}
        for value, paired in zip(pairs[key].tolist(), pairs[other].tolist(), strict=True):
            grouped.setdefault(value, []).append(paired)
        return [Finding(rule, RULES[rule][0],
                        f"{key} {value!r} has {len(set(values))} {other} values: " +
                        "; ".join(map(str, sorted(values))), dataset, variable=key,
                        value=str(value))
                for value, values in sorted(grouped.items()) if len(set(values)) > 1]
    counts = pairs.groupby(key, sort=True)[other].agg(["nunique", lambda s: sorted(s)])
    counts.columns = ["n", "values"]
    many = counts[counts["n"] > 1]
    return [Finding(rule, RULES[rule][0],
                    f"{key} {value!r} has {n} {other} values: " + "; ".join(map(str, values)),
                    dataset, variable=key, value=str(value))
            for value, n, values in many.itertuples(index=True)]


def _time_to_event(name: str, frame: pd.DataFrame) -> list[Finding]:
    out: list[Finding] = []
    cnsr = frame["CNSR"]
    if pd.api.types.is_numeric_dtype(cnsr.dtype):
        numbers = cnsr.astype("float64")
        bad_cnsr = numbers.notna() & ((numbers < 0) | (numbers != np.floor(numbers)))
        # values as text only for the offending records (_whole works value by value)
        out += _by_subject("CMAP-AR0008", name, "CNSR", frame[bad_cnsr.to_numpy()],
                           _whole(cnsr[bad_cnsr.to_numpy()]),
                           "CNSR must be 0 (event) or a positive whole number (censored)")
    if "AVAL" in frame.columns and pd.api.types.is_numeric_dtype(frame["AVAL"].dtype):
        negative = (frame["AVAL"] < 0).fillna(False).to_numpy()
        out += _by_subject("CMAP-AR0009", name, "AVAL", frame[negative],
                           _whole(frame["AVAL"][negative]),
                           "time to event is negative")
    return out


__all__ = ["RULES", "check_adam_cross"]
