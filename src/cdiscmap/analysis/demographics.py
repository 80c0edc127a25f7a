"""Demographics (ADSL) by group: age by unit (months for infants whose AGEU is MONTHS, ICH E11
age classes), sex and race counts with percentages of the group's N."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.analysis.groups import filter_text, groups, population, population_text
from cdiscmap.analysis.settings import AnalysisSettings, Demographics
from cdiscmap.analysis.tables import Table


def summary_text(v: np.ndarray) -> str:
    """``n=; mean (SD); median [min-max]`` of numbers without missing values (a table cell)."""
    if len(v) == 0:
        return "-"
    sd = f"{np.std(v, ddof=1):.1f}" if len(v) > 1 else "-"
    return (f"n={len(v)}; mean {v.mean():.1f} (SD {sd}); median {np.median(v):.1f} "
            f"[{v.min():g}-{v.max():g}]")


def demographics_table(adsl: pd.DataFrame, settings: AnalysisSettings,
                       spec: Demographics) -> Table:
    """Rows: N, each continuous variable per unit (AGE per AGEU), categories; columns: groups
    (or the transpose with ``groups_as_rows``)."""
    pop = population(adsl, settings, spec.population)
    grps = groups(pop, settings, spec.grouping)
    # the variables the rows read, by USUBJID (each group's rows are taken from it)
    read = [c for c in dict.fromkeys([*spec.continuous, *spec.categorical, "AGEU"])
            if c in adsl.columns]
    by_id = adsl[read].set_index(adsl["USUBJID"].astype("string"))
    rows: list[tuple[str, str, str | None, list[str]]] = []  # label, var, filter, values
    rows.append(("N", "USUBJID", None, []))
    for var in spec.continuous:
        if var not in adsl.columns:
            continue
        unit_var = "AGEU" if var == "AGE" and "AGEU" in adsl.columns else None
        units = sorted(pop[unit_var].dropna().astype(str).unique()) if unit_var else [""]
        for unit in units:
            label = f"{var} ({unit.lower()})" if unit else var
            rows.append((label, var, f"ADSL.{unit_var} = '{unit}'" if unit else None, [unit]))
    for var in spec.categorical:
        if var not in adsl.columns:
            continue
        for level in sorted(pop[var].dropna().astype(str).unique()):
            rows.append((f"{var}: {level}", var, f"ADSL.{var} = '{level}'", [level]))
    base = {"dataset": "ADSL", "paramcd": None, "population": population_text(
        settings, spec.population)}
    cells: dict[tuple[int, int], tuple[str, dict]] = {}
    # each (variable, value) test once over ADSL; a group's cells count its subjects' rows
    equal: dict[tuple[str, str], np.ndarray] = {}

    def is_value(var: str, value: str) -> np.ndarray:
        if (var, value) not in equal:
            equal[(var, value)] = (by_id[var].astype("string") == value).fillna(False) \
                .to_numpy(bool)
        return equal[(var, value)]

    # each continuous variable as numbers once (not a Series converted per cell)
    numbers: dict[str, np.ndarray] = {}

    def number(var: str) -> np.ndarray:
        if var not in numbers:
            numbers[var] = pd.to_numeric(by_id[var], errors="coerce").to_numpy(dtype=float)
        return numbers[var]

    for gi, grp in enumerate(grps):
        pos = by_id.index.get_indexer_for(grp.subjects.to_numpy())   # the rows .loc gives
        if (pos < 0).any():
            raise KeyError(f"{grp.label}: subjects not in ADSL")
        n = len(pos)
        for ri, (_label, var, filt, extra) in enumerate(rows):
            if ri == 0:
                text, count = str(n), n
            elif var in spec.continuous:
                part = pos if not extra[0] else pos[is_value("AGEU", extra[0])[pos]]
                v = number(var)[part]
                text, count = summary_text(v[~np.isnan(v)]), len(part)
            else:
                count = int(is_value(var, extra[0])[pos].sum())
                text = f"{count} ({100 * count / n:.1f}%)" if n else "0"
            trace = {**base, "variable": var, "group": grp.label,
                     "filter": " and ".join(f for f in (filter_text(settings, spec.grouping, grp),
                                                        filt) if f),
                     "n": count, "denominator": n}
            cells[(ri, gi)] = (text, trace)
    source = "Source: ADSL; population " + population_text(settings, spec.population)
    notes = ["AGE is summarised per AGEU unit: infants' ages in months are not mixed with "
             "years (ICH E11 age classes).", "Percentages of the group's N."]
    if spec.groups_as_rows:
        table = Table(spec.id, spec.title, ["Group"] + [r[0] for r in rows], footnotes=notes,
                      source=source)
        for gi, grp in enumerate(grps):
            table.add_row([grp.label] + [cells[(ri, gi)][0] for ri in range(len(rows))],
                          {ri + 1: cells[(ri, gi)][1] for ri in range(len(rows))})
        return table
    table = Table(spec.id, spec.title, ["Characteristic"] + [g.label for g in grps],
                  footnotes=notes, source=source)
    for ri, row in enumerate(rows):
        table.add_row([row[0]] + [cells[(ri, gi)][0] for gi in range(len(grps))],
                      {gi + 1: cells[(ri, gi)][1] for gi in range(len(grps))})
    return table
