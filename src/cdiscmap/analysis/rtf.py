"""The report's tables as RTF, the same bytes as rtflite 2.6 writes for them, without rtflite.

Why: rtflite builds a pydantic model per cell and opens the font file once per cell to
paginate; with the import of rtflite and polars that was ≈ 1.4 CPU-s of a 1,000-subject
``cdiscmap run`` for 14 small tables, and polars' thread pool forbids any later fork
(:mod:`cdiscmap.forked`). The report's tables use one fixed layout (title, one column header
row, body, footnotes, source; portrait up to six columns, else landscape), so that layout is
written here directly, following rtflite's rules for it:

- page (RTFPage defaults): portrait 8.5 x 11 in, margins 1.25/1/1.75/1.25/1.75/1.00625 in,
  table 6.25 in wide, 40 rows a page; landscape 11 x 8.5 in, margins 1/1/2/1.25/1.25/1.25 in,
  table 8.5 in wide, 24 rows a page. The column header, footnote and source take a row each
  of every page's budget; a body row takes as many rows as its widest-wrapping cell has
  lines: ``int(width / column width) + 1``, the width measured with Liberation Serif 9 pt (the
  metric twin of Times New Roman that rtflite ships) at 72 dpi;
- every page repeats the title and the column header; the first page's header has a double
  top border, later pages' a single one; each page's first body row has a single top border,
  a page that continues on the next one ends with a single bottom border; the last page ends
  with a double border under the footnote (or under the body without footnotes), and the
  source is a centred paragraph below the table;
- text: ``^`` and ``_`` become ``\\super `` and ``\\sub `` (so ``proportion_ci`` is written
  with a subscript, as rtflite writes it), ``>=``/``<=`` the RTF escapes of U+2265/U+2264
  followed by a space (rtflite's ``\\geq``/``\\leq`` symbols), any character above U+00FF
  or U+00B1 ``\\uc1\\uN*``; braces are not escaped (rtflite does not either).

A table this module does not cover (no rows, an empty title, or any text with a backslash or
a line break, which rtflite reads as LaTeX or RTF markup) is left to rtflite
(:func:`table_rtf` returns None). ``tests/unit/test_report_rtf.py`` compares both writers on
generated tables and on the demo's report.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol


class Table(Protocol):
    """What is read of an ``analysis.tables.Table`` (that module calls this one)."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    footnotes: list[str]
    source: str

TWIPS_PER_INCH = 1440
_SPECIAL = ("\\", "\n")        # rtflite markup (LaTeX, RTF, line breaks): left to rtflite

_START = "{\\rtf1\\ansi\n\\deff0\\deflang1033"
_FONT_TABLE = (
    "{\\fonttbl{\\f0\\froman\\fcharset1\\fprq2 Times New Roman;}\n"
    "{\\f1\\froman\\fcharset161\\fprq2 Times New Roman Greek;}\n"
    "{\\f2\\fswiss\\fcharset161\\fprq2 Arial Greek;}\n"
    "{\\f3\\fswiss\\fcharset0\\fprq2 Arial;}\n"
    "{\\f4\\fswiss\\fcharset1\\fprq2 Helvetica;}\n"
    "{\\f5\\fswiss\\fcharset1\\fprq2 Calibri;}\n"
    "{\\f6\\froman\\fcharset1\\fprq2 Georgia;}\n"
    "{\\f7\\ffroman\\fcharset1\\fprq2 Cambria;}\n"
    "{\\f8\\fmodern\\fcharset0\\fprq2 Courier New;}\n"
    "{\\f9\\ftech\\fcharset2\\fprq2 Symbol;}\n"
    "}")
_ROW_START = "\\trowd\\trgaph108\\trleft0\\trqc"
_ROW_END = "\\intbl\\row\\pard"
_BORDER = {"single": "\\brdrs", "double": "\\brdrdb", "": ""}


