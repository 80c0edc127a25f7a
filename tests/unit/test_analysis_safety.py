"""Safety, exposure and disposition tables on hand-made ADaM; every expected count is worked
out by hand from the rows below (not by the code under test)."""

from __future__ import annotations

import pandas as pd
import pytest

from cdiscmap.analysis.disposition import disposition_tables
from cdiscmap.analysis.exposure import exposure_table
from cdiscmap.analysis.safety import safety_tables
from cdiscmap.analysis.settings import AnalysisSettings
from cdiscmap.errors import InputDataError

SETTINGS = AnalysisSettings.model_validate({
    "populations": {"saf": {"flag": "SAFFL"}, "all": {"flag": "ITTFL"}},
    "groupings": {"arm": {"variable": "ARMCD"}},
    "safety": [{"id": "t_ae", "title": "AE", "population": "saf", "grouping": "arm"}],
    "exposure": [{"id": "t_ex", "title": "Exposure", "population": "saf", "grouping": "arm"}],
    "disposition": [{"id": "t_ds", "title": "Disposition", "population": "all",
                     "grouping": "arm", "flow": [
                         {"label": "Screened"}, {"label": "Enrolled", "flag": "ITTFL"},
                         {"label": "Treated", "flag": "SAFFL"},
                         {"label": "Discontinued", "variable": "EOSSTT",
                          "values": ["DISCONTINUED"]}]}],
})

# 6 subjects: A-1..A-3 in arm A, B-1..B-2 in arm B, S-1 a screen failure (no arm, not treated)
ADSL = pd.DataFrame({
    "STUDYID": "T", "USUBJID": ["A-1", "A-2", "A-3", "B-1", "B-2", "S-1"],
    "ARMCD": ["A", "A", "A", "B", "B", None],
    "ITTFL": ["Y", "Y", "Y", "Y", "Y", "N"], "SAFFL": ["Y", "Y", "Y", "Y", "N", "N"],
    "EOSSTT": ["COMPLETED", "DISCONTINUED", "DISCONTINUED", "ONGOING", "DISCONTINUED", None],
    "DCSREAS": [None, "ADVERSE EVENT", "DEATH", None, "WITHDRAWAL BY SUBJECT", None]})

_COLS = ["USUBJID", "AEBODSYS", "AEDECOD", "ATOXGRN", "AESER", "AESDTH", "AEACN", "RELGR1",
         "TRTEMFL", "AOCCIFL", "AOCCSFL", "AOCCPFL", "AOCCSIFL", "AOCCPIFL"]
# flags as ADAE derives them: first record (by date) per subject/SOC/PT, worst grade per ...
_ROWS = [
    # A-1: nausea g1 then nausea g3 (GI), rash g2 (skin)
    ("A-1", "GI", "NAUSEA", 1, "N", "N", "DOSE NOT CHANGED", "RELATED",
     "Y", None, "Y", "Y", None, None),
    ("A-1", "GI", "NAUSEA", 3, "Y", "N", "DRUG WITHDRAWN", "RELATED",
     "Y", "Y", None, None, "Y", "Y"),
    ("A-1", "SKIN", "RASH", 2, "N", "N", "DOSE NOT CHANGED", "NOT RELATED",
     "Y", None, "Y", "Y", "Y", "Y"),
    # A-2: vomiting g2 (GI) only; a pre-treatment g4 nausea that is not emergent
    ("A-2", "GI", "VOMITING", 2, "N", "N", "DOSE NOT CHANGED", "RELATED",
     "Y", "Y", "Y", "Y", "Y", "Y"),
    ("A-2", "GI", "NAUSEA", 4, "Y", "N", "DRUG WITHDRAWN", "RELATED",
     None, None, None, None, None, None),
    # A-3: no AE at all
    # B-1: fatal sepsis g5 (infections), nausea g3 (GI)
    ("B-1", "INFECTIONS", "SEPSIS", 5, "Y", "Y", "DRUG WITHDRAWN", "NOT RELATED",
     "Y", "Y", "Y", "Y", "Y", "Y"),
    ("B-1", "GI", "NAUSEA", 3, "N", "N", "DOSE REDUCED", "RELATED",
     "Y", None, "Y", "Y", "Y", "Y"),
    # B-2: not in the safety population (SAFFL = N): its AE counts nowhere
    ("B-2", "GI", "NAUSEA", 3, "N", "N", "DOSE NOT CHANGED", "RELATED",
     "Y", "Y", "Y", "Y", "Y", "Y"),
]
ADAE = pd.DataFrame(_ROWS, columns=_COLS)

