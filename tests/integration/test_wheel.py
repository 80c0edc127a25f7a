"""The built wheel works on its own: installed into a new venv and run from an empty folder.

This is what a user gets from ``pip install cdiscmap``: no checkout beside it, so specs/ and
the bundled studies must come from the wheel's package data (``cdiscmap.resources``), and
nothing may find them relative to the working folder or a source tree.

Kept to about a minute: the wheel is installed with ``--no-deps`` into a venv made without
pip, whose site-packages holds a ``.pth`` line naming the running interpreter's site-packages,
so the dependencies already installed are reused instead of downloaded. A path listed in a
``.pth`` file is appended to sys.path without its own ``.pth`` files being run, so the
editable install of the running venv (a ``.pth`` hook there) cannot shadow the wheel; the
test asserts that the imported package is the wheel's anyway.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheel

REPO = Path(__file__).resolve().parents[2]
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
SKIP_IN_MAPPINGS = shutil.ignore_patterns("__pycache__", "raw")   # a demo's generated export


def _copy_sources(to: Path) -> Path:
    """The files a build reads, copied, so the build never writes into the checkout."""
    to.mkdir()
    for name in BUILD_INPUTS:
        shutil.copy2(REPO / name, to / name)
    for folder in ("src", "specs"):
        shutil.copytree(REPO / folder, to / folder, ignore=SKIP)
    shutil.copytree(REPO / "mappings", to / "mappings", ignore=SKIP_IN_MAPPINGS)
    return to


def _clean_env() -> dict[str, str]:
    """The environment of a user's shell: no source tree on the path, no specs override."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "CDISCMAP_SPECS", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args: list[str | Path], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=_clean_env(),
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}")
    return result


def _dependency_paths() -> list[str]:
    """The running interpreter's site-packages: where the dependencies are installed."""
    paths = [*site.getsitepackages(), sysconfig.get_paths()["purelib"],
             sysconfig.get_paths()["platlib"]]
    return list(dict.fromkeys(p for p in paths if Path(p).is_dir()))


def _new_venv(where: Path) -> tuple[Path, Path]:
    """A venv without pip whose site-packages also reads the running one's (for the deps)."""
    _run([sys.executable, "-m", "venv", "--without-pip", where], cwd=where.parent)
    python = where / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                       "['purelib'])"], cwd=where).stdout.strip())
    (purelib / "_cdiscmap_test_dependencies.pth").write_text(
        "\n".join(_dependency_paths()) + "\n", encoding="utf-8")
    return python, purelib


def test_wheel_installs_and_runs_from_an_empty_folder(tmp_path: Path) -> None:
    source = _copy_sources(tmp_path / "source")
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source],
         cwd=tmp_path)
    (wheel,) = dist.glob("cdiscmap-*.whl")

    python, purelib = _new_venv(tmp_path / "venv")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
          "--no-index", "-q", wheel], cwd=tmp_path)
    cdiscmap = tmp_path / "venv" / "bin" / "cdiscmap"

    work = tmp_path / "work"                     # an empty folder: no specs/, no mappings/
    work.mkdir()
    # The package, its specs and its studies are the wheel's, inside the new venv.
    where = _run([python, "-c", "import cdiscmap, cdiscmap.resources as r; "
                                "print(cdiscmap.__file__); print(r.specs_root()); "
                                "print(r.studies_root())"], cwd=work).stdout.split()
    package, specs, studies = (Path(line).resolve() for line in where)
    installed = (purelib / "cdiscmap").resolve()
    assert package == installed / "__init__.py"
    assert specs == installed / "_data" / "specs"
    assert studies == installed / "_data" / "mappings"
    assert (specs / "sdtmig-3.4" / "DM.json").is_file()
    assert _run([cdiscmap, "--version"], cwd=work).stdout.split()[-1] == "0.1.0"

    # The demo: synthetic raw export, SDTM, ADaM and both define.xml under ./output.
    _run([cdiscmap, "run", "--quiet"], cwd=work)
    package_dir = work / "output" / "CRZBASKET"
    for name in ("sdtm/dm.xpt", "sdtm/ae.xpt", "sdtm/define.xml", "sdtm/define.html",
                 "adam/adsl.xpt", "adam/define.xml", "run-summary.json"):
        assert (package_dir / name).is_file(), name
    assert sorted(p.name for p in work.iterdir()) == ["output"]   # nothing else written here
    assert not (installed / "_data" / "mappings" / "crizotinib-basket" / "raw").exists()

    checked = _run([cdiscmap, "check-spec", "gist-imatinib"], cwd=work)
    # QS (EORTC QLQ-C30) joined the GIST study in 0d9c504; its spec ships in the wheel too.
    assert checked.stdout.startswith(
        "GISTSTOP: study.yaml and 8 domain specs (DM, EX, AE, DS, TU, TR, RS, QS)")

    _run([cdiscmap, "validate", "output/CRZBASKET", "--quiet"], cwd=work)
    assert (package_dir / "validation" / "findings.json").is_file()

    _run([cdiscmap, "adam", "--sdtm", "output/CRZBASKET/sdtm", "--study", "crizotinib-basket",
          "--out", "adam-again", "--quiet"], cwd=work)
    assert sorted(p.name for p in (work / "adam-again").glob("*.xpt")) == \
        ["adae.xpt", "adex.xpt", "adrs.xpt", "adsl.xpt", "adtr.xpt", "adtte.xpt"]
