"""The mapping engine on a small, hand-checked study (every expected value worked out by hand)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from cdiscmap.errors import InputDataError, SpecError
from cdiscmap.sdtm.engine import map_study
from cdiscmap.spec.loader import load_study

STUDY = """\
studyid: MINI
title: Mini study
standards: {sdtmig: "3.4"}
forms:
  enrol: {file: enrol.csv, keys: [SUBJECT]}
  ex: {file: ex.csv, keys: [SUBJECT, LINE]}
  ae: {file: ae.csv}
  visits: {file: visits.csv}
domains: [DM, EX, AE, TR]
epochs:
  - {epoch: SCREENING, start: RFXSTDTC, before_start: true}
  - {epoch: TREATMENT, start: RFXSTDTC, end: RFXENDTC}
  - {epoch: FOLLOW-UP, start: RFXENDTC}
visits:
  - {match: "baseline", visit: BASELINE, visitnum: 0}
  - {match: "week (\\\\d+)", visit: "WEEK {1}", visitnum: "{1}"}
  - {match: "unscheduled", visit: UNSCHEDULED, unscheduled: true}
codelists:
  SEX: {target: SEX, map: {male: M, female: F}}
  GRADE: {target: TOXGR, patterns: [["grade\\\\s*([1-5])", "\\\\1"]]}
"""

DM = """\
domain: DM
blocks:
  - name: subjects
    source: {form: enrol}
    variables:
      STUDYID: {constant: MINI}
      USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
      RFXSTDTC: {from_domain: {domain: EX, variable: EXSTDTC, agg: min}}
      RFXENDTC: {from_domain: {domain: EX, variable: EXENDTC, agg: max}}
      RFSTDTC: {copy: RFXSTDTC}
      SEX: {assign_ct: {column: SEX, codelist: SEX}}
      ARMNRS:
        when:
          - if: {var: RFXSTDTC, blank: true}
            then: {constant: "ASSIGNED, NOT TREATED"}
supp:
  COHORT: {label: Cohort, value: {take: COHORT}}
"""

EX = """\
domain: EX
blocks:
  - name: log
    source:
      form: ex
      filters:
        - drop_if: {column: DOSE, equals: "0"}
          reason: interruption
    variables:
      EXDOSE: {number: {column: DOSE}}
      EXSTDTC: {iso8601: {date: START, format: DMY}}
      EXENDTC: {iso8601: {date: END, format: DMY}}
variables:
  STUDYID: {constant: MINI}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  EXSEQ: {seq: {order: [EXSTDTC]}}
  EXSTDY: {study_day: {dtc: EXSTDTC}}
"""

AE = """\
domain: AE
blocks:
  - name: log
    source: {form: ae}
    variables:
      AETERM: {take: TERM}
      AETOXGR: {assign_ct: {column: GRADE, codelist: GRADE}}
      AESTDTC: {iso8601: {date: START, format: YMD}}
variables:
  STUDYID: {constant: MINI}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  AESEQ: {seq: {order: [AESTDTC, AETERM]}}
  AESTDY: {study_day: {dtc: AESTDTC}}
  EPOCH: {epoch: {dtc: AESTDTC}}
"""

TR = """\
domain: TR
blocks:
  - name: lesions
    source:
      form: visits
      transpose:
        keys: [1, 2]
        columns: {ID: "L{key}_ID", NODE: "L{key}_NODE", DIAM: "L{key}_DIAM"}
        keep_if: {column: ID, blank: false}
        reason: no lesion in row
      fill: {by: [SUBJECT, ID], columns: [NODE]}
    variables:
      TRLNKID: {take: ID}
      TRTESTCD:
        when:
          - if: {column: NODE, equals: "Y"}
            then: {constant: LPERP}
          - else: {constant: LDIAM}
      TRSTRESN: {number: {column: DIAM}}
      TRDTC: {iso8601: {date: DATE, format: DMY}}
variables:
  STUDYID: {constant: MINI}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  VISIT: {visit: {column: VISIT}}
  VISITNUM: {visitnum: {column: VISIT, date: TRDTC}}
