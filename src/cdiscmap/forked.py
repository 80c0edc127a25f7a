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
import queue
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar

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
        watch = _StallWatch(self._pid, self._stall)
        while True:
            self._reader.join(timeout=1.0)
            if not self._reader.is_alive():
                return True
            if watch.stuck_after_a_second():
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


class ForkedPeer:
    """A forked child running ``work(channel)`` that exchanges pickled messages with this
    process both ways: :class:`ForkedCall` sends one value back, some work needs a
    conversation (the SDTM mapping: the child's calendar and sources out, visit numbers and
    reference dates in, its finished domains out; :mod:`cdiscmap.sdtm.engine`).

    The rules of ForkedCall: the child writes no file and leaves with ``os._exit``; Ctrl-C
    is the parent's to handle; :meth:`recv` gives None when the child is gone, sends
    something unreadable or uses no CPU for :data:`STALL_SECONDS` while awaited (the caller
    then does the work itself); leaving the ``with`` block kills and reaps the child."""

    def __init__(self, work: Callable[[PeerChannel], None], *,
                 stall_seconds: float = STALL_SECONDS) -> None:
        self._stall = stall_seconds
        self._messages: queue.Queue[bytes | None] = queue.Queue()
        up_read, up_write = os.pipe()           # child → parent
        down_read, down_write = os.pipe()       # parent → child
        pid = os.fork()
        if pid == 0:                            # the child
            os.close(up_read)
            os.close(down_write)
            status = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                work(PeerChannel(os.fdopen(down_read, "rb"), os.fdopen(up_write, "wb")))
                status = 0
            except BaseException:  # noqa: BLE001 - any failure: the parent does the work
                status = 1
            finally:
                os._exit(status)
        os.close(up_write)
        os.close(down_read)
        self._pid: int | None = pid
        self._out = os.fdopen(down_write, "wb")
        # read in a thread: a message larger than the pipe buffer must not block the child
        self._reader = threading.Thread(target=self._drain, args=(up_read,), daemon=True)
        self._reader.start()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            while (data := _read_message(pipe)) is not None:
                self._messages.put(data)
        self._messages.put(None)

    def send(self, value: object) -> None:
        """Send ``value`` (pickled) to the child."""
        _write_message(self._out, value)

    def recv(self) -> object | None:
        """The child's next message; None when it is gone, unreadable, or the child stalls."""
        assert self._pid is not None
        watch = _StallWatch(self._pid, self._stall)
        while True:
            try:
                data = self._messages.get(timeout=1.0)
            except queue.Empty:
                if watch.stuck_after_a_second():
                    return None
                continue
            if data is None:
                return None
            try:
                return pickle.loads(data)
            except Exception:  # noqa: BLE001 - a broken message: the caller does the work
                return None

    def close(self) -> None:
        """Stop the child if it is still running, and reap it."""
        with contextlib.suppress(OSError):
            self._out.close()
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = None

    def __enter__(self) -> ForkedPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PeerChannel:
    """The child's end of a :class:`ForkedPeer`."""

    def __init__(self, down: BinaryIO, up: BinaryIO) -> None:
        self._down, self._up = down, up

    def send(self, value: object) -> None:
        """Send ``value`` (pickled) to the parent."""
        _write_message(self._up, value)

    def recv(self) -> object | None:
        """The parent's next message; None when the parent has closed its end."""
        data = _read_message(self._down)
        return None if data is None else pickle.loads(data)


def _write_message(pipe: BinaryIO, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(len(data).to_bytes(8, "little"))
    pipe.write(data)
    pipe.flush()


def _read_message(pipe: BinaryIO) -> bytes | None:
    head = pipe.read(8)
    if len(head) < 8:
        return None
    size = int.from_bytes(head, "little")
    data = pipe.read(size)
    return data if len(data) == size else None


class _StallWatch:
    """Whether a child has used no CPU for ``stall`` seconds, asked once a second while the
    parent waits for it (a deadlock: a lock or thread pool that did not survive the fork)."""

    def __init__(self, pid: int, stall: float) -> None:
        self._pid, self._stall = pid, stall
        self._last, self._still = _cpu_ticks(pid), 0.0

    def stuck_after_a_second(self) -> bool:
        now = _cpu_ticks(self._pid)
        if now is None or now != self._last:
            self._last, self._still = now, 0.0
            return False
        self._still += 1.0
        return self._still >= self._stall


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
