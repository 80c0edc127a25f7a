"""Output paths that cannot leave the folder the user named with ``--out``.

A name that comes from a spec (STUDYID) becomes a folder under ``--out``, and a run later
replaces and deletes files in that folder. study.yaml refuses such names as written
(``spec.models.StudySpec``); this is the second wall, checked where the path is built, so no
future caller can join a name that points elsewhere (``../x``, ``/abs``, a symbolic link out).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

from cdiscmap.errors import OutputError, display_path


def safe_child(root: Path, name: str) -> Path:
    """``root / name`` when that is a folder strictly inside ``root``; else OutputError.

    ``name`` must be one plain path component (no separator, not ``.``/``..``, not absolute).
    The joined path is also resolved (following symbolic links that already exist) and must
    stay under the resolved ``root``. The returned path is ``root / name`` as given, not the
    resolved one, so messages and reports keep the user's spelling.
    """
    parts = PurePosixPath(name).parts
    if (not name or name in (".", "..") or "\\" in name or "\0" in name
            or len(parts) != 1 or PurePosixPath(name).is_absolute()
            or PureWindowsPath(name).drive):
        raise OutputError(f"output name {name!r} is not a plain folder name: it would be "
                          f"written outside {display_path(root)}")
    child = root / name
    base = root.resolve()
    resolved = child.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise OutputError(f"output folder {display_path(child)} resolves to "
                          f"{display_path(resolved)}, outside {display_path(root)}; "
                          "refusing to write or delete there")
    return child
