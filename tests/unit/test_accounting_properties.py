"""Property: whatever the raw data, every raw row is used or dropped with a reason, and the
records written are exactly the non-blank slots of the rows the filters keep."""

from __future__ import annotations

import textwrap

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdiscmap.sdtm.engine import map_study
from cdiscmap.spec.loader import load_study

STUDY = """\
studyid: P
title: property study
standards: {sdtmig: "3.4"}
forms:
  enrol: {file: enrol.csv}
  lesions: {file: lesions.csv}
domains: [DM, TR]
"""
DM = """\
domain: DM
blocks:
  - name: subjects
    source: {form: enrol}
    variables:
      STUDYID: {constant: P}
      USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
"""
TR = """\
domain: TR
blocks:
  - name: lesions
    source:
      form: lesions
      filters:
        - drop_if: {column: VISIT, equals: SKIP}
          reason: skipped visit
      transpose:
        keys: [1, 2, 3]
        columns: {ID: "L{key}_ID", D: "L{key}_D"}
        keep_if: {column: ID, blank: false}
        reason: no lesion
    variables:
      TRLNKID: {take: ID}
      TRSTRESN: {number: {column: D}}
variables:
  STUDYID: {constant: P}
  USUBJID: {concat: {parts: [{var: STUDYID}, {column: SUBJECT}], sep: "-"}}
  TRSEQ: {seq: {order: [TRLNKID]}}
"""

cell = st.sampled_from(["", "T1", "T2", "X"])
row = st.tuples(st.sampled_from(["001", "002", "003"]), st.sampled_from(["WEEK 8", "SKIP"]),
                cell, cell, cell)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, max_size=25))
def test_read_equals_used_plus_dropped(tmp_path_factory, rows):
    root = tmp_path_factory.mktemp("p")
    study = root / "study"
    (study / "sdtm").mkdir(parents=True)
    (study / "study.yaml").write_text(STUDY)
    (study / "sdtm" / "dm.yaml").write_text(DM)
    (study / "sdtm" / "tr.yaml").write_text(TR)
    raw = root / "raw"
    raw.mkdir()
    (raw / "enrol.csv").write_text("SUBJECT\n001\n002\n003\n")
    lines = ["SUBJECT,VISIT,L1_ID,L1_D,L2_ID,L2_D,L3_ID,L3_D"]
    lines += [f"{s},{v},{a},5,{b},6,{c},7" for s, v, a, b, c in rows]
    (raw / "lesions.csv").write_text(textwrap.dedent("\n".join(lines)) + "\n")

    res = map_study(load_study(study), raw, {}, {"TR": set(), "DM": set()})
    table = res.accounting.table().set_index("file")
    assert bool(table["balanced"].all())
    assert table.loc["lesions.csv", "read"] == len(rows)

    # by hand: rows not skipped, their non-blank lesion slots
    kept = [r for r in rows if r[1] != "SKIP"]
    slots = sum(1 for r in kept for x in r[2:] if x)
    used = sum(1 for r in kept if any(r[2:]))
    assert len(res.domains.get("TR", [])) == slots
    assert table.loc["lesions.csv", "used"] == used
    drops = res.accounting.drops()
    lesion_drops = dict(zip(drops.loc[drops["file"] == "lesions.csv", "reason"].str.split(" \\[")
                            .str[0], drops.loc[drops["file"] == "lesions.csv", "rows"],
                            strict=True))
    assert lesion_drops.get("skipped visit", 0) == len(rows) - len(kept)
    assert lesion_drops.get("no lesion", 0) == len(kept) - used
    if slots:
        tr = res.domains["TR"]
        for _, group in tr.groupby("USUBJID"):
            assert sorted(group["TRSEQ"]) == list(range(1, len(group) + 1))
