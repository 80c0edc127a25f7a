"""``cdiscmap --help`` and ``--version`` answer at once: the CLI module imports no heavy library.

Checked by what is imported, not by a timing (a timing depends on the machine): a fresh
interpreter imports ``cdiscmap.cli`` and reports which of the heavy libraries got loaded.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "pandera", "lxml", "rich", "pyreadstat", "pydantic", "yaml",
         "jinja2", "defineutils")

PROBE = (
    "import sys, cdiscmap.cli\n"
    f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
)


def _loaded_after(code: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    return set(result.stdout.split())


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _loaded_after(PROBE) == set()


def test_the_probe_sees_a_heavy_import() -> None:
    # the same probe after importing pandas names it (and numpy under it): the check can fail
    assert {"pandas", "numpy"} <= _loaded_after("import pandas\n" + PROBE)


def test_help_and_version_run_without_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from cdiscmap.cli import main\n"
        "for args in (['--help'], ['--version'], ['run', '--help']):\n"
        "    try:\n"
        "        main(args, prog_name='cdiscmap', standalone_mode=True)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, (args, exc.code)\n"
        f"print('LOADED', ' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert "cdiscmap, version 0.1.0" in result.stdout
    assert "Usage: cdiscmap run [OPTIONS] [STUDY]" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].split() == ["LOADED"]
