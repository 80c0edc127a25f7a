"""The report's process of a small run (``pipeline/early_report.py``): when a run forks it at
its start, and that the console script forks it before importing pandas (the point: its
imports then take the core that is idle while the command imports its own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cdiscmap import forked
from cdiscmap.pipeline import early_report
from cdiscmap.pipeline.run import default_study_dir


def _study(tmp_path: Path, *, adam: bool = True, analysis: bool = True) -> Path:
    study = tmp_path / "study"
    study.mkdir(parents=True)
    if adam:
        (study / "adam").mkdir()
    if analysis:
        (study / "analysis.yaml").write_text("{}\n")
    return study


def _raw(tmp_path: Path, sizes: tuple[int, ...]) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for i, size in enumerate(sizes):
        (raw / f"form{i}.csv").write_bytes(b"x" * size)
    (raw / "sub").mkdir()                     # folders do not count
    return raw


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "fork_usable", lambda: True)
    monkeypatch.setattr(forked, "fork_unsafe_runtime", lambda: None)


def test_a_small_export_with_a_report_to_make_wants_the_early_process(tmp_path, two_cores):
    assert early_report.wanted(_study(tmp_path), _raw(tmp_path, (100, 200)), True)


def test_no_report_or_no_raw_folder_given_wants_none(tmp_path, two_cores):
    raw = _raw(tmp_path, (100,))
    assert not early_report.wanted(_study(tmp_path / "a", analysis=False), raw, True)
    assert not early_report.wanted(_study(tmp_path / "b", adam=False), raw, True)
    assert not early_report.wanted(_study(tmp_path / "c"), raw, False)        # --no-adam
    assert not early_report.wanted(_study(tmp_path / "d"), None, True)        # demo export
    assert not early_report.wanted(_study(tmp_path / "e"), tmp_path / "missing", True)


def test_an_export_over_the_limit_wants_none(tmp_path, two_cores, monkeypatch):
    study, raw = _study(tmp_path), _raw(tmp_path, (100, 200))
    monkeypatch.setattr(early_report, "EARLY_REPORT_RAW_BYTES", 300)
    assert early_report.wanted(study, raw, True)                # 300 bytes: at the limit
    monkeypatch.setattr(early_report, "EARLY_REPORT_RAW_BYTES", 299)
    assert not early_report.wanted(study, raw, True)


def test_one_core_wants_none(tmp_path, monkeypatch):
    monkeypatch.setattr(forked, "fork_usable", lambda: False)
    assert not early_report.wanted(_study(tmp_path), _raw(tmp_path, (100,)), True)
    assert early_report.start(_study(tmp_path / "s"), _raw(tmp_path / "s", (1,)), True) is None


@pytest.mark.parametrize("study", [[str(default_study_dir())], []], ids=["named", "demo"])
def test_the_console_script_forks_it_before_importing_pandas(tmp_path, study):
    # the fork is stood in for by a class that says whether pandas was loaded, then stops
    # the command (no process is forked, nothing is written); without STUDY: the demo study
    raw = _raw(tmp_path, (100,))
    code = (
        "import sys\n"
        "from cdiscmap import forked\n"
        "from cdiscmap.pipeline import early_report\n"
        "forked.fork_usable = lambda: True\n"
        "class Probe:\n"
        "    def __init__(self, work):\n"
        "        print('PANDAS', 'pandas' in sys.modules, work is early_report.report_work,"
        " flush=True)\n"
        "        raise SystemExit(0)\n"
        "early_report.ForkedPeer = Probe\n"
        "from cdiscmap.cli import main\n"
        f"main(['run', *{study!r}, '--raw', {str(raw)!r},"
        f" '--out', {str(tmp_path / 'out')!r}], prog_name='cdiscmap')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.splitlines() == ["PANDAS False True"], result.stderr[-2000:]
    assert not (tmp_path / "out").exists()
