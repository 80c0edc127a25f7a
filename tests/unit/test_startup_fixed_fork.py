"""What a small run's report process inherits from the console script instead of importing it
again (cli.run): pydantic, PyYAML and the report's settings models, never pandas.

Checked by what is loaded when the process would be forked (a stand-in class stops the command
there: nothing is forked or written), not by a timing.
"""

from __future__ import annotations

import subprocess
import sys

from cdiscmap.resources import default_study_dir

PROBE = """\
import sys
from cdiscmap import forked
from cdiscmap.pipeline import early_report
forked.fork_usable = lambda: True
class Probe:
    def __init__(self, work):
        print(*(m in sys.modules for m in ("cdiscmap.analysis.settings", "pydantic", "yaml",
                                            "pandas", "numpy")), flush=True)
        raise SystemExit(0)
early_report.ForkedPeer = Probe
from cdiscmap.cli import main
main(["run", {study!r}, "--raw", {raw!r}, "--out", {out!r}], prog_name="cdiscmap")
"""


def test_the_report_process_inherits_its_settings_models_and_no_pandas(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "dm.csv").write_bytes(b"x" * 100)
    code = PROBE.format(study=str(default_study_dir()), raw=str(raw), out=str(tmp_path / "out"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split() == ["True", "True", "True", "False", "False"], \
        result.stderr[-2000:]
    assert not (tmp_path / "out").exists()
