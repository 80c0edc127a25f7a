"""Readers for raw exports: each gives a DataFrame of text plus lineage columns.

Every raw row gets ``_SRCFILE`` (file name) and ``_SRCROW`` (1-based data row, header excluded),
which travel with the data until emit, so any finding can name the row it came from.
"""

from cdiscmap.ingest.readers import RawForm, read_form

__all__ = ["RawForm", "read_form"]