class _Page:
    """Page geometry of one orientation (rtflite's RTFPage defaults)."""

    def __init__(self, landscape: bool) -> None:
        if landscape:
            self.width, self.height = 11.0, 8.5
            self.margin = (1.0, 1.0, 2.0, 1.25, 1.25, 1.25)
            self.col_width, self.nrow = 11.0 - 2.5, 24
        else:
            self.width, self.height = 8.5, 11.0
            self.margin = (1.25, 1.0, 1.75, 1.25, 1.75, 1.00625)
            self.col_width, self.nrow = 8.5 - 2.25, 40
        self.landscape = landscape

    def margins(self) -> str:
        codes = ("\\margl", "\\margr", "\\margt", "\\margb", "\\headery", "\\footery")
        return "".join(f"{c}{_twip(m)}" for c, m in zip(codes, self.margin, strict=True))

    def settings(self) -> str:
        turn = "\\landscape " if self.landscape else ""
        return (f"\\paperw{_twip(self.width)}\\paperh{_twip(self.height)}{turn}\n"
                f"{self.margins()}")

    def page_break(self) -> str:
        return (f"{{\\pard\\fs2\\par}}\\page{{\\pard\\fs2\\par}}\n"
                f"\\paperw{int(self.width * TWIPS_PER_INCH)}"
                f"\\paperh{int(self.height * TWIPS_PER_INCH)}\n\n{self.margins()}\n\n")


def _twip(inches: float) -> int:
    return round(inches * TWIPS_PER_INCH)


def _cumulative(rel_widths: Sequence[float], total: float) -> list[float]:
    """Right edges of the columns in inches, summed as rtflite sums them (same floats)."""
    whole = sum(rel_widths)
    edges, edge = [], 0.0
    for width in rel_widths:
        edge = edge + (width * total / whole)
        edges.append(edge)
    return edges


def _text(value: str) -> str:
    """A cell's text as rtflite converts it (no markup characters: see the module doc)."""
    value = value.replace("^", "\\super ").replace("_", "\\sub ") \
        .replace(">=", "\u2265 ").replace("<=", "\u2264 ")
    if value.isascii():
        return value
    return "".join(ch if ord(ch) <= 255 and ord(ch) != 177
                   else f"\\uc1\\u{ord(ch) - (0 if ord(ch) < 32768 else 65536)}*"
                   for ch in value)


@lru_cache(maxsize=1)
def _font() -> object:
    """Liberation Serif at 9 pt from rtflite's fonts folder (found without importing rtflite,
    which imports polars)."""
    from PIL import ImageFont

    spec = importlib.util.find_spec("rtflite")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("rtflite's fonts are needed to paginate RTF tables")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return ImageFont.truetype(str(folder / "fonts" / "liberation" / "LiberationSerif-Regular.ttf"),
                              size=9)


@lru_cache(maxsize=16384)
def _length(value: str) -> float:
    """The width of ``value`` in inches in :func:`_font`; once per distinct text in a process,
    not once per table: a report's tables share their group labels and many counts (417
    distinct texts among the 669 of its 14 tables measured one table at a time, at 100
    subjects; 14 µs each)."""
    return _font().getlength(value) / 72.0  # type: ignore[attr-defined, no-any-return]


def _lines(rows: list[list[str]], edges: list[float]) -> list[int]:
    """Rows of the page budget each body row takes (its most wrapped cell)."""
    widths = [edges[j] - (edges[j - 1] if j > 0 else 0) for j in range(len(edges))]
    out = []
    for row in rows:
        most = 1
        for value, width in zip(row, widths, strict=True):
            most = max(most, max(1, int(_length(value) / width) + 1))
        out.append(most)
    return out


def _pages(heights: list[int], budget: int) -> list[tuple[int, int]]:
    """(first, end) row positions of each page: a row that does not fit starts a new page."""
    pages, start, used = [], 0, 0
    for i, h in enumerate(heights):
        if used + h > budget and used > 0:
            pages.append((start, i))
            start, used = i, 0
        used += h
    pages.append((start, len(heights)))
    return pages


