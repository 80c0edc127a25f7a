"""ADTTE from a two-reader ADRS: the investigator and an independent review read the same scans
differently, and adtte.yaml asks for PFS per reader (parameter ``evaluator``) or for one source
by the other reader (source ``evaluator``). Start = randomization 2020-01-01.

Days after 2020-01-01 (leap year): 02-26 = 56, 03-25 = 84, 04-22 = 112, 07-19 = 200;
AVAL = days + 1. RSSEQ in brackets.

      investigator                              independent review
R1    SD 02-26 [1], PR 03-25 [2], PD 04-22 [3]  SD 02-26 [4], SD 03-25 [5], NE 04-22 [6]
R2    PR 02-26 [1], PR 03-25 [2]                PR 02-26 [3], PD 03-25 [4]
R3    SD 02-26 [1]                              NE 02-26 [2]                 died 07-19
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cdiscmap.adam import derive_all, load_adam_settings
from cdiscmap.errors import SpecError

T = pd.Timestamp
SUBJECTS = ["R1", "R2", "R3"]
INV, IRC = "INVESTIGATOR", "INDEPENDENT ASSESSOR"

ADRS_YAML = """\
evaluators:
  - {evaluator: INDEPENDENT ASSESSOR, paramcd_suffix: I}
"""

ADTTE_YAML = """\
parameters:
  - {paramcd: PFS, param: Progression-Free Survival, start: RANDDT, events: [PD, DEATH]}
  - paramcd: PFSI
    param: PFS by Independent Review
    start: RANDDT
    evaluator: independent assessor
    events: [PD, DEATH]
  - paramcd: PFSX
    param: PFS with Progression by Independent Review
    start: RANDDT
    events:
      - {dataset: ADRS, where: {AVALC: PD}, evaluator: INDEPENDENT ASSESSOR,
         description: DISEASE PROGRESSION BY INDEPENDENT REVIEW}
      - DEATH
  - {paramcd: DOR, param: Duration of Response, start: RESPONSE, events: [PD, DEATH]}
  - {paramcd: DORI, param: Duration of Response by Independent Review, start: RESPONSE,
     evaluator: INDEPENDENT ASSESSOR, events: [PD, DEATH]}
