"""A literature case series of ALK-fusion sarcomas on crizotinib, as a reviewer's spreadsheet.

Seed: ``shared/seeds/crizotinib-alk-sarcoma-review.txt`` (a review of 33 published cases). A
review has no eCRF: its data are one row per published case, typed into a workbook. So this
export is ``raw/cases.xlsx`` (written with openpyxl; layout in docs/raw-forms-alk-cases.md):

- sheet ``Cases``: one row per case (case id, reference number and text, publication date, country, age
  and its unit, sex, histology, fusion partner, surgery yes/no, the ALK inhibitor, best
  response as published, follow-up in months, vital status); a blank row separates the cases
  of the two case series from the single case reports, as reviewers do;
- sheet ``Sources``: the reviewer's notes (not trial data; read by no form).

The best responses are fixed, not drawn: with 33 cases the table has the review's totals (CR 9,
PR 17, SD 3, PD 1, NE 3: ORR 26/30 = 86.7 %, DCR 29/30 = 96.7 %, 3 cases not evaluable), split
by surgery as the review's Table 3 suggests (CR 8 of the surgery cases, 1 of the others). Other
sizes keep those proportions (largest remainder). Everything else is drawn from the seed.

Truth files: ``cases.csv`` (per case: USUBJID, best response, evaluable, surgery, follow-up,
death, and OS AVAL in days = months × 30.4375 with CNSR 0 for death, 1 alive at last
follow-up) and ``summary.csv`` (cases, evaluable, responders, disease control, ORR, DCR).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from cdiscmap.emit.xlsx import workbook_bytes
from cdiscmap.synth import RawBytes
from cdiscmap.synth.basket import StudyFiles

STUDY = "alk-sarcoma-cases"
STUDYID = "ALKSARC"
CASES_FILE = "cases.xlsx"
SHEET = "Cases"
NOTES_SHEET = "Sources"
DAYS_PER_MONTH = 30.4375            # 365.25 / 12
COLUMNS = ["CASE_ID", "REF_NO", "REFERENCE", "PUBLISHED", "COUNTRY", "AGE", "AGE_UNIT", "SEX",
           "HISTOLOGY", "FUSION_PARTNER", "SURGERY", "SYSTEMIC_TREATMENT", "BEST_RESPONSE",
           "FOLLOW_UP_MONTHS", "VITAL_STATUS"]

# (surgery, best response) -> cases among 33 (seed: ORR 26/30, DCR 29/30; CR 8 with surgery,
# 1 without; three cases not evaluable).
CELLS: dict[tuple[str, str], int] = {
    ("Yes", "CR"): 8, ("Yes", "PR"): 2, ("Yes", "NE"): 1,
    ("No", "CR"): 1, ("No", "PR"): 15, ("No", "SD"): 3, ("No", "PD"): 1, ("No", "NE"): 2,
}
# histology -> (cases among 33, fusion partners to draw from); seed "histomorphology"
HISTOLOGY: dict[str, tuple[int, tuple[str, ...]]] = {
    "Epithelioid inflammatory myofibroblastic sarcoma": (11, ("RANBP2",) * 10 + ("EML4",)),
    "Inflammatory myofibroblastic tumour": (15, ("CLTC", "TPM3", "EML4", "SEC31A", "TRAF3",
                                                 "LRRFIP1", "FN1", "NUMA1", "RRBP1", "TNS1",
                                                 "DCTN1")),
    "Pulmonary sarcomatoid carcinoma": (2, ("EML4",)),
    "Low-grade sarcoma": (1, ("CARS",)),
    "Smooth muscle tumour of uncertain malignant potential": (1, ("DCTN1",)),
    "Malignancy of unknown origin": (1, ("TPM3",)),
    "Histiocytic sarcoma": (1, ("CLTC",)),
    "Myxoid sarcoma": (1, ("DCTN1",)),
}
COUNTRIES = ("CHN", "JPN", "USA", "FRA", "AUS", "KOR", "CHE", "DEU", "ITA", "CAN", "EST")
JOURNALS = ("J Synth Oncol", "Synth Case Rep", "Synth Pediatr Oncol", "Synth Precis Oncol")
_FIXED_TIME = dt.datetime(2021, 8, 22)         # the review's search date (seed)


def largest_remainder(weights: dict, n: int) -> dict:
    """Whole counts summing to ``n`` in the proportions of ``weights`` (Hamilton's method;
    ties by the order of ``weights``)."""
    keys = list(weights)
    w = np.array([weights[k] for k in keys], dtype=float)
    exact = w / w.sum() * n
    counts = np.floor(exact).astype(int)
    short = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")[:short]
    counts[order] += 1
    return dict(zip(keys, counts.tolist(), strict=True))


def _cases(n: int, seed: int) -> pd.DataFrame:
    """The case table (typed values), rows in the sheet's order."""
    rng = np.random.default_rng(seed)
    cells = largest_remainder(CELLS, n)
    surgery = np.repeat([k[0] for k in cells], list(cells.values()))
    response = np.repeat([k[1] for k in cells], list(cells.values()))
    order = rng.permutation(n)
    surgery, response = surgery[order], response[order]

    hist_counts = largest_remainder({h: c for h, (c, _) in HISTOLOGY.items()}, n)
    histology = rng.permutation(np.repeat(list(hist_counts), list(hist_counts.values())))
    partner = np.array([rng.choice(HISTOLOGY[h][1]) for h in histology])  # n draws, once

    # the cases not evaluable for response lack the sex too (seed: 3 cases "did not have data
    # on age and/or gender"; ADaMIG 1.3 requires ADSL AGE, so here the sex is what is missing);
    # ~11/30 are children
    evaluable = response != "NE"
    child = rng.random(n) < 11 / 30
    years = np.where(child, rng.uniform(0.3, 17.9, n), rng.uniform(18, 76, n))
    infant = child & (years < 2)
    age = np.where(infant, np.floor(years * 12), np.floor(years))
    unit = np.where(infant, "months", "years")
    sex = np.where(rng.random(n) < 0.55, "Male", "Female")

    # follow-up: longer with surgery (seed Figure 2: median OS 31.5 vs 14 months), 0.5-55.2
    scale = np.where(surgery == "Yes", 34.0, 17.0)
    months = np.clip(np.round(rng.exponential(scale), 1), 0.5, 55.2)
    dead = rng.random(n) < np.where(surgery == "Yes", 0.15, 0.35)
    dead |= response == "PD"                      # seed: the progressing case died
    early = np.flatnonzero(response == "NE")[:2]  # seed: fatal AEs at 0.5 and 4 months
    months[early] = [0.5, 4.0][:len(early)]
    dead[early] = True

    # references: 28 publications for 33 cases, two case series holding the extra cases
    extra = max(0, n - max(1, round(n * 28 / 33)))
    first = (extra + 3) // 2                      # 33 cases: series of 4 and 3, 26 reports
    ref = np.concatenate([np.zeros(first, int), np.ones(extra + 2 - first, int),
                          np.arange(2, 2 + n)])[:n]
    years_pub = rng.integers(2010, 2022, ref.max() + 1)
    days_pub = rng.integers(0, 365, ref.max() + 1)
    country_ref = rng.choice(COUNTRIES, ref.max() + 1)
    journal_ref = rng.choice(JOURNALS, ref.max() + 1)
    published = [dt.datetime(int(years_pub[r]), 1, 1) + dt.timedelta(days=int(days_pub[r]))
                 for r in range(ref.max() + 1)]
    published = [min(p, _FIXED_TIME) for p in published]
    ref_text = [f"Synthetic reference {r + 1:02d} ({'case series' if r < 2 else 'case report'}"
                f"), {journal_ref[r]} ({published[r].year})" for r in range(ref.max() + 1)]

    frame = pd.DataFrame({
        "CASE_ID": [f"C{i + 1:02d}" for i in range(n)],
        "REF": ref,
        "REFERENCE": [ref_text[r] for r in ref],
        "PUBLISHED": [published[r] for r in ref],
        "COUNTRY": [country_ref[r] for r in ref],
        "AGE": age,
        "AGE_UNIT": unit,
        "SEX": np.where(evaluable, sex, None),
        "HISTOLOGY": histology,
        "FUSION_PARTNER": partner,
        "SURGERY": surgery,
        "SYSTEMIC_TREATMENT": "Crizotinib",
        "BEST_RESPONSE": response,
        "FOLLOW_UP_MONTHS": months,
        "VITAL_STATUS": np.where(dead, "Dead", "Alive"),
    })
    # the case series first (as the review lists them), then the case reports
    frame = frame.sort_values(["REF"], kind="stable").reset_index(drop=True)
    frame["CASE_ID"] = [f"C{i + 1:02d}" for i in range(n)]
    frame["REF_NO"] = frame["REF"] + 1
    return frame


