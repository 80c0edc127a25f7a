"""The commands' closing lines (the run's tables, adam/recist/synth lines) printed without rich
when rich would print plain text, byte for byte what rich prints, and by rich otherwise.

rich is the oracle here: each case prints the same summary through rich's Table and Console
(``cli._rich_summary``, the code the fast path replaces) and compares stdout.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdiscmap import cli


@pytest.fixture(autouse=True)
def _plain_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "80")


def _summary(files: list[tuple[str, int, int, bool]], written: dict[str, int],
             study: str = "CRZBASKET") -> dict:
    return {"study": study,
            "raw_files": [{"file": f, "read": r, "used": u, "dropped": r - u, "balanced": b}
                          for f, r, u, b in files],
            "records_written": written,
            "findings": {"error": 0, "warning": 39, "notice": 2}}


def _both(capsys: pytest.CaptureFixture[str], summary: dict, out: Path) -> tuple[str, str]:
    cli._print_summary(summary, out)
    fast = capsys.readouterr().out
    f = summary["findings"]
    cli._rich_summary(summary, f"Findings: {f['error']} errors, {f['warning']} warnings, "
                               f"{f['notice']} notices. Output: {out}/ (run-summary.md, "
                               "findings.csv)")
    return fast, capsys.readouterr().out


def test_run_summary_is_rich_s_text(capsys: pytest.CaptureFixture[str]) -> None:
    summary = _summary([("enrol.csv", 1000, 1000, True), ("ie.csv", 10000, 82, True),
                        ("lb.csv", 70936, 70936, False)],
                       {"AE": 5431, "LB": 70936, "RELREC": 4, "ADSL": 1000})
    fast, rich = _both(capsys, summary, Path("/tmp/out/CRZBASKET"))
    assert fast == rich
    # hand-checked: widths from the longest cell or header, numbers right-aligned
    assert fast.splitlines()[:4] == [
        "Raw rows (CRZBASKET)",
        "┏━━━━━━━━━━━┳━━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┓",
        "┃ file      ┃  read ┃  used ┃ dropped ┃ balanced ┃",
        "┡━━━━━━━━━━━╇━━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━┩"]
    assert "│ ie.csv    │ 10000 │    82 │    9918 │      yes │" in fast.splitlines()
    assert "│ lb.csv    │ 70936 │ 70936 │       0 │       NO │" in fast.splitlines()
    assert fast.splitlines()[-1] == ("Findings: 0 errors, 39 warnings, 2 notices. Output: "
                                     "/tmp/out/CRZBASKET/ (run-summary.md, findings.csv)")


@pytest.mark.parametrize("name", ["a-file-name-long-enough-to-make-the-table-wider-than-the-"
                                  "80-columns-of-the-console.csv",
                                  "[bold]x[/bold].csv", "smile:smile:.csv", "café.csv"])
def test_what_rich_would_change_goes_to_rich(capsys: pytest.CaptureFixture[str],
                                             name: str) -> None:
    summary = _summary([(name, 3, 3, True)], {"DM": 3})
    assert cli._table_lines("Raw rows", [("file", "left")], [[name]]) is None
    fast, rich = _both(capsys, summary, Path("out"))
    assert fast == rich


def test_a_stdout_that_is_not_utf8_goes_to_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich draws ASCII boxes there (and the box characters would not encode)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="latin-1"))
    assert not cli._plain_console()


def test_markup_in_a_line_is_rich_s(capsys: pytest.CaptureFixture[str]) -> None:
    cli._say(["out/[bold]x[/bold]: 3 records", "plain: 1 record"])
    assert capsys.readouterr().out == "out/x: 3 records\nplain: 1 record\n"


def test_no_rich_import_for_plain_lines() -> None:
    code = ("import sys\nfrom cdiscmap import cli\n"
            "cli._say(['a/b.xpt: 12 records', 'Findings: 0 errors'])\n"
            "print('rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out == "a/b.xpt: 12 records\nFindings: 0 errors\nFalse\n"


_NAME = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40)


@settings(deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.tuples(_NAME, st.integers(0, 10**9), st.booleans()), min_size=1,
                      max_size=6),
       written=st.dictionaries(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
                               st.integers(0, 10**8), min_size=1, max_size=5),
       study=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                     max_size=20))
def test_any_summary_prints_as_rich_prints_it(capsys: pytest.CaptureFixture[str], files: list,
                                              written: dict, study: str) -> None:
    summary = _summary([(f, n, n // 2, b) for f, n, b in files], written, study)
    fast, rich = _both(capsys, summary, Path("out"))
    assert fast == rich
