"""The metadata of one define.xml, assembled and ordered, before it becomes XML.

``cdiscmap.emit.define`` builds a :class:`DefineModel` from the standard metadata, the study's
mapping specs and the written frames, then renders it. Keeping the assembled metadata as plain
frozen dataclasses lets tests check what a define says without parsing XML, and makes the
renderer a straight walk with no decisions left in it.

Element and attribute names in the comments are those of Define-XML 2.1 (ODM 1.3.2 plus the
``def:`` extensions).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StandardRef:
    """def:Standard: an implementation guide or a controlled terminology release."""

    oid: str
    name: str                       # "SDTMIG", "ADaMIG", "CDISC/NCI"
    type: str                       # "IG" or "CT"
    version: str
    publishing_set: str | None = None   # CT only: "SDTM", "ADaM"
    status: str = "Final"


@dataclass(frozen=True)
class Origin:
    """def:Origin of a variable or a value-level item."""

    type: str                       # Collected, Derived, Assigned, Protocol, Predecessor
    source: str | None = None       # Investigator, Sponsor, Subject, Vendor
    description: str | None = None  # e.g. "DM.AGE" for a predecessor


@dataclass(frozen=True)
class ItemRef:
    """ItemRef: one variable in a dataset, or one value-level item in a value list."""

    item_oid: str
    order: int
    mandatory: bool
    key_sequence: int | None = None
    method_oid: str | None = None
    role: str | None = None
    has_no_data: bool = False
    where_clause_oid: str | None = None     # value-level items only


@dataclass(frozen=True)
class ItemDef:
    """ItemDef: a variable (OID IT.<DS>.<VAR>) or a value-level item (IT.<DS>.<VAR>.<...>)."""

    oid: str
    name: str
    data_type: str
    label: str | None = None
    length: int | None = None
    significant_digits: int | None = None
    display_format: str | None = None
    sas_name: str | None = None
    codelist_oid: str | None = None
    origins: tuple[Origin, ...] = ()
    comment_oid: str | None = None
    value_list_oid: str | None = None


@dataclass(frozen=True)
class ItemGroup:
    """ItemGroupDef: one dataset, its variables in file order and where its XPT file lives."""

    oid: str
    name: str
    label: str
    purpose: str                    # Tabulation / Analysis
    repeating: bool
    structure: str
    class_name: str
    standard_oid: str
    leaf_id: str
    href: str
    items: tuple[ItemRef, ...]
    domain: str | None = None       # SDTM only
    subclass: str | None = None


@dataclass(frozen=True)
class RangeCheck:
    """One condition of a where clause: variable, comparator, values."""

    item_oid: str
    comparator: str                 # EQ, NE, IN, NOTIN
    values: tuple[str, ...]


@dataclass(frozen=True)
class WhereClause:
    """def:WhereClauseDef: all its range checks must hold."""

    oid: str
    checks: tuple[RangeCheck, ...]


@dataclass(frozen=True)
class ValueList:
    """def:ValueListDef: the value-level items of one variable, each with its where clause."""

    oid: str
    items: tuple[ItemRef, ...]


@dataclass(frozen=True)
class Term:
    """A CodeListItem / EnumeratedItem."""

    value: str
    code: str | None = None         # NCI C-code (Alias Context="nci:ExtCodeID")
    decode: str | None = None
    extended: bool = False          # def:ExtendedValue="Yes": sponsor value in extensible CT


@dataclass(frozen=True)
class CodeList:
    """CodeList: listed terms, or an external dictionary (MedDRA, ISO 3166)."""

    oid: str
    name: str
    data_type: str
    code: str | None = None         # NCI C-code of the codelist
    standard_oid: str | None = None
    terms: tuple[Term, ...] = ()
    decoded: bool = False           # CodeListItem + Decode (else EnumeratedItem)
    dictionary: str | None = None   # ExternalCodeList
    version: str | None = None


@dataclass(frozen=True)
class Method:
    """MethodDef (Type Computation or Imputation)."""

    oid: str
    name: str
    description: str
    type: str = "Computation"


@dataclass(frozen=True)
class Comment:
    """def:CommentDef."""

    oid: str
    description: str


@dataclass(frozen=True)
class DefineModel:
    """Everything one define.xml states, in output order."""

    file_oid: str
    created: str                    # ISO 8601, from the caller (never the clock)
    study_oid: str
    study_name: str
    study_description: str
    protocol_name: str
    mdv_oid: str
    mdv_name: str
    mdv_description: str
    standards: tuple[StandardRef, ...]
    item_groups: tuple[ItemGroup, ...]
    item_defs: tuple[ItemDef, ...]
    value_lists: tuple[ValueList, ...] = ()
    where_clauses: tuple[WhereClause, ...] = ()
    codelists: tuple[CodeList, ...] = ()
    methods: tuple[Method, ...] = ()
    comments: tuple[Comment, ...] = ()
    notes: tuple[str, ...] = field(default=())   # what could not be derived (for the report)

    def item_def(self, oid: str) -> ItemDef:
        """The ItemDef with this OID (KeyError if absent)."""
        for item in self.item_defs:
            if item.oid == oid:
                return item
        raise KeyError(oid)

    def item_group(self, name: str) -> ItemGroup:
        for group in self.item_groups:
            if group.name == name:
                return group
        raise KeyError(name)
