"""Command line: thin click commands over the library (see ``cdiscmap --help``).

Every failure ends with a one-line reason on stderr and a documented exit status, never a
traceback (``--debug`` shows one for bug reports). The exit statuses, shared by every command:

====  =========================================================================================
0     success (no finding at or above ``--fail-on``)
1     findings at or above ``--fail-on`` remain (the outputs were written)
2     the command cannot proceed: bad spec, unreadable or unsafe input, output not writable
3     internal error: a bug in cdiscmap (please report it with ``--debug``)
130   interrupted (SIGINT, Ctrl-C): staging removed, earlier outputs untouched
143   terminated (SIGTERM): staging removed, earlier outputs untouched
====  =========================================================================================

Heavy libraries (pandas, pandera, lxml, rich) are imported inside the commands, so
``cdiscmap --help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from cdiscmap import __version__
from cdiscmap.errors import CdiscmapError, Terminated, ValidationFailed
from cdiscmap.leaving import keep_until_exit, set_leaving

if TYPE_CHECKING:
    from cdiscmap.findings import Finding

SEVERITIES = ["error", "warning", "notice", "none"]

EXIT_CODES = """\b
Exit status: 0 success; 1 findings at or above --fail-on remain; 2 the command cannot
proceed (one-line reason on stderr); 3 internal error (a bug: rerun with --debug);
130 interrupted (Ctrl-C); 143 terminated (SIGTERM). Earlier outputs are left untouched
unless the command succeeds."""


def _one_line(message: str) -> str:
    return "; ".join(part.strip() for part in message.splitlines() if part.strip())


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=False, highlight=False, soft_wrap=True)


def _fail_threshold(at: list[Finding], fail_on: str, report: str) -> None:
    """Raise ValidationFailed (exit 1) when findings at or above ``fail_on`` remain."""
    if fail_on == "none" or not at:
        return
    first = at[0]
    n = sum(f.count for f in at)
    where = " ".join(part for part in (first.rule, first.dataset, first.variable, first.source)
                     if part)
    raise ValidationFailed(f"{n} finding(s) at or above '{fail_on}' (first: {where}); see "
                           f"{report}, or set --fail-on")


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated("terminated (SIGTERM)")


# Young-generation threshold of the cyclic garbage collector for the process's own command
# line (CPython's default is 700 allocations): see _Group.main.
GC_YOUNG_THRESHOLD = 10_000

# True while this process is the command line (set by _Group.main; never for a caller such as
# a test runner, whose collector is left alone): see _start_up.
_COMMAND_LINE = False


@contextmanager
def _start_up(*, standards: bool = False) -> Iterator[None]:
    """A command's imports (and, with ``standards``, the bundled standards it reads first),
    made with the cyclic garbage collector paused, then frozen out of its sight.

    What is made here lives as long as the process: modules, classes, pydantic schemas, the
    lru-cached standards (~130,000 tracked objects). The collector still walked all of it as
    young and again as middle-aged objects: ~45 collections, 0.10-0.15 CPU-s of a 1,000-subject
    run's parent, on its critical path. Paused, then ``gc.freeze()`` (as the gc documentation
    advises before forking): no later collection walks these objects, in this process or in
    its forked children, where the collector's writes would also copy their pages. The few
    cycles the imports leave behind (~1,500 objects) are kept until exit. Only when this
    process is the command line (``_COMMAND_LINE``); the standards are loaded either way
    (cached: the command's own load_standards() finds them)."""
    from cdiscmap.forked import collector_paused

    with collector_paused(freeze=True) if _COMMAND_LINE else nullcontext():
        yield
        if standards:
            from cdiscmap.standards import load_standards

            load_standards()


# False while a command must leave through the interpreter's shutdown (batch: Dask's exit
# handlers close its cluster and logging): see _leave_at_once.
_LEAVE_AT_ONCE = True


def _leave_at_once(code: object) -> NoReturn:
    """End the process with the exit status ``sys.exit(code)`` gives, without the
    interpreter's shutdown: only stdout and stderr are flushed.

    The command is over: its files are written, fsynced and renamed, its forked children
    waited for, its threads joined. The shutdown would only free, module by module, what the
    process made (~800 modules, the standards, the run's caches): 0.06-0.07 CPU-s after a
    1,000-subject run, 0.10 after 10,000, the very end of the command's serial path. Its
    exit handlers (logging, idle executor threads, weakref finalizers) have nothing left to
    do. Not under a tracer or profiler (coverage, cProfile write their data at exit), nor
    for ``batch`` (_LEAVE_AT_ONCE); a status that is no number is printed on stderr and
    exits 1, and a stdout that cannot be flushed (a closed pipe) exits 120, as Python's
    own shutdown does."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        status = status or 120
    with suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(status & 0xFF)


def _observed() -> bool:
    """Whether a tracer, profiler or coverage tool watches this process: it writes its data
    at the interpreter's shutdown, so the process must not leave at once. Since Python 3.12
    such tools may use ``sys.monitoring`` (coverage's ``sysmon`` core) instead of
    ``sys.settrace``/``sys.setprofile``: any tool id in use counts."""
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(monitoring.get_tool(tool) is not None
                                          for tool in range(6))


class _Group(click.Group):
    """The one place where errors become exit statuses (see the module docstring)."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        """Run a command; as the process's own command line (``args`` None: the console script,
        ``python -m cdiscmap.cli``), with the garbage collector set for a short data run.

        A run keeps a few hundred thousand long-lived objects (modules, pydantic schemas,
        metadata) and makes few reference cycles (pandas/numpy data is not tracked), yet at the
        default threshold the collector ran ~850 times in a 1,000-subject run (0.4-0.55 CPU-s
        at 1k and 10k subjects); at GC_YOUNG_THRESHOLD ~50 times (0.15-0.19 CPU-s), with the
        same peak memory. Interpreter shutdown then ran full collections over every object
        (0.35-0.43 CPU-s) although the process is ending: ``gc.freeze()`` leaves them to exit
        (refcounting still frees them; only cycles wait for exit, as they would after
        os._exit). Each command's own imports are made with the collector paused and then
        frozen (_start_up). All only for the process's command line, never for a caller
        (tests, CliRunner) that goes on running. The command line then leaves at once
        (_leave_at_once)."""
        global _COMMAND_LINE
        own = args is None
        if own:
            gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
            _COMMAND_LINE = True
            set_leaving(_LEAVE_AT_ONCE)
        try:
            return super().main(args, *rest, **kwargs)
        except SystemExit as exc:
            if own and _LEAVE_AT_ONCE and not _observed():
                _leave_at_once(exc.code)
            raise
        finally:
            if own:
                gc.freeze()
                _COMMAND_LINE = False
                set_leaving(False)

    def invoke(self, ctx: click.Context) -> object:
        previous = None
        try:
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:          # not the main thread (e.g. inside a test runner's worker)
            previous = None
        try:
            return super().invoke(ctx)
        except ValidationFailed as exc:
            click.echo(f"cdiscmap: {exc}", err=True)
            sys.exit(1)
        except Terminated:
            click.echo("cdiscmap: terminated (SIGTERM); partial outputs removed", err=True)
            sys.exit(143)
        except KeyboardInterrupt:
            click.echo("cdiscmap: interrupted; partial outputs removed", err=True)
            sys.exit(130)
        except CdiscmapError as exc:
            click.echo(f"cdiscmap: error: {_one_line(str(exc))}", err=True)
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("cdiscmap: interrupted; partial outputs removed", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, SystemExit):
            raise
        except MemoryError:
            click.echo("cdiscmap: error: out of memory", err=True)
            sys.exit(2)
        except Exception as exc:  # a bug: say so plainly, keep the traceback for --debug
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"cdiscmap: internal error: {type(exc).__name__}: "
                       f"{_one_line(str(exc))} (rerun with --debug for the traceback)", err=True)
            sys.exit(3)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


@click.group(cls=_Group, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="cdiscmap")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress display on stderr (it is shown only on a terminal anyway).")
@click.pass_context
def main(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """cdiscmap: raw eCRF exports of oncology trials → CDISC SDTM/ADaM, XPT v5, Define-XML."""
    ctx.obj = {"debug": debug, "quiet": quiet}


def _quiet(ctx: click.Context, quiet: bool) -> bool:
    return quiet or bool(ctx.obj and ctx.obj.get("quiet"))


_quiet_option = click.option("--quiet", "-q", is_flag=True,
                             help="No progress display on stderr.")


@main.command(epilog=EXIT_CODES)
@click.argument("study", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--raw", "raw_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the raw export (default: <out>/<STUDYID>/raw; the demo study's "
                   "export is synthesised there if missing).")
@click.option("--out", "out_root", default=Path("output"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Output root; files go to <out>/<STUDYID>/.")
@click.option("--adam/--no-adam", default=True, show_default=True,
              help="Also derive ADaM when the study has mappings/<study>/adam/.")
@click.option("--format", "formats", type=click.Choice(["xpt", "json", "both"]),
              default="xpt", show_default=True,
              help="Dataset files: SAS XPT v5, Dataset-JSON v1.1, or both.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True,
              help="Exit 1 when findings at or above this severity remain.")
@_quiet_option
@click.pass_context
def run(ctx: click.Context, study: Path | None, raw_dir: Path | None, out_root: Path,
        adam: bool, formats: str, fail_on: str, quiet: bool) -> None:
    """Convert a study (default: the bundled demo study) to SDTM/ADaM datasets.

    STUDY is a mapping folder (study.yaml, sdtm/, adam/) or the name of a bundled study
    (crizotinib-basket, gist-imatinib, imt-pediatric).
    """
    from cdiscmap.pipeline.early_report import makes_report
    from cdiscmap.pipeline.early_report import start as start_report_process
    from cdiscmap.resources import default_study_dir, resolve_study_dir

    study_dir = resolve_study_dir(study) if study else default_study_dir()
    if makes_report(study_dir, adam):
        with _start_up():
            # what this process and the report's both import and pandas is no part of:
            # pydantic, PyYAML and the report's settings models (0.11 CPU-s), made once here
            # and inherited by the report's process instead of made again in it
            import cdiscmap.analysis.settings  # noqa: F401
    # a small run's report process, forked before the imports below: it makes its own while
    # the second core is idle (pipeline/early_report.py); the run closes it when it ends
    report_process = start_report_process(study_dir, raw_dir, adam)
    try:
        with _start_up(standards=True):
            from cdiscmap.findings import Severity
            from cdiscmap.pipeline.run import RunOptions, run_study
            from cdiscmap.progress import progress

            opts = RunOptions(study_dir=study_dir, raw_dir=raw_dir, out_root=out_root,
                              adam=adam, formats=formats)
            if makes_report(opts.study_dir, adam):
                # a larger run's report child is forked from this process after ADaM: it
                # inherits the report's modules instead of importing them itself (~35 ms
                # CPU); this process imports them for the ARM define anyway
                import cdiscmap.analysis.report  # noqa: F401
        with progress(quiet=_quiet(ctx, quiet)) as shown:
            result = run_study(opts, progress=shown, report_process=report_process)
        keep_until_exit(result)     # its datasets: the process leaves without freeing them
    finally:
        if report_process is not None:
            report_process.close()
    _print_summary(result.summary, result.out_dir)
    if fail_on != "none":
        _fail_threshold(result.findings.at_least(Severity(fail_on)), fail_on, "findings.csv")


def _aligned(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """``title``, then ``header`` and ``rows`` in columns two spaces apart: the first column
    left-aligned, the others (counts) right-aligned. Plain text, as the other commands'
    closing lines: no box drawing, nothing a log or a pipe has to strip."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [title] + ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
                                ).rstrip()
                      for line in (header, *rows)]


