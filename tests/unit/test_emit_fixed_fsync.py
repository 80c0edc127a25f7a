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


# --------------------------------------------------------------------------------------------
# A staged file is written in place (no temporary and rename): nobody reads a staging folder
# --------------------------------------------------------------------------------------------
def _no_temporaries(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a staged file got a temporary")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refused)


def test_staged_files_are_written_in_place_with_the_usual_permissions(tmp_path, monkeypatch):
    mask = os.umask(0o027)
    try:
        with Staging(tmp_path / "pkg") as stage:
            _no_temporaries(monkeypatch)
            folder = stage.folder
            (folder / "a.txt").write_text("an older, longer text")
            assert atomic_write_text(folder / "a.txt", "new") == folder / "a.txt"
            assert atomic.atomic_write_bytes(folder / "sub" / "b.bin", b"\x00",
                                             parents=True) == folder / "sub" / "b.bin"
            assert atomic_write_many(folder / "report", {"c.csv": b"c", "d/e.rtf": b"e"}) == [
                folder / "report" / "c.csv", folder / "report" / "d" / "e.rtf"]
            files = sorted(p for p in folder.rglob("*") if p.is_file()
                           and p.name != atomic.LOCK_NAME)
            assert [p.relative_to(folder).as_posix() for p in files] == [
                "a.txt", "report/c.csv", "report/d/e.rtf", "sub/b.bin"]       # nothing else
            assert (folder / "a.txt").read_text() == "new"                   # truncated
            assert {p.stat().st_mode & 0o777 for p in files} == {0o640}      # 0o666 & ~0o027
            monkeypatch.undo()
            stage.publish(lambda rel: True)
    finally:
        os.umask(mask)
    assert (tmp_path / "pkg" / "report" / "d" / "e.rtf").read_bytes() == b"e"


def test_a_staged_file_is_removed_when_writing_it_fails(tmp_path):
    with Staging(tmp_path / "pkg") as stage:
        folder = stage.folder
        with pytest.raises(KeyboardInterrupt), atomic.atomic_open(folder / "a.xpt") as handle:
            handle.write(b"half")
            assert (folder / "a.xpt").read_bytes() == b""         # in place (not flushed)
            raise KeyboardInterrupt
        assert not (folder / "a.xpt").exists()
        with pytest.raises(OutputError, match=r"b\.csv: is a directory"):
            (folder / "b.csv").mkdir()
            atomic_write_many(folder, {"a.csv": b"a", "b.csv": b"b"})
        assert (folder / "a.csv").read_bytes() == b"a"            # the folder is discarded
    assert not (tmp_path / "pkg").exists()


def test_a_staged_write_error_names_the_file(tmp_path, monkeypatch):
    def no_space(fd: int, mode: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with Staging(tmp_path / "pkg") as stage:
        monkeypatch.setattr(atomic.os, "fchmod", no_space)
        with pytest.raises(OutputError, match=r"could not write .*a\.txt: no space left on "
                                              r"device$"):
            atomic_write_text(stage.folder / "a.txt", "x")
        assert not (stage.folder / "a.txt").exists()
