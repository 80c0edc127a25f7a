"""Progress on long work: stage names and per-dataset steps on stderr, only on a terminal.

Commands open :func:`progress` and hand the object down; library code calls ``stage`` and
``step`` on it without knowing whether anything is shown. Off a terminal (CI, pipes) and with
``--quiet`` nothing is printed, so logs and outputs stay byte-identical.

>>> with progress(quiet=True) as shown:
...     shown.stage("Mapping SDTM")
...     shown.step("DM")
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Progress:
    """What a long-running command reports; a silent instance when nothing is shown."""

    def __init__(self, console: Any | None = None) -> None:
        self._console = console
        self._status: Any = None
        self._stage = ""
        self._started = time.monotonic()

    @property
    def shown(self) -> bool:
        return self._console is not None

    def stage(self, name: str) -> None:
        """A new stage of the command (e.g. "Mapping SDTM"); the previous one is closed."""
        if self._console is None:
            return
        self._close_stage()
        self._stage = name
        self._started = time.monotonic()
        self._status = self._console.status(f"{name} …")
        self._status.start()

    def step(self, item: str) -> None:
        """Work on one item (a dataset, a raw form) inside the current stage."""
        if self._status is not None:
            self._status.update(f"{self._stage} … {item}")

    def note(self, message: str) -> None:
        """A line that stays on screen (e.g. "generating the demo's raw export")."""
        if self._console is not None:
            self._console.print(message)

    def _close_stage(self) -> None:
        if self._status is not None:
            self._status.stop()
            took = time.monotonic() - self._started
            self._console.print(f"[green]✓[/green] {self._stage} ({took:.1f} s)")
            self._status = None

    def close(self) -> None:
        if self._console is not None:
            self._close_stage()


SILENT = Progress()


@contextmanager
def progress(quiet: bool = False) -> Iterator[Progress]:
    """A Progress that prints on stderr when it is a terminal and ``quiet`` is off."""
    if quiet or not sys.stderr.isatty():
        yield Progress()
        return
    from rich.console import Console

    shown = Progress(Console(stderr=True, highlight=False))
    try:
        yield shown
    finally:
        shown.close()
