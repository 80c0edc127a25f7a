"""``cdiscmap batch`` on a real Dask LocalCluster (2 worker processes, loopback only).

Two bundled studies (crizotinib-basket with 20 subjects, imt-pediatric with 10) run through
batch and, serially, through ``run_study`` into another folder: every file must be the same
bytes. A third study with a broken raw export fails alone (exit 2) and the batch exits 2.
One cluster serves the module (start-up costs a few seconds); batch joins it by address.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdiscmap.cli import main
from cdiscmap.errors import CdiscmapError
from cdiscmap.findings import Severity
from cdiscmap.pipeline.run import RunOptions, bundled_studies_dir, run_study
from cdiscmap.synth import generate

distributed = pytest.importorskip("distributed")

from cdiscmap.scale.batch import require_dask, run_batch  # noqa: E402

SIZES = {"crizotinib-basket": (20, 20140701), "imt-pediatric": (10, 20180301)}


@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def raw_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    for name, (n, seed) in SIZES.items():
        generate(name, root / name, n_subjects=n, seed=seed)     # writes raw/ and truth/
    bad = root / "gist-imatinib"            # a raw export with the wrong forms in it
    bad.mkdir()
    (bad / "demographics.csv").write_text("X,Y\n1,2\n", encoding="utf-8")
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_batch_matches_serial_runs_and_a_bad_study_fails_alone(scheduler, raw_root, tmp_path):
    out = tmp_path / "batch"
    result = run_batch(["crizotinib-basket", "imt-pediatric", "gist-imatinib"], out,
                       raw_root=raw_root, scheduler=scheduler, echo=lambda _: None)
    serial = tmp_path / "serial"
    expected = {}
    for name in SIZES:
        run = run_study(RunOptions(study_dir=bundled_studies_dir() / name,
                                   raw_dir=raw_root / name / "raw", out_root=serial))
        expected[name] = 1 if run.findings.at_least(Severity.ERROR) else 0
    status = {o.name: o.status for o in result.outcomes}
    assert status == {**expected, "gist-imatinib": 2}
    assert result.status == 2

    batch_files = {k: v for k, v in _files(out).items() if not k.startswith("batch")}
    serial_files = _files(serial)
    assert sorted(batch_files) == sorted(serial_files)
    assert {p.split("/")[0] for p in serial_files} == {"CRZBASKET", "IMTPEDCRZ"}
    assert "CRZBASKET/adam/adsl.xpt" in serial_files
    differing = [k for k in serial_files if batch_files[k] != serial_files[k]]
    assert differing == []

    summary = json.loads((out / "batch-summary.json").read_text())
    assert [(s["name"], s["status"])
            for s in summary["studies"]] == [("crizotinib-basket", expected["crizotinib-basket"]),
                                             ("imt-pediatric", expected["imt-pediatric"]),
                                             ("gist-imatinib", 2)]
    assert summary["status"] == 2
    log = (out / "batch" / "gist-imatinib.log").read_text()
    assert "exit status: 2" in log
    gist = summary["studies"][2]
    assert gist["package"] is None and gist["studyid"]
    assert not (out / gist["studyid"]).exists()
    crz_log = (out / "batch" / "crizotinib-basket.log").read_text()
    assert "ADSL: 20" in crz_log


def test_cli_batch_exit_status_and_summary(scheduler, raw_root, tmp_path):
    out = tmp_path / "o"
    result = CliRunner().invoke(main, ["batch", "gist-imatinib", str(tmp_path / "nowhere"),
                                       "--raw-root", str(raw_root), "--out", str(out),
                                       "--scheduler", scheduler])
    assert result.exit_code == 2, result.output
    assert "2 of 2 studies" in result.stderr
    md = (out / "batch-summary.md").read_text()
    assert "| gist-imatinib |" in md and "| nowhere |" in md
    first = (out / "batch-summary.json").read_bytes()
    CliRunner().invoke(main, ["batch", "gist-imatinib", str(tmp_path / "nowhere"),
                              "--raw-root", str(raw_root), "--out", str(out),
                              "--scheduler", scheduler])
    assert (out / "batch-summary.json").read_bytes() == first      # deterministic


def test_missing_dask_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(CdiscmapError, match=r"pip install 'cdiscmap\[scale\]'"):
        require_dask()