def _print_summary(summary: dict, out_dir: Path) -> None:
    """The run's closing summary on stdout: raw rows per file, records per dataset, findings.

    Plain lines (click.echo), not rich's console: importing and rendering rich was the run's
    last serial step (~60 ms CPU at 1k subjects), and its markup would eat a "[...]" or
    ":name:" in a file or folder name."""
    lines = _aligned(f"Raw rows ({summary['study']})",
                     ("file", "read", "used", "dropped", "balanced"),
                     [(row["file"], str(row["read"]), str(row["used"]), str(row["dropped"]),
                       "yes" if row["balanced"] else "NO") for row in summary["raw_files"]])
    lines += _aligned("Records written", ("dataset", "records"),
                      [(name, str(n)) for name, n in summary["records_written"].items()])
    f = summary["findings"]
    lines.append(f"Findings: {f['error']} errors, {f['warning']} warnings, "
                 f"{f['notice']} notices. Output: {out_dir}/ (run-summary.md, findings.csv)")
    click.echo("\n".join(lines))


@main.command(epilog=EXIT_CODES)
@click.option("--study", default="crizotinib-basket", show_default=True,
              help="Which trial's export to synthesise.")
@click.option("--subjects", default=150, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=20140701, show_default=True, type=int)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write raw/ and truth/ into.")
@_quiet_option
@click.pass_context
def synth(ctx: click.Context, study: str, subjects: int, seed: int, out_dir: Path,
          quiet: bool) -> None:
    """Write a synthetic raw eCRF export (fixed seed: byte-identical files)."""
    with _start_up():
        from cdiscmap.progress import progress
        from cdiscmap.synth import generate

    with progress(quiet=_quiet(ctx, quiet)) as shown:
        shown.stage(f"Generating the synthetic {study} export ({subjects} subjects)")
        result = generate(study, out_dir, n_subjects=subjects, seed=seed, progress=shown)
    for name, n in sorted(result.rows.items()):
        click.echo(f"{result.raw_dir / name}: {n} rows")


