"""analysis.rtf writes the report's tables byte for byte as rtflite lays them out
(``tables.rtflite_rtf``, the reference): generated tables of every shape the report makes
(portrait and landscape, pages broken by wrapped rows, with and without footnotes and
source, RTF-special and non-Latin-1 characters), and the tables rtflite is left with."""

from __future__ import annotations

import importlib.metadata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdiscmap.analysis import rtf
from cdiscmap.analysis.tables import Table, rtflite_rtf, to_rtf

pytestmark = pytest.mark.skipif(
    not importlib.metadata.version("rtflite").startswith("2.6."),
    reason="analysis.rtf mirrors rtflite 2.6's layout; another rtflite may lay out otherwise")

# letters, digits, punctuation the report uses, RTF braces, >= and <= (written as symbols),
# ^ and _ (super/subscript), Latin-1 (kept), ± and non-Latin-1 (\uN escapes), astral plane
ALPHABET = "aZ09 %()[],.;:-/'&{}<>=^_§éü±≥—中😀"
texts = st.text(alphabet=ALPHABET, max_size=60)
short = st.text(alphabet="abc 0123456789%()", max_size=12)


@st.composite
def tables(draw: st.DrawFn) -> Table:
    ncol = draw(st.integers(2, 10))
    title = draw(texts.filter(bool))
    columns = draw(st.lists(texts, min_size=ncol, max_size=ncol))
    table = Table("t", title, columns,
                  footnotes=draw(st.lists(texts, max_size=3)),
                  source=draw(st.one_of(st.just(""), texts)))
    nrow = draw(st.integers(1, 70))
    for _ in range(nrow):
        # mostly short cells (many rows a page); some long ones wrap and take more rows
        table.add_row(draw(st.lists(st.one_of(short, short, texts,
                                              st.text(alphabet=ALPHABET, min_size=80,
                                                      max_size=400)),
                                    min_size=ncol, max_size=ncol)))
    return table


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tables())
def test_same_bytes_as_rtflite(table: Table) -> None:
    assert rtf.covered(table)
    assert rtf.table_rtf(table) == rtflite_rtf(table)


def _numbered(nrow: int, ncol: int, cell: str = "1 (2.0%)") -> Table:
    table = Table("t", "Title", [f"Column {j}" for j in range(ncol)],
                  footnotes=["95% CI: Clopper-Pearson; x >= 1", "second note"],
                  source="Source: ADSL")
    for i in range(nrow):
        table.add_row([f"Group {i}"] + [cell] * (ncol - 1))
    return table


@pytest.mark.parametrize(("nrow", "ncol", "pages"), [
    (37, 3, 1),      # portrait: 40 rows less header, footnote and source
    (38, 3, 2),
    (21, 7, 1),      # landscape: 24 rows less three
    (22, 7, 2),
    (100, 7, 5),
])
def test_page_breaks_where_rtflite_breaks(nrow: int, ncol: int, pages: int) -> None:
    table = _numbered(nrow, ncol)
    written = rtf.table_rtf(table)
    assert written == rtflite_rtf(table)
    assert written is not None and written.count("\\page{") == pages - 1
    assert ("\\landscape" in written) == (ncol > 6)


def test_wrapped_rows_take_more_of_the_page() -> None:
    # a 300-character cell wraps to several lines of the 1.04-inch column: fewer rows fit
    table = _numbered(30, 7, cell="x" * 300)
    written = rtf.table_rtf(table)
    assert written == rtflite_rtf(table)
    assert written is not None and written.count("\\page{") >= 5


def test_symbols_and_escapes() -> None:
    table = Table("t", "Rate >= 30% ± 2", ["Group", "p <= 0.05", "x_1^2"],
                  footnotes=["proportion_ci(method='exact')", "€ 中"], source="§4.3.1")
    table.add_row(["a", "b", "c"])
    written = rtf.table_rtf(table)
    assert written == rtflite_rtf(table)
    assert written is not None
    assert "Rate \\uc1\\u8805*  30% \\uc1\\u177* 2" in written
    assert "p \\uc1\\u8804*  0.05" in written and "x\\sub 1\\super 2" in written
    assert "proportion\\sub ci" in written and "\\uc1\\u8364* \\uc1\\u20013*" in written
    assert "§4.3.1" in written


@pytest.mark.parametrize("table", [
    Table("t", "Title", ["A", "B"]),                                       # no rows
    Table("t", "", ["A", "B"], rows=[["1", "2"]]),                         # no title
    Table("t", "Title", ["A", "B"], rows=[["\\alpha", "2"]]),              # LaTeX
    Table("t", "Title", ["A", "B"], rows=[["1", "2"]], footnotes=["a\nb"]),  # line break
])
def test_other_tables_are_left_to_rtflite(table: Table) -> None:
    assert not rtf.covered(table) and rtf.table_rtf(table) is None
    assert to_rtf(table) == rtflite_rtf(table)
