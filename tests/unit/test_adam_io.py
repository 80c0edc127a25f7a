"""Reading SDTM folders (XPT written by pyreadstat, CSV, parquet) and loading ADaM settings."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cdiscmap.adam import derive_all, load_adam_settings, read_sdtm
from cdiscmap.adam.io import (
    dataset_columns,
    index_positions,
    lookup,
    lookup_columns,
    require,
    select_records,
    source_dates,
    upper_isin,
)
from cdiscmap.adam.settings import AdamSettings, DateSource
from cdiscmap.errors import InputDataError, SpecError
from cdiscmap.findings import Findings

ROOT = Path(__file__).resolve().parents[2]


def write_xpt(folder: Path, name: str, frame: pd.DataFrame) -> None:
    pyreadstat.write_xport(frame, str(folder / f"{name.lower()}.xpt"), file_format_version=5,
                           table_name=name)


def plain_sdtm() -> dict[str, pd.DataFrame]:
    """A tiny SDTM as a CRO would deliver it (object columns, blanks as '')."""
    dm = pd.DataFrame({
        "STUDYID": ["S1", "S1"], "DOMAIN": ["DM", "DM"], "USUBJID": ["S1-001", "S1-002"],
        "SUBJID": ["001", "002"], "SITEID": ["10", "10"], "AGE": [64.0, 70.0],
        "AGEU": ["YEARS", "YEARS"], "SEX": ["F", "M"], "ARMCD": ["A", "A"],
        "ARM": ["Drug A", "Drug A"], "ACTARMCD": ["A", "A"], "ACTARM": ["Drug A", "Drug A"],
        "DTHDTC": ["", "2020-09-10"], "DTHFL": ["", "Y"], "COUNTRY": ["FRA", "FRA"],
    })
    ds = pd.DataFrame({
        "STUDYID": ["S1"] * 2, "USUBJID": ["S1-001", "S1-002"], "DSSEQ": [1.0, 1.0],
        "DSTERM": ["RANDOMIZED"] * 2, "DSDECOD": ["RANDOMIZED"] * 2,
        "DSCAT": ["PROTOCOL MILESTONE"] * 2, "DSSTDTC": ["2020-01-01", "2020-01-01"],
    })
    ex = pd.DataFrame({
        "STUDYID": ["S1"] * 2, "USUBJID": ["S1-001", "S1-002"], "EXSEQ": [1.0, 1.0],
        "EXTRT": ["DRUG A"] * 2, "EXDOSE": [100.0, 100.0],
        "EXSTDTC": ["2020-01-03", "2020-01-02"], "EXENDTC": ["2020-06-30", "2020-05-01"],
    })
    rs = pd.DataFrame({
        "STUDYID": ["S1"] * 4, "USUBJID": ["S1-001", "S1-001", "S1-002", "S1-002"],
        "RSSEQ": [1.0, 2.0, 1.0, 2.0], "RSTESTCD": ["OVRLRESP"] * 4,
        "RSCAT": ["RECIST 1.1"] * 4, "RSSTRESC": ["PR", "PR", "SD", "PD"],
        "RSEVAL": ["INVESTIGATOR"] * 4,
        "RSDTC": ["2020-02-26", "2020-04-22", "2020-02-26", "2020-04-22"],
    })
    tu = pd.DataFrame({
        "STUDYID": ["S1"] * 2, "USUBJID": ["S1-001", "S1-002"], "TUSEQ": [1.0, 1.0],
        "TUSTRESC": ["TARGET", "NON-TARGET"], "TUEVAL": ["INVESTIGATOR"] * 2,
        "VISIT": ["SCREENING"] * 2, "TUDTC": ["2019-12-20", "2019-12-20"],
    })
    return {"DM": dm, "DS": ds, "EX": ex, "RS": rs, "TU": tu}


def test_read_sdtm_on_plain_xpt_files_and_derive_all_end_to_end(tmp_path):
    for name, frame in plain_sdtm().items():
        write_xpt(tmp_path, name, frame)
    (tmp_path / "define.xml").write_text("<ODM/>")
    sdtm = read_sdtm(tmp_path)
    assert list(sdtm) == ["DM", "DS", "EX", "RS", "TU"]
    dm = sdtm["DM"]
    assert dm["USUBJID"].dtype == "string" and dm["AGE"].dtype == "float64"
    # blanks written by the XPT writer come back as missing
    assert dm["DTHDTC"].isna().tolist() == [True, False]
    result = derive_all(sdtm, AdamSettings())
    adsl = result.datasets["ADSL"].set_index("USUBJID")
    assert adsl.loc["S1-001", "TRTSDT"] == pd.Timestamp("2020-01-03")
    assert adsl.loc["S1-002", "DTHDT"] == pd.Timestamp("2020-09-10")
    adrs = result.datasets["ADRS"]
    bor = adrs[adrs["PARAMCD"] == "BOR"].set_index("USUBJID")["AVALC"].to_dict()
    # 001: PR d56 and PR d112 → PR; 002: SD at day 56 (>= 42) then PD → SD
    assert bor == {"S1-001": "PR", "S1-002": "SD"}
    cbor = adrs[adrs["PARAMCD"] == "CBOR"].set_index("USUBJID")["AVALC"].to_dict()
    assert cbor == {"S1-001": "PR", "S1-002": "SD"}
    tte = result.datasets["ADTTE"].set_index(["USUBJID", "PARAMCD"])
    # 002: PD on 2020-04-22, 112 days after 2020-01-01 → AVAL 113 (ADT - STARTDT + 1)
    assert tte.loc[("S1-002", "PFS"), "AVAL"] == 113
    assert tte.loc[("S1-002", "PFS"), "CNSR"] == 0


def test_read_sdtm_csv_types_only_standard_numeric_names(tmp_path):
    (tmp_path / "dm.csv").write_text(
        "STUDYID,USUBJID,SUBJID,AGE,VISITNUM,SITEID\nS1,S1-0042,0042,64,1,101\n"
        "S1,S1-0043,0043,,2, \n", encoding="utf-8")
    dm = read_sdtm(tmp_path)["DM"]
    assert dm["SUBJID"].tolist() == ["0042", "0043"]       # identifiers keep their text
    assert dm["SUBJID"].dtype == "string"
    assert dm["AGE"].dtype == "float64" and pd.isna(dm["AGE"].iloc[1])
    assert dm["VISITNUM"].tolist() == [1.0, 2.0]
    assert dm["SITEID"].tolist()[0] == "101" and pd.isna(dm["SITEID"].iloc[1])


def test_read_sdtm_csv_numeric_name_with_text_stays_text(tmp_path):
    (tmp_path / "rs.csv").write_text("USUBJID,RSSEQ\nA,1\nB,x\n", encoding="utf-8")
    rs = read_sdtm(tmp_path)["RS"]
    assert rs["RSSEQ"].dtype == "string"


def test_read_sdtm_parquet_without_pyarrow_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "dm.parquet").write_bytes(b"PAR1")
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow":
            raise ImportError("no pyarrow")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(InputDataError, match="pyarrow"):
        read_sdtm(tmp_path)


def test_read_sdtm_refuses_two_files_for_one_dataset_and_empty_folders(tmp_path):
    with pytest.raises(InputDataError, match="not found"):
        read_sdtm(tmp_path / "nope")
    with pytest.raises(InputDataError, match="no .xpt"):
        read_sdtm(tmp_path)
    (tmp_path / "dm.csv").write_text("USUBJID\nA\n")
    write_xpt(tmp_path, "DM", pd.DataFrame({"USUBJID": ["A"]}))
    with pytest.raises(InputDataError, match="DM is given twice"):
        read_sdtm(tmp_path)


def test_read_sdtm_unreadable_file_names_it(tmp_path):
    (tmp_path / "ae.xpt").write_bytes(b"not an xpt file at all")
    with pytest.raises(InputDataError, match="ae.xpt"):
        read_sdtm(tmp_path)


def test_dataset_columns_reads_only_the_asked_variables_of_an_unread_file(tmp_path):
    lb = pd.DataFrame({"STUDYID": ["S1"] * 3, "USUBJID": ["S1-001", " S1-002 ", "S1-001"],
                       "LBSEQ": [1.0, 1.0, 2.0], "LBTESTCD": ["ALT", "AST", "ALT"],
                       "LBDTC": ["2020-01-05", "", "2020-02"]})
    write_xpt(tmp_path, "LB", lb)
    write_xpt(tmp_path, "DM", plain_sdtm()["DM"])
    whole = read_sdtm(tmp_path)["LB"]
    folder = read_sdtm(tmp_path, lazy=True)
    cut = dataset_columns(folder, "LB", ["USUBJID", "LBDTC", "LBSEQ", "LBNOPE", "LBDTC"])
    # the values and dtypes of the whole read: trimmed text, blanks missing, numbers float
    assert list(cut.columns) == ["USUBJID", "LBDTC", "LBSEQ"]
    pd.testing.assert_frame_equal(cut, whole[["USUBJID", "LBDTC", "LBSEQ"]])
    assert cut["USUBJID"].tolist() == ["S1-001", "S1-002", "S1-001"]
    assert cut["LBDTC"].isna().tolist() == [False, True, False]
    # the cut is not kept as the dataset: a later use reads it whole
    assert list(folder["LB"].columns) == list(whole.columns)
    # a plain mapping (the run's SDTM in memory) is cut the same way
    assert list(dataset_columns({"LB": whole}, "LB", ["LBSEQ", "USUBJID"]).columns) == \
        ["LBSEQ", "USUBJID"]


def test_dataset_columns_of_a_broken_file_stops_as_the_whole_read(tmp_path):
    (tmp_path / "lb.xpt").write_bytes(b"not an xpt file at all")
    folder = read_sdtm(tmp_path, lazy=True)
    with pytest.raises(InputDataError, match="lb.xpt"):
        dataset_columns(folder, "LB", ["USUBJID", "LBDTC"])


def test_require_names_dataset_and_variable():
    sdtm = {"DM": pd.DataFrame({"USUBJID": ["A"]})}
    with pytest.raises(InputDataError, match="SDTM dataset RS is missing"):
        require(sdtm, "RS", ["USUBJID"])
    with pytest.raises(InputDataError, match="DM lacks required variables STUDYID, AGE"):
        require(sdtm, "DM", ["USUBJID", "STUDYID", "AGE"])


def test_derive_all_without_rs_is_an_input_error():
    sdtm = plain_sdtm()
    del sdtm["RS"]
    with pytest.raises(InputDataError, match="RS is missing"):
        derive_all(sdtm, AdamSettings())
    sdtm = plain_sdtm()
    sdtm["RS"] = sdtm["RS"].drop(columns="RSDTC")
    with pytest.raises(InputDataError, match="RS lacks required variable RSDTC"):
        derive_all(sdtm, AdamSettings())


def test_select_records_and_source_dates():
    frame = pd.DataFrame({"USUBJID": ["A", "A", "B"], "DSDECOD": [" death", "RANDOMIZED", None],
                          "DSSEQ": [2.0, 1.0, 1.0],
                          "DSSTDTC": ["2020-02-30", "2020-01", "2020-03-04"]}).astype(
        {"USUBJID": "string", "DSDECOD": "string", "DSSTDTC": "string"})
    picked, skipped = select_records(frame, {"DSDECOD": "DEATH", "DSCAT": "X"})
    assert picked.index.tolist() == [0] and skipped == ["DSCAT"]
    kept, _ = select_records(frame, {}, {"DSDECOD": ["DEATH"]})
    assert kept.index.tolist() == [1, 2]
    findings = Findings()
    recs = source_dates({"DS": frame}, DateSource(dataset="DS", date="DSSTDTC"), findings,
                        highest="D", how="first")
    # 2020-02-30 is impossible → finding, record dropped; 2020-01 → 2020-01-01 (flag D)
    assert recs["DT"].tolist() == [pd.Timestamp("2020-01-01"), pd.Timestamp("2020-03-04")]
    assert recs["DTF"].tolist()[0] == "D" and recs["SEQ"].tolist() == [1.0, 1.0]
    assert [(f.rule, f.value) for f in findings] == [("CMAP-AD0001", "2020-02-30")]
    none = source_dates({}, DateSource(dataset="CM", date="CMSTDTC"), findings)
    assert none.empty and findings.items[-1].rule == "CMAP-AD0005"


def test_lookup_and_upper_isin():
    keys = pd.Series(["b", "a", "z", None], dtype="string")
    table = pd.Series(pd.to_datetime(["2020-01-01", "2020-01-02"]), index=["a", "b"])
    got = lookup(keys, table)
    assert got.tolist()[:2] == [pd.Timestamp("2020-01-02"), pd.Timestamp("2020-01-01")]
    assert got.isna().tolist() == [False, False, True, True]
    empty = lookup(keys, pd.Series([], dtype="datetime64[ns]"))
    assert empty.dtype == "datetime64[ns]" and empty.isna().all()
    assert upper_isin(pd.Series([" pd ", "Pd", None, "SD"]), ["PD"]).tolist() == \
        [True, True, False, False]


def test_lookup_columns_matches_lookup_column_by_column():
    """Several ADSL variables matched once give what one lookup per variable gives: first
    value of a repeated key, missing for unknown/missing keys, ints widened to float."""
    keys = pd.Series(["S-2", "S-1", "S-9", None, "S-2"], dtype="string", index=[5, 3, 8, 1, 0])
    table = pd.DataFrame({
        "SITEID": pd.array(["10", "20", "30"], dtype="string"),
        "AGE": [64, 70, 81],
        "TRTSDT": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01"]),
    }, index=pd.Index(["S-1", "S-2", "S-1"], name="USUBJID"))
    got = lookup_columns(keys, table, ["SITEID", "AGE", "TRTSDT"])
    assert got["SITEID"].fillna("-").tolist() == ["20", "10", "-", "-", "20"]
    assert got["AGE"].tolist()[:2] == [70.0, 64.0] and got["AGE"].isna().tolist() == \
        [False, False, True, True, False]
    assert got["TRTSDT"].tolist()[:2] == [pd.Timestamp("2020-02-01"), pd.Timestamp("2020-01-01")]
    for name, values in got.items():
        assert values.index.tolist() == [5, 3, 8, 1, 0]
        pd.testing.assert_series_equal(values, lookup(keys, table[name]))



def _runs_of_subjects(runs: int, length: int) -> pd.Series:
    """USUBJID keys as the XPT reader gives a sorted dataset: ``runs`` runs of ``length`` rows,
    each run one shared str object (S-0000 ... and a run of nulls), on a shuffled index."""
    ids = [f"S-{n:04d}" for n in range(runs - 1)] + [None]
    objects = np.array(ids, dtype=object).repeat(length)
    index = np.random.default_rng(1).permutation(len(objects)) + 100
    return pd.Series(pd.array(objects, dtype="string"), index=index)


def test_lookups_by_runs_of_one_object_are_the_row_by_row_lookups():
    """Keys in runs of one shared object are looked up once per run (lookup, lookup_columns,
    index_positions): the same values, dtypes and index as a lookup of every row, for known,
    unknown and null keys (hand-made table: S-0000..S-0049 known, odd ones only)."""
    keys = _runs_of_subjects(runs=60, length=40)        # 2,400 rows, 60 runs
    known = [f"S-{n:04d}" for n in range(1, 50, 2)]
    table = pd.DataFrame({"AGE": np.arange(len(known), dtype=np.int64) + 20,
                          "SITEID": pd.array([f"{n}" for n in range(len(known))],
                                             dtype="string"),
                          "TRTSDT": pd.date_range("2020-01-01", periods=len(known))},
                         index=pd.Index(known, name="USUBJID"))
    from cdiscmap.adam.io import _object_runs

    starts, _ = _object_runs(pd.Index(np.asarray(keys.array), dtype=object))
    assert len(starts) == 60                            # looked up per run
    plain = pd.Index(keys.to_numpy(dtype=object))
    for name in table.columns:
        got = lookup(keys, table[name])
        want = table[name].reindex(plain)
        assert got.index.equals(keys.index) and got.dtype == want.dtype
        np.testing.assert_array_equal(got.isna().to_numpy(), want.isna().to_numpy())
        assert got.dropna().tolist() == want.dropna().tolist()
    got = lookup(keys, table["AGE"])
    assert got.dtype == "float64"                       # unknown keys: int widened, as reindex
    assert got[keys.eq("S-0003").fillna(False)].unique().tolist() == [21.0]
    assert got[keys.isna()].isna().all() and got[keys.eq("S-0002").fillna(False)].isna().all()
    subset = keys[keys.isin(known).fillna(False)]       # every key known: int64 stays int64
    assert lookup(subset, table["AGE"]).dtype == "int64"
    columns = lookup_columns(keys, table, list(table.columns))
    for name in table.columns:
        pd.testing.assert_series_equal(columns[name], lookup(keys, table[name]))
    assert index_positions(table.index, keys).tolist() == table.index.get_indexer(plain).tolist()


def test_index_positions_of_keys_that_are_not_in_runs():
    """Distinct objects on (nearly) every row, or equal texts held by different objects: the
    plain lookup of every row, the same positions."""
    from cdiscmap.adam.io import _object_runs

    index = pd.Index(["aa", "bb", "cc"], dtype=object)
    rng = np.random.default_rng(2)
    scattered = pd.Series(pd.array(rng.choice(["aa", "bb", "cc", "xx"], size=3000)
                                   .astype(object), dtype="string"))
    copies = pd.Series(pd.array(np.array([f"bb{n}"[:2] for n in range(3000)], dtype=object),
                                dtype="string"))
    assert len({id(v) for v in copies.array}) == 3000    # one text, 3000 objects
    for keys in (scattered, copies):
        assert _object_runs(pd.Index(np.asarray(keys.array), dtype=object)) is None
        plain = pd.Index(keys.to_numpy(dtype=object))
        assert index_positions(index, keys).tolist() == index.get_indexer(plain).tolist()
    assert set(index_positions(index, copies).tolist()) == {1}


# --- settings files --------------------------------------------------------------------------

def test_study_settings_of_both_seed_studies_load():
    basket = load_adam_settings(ROOT / "mappings" / "crizotinib-basket")
    assert basket.adsl.cohort_variables == ["COHORT", "PATHOL", "GENALT"]
    assert [lm.paramcd for lm in basket.adrs.analyses[0].landmarks] == \
        ["RSP8W", "DCR8W", "DCR16W"]
    assert basket.adrs.analyses[0].reference_date == "ENRLDT"
    gist = load_adam_settings(ROOT / "mappings" / "gist-imatinib")
    assert [a.id for a in gist.adrs.analyses] == ["main", "rechallenge"]
    assert gist.adsl.ex_dates[0].variable == "RCHSDT"
    assert [p.paramcd for p in gist.adtte.parameters] == ["PFS", "OS", "PFSR", "DORR"]


def test_settings_defaults_without_adam_folder(tmp_path):
    settings = load_adam_settings(tmp_path)
    assert settings == AdamSettings()
    assert settings.adrs.aval_map["MISSING"] == 7
    with pytest.raises(SpecError, match="study folder not found"):
        load_adam_settings(tmp_path / "nope")


def test_settings_unknown_key_names_file_and_line(tmp_path):
    (tmp_path / "adam").mkdir()
    (tmp_path / "adam" / "adrs.yaml").write_text("evaluator: INVESTIGATOR\nsd_min_dayz: 42\n")
    with pytest.raises(SpecError) as err:
        load_adam_settings(tmp_path)
    assert "adrs.yaml:2" in str(err.value) and "sd_min_dayz" in str(err.value)


def test_settings_unknown_file_and_bad_cross_reference(tmp_path):
    (tmp_path / "adam").mkdir()
    (tmp_path / "adam" / "adxx.yaml").write_text("{}\n")
    with pytest.raises(SpecError, match="unknown ADaM settings file"):
        load_adam_settings(tmp_path)
    (tmp_path / "adam" / "adxx.yaml").unlink()
    (tmp_path / "adam" / "adtte.yaml").write_text(
        "parameters:\n  - paramcd: OS\n    param: Overall Survival\n    start: RANDDT\n"
        "    events: [DEATH]\n  - paramcd: PFS\n    param: PFS\n    start: REGDT\n"
        "    events: [PD]\n")
    with pytest.raises(SpecError) as err:
        load_adam_settings(tmp_path)
    assert "adtte.yaml:8" in str(err.value) and "unknown ADSL date REGDT" in str(err.value)


def test_settings_validation_messages(tmp_path):
    (tmp_path / "adam").mkdir()
    (tmp_path / "adam" / "adrs.yaml").write_text(
        "analyses:\n  - id: main\n    landmarks:\n      - paramcd: DCR8W\n"
        "        param: x\n        weeks: 8\n        days: 56\n")
    with pytest.raises(SpecError, match="exactly one of weeks or days"):
        load_adam_settings(tmp_path)
    (tmp_path / "adam" / "adrs.yaml").write_text(
        "analyses:\n  - id: main\n    paramcd_suffix: RCHX\n")
    with pytest.raises(SpecError, match="1-3 letters"):
        load_adam_settings(tmp_path)
