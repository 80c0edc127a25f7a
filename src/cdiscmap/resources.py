"""Where the bundled standard metadata (``specs/``) and example studies (``mappings/``) are.

There is one copy of each, at the top of the repository, edited there. An installed wheel
carries them as package data ``cdiscmap/_data/specs`` and ``cdiscmap/_data/mappings``
(``setup.py`` maps those two packages onto the top-level folders at build time), found here
through :mod:`importlib.resources`. A source checkout or an editable install (``pip install
-e .``) has no ``_data`` folder and reads the repository's folders directly. Both layouts keep
the folder names ``specs`` and ``mappings`` side by side, so whatever is written relative to
them (``mappings/<study>`` in define.xml method texts) is the same either way.

This module imports nothing heavy: ``cdiscmap --help`` stays fast.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from cdiscmap.errors import SpecError, StandardsError, display_path

SPECS_ENV = "CDISCMAP_SPECS"
DATA_FOLDER = "_data"            # inside the installed package; see setup.py


def _bundled(name: str) -> list[Path]:
    """Candidates for a bundled folder, in lookup order: package data, then the checkout."""
    candidates = []
    packaged = resources.files("cdiscmap") / DATA_FOLDER / name
    if isinstance(packaged, Path):   # an unpacked install; a zipped one has no real folders
        candidates.append(packaged)
    # src/cdiscmap/resources.py -> the repository is two levels above the package folder
    candidates.append(Path(__file__).resolve().parents[2] / name)
    return candidates


def specs_root() -> Path:
    """The standard metadata folder: ``$CDISCMAP_SPECS``, else the bundled ``specs/``.

    StandardsError when the variable names no folder or no bundled copy exists (a broken
    install), so the person sees which place was looked at instead of a traceback.
    """
    env = os.environ.get(SPECS_ENV)
    if env:
        path = Path(env)
        if not path.is_dir():
            raise StandardsError(f"{SPECS_ENV}={env} is not a directory")
        return path
    candidates = _bundled("specs")
    for path in candidates:
        if path.is_dir():
            return path
    raise StandardsError(f"cannot find the specs directory: set {SPECS_ENV}, or reinstall "
                         f"cdiscmap (looked in {' and '.join(str(p) for p in candidates)})")


# the bundled study ``cdiscmap run`` converts when given none (its demo export is synthesised)
DEMO_STUDY = "crizotinib-basket"


def default_study_dir() -> Path:
    """The demo study's folder (``mappings/crizotinib-basket``)."""
    return studies_root() / DEMO_STUDY


def studies_root() -> Path:
    """The folder of the bundled example studies (``mappings/``).

    Never raises: when no copy exists the first candidate is returned, and the caller's
    "study folder not found" message (which lists the bundled studies) says the rest.
    """
    candidates = _bundled("mappings")
    return next((path for path in candidates if path.is_dir()), candidates[0])


def bundled_study_names() -> list[str]:
    """The names of the bundled example studies (folders of ``mappings/`` with a study.yaml)."""
    root = studies_root()
    return sorted(p.name for p in root.iterdir() if (p / "study.yaml").is_file()) \
        if root.is_dir() else []


def resolve_study_dir(study: Path | str) -> Path:
    """A study folder as given, or the bundled study of that name (``gist-imatinib``).

    Here rather than beside ``run`` so that commands that only read a study's settings
    (``cdiscmap adam``) do not import the SDTM mapping engine to find the folder."""
    path = Path(study)
    if path.is_dir():
        return path
    if len(path.parts) == 1:
        bundled = studies_root() / path.name
        if (bundled / "study.yaml").is_file():
            return bundled
    raise SpecError(f"study folder {display_path(path)} not found (and no bundled study of "
                    f"that name: {', '.join(bundled_study_names())})")


__all__ = ["SPECS_ENV", "bundled_study_names", "resolve_study_dir", "specs_root",
           "studies_root"]
