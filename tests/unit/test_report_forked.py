"""build_report makes its tables (with their RTF) and figures in two processes, each taking the
next job when it is free: the files are those of a report made in one process, whichever
process made which job and in whatever order; ``draw=False`` gives the same tables and
figure metadata without images.

Runs in a fresh interpreter: nothing is forked once polars (rtflite's engine) is loaded, and
the test process may have loaded it already."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = r'''
import sys
import pandas as pd
from cdiscmap.analysis.report import build_report, report_files
from cdiscmap.analysis.settings import AnalysisSettings

settings = AnalysisSettings.model_validate({
    "populations": {"eff": {"flag": "EFFFL"}},
    "groupings": {"all": {}, "arm": {"variable": "ARMCD", "label": "ARM"}},
    "response": [{"id": "t_orr", "title": "ORR", "population": "eff", "grouping": "arm",
                  "endpoints": [{"label": "ORR", "paramcd": "BOR",
                                 "responders": ["CR", "PR"]}]}],
    "simon": [{"id": "t_simon", "title": "Simon", "population": "eff", "grouping": "arm",
               "endpoint": {"label": "ORR", "paramcd": "BOR", "responders": ["CR", "PR"]},
               "order_by": "TRTSDT", "design": {"r1": 0, "n1": 1, "r": 1, "n": 2}}],
    "survival": [{"id": "t_tte", "title": "OS", "population": "eff", "grouping": "arm",
                  "endpoints": ["OS"]}],
    "tumour": [{"id": "f_t", "title": "Tumour", "population": "eff", "grouping": "all"}],
})
ids = ["S1", "S2", "S3", "S4"]
adam = {
    "ADSL": pd.DataFrame({"STUDYID": "T", "USUBJID": ids, "EFFFL": "Y",
                          "ARMCD": ["A", "A", "B", "B"], "ARM": ["Arm A"] * 2 + ["Arm B"] * 2,
                          "TRTSDT": ["2020-01-01"] * 4,
                          "TRTEDT": ["2020-07-01", "2020-03-01", "2020-04-30", "2020-02-01"],
                          "DTHDT": [None, "2020-04-01", None, None]}),
    "ADRS": pd.DataFrame({"USUBJID": ids * 2, "PARAMCD": ["BOR"] * 4 + ["OVR"] * 4,
                          "AVALC": ["PR", "PD", "SD", "CR"] * 2,
                          "ADT": [None] * 4 + ["2020-02-26"] * 4}),
    "ADTR": pd.DataFrame({"USUBJID": ["S1", "S1", "S2", "S2"], "PARAMCD": "SDIAM",
                          "ADY": [-3, 57, -1, 57], "AVAL": [100, 60, 80, 100],
                          "PCHG": [None, -40.0, None, 25.0], "ABLFL": ["Y", None, "Y", None],
                          "ANL01FL": "Y", "ANL02FL": [None, "Y", None, "Y"]}),
    "ADTTE": pd.DataFrame({"USUBJID": ids, "PARAMCD": "OS", "PARAM": "Overall Survival",
                           "AVAL": [400, 300, 200, 100], "CNSR": [1, 0, 0, 1]}),
}
assert "polars" not in sys.modules and "matplotlib" not in sys.modules
forked = build_report(adam, settings)
# the RTF is written by analysis.rtf, not rtflite: polars never came into this process
assert "polars" not in sys.modules, "tables rendered by rtflite"
assert "matplotlib" in sys.modules
# each table's RTF made with the table, by whichever process made it
assert sorted(forked.rtf) == ["f_t_best", "t_orr", "t_simon", "t_tte_km"], sorted(forked.rtf)
# the tables in the report's order, whoever made them
assert [t.id for t in forked.tables] == ["t_orr", "t_simon", "t_tte_km", "f_t_best"]
assert list(forked.methods) == ["Response rates", "Two-stage designs", "Time to event",
                                "Tumour figures"]
# arm A: S1 (PR) then S2 (PD) in accrual order (same TRTSDT: by USUBJID); S1 responds in
# stage 1 (> r1 = 0), 1 of 2 is not more than r = 1; arm B: S3 (SD) first, stage 1 stops
assert [[r[0]] + r[9:] for r in forked.tables[1].rows] == [
    ["Arm A", "1/1", "1/2", "complete", "do not reject H0"],
    ["Arm B", "0/1", "1/2", "stage 1", "stop for futility"]], forked.tables[1].rows
files = report_files(forked)
assert "polars" not in sys.modules
import cdiscmap.forked
cdiscmap.forked.fork_usable = lambda: False      # one CPU: everything in this process
serial = build_report(adam, settings)
# the RTF is written by analysis.rtf, not rtflite: polars is never loaded
assert "polars" not in sys.modules
assert report_files(serial) == files
assert [f.id for f in forked.figures] == ["t_tte_os_km", "f_t_waterfall", "f_t_spider",
                                          "f_t_swimmer"]
assert [f.sources for f in forked.figures] == [f.sources for f in serial.figures]
# draw=False (ARM metadata in cdiscmap define): the same tables and figure metadata, no image
meta = build_report(adam, settings, draw=False)
assert [(f.id, f.title, f.sources, f.png, f.svg) for f in meta.figures] == \
    [(f.id, f.title, f.sources, b"", "") for f in serial.figures]
assert [(t.id, t.rows, t.traces) for t in meta.tables] == \
    [(t.id, t.rows, t.traces) for t in serial.tables] and meta.rtf == {}
print(len(files))
'''


@pytest.mark.skipif(not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
                    reason="forks only on Linux with two or more usable CPUs")
def test_tables_made_in_a_child_give_the_same_files() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # 4 tables (csv + rtf), 4 figures (png + svg), report.html, cells.json
    assert done.stdout.split() == ["18"]


PEER_SCRIPT = SCRIPT[:SCRIPT.index('assert "polars" not in sys.modules and')] + r'''
import cdiscmap.forked
from cdiscmap.analysis.report import report_peer

cdiscmap.forked.fork_usable = lambda: False      # the report in this process, no grandchild


class Channel:
    """A peer's end: the parent's messages, and what the work sends back."""

    def __init__(self, messages):
        self.messages, self.sent, self.loaded_at_recv = list(messages), [], None

    def recv(self):
        if self.loaded_at_recv is None:      # what was imported before the first message
            self.loaded_at_recv = sorted(m for m in ("matplotlib.pyplot", "scipy.special",
                                                     "scipy.optimize") if m in sys.modules)
            # brentq's C routine (Clopper-Pearson bounds) loaded without scipy.optimize
            from cdiscmap.analysis.response import _brentq
            self.brentq_ready = _brentq.cache_info().currsize == 1
            # the imports made no collection, and the collector is on again for the report
            # with what they made frozen (matplotlib and scipy: far over 10,000 objects)
            self.at_recv = (list(collections), gc.isenabled(), gc.get_freeze_count() > 10_000)
        return self.messages.pop(0) if self.messages else None

    def send(self, value):
        self.sent.append(value)


assert "matplotlib" not in sys.modules and "scipy.optimize" not in sys.modules
import gc

collections = []                                  # generations collected, in order
gc.callbacks.append(lambda phase, info: collections.append(info["generation"])
                    if phase == "start" else None)
gc.enable()
gc.unfreeze()
closed = Channel([])                              # the parent closed its end: no ADaM
report_peer(closed)
assert closed.sent == []
assert closed.loaded_at_recv == ["matplotlib.pyplot", "scipy.special"]
assert closed.brentq_ready
assert closed.at_recv == ([], True, True), closed.at_recv
asked = Channel([(adam, settings)])
report_peer(asked)
[(files, rep)] = asked.sent
full = build_report(adam, settings)
assert files == report_files(full)
assert [t.id for t in rep.tables] == ["t_orr", "t_simon", "t_tte_km", "f_t_best"]
# the Report sent is the metadata the parent's ARM reads: no images, RTF or cells' text
assert [(t.id, t.title, t.footnotes, t.source, t.traces) for t in rep.tables] == \
    [(t.id, t.title, t.footnotes, t.source, t.traces) for t in full.tables]
assert [(f.id, f.title, f.sources, f.png, f.svg) for f in rep.figures] == \
    [(f.id, f.title, f.sources, b"", "") for f in full.figures]
assert (rep.methods, rep.studyid, rep.title, rep.rtf, rep.cells) == \
    (full.methods, full.studyid, full.title, {}, {})
print(len(files))
'''


def test_report_peer_imports_first_then_answers_the_frames_with_the_report_files() -> None:
    done = subprocess.run([sys.executable, "-c", PEER_SCRIPT], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["18"]


def test_collector_paused_restores_the_collector_as_it_was() -> None:
    import gc

    from cdiscmap.forked import collector_paused as _collector_paused

    was = gc.isenabled()
    try:
        gc.enable()
        with _collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
        with pytest.raises(KeyError), _collector_paused():
            raise KeyError("x")
        assert gc.isenabled()                   # on again after an error too
        gc.disable()
        with _collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()               # a paused collector is left paused
    finally:
        (gc.enable if was else gc.disable)()
