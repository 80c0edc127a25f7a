"""The mapping on two cores: one group of domains mapped by a forked child while this
process maps the other (sdtm/engine.py ``_map_study_forked``), exchanging the visit
calendar, ``from_domain`` sources and DM's reference dates half way.

Whatever the split, the mapped frames, findings (and their order), the forms' accounting and
the first error must be those of a serial mapping; a child that fails is replaced by a
serial mapping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import cdiscmap.forked as forked
from cdiscmap.errors import CdiscmapError
from cdiscmap.forked import fork_usable
from cdiscmap.pipeline.run import codelist_terms, study_standards
from cdiscmap.resources import resolve_study_dir
from cdiscmap.sdtm import engine
from cdiscmap.synth import generate

STUDY = resolve_study_dir(Path("crizotinib-basket"))
needs_fork = pytest.mark.skipif(not fork_usable(), reason="no second CPU or no fork here")

# groups that share no form (DM/DS/DD read enrol, ic, eos, death; TU/TR the lesion forms);
# DM stays in this process. DM reads EX and RS (from_domain): here, in the child, or both.
# With both here DM's subject stage runs while the child maps its rows (the last split).
SPLITS = [
    (["DM", "EX", "AE", "DS", "TU", "TR", "IE", "VS", "DD"], ["RS", "CM", "MH", "LB", "PR"]),
    (["DM", "DS", "RS", "LB", "DD"], ["EX", "AE", "TU", "TR", "CM", "MH", "IE", "VS", "PR"]),
    (["DM", "DS", "DD"], ["EX", "AE", "TU", "TR", "RS", "CM", "MH", "IE", "VS", "LB", "PR"]),
    (["DM", "EX", "DS", "RS", "DD"], ["AE", "TU", "TR", "CM", "MH", "IE", "VS", "LB", "PR"]),
]


@pytest.fixture(scope="module")
def study():
    standards, loaded = study_standards(STUDY)
    chars = {n: {v.name for v in ds.variables if v.data_type == "Char"}
             for n, ds in standards.datasets.items()}
    return loaded, codelist_terms(standards), chars


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("engine-forked")
    generate("crizotinib-basket", root / "export", n_subjects=120, seed=11)
    return root / "export" / "raw"


def _map(study, raw_dir: Path, split, monkeypatch) -> engine.SdtmResult:
    monkeypatch.setattr(engine, "_split_domains", lambda *_: split)
    loaded, terms, chars = study
    return engine.map_study(loaded, raw_dir, terms, chars)


def _same(one: engine.SdtmResult, other: engine.SdtmResult) -> None:
    assert list(one.domains) == list(other.domains) and list(one.supp) == list(other.supp)
    for name, frame in {**one.domains, **one.supp}.items():
        pd.testing.assert_frame_equal(frame, {**other.domains, **other.supp}[name],
                                      check_exact=True)
    assert one.findings.items == other.findings.items
    assert list(one.accounting.forms) == list(other.accounting.forms)
    for form, account in one.accounting.forms.items():
        theirs = other.accounting.forms[form]
        assert account.used.tolist() == theirs.used.tolist()
        assert account.reason.tolist() == theirs.reason.tolist()
        assert list(account.used_by.items()) == list(theirs.used_by.items())
    assert list(one.accounting.written.items()) == list(other.accounting.written.items())
    pd.testing.assert_frame_equal(one.accounting.drops(), other.accounting.drops())


@needs_fork
@pytest.mark.parametrize("split", SPLITS)
def test_forked_mapping_is_the_serial_one(study, raw_dir, monkeypatch, split):
    serial = _map(study, raw_dir, None, monkeypatch)
    assert serial.findings.items              # the demo export plants data problems
    assert "VISITNUM" in serial.domains["TR"]
    # unscheduled visits numbered from the calendar of both groups (TR with RS)
    assert serial.domains["TR"]["VISITNUM"].mod(1).round(2).gt(0).sum() == 5

    def no_serial(*_args, **_kwargs):
        raise AssertionError("mapped serially")

    monkeypatch.setattr(engine, "_map_study_serial", no_serial)
    _same(_map(study, raw_dir, split, monkeypatch), serial)


def test_subject_stage_runs_early_only_when_it_reads_domains_mapped_here(study):
    loaded = study[0]
    # DM's subject stage reads EX and RS (RFXSTDTC..., RFPENDTC), neither numbered by visitnum
    assert [engine._subject_stage_first(loaded, *split) for split in SPLITS] == \
        [False, False, False, True]


@needs_fork
def test_a_child_that_fails_is_replaced_by_a_serial_mapping(study, raw_dir, monkeypatch):
    serial = _map(study, raw_dir, None, monkeypatch)

    def broken(*_args, **_kwargs):
        raise RuntimeError("child broken")

    monkeypatch.setattr(engine, "_child_work", broken)
    calls = []
    mapped = engine._map_study_serial
    monkeypatch.setattr(engine, "_map_study_serial",
                        lambda *a, **k: calls.append(1) or mapped(*a, **k))
    _same(_map(study, raw_dir, SPLITS[0], monkeypatch), serial)
    assert calls == [1]


def _break(raw_dir: Path, tmp_path: Path, *files: str) -> Path:
    """A copy of the export whose ``files`` have an unbalanced quote (an InputDataError)."""
    out = tmp_path / "raw"
    out.mkdir()
    for f in raw_dir.iterdir():
        text = f.read_text()
        if f.name in files:
            lines = text.splitlines(keepends=True)
            lines[2] = '"' + lines[2]
            text = "".join(lines)
        (out / f.name).write_text(text)
    return out


def _error(study, raw: Path, split, monkeypatch) -> str:
    with pytest.raises(CdiscmapError) as caught:
        _map(study, raw, split, monkeypatch)
    return f"{type(caught.value).__name__}: {caught.value}"


@needs_fork
@pytest.mark.parametrize("split", SPLITS)
def test_the_first_error_in_study_order_is_raised_wherever_it_happened(
        study, raw_dir, tmp_path, monkeypatch, split):
    """CM comes before VS in study.yaml: CM's error is raised whichever process met which."""
    raw = _break(raw_dir, tmp_path, "cm.csv", "vs.csv")
    serial = _error(study, raw, None, monkeypatch)
    assert "cm.csv" in serial and "vs.csv" not in serial
    assert _error(study, raw, split, monkeypatch) == serial


