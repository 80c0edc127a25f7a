"""File-level limits of a dataset file: names, labels, lengths and ASCII, from its metadata.

The metadata comes from the file itself (the XPT header: SAS TS-140 namestrs, or pyreadstat's
metadata for XPT versions other than 5; the columns of a Dataset-JSON file), so these checks
run on any submission folder, not only on what cdiscmap wrote. Dataset-JSON files are held to the same limits: a dataset that keeps them converts to
XPT v5 without loss, which is what a reviewer still receives today.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from cdiscmap.checks.facts import TextFacts, text_facts
from cdiscmap.findings import Finding, Severity

# SAS TS-140 namestr / member header and FDA Technical Conformance Guide §3.3.1 (as in
# cdiscmap.emit.xpt): names of 1-8 characters, labels of at most 40, text of at most 200 bytes,
# ASCII only. SDTMIG 3.4 §4.2.1 and ADaMIG 1.3 §3.1.1 set the same name and label sizes.
MAX_NAME_CHARS = 8
MAX_LABEL_BYTES = 40
MAX_CHAR_BYTES = 200
_SAS_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,7}")

RULES: dict[str, tuple[Severity, str]] = {
    "CMAP-FL0001": (Severity.ERROR, "Dataset name is not 1-8 upper-case letters, digits or "
                               "underscores starting with a letter (SAS TS-140; FDA TCG §3.3.1)"),
    "CMAP-FL0002": (Severity.ERROR, "Dataset label is longer than 40 bytes (SAS TS-140)"),
    "CMAP-FL0003": (Severity.ERROR, "Variable name is not 1-8 upper-case letters, digits or "
                               "underscores starting with a letter (SDTMIG 3.4 §4.2.1)"),
    "CMAP-FL0004": (Severity.ERROR, "Variable label is longer than 40 bytes (SAS TS-140)"),
    "CMAP-FL0005": (Severity.ERROR, "Character variable length is over 200 bytes (SAS TS-140)"),
    "CMAP-FL0006": (Severity.ERROR, "Character values hold non-ASCII characters (FDA TCG §3.3.1)"),
    "CMAP-FL0007": (Severity.ERROR, "A dataset or variable label holds non-ASCII characters "
                               "(FDA TCG §3.3.1)"),
    "CMAP-FL0008": (Severity.WARNING, "The file name does not match the dataset name inside it "
                                 "(FDA TCG §3.3.1: file name = dataset name)"),
}


@dataclass(frozen=True)
class VariableMeta:
    """One variable as the file describes it."""

    name: str
    label: str
    type: Literal["char", "num"]
    length: int | None = None        # bytes for char (XPT storage width / JSON length)
    format: str | None = None        # display format, e.g. "DATE9."


@dataclass
class DatasetFile:
    """A dataset read from a folder: where it came from, its own metadata and its records.

    ``frame`` is normalised for the checks: char variables as pandas "string" with blanks as
    <NA>, numbers float64, SAS dates datetime64[ns], plus ``_SRCFILE`` (``relpath``) and
    ``_SRCROW`` (record number from 1) so findings point into the file.
    """

    name: str                        # dataset name: the file stem, upper-cased
    path: Path
    relpath: str                     # as shown in reports, relative to the validated folder
    format: Literal["xpt", "json"]
    member: str                      # the dataset name written inside the file
    label: str
    variables: list[VariableMeta]
    frame: pd.DataFrame
    folder: Path = field(default_factory=Path)   # the dataset folder it was found in
    # Dataset-JSON only: studyOID, metaDataVersionOID and metaDataRef of the file's header,
    # which must name the define.xml beside it (checks/define_rules.py CMAP-DF0012, CMAP-DF0013)
    study_oid: str | None = None
    metadata_version_oid: str | None = None
    metadata_ref: str | None = None
    header_relpath: str = ""     # the Dataset-JSON copy these come from, when this is the XPT
    # char columns' facts as the XPT reader found them (checks.facts.remember them for the
    # checks); empty when the reader did not factorise the text itself
    facts: dict[str, TextFacts] = field(default_factory=dict, repr=False)


def _finding(rule: str, message: str, dataset: DatasetFile, variable: str = "",
             value: str = "", usubjid: str = "", source: str = "", count: int = 1) -> Finding:
    return Finding(rule=rule, severity=RULES[rule][0], message=message, dataset=dataset.name,
                   usubjid=usubjid, variable=variable, value=value,
                   source=source or dataset.relpath, count=count)


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def check_file_limits(dataset: DatasetFile) -> list[Finding]:
    """Every file-level limit the dataset breaks, one finding per dataset/variable problem."""
    out: list[Finding] = []
    member = dataset.member
    if not _SAS_NAME.fullmatch(member):
        out.append(_finding("CMAP-FL0001", f"dataset name {member!r} is not a valid XPT v5 name",
                            dataset, value=member))
    if member.upper() != dataset.name:
        out.append(_finding("CMAP-FL0008", f"{dataset.path.name} holds dataset {member!r}",
                            dataset, value=member))
    out += _label_problems(dataset, "", dataset.label)
    for var in dataset.variables:
        if not _SAS_NAME.fullmatch(var.name):
            out.append(_finding("CMAP-FL0003", f"variable name {var.name!r} is not a valid XPT v5 "
                                          "name", dataset, var.name, var.name))
        out += _label_problems(dataset, var.name, var.label)
        if var.type == "char" and var.length is not None and var.length > MAX_CHAR_BYTES:
            out.append(_finding("CMAP-FL0005", f"{var.name} has length {var.length} bytes, more "
                                          f"than {MAX_CHAR_BYTES}", dataset, var.name,
                                str(var.length)))
    out += _non_ascii_values(dataset)
    return out


def _label_problems(dataset: DatasetFile, variable: str, label: str) -> list[Finding]:
    what = f"{variable} label" if variable else "dataset label"
    out = []
    size = _bytes(label)
    if size > MAX_LABEL_BYTES:
        out.append(_finding("CMAP-FL0004" if variable else "CMAP-FL0002",
                            f"{what} is {size} bytes, more than {MAX_LABEL_BYTES}", dataset,
                            variable, label))
    if not label.isascii():
        out.append(_finding("CMAP-FL0007", f"{what} is not ASCII", dataset, variable, label))
    return out


def _non_ascii_values(dataset: DatasetFile) -> list[Finding]:
    """One finding per char variable with non-ASCII values: how many records, the first one."""
    frame = dataset.frame
    out = []
    for var in dataset.variables:
        if var.type != "char" or var.name not in frame.columns:
            continue
        facts = text_facts(frame[var.name])     # the C string table: no type check per cell
        if facts is not None:
            codes, uniques = facts.codes, facts.uniques
        else:
            codes, uniques = pd.factorize(frame[var.name].to_numpy(dtype=object),
                                          use_na_sentinel=True)
        if not len(uniques):
            continue
        if facts is not None and "".join(uniques).isascii():
            continue                # the usual case: one C pass over the distinct values
        ascii_unique = np.fromiter(map(str.isascii, map(str, uniques)), dtype=bool,
                                   count=len(uniques))
        if ascii_unique.all():
            continue
        bad_rows = np.flatnonzero((codes >= 0) & ~ascii_unique[np.clip(codes, 0, None)])
        first = int(bad_rows[0])
        usubjid = ""
        if "USUBJID" in frame.columns and pd.notna(frame["USUBJID"].iloc[first]):
            usubjid = str(frame["USUBJID"].iloc[first])
        out.append(_finding("CMAP-FL0006", f"{var.name} has {len(bad_rows)} record(s) with "
                                      "non-ASCII text", dataset, var.name,
                            str(uniques[codes[first]]), usubjid,
                            f"{dataset.relpath} row {first + 1}", len(bad_rows)))
    return out


__all__ = ["RULES", "DatasetFile", "VariableMeta", "check_file_limits"]