"""

RAW = {
    "enrol.csv": """\
        SUBJECT,SEX,COHORT
        001,Male,3
        002,female,5
        003,Unknown-ish,5
        """,
    "ex.csv": """\
        SUBJECT,LINE,DOSE,START,END
        001,1,250,05-MAR-2014,20-MAR-2014
        001,2,0,21-MAR-2014,25-MAR-2014
        001,3,200,26-MAR-2014,30-APR-2014
        002,1,250,UN-APR-2014,10-MAY-2014
        """,
    "ae.csv": """\
        SUBJECT,TERM,GRADE,START
        001,Nausea,Grade 2,2014-03-07
        001,Rash,1,2014-03-01
        001,Fatigue,7,2014-05-02
        002,Nausée,3,2014-02-30
        """,
    "visits.csv": """\
        SUBJECT,VISIT,DATE,L1_ID,L1_NODE,L1_DIAM,L2_ID,L2_NODE,L2_DIAM
        001,Baseline,01-MAR-2014,T01,N,25,T02,Y,18
        001,Week 8,30-APR-2014,T01,,20,T02,,12
        001,Unscheduled,10-MAY-2014,T01,,19,,,
        001,Week 16,25-JUN-2014,T01,,,,,
        002,Baseline,01-APR-2014,,,,,,
        """,
}

TERMS = {"SEX": {"M", "F", "U"}, "TOXGR": {"1", "2", "3", "4", "5"}}


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture()
def mini(tmp_path: Path) -> tuple[Path, Path]:
    study = tmp_path / "mini"
    _write(study, {"study.yaml": STUDY, "sdtm/dm.yaml": DM, "sdtm/ex.yaml": EX,
                   "sdtm/ae.yaml": AE, "sdtm/tr.yaml": TR})
    raw = tmp_path / "raw"
    _write(raw, RAW)
    return study, raw


def _run(study: Path, raw: Path):
    return map_study(load_study(study), raw, TERMS,
                     {"AE": {"AETERM"}, "DM": set(), "EX": set(), "TR": set()})


def test_dm_reference_dates_come_from_ex(mini):
    res = _run(*mini)
    dm = res.domains["DM"].set_index("USUBJID")
    # 001: EX intervals 05-MAR..20-MAR and 26-MAR..30-APR (the dose-0 interruption is dropped)
    assert dm.loc["MINI-001", "RFXSTDTC"] == "2014-03-05"
    assert dm.loc["MINI-001", "RFXENDTC"] == "2014-04-30"
    assert dm.loc["MINI-001", "RFSTDTC"] == "2014-03-05"
    # 002 started on an unknown day of April: partial date kept
    assert dm.loc["MINI-002", "RFXSTDTC"] == "2014-04"
    # 003 never dosed
    assert pd.isna(dm.loc["MINI-003", "RFXSTDTC"])
    assert dm.loc["MINI-003", "ARMNRS"] == "ASSIGNED, NOT TREATED"
    assert pd.isna(dm.loc["MINI-001", "ARMNRS"])


def test_assign_ct_maps_and_reports_unmapped(mini):
    res = _run(*mini)
    dm = res.domains["DM"].set_index("USUBJID")
    assert dm.loc["MINI-001", "SEX"] == "M"
    assert dm.loc["MINI-002", "SEX"] == "F"
    # unmapped value kept as collected, and reported with its raw row
    assert dm.loc["MINI-003", "SEX"] == "Unknown-ish"
    found = [f for f in res.findings if f.rule == "CMAP-MAP0001" and f.variable == "SEX"]
    assert len(found) == 1
    assert found[0].value == "Unknown-ish"
    assert found[0].source.startswith("enrol.csv row 3")
    assert found[0].usubjid == "MINI-003"


def test_assign_ct_patterns_and_identity(mini):
    res = _run(*mini)
    ae = res.domains["AE"].set_index("AETERM")
    assert ae.loc["Nausea", "AETOXGR"] == "2"      # "Grade 2" through the pattern
    assert ae.loc["Rash", "AETOXGR"] == "1"        # already a term
    grade7 = [f for f in res.findings if f.rule == "CMAP-MAP0001" and f.variable == "AETOXGR"]
    assert [f.value for f in grade7] == ["7"]


def test_study_day_seq_and_epoch(mini):
    res = _run(*mini)
    ae = res.domains["AE"]
    one = ae[ae["USUBJID"] == "MINI-001"].set_index("AETERM")
    # RFSTDTC 2014-03-05: 03-07 is day 3, 03-01 is day -4 (no day 0), 05-02 is day 59
    assert one.loc["Nausea", "AESTDY"] == 3
    assert one.loc["Rash", "AESTDY"] == -4
    assert one.loc["Fatigue", "AESTDY"] == 59
    # AESEQ in start-date order
    assert one.loc["Rash", "AESEQ"] == 1
    assert one.loc["Nausea", "AESEQ"] == 2
    assert one.loc["Fatigue", "AESEQ"] == 3
    assert one.loc["Rash", "EPOCH"] == "SCREENING"
    assert one.loc["Nausea", "EPOCH"] == "TREATMENT"
    assert one.loc["Fatigue", "EPOCH"] == "FOLLOW-UP"     # after RFXENDTC 2014-04-30


def test_impossible_date_and_non_ascii(mini):
    res = _run(*mini)
    ae = res.domains["AE"]
    two = ae[ae["USUBJID"] == "MINI-002"].iloc[0]
    assert pd.isna(two["AESTDTC"])                      # 2014-02-30 does not exist
    assert two["AETERM"] == "Nausee"                    # transliterated
    rules = {(f.rule, f.value) for f in res.findings}
    assert ("CMAP-DATE0002", "2014-02-30") in rules
    assert ("CMAP-ASCII0001", "Nausée") in rules


def test_transpose_fill_and_unscheduled_visitnum(mini):
    res = _run(*mini)
    tr = res.domains["TR"]
    # 001: baseline 2 lesions, week 8 2, unscheduled 1, week 16 1 (T01 blank diameter) = 6
    assert len(tr) == 6
    t02 = tr[tr["TRLNKID"] == "T02"]
    # node flag collected at baseline only, carried to week 8
    assert list(t02["TRTESTCD"]) == ["LPERP", "LPERP"]
    uns = tr[tr["VISIT"] == "UNSCHEDULED"]
    assert list(uns["VISITNUM"]) == [8.01]
    assert sorted(tr["VISITNUM"].unique().tolist()) == [0.0, 8.0, 8.01, 16.0]


def test_accounting_balances_with_reasons(mini):
    res = _run(*mini)
    table = res.accounting.table().set_index("file")
    assert table["balanced"].all()
    assert table.loc["ex.csv", "read"] == 4
    assert table.loc["ex.csv", "used"] == 3
    assert table.loc["ex.csv", "dropped"] == 1
    drops = res.accounting.drops()
    visits = drops[drops["file"] == "visits.csv"]
    # subject 002's baseline row holds no lesion
    assert visits["rows"].tolist() == [1]
    assert visits["reason"].iloc[0].startswith("no lesion in row")
    assert res.accounting.written == {"DM": 3, "EX": 3, "AE": 4, "TR": 6, "SUPPDM": 3}


def test_supp_records(mini):
    res = _run(*mini)
    supp = res.supp["SUPPDM"]
    assert list(supp["QNAM"]) == ["COHORT"] * 3
    assert list(supp["QVAL"]) == ["3", "5", "5"]
    assert set(supp["RDOMAIN"]) == {"DM"}


def test_long_text_goes_to_supp(tmp_path):
    study = tmp_path / "mini"
    long_term = "A" * 210
    raw = dict(RAW)
    raw["ae.csv"] = f"SUBJECT,TERM,GRADE,START\n001,{long_term},1,2014-03-07\n"
    _write(study, {"study.yaml": STUDY, "sdtm/dm.yaml": DM, "sdtm/ex.yaml": EX,
                   "sdtm/ae.yaml": AE, "sdtm/tr.yaml": TR})
    _write(tmp_path / "raw", raw)
    res = _run(study, tmp_path / "raw")
    assert res.domains["AE"]["AETERM"].iloc[0] == "A" * 200
    supp = res.supp["SUPPAE"]
    assert list(supp["QNAM"]) == ["AETERM1"]
    assert list(supp["QVAL"]) == ["A" * 10]   # no blank: a hard cut
    assert list(supp["IDVARVAL"]) == ["1"]


def test_missing_raw_column_names_file_and_spec_line(mini):
    study, raw = mini
    (study / "sdtm/ae.yaml").write_text(AE.replace("{take: TERM}", "{take: TERMX}"))
    with pytest.raises(InputDataError, match=r"ae\.yaml:6.*'TERMX' is not in ae\.csv"):
        _run(study, raw)


def test_unknown_key_names_file_line(mini):
    study, _ = mini
    (study / "sdtm/ae.yaml").write_text(AE.replace("{take: TERM}", "{tkae: TERM}"))
    with pytest.raises(SpecError, match=r"ae\.yaml:6"):
        load_study(study)


def test_unlisted_raw_file_is_counted(mini):
    study, raw = mini
    (raw / "extra.csv").write_text("A,B\n1,2\n3,4\n")
    res = _run(study, raw)
    table = res.accounting.table().set_index("file")
    assert table.loc["extra.csv", "dropped"] == 2


def test_long_text_is_cut_between_words(tmp_path):
    from cdiscmap.findings import Findings
    from cdiscmap.sdtm.text import split_long_text

    words = ("word " * 50).strip()                       # 249 characters
    frame = pd.DataFrame({"USUBJID": ["S1"], "AESEQ": [1.0], "AETERM": [words],
                          "_SRCFILE": ["ae.csv"], "_SRCROW": [1]})
    out, supp = split_long_text(frame, "AE", {"AETERM"}, "supp", Findings())
    head = out["AETERM"].iloc[0]
    assert len(head) == 199 and not head.endswith(" ")   # 40 words minus the last blank
    assert head + " " + supp["QVAL"].iloc[0] == words    # rejoined with one blank


def test_duplicate_raw_keys_are_findings(tmp_path):
    study = tmp_path / "mini"
    raw = dict(RAW)
    raw["enrol.csv"] = RAW["enrol.csv"] + "        002,Female,5\n"
    _write(study, {"study.yaml": STUDY, "sdtm/dm.yaml": DM, "sdtm/ex.yaml": EX,
                   "sdtm/ae.yaml": AE, "sdtm/tr.yaml": TR})
    _write(tmp_path / "raw", raw)
    res = _run(study, tmp_path / "raw")
    dup = [f for f in res.findings if f.rule == "CMAP-RAW0002"]
    assert len(dup) == 1
    assert (dup[0].value, dup[0].count, dup[0].source) == ("002", 2, "enrol.csv row 2")
    assert dup[0].severity.value == "error"


def test_duplicate_lookup_key_is_not_silent(tmp_path):
    study = tmp_path / "mini"
    dm = DM.replace("    source: {form: enrol}",
                    "    source:\n      form: enrol\n      joins:\n"
                    "        - {form: ex, on: SUBJECT, columns: [DOSE], prefix: EX_}")
    _write(study, {"study.yaml": STUDY, "sdtm/dm.yaml": dm, "sdtm/ex.yaml": EX,
                   "sdtm/ae.yaml": AE, "sdtm/tr.yaml": TR})
    _write(tmp_path / "raw", RAW)
    res = _run(study, tmp_path / "raw")
    (found,) = [f for f in res.findings if f.rule == "CMAP-RAW0003"]
    assert found.count == 2          # subject 001 has three ex rows: two are not used
    assert found.source.startswith("ex.csv row 2")


def test_non_utf8_raw_file_is_a_clear_error(mini):
    study, raw = mini
    (raw / "ae.csv").write_bytes("SUBJECT,TERM,GRADE,START\n001,Naus\xe9e,1,2014-03-07\n"
                                 .encode("latin-1"))
    with pytest.raises(InputDataError, match=r"ae\.csv: not UTF-8 text.*re-export"):
        _run(study, raw)


def test_join_required_drops_unmatched_with_reason(tmp_path):
    study = tmp_path / "mini"
    ae = AE.replace("    source: {form: ae}",
                    "    source:\n      form: ae\n      joins:\n"
                    "        - {form: enrol, on: SUBJECT, columns: [SEX], required: true,"
                    " reason: subject not enrolled}")
    raw = dict(RAW)
    raw["ae.csv"] = RAW["ae.csv"] + "        009,Headache,1,2014-03-09\n"
    _write(study, {"study.yaml": STUDY, "sdtm/dm.yaml": DM, "sdtm/ex.yaml": EX,
                   "sdtm/ae.yaml": ae, "sdtm/tr.yaml": TR})
    _write(tmp_path / "raw", raw)
    res = _run(study, tmp_path / "raw")
    assert len(res.domains["AE"]) == 4
    drops = res.accounting.drops()
    row = drops[drops["file"] == "ae.csv"]
    assert row["rows"].tolist() == [1]
    assert row["reason"].iloc[0].startswith("subject not enrolled")
    assert res.accounting.balanced


def test_unmatched_lookup_rows_are_dropped_with_their_reason(tmp_path):
    study = tmp_path / "mini"
    st = STUDY.replace("  visits: {file: visits.csv}",
                       "  visits: {file: visits.csv}\n  death: {file: death.csv}")
    dm = DM.replace("    source: {form: enrol}",
                    "    source:\n      form: enrol\n      joins:\n"
                    "        - {form: death, on: SUBJECT, columns: [DTHDAT]}")
    raw = dict(RAW)
    raw["death.csv"] = "SUBJECT,DTHDAT\n002,01-JUN-2014\n077,02-JUN-2014\n"
    _write(study, {"study.yaml": st, "sdtm/dm.yaml": dm, "sdtm/ex.yaml": EX,
                   "sdtm/ae.yaml": AE, "sdtm/tr.yaml": TR})
    _write(tmp_path / "raw", raw)
    res = _run(study, tmp_path / "raw")
    table = res.accounting.table().set_index("file")
    assert (table.loc["death.csv", "used"], table.loc["death.csv", "dropped"]) == (1, 1)
    drops = res.accounting.drops()
    reason = drops.loc[drops["file"] == "death.csv", "reason"].iloc[0]
    assert reason.startswith("no enrol record with the same SUBJECT")


def test_domains_are_stacked_when_read_as_they_stood():
    from cdiscmap.sdtm import vocabulary as vocab
    from cdiscmap.sdtm.engine import BlockRun, _Domains

    def run(values: list[str], start: int) -> BlockRun:
        raw = pd.DataFrame({"_SRCFILE": "f.csv", "_SRCROW": range(start, start + len(values))})
        out = pd.DataFrame({"USUBJID": pd.Series(values, dtype="string")})
        return BlockRun("EX", None, vocab.BlockFrame(raw=raw, out=out, form="f", file="f.csv"),
                        [])

    first, second = run(["S-1", "S-2"], 1), run(["S-3"], 3)
    domains = _Domains({"EX": [first, second], "AE": []})
    first.frame.out["LATER"] = "x"          # derived after the snapshot: not in the domain
    assert list(domains) == ["EX"] and len(domains) == 1 and domains.get("AE") is None
    ex = domains["EX"]
    assert ex["USUBJID"].tolist() == ["S-1", "S-2", "S-3"] and list(ex.columns) == ["USUBJID"]
    assert domains["EX"] is ex              # stacked once


def test_visible_columns_are_the_finished_frames_own_arrays() -> None:
    """A finished domain's SDTM columns are its step's arrays, not copies: each text column
    keeps the factorisation the mapping remembered (no later step hashes it again); the
    _SUPP_ helper column is left out, and repeated names still select as ``out[visible]``."""
    import numpy as np

    from cdiscmap.sdtm.engine import _visible
    from cdiscmap.sdtm.vectorize import coded, codes_cache, remembered, text_from_codes

    with codes_cache():
        term = text_from_codes(np.array([1, 0, -1]), np.array(["B", "A"], dtype=object),
                               pd.RangeIndex(3))
        out = pd.DataFrame({"AETERM": term.array, "AESEQ": [1.0, 2.0, 3.0],
                            "_SUPP_X": term.array}, copy=False)
        shown = _visible(out, ["AETERM", "AESEQ"])
        assert list(shown.columns) == ["AETERM", "AESEQ"]
        assert shown["AETERM"].array is out["AETERM"].array
        codes, uniques = remembered(shown["AETERM"])
        # the table's own order (B, A), as text_from_codes remembered it: not hashed again
        assert codes.tolist() == [1, 0, -1] and uniques.tolist() == ["B", "A"]
        assert shown["AETERM"].tolist()[:2] == ["A", "B"] and pd.isna(shown["AETERM"][2])
        assert shown["AESEQ"].tolist() == [1.0, 2.0, 3.0]
        twice = pd.DataFrame([["x", "y"]], columns=["A", "A"], dtype="string")
        assert _visible(twice, ["A"]).shape == (1, 2)
        assert coded(shown["AETERM"])[1].tolist() == ["B", "A"]
