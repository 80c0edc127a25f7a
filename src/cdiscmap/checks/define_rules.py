"""Define-XML ↔ data: the define.xml of a package must describe exactly the files beside it.

Reads any Define-XML 2.0/2.1 document (ODM 1.3.2 elements; the def: namespace of either
version) with lxml, then compares each ItemGroupDef with the dataset file of the same name:
variables (ItemRef → ItemDef), lengths, labels and types. Only what the data can confirm is
compared: value-level metadata, methods and codelists are the define's own business, except the
values it declares as extensions of extensible codelists (def:ExtendedValue), which the schema
check accepts and which the data should use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from lxml import etree

from cdiscmap.checks.files import DatasetFile
from cdiscmap.checks.value_level import ValueRule
from cdiscmap.errors import InputDataError, display_path
from cdiscmap.findings import Finding, Severity

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

RULES: dict[str, tuple[Severity, str]] = {
    "CMAP-DF0001": (Severity.ERROR, "A dataset described in define.xml (ItemGroupDef) has no data "
                               "file in the folder"),
    "CMAP-DF0002": (Severity.ERROR, "A dataset file is not described by an ItemGroupDef of "
                               "define.xml"),
    "CMAP-DF0003": (Severity.ERROR, "A variable of the data has no ItemRef/ItemDef in its "
                               "ItemGroupDef"),
    "CMAP-DF0004": (Severity.ERROR, "A variable described in the ItemGroupDef is not in the data"),
    "CMAP-DF0005": (Severity.ERROR, "ItemDef Length differs from the variable's length in the file"),
    "CMAP-DF0006": (Severity.ERROR, "ItemDef Description differs from the variable label in the "
                               "file"),
    "CMAP-DF0007": (Severity.ERROR, "ItemGroupDef Description differs from the dataset label in the "
                               "file"),
    "CMAP-DF0008": (Severity.ERROR, "ItemDef DataType does not fit the variable's type in the file "
                               "(text vs numeric)"),
    "CMAP-DF0009": (Severity.ERROR, "An ItemRef points to no ItemDef (define.xml is inconsistent)"),
    "CMAP-DF0010": (Severity.NOTICE, "No define.xml applies to the dataset folder: define checks "
                                "not run"),
    "CMAP-DF0011": (Severity.ERROR, "The ItemGroupDef Domain of a SUPP-- dataset is not its parent "
                               "domain (SUPPAE: Domain AE)"),
    "CMAP-DF0012": (Severity.ERROR, "A Dataset-JSON studyOID or metaDataVersionOID differs from the "
                               "Study/MetaDataVersion OID of its define.xml"),
    "CMAP-DF0013": (Severity.WARNING, "A Dataset-JSON metaDataRef does not point at the define.xml "
                                 "that applies to it"),
    "CMAP-DF0014": (Severity.NOTICE, "A define.xml CodeList declares extended values "
                                "(def:ExtendedValue=\"Yes\") that no record of the variables "
                                "using it holds"),
}

# Define-XML 2.1 ItemDef DataType values: which XPT types each can be stored as. Numeric SAS
# dates are integer with a date DisplayFormat; date/time types may also be ISO 8601 text.
_NUMERIC_TYPES = frozenset({"integer", "float", "double", "decimal"})
_EITHER_TYPES = frozenset({"date", "datetime", "time"})


@dataclass(frozen=True)
class DefineVariable:
    """An ItemDef as referenced by one ItemGroupDef."""

    name: str
    oid: str
    label: str
    data_type: str
    length: int | None


@dataclass(frozen=True)
class DefineDataset:
    """An ItemGroupDef: its name, label, file (def:leaf href) and variables in ItemRef order."""

    name: str
    oid: str
    label: str
    href: str | None
    variables: tuple[DefineVariable, ...]
    broken_refs: tuple[str, ...] = ()    # ItemOIDs with no ItemDef
    domain: str | None = None            # ItemGroupDef/@Domain

    def variable(self, name: str) -> DefineVariable | None:
        return next((v for v in self.variables if v.name == name), None)


@dataclass(frozen=True)
class ExtendedList:
    """A define.xml CodeList that adds sponsor values to an extensible CT codelist."""

    oid: str
    values: frozenset[str]               # CodedValues with def:ExtendedValue="Yes"
    users: tuple[tuple[str, str], ...]   # (dataset, variable) whose values it describes


@dataclass(frozen=True)
class Define:
    """What a define.xml says about the datasets of its package."""

    path: Path
    datasets: dict[str, DefineDataset]
    study_oid: str = ""                  # Study/@OID
    mdv_oid: str = ""                    # MetaDataVersion/@OID
    # dataset → value-level codelist rules from ValueListDefs (EQ/IN where-clauses)
    value_rules: dict[str, list[ValueRule]] = field(default_factory=dict)
    # dataset → variable → the extended values of the CodeList its ItemDef references
    extended: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    extended_lists: tuple[ExtendedList, ...] = ()


def _text(element: etree._Element | None) -> str:
    """Description/TranslatedText, English first (Define-XML 2.1 allows several languages)."""
    if element is None:
        return ""
    texts = element.findall(f"{{{ODM_NS}}}TranslatedText")
    if not texts:
        return ""
    english = [t for t in texts if (t.get(XML_LANG) or "en").lower().startswith("en")]
    return ((english or texts)[0].text or "").strip()


def read_define(path: Path) -> Define:
    """Parse a define.xml; InputDataError when it is not a readable Define-XML document.

    The document comes from outside (any package given to ``validate``), so it is parsed
    XXE-safe: no entity is substituted, no DTD or network resource is loaded, and libxml2's
    entity amplification limit stops an entity bomb at once. A document that declares entities
    at all is refused, as defusedxml does: Define-XML needs none.
    """
    shown = display_path(path)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True)
    try:
        tree = etree.parse(str(path), parser)
    except (OSError, etree.XMLSyntaxError) as exc:
        raise InputDataError(f"{shown}: not a readable XML document ({exc})") from None
    dtd = tree.docinfo.internalDTD
    entities = [entity.name for entity in dtd.iterentities()] if dtd is not None else []
    if entities:
        raise InputDataError(f"{shown}: declares XML entities ({', '.join(entities[:3])}); a "
                             "define.xml has none and entities are refused (they can read "
                             "local files or expand without bound)")
    root = tree.getroot()
    mdv = root.find(f"{{{ODM_NS}}}Study/{{{ODM_NS}}}MetaDataVersion")
    if root.tag != f"{{{ODM_NS}}}ODM" or mdv is None:
        raise InputDataError(f"{shown}: not a Define-XML document (no ODM Study/"
                             "MetaDataVersion in the ODM 1.3 namespace)")
    item_defs = {}
    for item in mdv.iterfind(f"{{{ODM_NS}}}ItemDef"):
        length = item.get("Length")
        item_defs[item.get("OID", "")] = (item.get("Name", ""), item.get("DataType", ""),
                                          int(length) if length and length.isdigit() else None,
                                          _text(item.find(f"{{{ODM_NS}}}Description")))
    datasets: dict[str, DefineDataset] = {}
    for group in mdv.iterfind(f"{{{ODM_NS}}}ItemGroupDef"):
        name = (group.get("Name") or group.get("SASDatasetName") or "").upper()
        leaf = group.find("{*}leaf")            # def:leaf of Define-XML 2.0 or 2.1
        variables, broken = [], []
        for ref in group.iterfind(f"{{{ODM_NS}}}ItemRef"):
            oid = ref.get("ItemOID", "")
            if oid not in item_defs:
                broken.append(oid)
                continue
            var_name, data_type, length, label = item_defs[oid]
            variables.append(DefineVariable(var_name, oid, label, data_type, length))
        datasets[name] = DefineDataset(
            name=name, oid=group.get("OID", ""),
            label=_text(group.find(f"{{{ODM_NS}}}Description")),
            href=leaf.get(f"{{{XLINK_NS}}}href") if leaf is not None else None,
            variables=tuple(variables), broken_refs=tuple(broken), domain=group.get("Domain"))
    study = root.find(f"{{{ODM_NS}}}Study")
    extended, extended_lists = _extended(mdv, datasets)
    return Define(path=path, datasets=datasets, value_rules=_value_rules(mdv, datasets),
                  study_oid=study.get("OID", "") if study is not None else "",
                  mdv_oid=mdv.get("OID", ""), extended=extended, extended_lists=extended_lists)


def _extended(mdv: etree._Element, datasets: dict[str, DefineDataset]
              ) -> tuple[dict[str, dict[str, frozenset[str]]], tuple[ExtendedList, ...]]:
    """The sponsor values a define adds to extensible codelists, per variable and per list.

    Why: Define-XML 2.0/2.1 mark a term added to an extensible CT codelist with
    ``def:ExtendedValue="Yes"`` on its CodeListItem or EnumeratedItem; such a value is declared
    and expected, so it is no CMAP-SD0006 notice (:func:`expected_extended`). A list is used by
    the variables whose ItemDef references it, directly or in value-level metadata (then the
    ValueListDef's parent variable).
    """
    attributes = [f"{{http://www.cdisc.org/ns/def/v{v}}}ExtendedValue" for v in ("2.1", "2.0")]
    lists: dict[str, frozenset[str]] = {}
    for cl in mdv.iterfind(f"{{{ODM_NS}}}CodeList"):
        values = frozenset(e.get("CodedValue", "") for e in cl if e.tag in (
            f"{{{ODM_NS}}}CodeListItem", f"{{{ODM_NS}}}EnumeratedItem")
            and any(e.get(a) == "Yes" for a in attributes))
        if values:
            lists[cl.get("OID", "")] = values
    if not lists:
        return {}, ()
    code_of = {}
    for item in mdv.iterfind(f"{{{ODM_NS}}}ItemDef"):
        ref = item.find(f"{{{ODM_NS}}}CodeListRef")
        if ref is not None:
            code_of[item.get("OID", "")] = ref.get("CodeListOID", "")
    variable_of = {v.oid: (name, v.name) for name, d in datasets.items() for v in d.variables}
    by_variable: dict[str, dict[str, frozenset[str]]] = {}
    users: dict[str, list[tuple[str, str]]] = {}
    for oid, (name, variable) in variable_of.items():
        if code_of.get(oid) in lists:
            by_variable.setdefault(name, {})[variable] = lists[code_of[oid]]
            users.setdefault(code_of[oid], []).append((name, variable))
    owner = {ref.get("ValueListOID"): item.get("OID", "")
             for item in mdv.iterfind(f"{{{ODM_NS}}}ItemDef")
             for ref in item.iterfind("{*}ValueListRef")}
    for vl in mdv.iterfind("{*}ValueListDef"):
        parent = variable_of.get(owner.get(vl.get("OID"), ""))
        if parent is None:
            continue
        for ref in vl.iterfind(f"{{{ODM_NS}}}ItemRef"):
            oid = code_of.get(ref.get("ItemOID", ""))
            if oid in lists and parent not in users.setdefault(oid, []):
                users[oid].append(parent)
    return by_variable, tuple(ExtendedList(oid, lists[oid], tuple(users.get(oid, ())))
                              for oid in sorted(lists))


_SHOWN_VALUE = 60          # checks/schema.py shortens a value in a finding to 60 characters


def expected_extended(findings: list[Finding], extended: dict[str, frozenset[str]] | None
                      ) -> list[Finding]:
    """``findings`` of one dataset without the CMAP-SD0006 notices for values its define.xml
    declares as extended values of the variable's codelist (``Define.extended[dataset]``).

    Why: a sponsor term added to an extensible codelist and declared in define.xml is what
    SDTMIG 3.4 §4.3.3 allows, not a finding; a value in neither the CT nor the define's
    extended values still is. Schema findings name one variable and distinct value each, so
    dropping the declared ones is exact.
    """
    if not extended:
        return findings
    shown = {variable: {v if len(v) <= _SHOWN_VALUE else v[:_SHOWN_VALUE - 3] + "..."
                        for v in values} for variable, values in extended.items()}
    return [f for f in findings
            if not (f.rule == "CMAP-SD0006" and f.value in shown.get(f.variable, ()))]


def _value_rules(mdv: etree._Element, datasets: dict[str, DefineDataset]
                 ) -> dict[str, list[ValueRule]]:
    """ValueListDefs whose items carry a CodeListRef and an EQ/IN where-clause on one variable
    become value-level codelist rules (Define-XML 2.1 §5.3.x value-level metadata)."""
    from cdiscmap.standards import load_standards

    def_ns = mdv.nsmap.get("def", "http://www.cdisc.org/ns/def/v2.1")   # 2.1 (or 2.0)
    ns = {"odm": ODM_NS, "def": def_ns}
    names = {i.get("OID"): i.get("Name", "") for i in mdv.iterfind("odm:ItemDef", ns)}
    code_of = {i.get("OID"): (i.find("odm:CodeListRef", ns)) for i in mdv.iterfind("odm:ItemDef",
                                                                                    ns)}
    lists = {}
    for cl in mdv.iterfind("odm:CodeList", ns):
        values = [e.get("CodedValue", "") for e in cl if e.tag in (
            f"{{{ODM_NS}}}CodeListItem", f"{{{ODM_NS}}}EnumeratedItem")]
        lists[cl.get("OID")] = (cl.get("OID", "").removeprefix("CL."), frozenset(values))
    clauses = {}
    for wc in mdv.iterfind("def:WhereClauseDef", ns):
        checks = wc.findall("odm:RangeCheck", ns)
        if len(checks) == 1 and checks[0].get("Comparator") in ("EQ", "IN"):
            rc = checks[0]
            clauses[wc.get("OID")] = (names.get(rc.get(f"{{{def_ns}}}ItemOID"), ""),
                                      tuple((v.text or "") for v in rc.findall("odm:CheckValue",
                                                                               ns)))
    owner = {}
    for item in mdv.iterfind("odm:ItemDef", ns):
        ref = item.find("def:ValueListRef", ns)
        if ref is not None:
            owner[ref.get("ValueListOID")] = (item.get("OID"), item.get("Name", ""))
    dataset_of = {v.oid: name for name, d in datasets.items() for v in d.variables}
    standards = load_standards()
    rules: dict[str, list[ValueRule]] = {}
    for vl in mdv.iterfind("def:ValueListDef", ns):
        parent = owner.get(vl.get("OID"))
        if parent is None or parent[0] not in dataset_of:
            continue
        for ref in vl.iterfind("odm:ItemRef", ns):
            cl_ref = code_of.get(ref.get("ItemOID"))
            wc_ref = ref.find("def:WhereClauseRef", ns)
            if cl_ref is None or wc_ref is None or wc_ref.get("WhereClauseOID") not in clauses:
                continue
            name, allowed = lists.get(cl_ref.get("CodeListOID"), ("", frozenset()))
            where_var, where_values = clauses[wc_ref.get("WhereClauseOID")]
            known = standards.codelists.get(name)
            extensible = bool(known and (known.extensible or known.subset))
            rules.setdefault(dataset_of[parent[0]], []).append(
                ValueRule(parent[1], where_var, where_values, name, allowed, extensible))
    return rules


def _finding(rule: str, message: str, dataset: str, variable: str = "", value: str = "",
             source: str = "") -> Finding:
    return Finding(rule=rule, severity=RULES[rule][0], message=message, dataset=dataset,
                   variable=variable, value=value, source=source)


def check_define(define: Define, files: dict[str, DatasetFile], define_shown: str
                 ) -> list[Finding]:
    """Compare a define with the dataset files it governs (``files`` by dataset name)."""
    out: list[Finding] = []
    for name, described in sorted(define.datasets.items()):
        out += [_finding("CMAP-DF0009", f"ItemGroupDef {described.oid} refers to ItemDef {oid}, "
                                   "which define.xml does not hold", name, value=oid,
                         source=define_shown)
                for oid in described.broken_refs]
    for name in sorted(set(define.datasets) - set(files)):
        described = define.datasets[name]
        where = f" (def:leaf {described.href})" if described.href else ""
        out.append(_finding("CMAP-DF0001", f"define.xml describes {name}{where} but no file holds it",
                            name, source=define_shown))
    for name in sorted(set(files) - set(define.datasets)):
        out.append(_finding("CMAP-DF0002", f"{files[name].relpath} is not described in "
                                      f"{define_shown}", name, source=files[name].relpath))
    for name, described in sorted(define.datasets.items()):
        parent = name[4:]
        if name.startswith("SUPP") and parent and described.domain not in (None, parent):
            # Define-XML 2.1 §4.3.1 and its examples: a SUPP-- ItemGroupDef names the parent
            out.append(_finding("CMAP-DF0011", f"ItemGroupDef {name} has Domain "
                                          f"{described.domain!r}; a SUPP-- dataset's Domain is "
                                          f"its parent domain {parent!r}", name, "Domain",
                                described.domain or "", define_shown))
    for name in sorted(set(files) & set(define.datasets)):
        out += _compare_dataset(define.datasets[name], files[name], define_shown)
        out += _compare_header(define, files[name], define_shown)
    out += _unused_extended(define, files, define_shown)
    return out


def _unused_extended(define: Define, files: dict[str, DatasetFile], define_shown: str
                     ) -> list[Finding]:
    """CMAP-DF0014: extended values no record uses, one notice per CodeList (a define copied
    from another study, or a term the mapping no longer writes). Lists whose variables are not
    in the folder are skipped: CMAP-DF0001/DF0004 say so already."""
    out = []
    for listed in define.extended_lists:
        present = [(d, v) for d, v in listed.users if d in files and v in files[d].frame]
        if not present:
            continue
        unused = set(listed.values)
        for dataset, variable in present:
            unused -= _used(files[dataset].frame[variable], unused)
        if not unused:
            continue
        values = sorted(unused)
        more = f" and {len(values) - 5} more" if len(values) > 5 else ""
        where = ", ".join(f"{d}.{v}" for d, v in present)
        dataset, variable = present[0]
        out.append(Finding("CMAP-DF0014", RULES["CMAP-DF0014"][0],
                           f"CodeList {listed.oid} declares extended values no record of "
                           f"{where} holds: {', '.join(values[:5])}{more}", dataset, "",
                           variable, values[0], define_shown, len(values)))
    return out


def _used(column: pd.Series, values: set[str]) -> set[str]:
    """Which of ``values`` the column holds (numbers compared as numbers: "0.50" is 0.5)."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        wanted = pd.Series(sorted(values), dtype="string")
        numbers = pd.to_numeric(wanted, errors="coerce")
        return set(wanted[numbers.isin(column.dropna().unique()).to_numpy()])
    held = set(column.dropna().astype("string").unique())
    return values & held


def _compare_header(define: Define, data: DatasetFile, define_shown: str) -> list[Finding]:
    """A Dataset-JSON file names the metadata that describes it (Dataset-JSON v1.1 studyOID,
    metaDataVersionOID, metaDataRef): they must be those of the define.xml that applies."""
    if data.format != "json" and not data.header_relpath:
        return []
    shown = data.header_relpath or data.relpath
    out = []
    for attribute, found, expected in (("studyOID", data.study_oid, define.study_oid),
                                       ("metaDataVersionOID", data.metadata_version_oid,
                                        define.mdv_oid)):
        if expected and found != expected:
            out.append(_finding("CMAP-DF0012", f"{attribute} is {found!r} in {shown}, "
                                          f"{expected!r} in {define_shown}", data.name,
                                attribute, str(found or ""), shown))
    if data.metadata_ref is not None:
        try:
            same = ("://" not in data.metadata_ref and (data.path.parent / data.metadata_ref)
                    .resolve() == define.path.resolve())
        except (OSError, ValueError):      # a reference no file system can hold
            same = False
        if not same:
            out.append(_finding("CMAP-DF0013", f"metaDataRef is {data.metadata_ref!r} in "
                                          f"{shown}, but {define_shown} applies to it",
                                data.name, "metaDataRef", data.metadata_ref, shown))
    return out


def _compare_dataset(described: DefineDataset, data: DatasetFile, define_shown: str
                     ) -> list[Finding]:
    name = data.name
    out: list[Finding] = []
    if described.label != data.label:
        out.append(_finding("CMAP-DF0007", f"dataset label is {data.label!r} in the file, "
                                      f"{described.label!r} in define.xml", name,
                            value=data.label, source=data.relpath))
    present = {v.name for v in data.variables}
    for var in described.variables:
        if var.name not in present:
            out.append(_finding("CMAP-DF0004", f"define.xml lists {var.name} ({var.oid}) but "
                                          f"{data.relpath} has no such variable", name,
                                var.name, source=define_shown))
    for var in data.variables:
        item = described.variable(var.name)
        if item is None:
            out.append(_finding("CMAP-DF0003", f"{var.name} is in {data.relpath} but not in the "
                                          f"ItemGroupDef of {name}", name, var.name,
                                source=data.relpath))
            continue
        if item.label != var.label:
            out.append(_finding("CMAP-DF0006", f"{var.name} label is {var.label!r} in the file, "
                                          f"{item.label!r} in define.xml", name, var.name,
                                var.label, data.relpath))
        numeric_item = item.data_type in _NUMERIC_TYPES
        text_item = item.data_type not in _NUMERIC_TYPES | _EITHER_TYPES
        if (var.type == "num" and text_item) or (var.type == "char" and numeric_item):
            out.append(_finding("CMAP-DF0008", f"{var.name} is {var.type} in the file but "
                                          f"DataType {item.data_type!r} in define.xml", name,
                                var.name, item.data_type, data.relpath))
        elif (var.type == "char" and item.length is not None and var.length is not None
              and item.length != var.length):
            # Define-XML 2.1 ItemDef/@Length: the storage length of text values; numeric
            # Lengths count digits, not the 8 bytes of an XPT double, so only text compares.
            out.append(_finding("CMAP-DF0005", f"{var.name} has length {var.length} in the file, "
                                          f"Length {item.length} in define.xml", name,
                                var.name, str(item.length), data.relpath))
    return out


__all__ = ["RULES", "Define", "DefineDataset", "DefineVariable", "ExtendedList", "check_define",
           "expected_extended", "read_define"]
