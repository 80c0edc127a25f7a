"""Nothing escapes --out, nothing is read from outside what the user named (issue 8 §3).

Each case drives the CLI (exit status and its one-line message naming file:line) on a copy of
the bundled crizotinib-basket study with study.yaml edited, and checks that nothing was written
outside --out and that no other file was touched or deleted.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cdiscmap.cli import main
from cdiscmap.emit.paths import safe_child
from cdiscmap.emit.xpt import XptColumn, write_xpt
from cdiscmap.errors import OutputError, SpecError
from cdiscmap.ingest import read_form
from cdiscmap.pipeline.run import default_study_dir
from cdiscmap.spec.yamlload import parse_yaml_text

SECRET = "TOPSECRET-7f3a9c"
FAST = 5.0   # seconds; the unguarded alias bomb took minutes and more than 1 GB


# 7 lines, 9 aliases each: 9**6 "lol"s once expanded
YAML_BOMB = "".join([
    'lol0: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n',
    "lol1: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n",
    "lol2: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
    "lol3: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
    "lol4: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
    "lol5: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
    "lol6: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
])


# --------------------------------------------------------------------------- helpers

@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def raw_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cdiscmap.synth import generate

    out = tmp_path_factory.mktemp("export")
    generate("crizotinib-basket", out, n_subjects=5, seed=1)
    return out / "raw"


def _study(tmp_path: Path, old: str | None = None, new: str = "", append: str = "",
           name: str = "study") -> Path:
    """A copy of the demo study with one exact text replacement in study.yaml."""
    folder = tmp_path / name
    shutil.copytree(default_study_dir(), folder)
    path = folder / "study.yaml"
    text = path.read_text(encoding="utf-8")
    if old is not None:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text + append, encoding="utf-8")
    return folder


def _line(folder: Path, needle: str, file: str = "study.yaml") -> int:
    """1-based line of the first line holding ``needle`` (found by plain text search)."""
    lines = (folder / file).read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, 1) if needle in text)


def _one_line_error(result) -> str:  # noqa: ANN001 - click's Result
    err = result.stderr.strip()
    assert err.startswith("cdiscmap: error: "), result.output
    assert "\n" not in err, err
    assert "internal error" not in err and "Traceback" not in result.output
    return err


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _check_spec(runner: CliRunner, folder: Path) -> str:
    result = runner.invoke(main, ["check-spec", str(folder)])
    assert result.exit_code == 2, result.output
    return _one_line_error(result)


# --------------------------------------------------------------------------- 1. STUDYID

@pytest.mark.parametrize("studyid", [
    '"../escape"', '"/tmp/elsewhere"', '"a/b"', '"a\\\\b"', '""', '"."', '".."', '".hidden"',
    '"A..B"', "X" * 65, '"CRZ BASKET"', '"-rf"',
])
def test_unsafe_studyid_is_refused_at_spec_load(runner: CliRunner, tmp_path: Path,
                                                studyid: str) -> None:
    folder = _study(tmp_path, "studyid: CRZBASKET\n", f"studyid: {studyid}\n")
    err = _check_spec(runner, folder)
    assert f"{folder / 'study.yaml'}:3 [studyid]" in err
    assert "names the output folder" in err


@pytest.mark.parametrize("studyid", ["CRZ-2024_v1.0", "X" * 64, "7"])
def test_plain_studyid_is_accepted(runner: CliRunner, tmp_path: Path, studyid: str) -> None:
    folder = _study(tmp_path, "studyid: CRZBASKET\n", f'studyid: "{studyid}"\n')
    result = runner.invoke(main, ["check-spec", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{studyid}: ")


def test_run_with_parent_studyid_writes_nothing(runner: CliRunner, tmp_path: Path,
                                                raw_export: Path) -> None:
    folder = _study(tmp_path, "studyid: CRZBASKET\n", "studyid: ../escape\n")
    out = tmp_path / "out"
    before = _tree(tmp_path)
    result = runner.invoke(main, ["run", str(folder), "--raw", str(raw_export),
                                  "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert f"{folder / 'study.yaml'}:3 [studyid]" in _one_line_error(result)
    assert not (tmp_path / "escape").exists()
    assert not out.exists()
    assert _tree(tmp_path) == before


def _victim(tmp_path: Path) -> Path:
    """Another package beside --out whose datasets a stale-file clean-up must never touch."""
    victim = tmp_path / "other-package"
    for rel, data in {"sdtm/dm.xpt": b"DM", "sdtm/qs.xpt": b"QS", "sdtm/qs.json": b"{}",
                      "adam/adsl.xpt": b"ADSL"}.items():
        (victim / rel).parent.mkdir(parents=True, exist_ok=True)
        (victim / rel).write_bytes(data)
    return victim


def test_run_with_absolute_studyid_deletes_nothing(runner: CliRunner, tmp_path: Path,
                                                   raw_export: Path) -> None:
    victim = _victim(tmp_path)
    folder = _study(tmp_path, "studyid: CRZBASKET\n", f'studyid: "{victim}"\n')
    before = _tree(victim)
    result = runner.invoke(main, ["run", str(folder), "--raw", str(raw_export),
                                  "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert f"{folder / 'study.yaml'}:3 [studyid]" in _one_line_error(result)
    assert _tree(victim) == before
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bad", ["../escape", "ABSOLUTE"])
def test_run_refuses_an_escaping_out_dir_even_past_the_spec_check(
        runner: CliRunner, tmp_path: Path, raw_export: Path, monkeypatch: pytest.MonkeyPatch,
        bad: str) -> None:
    """The second wall: a STUDYID that got past study.yaml validation (here forced in after
    it) still cannot put the output folder outside --out."""
    import cdiscmap.pipeline.run as run_module

    victim = _victim(tmp_path)
    studyid = str(victim) if bad == "ABSOLUTE" else bad
    checked = run_module.load_study_checked

    def forced(study_dir: Path, standards: object):  # noqa: ANN202
        loaded = checked(study_dir, standards)
        loaded.study = loaded.study.model_copy(update={"studyid": studyid})
        return loaded

    monkeypatch.setattr(run_module, "load_study_checked", forced)
    before = _tree(victim)
    out = tmp_path / "out"
    result = runner.invoke(main, ["run", str(default_study_dir()), "--raw", str(raw_export),
                                  "--out", str(out)])
    assert result.exit_code == 2, result.output
    err = _one_line_error(result)
    assert "outside" in err and repr(studyid) in err
    assert _tree(victim) == before
    assert not (tmp_path / "escape").exists()
    assert not out.exists()


@pytest.mark.parametrize("domain", ['"../../pwn"', "dm", "D/M", "X", "ABCDEFGHI", '"1A"'])
def test_listed_domain_must_be_a_dataset_name(runner: CliRunner, tmp_path: Path,
                                              domain: str) -> None:
    """A domain names sdtm/<domain>.yaml and <out>/<STUDYID>/sdtm/<domain>.xpt."""
    # The demo study's domain list grows with new seed domains (CM, MH, ... since 5bd82bf):
    # append to whatever flow list it has now instead of pinning its contents.
    text = (default_study_dir() / "study.yaml").read_text(encoding="utf-8")
    listed = next(line for line in text.splitlines() if line.startswith("domains: ["))
    assert listed.endswith("]"), listed
    folder = _study(tmp_path, listed, f"{listed[:-1]}, {domain}]")
    err = _check_spec(runner, folder)
    assert f"{folder / 'study.yaml'}:{_line(folder, 'domains:')} [domains]" in err
    assert "must be 2-8 capital letters or digits" in err


def test_safe_child(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert safe_child(root, "CRZBASKET") == root / "CRZBASKET"
    for name in ["../x", "..", ".", "", "a/b", "a\\b", str(outside), "C:x", "a\0b"]:
        with pytest.raises(OutputError, match="not a plain folder name"):
            safe_child(root, name)
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(OutputError, match="outside"):
        safe_child(root, "link")
    (root / "inner").mkdir()
    (root / "alias").symlink_to(root / "inner", target_is_directory=True)
    assert safe_child(root, "alias") == root / "alias"


# --------------------------------------------------------------------------- 2. raw form files

@pytest.mark.parametrize(("file", "reason"), [
    ("../enrol.csv", "leaves the raw folder"),
    ("raw/../../enrol.csv", "leaves the raw folder"),
    ("/etc/passwd", "absolute path"),
    ('"C:/export/enrol.csv"', "absolute path"),
    ("..\\\\enrol.csv", "not '\\'"),
    ('""', "not blank"),
])
def test_form_file_outside_raw_is_refused_at_spec_load(runner: CliRunner, tmp_path: Path,
                                                       file: str, reason: str) -> None:
    folder = _study(tmp_path, "{file: enrol.csv,", f"{{file: {file},")
    err = _check_spec(runner, folder)
    line = _line(folder, "  enrol:")
    assert f"{folder / 'study.yaml'}:{line} [forms.enrol.file]" in err
    assert reason in err


def test_form_in_a_subfolder_of_raw_is_accepted(runner: CliRunner, tmp_path: Path) -> None:
    folder = _study(tmp_path, "{file: enrol.csv,", "{file: 2024-05/enrol.csv,")
    assert runner.invoke(main, ["check-spec", str(folder)]).exit_code == 0


def test_symlink_out_of_raw_is_refused_at_read_time(runner: CliRunner, tmp_path: Path,
                                                    raw_export: Path) -> None:
    """study.yaml says ``enrol.csv``, but in the raw folder that is a link to a file outside
    it (here a copy of the real form, so the run would otherwise succeed)."""
    raw = tmp_path / "raw"
    shutil.copytree(raw_export, raw)
    outside = tmp_path / "private" / "enrol.csv"
    outside.parent.mkdir()
    shutil.move(raw / "enrol.csv", outside)
    (raw / "enrol.csv").symlink_to(outside)
    out = tmp_path / "out"
    result = runner.invoke(main, ["run", str(default_study_dir()), "--raw", str(raw),
                                  "--out", str(out)])
    assert result.exit_code == 2, result.output
    err = _one_line_error(result)
    assert f"raw form 'enrol': {raw / 'enrol.csv'} resolves outside the raw folder" in err
    assert not out.exists()


def test_raw_folder_reached_through_a_link_is_read(tmp_path: Path, raw_export: Path) -> None:
    link = tmp_path / "raw-link"
    link.symlink_to(raw_export, target_is_directory=True)
    form = read_form("enrol", link / "enrol.csv", root=link)
    assert form.n_rows == 5 and form.file == "enrol.csv"


# --------------------------------------------------------------------------- 3. YAML hardening

def test_yaml_alias_bomb_fails_fast(runner: CliRunner, tmp_path: Path) -> None:
    folder = _study(tmp_path, append=YAML_BOMB)
    first = len((default_study_dir() / "study.yaml").read_text(encoding="utf-8")
                .splitlines()) + 1
    started = time.perf_counter()
    err = _check_spec(runner, folder)
    assert time.perf_counter() - started < FAST
    # aliases copy in 10 (lol0) + 9*10 + 9*91 + 9*820 = 8289 values through line lol3; the first
    # *d on line lol4 adds 7381 more, past the 10000 limit
    assert f"{folder / 'study.yaml'}:{first + 4}: YAML aliases expand to more than 10000 " \
           "values (alias *d)" in err


@pytest.mark.parametrize(("old", "new", "message"), [
    ("protocol: CRZBASKET", "protocol: !!python/object:os.system {}",
     "YAML tag !!python/object:os.system is not allowed"),
    ("protocol: CRZBASKET", "protocol: !!python/name:os.system",
     "YAML tag !!python/name:os.system is not allowed"),
    ("protocol: CRZBASKET", "protocol: !!binary Q1JaQkFTS0VU", "YAML tag !!binary is not allowed"),
    ("protocol: CRZBASKET", "protocol: !foo CRZBASKET", "YAML tag !foo is not allowed"),
    ("protocol: CRZBASKET", 'protocol: !!int "x"', "cannot read 'x' as !!int"),
    ("protocol: CRZBASKET", "protocol: &p [*p]", "YAML alias *p refers to a value that "
                                                 "contains it"),
    ("protocol: CRZBASKET", "protocol: " + "[" * 70 + "]" * 70,
     "YAML nesting deeper than 64 levels"),
    ("protocol: CRZBASKET", "protocol: *nowhere",
     "YAML syntax error: found undefined alias 'nowhere'"),
    ('output_timestamp: "2026-01-01T00:00:00"', "output_timestamp: 2026-13-45",
     "cannot read '2026-13-45' as !!timestamp (month must be in 1..12)"),
])
def test_yaml_tags_and_structure_give_a_spec_error(runner: CliRunner, tmp_path: Path, old: str,
                                                   new: str, message: str) -> None:
    folder = _study(tmp_path, old, new)
    err = _check_spec(runner, folder)
    key = new.split(":", 1)[0]
    assert f"{folder / 'study.yaml'}:{_line(folder, key + ':')}: {message}" in err


def test_domain_specs_use_the_same_guarded_loader(runner: CliRunner, tmp_path: Path) -> None:
    folder = _study(tmp_path)
    dm = folder / "sdtm" / "dm.yaml"
    text = dm.read_text(encoding="utf-8")
    assert text.count("domain: DM\n") == 1
    dm.write_text(text.replace("domain: DM\n", "domain: !!python/object/apply:os.getcwd []\n"),
                  encoding="utf-8")
    err = _check_spec(runner, folder)
    line = _line(folder, "domain: !!python", "sdtm/dm.yaml")
    assert f"{dm}:{line}: YAML tag !!python/object/apply:os.getcwd is not allowed" in err


def test_more_than_100_aliases_are_refused(runner: CliRunner, tmp_path: Path) -> None:
    folder = _study(tmp_path, "protocol: CRZBASKET",
                    "protocol: &p CRZBASKET\nextra: [" + ", ".join(["*p"] * 101) + "]")
    err = _check_spec(runner, folder)
    assert f"{folder / 'study.yaml'}:6: more than 100 YAML aliases" in err


def test_yaml_file_over_10_mb_is_refused_unread(runner: CliRunner, tmp_path: Path) -> None:
    folder = _study(tmp_path, append="# " + "x" * (10 * 1024 * 1024) + "\n")
    err = _check_spec(runner, folder)
    assert f"{folder / 'study.yaml'}: file is 10.0 MB; a spec may be at most 10 MB" in err


def test_yaml_limits_keep_ordinary_yaml() -> None:
    # a few aliases, 64 levels, explicit !!str and a bare '=' (YAML 1.1 "value" tag) are fine
    text = ("base: &b {k: 1}\ncopy: *b\nop: =\nn: !!str 5\n"
            "deep: " + "[" * 63 + "]" * 63 + "\n")
    data = parse_yaml_text(text, "f.yaml").data
    assert data["copy"] == {"k": 1} and data["op"] == "=" and data["n"] == "5"
    with pytest.raises(SpecError, match=r"^f\.yaml:5: YAML nesting deeper than 64 levels$"):
        parse_yaml_text(text.replace("[" * 63 + "]" * 63, "[" * 64 + "]" * 64), "f.yaml")


def test_alias_bomb_in_specs_ct_fails_fast(runner: CliRunner, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from cdiscmap.standards.loader import specs_dir

    specs = tmp_path / "specs"
    shutil.copytree(specs_dir(), specs)
    bomb = specs / "ct" / "zz-bomb.yaml"
    bomb.write_text("standard: sponsor\nversion: '1'\ncodelists: []\n" + YAML_BOMB,
                    encoding="utf-8")
    study = default_study_dir()         # before the variable moves specs/ (and mappings/)
    monkeypatch.setenv("CDISCMAP_SPECS", str(specs))
    started = time.perf_counter()
    err = _check_spec(runner, study)
    assert time.perf_counter() - started < FAST
    assert f"{bomb}:" in err and "YAML aliases expand to more than 10000 values" in err


# --------------------------------------------------------------------------- 4. XML (define.xml)

def _define(doctype: str, label: str) -> str:
    items = "".join(
        f'<ItemDef OID="IT.DM.{n}" Name="{n}" DataType="text" Length="{length}">'
        f'<Description><TranslatedText xml:lang="en">{n}</TranslatedText></Description>'
        "</ItemDef>" for n, length in (("STUDYID", 9), ("DOMAIN", 2), ("USUBJID", 12)))
    refs = "".join(f'<ItemRef ItemOID="IT.DM.{n}" Mandatory="Yes"/>'
                   for n in ("STUDYID", "DOMAIN", "USUBJID"))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + doctype +
            '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" '
            'xmlns:def="http://www.cdisc.org/ns/def/v2.1" '
            'xmlns:xlink="http://www.w3.org/1999/xlink"><Study OID="S"><MetaDataVersion OID="M">'
            f'<ItemGroupDef OID="IG.DM" Name="DM" SASDatasetName="DM" Repeating="No">'
            f'<Description><TranslatedText xml:lang="en">{label}</TranslatedText></Description>'
            f'{refs}<def:leaf ID="LF.DM" xlink:href="dm.xpt"><def:title>dm.xpt</def:title>'
            f"</def:leaf></ItemGroupDef>{items}</MetaDataVersion></Study></ODM>\n")


def _package(tmp_path: Path, define: str) -> Path:
    folder = tmp_path / "package"
    folder.mkdir()
    frame = pd.DataFrame({"STUDYID": ["CRZBASKET"] * 2, "DOMAIN": ["DM"] * 2,
                          "USUBJID": ["CRZBASKET-01", "CRZBASKET-02"]})
    write_xpt(folder / "dm.xpt", frame, dataset_name="DM", dataset_label="Demographics",
              columns=[XptColumn(n, n, "char") for n in frame.columns])
    (folder / "define.xml").write_text(define, encoding="utf-8")
    return folder


def _no_secret_anywhere(result, *roots: Path) -> None:  # noqa: ANN001 - click's Result
    assert SECRET not in result.output
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path


def test_define_with_external_entity_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    doctype = f'<!DOCTYPE ODM [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
    folder = _package(tmp_path, _define(doctype, "&xxe;"))
    out = tmp_path / "report"
    result = runner.invoke(main, ["validate", str(folder), "--out", str(out)])
    assert result.exit_code == 2, result.output
    err = _one_line_error(result)
    assert f"{folder / 'define.xml'}: declares XML entities (xxe)" in err
    _no_secret_anywhere(result, folder, tmp_path / "report")


def test_define_external_dtd_is_not_loaded(runner: CliRunner, tmp_path: Path) -> None:
    """An external DTD declaring the entity is never fetched: the label stays unresolved, so
    the secret is in no finding (CMAP-DF0007 reports the define's label as it stands)."""
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak "{SECRET}">', encoding="utf-8")
    doctype = f'<!DOCTYPE ODM SYSTEM "{dtd.as_uri()}">\n'
    folder = _package(tmp_path, _define(doctype, "Demo &leak;graphics"))
    out = tmp_path / "report"
    result = runner.invoke(main, ["validate", str(folder), "--out", str(out),
                                  "--fail-on", "none"])
    assert result.exit_code == 0, result.output
    findings = (out / "findings.json").read_text(encoding="utf-8")
    assert "CMAP-DF0007" in findings            # the label was read without the entity's text
    _no_secret_anywhere(result, folder, out)


def test_define_billion_laughs_fails_fast(runner: CliRunner, tmp_path: Path) -> None:
    entities = '<!ENTITY lol0 "lol">\n' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10))
    folder = _package(tmp_path, _define(f"<!DOCTYPE ODM [\n{entities}]>\n", "&lol9;"))
    started = time.perf_counter()
    result = runner.invoke(main, ["validate", str(folder), "--out", str(tmp_path / "report")])
    assert time.perf_counter() - started < FAST
    assert result.exit_code == 2, result.output
    err = _one_line_error(result)
    assert f"{folder / 'define.xml'}:" in err
    assert os.path.getsize(folder / "define.xml") < 2000
