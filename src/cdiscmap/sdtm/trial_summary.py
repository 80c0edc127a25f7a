"""TS (Trial Summary, SDTMIG 3.4 §7.6.1) from study.yaml, plus the parameters the data gives.

Study-level facts (title, phase, treatment, versions) are written in study.yaml; ACTSUB (actual
number of subjects), SSTDTC (study start: earliest informed consent, per the FDA's definition)
and SENDTC (latest end of participation) are derived from DM; DCUTDTC/DCUTDESC come from
study.yaml ``data_cutoff``, the one cut-off date DM and EPOCH use too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from cdiscmap.errors import SpecError
from cdiscmap.sdtm.relationships import split_continued
from cdiscmap.sdtm.vectorize import coded
from cdiscmap.spec.loader import LoadedStudy
from cdiscmap.standards.models import Standards

_TEXT_COLUMNS = ("STUDYID", "DOMAIN", "TSPARMCD", "TSPARM", "TSVAL", "TSVALNF", "TSVALCD",
                 "TSVCDREF", "TSVCDVER")


def _derived(name: str, dm: pd.DataFrame | None) -> str | None:
    if dm is None or dm.empty:
        return None
    if name == "ACTSUB":
        return str(dm["USUBJID"].nunique())
    if name == "SSTDTC" and "RFICDTC" in dm:
        return _date_bound(dm["RFICDTC"], min)
    if name == "SENDTC" and "RFPENDTC" in dm:
        return _date_bound(dm["RFPENDTC"], max)
    return None


def _date_bound(values: pd.Series, bound: Callable[[Iterable[str]], str]) -> str | None:
    """The earliest (``min``) or latest (``max``) date part (first 10 characters) of a DM
    date column, None when it holds none; a ``string`` column's cut once per distinct value
    (its factorisation remembered by the mapping) rather than per subject."""
    if isinstance(values.dtype, pd.StringDtype):
        distinct = coded(values)[1]
        return bound(value[:10] for value in distinct) if len(distinct) else None
    dates = values.dropna().astype(str).str.slice(0, 10)
    return (dates.min() if bound is min else dates.max()) if len(dates) else None


def build_ts(loaded: LoadedStudy, dm: pd.DataFrame | None, standards: Standards
             ) -> pd.DataFrame | None:
    entries = loaded.study.trial_summary
    if not entries:
        return None
    codes = standards.codelist("TSPARMCD")
    names = standards.codelist("TSPARM")
    name_by_code = {t.code: t.value for t in names.terms}
    parm_name = {t.value: name_by_code.get(t.code) for t in codes.terms}
    text: dict[str, list[object]] = {name: [] for name in _TEXT_COLUMNS}
    lines: list[int] = []
    seq: list[float] = []
    seen: dict[str, int] = {}
    for i, e in enumerate(entries):
        line = loaded.study_yaml.line_of(("trial_summary", i))
        if e.parmcd not in parm_name:
            raise SpecError(f"TSPARMCD '{e.parmcd}' is not in the TSPARMCD codelist",
                            loaded.study_file, line, "parmcd")
        if e.derive in ("DCUTDTC", "DCUTDESC"):
            # study.yaml data_cutoff: the date RFENDTC, EPOCH and open records also use
            cut = loaded.study.data_cutoff
            value = None if cut is None else (cut.date.isoformat() if e.derive == "DCUTDTC"
                                              else cut.description)
        else:
            value = e.value if e.value is not None else _derived(e.derive or "", dm)
        for name, cell in zip(_TEXT_COLUMNS, (
                loaded.study.studyid, "TS", e.parmcd, parm_name[e.parmcd], value,
                # SDTMIG 3.4 §7.6.1: a value that cannot be given carries a null flavour
                None if value is not None else (e.null_flavor or "UNK"),
                e.code, e.code_ref, e.code_version), strict=True):
            text[name].append(cell)
        lines.append(line or 0)
        seen[e.parmcd] = seen.get(e.parmcd, 0) + 1     # TSSEQ: 1, 2, ... per parameter
        seq.append(float(seen[e.parmcd]))
    # one frame from its columns (a few dozen rows: building it row by row and converting
    # each column afterwards cost more than the values)
    ts = pd.DataFrame({**{name: pd.array(cells, dtype="string") for name, cells in text.items()},
                       "_SRCFILE": np.array(["study.yaml"] * len(lines), dtype=object),
                       "_SRCROW": np.array(lines, dtype=np.int64),
                       "TSSEQ": np.array(seq, dtype=np.float64)})
    # a value over 200 characters continues in TSVAL1, TSVAL2, ... (SDTMIG 3.4 §7.6.1 TS)
    return split_continued(ts, "TSVAL")
