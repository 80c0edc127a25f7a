"""cdiscmap define reads each text column once: the XPT reader's factorisation is what
define.xml asks (pipeline/define_step.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from cdiscmap.checks.facts import facts_cache, text_facts
from cdiscmap.emit.xpt import XptColumn, write_xpt
from cdiscmap.pipeline.define_step import _read_folder


def _write(folder: Path) -> None:
    frame = pd.DataFrame({"AETERM": pd.Series(["Rash", "Headache", "Rash", None],
                                              dtype="string"),
                          "AESEQ": [1.0, 2.0, 3.0, 4.0]})
    write_xpt(folder / "ae.xpt", frame, dataset_name="AE", dataset_label="Adverse Events",
              columns=[XptColumn("AETERM", "Reported Term", "char"),
                       XptColumn("AESEQ", "Sequence Number", "num")],
              created=datetime(2026, 1, 1))


def test_text_facts_of_a_read_column_are_the_readers(tmp_path: Path) -> None:
    _write(tmp_path)
    with facts_cache():
        frames = _read_folder(tmp_path)
        facts = text_facts(frames["AE"]["AETERM"])
        assert facts is not None
        assert facts is text_facts(frames["AE"]["AETERM"])          # remembered, not redone
        assert facts.uniques.tolist() == ["Rash", "Headache"]
        assert facts.codes.tolist() == [0, 1, 0, -1]
        assert facts.max_bytes == 8


def test_without_a_cache_nothing_is_kept(tmp_path: Path) -> None:
    _write(tmp_path)
    frames = _read_folder(tmp_path)
    first = text_facts(frames["AE"]["AETERM"])
    assert first is not None and first is not text_facts(frames["AE"]["AETERM"])
    assert first.uniques.tolist() == ["Rash", "Headache"]
