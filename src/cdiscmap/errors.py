"""The exception hierarchy: every error a user can meet is one of these types.

Each carries a message written for a person (what is wrong, where, and what to do),
so the CLI can print ``str(error)`` on one line and exit non-zero, never a traceback.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path


class CdiscmapError(Exception):
    """Base of every error cdiscmap raises on purpose."""


class SpecError(CdiscmapError):
    """A mapping spec, study.yaml or settings file is wrong (bad YAML, unknown key, ...).

    Raised before any data is read. ``file`` and ``line`` point at the YAML text.
    """

    def __init__(self, message: str, file: Path | str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.key = key
        where = ""
        if self.file:
            where = self.file + (f":{line}" if line else "")
        if key:
            where = f"{where} [{key}]" if where else f"[{key}]"
        super().__init__(f"{where}: {message}" if where else message)


class StandardsError(CdiscmapError):
    """The standard metadata in specs/ is missing or inconsistent."""


class InputDataError(CdiscmapError):
    """Raw or SDTM input cannot be read at all (missing file, missing column, bad encoding).

    Problems with individual values are findings, not errors.
    """


class XptLimitError(CdiscmapError):
    """A dataset breaks an XPT v5 / FDA limit (name, label, length, ASCII) and is not written."""


class OutputError(CdiscmapError):
    """An output file could not be written."""


class ValidationFailed(CdiscmapError):
    """Findings at or above the --fail-on severity remain after a run or validate."""


def display_path(path: Path | str) -> str:
    """A path as a person wants to read it: relative to the working directory when possible.

    Remembered per path and working directory: readers and loaders name each file several
    times whether or not anything goes wrong (~100 calls a run, 0.2 ms of path resolution
    each, for ~30 distinct files)."""
    return _display_path(str(Path(path)), os.getcwd())


@lru_cache(maxsize=512)
def _display_path(path: str, cwd: str) -> str:
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path(cwd).resolve()))
    except ValueError:
        return path


class Terminated(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an Exception
    """SIGTERM arrived: unwinds like KeyboardInterrupt (staging is removed on the way out).

    A BaseException so that no ``except Exception`` on the way swallows it.
    """
