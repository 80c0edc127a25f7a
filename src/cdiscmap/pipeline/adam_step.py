"""ADaM step of a run: SDTM frames → ADSL/ADRS/ADTTE/ADAE/ADEX/ADTR/ADQS →
pandera checks → XPT.

Used by ``cdiscmap run`` (on the SDTM it just mapped) and ``cdiscmap adam`` (on any SDTM
folder). It reads only SDTM, never raw data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from cdiscmap.adam import derive_all, load_adam_settings
from cdiscmap.adam.settings import AdamSettings
from cdiscmap.checks.schema import check_dataset
from cdiscmap.emit.atomic import Staging
from cdiscmap.emit.datasets import write_datasets
from cdiscmap.findings import Findings
from cdiscmap.progress import SILENT, Progress
from cdiscmap.standards.models import Standards

ADAM_ORDER = ("ADSL", "ADRS", "ADTTE", "ADAE", "ADEX", "ADTR", "ADQS")


def derive_and_check(sdtm: dict[str, pd.DataFrame], study_dir: Path, standards: Standards,
                     findings: Findings, settings: AdamSettings | None = None
                     ) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """Derive the study's ADaM datasets and check each against its ADaMIG metadata
    (``settings``: the study's ADaM settings when the caller has already loaded them)."""
    frames, methods = derive_adam(sdtm, study_dir, findings, settings)
    check_adam(frames, standards, findings)
    return frames, methods


def derive_adam(sdtm: dict[str, pd.DataFrame], study_dir: Path, findings: Findings,
                settings: AdamSettings | None = None
                ) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """The first half of :func:`derive_and_check`: the datasets (in ADAM_ORDER) and their
    methods; the derivations' findings go to ``findings``."""
    if settings is None:
        settings = load_adam_settings(study_dir)
    result = derive_all(sdtm, settings)
    findings.extend(result.findings)
    frames = {name: result.datasets[name] for name in ADAM_ORDER if name in result.datasets}
    return frames, result.methods


def check_adam(frames: dict[str, pd.DataFrame], standards: Standards, findings: Findings
               ) -> None:
    """The second half of :func:`derive_and_check`: each dataset against its ADaMIG metadata
    (pandera schemas from specs/); reads the frames only."""
    for name, frame in frames.items():
        findings.extend(check_dataset(frame, standards.dataset(name), standards,
                                      dataset_name=name))


def run_adam(sdtm: dict[str, pd.DataFrame], study_dir: Path, standards: Standards,
             folder: Path, created: datetime, findings: Findings, *, formats: str = "xpt",
             studyid: str = "", progress: Progress = SILENT
             ) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, str]], list[Path]]:
    """Derive, check and write ADaM; returns the frames, their derivation methods, the files."""
    frames, methods = derive_and_check(sdtm, study_dir, standards, findings)
    files = write_datasets(frames, folder, standards, created, formats=formats,
                           studyid=studyid, progress=progress)
    return frames, methods, files


@dataclass
class AdamOutcome:
    """What ``cdiscmap adam`` wrote: the folder, records per file, the findings."""

    folder: Path
    records: dict[Path, int]
    findings: Findings
    counts: dict[str, object]


def run_adam_command(sdtm_dir: Path, study_dir: Path, out_dir: Path | None,
                     progress: Progress = SILENT) -> AdamOutcome:
    """``cdiscmap adam``: read any SDTM folder, derive, check, write ADaM and findings."""
    from cdiscmap.checks.read import read_sdtm
    from cdiscmap.emit.report import findings_summary, write_findings
    from cdiscmap.emit.timestamp import output_timestamp
    from cdiscmap.standards import load_standards

    progress.stage("Loading specs and settings")
    standards = load_standards()
    settings = load_adam_settings(study_dir)   # bad settings stop before any SDTM is read
    progress.stage("Reading SDTM")
    sdtm = read_sdtm(sdtm_dir, lazy=True)     # only the datasets used are read
    findings = Findings()
    progress.stage("Deriving ADaM")
    frames, _ = derive_and_check(sdtm, study_dir, standards, findings, settings)
    target = out_dir or sdtm_dir.parent / "adam"
    progress.stage("Writing ADaM datasets")
    with Staging(target) as stage:        # all files complete before any old one is replaced
        files = write_datasets(frames, stage.folder, standards, output_timestamp(study_dir),
                               progress=progress)
        write_findings(stage.folder, findings)
        stage.publish(_adam_owned, shared=True)
    return AdamOutcome(folder=target,
                       records={target / path.name: len(frames[path.stem.upper()])
                                for path in files},
                       findings=findings, counts=findings_summary(findings))


_ADAM_FILES = frozenset({"findings.csv", "findings.json",
                         *(f"{name.lower()}.xpt" for name in ADAM_ORDER)})


def _adam_owned(name: str) -> bool:
    """Files ``cdiscmap adam`` writes into its folder: replaced, or removed when stale (an
    ADaM dataset this derivation no longer makes). Anything else there is left alone."""
    return name in _ADAM_FILES
