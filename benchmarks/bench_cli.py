"""The commands a user runs, end to end: each one a real `cdiscmap` subprocess, measured.

    python benchmarks/bench_cli.py                       # 1,000 and 10,000 subjects
    python benchmarks/bench_cli.py --subjects 1000       # one size only
    python benchmarks/bench_cli.py --with-30k --with-100k
    python benchmarks/bench_cli.py --hash before.json    # record a sha256 per output file
    python benchmarks/bench_cli.py --check-hash before.json   # ... and prove them unchanged

For each size: `cdiscmap synth` makes the demo study's raw export (timed, no target), then
`cdiscmap run`, `cdiscmap adam --sdtm`, `cdiscmap recist --sdtm`, `cdiscmap validate` and
`cdiscmap define` run on it; `cdiscmap --help` and `--version` run once. Each line gives wall
time, CPU time (user + system of the child, from os.wait4) and the child's peak RSS, the
1-minute load average when it started, and the issue-13 target with "met"/"NOT met". The last
table is the growth of `cdiscmap run` with the number of subjects.

The cdiscmap package is byte-compiled first, as a wheel install leaves it, and matplotlib's
font list is built (once per machine: matplotlib's own first-import scan). Not part of the
test pass. The machine's load changes wall times a lot: compare CPU time when
the load average is above the number of cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

STUDY = "crizotinib-basket"
STUDYID = "CRZBASKET"
SEED = 20140701
GB = 1024 ** 3


@dataclass
class Measure:
    label: str
    wall: float
    cpu: float
    rss: int                  # bytes
    load: float
    status: int


@dataclass(frozen=True)
class Target:
    wall: float | None = None
    rss: int | None = None


# (command, subjects) → target from issue 13 (2 cores)
TARGETS = {
    ("run", 10_000): Target(10.0, int(1.5 * GB)),
    ("run", 100_000): Target(100.0, 8 * GB),
    ("adam", 10_000): Target(2.0),
    ("validate", 10_000): Target(4.0),
    ("recist", 10_000): Target(2.0),
    ("--help", 0): Target(0.3),
    ("--version", 0): Target(0.3),
}


# the fixed cost of a small run (issue 13): the wall time of `run` at the smallest size less
# that size's share of the growth per subject (a straight line through the smallest and the
# largest size)
FIXED_COST_TARGET = 2.0


def cdiscmap_command() -> list[str]:
    """The installed console script beside this Python (what a user types), else -m."""
    script = Path(sys.executable).with_name("cdiscmap")
    if script.is_file():
        return [str(script)]
    found = shutil.which("cdiscmap")
    return [found] if found else [sys.executable, "-m", "cdiscmap.cli"]


def compile_package() -> str:
    """Byte-compile the installed cdiscmap package, as installing a wheel does (pip writes
    the ``.pyc`` files); an editable checkout under ``PYTHONDONTWRITEBYTECODE=1`` would
    otherwise compile every module again in every measured command (≈ 0.1 CPU-s each)."""
    import importlib.util

    spec = importlib.util.find_spec("cdiscmap")
    if spec is None or not spec.submodule_search_locations:
        return "cdiscmap not importable here: not byte-compiled"
    folder = Path(next(iter(spec.submodule_search_locations)))
    done = subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)],
                          env={k: v for k, v in os.environ.items()
                               if k != "PYTHONDONTWRITEBYTECODE"},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return f"byte-compiled {folder.name} ({'ok' if done.returncode == 0 else 'failed'})"


def warm_matplotlib() -> str:
    """Build matplotlib's font list before anything is timed. matplotlib scans the system's
    fonts at its first import on a machine (and after an upgrade) and keeps the list in its
    cache folder (``fontlist-v*.json``); on a fresh machine that once-only scan (≈ 0.6 s) would
    land in the first measured ``run``, whose report imports matplotlib, and be counted as
    the fixed cost of every run. Done with the Python the console script uses."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if done.returncode != 0:
        return "matplotlib not importable here"
    return f"matplotlib font list ready ({time.perf_counter() - started:.2f} s)"


def measure(label: str, argv: list[str], log: Path) -> Measure:
    """Run one child to the end; wall from the parent, CPU and peak RSS from its rusage."""
    load = os.getloadavg()[0]
    with log.open("wb") as out:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return Measure(label, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, load,
                   child.returncode)


def verdict(m: Measure, target: Target | None) -> str:
    if target is None:
        return ""
    parts, met = [], True
    if target.wall is not None:
        parts.append(f"wall <= {target.wall:g} s")
        met &= m.wall <= target.wall
    if target.rss is not None:
        parts.append(f"RSS <= {target.rss / GB:g} GB")
        met &= m.rss <= target.rss
    return f"target {', '.join(parts)}: {'met' if met else 'NOT met'}"


def show(m: Measure, target: Target | None) -> None:
    flag = "" if m.status in (0, 1) else f"  EXIT {m.status}"
    print(f"{m.label:<34} wall {m.wall:7.2f} s  cpu {m.cpu:7.2f} s  rss {m.rss / 2**20:7.0f} MB"
          f"  load {m.load:4.1f}  {verdict(m, target)}{flag}", flush=True)


