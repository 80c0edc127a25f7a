"""Raw forms read ahead in a background thread while the mapping works on the ones it has.

Why: reading a form is mostly native code that releases the GIL (pandas' C tokenizer and its
hashing of cells into categories, numpy's byte scans), while mapping is mostly the caller's
own Python and numpy work. A thread that reads the next forms, in the order the mapping will
ask for them, keeps a second core busy during the mapping instead of leaving the reading on
the critical path: the CPU time is the same, the wall time of the run shorter.

Rules, so that a run that reads ahead behaves exactly like one that does not:

- Only :func:`~cdiscmap.ingest.readers.read_form` runs in the thread: it adds no finding, no
  accounting and writes no file. Form rules, accounting and findings stay with the caller,
  in the caller's order.
- An error reading a form reaches the caller when it asks for that form, never earlier: a
  run that stops for another reason first stops with the same error as a serial one.
- Each read runs in a copy of the caller's context (``contextvars``), so the factorisations
  read_form remembers go into the run's ``codes_cache`` as they would in the caller (that
  cache is one dict shared by both threads; its entries are keyed by array identity, and
  single dict operations are atomic under the GIL).
- Leaving the ``with`` block cancels the reads not started and waits for the one under way:
  no thread outlives the block (nothing is forked while one runs, see cdiscmap.forked).
- With one usable CPU nothing is read ahead: each form is read when asked, as before.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from cdiscmap.ingest.readers import RawForm

Reader = Callable[[], RawForm]


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not Linux
        return os.cpu_count() or 1


class ReadAhead:
    """Reads forms in one background thread, in the order given to :meth:`start`.

    >>> with ReadAhead() as ahead:
    ...     ahead.start([("ae", read_ae), ("cm", read_cm)])      # doctest: +SKIP
    ...     form = ahead.read("ae", read_ae)                       # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[RawForm]] = {}

    def start(self, readers: Iterable[tuple[str, Reader]]) -> None:
        """Queue the reads (name, function reading that form), first needed first."""
        if _cpus() < 2:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdiscmap-read")
        for name, reader in readers:
            if name not in self._futures:
                # a context copy per read: one Context cannot be entered by two threads
                self._futures[name] = self._pool.submit(contextvars.copy_context().run,
                                                        reader)

    def read(self, name: str, reader: Reader) -> RawForm:
        """The form ``name``: read ahead (waited for if under way), else read now with
        ``reader``. The reader's own exception, if it failed, is raised here."""
        future = self._futures.pop(name, None)
        if future is None or future.cancel():      # not started yet: read it here
            return reader()
        return future.result()

    def close(self) -> None:
        """Cancel the reads not started, wait for the one under way, drop the results."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._futures.clear()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
