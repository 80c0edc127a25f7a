"""``cdiscmap recist``: RECIST 1.1 timepoint responses from any SDTM TU/TR, checked against RS.

Reads a folder of SDTM datasets (anyone's: ``adam/io.py`` ``read_sdtm``), computes the
timepoint responses of every reader (``recist/overall.py``), compares them with RS and with the
investigator's TR sum of diameters (``recist/crosscheck.py``), and writes into ``--out``:

- ``recist_timepoints.csv``: one row per subject × reader × assessment with the sums, baseline,
  nadir, % changes, the component and overall responses and the REASON;
- ``recist_comparison.csv``: one row per compared subject × reader × visit × test;
- ``recist_report.json`` and ``recist_report.html``: summary, settings, notes, findings and the
  disagreements with their numbers (HTML readable offline: inline style, no script).

Outputs are deterministic (no timestamp, fixed number formats, sorted rows), built in a staging
folder and published together (``emit/atomic.py``). Other files in ``--out`` are left alone.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cdiscmap.errors import InputDataError
from cdiscmap.findings import Finding, Findings
from cdiscmap.progress import SILENT, Progress
from cdiscmap.recist import RecistSettings, settings_from_mapping, timepoint_responses
from cdiscmap.recist.crosscheck import (
    COMPARISON_COLUMNS,
    RsRecords,
    TextCodes,
    crosscheck_coded,
    prepare_rs,
)
from cdiscmap.recist.lesions import TR_REQUIRED, TU_REQUIRED
from cdiscmap.recist.overall import OUTPUT_COLUMNS

TIMEPOINTS_FILE = "recist_timepoints.csv"
COMPARISON_FILE = "recist_comparison.csv"
REPORT_JSON = "recist_report.json"
REPORT_HTML = "recist_report.html"
OWNED_FILES = frozenset({TIMEPOINTS_FILE, COMPARISON_FILE, REPORT_JSON, REPORT_HTML})

_NUMERIC = ("VISITNUM", "SUMDIAM", "BASE_SUM", "NADIR", "PCHG_BASE", "PCHG_NADIR", "ACHG_NADIR")


@dataclass
class RecistOutcome:
    """What the command did: where, how many rows, the findings and the comparison counts."""

    folder: Path
    timepoints: pd.DataFrame
    comparison: pd.DataFrame
    findings: Findings
    status_counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def load_settings(path: Path | None, evaluators: tuple[str, ...] = (),
                  nodal_from: str | None = None) -> RecistSettings:
    """Settings from a YAML file (a ``recist:`` block, as in study.yaml, or the keys at top
    level), then the command-line overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        from cdiscmap.spec.yamlload import load_yaml

        loaded = load_yaml(path).data or {}
        if not isinstance(loaded, Mapping):
            raise InputDataError(f"{path}: RECIST settings must be a mapping of keys")
        block = loaded.get("recist", loaded)
        data = dict(block) if isinstance(block, Mapping) else {}
    if evaluators:
        data["evaluators"] = list(evaluators)
    if nodal_from:
        data["nodal_from"] = nodal_from
    return settings_from_mapping(data, file=path)


def compute(sdtm: dict[str, pd.DataFrame], settings: RecistSettings
            ) -> tuple[pd.DataFrame, pd.DataFrame, list[Finding], list[str]]:
    """Timepoints, comparison, findings and notes from SDTM datasets keyed by name."""
    return _compute(sdtm.get("TU"), sdtm.get("TR"), lambda: sdtm.get("RS"), settings)[:4]


def _compute(tu: pd.DataFrame | None, tr: pd.DataFrame | None,
             rs: Callable[[], pd.DataFrame | RsRecords | None], settings: RecistSettings,
             computed: Callable[[pd.DataFrame], None] | None = None
             ) -> tuple[pd.DataFrame, pd.DataFrame, list[Finding], list[str],
                        dict[str, TextCodes]]:
    """:func:`compute`, and the comparison's text columns as codes (for the writer); ``rs``
    gives RS (or its prepared records) once the responses are computed; ``computed`` is
    told the responses first (the command starts writing them)."""
    if tu is None or tr is None:
        raise InputDataError("the SDTM folder has no " + " and no ".join(
            name for name, frame in (("TU", tu), ("TR", tr)) if frame is None)
            + " dataset; the RECIST engine needs both")
    timepoints = timepoint_responses(tu, tr, settings)
    if computed is not None:
        computed(timepoints)
    notes = list(timepoints.attrs.get("notes", []))
    records = rs()
    if records is None:
        notes.append("no RS dataset: responses computed, nothing to compare")
        return timepoints, pd.DataFrame(columns=COMPARISON_COLUMNS), [], notes, {}
    comparison, findings, coded = crosscheck_coded(timepoints, records, tr=tr, settings=settings)
    return timepoints, comparison, findings, notes, coded


