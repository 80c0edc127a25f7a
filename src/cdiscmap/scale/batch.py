"""``cdiscmap batch``: many studies' full pipelines (``run_study``), one Dask task per study.

Why Dask and not a home-made pool: the same code runs on a laptop (a ``LocalCluster`` of
worker processes, loopback only, no dashboard) and on a cluster a site already runs (``--scheduler
ADDRESS``), with worker restarts, memory limits and scheduling handled by a well-kept library.

What runs where (docs/scaling.md): the parent (the ``cdiscmap batch`` process) resolves the
study folders and raw exports, submits one task per study and writes the per-study logs and the
combined summary; each task runs in a worker process and writes its package
``<out>/<STUDYID>/`` itself, through the same atomic staging as ``cdiscmap run``, so a package is
byte-identical to a serial run's. Workers of a remote cluster therefore need cdiscmap installed
(same version) and the study, raw and output folders at the same paths (a shared file system).

A study's exit status is the one ``cdiscmap run`` would give: 0 clean, 1 findings at or above
``--fail-on``, 2 could not run (bad spec, missing or unreadable raw export, output not
writable, worker died), 3 internal error. The batch exits with the worst of them.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cdiscmap.emit.atomic import atomic_write_text
from cdiscmap.errors import CdiscmapError, InputDataError, display_path

INSTALL_HINT = ("cdiscmap batch needs Dask distributed, an optional extra: "
                "pip install 'cdiscmap[scale]' (or pip install 'dask[distributed]')")
SUMMARY_JSON = "batch-summary.json"
SUMMARY_MD = "batch-summary.md"
LOG_FOLDER = "batch"


@dataclass(frozen=True)
class BatchStudy:
    """One study to run: its label (the study folder's name), folders and raw export."""

    name: str
    study_dir: Path
    studyid: str
    raw_dir: Path | None          # None: <out>/<STUDYID>/raw, synthesised for a demo study


@dataclass
class StudyOutcome:
    """What one study's task gave: exit status, one-line reason, findings, captured output."""

    name: str
    studyid: str
    status: int
    reason: str = ""
    findings: dict[str, int] = field(default_factory=lambda: {"error": 0, "warning": 0,
                                                               "notice": 0})
    records: int = 0
    log: str = ""
    seconds: float = 0.0


@dataclass
class BatchResult:
    out_root: Path
    outcomes: list[StudyOutcome]
    status: int
    files: list[Path]


def require_dask() -> None:
    """Refuse (exit 2, with the install line) when the optional ``scale`` extra is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise CdiscmapError(INSTALL_HINT) from None


# ------------------------------------------------------------------------------ planning
def study_id(study_dir: Path) -> str:
    """STUDYID from study.yaml (profile applied), without loading the standards."""
    from cdiscmap.ingest.forms import apply_profile
    from cdiscmap.spec.models import StudySpec
    from cdiscmap.spec.yamlload import load_yaml, validate_located

    path = study_dir / "study.yaml"
    if not path.is_file():
        raise InputDataError(f"{display_path(study_dir)}: no study.yaml")
    located, _ = apply_profile(load_yaml(path))
    return str(validate_located(located, StudySpec).studyid)


def raw_folder(raw_root: Path, name: str, studyid: str) -> Path | None:
    """A study's raw export under ``--raw-root``: ``<root>/<study folder name>/`` first, then
    ``<root>/<STUDYID>/``; inside it the files themselves or a ``raw/`` folder (the layout
    ``cdiscmap synth --out <root>/<name>`` writes). None when neither folder exists."""
    for key in dict.fromkeys((name, studyid)):
        base = raw_root / key
        if (base / "raw").is_dir():
            return base / "raw"
        if base.is_dir():
            return base
    return None


def plan(study_args: Sequence[Path | str], raw_root: Path | None
         ) -> tuple[list[BatchStudy], list[StudyOutcome]]:
    """The studies to submit, and those that cannot run (exit 2, with the reason).

    Refuses the whole batch when two studies share a folder name (their logs would collide)
    or a STUDYID (their packages would)."""
    from cdiscmap.resources import resolve_study_dir

    todo: list[BatchStudy] = []
    failed: list[StudyOutcome] = []
    names: dict[str, str] = {}
    ids: dict[str, str] = {}
    for arg in study_args:
        name = Path(arg).name
        if name in names:
            raise InputDataError(f"two studies named {name} ({names[name]}, {arg}); "
                                 f"give each study once")
        names[name] = str(arg)
        try:
            study_dir = resolve_study_dir(arg).resolve()
            studyid = study_id(study_dir)
        except CdiscmapError as exc:
            failed.append(StudyOutcome(name=name, studyid="", status=2, reason=_line(exc)))
            continue
        if studyid in ids:
            raise InputDataError(f"studies {ids[studyid]} and {name} both have STUDYID "
                                 f"{studyid}: they would write the same package")
        ids[studyid] = name
        raw = None
        if raw_root is not None:
            raw = raw_folder(raw_root, name, studyid)
            if raw is None and not _has_demo(study_dir):
                failed.append(StudyOutcome(
                    name=name, studyid=studyid, status=2,
                    reason=f"no raw export {display_path(raw_root / name)} (or "
                           f"{display_path(raw_root / studyid)}) and no demo generator"))
                continue
        todo.append(BatchStudy(name=name, study_dir=study_dir, studyid=studyid,
                               raw_dir=raw.resolve() if raw is not None else None))
    return todo, failed


def _has_demo(study_dir: Path) -> bool:
    from cdiscmap.spec.yamlload import load_yaml

    data = load_yaml(study_dir / "study.yaml").data
    return isinstance(data, dict) and bool(data.get("demo"))


def _line(exc: BaseException) -> str:
    return "; ".join(p.strip() for p in str(exc).splitlines() if p.strip()) \
        or type(exc).__name__


# ------------------------------------------------------------------------------ one task
def run_one(study: BatchStudy, out_root: str, formats: str = "xpt", adam: bool = True,
            fail_on: str = "error") -> StudyOutcome:
    """One study's pipeline, as ``cdiscmap run`` would do it; runs inside a Dask worker.

    Never raises for a study's own failure: the exit status and the captured stdout/stderr
    come back as a :class:`StudyOutcome` so one bad study cannot stop the others."""
    from cdiscmap.findings import Severity
    from cdiscmap.pipeline.run import RunOptions, run_study

    outcome = StudyOutcome(name=study.name, studyid=study.studyid, status=0)
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    detail = ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result = run_study(RunOptions(study_dir=study.study_dir, raw_dir=study.raw_dir,
                                          out_root=Path(out_root), adam=adam,
                                          formats=formats))
        except CdiscmapError as exc:
            outcome.status, outcome.reason = 2, _line(exc)
        except MemoryError:
            outcome.status, outcome.reason = 2, "out of memory"
        except Exception as exc:   # a bug: exit 3, the traceback goes into the log
            outcome.status = 3
            outcome.reason = f"internal error: {type(exc).__name__}: {_line(exc)}"
            detail = traceback.format_exc()
        else:
            counts = result.summary.get("findings", {})
            outcome.findings = {k: int(counts.get(k, 0))  # type: ignore[union-attr]
                                for k in ("error", "warning", "notice")}
            records = result.summary.get("records_written", {})
            outcome.records = sum(int(n) for n in records.values())  # type: ignore[union-attr]
            detail = _findings_text(result.summary)
            if fail_on != "none":
                at = result.findings.at_least(Severity(fail_on))
                if at:
                    outcome.status = 1
                    outcome.reason = (f"{sum(f.count for f in at)} finding(s) at or above "
                                      f"'{fail_on}' (first: {at[0].rule}); see "
                                      f"{study.studyid}/findings.csv")
    outcome.seconds = time.perf_counter() - started
    outcome.log = _log_text(study, outcome, out.getvalue(), err.getvalue(), detail)
    return outcome


def _findings_text(summary: dict[str, Any]) -> str:
    lines = ["records written:"]
    lines += [f"  {name}: {n}" for name, n in summary.get("records_written", {}).items()]
    by_rule = summary.get("findings", {}).get("by_rule", {})
    lines.append("findings by rule:" if by_rule else "findings by rule: none")
    lines += [f"  {key}: {n}" for key, n in by_rule.items()]
    return "\n".join(lines) + "\n"


def _log_text(study: BatchStudy, outcome: StudyOutcome, stdout: str, stderr: str,
              detail: str) -> str:
    f = outcome.findings
    head = [f"study: {study.name} ({study.studyid})",
            f"study folder: {study.study_dir}",
            f"raw export: {study.raw_dir or '<out>/' + study.studyid + '/raw (demo)'}",
            f"exit status: {outcome.status}" + (f" ({outcome.reason})" if outcome.reason else ""),
            f"findings: {f['error']} errors, {f['warning']} warnings, {f['notice']} notices",
            ""]
    return "\n".join(head) + "\n".join([
        "--- stdout", stdout.rstrip("\n"), "--- stderr", stderr.rstrip("\n"), "---",
        detail.rstrip("\n"), ""])


# ------------------------------------------------------------------------------ the batch
def run_batch(study_args: Sequence[Path | str], out_root: Path, *,
              raw_root: Path | None = None, scheduler: str | None = None, workers: int = 2,
              formats: str = "xpt", adam: bool = True, fail_on: str = "error",
              echo: Callable[[str], None] = print) -> BatchResult:
    """Run every study on a Dask cluster; write ``<out>/batch/<study>.log`` and the summary."""
    require_dask()
    if raw_root is not None and not raw_root.is_dir():
        raise InputDataError(f"raw root {display_path(raw_root)} not found")
    todo, outcomes = plan(study_args, raw_root)
    out_abs = str(Path(out_root).resolve())
    by_name: dict[str, StudyOutcome] = {o.name: o for o in outcomes}
    for o in outcomes:
        echo(f"{o.name}: exit {o.status} ({o.reason})")
    if todo:
        with _client(scheduler, workers) as client:
            from distributed import as_completed

            futures = {client.submit(run_one, study, out_abs, formats, adam, fail_on,
                                     key=f"cdiscmap-batch-{study.name}-{id(study)}",
                                     pure=False): study for study in todo}
            for future in as_completed(futures):
                study = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:   # the worker died (killed, out of memory)
                    outcome = StudyOutcome(name=study.name, studyid=study.studyid, status=2,
                                           reason=f"its worker failed: {type(exc).__name__}: "
                                                  f"{_line(exc)}")
                    outcome.log = _log_text(study, outcome, "", "", "")
                by_name[study.name] = outcome
                echo(f"{study.name}: exit {outcome.status}"
                     + (f" ({outcome.reason})" if outcome.reason else "")
                     + f" in {outcome.seconds:.1f} s")
    ordered = [by_name[Path(a).name] for a in study_args]
    status = max((o.status for o in ordered), default=0)
    files = write_summary(Path(out_root), ordered, status, fail_on)
    return BatchResult(out_root=Path(out_root), outcomes=ordered, status=status, files=files)


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int) -> Any:
    """A client of the cluster at ``scheduler``, or of a LocalCluster made for this batch:
    worker processes (the pipeline holds the GIL), one thread each, on loopback, no
    dashboard."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise InputDataError(f"no Dask scheduler at {scheduler}: {_line(exc)}") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, host="127.0.0.1",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def write_summary(out_root: Path, outcomes: list[StudyOutcome], status: int, fail_on: str
                  ) -> list[Path]:
    """Per-study logs and ``batch-summary.json``/``.md``: same inputs, same bytes (no clock,
    no durations, studies in the order given)."""
    written = []
    for o in outcomes:
        written.append(atomic_write_text(out_root / LOG_FOLDER / f"{o.name}.log", o.log,
                                         parents=True))
    rows = []
    for o in outcomes:
        row = asdict(o)
        for key in ("log", "seconds"):
            row.pop(key)
        row["package"] = o.studyid if o.status in (0, 1) else None
        row["log_file"] = f"{LOG_FOLDER}/{o.name}.log"
        rows.append(row)
    document = {"status": status, "fail_on": fail_on,
                "counts": {str(s): sum(o.status == s for o in outcomes) for s in range(4)},
                "studies": rows}
    written.append(atomic_write_text(out_root / SUMMARY_JSON,
                                     json.dumps(document, indent=1) + "\n", parents=True))
    md = ["# Batch summary", "",
          f"Exit status {status} (worst of {len(outcomes)} studies; --fail-on {fail_on}).", "",
          "| study | STUDYID | exit | errors | warnings | notices | records | log | reason |",
          "|---|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        f = o.findings
        md.append(f"| {o.name} | {o.studyid} | {o.status} | {f['error']} | {f['warning']} | "
                  f"{f['notice']} | {o.records} | {LOG_FOLDER}/{o.name}.log | "
                  f"{o.reason.replace('|', '/')} |")
    written.append(atomic_write_text(out_root / SUMMARY_MD, "\n".join(md) + "\n"))
    return written
