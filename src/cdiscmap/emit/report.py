"""The run report: record accounting, datasets written and findings, as JSON, Markdown and CSV.

Deterministic (no clock, no absolute paths), so two runs on the same inputs give identical
reports and CI can diff them.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cdiscmap.checks.facts import text_facts
from cdiscmap.emit.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from cdiscmap.findings import Findings

_NEEDS_QUOTE = re.compile(r'[,"\r\n]')

if TYPE_CHECKING:
    from cdiscmap.sdtm.engine import SdtmResult
    from cdiscmap.spec.loader import LoadedStudy


def _md_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_none_\n"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.astype(str).itertuples(index=False):
        lines.append("| " + " | ".join(v.replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines) + "\n"


def findings_summary(findings: Findings, frame: pd.DataFrame | None = None
                     ) -> dict[str, object]:
    """Counts by severity and by rule; ``frame``: ``findings.to_frame()`` when the caller
    has it already (a report builds it once for every section)."""
    frame = findings.to_frame() if frame is None else frame
    by_rule: dict[str, int] = {}
    if len(frame):
        counts = frame.groupby(["severity", "rule"])["count"].sum()
        by_rule = {f"{sev}:{rule}": int(n) for (sev, rule), n in sorted(counts.items())}
    return {
        "error": int(frame.loc[frame["severity"] == "error", "count"].sum()) if len(frame) else 0,
        "warning": int(frame.loc[frame["severity"] == "warning", "count"].sum())
        if len(frame) else 0,
        "notice": int(frame.loc[frame["severity"] == "notice", "count"].sum())
        if len(frame) else 0,
        "by_rule": by_rule,
    }


def write_findings(folder: Path, findings: Findings, frame: pd.DataFrame | None = None
                   ) -> None:
    frame = findings.to_frame() if frame is None else frame
    with atomic_open(folder / "findings.csv", "w", newline="") as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")
    atomic_write_text(folder / "findings.json",
                      json.dumps(frame.to_dict(orient="records"), indent=1, sort_keys=True)
                      + "\n")


_LINEAGE_HEADER = "dataset,USUBJID,SEQ,QNAM,source_file,source_row"


def write_lineage(folder: Path, datasets: dict[str, pd.DataFrame]) -> None:
    """lineage.csv: for every SDTM record (dataset, USUBJID, --SEQ) the raw file and row it
    came from, so lineage outlives the in-memory run (see :func:`lineage_csv`)."""
    atomic_write_bytes(folder / "lineage.csv", lineage_csv(datasets))


def lineage_csv(datasets: dict[str, pd.DataFrame]) -> bytes:
    """The bytes of lineage.csv, computed without writing (``cdiscmap run`` makes them in a
    forked child beside the ADaM work).

    A million-record run has a few thousand distinct subjects, files and row numbers: each
    field is formatted (and CSV-quoted) once per distinct value, the fields of low
    cardinality are joined per distinct combination, and every line is four pieces taken by
    codes from those tables and joined in one C call over the whole dataset: what
    ``DataFrame.to_csv`` of the same table writes, byte for byte."""
    numbers = _Numbers()
    return lineage_from_lines({
        name: _lineage_lines(name, frame, numbers) if len(frame) else b""
        for name, frame in datasets.items() if "_SRCFILE" in frame})


def lineage_lines(name: str, frame: pd.DataFrame) -> bytes:
    """One dataset's lines of lineage.csv (UTF-8), each after its line break (empty without
    records), to be joined by :func:`lineage_from_lines`: ``cdiscmap run`` makes them where it
    checks the dataset, in one of two forked children, encoded there so that the parent only
    joins bytes (at 100,000 subjects they are ≈ 0.7 GB)."""
    return _lineage_lines(name, frame, _numbers()) if len(frame) else b""


def lineage_from_lines(lines: dict[str, bytes]) -> bytes:
    """lineage.csv from the lines of the datasets that have lineage (a ``_SRCFILE`` column),
    in dataset-name order; with none, the empty table."""
    return b"".join(lineage_pieces(lines))


def lineage_pieces(lines: dict[str, bytes]) -> list[bytes]:
    """:func:`lineage_from_lines` as pieces to write one after the other: ``cdiscmap run``
    writes them so, without a joined copy (≈ 0.7 GB at 100,000 subjects)."""
    if not lines:
        return [pd.DataFrame().to_csv(index=False, lineterminator="\n").encode("utf-8")]
    # each line starts with its line break
    return [_LINEAGE_HEADER.encode("utf-8"), *(lines[name] for name in sorted(lines)), b"\n"]


def _lineage_lines(name: str, frame: pd.DataFrame, numbers: _Numbers) -> bytes:
    """The dataset's lines (UTF-8), each preceded by a line break. A line is
    ``"\\n{name},{USUBJID},"`` (a table by subject) + SEQ + ``",{QNAM},{file},"`` (a table
    by QNAM x file) + the source row, the numbers in pieces from tables (:class:`_Numbers`)."""
    n = len(frame)
    seq = f"{name}SEQ" if f"{name}SEQ" in frame else None
    head_codes, heads = _text_table(frame.get("USUBJID"), n)
    start = f"\n{_csv_text([name])[0]},"
    head_table = np.array([f"{start}{text}," for text in heads], dtype=object)
    qnam_codes, qnams = _text_table(frame.get("QNAM"), n)
    file_codes, files = _text_table(frame["_SRCFILE"], n)
    middle = qnam_codes * len(files) + file_codes
    if len(qnams) * len(files) > n:             # only the pairs the rows hold
        middle, pairs = pd.factorize(middle)
        middle_table = np.array([f",{qnams[p // len(files)]},{files[p % len(files)]},"
                                 for p in pairs.tolist()], dtype=object)
    else:
        middle_table = np.array([f",{q},{f}," for q in qnams for f in files], dtype=object)
    parts = [(head_table, head_codes), *(numbers.coded_pieces(frame[seq]) if seq else []),
             (middle_table, middle), *numbers.coded_pieces(frame["_SRCROW"])]
    joined = _joined_bytes(parts, n)
    if joined is not None:
        return joined
    lines = np.empty((n, len(parts)), dtype=object)
    for number, (table, codes) in enumerate(parts):
        lines[:, number] = np.asarray(table, dtype=object)[codes]
    return "".join(lines.ravel().tolist()).encode("utf-8")


def _text_table(series: pd.Series | None, n: int) -> tuple[np.ndarray, list[str]]:
    """Codes per row into the CSV fields of a text column's distinct values, the last field
    being the empty one of a missing value (an absent column: every row empty)."""
    if series is None:
        return np.zeros(n, dtype=np.intp), [""]
    facts = text_facts(series)
    if facts is not None:                           # text: the C string table, str values
        codes, texts = facts.codes, facts.uniques.tolist()
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        texts = pd.Series(uniques).astype("string").fillna("").tolist()
    table = [*_csv_text(texts), ""]
    return np.where(codes < 0, len(table) - 1, codes), table


# a table of pieces is copied as fixed-width bytes rows at most this wide (else: str objects)
_BYTES_PIECE_WIDTH = 256
# the bytes join is taken with at least this many rows per table entry to encode
_BYTES_ROWS_PER_ENTRY = 4


def _joined_bytes(parts: list[tuple[np.ndarray, np.ndarray]], n: int) -> bytes | None:
    """The rows' pieces joined (piece ``j`` of row ``i`` is ``table_j[codes_j[i]]``) as
    UTF-8 bytes, without a str object per piece: each table is encoded once as fixed-width
    byte strings (padded with NUL), each row's pieces are taken by their codes into one record
    of those widths, and the padding is dropped from the whole buffer in one pass. A million
    lines cost no reference counting. None (the caller joins str objects) when a piece holds
    a NUL character or is too wide to pad, or when the tables are large beside the rows (a
    small dataset: encoding every table entry would cost more than the join saves)."""
    if n < _BYTES_ROWS_PER_ENTRY * sum(len(table) for table, _ in parts):
        return None
    fields = []
    for table, codes in parts:
        texts = np.asarray(table, dtype=object).tolist()
        if "\x00" in "".join(texts):
            return None
        encoded = np.array([text.encode("utf-8") for text in texts], dtype=bytes)
        if encoded.dtype.itemsize > _BYTES_PIECE_WIDTH:
            return None
        fields.append((encoded, codes))
    records = np.empty(n, dtype=[(f"f{j}", encoded.dtype)
                                 for j, (encoded, _) in enumerate(fields)])
    for j, (encoded, codes) in enumerate(fields):
        records[f"f{j}"] = encoded[codes]
    return records.tobytes().replace(b"\x00", b"")


@functools.cache
def _numbers() -> _Numbers:
    """The process's :class:`_Numbers`, made at the first call: its tables of texts cost
    more to make than a small dataset's lines (the 25 datasets of 100 subjects, one pass
    in a new process: 17 -> 9 ms)."""
    return _Numbers()


class _Numbers:
    """The CSV fields of a number column as ``to_csv`` writes it after ``astype("Int64")``
    (missing: empty), as one or two pieces per row taken from small tables of texts: a whole
    number from 0 to 999 is one piece; a larger one is its thousands (``"716"``) and then
    its last three digits (``"536"``, zero-padded), so a million source rows need some two
    thousand texts, not a million. Other columns (fractions, negative or huge numbers, pandas
    dtypes) go through pandas, value by distinct value, as one piece."""

    SPLIT = 1000

    def __init__(self) -> None:
        self._plain = [str(number) for number in range(self.SPLIT)]
        self._padded = [f"{number:03d}" for number in range(self.SPLIT)]
        self._thousands = [""]         # the texts of 1, 2, ... thousands, made when needed
        # the tables as arrays, made once: a number below a thousand (or missing) and the
        # last three digits (or nothing)
        self._plain_table = np.array([*self._plain, ""], dtype=object)
        self._padded_table = np.array([*self._padded, ""], dtype=object)

    def pieces(self, series: pd.Series) -> list[np.ndarray]:
        """The pieces of each row, as texts."""
        return [table[codes] for table, codes in self.coded_pieces(series)]

    def coded_pieces(self, series: pd.Series) -> list[tuple[np.ndarray, np.ndarray]]:
        """The pieces as (table of texts, code of each row into it)."""
        values = series.to_numpy() if isinstance(series.dtype, np.dtype) else None
        whole, missing = None, None
        if values is not None and values.dtype.kind in "iu":
            whole = values
        elif values is not None and values.dtype.kind == "f":
            missing = np.isnan(values)
            given = values[~missing]
            if (given == np.floor(given)).all():
                whole = np.where(missing, 0, values)
        if whole is None or not len(whole) or whole.min() < 0 or \
                whole.max() // self.SPLIT > len(whole):
            texts = np.asarray(_column_texts(series, "Int64"), dtype=object)
            return [(texts, np.arange(len(texts)))]
        thousands, rest = np.divmod(whole.astype(np.int64), self.SPLIT)
        highest = int(thousands.max())
        if highest == 0:                            # one piece: the number's text
            first = self._plain_table
            at = rest.astype(np.intp)
            if missing is not None:
                at[missing] = self.SPLIT
            return [(first, at)]
        if highest >= len(self._thousands):
            self._thousands += map(str, range(len(self._thousands), highest + 1))
        # first piece: the number below a thousand, else its thousands; second: nothing,
        # else the last three digits
        first = np.array([*self._plain, *self._thousands[1:highest + 1], ""], dtype=object)
        second = self._padded_table
        large = thousands > 0
        first_at = np.where(large, thousands + (self.SPLIT - 1), rest)
        second_at = np.where(large, rest, self.SPLIT)
        if missing is not None:
            first_at[missing] = len(first) - 1
            second_at[missing] = self.SPLIT
        return [(first, first_at), (second, second_at)]


def _column_texts(series: pd.Series, dtype: str) -> Iterable[str]:
    """Each row's CSV field as ``to_csv`` writes the column after ``astype(dtype)``
    ("string", or "Int64" then "string"; missing → empty): the conversion and the quoting
    are applied to the distinct values only, then taken by the row codes (whole numbers,
    which need no quoting, are turned into text directly)."""
    if dtype == "Int64" and isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu":
        return list(map(str, series.to_numpy().tolist()))
    facts = text_facts(series) if dtype == "string" else None
    if facts is not None:                           # text: the C string table
        codes, uniques = facts.codes, facts.uniques
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    distinct = pd.Series(uniques)
    if dtype == "Int64":
        distinct = distinct.astype("Int64")
    texts = distinct.astype("string").fillna("").tolist()
    table = np.empty(len(texts) + 1, dtype=object)
    table[:-1] = texts if dtype == "Int64" else _csv_text(texts)
    table[-1] = ""                                  # code -1: missing
    return table[codes]


def _csv_text(values: list[str]) -> list[str]:
    """Values as fields of a CSV line: as they are, or quoted by the ``csv`` module (the writer
    ``to_csv`` uses) when they hold a delimiter, quote or line break."""
    out = list(values)
    if not _NEEDS_QUOTE.search("".join(values)):
        return out
    special = [i for i, value in enumerate(values) if _NEEDS_QUOTE.search(value)]
    if special:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for i in special:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([values[i], ""])        # two fields: no lone-empty special case
            out[i] = buffer.getvalue()[:-2]         # less the trailing ',' and line end
    return out


def _recist_section(frame: pd.DataFrame) -> list[str]:
    """The RECIST 1.1 cross-check (``frame``: the findings): each visit where the engine and
    the investigator disagree, with the numbers that explain it."""
    rc = frame[frame["rule"] == "CMAP-RC0001"] if len(frame) else frame
    out = ["\n## RECIST 1.1 cross-check (computed from TU/TR vs investigator RS)\n\n"]
    if rc.empty:
        return [*out, "The engine agrees with the investigator at every assessed visit.\n"]
    out.append(f"{len(rc)} disagreement(s):\n\n")
    out.append(_md_table(rc[["usubjid", "value", "message", "source"]].rename(
        columns={"usubjid": "subject", "value": "responses", "message": "explanation"})))
    return out


def write_run_report(folder: Path, loaded: LoadedStudy, result: SdtmResult,
                     adam: dict[str, pd.DataFrame], raw_dir: Path,
                     lineage: bytes | list[bytes] | None = None) -> dict[str, object]:
    """run-summary.json/.md, findings.csv/.json and lineage.csv (``lineage``: its bytes, or
    its pieces (:func:`lineage_pieces`), when already made, else made here); returns the
    summary."""
    acc = result.accounting
    table, drops, balanced = acc.summary()      # one count of drop reasons per form
    written = dict(sorted(acc.written.items()))
    written.update({name: len(frame) for name, frame in sorted(adam.items())})
    findings = result.findings.to_frame()          # one table for every section below
    summary: dict[str, object] = {
        "study": loaded.study.studyid,
        "spec": loaded.name,
        "raw_folder": raw_dir.name,
        "standards": dict(sorted(loaded.study.standards.items())),
        "raw_files": table.to_dict(orient="records"),
        "dropped": drops.to_dict(orient="records"),
        "records_written": written,
        "balanced": balanced,
        "findings": findings_summary(result.findings, findings),
    }
    atomic_write_text(folder / "run-summary.json",
                      json.dumps(summary, indent=2, sort_keys=True) + "\n")
    f = summary["findings"]
    md = [f"# Run summary: {loaded.study.studyid}\n",
          f"Spec `mappings/{loaded.name}`, raw folder `{raw_dir.name}`.\n",
          "## Raw rows: read = used + dropped\n", _md_table(table),
          "\n## Dropped rows by reason\n", _md_table(drops),
          "\n## Records written\n",
          _md_table(pd.DataFrame(list(written.items()), columns=["dataset", "records"])),
          f"\n## Findings\n\nerrors {f['error']}, warnings {f['warning']}, "  # type: ignore[index]
          f"notices {f['notice']} (details: findings.csv)\n\n",  # type: ignore[index]
          _md_table(pd.DataFrame([(k.split(':')[0], k.split(':')[1], v) for k, v in
                                  f["by_rule"].items()],  # type: ignore[index]
                                 columns=["severity", "rule", "count"]))]
    md += _recist_section(findings)
    atomic_write_text(folder / "run-summary.md", "".join(md))
    write_findings(folder, result.findings, findings)
    if lineage is None:
        lineage = lineage_csv({**result.domains, **result.supp})
    with atomic_open(folder / "lineage.csv", "wb") as handle:
        handle.writelines([lineage] if isinstance(lineage, bytes) else lineage)
    return summary
