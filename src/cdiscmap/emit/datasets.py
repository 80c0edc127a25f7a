"""Write a set of datasets as SAS XPT v5 and/or Dataset-JSON v1.1 with metadata from specs/.

Every dataset is checked against the XPT v5 limits before any file is written, so one bad
dataset never leaves the others half-written.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from cdiscmap.emit.attributes import dataset_label, metadata_for, ordered_columns
from cdiscmap.emit.xpt import check_xpt_limits, write_xpt
from cdiscmap.progress import SILENT, Progress
from cdiscmap.standards.models import Standards


def write_datasets(datasets: dict[str, pd.DataFrame], folder: Path, standards: Standards,
                   created: datetime, extra_labels: dict[str, dict[str, str]] | None = None,
                   formats: str = "xpt", study_oid: str = "",
                   progress: Progress = SILENT) -> list[Path]:
    """Check every dataset against the XPT limits first, then write them all (XPT v5 and/or
    Dataset-JSON v1.1 with the same metadata); ``progress`` shows the dataset being written."""
    plans = []
    for name, frame in datasets.items():
        meta = metadata_for(standards, name)
        cols = ordered_columns(frame, meta, (extra_labels or {}).get(name))
        label = dataset_label(standards, name)
        check_xpt_limits(frame, name, label, cols)
        plans.append((name, frame, cols, label, meta.keys))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame, cols, label, keys in plans:
        progress.step(name)
        if formats in ("xpt", "both"):
            path = folder / f"{name.lower()}.xpt"
            write_xpt(path, frame, dataset_name=name, dataset_label=label, columns=cols,
                      created=created)
            written.append(path)
        if formats in ("json", "both"):
            from cdiscmap.emit.datasetjson import write_dataset_json

            written.append(write_dataset_json(
                folder / f"{name.lower()}.json", frame, dataset_name=name, dataset_label=label,
                columns=cols, keys=[k for k in keys if k in frame.columns],
                study_oid=study_oid or name, created=created))
    return written
