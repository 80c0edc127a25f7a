"""``cdiscmap pool``: pooled ADSL/ADAE/ADRS/ADTTE across studies (ISS/ISE style).

Input: packages written by ``cdiscmap run`` (or ``batch``), each ``<out>/<STUDYID>/`` with an
``adam/`` folder of XPT files (a folder of ADaM XPT files is taken as is). The datasets are
read back with the validator's XPT reader (``checks.read``), so pooling needs nothing but the
delivered files.

Rules (ADaMIG 1.3 §2 keeps STUDYID and USUBJID in every ADaM dataset; USUBJID is unique
within a submission, SDTMIG 3.4 §4.1.2.3, which a pool is):

* every input holds one STUDYID, and no two inputs the same one (the same study twice);
* a USUBJID must not appear in two studies: the pool refuses (exit 2) and names them, since
  subject-level joins (ADSL ↔ ADAE) would silently mix two people;
* the pooled variables are the union of the studies' variables, in the order first met
  (studies in STUDYID order); a variable that is character in one study and numeric in
  another is refused; different lengths or labels are reported (the longest length is
  written, the first label kept);
* records are in STUDYID order, each study's records in their delivered order, so the same
  inputs give the same bytes whatever order they are given in.

The pooled define.xml is the ADaM define of the pooled datasets, written by
:func:`cdiscmap.emit.define.write_define` for a minimal study-like identity (``--pool-id``):
the pool has no study.yaml, no settings files and no methods of its own to cite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pandas as pd

from cdiscmap.errors import InputDataError, display_path

POOL_DATASETS = ("ADSL", "ADAE", "ADRS", "ADTTE")
SUMMARY_JSON = "pool-summary.json"
SUMMARY_MD = "pool-summary.md"
_INTERNAL = ("_SRCFILE", "_SRCROW")


@dataclass
class PoolResult:
    folder: Path
    records: dict[str, int]                      # pooled dataset → records
    studies: dict[str, dict[str, int]]           # pooled dataset → STUDYID → records
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class _PoolSpec:
    """The few study.yaml facts a define.xml needs, for a pool."""

    studyid: str
    title: str
    protocol: str
    standards: dict[str, str] = field(default_factory=dict)
    trial_summary: tuple[()] = ()


@dataclass(frozen=True)
class PoolStudy:
    """A study-like identity for :func:`write_define` (which reads a ``LoadedStudy``): the
    pool's id and title, and no domain specs (ADaM defines never cite them)."""

    study: _PoolSpec
    folder: Path
    name: str
    study_file: str = "pool"
    domains: dict[str, Any] = field(default_factory=dict)
    domain_yaml: dict[str, Any] = field(default_factory=dict)
    domain_files: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Input:
    label: str                     # the package folder as given, for messages
    studyid: str
    files: dict[str, Any]          # dataset → checks.files.DatasetFile


# ------------------------------------------------------------------------------ reading
def adam_folder(package: Path) -> Path:
    """``<package>/adam`` when it exists, else the folder itself when it holds XPT files."""
    if (package / "adam").is_dir():
        return package / "adam"
    if any(package.glob("*.xpt")):
        return package
    raise InputDataError(f"{display_path(package)}: no adam/ folder of XPT files")


def read_package(package: Path, datasets: Sequence[str]) -> _Input:
    """The requested ADaM datasets of one package, and its single STUDYID."""
    from cdiscmap.checks.read import read_xpt_dataset

    folder = adam_folder(package)
    files = {}
    for name in datasets:
        path = folder / f"{name.lower()}.xpt"
        if path.is_file():
            files[name] = read_xpt_dataset(path, folder, folder)
    if not files:
        raise InputDataError(f"{display_path(folder)}: none of {', '.join(datasets)} found")
    ids: set[str] = set()
    for data in files.values():
        if "STUDYID" not in data.frame:
            raise InputDataError(f"{data.relpath} in {display_path(folder)}: no STUDYID")
        ids.update(data.frame["STUDYID"].dropna().astype(str).unique().tolist())
    if len(ids) != 1:
        raise InputDataError(f"{display_path(folder)}: {len(ids)} STUDYID values "
                             f"({', '.join(sorted(ids)) or 'none'}); one study per package")
    return _Input(label=display_path(package), studyid=ids.pop(), files=files)


