"""Findings: data problems that are collected and reported together, never raised one at a time.

A finding names the rule that fired, how bad it is, and where: dataset, subject, variable,
value, and the raw file and row it came from (or the spec file and line).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from enum import StrEnum

import pandas as pd


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "notice": 1}[self.value]


@dataclass(frozen=True)
class Finding:
    """One problem found in the data, with everything a person needs to locate it."""

    rule: str                      # rule id, e.g. "CT0001"
    severity: Severity
    message: str                   # one line, for people
    dataset: str = ""              # e.g. "AE"
    usubjid: str = ""
    variable: str = ""
    value: str = ""
    source: str = ""               # raw provenance "ae.csv:12" or spec "mappings/x/sdtm/ae.yaml:30"
    count: int = 1                 # identical findings folded into one row carry their count

    def as_dict(self) -> dict[str, object]:
        """The fields by name, in order, the severity as its text (findings.csv/json).

        Read field by field, not with ``dataclasses.asdict``, which deep-copies every value
        (11 us a finding against 1; a 100,000-subject run reports thousands)."""
        d: dict[str, object] = {name: getattr(self, name) for name in _FIELDS}
        d["severity"] = self.severity.value
        return d


_FIELDS = tuple(f.name for f in fields(Finding))


def fold(findings: Iterable[Finding], severities: Iterable[Severity] = (Severity.NOTICE,)
         ) -> list[Finding]:
    """Findings of ``severities`` that say the same thing (rule, message, dataset, variable,
    value) become one, its count the sum and its subject and source the first one's, so that
    a systematic notice is one row to read rather than one per record; the others, and the
    order of first appearance, are kept."""
    fold_these = set(severities)
    folded: dict[tuple[str, ...], Finding] = {}
    out: list[Finding | tuple[str, ...]] = []
    for finding in findings:
        if finding.severity not in fold_these:
            out.append(finding)
            continue
        key = (finding.rule, finding.message, finding.dataset, finding.variable, finding.value)
        first = folded.get(key)
        if first is None:
            folded[key] = finding
            out.append(key)
        else:
            folded[key] = Finding(first.rule, first.severity, first.message, first.dataset,
                                  first.usubjid, first.variable, first.value, first.source,
                                  first.count + finding.count)
    return [folded[item] if isinstance(item, tuple) else item for item in out]


FINDING_COLUMNS = ["rule", "severity", "message", "dataset", "usubjid", "variable", "value",
                   "source", "count"]


@dataclass
class Findings:
    """An ordered collection of findings; the one place checks and mappings report into."""

    items: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.items.append(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        self.items.extend(findings)

    def add_frame(self, frame: pd.DataFrame, *, rule: str, severity: Severity, message: str,
                  dataset: str = "", variable: str = "", usubjid_col: str | None = "USUBJID",
                  value_col: str | None = None, source_col: str | None = None) -> None:
        """Add one finding per row of ``frame`` (vectorised callers build the frame)."""
        if frame.empty:
            return
        n = len(frame)

        def col(name: str | None) -> list[str]:
            if name is None or name not in frame.columns:
                return [""] * n
            return frame[name].astype("string").fillna("").tolist()

        for u, v, s in zip(col(usubjid_col), col(value_col), col(source_col), strict=True):
            self.items.append(Finding(rule, severity, message, dataset, u, variable, v, s))

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def count(self, severity: Severity | None = None) -> int:
        return sum(1 for f in self.items if severity is None or f.severity == severity)

    def at_least(self, severity: Severity) -> list[Finding]:
        return [f for f in self.items if f.severity.rank >= severity.rank]

    def to_frame(self) -> pd.DataFrame:
        """All findings as a table, in a stable order (so reports are byte-identical)."""
        if not self.items:
            return pd.DataFrame(columns=FINDING_COLUMNS)
        df = pd.DataFrame([f.as_dict() for f in self.items], columns=FINDING_COLUMNS)
        order = {"error": 0, "warning": 1, "notice": 2}
        df["_sev"] = df["severity"].map(order)
        df = df.sort_values(["_sev", "rule", "dataset", "usubjid", "variable", "source", "value"],
                            kind="mergesort").drop(columns="_sev")
        return df.reset_index(drop=True)