ADEX = pd.DataFrame({
    "USUBJID": ["A-1", "A-2", "A-3", "B-1", "A-1", "A-2", "A-3", "B-1"],
    "PARAMCD": ["TRTDURD"] * 4 + ["DOSINTBS"] * 4,
    "PARAM": ["Treatment Duration (days)"] * 4 + ["Dose Intensity (mg/m2/day)"] * 4,
    "AVAL": [10, 20, 60, 5, 280, 250, 265, 280]})


def _tables() -> dict[str, list[list[str]]]:
    adam = {"ADSL": ADSL, "ADAE": ADAE, "ADEX": ADEX}
    tables = safety_tables(adam, SETTINGS, SETTINGS.safety[0])
    tables.append(exposure_table(adam, SETTINGS, SETTINGS.exposure[0]))
    tables += disposition_tables(adam, SETTINGS, SETTINGS.disposition[0])
    return {t.id: t for t in tables}


def test_overview_counts_subjects_once_per_category() -> None:
    t = _tables()["t_ae_overview"]
    assert t.columns == ["Category", "A (N=3)", "B (N=1)", "All subjects (N=4)"]
    rows = {r[0]: r[1:] for r in t.rows}
    # any TEAE: A-1, A-2 of arm A (A-3 none; A-2's nausea is not emergent); B-1
    assert rows["Any TEAE"] == ["2 (66.7%)", "1 (100.0%)", "3 (75.0%)"]
    # grade >= 3: A-1 (nausea g3), B-1 (sepsis g5, nausea g3); A-2's g4 is not emergent
    assert rows["TEAE of CTCAE grade >= 3"] == ["1 (33.3%)", "1 (100.0%)", "2 (50.0%)"]
    assert rows["Serious TEAE"] == ["1 (33.3%)", "1 (100.0%)", "2 (50.0%)"]
    assert rows["Fatal TEAE"] == ["0 (0.0%)", "1 (100.0%)", "1 (25.0%)"]
    # AEACN DRUG WITHDRAWN among emergent AEs: A-1 nausea g3, B-1 sepsis
    assert rows["TEAE leading to discontinuation"] == ["1 (33.3%)", "1 (100.0%)", "2 (50.0%)"]
    assert rows["Related TEAE"] == ["2 (66.7%)", "1 (100.0%)", "3 (75.0%)"]


def test_maximum_grade_per_subject() -> None:
    rows = {r[0]: r[1:] for r in _tables()["t_ae_grade"].rows}
    # worst grade: A-1 3, A-2 2, B-1 5
    assert rows["Grade 1"] == ["0 (0.0%)", "0 (0.0%)", "0 (0.0%)"]
    assert rows["Grade 2"] == ["1 (33.3%)", "0 (0.0%)", "1 (25.0%)"]
    assert rows["Grade 3"] == ["1 (33.3%)", "0 (0.0%)", "1 (25.0%)"]
    assert rows["Grade 5"] == ["0 (0.0%)", "1 (100.0%)", "1 (25.0%)"]


