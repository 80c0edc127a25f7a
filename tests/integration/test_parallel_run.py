"""`cdiscmap run` checks the SDTM and builds the analysis report in forked children while it
writes the package: the package must be byte-for-byte the one a serial run writes, findings of
the checks, report files and the ARM define.xml included.

The parallel run happens in a fresh interpreter, as with the console script: a test process
that has already loaded polars (rtflite's table engine) never forks (forked.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdiscmap import forked
from cdiscmap.pipeline.run import RunOptions, default_study_dir, run_study
from cdiscmap.synth import generate

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux")

PARALLEL_RUN = """
import json, os, sys
from pathlib import Path
from cdiscmap import forked
from cdiscmap.pipeline import run
made = []
class Recorded(forked.ForkedCall):
    def __init__(self, fn, **kw):
        super().__init__(fn, **kw)
        made.append(self)
run.ForkedCall = Recorded
reports = []
class RecordedReport(run._PeerReport):
    def __init__(self, *args):
        super().__init__(*args)
        reports.append(self)
run._PeerReport = RecordedReport
forked.fork_usable = lambda: True
mode = sys.argv[3]
from cdiscmap.pipeline import early_report
if mode == "late":                  # as with a large export: the report's child after ADaM
    early_report.EARLY_REPORT_RAW_BYTES = 0
elif mode == "broken":              # the early report process dies before it answers
    def _dies(channel):
        channel.recv()
        os._exit(1)
    early_report.report_work = _dies
result = run.run_study(run.RunOptions(study_dir=run.default_study_dir(),
                                      raw_dir=Path(sys.argv[1]), out_root=Path(sys.argv[2])))
print(json.dumps({"forked": [c._value is None for c in made],
                  "recomputed": [c.recomputed for c in made + reports],
                  "early_report": len(reports),
                  "rules": [f.rule for f in result.findings],
                  "orphans": [[f.dataset, f.usubjid] for f in result.findings
                              if f.rule == "CMAP-XD0001"]}))
"""


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("mode", ["early", "late", "broken"])
def test_forked_run_writes_the_same_package_as_a_serial_run(tmp_path, monkeypatch, mode):
    generate("crizotinib-basket", tmp_path / "export", n_subjects=60, seed=777)
    raw = tmp_path / "export" / "raw"
    # plant a cross-domain defect only the checks find: an AE of a subject not in DM
    ae = (raw / "ae.csv").read_text().splitlines()
    first = ae[1].split(",")
    ae.append(",".join(["999-9999", *first[1:]]))
    (raw / "ae.csv").write_text("\n".join(ae) + "\n")

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", PARALLEL_RUN, str(raw),
                           str(tmp_path / "parallel"), mode], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    parallel = json.loads(done.stdout.strip().splitlines()[-1])
    # two children (each mapped dataset's own checks and lineage beside the RECIST engine and
    # the trial design; the rest of the SDTM checks) and, the export being small, the report's
    # process forked at the start (it makes the report beside writing ADaM, define.xml and the
    # run report); every value came back from its process
    # (mode "late": the report's child forked after ADaM, as for a large export; "broken":
    # the early process dies, and the report is made here, the same)
    assert parallel["forked"] == [True, True, True] if mode == "late" else [True, True]
    assert parallel["early_report"] == (0 if mode == "late" else 1)
    assert parallel["recomputed"] == [False, False, mode == "broken"]
    assert parallel["orphans"] == [["AE", "CRZBASKET-999-9999"]]   # found in the child

    monkeypatch.setattr(forked, "fork_usable", lambda: False)
    serial = run_study(RunOptions(study_dir=default_study_dir(), raw_dir=raw,
                                  out_root=tmp_path / "serial"))
    out = tmp_path / "parallel" / serial.out_dir.name
    assert (out / "report").is_dir()
    assert _digest(out) == _digest(serial.out_dir)
    assert parallel["rules"] == [f.rule for f in serial.findings]
