"""One data cut-off date (study.yaml ``data_cutoff``) feeds TS DCUTDTC, DM reference dates of
subjects still on treatment and the open end of an epoch; ``from_domain`` ``open_end`` states
what the last open EX record (EXENDTC null) gives.

Tiny study, hand-made EX (dates in the comments), cut-off 2024-06-30:
- S1: two closed records, 01-10..02-10 and 02-11..03-01 → last dose 2024-03-01.
- S2: 01-15..02-01 closed, 02-02 open, 07-05 open (a record after the cut-off) → on
  treatment; the closed records alone would say 2024-02-01.
- S3: no EX record (never dosed).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from cdiscmap.errors import SpecError
from cdiscmap.pipeline.run import RunOptions, run_study
from cdiscmap.spec.models import FromDomainArgs, StudySpec

STUDY = """\
studyid: CUT
title: Cut-off study
standards: {sdtmig: "3.4", sdtm_ct: "2025-03-28"}
output_timestamp: "2026-01-01T00:00:00"
forms:
  dm: {file: dm.csv, keys: [SUBJECT]}
  ex: {file: ex.csv, keys: [SUBJECT, LINE]}
domains: [DM, EX]
data_cutoff: {date: 2024-06-30, description: Interim analysis}
epochs:
  - {epoch: SCREENING, start: RFXSTDTC, before_start: true}
  - {epoch: TREATMENT, start: RFXSTDTC, end: RFXENDTC}
  - {epoch: FOLLOW-UP, start: RFXENDTC}
trial_summary:
  - {parmcd: TITLE, value: Cut-off study}
  - {parmcd: DCUTDTC, derive: DCUTDTC}
  - {parmcd: DCUTDESC, derive: DCUTDESC}
"""

DM = """\
domain: DM
blocks:
  - name: subjects
    source: {form: dm}
    variables:
      STUDYID: {constant: CUT}
      DOMAIN: {constant: DM}
      USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
      SUBJID: {take: SUBJECT}
      RFXSTDTC: {from_domain: {domain: EX, variable: EXSTDTC, agg: min}}
      RFXENDTC: {from_domain: {domain: EX, variable: EXENDTC, agg: max, open_end: blank}}
      RFSTDTC: {copy: RFXSTDTC}
      RFENDTC: {from_domain: {domain: EX, variable: EXENDTC, agg: max, open_end: cutoff}}
      RFPENDTC:
        when:
          - if: {var: RFXSTDTC, blank: false}
            then: {data_cutoff: true}
      # the old behaviour (open_end: skip, the default): the closed records decide
      RFICDTC: {from_domain: {domain: EX, variable: EXENDTC, agg: max}}
"""

EX = """\
domain: EX
blocks:
  - name: doses
    source: {form: ex}
    variables:
      EXTRT: {constant: DRUG}
      EXSTDTC: {iso8601: {date: STDAT, format: YMD}}
      EXENDTC: {iso8601: {date: ENDAT, format: YMD}}
variables:
  STUDYID: {constant: CUT}
  DOMAIN: {constant: EX}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  EXSEQ: {seq: {order: [EXSTDTC]}}
  EPOCH: {epoch: {dtc: EXSTDTC}}
