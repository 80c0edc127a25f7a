"""``cdiscmap recist`` output formatting done once per distinct value gives the text the per-cell
code gave: the CSV of ``DataFrame.to_csv``, numbers to 4 decimals, the HTML table of ``_table``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.pipeline.recist_command import _csv, _table, _text_frame, _text_table


def test_csv_is_what_to_csv_writes_quotes_commas_and_newlines_included():
    text = pd.DataFrame({"USUBJID": ["S-1", "a,b", 'say "hi"', "", "two\nlines", " pad "],
                         "REASON": ["x"] * 6}, dtype=object)
    assert _csv(text) == text.to_csv(index=False, lineterminator="\n")
    assert _csv(text).splitlines()[2] == '"a,b",x'
    assert _csv(text.iloc[:0]) == "USUBJID,REASON\n"


def test_csv_writes_carriage_returns_and_empty_fields_as_to_csv_does():
    text = pd.DataFrame({"A": ["", "cr\rhere", "", 'q"'], "B": ["", "", "x", ""]}, dtype=object)
    assert _csv(text) == text.to_csv(index=False, lineterminator="\n")
    assert _csv(text).split("\n")[1] == ","          # two empty fields, not '""'
    assert '"q"""' in _csv(text)


def test_numbers_to_at_most_4_decimals_once_per_value():
    frame = pd.DataFrame({"SUMDIAM": [35.0, 14.0, np.nan, 42.857142, -0.00001, 35.0, 0.5]})
    text = _text_frame(frame, ["SUMDIAM", "USUBJID"])
    assert text["SUMDIAM"].tolist() == ["35", "14", "", "42.8571", "0", "35", "0.5"]
    assert text["USUBJID"].tolist() == [""] * 7           # a column the frame lacks


def test_html_table_escapes_like_the_per_cell_table():
    text = pd.DataFrame({"USUBJID": ["S<1>", "S&2", "S<1>"], "OVRLRESP": ["PR", 'P"D', ""]},
                        dtype=object)
    columns = ["USUBJID", "OVRLRESP"]
    fast = _text_table(text, columns, "OVRLRESP")
    assert fast == _table(text.to_dict(orient="records"), columns, "OVRLRESP")
    assert '<tr class="P&quot;D"><td>S&amp;2</td>' in fast


def test_escaping_all_texts_at_once_matches_escaping_each_nul_included():
    from cdiscmap.pipeline.recist_command import _escape_all

    texts = np.array(["a<b>", "", "x\"y'", "&amp;", "plain"], dtype=object)
    assert _escape_all(texts) == ["a&lt;b&gt;", "", "x&quot;y&#x27;", "&amp;amp;", "plain"]
    with_nul = np.array(["a\x00<", "b"], dtype=object)           # NUL inside a text
    assert _escape_all(with_nul) == ["a\x00&lt;", "b"]
    assert _escape_all(np.array([], dtype=object)) == []


def test_csv_of_consecutive_rows_concatenates_to_the_whole_csv():
    # the command composes half of a large comparison CSV in a child: rows [0, h) with the
    # header plus rows [h, n) without it are the whole file, quoting and empty fields included
    from cdiscmap.pipeline.recist_command import _coded_of_text, _csv_coded

    text = pd.DataFrame({"A": ["x", "a,b", "", 'q"q', "line\nbreak"],
                         "B": ["1", "2", "3", "", "5"]})
    coded = _coded_of_text(text)
    whole = _csv_coded(coded)
    assert whole == text.to_csv(index=False, lineterminator="\n")
    for half in range(6):
        assert _csv_coded(coded, slice(0, half)) + _csv_coded(
            coded, slice(half, None), header=False) == whole
    assert _csv_coded(coded, slice(5, None), header=False) == ""