def _row(texts: list[str], edges: list[float], justify: list[str], top: str, bottom: str,
         valign: str, hyphenate: bool = False) -> list[str]:
    """One table row as rtflite's Row._as_rtf writes it (9 pt Times New Roman)."""
    last = len(texts) - 1
    cells = [f"\\clbrdrl\\brdrs\\brdrw15\\clbrdrt{_BORDER[top]}\\brdrw15"
             + ("\\clbrdrr\\brdrs\\brdrw15" if j == last else "")
             + f"\\clbrdrb{_BORDER[bottom]}\\brdrw15{valign}\\cellx{_twip(edge)}"
             for j, edge in enumerate(edges)]
    hyph = "\\hyphpar" if hyphenate else "\\hyphpar0"
    body = [f"\\pard{hyph}\\sb15\\sa15\\fi0\\li0\\ri0\\q{j}\\fs18{{\\f0 {_text(t)}}}\\cell"
            for t, j in zip(texts, justify, strict=True)]
    return [_ROW_START, *cells, *body, _ROW_END]


def covered(table: Table) -> bool:
    """Whether :func:`table_rtf` writes this table (else rtflite does)."""
    texts = [table.title, table.source, *table.columns, *table.footnotes,
             *(t for row in table.rows for t in row)]
    return bool(table.rows) and bool(table.title) and not any(
        s in t for t in texts for s in _SPECIAL)


def table_rtf(table: Table) -> str | None:
    """The RTF document of ``table`` as ``analysis.tables.to_rtf`` lays it out with rtflite
    (byte for byte), or None when the table is not :func:`covered`."""
    if not covered(table):
        return None
    n = len(table.columns)
    page = _Page(landscape=n > 6)
    edges = _cumulative([2.0] + [1.0] * (n - 1), page.col_width)
    # rtflite joins the footnotes with \line: one empty footnote is no footnote
    notes = bool("\\line ".join(table.footnotes))
    budget = max(1, page.nrow - 1 - notes - bool(table.source))
    pages = _pages(_lines(table.rows, edges), budget)
    title = (f"{{\\pard\\hyphpar\\sb180\\sa180\\fi0\\li0\\ri0\\qc\\fs24{{\\f0 "
             f"{_text(table.title)}}}\\par}}")
    header_just = ["c"] * n
    body_just = ["l"] + ["c"] * (n - 1)
    chunks: list[str] = []
    for number, (first, end) in enumerate(pages):
        is_first, is_last = number == 0, number == len(pages) - 1
        if not is_first:
            chunks.append(page.page_break())
        chunks += [title, "\n"]
        chunks += _row(list(table.columns), edges, header_just,
                       "double" if is_first else "single", "", "\\clvertalb")
        for i in range(first, end):
            top = "single" if i == first else ""
            bottom = ""
            if i == end - 1:
                if not is_last:
                    bottom = "single"
                elif not notes:
                    bottom = "double"
            chunks += _row(table.rows[i], edges, body_just, top, bottom, "\\clvertalt")
        if is_last and notes:
            note = "\\line ".join(_text(f) for f in table.footnotes)
            full = [edges[-1]]
            chunks += [_ROW_START,
                       f"\\clbrdrl\\brdrs\\brdrw15\\clbrdrt\\brdrs\\brdrw15\\clbrdrr\\brdrs"
                       f"\\brdrw15\\clbrdrb\\brdrdb\\brdrw15\\clvertalt\\cellx{_twip(full[0])}",
                       f"\\pard\\hyphpar\\sb15\\sa15\\fi0\\li0\\ri0\\ql\\fs18{{\\f0 {note}}}"
                       f"\\cell", _ROW_END]
        if is_last and table.source:
            chunks.append(f"{{\\pard\\hyphpar\\sb15\\sa15\\fi0\\li0\\ri0\\qc\\fs18{{\\f0 "
                          f"{_text(table.source)}}}\\par}}")
    return "\n".join([_START, _FONT_TABLE, "", "\n", "", "", page.settings(),
                      "\n".join(chunks), "\n\n", "}"])
