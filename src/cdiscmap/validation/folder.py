"""Validate any folder of SDTM/ADaM datasets (XPT v5 or Dataset-JSON), with or without define.xml.

What is read: every ``.xpt`` (XPT v5 decoded by :mod:`cdiscmap.validation.read`, other XPT
versions by pyreadstat) and every Dataset-JSON ``.json`` file of the folder;
a package root holding ``sdtm/`` and ``adam/`` is read as both. Other ``.json`` files (reports,
``findings.json``) are listed as ignored. Each folder's ``define.xml`` is picked up unless one is
given. When validating an ``adam/`` folder alone, a sibling ``sdtm/`` folder is read (not
checked) so that SRCDOM/SRCSEQ links can be followed.

What is checked, reusing the pipeline's rules: pandera schemas generated from ``specs/`` per
dataset, the cross-dataset SDTM rules, SUPP-- parent links, ADaM rules, file-level XPT limits
and define.xml ↔ data. Problems of the data are findings; only unusable input (no folder, no
dataset, an unreadable define.xml) raises InputDataError.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cdiscmap.checks import (
    adam_rules,
    core_rules,
    crossdomain,
    define_rules,
    files,
    plausibility,
    schema,
    supp_rules,
)
from cdiscmap.checks.adam_rules import check_adam_cross
from cdiscmap.checks.crossdomain import check_sdtm_cross
from cdiscmap.checks.define_rules import Define, check_define
from cdiscmap.checks.define_rules import read_define as _read_define
from cdiscmap.checks.facts import facts_cache, remember
from cdiscmap.checks.files import DatasetFile, check_file_limits
from cdiscmap.checks.schema import check_dataset
from cdiscmap.checks.supp_rules import check_supp_links
from cdiscmap.checks.value_level import ValueRule, check_value_rules
from cdiscmap.emit.attributes import metadata_for
from cdiscmap.emit.datasetjson import is_dataset_json, load_json
from cdiscmap.errors import InputDataError, StandardsError, display_path
from cdiscmap.findings import Finding, Findings, Severity, fold
from cdiscmap.forked import ForkedCall
from cdiscmap.progress import SILENT, Progress
from cdiscmap.sdtm.relationships import with_continuations
from cdiscmap.sdtm.vectorize import codes_cache
from cdiscmap.standards import load_standards
from cdiscmap.standards.models import Standards
from cdiscmap.validation.read import read_json_dataset, read_xpt_dataset, relative_path

RULES: dict[str, tuple[Severity, str]] = {
    "CMAP-VL0001": (Severity.NOTICE, "The dataset has no standard metadata in specs/: its schema "
                                "is not checked"),
    "CMAP-VL0002": (Severity.ERROR, "A dataset file cannot be read (corrupt XPT, invalid "
                               "Dataset-JSON)"),
    "CMAP-VL0003": (Severity.ERROR, "Two files hold the same dataset; only the first is checked"),
    "CMAP-VL0004": (Severity.NOTICE, "Dataset present as XPT and Dataset-JSON with the same content; "
                                "checked once"),
    "CMAP-VL0005": (Severity.ERROR, "The XPT and Dataset-JSON copies of a dataset differ"),
}

PACKAGE_FOLDERS = ("sdtm", "adam")
DEFINE_NAME = "define.xml"


def rule_catalogue() -> dict[str, tuple[Severity, str]]:
    """Every rule ``validate_folder`` can report, by id (the source of docs/validation-rules.md)."""
    merged: dict[str, tuple[Severity, str]] = {}
    for table in (schema.RULES, crossdomain.RULES, plausibility.RULES, supp_rules.RULES,
                  adam_rules.RULES, files.RULES, define_rules.RULES, core_rules.RULES, RULES):
        merged.update(table)
    return dict(sorted(merged.items()))


@dataclass(frozen=True)
class DatasetSeen:
    """One dataset file the validator read."""

    name: str
    path: str                        # relative to the validated folder, POSIX separators
    format: str                      # "xpt" or "json"
    standard: str                    # "SDTM", "ADaM"
    records: int
    variables: int


@dataclass
class ValidationReport:
    """The outcome of :func:`validate_folder`: findings, what was read, which rules ran."""

    folder: Path
    findings: Findings
    datasets: list[DatasetSeen]
    defines: list[str] = field(default_factory=list)     # define.xml files applied (relative)
    ignored: list[str] = field(default_factory=list)     # .json files that are not datasets
    references: list[str] = field(default_factory=list)  # read for links only (sibling sdtm/)
    rules_run: dict[str, list[str]] = field(default_factory=dict)   # dataset → rule ids

    def counts(self) -> dict[str, int]:
        """Findings per severity, counting folded records (``Finding.count``)."""
        totals = {severity.value: 0 for severity in Severity}
        for finding in self.findings:
            totals[finding.severity.value] += finding.count
        return totals

    def distinct(self) -> dict[str, int]:
        """Findings per severity as rows of the report (a folded finding counts once)."""
        totals = {severity.value: 0 for severity in Severity}
        for finding in self.findings:
            totals[finding.severity.value] += 1
        return totals

    def at_least(self, severity: Severity) -> list[Finding]:
        return self.findings.at_least(severity)


# ============================================================================================
# Reading
# ============================================================================================
def _candidates(folder: Path) -> Iterable[Path]:
    # XPT before Dataset-JSON of the same dataset: the XPT copy is the one checked (define
    # lengths describe it); the JSON copy is compared with it
    return (p for p in sorted(folder.iterdir(),
                              key=lambda p: (p.stem.lower(), p.suffix.lower() != ".xpt", p.name))
            if p.is_file() and p.suffix.lower() in (".xpt", ".json"))


def _package_folders(folder: Path) -> list[Path]:
    """The sdtm/ and adam/ sub-folders of a package root."""
    return [p for p in sorted(folder.iterdir()) if p.is_dir() and p.name.lower() in
            PACKAGE_FOLDERS]


@dataclass
class _Loaded:
    datasets: dict[str, DatasetFile] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _read_xpt_files(paths: list[Path], root: Path, folders: list[Path]
                    ) -> dict[Path, DatasetFile | InputDataError]:
    """Every XPT file read (``folders[i]`` is the dataset folder of ``paths[i]``), two at a
    time: the reader spends most of its time in numpy and pandas' hash tables, which release
    the GIL, so a second core shortens the wall time. The largest files go first, so the two
    readers end together. The results are used in file order, so findings come out as with
    one reader."""
    def read(number: int) -> DatasetFile | InputDataError:
        try:
            return read_xpt_dataset(paths[number], root, folders[number])
        except InputDataError as exc:
            return exc

    workers = min(2, os.cpu_count() or 1, len(paths))
    if workers < 2:
        return {path: read(number) for number, path in enumerate(paths)}
    order = sorted(range(len(paths)), key=lambda number: -_size(paths[number]))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = dict(zip(order, pool.map(read, order), strict=True))
    return {path: done[number] for number, path in enumerate(paths)}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0                        # the reader reports the file


def _read_all_xpt(folders: list[Path], root: Path) -> dict[Path, DatasetFile | InputDataError]:
    """The XPT files of all ``folders`` read in one batch (see :func:`_read_xpt_files`)."""
    paths, owners = [], []
    for folder in folders:
        for path in _candidates(folder):
            if path.suffix.lower() == ".xpt":
                paths.append(path)
                owners.append(folder)
    return _read_xpt_files(paths, root, owners)


def _load_folder(folder: Path, root: Path, into: _Loaded,
                 xpt: dict[Path, DatasetFile | InputDataError] | None = None) -> bool:
    """Read the dataset files of one folder into ``into``; whether it held any dataset file.
    ``xpt``: its XPT files already read (:func:`_read_all_xpt`)."""
    before = len(into.datasets) + len(into.findings)
    candidates = list(_candidates(folder))
    if xpt is None:
        xpt = _read_all_xpt([folder], root)
    for path in candidates:
        relpath = relative_path(path, root)
        try:
            if path.suffix.lower() == ".xpt":
                read = xpt.pop(path)       # dropped once used: a frame is held by one owner
                if isinstance(read, InputDataError):
                    raise read
                dataset = read
            else:
                try:
                    document = load_json(path)
                except InputDataError as exc:
                    raise InputDataError(f"{exc} (not a Dataset-JSON file)") from None
                if not is_dataset_json(document):
                    into.ignored.append(relpath)
                    continue
                dataset = read_json_dataset(path, root, folder, document)
        except InputDataError as exc:
            name = path.stem.upper()
            into.findings.append(Finding("CMAP-VL0002", RULES["CMAP-VL0002"][0], str(exc), name,
                                         source=relpath))
            continue
        first = into.datasets.get(dataset.name)
        if first is not None and first.format != dataset.format:
            # `cdiscmap run --format both`: the two copies must hold the same data
            same = _same_content(first.frame, dataset.frame)
            rule = "CMAP-VL0004" if same else "CMAP-VL0005"
            into.findings.append(Finding(rule, RULES[rule][0],
                                         f"{first.relpath} and {relpath}: " + RULES[rule][1],
                                         dataset.name, source=relpath))
            if dataset.format == "json":    # its header must still name the define (CMAP-DF0012)
                first.study_oid = dataset.study_oid
                first.metadata_version_oid = dataset.metadata_version_oid
                first.metadata_ref = dataset.metadata_ref
                first.header_relpath = dataset.relpath
            continue
        if first is not None:
            into.findings.append(Finding("CMAP-VL0003", RULES["CMAP-VL0003"][0],
                                         f"dataset {dataset.name} is in {first.relpath} and "
                                         f"{relpath}; {relpath} is not checked", dataset.name,
                                         source=relpath))
            continue
        into.datasets[dataset.name] = dataset
    return len(into.datasets) + len(into.findings) > before


def _same_content(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Equal variables and values (types may differ between the two file formats)."""
    cols = [c for c in a.columns if not c.startswith("_")]
    if sorted(cols) != sorted(c for c in b.columns if not c.startswith("_")) or len(a) != len(b):
        return False
    try:
        pd.testing.assert_frame_equal(a[cols].reset_index(drop=True),
                                      b[cols].reset_index(drop=True), check_dtype=False,
                                      check_exact=True)
    except AssertionError:
        return False
    return True