def test_soc_pt_any_grade_and_grade_3_by_hand() -> None:
    t = _tables()["t_ae_socpt"]
    labels = [r[0] for r in t.rows]
    # GI: A-1, A-2, B-1 = 3 subjects; INFECTIONS 1; SKIN 1 (ties by name)
    assert labels == ["GI", "    NAUSEA", "    VOMITING", "INFECTIONS", "    SEPSIS",
                      "SKIN", "    RASH"]
    rows = {r[0]: r[1:] for r in t.rows}
    # columns: A any, A >=3, B any, B >=3, All any, All >=3
    assert rows["GI"] == ["2 (66.7%)", "1 (33.3%)", "1 (100.0%)", "1 (100.0%)",
                          "3 (75.0%)", "2 (50.0%)"]
    assert rows["    NAUSEA"] == ["1 (33.3%)", "1 (33.3%)", "1 (100.0%)", "1 (100.0%)",
                                  "2 (50.0%)", "2 (50.0%)"]
    assert rows["    VOMITING"] == ["1 (33.3%)", "0 (0.0%)", "0 (0.0%)", "0 (0.0%)",
                                    "1 (25.0%)", "0 (0.0%)"]
    assert rows["SKIN"][4:] == ["1 (25.0%)", "0 (0.0%)"]
    cell = t.cells()[0]
    assert cell["dataset"] == "ADAE" and cell["population"] == "ADSL.SAFFL = 'Y'"
    assert "AOCCSFL = 'Y'" in cell["filter"] and "ADSL.ARMCD = 'A'" in cell["filter"]


def test_soc_pt_one_preferred_term_under_two_socs() -> None:
    # A-3's only AE: nausea g1 coded under SKIN: the SKIN/NAUSEA row counts A-3 alone and
    # the GI/NAUSEA row keeps A-1 and B-1
    extra = pd.DataFrame([("A-3", "SKIN", "NAUSEA", 1, "N", "N", "DOSE NOT CHANGED", "RELATED",
                           "Y", "Y", "Y", "Y", "Y", "Y")], columns=_COLS)
    adam = {"ADSL": ADSL, "ADAE": pd.concat([ADAE, extra], ignore_index=True)}
    t = next(t for t in safety_tables(adam, SETTINGS, SETTINGS.safety[0])
             if t.id == "t_ae_socpt")
    # GI 3 subjects, SKIN 2 (A-1, A-3), INFECTIONS 1; in SKIN NAUSEA and RASH 1 each: by name
    assert [r[0] for r in t.rows] == ["GI", "    NAUSEA", "    VOMITING", "SKIN", "    NAUSEA",
                                      "    RASH", "INFECTIONS", "    SEPSIS"]
    assert t.rows[1][1:] == ["1 (33.3%)", "1 (33.3%)", "1 (100.0%)", "1 (100.0%)",
                             "2 (50.0%)", "2 (50.0%)"]
    assert t.rows[3][1:] == ["2 (66.7%)", "0 (0.0%)", "0 (0.0%)", "0 (0.0%)",
                             "2 (50.0%)", "0 (0.0%)"]
    assert t.rows[4][1:] == ["1 (33.3%)", "0 (0.0%)", "0 (0.0%)", "0 (0.0%)",
                             "1 (25.0%)", "0 (0.0%)"]


def test_exposure_summary() -> None:
    rows = {r[0]: r[1:] for r in _tables()["t_ex"].rows}
    # arm A durations 10, 20, 60: mean 30, SD sqrt(((-20)^2 + (-10)^2 + 30^2) / 2) = 26.5
    assert rows["Treatment Duration (days) (TRTDURD)"][0] == \
        "n=3; mean 30.0 (SD 26.5); median 20.0 [10-60]"
    assert rows["Dose Intensity (mg/m2/day) (DOSINTBS)"][1] == \
        "n=1; mean 280.0 (SD -); median 280.0 [280-280]"
    assert "CUMDOSE" not in " ".join(rows)      # absent parameter: no row


