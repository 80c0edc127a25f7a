"""Write a set of datasets as SAS XPT v5 and/or Dataset-JSON v1.1 with metadata from specs/.

Every dataset is checked against the XPT v5 limits before any file is written, so one bad
dataset never leaves the others half-written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from cdiscmap.emit.attributes import dataset_label, metadata_for, ordered_columns
from cdiscmap.emit.written import remember_plan
from cdiscmap.emit.xpt import XptPlan, check_xpt_limits, write_xpt
from cdiscmap.progress import SILENT, Progress
from cdiscmap.standards.models import Standards


@dataclass(frozen=True)
class PlannedDatasets:
    """Datasets checked against the XPT v5 limits and sized, ready to be written.

    Made by :func:`plan_datasets`; :func:`write_planned` writes them. The two halves let a
    caller refuse data that cannot be written before doing other long work, and write later
    (``cdiscmap run`` sizes SDTM before deriving ADaM and writes it while the report is made).
    The frames must not change in between (the plans hold their factorised columns).
    """

    folder: Path
    standards: Standards
    created: datetime
    formats: str
    study_oid: str
    studyid: str
    plans: tuple[tuple[str, pd.DataFrame, list, str, list[str], XptPlan], ...]


def plan_datasets(datasets: dict[str, pd.DataFrame], folder: Path, standards: Standards,
                  created: datetime, extra_labels: dict[str, dict[str, str]] | None = None,
                  formats: str = "xpt", study_oid: str = "", studyid: str = ""
                  ) -> PlannedDatasets:
    """Check every dataset against the XPT v5 limits (raising the first problem) and size it;
    nothing is written. Arguments as for :func:`write_datasets`."""
    plans = []
    for name, frame in datasets.items():
        meta = metadata_for(standards, name)
        cols = ordered_columns(frame, meta, (extra_labels or {}).get(name))
        label = dataset_label(standards, name)
        # the check is the XPT plan: handed to write_xpt so no column is factorised twice
        xpt_plan = check_xpt_limits(frame, name, label, cols)
        remember_plan(xpt_plan)     # define.xml of these frames reuses the factorisations
        plans.append((name, frame, cols, label, meta.keys, xpt_plan))
    return PlannedDatasets(folder=folder, standards=standards, created=created,
                           formats=formats, study_oid=study_oid, studyid=studyid,
                           plans=tuple(plans))


def write_planned(planned: PlannedDatasets, progress: Progress = SILENT) -> list[Path]:
    """Write datasets sized by :func:`plan_datasets` (XPT v5 and/or Dataset-JSON v1.1);
    ``progress`` shows the dataset being written."""
    folder, formats, standards = planned.folder, planned.formats, planned.standards
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame, cols, label, keys, xpt_plan in planned.plans:
        progress.step(name)
        if formats in ("xpt", "both"):
            path = folder / f"{name.lower()}.xpt"
            write_xpt(path, frame, dataset_name=name, dataset_label=label, columns=cols,
                      created=planned.created, plan=xpt_plan)
            written.append(path)
        if formats in ("json", "both"):
            from cdiscmap.emit.datasetjson import write_dataset_json

            written.append(write_dataset_json(
                folder / f"{name.lower()}.json", frame, dataset_name=name, dataset_label=label,
                columns=cols, keys=[k for k in keys if k in frame.columns],
                created=planned.created, lengths=xpt_plan.lengths,
                **_define_link(name, standards, planned.studyid, planned.study_oid)))
    return written


def write_datasets(datasets: dict[str, pd.DataFrame], folder: Path, standards: Standards,
                   created: datetime, extra_labels: dict[str, dict[str, str]] | None = None,
                   formats: str = "xpt", study_oid: str = "", studyid: str = "",
                   progress: Progress = SILENT) -> list[Path]:
    """Check every dataset against the XPT limits first, then write them all (XPT v5 and/or
    Dataset-JSON v1.1 with the same metadata); ``progress`` shows the dataset being written.

    ``studyid`` says that a define.xml of the study is written beside the datasets: the
    Dataset-JSON files then carry its Study and MetaDataVersion OIDs and point at it
    (``metaDataRef``); without it, ``study_oid`` (default: the dataset name) is used alone."""
    return write_planned(plan_datasets(datasets, folder, standards, created, extra_labels,
                                       formats, study_oid, studyid), progress)


def _define_link(name: str, standards: Standards, studyid: str, study_oid: str
                 ) -> dict[str, str | None]:
    """The OIDs and metaDataRef a Dataset-JSON file gets: those of the define.xml beside it
    when the study writes one (``studyid``), else the caller's ``study_oid`` alone."""
    if not studyid:
        return {"study_oid": study_oid or name}
    from cdiscmap.emit.oids import DEFINE_FILE, metadata_version_oid
    from cdiscmap.emit.oids import study_oid as define_study_oid

    kind = "ADaM" if metadata_for(standards, name).standard.startswith("ADaM") else "SDTM"
    return {"study_oid": define_study_oid(studyid),
            "metadata_version_oid": metadata_version_oid(studyid, kind, standards),
            "metadata_ref": DEFINE_FILE}
