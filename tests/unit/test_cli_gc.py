"""The garbage-collector settings of the process's own command line (``cli._Group.main``).

Run in a fresh interpreter each: the settings are process-wide, and the point is that a caller
that goes on running (a test, CliRunner) keeps CPython's defaults.
"""

from __future__ import annotations

import subprocess
import sys

from cdiscmap.cli import GC_YOUNG_THRESHOLD


def _probe(call: str, argv: str = "['cdiscmap', '--version']") -> list[str]:
    code = (
        "import gc, sys\n"
        "from cdiscmap.cli import main\n"
        "before = gc.get_threshold()\n"
        f"sys.argv = {argv}\n"
        "try:\n"
        f"    {call}\n"
        "except SystemExit as exc:\n"
        "    print('EXIT', exc.code)\n"
        "print('BEFORE', *before)\n"
        "print('AFTER', *gc.get_threshold())\n"
        "print('FROZEN', gc.get_freeze_count() > 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout.splitlines()[-4:]


def test_the_command_line_collects_less_often_and_freezes_at_exit() -> None:
    exit_line, before, after, frozen = _probe("main()")
    assert exit_line == "EXIT 0"
    assert before == "BEFORE 700 10 10"                      # CPython's defaults
    assert after == f"AFTER {GC_YOUNG_THRESHOLD} 10 10"       # only the young threshold
    assert frozen == "FROZEN True"


def test_an_error_exit_also_freezes() -> None:
    # a command that fails (exit 2: no such study) still leaves its objects to the exit
    exit_line, _, after, frozen = _probe(
        "main()", "['cdiscmap', 'check-spec', '/nonexistent/study']")
    assert exit_line == "EXIT 2"
    assert after == f"AFTER {GC_YOUNG_THRESHOLD} 10 10"
    assert frozen == "FROZEN True"


def test_a_caller_passing_arguments_keeps_the_defaults() -> None:
    exit_line, _, after, frozen = _probe("main(['--version'], prog_name='cdiscmap')")
    assert exit_line == "EXIT 0"
    assert after == "AFTER 700 10 10"
    assert frozen == "FROZEN False"
