"""Benchmark: `cdiscmap compare` of two 1,000,000-row x 50-column datasets.

Builds an LB-like BASE table (key STUDYID, USUBJID, LBTESTCD, VISITNUM, LBSEQ; 25 text, 20
numeric and 5 date variables, the text drawn from small vocabularies as in SDTM) and a COMPARE
copy in a shuffled record order with planted differences: 0.1 % of one text variable changed,
0.1 % of one number moved beyond the tolerance, 0.1 % moved within it, 100 records dropped and
100 added. Times :func:`cdiscmap.compare.diff.compare_tables` (key join + every variable) on the
in-memory tables, best of ``--repeat``; with ``--xpt`` also writes both as XPT and times
reading them back plus comparing. Prints the figures and checks that the planted differences
are found. Target: under 5 s on 2 cores for the in-memory comparison.

    python benchmarks/bench_compare.py [--rows 1000000] [--repeat 3] [--xpt]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from cdiscmap.compare.diff import CompareOptions, compare_tables
from cdiscmap.compare.read import Table, VarInfo

N_TEXT, N_NUM, N_DATE = 25, 20, 5


def build(rows: int, seed: int = 20260101) -> Table:
    rng = np.random.default_rng(seed)
    subjects = np.array([f"STUDY1-{i:05d}" for i in range(max(1, rows // 100))], dtype=object)
    tests = np.array([f"T{i:03d}" for i in range(20)], dtype=object)
    columns: dict[str, np.ndarray] = {
        "STUDYID": np.full(rows, "STUDY1", dtype=object),
        "USUBJID": subjects[np.arange(rows) // 100 % len(subjects)],
        "LBTESTCD": tests[np.arange(rows) % 20],
        "VISITNUM": (np.arange(rows) // 20 % 5 + 1).astype(np.float64),
        "LBSEQ": (np.arange(rows) % 100 + 1).astype(np.float64),
    }
    kinds = {"STUDYID": "char", "USUBJID": "char", "LBTESTCD": "char", "VISITNUM": "num",
             "LBSEQ": "num"}
    for i in range(N_TEXT - 3):
        vocabulary = np.array([f"VALUE {i} {j}" for j in range(50)] + [None], dtype=object)
        columns[f"C{i:02d}"] = vocabulary[rng.integers(0, 51, rows)]
        kinds[f"C{i:02d}"] = "char"
    for i in range(N_NUM - 2):
        values = rng.normal(100, 30, rows).round(3)
        values[rng.random(rows) < 0.02] = np.nan
        columns[f"N{i:02d}"] = values
        kinds[f"N{i:02d}"] = "num"
    for i in range(N_DATE):
        days = rng.integers(19000, 20000, rows).astype("datetime64[D]")
        columns[f"D{i:02d}"] = days.astype("datetime64[ns]")
        kinds[f"D{i:02d}"] = "date"
    variables = {n: VarInfo(n, "char" if k == "char" else "num", k, n.lower(),
                            200 if k == "char" else 8, "DATE9." if k == "date" else "")
                 for n, k in kinds.items()}
    return Table(name="LB", source="base", format="memory", label="Laboratory",
                 variables=variables, columns=columns)


def planted(base: Table, seed: int = 7) -> tuple[Table, dict[str, int]]:
    rng = np.random.default_rng(seed)
    n = base.n_rows
    columns = {k: v.copy() for k, v in base.columns.items()}
    share = max(1, n // 1000)
    changed_text = rng.choice(n, share, replace=False)
    columns["C00"][changed_text] = "CHANGED"
    was = base.columns["C00"][changed_text]
    moved = rng.choice(np.flatnonzero(~np.isnan(columns["N00"])), 2 * share, replace=False)
    columns["N00"][moved[:share]] += 0.5            # beyond the tolerance
    columns["N00"][moved[share:]] += 1e-10          # within it
    keep = np.ones(n, dtype=bool)
    keep[rng.choice(n, 100, replace=False)] = False
    order = rng.permutation(int(keep.sum()))
    for name in columns:
        columns[name] = columns[name][keep][order]
    extra = {k: v[:100].copy() for k, v in columns.items()}
    extra["LBSEQ"] = extra["LBSEQ"] + 1000           # new keys
    for name in columns:
        columns[name] = np.concatenate([columns[name], extra[name]])
    kept_changes = int(keep[changed_text].sum() - (was[keep[changed_text]] == "CHANGED").sum())
    expected = {"C00": kept_changes, "N00": int(keep[moved[:share]].sum()),
                "only_base": 100, "only_compare": 100}
    return Table(name="LB", source="compare", format="memory", label="Laboratory",
                 variables=dict(base.variables), columns=columns), expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--xpt", action="store_true",
                        help="also write both tables as XPT and time reading + comparing")
    args = parser.parse_args()

    t0 = time.perf_counter()
    base = build(args.rows)
    compare, expected = planted(base)
    print(f"built {args.rows:,} x {len(base.variables)} (BASE) and {compare.n_rows:,} "
          f"(COMPARE) in {time.perf_counter() - t0:.1f} s")
    opts = CompareOptions(keys=("STUDYID", "USUBJID", "LBTESTCD", "VISITNUM", "LBSEQ"),
                          tolerance=1e-8)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = compare_tables(base, compare, opts)
        times.append(time.perf_counter() - start)
    found = {v.variable: v.unequal for v in result.values}
    print(f"compare_tables: best {min(times):.2f} s, median {sorted(times)[len(times) // 2]:.2f}"
          f" s of {len(times)} (keys {', '.join(result.keys)})")
    print(f"found: {found}; only in BASE {result.only_base}, only in COMPARE "
          f"{result.only_compare}; expected {expected}")
    ok = (found == {"C00": expected["C00"], "N00": expected["N00"]}
          and result.only_base == expected["only_base"]
          and result.only_compare == expected["only_compare"])
    print("planted differences found exactly" if ok else "MISMATCH in planted differences")
    if args.xpt:
        import pandas as pd

        from cdiscmap.compare.read import read_table
        from cdiscmap.emit.xpt import XptColumn, write_xpt

        with tempfile.TemporaryDirectory() as folder:
            paths = []
            for side, table in (("base", base), ("compare", compare)):
                frame = pd.DataFrame(table.columns)
                cols = [XptColumn(v.name, v.label or "", v.type or "char",
                                  None if v.type == "char" else 8, v.format or None)
                        for v in table.variables.values()]
                path = Path(folder) / side / "lb.xpt"
                path.parent.mkdir()
                write_xpt(path, frame, dataset_name="LB", dataset_label="Laboratory",
                          columns=cols)
                paths.append(path)
            start = time.perf_counter()
            tables = [read_table(p) for p in paths]
            read_s = time.perf_counter() - start
            compare_tables(*tables, opts)
            total = time.perf_counter() - start
            print(f"from XPT files: read {read_s:.2f} s, read + compare {total:.2f} s")


if __name__ == "__main__":
    main()
