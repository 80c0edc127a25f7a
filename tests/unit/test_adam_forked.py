"""ADaM derived on two cores: once ADSL exists, some of the datasets that need only ADSL
(ADAE, ADEX, ADTR, ADQS) are derived — and in ``cdiscmap adam`` also checked and written — by a
forked child while this process does the others.

Whatever the split, the datasets, findings (and their order), methods, files and the first
error must be those of a serial derivation; a child that dies is replaced by the parent.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import cdiscmap.adam as adam
import cdiscmap.adam.adsl as adam_adsl
from cdiscmap.adam import derive_all, load_adam_settings, read_sdtm
from cdiscmap.adam.settings import DateSource
from cdiscmap.cli import main
from cdiscmap.errors import InputDataError, XptLimitError
from cdiscmap.findings import Findings
from cdiscmap.forked import fork_usable
from cdiscmap.pipeline import adam_step
from cdiscmap.resources import resolve_study_dir
from cdiscmap.standards import load_standards
from cdiscmap.synth import generate

STUDY = resolve_study_dir(Path("crizotinib-basket"))
needs_fork = pytest.mark.skipif(not fork_usable(), reason="no second CPU or no fork here")


@pytest.fixture(scope="module")
def sdtm_dir(tmp_path_factory) -> Path:
    """The SDTM of the demo study on a 12-subject export (run without ADaM)."""
    root = tmp_path_factory.mktemp("forked")
    generate("crizotinib-basket", root / "export", n_subjects=12, seed=5)
    done = CliRunner().invoke(main, ["run", "crizotinib-basket", "--raw",
                                     str(root / "export" / "raw"), "--out", str(root / "out"),
                                     "--no-adam", "--quiet", "--fail-on", "none"])
    assert done.exit_code == 0, done.output
    return root / "out" / "CRZBASKET" / "sdtm"


def _same(one: adam.AdamResult, other: adam.AdamResult) -> None:
    assert list(one.datasets) == list(other.datasets)
    for name, frame in one.datasets.items():
        pd.testing.assert_frame_equal(frame, other.datasets[name])
    assert one.findings == other.findings
    assert [(k, list(v.items())) for k, v in one.methods.items()] == \
        [(k, list(v.items())) for k, v in other.methods.items()]


@needs_fork
@pytest.mark.parametrize("fork", [("ADAE", "ADTR", "ADQS"), ("ADEX",), adam.ADSL_ONLY])
def test_forked_derivation_is_the_serial_one(sdtm_dir, fork):
    settings = load_adam_settings(STUDY)
    serial = derive_all(read_sdtm(sdtm_dir), settings)
    assert {"ADSL", "ADRS", "ADTTE", "ADAE", "ADEX", "ADTR"} <= set(serial.datasets)
    assert serial.findings                       # the demo export plants data problems
    _same(derive_all(read_sdtm(sdtm_dir), settings, fork=fork), serial)


def _failing(message: str):
    def derive(*_args, **_kwargs):
        raise InputDataError(message)
    return derive


@needs_fork
@pytest.mark.parametrize("fork", [(), ("ADAE",), ("ADEX",), ("ADAE", "ADEX")])
def test_the_first_error_in_derivation_order_is_raised(sdtm_dir, monkeypatch, fork):
    """ADAE comes before ADEX: its error is raised wherever each was derived."""
    monkeypatch.setitem(adam._DERIVE_ONLY_ADSL, "ADAE", _failing("AE broken"))
    monkeypatch.setitem(adam._DERIVE_ONLY_ADSL, "ADEX", _failing("EX broken"))
    with pytest.raises(InputDataError, match="^AE broken$"):
        derive_all(read_sdtm(sdtm_dir), load_adam_settings(STUDY), fork=fork)


@needs_fork
def test_a_child_that_dies_is_replaced_by_the_parent(sdtm_dir, monkeypatch):
    parent = os.getpid()
    real = adam._DERIVE_ONLY_ADSL["ADTR"]

    def dies_in_child(*args, **kwargs):
        if os.getpid() != parent:
            os._exit(9)
        return real(*args, **kwargs)

    settings = load_adam_settings(STUDY)
    serial = derive_all(read_sdtm(sdtm_dir), settings)
    monkeypatch.setitem(adam._DERIVE_ONLY_ADSL, "ADTR", dies_in_child)
    _same(derive_all(read_sdtm(sdtm_dir), settings, fork=("ADAE", "ADTR")), serial)


# --- cdiscmap adam: derived, checked and written on two cores --------------------------------
def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _command(sdtm_dir: Path, out: Path) -> adam_step.AdamOutcome:
    return adam_step.run_adam_command(sdtm_dir, STUDY, out)


@needs_fork
def test_adam_command_forked_writes_the_serial_files(sdtm_dir, tmp_path, monkeypatch):
    forked = _command(sdtm_dir, tmp_path / "forked")
    monkeypatch.setattr(adam_step, "FORKED", ())
    serial = _command(sdtm_dir, tmp_path / "serial")
    assert adam_step.FORKED == () and "ADAE" in adam_step.ADSL_ONLY
    assert _files(tmp_path / "forked") == _files(tmp_path / "serial")
    assert sorted(_files(tmp_path / "serial")) == [
        "adae.xpt", "adex.xpt", "adrs.xpt", "adsl.xpt", "adtr.xpt", "adtte.xpt",
        "findings.csv", "findings.json"]
    assert [p.name for p in forked.records] == [p.name for p in serial.records] == [
        "adsl.xpt", "adrs.xpt", "adtte.xpt", "adae.xpt", "adex.xpt", "adtr.xpt"]
    assert list(forked.records.values()) == list(serial.records.values())
    assert forked.findings.items == serial.findings.items
    # the checks that took the XPT plans' text codes found what checks on their own find
    alone = Findings()
    adam_step.derive_and_check(read_sdtm(sdtm_dir), STUDY, load_standards(), alone)
    assert serial.findings.items == alone.items


@needs_fork
def test_adam_command_child_killed_while_writing(sdtm_dir, tmp_path, monkeypatch):
    """The child dies half-way through writing ADTR: the parent derives, checks and writes the
    child's datasets itself; no temporary file of the child's is published."""
    serial = _command(sdtm_dir, tmp_path / "serial")
    parent = os.getpid()
    real = adam_step.write_planned

    def dies_in_child(planned, *args, **kwargs):
        if os.getpid() != parent and planned.plans[0][0] == "ADTR":
            (planned.folder / ".adtr.xpt.half.tmp").write_bytes(b"half")
            os._exit(9)
        return real(planned, *args, **kwargs)

    monkeypatch.setattr(adam_step, "write_planned", dies_in_child)
    again = _command(sdtm_dir, tmp_path / "again")
    assert _files(tmp_path / "again") == _files(tmp_path / "serial")
    assert again.findings.items == serial.findings.items


@needs_fork
def test_adam_command_derivation_error_before_a_sizing_error(sdtm_dir, tmp_path, monkeypatch):
    """A serial run derives everything before it sizes anything: the child's ADAE error wins
    over the parent's ADSL sizing error, and nothing is left behind, not even the new parent
    folders of --out."""
    real = adam_step.plan_datasets

    def adsl_too_long(datasets, *args, **kwargs):
        if "ADSL" in datasets:
            raise XptLimitError("ADSL not written as XPT v5: too long")
        return real(datasets, *args, **kwargs)

    monkeypatch.setattr(adam_step, "plan_datasets", adsl_too_long)
    out = tmp_path / "new" / "deeper" / "adam"
    with pytest.raises(XptLimitError, match="ADSL not written"):
        _command(sdtm_dir, out)
    monkeypatch.setitem(adam._DERIVE_ONLY_ADSL, "ADAE", _failing("AE broken"))
    for forked in (("ADAE", "ADTR"), ()):
        monkeypatch.setattr(adam_step, "FORKED", forked)
        with pytest.raises(InputDataError, match="^AE broken$"):
            _command(sdtm_dir, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_adam_command_derivation_error_before_an_unusable_folder(sdtm_dir, tmp_path,
                                                                  monkeypatch):
    """--out under a file: the staging folder cannot be made, yet the derivation's error is
    the one raised, as when the folder was made after deriving."""
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setitem(adam._DERIVE_ONLY_ADSL, "ADTR", _failing("TR broken"))
    with pytest.raises(InputDataError, match="^TR broken$"):
        _command(sdtm_dir, tmp_path / "file" / "adam")
    monkeypatch.undo()
    with pytest.raises(Exception, match="file") as raised:
        _command(sdtm_dir, tmp_path / "file" / "adam")
    assert not isinstance(raised.value, InputDataError)
    shutil.rmtree(tmp_path / "file", ignore_errors=True)

def _with_schema_problems(derive, variable: str, value: object):
    """The dataset with a record that lost its STUDYID and a bad ``value`` of ``variable``,
    which the schema checks find."""
    def derive_bad(*args, **kwargs):
        frame = derive(*args, **kwargs).copy()
        frame.loc[0, "STUDYID"] = pd.NA
        frame.loc[1, variable] = value
        return frame
    return derive_bad


@needs_fork
def test_adam_command_checks_with_the_plans_codes_find_the_same(sdtm_dir, tmp_path,
                                                                monkeypatch):
    monkeypatch.setitem(adam._DERIVE_ONLY_ADSL, "ADEX", _with_schema_problems(
        adam._DERIVE_ONLY_ADSL["ADEX"], "STUDYID", pd.NA))
    monkeypatch.setitem(adam._DERIVE_ONLY_ADSL, "ADAE", _with_schema_problems(
        adam._DERIVE_ONLY_ADSL["ADAE"], "TRTEMFL", "X"))
    outcome = _command(sdtm_dir, tmp_path / "adam")
    alone = Findings()
    adam_step.derive_and_check(read_sdtm(sdtm_dir), STUDY, load_standards(), alone)
    assert outcome.findings.items == alone.items
    schema = [(f.rule, f.dataset, f.variable) for f in alone if f.rule.startswith("CMAP-SD")]
    # a required variable empty (SD0002), a flag outside its codelist (SD0005): ADAE (in the
    # child) before ADEX (in the parent)
    assert schema == [("CMAP-SD0002", "ADAE", "STUDYID"), ("CMAP-SD0005", "ADAE", "TRTEMFL"),
                      ("CMAP-SD0002", "ADEX", "STUDYID")]


@pytest.mark.parametrize("forked", [("ADAE", "ADTR"), ()])
def test_adam_command_check_error_before_a_sizing_error(sdtm_dir, tmp_path, monkeypatch,
                                                        forked):
    """Datasets are sized before they are checked (the checks reuse the plans' codes), yet a
    check that fails on ADTTE still comes before ADSL's sizing error, as serially."""
    real_plan, real_check = adam_step.plan_datasets, adam_step.check_dataset

    def adsl_too_long(datasets, *args, **kwargs):
        if "ADSL" in datasets:
            raise XptLimitError("ADSL not written as XPT v5: too long")
        return real_plan(datasets, *args, **kwargs)

    def broken_on_adtte(frame, dataset, *args, **kwargs):
        if kwargs.get("dataset_name") == "ADTTE":
            raise RuntimeError("check bug")
        return real_check(frame, dataset, *args, **kwargs)

    monkeypatch.setattr(adam_step, "FORKED", forked)
    monkeypatch.setattr(adam_step, "plan_datasets", adsl_too_long)
    monkeypatch.setattr(adam_step, "check_dataset", broken_on_adtte)
    with pytest.raises(RuntimeError, match="check bug"):
        _command(sdtm_dir, tmp_path / "adam")
    assert list(tmp_path.iterdir()) == []


# --- LSTALVDT deferred until after the fork ---------------------------------------------------
def _adsl(sdtm_dir: Path, settings, *, defer: bool):
    stage = adam.derive_adsl_stage(read_sdtm(sdtm_dir), settings, defer_last_alive=defer)
    adam.complete_stage(stage, ("ADAE", "ADTR") if defer else ())
    return stage


def test_deferred_last_alive_lands_where_a_serial_adsl_has_it(sdtm_dir):
    settings = load_adam_settings(STUDY)
    serial = _adsl(sdtm_dir, settings, defer=False)
    later = adam.derive_adsl_stage(read_sdtm(sdtm_dir), settings, defer_last_alive=True)
    assert "LSTALVDT" not in later.adsl.adsl.columns and later.adsl.pending is not None
    assert "LSTALVDT" not in later.methods
    adam.complete_stage(later, ("ADAE", "ADTR"))      # AE and TR read for their dates only
    assert later.adsl.pending is None
    pd.testing.assert_frame_equal(later.adsl.adsl, serial.adsl.adsl)   # column order too
    assert later.adsl.adsl["LSTALVDT"].notna().any()
    assert later.findings == serial.findings
    assert list(later.methods.items()) == list(serial.methods.items())


def test_deferred_last_alive_sees_only_the_adsl_dates_made_before_it(sdtm_dir):
    """An ADSL date source made after LSTALVDT (EOSDT) is refused as serially, not read."""
    settings = load_adam_settings(STUDY).model_copy(deep=True)
    settings.adsl.last_alive_sources.append(DateSource(dataset="ADSL", date="EOSDT"))
    for defer in (False, True):
        with pytest.raises(InputDataError, match="LSTALVDT source ADSL.EOSDT: no such ADSL "
                                                 "date"):
            _adsl(sdtm_dir, settings, defer=defer)


def test_deferred_last_alive_error_comes_before_a_later_adsl_error(sdtm_dir, monkeypatch):
    from cdiscmap.adam import adsl as adsl_module

    settings = load_adam_settings(STUDY).model_copy(deep=True)
    settings.adsl.last_alive_sources.append(DateSource(dataset="ADSL", date="NODATE"))
    monkeypatch.setattr(adsl_module, "_end_of_study", _failing("end of study broken"))
    with pytest.raises(InputDataError, match="LSTALVDT source ADSL.NODATE"):
        adam.derive_adsl_stage(read_sdtm(sdtm_dir), settings, defer_last_alive=True)
    settings.adsl.last_alive_sources.pop()
    with pytest.raises(InputDataError, match="^end of study broken$"):
        adam.derive_adsl_stage(read_sdtm(sdtm_dir), settings, defer_last_alive=True)

class _Recording(dict):
    """SDTM frames that note which datasets are read."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.read: list[str] = []

    def __getitem__(self, name):
        self.read.append(name)
        return super().__getitem__(name)


def _bad_dates_sdtm(sdtm_dir: Path) -> dict[str, pd.DataFrame]:
    """The demo SDTM with a bad AE start date (row 0), a late AE end date (row 1: the
    subject's LSTALVDT, 2099-01-01) and a bad LB date (row 0): findings from sources of
    both processes, in the sources' order."""
    sdtm = dict(read_sdtm(sdtm_dir).items())
    ae, lb = sdtm["AE"].copy(), sdtm["LB"].copy()
    ae.loc[0, "AESTDTC"] = "2020-02-30"
    ae.loc[1, "AEENDTC"] = "2099-01-01"
    lb.loc[0, "LBDTC"] = "not a date"
    sdtm.update(AE=ae, LB=lb)
    return sdtm


def test_last_alive_sources_of_the_childs_datasets_come_from_the_child(sdtm_dir):
    """The LSTALVDT sources of AE and TR (read whole by the child's ADAE and ADTR, not by
    ADSL, unlike EX and TU) are computed from the child's stage; the parent reads neither
    dataset and ends with the serial ADSL, findings (AE's before LB's) and methods."""
    settings = load_adam_settings(STUDY)
    names = ("ADAE", "ADEX", "ADTR")
    positions = adam.last_alive_elsewhere(settings, names)
    sources = settings.adsl.last_alive_sources
    assert [sources[at].dataset for at in positions] == ["AE", "AE", "TR"]
    assert adam.last_alive_elsewhere(settings, ("ADQS",)) == []     # no QS source
    sdtm = _bad_dates_sdtm(sdtm_dir)
    serial = adam.derive_adsl_stage(sdtm, settings)
    later = adam.derive_adsl_stage(sdtm, settings, defer_last_alive=True)
    child = adam.adsl_only_stage(sdtm, settings, later.adsl.adsl.copy())
    parts = adam.last_alive_of(child, names)
    assert sorted(parts) == positions
    later.sdtm = recording = _Recording(sdtm)
    asked = []
    adam.complete_stage(later, names, lambda: asked.append(1) or parts)
    assert asked == [1] and not {"AE", "TR"} & set(recording.read)
    assert {"LB", "RS", "DS", "DM", "EX", "TU"} <= set(recording.read)
    pd.testing.assert_frame_equal(later.adsl.adsl, serial.adsl.adsl)
    assert later.findings == serial.findings
    assert list(later.methods.items()) == list(serial.methods.items())
    bad = [(f.dataset, f.variable) for f in serial.findings if f.rule == "CMAP-AD0001"]
    assert bad[:2] == [("AE", "AESTDTC"), ("LB", "LBDTC")]
    late = serial.adsl.adsl.set_index("USUBJID")["LSTALVDT"]
    assert late[sdtm["AE"].loc[1, "USUBJID"]] == pd.Timestamp("2099-01-01")


def test_last_alive_without_the_childs_parts_or_with_an_error_here_is_serial(sdtm_dir):
    """No parts from the child (it died, or a source failed there): every source is done
    here. A source here that fails raises the serial first error."""
    settings = load_adam_settings(STUDY)
    names = ("ADAE", "ADEX", "ADTR")
    sdtm = _bad_dates_sdtm(sdtm_dir)
    serial = adam.derive_adsl_stage(sdtm, settings)
    later = adam.derive_adsl_stage(sdtm, settings, defer_last_alive=True)
    adam.complete_stage(later, names, lambda: None)
    pd.testing.assert_frame_equal(later.adsl.adsl, serial.adsl.adsl)
    assert later.findings == serial.findings
    wrong = settings.model_copy(deep=True)
    wrong.adsl.last_alive_sources.insert(3, DateSource(dataset="ADSL", date="NODATE"))
    later = adam.derive_adsl_stage(sdtm, wrong, defer_last_alive=True)
    parts = adam.last_alive_of(adam.adsl_only_stage(sdtm, wrong, later.adsl.adsl), names)
    assert parts is not None and len(parts) == 3
    with pytest.raises(InputDataError, match="LSTALVDT source ADSL.NODATE"):
        adam.complete_stage(later, names, lambda: parts)


def test_last_alive_is_not_deferred_when_a_setting_names_it(sdtm_dir):
    settings = load_adam_settings(STUDY)
    assert not adam_adsl.last_alive_needed(settings)
    settings = settings.model_copy(
        update={"adtr": settings.adtr.model_copy(update={"reference_date": "LSTALVDT"})})
    assert adam_adsl.last_alive_needed(settings)
    stage = adam.derive_adsl_stage(read_sdtm(sdtm_dir), settings, defer_last_alive=True)
    assert stage.adsl.pending is None and "LSTALVDT" in stage.adsl.adsl.columns


def test_without_a_second_cpu_nothing_is_forked_nor_deferred(sdtm_dir, tmp_path, monkeypatch):
    import cdiscmap.forked as forked_module

    settings = load_adam_settings(STUDY)
    serial = derive_all(read_sdtm(sdtm_dir), settings)
    monkeypatch.setattr(forked_module, "fork_usable", lambda: False)
    monkeypatch.setattr(adam_step, "fork_usable", lambda: False)
    deferred = []
    real = adam.derive_adsl_stage

    def stage(*args, **kwargs):
        deferred.append(kwargs.get("defer_last_alive"))
        return real(*args, **kwargs)

    monkeypatch.setattr(adam, "derive_adsl_stage", stage)
    monkeypatch.setattr(adam_step, "derive_adsl_stage", stage)
    _same(derive_all(read_sdtm(sdtm_dir), settings, fork=adam.ADSL_ONLY), serial)
    one = _command(sdtm_dir, tmp_path / "one")
    assert deferred == [False, False]
    monkeypatch.setattr(adam_step, "FORKED", ())
    _command(sdtm_dir, tmp_path / "serial")
    assert _files(tmp_path / "one") == _files(tmp_path / "serial")
    assert list(one.records) == [tmp_path / "one" / f"{n.lower()}.xpt" for n in
                                 ("ADSL", "ADRS", "ADTTE", "ADAE", "ADEX", "ADTR")]


# --- the child forked before ADSL: it reads its SDTM meanwhile ----------------------------------
@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The datasets the XPT reader reads from now on, in order (names upper-case)."""
    import cdiscmap.checks.read as read_module

    read: list[str] = []
    real = read_module._read_one

    def recording(path, *rest):
        read.append(path.stem.upper())
        return real(path, *rest)

    monkeypatch.setattr(read_module, "_read_one", recording)
    return read


def test_read_ahead_reads_what_the_forked_datasets_read_whole(sdtm_dir, reads):
    read = reads
    folder = read_sdtm(sdtm_dir, lazy=True)
    adam.read_ahead(folder, ["ADAE"])               # ADAE reads AE and EX whole (LDOSEDTM)
    assert read == ["AE", "EX"]
    adam.read_ahead(folder, list(adam.ADSL_ONLY))   # nothing read twice; no QS in the demo
    assert read == ["AE", "EX", "TU", "TR"] and "QS" not in folder   # VS: ADEX's 4 variables
    adam.read_ahead({"AE": folder["AE"]}, ["ADAE"])  # frames in memory: nothing to do
    assert len(read) == 4


def test_adex_reads_only_its_four_vs_variables_from_an_unread_file(sdtm_dir, tmp_path,
                                                                   reads):
    """Doses in mg/m2 need the body surface area: ADEX decodes USUBJID, VSTESTCD, VSSTRESN
    and VSDTC of an unread VS file, not the whole file, and derives the ADEX of the whole
    frames (the demo's EX rewritten with EXDOSU mg/m2)."""
    import pyreadstat

    shutil.copytree(sdtm_dir, tmp_path / "sdtm")
    ex = read_sdtm(sdtm_dir)["EX"].drop(columns=["_SRCFILE", "_SRCROW"], errors="ignore")
    for name in ex.columns:
        if isinstance(ex[name].dtype, pd.StringDtype):
            ex[name] = ex[name].astype(object).where(ex[name].notna(), "")
    ex["EXDOSU"] = "mg/m2"
    pyreadstat.write_xport(ex, str(tmp_path / "sdtm" / "ex.xpt"), file_format_version=5,
                           table_name="EX")
    settings = load_adam_settings(STUDY)
    whole = dict(read_sdtm(tmp_path / "sdtm").items())      # every dataset read whole
    serial = adam.derive_adsl_only(adam.derive_adsl_stage(whole, settings), ["ADEX"])
    read = reads
    read.clear()                # (reading the whole package above is not the point)
    folder = read_sdtm(tmp_path / "sdtm", lazy=True)
    lazy = adam.derive_adsl_only(adam.derive_adsl_stage(folder, settings), ["ADEX"])
    assert "EX" in read and "VS" not in read
    pd.testing.assert_frame_equal(lazy.datasets["ADEX"], serial.datasets["ADEX"])
    assert lazy.findings == serial.findings and lazy.methods == serial.methods
    adex = lazy.datasets["ADEX"]
    assert "BSA (VS BSA, else Mosteller" in lazy.methods["ADEX"]["PARAMCD=CUMDOSE"]  # VS used
    assert adex.loc[adex["PARAMCD"].eq("CUMDOSE"), "AVAL"].notna().any()


def test_read_ahead_leaves_an_unreadable_dataset_to_its_derivation(sdtm_dir, tmp_path):
    shutil.copytree(sdtm_dir, tmp_path / "sdtm")
    (tmp_path / "sdtm" / "tr.xpt").write_bytes(b"not an xpt file at all")
    folder = read_sdtm(tmp_path / "sdtm", lazy=True)
    adam.read_ahead(folder, ["ADTR"])               # no error here ...
    settings = load_adam_settings(STUDY)
    with pytest.raises(InputDataError, match="tr.xpt"):   # ... but where ADTR reads TR
        derive_all(folder, settings, fork=("ADTR",))



def test_read_ahead_computes_adtr_sums_that_adtr_then_takes(sdtm_dir, monkeypatch):
    """With the settings, read_ahead also computes ADTR's target-lesion sums (they need no
    ADSL); ADTR derived afterwards on the same frames takes them instead of computing them
    again, and is the ADTR derived without them."""
    import cdiscmap.adam.adtr as adtr_module

    settings = load_adam_settings(STUDY)
    serial = adam.derive_adsl_only(adam.derive_adsl_stage(read_sdtm(sdtm_dir, lazy=True),
                                                          settings), ["ADTR"])
    computed = []
    real = adtr_module._sums

    def counting(tu, tr, settings):
        computed.append((id(tu), id(tr)))
        return real(tu, tr, settings)

    monkeypatch.setattr(adtr_module, "_sums", counting)
    folder = read_sdtm(sdtm_dir, lazy=True)
    adam.read_ahead(folder, ["ADAE"], settings)     # no ADTR among them: no sums
    assert computed == []
    adam.read_ahead(folder, ["ADTR"], settings)
    assert computed == [(id(folder["TU"]), id(folder["TR"]))]
    stage = adam.derive_adsl_stage(folder, settings)
    ahead = adam.derive_adsl_only(stage, ["ADTR"])
    assert len(computed) == 1 and not adtr_module._PREPARED      # taken, not computed again
    pd.testing.assert_frame_equal(ahead.datasets["ADTR"], serial.datasets["ADTR"])
    assert ahead.findings == serial.findings
    adam.derive_adsl_only(stage, ["ADTR"])         # taken once: the next ADTR computes them
    assert len(computed) == 2


def test_adtr_sums_prepared_for_other_frames_are_not_used(sdtm_dir):
    import cdiscmap.adam.adtr as adtr_module

    settings = load_adam_settings(STUDY)
    folder = read_sdtm(sdtm_dir, lazy=True)
    adtr_module.prepare_sums(folder, settings)
    try:
        fewer = {**dict(folder.items()), "TR": folder["TR"].iloc[:0]}   # another TR frame
        stage = adam.derive_adsl_stage(fewer, settings)
        assert adam.derive_adsl_only(stage, ["ADTR"]).datasets["ADTR"].empty
    finally:
        adtr_module._PREPARED.clear()


def test_adtr_sums_that_fail_ahead_fail_where_adtr_is_derived(sdtm_dir):
    import cdiscmap.adam.adtr as adtr_module

    settings = load_adam_settings(STUDY)
    folder = dict(read_sdtm(sdtm_dir, lazy=True).items())
    folder["TR"] = folder["TR"].drop(columns=["TRSTRESN"])
    adtr_module.prepare_sums(folder, settings)      # no error here, nothing kept ...
    assert not adtr_module._PREPARED
    stage = adam.derive_adsl_stage(folder, settings)
    with pytest.raises(Exception, match="TRSTRESN"):   # ... but where ADTR is derived
        adam.derive_adsl_only(stage, ["ADTR"])


@needs_fork
def test_adam_command_child_dead_before_adsl_is_replaced(sdtm_dir, tmp_path, monkeypatch):
    """The child dies while it reads ahead, before ADSL reaches it: the parent derives,
    checks and writes the child's datasets itself, the files those of a serial run."""
    monkeypatch.setattr(adam_step, "FORKED", ())
    serial = _command(sdtm_dir, tmp_path / "serial")
    monkeypatch.undo()
    parent = os.getpid()

    def dies_in_child(*_args):
        if os.getpid() != parent:
            os._exit(9)

    monkeypatch.setattr(adam_step, "read_ahead", dies_in_child)
    again = _command(sdtm_dir, tmp_path / "again")
    assert _files(tmp_path / "again") == _files(tmp_path / "serial")
    assert again.findings.items == serial.findings.items
    assert list(again.records.values()) == list(serial.records.values())


def test_last_alive_reads_each_source_dataset_once(sdtm_dir, monkeypatch):
    """AE gives two LSTALVDT sources (start and end dates): its variables are read from the
    file once, for both."""
    from cdiscmap.checks.read import SdtmFolder

    asked = []
    real = SdtmFolder.variables

    def counting(self, name, names, facts=None):
        asked.append((name, tuple(names)))
        return real(self, name, names, facts)

    monkeypatch.setattr(SdtmFolder, "variables", counting)
    settings = load_adam_settings(STUDY)
    assert [s.dataset for s in settings.adsl.last_alive_sources].count("AE") == 2
    stage = adam.derive_adsl_stage(read_sdtm(sdtm_dir, lazy=True), settings,
                                   defer_last_alive=True)
    asked.clear()
    adam.complete_stage(stage, ("ADAE", "ADTR"))
    names = [name for name, _ in asked]
    assert names.count("AE") == 1 and names.count("TR") == 1 and names.count("LB") == 1
    ae = dict(asked)["AE"]
    assert {"USUBJID", "AESTDTC", "AEENDTC", "AESEQ"} <= set(ae)
    serial = _adsl(sdtm_dir, settings, defer=False)
    pd.testing.assert_frame_equal(stage.adsl.adsl, serial.adsl.adsl)
    assert stage.findings == serial.findings


@needs_fork
def test_adam_command_without_a_process_to_fork_does_the_half_itself(sdtm_dir, tmp_path,
                                                                     monkeypatch):
    """fork() fails (EAGAIN: too many processes): the parent does the child's half, and the
    files are those of a serial run."""
    monkeypatch.setattr(adam_step, "FORKED", ())
    serial = _command(sdtm_dir, tmp_path / "serial")
    monkeypatch.undo()

    def no_fork(*_args, **_kwargs):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(adam_step, "ForkedPeer", no_fork)
    alone = _command(sdtm_dir, tmp_path / "alone")
    assert _files(tmp_path / "alone") == _files(tmp_path / "serial")
    assert alone.findings.items == serial.findings.items
