"""display_path: paths in messages, relative to the working directory when under it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdiscmap.errors import display_path


def test_relative_under_the_working_directory_else_as_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "study" / "sdtm").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "study")
    assert display_path(tmp_path / "study" / "sdtm" / "ae.yaml") == "sdtm/ae.yaml"
    assert display_path(str(tmp_path / "study" / "study.yaml")) == "study.yaml"
    assert display_path("sdtm//dm.yaml") == "sdtm/dm.yaml"
    assert display_path(tmp_path / "other.csv") == str(tmp_path / "other.csv")


def test_follows_a_change_of_working_directory(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    target = tmp_path / "a" / "b" / "x.csv"
    monkeypatch.chdir(tmp_path / "a")
    assert display_path(target) == "b/x.csv"
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert display_path(target) == "x.csv"
    monkeypatch.chdir(tmp_path)
    assert display_path(target) == "a/b/x.csv"


def test_symlinked_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # both sides resolved: a file reached through a link to the working directory is relative
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path / "real")
    assert display_path(tmp_path / "link" / "f.yaml") == "f.yaml"