# ============================================================================================
# Checking
# ============================================================================================
def _standard(name: str, standards: Standards) -> str:
    known = standards.datasets.get(name)
    if known is not None:
        return "ADaM" if known.standard.upper().startswith("ADAM") else "SDTM"
    return "ADaM" if name.startswith("AD") else "SDTM"


def _schema_findings(dataset: DatasetFile, standards: Standards,
                     value_rules: list[ValueRule] | None = None
                     ) -> tuple[list[Finding], bool]:
    try:
        meta = metadata_for(standards, dataset.name)
    except StandardsError:
        return [Finding("CMAP-VL0001", RULES["CMAP-VL0001"][0],
                        f"no standard metadata for {dataset.name} in specs/: schema not "
                        "checked", dataset.name, source=dataset.relpath)], False
    # variables with value-level codelists (define.xml ValueListDefs) are checked per clause
    rules = [r for r in value_rules or [] if meta.names().count(r.variable)]
    overrides: dict[str, str | None] = {r.variable: None for r in rules}
    found = check_dataset(dataset.frame, meta, standards, dataset_name=dataset.name,
                          codelist_overrides=overrides or None)
    return found + check_value_rules(dataset.frame, dataset.name, rules), True


def _define_scopes(folder: Path, folders: list[Path], explicit: Path | None,
                   loaded: dict[str, DatasetFile],
                   parsed: dict[Path, Future[Define]] | None = None
                   ) -> list[tuple[Define, list[Path]]]:
    """Which define.xml governs which dataset folders.

    A folder's own define.xml governs it. A define given on the command line (or one at the
    root of a package whose datasets sit in sdtm/ and adam/) governs the folder itself when it
    holds datasets, else every sub-folder holding a dataset it describes. ``parsed``: defines
    already being parsed (:func:`_parse_defines`); an error of one is raised here, where it
    would be read.
    """
    def read_define(path: Path) -> Define:
        ahead = (parsed or {}).get(path)
        return ahead.result() if ahead is not None else _read_define(path)

    def by_content(define: Define) -> list[Path]:
        if folder in folders:
            return [folder]
        return [f for f in folders if any(d.folder == f and d.name in define.datasets
                                          for d in loaded.values())]

    if explicit is not None:
        if not explicit.is_file():
            raise InputDataError(f"define file {display_path(explicit)} not found")
        define = read_define(explicit)
        if not set(define.datasets) & set(loaded):
            raise InputDataError(f"{display_path(explicit)} describes none of the datasets in "
                                 f"{display_path(folder)} ({', '.join(sorted(loaded))})")
        return [(define, by_content(define))]
    scopes = [(read_define(f / DEFINE_NAME), [f]) for f in folders
              if (f / DEFINE_NAME).is_file()]
    root_define = folder / DEFINE_NAME
    if folder not in folders and root_define.is_file():
        define = read_define(root_define)
        governed = {f for _, fs in scopes for f in fs}
        scopes.append((define, [f for f in by_content(define) if f not in governed]))
    return scopes