def hashes(root: Path, folders: list[Path]) -> dict[str, str]:
    """sha256 of every output file, by path relative to the work folder."""
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                found[path.relative_to(root).as_posix()] = hashlib.sha256(
                    path.read_bytes()).hexdigest()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--subjects", default="1000,10000",
                        help="comma-separated sizes (default: 1000,10000)")
    parser.add_argument("--with-30k", action="store_true", help="add 30,000 subjects")
    parser.add_argument("--with-100k", action="store_true",
                        help="add 100,000 subjects (several minutes and GBs of memory)")
    parser.add_argument("--hash", type=Path, metavar="FILE",
                        help="write a JSON of sha256 per output file to FILE")
    parser.add_argument("--check-hash", type=Path, metavar="FILE",
                        help="compare the outputs with a JSON written by --hash; exit 1 if any "
                             "file differs")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="work in DIR and keep the outputs (default: a temporary folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.subjects.split(",") if s.strip()]
    sizes += [n for n, on in ((30_000, args.with_30k), (100_000, args.with_100k)) if on]
    sizes = sorted(dict.fromkeys(sizes))

    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return bench(args.keep.resolve(), sizes, args)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        return bench(Path(tmp), sizes, args)


def bench(work: Path, sizes: list[int], args: argparse.Namespace) -> int:
    cli = cdiscmap_command()
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
          f"command: {' '.join(Path(c).name for c in cli)}; sizes {sizes}; "
          f"{compile_package()}; {warm_matplotlib()}", flush=True)
    runs: list[tuple[int, Measure]] = []
    outputs: list[Path] = []
    for label in ("--help", "--version"):
        show(measure(f"cdiscmap {label}", cli + [label], logs / f"{label[2:]}.log"),
             TARGETS.get((label, 0)))
    for n in sizes:
        export, out = work / f"export-{n}", work / f"out-{n}"
        package = out / STUDYID
        steps = [
            ("synth", [*cli, "synth", "--study", STUDY, "--subjects", str(n), "--seed",
                       str(SEED), "--out", str(export), "-q"]),
            ("run", [*cli, "run", STUDY, "--raw", str(export / "raw"), "--out", str(out),
                     "--fail-on", "none", "-q"]),
            ("adam", [*cli, "adam", "--sdtm", str(package / "sdtm"), "--study", STUDY,
                      "--out", str(work / f"adam-{n}"), "--fail-on", "none", "-q"]),
            ("recist", [*cli, "recist", "--sdtm", str(package / "sdtm"), "--out",
                        str(work / f"recist-{n}"), "--fail-on", "none", "-q"]),
            ("validate", [*cli, "validate", str(package), "--out", str(work / f"val-{n}"),
                          "--fail-on", "none", "-q"]),
            ("define", [*cli, "define", STUDY, "--package", str(package)]),
        ]
        print(f"--- {n:,} subjects", flush=True)
        for name, argv in steps:
            m = measure(f"cdiscmap {name} ({n:,})", argv, logs / f"{name}-{n}.log")
            show(m, TARGETS.get((name, n)))
            if name == "run":
                runs.append((n, m))
            if m.status not in (0, 1):
                print(f"    see {logs / f'{name}-{n}.log'}", flush=True)
        outputs += [out, work / f"adam-{n}", work / f"recist-{n}", work / f"val-{n}"]

    if len(runs) > 1:
        print("--- growth of `cdiscmap run`", flush=True)
        print(f"{'subjects':>9} {'wall s':>8} {'cpu s':>8} {'rss MB':>8} {'load':>5}")
        for n, m in runs:
            print(f"{n:>9,} {m.wall:8.2f} {m.cpu:8.2f} {m.rss / 2**20:8.0f} {m.load:5.1f}")
        (n0, a), (n1, b) = runs[0], runs[-1]
        per_k = 1000 / (n1 - n0)
        fixed = a.wall - (b.wall - a.wall) * per_k * n0 / 1000
        print(f"per 1,000 subjects: {(b.wall - a.wall) * per_k:.2f} s wall, "
              f"{(b.cpu - a.cpu) * per_k:.2f} s cpu, {(b.rss - a.rss) * per_k / 2**20:.0f} MB; "
              f"fixed ≈ {fixed:.1f} s wall  [target: fixed cost < {FIXED_COST_TARGET:g} s: "
              f"{'met' if fixed < FIXED_COST_TARGET else 'NOT met'}]")

    status = 0
    existing = [p for p in outputs if p.is_dir()]
    found = hashes(work, existing)
    if args.hash:
        args.hash.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
        print(f"{len(found)} output hashes written to {args.hash}")
    if args.check_hash:
        before = json.loads(args.check_hash.read_text())
        differ = sorted(k for k in before.keys() & found.keys() if before[k] != found[k])
        only = sorted(before.keys() ^ found.keys())
        print(f"outputs vs {args.check_hash}: {len(before.keys() & found.keys())} compared, "
              f"{len(differ)} differ, {len(only)} in one run only")
        for key in differ[:20] + only[:20]:
            print(f"    {key}")
        status = 1 if differ or only else 0
    return status


if __name__ == "__main__":
    sys.exit(main())
