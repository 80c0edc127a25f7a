"""Scale run of the RECIST engine: 10,000 subjects, about 1,000,000 TR rows, built with numpy.

Run: ``.venv/bin/python benchmarks/bench_recist.py [n_subjects]``. Prints the wall time of
``timepoint_responses`` (target < 2 s for 10,000 subjects), ``crosscheck`` and ``to_rs_records``.
Not part of the test pass.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from cdiscmap.recist import crosscheck, timepoint_responses, to_rs_records

N_VISITS = 10          # baseline (VISITNUM 1) + 9 follow-up assessments
SEED = 20250328


def _text(values: np.ndarray) -> pd.arrays.StringArray:
    return pd.array(values.astype(object), dtype="string")


def build_study(n_subjects: int, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """TU and TR frames shaped as docs/conventions.md describes, fully vectorised."""
    rng = np.random.default_rng(seed)
    subj_ids = np.array([f"BENCH-{i:06d}" for i in range(n_subjects)], dtype=object)
    n_t = rng.integers(2, 6, n_subjects)           # 2..5 target lesions
    n_nt = rng.integers(3, 9, n_subjects)          # 3..8 non-target lesions
    # Lesion table: one row per baseline lesion.
    les_subj = np.concatenate([np.repeat(np.arange(n_subjects), n_t),
                               np.repeat(np.arange(n_subjects), n_nt)])
    is_target = np.concatenate([np.ones(n_t.sum(), bool), np.zeros(n_nt.sum(), bool)])
    order = np.lexsort((~is_target, les_subj))
    les_subj, is_target = les_subj[order], is_target[order]
    first = np.r_[0, np.flatnonzero(np.diff(les_subj * 2 + ~is_target)) + 1]
    rank = np.arange(len(les_subj)) - np.repeat(first, np.diff(np.r_[first, len(les_subj)]))
    t_ids = np.array([f"T{i + 1:02d}" for i in range(10)], dtype=object)
    nt_ids = np.array([f"NT{i + 1:02d}" for i in range(10)], dtype=object)
    les_id = np.where(is_target, t_ids[rank], nt_ids[rank])
    nodal = is_target & (rng.random(len(les_subj)) < 0.2)
    n_les = len(les_subj)
    base_mm = np.where(nodal, rng.uniform(15, 40, n_les), rng.uniform(10, 80, n_les))
    base_mm = np.round(base_mm)

    tu = pd.DataFrame({
        "STUDYID": _text(np.full(len(les_subj), "BENCH", object)),
        "DOMAIN": _text(np.full(len(les_subj), "TU", object)),
        "USUBJID": _text(subj_ids[les_subj]),
        "TULNKID": _text(les_id),
        "TUTESTCD": _text(np.full(len(les_subj), "TUMIDENT", object)),
        "TUSTRESC": _text(np.where(is_target, "TARGET", "NON-TARGET")),
        "TUEVAL": _text(np.full(len(les_subj), "INVESTIGATOR", object)),
        "VISITNUM": np.ones(len(les_subj)),
        "VISIT": _text(np.full(len(les_subj), "SCREENING", object)),
    })

    # Lesion × visit measurements: each subject follows a trend (shrink, stable or grow).
    trend = rng.normal(-0.03, 0.06, n_subjects)
    lv_les = np.repeat(np.arange(n_les), N_VISITS)
    lv_visit = np.tile(np.arange(1, N_VISITS + 1), n_les)
    factor = np.clip(1 + trend[les_subj[lv_les]] * (lv_visit - 1)
                     + rng.normal(0, 0.05, len(lv_les)), 0, None)
    mm = np.round(base_mm[lv_les] * factor)
    mm = np.where(~nodal[lv_les] & (mm < 5) & (lv_visit > 1), 0.0, mm)
    not_done = (rng.random(len(lv_les)) < 0.02) & (lv_visit > 1)
    target_row = is_target[lv_les]
    status = rng.choice(np.array(["PRESENT", "ABSENT", "UNEQUIVOCAL"], dtype=object),
                        len(lv_les), p=[0.85, 0.13, 0.02])
    status = np.where(lv_visit == 1, "PRESENT", status)
    # Occasional new lesion (5 % of subjects, at one follow-up visit).
    with_new = np.flatnonzero(rng.random(n_subjects) < 0.05)
    new_visit = rng.integers(2, N_VISITS + 1, len(with_new))

    visit_names = np.array(["SCREENING"] + [f"WEEK {6 * i}" for i in range(1, N_VISITS)],
                           dtype=object)
    day0 = np.datetime64("2024-01-08")
    visit_dates = (day0 + np.arange(N_VISITS) * 42).astype(str).astype(object)

    usubjid = np.concatenate([subj_ids[les_subj[lv_les]],
                              np.repeat(subj_ids, N_VISITS), subj_ids[with_new]])
    lnkid = np.concatenate([les_id[lv_les], np.full(n_subjects * N_VISITS, None, object),
                            np.full(len(with_new), "NEW01", object)])
    testcd = np.concatenate([np.where(target_row, np.where(nodal[lv_les], "LPERP", "LDIAM"),
                                      "TUMSTATE"),
                             np.full(n_subjects * N_VISITS, "SUMDIAM", object),
                             np.full(len(with_new), "TUMSTATE", object)])
    sums = pd.Series(np.where(target_row & ~not_done, mm, 0.0)).groupby(
        les_subj[lv_les] * N_VISITS + lv_visit - 1).sum()
    stresn = np.concatenate([np.where(target_row & ~not_done, mm, np.nan),
                             sums.reindex(np.arange(n_subjects * N_VISITS)).to_numpy(),
                             np.full(len(with_new), np.nan)])
    stresc = np.concatenate([np.where(target_row, None, np.where(not_done, None, status)),
                             np.full(n_subjects * N_VISITS, None, object),
                             np.full(len(with_new), "UNEQUIVOCAL", object)])
    stat = np.concatenate([np.where(not_done, "NOT DONE", None),
                           np.full(n_subjects * N_VISITS, None, object),
                           np.full(len(with_new), None, object)])
    visitnum = np.concatenate([lv_visit, np.tile(np.arange(1, N_VISITS + 1), n_subjects),
                               new_visit]).astype(np.float64)
    vidx = visitnum.astype(np.int64) - 1
    n_rows = len(usubjid)
    tr = pd.DataFrame({
        "STUDYID": _text(np.full(n_rows, "BENCH", object)),
        "DOMAIN": _text(np.full(n_rows, "TR", object)),
        "USUBJID": _text(usubjid),
        "TRSEQ": np.arange(1, n_rows + 1, dtype=np.float64),
        "TRLNKID": _text(lnkid),
        "TRTESTCD": _text(testcd),
        "TRORRES": _text(np.where(np.isnan(stresn), stresc, stresn.astype(str))),
        "TRSTRESC": _text(np.where(np.isnan(stresn), stresc, stresn.astype(str))),
        "TRSTRESN": stresn,
        "TRSTRESU": _text(np.where(np.isnan(stresn), None, "mm")),
        "TRSTAT": _text(stat),
        "TREVAL": _text(np.full(n_rows, "INVESTIGATOR", object)),
        "VISITNUM": visitnum,
        "VISIT": _text(visit_names[vidx]),
        "TRDTC": _text(visit_dates[vidx]),
        "_SRCFILE": _text(np.full(n_rows, "tr.csv", object)),
        "_SRCROW": np.arange(1, n_rows + 1),
    })
    # Rows in TR file order, not grouped by subject.
    tr = tr.iloc[rng.permutation(n_rows)].reset_index(drop=True)
    tu = tu.iloc[rng.permutation(len(tu))].reset_index(drop=True)
    return tu, tr


def _investigator_rs(computed: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    """RS as an investigator would report it: the computed responses with 2 % changed."""
    rng = np.random.default_rng(seed + 1)
    post = computed[computed["OVRLRESP"].notna()]
    values = post["OVRLRESP"].to_numpy(dtype=object).copy()
    flip = rng.random(len(values)) < 0.02
    values[flip] = np.where(values[flip] == "PR", "SD", "PR")
    n = len(post)
    return pd.DataFrame({
        "USUBJID": post["USUBJID"].to_numpy(), "RSTESTCD": _text(np.full(n, "OVRLRESP", object)),
        "RSSTRESC": _text(values), "RSEVAL": _text(np.full(n, "INVESTIGATOR", object)),
        "RSCAT": _text(np.full(n, "RECIST 1.1", object)),
        "VISITNUM": post["VISITNUM"].to_numpy(), "VISIT": post["VISIT"].to_numpy(),
        "_SRCFILE": _text(np.full(n, "rs.csv", object)), "_SRCROW": np.arange(1, n + 1),
    })


def _timed(label: str, func, repeat: int = 3):
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    print(f"{label}: best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s "
          f"over {repeat} runs")
    return result


def main(n_subjects: int = 10_000) -> None:
    start = time.perf_counter()
    tu, tr = build_study(n_subjects)
    print(f"built {n_subjects:,} subjects: TU {len(tu):,} rows, TR {len(tr):,} rows "
          f"in {time.perf_counter() - start:.1f} s")
    computed = _timed("timepoint_responses", lambda: timepoint_responses(tu, tr))
    print(f"  {len(computed):,} assessments; OVRLRESP counts: "
          f"{computed['OVRLRESP'].value_counts(dropna=False).to_dict()}")
    rs = _investigator_rs(computed)
    table, findings = _timed("crosscheck", lambda: crosscheck(computed, rs))
    print(f"  {len(table):,} comparisons, {len(findings):,} findings")
    records = _timed("to_rs_records", lambda: to_rs_records(computed, "BENCH"))
    print(f"  {len(records):,} RS records")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("subjects", type=int, nargs="?", default=10_000,
                        help="subjects (default 10,000: about 1,000,000 TR rows)")
    main(parser.parse_args().subjects)
