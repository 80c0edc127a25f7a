"""The closing lines of ``cdiscmap run`` (and the other commands' plain lines): plain text in
aligned columns, printed as they are, without importing rich."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cdiscmap.cli import _aligned, _print_summary

SUMMARY = {
    "study": "CRZBASKET",
    "raw_files": [
        {"file": "enrol.csv", "read": 1000, "used": 1000, "dropped": 0, "balanced": True},
        {"file": "ie.csv", "read": 10000, "used": 82, "dropped": 9918, "balanced": False},
    ],
    "records_written": {"AE": 5431, "RELREC": 4},
    "findings": {"error": 0, "warning": 39, "notice": 2},
}


def test_run_summary_lines(capsys) -> None:
    _print_summary(SUMMARY, Path("out/CRZBASKET"))
    assert capsys.readouterr().out.splitlines() == [
        "Raw rows (CRZBASKET)",
        "file        read  used  dropped  balanced",
        "enrol.csv   1000  1000        0       yes",
        "ie.csv     10000    82     9918        NO",
        "Records written",
        "dataset  records",
        "AE          5431",
        "RELREC         4",
        "Findings: 0 errors, 39 warnings, 2 notices. Output: out/CRZBASKET/ "
        "(run-summary.md, findings.csv)",
    ]


def test_no_rows_gives_the_header_alone() -> None:
    assert _aligned("Records written", ("dataset", "records"), []) == [
        "Records written", "dataset  records"]


def test_names_are_printed_as_they_are(capsys) -> None:
    # rich's markup took "[red]" as a style and ":smile:" as an emoji
    summary = {**SUMMARY, "study": "S[red]1", "raw_files": [
        {"file": ":smile:.csv", "read": 1, "used": 1, "dropped": 0, "balanced": True}]}
    _print_summary(summary, Path("out[x]"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Raw rows (S[red]1)"
    assert lines[2] == ":smile:.csv     1     1        0       yes"
    assert lines[-1].endswith("Output: out[x]/ (run-summary.md, findings.csv)")


def test_the_summary_imports_no_rich() -> None:
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from cdiscmap.cli import _print_summary\n"
            f"_print_summary({SUMMARY!r}, Path('o'))\n"
            "print('RICH', 'rich' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.splitlines()[-1] == "RICH False"
    # the probe can see rich: importing it first is reported
    result = subprocess.run([sys.executable, "-c", "import rich.console\n" + code],
                            capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.splitlines()[-1] == "RICH True"


def test_makes_report_needs_adam_settings_and_analysis_yaml(tmp_path: Path) -> None:
    from cdiscmap.pipeline.early_report import makes_report as _makes_report

    (tmp_path / "adam").mkdir()
    assert not _makes_report(tmp_path, True)             # no analysis.yaml
    (tmp_path / "analysis.yaml").write_text("tables: []\n")
    assert _makes_report(tmp_path, True)
    assert not _makes_report(tmp_path, False)            # --no-adam: no ADaM, no report
    (tmp_path / "adam").rmdir()
    assert not _makes_report(tmp_path, True)             # analysis.yaml alone
