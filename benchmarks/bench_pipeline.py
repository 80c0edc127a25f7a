"""Whole pipeline at scale: synthesise N subjects, then raw → SDTM → ADaM → XPT + report.

    python benchmarks/bench_pipeline.py [--subjects 10000] [--seed 20140701]

Prints the time of each step and the row counts; not part of the test pass.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cdiscmap.pipeline.run import RunOptions, default_study_dir, run_study
from cdiscmap.synth import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20140701)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        synth = generate("crizotinib-basket", root / "export", n_subjects=args.subjects,
                         seed=args.seed)
        t1 = time.perf_counter()
        raw_rows = sum(synth.rows.values())
        print(f"synth: {args.subjects} subjects, {raw_rows} raw rows in {t1 - t0:.2f} s")
        for adam in (False, True):
            t2 = time.perf_counter()
            result = run_study(RunOptions(study_dir=default_study_dir(), raw_dir=synth.raw_dir,
                                          out_root=root / f"out{int(adam)}", adam=adam))
            t3 = time.perf_counter()
            records = sum(len(f) for f in result.datasets.values())
            label = "raw → SDTM + ADaM" if adam else "raw → SDTM"
            print(f"{label}: {records} records written in {t3 - t2:.2f} s "
                  f"({raw_rows / (t3 - t2):,.0f} raw rows/s)")
        f = result.summary["findings"]
        print(f"findings: {f['error']} errors, {f['warning']} warnings, {f['notice']} notices; "
              f"balanced: {result.summary['balanced']}")


if __name__ == "__main__":
    main()
