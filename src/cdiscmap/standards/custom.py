"""Sponsor-defined custom domains (SDTMIG 3.4 §2.6) built from their class, with YAML only.

Why: a custom domain (XP "Pain Scores", class Findings) must get its variables, labels, types,
core, roles, order, codelists and keys from the standard like any IG domain does, so the
engine, the checks, the XPT writer and define.xml need no code for it. The IG has no
class-level variable table in our reference export, so the class's variables are those of the
class's template domain (:data:`~cdiscmap.standards.classes.CLASS_TEMPLATE`, or ``like``) with
the domain prefix replaced (SDTMIG 3.4 §4.2.2: --TESTCD, --ORRES, ...).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from cdiscmap.errors import StandardsError
from cdiscmap.standards.classes import (
    CLASS_TEMPLATE,
    DEFINE_CLASS,
    GENERAL_CLASSES,
    class_keys,
    ig_class,
)
from cdiscmap.standards.models import Dataset, Standards, Variable

# SDTMIG 3.4 §4.2.1 / §2.6: a domain code is two characters; XPT v5 dataset names are letters
# and digits, starting with a letter.
_DOMAIN_CODE = re.compile(r"[A-Z][A-Z0-9]")


@dataclass(frozen=True)
class CustomDomain:
    """What a study declares for one custom domain (study.yaml ``custom_domains: {XP: ...}``)."""

    name: str                                   # domain code, e.g. "XP"
    ig_class: str                               # "Findings", "Events", ...
    label: str
    like: str | None = None                     # template domain; default by class
    structure: str | None = None                # default: the template's
    labels: dict[str, str] = field(default_factory=dict)   # variable -> sponsor label


def shared_codelists(standards: Standards) -> set[str]:
    """Codelists the SDTMIG uses in more than one dataset: class-wide ones (UNIT, ND, NY).

    A codelist of one domain only (LBTESTCD) describes that domain's topics, not the class's,
    and is not given to a custom domain built from it.
    """
    uses: Counter[str] = Counter()
    for dataset in standards.datasets.values():
        if dataset.standard.startswith("SDTMIG"):
            uses.update({c for var in dataset.variables for c in var.codelists})
    return {name for name, count in uses.items() if count > 1}


def custom_dataset(standards: Standards, spec: CustomDomain,
                   shared: set[str] | None = None) -> Dataset:
    """The metadata of one custom domain; StandardsError (one line) when it cannot be built."""
    name = spec.name
    if not _DOMAIN_CODE.fullmatch(name):
        raise StandardsError(f"custom domain {name!r}: a domain code is two upper-case "
                             "letters or digits, starting with a letter (e.g. XP)")
    if name in standards.datasets:
        raise StandardsError(f"custom domain {name} is already a {standards.datasets[name].standard}"
                             " dataset; choose a code starting with X, Y or Z (SDTMIG 3.4 §2.6)")
    if spec.ig_class not in GENERAL_CLASSES:
        raise StandardsError(f"custom domain {name}: class {spec.ig_class!r} is not a general "
                             f"observation class ({', '.join(GENERAL_CLASSES)}; SDTMIG 3.4 §2.6)")
    template = standards.dataset(spec.like or CLASS_TEMPLATE[spec.ig_class])
    template_class = ig_class(template.class_name, template.subclass)
    if template_class != spec.ig_class:
        raise StandardsError(f"custom domain {name}: like {template.name} is of class "
                             f"{template_class}, not {spec.ig_class}")
    shared = shared_codelists(standards) if shared is None else shared
    prefix = template.name
    variables = [_variable(var, prefix, name, shared) for var in template.variables]
    names = [v.name for v in variables]
    unknown = sorted(set(spec.labels) - set(names))
    if unknown:
        raise StandardsError(f"custom domain {name}: labels for {', '.join(unknown)}, which "
                             f"are not variables of the class (from {template.name}: "
                             f"{', '.join(names)})")
    variables = [v.model_copy(update={"label": spec.labels[v.name]}) if v.name in spec.labels
                 else v for v in variables]
    define_class, subclass = DEFINE_CLASS[spec.ig_class]
    try:
        return Dataset(name=name, label=spec.label, class_name=define_class, subclass=subclass,
                       structure=spec.structure or template.structure,
                       standard=template.standard,
                       keys=class_keys(spec.ig_class, name, names), variables=variables)
    except ValueError as exc:                   # a sponsor label over 40 characters
        raise StandardsError(f"custom domain {name}: {_first_error(exc)}") from None


def _variable(var: Variable, prefix: str, name: str, shared: set[str]) -> Variable:
    new_name = name + var.name[len(prefix):] if var.name.startswith(prefix) else var.name
    codelists = [c for c in var.codelists if c in shared]
    update: dict[str, object] = {
        "name": new_name,
        "codelist": codelists[0] if codelists else None,
        "extra_codelists": codelists[1:],
    }
    if var.name == "DOMAIN":
        update["value_list"] = [name]
    return var.model_copy(update=update)


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return str(errors()[0]["msg"]).removeprefix("Value error, ")
    return str(exc)


def with_custom_domains(standards: Standards, domains: list[CustomDomain]) -> Standards:
    """A copy of ``standards`` that also knows the study's custom domains."""
    if not domains:
        return standards
    shared = shared_codelists(standards)
    added = {spec.name: custom_dataset(standards, spec, shared) for spec in domains}
    merged = {**standards.datasets, **added}
    # validated models all: validating them again inside Standards re-runs their validators
    return Standards.model_construct(datasets=dict(sorted(merged.items())),
                                     codelists=standards.codelists, versions=standards.versions)


__all__ = ["CustomDomain", "custom_dataset", "shared_codelists", "with_custom_domains"]
