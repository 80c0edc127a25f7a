"""All or nothing, even when killed: atomic files, package switch, staging clean-up.

A small copy of the demo study (5 subjects) is run twice into the same --out; the second run
fails half-way, is interrupted or killed, and the first package must be byte-identical
afterwards with no staging folder left.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdiscmap.cli import main
from cdiscmap.emit import atomic
from cdiscmap.emit.atomic import (
    JOURNAL_NAME,
    Staging,
    atomic_open,
    atomic_write_bytes,
    atomic_write_text,
    exchange,
)
from cdiscmap.errors import OutputError
from cdiscmap.pipeline.run import default_study_dir
from cdiscmap.synth import generate

STUDYID = "CRZBASKET"
CLI = Path(sys.executable).with_name("cdiscmap")


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every entry under ``root``: file bytes, or None for a folder."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> tuple[Path, Path]:
    """Study copy + raw in <out>/CRZBASKET/raw, run once; built once, copied per test."""
    base = tmp_path_factory.mktemp("first")
    study = base / "study"
    shutil.copytree(default_study_dir(), study)
    out = base / "out"
    generate("crizotinib-basket", out / STUDYID, n_subjects=5, seed=1)
    result = CliRunner().invoke(main, ["run", str(study), "--out", str(out), "--quiet",
                                       "--fail-on", "none"])
    assert result.exit_code == 0, result.output
    return study, out


@pytest.fixture()
def done(first_run, tmp_path) -> tuple[Path, Path, dict[str, bytes | None]]:
    study, out = first_run
    shutil.copytree(out, tmp_path / "out")
    package = tmp_path / "out" / STUDYID
    assert (package / "sdtm" / "dm.xpt").is_file() and (package / "adam" / "adsl.xpt").is_file()
    return study, tmp_path / "out", snapshot(package)


def run(study: Path, out: Path, *extra: str):
    return CliRunner().invoke(main, ["run", str(study), "--out", str(out), "--quiet",
                                     "--fail-on", "none", *extra])


# ============================================================================================
# The package: a failure half-way leaves the earlier one byte-identical
# ============================================================================================
def test_full_disk_half_way_leaves_the_earlier_package(done, monkeypatch):
    study, out, before = done
    from cdiscmap.emit import xpt

    real = xpt._write_observations
    calls = []

    def filling_up(handle, plans, n):
        calls.append(n)
        if len(calls) == 4:              # three datasets written, the fourth hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(handle, plans, n)

    monkeypatch.setattr(xpt, "_write_observations", filling_up)
    result = run(study, out, "--format", "both")
    assert result.exit_code == 2, result.output
    assert "no space left on device" in result.stderr
    assert len(calls) == 4
    assert snapshot(out / STUDYID) == before
    assert hidden(out) == []


def test_a_folder_where_a_dataset_goes_fails_before_anything_moves(done):
    study, out, _ = done
    package = out / STUDYID
    (package / "sdtm" / "tr.xpt").unlink()
    (package / "sdtm" / "tr.xpt").mkdir()             # a user's folder named like a dataset
    (package / "sdtm" / "tr.xpt" / "keep.txt").write_text("mine")
    before = snapshot(package)
    result = run(study, out)
    assert result.exit_code == 2, result.output
    assert "sdtm/tr.xpt is in the way (a directory)" in result.stderr
    assert snapshot(package) == before
    assert hidden(out) == []


def test_a_dataset_path_that_is_a_directory_in_staging(done, monkeypatch):
    study, out, before = done
    from cdiscmap.pipeline import run as run_module

    real = run_module.write_planned

    def with_directory(planned, *args, **kwargs):
        (planned.folder / "rs.xpt").mkdir(parents=True)   # RS comes after AE, DM, DS, EX
        return real(planned, *args, **kwargs)

    monkeypatch.setattr(run_module, "write_planned", with_directory)
    result = run(study, out)
    assert result.exit_code == 2, result.output
    assert "rs.xpt: is a directory" in result.stderr
    assert snapshot(out / STUDYID) == before
    assert hidden(out) == []


def test_second_run_replaces_outputs_and_carries_input_and_user_files(done):
    study, out, before = done
    package = out / STUDYID
    raw_inode = (package / "raw" / "enrol.csv").stat().st_ino
    (package / "notes.txt").write_text("my notes")
    (package / "sdtm" / "README.txt").write_text("about sdtm")
    (package / "validation").mkdir()
    (package / "validation" / "findings.json").write_text("{}")
    (package / "sdtm" / "zz.xpt").write_bytes(b"stale dataset of an earlier spec")
    result = run(study, out, "--format", "both")
    assert result.exit_code == 0, result.output
    after = snapshot(package)
    assert after["notes.txt"] == b"my notes"
    assert after["sdtm/README.txt"] == b"about sdtm"
    assert after["validation/findings.json"] == b"{}"
    assert "sdtm/zz.xpt" not in after                       # stale output dropped
    assert after["sdtm/dm.json"] is not None                 # the new format is there
    assert after["sdtm/dm.xpt"] == before["sdtm/dm.xpt"]     # same inputs, same bytes
    assert (package / "raw" / "enrol.csv").stat().st_ino == raw_inode   # moved, not copied
    raw = {k: v for k, v in before.items() if k.startswith(("raw", "truth"))}
    assert raw and all(after[k] == v for k, v in raw.items())
    assert JOURNAL_NAME not in after and atomic.LOCK_NAME not in after
    assert hidden(out) == []


def test_fallback_switch_without_rename_exchange(done, monkeypatch):
    study, out, before = done
    monkeypatch.setattr(atomic, "exchange", lambda a, b: False)
    result = run(study, out, "--no-adam")
    assert result.exit_code == 0, result.output
    after = snapshot(out / STUDYID)
    assert not any(k.startswith("adam") for k in after)      # a run without ADaM: none left
    assert after["sdtm/dm.xpt"] == before["sdtm/dm.xpt"]
    assert after["raw/enrol.csv"] == before["raw/enrol.csv"]
    assert hidden(out) == []


def test_rename_exchange_swaps_two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("A")
    (b / "y").write_text("B")
    if not exchange(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) not supported here")
    assert [p.name for p in a.iterdir()] == ["y"] and [p.name for p in b.iterdir()] == ["x"]


# ============================================================================================
# Signals: SIGTERM -> 143, SIGINT -> 130, staging removed; SIGKILL leftovers cleaned next run
# ============================================================================================
SLOW_RUN = textwrap.dedent("""
    import signal, sys, time
    from pathlib import Path
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as on a terminal, even when
                                                              # the tests run in the background
    import cdiscmap.emit.define as define
    real = define.write_define
    def slow(folder, **kw):
        Path(sys.argv[1]).touch()          # the datasets are staged: now we are half-way
        time.sleep(60)
        return real(folder, **kw)
    define.write_define = slow
    from cdiscmap.cli import main
    main(["run", sys.argv[2], "--out", sys.argv[3], "--quiet", "--fail-on", "none",
          "--format", "json"])
