"""`cdiscmap batch` on a local Dask cluster: memory of one study per worker, and 1 vs N workers.

    python benchmarks/bench_batch.py                          # 150/1,000 subjects; 6 studies
    python benchmarks/bench_batch.py --studies 6 --subjects 100 --workers 1,2

Part 1 runs the demo study (crizotinib-basket) at each ``--memory-sizes`` in a fresh worker
process of a one-worker LocalCluster and prints the worker's peak RSS (resource.getrusage in
the worker) next to its RSS before the run (Python, pandas and Dask loaded).
Part 2 makes ``--studies`` copies of the demo study (STUDYID CRZB01, CRZB02, ...; one shared
synthetic export of ``--subjects``) and runs them with ``run_batch`` on 1, 2, ... workers,
printing the wall time (cluster start-up included) and the sum of the studies' own times.
Figures and a projection to a real cluster: docs/scaling.md. Needs the ``scale`` extra.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from cdiscmap.pipeline.run import bundled_studies_dir

STUDY = "crizotinib-basket"
STUDYID = "CRZBASKET"
SEED = 20140701


def _rss_now() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _run_and_measure(study_dir: str, raw: str, out: str) -> tuple[float, int, int]:
    """Inside a worker: RSS before, the run's seconds, the worker's peak RSS (bytes)."""
    from cdiscmap.pipeline.run import RunOptions, run_study

    before = _rss_now()
    started = time.perf_counter()
    run_study(RunOptions(study_dir=Path(study_dir), raw_dir=Path(raw), out_root=Path(out)))
    seconds = time.perf_counter() - started
    return seconds, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory(work: Path, sizes: list[int]) -> None:
    import logging

    from distributed import Client, LocalCluster

    from cdiscmap.synth import generate

    print("--- peak RSS of one worker running the demo study", flush=True)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None, host="127.0.0.1",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        for n in sizes:
            generate(STUDY, work / f"mem-{n}", n_subjects=n, seed=SEED)
            client.restart()                       # a fresh worker process per size
            seconds, before, peak = client.submit(
                _run_and_measure, str(bundled_studies_dir() / STUDY),
                str(work / f"mem-{n}" / "raw"), str(work / f"mem-out-{n}"), pure=False).result()
            print(f"{n:>6,} subjects: run {seconds:6.1f} s; worker RSS before {before / 2**20:5.0f}"
                  f" MB, peak {peak / 2**20:5.0f} MB (load {os.getloadavg()[0]:.1f})",
                  flush=True)


def copies(work: Path, count: int, subjects: int) -> tuple[list[Path], Path]:
    """``count`` copies of the demo study with their own STUDYID, one raw export for all."""
    from cdiscmap.synth import generate

    export = work / "export"
    generate(STUDY, export, n_subjects=subjects, seed=SEED)
    studies, raw_root = [], work / "raw-root"
    raw_root.mkdir()
    for i in range(1, count + 1):
        folder = work / "studies" / f"crzb{i:02d}"
        shutil.copytree(bundled_studies_dir() / STUDY, folder)
        for path in folder.rglob("*.yaml"):
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace(STUDYID, f"CRZB{i:02d}"), encoding="utf-8")
        (raw_root / folder.name).symlink_to(export)        # raw-root/<name>/raw
        studies.append(folder)
    return studies, raw_root


def scaling(work: Path, count: int, subjects: int, workers: list[int]) -> None:
    from cdiscmap.scale.batch import run_batch

    studies, raw_root = copies(work, count, subjects)
    print(f"--- {count} studies of {subjects} subjects", flush=True)
    for n in workers:
        load = os.getloadavg()[0]
        started = time.perf_counter()
        result = run_batch(studies, work / f"batch-{n}", raw_root=raw_root, workers=n,
                           echo=lambda _: None)
        wall = time.perf_counter() - started
        own = sum(o.seconds for o in result.outcomes)
        print(f"{n} worker(s): wall {wall:6.1f} s (cluster start-up included), studies' own "
              f"time {own:6.1f} s, exit {result.status} (load {load:.1f} at start)",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-sizes", default="150,1000",
                        help="subjects of the memory runs ('' to skip)")
    parser.add_argument("--studies", type=int, default=6)
    parser.add_argument("--subjects", type=int, default=100, help="subjects per study copy")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        work = Path(tmp)
        sizes = [int(s) for s in args.memory_sizes.split(",") if s.strip()]
        if sizes:
            memory(work, sizes)
        if args.studies:
            scaling(work, args.studies, args.subjects,
                    [int(w) for w in args.workers.split(",") if w.strip()])


if __name__ == "__main__":
    main()