"""


def s(values: list) -> pd.Series:
    return pd.Series(values, dtype="string")


def data() -> dict[str, pd.DataFrame]:
    n = len(SUBJECTS)
    dm = pd.DataFrame({"STUDYID": s(["R"] * n), "USUBJID": s(SUBJECTS),
                       "DTHDTC": s([None, None, "2020-07-19"])})
    ds = pd.DataFrame({"USUBJID": s(SUBJECTS), "DSSEQ": [1.0] * n,
                       "DSTERM": s(["RANDOMIZED"] * n), "DSDECOD": s(["RANDOMIZED"] * n),
                       "DSSTDTC": s(["2020-01-01"] * n)})
    rows = [("R1", 1, INV, "2020-02-26", "SD"), ("R1", 2, INV, "2020-03-25", "PR"),
            ("R1", 3, INV, "2020-04-22", "PD"), ("R1", 4, IRC, "2020-02-26", "SD"),
            ("R1", 5, IRC, "2020-03-25", "SD"), ("R1", 6, IRC, "2020-04-22", "NE"),
            ("R2", 1, INV, "2020-02-26", "PR"), ("R2", 2, INV, "2020-03-25", "PR"),
            ("R2", 3, IRC, "2020-02-26", "PR"), ("R2", 4, IRC, "2020-03-25", "PD"),
            ("R3", 1, INV, "2020-02-26", "SD"), ("R3", 2, IRC, "2020-02-26", "NE")]
    rs = pd.DataFrame(rows, columns=["USUBJID", "RSSEQ", "RSEVAL", "RSDTC", "RSSTRESC"])
    rs = rs.astype({c: "string" for c in ("USUBJID", "RSEVAL", "RSDTC", "RSSTRESC")})
    rs["RSSEQ"] = rs["RSSEQ"].astype("float64")
    rs["RSTESTCD"] = s(["OVRLRESP"] * len(rs))
    return {"DM": dm, "DS": ds, "RS": rs}


def _study(tmp_path: Path, adtte: str = ADTTE_YAML) -> Path:
    (tmp_path / "adam").mkdir()
    (tmp_path / "adam" / "adrs.yaml").write_text(ADRS_YAML, encoding="utf-8")
    (tmp_path / "adam" / "adtte.yaml").write_text(adtte, encoding="utf-8")
    return tmp_path


def got(frame: pd.DataFrame, code: str) -> dict[str, tuple]:
    part = frame[frame["PARAMCD"] == code]
    return {r.USUBJID: (r.ADT, r.AVAL, r.CNSR, r.EVNTDESC, r.SRCVAR,
                        None if pd.isna(r.SRCSEQ) else r.SRCSEQ) for r in part.itertuples()}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):
    settings = load_adam_settings(_study(tmp_path_factory.mktemp("readers")))
    return derive_all(data(), settings)


def test_adrs_holds_both_readers(result):
    adrs = result.datasets["ADRS"]
    bor = adrs.loc[adrs["PARAMCD"].isin(["BOR", "BORI"])].set_index(["PARAMCD", "USUBJID"])
    assert bor.loc[("BOR", "R1"), "AVALC"] == "PR" and bor.loc[("BORI", "R1"), "AVALC"] == "SD"


def test_pfs_per_reader(result):
    adtte = result.datasets["ADTTE"]
    last_adequate = "LAST ADEQUATE TUMOR ASSESSMENT"
    assert got(adtte, "PFS") == {
        "R1": (T("2020-04-22"), 113.0, 0.0, "DISEASE PROGRESSION", "RSDTC", 3.0),
        "R2": (T("2020-03-25"), 85.0, 1.0, last_adequate, "RSDTC", 2.0),
        "R3": (T("2020-07-19"), 201.0, 0.0, "DEATH", "DTHDT", None)}
    # the independent review: R1 never progresses (its last adequate scan is SD on 03-25, the
    # 04-22 scan is NE), R2 progresses on 03-25
    assert got(adtte, "PFSI") == {
        "R1": (T("2020-03-25"), 85.0, 1.0, last_adequate, "RSDTC", 5.0),
        "R2": (T("2020-03-25"), 85.0, 0.0, "DISEASE PROGRESSION", "RSDTC", 4.0),
        "R3": (T("2020-07-19"), 201.0, 0.0, "DEATH", "DTHDT", None)}


def test_one_source_by_the_other_reader(result):
    # progression by independent review, censoring at the investigator's last adequate scan
    # (R1: PR 03-25, RSSEQ 2; its PD 04-22 is not adequate)
    assert got(result.datasets["ADTTE"], "PFSX") == {
        "R1": (T("2020-03-25"), 85.0, 1.0, "LAST ADEQUATE TUMOR ASSESSMENT", "RSDTC", 2.0),
        "R2": (T("2020-03-25"), 85.0, 0.0, "DISEASE PROGRESSION BY INDEPENDENT REVIEW",
               "RSDTC", 4.0),
        "R3": (T("2020-07-19"), 201.0, 0.0, "DEATH", "DTHDT", None)}
    assert "by INDEPENDENT ASSESSOR" in result.methods["ADTTE"]["PARAMCD=PFSX"]


def test_duration_of_response_per_reader(result):
    adtte = result.datasets["ADTTE"]
    # investigator: R1 responds 03-25, PD 04-22 (28 days + 1); R2 responds 02-26, last
    # adequate 03-25. Independent review: only R2 responds (02-26), PD 03-25.
    assert got(adtte, "DOR") == {
        "R1": (T("2020-04-22"), 29.0, 0.0, "DISEASE PROGRESSION", "RSDTC", 3.0),
        "R2": (T("2020-03-25"), 29.0, 1.0, "LAST ADEQUATE TUMOR ASSESSMENT", "RSDTC", 2.0)}
    assert got(adtte, "DORI") == {
        "R2": (T("2020-03-25"), 29.0, 0.0, "DISEASE PROGRESSION", "RSDTC", 4.0)}
    assert "(responses by INDEPENDENT ASSESSOR)" in result.methods["ADTTE"]["PARAMCD=DORI"]


def test_unknown_reader_is_a_settings_error(tmp_path: Path):
    text = ADTTE_YAML.replace("evaluator: independent assessor", "evaluator: CENTRAL REVIEW")
    with pytest.raises(SpecError, match="unknown evaluator CENTRAL REVIEW") as err:
        load_adam_settings(_study(tmp_path, text))
    assert "adtte.yaml" in str(err.value)


def test_evaluator_only_on_adrs_sources(tmp_path: Path):
    text = ADTTE_YAML.replace("- DEATH\n", "- {dataset: ADSL, date: DTHDT, description: DEATH, "
                                          "evaluator: INVESTIGATOR}\n")
    with pytest.raises(SpecError, match="ADRS sources only"):
        load_adam_settings(_study(tmp_path, text))