def validate_folder(folder: Path, *, define: Path | None = None,
                    standards: Standards | None = None,
                    progress: Progress = SILENT) -> ValidationReport:
    """Check every dataset of ``folder`` (and its sdtm/ and adam/) and return the findings.

    ``define``: a define.xml to apply instead of the ones found in the folders. Raises
    InputDataError when the folder is missing or holds no dataset, or a define is unreadable.
    """
    # every check asks for the same text columns: each is factorised once (by the XPT reader
    # when it read the file), and the rules share those codes (checks.facts, sdtm.vectorize)
    with facts_cache(), codes_cache(), ExitStack() as stack:
        return _validate_folder(folder, define, standards, progress, stack)


def _validate_folder(folder: Path, define: Path | None, standards: Standards | None,
                     progress: Progress, stack: ExitStack) -> ValidationReport:
    folder = Path(folder)
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "folder not found"
        raise InputDataError(f"{display_path(folder)}: {problem}")
    progress.stage("Reading datasets")
    loaded = _Loaded()
    candidates = [folder, *_package_folders(folder)]
    # specs/ is parsed (pure Python) in a thread while the XPT readers, mostly in numpy with
    # the GIL released, read the files: it is off the serial path. Its error, if any, is
    # raised where it was before, after the check that the folder holds datasets.
    side = stack.enter_context(ThreadPoolExecutor(max_workers=1))
    specs = side.submit(load_standards) if standards is None else None
    # the define.xml files found are parsed there too (lxml, much of it without the GIL)
    parsed = {path: side.submit(_read_define, path) for path in
              (f / DEFINE_NAME for f in candidates) if path.is_file()} if define is None else {}
    xpt = _read_all_xpt(candidates, folder)
    folders = [f for f in candidates if _load_folder(f, folder, loaded, xpt)]
    if not loaded.datasets and not loaded.findings:
        raise InputDataError(f"{display_path(folder)}: no .xpt or Dataset-JSON files (looked "
                             f"in the folder and its sdtm/ and adam/ sub-folders)")
    standards = standards or specs.result()             # type: ignore[union-attr]
    side.shutdown()                     # no idle thread left when the checks fork below
    findings = Findings()
    findings.extend(loaded.findings)
    datasets = loaded.datasets
    for dataset in datasets.values():
        for column, facts in dataset.facts.items():
            remember(dataset.frame[column], facts)
    # COVAL1.., TSVAL1.. continuation variables the data holds (SDTMIG 3.4 CO, TS)
    standards = with_continuations(standards, {n: d.frame for n, d in datasets.items()})
    kinds = {name: _standard(name, standards) for name in datasets}
    rules_run: dict[str, list[str]] = {}

    scopes = _define_scopes(folder, folders, define, datasets, parsed)
    value_rules: dict[str, list[ValueRule]] = {}
    extended: dict[str, dict[str, frozenset[str]]] = {}    # define's def:ExtendedValue terms
    for define_doc, scope in scopes:
        for name, dataset in datasets.items():
            if dataset.folder in scope and name in define_doc.value_rules:
                value_rules[name] = define_doc.value_rules[name]
            if dataset.folder in scope and name in define_doc.extended:
                extended[name] = define_doc.extended[name]

    sdtm = {n: d.frame for n, d in datasets.items() if kinds[n] == "SDTM"}
    domains = {n: f for n, f in sdtm.items() if not n.startswith("SUPP")}
    supp = {n: f for n, f in sdtm.items() if n.startswith("SUPP")}
    # The cross-dataset (XD) and most CORE-derived rules only read the frames: on a second
    # core they run in a forked child (forked.py) while this process checks schemas,
    # plausibility, SUPP-- links, the CORE-derived visit and epoch rules (PARTS), ADaM and
    # define.xml (about as much CPU at 10,000 subjects); all findings are added below in the
    # order of a serial run, so the reports are the same bytes.
    here = ("visits",)
    rules = stack.enter_context(ForkedCall(lambda: (
        check_sdtm_cross(domains, supp),
        core_rules.check_core_parts(domains, supp, standards, parts=tuple(
            p for p in core_rules.PARTS if p not in here))))) if sdtm else None

    progress.stage("Checking datasets")
    for name, dataset in datasets.items():
        progress.step(name)
        found, known = _schema_findings(dataset, standards, value_rules.get(name))
        findings.extend(define_rules.expected_extended(found, extended.get(name)))
        findings.extend(check_file_limits(dataset))
        run = (list(schema.RULES) if known else ["CMAP-VL0001"]) + list(files.RULES)
        if kinds[name] == "SDTM":
            run += list(crossdomain.RULES) + list(plausibility.RULES) + list(core_rules.RULES)
            if name.startswith("SUPP"):
                run += list(supp_rules.RULES)
        else:
            run += list(adam_rules.RULES)
        rules_run[name] = run

    progress.stage("Cross-dataset and define.xml checks")
    # no study.yaml here: default thresholds, cut-off from TS DCUTDTC when present
    plausible = plausibility.check_plausibility(domains) if sdtm else []
    links = check_supp_links(domains, supp) if sdtm else []

    references: list[str] = []
    adam = {n: d.frame for n, d in datasets.items() if kinds[n] == "ADaM"}
    adam_found: list[Finding] = []
    if adam:
        sources = dict(domains)
        sibling = folder.parent / "sdtm"
        if not sdtm and folder.name.lower() == "adam" and sibling.is_dir():
            # SRCDOM/SRCSEQ of an adam/ folder point into the SDTM beside it (read, not checked)
            extra = _Loaded()
            _load_folder(sibling, folder.parent, extra)
            sources.update({n: d.frame for n, d in extra.datasets.items()})
            references = sorted(d.relpath for d in extra.datasets.values())
        adam_found = check_adam_cross(adam, sources)
    core_here = core_rules.check_core_parts(domains, supp, standards, parts=here) \
        if sdtm else {}
    defined: list[Finding] = []         # define.xml ↔ data, while the child works
    applied: list[str] = []
    governed: set[Path] = set()
    for define_doc, scope in scopes:
        in_scope = {n: d for n, d in datasets.items() if d.folder in scope}
        shown = relative_path(define_doc.path.resolve(), folder.resolve())
        defined.extend(check_define(define_doc, in_scope, shown))
        applied.append(shown)
        governed.update(scope)
        for name in in_scope:
            rules_run[name] = rules_run[name] + list(define_rules.RULES)
    if rules is not None:
        cross, core = rules.result()
        findings.extend(cross)
        findings.extend(plausible)
        findings.extend(links)
        for part in core_rules.PARTS:
            findings.extend(core_here[part] if part in here else core[part])
    findings.extend(adam_found)
    findings.extend(defined)
    for dataset_folder in folders:
        if dataset_folder not in governed:
            where = (relative_path(dataset_folder, folder) if dataset_folder != folder
                     else folder.name)
            findings.add(Finding("CMAP-DF0010", define_rules.RULES["CMAP-DF0010"][0],
                                 f"no {DEFINE_NAME} in {where}/: define checks not run",
                                 source=where))

    seen = [DatasetSeen(name=d.name, path=d.relpath, format=d.format, standard=kinds[n],
                        records=len(d.frame), variables=len(d.variables))
            for n, d in sorted(datasets.items(), key=lambda item: item[1].relpath)]
    # a notice repeated per record or per file is one row with its count (findings.fold)
    findings = Findings(fold(findings))
    return ValidationReport(folder=folder, findings=findings, datasets=seen,
                            defines=sorted(applied), ignored=sorted(loaded.ignored),
                            references=references, rules_run=dict(sorted(rules_run.items())))


__all__ = ["RULES", "DatasetSeen", "ValidationReport", "rule_catalogue", "validate_folder"]