@needs_fork
def test_an_error_only_in_this_processs_group_is_raised(study, raw_dir, tmp_path, monkeypatch):
    raw = _break(raw_dir, tmp_path, "vs.csv")
    serial = _error(study, raw, None, monkeypatch)
    assert "vs.csv" in serial
    assert _error(study, raw, SPLITS[0], monkeypatch) == serial      # VS is this process's


def _sized(tmp_path: Path, sizes: dict[str, int]) -> Path:
    """Empty (sparse) raw files of the given sizes, every other form's file empty."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for spec in study_standards(STUDY)[1].study.forms.values():
        (raw / spec.file).touch()
    for name, size in sizes.items():
        os.truncate(raw / name, size)
    return raw


def test_split_keeps_domains_sharing_forms_together_and_balances_costs(study, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setattr(forked, "fork_usable", lambda: True)
    # a variable costs as much as 1 MiB read; this process carries nothing more
    monkeypatch.setattr(engine, "_VARIABLE_BYTES", 1 << 20)
    monkeypatch.setattr(engine, "_PARENT_SHARE", 0.0)
    loaded = study[0]
    # planned variables (all blocks) of the demo study's domains
    variables = {"DM": 30, "EX": 17, "AE": 36, "DS": 42, "TU": 58, "TR": 80, "RS": 16,
                 "CM": 20, "MH": 10, "IE": 14, "VS": 50, "LB": 26, "DD": 10, "PR": 15}
    assert {d: sum(len(engine.plan_block(loaded, loaded.domains[d], i))
                   for i in range(len(loaded.domains[d].blocks)))
            for d in loaded.study.domains} == variables
    # only the lab form has bytes (100 MiB): costs in MiB are the variables, LB 126; DM, DS
    # and DD share forms (82, here), TU and TR too (138); 524 in all. EX and RS, which DM
    # reads (from_domain), stay here with it: 115 here, 409 to share. No share of 409 gives
    # 147 (262 on each side), the best gives 146 or 148: 263 on the costlier side (e.g. LB
    # and CM here, or TU, TR and MH); by bytes alone the child would have had LB alone
    raw = _sized(tmp_path, {"lb.csv": 100 << 20})
    parent, child = engine._split_domains(loaded, raw)
    cost = {**variables, "LB": 126}
    assert "DM" in parent and {"DS", "DD", "EX", "RS"} <= set(parent)
    assert {"TU", "TR"} <= set(parent) or {"TU", "TR"} <= set(child)
    assert sorted(parent + child) == sorted(variables)
    order = list(loaded.study.domains)
    assert parent == sorted(parent, key=order.index) and child == sorted(child, key=order.index)
    assert sorted([sum(cost[d] for d in parent), sum(cost[d] for d in child)]) == [261, 263]


def test_balanced_tries_every_split_or_goes_largest_first(monkeypatch):
    # 2 here; groups 3, 2, 1: child 3 + 1 against 2 + 2 (the best: 4 each)
    assert engine._balanced(2.0, [3.0, 2.0, 1.0]) == [True, False, True]
    # equal costs: the first best split in bit order, the first group to the child
    assert engine._balanced(0.0, [1.0, 1.0]) == [True, False]
    assert engine._balanced(5.0, []) == []
    # nothing to balance against a heavy side: everything to the child
    assert engine._balanced(10.0, [1.0, 2.0]) == [True, True]
    monkeypatch.setattr(engine, "_EXACT_GROUPS", 1)
    # largest first into the lighter side (the child on a tie): 3 child, 2 here, 1 here
    assert engine._balanced(0.0, [1.0, 3.0, 2.0]) == [False, True, False]


def test_no_split_for_a_small_export_or_without_a_second_cpu(study, tmp_path, monkeypatch):
    monkeypatch.setattr(forked, "fork_usable", lambda: True)
    raw = _sized(tmp_path, {"lb.csv": engine.FORK_MIN_BYTES - 1})
    assert engine._split_domains(study[0], raw) is None
    os.truncate(raw / "lb.csv", engine.FORK_MIN_BYTES)
    assert engine._split_domains(study[0], raw) is not None
    monkeypatch.setattr(forked, "fork_usable", lambda: False)
    assert engine._split_domains(study[0], raw) is None
