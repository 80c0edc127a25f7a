"""`cdiscmap define`: define.xml/define.html for a package that is already written.

The XPT files give the datasets (and so the lengths); the study's specs give origins and
methods. ADaM methods are re-derived from the package's own SDTM (cheap, and the same code
that made the data).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cdiscmap.emit.define import write_define
from cdiscmap.emit.timestamp import output_timestamp
from cdiscmap.errors import InputDataError, display_path
from cdiscmap.sdtm.engine import study_origins
from cdiscmap.validation.read import read_xpt_dataset


def _read_folder(folder: Path) -> dict[str, pd.DataFrame]:
    frames = {}
    for path in sorted(folder.glob("*.xpt")):
        data = read_xpt_dataset(path, folder, folder)
        frames[data.name] = data.frame
    return frames


def write_package_defines(study_dir: Path, package: Path) -> list[Path]:
    from cdiscmap.pipeline.run import study_standards

    standards, loaded = study_standards(study_dir)   # custom domains, study codelists
    created = output_timestamp(study_dir)
    sdtm_dir, adam_dir = package / "sdtm", package / "adam"
    if not sdtm_dir.is_dir():
        raise InputDataError(f"{display_path(package)}: no sdtm/ folder of XPT files")
    sdtm = _read_folder(sdtm_dir)
    written = list(write_define(sdtm_dir, kind="SDTM", datasets=sdtm, standards=standards,
                                study=loaded, origins=study_origins(loaded), methods={},
                                created=created))
    adam = _read_folder(adam_dir) if adam_dir.is_dir() else {}
    if adam:
        from cdiscmap.adam import derive_all, load_adam_settings

        methods = derive_all(sdtm, load_adam_settings(study_dir)).methods
        written += write_define(adam_dir, kind="ADaM", datasets=adam, standards=standards,
                                study=loaded, origins={}, methods=methods, created=created)
    return written