""")


def start_slow_run(study: Path, out: Path, marker: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", SLOW_RUN, str(marker), str(study),
                                str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached define.xml"
        time.sleep(0.05)
    assert any(name.startswith(f".{STUDYID}.staging-") for name in hidden(out))
    return process


@pytest.mark.parametrize(("sig", "status", "said"), [
    (signal.SIGTERM, 143, "terminated (SIGTERM)"),
    (signal.SIGINT, 130, "interrupted"),
])
def test_signal_half_way_removes_staging_and_keeps_the_package(done, tmp_path, sig, status,
                                                                said):
    study, out, before = done
    process = start_slow_run(study, out, tmp_path / "marker")
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert said in stderr.decode()
    assert snapshot(out / STUDYID) == before
    assert hidden(out) == []


def test_leftover_of_a_killed_run_is_removed_by_the_next_run(done, tmp_path):
    study, out, before = done
    process = start_slow_run(study, out, tmp_path / "marker")
    process.kill()
    process.communicate(timeout=60)
    leftover = [n for n in hidden(out) if n.startswith(f".{STUDYID}.staging-{process.pid}-")]
    assert len(leftover) == 1 and (out / leftover[0] / "sdtm" / "dm.json").is_file()
    assert snapshot(out / STUDYID) == before
    # cdiscmap's names only: these are not its staging folders (or not stale) and stay
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        keep = [f".{STUDYID}.staging-notes", f".{STUDYID}X.staging-{process.pid}-abc",
                f".{STUDYID}.staging-{live.pid}-abcd1234", ".other"]
        for name in keep:
            (out / name).mkdir()
        result = run(study, out)
        assert result.exit_code == 0, result.output
        assert hidden(out) == sorted(keep)
    finally:
        live.kill()
        live.wait()
    assert snapshot(out / STUDYID) == before     # same inputs, same bytes


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_raw_carried_into_a_killed_staging_goes_back(done):
    """Killed after carrying raw/ into the staging folder, before the switch."""
    study, out, before = done
    package = out / STUDYID
    stale = out / f".{STUDYID}.staging-{dead_pid()}-k1lled00"
    stale.mkdir()
    (stale / JOURNAL_NAME).write_text(json.dumps({"carried": ["raw", "truth"]}))
    os.rename(package / "raw", stale / "raw")
    os.rename(package / "truth", stale / "truth")
    (stale / atomic.LOCK_NAME).touch()
    result = run(study, out)                 # reads raw from the package: it must be back
    assert result.exit_code == 0, result.output
    assert snapshot(package) == before
    assert hidden(out) == []


def test_killed_between_the_two_renames_of_the_fallback(done):
    """The old package was renamed to .old and the new one not yet into place."""
    study, out, before = done
    package = out / STUDYID
    os.rename(package, out / f".{STUDYID}.old-{dead_pid()}-k1lled00")
    result = run(study, out)
    assert result.exit_code == 0, result.output
    assert snapshot(package) == before
    assert hidden(out) == []


# ============================================================================================
# cdiscmap adam and cdiscmap validate
# ============================================================================================
def test_adam_failure_half_way_keeps_old_adam(done, tmp_path, monkeypatch):
    study, out, _ = done
    package = out / STUDYID
    adam_out = tmp_path / "adam"
    args = ["adam", "--sdtm", str(package / "sdtm"), "--study", str(study), "--quiet",
            "--fail-on", "none"]
    first = CliRunner().invoke(main, [*args, "--out", str(adam_out)])
    assert first.exit_code == 0, first.output
    before = snapshot(adam_out)
    assert sorted(before) == ["adae.xpt", "adex.xpt", "adrs.xpt", "adsl.xpt", "adtr.xpt",
                              "adtte.xpt", "findings.csv", "findings.json"]
    package_before = snapshot(package)
    from cdiscmap.emit import xpt

    real = xpt._write_observations
    calls = []

    def filling_up(handle, plans, n):
        calls.append(n)
        if len(calls) == 2:                  # ADSL written, ADRS hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(handle, plans, n)

    monkeypatch.setattr(xpt, "_write_observations", filling_up)
    for extra in (["--out", str(adam_out)], []):   # own folder; the package's shared adam/
        calls.clear()
        result = CliRunner().invoke(main, [*args, *extra])
        assert result.exit_code == 2, result.output
        assert "no space left on device" in result.stderr
    assert snapshot(adam_out) == before
    assert snapshot(package) == package_before
    assert hidden(tmp_path) == [] and hidden(out) == [] and hidden(package) == []


def test_adam_into_a_shared_folder_is_all_or_nothing(done, monkeypatch):
    """The package's adam/ also holds define.xml: files are moved in one by one, and a
    failure on the third puts the first two back."""
    study, out, _ = done
    package = out / STUDYID
    adam_dir = package / "adam"
    for name in ("adsl.xpt", "adrs.xpt", "adtte.xpt"):      # make "old" differ from "new"
        (adam_dir / name).write_bytes(b"old " + name.encode())
    (adam_dir / "notes.txt").write_text("mine")
    before = snapshot(package)
    real = os.replace

    def failing(src, dst, *a, **k):
        if Path(src).parent.name.startswith(".adam.staging-") and Path(dst).name == "adtte.xpt":
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(atomic.os, "replace", failing)
    args = ["adam", "--sdtm", str(package / "sdtm"), "--study", str(study), "--quiet",
            "--fail-on", "none"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "input/output error" in result.stderr
    assert snapshot(package) == before
    assert hidden(package) == []
    monkeypatch.setattr(atomic.os, "replace", real)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    after = snapshot(package)
    assert after["adam/adtte.xpt"] != before["adam/adtte.xpt"]
    assert after["adam/notes.txt"] == b"mine" and after["adam/define.xml"] is not None
    assert hidden(package) == [] and not list(adam_dir.glob(".*"))


def test_validate_failure_keeps_the_earlier_reports(done, monkeypatch):
    _, out, _ = done
    package = out / STUDYID
    first = CliRunner().invoke(main, ["validate", str(package), "--fail-on", "none", "--quiet"])
    assert first.exit_code == 0, first.output
    before = snapshot(package / "validation")
    assert sorted(before) == ["findings.html", "findings.json", "findings.junit.xml",
                              "findings.xlsx"]
    (package / "sdtm" / "ts.xpt").unlink()            # the next report would differ
    from cdiscmap.validation import report

    def broken(report_, path):
        raise OutputError(f"could not write {path.name}: no space left on device")

    monkeypatch.setattr(report, "write_junit_xml", broken)
    result = CliRunner().invoke(main, ["validate", str(package), "--fail-on", "none",
                                       "--quiet"])
    assert result.exit_code == 2, result.output
    assert snapshot(package / "validation") == before
    assert hidden(package) == []


# ============================================================================================
# The file helpers
# ============================================================================================
def test_atomic_write_replaces_whole_file_with_plain_permissions(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    assert atomic_write_text(target, "new\nline\n") == target
    assert target.read_bytes() == b"new\nline\n"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01") .read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


@pytest.mark.parametrize("error", [ValueError("bug"), KeyboardInterrupt()])
def test_temporary_removed_and_target_untouched_on_any_exception(tmp_path, error):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(type(error)), atomic_open(target, "w") as handle:
        handle.write("half")
        assert len(list(tmp_path.iterdir())) == 2           # the temporary exists meanwhile
        raise error
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_two_writers_of_one_file_use_different_temporaries(tmp_path):
    target = tmp_path / "a.txt"
    with atomic_open(target, "w") as one, atomic_open(target, "w") as two:
        one.write("one")
        two.write("two")
        assert len(list(tmp_path.iterdir())) == 2
    assert target.read_text() == "one"                      # the outer one finished last
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_output_error_messages(tmp_path, monkeypatch):
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputError, match=r"could not write .*d: is a directory$"):
        atomic_write_text(tmp_path / "d", "x")
    with pytest.raises(OutputError, match=r"could not write .*missing.a\.txt: folder does not "
                                          r"exist$"):
        atomic_write_text(tmp_path / "missing" / "a.txt", "x")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(OutputError, match=r"could not write .*a\.txt: no space left on "
                                          r"device$"):
        atomic_write_text(tmp_path / "a.txt", "x")
    monkeypatch.undo()

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    with pytest.raises(OutputError, match=r"could not write .*a\.txt: permission denied$"):
        atomic_write_text(tmp_path / "a.txt", "x")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_staging_left_by_exception_is_removed(tmp_path):
    target = tmp_path / "pkg"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), Staging(target) as stage:
        atomic_write_text(stage.folder / "old.txt", "new")
        assert hidden(tmp_path) == [stage.folder.name]
        raise RuntimeError("half-way")
    assert snapshot(target) == {"old.txt": b"old"}
    assert hidden(tmp_path) == []


def test_demo_synthesis_cut_short_leaves_no_half_export(first_run, tmp_path, monkeypatch):
    """The demo's raw export is synthesised beside the package and moved in only whole: a
    run interrupted while generating it leaves no raw/ for the next run to take as whole."""
    study, _ = first_run
    import cdiscmap.synth as synth

    real = synth.generate
    interrupt = [True]

    def small(generator, folder, n_subjects, seed, progress):
        result = real(generator, folder, n_subjects=5, seed=1, progress=progress)
        if interrupt[0]:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(synth, "generate", small)
    out = tmp_path / "out"
    result = run(study, out)
    assert result.exit_code == 130, result.output
    assert not (out / STUDYID / "raw").exists() and not (out / STUDYID / "truth").exists()
    assert not (out / STUDYID / "report").exists()
    assert hidden(out) == [] and hidden(out / STUDYID) == []
    interrupt[0] = False
    result = run(study, out)
    assert result.exit_code == 0, result.output
    # report/: the analysis report a run writes when the study has analysis.yaml (759005d)
    assert sorted(p.name for p in (out / STUDYID).iterdir()) == [
        "adam", "findings.csv", "findings.json", "lineage.csv", "raw", "report",
        "run-summary.json", "run-summary.md", "sdtm", "truth"]
    assert hidden(out) == [] and hidden(out / STUDYID) == []


# --------------------------------------------------------------------------------------------
# atomic_write_many: many files, fsynced together, none replaced before all are on disk
# --------------------------------------------------------------------------------------------
def test_atomic_write_many_writes_every_file_with_shared_modes(tmp_path):
    from cdiscmap.emit.atomic import atomic_write_many

    (tmp_path / "a.csv").write_bytes(b"old")
    paths = atomic_write_many(tmp_path, {"a.csv": b"x,y\n1,2\n", "sub/b.rtf": b"{\\rtf1}"})
    assert paths == [tmp_path / "a.csv", tmp_path / "sub" / "b.rtf"]
    assert (tmp_path / "a.csv").read_bytes() == b"x,y\n1,2\n"
    assert (tmp_path / "sub" / "b.rtf").read_bytes() == b"{\\rtf1}"
    mask = os.umask(0o022)
    os.umask(mask)
    assert {p.stat().st_mode & 0o777 for p in paths} == {0o666 & ~mask}
    assert sorted(p.name for p in tmp_path.rglob("*.tmp")) == []


def test_atomic_write_many_replaces_nothing_when_a_later_file_fails(tmp_path):
    from cdiscmap.emit.atomic import atomic_write_many

    (tmp_path / "a.csv").write_bytes(b"old")
    (tmp_path / "blocked").write_bytes(b"a file where a folder is needed")
    with pytest.raises(OutputError, match="blocked"):
        atomic_write_many(tmp_path, {"a.csv": b"new", "blocked/b.csv": b"b"})
    assert (tmp_path / "a.csv").read_bytes() == b"old"       # not replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "blocked"]   # no .tmp

    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(OutputError, match="dir.csv: is a directory"):
        atomic_write_many(tmp_path, {"a.csv": b"new", "dir.csv": b"b"})
    assert (tmp_path / "a.csv").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "blocked", "dir.csv"]
