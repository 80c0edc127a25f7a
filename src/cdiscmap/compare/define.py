"""Compare two define.xml files: datasets, variables and codelists by OID.

Define-XML 2.1 identifies every object by its OID (ODM 1.3.2 §2.1), so two packages describe
the same variable when the OIDs match. Compared: ItemGroupDefs (name, label, structure,
class, the variables they list), ItemDefs (name, data type, length, significant digits,
display format, label, codelist, origin type), CodeLists (name, data type, coded values,
decodes). Objects present on one side only are listed as such. Any file-level difference
(dates, tool version) is not a difference of the data definition and is not compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cdiscmap.errors import InputDataError, display_path

__all__ = ["DefineDiff", "compare_defines", "read_define"]

_ODM = "http://www.cdisc.org/ns/odm/v1.3"
_DEF = "http://www.cdisc.org/ns/def/v2.1"
_DEF20 = "http://www.cdisc.org/ns/def/v2.0"


@dataclass(frozen=True)
class DefineDiff:
    element: str                 # ItemGroupDef | ItemDef | CodeList
    oid: str
    attribute: str               # "(only in BASE)", "(only in COMPARE)" or the attribute
    base: str
    compare: str


def _text(node: object) -> str:
    """TranslatedText of a Description (the first one)."""
    if node is None:
        return ""
    for child in node.iter(f"{{{_ODM}}}TranslatedText"):   # type: ignore[attr-defined]
        return (child.text or "").strip()
    return ""


def _def_attr(node: object, name: str) -> str:
    get = node.get  # type: ignore[attr-defined]
    return get(f"{{{_DEF}}}{name}") or get(f"{{{_DEF20}}}{name}") or ""


def read_define(path: Path) -> dict[str, dict[str, dict[str, str]]]:
    """``{element: {OID: {attribute: value}}}`` of a define.xml."""
    from lxml import etree

    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False,
                                                      no_network=True)).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise InputDataError(f"{display_path(path)}: not readable XML ({exc})") from None
    found: dict[str, dict[str, dict[str, str]]] = {"ItemGroupDef": {}, "ItemDef": {},
                                                    "CodeList": {}}
    for node in root.iter(f"{{{_ODM}}}ItemGroupDef"):
        refs = [ref.get("ItemOID", "") for ref in node.iter(f"{{{_ODM}}}ItemRef")]
        found["ItemGroupDef"][node.get("OID", "")] = {
            "Name": node.get("Name", ""), "Label": _text(node.find(f"{{{_ODM}}}Description")),
            "Structure": _def_attr(node, "Structure"),
            "Class": _def_attr(node, "Class") or " ".join(
                c.get("Name", "") for c in node.iter(f"{{{_DEF}}}Class")),
            "ItemRefs": " ".join(refs)}
    for node in root.iter(f"{{{_ODM}}}ItemDef"):
        codelist = node.find(f"{{{_ODM}}}CodeListRef")
        origin = node.find(f"{{{_DEF}}}Origin")
        found["ItemDef"][node.get("OID", "")] = {
            "Name": node.get("Name", ""), "DataType": node.get("DataType", ""),
            "Length": node.get("Length", ""),
            "SignificantDigits": node.get("SignificantDigits", ""),
            "DisplayFormat": _def_attr(node, "DisplayFormat"),
            "Label": _text(node.find(f"{{{_ODM}}}Description")),
            "CodeList": codelist.get("CodeListOID", "") if codelist is not None else "",
            "Origin": origin.get("Type", "") if origin is not None else ""}
    for node in root.iter(f"{{{_ODM}}}CodeList"):
        items = []
        for item in node:
            tag = etree.QName(item).localname
            if tag in ("CodeListItem", "EnumeratedItem"):
                decode = _text(item.find(f"{{{_ODM}}}Decode"))
                value = item.get("CodedValue", "")
                items.append(f"{value}={decode}" if decode else value)
        found["CodeList"][node.get("OID", "")] = {
            "Name": node.get("Name", ""), "DataType": node.get("DataType", ""),
            "Items": " | ".join(sorted(items))}
    return found


def compare_defines(base: Path, compare: Path) -> list[DefineDiff]:
    """Differences between two define.xml files, sorted by element, OID and attribute."""
    left, right = read_define(base), read_define(compare)
    diffs: list[DefineDiff] = []
    for element in ("ItemGroupDef", "ItemDef", "CodeList"):
        b, c = left[element], right[element]
        for oid in sorted(set(b) | set(c)):
            if oid not in c:
                diffs.append(DefineDiff(element, oid, "(only in BASE)", b[oid]["Name"], ""))
            elif oid not in b:
                diffs.append(DefineDiff(element, oid, "(only in COMPARE)", "", c[oid]["Name"]))
            else:
                for attribute in b[oid]:
                    if b[oid][attribute] != c[oid].get(attribute, ""):
                        diffs.append(DefineDiff(element, oid, attribute, b[oid][attribute],
                                                c[oid].get(attribute, "")))
    return diffs