@main.command(epilog=EXIT_CODES)
@click.option("--sdtm", "sdtm_dir", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder of SDTM datasets (.xpt, .csv or .parquet; one file per dataset).")
@click.option("--study", "study_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The study's mapping folder (or a bundled study's name); its adam/*.yaml "
                   "holds the settings.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the ADaM XPT files and report (default: <sdtm>/../adam).")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True,
              help="Exit 1 when findings at or above this severity remain.")
@_quiet_option
@click.pass_context
def adam(ctx: click.Context, sdtm_dir: Path, study_dir: Path, out_dir: Path | None,
         fail_on: str, quiet: bool) -> None:
    """Derive ADSL, ADRS and ADTTE from any SDTM folder (cdiscmap's or anyone's)."""
    with _start_up(standards=True):
        from cdiscmap.findings import Severity
        from cdiscmap.pipeline.adam_step import run_adam_command
        from cdiscmap.progress import progress
        from cdiscmap.resources import resolve_study_dir  # not pipeline.run: no SDTM engine

        study = resolve_study_dir(study_dir)
    with progress(quiet=_quiet(ctx, quiet)) as shown:
        outcome = run_adam_command(sdtm_dir, study, out_dir, progress=shown)
    # plain lines, not rich's console: its import (~30-50 ms) was the command's last serial
    # step, and its markup would have eaten a "[...]" in a folder name
    lines = [f"{path}: {n} records" for path, n in outcome.records.items()]
    f = outcome.counts
    lines.append(f"Findings: {f['error']} errors, {f['warning']} warnings, {f['notice']} "
                 f"notices (findings.csv in {outcome.folder})")
    click.echo("\n".join(lines))
    if fail_on != "none":
        _fail_threshold(outcome.findings.at_least(Severity(fail_on)), fail_on, "findings.csv")


