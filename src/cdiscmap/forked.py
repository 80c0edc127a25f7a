"""Run one piece of a command in a forked child process while the parent goes on.

Why: ``cdiscmap run`` has two long chains that need the same mapped frames but not each
other's results — the SDTM checks (findings only) and writing SDTM → ADaM → define.xml →
report. On a machine with two or more cores, running the checks in a child halves the wall
time of that part. A fork shares the mapped frames with the child copy-on-write, so nothing
is pickled on the way in; only the child's result comes back, pickled into an anonymous memory
file (memfd) that the parent unpickles from once the child says it is whole (before the child
has left). Neither process holds the whole pickle in its own memory: at 100,000 subjects a checks child's result (lineage lines,
findings) is several hundred MB, which a pipe read into one buffer, joined and unpickled held
three times over in the parent at once.

Safety rules, so that a parallel run behaves exactly like a serial one:

- The child computes and returns a value; it writes no file and prints nothing (its result
  travels through the memory file, its stdout/stderr are never used). It leaves with ``os._exit``, so
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
import functools
import gc
import os
import pickle
import queue
import select
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
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


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``; nothing
    elsewhere).

    Why before a fork: a child starts with every page its parent holds, free heap pages
    included, and its peak RSS counts them. Mapping 100,000 subjects leaves ≈ 4 GB of freed
    temporaries in the heap (9.4 GB resident, 5.4 GB after trimming, in 0.07 s), which every
    child forked after it would otherwise count again."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


@contextlib.contextmanager
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """The cyclic garbage collector off inside the block, as it was after it; with
    ``freeze``, what exists at the block's end is frozen out of its sight (``gc.freeze``).

    For code that makes many long-lived objects and no garbage -- imports, the standards: the
    collector would walk them in collection after collection while they are made, and again
    in every later collection of this process and of its forked children (whose pages its
    writes would copy). Used by the console script's start-up, and by the report's process
    for matplotlib/scipy."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if paused:
            gc.enable()


def fork_unsafe_runtime() -> str | None:
    """The name of a loaded module whose native threads a child could deadlock on, if any."""
    return next((name for name in FORK_UNSAFE_MODULES if name in sys.modules), None)


