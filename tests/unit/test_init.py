"""``cdiscmap init``: a study folder drafted from a raw export passes check-spec, lists every
raw file and column, and guesses dates, keys and the subject column as the exports' layouts
(docs/raw-forms.md, docs/raw-forms-imt.md) say they are."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cdiscmap.cli import main
from cdiscmap.ingest import read_form
from cdiscmap.pipeline.scaffold import draft_study, guess_date
from cdiscmap.spec.loader import load_study
from cdiscmap.synth import generate


def _init(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["init", *args])
    return result.exit_code, result.output


def _check_spec(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check-spec", str(folder)])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def imt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("imt")
    raw = generate("imt-pediatric", root / "export", n_subjects=8, seed=3).raw_dir
    code, out = _init("--raw", str(raw), "--study", "IMTDRAFT", "--out", str(root / "studies"))
    assert code == 0, out
    return raw, root / "studies" / "IMTDRAFT"


@pytest.fixture(scope="module")
def basket(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("basket")
    raw = generate("crizotinib-basket", root / "export", n_subjects=8, seed=3).raw_dir
    code, out = _init("--raw", str(raw), "--study", "BASKETDRAFT", "--out",
                      str(root / "studies"))
    assert code == 0, out
    return raw, root / "studies" / "BASKETDRAFT"


def _form_sections(text: str) -> dict[str, str]:
    """study.yaml text of each form (from its `  name:` line to the next form)."""
    body = text.split("\nforms:\n", 1)[1].split("\ndomains:", 1)[0]
    parts = re.split(r"^  (\S+):\n", body, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _column_line(section: str, column: str) -> str:
    match = re.search(rf"^    #   {re.escape(column)}: (.*)$", section, flags=re.MULTILINE)
    assert match, f"column {column} not listed"
    return match.group(1)


@pytest.mark.parametrize("study", ["imt", "basket"])
def test_the_draft_passes_check_spec_and_lists_every_file_and_column(
        study: str, request: pytest.FixtureRequest) -> None:
    raw, folder = request.getfixturevalue(study)
    code, out = _check_spec(folder)
    assert code == 0, out
    assert "1 domain specs (DM) are valid" in out
    loaded = load_study(folder)
    files = sorted(p.name for p in raw.glob("*.csv"))
    assert sorted(f.file for f in loaded.study.forms.values()) == files
    sections = _form_sections((folder / "study.yaml").read_text(encoding="utf-8"))
    for name, form in loaded.study.forms.items():
        header = pd.read_csv(raw / form.file, nrows=0).columns.tolist()
        listed = re.findall(r"^    #   (\S+): ", sections[name], flags=re.MULTILINE)
        assert listed == header, name


def test_imt_guesses(imt: tuple[Path, Path]) -> None:
    raw, folder = imt
    study = load_study(folder).study
    # docs/raw-forms-imt.md: PATIENT_ID in every form, dates YMD everywhere (unknown parts UK)
    assert {f.subject_column for f in study.forms.values()} == {"PATIENT_ID"}
    sections = _form_sections((folder / "study.yaml").read_text(encoding="utf-8"))
    dates = {"patients": ["REGISTRATION_DATE", "CONSENT_DATE", "ASSENT_DATE", "BIRTH_DATE"],
             "dosing": ["START_DATE", "STOP_DATE"],
             "adverse_events": ["START_DATE", "END_DATE"],
             "end_of_study": ["TREATMENT_END_DATE", "STUDY_END_DATE", "LAST_CONTACT_DATE",
                              "DEATH_DATE"],
             "target_lesions": ["SCAN_DATE"], "response": ["ASSESSMENT_DATE"]}
    for form, columns in dates.items():
        for column in columns:
            assert "guessed: YMD (" in _column_line(sections[form], column), (form, column)
    # the planted impossible AE date (docs: a day past the month's end) is the evidence
    ae_start = _column_line(sections["adverse_events"], "START_DATE")
    assert re.search(r"YMD (\d+)/(\1|\d+)", ae_start) and "does not read" in ae_start
    assert study.forms["adverse_events"].keys == ["PATIENT_ID", "AE_NO"]
    assert study.forms["dosing"].keys == ["PATIENT_ID", "LINE_NO"]
    assert study.forms["target_lesions"].keys == ["PATIENT_ID", "VISIT_NAME", "LESION_NO"]
    assert study.forms["patients"].keys == ["PATIENT_ID"]
    dm = (folder / "sdtm" / "dm.yaml").read_text(encoding="utf-8")
    assert "source: {form: patients}" in dm
    assert "SITEID: {take: CENTRE_ID}" in dm
    assert "# SEX: {take: SEX}" in dm
    assert "# RFICDTC: {iso8601: {date: CONSENT_DATE, format: YMD}}" in dm
    # SEX is coded 1/2 (docs): the codelist stub lists both values under the CT list SEX
    text = (folder / "study.yaml").read_text(encoding="utf-8")
    assert '#   SEX:   # guessed: patients.SEX, 2 distinct values\n#     target: SEX' in text
    assert '#     map: {"1": "?", "2": "?"}' in text


def test_basket_guesses(basket: tuple[Path, Path]) -> None:
    raw, folder = basket
    sections = _form_sections((folder / "study.yaml").read_text(encoding="utf-8"))
    # docs/raw-forms.md: DMY on most forms, AE start/end YMD, AE start time HH:MM
    dmy = {"enrol": ["REGDAT", "BRTHDAT"], "ic": ["ICDAT"], "ex": ["EXSTDAT", "EXENDAT"],
           "death": ["DTHDAT"], "eos": ["EOTDAT", "EOSDAT", "LSTCONDT"], "tl": ["TADAT"],
           "ntl": ["TADAT"], "nl": ["TADAT"], "orr": ["RSDAT"]}
    for form, columns in dmy.items():
        for column in columns:
            assert "guessed: DMY (" in _column_line(sections[form], column), (form, column)
    for column in ("AESTDAT", "AEENDAT"):
        assert "guessed: YMD (" in _column_line(sections["ae"], column)
    assert _column_line(sections["ae"], "AESTTIM").startswith("time, ")
    study = load_study(folder).study
    assert {f.subject_column for f in study.forms.values()} == {"SUBJECT"}
    assert study.forms["ae"].keys == ["SUBJECT", "AESPID"]
    assert study.forms["ex"].keys == ["SUBJECT", "EXLINE"]
    assert "SITEID: {take: SITE}" in (folder / "sdtm" / "dm.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("study", ["imt", "basket"])
def test_drafted_keys_are_unique_in_the_data(study: str,
                                             request: pytest.FixtureRequest) -> None:
    raw, folder = request.getfixturevalue(study)
    for name, form in load_study(folder).study.forms.items():
        frame = read_form(name, raw / form.file, raw).frame
        assert form.keys, name
        assert not frame.duplicated(subset=form.keys).any(), name
        # and no smaller prefix of the guessed key is unique (the smallest set is guessed)
        if len(form.keys) > 1:
            assert frame.duplicated(subset=form.keys[:1]).any(), name


@pytest.mark.parametrize("study", ["imt", "basket"])
def test_every_stub_parses_once_listed(study: str, request: pytest.FixtureRequest,
                                       tmp_path: Path) -> None:
    _, folder = request.getfixturevalue(study)
    copy = tmp_path / folder.name
    (copy / "sdtm").mkdir(parents=True)
    for path in folder.rglob("*.yaml"):
        (copy / path.relative_to(folder)).write_text(path.read_text(encoding="utf-8"),
                                                     encoding="utf-8")
    stubs = sorted(p.stem.upper() for p in (folder / "sdtm").glob("*.yaml"))
    assert {"AE", "DM", "DS", "EX", "RS", "TR", "TU"} <= set(stubs)
    text = (copy / "study.yaml").read_text(encoding="utf-8")
    (copy / "study.yaml").write_text(text.replace("\ndomains: [DM]",
                                                  f"\ndomains: [{', '.join(stubs)}]"),
                                     encoding="utf-8")
    code, out = _check_spec(copy)
    assert code == 0, out
    assert f"{len(stubs)} domain specs" in out


def test_same_export_same_files(imt: tuple[Path, Path], tmp_path: Path) -> None:
    raw, folder = imt
    code, out = _init("--raw", str(raw), "--study", "IMTDRAFT", "--out", str(tmp_path))
    assert code == 0, out
    again = tmp_path / "IMTDRAFT"
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(again).as_posix() for p in again.rglob("*")
                           if p.is_file())
    for name in names:
        assert (folder / name).read_bytes() == (again / name).read_bytes(), name


# --------------------------------------------------------------------------- a vendor export

def _write(path: Path, rows: list[str]) -> None:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture
def edc(tmp_path: Path) -> Path:
    """A small commercial-EDC-like export: SAS DATE9 and DATETIME dates, a date family,
    soft deletes, audit columns, DD/MM/YYYY, YYYYMMDD and partial dates with UN/UNK."""
    raw = tmp_path / "raw"
    raw.mkdir()
    _write(raw / "demog.csv", [
        "Subject,SiteNumber,RecordActive,Created,BRTHDAT,SEX",
        "S-01,10,1,2020-01-01T10:00,05MAR1970,M",
        "S-02,10,1,2020-01-01T10:00,UNMAR1971,F",
        "S-03,20,1,2020-01-02T10:00,17JUL1980,F",
        "S-03,20,0,2020-01-02T09:00,17JUL1908,F",      # deleted: S-03 is unique when active
    ])
    _write(raw / "vitals.csv", [
        "Subject,FolderSeq,InstanceRepeatNumber,RecordPosition,RecordActive,"
        "VSDAT,VSDAT_RAW,VSDAT_INT,VSDAT_YY,VSDAT_MM,VSDAT_DD,SYSBP",
        "S-01,1,0,0,1,01FEB2020:00:00:00,01 FEB 2020,01FEB2020:00:00:00,2020,2,1,120",
        "S-01,2,0,0,1,,UN FEB 2020,15FEB2020:00:00:00,2020,2,UN,118",
        "S-02,1,0,0,1,03MAR2020:00:00:00,03 MAR 2020,03MAR2020:00:00:00,2020,3,3,130",
        "S-02,2,0,0,1,10MAR2020:00:00:00,10 MAR 2020,10MAR2020:00:00:00,2020,3,10,125",
        "S-03,1,0,0,1,04APR2020:00:00:00,04 APR 2020,04APR2020:00:00:00,2020,4,4,110",
    ])
    _write(raw / "labs.csv", [
        "Subject,VISIT,LBDAT,LBDT8,LBPART",
        "S-01,Screening,25/12/2019,20191225,UN-UNK-2019",
        "S-01,Week 2,08/01/2020,20200108,15-MAR-2020",
        "S-02,Screening,13/02/2020,20200213,UN-FEB-2020",
        "S-02,Week 2,27/02/2020,20200227,27-FEB-2020",
    ])
    (raw / "notes.docx").write_bytes(b"not an export")
    return raw


def test_vendor_export_guesses(edc: Path, tmp_path: Path) -> None:
    code, out = _init("--raw", str(edc), "--study", "VENDOR", "--out", str(tmp_path))
    assert code == 0, out
    folder = tmp_path / "VENDOR"
    assert _check_spec(folder)[0] == 0
    draft = draft_study(edc, "VENDOR")
    demog, labs, vitals = (draft.form(n) for n in ("demog", "labs", "vitals"))
    assert demog.column("BRTHDAT").date.format == "DATE9"
    assert labs.column("LBDAT").date.format == "DMY"
    assert labs.column("LBDT8").date.format == "YYYYMMDD"
    assert labs.column("LBPART").date.format == "DMY"
    assert vitals.family_date.format == "DATETIME"
    assert vitals.families == {"VSDAT": ["raw", "imputed", "year", "month", "day"]}
    assert demog.soft_delete == ("RecordActive", "0", 1)
    assert demog.drop_columns == ["Created"]
    assert demog.keys == ["Subject"]                  # unique once the deleted row is out
    assert vitals.keys == ["Subject", "FolderSeq"]
    assert labs.keys == ["Subject", "VISIT"]
    assert draft.site_column == "SiteNumber"
    assert draft.skipped == [("notes.docx", "unsupported file type '.docx'")]
    study = load_study(folder).study
    assert study.forms["demog"].filters[0].drop_if.column == "RecordActive"
    assert study.forms["demog"].filters[0].drop_if.equals == "0"
    assert study.forms["vitals"].date_families.format == "DATETIME"
    assert study.forms["vitals"].drop_columns is None
    text = (folder / "study.yaml").read_text(encoding="utf-8")
    # evidence: every style's count; DD/MM is not ambiguous with a first number above 12
    sections = _form_sections(text)
    lbdat = _column_line(sections["labs"], "LBDAT")
    assert "guessed: DMY (DMY 4/4)" in lbdat
    assert "#   notes.docx: unsupported file type '.docx'" in text
    assert "cannot be told apart" not in lbdat           # 25/12: the day comes first
    # Subject, FolderSeq, InstanceRepeatNumber and RecordActive: the profile is suggested
    assert "# guessed: columns Subject, FolderSeq, InstanceRepeatNumber and RecordActive " \
        "look like the commercial-edc-csv profile" in text


def test_guess_date_counts_each_style() -> None:
    values = pd.Series(["2014-03-05", "2014-03-UN", "2014-02-30", "2014-03-05T10:30"],
                       dtype="string")
    counts = pd.Series([5, 2, 1, 2]).to_numpy()
    guess = guess_date(values, counts)
    shares = dict(guess.counts)
    # YMD reads the complete and the UN dates (7), ISO the complete date and the date-time
    # (7); 30 February is read by neither; a tie goes to YMD
    assert shares["YMD"] == 7 and shares["ISO"] == 7
    assert shares["DMY"] == 0 and shares["DATE9"] == 0
    assert guess.format == "YMD"
    assert guess.evidence().startswith("YMD 7/10, ISO 7/10")
    years = guess_date(pd.Series(["2019", "2020"], dtype="string"), pd.Series([3, 4]).to_numpy())
    assert years.format is None                       # bare years are numbers, not dates


# --------------------------------------------------------------------------- refusals

def test_existing_folder_needs_force(edc: Path, tmp_path: Path) -> None:
    out = tmp_path / "studies"
    assert _init("--raw", str(edc), "--study", "V", "--out", str(out))[0] == 0
    folder = out / "V"
    study_text = (folder / "study.yaml").read_text(encoding="utf-8")
    (folder / "study.yaml").write_text(study_text + "# my edit\n", encoding="utf-8")
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    (folder / "sdtm" / "old.yaml").write_text("stale", encoding="utf-8")

    code, output = _init("--raw", str(edc), "--study", "V", "--out", str(out))
    assert code == 2
    assert output.count("\n") == 1 and "already exists; give --force" in output
    assert (folder / "study.yaml").read_text(encoding="utf-8").endswith("# my edit\n")

    code, output = _init("--raw", str(edc), "--study", "V", "--out", str(out), "--force")
    assert code == 0, output
    assert (folder / "study.yaml").read_text(encoding="utf-8") == study_text
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert not (folder / "sdtm" / "old.yaml").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]   # no staging left


def test_a_folder_without_readable_files_is_refused(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "readme.pdf").write_bytes(b"%PDF")
    (raw / "empty.csv").write_bytes(b"")
    code, output = _init("--raw", str(raw), "--study", "NONE", "--out", str(tmp_path))
    assert code == 2
    assert output.count("\n") == 1
    assert output.startswith("cdiscmap: error: no readable raw file in")
    assert "empty.csv" in output
    assert not (tmp_path / "NONE").exists()


def test_bad_study_name_and_unknown_profile(edc: Path, tmp_path: Path) -> None:
    code, output = _init("--raw", str(edc), "--study", "../x", "--out", str(tmp_path))
    assert code == 2 and output.count("\n") == 1 and "--study '../x'" in output
    code, output = _init("--raw", str(edc), "--study", "P", "--out", str(tmp_path),
                         "--profile", "nope")
    assert code == 2 and output.count("\n") == 1 and "unknown profile 'nope'" in output
    assert not (tmp_path / "P").exists()


def test_profile_keys_are_not_repeated(edc: Path, tmp_path: Path) -> None:
    code, output = _init("--raw", str(edc), "--study", "PROF", "--out", str(tmp_path),
                         "--profile", "commercial-edc-csv")
    assert code == 0, output
    folder = tmp_path / "PROF"
    assert _check_spec(folder)[0] == 0
    text = (folder / "study.yaml").read_text(encoding="utf-8")
    sections = _form_sections(text)
    # vitals has the profile's key columns (unique): nothing is written over the profile
    assert "# keys: the profile's [Subject, FolderSeq, InstanceRepeatNumber, RecordPosition]" \
        in sections["vitals"]
    assert "subject_column" not in sections["vitals"]
    # labs lacks RecordActive: the profile's soft-delete filter is switched off there
    assert "filters: []" in sections["labs"]
    study = load_study(folder).study
    assert study.forms["labs"].keys == ["Subject", "VISIT"]
    assert study.forms["labs"].filters == []
    assert study.forms["vitals"].keys == ["Subject", "FolderSeq", "InstanceRepeatNumber",
                                          "RecordPosition"]


# --------------------------------------------------------------------------- ODM and Excel

def test_odm_item_groups_and_excel_sheets_are_forms(tmp_path: Path) -> None:
    from datetime import date

    from openpyxl import Workbook

    raw = tmp_path / "raw"
    raw.mkdir()
    odm = Path(__file__).parents[1] / "data" / "odm" / "ae_odm13.xml"
    (raw / "export.xml").write_bytes(odm.read_bytes())
    wb = Workbook()
    ws = wb.active
    ws.title = "Demography"
    ws.append(["SubjectKey", "SEX", "BRTHDAT"])
    ws.append(["001", "M", date(1970, 3, 5)])
    ws.append(["002", "F", date(1981, 11, 30)])
    cm = wb.create_sheet("ConMeds")
    cm.append(["SubjectKey", "CMSEQ", "CMTRT"])
    cm.append(["001", 1, "Aspirin"])
    cm.append(["001", 2, "Ibuprofen"])
    wb.save(raw / "crf.xlsx")

    code, out = _init("--raw", str(raw), "--study", "MIXED", "--out", str(tmp_path))
    assert code == 0, out
    study = load_study(tmp_path / "MIXED").study
    assert {n: (f.file, f.item_group, f.sheet) for n, f in study.forms.items()} == {
        "ae": ("export.xml", "IG.AE", None), "vs": ("export.xml", "IG.VS", None),
        "crf_demography": ("crf.xlsx", None, "Demography"),
        "crf_conmeds": ("crf.xlsx", None, "ConMeds")}
    draft = draft_study(raw, "MIXED")
    # Excel dates arrive as ISO text (ingest/excel.py); the ODM date item holds 2020-02
    assert draft.form("crf_demography").column("BRTHDAT").date.format == "YMD"   # a tie: YMD
    assert draft.form("ae").column("AESTDAT").date.format == "ISO"
    assert draft.form("crf_conmeds").keys == ["SubjectKey", "CMSEQ"]
    assert draft.dm_form == "crf_demography"          # one row per subject, named like DM
    domains = draft.domains()
    assert [f for f, _ in domains["CM"]] == ["crf_conmeds"]
    assert [f for f, _ in domains["VS"]] == ["vs"]    # not AE: the item group names the form
    assert [f for f, _ in domains["AE"]] == ["ae"]
    assert _check_spec(tmp_path / "MIXED")[0] == 0


# --------------------------------------------------------------------------- commercial EDC

@pytest.fixture(scope="module")
def imt_edc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("imtedc")
    return generate("imt-edc", root / "export", n_subjects=8, seed=3).raw_dir


def test_commercial_edc_export(imt_edc: Path, tmp_path: Path) -> None:
    # the truth is mappings/imt-edc/study.yaml (docs/raw-forms-imt-edc.md): DATETIME date
    # families, DATE9 on the imaging forms, RecordActive soft deletes, audit columns
    code, out = _init("--raw", str(imt_edc), "--study", "EDC", "--out", str(tmp_path))
    assert code == 0, out
    study = load_study(tmp_path / "EDC").study
    families = {n: f.date_families.format for n, f in study.forms.items()}
    assert families == {"enrol": "DATETIME", "ex": "DATETIME", "ae": "DATETIME",
                        "eos": "DATETIME", "tl": "DATE9", "ntl": "DATE9", "nl": "DATE9",
                        "resp": "DATE9"}
    for name, form in study.forms.items():
        assert form.subject_column == "Subject", name
        assert form.filters[0].drop_if.column == "RecordActive", name
        assert {"RecordID", "Created", "Updated"} <= set(form.drop_columns or []), name
        frame = read_form(name, imt_edc / form.file, imt_edc).frame
        active = frame.loc[frame["RecordActive"] != "0"]
        assert not active.duplicated(subset=form.keys).any(), name

    code, out = _init("--raw", str(imt_edc), "--study", "EDCP", "--out", str(tmp_path),
                      "--profile", "commercial-edc-csv")
    assert code == 0, out
    assert _check_spec(tmp_path / "EDCP")[0] == 0
    text = (tmp_path / "EDCP" / "study.yaml").read_text(encoding="utf-8")
    assert "\nprofile: commercial-edc-csv" in text
    # the profile's subject column, keys (unique on active rows), filters and DATETIME
    # families (which read the DATE9 dates too) are not written again
    for key in ("subject_column:", "\n    keys:", "filters:", "date_families:",
                "drop_columns:"):
        assert key not in text, key
    assert text.count("# keys: the profile's [Subject, FolderSeq, InstanceRepeatNumber, "
                      "RecordPosition] are unique here") == 8
