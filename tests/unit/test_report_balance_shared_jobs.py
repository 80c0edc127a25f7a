"""cdiscmap.forked.shared_jobs: jobs taken one at a time by this process and a forked child.

The promises under test: the values come back in the jobs' order whoever made them; both
processes take jobs; an error surfaces as that of the first failing job in the jobs' order
(as in a serial run), also when the failing jobs were taken in another order or by the
child; jobs the child did not make (it failed there, or died) are made here; without a fork
the jobs run here, in their order.
"""

from __future__ import annotations

import os

import pytest

from cdiscmap import forked
from cdiscmap.forked import shared_jobs

needs_fork = pytest.mark.skipif(not forked.fork_usable(),
                                reason="forks only on Linux with two or more usable CPUs")


@pytest.fixture(autouse=True)
def _forking(monkeypatch: pytest.MonkeyPatch) -> None:
    # the jobs here use no native thread pool: fork even if another test loaded polars
    monkeypatch.setattr(forked, "FORK_UNSAFE_MODULES", ())


def _square(i: int) -> int:
    return i * i


@needs_fork
def test_values_in_the_jobs_order_whoever_made_them() -> None:
    jobs = [lambda i=i: _square(i) for i in range(40)]
    order = list(range(39, -1, -1))
    assert shared_jobs(jobs, order) == [i * i for i in range(40)]
    assert shared_jobs(jobs, order, fork=False) == [i * i for i in range(40)]


@needs_fork
def test_both_processes_take_jobs() -> None:
    # the job taken first waits until the other is done: the other process must take it
    read, write = os.pipe()
    try:
        def waits() -> int:
            os.read(read, 1)
            return os.getpid()

        def unblocks() -> int:
            os.write(write, b"x")
            return os.getpid()

        # serially: unblocks first (the jobs' order), so no wait
        assert shared_jobs([unblocks, waits], fork=False) == [os.getpid()] * 2
        pids = shared_jobs([unblocks, waits], order=[1, 0])
    finally:
        os.close(read)
        os.close(write)
    assert os.getpid() in pids and len(set(pids)) == 2


@needs_fork
@pytest.mark.parametrize("fork", [True, False])
def test_the_first_error_in_the_jobs_order_is_raised(fork: bool) -> None:
    def fails(message: str) -> int:
        raise ValueError(message)

    jobs = [lambda: 1, lambda: fails("first"), lambda: 3, lambda: fails("second")]
    with pytest.raises(ValueError, match="^first$"):
        shared_jobs(jobs, order=[3, 2, 1, 0], fork=fork)
    with pytest.raises(KeyError):
        shared_jobs([lambda: {}["k"], lambda: fails("later")], order=[1, 0], fork=fork)


@needs_fork
def test_a_job_failing_only_in_the_child_is_made_here() -> None:
    parent = os.getpid()

    def only_here(i: int) -> int:
        if os.getpid() != parent:
            raise RuntimeError("not in the child")
        return i

    assert shared_jobs([lambda i=i: only_here(i) for i in range(8)]) == list(range(8))


@needs_fork
def test_jobs_of_a_child_that_dies_are_made_here() -> None:
    parent = os.getpid()

    def dies_in_the_child(i: int) -> tuple[int, int]:
        if os.getpid() != parent:
            os._exit(3)
        return i, os.getpid()

    made = shared_jobs([lambda i=i: dies_in_the_child(i) for i in range(8)])
    assert made == [(i, parent) for i in range(8)]


def test_order_must_name_every_job_once() -> None:
    with pytest.raises(ValueError, match="every job once"):
        shared_jobs([lambda: 1, lambda: 2], order=[0, 0])


def test_without_fork_the_jobs_run_here_in_their_order() -> None:
    seen: list[int] = []
    jobs = [lambda i=i: seen.append(i) or os.getpid() for i in range(5)]
    assert shared_jobs(jobs, order=[4, 3, 2, 1, 0], fork=False) == [os.getpid()] * 5
    assert seen == [0, 1, 2, 3, 4]