"""

RAW = {
    "dm.csv": "SUBJECT\nS1\nS2\nS3\n",
    "ex.csv": "SUBJECT,LINE,STDAT,ENDAT\n"
              "S1,1,2024-01-10,2024-02-10\n"
              "S1,2,2024-02-11,2024-03-01\n"
              "S2,1,2024-01-15,2024-02-01\n"
              "S2,2,2024-02-02,\n"
              "S2,3,2024-07-05,\n",
}


def _study(tmp_path: Path, study: str = STUDY, dm: str = DM) -> tuple[Path, Path]:
    folder, raw = tmp_path / "cut", tmp_path / "raw"
    (folder / "sdtm").mkdir(parents=True)
    raw.mkdir()
    (folder / "study.yaml").write_text(textwrap.dedent(study))
    (folder / "sdtm" / "dm.yaml").write_text(dm)
    (folder / "sdtm" / "ex.yaml").write_text(EX)
    for name, text in RAW.items():
        (raw / name).write_text(text)
    return folder, raw


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("cut")
    folder, raw = _study(tmp)
    return run_study(RunOptions(study_dir=folder, raw_dir=raw, out_root=tmp / "out",
                                adam=False))


def _column(frame: pd.DataFrame, name: str) -> list[object]:
    return [None if pd.isna(v) else v for v in frame[name]]


def test_open_last_record_blank_or_cutoff(run) -> None:
    dm = run.datasets["DM"].sort_values("USUBJID")
    assert _column(dm, "USUBJID") == ["CUT-S1", "CUT-S2", "CUT-S3"]
    assert _column(dm, "RFXSTDTC") == ["2024-01-10", "2024-01-15", None]
    # open_end: blank - S2 is still on treatment: no last dose yet (not 2024-02-01)
    assert _column(dm, "RFXENDTC") == ["2024-03-01", None, None]
    # open_end: cutoff - S2's reference end is the data cut-off
    assert _column(dm, "RFENDTC") == ["2024-03-01", "2024-06-30", None]
    # the data_cutoff algorithm
    assert _column(dm, "RFPENDTC") == ["2024-06-30", "2024-06-30", None]
    # open_end: skip (default) keeps the closed records' latest end
    assert _column(dm, "RFICDTC") == ["2024-03-01", "2024-02-01", None]


def test_ts_dcutdtc_is_the_date_dm_uses(run) -> None:
    ts = run.datasets["TS"].set_index("TSPARMCD")
    assert ts.loc["DCUTDTC", "TSVAL"] == "2024-06-30"
    assert pd.isna(ts.loc["DCUTDTC", "TSVALNF"])
    assert ts.loc["DCUTDESC", "TSVAL"] == "Interim analysis"
    dm = run.datasets["DM"].set_index("USUBJID")
    assert dm.loc["CUT-S2", "RFENDTC"] == ts.loc["DCUTDTC", "TSVAL"]


def test_open_treatment_epoch_ends_at_the_cutoff(run) -> None:
    ex = run.datasets["EX"].sort_values(["USUBJID", "EXSTDTC"])
    # S1: both records in TREATMENT (02-11 <= last dose 03-01); S2: on treatment (RFXENDTC
    # null) up to the cut-off 06-30; its 07-05 record lies after the cut-off: no epoch
    assert _column(ex, "EPOCH") == ["TREATMENT", "TREATMENT", "TREATMENT", "TREATMENT", None]


def test_cutoff_spec_errors(tmp_path: Path) -> None:
    base = {"studyid": "X", "title": "X", "standards": {}, "forms": {}, "domains": []}
    with pytest.raises(ValueError, match="needs study.yaml data_cutoff"):
        StudySpec.model_validate({**base, "trial_summary": [
            {"parmcd": "DCUTDTC", "derive": "DCUTDTC"}]})
    with pytest.raises(ValueError, match="must be derive: DCUTDTC"):
        StudySpec.model_validate({**base, "data_cutoff": {"date": "2024-06-30"},
                                  "trial_summary": [{"parmcd": "DCUTDTC", "null_flavor": "NA"}]})
    with pytest.raises(ValueError, match="differs from data_cutoff"):
        StudySpec.model_validate({**base, "data_cutoff": {"date": "2024-06-30"},
                                  "plausibility": {"data_cutoff": "2024-07-31"}})
    with pytest.raises(ValueError, match="applies to agg max or last"):
        FromDomainArgs.model_validate({"domain": "EX", "variable": "EXSTDTC", "agg": "min",
                                       "open_end": "cutoff"})
    # the cut-off used by a mapping but not declared: a spec error naming the variable
    folder, raw = _study(tmp_path, STUDY.replace(
        "data_cutoff: {date: 2024-06-30, description: Interim analysis}\n", "").replace(
        "  - {parmcd: DCUTDTC, derive: DCUTDTC}\n  - {parmcd: DCUTDESC, derive: DCUTDESC}\n",
        ""))
    with pytest.raises(SpecError, match="DM.RFENDTC uses the data cut-off"):
        run_study(RunOptions(study_dir=folder, raw_dir=raw, out_root=tmp_path / "out",
                             adam=False))


def test_open_end_start_is_the_latest_start_or_end(tmp_path: Path) -> None:
    """SDTMIG 3.4 DM RFXENDTC: the latest EXENDTC, or the latest EXSTDTC when EXENDTC is
    missing. S2's records: ends 02-01 (closed), starts 01-15, 02-02, 07-05 → 2024-07-05."""
    dm = DM.replace("variable: EXENDTC, agg: max, open_end: blank",
                    "variable: EXENDTC, agg: max, open_end: start")
    folder, raw = _study(tmp_path, dm=dm)
    result = run_study(RunOptions(study_dir=folder, raw_dir=raw, out_root=tmp_path / "out",
                                  adam=False))
    dm_out = result.datasets["DM"].sort_values("USUBJID")
    assert _column(dm_out, "RFXENDTC") == ["2024-03-01", "2024-07-05", None]
    with pytest.raises(ValueError, match="beside an --ENDTC variable"):
        FromDomainArgs.model_validate({"domain": "EX", "variable": "EXDOSE", "agg": "max",
                                       "open_end": "start"})
