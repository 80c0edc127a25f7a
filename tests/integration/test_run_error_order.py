"""`cdiscmap run` sizes the SDTM datasets (XPT v5 limits) after deriving ADaM, off the critical
path; the first error a user sees must still be the one a serial run meets first: SDTM that
cannot be written before any ADaM failure, and nothing written either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdiscmap import forked
from cdiscmap.errors import CdiscmapError, XptLimitError
from cdiscmap.pipeline import adam_step, run
from cdiscmap.pipeline.run import RunOptions, default_study_dir, run_study
from cdiscmap.synth import generate


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    generate("crizotinib-basket", folder, n_subjects=12, seed=5)
    return folder / "raw"


class AdamBroke(CdiscmapError):
    pass


def _failing_adam(*args, **kwargs):
    raise AdamBroke("ADaM derivation failed (planted)")


def _unwritable_sdtm(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make sizing the SDTM package fail as an XPT v5 limit would; returns what was sized."""
    sized: list[str] = []

    def plan(datasets, *args, **kwargs):
        sized.extend(datasets)
        raise XptLimitError("AE not written as XPT v5 (planted)")

    monkeypatch.setattr(run, "plan_datasets", plan)
    return sized


def _run(raw: Path, out: Path):
    return run_study(RunOptions(study_dir=default_study_dir(), raw_dir=raw, out_root=out))


@pytest.mark.parametrize("failing", ["deriving", "checking and sizing"])
def test_unwritable_sdtm_is_the_first_error_even_when_adam_fails(export, tmp_path,
                                                                  monkeypatch, failing):
    monkeypatch.setattr(forked, "fork_usable", lambda: False)
    if failing == "deriving":
        monkeypatch.setattr(adam_step, "derive_adam", _failing_adam)
    else:                   # ADaM derived, then its checks and XPT sizing fail
        monkeypatch.setattr(adam_step, "check_and_size_adam", _failing_adam)
    sized = _unwritable_sdtm(monkeypatch)
    with pytest.raises(XptLimitError, match="planted"):
        _run(export, tmp_path / "out")
    assert {"DM", "AE", "TU", "TR", "RS"} <= set(sized)
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))


def test_adam_failure_is_raised_when_the_sdtm_can_be_written(export, tmp_path, monkeypatch):
    monkeypatch.setattr(forked, "fork_usable", lambda: False)
    monkeypatch.setattr(adam_step, "derive_adam", _failing_adam)
    with pytest.raises(AdamBroke, match="planted"):
        _run(export, tmp_path / "out")
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))


def test_unwritable_sdtm_is_refused_with_adam_derived(export, tmp_path, monkeypatch):
    monkeypatch.setattr(forked, "fork_usable", lambda: False)
    sized = _unwritable_sdtm(monkeypatch)
    with pytest.raises(XptLimitError, match="planted"):
        _run(export, tmp_path / "out")
    assert "DM" in sized
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))
