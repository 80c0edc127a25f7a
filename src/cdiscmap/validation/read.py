"""Read dataset files for the validator: XPT v5 and Dataset-JSON → :class:`DatasetFile`.

The readers live in :mod:`cdiscmap.checks.read`, where ``cdiscmap adam --sdtm`` can use them
too (``adam/`` may not import ``validation/``); this module keeps the validator's names.
"""

from __future__ import annotations

from cdiscmap.checks.read import (
    _factorize_bytes,
    _read_xpt_pyreadstat,
    _read_xpt_v5,
    ibm_to_float64,
    normalise,
    read_json_dataset,
    read_xpt_dataset,
    relative_path,
    sas_dates,
)

__all__ = ["_factorize_bytes", "_read_xpt_pyreadstat", "_read_xpt_v5", "ibm_to_float64",
           "normalise", "read_json_dataset", "read_xpt_dataset", "relative_path", "sas_dates"]