# ------------------------------------------------------------------------------ pooling
def check_subjects(inputs: list[_Input]) -> None:
    """Refuse a USUBJID found in two studies (any pooled dataset counts)."""
    owner: dict[str, str] = {}
    clashes: dict[str, list[str]] = {}
    for item in inputs:
        subjects: set[str] = set()
        for data in item.files.values():
            if "USUBJID" in data.frame:
                subjects.update(data.frame["USUBJID"].dropna().astype(str).unique().tolist())
        for usubjid in sorted(subjects):
            if usubjid in owner:
                clashes.setdefault(usubjid, [owner[usubjid]]).append(item.studyid)
            else:
                owner[usubjid] = item.studyid
    if clashes:
        shown = "; ".join(f"{u} in {' and '.join(s)}" for u, s in sorted(clashes.items())[:5])
        raise InputDataError(f"{len(clashes)} USUBJID value(s) in more than one study "
                             f"({shown}); a pool needs study-qualified subject ids")


def pool_dataset(name: str, inputs: list[_Input]
                 ) -> tuple[pd.DataFrame, dict[str, str], dict[str, int], list[str]]:
    """One pooled dataset: the frame, the labels met, records per STUDYID, notes."""
    metas: dict[str, list[tuple[str, Any]]] = {}        # variable → [(STUDYID, meta)]
    frames, counts = [], {}
    for item in inputs:
        data = item.files.get(name)
        if data is None:
            continue
        for var in data.variables:
            metas.setdefault(var.name, []).append((item.studyid, var))
        frames.append(data.frame.drop(columns=[c for c in _INTERNAL if c in data.frame]))
        counts[item.studyid] = len(data.frame)
    notes: list[str] = []
    labels: dict[str, str] = {}
    for var, seen in metas.items():
        types = {m.type for _, m in seen}
        if len(types) > 1:
            shown = ", ".join(f"{m.type} in {s}" for s, m in seen)
            raise InputDataError(f"{name}.{var} has different types ({shown}); harmonise the "
                                 f"studies before pooling")
        lengths = {m.length for _, m in seen if m.length is not None}
        if len(lengths) > 1:
            notes.append(f"{name}.{var}: lengths " + ", ".join(
                f"{m.length} ({s})" for s, m in seen) + f"; pooled as {max(lengths)}")
        texts = list(dict.fromkeys(m.label for _, m in seen))
        if len(texts) > 1:
            notes.append(f"{name}.{var}: labels differ ("
                         + "; ".join(f"{s}: {m.label}" for s, m in seen)
                         + f"); kept '{texts[0]}'")
        labels[var] = texts[0]
    missing = []
    for var, seen in metas.items():
        having = {s for s, _ in seen}
        if len(having) < len(counts):
            missing.append(f"{var} (not in {', '.join(s for s in counts if s not in having)})")
    if missing:
        notes.append(f"{name}: variables not in every study, blank there: "
                     + ", ".join(missing))
    pooled = pd.concat(frames, ignore_index=True, sort=False)
    return pooled[list(metas)], labels, counts, notes


def _created(inputs_dirs: list[Path]) -> datetime:
    """The latest CreationDateTime of the inputs' ADaM define.xml (else 2000-01-01): fixed
    by the inputs, so the pool is reproducible."""
    from lxml import etree

    from cdiscmap.emit.timestamp import DEFAULT

    found = []
    for folder in inputs_dirs:
        define = folder / "define.xml"
        if define.is_file():
            try:
                value = etree.parse(str(define)).getroot().get("CreationDateTime")
                if value:
                    found.append(datetime.fromisoformat(value))
            except (etree.XMLSyntaxError, ValueError, OSError):
                continue
    return max(found) if found else DEFAULT


