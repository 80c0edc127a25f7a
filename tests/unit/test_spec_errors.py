"""Spec mistakes and hostile inputs end with one line naming the file (and line), exit 2.

Each test feeds the exact input that used to crash (exit 3 "internal error"), pass silently,
or fail late with a message about something else, through the real CLI. Study folders are
copies of the bundled crizotinib-basket study with one YAML edit; the expected line number is
found in the edited text itself (where the edit was made), not from cdiscmap.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cdiscmap.cli import main
from cdiscmap.pipeline.run import default_study_dir
from cdiscmap.synth import generate


@pytest.fixture(scope="module")
def raw_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export")
    generate("crizotinib-basket", out, n_subjects=5, seed=1)
    return out / "raw"


def make_study(tmp_path: Path, file: str = "", old: str = "", new: str = "") -> tuple[Path, int]:
    """A copy of the bundled study with ``old`` replaced by ``new`` once in ``file``; returns
    the folder and the line where ``new`` starts."""
    folder = tmp_path / "study"
    shutil.copytree(default_study_dir(), folder)
    if not file:
        return folder, 0
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {file}"
    edited = text.replace(old, new)
    path.write_text(edited, encoding="utf-8")
    return folder, edited[:edited.index(new)].count("\n") + 1


def copy_raw(raw_export: Path, tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(raw_export, raw)
    return raw


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def run(study: Path, raw: Path, out: Path) -> Result:
    return cli("run", study, "--raw", raw, "--out", out, "-q", "--fail-on", "none")


def error_line(result: Result) -> str:
    """The one error line; fails unless the command stopped with exit 2 and no bug report."""
    assert "internal error" not in result.output, result.output
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if "error" in line.lower()]
    assert len(lines) == 1, result.output
    return lines[0]


# --------------------------------------------------------------------------- study.yaml regexes

def test_bad_visit_regex_is_refused_at_load_with_its_line(tmp_path: Path) -> None:
    study, line = make_study(tmp_path, "study.yaml", 'match: "unscheduled"',
                             'match: "unsch(eduled"')
    message = error_line(cli("check-spec", study))
    assert f"study.yaml:{line}" in message
    assert "invalid regular expression 'unsch(eduled'" in message
    assert "missing ), unterminated subpattern" in message


def test_visit_template_naming_a_missing_group(tmp_path: Path) -> None:
    # "week\s*(\d+)" has one group; visitnum "{2}" gave float('') inside the run (exit 3)
    study, line = make_study(tmp_path, "study.yaml", 'visitnum: "{1}"', 'visitnum: "{2}"')
    message = error_line(cli("check-spec", study))
    assert f"study.yaml:{line}" in message
    assert "uses group {2}" in message and "has 1 group(s)" in message


def test_visitnum_template_that_is_no_number(tmp_path: Path) -> None:
    study, line = make_study(tmp_path, "study.yaml", 'visitnum: "{1}"', 'visitnum: "W{1}"')
    message = error_line(cli("check-spec", study))
    assert f"study.yaml:{line}" in message and "not a number" in message


def test_bad_codelist_pattern_in_check_spec_and_run(tmp_path: Path, raw_export: Path) -> None:
    study, _ = make_study(tmp_path, "study.yaml", 'patterns: [["grade\\\\s*([1-5])"',
                          'patterns: [["grade\\\\s*([1-5]"')
    text = (study / "study.yaml").read_text(encoding="utf-8")
    line = text[:text.index("patterns: [")].count("\n") + 1
    for result in (cli("check-spec", study),
                   run(study, copy_raw(raw_export, tmp_path), tmp_path / "out")):
        message = error_line(result)
        assert f"study.yaml:{line}" in message and "[codelists.TOXGR.patterns]" in message
        assert "invalid regular expression" in message


def test_codelist_replacement_naming_a_missing_group(tmp_path: Path) -> None:
    # used to pass check-spec and the run: the bad template was never reached
    # the TOXGR pattern (study.yaml's LAT codelist has a "\\1" replacement too)
    study, line = make_study(tmp_path, "study.yaml", '"grade\\\\s*([1-5])", "\\\\1"]]',
                             '"grade\\\\s*([1-5])", "\\\\3"]]')
    message = error_line(cli("check-spec", study))
    assert f"study.yaml:{line}" in message
    assert "invalid replacement '\\\\3'" in message and "invalid group reference 3" in message


def test_bad_matches_regex_in_a_domain_filter(tmp_path: Path) -> None:
    study, line = make_study(
        tmp_path, "sdtm/ae.yaml", "        - drop_if: {column: AETERM, blank: true}\n",
        "        - drop_if: {column: AETERM, matches: \"[a-\"}\n")
    message = error_line(cli("check-spec", study))
    assert f"sdtm/ae.yaml:{line}" in message and "invalid regular expression '[a-'" in message


def test_bad_matches_regex_in_a_when_branch(tmp_path: Path) -> None:
    study, line = make_study(tmp_path, "sdtm/dm.yaml",
                             "          - if: {column: DTH_DTHDAT, blank: false}\n"
                             "            then: {constant: \"Y\"}\n",
                             "          - if: {column: DTH_DTHDAT, matches: \"*\"}\n"
                             "            then: {constant: \"Y\"}\n")
    message = error_line(cli("check-spec", study))
    assert "sdtm/dm.yaml:" in message and "invalid regular expression '*'" in message
    assert "nothing to repeat" in message


@pytest.mark.parametrize(("new", "expected"), [
    ('keys: [1, 2, 3, 4, 5]\n        columns: {LNKID: "TL1_ID",',
     "column template(s) ['LNKID'] have no {key}"),
    ('keys: [1, 2, 3, 3, 5]\n        columns: {LNKID: "TL{key}_ID",',
     "transpose keys must be distinct"),
])
def test_transpose_templates_and_keys(tmp_path: Path, new: str, expected: str) -> None:
    study, line = make_study(tmp_path, "sdtm/tr.yaml",
                             'keys: [1, 2, 3, 4, 5]\n        columns: {LNKID: "TL{key}_ID",', new)
    message = error_line(cli("check-spec", study))
    assert f"sdtm/tr.yaml:{line - 1}" in message and expected in message, message


# --------------------------------------------------------------------------- check-spec: plans

def test_shared_variable_needing_a_variable_no_block_derives(tmp_path: Path) -> None:
    study, line = make_study(tmp_path, "sdtm/ex.yaml", "EXSTDY: {study_day: {dtc: EXSTDTC}}",
                             "EXSTDY: {study_day: {dtc: EXSTDTM}}")
    message = error_line(cli("check-spec", study))
    assert f"sdtm/ex.yaml:{line}" in message
    assert "EX.EXSTDY uses variable EXSTDTM, which this block does not derive" in message


def test_cross_domain_cycle_is_named_in_check_spec_and_run(tmp_path: Path,
                                                           raw_export: Path) -> None:
    # DM.RFXSTDTC = min EX.EXSTDTC; making EX.EXSTDTC come from DM.RFXSTDTC closes a loop. The
    # run used to say only "EX has no variable EXSTDTC".
    study, ex_line = make_study(
        tmp_path, "sdtm/ex.yaml", "EXSTDTC: {iso8601: {date: EXSTDAT, format: DMY}}",
        "EXSTDTC: {from_domain: {domain: DM, variable: RFXSTDTC, agg: min}}")
    dm_text = (study / "sdtm/dm.yaml").read_text(encoding="utf-8")
    dm_line = dm_text[:dm_text.index("      RFXSTDTC:")].count("\n") + 1
    for result in (cli("check-spec", study),
                   run(study, copy_raw(raw_export, tmp_path), tmp_path / "out")):
        message = error_line(result)
        assert "cross-domain derivation cycle: DM.RFXSTDTC" in message
        assert f"sdtm/dm.yaml:{dm_line}" in message and f"sdtm/ex.yaml:{ex_line}" in message
        assert "has no variable" not in message


def test_from_domain_of_a_later_stage_variable_names_why(tmp_path: Path) -> None:
    # EX.EXSTDY is a study day: it needs DM's reference dates, which DM derives from EX
    study, line = make_study(tmp_path, "sdtm/dm.yaml",
                             "from_domain: {domain: EX, variable: EXENDTC, agg: max, "
                             "open_end: start}",
                             "from_domain: {domain: EX, variable: EXSTDY, agg: max}")
    message = error_line(cli("check-spec", study))
    assert "cross-domain derivation cycle: DM.RFXENDTC" in message
    assert "EX.EXSTDY" in message and "study_day needs DM reference dates" in message


def test_from_domain_of_an_underived_variable(tmp_path: Path) -> None:
    study, line = make_study(tmp_path, "sdtm/dm.yaml",
                             "from_domain: {domain: EX, variable: EXENDTC, agg: max, "
                             "open_end: start}",
                             "from_domain: {domain: EX, variable: EXENDTM, agg: max}")
    message = error_line(cli("check-spec", study))
    assert "DM.RFXENDTC reads EX.EXENDTM (from_domain), which sdtm/ex.yaml does not derive" \
        in message


def test_study_day_needs_dm_reference_start(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path, "sdtm/dm.yaml", "      RFSTDTC:\n        copy: RFXSTDTC\n",
                          "      RFXXDTC:\n        copy: RFXSTDTC\n")
    text = (study / "sdtm/dm.yaml").read_text(encoding="utf-8")
    (study / "sdtm/dm.yaml").write_text(text.replace("      RFXXDTC:\n        copy: RFXSTDTC\n"
                                                     "        comment: Study rule - reference "
                                                     "start is the first dose of crizotinib.\n",
                                                     ""), encoding="utf-8")
    ex = (study / "sdtm/ex.yaml").read_text(encoding="utf-8")
    line = ex[:ex.index("  EXSTDY:")].count("\n") + 1
    message = error_line(cli("check-spec", study))
    assert f"sdtm/ex.yaml:{line}" in message
    assert "EX.EXSTDY needs DM.RFSTDTC (reference dates), which DM does not derive" in message


def test_unknown_value_level_codelist(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    specs = sorted((study / "sdtm").glob("*.yaml"))
    target = next(p for p in specs if "codelist_overrides:" in p.read_text(encoding="utf-8"))
    text = target.read_text(encoding="utf-8")
    head, _, tail = text.partition("codelist_overrides:")
    edited = head + "codelist_overrides:\n  XXTEST: NOSUCHCL\n" + tail.split("\n", 1)[1]
    target.write_text(edited, encoding="utf-8")
    line = edited[:edited.index("  XXTEST: NOSUCHCL")].count("\n") + 1
    message = error_line(cli("check-spec", study))
    assert f"{target.name}:{line}" in message and "codelist 'NOSUCHCL' is not in specs/ct" \
        in message


# --------------------------------------------------------------------------- ADaM settings

def test_unknown_adam_key_fails_check_spec(tmp_path: Path) -> None:
    study, line = make_study(tmp_path, "adam/adrs.yaml",
                             "        rule: status\n        responses: [CR, PR]\n",
                             "        rule: status\n        respones: [CR, PR]\n")
    message = error_line(cli("check-spec", study))
    assert f"adam/adrs.yaml:{line + 1}" in message and "unknown key 'respones'" in message


AGE_GROUPS = '''age_groups:
  - {label: "<18", high: 17.999}
  - {label: "18-64", low: 18, high: 64.999}
  - {label: ">=65", low: 65}
'''


@pytest.mark.parametrize(("groups", "item", "expected"), [
    # low > high: AGEGR1 was blank for every subject aged 18-64, with exit 0
    ('  - {label: "<18", high: 17.999}\n  - {label: "18-64", low: 64.999, high: 18}\n'
     '  - {label: ">=65", low: 65}\n', 2, "age group '18-64': low 64.999 is above high 18"),
    # overlap: 60-64 went silently to the first group
    ('  - {label: "<65", high: 64.999}\n  - {label: ">=60", low: 60}\n', 0,
     "age groups '<65' (up to 64.999) and '>=60' (from 60) overlap"),
    # a whole year in no group
    ('  - {label: "<18", high: 17}\n  - {label: ">=20", low: 20}\n', 0,
     "age 18 falls between age groups '<18' (up to 17) and '>=20' (from 20)"),
    ('  - {label: "a", high: 17}\n  - {label: "b"}\n', 0, "overlap (only the first group"),
    ('  - {label: "x", high: 17}\n  - {label: "x", low: 18}\n', 0, "age group labels repeat"),
])
def test_age_groups_are_checked(tmp_path: Path, groups: str, item: int, expected: str) -> None:
    study, line = make_study(tmp_path, "adam/adsl.yaml", AGE_GROUPS, "age_groups:\n" + groups)
    message = error_line(cli("check-spec", study))
    assert f"adam/adsl.yaml:{line + item}" in message, message
    assert expected in message


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("        window_before: 7\n", "        window_before: -7\n",
     "greater than or equal to 0"),
    ("        weeks: 16\n", "        weeks: 0\n", "greater than 0"),
    ("confirmation: {min_days: 28,", "confirmation: {min_days: -1,",
     "greater than or equal to 1"),
    ("sd_min_days: 42 ", "sd_min_days: -42 ", "greater than or equal to 0"),
    ("      - paramcd: DCR16W\n", "      - paramcd: DCR8W\n", "PARAMCD values repeat"),
    ("        responses: [CR, PR]\n", "        responses: [CR, PRR]\n",
     "landmark RSP8W: responses ['PRR'] are not in aval_map"),
])
def test_invalid_adrs_settings(tmp_path: Path, old: str, new: str, expected: str) -> None:
    study, line = make_study(tmp_path, "adam/adrs.yaml", old, new)
    message = error_line(cli("check-spec", study))
    assert "adam/adrs.yaml:" in message and expected in message, message


def test_censor_codes_must_differ(tmp_path: Path) -> None:
    study, line = make_study(tmp_path, "adam/adtte.yaml", "parameters:\n",
                             "cnsr: {last_assessment: 1, start: 1}\nparameters:\n")
    message = error_line(cli("check-spec", study))
    assert f"adam/adtte.yaml:{line}" in message and "CNSR codes must differ" in message


def test_confirmed_needs_a_response_start(tmp_path: Path) -> None:
    ttp = ("    start: ENRLDT\n    events:\n      - {dataset: ADRS, where: {AVALC: PD}, date: ADT, "
           "description: DISEASE PROGRESSION}\n    censors: *adequate\n")   # TTP (issue 11 §2)
    study, line = make_study(tmp_path, "adam/adtte.yaml", ttp,
                             ttp.replace("ENRLDT\n", "ENRLDT\n    confirmed: true\n"))
    message = error_line(cli("check-spec", study))
    assert "adam/adtte.yaml:" in message
    assert "TTP: confirmed applies only to start RESPONSE" in message


def test_adequate_responses_must_be_known(tmp_path: Path) -> None:
    study, line = make_study(tmp_path, "adam/adtte.yaml", "parameters:\n",
                             "adequate_responses: [CR, PR, SDD]\nparameters:\n")
    message = error_line(cli("check-spec", study))
    assert f"adam/adtte.yaml:{line}" in message
    assert "responses ['SDD'] are not in the ADRS aval_map" in message


# --------------------------------------------------------------------------- raw data

def test_no_subjects_in_the_raw_demographics(tmp_path: Path, raw_export: Path) -> None:
    study, _ = make_study(tmp_path)
    raw = copy_raw(raw_export, tmp_path)
    enrol = raw / "enrol.csv"
    enrol.write_text(enrol.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    message = error_line(run(study, raw, tmp_path / "out"))
    assert "no subjects: DM has no records (enrol.csv has no data rows)" in message


def test_every_subject_dropped(tmp_path: Path, raw_export: Path) -> None:
    study, _ = make_study(tmp_path, "sdtm/dm.yaml", "      form: enrol\n",
                          "      form: enrol\n      filters:\n"
                          "        - drop_if: {column: SUBJECT, blank: false}\n"
                          "          reason: screen failure\n")
    message = error_line(run(study, copy_raw(raw_export, tmp_path), tmp_path / "out"))
    assert "no subjects: DM has no records (all 5 rows of enrol.csv were dropped: screen " \
           "failure [DM/registered subjects] (5))" in message


def _set_first_value(path: Path, column: str, value: str) -> None:
    import csv

    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][rows[0].index(column)] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_text_needing_more_than_99_supp_records(tmp_path: Path, raw_export: Path) -> None:
    # 25,000 characters would have been 125 QNAMs AETERM1..AETERM124 (9+ characters)
    study, _ = make_study(tmp_path)
    raw = copy_raw(raw_export, tmp_path)
    _set_first_value(raw / "ae.csv", "AETERM", "nausea " * 3572)
    message = error_line(run(study, raw, tmp_path / "out"))
    assert "AE.AETERM: text of 25003 characters at ae.csv row 1" in message
    assert "more than 99 SUPPAE continuation records" in message


def test_seven_character_variable_allows_nine_parts(tmp_path: Path, raw_export: Path) -> None:
    # AEDECOD1..AEDECOD9 fit in 8 characters, AEDECOD10 does not. Eleven 150-letter words
    # (1,660 characters) pass the length bound but need 11 segments: 200-byte head + 10.
    study, _ = make_study(tmp_path)
    raw = copy_raw(raw_export, tmp_path)
    _set_first_value(raw / "ae.csv", "AEPT", " ".join(["x" * 150] * 11))
    message = error_line(run(study, raw, tmp_path / "out"))
    assert "AE.AEDECOD: text at ae.csv row 1 would need more than 9 SUPPAE continuation" \
        in message


# --------------------------------------------------------------------------- outputs

def test_out_is_a_file(tmp_path: Path, raw_export: Path) -> None:
    study, _ = make_study(tmp_path)
    blocker = tmp_path / "out"
    blocker.write_text("not a folder", encoding="utf-8")
    result = run(study, copy_raw(raw_export, tmp_path), blocker)
    assert result.exit_code == 2 and "internal error" not in result.output
    assert "is a file" in result.output and "out" in result.output


def test_study_folder_under_out_is_a_file(tmp_path: Path, raw_export: Path) -> None:
    study, _ = make_study(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "CRZBASKET").write_text("not a folder", encoding="utf-8")
    message = error_line(run(study, copy_raw(raw_export, tmp_path), out))
    assert "CRZBASKET" in message and "file" in message
    assert (out / "CRZBASKET").read_text(encoding="utf-8") == "not a folder"


def test_read_only_out(tmp_path: Path, raw_export: Path) -> None:
    study, _ = make_study(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        if os.access(out, os.W_OK):
            pytest.skip("permission bits are not enforced for this user (root): a 0o555 "
                        "folder stays writable, so there is no read-only --out to test")
        message = error_line(run(study, copy_raw(raw_export, tmp_path), out))
        assert "out" in message
    finally:
        out.chmod(0o755)


def test_deeply_nested_json_given_to_validate(tmp_path: Path) -> None:
    folder = tmp_path / "package"
    folder.mkdir()
    depth = 100_000
    (folder / "dm.json").write_text("[" * depth + "]" * depth, encoding="utf-8")
    result = cli("validate", folder, "--out", tmp_path / "report")
    assert "internal error" not in result.output and "RecursionError" not in result.output
    assert result.exit_code in (1, 2), result.output
    report = (tmp_path / "report" / "findings.json").read_text(encoding="utf-8")
    assert "dm.json: JSON nested too deeply to be a Dataset-JSON file" in report


# --------------------------------------------------------------------------- cdiscmap adam

@pytest.fixture(scope="module")
def sdtm_csv(tmp_path_factory: pytest.TempPathFactory, raw_export: Path) -> Path:
    """The SDTM of the 5-subject export, as CSV files (what another tool might hand over).

    Read with pyreadstat: pandas' read_sas raises StopIteration on a valid zero-record XPT,
    and IE is empty here (it holds unmet criteria only; none of the 5 subjects has one)."""
    import pyreadstat

    work = tmp_path_factory.mktemp("sdtm")
    result = run(default_study_dir(), raw_export, work / "out")
    assert result.exit_code == 0, result.output
    folder = work / "csv"
    folder.mkdir()
    for xpt in (work / "out" / "CRZBASKET" / "sdtm").glob("*.xpt"):
        frame, _ = pyreadstat.read_xport(str(xpt), encoding="utf-8")
        frame.to_csv(folder / f"{xpt.stem}.csv", index=False)
    return folder


def adam_on(sdtm: Path, tmp_path: Path, dataset: str, edit) -> Result:
    import pandas as pd

    folder = tmp_path / "sdtm"
    shutil.copytree(sdtm, folder)
    path = folder / f"{dataset}.csv"
    edit(pd.read_csv(path, dtype=str)).to_csv(path, index=False)
    return cli("adam", "--sdtm", folder, "--study", default_study_dir(), "--out",
               tmp_path / "adam", "-q", "--fail-on", "none")


def test_adam_on_a_dm_without_records(sdtm_csv: Path, tmp_path: Path) -> None:
    # used to be "internal error: ValueError: No objects to concatenate"
    message = error_line(adam_on(sdtm_csv, tmp_path, "dm", lambda dm: dm.iloc[0:0]))
    assert "no subjects: SDTM DM has no record with a USUBJID" in message


def test_adam_on_a_text_age(sdtm_csv: Path, tmp_path: Path) -> None:
    def edit(dm):
        dm.loc[dm.index[1], "AGE"] = "unknown"
        return dm
    message = error_line(adam_on(sdtm_csv, tmp_path, "dm", edit))
    assert "SDTM DM.AGE is numeric (SDTMIG 3.4 DM) but holds 'unknown'" in message
    assert "1 such value(s)" in message


def test_adam_dates_outside_the_nanosecond_range_are_invalid_not_wrapped() -> None:
    # datetime64[ns] ends 2262-04-11: 9999-12-31 used to become 1816-03-29 (silent overflow)
    import pandas as pd

    from cdiscmap.adam.dates import complete_dates

    got = complete_dates(pd.Series(["9999-12-31", "2261-12-31", "0001-01-01", "1678-01-01"],
                                   dtype="string"))
    assert got.invalid.tolist() == [True, False, True, False]
    assert [None if pd.isna(d) else d.strftime("%Y-%m-%d") for d in got.dates] == \
        [None, "2261-12-31", None, "1678-01-01"]
