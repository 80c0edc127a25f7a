"""Change from baseline of a BDS dataset (e.g. ADQS, the EORTC QLQ-C30 scale scores) per
group and visit: n, mean (SD) of AVAL at baseline and of CHG at each post-baseline visit.

Records: the ``parameters`` (PARAMCD) of the population's subjects; baseline rows are the
ABLFL = 'Y' records (ADaMIG 1.3 §3.3.4 baseline flag), visit rows the records at AVISITN
with a non-missing CHG (= AVAL - BASE, ADaMIG 1.3 §3.3.4) that are not the baseline record.
One record per subject, parameter and visit is expected; with more (e.g. unscheduled
repeats) the analysis needs ``analysis_flag`` (ANL01FL) to pick one, and the report refuses
to average over duplicates. The EORTC scale scores themselves are derived in ADQS
(``cdiscmap.adam.adqs``, EORTC QLQ-C30 Scoring Manual, 3rd ed. 2001).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cdiscmap.analysis.groups import filter_text, groups, population, population_text
from cdiscmap.analysis.settings import AnalysisSettings, ChangeFromBaseline
from cdiscmap.analysis.tables import Table
from cdiscmap.analysis.text import clean_text, text_eq
from cdiscmap.errors import InputDataError

METHOD = ("n, mean and standard deviation (n - 1 denominator) of AVAL at baseline (ABLFL = "
          "'Y') and of CHG (AVAL - BASE) per post-baseline visit (AVISITN), one record per "
          "subject, parameter and visit")
_NEEDED = ("USUBJID", "PARAMCD", "AVISITN", "AVAL", "CHG", "ABLFL")


def _mean_sd(values: np.ndarray) -> str:
    if len(values) == 0:
        return "-"
    sd = f"{np.std(values, ddof=1):.1f}" if len(values) > 1 else "-"
    return f"{values.mean():.1f} ({sd})"


def _records(data: pd.DataFrame, subjects: pd.Series, spec: ChangeFromBaseline
             ) -> pd.DataFrame:
    """The parameters' records of ``subjects`` with _BASE (baseline record) and numbers."""
    missing = [v for v in _NEEDED if v not in data.columns]
    if spec.analysis_flag and spec.analysis_flag not in data.columns:
        missing.append(spec.analysis_flag)
    if missing:
        raise InputDataError(f"{spec.dataset} has no {', '.join(missing)} ({spec.id})")
    code = clean_text(data["PARAMCD"])
    keep = code.isin(spec.parameters).fillna(False) & data["USUBJID"].astype("string").isin(
        subjects.astype("string")).fillna(False)
    if spec.analysis_flag:
        keep &= text_eq(data[spec.analysis_flag], "Y")
    rec = data.loc[keep.to_numpy(dtype=bool)]
    out = pd.DataFrame({
        "USUBJID": rec["USUBJID"].astype("string"),
        "PARAMCD": code.loc[rec.index],
        "AVISITN": pd.to_numeric(rec["AVISITN"], errors="coerce"),
        "AVISIT": rec["AVISIT"].astype("string") if "AVISIT" in rec.columns
        else pd.Series(pd.NA, index=rec.index, dtype="string"),
        "PARAM": rec["PARAM"].astype("string") if "PARAM" in rec.columns
        else code.loc[rec.index],
        "AVAL": pd.to_numeric(rec["AVAL"], errors="coerce"),
        "CHG": pd.to_numeric(rec["CHG"], errors="coerce"),
        "_BASE": text_eq(rec["ABLFL"], "Y")})
    # the rows the table summarises: baseline AVAL, post-baseline CHG
    used = out.loc[(out["_BASE"] & out["AVAL"].notna())
                   | (~out["_BASE"] & out["CHG"].notna() & out["AVISITN"].notna())]
    dup = used.duplicated(["USUBJID", "PARAMCD", "_BASE", "AVISITN"], keep=False)
    if dup.any():
        first = used.loc[dup.to_numpy(dtype=bool)].iloc[0]
        raise InputDataError(
            f"{spec.dataset} has {int(dup.sum())} records that repeat a subject, PARAMCD and "
            f"visit (e.g. {first['USUBJID']} {first['PARAMCD']} AVISITN {first['AVISITN']:g}); "
            f"name the flag that selects one in analysis_flag ({spec.id})")
    return used


def change_table(adam: dict[str, pd.DataFrame], settings: AnalysisSettings,
                 spec: ChangeFromBaseline) -> Table:
    """Rows: per parameter, baseline then each visit; columns: per group n and mean (SD)."""
    if spec.dataset not in adam:
        raise InputDataError(f"ADaM {spec.dataset} not found ({spec.id})")
    pop = population(adam["ADSL"], settings, spec.population)
    grps = groups(pop, settings, spec.grouping)
    rec = _records(adam[spec.dataset], pop["USUBJID"], spec)
    post = rec.loc[~rec["_BASE"]]
    visits = list(spec.visits) or sorted(post["AVISITN"].dropna().unique().tolist())
    label_of = post.dropna(subset=["AVISIT"]).drop_duplicates("AVISITN") \
        .set_index("AVISITN")["AVISIT"]
    popt = population_text(settings, spec.population)
    flag = f" and {spec.analysis_flag} = 'Y'" if spec.analysis_flag else ""
    columns = ["Parameter", "Visit"]
    for g in grps:
        columns += [f"{g.label} (N={len(g.subjects)}): n", f"{g.label}: mean (SD)"]
    table = Table(spec.id, spec.title, columns,
                  footnotes=[METHOD + ".",
                             "Baseline rows: AVAL of the baseline record; visit rows: change "
                             "from baseline CHG. N: subjects of the population in the group; "
                             "n: subjects with a value."],
                  source=f"Source: {spec.dataset}, ADSL; population {popt}")
    members = [rec["USUBJID"].isin(g.subjects).fillna(False).to_numpy(dtype=bool)
               for g in grps]
    for code in spec.parameters:
        is_code = rec["PARAMCD"].eq(code).fillna(False).to_numpy(dtype=bool)
        if not is_code.any():
            continue
        param = str(rec.loc[is_code, "PARAM"].iloc[0])
        rows: list[tuple[str, np.ndarray, str, str, float | None]] = [
            ("Baseline (value)", is_code & rec["_BASE"].to_numpy(dtype=bool), "AVAL",
             "ABLFL = 'Y'", None)]
        for v in visits:
            at = is_code & ~rec["_BASE"].to_numpy(dtype=bool) \
                & rec["AVISITN"].eq(v).fillna(False).to_numpy(dtype=bool)
            name = str(label_of.get(v, f"AVISITN {v:g}"))
            rows.append((f"{name} (change)", at, "CHG",
                         f"AVISITN = {v:g} and ABLFL ne 'Y' and CHG not missing", float(v)))
        for visit, mask, var, where, avisitn in rows:
            texts, traces = [f"{param} ({code})", visit], {}
            for gi, grp in enumerate(grps):
                values = rec.loc[mask & members[gi], var].to_numpy(dtype=float)
                texts += [str(len(values)), _mean_sd(values)]
                trace: dict[str, Any] = {
                    "dataset": spec.dataset, "paramcd": code, "population": popt,
                    "filter": " and ".join(f for f in (filter_text(settings, spec.grouping, grp),
                                                       where + flag) if f),
                    "group": grp.label, "variable": var, "avisitn": avisitn,
                    "n": int(len(values)),
                    "mean": float(values.mean()) if len(values) else None,
                    "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None}
                traces[2 + 2 * gi] = trace
                traces[3 + 2 * gi] = trace
            table.add_row(texts, traces)
    return table
