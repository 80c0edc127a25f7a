"""The garbage-collector settings of the process's own command line (``cli._Group.main``), and
how it ends: at once (``os._exit``, after flushing stdout/stderr) with the exit status
``sys.exit`` would give, except under a tracer or profiler.

Run in a fresh interpreter each: the settings are process-wide, and the point is that a caller
that goes on running (a test, CliRunner) keeps CPython's defaults.
"""

from __future__ import annotations

import subprocess
import sys

from cdiscmap.cli import GC_YOUNG_THRESHOLD

STATE = ("print('BEFORE', *before)\n"
         "print('AFTER', *gc.get_threshold())\n"
         "print('FROZEN', gc.get_freeze_count() > 0)\n")


def _probe(call: str, argv: str = "['cdiscmap', '--version']", prelude: str = ""
           ) -> tuple[list[str], int]:
    """The last four lines of stdout ("LEFT status" when the process left at once, "EXIT
    code" when SystemExit came back to the caller; then the collector's state) and the exit
    status of the process."""
    code = (
        "import gc, os, sys\n"
        "from cdiscmap.cli import main\n"
        "before = gc.get_threshold()\n"
        "real_exit = os._exit\n"
        "def leave(status):\n"
        "    print('LEFT', status)\n"
        + "".join("    " + line + "\n" for line in STATE.splitlines())
        + "    sys.stdout.flush()\n"
        "    real_exit(status)\n"
        "os._exit = leave\n"
        f"sys.argv = {argv}\n"
        + prelude +
        "try:\n"
        f"    {call}\n"
        "except SystemExit as exc:\n"
        "    sys.setprofile(None)\n"
        "    print('EXIT', exc.code)\n"
        + STATE
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    return result.stdout.splitlines()[-4:], result.returncode


def test_the_command_line_collects_less_often_and_leaves_at_once() -> None:
    (left, before, after, _), status = _probe("main()")
    assert left == "LEFT 0" and status == 0
    assert before == "BEFORE 700 10 10"                      # CPython's defaults
    assert after == f"AFTER {GC_YOUNG_THRESHOLD} 10 10"       # only the young threshold


def test_an_error_exit_leaves_at_once_with_its_status() -> None:
    (left, _, after, _), status = _probe(
        "main()", "['cdiscmap', 'check-spec', '/nonexistent/study']")
    assert left == "LEFT 2" and status == 2
    assert after == f"AFTER {GC_YOUNG_THRESHOLD} 10 10"


def test_under_a_profiler_the_command_line_exits_through_shutdown_frozen() -> None:
    # cProfile and coverage write their data at exit: no os._exit then; the objects are
    # left to the shutdown frozen (no full collections over them)
    (exit_line, _, after, frozen), status = _probe(
        "main()", prelude="sys.setprofile(lambda *args: None)\n")
    assert exit_line == "EXIT 0" and status == 0
    assert after == f"AFTER {GC_YOUNG_THRESHOLD} 10 10"
    assert frozen == "FROZEN True"


def test_under_a_monitoring_tool_the_command_line_exits_through_shutdown() -> None:
    # Python 3.12+: coverage's sysmon core registers a sys.monitoring tool instead of a
    # trace function; stood in for here (3.11 has no sys.monitoring) by an object answering
    # get_tool as the real one does with the coverage id (1) in use
    monitoring = ("class Monitoring:\n"
                  "    def get_tool(self, tool):\n"
                  "        return 'coverage.py' if tool == 1 else None\n"
                  "sys.monitoring = Monitoring()\n")
    (exit_line, _, _, frozen), status = _probe("main()", prelude=monitoring)
    assert exit_line == "EXIT 0" and status == 0
    assert frozen == "FROZEN True"
    # no tool in use: leaves at once as without sys.monitoring
    idle = monitoring.replace("'coverage.py' if tool == 1 else None", "None")
    (left, _, _, _), status = _probe("main()", prelude=idle)
    assert left == "LEFT 0" and status == 0


def test_a_caller_passing_arguments_keeps_the_defaults() -> None:
    (exit_line, _, after, frozen), status = _probe("main(['--version'], prog_name='cdiscmap')")
    assert exit_line == "EXIT 0" and status == 0
    assert after == "AFTER 700 10 10"
    assert frozen == "FROZEN False"


def test_leaving_at_once_keeps_the_output_and_the_status() -> None:
    # no hook: the real os._exit; what was printed (piped, so buffered) is flushed first,
    # nothing after main() runs, and the status is the command's
    code = ("import sys\n"
            "from cdiscmap.cli import main\n"
            "sys.argv = ['cdiscmap', 'check-spec', '/nonexistent/study']\n"
            "print('before the command')\n"
            "main()\n"
            "print('after main')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stdout.splitlines() == ["before the command"]
    assert result.stderr.startswith("cdiscmap: error: ")


def test_leave_at_once_gives_the_status_sys_exit_gives() -> None:
    for code, status, err in (("None", 0, ""), ("3", 3, ""), ("'bad thing'", 1, "bad thing\n"),
                              ("256 + 5", 5, "")):
        result = subprocess.run(
            [sys.executable, "-c", f"from cdiscmap.cli import _leave_at_once\n"
                                   f"print('out')\n_leave_at_once({code})\nprint('never')\n"],
            capture_output=True, text=True, timeout=120)
        assert (result.returncode, result.stdout, result.stderr) == (status, "out\n", err)


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
        "import os\n"
        "real_exit = os._exit\n"
        "def leave(status):\n"
        "    print('LEFT', status, *seen[0])\n"
        "    sys.stdout.flush()\n"
        "    real_exit(status)\n"
        "os._exit = leave\n"
        "sys.argv = ['cdiscmap', 'check-spec', 'crizotinib-basket']\n"
        "main()\n")
    assert out[-4:] == ["LEFT", "0", "True", "True"]
