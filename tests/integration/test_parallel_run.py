"""`cdiscmap run` checks the SDTM and makes the analysis report in forked children while it
writes the package: the package must be byte-for-byte the one a serial run writes, findings of
the checks, report files and the ARM define.xml included."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cdiscmap.pipeline import forked
from cdiscmap.pipeline import run as run_module
from cdiscmap.pipeline.run import RunOptions, default_study_dir, run_study
from cdiscmap.synth import generate

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_forked_checks_write_the_same_package_as_a_serial_run(tmp_path, monkeypatch):
    generate("crizotinib-basket", tmp_path / "export", n_subjects=60, seed=777)
    raw = tmp_path / "export" / "raw"
    # plant a cross-domain defect only the checks find: an AE of a subject not in DM
    ae = (raw / "ae.csv").read_text().splitlines()
    first = ae[1].split(",")
    ae.append(",".join(["999-9999", *first[1:]]))
    (raw / "ae.csv").write_text("\n".join(ae) + "\n")
    made: list[forked.ForkedCall] = []

    class Recorded(forked.ForkedCall):
        def __init__(self, fn, **kw):
            super().__init__(fn, **kw)
            made.append(self)

    monkeypatch.setattr(run_module, "ForkedCall", Recorded)
    monkeypatch.setattr(forked, "fork_usable", lambda: True)
    parallel = run_study(RunOptions(study_dir=default_study_dir(), raw_dir=raw,
                                    out_root=tmp_path / "parallel"))
    # two children: the SDTM checks, then the analysis report beside writing ADaM, define.xml
    # and the run report; both values came back from the child (none recomputed here)
    assert len(made) == 2 and all(c._value is None for c in made)
    assert not any(c.recomputed for c in made)
    monkeypatch.setattr(forked, "fork_usable", lambda: False)
    serial = run_study(RunOptions(study_dir=default_study_dir(), raw_dir=raw,
                                  out_root=tmp_path / "serial"))
    assert len(made) == 4 and all(c._value is not None for c in made[2:])   # in this process
    assert (parallel.out_dir / "report").is_dir()

    assert _digest(parallel.out_dir) == _digest(serial.out_dir)
    # the checks' own finding came back from the child
    orphans = [f for f in parallel.findings if f.rule == "CMAP-XD0001"]
    assert [(f.dataset, f.usubjid) for f in orphans] == [("AE", "CRZBASKET-999-9999")]
    assert [f.rule for f in parallel.findings] == [f.rule for f in serial.findings]
