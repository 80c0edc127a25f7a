"""The table model of the report and its three renderings: CSV, RTF (rtflite) and HTML.

A table is a header and rows of display texts; each cell may carry a trace (ADaM dataset,
PARAMCD, population flag, filter, group, the numbers behind the text) that ``report.py`` writes
to ``cells.json``, so every number can be re-derived from ADaM.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Table:
    """A display table: ``rows`` of texts under ``columns``; ``traces[(row, col)]``."""

    id: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    source: str = ""
    traces: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)

    def add_row(self, texts: list[str], traces: dict[int, dict[str, Any]] | None = None) -> None:
        if len(texts) != len(self.columns):
            raise ValueError(f"table {self.id}: row of {len(texts)} cells, "
                             f"{len(self.columns)} columns")
        r = len(self.rows)
        self.rows.append([str(t) for t in texts])
        for c, trace in (traces or {}).items():
            self.traces[(r, c)] = trace

    def cells(self) -> list[dict[str, Any]]:
        """One record per traced cell, in row/column order."""
        return [{"table": self.id, "row": r + 1, "column": self.columns[c],
                 "row_label": self.rows[r][0], "text": self.rows[r][c], **trace}
                for (r, c), trace in sorted(self.traces.items())]


def to_csv(table: Table) -> str:
    """The table as CSV (header row, then the display texts); newline ``\\n``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return out.getvalue()


def to_rtf(table: Table) -> str:
    """The table as an RTF document in rtflite's layout (title, column header, body,
    footnotes, source; landscape when it has more than six columns): written by
    :mod:`cdiscmap.analysis.rtf` (same bytes, a fraction of the time, no polars), by rtflite
    for a table that module does not cover."""
    from cdiscmap.analysis.rtf import table_rtf

    return table_rtf(table) or rtflite_rtf(table)


def rtflite_rtf(table: Table) -> str:
    """The table as an RTF document made by rtflite (the reference layout of ``to_rtf``)."""
    import polars as pl
    import rtflite as rtf

    # rtflite reads a polars frame; unique column names keep every column
    names = [f"c{i}" for i in range(len(table.columns))]
    frame = pl.DataFrame({n: [row[i] for row in table.rows] for i, n in enumerate(names)},
                         schema={n: pl.String for n in names})
    wide = len(table.columns) > 6
    width = [2.0] + [1.0] * (len(table.columns) - 1)
    doc = rtf.RTFDocument(
        df=frame,
        rtf_page=rtf.RTFPage(orientation="landscape" if wide else "portrait"),
        rtf_title=rtf.RTFTitle(text=[table.title]),
        rtf_column_header=[rtf.RTFColumnHeader(text=list(table.columns), col_rel_width=width)],
        rtf_body=rtf.RTFBody(col_rel_width=width,
                             text_justification=[["l"] + ["c"] * (len(width) - 1)]),
        rtf_footnote=rtf.RTFFootnote(text=list(table.footnotes)) if table.footnotes else None,
        rtf_source=rtf.RTFSource(text=[table.source]) if table.source else None,
    )
    return str(doc.rtf_encode())


def to_html(table: Table) -> str:
    """The table as an HTML fragment (caption, header, body, footnotes)."""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in table.columns)
    body = "\n".join("<tr>" + "".join(
        f"<td>{esc(v)}</td>" if i else f"<th scope=\"row\">{esc(v)}</th>"
        for i, v in enumerate(row)) + "</tr>" for row in table.rows)
    notes = "".join(f"<li>{esc(n)}</li>" for n in table.footnotes)
    source = f"<p class=\"source\">{esc(table.source)}</p>" if table.source else ""
    return (f"<section id=\"{esc(table.id)}\"><table>\n<caption>{esc(table.title)}</caption>\n"
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>\n"
            f"<ul class=\"notes\">{notes}</ul>{source}</section>")
