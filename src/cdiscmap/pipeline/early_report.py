"""The analysis report's process of a small run, forked before the run imports anything heavy.

Why so early: a small run is short and its second core is idle while the command imports
pandas, pydantic and the specs' models (≈ 0.7 s at 1,000 subjects). The report's process
spends that time importing what making the report needs (pandas, matplotlib, scipy, the
analysis modules: ≈ 0.9 CPU-s) instead of competing with the mapping for the two cores later;
it then waits for the run's ADaM frames (:func:`cdiscmap.analysis.report.report_peer`).
Forked after the heavy imports it would inherit them, but only the idle core's time is free.

This module imports nothing heavy itself (the console script's ``run`` uses it before its own
imports): the standard library and :mod:`cdiscmap.forked` only.
"""

from __future__ import annotations

import os
from pathlib import Path

from cdiscmap import forked
from cdiscmap.forked import ForkedPeer, PeerChannel

# A run whose raw files take at most this many bytes forks the report's process at its start
# (:func:`wanted`); its ADaM, up to EARLY_REPORT_RECORDS records, then goes to that process
# pickled (1,000 demo subjects: 53k records, 8.8 MB, ≈ 0.035 CPU-s each way). Larger runs
# fork the report's child after ADaM, which shares the frames without pickling them (10,000
# subjects: 0.4 CPU-s to pickle) and has no idle core to import on early.
EARLY_REPORT_RAW_BYTES = 32 << 20
EARLY_REPORT_RECORDS = 200_000


def makes_report(study_dir: Path, adam: bool) -> bool:
    """Whether ``run`` makes the analysis report: ADaM derived (``adam/``) and
    ``analysis.yaml`` given."""
    return adam and (study_dir / "adam").is_dir() and (study_dir / "analysis.yaml").is_file()


def wanted(study_dir: Path, raw_dir: Path | None, adam: bool) -> bool:
    """Whether a run forks the report's process at its start: a report to make
    (:func:`makes_report`), a small raw export given, a core to run it on."""
    if not (makes_report(study_dir, adam) and raw_dir is not None and raw_dir.is_dir()
            and forked.fork_usable() and forked.fork_unsafe_runtime() is None):
        return False
    size = 0
    with os.scandir(raw_dir) as entries:
        for entry in entries:
            if entry.is_file():
                size += entry.stat().st_size
                if size > EARLY_REPORT_RAW_BYTES:
                    return False
    return True


def start(study_dir: Path, raw_dir: Path | None, adam: bool) -> ForkedPeer | None:
    """The report's process when :func:`wanted`, else None (also when no process can be
    started: the run then makes its report in a child forked after ADaM, the same)."""
    if not wanted(study_dir, raw_dir, adam):
        return None
    try:
        return ForkedPeer(report_work)
    except OSError:
        return None


def report_work(channel: PeerChannel) -> None:
    """The forked process's work: the report's modules imported with the cyclic garbage
    collector paused (they are long-lived: no garbage to find among them; frozen by
    ``report_peer``), then :func:`cdiscmap.analysis.report.report_peer`."""
    with forked.collector_paused():
        from cdiscmap.analysis.report import report_peer
    report_peer(channel)
