"""Benchmark: ``validate_folder`` on the SDTM + ADaM XPT package of a 10,000-subject study.

Synthesises the basket trial's raw export (``cdiscmap.synth.generate``), runs the pipeline once
(``cdiscmap.pipeline.run.run_study``) to get ``<out>/CRZBASKET/{sdtm,adam}/*.xpt``, then times
``validate_folder`` on the package root (best and median of ``--repeat`` runs); ``--profile``
adds a cProfile listing of one more run. Issue 13 target for `cdiscmap validate` at 10,000
subjects: 4 s on 2 cores (this times the library call, without start-up and report writing).

    python benchmarks/bench_validate.py [--subjects 10000] [--repeat 3] [--keep DIR] [--profile]
    python benchmarks/bench_validate.py --package OUT/CRZBASKET     # an existing package
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
    parser.add_argument("--package", type=Path,
                        help="validate this package folder (sdtm/, adam/) instead of making one")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-validate-"))
    try:
        package = args.package or _make_package(args.subjects, work)
        size = sum(p.stat().st_size for p in package.rglob("*.xpt"))
        print(f"package {package.name}: {size / 1e6:.1f} MB of XPT")
        _time_validate(package, args.repeat, args.profile)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _make_package(subjects: int, work: Path) -> Path:
    """Synthesise the basket export and run the pipeline on it: the package root."""
    started = time.perf_counter()
    generate("crizotinib-basket", work / "export", n_subjects=subjects)
    synth_s = time.perf_counter() - started
    started = time.perf_counter()
    result = run_study(RunOptions(study_dir=default_study_dir(),
                                  raw_dir=work / "export" / "raw", out_root=work / "out"))
    run_s = time.perf_counter() - started
    print(f"{subjects} subjects: synth {synth_s:.1f} s, run {run_s:.1f} s")
    return result.out_dir


def _time_validate(package: Path, repeat: int, profile: bool) -> None:
    """Best and median of ``repeat`` validate_folder runs (standards loaded once)."""
    standards = load_standards()          # cached after the first call, as in a CLI run
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        report = validate_folder(package, standards=standards)
        times.append(time.perf_counter() - started)
    records = sum(d.records for d in report.datasets)
    counts = report.counts()
    print(f"validate_folder: {len(report.datasets)} datasets, {records:,} records; "
          f"best {min(times):.2f} s, median {statistics.median(times):.2f} s of "
          f"{len(times)} (issue 13 target for the command: 4 s)")
    print(f"findings: {counts['error']} errors, {counts['warning']} warnings, "
          f"{counts['notice']} notices")
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        validate_folder(package, standards=standards)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
