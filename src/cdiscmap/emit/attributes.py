"""XPT attributes (label, type, order, format) of a dataset, taken from specs/ metadata.

Like xportr: the data never decides its own labels; the standard does. Variables are written
in the standard's order; SUPP-- datasets take the SUPPQUAL structure.
"""

from __future__ import annotations

import pandas as pd

from cdiscmap.emit.xpt import XptColumn
from cdiscmap.errors import StandardsError
from cdiscmap.standards.models import Dataset, Standards


def metadata_for(standards: Standards, dataset_name: str) -> Dataset:
    """The standard's dataset metadata; SUPPxx datasets use SUPPQUAL."""
    if dataset_name.startswith("SUPP") and dataset_name not in standards.datasets:
        return standards.dataset("SUPPQUAL")
    return standards.dataset(dataset_name)


def dataset_label(standards: Standards, dataset_name: str) -> str:
    if dataset_name.startswith("SUPP") and dataset_name not in standards.datasets:
        return f"Supplemental Qualifiers for {dataset_name[4:]}"
    return standards.dataset(dataset_name).label


def ordered_columns(frame: pd.DataFrame, meta: Dataset,
                    extra_labels: dict[str, str] | None = None) -> list[XptColumn]:
    """XPT columns in standard order for the variables the frame holds (internal `_` columns
    are never written). A variable the standard does not know needs a label in
    ``extra_labels`` (sponsor-defined variables) or it is an error."""
    extra_labels = extra_labels or {}
    present = [c for c in frame.columns if not c.startswith("_")]
    known = {v.name: v for v in meta.variables}
    columns: list[XptColumn] = []
    for var in sorted(meta.variables, key=lambda v: v.order):
        if var.name in present:
            columns.append(XptColumn(
                name=var.name, label=var.label,
                type="char" if var.data_type == "Char" else "num",
                format=var.display_format))
    unknown = [c for c in present if c not in known]
    missing_label = [c for c in unknown if c not in extra_labels]
    if missing_label:
        raise StandardsError(f"{meta.name}: variables {missing_label} are not in the standard "
                             f"and have no sponsor label")
    for name in unknown:
        kind = "num" if frame[name].dtype.kind in "fiubmM" else "char"
        fmt = "DATE9." if frame[name].dtype.kind == "M" else None
        columns.append(XptColumn(name=name, label=extra_labels[name], type=kind, format=fmt))
    return columns