#: The variables the engine and the cross-check read (recist/lesions.py, readers.py,
#: crosscheck.py), and those without which they stop.
_READ = {
    "TU": ["USUBJID", "TULNKID", "TUSTRESC", "VISITNUM", "VISIT", "TULOC", "TUEVAL", "TUEVALID"],
    "TR": ["USUBJID", "TRLNKID", "TRTESTCD", "TRSTRESN", "TRSTRESC", "TRORRES", "TRSTAT",
           "VISITNUM", "VISIT", "TRDTC", "TREVAL", "TREVALID", "_SRCFILE", "_SRCROW"],
    "RS": ["USUBJID", "RSTESTCD", "RSSTRESC", "RSCAT", "RSDRVFL", "RSEVAL", "RSEVALID",
           "VISITNUM", "VISIT", "_SRCFILE", "_SRCROW"],
}
_NEEDED = {"TU": TU_REQUIRED, "TR": TR_REQUIRED,
           "RS": ("USUBJID", "RSTESTCD", "RSSTRESC", "VISITNUM")}


def _engine_datasets(sdtm: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """TU, TR and RS with the variables the RECIST engine reads: from an unread XPT file of a
    lazy folder only those are decoded (the same values the whole read gives; about half of
    TR's bytes are other variables). A dataset lacking a needed variable is read whole, so
    the engine's message names every variable it has."""
    out: dict[str, pd.DataFrame] = {}
    for name in _READ:
        frame = _engine_dataset(sdtm, name)
        if frame is not None:
            out[name] = frame
    return out


def _engine_dataset(sdtm: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame | None:
    """One dataset of :func:`_engine_datasets` (None when the folder has none)."""
    if name not in sdtm:
        return None
    frame = _xpt_variables(sdtm, name, _READ[name])
    if frame is None or any(c not in frame.columns for c in _NEEDED[name]):
        frame = sdtm[name]
    return frame


def _rs_records(sdtm: Mapping[str, pd.DataFrame], settings: RecistSettings
                ) -> RsRecords | None:
    """RS read and prepared for the cross-check (None when the folder has no RS)."""
    frame = _engine_dataset(sdtm, "RS")
    return None if frame is None else prepare_rs(frame, settings.evaluator)


def _xpt_variables(sdtm: Mapping[str, pd.DataFrame], dataset: str, names: list[str]
                   ) -> pd.DataFrame | None:
    """Some variables of an unread XPT v5 file of a lazy SDTM folder (None: the whole read
    decides; :meth:`cdiscmap.checks.read.SdtmFolder.variables`).

    The reader factorises every text column on its bytes anyway: its codes are kept in the
    codes cache the command opens (:func:`cdiscmap.sdtm.vectorize.text_from_codes`, the same
    values), so the engine and the cross-check do not hash those rows' text again."""
    from cdiscmap.checks.facts import TextFacts
    from cdiscmap.checks.read import SdtmFolder
    from cdiscmap.sdtm.vectorize import text_from_codes

    if not isinstance(sdtm, SdtmFolder):
        return None
    facts: dict[str, TextFacts] = {}
    frame = sdtm.variables(dataset, names, facts)
    if frame is None:
        return None
    known = {name.strip().upper(): found for name, found in facts.items()}
    columns = {name: text_from_codes(known[name].codes, known[name].uniques, frame.index)
               if name in known and isinstance(frame[name].dtype, pd.StringDtype)
               else frame[name] for name in frame.columns}
    # no copy: the cache knows the columns by their arrays' identity
    return pd.DataFrame(columns, index=frame.index, copy=False)


def run_recist_command(sdtm_dir: Path, out_dir: Path | None, settings: RecistSettings,
                       progress: Progress = SILENT) -> RecistOutcome:
    """``cdiscmap recist``: read, compute, compare, write (see the module docstring)."""
    from cdiscmap.checks.read import read_sdtm
    from cdiscmap.emit.atomic import Staging
    from cdiscmap.forked import ForkedCall
    from cdiscmap.sdtm.vectorize import codes_cache

    progress.stage("Reading SDTM")
    sdtm = read_sdtm(sdtm_dir, lazy=True)     # only the datasets used are read
    progress.stage("Computing RECIST 1.1 timepoint responses")
    # Three pieces run in forked children beside the critical path (read TU/TR, engine,
    # cross-check, comparison CSV) when a second CPU is there (forked.py): RS is read and
    # prepared from RS alone (_rs_records) while this process reads TU/TR and runs the engine,
    # the timepoints CSV and HTML table are composed from the responses while this process
    # cross-checks them, and half of a large comparison CSV while it composes the rest. Errors surface where a serial run raises them (a failed child
    # is computed again here). A text column the engine and the cross-check both read is
    # hashed once (the codes cache).
    with contextlib.ExitStack() as children:
        rs_call = children.enter_context(ForkedCall(lambda: _rs_records(sdtm, settings)))
        files: list[ForkedCall[tuple[bytes, bytes]]] = []

        def compose(timepoints: pd.DataFrame) -> None:
            files.append(children.enter_context(
                ForkedCall(lambda: _timepoints_files(timepoints))))

        with codes_cache():
            timepoints, comparison, found, notes, coded = _compute(
                _engine_dataset(sdtm, "TU"), _engine_dataset(sdtm, "TR"), rs_call.result,
                settings, compose)
        findings = Findings()
        findings.extend(found)
        status = _status_text(comparison, coded)
        counts = dict(sorted(status.items()))
        target = out_dir or Path(sdtm_dir).parent / "recist"
        progress.stage("Writing the RECIST report")
        # the second half of the comparison CSV is composed in a child meanwhile (a large
        # table only: a fork costs more than a few thousand rows)
        comparison_text = _coded_text(comparison, COMPARISON_COLUMNS, coded)
        half = len(comparison) // 2
        rest = children.enter_context(ForkedCall(
            lambda: _csv_coded(comparison_text, slice(half, None), header=False).encode("utf-8"),
            fork=None if len(comparison) >= _SPLIT_ROWS else False))
        first = _csv_coded(comparison_text, slice(0, half)).encode("utf-8")
        with Staging(target) as stage:
            report = _report(sdtm_dir, settings, timepoints, comparison, findings, counts,
                             notes, status)
            (stage.folder / REPORT_JSON).write_text(
                json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                encoding="utf-8")
            timepoints_csv, timepoints_table = files[0].result()
            (stage.folder / TIMEPOINTS_FILE).write_bytes(timepoints_csv)
            head, tail = _html_parts(report)
            (stage.folder / REPORT_HTML).write_bytes(
                head.encode("utf-8") + timepoints_table + tail.encode("utf-8"))
            with (stage.folder / COMPARISON_FILE).open("wb") as comparison_csv:
                comparison_csv.write(first)
                comparison_csv.write(rest.result())
            stage.publish(lambda name: name in OWNED_FILES, shared=True)
    return RecistOutcome(target, timepoints, comparison, findings, counts, notes)


# ------------------------------------------------------------------------------ formatting
#: Comparison rows from which half of the comparison CSV is composed in a forked child.
_SPLIT_ROWS = 50_000


def _timepoints_files(timepoints: pd.DataFrame) -> tuple[bytes, bytes]:
    """The timepoints CSV and the HTML table of the timepoints, UTF-8 encoded (what
    ``write_text(..., encoding="utf-8")`` writes: the text holds "\\n" line ends only)."""
    text = _coded_text(timepoints, OUTPUT_COLUMNS)
    return (_csv_coded(text).encode("utf-8"),
            _coded_table(text, OUTPUT_COLUMNS, "OVRLRESP").encode("utf-8"))


def _number_text(value: float) -> str:
    """A number to at most 4 decimals without trailing zeros ("-0" is "0")."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


#: One output column as text: a code per row into ``texts`` (code -1 picks the trailing "").
_Coded = tuple[np.ndarray, np.ndarray]


def _coded_text(frame: pd.DataFrame, columns: list[str],
                known: Mapping[str, TextCodes] | None = None) -> dict[str, _Coded]:
    """Every cell as text, kept as codes into the column's distinct texts: numbers to at most 4
    decimals without trailing zeros, null = ''.

    Each distinct value is formatted (and later CSV-quoted or HTML-escaped) once: a study has
    few distinct sums, visit numbers and reasons against tens of thousands of timepoints.
    ``known``: text columns already factorised (:func:`cdiscmap.recist.crosscheck_coded`)."""
    from cdiscmap.checks.read import factorize_objects

    out: dict[str, _Coded] = {}
    for col in columns:
        if col not in frame.columns:
            out[col] = (np.full(len(frame), -1, dtype=np.intp), np.array([""], dtype=object))
            continue
        values = frame[col]
        if known and col in known and col not in _NUMERIC:
            codes, uniques = known[col]
            out[col] = (codes, np.array([str(v) for v in uniques] + [""], dtype=object))
            continue
        if col in _NUMERIC or col.startswith("N_TARGET"):
            num = pd.to_numeric(values, errors="coerce").round(4)
            codes, uniques = pd.factorize(num.to_numpy(dtype=np.float64, na_value=np.nan))
            texts = [_number_text(v) for v in uniques]
        else:
            array = values.array if isinstance(values.array, pd.arrays.StringArray) else (
                values.astype("string").array)
            # the Python-object hash table: whole values compared (no C-string NUL cut)
            codes, uniques = factorize_objects(np.asarray(array, dtype=object))
            texts = [str(v) for v in uniques]
        out[col] = (codes, np.array(texts + [""], dtype=object))
    return out


def _text_frame(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Every cell as text (see :func:`_coded_text`), as a frame of str."""
    coded = _coded_text(frame, columns)
    return pd.DataFrame({col: texts[codes] for col, (codes, texts) in coded.items()},
                        columns=columns, index=pd.RangeIndex(len(frame)))


def _coded_of_text(text: pd.DataFrame) -> dict[str, _Coded]:
    """A frame of str (:func:`_text_frame`) as codes into each column's distinct values."""
    from cdiscmap.checks.read import factorize_objects

    out: dict[str, _Coded] = {}
    for col in text.columns:
        codes, uniques = factorize_objects(text[col].to_numpy(dtype=object))
        out[str(col)] = (codes, np.array([str(v) for v in uniques] + [""], dtype=object))
    return out


_CSV_SPECIAL = re.compile(r'[,"\r\n]')


def _csv_fields(texts: np.ndarray) -> np.ndarray:
    """Distinct texts as CSV fields, quoted exactly as the csv module's writer quotes them
    (minimal quoting). Only texts holding a delimiter, quote or line break can need quotes;
    those are passed through the writer itself (with a second field, so that an empty text
    is not the lone field of a row, which the writer would quote)."""
    if not _CSV_SPECIAL.search("\x00".join(texts)):
        return texts
    out = texts.copy()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    for i, value in enumerate(texts):
        if _CSV_SPECIAL.search(value):
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([value, ""])
            out[i] = buffer.getvalue()[:-2]          # drop ",\n" of the empty second field
    return out


def _csv_coded(coded: dict[str, _Coded], rows: slice = slice(None), *,
               header: bool = True) -> str:
    """The columns as CSV, byte for byte what ``DataFrame.to_csv(index=False,
    lineterminator="\\n")`` writes for the same text: each distinct value quoted once, rows
    joined by ``str.join`` (no per-cell quoting test). ``rows``: only those rows;
    ``header``: with the header line (CSV of consecutive rows concatenates)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    if header:
        writer.writerow(list(coded))
    if len(coded) < 2:                   # a lone empty field is quoted: leave it to the writer
        writer.writerows(zip(*(texts[codes[rows]] for codes, texts in coded.values()),
                             strict=True))
        return out.getvalue()
    fields = [_csv_fields(texts)[codes[rows]] for codes, texts in coded.values()]
    if not len(fields[0]):
        return out.getvalue()
    return out.getvalue() + "\n".join(map(",".join, zip(*fields, strict=True))) + "\n"


def _csv(text: pd.DataFrame) -> str:
    """A frame of str (:func:`_text_frame`) as CSV (see :func:`_csv_coded`)."""
    return _csv_coded(_coded_of_text(text))


class _StatusText:
    """The STATUS of every comparison row as ``astype(str)`` spells it (null: "<NA>"), kept as
    codes into the few distinct statuses: counted and tested without a text per row."""

    def __init__(self, codes: np.ndarray, texts: list[str]) -> None:
        self.codes, self.texts = codes, texts

    def items(self) -> list[tuple[str, int]]:
        """(status, number of rows) of every status present, as ``Counter(...).items()``."""
        counts = np.bincount(self.codes, minlength=len(self.texts))
        return [(t, int(n)) for t, n in zip(self.texts, counts, strict=True) if n]

    def is_not(self, text: str) -> np.ndarray:
        """Rows whose status is not ``text``."""
        return np.array([t != text for t in self.texts], dtype=bool)[self.codes]


def _status_text(comparison: pd.DataFrame, coded: Mapping[str, TextCodes]) -> _StatusText:
    """:class:`_StatusText` of the comparison, from the cross-check's codes when known."""
    if "STATUS" in coded:
        codes, uniques = coded["STATUS"]
        texts = [str(u) for u in uniques] + ["<NA>"]
        return _StatusText(np.where(codes < 0, len(uniques), codes), texts)
    codes, uniques = pd.factorize(comparison["STATUS"].astype(str).to_numpy(dtype=object))
    return _StatusText(codes, [str(u) for u in uniques])


def _report(sdtm_dir: Path, settings: RecistSettings, timepoints: pd.DataFrame,
            comparison: pd.DataFrame, findings: Findings, counts: dict[str, int],
            notes: list[str], status: _StatusText | None = None) -> dict[str, Any]:
    rules = dict(sorted(Counter(f.rule for f in findings).items()))
    problems = comparison[status.is_not("AGREE") if status is not None
                          else comparison["STATUS"].astype(str) != "AGREE"]
    return {
        "command": "cdiscmap recist",
        "sdtm": Path(sdtm_dir).name,
        "settings": json.loads(settings.model_dump_json()),
        "summary": {
            "subjects": int(timepoints["USUBJID"].nunique()),
            "readers": sorted(str(r) for r in timepoints["EVALUATOR"].dropna().unique()),
            "timepoints": int(len(timepoints)),
            "timepoints_with_response": int(timepoints["OVRLRESP"].notna().sum()),
            "compared": int(len(comparison)),
            "status": counts,
            "findings_by_rule": rules,
        },
        "notes": notes,
        "findings": [f.as_dict() for f in findings],
        "disagreements": _text_frame(problems, COMPARISON_COLUMNS).to_dict(orient="records"),
    }


_STYLE = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;"
          "margin-bottom:1.5em}th,td{border:1px solid #bbb;padding:2px 6px;text-align:left;"
          "font-size:90%}th{background:#eee}tr.DISAGREE td{background:#fde2e2}"
          "tr.PD td{background:#fff4d6}")


def _table(rows: list[dict[str, Any]], columns: list[str], row_class: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cls = f' class="{html.escape(str(row.get(row_class, "")))}"' if row_class else ""
        cells = "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>\n"


def _text_table(text: pd.DataFrame, columns: list[str], row_class: str) -> str:
    """:func:`_table` of a frame of text (:func:`_text_frame`)."""
    return _coded_table(_coded_of_text(text), columns, row_class)


def _escape_all(texts: np.ndarray) -> list[str]:
    """``html.escape`` of every text, in one call on the texts joined by NUL (escaping maps
    each character on its own and leaves NUL alone); one call per text if a text holds NUL."""
    joined = "\x00".join(texts)
    if not len(texts) or joined.count("\x00") != len(texts) - 1:
        return [html.escape(v) for v in texts]
    return html.escape(joined).split("\x00")


def _coded_table(coded: dict[str, _Coded], columns: list[str], row_class: str) -> str:
    """:func:`_table` of coded text columns, escaping each distinct value of a column once
    instead of every cell."""
    def escaped(column: _Coded, before: str, after: str) -> np.ndarray:
        codes, texts = column
        table = np.array([f"{before}{v}{after}" for v in _escape_all(texts)], dtype=object)
        return table[codes]

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    parts = [escaped(coded[row_class], '<tr class="', '">')]
    parts += [escaped(coded[c], "<td>", "</td>") for c in columns]
    rows = "</tr>".join(map("".join, zip(*parts, strict=True)))
    body = rows + "</tr>" if len(parts[0]) else ""
    return f"<table><tr>{head}</tr>{body}</table>\n"


def _html_parts(report: dict[str, Any]) -> tuple[str, str]:
    """The HTML report before and after the table of computed timepoints (composed apart,
    :func:`_timepoints_files`)."""
    summary = report["summary"]
    summary_rows = [{"item": k, "value": (json.dumps(v, sort_keys=True) if isinstance(v, dict | list)
                                          else v)} for k, v in summary.items()]
    head = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>RECIST 1.1 check of {html.escape(report['sdtm'])}</title>"
        f"<style>{_STYLE}</style></head><body>\n",
        f"<h1>RECIST 1.1 check of {html.escape(report['sdtm'])}</h1>\n",
        "<h2>Summary</h2>\n", _table(summary_rows, ["item", "value"]),
        "<h2>Disagreements and one-sided visits</h2>\n",
        _table(report["disagreements"], COMPARISON_COLUMNS, "STATUS")
        if report["disagreements"] else "<p>None: every compared response agrees.</p>\n",
        "<h2>Notes</h2>\n",
        "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in report["notes"]) + "</ul>\n"
        if report["notes"] else "<p>None.</p>\n",
        "<h2>Computed timepoints</h2>\n",
    ]
    tail = [
        "<h2>Settings</h2>\n",
        _table([{"setting": k, "value": json.dumps(v)} for k, v in
                sorted(report["settings"].items())], ["setting", "value"]),
        "</body></html>\n",
    ]
    return "".join(head), "".join(tail)
