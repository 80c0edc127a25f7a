"""Dataset-JSON v1.1 writer and reader: structure, exact numbers, dates, determinism, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdiscmap.emit.datasetjson import read_dataset_json, write_dataset_json
from cdiscmap.emit.xpt import XptColumn
from cdiscmap.errors import InputDataError, OutputError

CREATED = datetime(2024, 5, 6, 7, 8, 9)
COLUMNS = [
    XptColumn("STUDYID", "Study Identifier", "char"),
    XptColumn("USUBJID", "Unique Subject Identifier", "char"),
    XptColumn("AVAL", "Analysis Value", "num"),
    XptColumn("ASEQ", "Analysis Sequence Number", "num"),
    XptColumn("ADT", "Analysis Date", "num", format="DATE9."),
    XptColumn("AVALC", "Analysis Value (C)", "char"),
]


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": pd.array(["ST1"] * 5, dtype="string"),
        "USUBJID": pd.array(["ST1-001", "ST1-002", None, "ST1-004", "ST1-005"], dtype="string"),
        "AVAL": np.array([0.1, 1e-10, 123456789012.0, -0.0, np.nan]),
        "ASEQ": np.array([1.0, 2.0, np.nan, 123456789012.0, 0.0]),
        "ADT": pd.to_datetime(pd.Series(["2014-01-02", None, "2015-12-31", "1960-01-01",
                                         "2000-02-29"])).astype("datetime64[ns]"),
        "AVALC": pd.array(["PR", "", "Fièvre", None, "CR"], dtype="string"),
        "_SRCFILE": pd.array(["x.csv"] * 5, dtype="string"),      # internal: never written
    })


def write(path: Path, data: pd.DataFrame | None = None, **options: object) -> Path:
    kwargs: dict[str, object] = {"dataset_name": "ADRS", "dataset_label": "Response Analysis",
                                 "columns": COLUMNS, "keys": ["STUDYID", "USUBJID", "ASEQ"],
                                 "study_oid": "ST1", "created": CREATED}
    kwargs.update(options)
    return write_dataset_json(path, frame() if data is None else data, **kwargs)  # type: ignore


def test_structure_follows_the_v1_1_specification(tmp_path):
    document = json.loads(write(tmp_path / "adrs.json").read_text(encoding="utf-8"))
    assert list(document) == [
        "datasetJSONCreationDateTime", "datasetJSONVersion", "fileOID",
        "dbLastModifiedDateTime", "originator", "sourceSystem", "studyOID",
        "metaDataVersionOID", "itemGroupOID", "records", "name", "label", "columns", "rows"]
    assert document["datasetJSONCreationDateTime"] == "2024-05-06T07:08:09"
    assert document["datasetJSONVersion"] == "1.1.0"
    assert document["dbLastModifiedDateTime"] == "2024-05-06T07:08:09"
    assert document["itemGroupOID"] == "IG.ADRS"
    assert document["studyOID"] == "ST1"
    assert set(document["sourceSystem"]) == {"name", "version"}
    assert document["records"] == 5 and len(document["rows"]) == 5
    assert document["name"] == "ADRS" and document["label"] == "Response Analysis"
    columns = document["columns"]
    assert [c["name"] for c in columns] == ["STUDYID", "USUBJID", "AVAL", "ASEQ", "ADT", "AVALC"]
    for column in columns:
        assert {"itemOID", "name", "label", "dataType"} <= set(column)
        assert column["itemOID"] == f"IT.ADRS.{column['name']}"
        assert list(column) == [k for k in ("itemOID", "name", "label", "dataType",
                                            "targetDataType", "length", "displayFormat",
                                            "keySequence") if k in column]
    by_name = {c["name"]: c for c in columns}
    # lengths in bytes, as XPT: "ST1-001" is 7; "Fièvre" is 7 bytes (è takes two in UTF-8)
    assert by_name["STUDYID"] == {"itemOID": "IT.ADRS.STUDYID", "name": "STUDYID",
                                  "label": "Study Identifier", "dataType": "string",
                                  "length": 3, "keySequence": 1}
    assert by_name["USUBJID"]["length"] == 7 and by_name["USUBJID"]["keySequence"] == 2
    assert by_name["AVALC"]["length"] == 7
    assert by_name["AVAL"]["dataType"] == "double"          # 0.1 is not whole
    assert by_name["ASEQ"]["dataType"] == "integer" and by_name["ASEQ"]["keySequence"] == 3
    assert by_name["ADT"] == {"itemOID": "IT.ADRS.ADT", "name": "ADT", "label": "Analysis Date",
                              "dataType": "date", "targetDataType": "integer",
                              "displayFormat": "DATE9."}
    assert document["rows"][0] == ["ST1", "ST1-001", 0.1, 1, "2014-01-02", "PR"]
    assert document["rows"][2] == ["ST1", None, 123456789012.0, None, "2015-12-31", "Fièvre"]
    assert isinstance(document["rows"][3][3], int)           # integers as JSON integers


def test_numbers_are_written_exactly(tmp_path):
    text = write(tmp_path / "adrs.json").read_text(encoding="utf-8")
    # shortest round-trip text: no float noise; negative zero keeps its sign
    assert '["ST1", "ST1-001", 0.1, 1, "2014-01-02", "PR"]' in text
    assert '["ST1", "ST1-002", 1e-10, 2, null, ""]' in text
    assert '["ST1", "ST1-004", -0.0, 123456789012, "1960-01-01", null]' in text


def test_round_trip(tmp_path):
    original = frame()
    loaded = read_dataset_json(write(tmp_path / "adrs.json", original))
    expected = original.drop(columns="_SRCFILE")
    pd.testing.assert_frame_equal(loaded.frame, expected)
    # bit for bit, including the sign of -0.0
    assert loaded.frame["AVAL"].to_numpy().tobytes() == expected["AVAL"].to_numpy().tobytes()
    assert loaded.name == "ADRS" and loaded.label == "Response Analysis"
    assert loaded.keys == ["STUDYID", "USUBJID", "ASEQ"]
    assert loaded.data_types == {"STUDYID": "string", "USUBJID": "string", "AVAL": "double",
                                 "ASEQ": "integer", "ADT": "date", "AVALC": "string"}
    assert loaded.columns[1] == XptColumn("USUBJID", "Unique Subject Identifier", "char", 7)
    assert loaded.columns[4] == XptColumn("ADT", "Analysis Date", "num", None, "DATE9.")
    assert loaded.created == "2024-05-06T07:08:09"


def test_datetimes_and_aware_creation_time(tmp_path):
    data = pd.DataFrame({"USUBJID": pd.array(["A", "B"], dtype="string"),
                         "ADTM": pd.to_datetime(pd.Series(["2020-01-02 03:04:05", None])
                                                ).astype("datetime64[ns]")})
    columns = [XptColumn("USUBJID", "Unique Subject Identifier", "char"),
               XptColumn("ADTM", "Analysis Datetime", "num")]
    path = write_dataset_json(tmp_path / "x.json", data, dataset_name="ADX", dataset_label="X",
                              columns=columns, keys=[], study_oid="ST1",
                              created=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["datasetJSONCreationDateTime"] == "2024-01-02T03:04:05+00:00"
    assert document["columns"][1]["dataType"] == "datetime"
    assert document["columns"][1]["displayFormat"] == "DATETIME20."
    assert document["rows"] == [["A", "2020-01-02T03:04:05"], ["B", None]]
    pd.testing.assert_frame_equal(read_dataset_json(path).frame, data)


def test_deterministic_and_atomic(tmp_path):
    first = write(tmp_path / "a.json").read_bytes()
    second = write(tmp_path / "b.json").read_bytes()
    assert first == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
    with pytest.raises(OutputError, match="could not write"):
        write(tmp_path / "missing" / "a.json")
    assert not (tmp_path / "missing").exists()


def test_writer_refuses_what_json_cannot_hold(tmp_path):
    data = frame()
    data["AVAL"] = [1.5, np.inf, 0.0, 0.0, 0.0]
    with pytest.raises(OutputError, match="ADRS.AVAL: holds an infinite value"):
        write(tmp_path / "x.json", data)
    with pytest.raises(OutputError, match=r"key variables \['PARAMCD'\]"):
        write(tmp_path / "x.json", keys=["PARAMCD"])
    assert not (tmp_path / "x.json").exists()


def test_empty_dataset(tmp_path):
    path = write(tmp_path / "e.json", frame().iloc[0:0])
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["records"] == 0 and document["rows"] == []
    assert len(read_dataset_json(path).frame) == 0


def _document(**changes: object) -> dict:
    document = {
        "datasetJSONCreationDateTime": "2023-06-28T15:38:43", "datasetJSONVersion": "1.1",
        "itemGroupOID": "IG.DM", "records": 2, "name": "DM", "label": "Demographics",
        "columns": [
            {"itemOID": "IT.DM.USUBJID", "name": "USUBJID", "label": "Unique Subject Identifier",
             "dataType": "string", "length": 8, "keySequence": 1},
            {"itemOID": "IT.DM.HEIGHT", "name": "HEIGHT", "label": "Height",
             "dataType": "decimal", "targetDataType": "decimal"},
            {"itemOID": "IT.DM.RFSTDTC", "name": "RFSTDTC", "label": "Start", "dataType": "date"},
            {"itemOID": "IT.DM.AGE", "name": "AGE", "label": "Age", "dataType": "integer"}],
        "rows": [["CDISC001", "1,234.5", "2012-12", 84], ["CDISC002", None, None, None]],
    }
    document.update(changes)
    return document


def test_reads_another_producers_file(tmp_path):
    path = tmp_path / "dm.json"
    path.write_text(json.dumps(_document()), encoding="utf-8")
    loaded = read_dataset_json(path)
    # decimals as text with "," thousands; an SDTM --DTC "date" stays text (may be partial)
    assert loaded.frame["HEIGHT"].tolist()[0] == 1234.5
    assert str(loaded.frame["RFSTDTC"].dtype) == "string"
    assert loaded.frame["RFSTDTC"].tolist()[0] == "2012-12"
    assert loaded.frame["AGE"].tolist()[0] == 84.0
    assert loaded.columns[2].type == "char" and loaded.columns[1].type == "num"


@pytest.mark.parametrize(("changes", "message"), [
    ({"datasetJSONVersion": "1.0.0"}, "is not 1.1.x"),
    ({"records": 3}, "'records' says 3 but 'rows' holds 2"),
    ({"name": 5}, "'name' must be a string"),
    ({"rows": [["CDISC001", "1.5", None], ["X", None, None, None]]},
     "row 1 has 3 values for 4 columns"),
    ({"rows": [["CDISC001", None, None, "eighty"], ["X", None, None, None]]},
     "column AGE .integer. holds values that are not numbers"),
    ({"rows": [[1, None, None, None], ["X", None, None, None]]},
     "column USUBJID .string. holds values that are not strings"),
])
def test_reader_reports_what_is_wrong(tmp_path, changes, message):
    path = tmp_path / "dm.json"
    path.write_text(json.dumps(_document(**changes)), encoding="utf-8")
    with pytest.raises(InputDataError, match=message):
        read_dataset_json(path)


def test_reader_rejects_missing_keys_and_non_json(tmp_path):
    document = _document()
    del document["columns"]
    path = tmp_path / "dm.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InputDataError, match="required attribute 'columns' is missing"):
        read_dataset_json(path)
    path.write_text('{"datasetJSONVersion": "1.1.0", "records": NaN}', encoding="utf-8")
    with pytest.raises(InputDataError, match="not valid JSON"):
        read_dataset_json(path)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=30),
       st.lists(st.text(st.characters(blacklist_categories=["Cs"]), max_size=12), min_size=1,
                max_size=30))
def test_any_finite_number_and_text_round_trips(tmp_path_factory, numbers, texts):
    n = max(len(numbers), len(texts))
    data = pd.DataFrame({
        "X": np.array([numbers[i % len(numbers)] for i in range(n)], dtype=np.float64),
        "T": pd.array([texts[i % len(texts)] for i in range(n)], dtype="string")})
    columns = [XptColumn("X", "x", "num"), XptColumn("T", "t", "char")]
    path = tmp_path_factory.mktemp("dj") / "p.json"
    write_dataset_json(path, data, dataset_name="P", dataset_label="p", columns=columns,
                       keys=[], study_oid="S", created=CREATED)
    back = read_dataset_json(path).frame
    assert back["X"].to_numpy().tobytes() == data["X"].to_numpy().tobytes()
    assert back["T"].tolist() == data["T"].tolist()
