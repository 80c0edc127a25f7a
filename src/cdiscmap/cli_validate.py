"""``cdiscmap validate DIR``: check a folder of SDTM/ADaM datasets in CI.

Exit status: 0 when no finding at or above ``--fail-on`` remains, 1 when some do, 2 with a
one-line reason when the input is unusable (no folder, no dataset, unreadable define.xml) or a
report cannot be written. Importing this module has no side effect: the lead registers the
command with ``main.add_command(validate)``. The command handles its own errors the way
``cdiscmap.cli`` does, so it behaves the same inside the group or on its own.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from cdiscmap.errors import CdiscmapError, ValidationFailed, display_path
from cdiscmap.findings import Severity

if TYPE_CHECKING:
    from cdiscmap.validate import ValidationReport

FAIL_ON = ["error", "warning", "notice", "none"]

__all__ = ["FAIL_ON", "validate"]


def _one_line(message: str) -> str:
    return "; ".join(part.strip() for part in message.splitlines() if part.strip())


def _check_threshold(report: ValidationReport, fail_on: str, html: Path) -> None:
    if fail_on == "none":
        return
    at = report.at_least(Severity(fail_on))
    if at:
        first = at[0]
        n = sum(f.count for f in at)
        where = " ".join(part for part in (first.rule, first.dataset, first.variable,
                                           first.source) if part)
        raise ValidationFailed(f"{n} finding(s) at or above '{fail_on}' (first: {where}); see "
                               f"{display_path(html)}, or set --fail-on")


@click.command("validate")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--define", "define", type=click.Path(dir_okay=False, path_type=Path),
              help="define.xml to check the data against (default: define.xml found in the "
                   "folder, or in its sdtm/ and adam/).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for findings.json, findings.html and findings.junit.xml "
                   "(default: FOLDER/validation, so a run's own report is not replaced).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Exit 1 when findings at or above this severity remain.")
def validate(folder: Path, define: Path | None, out_dir: Path | None, fail_on: str) -> None:
    """Validate a folder of SDTM/ADaM XPT or Dataset-JSON files (with or without define.xml).

    FOLDER may hold the datasets or be a package root with sdtm/ and adam/ folders.
    """
    try:
        from cdiscmap.emit.findings_report import print_summary, write_reports
        from cdiscmap.validate import validate_folder

        report = validate_folder(folder, define=define)
        print_summary(report, Console(highlight=False, soft_wrap=True))
        written = write_reports(report, out_dir or folder / "validation")
        click.echo(f"Reports: {', '.join(display_path(p) for p in written.values())}")
        _check_threshold(report, fail_on, written["html"])
    except ValidationFailed as exc:
        click.echo(f"cdiscmap: {exc}", err=True)
        sys.exit(1)
    except CdiscmapError as exc:
        click.echo(f"cdiscmap: error: {_one_line(str(exc))}", err=True)
        sys.exit(2)
