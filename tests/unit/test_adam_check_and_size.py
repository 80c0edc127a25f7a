"""check_and_size_adam: the ADaM checks and XPT sizing of ``cdiscmap run``, each text column
hashed once (the checks take the plans' codes), with the findings, files and first error of
checking and then sizing."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from cdiscmap.emit.datasets import plan_datasets, write_planned
from cdiscmap.errors import XptLimitError
from cdiscmap.findings import Findings
from cdiscmap.pipeline.adam_step import check_adam, check_and_size_adam
from cdiscmap.standards import load_standards

CREATED = datetime(2024, 1, 2, 3, 4, 5)


def _s(values: list) -> pd.Series:
    return pd.Series(values, dtype="string")


def frames() -> dict[str, pd.DataFrame]:
    # both break rules the checks report: ADSL's SEX outside its codelist and AGE missing,
    # ADTTE's USUBJID missing on one record
    adsl = pd.DataFrame({
        "STUDYID": _s(["TINY"] * 3), "USUBJID": _s(["TINY-001", "TINY-002", "TINY-003"]),
        "SUBJID": _s(["001", "002", "003"]), "AGE": [64.0, np.nan, 58.0],
        "SEX": _s(["M", "X", "F"]), "TRT01P": _s(["Drug A"] * 3)})
    adtte = pd.DataFrame({
        "STUDYID": _s(["TINY"] * 4), "USUBJID": _s([None, "TINY-002", "TINY-001", "TINY-002"]),
        "PARAMCD": _s(["OS", "OS", "PFS", "PFS"]),
        "PARAM": _s(["Overall Survival"] * 2 + ["Progression-Free Survival"] * 2),
        "AVAL": [120.0, 45.0, 60.0, 45.0], "CNSR": [1.0, 0.0, 0.0, 0.0]})
    return {"ADSL": adsl, "ADTTE": adtte}


@pytest.fixture(scope="module")
def standards():
    return load_standards()


def _described(findings: Findings) -> list[dict[str, object]]:
    return [f.as_dict() for f in findings.items]


def test_same_findings_and_files_as_checking_then_sizing(tmp_path, standards):
    serial, shared = Findings(), Findings()
    check_adam(frames(), standards, serial)
    serial_files = write_planned(plan_datasets(frames(), tmp_path / "a", standards, CREATED))
    planned = check_and_size_adam(frames(), standards, shared, tmp_path / "b", CREATED)
    files = write_planned(planned)
    assert _described(shared) == _described(serial)
    assert {(f.dataset, f.variable) for f in shared.items} >= {("ADSL", "SEX"), ("ADSL", "AGE"),
                                                               ("ADTTE", "USUBJID")}
    assert [p.name for p in files] == [p.name for p in serial_files] == ["adsl.xpt", "adtte.xpt"]
    assert [p.read_bytes() for p in files] == [p.read_bytes() for p in serial_files]


def long_value() -> dict[str, pd.DataFrame]:
    data = frames()
    data["ADSL"]["TRT01P"] = _s(["Drug A", "D" * 201, "Drug A"])    # over XPT v5's 200 bytes
    return data


def test_a_sizing_error_comes_after_every_check(tmp_path, standards):
    data = long_value()
    expected = Findings()
    check_adam(long_value(), standards, expected)
    found = Findings()
    with pytest.raises(XptLimitError, match=r"ADSL\.TRT01P: value 'D{57}\.\.\.' at row index "
                                            r"1 is 201 bytes"):
        check_and_size_adam(data, standards, found, tmp_path, CREATED)
    # every dataset was checked before the error was raised: the findings of checking the
    # same frames alone (CMAP-SD0008 for the long value, ADTTE's findings too)
    assert _described(found) == _described(expected)
    assert {f.dataset for f in found.items} == {"ADSL", "ADTTE"}
