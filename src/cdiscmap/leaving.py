"""What a command's process does not free because it is about to end.

The console script ends a command with ``os._exit`` once its files are written, fsynced and
renamed (:func:`cdiscmap.cli._leave_at_once`): the process's memory goes back to the system
with it. Freeing a command's data before that is work for nothing, and it comes last, on the
command's serial path: every string of every object column of every frame is dereferenced
one by one. It took 0.15 s after a 10,000-subject ``cdiscmap run`` (the run's datasets, held
by its result) and ~0.01 s more for what the run's own frames held; ten times that at
100,000 subjects.

A command hands what it is done with to :func:`keep_until_exit`. Only while the process is
the command line that leaves at once (:func:`set_leaving`, called by ``cdiscmap.cli``) is
anything kept; a test, a library caller or ``cdiscmap batch`` (which leaves through the
interpreter's shutdown) frees as usual.

>>> keep_until_exit([1, 2, 3])          # not the command line: nothing is kept
>>> kept()
0
"""

from __future__ import annotations

_kept: list[object] = []
_leaving = False


def keep_until_exit(*values: object) -> None:
    """Hold ``values`` until the process ends, when it is to end with ``os._exit``
    (:func:`set_leaving`); otherwise do nothing, so that they are freed as usual."""
    if _leaving:
        _kept.extend(values)


def kept() -> int:
    """How many values are held (for tests)."""
    return len(_kept)


def set_leaving(leaving: bool) -> None:
    """Whether the process is to leave with ``os._exit`` when its command returns (then
    :func:`keep_until_exit` holds what it is given). Set back to False (the process goes on,
    or leaves through the interpreter's shutdown), it releases what it held."""
    global _leaving
    _leaving = leaving
    if not leaving:
        _kept.clear()
