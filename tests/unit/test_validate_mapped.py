"""The XPT reader maps files instead of copying them (checks.read._file_data): same frames."""

from __future__ import annotations

import os

import pandas as pd

from cdiscmap.checks import read
from cdiscmap.emit.xpt import XptColumn, write_xpt


def test_a_file_is_mapped_and_answers_as_its_bytes(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"HEADER RECORD*******LIBRARY" + b" " * 53)
    data = read._file_data(path)
    assert isinstance(data, read._MappedFile)
    assert len(data) == 80 and data[:6] == b"HEADER"
    assert data.startswith(b"HEADER RECORD") and data.startswith(b"LIBRARY", 20)
    assert not data.startswith(b"LIBRARY") and not data.startswith(b"  ", 79)  # one byte left


def test_an_empty_file_is_read_as_bytes(tmp_path):
    path = tmp_path / "empty.xpt"
    path.write_bytes(b"")
    assert read._file_data(path) == b""


def test_a_mapped_file_reads_the_same_frame_and_leaves_no_mapping(tmp_path):
    frame = pd.DataFrame({"STUDYID": ["S1", "S1", "S1"], "USUBJID": ["S1-1", "S1-2", None],
                          "AESEQ": [1.0, 2.0, float("nan")]})
    path = tmp_path / "ae.xpt"
    write_xpt(path, frame, dataset_name="AE", dataset_label="Adverse Events",
              columns=[XptColumn("STUDYID", "Study Identifier", "char"),
                       XptColumn("USUBJID", "Unique Subject Identifier", "char"),
                       XptColumn("AESEQ", "Sequence Number", "num")])
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    dataset = read.read_xpt_dataset(path, tmp_path, tmp_path)
    assert dataset.frame["USUBJID"].tolist() == ["S1-1", "S1-2", pd.NA]
    assert dataset.frame["AESEQ"].tolist()[:2] == [1.0, 2.0]
    assert dataset.frame["_SRCROW"].tolist() == [1, 2, 3]
    if before is not None:              # the mapping (and its descriptor) went with the read
        assert len(os.listdir("/proc/self/fd")) == before
