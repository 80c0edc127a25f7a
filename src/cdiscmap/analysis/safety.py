"""Safety from ADAE: treatment-emergent adverse events by category, maximum CTCAE grade and
SOC/PT, counted as subjects (not events) per group.

Counting follows ADaM OCCDS 1.1 (first-occurrence flags) as ``cdiscmap.adam.adae`` derives
them: a subject counts once per SOC (AOCCSFL = Y) and once per SOC/PT (AOCCPFL = Y) at any
grade; at grade >= k it counts on its worst-grade record of the SOC (AOCCSIFL = Y) or SOC/PT
(AOCCPIFL = Y) when that grade is >= k; the maximum grade per subject is ATOXGRN of its
AOCCIFL = Y record. Only TRTEMFL = Y records count (ICH E3 §12.2 treatment-emergent events).
Percentages are of the group's N in the population (subjects, with or without AEs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cdiscmap.analysis.groups import (
    Group,
    Membership,
    filter_text,
    groups,
    population,
    population_text,
    remembered,
)
from cdiscmap.analysis.settings import AnalysisSettings, Safety
from cdiscmap.analysis.tables import Table
from cdiscmap.analysis.text import clean_text, text_eq
from cdiscmap.errors import InputDataError

METHOD = ("Subjects with at least one treatment-emergent AE (ADAE TRTEMFL = 'Y'), counted once "
          "per category, SOC and PT by the OCCDS first-occurrence flags (AOCCxxFL, worst grade: "
          "AOCCxxIFL); percentages of the group's N; CTCAE grades from ATOXGRN")
_FLAGS = ["AOCCIFL", "AOCCSFL", "AOCCPFL", "AOCCSIFL", "AOCCPIFL"]
# the ADAE variables the tables read (teae copies these, not all of ADAE's)
_USED = ["USUBJID", "ATOXGRN", "AESER", "AESDTH", "AEACN", "RELGR1", "AEBODSYS", "AEDECOD",
         *_FLAGS]


def count_text(n: int, total: int) -> str:
    """``n (p%)`` with one decimal; ``0`` for an empty group."""
    return f"{n} ({100 * n / total:.1f}%)" if total else "0"


def _yes(frame: pd.DataFrame, var: str) -> pd.Series:
    """``var`` = 'Y' (trimmed, any case) per record; once per report for the same frame (the
    safety analyses of one population share their TEAE frame)."""
    if var not in frame.columns:
        return pd.Series(False, index=frame.index)
    return remembered("safety.yes", frame, var, lambda: pd.Series(
        text_eq(frame[var], "Y", upper=True), index=frame.index, name=var))


def _text(frame: pd.DataFrame, var: str) -> pd.Series:
    if var not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return remembered("safety.text", frame, var, lambda: clean_text(frame[var], upper=True))


def teae(adae: pd.DataFrame, subjects: pd.Series) -> pd.DataFrame:
    """Treatment-emergent ADAE records of ``subjects`` (TRTEMFL = Y), with ``_GRADE``; the
    variables the safety tables read (``_USED``) only."""
    for var in ("USUBJID", "TRTEMFL"):
        if var not in adae.columns:
            raise InputDataError(f"ADAE has no {var} (safety tables)")
    keep = _yes(adae, "TRTEMFL") & adae["USUBJID"].astype("string").isin(
        subjects.astype("string")).fillna(False).astype(bool)
    out = adae.loc[keep.to_numpy(dtype=bool), [c for c in _USED if c in adae.columns]].copy()
    out["USUBJID"] = out["USUBJID"].astype("string")
    out["_GRADE"] = pd.to_numeric(out["ATOXGRN"], errors="coerce") if "ATOXGRN" in out.columns \
        else pd.Series(float("nan"), index=out.index)
    return out


def categories(ae: pd.DataFrame, threshold: int, actions: list[str]
               ) -> list[tuple[str, pd.Series | None, str]]:
    """(label, record mask, filter text) of each overview category; the mask is None when
    ADAE lacks the variable (AEACN: the row shows NA rather than a false zero)."""
    acts = [a.upper() for a in actions]
    fatal = ae["_GRADE"].eq(5).fillna(False) | _yes(ae, "AESDTH")
    return [
        ("Any TEAE", pd.Series(True, index=ae.index), ""),
        (f"TEAE of CTCAE grade >= {threshold}", ae["_GRADE"].ge(threshold).fillna(False),
         f"ATOXGRN >= {threshold}"),
        ("Serious TEAE", _yes(ae, "AESER"), "AESER = 'Y'"),
        ("Fatal TEAE", fatal, "ATOXGRN = 5 or AESDTH = 'Y'"),
        ("TEAE leading to discontinuation",
         _text(ae, "AEACN").isin(acts).fillna(False) if "AEACN" in ae.columns else None,
         "AEACN in (" + ", ".join(f"'{a}'" for a in acts) + ")"),
        ("Related TEAE", _text(ae, "RELGR1").eq("RELATED").fillna(False), "RELGR1 = 'RELATED'"),
    ]


def _trace(settings: AnalysisSettings, spec: Safety, grp: Group, extra: str, n: int,
           total: int) -> dict[str, Any]:
    return {"dataset": "ADAE", "paramcd": None,
            "population": population_text(settings, spec.population),
            "filter": " and ".join(f for f in (filter_text(settings, spec.grouping, grp),
                                               "ADAE.TRTEMFL = 'Y'", extra) if f),
            "group": grp.label, "n": n, "denominator": total}


def _header(grps: list[Group]) -> list[str]:
    return [f"{g.label} (N={len(g.subjects)})" for g in grps]


def safety_tables(adam: dict[str, pd.DataFrame], settings: AnalysisSettings,
                  spec: Safety) -> list[Table]:
    """Overview, maximum grade per subject and (``soc_pt``) SOC/PT tables."""
    if "ADAE" not in adam:
        raise InputDataError(f"ADaM ADAE not found ({spec.id})")
    adsl, adae = adam["ADSL"], adam["ADAE"]
    pop = population(adsl, settings, spec.population)
    grps = groups(pop, settings, spec.grouping)
    # one TEAE frame per population in a report (two safety analyses by different groupings
    # read the same records and flags: cleaning ADAE's text columns is most of their time)
    ae = remembered("safety.teae", adae, spec.population, lambda: teae(adae, pop["USUBJID"]))
    member = Membership(grps)
    codes = member.codes(ae["USUBJID"])          # each TEAE record's subject, once
    source = "Source: ADAE, ADSL; population " + population_text(settings, spec.population)
    notes = [METHOD + ".", "Fatal: ATOXGRN = 5" + (" or AESDTH = 'Y'." if "AESDTH" in
                                                  adae.columns else " (ADAE has no AESDTH).")]

    overview = Table(f"{spec.id}_overview", spec.title + ": overview",
                     ["Category"] + _header(grps), footnotes=list(notes), source=source)
    for label, mask, filt in categories(ae, spec.grade_threshold,
                                        spec.discontinuation_actions):
        if mask is None:
            overview.add_row([label] + ["NA"] * len(grps))
            overview.footnotes.append(f"{label}: NA, ADAE has no AEACN (action taken).")
            continue
        counts = member.counts(codes[mask.to_numpy(dtype=bool)])
        texts, traces = [label], {}
        for gi, grp in enumerate(grps):
            n, total = counts[gi], len(grp.subjects)
            texts.append(count_text(n, total))
            traces[gi + 1] = _trace(settings, spec, grp, filt, n, total)
        overview.add_row(texts, traces)
    tables = [overview]

    missing = [f for f in _FLAGS if f not in ae.columns]
    if missing:
        raise InputDataError(f"ADAE has no {', '.join(missing)} (first-occurrence flags, "
                             f"OCCDS 1.1; {spec.id})")
    is_worst = _yes(ae, "AOCCIFL").to_numpy(dtype=bool)
    worst = ae.loc[is_worst, ["USUBJID", "_GRADE"]]
    worst_codes = codes[is_worst]
    grade_table = Table(f"{spec.id}_grade", spec.title + ": maximum CTCAE grade per subject",
                        ["Maximum grade"] + _header(grps),
                        footnotes=notes + ["Each subject counts once, at the highest ATOXGRN "
                                           "of its TEAEs (AOCCIFL = 'Y'); subjects without a "
                                           "TEAE are not counted."], source=source)
    levels: list[tuple[str, pd.Series, str]] = [
        (f"Grade {k}", worst["_GRADE"].eq(k).fillna(False), f"AOCCIFL = 'Y' and ATOXGRN = {k}")
        for k in range(1, 6)]
    levels.append(("Grade missing", worst["_GRADE"].isna(), "AOCCIFL = 'Y' and ATOXGRN missing"))
    for label, mask, filt in levels:
        counts = member.counts(worst_codes[mask.to_numpy(dtype=bool)])
        texts, traces = [label], {}
        for gi, grp in enumerate(grps):
            n, total = counts[gi], len(grp.subjects)
            texts.append(count_text(n, total))
            traces[gi + 1] = _trace(settings, spec, grp, filt, n, total)
        grade_table.add_row(texts, traces)
    tables.append(grade_table)
    if spec.soc_pt:
        tables.append(_soc_pt(ae, grps, member, codes, settings, spec, notes, source))
    return tables


def _soc_pt(ae: pd.DataFrame, grps: list[Group], member: Membership, codes: np.ndarray,
            settings: AnalysisSettings, spec: Safety, notes: list[str], source: str) -> Table:
    """Rows: each SOC then its PTs (by descending subject count of the total, then name);
    columns: per group, any grade and grade >= threshold. The subjects of every row and
    flag are counted per group in one pass (codes of the SOC, the SOC/PT and the subject),
    not by a mask over all records per row."""
    k = spec.grade_threshold
    columns = ["System organ class / Preferred term"]
    for g in grps:
        columns += [f"{g.label} (N={len(g.subjects)}): any grade", f"{g.label}: grade >= {k}"]
    table = Table(f"{spec.id}_socpt", spec.title + ": by system organ class and preferred term",
                  columns, footnotes=notes + [
                      "SOC rows: AEBODSYS (AOCCSFL / AOCCSIFL); PT rows, indented: AEDECOD "
                      "(AOCCPFL / AOCCPIFL). A subject counts once per row."], source=source)
    soc = ae["AEBODSYS"].astype("string").fillna("(no SOC)")
    pt = ae["AEDECOD"].astype("string").fillna("(no PT)")
    work = pd.DataFrame({"USUBJID": ae["USUBJID"], "SOC": soc, "PT": pt,
                         "S": _yes(ae, "AOCCSFL"), "P": _yes(ae, "AOCCPFL"),
                         "SI": _yes(ae, "AOCCSIFL") & ae["_GRADE"].ge(k).fillna(False),
                         "PI": _yes(ae, "AOCCPIFL") & ae["_GRADE"].ge(k).fillna(False)})
    soc_n = work.loc[work["S"]].groupby("SOC")["USUBJID"].nunique()
    pt_n = work.loc[work["P"]].groupby(["SOC", "PT"])["USUBJID"].nunique()
    soc_order = sorted(soc_n.index, key=lambda s: (-int(soc_n[s]), str(s)))
    # row keys: a SOC's code, or a SOC/PT pair's code
    soc_code, soc_values = pd.factorize(work["SOC"])
    # a SOC/PT pair's code from one integer per record (the pairs in order of first record,
    # as factorising the pairs themselves gives, without a tuple per record)
    pt_code, pt_values = pd.factorize(work["PT"])
    width = max(len(pt_values), 1)
    pair_code, pair_keys = pd.factorize(soc_code.astype(np.int64) * width + pt_code)
    soc_at = {v: i for i, v in enumerate(soc_values)}
    pair_at = {(soc_values[k // width], pt_values[k % width]): i
               for i, k in enumerate(pair_keys.tolist())}
    counted = {flag: _row_counts(keys, codes, work[flag].to_numpy(dtype=bool), member)
               for flag, keys in (("S", soc_code), ("SI", soc_code), ("P", pair_code),
                                  ("PI", pair_code))}
    for s in soc_order:
        rows = [(str(s), None)] + [
            (str(p), str(p)) for p in sorted(pt_n.loc[s].index,
                                             key=lambda p: (-int(pt_n.loc[(s, p)]), str(p)))]
        for label, p in rows:
            any_flag, hi_flag = ("P", "PI") if p is not None else ("S", "SI")
            key = pair_at[(s, p)] if p is not None else soc_at[s]
            where = f"AEBODSYS = '{s}'" + (f" and AEDECOD = '{p}'" if p is not None else "")
            flag = "AOCCPFL" if p is not None else "AOCCSFL"
            iflag = "AOCCPIFL" if p is not None else "AOCCSIFL"
            texts, traces = [("    " + label) if p is not None else label], {}
            for gi, grp in enumerate(grps):
                total = len(grp.subjects)
                n_any = int(counted[any_flag][gi][key])
                n_hi = int(counted[hi_flag][gi][key])
                texts += [count_text(n_any, total), count_text(n_hi, total)]
                traces[1 + 2 * gi] = _trace(settings, spec, grp, f"{where} and {flag} = 'Y'",
                                            n_any, total)
                traces[2 + 2 * gi] = _trace(settings, spec, grp, f"{where} and {iflag} = 'Y' "
                                            f"and ATOXGRN >= {k}", n_hi, total)
            table.add_row(texts, traces)
    return table


def _row_counts(keys: np.ndarray, codes: np.ndarray, flagged: np.ndarray,
                member: Membership) -> list[np.ndarray]:
    """Per group, per row key: the group's subjects with a flagged record of that key (each
    subject once per key)."""
    size = int(keys.max()) + 1 if len(keys) else 0
    sel = flagged & (codes >= 0)
    width = len(member.index)
    pairs = np.unique(keys[sel].astype(np.int64) * width + codes[sel])   # (key, subject) once
    row, subject = pairs // width, pairs % width
    out = []
    for m in member.members:
        in_group = np.bincount(m[m >= 0], minlength=width)      # times the subject is in it
        out.append(np.bincount(row, weights=in_group[subject], minlength=size)
                   .astype(np.int64))
    return out
