"""``cdiscmap adam`` imports what deriving ADaM needs only: not the SDTM mapping engine (the
study folder is found by ``cdiscmap.resources``), not pandera (the schema checks take their
own path on text labels), nor the report's plotting and survival libraries.

Checked by what a fresh interpreter has imported after a whole ``adam`` command on a small
SDTM folder, not by a timing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

NOT_NEEDED = ("cdiscmap.sdtm.engine", "cdiscmap.pipeline.run", "cdiscmap.ingest", "pandera",
              "matplotlib", "scipy", "lifelines", "rtflite", "polars", "rich")


def _sdtm(folder: Path) -> Path:
    """DM, DS, RS and TU of two subjects (as tests/unit/test_adam_only_study.py)."""
    folder.mkdir(parents=True)
    ids = ["EXT-1", "EXT-2"]
    pd.DataFrame({"STUDYID": ["EXT"] * 2, "USUBJID": ids, "SUBJID": ["1", "2"],
                  "AGE": [50, 70], "SEX": ["F", "M"], "ARM": ["A", "A"],
                  "ACTARM": ["A", "A"]}).to_csv(folder / "dm.csv", index=False)
    pd.DataFrame({"STUDYID": ["EXT"] * 2, "USUBJID": ids, "DSSEQ": [1, 1],
                  "DSTERM": ["RANDOMIZED"] * 2, "DSDECOD": ["RANDOMIZED"] * 2, "DSCAT": ["PROTOCOL MILESTONE"] * 2,
                  "DSSTDTC": ["2020-01-01"] * 2}).to_csv(folder / "ds.csv", index=False)
    pd.DataFrame({"STUDYID": ["EXT"] * 2, "USUBJID": ids, "RSSEQ": [1, 1],
                  "RSTESTCD": ["OVRLRESP"] * 2, "RSSTRESC": ["PR", "PD"],
                  "RSEVAL": ["INVESTIGATOR"] * 2, "RSDTC": ["2020-02-26"] * 2}) \
        .to_csv(folder / "rs.csv", index=False)
    pd.DataFrame({"STUDYID": ["EXT"] * 2, "USUBJID": ids, "TUSEQ": [1, 1],
                  "TUSTRESC": ["TARGET"] * 2, "VISIT": ["BASELINE"] * 2,
                  "TUDTC": ["2019-12-20"] * 2}).to_csv(folder / "tu.csv", index=False)
    return folder


def test_adam_command_imports_no_sdtm_engine_nor_report_libraries(tmp_path: Path) -> None:
    sdtm = _sdtm(tmp_path / "sdtm")
    (tmp_path / "study").mkdir()          # a study folder without settings: the defaults
    code = (
        "import sys\n"
        "from cdiscmap.cli import main\n"
        "try:\n"
        f"    main(['adam', '--sdtm', {str(sdtm)!r}, '--study', {str(tmp_path / 'study')!r},\n"
        f"          '--out', {str(tmp_path / 'adam')!r}, '--fail-on', 'none', '-q'],\n"
        "         prog_name='cdiscmap', standalone_mode=True)\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"print('LOADED', ' '.join(m for m in {NOT_NEEDED!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, check=True)
    assert (tmp_path / "adam" / "adsl.xpt").is_file()     # the command did its whole work
    assert result.stdout.rstrip().splitlines()[-1].split() == ["LOADED"]


def test_adam_command_prints_paths_as_they_are(tmp_path: Path) -> None:
    """The summary lines are plain text: a folder named with brackets or colons (rich markup
    and emoji codes) is printed as it is."""
    from click.testing import CliRunner

    from cdiscmap.cli import main

    sdtm = _sdtm(tmp_path / "sdtm")
    (tmp_path / "study").mkdir()
    out = tmp_path / "out[red] :smile:"
    result = CliRunner().invoke(main, ["adam", "--sdtm", str(sdtm), "--study",
                                       str(tmp_path / "study"), "--out", str(out),
                                       "--fail-on", "none", "-q"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{out / 'adsl.xpt'}: 2 records"
    assert lines[-1].startswith("Findings: ")
    assert lines[-1].endswith(f" notices (findings.csv in {out})")


def test_study_folder_given_or_bundled_by_name(tmp_path: Path) -> None:
    from cdiscmap.errors import SpecError
    from cdiscmap.resources import resolve_study_dir, studies_root

    assert resolve_study_dir(tmp_path) == tmp_path
    assert resolve_study_dir("crizotinib-basket") == studies_root() / "crizotinib-basket"
    try:
        resolve_study_dir("no-such-study")
    except SpecError as exc:
        assert "no bundled study of that name: " in str(exc)
        assert "crizotinib-basket" in str(exc)
    else:
        raise AssertionError("a missing study must be a SpecError")
