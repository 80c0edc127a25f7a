"""`cdiscmap define`: define.xml/define.html for a package that is already written.

The XPT files give the datasets (and so the lengths); the study's specs give origins and
methods. ADaM methods are re-derived from the package's own SDTM (cheap, and the same code
that made the data). With analysis settings, the ADaM define gets the ARM analysis results
from the report on the package's ADaM, as ``cdiscmap run`` writes them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cdiscmap.checks.facts import facts_cache, remember
from cdiscmap.emit.define import write_define
from cdiscmap.emit.timestamp import output_timestamp
from cdiscmap.errors import InputDataError, display_path
from cdiscmap.sdtm.engine import study_origins
from cdiscmap.spec.loader import LoadedStudy
from cdiscmap.spec.models import StudySpec
from cdiscmap.spec.yamlload import LocatedYaml
from cdiscmap.validation.read import read_xpt_dataset


def _read_folder(folder: Path) -> dict[str, pd.DataFrame]:
    """The folder's XPT datasets; inside :func:`~cdiscmap.checks.facts.facts_cache` each text
    column's facts are the reader's own factorisation, which define.xml then asks instead of
    factorising the column again."""
    frames = {}
    for path in sorted(folder.glob("*.xpt")):
        data = read_xpt_dataset(path, folder, folder)
        for column, facts in data.facts.items():
            remember(data.frame[column], facts)
        frames[data.name] = data.frame
    return frames


def _adam_only_study(study_dir: Path, adam: dict[str, pd.DataFrame]) -> LoadedStudy:
    """The study an ADaM-only folder stands for: its identity is the data's STUDYID (ADSL)."""
    adsl = adam.get("ADSL")
    ids = adsl["STUDYID"].dropna().astype(str).unique() if adsl is not None and \
        "STUDYID" in adsl.columns else []
    if len(ids) != 1:
        raise InputDataError(f"{display_path(study_dir)} has no study.yaml, so the study is "
                             "named by ADSL.STUDYID, which must hold exactly one value "
                             f"(found {len(ids)})")
    spec = StudySpec(studyid=str(ids[0]), title=f"Study {ids[0]} (ADaM)", standards={},
                     forms={}, domains=[])
    return LoadedStudy(folder=study_dir, study=spec, study_file="",
                       study_yaml=LocatedYaml(data={}, file=""), domains={}, domain_files={},
                       domain_yaml={})


def write_package_defines(study_dir: Path, package: Path) -> list[Path]:
    """define.xml/define.html for the package's SDTM and ADaM. An ADaM-only study (adam/*.yaml,
    no study.yaml) writes the ADaM define alone: the SDTM was made elsewhere, with its own."""
    with facts_cache():         # text columns: the XPT reader's factorisations (_read_folder)
        return _package_defines(study_dir, package)


def _package_defines(study_dir: Path, package: Path) -> list[Path]:
    from cdiscmap.pipeline.run import is_adam_only, study_standards

    if is_adam_only(study_dir):
        return _adam_only_defines(study_dir, package)
    standards, loaded = study_standards(study_dir)   # custom domains, study codelists
    created = output_timestamp(study_dir)
    sdtm_dir, adam_dir = package / "sdtm", package / "adam"
    if not sdtm_dir.is_dir():
        raise InputDataError(f"{display_path(package)}: no sdtm/ folder of XPT files")
    sdtm = _read_folder(sdtm_dir)
    from cdiscmap.sdtm.relationships import with_continuations

    standards = with_continuations(standards, sdtm)             # COVAL1.. (SDTMIG 3.4 CO)
    written = list(write_define(sdtm_dir, kind="SDTM", datasets=sdtm, standards=standards,
                                study=loaded, origins=study_origins(loaded), methods={},
                                created=created))
    adam = _read_folder(adam_dir) if adam_dir.is_dir() else {}
    if adam:
        from cdiscmap.adam import derive_all, load_adam_settings

        methods = derive_all(sdtm, load_adam_settings(study_dir)).methods
        written += write_define(adam_dir, kind="ADaM", datasets=adam, standards=standards,
                                study=loaded, origins={}, methods=methods, created=created)
        _add_analysis_results(study_dir, adam_dir, adam)
    return written


def _add_analysis_results(study_dir: Path, adam_dir: Path, adam: dict[str, pd.DataFrame]
                          ) -> None:
    """ARM in the ADaM define.xml, as ``cdiscmap run`` writes it, when the study has analysis
    settings: a regenerated define must not silently lose the analysis results metadata."""
    from cdiscmap.analysis.settings import load_analysis_settings

    analysis = load_analysis_settings(study_dir)
    if analysis is None:
        return
    from cdiscmap.analysis.arm import write_analysis_results
    from cdiscmap.analysis.report import build_report

    write_analysis_results(adam_dir, build_report(adam, analysis, draw=False), analysis,
                           study_dir)


def _adam_only_defines(study_dir: Path, package: Path) -> list[Path]:
    from cdiscmap.adam import derive_all, load_adam_settings, read_sdtm
    from cdiscmap.standards import load_standards

    adam_dir, sdtm_dir = package / "adam", package / "sdtm"
    adam = _read_folder(adam_dir) if adam_dir.is_dir() else {}
    if not adam:
        raise InputDataError(f"{display_path(package)}: no adam/ folder of XPT files (an "
                             "ADaM-only study writes the ADaM define.xml only)")
    settings = load_adam_settings(study_dir)
    # methods name the settings' values: re-derived from the package's SDTM when it is there
    methods = derive_all(read_sdtm(sdtm_dir), settings).methods if sdtm_dir.is_dir() \
        else {}          # any SDTM format `cdiscmap adam` reads (XPT, CSV, parquet)
    written = list(write_define(adam_dir, kind="ADaM", datasets=adam,
                                standards=load_standards(),
                                study=_adam_only_study(study_dir, adam), origins={},
                                methods=methods, created=output_timestamp(study_dir)))
    _add_analysis_results(study_dir, adam_dir, adam)
    return written