def _workbook(cases: pd.DataFrame) -> bytes:
    """cases.xlsx: sheet Cases (a blank row after the case series) and sheet Sources."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(COLUMNS)
    in_series = (cases["REF"] < 2).to_numpy()
    for i, row in enumerate(cases[COLUMNS].itertuples(index=False)):   # 33 rows: a workbook
        values = [None if (isinstance(v, float) and np.isnan(v)) else v for v in row]
        values = [int(v) if isinstance(v, float) and k == "AGE" else v
                  for k, v in zip(COLUMNS, values, strict=True)]
        values = [v.item() if isinstance(v, np.generic) else v for v in values]
        sheet.append(values)
        if i + 1 < len(cases) and in_series[i] and not in_series[i + 1]:
            sheet.append([])                       # the reviewer's gap after the series
    for cell in sheet["D"][1:]:
        if cell.value is not None:
            cell.number_format = "yyyy-mm-dd"
    notes = book.create_sheet(NOTES_SHEET)
    notes.append(["NOTE"])
    notes.append(["Cases abstracted from case reports and case series (synthetic)."])
    notes.append(["Best response as published; follow-up in months from the start of the "
                  "ALK inhibitor."])
    return workbook_bytes(book, creator="cdiscmap synth", when=_FIXED_TIME)


def truth_tables(cases: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """What was planted, computed here from the case table (never from the mapping)."""
    bor = cases["BEST_RESPONSE"]
    evaluable = bor != "NE"
    dead = cases["VITAL_STATUS"] == "Dead"
    per_case = pd.DataFrame({
        "CASE_ID": cases["CASE_ID"],
        "USUBJID": STUDYID + "-" + cases["CASE_ID"],
        "BOR": bor,
        "EVALUABLE": np.where(evaluable, "Y", "N"),
        "SURGERY": np.where(cases["SURGERY"] == "Yes", "Y", "N"),
        "FOLLOW_UP_MONTHS": cases["FOLLOW_UP_MONTHS"].map(lambda v: f"{v:.1f}"),
        "DEAD": np.where(dead, "Y", "N"),
        "OS_AVAL": (cases["FOLLOW_UP_MONTHS"] * DAYS_PER_MONTH).map(repr),
        "OS_CNSR": np.where(dead, "0", "1"),
    })
    n_eval = int(evaluable.sum())
    resp = int(bor.isin(["CR", "PR"]).sum())
    dc = int(bor.isin(["CR", "PR", "SD"]).sum())
    summary = pd.DataFrame({
        "CASES": [str(len(cases))], "EVALUABLE": [str(n_eval)], "RESPONDERS": [str(resp)],
        "DISEASE_CONTROL": [str(dc)], "ORR_PCT": [f"{100 * resp / n_eval:.1f}"],
        "DCR_PCT": [f"{100 * dc / n_eval:.1f}"],
    })
    return {"cases.csv": per_case, "summary.csv": summary}


def build(n_subjects: int, seed: int) -> StudyFiles:
    """The workbook (``RawBytes``) and truth frames for ``n_subjects`` cases."""
    cases = _cases(n_subjects, seed)
    rows = len(cases)
    return StudyFiles(raw={CASES_FILE: RawBytes(_workbook(cases), rows)},  # type: ignore[dict-item]
                      truth=truth_tables(cases))


__all__ = ["CASES_FILE", "DAYS_PER_MONTH", "STUDY", "STUDYID", "build", "largest_remainder",
           "truth_tables"]
