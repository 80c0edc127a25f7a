"""Large tables plan half of their text columns in a forked child: same plan, same bytes, same
problems in the same order as a serial pass; a failing child changes nothing."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd
import pytest

import cdiscmap.emit.xpt as xpt
from cdiscmap.emit.xpt import XptColumn, check_xpt_limits, write_xpt
from cdiscmap.errors import XptLimitError
from cdiscmap.forked import ForkedCall

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

N_ROWS = 3000


def per_cell(values: list[str | None]) -> pd.Series:
    """A "string" column whose every cell is its own str object (as after str.cat)."""
    return pd.Series(pd.array([None if v is None else "".join(list(v)) for v in values],
                              dtype="string"))


def table() -> tuple[pd.DataFrame, list[XptColumn]]:
    rng = np.random.default_rng(7)
    words = np.array(["PRESENT", "ABSENT", "NOT DONE", "X", ""], dtype=object)
    frame = pd.DataFrame({
        "STUDYID": per_cell(["S1"] * N_ROWS),
        "USUBJID": per_cell([f"S1-{i // 7:04d}" for i in range(N_ROWS)]),
        "TRSEQ": np.arange(1.0, N_ROWS + 1),
        "TRORRES": per_cell([None if i % 11 == 0 else str(w)
                             for i, w in enumerate(words[rng.integers(0, 5, N_ROWS)])]),
        "TRDTC": per_cell([f"2020-01-{1 + i % 28:02d}" for i in range(N_ROWS)]),
        "TRSTRESN": np.where(np.arange(N_ROWS) % 5 == 0, np.nan, np.arange(N_ROWS) / 4),
        "EPOCH": pd.Series(np.array(["SCREENING", "TREATMENT"], dtype=object)[
            np.arange(N_ROWS) // 2000], dtype="string"),     # shared objects
    })
    columns = [XptColumn("STUDYID", "Study", "char"), XptColumn("USUBJID", "Subject", "char"),
               XptColumn("TRSEQ", "Sequence", "num"),
               XptColumn("TRORRES", "Result", "char", length=12),
               XptColumn("TRDTC", "Date", "char"), XptColumn("TRSTRESN", "Number", "num"),
               XptColumn("EPOCH", "Epoch", "char")]
    return frame, columns


def forks(monkeypatch: pytest.MonkeyPatch, on: bool) -> list[int]:
    """Force forked planning on (any size) or off; returns the list of forks made."""
    made: list[int] = []
    monkeypatch.setattr(xpt, "_FORK_MIN_PER_CELL", 0 if on else 10 ** 18)
    monkeypatch.setattr(xpt, "fork_usable", lambda: True)
    monkeypatch.setattr(xpt, "_spare_core", lambda: True)

    def counting(fn, **kwargs):
        made.append(1)
        return ForkedCall(fn, fork=True, **kwargs)

    monkeypatch.setattr(xpt, "ForkedCall", counting)
    return made


def test_split_gives_the_child_about_half_of_the_work():
    assert xpt._child_share([5, 5, 0, 5, 1, 5]) == [1, 5]       # 10 each side, child 11.5
    assert xpt._child_share([0, 0]) == []                       # numbers stay in the parent
    assert xpt._child_share([9, 1, 1]) == [1, 2]


def test_forked_plan_writes_the_same_bytes(tmp_path, monkeypatch):
    frame, columns = table()
    made = forks(monkeypatch, on=False)
    serial = write_xpt(tmp_path / "serial.xpt", frame, dataset_name="TR", dataset_label="TR",
                       columns=columns)
    assert made == []
    made = forks(monkeypatch, on=True)
    forked = write_xpt(tmp_path / "forked.xpt", frame, dataset_name="TR", dataset_label="TR",
                       columns=columns)
    assert made == [1]
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (serial.path, forked.path)]
    assert digest[0] == digest[1] and serial.lengths == forked.lengths
    assert forked.lengths == {"STUDYID": 2, "USUBJID": 7, "TRSEQ": 8, "TRORRES": 12,
                              "TRDTC": 10, "TRSTRESN": 8, "EPOCH": 9}
    plan = check_xpt_limits(frame, "TR", "TR", columns)
    by_name = {p.column.name: p for p in plan.plans}
    assert by_name["TRDTC"].uniques.tolist() == [f"2020-01-{d:02d}" for d in range(1, 29)]
    assert by_name["TRDTC"].codes.tolist() == [i % 28 for i in range(N_ROWS)]
    assert by_name["USUBJID"].codes.tolist() == [i // 7 for i in range(N_ROWS)]


def problem_frame() -> tuple[pd.DataFrame, list[XptColumn]]:
    frame, columns = table()
    frame.loc[5, "TRORRES"] = "NOT DONE\x00XXXXX"   # NUL, and over the declared 12
    frame.loc[9, "TRDTC"] = "2020-01-É"                       # not ASCII
    frame.loc[2, "STUDYID"] = "S" * 201                        # over 200 bytes
    return frame, columns


def test_forked_problems_are_the_serial_ones_in_column_order(monkeypatch):
    frame, columns = problem_frame()
    forks(monkeypatch, on=False)
    with pytest.raises(XptLimitError) as serial:
        check_xpt_limits(frame, "TR", "TR", columns)
    made = forks(monkeypatch, on=True)
    with pytest.raises(XptLimitError) as forked:
        check_xpt_limits(frame, "TR", "TR", columns)
    assert made == [1]
    assert str(forked.value) == str(serial.value)
    lines = str(serial.value).splitlines()
    assert lines[0] == "TR not written as XPT v5: 4 limit violations; fix the data or the metadata:"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  - TR.STUDYID", "  - TR.TRORRES", "  - TR.TRORRES", "  - TR.TRDTC"]


def test_a_failing_child_changes_nothing(tmp_path, monkeypatch):
    frame, columns = problem_frame()
    parent = os.getpid()
    real = xpt._plan_char

    def broken_in_child(*args, **kwargs):
        if os.getpid() != parent:
            raise MemoryError("child only")
        return real(*args, **kwargs)

    forks(monkeypatch, on=False)
    with pytest.raises(XptLimitError) as serial:
        check_xpt_limits(frame, "TR", "TR", columns)
    made = forks(monkeypatch, on=True)
    monkeypatch.setattr(xpt, "_plan_char", broken_in_child)
    with pytest.raises(XptLimitError) as forked:
        check_xpt_limits(frame, "TR", "TR", columns)
    assert made == [1] and str(forked.value) == str(serial.value)
    good, columns = table()
    target = tmp_path / "tr.xpt"
    write_xpt(target, good, dataset_name="TR", dataset_label="TR", columns=columns)
    forks(monkeypatch, on=False)
    write_xpt(tmp_path / "serial.xpt", good, dataset_name="TR", dataset_label="TR",
              columns=columns)
    assert target.read_bytes() == (tmp_path / "serial.xpt").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serial.xpt", "tr.xpt"]


def test_cost_counts_one_object_per_cell_five_times():
    frame, columns = table()
    by = {c.name: c for c in columns}
    assert xpt._planning_cost(by["TRDTC"], frame["TRDTC"]) == 5 * N_ROWS
    assert xpt._planning_cost(by["EPOCH"], frame["EPOCH"]) == N_ROWS
    assert xpt._planning_cost(by["TRSEQ"], frame["TRSEQ"]) == 0


@pytest.mark.parametrize(("load", "cpus", "spare"), [
    (0.9, 2, True), (1.6, 2, False), (6.5, 2, False), (2.4, 4, True), (0.6, 1, False)])
def test_child_only_when_a_core_is_idle(monkeypatch, load, cpus, spare):
    monkeypatch.setattr(xpt.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(xpt.os, "sched_getaffinity", lambda pid: set(range(cpus)))
    assert xpt._spare_core() is spare


@pytest.mark.parametrize(("threshold", "forked"), [(4 * N_ROWS, True), (4 * N_ROWS + 1, False)])
def test_child_only_for_enough_one_object_per_cell_text(monkeypatch, threshold, forked):
    frame, columns = table()         # 4 one-object-per-cell text columns, EPOCH shared
    made = forks(monkeypatch, on=True)
    monkeypatch.setattr(xpt, "_FORK_MIN_PER_CELL", threshold)
    check_xpt_limits(frame, "TR", "TR", columns)
    assert made == ([1] if forked else [])
    made.clear()
    shared_only = [c for c in columns if c.name in ("TRSEQ", "EPOCH")]
    monkeypatch.setattr(xpt, "_FORK_MIN_PER_CELL", 1)
    check_xpt_limits(frame, "TR", "TR", shared_only)
    assert made == []
