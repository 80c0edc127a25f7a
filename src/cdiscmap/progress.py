"""Progress on long work: stage names and per-dataset steps on stderr, only on a terminal.

Commands open :func:`progress` and hand the object down; library code calls ``stage`` and
``step`` on it without knowing whether anything is shown. Off a terminal (CI, pipes) and with
``--quiet`` nothing is printed, so logs and outputs stay byte-identical.

A stage that ends because an exception passed through :func:`progress` is closed with a red
cross, never the green check of a finished stage: the one-line error that follows must not
contradict what is on screen.

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

from cdiscmap.errors import Terminated


class Progress:
    """What a long-running command reports; a silent instance when nothing is shown."""

    def __init__(self, console: Any | None = None) -> None:
        self._console = console
        self._live: Any = None
        self._spinner: Any = None
        self._stage = ""
        self._started = time.monotonic()

    @property
    def shown(self) -> bool:
        return self._console is not None

    def stage(self, name: str) -> None:
        """A new stage of the command (e.g. "Mapping SDTM"); the previous one is closed."""
        if self._console is None:
            return
        from rich.live import Live
        from rich.spinner import Spinner

        self._close_stage()
        self._stage = name
        self._started = time.monotonic()
        self._spinner = Spinner("dots", text=f"{name} …")
        self._live = Live(self._spinner, console=self._console, transient=True,
                          refresh_per_second=10)
        self._live.start()

    def step(self, item: str) -> None:
        """Work on one item (a dataset, a raw form) inside the current stage.

        The spinner line is redrawn at once, so a quick item is seen too (and tests can see it).
        """
        if self._live is not None:
            self._spinner.update(text=f"{self._stage} … {item}")
            self._live.refresh()

    def note(self, message: str) -> None:
        """A line that stays on screen (e.g. "generating the demo's raw export")."""
        if self._console is not None:
            self._console.print(message)

    def _close_stage(self, failed: str | None = None) -> None:
        if self._live is None:
            return
        self._live.stop()
        self._live = None
        took = time.monotonic() - self._started
        if failed:
            self._console.print(f"[red]✗[/red] {self._stage} ({failed} after {took:.1f} s)")
        else:
            self._console.print(f"[green]✓[/green] {self._stage} ({took:.1f} s)")

    def close(self, failed: str | None = None) -> None:
        """Close the open stage: done, or ``failed`` ("failed", "interrupted") when it broke."""
        if self._console is not None:
            self._close_stage(failed)


SILENT = Progress()


def terminal_console() -> Any | None:
    """A rich console on stderr when stderr is a terminal, else None (nothing is shown)."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@contextmanager
def progress(quiet: bool = False, console: Any | None = None) -> Iterator[Progress]:
    """A Progress that prints on stderr when it is a terminal and ``quiet`` is off.

    ``console`` replaces the stderr console (tests pass a forced-terminal one)."""
    shown_on = None if quiet else (console or terminal_console())
    if shown_on is None:
        yield Progress()
        return
    shown = Progress(shown_on)
    try:
        yield shown
    except BaseException as exc:
        interrupted = isinstance(exc, (KeyboardInterrupt, Terminated))
        shown.close(failed="interrupted" if interrupted else "failed")
        raise
    shown.close()
