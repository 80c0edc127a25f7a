"""Typed standard metadata: datasets, variables and codelists as loaded from ``specs/``.

These objects are the one source of truth every other module reads (mapping engine, checks,
XPT writer, define.xml). They are immutable: a study that needs its own codelists gets a new
``Standards`` from :meth:`Standards.with_codelists`, never a mutated shared one.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cdiscmap.errors import StandardsError

# SDTMIG 3.4 §4.1.5 (Req/Exp/Perm); ADaMIG 1.3 adds Cond (required under a condition).
CORE_VALUES = ("Req", "Exp", "Perm", "Cond")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Term(_Frozen):
    """One permissible value of a codelist: submission value, NCI C-code and decode."""

    value: str
    code: str | None = None
    decode: str | None = None
    extended: bool = False      # a study's addition to an extensible CT codelist (extends:)


class Codelist(_Frozen):
    """A codelist: CDISC CT (with NCI codes), a sponsor list, or an external dictionary."""

    name: str                                   # submission short name, e.g. "SEX"
    code: str | None = None                     # NCI C-code of the codelist
    label: str                                  # codelist name, e.g. "Sex"
    extensible: bool
    data_type: Literal["text", "integer", "float"] = "text"
    terms: list[Term] = Field(default_factory=list)
    source: str                                 # "SDTM CT 2025-03-28", "sponsor", ...
    subset: bool = False                        # terms are a documented part of the codelist
    note: str | None = None                     # why a subset, in one sentence
    external: bool = False                      # MedDRA / ISO 3166: a dictionary, no terms
    dictionary: str | None = None
    version: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Codelist:
        if self.external and self.terms:
            raise ValueError(f"external dictionary {self.name} cannot list terms")
        if self.external and not self.dictionary:
            raise ValueError(f"external dictionary {self.name} needs a dictionary name")
        values = [t.value for t in self.terms]
        if len(values) != len(set(values)):
            raise ValueError(f"codelist {self.name} lists a term twice")
        return self

    def values(self) -> set[str]:
        """The submission values, for membership checks."""
        return {t.value for t in self.terms}

    @property
    def checkable(self) -> bool:
        """Whether values can be checked against the terms (not a dictionary, terms present)."""
        return not self.external and bool(self.terms)


class Variable(_Frozen):
    """One variable of a dataset, with the attributes define.xml and the checks need."""

    name: str
    label: str
    data_type: Literal["Char", "Num"] = Field(alias="type")
    core: str
    role: str | None = None
    order: int
    codelist: str | None = None                 # main codelist short name
    extra_codelists: list[str] = Field(default_factory=list)   # further IG codelists
    value_domain: str | None = None             # "ISO 8601 datetime or interval", "MedDRA", ...
    value_list: list[str] | None = None         # values the IG fixes (DOMAIN = "AE", flags Y/N)
    display_format: str | None = None           # SAS display format, e.g. "DATE9."
    sponsor: bool = False                       # not in the IG: defined by the sponsor

    @model_validator(mode="after")
    def _consistent(self) -> Variable:
        if self.core not in CORE_VALUES:
            raise ValueError(f"{self.name}: core {self.core!r} is not one of {CORE_VALUES}")
        if self.extra_codelists and not self.codelist:
            raise ValueError(f"{self.name}: extra_codelists without a codelist")
        if len(self.label) > 40:
            # SDTMIG 3.4 §4.2.1: variable labels are at most 40 characters (XPT v5 limit).
            raise ValueError(f"{self.name}: label longer than 40 characters")
        return self

    @property
    def codelists(self) -> list[str]:
        """Every codelist the IG names for the variable, main one first."""
        return [self.codelist, *self.extra_codelists] if self.codelist else []


class Dataset(_Frozen):
    """A dataset's metadata: identity, class, natural keys and variables in IG order."""

    name: str
    label: str
    class_name: str = Field(alias="class")
    subclass: str | None = None
    structure: str
    standard: str                               # "SDTMIG 3.4" / "ADaMIG 1.3"
    keys: list[str]
    variables: list[Variable]

    @model_validator(mode="after")
    def _consistent(self) -> Dataset:
        names = [v.name for v in self.variables]
        duplicated = sorted(n for n, k in Counter(names).items() if k > 1)
        if duplicated:
            raise ValueError(f"{self.name}: variables listed twice: {duplicated}")
        orders = [v.order for v in self.variables]
        if orders != sorted(orders) or len(set(orders)) != len(orders):
            raise ValueError(f"{self.name}: variable order numbers must be unique and ascending")
        unknown = [k for k in self.keys if k not in names]
        if unknown:
            raise ValueError(f"{self.name}: keys {unknown} are not variables of the dataset")
        return self

    def names(self) -> list[str]:
        """Variable names in dataset order."""
        return [v.name for v in self.variables]

    def variable(self, name: str) -> Variable:
        for var in self.variables:
            if var.name == name:
                return var
        raise StandardsError(
            f"{self.standard} dataset {self.name} has no variable {name}; "
            f"its variables are {', '.join(self.names())}"
        )


class Standards(_Frozen):
    """Every dataset and codelist of the standards in force, with their versions."""

    datasets: dict[str, Dataset]
    codelists: dict[str, Codelist]
    versions: dict[str, str]                    # e.g. {"SDTMIG": "3.4", "SDTM CT": "2025-03-28"}

    def dataset(self, name: str) -> Dataset:
        try:
            return self.datasets[name]
        except KeyError:
            raise StandardsError(
                f"no standard metadata for dataset {name!r}; "
                f"known datasets: {', '.join(sorted(self.datasets))}"
            ) from None

    def codelist(self, name: str) -> Codelist:
        try:
            return self.codelists[name]
        except KeyError:
            raise StandardsError(
                f"no codelist {name!r} in the standards or the study; "
                f"known codelists: {', '.join(sorted(self.codelists))}"
            ) from None

    def with_codelists(self, extra: dict[str, Codelist]) -> Standards:
        """A copy with study-level codelists added; a study list replaces a standard one.

        Every part is a validated model already (checked here for the added codelists), so
        the copy is assembled without validating the ~230 datasets and codelists again (7 ms
        of every run)."""
        for key, codelist in extra.items():
            if not isinstance(codelist, Codelist):
                raise TypeError(f"study codelist {key!r} is a {type(codelist).__name__}, "
                                "not a Codelist")
            if key != codelist.name:
                raise StandardsError(
                    f"study codelist filed under {key!r} is named {codelist.name!r}"
                )
        merged = {**self.codelists, **extra}
        return Standards.model_construct(datasets=self.datasets,
                                         codelists=dict(sorted(merged.items())),
                                         versions=self.versions)