class ForkedCall(Generic[T]):
    """``fn()`` computed in a forked child from now on; :meth:`result` returns its value.

    Use as a context manager (or call :meth:`close`) so the child is stopped when the parent
    leaves early, and reaped. ``background``: the child runs at the lowest CPU priority
    (:func:`_lowest_priority`), for work whose value is wanted long after it starts (a run's
    checks, needed once the package is written): with more runnable processes than cores it
    yields to those on the critical path, and it uses the cores they leave idle (1,000
    subjects: `run` 2.35 -> 2.31 s wall, median of 10 alternated; 10,000: 6.84 -> 6.69 s).
    """

    def __init__(self, fn: Callable[[], T], *, fork: bool | None = None,
                 stall_seconds: float = STALL_SECONDS, background: bool = False) -> None:
        self._fn = fn
        self._stall = stall_seconds
        self._background = background
        self._pid: int | None = None
        self._memory = -1           # the memfd the child pickles its value into
        self._gone = -1             # a pipe's read end: at its end, the child has left
        self._value: tuple[T] | None = None
        self._leaving: int | None = None    # a child that gave its value, not reaped yet
        self.recomputed = False     # the child's value was unusable: computed in the parent
        if fork is None:
            fork = fork_usable()
        if not (fork and fork_unsafe_runtime() is None and self._start()):
            self._value = (fn(),)

    @property
    def forked(self) -> bool:
        """Whether a child is (or was) computing the value."""
        return self._pid is not None

    def _start(self) -> bool:
        memory = _memory_file("cdiscmap-result")
        if memory is None:
            return False
        gone_read, gone_write = os.pipe()
        release_free_memory()
        try:
            pid = os.fork()
        except OSError:             # no process to fork (EAGAIN, ENOMEM): computed here
            for fd in (memory, gone_read, gone_write):
                os.close(fd)
            return False
        if pid == 0:                                    # the child
            _leave_the_others(keep=memory)
            if self._background:
                _lowest_priority()
            _child(self._fn, memory, gone_write)        # leaves: gone_write closes with it
        os.close(gone_write)
        self._pid, self._memory, self._gone = pid, memory, gone_read
        _OPEN.update((memory, gone_read))
        return True

    def result(self) -> T:
        """The function's value: the child's when it succeeded, else computed here."""
        if self._value is not None:
            return self._value[0]
        if self._pid is None:
            return self._fn()
        if not self._wait():                            # stuck: stop it, compute here
            self.close()
            self.recomputed = True
            return self._fn()
        # the child says when its value is whole, before it leaves: the pipe's end comes
        # only after the kernel has torn down its memory (3-11 ms for a child of a 100 MB
        # process, 9-67 ms for one of 300 MB that made 100-300 MB of its own, this
        # machine), which close() waits for instead (reaping it: its CPU time counts in
        # this process's children's), usually long after
        ready = os.read(self._gone, 1) == _READY
        if ready:
            self._leaving, self._pid = self._pid, None
        else:
            self._reap()
        try:
            if ready:
                return pickle.load(_PositionalReader(self._memory, 0))
        except Exception:  # noqa: BLE001 - a broken payload: compute it here instead
            pass
        finally:
            self._close_files()
        self.recomputed = True
        return self._fn()                               # the error surfaces as if serial

    def _wait(self) -> bool:
        """Wait for the child's whole value; False when it has used no CPU for
        ``stall_seconds`` (a deadlock: a lock or thread pool that did not survive the fork)."""
        assert self._pid is not None
        watch = _StallWatch(self._pid, self._stall)
        while True:
            # a byte in the pipe (_READY: the value is whole in the memfd) or its end (the
            # child has left without one)
            if select.select([self._gone], [], [], 1.0)[0]:
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
        """Stop the child if it is still running (the parent is leaving early); reap a child
        that has given its value (it leaves by itself)."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._reap()
        if self._leaving is not None:
            os.waitpid(self._leaving, 0)
            self._leaving = None
        self._close_files()

    def _close_files(self) -> None:
        for fd in (self._memory, self._gone):
            if fd >= 0:
                _OPEN.discard(fd)
                os.close(fd)
        self._memory = self._gone = -1

    def __enter__(self) -> ForkedCall[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# A job number taken from the shared pipe: two bytes, little-endian (at most 2,048 jobs, so
# that the whole queue is one write of at most PIPE_BUF bytes, in one page of the pipe)
_JOB_BYTES = 2
_MAX_SHARED_JOBS = select.PIPE_BUF // _JOB_BYTES


def shared_jobs(jobs: Sequence[Callable[[], T]], order: Sequence[int] | None = None, *,
                fork: bool | None = None) -> list[T]:
    """Every job's value, in the order of ``jobs``, computed by this process and a forked
    child together: each takes the next job number (in ``order``, e.g. the longest first)
    when it is free, so both finish within about one job of each other whatever the jobs
    cost on this data and machine (a split fixed in advance left one process idle for a
    quarter of a second or more at every size of the demo report).

    The queue is a pipe filled with the job numbers before the fork, its write end then
    closed: a read of one fixed-size record (2 bytes) takes one number, atomically (Linux
    holds the pipe's lock for the whole read, and the records were written as one write of
    at most PIPE_BUF bytes), with no lock of our own; an empty pipe reads as its end. The
    child sends back the values of the jobs it made (pickled, as :class:`ForkedCall`).

    Errors surface as in a serial run (``[job() for job in jobs]``): a process stops taking
    jobs at its first failure; the jobs neither process made (the child failed there, or
    died) are made here afterwards, in the jobs' order, so the error raised is that of the
    first failing job in that order, with its own type and message. Jobs must therefore be
    independent of each other (none reads what another made in the same process), and
    their values picklable. Without fork (``fork=False``, :func:`fork_usable` false, a
    fork-unsafe runtime loaded, fewer than two jobs) the jobs run here in their order."""
    n = len(jobs)
    order = list(range(n)) if order is None else list(order)
    if sorted(order) != list(range(n)):
        raise ValueError("order must name every job once")
    if fork is None:
        fork = fork_usable()
    if not fork or n < 2 or n > _MAX_SHARED_JOBS or fork_unsafe_runtime() is not None:
        return [job() for job in jobs]
    read, write = os.pipe()
    try:
        os.write(write, b"".join(i.to_bytes(_JOB_BYTES, "little") for i in order))
    finally:
        os.close(write)
    try:
        with ForkedCall(lambda: _take_jobs(read, jobs)[0], fork=True) as child:
            done, failed = _take_jobs(read, jobs)
            done.update(child.result())
    finally:
        os.close(read)
    for i in range(n):
        if i in done:
            continue
        if i in failed:
            raise failed[i]
        done[i] = jobs[i]()
    return [done[i] for i in range(n)]


def _take_jobs(read: int, jobs: Sequence[Callable[[], T]]
               ) -> tuple[dict[int, T], dict[int, Exception]]:
    """The jobs taken from the queue ``read`` until it is empty, by number: their values,
    and the error of the job that failed (no more are taken after it)."""
    done: dict[int, T] = {}
    while len(record := os.read(read, _JOB_BYTES)) == _JOB_BYTES:
        i = int.from_bytes(record, "little")
        try:
            done[i] = jobs[i]()
        except Exception as exc:  # noqa: BLE001 - raised again in the jobs' order
            return done, {i: exc}
    return done, {}


class ForkedPeer:
    """A forked child running ``work(channel)`` that exchanges pickled messages with this
    process both ways: :class:`ForkedCall` sends one value back, some work needs a
    conversation (the SDTM mapping: the child's calendar and sources out, visit numbers and
    reference dates in, its finished domains out; :mod:`cdiscmap.sdtm.engine`).

    The child's messages are pickled into a memory file (memfd), one after the other, and
    only their places go through the pipe, so a large one (finished domains) is never held
    whole as bytes by either process and never blocks the child on a full pipe. The parent's
    messages are small and go through a pipe.

    The rules of ForkedCall: the child writes no file and leaves with ``os._exit``; Ctrl-C
    is the parent's to handle; :meth:`recv` gives None when the child is gone, sends
    something unreadable or uses no CPU for :data:`STALL_SECONDS` while awaited (the caller
    then does the work itself); leaving the ``with`` block kills and reaps the child. Raises
    OSError when no child can be started (then the caller does the work itself)."""

    def __init__(self, work: Callable[[PeerChannel], None], *,
                 stall_seconds: float = STALL_SECONDS) -> None:
        self._stall = stall_seconds
        self._messages: queue.Queue[tuple[int, int] | None] = queue.Queue()
        memory = _memory_file("cdiscmap-messages")
        if memory is None:
            raise OSError("no anonymous memory file for the child's messages")
        up_read, up_write = os.pipe()           # child → parent: where each message is
        down_read, down_write = os.pipe()       # parent → child
        release_free_memory()
        try:
            pid = os.fork()
        except OSError:
            for fd in (memory, up_read, up_write, down_read, down_write):
                os.close(fd)
            raise
        if pid == 0:                            # the child
            os.close(up_read)
            os.close(down_write)
            status = 1
            try:
                _leave_the_others(keep=memory)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                work(PeerChannel(os.fdopen(down_read, "rb"), os.fdopen(up_write, "wb"),
                                 memory))
                status = 0
            except BaseException:  # noqa: BLE001 - any failure: the parent does the work
                status = 1
            finally:
                os._exit(status)
        os.close(up_write)
        os.close(down_read)
        self._pid: int | None = pid
        self._memory = memory
        _OPEN.add(memory)
        self._out = os.fdopen(down_write, "wb")
        # read in a thread: the places come while this process works
        self._reader = threading.Thread(target=self._drain, args=(up_read,), daemon=True)
        self._reader.start()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            while len(head := pipe.read(16)) == 16:
                self._messages.put((int.from_bytes(head[:8], "little"),
                                    int.from_bytes(head[8:], "little")))
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
                place = self._messages.get(timeout=1.0)
            except queue.Empty:
                if watch.stuck_after_a_second():
                    return None
                continue
            if place is None:
                return None
            offset, size = place
            try:
                reader = _PositionalReader(self._memory, offset, offset + size)
                return pickle.load(reader)
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
        if self._memory >= 0:
            _OPEN.discard(self._memory)
            os.close(self._memory)
            self._memory = -1

    def __enter__(self) -> ForkedPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PeerChannel:
    """The child's end of a :class:`ForkedPeer`."""

    def __init__(self, down: BinaryIO, up: BinaryIO, memory: int) -> None:
        self._down, self._up = down, up
        self._memory, self._end = memory, 0

    def send(self, value: object) -> None:
        """Send ``value`` (pickled into the memory file; its place through the pipe)."""
        writer = _PositionalWriter(self._memory, self._end)
        pickle.dump(value, writer, protocol=pickle.HIGHEST_PROTOCOL)
        self._up.write(self._end.to_bytes(8, "little")
                       + (writer.offset - self._end).to_bytes(8, "little"))
        self._up.flush()
        self._end = writer.offset

    def recv(self) -> object | None:
        """The parent's next message; None when the parent has closed its end."""
        data = _read_message(self._down)
        return None if data is None else pickle.loads(data)


