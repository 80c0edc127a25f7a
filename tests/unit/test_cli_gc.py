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


def _run_code(code: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout.split()


def test_a_commands_start_up_is_made_with_the_collector_paused_then_frozen() -> None:
    """The imports (and the standards) of a command run by the command line: no collection
    while they are made; afterwards the collector runs again and never walks them (frozen)."""
    during, after, frozen, cached = _run_code(
        "import gc\n"
        "from cdiscmap import cli\n"
        "cli._COMMAND_LINE = True\n"
        "with cli._start_up(standards=True):\n"
        "    during = gc.isenabled()\n"
        "    import cdiscmap.pipeline.run\n"
        "from cdiscmap.standards.loader import _load_cached\n"
        "print(during, gc.isenabled(), gc.get_freeze_count() > 50_000,\n"
        "      _load_cached.cache_info().currsize)\n")
    assert (during, after, frozen, cached) == ("False", "True", "True", "1")


def test_start_up_leaves_a_callers_collector_alone() -> None:
    during, after, frozen = _run_code(
        "import gc\n"
        "from cdiscmap import cli\n"
        "with cli._start_up():\n"
        "    during = gc.isenabled()\n"
        "    import cdiscmap.pipeline.run\n"
        "print(during, gc.isenabled(), gc.get_freeze_count())\n")
    assert (during, after, frozen) == ("True", "True", "0")


def test_the_command_works_with_the_collector_on_and_its_imports_frozen() -> None:
    # check-spec of the bundled study, as the command line runs it: when the command's work
    # starts, the collector is enabled again and the modules imported so far are frozen
    out = _run_code(
        "import gc, sys\n"
        "import cdiscmap.pipeline.run as run\n"
        "from cdiscmap.cli import main\n"
        "seen = []\n"
        "check = run.check_study_spec\n"
        "def probe(folder):\n"
        "    seen.append((gc.isenabled(), gc.get_freeze_count() > 50_000))\n"
        "    return check(folder)\n"
        "run.check_study_spec = probe\n"
        "sys.argv = ['cdiscmap', 'check-spec', 'crizotinib-basket']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    print('EXIT', exc.code)\n"
        "print(*seen[0])\n")
    assert out[-4:] == ["EXIT", "0", "True", "True"]
