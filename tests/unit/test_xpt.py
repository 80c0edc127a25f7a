"""Tests of the SAS XPT v5 writer: pyreadstat reads our files back (the independent reader),
raw bytes are checked against the SAS TS-140 layout by hand, and every limit is exercised."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdiscmap.emit.xpt import (
    XptColumn,
    XptResult,
    check_xpt_limits,
    ibm370_from_float64,
    write_xpt,
    xpt_lengths,
)
from cdiscmap.errors import OutputError, XptLimitError

# Byte layout of a file, from SAS TS-140: 8 header records of 80 bytes, then namestrs of 140
# bytes padded to a record, the OBS header record, then the observations.
HEADER_BYTES = 8 * 80
STAMP_OFFSETS = (144, 160, 464, 480)   # first real header, modified, member, member label records


def data_start(n_variables: int) -> int:
    namestr_bytes = n_variables * 140
    return HEADER_BYTES + namestr_bytes + (-namestr_bytes % 80) + 80


def text(*values: str | None) -> pd.Series:
    return pd.Series(pd.array(list(values), dtype="string"))


def write(tmp_path: Path, frame: pd.DataFrame, columns: list[XptColumn], name: str = "TT",
          label: str = "Test data", **kwargs) -> XptResult:
    return write_xpt(tmp_path / f"{name.lower()}.xpt", frame, dataset_name=name,
                     dataset_label=label, columns=columns, **kwargs)


def read(path: Path) -> tuple[pd.DataFrame, object]:
    return pyreadstat.read_xport(str(path), disable_datetime_conversion=True)


def formats(meta: object) -> dict[str, str]:
    """The display formats a reader found, as ``NAMEw.d`` without a trailing dot.

    Readers differ only cosmetically (older pyreadstat gives ``DATE9``, 1.3.8 ``DATE9.``; an
    unformatted variable is None, "", "$" or "NULL"); the header holds name, width and decimals
    (SAS TS-140 namestr nform/nfl/nfd), which is what we compare.
    """
    found = meta.original_variable_types or {}   # type: ignore[attr-defined]
    shown = {name: (fmt or "").upper().rstrip(".") for name, fmt in found.items()}
    return {name: fmt for name, fmt in shown.items() if fmt not in ("", "$", "NULL")}


def limit_message(frame: pd.DataFrame, columns: list[XptColumn], name: str = "TR",
                  label: str = "Tumor Results") -> str:
    with pytest.raises(XptLimitError) as caught:
        check_xpt_limits(frame, name, label, columns)
    return str(caught.value)


# --------------------------------------------------------------------------------------------
# Round trips through pyreadstat
# --------------------------------------------------------------------------------------------

def test_round_trip_char_num_and_missing(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "USUBJID": text("S-001", None, "S-0003"),
        "AVAL": [1.5, np.nan, -118.625],
        "N": pd.array([3, None, -7], dtype="Int64"),
        "FL": [True, False, True],
        "_SRCROW": [1, 2, 3],                      # not listed: not written
    })
    columns = [XptColumn("USUBJID", "Unique Subject Identifier", "char"),
               XptColumn("AVAL", "Analysis Value", "num"),
               XptColumn("N", "Count", "num"),
               XptColumn("FL", "Flag", "num")]
    result = write(tmp_path, frame, columns)
    data, meta = read(result.path)

    assert list(data.columns) == ["USUBJID", "AVAL", "N", "FL"]
    assert data["USUBJID"].tolist() == ["S-001", "", "S-0003"]
    assert data["AVAL"].iloc[0] == 1.5 and math.isnan(data["AVAL"].iloc[1])
    assert data["AVAL"].iloc[2] == -118.625
    assert data["N"].iloc[0] == 3.0 and math.isnan(data["N"].iloc[1]) and data["N"].iloc[2] == -7.0
    assert data["FL"].tolist() == [1.0, 0.0, 1.0]
    assert meta.variable_storage_width == {"USUBJID": 6, "AVAL": 8, "N": 8, "FL": 8}
    assert result.n_rows == 3
    assert result.lengths == {"USUBJID": 6, "AVAL": 8, "N": 8, "FL": 8}
    assert result.n_bytes == result.path.stat().st_size
    # 4 namestrs = 560 bytes -> 560 (7 records); 3 rows x 30 bytes = 90 -> 160
    assert result.n_bytes == 640 + 560 + 80 + 160


def test_one_char_and_two_hundred_byte_values(tmp_path: Path) -> None:
    long_value = "ABCDEFGHIJ" * 20                   # 200 bytes, the XPT v5 maximum
    frame = pd.DataFrame({"A": text("Y", "N"), "B": text(long_value, "x"),
                          "C": text(None, None), "D": text("", "Q")})
    columns = [XptColumn("A", "One", "char"), XptColumn("B", "Long", "char"),
               XptColumn("C", "Empty", "char"), XptColumn("D", "Blank or Q", "char")]
    result = write(tmp_path, frame, columns)
    data, meta = read(result.path)
    assert result.lengths == {"A": 1, "B": 200, "C": 1, "D": 1}
    assert meta.variable_storage_width == {"A": 1, "B": 200, "C": 1, "D": 1}
    assert data["A"].tolist() == ["Y", "N"]
    assert data["B"].tolist() == [long_value, "x"]
    assert data["D"].tolist() == ["", "Q"]


def test_integers_are_exact_up_to_two_to_the_53(tmp_path: Path) -> None:
    integers = [0, 1, -1, 255, 2**31, -(2**31) - 1, 2**52 + 1, 2**53 - 1, 2**53, -(2**53)]
    frame = pd.DataFrame({"I": np.array(integers, dtype=np.int64)})
    result = write(tmp_path, frame, [XptColumn("I", "Integer", "num")])
    data, _ = read(result.path)
    assert [int(v) for v in data["I"]] == integers


def test_fractions_and_negatives(tmp_path: Path) -> None:
    values = [0.1, -0.1, 1 / 3, -2.5e-10, 123456.789, -9.87654321e70, 6.02214076e23, 5e-78]
    frame = pd.DataFrame({"X": values})
    result = write(tmp_path, frame, [XptColumn("X", "Value", "num")])
    data, _ = read(result.path)
    assert data["X"].tolist() == values            # float64 -> IBM is exact: nothing rounds


def test_dates_become_sas_day_numbers_with_date9(tmp_path: Path) -> None:
    frame = pd.DataFrame({"ADT": pd.to_datetime(["2020-01-01", "1960-01-01", None,
                                                 "1959-12-31"])})
    result = write(tmp_path, frame, [XptColumn("ADT", "Analysis Date", "num")])
    data, meta = read(result.path)
    # 1960..2019 is 60 years with 15 leap years: 60 * 365 + 15 = 21915 days
    assert data["ADT"].iloc[[0, 1, 3]].tolist() == [21915.0, 0.0, -1.0]
    assert math.isnan(data["ADT"].iloc[2])
    assert formats(meta) == {"ADT": "DATE9"}
    converted, _ = pyreadstat.read_xport(str(result.path))
    assert str(converted["ADT"].iloc[0]) == "2020-01-01"


def test_times_of_day_become_sas_datetime_seconds(tmp_path: Path) -> None:
    frame = pd.DataFrame({"ADTM": pd.to_datetime(["1960-01-02 00:00:01", "1959-12-31 23:00:00"])})
    result = write(tmp_path, frame, [XptColumn("ADTM", "Analysis Datetime", "num")])
    data, meta = read(result.path)
    assert data["ADTM"].tolist() == [86401.0, -3600.0]
    assert formats(meta) == {"ADTM": "DATETIME20"}


def test_datetime_format_forces_seconds_even_at_midnight(tmp_path: Path) -> None:
    frame = pd.DataFrame({"ADTM": pd.to_datetime(["1960-01-02"])})
    result = write(tmp_path, frame, [XptColumn("ADTM", "Datetime", "num", format="E8601DT19.")])
    data, meta = read(result.path)
    assert data["ADTM"].tolist() == [86400.0]
    assert formats(meta) == {"ADTM": "E8601DT19"}


def test_labels_formats_dataset_label_and_name_read_back(tmp_path: Path) -> None:
    frame = pd.DataFrame({"AVAL": [1.25], "AVALC": text("1.25"),
                          "ADT": pd.to_datetime(["2021-06-30"])})
    columns = [XptColumn("AVAL", "Analysis Value", "num", format="8.2"),
               XptColumn("AVALC", "Analysis Value (C)", "char", length=20, format="$CHAR20."),
               XptColumn("ADT", "Analysis Date", "num", format="yymmdd10.")]
    result = write(tmp_path, frame, columns, name="ADRS", label="Response Analysis Dataset")
    data, meta = read(result.path)
    assert meta.column_labels == ["Analysis Value", "Analysis Value (C)", "Analysis Date"]
    assert formats(meta) == {"AVAL": "8.2", "AVALC": "$CHAR20", "ADT": "YYMMDD10"}
    assert meta.file_label == "Response Analysis Dataset"
    assert meta.table_name == "ADRS"
    assert meta.variable_storage_width == {"AVAL": 8, "AVALC": 20, "ADT": 8}
    assert data["AVALC"].tolist() == ["1.25"]


def test_empty_frame_writes_header_only(tmp_path: Path) -> None:
    frame = pd.DataFrame({"USUBJID": text(), "AVAL": pd.Series([], dtype=float)})
    columns = [XptColumn("USUBJID", "Subject", "char"), XptColumn("AVAL", "Value", "num")]
    result = write(tmp_path, frame, columns)
    data, meta = read(result.path)
    assert len(data) == 0 and list(data.columns) == ["USUBJID", "AVAL"]
    assert result.lengths == {"USUBJID": 1, "AVAL": 8}
    assert result.n_rows == 0
    assert result.n_bytes == data_start(2)        # nothing after the OBS header


def test_columns_are_written_in_declared_order_and_unlisted_ones_ignored(tmp_path: Path) -> None:
    frame = pd.DataFrame({"B": [2.0], "A": text("a"), "EXTRA": ["x"], "_SRCFILE": ["f.csv"]})
    result = write(tmp_path, frame, [XptColumn("A", "A", "char"), XptColumn("B", "B", "num")])
    data, _ = read(result.path)
    assert list(data.columns) == ["A", "B"]


def test_category_and_object_text_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame({"C": pd.Categorical(["PR", "CR", None, "PR"]),
                          "O": pd.Series(["x", None, "yy", "x"], dtype=object)})
    result = write(tmp_path, frame, [XptColumn("C", "Cat", "char"), XptColumn("O", "Obj", "char")])
    data, _ = read(result.path)
    assert data["C"].tolist() == ["PR", "CR", "", "PR"]
    assert data["O"].tolist() == ["x", "", "yy", "x"]
    assert result.lengths == {"C": 2, "O": 2}


# --------------------------------------------------------------------------------------------
# Raw bytes against SAS TS-140
# --------------------------------------------------------------------------------------------

def test_observation_bytes_padding_and_missing_codes(tmp_path: Path) -> None:
    frame = pd.DataFrame({"C": text("A", None), "X": [1.0, np.nan]})
    columns = [XptColumn("C", "Char", "char", length=3), XptColumn("X", "Num", "num")]
    result = write(tmp_path, frame, columns)
    raw = result.path.read_bytes()
    start = data_start(2)                          # 640 + 280 -> 320 + 80 = 1040
    assert start == 1040
    row_1 = b"A  " + bytes.fromhex("4110000000000000")          # 1.0 = 1/16 * 16**1
    row_2 = b"   " + bytes.fromhex("2E00000000000000")          # blank text, SAS "."
    assert raw[start:start + 22] == row_1 + row_2
    assert raw[start + 22:] == b" " * 58                        # last record blank-padded
    assert len(raw) == 1120


def test_every_nan_is_written_as_dot_whatever_its_sign_or_payload(tmp_path: Path) -> None:
    # the writer turns NaN into "." through its exponent tables (no separate missing pass):
    # negative NaN and NaN with a payload are missing too, beside numbers in the same column
    nans = np.array([0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,
                     0xFFFFFFFFFFFFFFFF], dtype=np.uint64).view(np.float64)
    frame = pd.DataFrame({"X": np.r_[nans, 1.0, -118.625]})
    result = write(tmp_path, frame, [XptColumn("X", "Num", "num")])
    raw = result.path.read_bytes()
    start = data_start(1)
    words = [raw[start + 8 * i:start + 8 * (i + 1)].hex().upper() for i in range(6)]
    assert words == ["2E00000000000000"] * 4 + ["4110000000000000", "C276A00000000000"]


def test_namestr_fields(tmp_path: Path) -> None:
    frame = pd.DataFrame({"STUDYID": text("A8081013"), "ADT": pd.to_datetime(["2020-01-01"])})
    columns = [XptColumn("STUDYID", "Study Identifier", "char"),
               XptColumn("ADT", "Analysis Date", "num", format="DATE9.")]
    raw = write(tmp_path, frame, columns, name="ADSL").path.read_bytes()
    assert raw[560:640] == (b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!"
                            b"000000000200000000000000000000  ")
    first, second = raw[640:780], raw[780:920]
    # ntype, nhfun, nlng, nvar0, nname, nlabel, nform, nfl, nfd, nfj, nfill, niform, nifl, nifd,
    # npos, rest
    layout = ">hhhh8s40s8shhh2s8shhi52s"
    assert struct.unpack(layout, first)[:9] == (
        2, 0, 8, 1, b"STUDYID ", b"Study Identifier".ljust(40), b" " * 8, 0, 0)
    assert struct.unpack(layout, first)[14] == 0                  # npos
    assert struct.unpack(layout, second)[:9] == (
        1, 0, 8, 2, b"ADT     ", b"Analysis Date".ljust(40), b"DATE    ", 9, 0)
    assert struct.unpack(layout, second)[14] == 8
    assert raw[920:960] == b" " * 40                             # 280 bytes padded to 320
    assert raw[960:1040].startswith(b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!")
    assert raw[400:424] == b"SAS     ADSL    SASDATA "
    assert raw[0:80] == (b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"
                         b"000000000000000000000000000000  ")
    assert raw[240:320] == (b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!"
                            b"000000000000000001600000000140  ")


def test_ibm370_words_of_known_values() -> None:
    values = np.array([1.0, -118.625, 0.1, 100.0, 0.5, 0.0, -0.0, 16.0**-65, 1e-80])
    expected = [
        0x4110000000000000,   # 1     = 0x0.1   * 16**1
        0xC276A00000000000,   # -118.625 = -0x0.76A * 16**2
        0x401999999999999A,   # float64 0.1 = 0x1.999999999999Ap-4 = 0x0.1999999999999A * 16**0
        0x4264000000000000,   # 100   = 0x0.64  * 16**2
        0x4080000000000000,   # 0.5   = 0x0.8   * 16**0
        0, 0,                 # zeros: eight zero bytes
        0x0010000000000000,   # smallest normalised IBM double: 0x0.1 * 16**-64
        0,                    # below it: written as 0
    ]
    assert ibm370_from_float64(values).tolist() == expected


def decode_ibm(word: int) -> Fraction:
    """Reference decoder written from the IBM System/370 definition, in exact arithmetic."""
    sign = -1 if word >> 63 else 1
    exponent = (word >> 56) & 0x7F
    fraction = word & ((1 << 56) - 1)
    return sign * Fraction(fraction, 1 << 56) * Fraction(16) ** (exponent - 64)


IBM_RANGE_FLOATS = st.floats(min_value=-7.2e75, max_value=7.2e75, allow_nan=False).filter(
    lambda x: x == 0 or abs(x) >= 16.0**-65)


@given(st.lists(IBM_RANGE_FLOATS, min_size=1, max_size=50))
@settings(max_examples=300)
def test_ibm370_conversion_is_exact(values: list[float]) -> None:
    words = ibm370_from_float64(np.array(values))
    for value, word in zip(values, words.tolist(), strict=True):
        assert decode_ibm(word) == Fraction(value)
        if value != 0:
            assert (word >> 52) & 0xF != 0          # normalised: first hex digit non-zero


def ibm_reference(value: float) -> int:
    """Reference encoder, independent of the vectorised one: exact arithmetic with Fractions.

    Normalise |value| = f * 16**e with 1/16 <= f < 1 by repeated division or multiplication
    (IBM System/370 long format: sign, excess-64 exponent, 56-bit fraction); f * 2**56 must be
    a whole number, i.e. nothing is rounded. Below 16**-65 (and zero) the word is 0.
    """
    if value == 0:
        return 0
    f = abs(Fraction(value))
    e = 0
    while f >= 1:
        f /= 16
        e += 1
    while f < Fraction(1, 16):
        f *= 16
        e -= 1
    if e + 64 < 0:
        return 0
    assert 0 <= e + 64 <= 127, value
    fraction = f * 2**56
    assert fraction.denominator == 1, value    # exact: no rounding needed
    return (1 << 63 if value < 0 else 0) | (e + 64) << 56 | int(fraction)


ALL_IBM_FLOATS = st.floats(min_value=-float(np.nextafter(16.0**63, 0)),
                           max_value=float(np.nextafter(16.0**63, 0)),
                           allow_nan=False, allow_subnormal=True)
EDGES = [16.0**-65, float(np.nextafter(16.0**-65, 0)), float(np.nextafter(16.0**-65, 1)),
         float(np.nextafter(16.0**63, 0)), 5e-324, 2.2250738585072014e-308, 1.0, 15.0, 16.0,
         float(np.nextafter(16.0, 0)), 2.0**53 + 2, 1 / 3]


@given(st.lists(st.one_of(ALL_IBM_FLOATS, st.sampled_from(EDGES + [-x for x in EDGES])),
                min_size=1, max_size=64))
@settings(max_examples=500, deadline=None)
def test_ibm370_conversion_matches_an_exact_reference(values: list[float]) -> None:
    words = ibm370_from_float64(np.array(values, dtype=np.float64))
    assert words.dtype == np.uint64
    assert words.tolist() == [ibm_reference(value) for value in values]


@given(floats=st.lists(IBM_RANGE_FLOATS, min_size=1, max_size=40),
       integers=st.lists(st.integers(-(2**53), 2**53), min_size=1, max_size=40))
@settings(max_examples=40,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_pyreadstat_reads_back_every_float_and_integer(tmp_path: Path, floats: list[float],
                                                       integers: list[int]) -> None:
    n = max(len(floats), len(integers))
    frame = pd.DataFrame({"F": pd.array(floats + [None] * (n - len(floats)), dtype="Float64"),
                          "I": pd.array(integers + [None] * (n - len(integers)), dtype="Int64"),
                          "K": text(*["k"] * n)})
    result = write(tmp_path, frame, [XptColumn("F", "F", "num"), XptColumn("I", "I", "num"),
                                     XptColumn("K", "K", "char")])
    data, _ = read(result.path)
    assert data["F"].iloc[:len(floats)].tolist() == floats
    assert data["F"].iloc[len(floats):].isna().all()
    assert [int(v) for v in data["I"].iloc[:len(integers)]] == integers


# --------------------------------------------------------------------------------------------
# Special missing values
# --------------------------------------------------------------------------------------------

def test_special_missing_values(tmp_path: Path) -> None:
    frame = pd.DataFrame({"AVAL": [2.0, np.nan, np.nan, np.nan]})
    special = {"AVAL": pd.Series(["", "A", "_", ""])}
    result = write(tmp_path, frame, [XptColumn("AVAL", "Value", "num")], special_missing=special)
    raw = result.path.read_bytes()
    start = data_start(1)                          # 640 + 160 + 80 = 880
    assert start == 880
    assert raw[start:start + 32] == (bytes.fromhex("4120000000000000")      # 2 = 0x0.2 * 16
                                     + b"A" + bytes(7) + b"_" + bytes(7) + b"." + bytes(7))
    data, _ = read(result.path)                    # pyreadstat reads tagged missing as NaN
    assert data["AVAL"].iloc[0] == 2.0 and data["AVAL"].iloc[1:].isna().all()


def test_a_plan_keeps_its_special_missing_values(tmp_path: Path) -> None:
    frame = pd.DataFrame({"X": [1.0, np.nan, np.nan]})
    special = {"X": pd.Series(["", "A", ""])}
    columns = [XptColumn("X", "X", "num")]
    plan = check_xpt_limits(frame, "TT", "Test data", columns, special_missing=special)
    result = write(tmp_path, frame, columns, plan=plan)
    raw = result.path.read_bytes()
    start = data_start(1)
    assert raw[start:start + 24] == bytes.fromhex("4110000000000000" "4100000000000000"
                                                  "2E00000000000000")


def test_special_missing_must_be_valid_and_on_missing_values(tmp_path: Path) -> None:
    frame = pd.DataFrame({"AVAL": [2.0, np.nan], "C": text("a", "b"),
                          "_SRCFILE": ["rs.csv", "rs.csv"], "_SRCROW": [4, 5]})
    columns = [XptColumn("AVAL", "Value", "num"), XptColumn("C", "Text", "char")]
    with pytest.raises(XptLimitError) as caught:
        write(tmp_path, frame, columns, name="RS",
              special_missing={"AVAL": pd.Series(["B", "AB"]), "C": pd.Series(["", ""])})
    message = str(caught.value)
    assert "RS.AVAL: special missing code 'AB' at rs.csv row 5" in message
    assert "RS.C: special missing values apply to numeric variables only" in message
    with pytest.raises(XptLimitError, match=r"RS\.AVAL: special missing \.B at rs\.csv row 4 "
                                            r"but the value is 2\.0"):
        write(tmp_path, frame, columns, name="RS",
              special_missing={"AVAL": pd.Series(["B", ""])})
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# Determinism and header timestamps
# --------------------------------------------------------------------------------------------

def stamps(raw: bytes) -> set[bytes]:
    return {raw[offset:offset + 16] for offset in STAMP_OFFSETS}


def test_two_writes_are_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    frame = pd.DataFrame({"A": text("x", None, "zz"), "B": [1.0, np.nan, 3.5],
                          "D": pd.to_datetime(["2020-02-29", None, "2021-01-01"])})
    columns = [XptColumn("A", "A", "char"), XptColumn("B", "B", "num"),
               XptColumn("D", "D", "num")]
    first = write_xpt(tmp_path / "one.xpt", frame, dataset_name="TT", dataset_label="T",
                      columns=columns).path.read_bytes()
    second = write_xpt(tmp_path / "two.xpt", frame, dataset_name="TT", dataset_label="T",
                       columns=columns).path.read_bytes()
    assert first == second
    assert stamps(first) == {b"01JAN00:00:00:00"}


def test_header_date_honours_created_and_source_date_epoch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame({"A": text("x")})
    columns = [XptColumn("A", "A", "char")]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")       # 2023-11-14T22:13:20Z
    from_env = write(tmp_path, frame, columns).path.read_bytes()
    assert stamps(from_env) == {b"14NOV23:22:13:20"}
    given_time = write(tmp_path, frame, columns, created=datetime(2024, 3, 15, 13, 45, 30))
    assert stamps(given_time.path.read_bytes()) == {b"15MAR24:13:45:30"}
    aware = datetime(2024, 3, 15, 15, 45, 30, tzinfo=timezone(timedelta(hours=2)))
    assert stamps(write(tmp_path, frame, columns, created=aware).path.read_bytes()) == {
        b"15MAR24:13:45:30"}
    assert stamps(write(tmp_path, frame, columns,
                        created=datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC))
                  .path.read_bytes()) == {b"31DEC99:23:59:59"}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "")                   # empty counts as unset
    assert stamps(write(tmp_path, frame, columns).path.read_bytes()) == {b"01JAN00:00:00:00"}
    for bad in ("yesterday", "1e9", "99999999999999999999"):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", bad)
        with pytest.raises(OutputError, match="SOURCE_DATE_EPOCH"):
            write(tmp_path, frame, columns)


# --------------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["TOOLONGNM", "tr", "1TR", "T-R", ""])
def test_dataset_name_limits(name: str) -> None:
    message = limit_message(pd.DataFrame({"A": text("x")}), [XptColumn("A", "A", "char")],
                            name=name)
    assert f"{name!r}: dataset name must be 1-8 upper-case letters" in message


def test_dataset_label_limits() -> None:
    frame = pd.DataFrame({"A": text("x")})
    message = limit_message(frame, [XptColumn("A", "A", "char")], label="L" * 41)
    assert "TR: dataset label 'LLL" in message and "is 41 bytes; XPT v5 allows 40" in message
    message = limit_message(frame, [XptColumn("A", "A", "char")], label="Résultats")
    assert "TR: dataset label 'Résultats' is not ASCII ('é' U+00E9 at position 2)" in message


@pytest.mark.parametrize("name", ["TRTESTCDX", "trseq", "_X", "TR SEQ"])
def test_variable_name_limits(name: str) -> None:
    message = limit_message(pd.DataFrame({name: text("x")}), [XptColumn(name, "A", "char")])
    assert f"TR.{name}: variable name {name!r} must be 1-8 upper-case letters" in message


def test_variable_label_limits() -> None:
    frame = pd.DataFrame({"A": text("x"), "B": text("y")})
    message = limit_message(frame, [XptColumn("A", "a" * 41, "char"),
                                    XptColumn("B", "Âge", "char")])
    assert "TR.A: label 'aaaa" in message and "is 41 bytes; XPT v5 allows 40" in message
    assert "TR.B: label 'Âge' is not ASCII ('Â' U+00C2 at position 1)" in message
    # 39 ASCII characters + "é" is 40 characters but 41 bytes: bytes count
    message = limit_message(frame, [XptColumn("A", "a" * 39 + "é", "char"),
                                    XptColumn("B", "B", "char")])
    assert "is 41 bytes" in message


def test_value_limits_name_dataset_variable_row_and_value() -> None:
    frame = pd.DataFrame({
        "TRORRES": text("12", "x" * 201, "13"),
        "TRTEST": text("Diameter", "Diamètre", "Longest Diameter"),
        "TRLNKID": text("T01", "T02", "NT001"),
        "_SRCFILE": ["tr.csv", "tr.csv", "tr.csv"],
        "_SRCROW": [5, 6, 7],
    })
    columns = [XptColumn("TRORRES", "Result", "char"), XptColumn("TRTEST", "Test", "char"),
               XptColumn("TRLNKID", "Link", "char", length=3)]
    message = limit_message(frame, columns)
    assert "TR not written as XPT v5: 3 limit violations" in message
    assert ("TR.TRORRES: value 'xxxxxxxx" in message
            and "at tr.csv row 6 is 201 bytes; XPT v5 character values hold at most 200"
            in message)
    assert ("TR.TRTEST: value 'Diamètre' at tr.csv row 6 is not ASCII "
            "('è' U+00E8 at position 5)") in message
    assert ("TR.TRLNKID: value 'NT001' at tr.csv row 7 is 5 bytes, longer than the declared "
            "length 3") in message


def test_rows_are_named_by_index_without_lineage() -> None:
    frame = pd.DataFrame({"A": text("ok", "ok", "é")}).set_axis([10, 20, 30])
    assert "TR.A: value 'é' at row index 30 is not ASCII" in limit_message(
        frame, [XptColumn("A", "A", "char")])


def test_lengths_are_bytes_and_non_ascii_is_rejected(tmp_path: Path) -> None:
    frame = pd.DataFrame({"A": text("é", "ab"), "B": text("Café", None)})
    columns = [XptColumn("A", "A", "char"), XptColumn("B", "B", "char")]
    assert xpt_lengths(frame, columns) == {"A": 2, "B": 5}      # "é" is 2 bytes in UTF-8
    with pytest.raises(XptLimitError, match=r"TT\.A: value 'é' at row index 0 is not ASCII"):
        write(tmp_path, frame, columns)
    assert list(tmp_path.iterdir()) == []


def test_type_mismatches() -> None:
    frame = pd.DataFrame({
        "TRSTRESN": text("12", "abc"),                       # text declared num
        "AVAL": pd.Series([1.0, "high"], dtype=object),      # num column holding text
        "TRSTRESC": [1.0, 2.0],                              # numbers declared char
        "OBJ": pd.Series(["a", 5], dtype=object),            # char column holding a number
    })
    columns = [XptColumn("TRSTRESN", "N", "num"), XptColumn("AVAL", "V", "num"),
               XptColumn("TRSTRESC", "C", "char"), XptColumn("OBJ", "O", "char")]
    message = limit_message(frame, columns)
    assert ("TR.TRSTRESN: declared num but the column holds text (string), e.g. '12' at row "
            "index 0") in message
    assert "TR.AVAL: declared num but holds text 'high' at row index 1" in message
    assert ("TR.TRSTRESC: declared char but the column holds float64 values (e.g. '1.0' at "
            "row index 0)") in message
    assert "TR.OBJ: declared char but holds non-text value '5' (int) at row index 1" in message


def test_all_missing_columns_of_any_dtype_are_accepted(tmp_path: Path) -> None:
    frame = pd.DataFrame({"C": [np.nan, np.nan], "N": text(None, None),
                          "O": pd.Series([None, None], dtype=object)})
    columns = [XptColumn("C", "C", "char"), XptColumn("N", "N", "num"),
               XptColumn("O", "O", "num")]
    result = write(tmp_path, frame, columns)
    data, _ = read(result.path)
    assert result.lengths == {"C": 1, "N": 8, "O": 8}
    assert data["N"].isna().all() and data["O"].isna().all() and data["C"].tolist() == ["", ""]


def test_numbers_outside_ibm_range_are_rejected() -> None:
    frame = pd.DataFrame({"X": [1.0, np.inf], "Y": [8e75, 0.0]})
    message = limit_message(frame, [XptColumn("X", "X", "num"), XptColumn("Y", "Y", "num")])
    assert "TR.X: value inf at row index 1 cannot be stored as an IBM 370 double" in message
    assert "TR.Y: value 8e+75 at row index 0 cannot be stored" in message


def test_metadata_limits() -> None:
    frame = pd.DataFrame({"A": text("x"), "B": [1.0], "C": text("y"), "D": [2.0]})
    columns = [XptColumn("A", "A", "char", length=201),
               XptColumn("B", "B", "num", length=4, format="$5."),
               XptColumn("C", "C", "char", format="8.2"),
               XptColumn("D", "D", "num", format="LONGFORMAT12."),
               XptColumn("E", "E", "num"),
               XptColumn("A", "A again", "char")]
    message = limit_message(frame, columns)
    assert "TR.A: declared length 201 is outside 1-200 bytes" in message
    assert "TR.B: declared length 4; numeric variables are written as 8-byte" in message
    assert "TR.B: numeric variable with character format '$5.'" in message
    assert "TR.C: character variable with numeric format '8.2'" in message
    assert "TR.D: format name 'LONGFORMAT' is longer than 8 characters" in message
    assert "TR.E: is not a column of the frame" in message
    assert "TR.A: variable listed twice" in message
    for bad in ("DATE", ".", "9DATE.", "DATE9.2.1"):
        message = limit_message(frame[["B"]], [XptColumn("B", "B", "num", format=bad)])
        assert f"TR.B: format {bad!r} is not a SAS format" in message


def test_time_of_day_under_a_date_format_is_rejected() -> None:
    frame = pd.DataFrame({"ADT": pd.to_datetime(["2020-01-01 00:00:00", "2020-01-02 08:30:00"])})
    message = limit_message(frame, [XptColumn("ADT", "Date", "num", format="DATE9.")])
    assert "TR.ADT: value 2020-01-02T08:30:00" in message and "has a time of day" in message


def test_every_violation_is_listed_not_just_the_first(tmp_path: Path) -> None:
    frame = pd.DataFrame({"lower": text("x"), "B": text("é"), "C": [np.inf]})
    columns = [XptColumn("lower", "x" * 45, "char"), XptColumn("B", "B", "char"),
               XptColumn("C", "C", "num")]
    with pytest.raises(XptLimitError) as caught:
        write(tmp_path, frame, columns, name="BADNAME99", label="Ünïcode")
    lines = str(caught.value).splitlines()
    assert lines[0] == ("BADNAME99 not written as XPT v5: 6 limit violations; fix the data or "
                        "the metadata:")
    assert len(lines) == 7
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_existing_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "tt.xpt"
    target.write_bytes(b"previous")
    with pytest.raises(XptLimitError):
        write_xpt(target, pd.DataFrame({"A": text("é")}), dataset_name="TT",
                  dataset_label="T", columns=[XptColumn("A", "A", "char")])
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tt.xpt"]


def test_io_failure_removes_the_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "tt.xpt"
    target.mkdir()                                 # os.replace cannot put a file over it
    with pytest.raises(OutputError, match="could not write"):
        write_xpt(target, pd.DataFrame({"A": text("x")}), dataset_name="TT",
                  dataset_label="T", columns=[XptColumn("A", "A", "char")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tt.xpt"]
    assert target.is_dir() and list(target.iterdir()) == []


def test_error_while_writing_observations_leaves_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cdiscmap.emit.xpt as xpt_module

    def fail(*args: object) -> None:
        raise MemoryError("simulated")

    monkeypatch.setattr(xpt_module, "_ibm_words", fail)         # after the header is written
    with pytest.raises(MemoryError):
        write(tmp_path, pd.DataFrame({"A": text("x"), "B": [1.0]}),
              [XptColumn("A", "A", "char"), XptColumn("B", "B", "num")])
    assert list(tmp_path.iterdir()) == []


def test_check_passes_silently_on_clean_data_and_returns_the_plan(tmp_path: Path) -> None:
    frame = pd.DataFrame({"A": text("xy", None), "B": [1.0, np.nan]})
    columns = [XptColumn("A", "A", "char"), XptColumn("B", "B", "num")]
    plan = check_xpt_limits(frame, "TT", "Clean", columns)
    assert plan.lengths == {"A": 2, "B": 8}
    assert plan.n_rows == 2
    planned = write_xpt(tmp_path / "planned.xpt", frame, dataset_name="TT", dataset_label="Clean",
                        columns=columns, plan=plan)
    unplanned = write_xpt(tmp_path / "unplanned.xpt", frame, dataset_name="TT",
                          dataset_label="Clean", columns=columns)
    assert planned.path.read_bytes() == unplanned.path.read_bytes()
    assert planned.lengths == {"A": 2, "B": 8}


@pytest.mark.parametrize("change", ["frame", "name", "label", "columns", "special"])
def test_a_plan_made_for_other_arguments_is_refused(tmp_path: Path, change: str) -> None:
    frame = pd.DataFrame({"A": text("x"), "B": [1.0]})
    columns = [XptColumn("A", "A", "char"), XptColumn("B", "B", "num")]
    plan = check_xpt_limits(frame, "TT", "Clean", columns)
    kwargs = {"dataset_name": "TT", "dataset_label": "Clean", "columns": columns}
    if change == "frame":
        frame = frame.copy()                       # equal values, but not the planned frame
    elif change == "name":
        kwargs["dataset_name"] = "UU"
    elif change == "label":
        kwargs["dataset_label"] = "Other"
    elif change == "columns":
        kwargs["columns"] = columns[:1]
    else:
        kwargs["special_missing"] = {"B": pd.Series([""])}
    with pytest.raises(ValueError, match="XptPlan given for .* was made for other data"):
        write_xpt(tmp_path / "tt.xpt", frame, plan=plan, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_many_distinct_values_over_several_blocks(tmp_path: Path) -> None:
    # 50,000 rows of 200 + 8 bytes: about 10 observation blocks of 1 MiB, so both alternating
    # buffers and a short last block are used; 40,000 distinct values need 32-bit codes, a second
    # column with 300 needs 16-bit ones.
    n = 50_000
    wide = [f"V{i % 40_000:05d}" for i in range(n)]
    medium = [f"M{i % 300:03d}" if i % 7 else None for i in range(n)]
    frame = pd.DataFrame({"W": text(*wide), "M": text(*medium),
                          "X": np.arange(n, dtype=float) / 4})
    columns = [XptColumn("W", "Wide", "char", length=200), XptColumn("M", "Medium", "char"),
               XptColumn("X", "Number", "num")]
    result = write(tmp_path, frame, columns)
    data, _ = read(result.path)
    assert data["W"].tolist() == wide
    assert data["M"].tolist() == [m or "" for m in medium]
    assert data["X"].tolist() == [i / 4 for i in range(n)]
    assert result.n_bytes == result.path.stat().st_size


def test_each_block_is_handed_to_early_writeback_and_bytes_do_not_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 50,000 observations of 200 + 1 + 8 = 209 bytes; a 4 MiB block (set here) holds
    # 4194304 // 209 = 20,068 of them (4,194,212 bytes), so blocks of 20,068, 20,068 and 9,864
    # rows. The data start after 640 header bytes, 3 namestrs (420 bytes, padded to 480) and
    # the OBS record.
    import cdiscmap.emit.xpt as xpt_module

    monkeypatch.setattr(xpt_module, "_BLOCK_BYTES", 4 << 20)

    n = 50_000
    frame = pd.DataFrame({"W": text(*[f"V{i % 997:05d}" for i in range(n)]),
                          "M": text(*["A" if i % 3 else None for i in range(n)]),
                          "X": np.arange(n, dtype=float)})
    columns = [XptColumn("W", "Wide", "char", length=200), XptColumn("M", "Flag", "char"),
               XptColumn("X", "Number", "num")]
    calls: list[tuple[int, int, int]] = []

    def spy(fd: int, offset: int, length: int, flags: int) -> int:
        calls.append((offset, length, flags))
        return 0

    monkeypatch.setattr(xpt_module, "_SYNC_FILE_RANGE", spy)
    (tmp_path / "a").mkdir()
    early = write(tmp_path / "a", frame, columns)
    assert calls == [(1200, 4_194_212, 2), (4_195_412, 4_194_212, 2), (8_389_624, 2_061_576, 2)]
    monkeypatch.setattr(xpt_module, "_SYNC_FILE_RANGE", None)   # no such call: fsync only
    (tmp_path / "b").mkdir()
    plain = write(tmp_path / "b", frame, columns)
    assert early.path.read_bytes() == plain.path.read_bytes()
    assert early.n_bytes == 10_451_200      # 1200 + 50,000 * 209: 130,640 records, no padding


def test_xpt_lengths_declared_longest_and_missing_column() -> None:
    frame = pd.DataFrame({"A": text("abc", None), "B": [1.0, 2.0], "C": text(None, None)})
    columns = [XptColumn("A", "A", "char"), XptColumn("B", "B", "num"),
               XptColumn("C", "C", "char", length=12)]
    assert xpt_lengths(frame, columns) == {"A": 3, "B": 8, "C": 12}
    with pytest.raises(XptLimitError, match="Z: is not a column of the frame"):
        xpt_lengths(frame, [XptColumn("Z", "Z", "char")])


def test_xpt_lengths_raises_for_a_column_it_cannot_size() -> None:
    frame = pd.DataFrame({"A": [1.0, 2.0]})
    with pytest.raises(XptLimitError, match="A: declared char but the column holds float64"):
        xpt_lengths(frame, [XptColumn("A", "A", "char")])


def test_lineage_rows_fall_back_to_the_index_when_missing() -> None:
    frame = pd.DataFrame({"A": text("é", "ok", "è"), "_SRCFILE": ["ae.csv"] * 3,
                          "_SRCROW": [np.nan, 2.0, 3.0]})
    assert "TR.A: value 'é' at row index 0 is not ASCII" in limit_message(
        frame, [XptColumn("A", "A", "char")])
    assert "TR.A: value 'è' at ae.csv row 3 is not ASCII" in limit_message(
        frame.iloc[1:], [XptColumn("A", "A", "char")])


def test_time_zone_aware_dates_are_written_as_wall_clock(tmp_path: Path) -> None:
    frame = pd.DataFrame({"ADT": pd.to_datetime(["2020-01-01"]).tz_localize("Europe/Paris")})
    data, _ = read(write(tmp_path, frame, [XptColumn("ADT", "Date", "num")]).path)
    assert data["ADT"].tolist() == [21915.0]


PRINTABLE_ASCII = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                          max_size=30)


@given(st.lists(st.one_of(st.none(), PRINTABLE_ASCII), min_size=1, max_size=30))
@settings(max_examples=40,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_text_round_trips_and_length_is_the_longest_value(tmp_path: Path,
                                                         values: list[str | None]) -> None:
    # K keeps every observation non-blank (trailing blank observations are padding to readers)
    frame = pd.DataFrame({"T": text(*values), "K": [1.0] * len(values)})
    columns = [XptColumn("T", "Text", "char"), XptColumn("K", "K", "num")]
    expected_length = max([1] + [len(v) for v in values if v is not None])
    assert xpt_lengths(frame, columns) == {"T": expected_length, "K": 8}
    data, meta = read(write(tmp_path, frame, columns).path)
    assert meta.variable_storage_width["T"] == expected_length
    # XPT pads with blanks, so trailing blanks are not part of a value; missing reads as ""
    assert data["T"].tolist() == [(v or "").rstrip(" ") for v in values]


@given(lengths=st.lists(st.integers(0, 260), min_size=1, max_size=12),
       declared=st.one_of(st.none(), st.integers(1, 200)))
@settings(max_examples=100)
def test_length_limits_report_the_first_offending_row(lengths: list[int],
                                                      declared: int | None) -> None:
    frame = pd.DataFrame({"V": text(*["x" * n for n in lengths]),
                          "_SRCFILE": ["raw.csv"] * len(lengths),
                          "_SRCROW": list(range(2, len(lengths) + 2))})
    limit = min(200, declared) if declared is not None else 200
    columns = [XptColumn("V", "Value", "char", length=declared)]
    if max(lengths) <= limit:
        check_xpt_limits(frame, "TR", "T", columns)
        return
    message = limit_message(frame, columns)
    if max(lengths) > 200:
        first = next(i for i, n in enumerate(lengths) if n > 200)
        assert f"at raw.csv row {first + 2} is {lengths[first]} bytes; XPT v5" in message
    if declared is not None and max(lengths) > declared:
        first = next(i for i, n in enumerate(lengths) if n > declared)
        assert (f"at raw.csv row {first + 2} is {lengths[first]} bytes, longer than the "
                f"declared length {declared}") in message
