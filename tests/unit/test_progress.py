"""Progress display: stage and dataset names on a terminal, nothing off one or with --quiet,
and a stage that broke is never shown as done."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

import cdiscmap.progress as progress_module
from cdiscmap.cli import main
from cdiscmap.errors import InputDataError
from cdiscmap.pipeline.run import (
    RunOptions,
    default_study_dir,
    load_study_checked,
    resolve_raw_dir,
)
from cdiscmap.progress import SILENT, Progress, progress
from cdiscmap.standards import load_standards

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=200, highlight=False), buffer


def plain(buffer: io.StringIO) -> str:
    return ANSI.sub("", buffer.getvalue())


@pytest.fixture()
def shown_on_terminal(monkeypatch) -> io.StringIO:
    """Make the commands believe stderr is a terminal; what they show lands in the buffer."""
    console, buffer = terminal()
    monkeypatch.setattr(progress_module, "terminal_console", lambda: console)
    return buffer


# ---------------------------------------------------------------------------------------------
# Progress itself
# ---------------------------------------------------------------------------------------------
def test_stages_and_steps_are_shown_on_a_terminal():
    console, buffer = terminal()
    with progress(console=console) as shown:
        assert shown.shown
        shown.stage("Mapping raw forms to SDTM")
        shown.step("DM")
        shown.step("SUPPAE")
        shown.note("a line that stays")
        shown.stage("Writing SDTM datasets")
    text = plain(buffer)
    assert "Mapping raw forms to SDTM … DM" in text
    assert "Mapping raw forms to SDTM … SUPPAE" in text
    assert "a line that stays" in text
    assert re.search(r"✓ Mapping raw forms to SDTM \(\d+\.\d s\)", text)
    assert re.search(r"✓ Writing SDTM datasets \(\d+\.\d s\)", text)
    assert "✗" not in text


def test_a_failed_stage_gets_a_cross_not_a_check():
    console, buffer = terminal()
    with pytest.raises(InputDataError), progress(console=console) as shown:
        shown.stage("Loading specs")
        shown.stage("Mapping raw forms to SDTM")
        raise InputDataError("raw folder nope not found")
    text = plain(buffer)
    assert re.search(r"✓ Loading specs \(\d+\.\d s\)", text)          # finished before
    assert re.search(r"✗ Mapping raw forms to SDTM \(failed after \d+\.\d s\)", text)
    assert "✓ Mapping raw forms" not in text


def test_an_interrupted_stage_says_so():
    console, buffer = terminal()
    with pytest.raises(KeyboardInterrupt), progress(console=console) as shown:
        shown.stage("Checking SDTM")
        raise KeyboardInterrupt
    text = plain(buffer)
    assert "✗ Checking SDTM (interrupted after" in text
    assert "✓" not in text


def test_quiet_and_silent_print_nothing():
    console, buffer = terminal()
    with progress(quiet=True, console=console) as shown:
        assert not shown.shown
        shown.stage("Loading specs")
        shown.step("DM")
        shown.note("never shown")
    for silent in (SILENT, Progress()):
        silent.stage("x")
        silent.step("y")
        silent.note("z")
        silent.close()
    assert buffer.getvalue() == ""


def test_nothing_is_shown_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_module.terminal_console() is None
    with progress() as shown:
        assert not shown.shown
        shown.stage("Loading specs")
    assert sys.stderr.getvalue() == ""


def test_the_demo_export_is_announced_on_first_use(tmp_path):
    console, buffer = terminal()
    standards = load_standards()
    loaded = load_study_checked(default_study_dir(), standards)
    with progress(console=console) as shown:
        raw = resolve_raw_dir(loaded, RunOptions(study_dir=default_study_dir()),
                              tmp_path / "CRZBASKET", shown)
    assert (raw / "enrol.csv").is_file()
    text = plain(buffer)
    assert "First run of the demo: generating its synthetic raw export (150 subjects)" in text
    assert "Generating the demo's raw export … enrol.csv" in text
    assert re.search(r"✓ Generating the demo's raw export \(\d+\.\d s\)", text)


# ---------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------
SYNTH = ["synth", "--study", "imt-pediatric", "--subjects", "3", "--seed", "7"]


def test_synth_output_is_unchanged_off_a_terminal(tmp_path):
    runner = CliRunner()
    default = runner.invoke(main, [*SYNTH, "--out", str(tmp_path / "a")])
    quiet = runner.invoke(main, [*SYNTH, "--out", str(tmp_path / "a"), "--quiet"])
    assert default.exit_code == 0 and quiet.exit_code == 0
    assert default.stderr == "" and quiet.stderr == ""
    assert default.stdout == quiet.stdout
    lines = default.stdout.splitlines()
    assert lines and all(re.fullmatch(r".+/raw/[a-z_0-9]+\.csv: \d+ rows", x) for x in lines)


def test_synth_shows_each_form_on_a_terminal(tmp_path, shown_on_terminal):
    result = CliRunner().invoke(main, [*SYNTH, "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    text = plain(shown_on_terminal)
    assert "Generating the synthetic imt-pediatric export (3 subjects)" in text
    assert "drawing 3 subjects" in text
    forms = sorted(p.name for p in (tmp_path / "a" / "raw").glob("*.csv"))
    assert forms
    for form in forms:
        assert f"… {form}" in text
    assert result.stderr == ""           # the display went to the (patched) terminal only


@pytest.mark.parametrize("where", ["group", "command", "group-short", "command-short"])
def test_quiet_silences_synth(tmp_path, shown_on_terminal, where):
    flag = "-q" if where.endswith("short") else "--quiet"
    args = [flag, *SYNTH] if where.startswith("group") else [*SYNTH, flag]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert shown_on_terminal.getvalue() == ""


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> tuple[Path, str]:
    """A run of the demo mapping on a 4-subject export, shown on a (patched) terminal."""
    root = tmp_path_factory.mktemp("progress")
    runner = CliRunner()
    made = runner.invoke(main, ["synth", "--subjects", "4", "--seed", "3", "--out",
                                str(root / "export")])
    assert made.exit_code == 0, made.output
    console, buffer = terminal()
    patch = pytest.MonkeyPatch()
    patch.setattr(progress_module, "terminal_console", lambda: console)
    try:
        result = runner.invoke(main, ["run", "crizotinib-basket", "--raw",
                                      str(root / "export" / "raw"), "--out", str(root / "out")])
    finally:
        patch.undo()
    assert result.exit_code == 0, result.output
    return root / "out" / "CRZBASKET", plain(buffer)


def test_run_shows_stages_and_datasets(small_run):
    _, text = small_run
    for stage in ("Loading specs", "Mapping raw forms to SDTM", "RECIST 1.1 cross-check",
                  "Checking SDTM", "Writing SDTM datasets", "Deriving and writing ADaM",
                  "Writing define.xml", "Writing the run report"):
        assert re.search(rf"✓ {re.escape(stage)} \(\d+\.\d s\)", text), stage
    for domain in ("DM", "AE", "EX", "DS", "TU", "TR", "RS"):
        assert f"Mapping raw forms to SDTM … {domain} (raw forms)" in text
        assert f"Writing SDTM datasets … {domain}" in text
    assert "Writing SDTM datasets … SUPPDM" in text
    for dataset in ("ADSL", "ADRS", "ADTTE"):
        assert f"Deriving and writing ADaM … {dataset}" in text
    assert "✗" not in text


def test_validate_and_adam_show_datasets(small_run, tmp_path, shown_on_terminal):
    package, _ = small_run
    runner = CliRunner()
    checked = runner.invoke(main, ["validate", str(package), "--out", str(tmp_path / "v")])
    assert checked.exit_code == 0, checked.output
    text = plain(shown_on_terminal)
    assert re.search(r"✓ Reading datasets \(", text)
    assert "Checking datasets … DM" in text and "Checking datasets … ADSL" in text
    assert re.search(r"✓ Writing reports \(", text)
    derived = runner.invoke(main, ["adam", "--sdtm", str(package / "sdtm"), "--study",
                                   "crizotinib-basket", "--out", str(tmp_path / "adam")])
    assert derived.exit_code == 0, derived.output
    text = plain(shown_on_terminal)
    assert "Writing ADaM datasets … ADTTE" in text
    assert re.search(r"✓ Deriving ADaM \(", text)


@pytest.mark.parametrize("where", ["group", "command"])
def test_quiet_silences_validate_adam_and_run(small_run, tmp_path, shown_on_terminal, where):
    package, _ = small_run

    def quiet(command: list[str]) -> list[str]:
        return ["--quiet", *command] if where == "group" else [*command, "--quiet"]

    runner = CliRunner()
    assert runner.invoke(main, quiet(["validate", str(package), "--out",
                                      str(tmp_path / "v")])).exit_code == 0
    assert runner.invoke(main, quiet(["adam", "--sdtm", str(package / "sdtm"), "--study",
                                      "crizotinib-basket", "--out",
                                      str(tmp_path / "adam")])).exit_code == 0
    failed = runner.invoke(main, quiet(["run", "crizotinib-basket", "--raw",
                                        str(tmp_path / "nope"), "--out", str(tmp_path / "o")]))
    assert failed.exit_code == 2
    assert shown_on_terminal.getvalue() == ""


def test_a_failed_run_is_not_shown_as_done(tmp_path, shown_on_terminal):
    result = CliRunner().invoke(main, ["run", "crizotinib-basket", "--raw",
                                       str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "not found" in result.stderr
    text = plain(shown_on_terminal)
    assert re.search(r"✗ Loading specs \(failed after \d+\.\d s\)", text)
    assert "✓" not in text


def test_a_failed_run_off_a_terminal_prints_only_the_reason(tmp_path):
    result = CliRunner().invoke(main, ["run", "crizotinib-basket", "--raw",
                                       str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.stderr == f"cdiscmap: error: raw folder {tmp_path / 'nope'} not found\n"
    assert result.stdout == ""
