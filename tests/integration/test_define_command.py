"""`cdiscmap define` on a package `cdiscmap run` wrote gives back the run's define.xml and
define.html byte for byte, ARM analysis results of the ADaM define included (a regenerated
define once dropped them silently)."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

from cdiscmap.cli import main
from cdiscmap.pipeline.run import RunOptions, default_study_dir, run_study
from cdiscmap.synth import generate

DEFINES = ("sdtm/define.xml", "sdtm/define.html", "adam/define.xml", "adam/define.html")


def test_define_command_reproduces_the_runs_defines(tmp_path):
    generate("crizotinib-basket", tmp_path / "export", n_subjects=40, seed=4242)
    result = run_study(RunOptions(study_dir=default_study_dir(),
                                  raw_dir=tmp_path / "export" / "raw", out_root=tmp_path / "out"))
    package = tmp_path / "again" / result.out_dir.name
    shutil.copytree(result.out_dir, package)
    for rel in DEFINES:
        (package / rel).unlink()
    ran = CliRunner().invoke(main, ["define", str(default_study_dir()), "--package",
                                    str(package)])
    assert ran.exit_code == 0, ran.output
    for rel in DEFINES:
        assert (package / rel).read_bytes() == (result.out_dir / rel).read_bytes(), rel
    adam_define = (package / "adam" / "define.xml").read_text(encoding="utf-8")
    assert 'xmlns:arm="http://www.cdisc.org/ns/arm/v1.0"' in adam_define
    assert "<arm:AnalysisResultDisplays>" in adam_define