def test_exposure_cells_by_hand_with_padded_codes_missing_values_and_outsiders() -> None:
    adex = pd.DataFrame({
        "USUBJID": ["A-1", "A-2", "A-3", "B-1", "B-2", "A-1"],
        "PARAMCD": [" TRTDURD ", "TRTDURD", "TRTDURD", "TRTDURD", "TRTDURD", None],
        "PARAM": ["Treatment Duration (days)"] * 5 + [None],
        "AVAL": [10, None, 60, 5, 99, 1000]})
    table = exposure_table({"ADSL": ADSL, "ADEX": adex}, SETTINGS, SETTINGS.exposure[0])
    [row] = table.rows
    # arm A: A-1 10 (code padded), A-2 missing, A-3 60 -> n 2, mean 35, SD sqrt(25^2 + 25^2)
    # = 35.36; arm B: B-1 5 (B-2 is not in the safety population; no PARAMCD: no parameter)
    assert row[:3] == ["Treatment Duration (days) (TRTDURD)",
                       "n=2; mean 35.0 (SD 35.4); median 35.0 [10-60]",
                       "n=1; mean 5.0 (SD -); median 5.0 [5-5]"]
    cells = table.cells()                      # in column order
    assert [(c["n"], c["mean"], c["median"]) for c in cells[:2]] == \
        [(2, 35.0, 35.0), (1, 5.0, 5.0)]


def test_disposition_reasons_and_flow() -> None:
    tables = _tables()
    rows = {r[0]: r[1:] for r in tables["t_ds"].rows}
    assert rows["DISCONTINUED"] == ["2 (66.7%)", "1 (50.0%)", "3 (60.0%)"]
    assert rows["    ADVERSE EVENT"] == ["1 (33.3%)", "0 (0.0%)", "1 (20.0%)"]
    assert rows["    WITHDRAWAL BY SUBJECT"] == ["0 (0.0%)", "1 (50.0%)", "1 (20.0%)"]
    flow = {r[0]: r[1:] for r in tables["t_ds_flow"].rows}
    assert tables["t_ds_flow"].columns == ["Step", "A", "B", "All subjects"]
    assert flow["Screened"] == ["3", "2", "6"]
    assert flow["Enrolled"] == ["3", "2", "5"]
    assert flow["Treated"] == ["3", "1", "4"]
    assert flow["Discontinued"] == ["2", "1", "3"]


def test_safety_needs_the_first_occurrence_flags() -> None:
    adam = {"ADSL": ADSL, "ADAE": ADAE.drop(columns=["AOCCPIFL"])}
    with pytest.raises(InputDataError, match="AOCCPIFL"):
        safety_tables(adam, SETTINGS, SETTINGS.safety[0])


def test_without_aeacn_discontinuation_is_not_available_rather_than_zero() -> None:
    adam = {"ADSL": ADSL, "ADAE": ADAE.drop(columns=["AEACN", "AESDTH"])}
    t = safety_tables(adam, SETTINGS, SETTINGS.safety[0])[0]
    rows = {r[0]: r[1:] for r in t.rows}
    assert rows["TEAE leading to discontinuation"] == ["NA", "NA", "NA"]
    assert rows["Fatal TEAE"] == ["0 (0.0%)", "1 (100.0%)", "1 (25.0%)"]   # grade 5 sepsis
    assert any("no AEACN" in n for n in t.footnotes)


def test_docs_report_md_names_every_analysis_yaml_key() -> None:
    from pathlib import Path

    from cdiscmap.analysis import settings as s

    doc = (Path(__file__).resolve().parents[2] / "docs" / "report.md").read_text("utf-8")
    models = [s.Population, s.Grouping, s.DesignParameters, s.ResponseEndpoint,
              s.ResponseTable, s.SimonAnalysis, s.SurvivalAnalysis, s.Demographics, s.Safety,
              s.Exposure, s.FlowStep, s.Disposition, s.Tumour, s.ChangeFromBaseline,
              s.AnalysisSettings]
    missing = sorted({k for m in models for k in m.model_fields if f"`{k}`" not in doc})
    assert missing == []


