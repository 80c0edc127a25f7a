"""Benchmark: generate the basket-trial export for 10,000 subjects; print time and rows.

Run: ``python benchmarks/bench_synth.py [--subjects N] [--seed S] [--repeat R] [--keep DIR]``.
Not part of the test pass.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cdiscmap.synth import DEFAULT_SEED, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the files")
    args = parser.parse_args()

    timings = []
    result = None
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = args.keep or Path(tmp)
            start = time.perf_counter()
            result = generate("crizotinib-basket", out, n_subjects=args.subjects, seed=args.seed)
            timings.append(time.perf_counter() - start)
            size = sum(p.stat().st_size for p in (out / "raw").glob("*.csv"))
    assert result is not None
    print(f"crizotinib-basket: {args.subjects} subjects, seed {args.seed}")
    for name, rows in sorted(result.rows.items()):
        print(f"  {name:<10} {rows:>9,} rows")
    print(f"  {'total':<10} {sum(result.rows.values()):>9,} rows, {size / 1e6:.1f} MB raw")
    print(f"time: best {min(timings):.2f} s, median {sorted(timings)[len(timings) // 2]:.2f} s "
          f"over {len(timings)} runs (generation + writing CSV)")


if __name__ == "__main__":
    main()
