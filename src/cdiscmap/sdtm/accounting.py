"""Record accounting: every raw row ends up in an output record or in a counted drop.

Per raw form: rows read, rows used (by which blocks), rows dropped by reason; per dataset:
records written. ``balanced`` is the invariant read == used + dropped, checked for each form.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cdiscmap.errors import InputDataError


@dataclass
class FormAccount:
    form: str
    file: str
    read: int
    used: np.ndarray                  # bool per raw row
    reason: np.ndarray                # object: first drop reason per raw row (None if none)
    used_by: dict[str, int] = field(default_factory=dict)   # block tag → distinct rows used

    def dropped_by_reason(self) -> dict[str, int]:
        """Rows not used, counted by first drop reason (a row with none: not used by any
        mapping block), sorted by reason. A Counter over the few reason strings, not a
        Series' fillna + value_counts: 16 forms of 1,000 subjects 4.2 -> 1.5 ms."""
        reasons = self.reason[~self.used]
        missing = pd.isna(reasons)
        counts = Counter(reasons[~missing].tolist())
        n_missing = int(np.count_nonzero(missing))
        if n_missing:
            counts[_NOT_USED] = counts.get(_NOT_USED, 0) + n_missing
        return {str(k): int(v) for k, v in sorted(counts.items())}


_NOT_USED = "not used by any mapping block"


@dataclass
class Accounting:
    forms: dict[str, FormAccount] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    unlisted_files: dict[str, int] = field(default_factory=dict)
    # "file [item group or sheet]" of a listed ODM/Excel file that no form reads → rows
    unread_parts: dict[str, int] = field(default_factory=dict)

    def register_form(self, form: str, file: str, n_rows: int) -> None:
        if form not in self.forms:
            self.forms[form] = FormAccount(form, file, n_rows, np.zeros(n_rows, dtype=bool),
                                           # None in every cell, as numpy makes
                                           # an object array (np.full(None): 4x the time)
                                           np.empty(n_rows, dtype=object))

    def use(self, form: str, rows: pd.Series, tag: str) -> None:
        acc = self.forms[form]
        idx = np.asarray(rows, dtype="int64") - 1
        acc.used[idx] = True
        if len(idx) and idx.min() >= 0:     # distinct rows marked, not sorted (np.unique)
            mark = np.zeros(len(acc.used), dtype=bool)
            mark[idx] = True
            distinct = int(np.count_nonzero(mark))
        else:
            distinct = int(len(np.unique(idx)))
        acc.used_by[tag] = acc.used_by.get(tag, 0) + distinct

    def drop(self, form: str, rows: pd.Series, reason: str, tag: str) -> None:
        if len(rows) == 0:
            return
        acc = self.forms[form]
        idx = np.asarray(rows, dtype="int64") - 1
        todo = idx[pd.isna(acc.reason[idx])]
        acc.reason[todo] = f"{reason} [{tag}]" if tag else reason

    def records(self, dataset: str, n: int) -> None:
        self.written[dataset] = n

    def finish(self, form_specs: dict, read_forms: dict, raw_dir: Path) -> None:
        """Count raw files that no spec reads: their rows are dropped, never silently ignored."""
        listed = {spec.file for spec in form_specs.values()}
        if raw_dir.is_dir():
            for path in sorted(raw_dir.iterdir()):
                if path.is_file() and path.name not in listed and \
                        path.suffix.lower() in (".csv", ".sas7bdat", ".xpt", ".xml", ".xlsx"):
                    n = _count_rows(path)
                    self.unlisted_files[path.name] = n
        self._unread_parts(form_specs, raw_dir)

    def _unread_parts(self, form_specs: dict, raw_dir: Path) -> None:
        """Item groups of a listed ODM file, and sheets of a listed workbook, that no form
        reads: one export holds many forms, and the ones left out are counted, not ignored."""
        from cdiscmap.ingest.excel import resolve_sheet, sheet_row_counts
        from cdiscmap.ingest.odm import item_group_counts

        by_file: dict[str, list[tuple[str, object]]] = {}
        for name, spec in form_specs.items():
            fmt = getattr(spec, "format", None) or _FORMATS.get(Path(spec.file).suffix.lower())
            if fmt in ("odm", "excel") and (raw_dir / spec.file).is_file():
                by_file.setdefault(spec.file, []).append((name, spec))
        for file, specs in sorted(by_file.items()):
            path = raw_dir / file
            if getattr(specs[0][1], "item_group", None) is not None:
                read = {spec.item_group for _, spec in specs}
                counts = item_group_counts(path)
            else:
                read = {resolve_sheet(path, spec.sheet, name) for name, spec in specs}
                counts = sheet_row_counts(path)
            for part, n in counts.items():
                if part not in read and n:
                    self.unread_parts[f"{file} [{part}]"] = n

    def table(self) -> pd.DataFrame:
        """One row per raw file: read, used, dropped, and whether it balances."""
        return self.summary()[0]

    def drops(self) -> pd.DataFrame:
        """One row per raw file and drop reason: the rows dropped."""
        return self.summary()[1]

    @property
    def balanced(self) -> bool:
        return self.summary()[2]

    def summary(self) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
        """:meth:`table`, :meth:`drops` and :attr:`balanced` from one count of each form's
        drop reasons (the run report asked for all three: three counts per form, about
        half of ``write_run_report``, 13.8 -> 2.6 ms at 1,000 subjects with the Counter)."""
        rows = []
        drops = []
        for acc in self.forms.values():
            used = int(acc.used.sum())
            by_reason = acc.dropped_by_reason()
            dropped = sum(by_reason.values())
            rows.append({"file": acc.file, "form": acc.form, "read": acc.read, "used": used,
                         "dropped": dropped, "balanced": acc.read == used + dropped})
            drops += [{"file": acc.file, "reason": reason, "rows": n}
                      for reason, n in by_reason.items()]
        for file, n in [*self.unlisted_files.items(), *self.unread_parts.items()]:
            rows.append({"file": file, "form": "(not in study.yaml)", "read": n, "used": 0,
                         "dropped": n, "balanced": True})
        for file, n in self.unlisted_files.items():
            drops.append({"file": file, "reason": "file not listed in study.yaml forms",
                          "rows": n})
        for file, n in self.unread_parts.items():
            drops.append({"file": file, "reason": "item group or sheet no study.yaml form reads",
                          "rows": n})
        table = pd.DataFrame(rows, columns=["file", "form", "read", "used", "dropped",
                                            "balanced"])
        balanced = bool(table["balanced"].all()) if len(table) else True
        return table, pd.DataFrame(drops, columns=["file", "reason", "rows"]), balanced


_FORMATS = {".xml": "odm", ".xlsx": "excel", ".xlsm": "excel"}


def _count_rows(path: Path) -> int:
    if path.suffix.lower() == ".xml":      # an ODM export: its ItemGroupData records
        from cdiscmap.ingest.odm import item_group_counts

        try:
            return sum(item_group_counts(path).values())
        except InputDataError:      # any other XML file holds no raw rows
            return 0
    if path.suffix.lower() == ".xlsx":
        from cdiscmap.ingest.excel import sheet_row_counts

        return sum(sheet_row_counts(path).values())
    if path.suffix.lower() == ".csv":
        return max(0, len(pd.read_csv(path, dtype=str, usecols=[0])))
    import pyreadstat

    reader = pyreadstat.read_sas7bdat if path.suffix.lower() == ".sas7bdat" else \
        pyreadstat.read_xport
    _, meta = reader(str(path), metadataonly=True)
    return int(meta.number_rows or 0)
