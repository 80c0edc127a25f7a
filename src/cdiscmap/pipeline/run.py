"""The main job: a study's raw export → checked SDTM (and ADaM) → XPT files and a run report.

The whole package is built in a sibling staging folder (``<out>/.<STUDYID>.staging-<pid>-*``)
and switched into place in one step only when every file was written, so a failed,
interrupted or killed run leaves the earlier package exactly as it was (see
:mod:`cdiscmap.emit.atomic` for the switch and why it is ``RENAME_EXCHANGE``). What the run
does not write -- the demo's ``raw/`` and ``truth/`` input, a ``validation/`` report, a user's
files -- is carried into the new package by rename.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cdiscmap.checks.schema import check_dataset
from cdiscmap.emit.atomic import Staging, output_error, recover
from cdiscmap.emit.attributes import metadata_for
from cdiscmap.emit.datasets import PlannedDatasets, plan_datasets, write_planned
from cdiscmap.emit.paths import safe_child
from cdiscmap.emit.report import write_run_report
from cdiscmap.emit.timestamp import output_timestamp
from cdiscmap.errors import InputDataError, SpecError, StandardsError, display_path
from cdiscmap.findings import Finding, Findings
from cdiscmap.forked import ForkedCall, ForkedPeer
from cdiscmap.leaving import keep_until_exit
from cdiscmap.pipeline import early_report
from cdiscmap.progress import SILENT, Progress
from cdiscmap.resources import default_study_dir as default_study_dir  # the run's default
from cdiscmap.resources import studies_root
from cdiscmap.sdtm.engine import SdtmResult, check_cross_domain, map_study
from cdiscmap.spec.loader import LoadedStudy, load_study
from cdiscmap.standards import load_standards
from cdiscmap.standards.models import Standards
from cdiscmap.standards.study import with_study_codelists

if TYPE_CHECKING:
    from cdiscmap.analysis.report import Report
    from cdiscmap.analysis.settings import AnalysisSettings
    from cdiscmap.pipeline.recist_step import RecistCrosscheck


def project_root() -> Path:
    """The folder holding mappings/ and the bundled specs/ (the repository in a checkout)."""
    return studies_root().parent


def bundled_studies_dir() -> Path:
    """The folder of the bundled example studies (``mappings/``); see :mod:`cdiscmap.resources`."""
    return studies_root()


@dataclass
class RunOptions:
    study_dir: Path
    raw_dir: Path | None = None
    out_root: Path = Path("output")
    synth_if_missing: bool = True
    adam: bool = True
    formats: str = "xpt"                 # xpt | json | both


@dataclass
class RunResult:
    out_dir: Path
    sdtm: SdtmResult
    datasets: dict[str, pd.DataFrame]
    findings: Findings
    files: list[Path] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)
    adam_methods: dict[str, dict[str, str]] = field(default_factory=dict)


def _standard_variables(standards: Standards) -> dict[str, set[str]]:
    return {name: set(ds.names()) for name, ds in standards.datasets.items()}


def load_study_checked(study_dir: Path, standards: Standards) -> LoadedStudy:
    return load_study(study_dir, standard_variables=_standard_variables(standards),
                      known_codelists=set(standards.codelists))


def study_standards(study_dir: Path, standards: Standards | None = None
                    ) -> tuple[Standards, LoadedStudy]:
    """The standards of one study, and the study checked against them.

    The study's custom domains (study.yaml ``custom_domains:``, SDTMIG 3.4 §2.6) are added to
    the standards *before* its domain specs are checked, so ``sdtm/xp.yaml`` is checked
    against XP's variables like any IG domain; its sponsor codelists come after
    (``with_study_codelists``). study.yaml is read once more for that, alone: it is small."""
    standards = load_standards() if standards is None else standards
    standards = with_declared_custom_domains(standards, study_dir)
    loaded = load_study_checked(study_dir, standards)
    return with_study_codelists(standards, loaded), loaded


def with_declared_custom_domains(standards: Standards, study_dir: Path) -> Standards:
    """``standards`` plus the custom domains study.yaml declares; errors name study.yaml:line."""
    from cdiscmap.ingest.forms import apply_profile
    from cdiscmap.spec.models import StudySpec
    from cdiscmap.spec.yamlload import load_yaml, validate_located
    from cdiscmap.standards.custom import CustomDomain, custom_dataset, shared_codelists

    path = Path(study_dir) / "study.yaml"
    if not path.is_file():
        return standards                # load_study says what is missing
    located, _ = apply_profile(load_yaml(path))
    study = validate_located(located, StudySpec)
    if not study.custom_domains:
        return standards
    shared = shared_codelists(standards)
    added = {}
    for name, spec in study.custom_domains.items():
        try:
            added[name] = custom_dataset(standards, CustomDomain(
                name=name, ig_class=spec.class_, label=spec.label, like=spec.like,
                structure=spec.structure, labels=dict(spec.labels)), shared)
        except StandardsError as exc:
            raise SpecError(str(exc), located.file, located.line_of(("custom_domains", name)),
                            name) from None
    return Standards(datasets=dict(sorted({**standards.datasets, **added}.items())),
                     codelists=standards.codelists, versions=standards.versions)


def check_study_spec(study_dir: Path) -> str:
    """``cdiscmap check-spec``: study.yaml, sdtm/*.yaml and adam/*.yaml checked without data.

    Returns the line to print; raises SpecError at the first problem. Everything a run would
    refuse before reading its first data row is checked here too: the models (every regular
    expression and visit template compiled at load), each block's plan (a shared variable
    needing one the block does not derive, cycles within a block) and the ``from_domain``
    reads between domains (``sdtm.engine.check_cross_domain``).

    An ADaM-only study (``adam/*.yaml`` and no study.yaml: someone else's SDTM, our ADaM) is
    checked for its ADaM settings alone."""
    if is_adam_only(study_dir):
        from cdiscmap.adam import load_adam_settings

        load_adam_settings(study_dir)
        names = sorted(p.stem.lower() for p in (study_dir / "adam").glob("*.y*ml"))
        return (f"{display_path(study_dir)}: ADaM-only study (no study.yaml); the ADaM "
                f"settings ({', '.join(names) or 'defaults only'}) are valid")
    _, loaded = study_standards(study_dir)
    check_cross_domain(loaded)          # plans every block of every domain on the way
    checked = f"study.yaml and {len(loaded.domains)} domain specs ({', '.join(loaded.domains)})"
    if (study_dir / "adam").is_dir():
        from cdiscmap.adam import load_adam_settings

        load_adam_settings(study_dir)
        checked += " and the ADaM settings"
    return f"{loaded.study.studyid}: {checked} are valid"


def is_adam_only(study_dir: Path) -> bool:
    """A study folder with ``adam/`` settings and no study.yaml: the minimum for ``cdiscmap
    adam``, ``check-spec`` and ``define`` on an SDTM made elsewhere."""
    return (Path(study_dir) / "adam").is_dir() and not (Path(study_dir) / "study.yaml").exists()


def codelist_terms(standards: Standards) -> dict[str, set[str]]:
    return {name: cl.values() for name, cl in standards.codelists.items()}


def resolve_raw_dir(loaded: LoadedStudy, opts: RunOptions, out_dir: Path,
                    progress: Progress = SILENT) -> Path:
    """The raw export folder; the demo study's export is synthesised on first use."""
    if opts.raw_dir is not None:
        if not opts.raw_dir.is_dir():
            raise InputDataError(f"raw folder {display_path(opts.raw_dir)} not found")
        return opts.raw_dir
    raw = out_dir / "raw"
    if raw.is_dir() and any(raw.iterdir()):
        return raw
    demo = loaded.study.demo
    if demo is None or not opts.synth_if_missing:
        raise InputDataError(f"no raw folder given (--raw) and {display_path(raw)} is empty; "
                             f"study {loaded.study.studyid} has no demo generator")
    from cdiscmap.synth import generate

    progress.stage("Generating the demo's raw export")
    progress.note(f"First run of the demo: generating its synthetic raw export "
                  f"({demo.subjects} subjects) in {display_path(raw)}")
    with Staging(raw) as stage:    # a killed synthesis must not leave half an export behind
        generate(demo.generator, stage.folder, n_subjects=demo.subjects, seed=demo.seed,
                 progress=progress)
        _move_in_demo_export(stage.folder, out_dir)
    return raw


def _move_in_demo_export(staged: Path, out_dir: Path) -> None:
    """Move a complete synthetic export (raw/, truth/) into the package, raw/ last: a raw/
    folder with files is what the next run takes for a whole export. An earlier truth/ (of a
    synthesis cut short) goes into the staging folder, which is then deleted."""
    truth, raw = out_dir / "truth", out_dir / "raw"
    try:
        if (staged / "truth").is_dir():
            if truth.is_dir():
                truth.rename(staged / ".truth-before")
            (staged / "truth").rename(truth)
        if raw.is_dir():
            raw.rmdir()            # empty (else it would have been used)
        (staged / "raw").rename(raw)
    except OSError as exc:
        raise output_error(raw, exc, "move the demo export into") from exc


def _timestamp(loaded: LoadedStudy) -> datetime:
    return output_timestamp(loaded.folder)


def sdtm_check_findings(result: SdtmResult, loaded: LoadedStudy,
                        standards: Standards) -> list[Finding]:
    """Every check of the mapped SDTM: schemas and value-level codelists, cross-domain
    consistency, the study's plausibility limits and the CORE-derived rules.

    Reads the frames and returns findings only (``run_study`` makes the same findings in two
    forked children: :func:`dataset_checks` and :func:`_checks_and_lineage`).
    """
    from cdiscmap.checks.facts import facts_cache
    from cdiscmap.sdtm.vectorize import codes_cache

    found = Findings()
    with facts_cache(), codes_cache():      # each text column factorised once for all checks
        check_sdtm(result, loaded, standards, found)
        found.extend(_study_checks(result, standards, loaded))
    return found.items


def _study_checks(result: SdtmResult, standards: Standards, loaded: LoadedStudy
                  ) -> list[Finding]:
    """The checks that read several datasets: cross-domain consistency, the study's
    plausibility limits, the CORE-derived rules (after every dataset's own checks)."""
    from cdiscmap.checks.core_rules import check_core_rules
    from cdiscmap.checks.crossdomain import check_sdtm_cross
    from cdiscmap.checks.plausibility import check_plausibility

    found = check_sdtm_cross(result.domains, result.supp)
    found.extend(check_plausibility(result.domains, loaded.study.plausibility))
    found.extend(check_core_rules(result.domains, result.supp, standards))
    return found


@dataclass(frozen=True)
class DatasetChecked:
    """One dataset's own checks (schema, value-level codelists) and its lines of lineage.csv
    (:func:`cdiscmap.emit.report.lineage_lines`; empty when the dataset has no lineage)."""

    findings: list[Finding]
    lineage: bytes


def dataset_checks(frames: dict[str, pd.DataFrame], loaded: LoadedStudy,
                   standards: Standards) -> dict[str, DatasetChecked]:
    """Each dataset's own checks and lineage lines, which read that dataset only: most
    datasets are final once mapped, so ``run_study`` checks them in a forked child while it
    runs the RECIST engine and builds the trial design, and the rest later."""
    from cdiscmap.checks.facts import facts_cache
    from cdiscmap.emit.report import lineage_lines
    from cdiscmap.sdtm.vectorize import codes_cache

    checked: dict[str, DatasetChecked] = {}
    with facts_cache(), codes_cache():
        for name, frame in frames.items():
            found: list[Finding] = []
            _check_one(name, frame, loaded, standards, found)
            lines = lineage_lines(name, frame) if "_SRCFILE" in frame else b""
            checked[name] = DatasetChecked(found, lines)
    return checked


def _checks_and_lineage(result: SdtmResult, loaded: LoadedStudy, standards: Standards,
                        recist_check: RecistCrosscheck | None, checked: set[str]
                        ) -> tuple[list[Finding], dict[str, DatasetChecked], list[Finding]]:
    """The RECIST cross-check's findings, the own checks and lineage of the datasets not in
    ``checked`` (:func:`dataset_checks`), and the checks that read several datasets: all
    only read the mapped frames, so ``run_study``'s checks child makes them together (sharing
    each column's factorisation) while this process derives ADaM."""
    from cdiscmap.checks.facts import facts_cache
    from cdiscmap.sdtm.vectorize import codes_cache

    recist_findings = recist_check.findings() if recist_check is not None else []
    frames = {**result.domains, **result.supp}
    with facts_cache(), codes_cache():
        own = dataset_checks({n: f for n, f in frames.items() if n not in checked}, loaded,
                             standards)
        return recist_findings, own, _study_checks(result, standards, loaded)


def _lineage(frames: dict[str, pd.DataFrame], checked: dict[str, DatasetChecked]
             ) -> list[bytes]:
    """lineage.csv from the datasets' lines, as pieces to write one after the other."""
    from cdiscmap.emit.report import lineage_pieces

    return lineage_pieces({n: checked[n].lineage for n, f in frames.items()
                           if "_SRCFILE" in f})


def check_sdtm(result: SdtmResult, loaded: LoadedStudy, standards: Standards,
               findings: Findings) -> None:
    """pandera schemas (generated from specs/) on every domain and SUPP--; failures go to
    ``findings``.

    Variables with value-level metadata get their codelist checked per where-clause."""
    for name, frame in {**result.domains, **result.supp}.items():
        _check_one(name, frame, loaded, standards, findings)


def _check_one(name: str, frame: pd.DataFrame, loaded: LoadedStudy, standards: Standards,
               findings: Findings | list[Finding]) -> None:
    meta = metadata_for(standards, name)
    spec = loaded.domains.get(name)
    overrides: dict[str, str | None] = dict(spec.codelist_overrides) if spec else {}
    for vl in spec.value_level if spec else []:
        overrides[vl.variable] = None
    findings.extend(check_dataset(frame, meta, standards,
                                  codelist_overrides=overrides or None, dataset_name=name))
    if spec and spec.value_level:
        findings.extend(check_value_level(frame, name, spec.value_level, standards, loaded))


def check_value_level(frame: pd.DataFrame, dataset: str, rules: list, standards: Standards,
                      loaded: LoadedStudy) -> list[Finding]:
    """Codelist membership of a variable on the records each value-level where-clause selects."""
    from cdiscmap.checks.value_level import ValueRule, check_value_rules

    value_rules = []
    for rule in rules:
        if rule.codelist is None:
            continue
        cl = standards.codelist(rule.codelist)
        value_rules.append(ValueRule(rule.variable, rule.where.var, rule.where_values(),
                                     rule.codelist, frozenset(cl.values()),
                                     cl.extensible or cl.subset))
    return check_value_rules(frame, dataset, value_rules)


def add_design_and_relationships(result: SdtmResult, loaded: LoadedStudy, raw_dir: Path
                                 ) -> None:
    """TE/TA/TV/TI/SE/SV (sdtm/trial_design.py), then RELREC and CO (sdtm/relationships.py),
    added to the mapped domains with their record counts."""
    from cdiscmap.sdtm.relationships import build_co, build_relrec
    from cdiscmap.sdtm.trial_design import build_trial_design

    study = loaded.study
    added = build_trial_design(study.trial_design, study.studyid, result.domains)
    co = build_co(loaded, raw_dir, result.domains)
    if co is not None:
        added["CO"] = co
    relrec = build_relrec(study.relrec, study.studyid, {**result.domains, **added})
    if relrec is not None:
        added["RELREC"] = relrec
    for name, frame in added.items():
        result.domains[name] = frame
        result.accounting.records(name, len(frame))


def run_study(opts: RunOptions, progress: Progress = SILENT, *,
              report_process: ForkedPeer | None = None) -> RunResult:
    """Raw export → SDTM (+ ADaM) → datasets, define.xml and the run report.

    ``report_process``: the report's process of a small run, forked by the caller before its
    own imports (:func:`cdiscmap.pipeline.early_report.start`; the console script does);
    without it, a small run forks one at its start here. Closed when the run ends."""
    from cdiscmap.recist.shared import timepoints_memo
    from cdiscmap.sdtm.vectorize import codes_cache

    # the RECIST step's timepoints are ADTR's too (same TU/TR); the mapped text columns'
    # factorisations serve RECIST, the trial design and the checks' child (forked with them)
    # (children: the forked processes that check the SDTM and make the report, stopped if
    # the run leaves early)
    with timepoints_memo(), codes_cache(), ExitStack() as children:
        if report_process is not None:
            children.enter_context(report_process)
        return _run_study(opts, progress, children, report_process)


def _run_study(opts: RunOptions, progress: Progress, children: ExitStack,
               report_peer: ForkedPeer | None) -> RunResult:
    progress.stage("Loading specs")
    # A small run that will make a report has a process for it from its start: it imports
    # matplotlib and scipy (≈ 0.45 CPU-s) on a core that is idle while this one loads the specs,
    # instead of after ADaM, where the report is the small run's critical path.
    if report_peer is None:
        report_peer = early_report.start(opts.study_dir, opts.raw_dir, opts.adam)
        if report_peer is not None:
            children.enter_context(report_peer)
    # custom domains, then study.yaml terms / extends
    standards, loaded = study_standards(opts.study_dir)
    with_adam = opts.adam and (opts.study_dir / "adam").is_dir()
    analysis = None
    if with_adam:  # refuse bad ADaM settings before the SDTM work, not after it
        from cdiscmap.adam import load_adam_settings

        load_adam_settings(opts.study_dir)
        if (opts.study_dir / "analysis.yaml").is_file():
            from cdiscmap.analysis.settings import load_analysis_settings

            analysis = load_analysis_settings(opts.study_dir)
    out_dir = safe_child(opts.out_root, loaded.study.studyid)
    recover(out_dir)            # a killed run's staging may still hold this package's raw/
    raw_dir = resolve_raw_dir(loaded, opts, out_dir, progress)
    created = _timestamp(loaded)

    progress.stage("Mapping raw forms to SDTM")
    result = map_study(loaded, raw_dir, codelist_terms(standards),
                       {n: {v.name for v in ds.variables if v.data_type == "Char"}
                        for n, ds in standards.datasets.items()}, progress=progress)
    from cdiscmap.pipeline.recist_step import apply_recist, datasets_replaced
    from cdiscmap.sdtm.vectorize import forget_codes

    # Most datasets are final once mapped: their own checks and lineage lines are made by a
    # forked child while this process runs the RECIST engine and builds the trial design (the
    # second core is idle then); what those steps add or replace is checked by the checks'
    # child below, with the checks that read several datasets.
    mapped = {**result.domains, **result.supp}
    # (RS, to be replaced by the RECIST step below, is checked by the later child only)
    replaced = datasets_replaced(result, loaded)
    mapped_checked = {n: f for n, f in mapped.items() if n not in replaced}
    own_checks = children.enter_context(
        ForkedCall(partial(dataset_checks, mapped_checked, loaded, standards),
                   background=True))
    progress.stage("RECIST 1.1 cross-check")
    # the engine runs here (RS gets its records); the cross-check only reads frames and adds
    # findings, so it runs in the checks' child and its findings go in at this point
    recist_check = apply_recist(result, loaded, check=False)
    recist_at = len(result.findings.items)
    from cdiscmap.sdtm.trial_summary import build_ts

    ts = build_ts(loaded, result.domains.get("DM"), standards)
    if ts is not None:
        result.domains["TS"] = ts
        result.accounting.records("TS", len(ts))
    add_design_and_relationships(result, loaded, raw_dir)
    from cdiscmap.sdtm.relationships import with_continuations

    standards = with_continuations(standards, result.domains)   # COVAL1.. (SDTMIG 3.4 CO)
    # datasets a step after the mapping added or replaced are checked with the rest
    unchanged = {n for n, f in {**result.domains, **result.supp}.items()
                 if n in mapped_checked and mapped.get(n) is f}
    # The checks only read the frames and return findings: they run in a forked child while
    # this process writes the package; their findings go in before the ADaM ones, as serially.
    with Staging(out_dir) as stage:
        # (both checks' children run at the lowest priority: their findings are wanted only
        # once the package is written, and they take the cores the steps before it leave idle)
        checks = children.enter_context(ForkedCall(
            lambda: _checks_and_lineage(result, loaded, standards, recist_check, unchanged),
            background=True))
        # the mapped domains' remembered factorisations had their last reader in the checks
        # (the child has its own copy): ≈ 2 GB at 100k subjects go before ADaM is derived
        forget_codes()
        staging = stage.folder

        def size_sdtm() -> PlannedDatasets:
            progress.stage("Sizing SDTM datasets")
            return plan_datasets({**result.domains, **result.supp}, staging / "sdtm",
                                 standards, created, formats=opts.formats,
                                 studyid=loaded.study.studyid)

        # SDTM is sized (XPT v5 limits checked) once ADaM is written and the report's child
        # runs beside us, off the critical path. A serial run refuses SDTM that cannot be
        # written before it derives ADaM, so a failing ADaM step sizes SDTM first and the
        # SDTM error, if any, is the one raised: the same first error either way.
        files: list[Path] = []
        adam_frames: dict[str, pd.DataFrame] = {}
        adam_methods: dict[str, dict[str, str]] = {}
        adam_findings = Findings()
        report = None
        if with_adam:
            progress.stage("Deriving and writing ADaM")
            from cdiscmap.pipeline.adam_step import FORKED, check_and_size_adam, derive_adam

            try:
                # the datasets that need only ADSL are derived by a forked child (beside the
                # checks' child: measured 1.3 s faster at 10k on 2 cores; same result)
                adam_frames, adam_methods = derive_adam(
                    result.domains | result.supp, opts.study_dir, adam_findings, fork=FORKED)
                if adam_frames and analysis is not None:
                    # the report needs only the ADaM frames: a second child makes it while
                    # this process checks and writes ADaM and SDTM, define.xml and the run
                    # report
                    make = partial(analysis_report, adam_frames, analysis)
                    if report_peer is not None and sum(map(len, adam_frames.values())) \
                            <= early_report.EARLY_REPORT_RECORDS:
                        try:
                            report_peer.send((adam_frames, analysis))
                            report = _PeerReport(report_peer, make)
                        except OSError:     # its process is gone: a child made now does it
                            pass
                    if report is None:
                        report = children.enter_context(ForkedCall(make))
                if report_peer is not None and not isinstance(report, _PeerReport):
                    report_peer.close()         # not needed: its imports were idle time
                # each dataset sized first, its XPT plan's text codes shared with its checks
                files += write_planned(check_and_size_adam(
                    adam_frames, standards, adam_findings, staging / "adam", created,
                    formats=opts.formats, studyid=loaded.study.studyid), progress)
            except Exception:
                size_sdtm()
                raise
        sdtm_planned = size_sdtm()
        progress.stage("Writing SDTM datasets")
        files = write_planned(sdtm_planned, progress) + files
        from cdiscmap.emit.define import write_define

        progress.stage("Writing define.xml")
        sdtm_sets = {**result.domains, **result.supp}
        files += write_define(staging / "sdtm", kind="SDTM", datasets=sdtm_sets,
                              standards=standards, study=loaded, origins=result.origins,
                              methods={}, created=created)
        if adam_frames:
            # with a report, define.html is rendered once, after ARM is added below
            files += write_define(staging / "adam", kind="ADaM", datasets=adam_frames,
                                  standards=standards, study=loaded, origins={},
                                  methods=adam_methods, created=created,
                                  html=report is None)
        progress.stage("Checking SDTM")
        recist_findings, late_checks, study_findings = checks.result()
        own = {**{n: c for n, c in own_checks.result().items() if n in unchanged},
               **late_checks}
        frames = {**result.domains, **result.supp}
        result.findings.items[recist_at:recist_at] = recist_findings
        for name in frames:
            result.findings.extend(own[name].findings)
        result.findings.extend(study_findings)
        lineage = _lineage(frames, own)
        del own, late_checks        # the lines are in ``lineage`` (0.7 GB at 100k subjects)
        result.findings.extend(adam_findings)
        progress.stage("Writing the run report")
        summary = write_run_report(staging, loaded, result, adam_frames, raw_dir, lineage)
        del lineage
        if report is not None and analysis is not None:
            progress.stage("Writing the analysis report")
            from cdiscmap.analysis.arm import write_analysis_results

            report_bytes, rep = report.result()
            files += _write_outputs(staging / "report", report_bytes)
            write_analysis_results(staging / "adam", rep, analysis, opts.study_dir, html=True)
        final = _promote(stage)
        # the process leaves without freeing what the run made (cdiscmap.leaving)
        keep_until_exit(result, mapped, sdtm_planned, checks, own_checks, report)
    datasets = {**result.domains, **result.supp, **adam_frames}
    return RunResult(out_dir=out_dir, sdtm=result, datasets=datasets, findings=result.findings,
                     files=final, summary=summary, adam_methods=adam_methods)


class _PeerReport:
    """The report from the early process; made here when it gives none (the child failed
    or stalled), so that an error surfaces as in a serial run, as with ForkedCall."""

    def __init__(self, peer: ForkedPeer,
                 make: Callable[[], tuple[dict[str, bytes], Report]]) -> None:
        self._peer, self._make = peer, make
        self.recomputed = False     # the process gave no report: made here

    def result(self) -> tuple[dict[str, bytes], Report]:
        answer = self._peer.recv()
        if isinstance(answer, tuple):
            # the process leaves by itself once it has answered; it is reaped when the run
            # ends (its ExitStack), not here, where waiting for the kernel to take down its
            # memory (~200 MB at 1,000 subjects) would come first on the run's serial tail
            return answer                   # type: ignore[return-value]
        self._peer.close()
        self.recomputed = True
        return self._make()


def analysis_report(adam: dict[str, pd.DataFrame], analysis: AnalysisSettings
                    ) -> tuple[dict[str, bytes], Report]:
    """The analysis report's files (bytes by name in ``report/``) and the report itself (for
    the ARM define): computed without writing, so a forked child can make them."""
    from cdiscmap.analysis.report import build_report, report_files

    rep = build_report(adam, analysis)
    return report_files(rep), rep


def _write_outputs(folder: Path, outputs: dict[str, bytes]) -> list[Path]:
    """Write ``outputs`` (bytes by relative path) under ``folder``, each file atomically."""
    from cdiscmap.emit.atomic import atomic_write_many

    return atomic_write_many(folder, dict(sorted(outputs.items())))


_RUN_FILES = frozenset({"run-summary.json", "run-summary.md", "findings.csv", "findings.json",
                        "lineage.csv"})
_DATASET_SUFFIXES = (".xpt", ".json")


def _run_owned(rel: str) -> bool:
    """Whether a file of an earlier package is the run's own output (replaced, or dropped
    when stale): its report files, and the datasets, define and temporaries in sdtm/ adam/."""
    folder, _, name = rel.partition("/")
    if not name:
        return folder in _RUN_FILES
    if folder == "report":                  # the analysis report (cdiscmap.analysis)
        from cdiscmap.analysis.report import is_report_file

        return is_report_file(name)
    return (name.endswith(_DATASET_SUFFIXES) or name in ("define.xml", "define.html")
            or (name.endswith(".tmp") and (name.startswith(".") or ".xpt." in name
                                           or ".json." in name or ".xml." in name
                                           or ".html." in name)))


def _promote(stage: Staging) -> list[Path]:
    """Switch the staged package into place in one step; everything else is carried over."""
    return stage.publish(_run_owned, owned_dirs=("sdtm", "adam", "report"))
