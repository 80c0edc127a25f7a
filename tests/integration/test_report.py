"""`cdiscmap report` end to end on a small hand-made ADaM: files, RTF, traceability, reruns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from cdiscmap.cli import main

ANALYSIS = """\
title: "TINY: report test"
populations:
  itt: {flag: ITTFL}
groupings:
  arm: {variable: ARMCD, label: ARM}
demographics:
  - {id: t_demog, title: Demographics, population: itt, grouping: arm}
response:
  - id: t_orr
    title: Best overall response
    population: itt
    grouping: arm
    endpoints:
      - {label: ORR, paramcd: BOR, responders: [CR, PR]}
simon:
  - id: t_simon
    title: Two-stage
    population: itt
    grouping: arm
    endpoint: {label: ORR, paramcd: BOR, responders: [CR, PR]}
    order_by: RANDDT
    design: {r1: 0, n1: 2, r: 1, n: 5, p0: 0.1, p1: 0.3}
survival:
  - {id: t_tte, title: PFS, population: itt, grouping: arm, endpoints: [PFS], compare: true,
     reference: A}
"""


def _adam(folder: Path) -> None:
    folder.mkdir()
    ids = [f"S-{i}" for i in range(1, 9)]
    arm = ["A"] * 4 + ["B"] * 4
    pd.DataFrame({"STUDYID": "TINY", "USUBJID": ids, "ITTFL": "Y", "ARMCD": arm,
                  "ARM": [f"Arm {a}" for a in arm], "AGE": [6, 40, 50, 60, 3, 45, 55, 65],
                  "AGEU": ["MONTHS"] + ["YEARS"] * 3 + ["MONTHS"] + ["YEARS"] * 3,
                  "SEX": list("MFMFMFMF"), "RACE": "WHITE",
                  "RANDDT": [f"2020-01-0{i}" for i in range(1, 9)]}).to_csv(
        folder / "adsl.csv", index=False)
    pd.DataFrame({"STUDYID": "TINY", "USUBJID": ids, "PARAMCD": "BOR",
                  "AVALC": ["CR", "PR", "SD", "PD", "PD", "SD", "PR", "NE"]}).to_csv(
        folder / "adrs.csv", index=False)
    pd.DataFrame({"STUDYID": "TINY", "USUBJID": ids, "PARAMCD": "PFS",
                  "PARAM": "Progression-Free Survival",
                  "AVAL": [400, 300, 200, 100, 90, 60, 150, 30],
                  "CNSR": [1, 0, 0, 0, 0, 0, 1, 0]}).to_csv(folder / "adtte.csv", index=False)


def test_report_files_rtf_cells_and_byte_identical_rerun(tmp_path: Path) -> None:
    study = tmp_path / "study"
    study.mkdir()
    (study / "analysis.yaml").write_text(ANALYSIS, encoding="utf-8")
    _adam(tmp_path / "adam")
    args = ["report", str(study), "--adam", str(tmp_path / "adam"), "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "o" / "TINY" / "report"
    names = sorted(p.name for p in folder.iterdir())
    for stem in ("t_demog", "t_orr", "t_simon", "t_tte_km", "t_tte_compare"):
        assert f"{stem}.csv" in names and f"{stem}.rtf" in names
        assert (folder / f"{stem}.rtf").read_bytes().startswith(b"{\\rtf1")
    assert {"t_tte_pfs_km.png", "t_tte_pfs_km.svg", "report.html", "cells.json"} <= set(names)
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "Best overall response" in html and "src=\"http" not in html
    # ORR arm A: CR + PR = 2 of 4; arm B: 1 of 4 (hand count of the ADRS above)
    orr = (folder / "t_orr.csv").read_text(encoding="utf-8").splitlines()
    assert orr[1] == 'Arm A,4,"2/4 (50.0%) [6.8, 93.2]"'
    assert orr[2] == 'Arm B,4,"1/4 (25.0%) [0.6, 80.6]"'
    # ages: infants in months are summarised apart from years
    demog = (folder / "t_demog.csv").read_text(encoding="utf-8")
    assert "AGE (months)" in demog and "AGE (years)" in demog
    # Simon 0/2, 1/5 in arm A (accrual order S-1 CR, S-2 PR): 2 > r1 in stage 1, 2 > r = 1
    simon = (folder / "t_simon.csv").read_text(encoding="utf-8").splitlines()[1]
    assert simon.endswith("2/2,2/4,stage 2,reject H0 (already more than r responders)")
    import json

    cells = json.loads((folder / "cells.json").read_text(encoding="utf-8"))["cells"]
    cell = next(c for c in cells if c["table"] == "t_orr" and c["row_label"] == "Arm A")
    assert (cell["dataset"], cell["paramcd"], cell["population"]) == \
        ("ADRS", "BOR", "ADSL.ITTFL = 'Y'")
    assert cell["filter"].startswith("ADSL.ARMCD = 'A'") and (cell["x"], cell["n"]) == (2, 4)
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert CliRunner().invoke(main, args).exit_code == 0
    second = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert first == second                      # PNG, SVG, RTF, HTML byte-identical


def test_report_refuses_unknown_keys_with_file_and_line(tmp_path: Path) -> None:
    study = tmp_path / "study"
    study.mkdir()
    (study / "analysis.yaml").write_text(ANALYSIS + "colour: red\n", encoding="utf-8")
    _adam(tmp_path / "adam")
    result = CliRunner().invoke(main, ["report", str(study), "--adam", str(tmp_path / "adam"),
                                       "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert f"analysis.yaml:{ANALYSIS.count(chr(10)) + 1} " in result.output and "unknown key 'colour'" in result.output
