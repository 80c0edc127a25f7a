"""cdiscmap.forked: a piece of a command computed in a forked child.

The promises under test: the value comes from another process when forking is possible; a
child that fails or sends nothing usable is replaced by computing in the parent (so the
real error surfaces); a child still running when the parent leaves is killed; without a
fork the value is computed at once, at the same point of the command.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import types

import pytest

from cdiscmap.forked import ForkedCall, ForkedPeer, fork_usable

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")


@needs_fork
def test_value_computed_in_another_process():
    parent = os.getpid()
    call = ForkedCall(lambda: (os.getpid(), sum(range(1001))), fork=True)
    assert call.forked
    pid, total = call.result()
    assert total == 500500
    assert pid != parent
    assert not call.recomputed


@needs_fork
def test_children_leave_the_parents_objects_out_of_their_collections():
    # what the parent had when it forked is frozen in each child (never traversed there);
    # the parent's own collector is untouched
    import gc

    kept = [[i] for i in range(1000)]           # tracked objects the children inherit
    before = gc.get_freeze_count()
    frozen = ForkedCall(gc.get_freeze_count, fork=True).result()
    assert frozen >= len(kept) + before
    with ForkedPeer(lambda chan: chan.send(gc.get_freeze_count())) as peer:
        assert peer.recv() >= len(kept) + before
    assert gc.get_freeze_count() == before


@needs_fork
def test_large_value_does_not_block_the_child():
    # 8 MB: far beyond a pipe buffer (64 KiB), read while the parent is busy elsewhere
    call = ForkedCall(lambda: b"x" * (8 << 20), fork=True)
    time.sleep(0.05)
    assert call.result() == b"x" * (8 << 20)


@needs_fork
def test_child_error_is_raised_again_by_the_parent():
    def fails() -> int:
        raise ValueError("bad spec line 3")

    call = ForkedCall(fails, fork=True)
    with pytest.raises(ValueError, match="bad spec line 3"):
        call.result()


@needs_fork
def test_failure_only_in_the_child_gives_the_parents_value():
    parent = os.getpid()

    def only_parent_succeeds() -> str:
        if os.getpid() != parent:
            raise RuntimeError("child broke")
        return "computed here"

    call = ForkedCall(only_parent_succeeds, fork=True)
    assert call.result() == "computed here"
    assert call.recomputed


@needs_fork
def test_unpicklable_value_is_computed_in_the_parent():
    parent = os.getpid()

    def gives_a_closure():
        pid = os.getpid()
        return lambda: pid

    value = ForkedCall(gives_a_closure, fork=True).result()
    assert value() == parent


@needs_fork
def test_close_kills_a_running_child():
    call = ForkedCall(lambda: time.sleep(60), fork=True)
    pid = call._pid
    assert pid is not None
    started = time.monotonic()
    call.close()
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):   # reaped: no such process any more
        os.kill(pid, 0)
    assert not call.forked


def test_without_fork_the_value_is_computed_at_once():
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        return len(calls)

    call = ForkedCall(count, fork=False)
    assert calls == [1]                     # before result() is asked for
    assert call.result() == 1
    assert call.result() == 1 and calls == [1]
    assert not call.forked


def test_fork_usable_needs_two_cpus_on_linux(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert fork_usable() is False
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert fork_usable() is (hasattr(os, "fork") and sys.platform.startswith("linux"))
    monkeypatch.setattr(sys, "platform", "darwin")
    assert fork_usable() is False


@needs_fork
def test_no_fork_once_a_fork_unsafe_runtime_is_loaded(monkeypatch):
    # a child using polars' thread pool started by the parent would wait forever
    monkeypatch.setitem(sys.modules, "polars", types.ModuleType("polars"))
    call = ForkedCall(lambda: os.getpid(), fork=True)
    assert not call.forked
    assert call.result() == os.getpid()


@needs_fork
def test_a_stuck_child_is_killed_and_the_value_computed_here():
    parent = os.getpid()

    def hangs_in_the_child() -> str:
        if os.getpid() != parent:
            threading.Event().wait()        # a deadlock: no CPU, never returns
        return "computed here"

    call = ForkedCall(hangs_in_the_child, fork=True, stall_seconds=2)
    pid = call._pid
    started = time.monotonic()
    assert call.result() == "computed here"
    assert call.recomputed
    assert time.monotonic() - started < 30
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@needs_fork
def test_peer_converses_both_ways_in_another_process():
    parent = os.getpid()

    def work(chan):
        first = chan.recv()
        chan.send((os.getpid(), first * 2))
        chan.send(b"y" * (4 << 20))             # beyond a pipe buffer, read by the thread
        chan.send(chan.recv() + "!")

    with ForkedPeer(work) as peer:
        peer.send(21)
        pid, doubled = peer.recv()
        assert (doubled, pid != parent) == (42, True)
        assert peer.recv() == b"y" * (4 << 20)
        peer.send("done")
        assert peer.recv() == "done!"
        assert peer.recv() is None              # the child has left


@needs_fork
def test_peer_gives_none_for_a_child_that_dies_or_stalls():
    with ForkedPeer(lambda chan: os._exit(3)) as peer:
        assert peer.recv() is None
    with ForkedPeer(lambda chan: chan.recv(), stall_seconds=2) as peer:
        started = time.monotonic()
        assert peer.recv() is None              # waiting for us, using no CPU: stuck
        assert 1.5 < time.monotonic() - started < 30


@needs_fork
def test_value_taken_when_whole_and_the_child_reaped_at_close():
    # the child says its value is whole before it leaves: the parent does not wait for the
    # kernel to tear down its memory there, but reaps it at close()
    with ForkedCall(os.getpid, fork=True) as call:
        pid = call.result()
        assert pid != os.getpid() and not call.recomputed and not call.forked
    with pytest.raises(ProcessLookupError):         # reaped: no such process any more
        os.kill(pid, 0)


@needs_fork
def test_a_background_child_runs_at_the_lowest_priority_and_the_parent_keeps_its_own():
    own = os.nice(0)
    call = ForkedCall(lambda: (os.getpid(), os.nice(0)), fork=True, background=True)
    pid, niceness = call.result()
    call.close()
    assert pid != os.getpid()
    assert niceness == 19
    assert os.nice(0) == own
    # without a fork (the value computed here) this process's priority is left alone
    assert ForkedCall(lambda: os.nice(0), fork=False, background=True).result() == own
    # a foreground child keeps the parent's
    with ForkedCall(lambda: os.nice(0), fork=True) as plain:
        assert plain.result() == own
