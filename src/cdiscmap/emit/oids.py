"""The OIDs a package's files share: define.xml's Study and MetaDataVersion OIDs, which every
Dataset-JSON file beside it repeats (Dataset-JSON v1.1 ``studyOID``/``metaDataVersionOID``
must name the define.xml that describes the dataset), built in one place so they cannot drift.
"""

from __future__ import annotations

from typing import Literal

from cdiscmap.errors import StandardsError
from cdiscmap.standards.models import Standards

DEFINE_FILE = "define.xml"      # the define.xml written beside the datasets (metaDataRef)


def study_oid(studyid: str) -> str:
    """ODM Study/@OID of the package's define.xml."""
    return studyid


def metadata_version_oid(studyid: str, kind: Literal["SDTM", "ADaM"], standards: Standards
                         ) -> str:
    """MetaDataVersion/@OID of the SDTM or ADaM define.xml: the study and the IG it follows."""
    family = "SDTMIG" if kind == "SDTM" else "ADaMIG"
    version = standards.versions.get(family)
    if version is None:
        raise StandardsError(f"specs/ holds no {family} metadata; cannot name the {kind} "
                             "metadata version")
    return f"MDV.{studyid}.{family}.{version}"