def pool_packages(packages: Sequence[Path], out_dir: Path, *,
                  datasets: Sequence[str] = POOL_DATASETS, pool_id: str = "POOL",
                  title: str | None = None) -> PoolResult:
    """Read, check and pool the packages; write XPT, define.xml/.html and the summary."""
    from cdiscmap.emit.atomic import Staging, atomic_write_text
    from cdiscmap.emit.datasets import write_datasets
    from cdiscmap.emit.define import write_define
    from cdiscmap.standards import load_standards

    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,39}", pool_id):
        raise InputDataError(f"--pool-id {pool_id!r}: use a letter, then letters, digits, _ or "
                             f"- (at most 40)")
    datasets = [d.upper() for d in datasets]
    unknown = [d for d in datasets if not d.startswith("AD")]
    if unknown or not datasets:
        raise InputDataError(f"--datasets: {', '.join(unknown) or 'none given'}: ADaM "
                             f"datasets only (e.g. ADSL,ADAE,ADRS,ADTTE)")
    if len(packages) < 2:
        raise InputDataError("give at least two study packages to pool")
    inputs = [read_package(Path(p), datasets) for p in packages]
    by_id: dict[str, str] = {}
    for item in inputs:
        if item.studyid in by_id:
            raise InputDataError(f"{by_id[item.studyid]} and {item.label} are both study "
                                 f"{item.studyid}; give each study once")
        by_id[item.studyid] = item.label
    inputs.sort(key=lambda i: i.studyid)
    check_subjects(inputs)

    frames: dict[str, pd.DataFrame] = {}
    labels: dict[str, dict[str, str]] = {}
    studies: dict[str, dict[str, int]] = {}
    notes: list[str] = []
    for name in datasets:
        if not any(name in i.files for i in inputs):
            notes.append(f"{name}: in no study; not pooled")
            continue
        frames[name], labels[name], studies[name], more = pool_dataset(name, inputs)
        notes += more

    standards = load_standards()
    created = _created([adam_folder(Path(p)) for p in packages])
    ids = [i.studyid for i in inputs]
    identity = PoolStudy(study=_PoolSpec(studyid=pool_id, protocol=pool_id,
                                         title=title or f"Pooled ADaM of {', '.join(ids)}"),
                         folder=Path(pool_id), name=pool_id)
    summary = {"pool_id": pool_id, "created": created.isoformat(),
               "studies": {i.studyid: sorted(i.files) for i in inputs},
               "datasets": {n: {"records": len(f), "by_study": studies[n]}
                            for n, f in frames.items()},
               "notes": notes}
    owned = {f"{n.lower()}.xpt" for n in POOL_DATASETS + tuple(datasets)} | {
        "define.xml", "define.html", SUMMARY_JSON, SUMMARY_MD}
    with Staging(out_dir) as stage:
        files = write_datasets(frames, stage.folder, standards, created, extra_labels=labels,
                               studyid=pool_id)
        files += write_define(stage.folder, kind="ADaM", datasets=frames, standards=standards,
                              study=cast(Any, identity), origins={}, methods={},
                              created=created)
        atomic_write_text(stage.folder / SUMMARY_JSON,
                          json.dumps(summary, indent=1, sort_keys=True) + "\n")
        atomic_write_text(stage.folder / SUMMARY_MD, _markdown(summary))
        final = stage.publish(lambda rel: rel in owned, shared=True)
    return PoolResult(folder=out_dir, records={n: len(f) for n, f in frames.items()},
                      studies=studies, notes=notes, files=final)


def _markdown(summary: dict[str, Any]) -> str:
    ids = list(summary["studies"])
    lines = [f"# Pool {summary['pool_id']}", "",
             f"Studies (in pooled order): {', '.join(ids)}.", "",
             "| dataset | records | " + " | ".join(ids) + " |",
             "|---|---|" + "---|" * len(ids)]
    for name, info in summary["datasets"].items():
        lines.append(f"| {name} | {info['records']} | "
                     + " | ".join(str(info["by_study"].get(s, 0)) for s in ids) + " |")
    if summary["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in summary["notes"]]
    return "\n".join(lines) + "\n"
