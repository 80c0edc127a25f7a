"""Which CDISC CORE rules and which IG sections each cdiscmap validation rule implements.

cdiscmap's rule ids are its own. Users who know the CDISC Open Rules Engine (CORE) or the
SDTM/ADaM conformance rules need to see which of those a finding corresponds to, so each rule
that checks the same condition as a published CORE rule names it here, with the conformance
rule id(s) the CORE rule carries (SDTM and SDTMIG Conformance Rules ``CG....``, FDA Business
Rules ``FB....``, ADaM Conformance Rules v5.0 ``ADaM CR n``) and the SDTMIG/ADaMIG section the rule cites.

Source of the CORE ids: the rule YAMLs of cdisc-org/cdisc-open-rules, folder ``Published/``
(Core Id, Authorities → Rule Identifier Id and Citations Document/Section for SDTMIG 3.4 or
ADaMIG 1.3). Where no published CORE rule checks the condition, only the section is given
(the one the rule's explanation in docs/validation-rules.md cites). A rule without either has
no entry. This table is the source of the "Rules" sheet of findings.xlsx and of the mapping
table in docs/validation-rules.md; tests/unit/test_docs_rules.py keeps the two equal.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CORE", "CoreRef"]


class CoreRef(NamedTuple):
    """The outside references of one cdiscmap rule."""

    core: tuple[str, ...]          # CDISC CORE rule ids, e.g. ("CORE-000355",)
    conformance: tuple[str, ...]   # the conformance rule ids those CORE rules implement
    section: str                   # e.g. "SDTMIG 3.4 §4.1.5"


CORE: dict[str, CoreRef] = {
    # schema (checks/schema.py)
    "CMAP-SD0001": CoreRef(("CORE-000355",), ("CG0014",), "SDTMIG 3.4 §4.1.5"),
    "CMAP-SD0002": CoreRef(("CORE-000356",), ("CG0014",), "SDTMIG 3.4 §4.1.5"),
    "CMAP-SD0003": CoreRef(("CORE-000334",), ("CG0016",), "SDTMIG 3.4 §4.1.5"),
    # cross-dataset SDTM (checks/crossdomain.py)
    "CMAP-XD0001": CoreRef(("CORE-000201",), ("CG0029",), "SDTMIG 3.4 §4.2.3, §5.2"),
    "CMAP-XD0006": CoreRef(("CORE-000529", "CORE-000552", "CORE-000553"),
                      ("CG0006", "FB1603", "CG0220", "CG0222"), "SDTMIG 3.4 §4.4.4"),
    "CMAP-XD0009": CoreRef((), (), "SDTMIG 3.4 §7.4.2"),
    "CMAP-XD0010": CoreRef((), (), "SDTMIG 3.4 §4.1.3.1"),
    "CMAP-XD0011": CoreRef(("CORE-000034",), ("CG0069",), "SDTMIG 3.4 §5.2"),
    # plausibility (checks/plausibility.py)
    "CMAP-PL0005": CoreRef((), (), "SDTMIG 3.4 §5.2"),
    # SUPP-- links (checks/supp_rules.py)
    "CMAP-SP0001": CoreRef(("CORE-000206",), ("CG0371",), "SDTMIG 3.4 §8.4.1"),
    "CMAP-SP0003": CoreRef(("CORE-000538",), ("CG0334",), "SDTMIG 3.4 §4.1.7, §8.4.2"),
    "CMAP-SP0004": CoreRef(("CORE-000457",), ("CG0373",), "SDTMIG 3.4 §8.4.2"),
    # ADaM (checks/adam_rules.py)
    "CMAP-AR0001": CoreRef((), (), "ADaMIG 1.3 §3.2"),
    "CMAP-AR0005": CoreRef((), (), "ADaMIG 1.3 §3.3"),
    "CMAP-AR0006": CoreRef((), (), "ADaMIG 1.3 §3.3"),
    "CMAP-AR0007": CoreRef((), (), "ADaMIG 1.3 §3.3"),
    "CMAP-AR0010": CoreRef(("CORE-000560",), ("ADaM CR 1",), "ADaMIG 1.3 §2.3.1"),
    # file-level limits (checks/files.py); CG0205 covers SUPP-- dataset names only
    "CMAP-FL0001": CoreRef(("CORE-000293",), ("CG0205",), "SDTMIG 3.4 §8.4.2"),
    "CMAP-FL0003": CoreRef(("CORE-000182",), ("CG0310",), "SDTMIG 3.4 §4.2.1, §4.2.8.3"),
    "CMAP-FL0004": CoreRef(("CORE-000019",), ("CG0311",), "SDTMIG 3.4 §4.2.1"),
}
