"""Benchmark: ``validate_folder`` on the SDTM + ADaM XPT package of a 10,000-subject study.

Synthesises the basket trial's raw export (``cdiscmap.synth.generate``), runs the pipeline once
(``cdiscmap.pipeline.run.run_study``) to get ``<out>/CRZBASKET/{sdtm,adam}/*.xpt``, then times
``validate_folder`` on the package root (best and median of ``--repeat`` runs); ``--profile``
adds a cProfile listing of one more run. Target: < 10 s on the project machine (2 cores).

    python benchmarks/bench_validate.py [--subjects 10000] [--repeat 3] [--keep DIR] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from cdiscmap.pipeline.run import RunOptions, default_study_dir, run_study
from cdiscmap.standards import load_standards
from cdiscmap.synth import generate
from cdiscmap.validation.folder import validate_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--profile", action="store_true", help="print the top 25 functions")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-validate-"))
    try:
        started = time.perf_counter()
        generate("crizotinib-basket", work / "export", n_subjects=args.subjects)
        synth_s = time.perf_counter() - started
        started = time.perf_counter()
        result = run_study(RunOptions(study_dir=default_study_dir(),
                                      raw_dir=work / "export" / "raw", out_root=work / "out"))
        run_s = time.perf_counter() - started
        package = result.out_dir
        size = sum(p.stat().st_size for p in package.rglob("*.xpt"))
        print(f"{args.subjects} subjects: synth {synth_s:.1f} s, run {run_s:.1f} s; "
              f"package {size / 1e6:.1f} MB of XPT")

        standards = load_standards()          # cached after the first call, as in a CLI run
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            report = validate_folder(package, standards=standards)
            times.append(time.perf_counter() - started)
        records = sum(d.records for d in report.datasets)
        counts = report.counts()
        print(f"validate_folder: {len(report.datasets)} datasets, {records:,} records; "
              f"best {min(times):.2f} s, median {statistics.median(times):.2f} s of "
              f"{len(times)} (target < 10 s)")
        print(f"findings: {counts['error']} errors, {counts['warning']} warnings, "
              f"{counts['notice']} notices")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            validate_folder(package, standards=standards)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
