"""Benchmark: cdiscmap's XPT v5 writer against pyreadstat.write_xport on a TR-like table.

Builds an N-row x 20-column tumour-results table (realistic values, some missing), writes it with
``cdiscmap.emit.xpt.write_xpt`` (limit checks included) and with
``pyreadstat.write_xport(..., file_format_version=5)``, and prints both times, the ratio and our
throughput (wall and CPU: the machine may be shared), the load average and the SHA-256 of our
file (outputs must stay byte-identical across optimisations: compare the hash with the one
recorded in benchmarks/README.md). Run from the repository root:

    .venv/bin/python benchmarks/bench_xpt.py            # 1,000,000 rows
    .venv/bin/python benchmarks/bench_xpt.py --rows 100000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from cdiscmap.emit.xpt import XptColumn, write_xpt

STUDYID = "A8081013"
VISITS = [(1.0, "SCREENING", "SCREENING")] + [
    (float(2 + k), f"CYCLE {1 + 2 * k} DAY 1", "TREATMENT") for k in range(12)
] + [(90.0, "END OF TREATMENT", "FOLLOW-UP")]

COLUMNS = [
    XptColumn("STUDYID", "Study Identifier", "char"),
    XptColumn("DOMAIN", "Domain Abbreviation", "char"),
    XptColumn("USUBJID", "Unique Subject Identifier", "char"),
    XptColumn("TRSEQ", "Sequence Number", "num"),
    XptColumn("TRLNKID", "Link ID", "char"),
    XptColumn("TRTESTCD", "Tumor/Lesion Assessment Short Name", "char"),
    XptColumn("TRTEST", "Tumor/Lesion Assessment Test Name", "char"),
    XptColumn("TRORRES", "Result or Finding in Original Units", "char"),
    XptColumn("TRORRESU", "Original Units", "char"),
    XptColumn("TRSTRESC", "Character Result/Finding in Std Format", "char"),
    XptColumn("TRSTRESN", "Numeric Result/Finding in Standard Units", "num"),
    XptColumn("TRSTRESU", "Standard Units", "char"),
    XptColumn("TRSTAT", "Completion Status", "char"),
    XptColumn("TREVAL", "Evaluator", "char"),
    XptColumn("VISITNUM", "Visit Number", "num"),
    XptColumn("VISIT", "Visit Name", "char"),
    XptColumn("TRDTC", "Date/Time of Tumor/Lesion Assessment", "char"),
    XptColumn("TRDY", "Study Day of Tumor/Lesion Assessment", "num"),
    XptColumn("TRMETHOD", "Method Used to Identify the Tumor/Lesion", "char"),
    XptColumn("EPOCH", "Epoch", "char"),
]


SHARED_TEXT = False    # --shared-text: one str object per distinct value, not one per cell


def _text(values: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """A pandas "string" column (the SDTM char dtype) from a numpy array of Python str.

    By default every cell is its own str object (``astype(object)`` of a numpy str array).
    With ``SHARED_TEXT`` the cells of one value share one object, as in frames read by
    ``pd.read_csv`` or cdiscmap's XPT reader and in codes mapped through a codelist.
    """
    values = values.astype(object)
    if missing is not None:
        values[missing] = None
    if SHARED_TEXT:
        codes, uniques = pd.factorize(values)
        values = np.append(uniques.astype(object), None)[codes]
    return pd.Series(pd.array(values, dtype="string"))


def build_tr(n_rows: int, seed: int = 20140312) -> pd.DataFrame:
    """A TR-like frame: target diameters, sums, non-target/new lesion states, ~200 rows/subject."""
    rng = np.random.default_rng(seed)
    n_subjects = max(1, n_rows // 200)
    subject = np.sort(rng.integers(0, n_subjects, n_rows))
    subject_ids = np.array([f"{STUDYID}-{1001 + s % 90:04d}-{10001 + s:05d}"
                            for s in range(n_subjects)], dtype=object)
    first_row = np.r_[0, np.flatnonzero(np.diff(subject)) + 1]
    sequence = np.arange(n_rows) - np.repeat(first_row, np.diff(np.r_[first_row, n_rows])) + 1

    test = rng.choice(4, n_rows, p=[0.5, 0.1, 0.1, 0.3])   # LDIAM, LPERP, SUMDIAM, TUMSTATE
    testcd = np.array(["LDIAM", "LPERP", "SUMDIAM", "TUMSTATE"], dtype=object)[test]
    testname = np.array(["Longest Diameter", "Longest Perpendicular", "Sum of Diameters",
                         "Tumor State"], dtype=object)[test]
    measured = test < 3
    not_done = rng.random(n_rows) < 0.03
    too_small = (test < 2) & ~not_done & (rng.random(n_rows) < 0.02)

    lesion = rng.integers(1, 6, n_rows)
    link = np.char.add(np.where(test < 2, "T", np.where(rng.random(n_rows) < 0.9, "NT", "NEW")),
                       np.char.zfill(lesion.astype(str), 2)).astype(object)
    link[test == 2] = None

    diameter = np.where(test == 2, rng.integers(10, 300, n_rows), rng.integers(5, 120, n_rows))
    state = np.array(["PRESENT", "ABSENT", "UNEQUIVOCAL", "EQUIVOCAL"], dtype=object)[
        rng.choice(4, n_rows, p=[0.7, 0.2, 0.05, 0.05])]
    orres = np.where(measured, diameter.astype(str).astype(object), state)
    orres[too_small] = "TOO SMALL TO MEASURE"
    stresc = orres.copy()
    stresc[too_small] = "5"
    stresn = np.where(measured, np.where(too_small, 5.0, diameter.astype(float)), np.nan)
    units = np.where(measured, "mm", None).astype(object)
    for array in (orres, stresc, units):
        array[not_done] = None
    stresn[not_done] = np.nan

    visit = np.minimum(sequence // 15, len(VISITS) - 1)
    visitnum = np.array([v[0] for v in VISITS])[visit]
    visitname = np.array([v[1] for v in VISITS], dtype=object)[visit]
    epoch = np.array([v[2] for v in VISITS], dtype=object)[visit]
    day = np.where(visit == 0, -rng.integers(1, 28, n_rows),
                   visit * 42 + rng.integers(-3, 4, n_rows))
    start = np.datetime64("2014-01-06") + rng.integers(0, 1500, n_subjects)[subject]
    dtc = (start + day).astype("datetime64[D]").astype(str).astype(object)
    dtc[not_done] = None
    trdy = np.where(day >= 0, day + 1, day).astype(float)
    trdy[not_done] = np.nan
    method = np.array(["CT SCAN", "MRI", "X-RAY", "PHOTOGRAPHY"], dtype=object)[
        rng.choice(4, n_rows, p=[0.8, 0.15, 0.03, 0.02])]

    return pd.DataFrame({
        "STUDYID": _text(np.full(n_rows, STUDYID, dtype=object)),
        "DOMAIN": _text(np.full(n_rows, "TR", dtype=object)),
        "USUBJID": _text(subject_ids[subject]),
        "TRSEQ": sequence.astype(float),
        "TRLNKID": _text(link),
        "TRTESTCD": _text(testcd),
        "TRTEST": _text(testname),
        "TRORRES": _text(orres),
        "TRORRESU": _text(units),
        "TRSTRESC": _text(stresc),
        "TRSTRESN": stresn,
        "TRSTRESU": _text(units.copy()),
        "TRSTAT": _text(np.where(not_done, "NOT DONE", None).astype(object)),
        "TREVAL": _text(np.full(n_rows, "INVESTIGATOR", dtype=object)),
        "VISITNUM": visitnum,
        "VISIT": _text(visitname),
        "TRDTC": _text(dtc),
        "TRDY": trdy,
        "TRMETHOD": _text(method),
        "EPOCH": _text(epoch),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of our writer (best is used)")
    parser.add_argument("--no-pyreadstat", action="store_true", help="time our writer only")
    parser.add_argument("--shared-text", action="store_true",
                        help="one str object per distinct text value (as read_csv and "
                             "cdiscmap's reader make them) instead of one per cell")
    args = parser.parse_args()
    global SHARED_TEXT
    SHARED_TEXT = args.shared_text

    started = time.perf_counter()
    frame = build_tr(args.rows)
    elapsed = time.perf_counter() - started
    print(f"built {args.rows:,} x {frame.shape[1]} TR frame in {elapsed:.1f} s")

    with tempfile.TemporaryDirectory(prefix="bench_xpt_") as tmp:
        ours = Path(tmp) / "tr.xpt"
        timings, cpu_timings = [], []
        load_before = os.getloadavg()[0]
        for _ in range(args.repeat):
            ours.unlink(missing_ok=True)   # every run writes a new file, as pyreadstat's does
            started, cpu_started = time.perf_counter(), time.process_time()
            result = write_xpt(ours, frame, dataset_name="TR", dataset_label="Tumor/Lesion Results",
                               columns=COLUMNS)
            timings.append(time.perf_counter() - started)
            cpu_timings.append(time.process_time() - cpu_started)
        best, best_cpu = min(timings), min(cpu_timings)
        megabytes = result.n_bytes / 1e6
        print(f"cdiscmap write_xpt : best {best:6.2f} s, median {statistics.median(timings):6.2f} s"
              f" over {args.repeat} runs; {megabytes:,.1f} MB -> {megabytes / best:,.0f} MB/s")
        print(f"                     CPU best {best_cpu:6.2f} s (all threads) -> "
              f"{megabytes / best_cpu:,.0f} MB per CPU-second")
        print(f"                     load average (1 min) {load_before:.2f} before, "
              f"{os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs")
        print(f"                     sha256 {hashlib.sha256(ours.read_bytes()).hexdigest()}")
        if args.no_pyreadstat:
            return
        theirs = Path(tmp) / "tr_pyreadstat.xpt"
        started = time.perf_counter()
        pyreadstat.write_xport(frame, str(theirs), file_label="Tumor/Lesion Results",
                               column_labels=[c.label for c in COLUMNS], table_name="TR",
                               file_format_version=5)
        elapsed = time.perf_counter() - started
        size = theirs.stat().st_size / 1e6
        print(f"pyreadstat v5      : {elapsed:6.2f} s; {size:,.1f} MB -> "
              f"{size / elapsed:,.0f} MB/s")
        print(f"speed-up           : {elapsed / best:.1f}x")
        print(f"observations byte-identical to pyreadstat's: {same_observations(ours, theirs)}")


def same_observations(ours: Path, theirs: Path) -> bool:
    """Both files have the same variables, so everything after the OBS header must match."""
    marker = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!"
    mine, other = ours.read_bytes(), theirs.read_bytes()
    return mine[mine.index(marker) + 80:] == other[other.index(marker) + 80:]


if __name__ == "__main__":
    main()
