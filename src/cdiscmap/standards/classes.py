"""What SDTM observation classes decide: define.xml class, natural keys, custom domains.

Why here: behaviour that depends on the class (Findings have --TESTCD and results, Events a
--TERM and a start date, ...) must come from the class, not from a list of domain names, so
any domain of the SDTMIG and any sponsor-defined custom domain (SDTMIG 3.4 §2.6) is handled
the same way. ``tools/build_specs.py`` uses :data:`CLASS_KEYS` to write the natural keys of
the IG domains it has no domain-specific keys for, and :func:`custom_dataset` uses the same
templates for a study's custom domains.

Names written with ``--`` stand for the domain prefix (SDTMIG 3.4 §4.2.2).
"""

from __future__ import annotations

from cdiscmap.errors import StandardsError

# SDTMIG 3.4 class (as the IG's dataset table writes it) -> Define-XML 2.1 def:Class and
# def:SubClass (Define-XML 2.1 §5.3.3: Findings About is a sub-class of FINDINGS).
DEFINE_CLASS: dict[str, tuple[str, str | None]] = {
    "Events": ("EVENTS", None),
    "Findings": ("FINDINGS", None),
    "Findings About": ("FINDINGS", "FINDINGS ABOUT"),
    "Interventions": ("INTERVENTIONS", None),
    "Special-Purpose": ("SPECIAL PURPOSE", None),
    "Trial Design": ("TRIAL DESIGN", None),
    "Relationship": ("RELATIONSHIP", None),
    "Study Reference": ("STUDY REFERENCE", None),
}

# The general observation classes (SDTMIG 3.4 §2.1, §6): the only classes a sponsor may base a
# custom domain on (§2.6). Values: the IG class of the Dataset (class, subclass) pair.
GENERAL_CLASSES = ("Interventions", "Events", "Findings", "Findings About")

# Natural keys by class (SDTMIG 3.4 §3.2.1.1 and §4.1.9): subject, topic, then the qualifiers
# and timing that tell the records of one topic apart, in the order the IG's domain tables
# list them; absent variables are skipped. --SEQ closes every key, because the natural key
# can legitimately repeat (two occurrences with the same partial date) and --SEQ is unique
# within USUBJID by definition (§4.1.7 item 3); cdiscmap checks keys for uniqueness (CMAP-SD0009).
CLASS_KEYS: dict[str, tuple[str, ...]] = {
    "Interventions": ("STUDYID", "USUBJID", "--TRT", "--STDTC", "--SEQ"),
    "Events": ("STUDYID", "USUBJID", "--TERM", "--STDTC", "--SEQ"),
    "Findings": ("STUDYID", "USUBJID", "--TESTCD", "--SPEC", "VISITNUM", "--TPTREF",
                 "--TPTNUM", "--SEQ"),
    "Findings About": ("STUDYID", "USUBJID", "--TESTCD", "--OBJ", "--SPEC", "VISITNUM",
                       "--TPTREF", "--TPTNUM", "--SEQ"),
}

# The IG domain whose variables stand for the class's variables in a custom domain (prefix
# replaced). Chosen as the IG's most general domain of each class: CM and CE are the generic
# Interventions and Events domains, FA the only general Findings About domain, and LB the
# Findings domain with the fullest set of result, reference-range and specimen qualifiers.
# A study may name another domain of the same class (``like:``).
CLASS_TEMPLATE: dict[str, str] = {
    "Interventions": "CM",
    "Events": "CE",
    "Findings": "LB",
    "Findings About": "FA",
}


def ig_class(class_name: str, subclass: str | None) -> str | None:
    """The SDTMIG class of a dataset from its Define-XML class/subclass; None for ADaM."""
    for name, pair in DEFINE_CLASS.items():
        if pair == (class_name, subclass):
            return name
    return None


def expand(template: str, prefix: str) -> str:
    """"--TESTCD" -> "LBTESTCD"; names without "--" are kept."""
    return prefix + template[2:] if template.startswith("--") else template


def class_keys(ig_class_name: str, prefix: str, names: list[str]) -> list[str]:
    """The natural keys of a general-class domain with ``prefix`` and variables ``names``."""
    try:
        template = CLASS_KEYS[ig_class_name]
    except KeyError:
        raise StandardsError(f"no class-level keys for SDTM class {ig_class_name!r}; "
                             f"known: {', '.join(CLASS_KEYS)}") from None
    present = set(names)
    return [name for name in (expand(t, prefix) for t in template) if name in present]


def day_pairs(names: list[str], prefix: str) -> list[tuple[str, str]]:
    """(--xxDTC, --xxDY) pairs present in ``names`` for a domain with ``prefix`` (§4.4.4)."""
    present = set(names)
    pairs = [(f"{prefix}DTC", f"{prefix}DY"), (f"{prefix}STDTC", f"{prefix}STDY"),
             (f"{prefix}ENDTC", f"{prefix}ENDY")]
    return [(dtc, dy) for dtc, dy in pairs if dtc in present and dy in present]


__all__ = ["CLASS_KEYS", "CLASS_TEMPLATE", "DEFINE_CLASS", "GENERAL_CLASSES",
           "class_keys", "day_pairs", "expand", "ig_class"]