@main.command(epilog=EXIT_CODES)
@click.argument("study", type=click.Path(file_okay=False, path_type=Path))
@click.option("--adam", "adam_dir", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder of ADaM datasets (.xpt, .csv or .parquet: ADSL, ADRS, ADTTE).")
@click.option("--out", "out_root", default=Path("output"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Output root; the report goes to <out>/<STUDYID>/report/.")
def report(study: Path, adam_dir: Path, out_root: Path) -> None:
    """Tables and figures of the study's analysis.yaml from ADaM: report.html, RTF, CSV,
    PNG/SVG and cells.json (docs/report.md)."""
    with _start_up():
        from cdiscmap.analysis.report import report_command
        from cdiscmap.resources import resolve_study_dir

    files = report_command(resolve_study_dir(study), adam_dir, out_root)
    html = next((p for p in files if p.name == "report.html"), None)
    click.echo(f"Report: {len(files)} files" + (f", {html}" if html else ""))


@main.command(epilog=EXIT_CODES)
@click.option("--sdtm", "sdtm_dir", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder of SDTM datasets with TU, TR (and RS to compare with).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for recist_timepoints.csv, recist_comparison.csv and "
                   "recist_report.html/.json (default: <sdtm>/../recist).")
@click.option("--settings", "settings_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML with RECIST settings (a study.yaml `recist:` block or its keys).")
@click.option("--evaluator", "evaluators", multiple=True,
              help="Evaluator (TUEVAL/RSEVAL) to compute; repeat for several, '*' for all.")
@click.option("--nodal-from", type=click.Choice(["auto", "location", "short_axis_test"]),
              help="How nodal target lesions are recognised (default: auto).")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="warning", show_default=True,
              help="Exit 1 when findings at or above this severity remain (disagreements are "
                   "warnings, one-sided visits notices).")
@_quiet_option
@click.pass_context
def recist(ctx: click.Context, sdtm_dir: Path, out_dir: Path | None, settings_file: Path | None,
           evaluators: tuple[str, ...], nodal_from: str | None, fail_on: str,
           quiet: bool) -> None:
    """Compute RECIST 1.1 timepoint responses from any TU/TR and check them against RS."""
    with _start_up():
        from cdiscmap.findings import Severity
        from cdiscmap.pipeline.recist_command import (
            REPORT_HTML,
            load_settings,
            run_recist_command,
        )
        from cdiscmap.progress import progress

    settings = load_settings(settings_file, evaluators, nodal_from)
    with progress(quiet=_quiet(ctx, quiet)) as shown:
        outcome = run_recist_command(sdtm_dir, out_dir, settings, progress=shown)
    click.echo(f"{len(outcome.timepoints)} timepoints; comparison: "
               + (", ".join(f"{n} {k}" for k, n in outcome.status_counts.items()) or "none")
               + f"\nReport: {outcome.folder / REPORT_HTML}")
    if fail_on != "none":
        _fail_threshold(outcome.findings.at_least(Severity(fail_on)), fail_on, REPORT_HTML)


@main.command("check-spec", epilog=EXIT_CODES)
@click.argument("study", type=click.Path(file_okay=False, path_type=Path))
def check_spec(study: Path) -> None:
    """Check a study's YAML (study.yaml, sdtm/*.yaml, adam/*.yaml) without reading data."""
    with _start_up():
        from cdiscmap.pipeline.run import check_study_spec
        from cdiscmap.resources import resolve_study_dir

    click.echo(check_study_spec(resolve_study_dir(study)))


@main.command("init", epilog=EXIT_CODES)
@click.option("--raw", "raw_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the raw export (CSV, SAS7BDAT, XPT, xlsx sheets, ODM-XML).")
@click.option("--study", "name", required=True,
              help="Study name: the folder <out>/<NAME> and the drafted STUDYID.")
@click.option("--out", "out_dir", default=Path("."), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where to create the study folder.")
@click.option("--profile", default=None,
              help="A source profile the export follows (e.g. commercial-edc-csv, cdisc-odm).")
@click.option("--force", is_flag=True,
              help="Replace study.yaml and sdtm/ of an existing folder (other files kept).")
def init(raw_dir: Path, name: str, out_dir: Path, profile: str | None, force: bool) -> None:
    """Draft a study folder (study.yaml, sdtm/ stubs) from a raw export.

    Every form and column found is listed; subject column, keys, date formats and domains
    are guesses marked `# guessed:` with their evidence. The draft passes check-spec.
    """
    with _start_up():
        from cdiscmap.errors import display_path
        from cdiscmap.pipeline.scaffold import write_study

    folder, draft = write_study(raw_dir, name, out_dir, profile=profile, force=force)
    click.echo(f"{display_path(folder)}: {len(draft.forms)} forms drafted "
               f"({len(draft.skipped)} files skipped); domains: "
               f"{'DM listed' if draft.dm_form else 'none listed'}, stubs for "
               f"{', '.join(d for d in draft.domains() if d != 'DM') or 'none'}")


@main.command(epilog=EXIT_CODES)
@click.argument("study", type=click.Path(file_okay=False, path_type=Path))
@click.option("--package", "package", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A run's output folder holding sdtm/ (and adam/) XPT files.")
def define(study: Path, package: Path) -> None:
    """Write define.xml and define.html for the SDTM (and ADaM) XPT files of a package."""
    with _start_up():
        from cdiscmap.pipeline.define_step import write_package_defines
        from cdiscmap.resources import resolve_study_dir

    for path in write_package_defines(resolve_study_dir(study), package):
        click.echo(str(path))


@main.command("validate", epilog=EXIT_CODES)
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--define", "define", type=click.Path(dir_okay=False, path_type=Path),
              help="define.xml to check the data against (default: define.xml found in the "
                   "folder, or in its sdtm/ and adam/).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for findings.json, findings.html, findings.junit.xml and findings.xlsx "
                   "(default: FOLDER/validation, so a run's own report is not replaced).")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True,
              help="Exit 1 when findings at or above this severity remain.")
@_quiet_option
@click.pass_context
def validate(ctx: click.Context, folder: Path, define: Path | None, out_dir: Path | None,
             fail_on: str, quiet: bool) -> None:
    """Validate a folder of SDTM/ADaM XPT or Dataset-JSON files (with or without define.xml).

    FOLDER may hold the datasets or be a package root with sdtm/ and adam/ folders.
    """
    with _start_up():
        from cdiscmap.errors import display_path
        from cdiscmap.findings import Severity
        from cdiscmap.progress import progress
        from cdiscmap.validation.folder import validate_folder
        from cdiscmap.validation.report import print_summary, write_reports

    with progress(quiet=_quiet(ctx, quiet)) as shown:
        report = validate_folder(folder, define=define, progress=shown)
        shown.stage("Writing reports")
        written = write_reports(report, out_dir or folder / "validation")
    print_summary(report, _console())
    click.echo(f"Reports: {', '.join(display_path(p) for p in written.values())}")
    if fail_on != "none":
        _fail_threshold(report.at_least(Severity(fail_on)), fail_on,
                        display_path(written["html"]))



def _names(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip().upper() for part in (text or "").split(",") if part.strip())


@main.command("compare", epilog=EXIT_CODES)
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("compare", type=click.Path(path_type=Path))
@click.option("--keys", default="auto", show_default=True,
              help="Key variables to match records on (VAR,VAR,...), or 'auto': the natural "
                   "keys from specs/ (row order, with a note, for datasets it does not know).")
@click.option("--tolerance", default=1e-8, show_default=True, type=click.FloatRange(0),
              help="Numbers are equal when |BASE - COMPARE| <= this.")
@click.option("--rel-tolerance", type=click.FloatRange(0), default=None,
              help="Numbers are also equal when |BASE - COMPARE| / |BASE| <= this.")
@click.option("--ignore", default="", help="Variables not to compare (VAR,VAR,...).")
@click.option("--ignore-case", is_flag=True, help="Compare text case-insensitively.")
@click.option("--ignore-whitespace", is_flag=True,
              help="Compare text with leading/trailing blanks removed and inner runs as one.")
@click.option("--max-records", default=20, show_default=True, type=click.IntRange(1),
              help="Differing records listed per variable in the reports.")
@click.option("--out", "out_dir", default=Path("compare"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for compare.html, compare.json and compare.junit.xml.")
@click.option("--excel", is_flag=True, help="Also write compare.xlsx.")
@click.option("--fail-on", type=click.Choice(["difference", "none"]), default="difference",
              show_default=True, help="Exit 1 when the datasets differ (or never: none).")
@_quiet_option
@click.pass_context
def compare(ctx: click.Context, base: Path, compare: Path, keys: str, tolerance: float,
            rel_tolerance: float | None, ignore: str, ignore_case: bool,
            ignore_whitespace: bool, max_records: int, out_dir: Path, excel: bool,
            fail_on: str, quiet: bool) -> None:
    """Compare two datasets or packages (PROC COMPARE / diffdf for double programming).

    BASE and COMPARE are dataset files (XPT, Dataset-JSON, SAS7BDAT, CSV, parquet) or
    folders/packages (datasets matched by name; define.xml compared too).
    """
    with _start_up():
        from cdiscmap.compare.diff import CompareOptions, compare_paths
        from cdiscmap.compare.report import print_summary, write_reports
        from cdiscmap.errors import display_path
        from cdiscmap.progress import progress

    opts = CompareOptions(keys=None if keys.strip().lower() == "auto" else _names(keys),
                          tolerance=tolerance, rel_tolerance=rel_tolerance,
                          ignore=frozenset(_names(ignore)), ignore_case=ignore_case,
                          ignore_whitespace=ignore_whitespace, max_records=max_records)
    with progress(quiet=_quiet(ctx, quiet)) as shown:
        shown.stage("Comparing")
        result = compare_paths(base, compare, opts, progress=shown)
        shown.stage("Writing reports")
        written = write_reports(result, out_dir, excel=excel)
    print_summary(result, _console())
    click.echo(f"Reports: {', '.join(display_path(p) for p in written.values())}")
    if fail_on != "none" and not result.equal:
        raise ValidationFailed(f"{result.differences} difference(s) between "
                               f"{display_path(base)} and {display_path(compare)}; see "
                               f"{display_path(written['html'])}, or set --fail-on none")


@main.command("batch", epilog=EXIT_CODES)
@click.argument("studies", nargs=-1, required=True,
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--raw-root", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of raw exports: <raw-root>/<study folder name or STUDYID>/ (the "
                   "files, or a raw/ folder in it). A demo study without one is synthesised.")
@click.option("--out", "out_root", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Output root: packages in <out>/<STUDYID>/, logs in <out>/batch/, "
                   "batch-summary.json/.md.")
@click.option("--scheduler", default=None,
              help="Address of a running Dask scheduler (default: a local cluster).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1),
              help="Worker processes of the local cluster (one thread each).")
@click.option("--adam/--no-adam", default=True, show_default=True)
@click.option("--format", "formats", type=click.Choice(["xpt", "json", "both"]),
              default="xpt", show_default=True)
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True,
              help="A study exits 1 when findings at or above this severity remain.")
def batch(studies: tuple[Path, ...], raw_root: Path | None, out_root: Path,
          scheduler: str | None, workers: int, adam: bool, formats: str,
          fail_on: str) -> None:
    """Run many studies' full pipelines as Dask tasks (needs the 'scale' extra).

    Each STUDY (mapping folder or bundled study name) gets the exit status `cdiscmap run`
    would give; the batch exits with the worst of them. Packages are byte-identical to
    serial runs.
    """
    global _LEAVE_AT_ONCE
    _LEAVE_AT_ONCE = False          # Dask's exit handlers close its cluster and logging
    set_leaving(False)
    with _start_up():
        from cdiscmap.scale.batch import SUMMARY_MD, require_dask, run_batch

    require_dask()
    result = run_batch(list(studies), out_root, raw_root=raw_root, scheduler=scheduler,
                       workers=workers, formats=formats, adam=adam, fail_on=fail_on,
                       echo=click.echo)
    if result.status:
        bad = sum(o.status == result.status for o in result.outcomes)
        what = {1: "have findings at or above --fail-on", 2: "could not run",
                3: "hit an internal error"}.get(result.status, "failed")
        click.echo(f"cdiscmap: {bad} of {len(result.outcomes)} studies {what}; see "
                   f"{out_root / SUMMARY_MD}", err=True)
        sys.exit(result.status)


@main.command("pool", epilog=EXIT_CODES)
@click.argument("packages", nargs=-1, required=True,
                type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the pooled XPT files, define.xml and pool-summary.json/.md.")
@click.option("--datasets", default="ADSL,ADAE,ADRS,ADTTE", show_default=True,
              help="ADaM datasets to pool (those no study has are skipped).")
@click.option("--pool-id", default="POOL", show_default=True,
              help="Identity of the pooled package in define.xml (StudyName, OIDs).")
def pool(packages: tuple[Path, ...], out_dir: Path, datasets: str, pool_id: str) -> None:
    """Pool ADaM datasets across studies (ISS/ISE): PACKAGE is a run's <out>/<STUDYID>/.

    Subjects must be unique across studies (USUBJID); columns are the union, type
    conflicts refused, length differences reported.
    """
    with _start_up():
        from cdiscmap.errors import display_path
        from cdiscmap.scale.pool import pool_packages

    result = pool_packages(list(packages), out_dir, datasets=_names(datasets),
                           pool_id=pool_id)
    for name, n in result.records.items():
        click.echo(f"{display_path(out_dir / (name.lower() + '.xpt'))}: {n} records "
                   f"from {len(result.studies[name])} studies")
    if result.notes:
        click.echo(f"{len(result.notes)} note(s) (length or label differences, variables not "
                   f"in every study): see {display_path(out_dir / 'pool-summary.md')}")


if __name__ == "__main__":  # pragma: no cover
    main()