# The memory files and pipe ends of the children this process is waiting for: a child forked
# later closes them (it has no use for them, and an inherited memfd would keep its pages
# after the parent has read and closed it).
_OPEN: set[int] = set()


def _memory_file(name: str) -> int | None:
    """A new anonymous memory file (Linux memfd), or None where there is none."""
    try:
        return os.memfd_create(name, os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return None


def _leave_the_others(keep: int) -> None:
    """In a new child: close the files of the parent's other children (see :data:`_OPEN`),
    and keep the objects inherited from the parent out of the child's garbage collections
    (``gc.freeze``, as the gc module's documentation advises after fork): a collection would
    traverse them for no cycle the child made, and write to their pages, copying them."""
    gc.freeze()
    for fd in _OPEN - {keep}:
        with contextlib.suppress(OSError):
            os.close(fd)
    _OPEN.clear()


# What a ForkedCall child writes to its pipe once its value is whole in the memory file.
_READY = b"\x01"


class _PositionalWriter:
    """A file object writing at ``offset`` and on (``os.pwrite``): pickle.dump writes into
    the memory file without a shared file position (the parent reads the same file)."""

    def __init__(self, fd: int, offset: int) -> None:
        self._fd, self.offset = fd, offset

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += os.pwrite(self._fd, view[done:], self.offset + done)
        self.offset += done
        return done


class _PositionalReader:
    """A file object reading from ``offset`` up to ``end`` (``os.pread``): pickle.load takes
    one message from the memory file, read in the pieces the unpickler asks for."""

    def __init__(self, fd: int, offset: int, end: int | None = None) -> None:
        self._fd, self._at = fd, offset
        self._end = os.fstat(fd).st_size if end is None else end

    def read(self, size: int = -1) -> bytes:
        if size < 0 or self._at + size > self._end:
            size = self._end - self._at
        parts = []
        while size > 0:
            part = os.pread(self._fd, size, self._at)
            if not part:
                break
            parts.append(part)
            self._at += len(part)
            size -= len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        view = memoryview(buffer).cast("B")
        size = min(len(view), self._end - self._at)
        done = 0
        while done < size:
            got = os.preadv(self._fd, [view[done:size]], self._at + done)
            if not got:
                break
            done += got
        self._at += done
        return done

    def readline(self, size: int = -1) -> bytes:
        line = bytearray()
        while size < 0 or len(line) < size:
            byte = self.read(1)
            if not byte:
                break
            line += byte
            if byte == b"\n":
                break
        return bytes(line)


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


# The niceness of a background child (ForkedCall(background=True)): the lowest priority
BACKGROUND_NICENESS = 19


def _lowest_priority() -> None:
    """This (forked) process at the lowest CPU priority (:data:`BACKGROUND_NICENESS`): it
    runs when a core would otherwise idle, and yields to the processes on the command's
    critical path when there are more runnable processes than cores. On an idle core it runs
    at full speed, so it is not slowed where nothing else wants the core."""
    with contextlib.suppress(OSError):
        os.nice(BACKGROUND_NICENESS - os.nice(0))


def _child(fn: Callable[[], object], memory: int, ready: int = -1) -> None:
    """Compute, pickle the value into the memory file, say so through ``ready`` (a pipe's
    write end: :data:`_READY`), leave without running any of the parent's cleanup."""
    status = 1
    try:
        # the parent decides about interrupts: Ctrl-C reaches the whole process group, and
        # the child must not print a traceback or unwind the parent's handlers
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        value = fn()
        pickle.dump(value, _PositionalWriter(memory, 0), protocol=pickle.HIGHEST_PROTOCOL)
        if ready >= 0:
            os.write(ready, _READY)
        status = 0
    except BaseException:  # noqa: BLE001 - any failure: the parent recomputes and reports it
        status = 1
    finally:
        os._exit(status)
