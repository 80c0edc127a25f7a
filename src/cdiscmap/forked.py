"""Run one piece of a command in a forked child process while the parent goes on.

Why: ``cdiscmap run`` has two long chains that need the same mapped frames but not each
other's results — the SDTM checks (findings only) and writing SDTM → ADaM → define.xml →
report. On a machine with two or more cores, running the checks in a child halves the wall
time of that part. A fork shares the mapped frames with the child copy-on-write, so nothing
is pickled on the way in; only the child's (small) result comes back, pickled through a pipe.

Safety rules, so that a parallel run behaves exactly like a serial one:

- The child computes and returns a value; it writes no file and prints nothing (its result
  travels through the pipe, its stdout/stderr are never used). It leaves with ``os._exit``, so
  no ``atexit`` handler, buffered output or temporary-file cleanup of the parent runs twice.
- If the child fails for any reason (an exception, a signal, an unpicklable result) the
  parent runs the same function itself: an error then surfaces exactly as in a serial run,
  with its own type and one-line message, and a bug in the child cannot produce a different
  result.
- The parent kills and reaps the child if it stops early (an error, Ctrl-C, SIGTERM), so no
  orphan keeps computing.
- A child that uses no CPU for :data:`STALL_SECONDS` is stuck (a lock or native thread pool
  that did not survive the fork): it is killed and the parent computes the value. Nothing is
  forked once a runtime known to deadlock that way is loaded (:data:`FORK_UNSAFE_MODULES`).
- Off Linux, or with one usable CPU, the function runs in the parent at once, i.e. at the same
  point of the command as in a parallel run.

>>> call = ForkedCall(lambda: sum(range(10)))
>>> call.result()
45
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


# Native runtimes whose worker-thread pools do not survive a fork: a child that uses one the
# parent has started waits forever on threads that were not copied (polars' rayon pool is
# loaded by rtflite, which the report uses). Once one is loaded, nothing is forked.
FORK_UNSAFE_MODULES = ("polars",)

STALL_SECONDS = 30.0     # a child that uses no CPU for this long is taken as stuck


def fork_usable() -> bool:
    """Whether a forked child can run beside this process on a CPU of its own (Linux only:
    elsewhere system libraries are not fork-safe, which is why Python itself stopped forking
    there by default)."""
    if not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        return False
    return len(os.sched_getaffinity(0)) > 1


def fork_unsafe_runtime() -> str | None:
    """The name of a loaded module whose native threads a child could deadlock on, if any."""
    return next((name for name in FORK_UNSAFE_MODULES if name in sys.modules), None)


class ForkedCall(Generic[T]):
    """``fn()`` computed in a forked child from now on; :meth:`result` returns its value.

    Use as a context manager (or call :meth:`close`) so the child is stopped when the parent
    leaves early.
    """

    def __init__(self, fn: Callable[[], T], *, fork: bool | None = None,
                 stall_seconds: float = STALL_SECONDS) -> None:
        self._fn = fn
        self._stall = stall_seconds
        self._pid: int | None = None
        self._chunks: list[bytes] = []
        self._reader: threading.Thread | None = None
        self._value: tuple[T] | None = None
        self.recomputed = False     # the child's value was unusable: computed in the parent
        if fork is None:
            fork = fork_usable()
        if fork and fork_unsafe_runtime() is None:
            self._start()
        else:
            self._value = (fn(),)

    @property
    def forked(self) -> bool:
        """Whether a child is (or was) computing the value."""
        return self._pid is not None

    def _start(self) -> None:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:                                    # the child
            os.close(read_end)
            _child(self._fn, write_end)
        os.close(write_end)
        self._pid = pid
        # read in a thread: a result larger than the pipe buffer must not block the child
        self._reader = threading.Thread(target=self._drain, args=(read_end,), daemon=True)
        self._reader.start()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            while chunk := pipe.read(1 << 20):
                self._chunks.append(chunk)

    def result(self) -> T:
        """The function's value: the child's when it succeeded, else computed here."""
        if self._value is not None:
            return self._value[0]
        if self._pid is None:
            return self._fn()
        assert self._reader is not None
        if not self._wait():                            # stuck: stop it, compute here
            self.close()
            self.recomputed = True
            return self._fn()
        status = self._reap()
        if status == 0 and self._chunks:
            try:
                return pickle.loads(b"".join(self._chunks))
            except Exception:  # noqa: BLE001 - a broken payload: compute it here instead
                pass
        self.recomputed = True
        return self._fn()                               # the error surfaces as if serial

    def _wait(self) -> bool:
        """Wait for the child's whole value; False when it has used no CPU for
        ``stall_seconds`` (a deadlock: a lock or thread pool that did not survive the fork)."""
        assert self._reader is not None and self._pid is not None
        last, still = _cpu_ticks(self._pid), 0.0
        while True:
            self._reader.join(timeout=1.0)
            if not self._reader.is_alive():
                return True
            now = _cpu_ticks(self._pid)
            if now is None or now != last:
                last, still = now, 0.0
                continue
            still += 1.0
            if still >= self._stall:
                return False

    def _reap(self) -> int | None:
        if self._pid is None:
            return None
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        return os.waitstatus_to_exitcode(status)

    def close(self) -> None:
        """Stop the child if it is still running (the parent is leaving early)."""
        if self._pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        self._reap()

    def __enter__(self) -> ForkedCall[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cpu_ticks(pid: int) -> int | None:
    """User + system clock ticks of process ``pid`` so far (None when not readable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])     # utime, stime: fields 14 and 15 of stat


def _child(fn: Callable[[], object], fd: int) -> None:
    """Compute, send the pickled value, leave without running any of the parent's cleanup."""
    status = 1
    try:
        # the parent decides about interrupts: Ctrl-C reaches the whole process group, and
        # the child must not print a traceback or unwind the parent's handlers
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        payload = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(payload)
        status = 0
    except BaseException:  # noqa: BLE001 - any failure: the parent recomputes and reports it
        status = 1
    finally:
        os._exit(status)