def test_discontinuation_actions_come_from_analysis_yaml() -> None:
    """The AEACN values counted are the setting's list: adding DOSE REDUCED also counts B-1's
    grade 3 nausea (B-1 already counts for its withdrawn sepsis); only DOSE REDUCED counts
    B-1 alone; lower-case or padded AEACN values still match (ADAE text is normalised)."""
    def overview(actions: list[str], adae: pd.DataFrame = ADAE) -> dict[str, list[str]]:
        spec = SETTINGS.safety[0].model_copy(update={"discontinuation_actions": actions})
        t = safety_tables({"ADSL": ADSL, "ADAE": adae}, SETTINGS, spec)[0]
        return {r[0]: r[1:] for r in t.rows}

    key = "TEAE leading to discontinuation"
    assert overview(["DRUG WITHDRAWN", "DOSE REDUCED"])[key] == [
        "1 (33.3%)", "1 (100.0%)", "2 (50.0%)"]
    assert overview(["DOSE REDUCED"])[key] == ["0 (0.0%)", "1 (100.0%)", "1 (25.0%)"]
    assert overview(["DRUG INTERRUPTED"])[key] == ["0 (0.0%)", "0 (0.0%)", "0 (0.0%)"]
    padded = ADAE.assign(AEACN=" " + ADAE["AEACN"].str.lower() + " ")
    assert overview(["DRUG WITHDRAWN"], padded)[key] == ["1 (33.3%)", "1 (100.0%)",
                                                         "2 (50.0%)"]


def test_bundled_studies_count_drug_withdrawn_as_discontinuation() -> None:
    """Each bundled analysis.yaml states the AEACN list of its safety tables (study knowledge
    in YAML, not the Python default)."""
    from pathlib import Path

    from cdiscmap.analysis.settings import load_analysis_settings

    root = Path(__file__).resolve().parents[2] / "mappings"
    studies = sorted(p.parent for p in root.glob("*/analysis.yaml"))
    safety = [(s.name, a) for s in studies for a in load_analysis_settings(s).safety]
    assert {name for name, _ in safety} >= {"crizotinib-basket", "gist-imatinib",
                                             "imt-pediatric"}
    for name, a in safety:
        text = (root / name / "analysis.yaml").read_text("utf-8")
        assert "discontinuation_actions: [DRUG WITHDRAWN]" in text, name
        assert a.discontinuation_actions == ["DRUG WITHDRAWN"], (name, a.id)


def test_two_safety_analyses_of_one_population_share_one_teae_frame(monkeypatch) -> None:
    """Inside a report, the TEAE records of a population are selected once (two analyses by
    different groupings read them); the counts are those of each analysis made alone."""
    import cdiscmap.analysis.safety as safety_module
    from cdiscmap.analysis.groups import report_scope

    settings = AnalysisSettings.model_validate({
        "populations": {"saf": {"flag": "SAFFL"}},
        "groupings": {"arm": {"variable": "ARMCD"}, "all": {}},
        "safety": [{"id": "t_arm", "title": "AE", "population": "saf", "grouping": "arm",
                    "soc_pt": False},
                   {"id": "t_all", "title": "AE", "population": "saf", "grouping": "all"}]})
    adam = {"ADSL": ADSL, "ADAE": ADAE}
    made: list[int] = []
    real = safety_module.teae
    monkeypatch.setattr(safety_module, "teae",
                        lambda adae, subjects: made.append(len(subjects)) or real(adae, subjects))
    with report_scope():
        by_arm, everyone = (safety_tables(adam, settings, s) for s in settings.safety)
    assert made == [4]                  # A-1, A-2, A-3, B-1: once for both analyses
    rows = {r[0]: r[1:] for r in by_arm[0].rows}
    assert rows["Any TEAE"] == ["2 (66.7%)", "1 (100.0%)", "3 (75.0%)"]
    assert rows["TEAE leading to discontinuation"] == ["1 (33.3%)", "1 (100.0%)", "2 (50.0%)"]
    rows = {r[0]: r[1:] for r in everyone[0].rows}
    assert rows["Any TEAE"] == ["3 (75.0%)"] and rows["Fatal TEAE"] == ["1 (25.0%)"]
    assert [r[0] for r in everyone[2].rows][:3] == ["GI", "    NAUSEA", "    VOMITING"]
    # outside a report each analysis selects its own
    safety_tables(adam, settings, settings.safety[0])
    assert made == [4, 4]
