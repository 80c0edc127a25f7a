"""ReadAhead: forms read in a background thread give the caller what reading them itself would,
errors included, at the moment the caller asks."""

from __future__ import annotations

import threading
from contextvars import ContextVar

import numpy as np
import pytest

from cdiscmap.errors import InputDataError
from cdiscmap.ingest import prefetch, read_form
from cdiscmap.sdtm.vectorize import _payload, coded, codes_cache

_SEEN: ContextVar[dict | None] = ContextVar("test_seen", default=None)


def _two_forms(tmp_path):
    (tmp_path / "ae.csv").write_text("SUBJECT,TERM\n001, Nausea \n002,\n")
    (tmp_path / "cm.csv").write_text("SUBJECT,CMTRT\n001,Aspirin\n")
    return tmp_path / "ae.csv", tmp_path / "cm.csv"


def test_forms_come_from_the_thread_in_the_callers_context(tmp_path):
    ae, cm = _two_forms(tmp_path)
    threads: dict[str, int] = {}

    def reader(name, path):
        def read():
            threads[name] = threading.get_ident()
            _SEEN.get()[name] = True            # the caller's dict, through the context copy
            return read_form(name, path)
        return read

    token = _SEEN.set({})
    try:
        with prefetch.ReadAhead() as ahead:
            ahead.start([("ae", reader("ae", ae)), ("cm", reader("cm", cm))])
            form = ahead.read("ae", reader("ae", ae))
            other = ahead.read("cm", reader("cm", cm))
        assert _SEEN.get() == {"ae": True, "cm": True}
    finally:
        _SEEN.reset(token)
    assert form.frame["TERM"].tolist()[0] == "Nausea" and other.frame["CMTRT"].tolist() == \
        ["Aspirin"]
    assert threads["ae"] != threading.get_ident()   # read by the thread, not the caller


def test_factorisations_read_ahead_go_into_the_runs_cache(tmp_path):
    ae, _ = _two_forms(tmp_path)
    with codes_cache(), prefetch.ReadAhead() as ahead:
        ahead.start([("ae", lambda: read_form("ae", ae))])
        term = ahead.read("ae", lambda: read_form("ae", ae)).frame["TERM"]
        # remembered by the reader in the thread, before the caller asks for it
        assert _payload(np.asarray(term.array, dtype=object)) is not None
        codes, uniques = coded(term)
    assert codes.tolist() == [0, -1] and list(uniques) == ["Nausea"]


def test_an_error_reaches_the_caller_when_it_asks_for_that_form(tmp_path):
    ae, _ = _two_forms(tmp_path)
    missing = tmp_path / "lb.csv"
    with prefetch.ReadAhead() as ahead:
        ahead.start([("lb", lambda: read_form("lb", missing)),
                     ("ae", lambda: read_form("ae", ae))])
        assert ahead.read("ae", lambda: read_form("ae", ae)).n_rows == 2
        with pytest.raises(InputDataError) as caught:
            ahead.read("lb", lambda: read_form("lb", missing))
    assert str(caught.value) == f"raw form 'lb': file {missing} not found"


def test_leaving_cancels_reads_not_started():
    release, calls = threading.Event(), []

    def slow():
        release.wait(10)
        calls.append("slow")

    ahead = prefetch.ReadAhead()
    ahead.start([("a", slow), ("b", lambda: calls.append("b"))])
    threading.Timer(0.2, release.set).start()
    ahead.close()                   # waits for "a" under way; "b" never starts
    assert calls == ["slow"]
    assert ahead.read("b", lambda: "now") == "now"      # asked after: read by the caller


def test_one_cpu_reads_when_asked(monkeypatch):
    monkeypatch.setattr(prefetch, "_cpus", lambda: 1)
    calls = []
    with prefetch.ReadAhead() as ahead:
        ahead.start([("a", lambda: calls.append("early"))])
        assert calls == []
        assert ahead.read("a", lambda: threading.get_ident()) == threading.get_ident()
