"""The run report: record accounting, datasets written and findings, as JSON, Markdown and CSV.

Deterministic (no clock, no absolute paths), so two runs on the same inputs give identical
reports and CI can diff them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cdiscmap.emit.atomic import atomic_open, atomic_write_text
from cdiscmap.findings import Findings

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


def findings_summary(findings: Findings) -> dict[str, object]:
    frame = findings.to_frame()
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


def write_findings(folder: Path, findings: Findings) -> None:
    frame = findings.to_frame()
    with atomic_open(folder / "findings.csv", "w", newline="") as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")
    atomic_write_text(folder / "findings.json",
                      json.dumps(frame.to_dict(orient="records"), indent=1, sort_keys=True)
                      + "\n")


def write_lineage(folder: Path, datasets: dict[str, pd.DataFrame]) -> None:
    """lineage.csv: for every SDTM record (dataset, USUBJID, --SEQ) the raw file and row it
    came from, so lineage outlives the in-memory run."""
    pieces = []
    for name, frame in sorted(datasets.items()):
        if "_SRCFILE" not in frame:
            continue
        seq = f"{name}SEQ" if f"{name}SEQ" in frame else None
        pieces.append(pd.DataFrame({
            "dataset": name,
            "USUBJID": frame["USUBJID"].astype("string") if "USUBJID" in frame else "",
            "SEQ": frame[seq].astype("Int64").astype("string") if seq else "",
            "QNAM": frame["QNAM"].astype("string") if "QNAM" in frame else "",
            "source_file": frame["_SRCFILE"].astype("string"),
            "source_row": frame["_SRCROW"].astype("Int64"),
        }))
    table = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()
    with atomic_open(folder / "lineage.csv", "w", newline="") as handle:
        table.to_csv(handle, index=False, lineterminator="\n")


def _recist_section(findings: Findings) -> list[str]:
    """The RECIST 1.1 cross-check: each visit where the engine and the investigator disagree,
    with the numbers that explain it."""
    frame = findings.to_frame()
    rc = frame[frame["rule"] == "CMAP-RC0001"] if len(frame) else frame
    out = ["\n## RECIST 1.1 cross-check (computed from TU/TR vs investigator RS)\n\n"]
    if rc.empty:
        return [*out, "The engine agrees with the investigator at every assessed visit.\n"]
    out.append(f"{len(rc)} disagreement(s):\n\n")
    out.append(_md_table(rc[["usubjid", "value", "message", "source"]].rename(
        columns={"usubjid": "subject", "value": "responses", "message": "explanation"})))
    return out


def write_run_report(folder: Path, loaded: LoadedStudy, result: SdtmResult,
                     adam: dict[str, pd.DataFrame], raw_dir: Path) -> dict[str, object]:
    acc = result.accounting
    table = acc.table()
    drops = acc.drops()
    written = dict(sorted(acc.written.items()))
    written.update({name: len(frame) for name, frame in sorted(adam.items())})
    summary: dict[str, object] = {
        "study": loaded.study.studyid,
        "spec": loaded.name,
        "raw_folder": raw_dir.name,
        "standards": dict(sorted(loaded.study.standards.items())),
        "raw_files": table.to_dict(orient="records"),
        "dropped": drops.to_dict(orient="records"),
        "records_written": written,
        "balanced": acc.balanced,
        "findings": findings_summary(result.findings),
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
    md += _recist_section(result.findings)
    atomic_write_text(folder / "run-summary.md", "".join(md))
    write_findings(folder, result.findings)
    write_lineage(folder, {**result.domains, **result.supp})
    return summary
