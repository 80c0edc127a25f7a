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
    # CORE-derived rules (checks/core_rules.py, checks/core_rules_events.py)
    "CMAP-CR0001": CoreRef(("CORE-000007",), ("CG0435", "FB0606"), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0002": CoreRef(("CORE-000253", "CORE-000254"),
                          ("CG0135", "CG0134", "FB0604", "FB0603"), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0003": CoreRef(("CORE-000252",), ("CG0136", "FB0605"), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0004": CoreRef(("CORE-000108",), ("CG0133", "FB0602"), "SDTMIG 3.4 §5.2, §6.3.2"),
    "CMAP-CR0005": CoreRef(("CORE-000045", "CORE-000046"),
                          ("CG0517", "CG0519"), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0006": CoreRef(("CORE-000121",), ("CG0520",), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0007": CoreRef(("CORE-000223", "CORE-000224"),
                          ("CG0513", "CG0515"), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0008": CoreRef(("CORE-000119", "CORE-000120"),
                          ("CG0521", "CG0522"), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0009": CoreRef(("CORE-000210", "CORE-000208"),
                          ("CG0516", "CG0512"), "SDTMIG 3.4 §5.2, §7.2.1"),
    "CMAP-CR0010": CoreRef(("CORE-000318", "CORE-000791"),
                          ("FB0902", "FB0903"), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0011": CoreRef(("CORE-000189", "CORE-000190"),
                          ("CG0665", "CG0666"), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0012": CoreRef(("CORE-000310",), ("FB4001",), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0013": CoreRef(("CORE-000711", "CORE-000714"),
                          ("FB3404", "FB3408"), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0014": CoreRef(("CORE-000239",), ("CG0148",), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0015": CoreRef(("CORE-000238",), ("CG0147",), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0016": CoreRef(("CORE-000363",), ("CG0068",), "SDTMIG 3.4 §5.2, §6.2.3"),
    "CMAP-CR0017": CoreRef(("CORE-000351", "CORE-000186"),
                          ("CG0151", "CG0150"), "SDTMIG 3.4 §5.2"),
    "CMAP-CR0018": CoreRef(("CORE-000172",), ("CG0409",), "SDTMIG 3.4 §4.2.6"),
    "CMAP-CR0019": CoreRef(("CORE-000718", "CORE-000866"),
                          ("FB3209", "FB3210"), "SDTMIG 3.4 §4.4.3, §4.4.8"),
    "CMAP-CR0020": CoreRef(("CORE-000708", "CORE-000707"),
                          ("FB3207", "FB3208"), "SDTMIG 3.4 §4.4.4"),
    "CMAP-CR0021": CoreRef(
        ("CORE-000159", "CORE-000160", "CORE-000161", "CORE-000162", "CORE-000163", "CORE-000164"),
        ("CG0341", "CG0342", "CG0343", "CG0344", "CG0345", "CG0346"),
        "SDTMIG 3.4 §4.2.7.3, §4.2.8.1, §4.2.8.2"),
    "CMAP-CR0022": CoreRef(("CORE-000237",), ("CG0027",), "SDTMIG 3.4 §4.2.6"),
    "CMAP-CR0023": CoreRef(("CORE-000093",), ("CG0114",), "SDTMIG 3.4 §6.1"),
    "CMAP-CR0024": CoreRef(("CORE-000092",), ("CG0110", "CG0111"), "SDTMIG 3.4 §6.1"),
    "CMAP-CR0025": CoreRef(("CORE-000308", "CORE-000517"),
                          ("FB4002", "FB4003"), "SDTMIG 3.4 §6.1"),
    "CMAP-CR0026": CoreRef(("CORE-000102",), ("CG0428",), "SDTMIG 3.4 §6.2.1"),
    "CMAP-CR0027": CoreRef(("CORE-000022", "CORE-000266"),
                          ("CG0041", "CG0042"), "SDTMIG 3.4 §6.2.1"),
    "CMAP-CR0028": CoreRef(("CORE-000268", "CORE-000184"),
                          ("CG0049", "CG0083", "FB0909", "FB0910"), "SDTMIG 3.4 §6.2.1"),
    "CMAP-CR0029": CoreRef(("CORE-000220", "CORE-000541"), ("CG0372",), "SDTMIG 3.4 §4.2.1"),
    "CMAP-CR0030": CoreRef(("CORE-000199",), ("CG0406",), "SDTMIG 3.4 §4.5.3.1"),
    "CMAP-CR0031": CoreRef(("CORE-000303",), ("FB0901",), "SDTMIG 3.4 §4.5.3"),
    "CMAP-CR0032": CoreRef(("CORE-000200",), ("CG0348",), "SDTMIG 3.4 §4.5.1.1"),
    "CMAP-CR0033": CoreRef(("CORE-000099", "CORE-000675"),
                          ("CG0422", "FB4201"), "SDTMIG 3.4 §4.5.1.1"),
    "CMAP-CR0034": CoreRef(("CORE-000774",), ("FB4202",), "SDTMIG 3.4 §4.5.1.2"),
    "CMAP-CR0035": CoreRef(("CORE-000225",), ("CG0094",), "SDTMIG 3.4 §4.5.1.1"),
    "CMAP-CR0036": CoreRef(("CORE-000021",), ("CG0397",), "SDTMIG 3.4 §4.5.1"),
    "CMAP-CR0037": CoreRef(("CORE-000133",), ("CG0426",), "SDTMIG 3.4 §4.5.1"),
    "CMAP-CR0038": CoreRef(("CORE-000863", "CORE-000542", "CORE-000732"),
                          ("FB3101", "FB3102", "FB3103"), "SDTMIG 3.4 §4.5.1"),
    "CMAP-CR0039": CoreRef(("CORE-000914",), ("FB2603",), "SDTMIG 3.4 §6.3"),
    "CMAP-CR0040": CoreRef(("CORE-000105",), ("CG0569", "FB2602"), "SDTMIG 3.4 §6.3"),
    "CMAP-CR0041": CoreRef(("CORE-000672", "CORE-000889"),
                          ("FB3901", "FB3902"), "SDTMIG 3.4 §6.3"),
    "CMAP-CR0042": CoreRef(("CORE-000699",), ("FB3001",), "SDTMIG 3.4 §4.5.1"),
    "CMAP-CR0043": CoreRef(("CORE-000361",), ("CG0035", "FB0919"), "SDTMIG 3.4 §4.4.5"),
    "CMAP-CR0044": CoreRef(("CORE-000271",), ("CG0009",), "SDTMIG 3.4 §4.1.3.1"),
    "CMAP-CR0045": CoreRef(("CORE-000168",), ("CG0034",), "SDTMIG 3.4 §5.5"),
    "CMAP-CR0046": CoreRef(("CORE-000213", "CORE-000374"),
                          ("CG0536", "CG0537"), "SDTMIG 3.4 §6.2.3"),
    "CMAP-CR0047": CoreRef(("CORE-000179",), ("CG0307", "FB0916"), "SDTMIG 3.4 §7.4.2"),
    "CMAP-CR0048": CoreRef(("CORE-000154",), ("CG0268",), "SDTMIG 3.4 §7.4.2"),
    "CMAP-CR0049": CoreRef(("CORE-000144",), ("CG0247",), "SDTMIG 3.4 §7.2.1"),
    "CMAP-CR0050": CoreRef(("CORE-000132",),
                          ("CG0154", "FB0914"), "SDTMIG 3.4 §5.3, §7.2.1, §7.2.2"),
    "CMAP-CR0051": CoreRef(("CORE-000384",), ("CG0374",), "SDTMIG 3.4 §8.2.1"),
    "CMAP-CR0052": CoreRef(("CORE-000484",), ("CG0200",), "SDTMIG 3.4 §8.2.1"),
    "CMAP-CR0053": CoreRef(("CORE-000302",), ("FB0920",), "SDTMIG 3.4 §8.4.1"),
    "CMAP-CR0054": CoreRef(("CORE-000203",), ("CG0411",), "SDTMIG 3.4 §8.4"),
    "CMAP-CR0055": CoreRef(("CORE-000354", "CORE-000138", "CORE-000139"),
                          ("CG0007", "CG0221", "CG0223"), "SDTMIG 3.4 §4.4.4"),
    "CMAP-CR0056": CoreRef(("CORE-000853",), ("FB1602",), "SDTMIG 3.4 §4.4.4"),
    "CMAP-CR0057": CoreRef(("CORE-000352",), ("CG0207",), "SDTMIG 3.4 §5.3"),
    "CMAP-CR0058": CoreRef(("CORE-000527",), ("CG0209",), "SDTMIG 3.4 §5.3"),
    "CMAP-CR0059": CoreRef(("CORE-000141",), ("CG0240", "FB0922"), "SDTMIG 3.4 §4.4.10"),
    "CMAP-CR0060": CoreRef(("CORE-000296",), ("CG0540",), "SDTMIG 3.4 §6.2.3"),
}
