"""Staged files are fsynced together when their folder is published, never later."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from cdiscmap.emit import atomic
from cdiscmap.emit.atomic import Staging, atomic_write_many, atomic_write_text, fsync_all
from cdiscmap.errors import OutputError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads fsynced files' names from /proc/self/fd")


@pytest.fixture()
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every file fsynced, in order."""
    calls: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        calls.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    return calls


def test_staged_files_are_fsynced_at_publish_before_the_switch(tmp_path, synced):
    target = tmp_path / "pkg"
    with Staging(target) as stage:
        atomic_write_text(stage.folder / "a.txt", "a")
        atomic_write_many(stage.folder / "report", {"b.csv": b"b", "c.rtf": b"c"})
        assert synced == []                     # nothing waited for while writing
        assert not target.exists()
        written = stage.publish(lambda rel: True)
    files = synced[:3]                          # then the parent folder's
    assert sorted(Path(name).name for name in files) == ["a.txt", "b.csv", "c.rtf"]
    assert all(".pkg.staging-" in name for name in files)    # fsynced before the switch
    assert synced[3:] == [str(tmp_path)]
    assert sorted(p.name for p in written) == ["a.txt", "b.csv", "c.rtf"]
    assert (target / "report" / "b.csv").read_bytes() == b"b"


def test_files_outside_staging_are_fsynced_when_written(tmp_path, synced):
    atomic_write_text(tmp_path / "a.txt", "a")
    atomic_write_many(tmp_path, {"b.csv": b"b"})
    assert [Path(name).name.split(".")[1] for name in synced] == ["a", "b"]   # temporaries
    assert len(synced) == 2


def test_after_a_staging_folder_is_closed_its_files_are_fsynced_again(tmp_path, synced):
    with Staging(tmp_path / "pkg") as stage:
        folder = stage.folder
    folder.mkdir()                              # the same name, no longer a staging folder
    atomic_write_text(folder / "a.txt", "a")
    assert len(synced) == 1


def test_the_carry_journal_is_fsynced_when_written(tmp_path, synced):
    target = tmp_path / "pkg"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with Staging(target) as stage:
        atomic_write_text(stage.folder / "a.txt", "a")
        stage.publish(lambda rel: rel == "a.txt")
    names = [Path(name).name for name in synced]
    assert any(name.startswith(f".{atomic.JOURNAL_NAME}.") for name in names)
    assert (target / "notes.txt").read_text() == "mine"


def test_fsync_all_names_the_failing_file(tmp_path, monkeypatch):
    paths = [tmp_path / "a", tmp_path / "b"]
    for path in paths:
        path.write_bytes(b"x")
    fsync_all(paths)                            # no error: nothing raised

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OutputError, match=r"could not write .*final-a: no space left on device"):
        fsync_all(paths, [tmp_path / "final-a", tmp_path / "final-b"])
    with pytest.raises(OutputError, match="folder does not exist"):
        fsync_all([tmp_path / "missing"])


def test_a_failed_fsync_at_publish_leaves_the_old_folder(tmp_path, monkeypatch):
    target = tmp_path / "pkg"
    target.mkdir()
    (target / "a.txt").write_text("old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with Staging(target) as stage:
        atomic_write_text(stage.folder / "a.txt", "new")
        monkeypatch.setattr(atomic.os, "fsync", full)
        with pytest.raises(OutputError, match=r"pkg.a\.txt: no space left on device"):
            stage.publish(lambda rel: True)
    assert (target / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["pkg"]
