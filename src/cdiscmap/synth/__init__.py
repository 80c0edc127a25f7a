"""Synthetic raw eCRF exports of the seed trials, any size, fixed seed.

``generate`` writes ``out_dir/raw/*.csv`` (the EDC export, contract: docs/raw-forms.md; the
``imt-odm`` study writes one ODM-XML file instead, docs/raw-forms-imt-odm.md; the
``alk-sarcoma-cases`` literature review one Excel workbook, docs/raw-forms-alk-cases.md) and
``out_dir/truth/*.csv`` (what was planted, for tests; never read by the mappings). The same
study, size and seed give byte-identical files.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cdiscmap.emit.atomic import atomic_open
from cdiscmap.errors import InputDataError
from cdiscmap.progress import SILENT, Progress
from cdiscmap.synth import basket

DEFAULT_SUBJECTS = 150
DEFAULT_SEED = 20140701

# Study name -> module whose build(n_subjects, seed) returns the raw and truth frames.
_MODULES = {
    basket.STUDY: "cdiscmap.synth.basket",
    "gist-imatinib": "cdiscmap.synth.gist",
    "imt-pediatric": "cdiscmap.synth.imt",
    "imt-edc": "cdiscmap.synth.imt_edc",
    "imt-odm": "cdiscmap.synth.imt_odm",
    "alk-sarcoma-cases": "cdiscmap.synth.alk_cases",
}


@dataclass(frozen=True)
class RawBytes:
    """A binary raw file (an Excel workbook) and the data rows it holds, as a generator returns
    it in ``StudyFiles.raw``."""

    data: bytes
    rows: int


def _builder(study: str) -> Callable[[int, int], basket.StudyFiles] | None:
    module = _MODULES.get(study)
    if module is None or importlib.util.find_spec(module) is None:
        return None
    return importlib.import_module(module).build


@dataclass(frozen=True)
class SynthResult:
    """Where the files went and how many data rows each raw file holds."""

    raw_dir: Path
    truth_dir: Path
    rows: dict[str, int]


def available_studies() -> list[str]:
    """Names accepted by ``generate`` (sorted)."""
    return sorted(name for name in _MODULES if _builder(name) is not None)


def generate(study: str, out_dir: Path, *, n_subjects: int = DEFAULT_SUBJECTS,
             seed: int = DEFAULT_SEED, progress: Progress = SILENT) -> SynthResult:
    """Generate the raw export of ``study`` for ``n_subjects`` subjects into ``out_dir``.

    ``progress`` shows the step under way: drawing the subjects, then each form written."""
    builder = _builder(study)
    if builder is None:
        raise InputDataError(f"unknown study {study!r}: the synthetic studies are "
                             f"{', '.join(available_studies())}")
    if isinstance(n_subjects, bool) or not isinstance(n_subjects, int) or n_subjects < 1:
        raise InputDataError(f"the number of subjects must be a whole number >= 1, "
                             f"not {n_subjects!r}")
    progress.step(f"drawing {n_subjects} subjects")
    files = builder(n_subjects, int(seed))
    out = Path(out_dir)
    raw_dir, truth_dir = out / "raw", out / "truth"
    rows = {}
    for name, frame in sorted(files.raw.items()):
        progress.step(name)
        if isinstance(frame, str):          # a whole-file export (ODM-XML): rows = records
            with atomic_open(raw_dir / name, "w", encoding="utf-8", newline="",
                             parents=True) as handle:
                handle.write(frame)
            rows[name] = frame.count("<ItemGroupData ")
        elif isinstance(frame, RawBytes):   # a workbook (alk-sarcoma-cases)
            with atomic_open(raw_dir / name, "wb", parents=True) as handle:
                handle.write(frame.data)
            rows[name] = frame.rows
        else:
            rows[name] = write_csv(frame, raw_dir / name)
    for name, frame in sorted(files.truth.items()):
        progress.step(f"truth/{name}")
        write_csv(frame, truth_dir / name)
    return SynthResult(raw_dir=raw_dir, truth_dir=truth_dir, rows=rows)


def write_csv(frame: pd.DataFrame, path: Path) -> int:
    """Write ``frame`` as text CSV (UTF-8, ``\\n``, minimal quoting) atomically; return rows.

    The file is written under a temporary name in the same folder and renamed, so a failure
    never leaves a partial file behind.
    """
    text = frame.astype("string").fillna("")
    with atomic_open(path, "w", newline="", parents=True) as handle:
        text.to_csv(handle, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return len(frame)


__all__ = ["DEFAULT_SEED", "DEFAULT_SUBJECTS", "RawBytes", "SynthResult", "available_studies", "generate",
           "write_csv"]
