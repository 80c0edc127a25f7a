"""Command line: thin click commands over the library (see ``cdiscmap --help``).

Every failure ends with a one-line reason on stderr and a non-zero exit status, never a
traceback (``--debug`` shows one for bug reports).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from cdiscmap import __version__
from cdiscmap.errors import CdiscmapError, ValidationFailed
from cdiscmap.findings import Findings, Severity

console = Console(stderr=False, highlight=False, soft_wrap=True)
SEVERITIES = ["error", "warning", "notice", "none"]


def _fail_threshold(findings: Findings, fail_on: str) -> None:
    if fail_on == "none":
        return
    at = findings.at_least(Severity(fail_on))
    if at:
        n = sum(f.count for f in at)
        raise ValidationFailed(f"{n} finding(s) at or above '{fail_on}' (first: {at[0].rule} "
                               f"{at[0].dataset} {at[0].variable} {at[0].source}); see "
                               f"findings.csv, or set --fail-on")


class _Group(click.Group):
    """Turns cdiscmap errors into one line on stderr and exit status 2 (1 for findings)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ValidationFailed as exc:
            click.echo(f"cdiscmap: {exc}", err=True)
            sys.exit(1)
        except CdiscmapError as exc:
            click.echo(f"cdiscmap: error: {_one_line(str(exc))}", err=True)
            sys.exit(2)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug: say so plainly, keep the traceback for --debug
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"cdiscmap: internal error: {type(exc).__name__}: {exc} "
                       f"(rerun with --debug for the traceback)", err=True)
            sys.exit(3)


def _one_line(message: str) -> str:
    return "; ".join(part.strip() for part in message.splitlines() if part.strip())


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="cdiscmap")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """cdiscmap: raw eCRF exports of oncology trials → CDISC SDTM/ADaM, XPT v5, Define-XML."""
    ctx.obj = {"debug": debug}


@main.command()
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
              help="Exit non-zero when findings at or above this severity remain.")
def run(study: Path | None, raw_dir: Path | None, out_root: Path, adam: bool, formats: str,
        fail_on: str) -> None:
    """Convert a study (default: the bundled demo study) to SDTM/ADaM XPT files."""
    from cdiscmap.run import RunOptions, default_study_dir, run_study

    opts = RunOptions(study_dir=study or default_study_dir(), raw_dir=raw_dir,
                      out_root=out_root, adam=adam, formats=formats)
    result = run_study(opts)
    _print_summary(result.summary, result.out_dir)
    _fail_threshold(result.findings, fail_on)


def _print_summary(summary: dict, out_dir: Path) -> None:
    table = Table(title=f"Raw rows ({summary['study']})", show_lines=False)
    for col in ("file", "read", "used", "dropped", "balanced"):
        table.add_column(col, justify="right" if col != "file" else "left")
    for row in summary["raw_files"]:
        table.add_row(row["file"], str(row["read"]), str(row["used"]), str(row["dropped"]),
                      "yes" if row["balanced"] else "NO")
    console.print(table)
    written = Table(title="Records written")
    written.add_column("dataset")
    written.add_column("records", justify="right")
    for name, n in summary["records_written"].items():
        written.add_row(name, str(n))
    console.print(written)
    f = summary["findings"]
    console.print(f"Findings: {f['error']} errors, {f['warning']} warnings, "
                  f"{f['notice']} notices. Output: {out_dir}/ (run-summary.md, findings.csv)")


@main.command()
@click.option("--study", default="crizotinib-basket", show_default=True,
              help="Which trial's export to synthesise.")
@click.option("--subjects", default=150, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=20140701, show_default=True, type=int)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write raw/ and truth/ into.")
def synth(study: str, subjects: int, seed: int, out_dir: Path) -> None:
    """Write a synthetic raw eCRF export (fixed seed: byte-identical files)."""
    from cdiscmap.synth import generate

    result = generate(study, out_dir, n_subjects=subjects, seed=seed)
    for name, n in sorted(result.rows.items()):
        console.print(f"{result.raw_dir / name}: {n} rows")


@main.command()
@click.option("--sdtm", "sdtm_dir", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder of SDTM datasets (.xpt, .csv or .parquet; one file per dataset).")
@click.option("--study", "study_dir", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The study's mapping folder; its adam/*.yaml holds the settings.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the ADaM XPT files and report (default: <sdtm>/../adam).")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True)
def adam(sdtm_dir: Path, study_dir: Path, out_dir: Path | None, fail_on: str) -> None:
    """Derive ADSL, ADRS and ADTTE from any SDTM folder (cdiscmap's or anyone's)."""
    from cdiscmap.adam import read_sdtm
    from cdiscmap.emit.report import findings_summary, write_findings
    from cdiscmap.pipeline_adam import derive_and_check
    from cdiscmap.run import write_datasets
    from cdiscmap.standards import load_standards
    from cdiscmap.xpt_time import output_timestamp

    standards = load_standards()
    findings = Findings()
    frames, _ = derive_and_check(read_sdtm(sdtm_dir), study_dir, standards, findings)
    target = out_dir or sdtm_dir.parent / "adam"
    files = write_datasets(frames, target, standards, output_timestamp(study_dir))
    write_findings(target, findings)
    for path in files:
        console.print(f"{path}: {len(frames[path.stem.upper()])} records")
    f = findings_summary(findings)
    console.print(f"Findings: {f['error']} errors, {f['warning']} warnings, {f['notice']} "
                  f"notices (findings.csv in {target})")
    _fail_threshold(findings, fail_on)


@main.command("check-spec")
@click.argument("study", type=click.Path(file_okay=False, path_type=Path))
def check_spec(study: Path) -> None:
    """Check a study's YAML specs against the models and specs/ without reading data."""
    from cdiscmap.run import load_study_checked
    from cdiscmap.standards import load_standards

    loaded = load_study_checked(study, load_standards())
    console.print(f"{loaded.study.studyid}: study.yaml and {len(loaded.domains)} domain specs "
                  f"are valid ({', '.join(loaded.domains)})")


@main.command()
@click.argument("study", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--package", "package", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A run's output folder holding sdtm/ (and adam/) XPT files.")
def define(study: Path, package: Path) -> None:
    """Write define.xml and define.html for the SDTM (and ADaM) XPT files of a package."""
    from cdiscmap.define_package import write_package_defines

    for path in write_package_defines(study, package):
        console.print(str(path))


from cdiscmap.cli_validate import validate  # noqa: E402  (registered after main exists)

main.add_command(validate)


if __name__ == "__main__":  # pragma: no cover
    main()
