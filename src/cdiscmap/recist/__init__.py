"""RECIST 1.1 engine: timepoint responses computed from SDTM TU/TR, checked against RS.

Rules follow Eisenhauer et al. 2009, EJC 45:228-247 (RECIST 1.1); section numbers are cited in
each module. All functions are pure: frames in, frames (and findings) out.
"""

from cdiscmap.recist.crosscheck import (
    COMPARISON_COLUMNS,
    RS_TESTS,
    crosscheck,
    crosscheck_coded,
    to_rs_records,
)
from cdiscmap.recist.lesions import LesionData, assemble_lesions
from cdiscmap.recist.nontarget import classify_nontarget
from cdiscmap.recist.overall import OUTPUT_COLUMNS, overall_response, timepoint_responses
from cdiscmap.recist.settings import (
    DEFAULT_SETTINGS,
    EPSILON,
    RecistSettings,
    settings_from_mapping,
)
from cdiscmap.recist.target import classify_target

__all__ = [
    "COMPARISON_COLUMNS",
    "DEFAULT_SETTINGS",
    "EPSILON",
    "OUTPUT_COLUMNS",
    "RS_TESTS",
    "LesionData",
    "RecistSettings",
    "assemble_lesions",
    "classify_nontarget",
    "classify_target",
    "crosscheck",
    "crosscheck_coded",
    "overall_response",
    "settings_from_mapping",
    "timepoint_responses",
    "to_rs_records",
]
