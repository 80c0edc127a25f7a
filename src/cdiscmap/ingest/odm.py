"""CDISC ODM-XML 1.3 / 2.0 ClinicalData (the standard EDC export) → one text frame per item group.

Why a reader of its own: an ODM export is one XML file holding every form of every subject, keyed
by its hierarchy (ODM 1.3.2 §2.5 / ODM 2.0 §3.4: SubjectData → StudyEventData → FormData (1.3
only) → ItemGroupData → ItemData), with audit transactions and the coded values' decodes in the
MetaData. A study.yaml form names one ItemGroupOID; its records become rows:

- key columns ``SubjectKey``, ``StudyEventOID``, ``StudyEventRepeatKey``, ``FormOID``,
  ``FormRepeatKey``, ``ItemGroupRepeatKey`` (ODM 2.0 has no FormData: the form is the outermost
  ItemGroupData under the StudyEventData, so ``FormOID``/``FormRepeatKey`` name that one), plus
  ``LocationOID`` (SubjectData/SiteRef) when the file has it;
- one column per item: the ItemDef ``Name`` when the MetaData gives one (unique within the item
  group and not a key column name), else the ItemOID. Items declared by the ItemGroupDef but never
  collected are present as empty columns, so a spec can name them;
- an item with a CodeListRef whose CodeList has decodes keeps its coded value and gains a
  ``<COLUMN>_DECODE`` column (CodeListItem/Decode/TranslatedText, English or unlabelled text
  first); a coded value absent from the codelist has no decode;
- values are text (``ItemData/@Value`` in 1.3, the typed ``ItemDataString``… text of the 1.3.2
  extension, ``ItemData/Value`` in 2.0, several 2.0 values joined by ``"; "``); ``IsNull="Yes"``
  or an ItemData ``TransactionType="Remove"`` gives a missing value.

Audit removals (``TransactionType="Remove"`` on SubjectData, StudyEventData, FormData or
ItemGroupData): every record inside the removed element, and every record of the same key
written earlier in the file (an earlier Insert/Update of what is now removed), is not a row of the
frame; it is returned as a pre-dropped row with its reason, so the run's accounting still shows
read = used + dropped. ``_SRCROW`` of a record is its ordinal among the item group's
ItemGroupData elements in document order (removed ones included), so lineage points at the n-th
``IG.X`` record of the file.

The XML is parsed without entity resolution, DTD loading or network access (XXE-safe); one
pass over ClinicalData collects records and cells into lists, and frames are built from those in
bulk (pivot), never cell by cell. A parsed file is cached (by path, size and mtime) so that many
forms read from one export parse it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from lxml import etree

from cdiscmap.errors import InputDataError, display_path

NAMESPACES = {"http://www.cdisc.org/ns/odm/v1.3": "1.3", "http://www.cdisc.org/ns/odm/v2.0": "2.0"}
KEY_COLUMNS = ["SubjectKey", "StudyEventOID", "StudyEventRepeatKey", "FormOID", "FormRepeatKey",
               "ItemGroupRepeatKey"]
DECODE_SUFFIX = "_DECODE"
# ODM 1.3.2 ItemDataStar: typed ItemData elements carrying the value as text
_TYPED_ITEMS = ["ItemDataAny", "ItemDataString", "ItemDataInteger", "ItemDataFloat",
                "ItemDataDate", "ItemDataTime", "ItemDataDatetime", "ItemDataBoolean",
                "ItemDataHexBinary", "ItemDataBase64Binary", "ItemDataHexFloat",
                "ItemDataBase64Float", "ItemDataPartialDate", "ItemDataPartialTime",
                "ItemDataPartialDatetime", "ItemDataDurationDatetime",
                "ItemDataIntervalDatetime", "ItemDataIncompleteDatetime", "ItemDataIncompleteDate",
                "ItemDataIncompleteTime", "ItemDataURI", "ItemDataDouble"]
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# key columns that identify an element at each level where a Remove can stand
_LEVEL_KEYS = {
    "SubjectData": ["SubjectKey"],
    "StudyEventData": ["SubjectKey", "StudyEventOID", "StudyEventRepeatKey"],
    "FormData": ["SubjectKey", "StudyEventOID", "StudyEventRepeatKey", "FormOID",
                 "FormRepeatKey"],
    "ItemGroupData": ["SubjectKey", "StudyEventOID", "StudyEventRepeatKey", "FormOID",
                      "FormRepeatKey", "ItemGroupOID", "ItemGroupRepeatKey"],
}


def safe_parser() -> etree.XMLParser:
    """The only parser used for ODM: no entity expansion, no DTD, no network (XXE-safe)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                           load_dtd=False, dtd_validation=False, remove_comments=True)


@dataclass
class _Metadata:
    item_order: dict[str, list[str]] = field(default_factory=dict)   # ItemGroupOID → ItemOIDs
    item_name: dict[str, str] = field(default_factory=dict)          # ItemOID → ItemDef Name
    item_codelist: dict[str, str] = field(default_factory=dict)      # ItemOID → CodeListOID
    decodes: dict[str, dict[str, str]] = field(default_factory=dict)  # CodeListOID → coded → text


@dataclass
class OdmFile:
    """One parsed ODM file: every ItemGroupData record and every ItemData cell, as tables."""

    version: str
    records: pd.DataFrame     # one row per ItemGroupData record (document order), keys + reason
    cells: pd.DataFrame       # _REC (record position), ItemOID, Value
    meta: _Metadata

    def item_groups(self) -> list[str]:
        seen = list(dict.fromkeys(self.records["ItemGroupOID"].tolist()))
        return seen + sorted(set(self.meta.item_order) - set(seen))


def read_odm(path: Path, item_group: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The records of one item group: (frame with ``_SRCROW``, pre-dropped rows).

    The second frame has ``_SRCROW`` and ``reason`` of the records that audit removals took out.
    """
    odm = parse_odm(path)
    recs = odm.records
    ordinal = recs.groupby("ItemGroupOID", sort=False).cumcount().to_numpy() + 1
    mine = (recs["ItemGroupOID"] == item_group).to_numpy()
    if not mine.any() and item_group not in odm.meta.item_order:
        known = odm.item_groups()
        raise InputDataError(f"{display_path(path)}: no ItemGroupData or ItemGroupDef with "
                             f"ItemGroupOID '{item_group}' (item groups: "
                             f"{', '.join(known[:30]) or 'none'})")
    ig = recs.loc[mine].assign(_SRCROW=ordinal[mine])
    removed = ig["_REASON"].notna()
    dropped = pd.DataFrame({"_SRCROW": ig.loc[removed, "_SRCROW"].astype("int64").to_numpy(),
                            "reason": ig.loc[removed, "_REASON"].astype(str).to_numpy()})
    kept = ig.loc[~removed]

    key_cols = [c for c in KEY_COLUMNS if c in kept.columns]
    if "LocationOID" in recs.columns and recs["LocationOID"].notna().any():
        key_cols.append("LocationOID")
    frame = kept[key_cols].reset_index(drop=True).astype("string")

    cells = odm.cells[odm.cells["_REC"].isin(kept.index)]
    order = list(odm.meta.item_order.get(item_group, []))
    order += [i for i in pd.unique(cells["ItemOID"]) if i not in set(order)]
    if len(cells):
        wide = (cells.drop_duplicates(["_REC", "ItemOID"], keep="last")
                .pivot(index="_REC", columns="ItemOID", values="Value"))
        wide = wide.reindex(index=kept.index, columns=order)
    else:
        wide = pd.DataFrame(index=kept.index, columns=order, dtype="object")
    names = _column_names(order, odm.meta, set(key_cols))
    for oid in order:
        col = names[oid]
        values = pd.Series(wide[oid].to_numpy(), dtype="string")
        frame[col] = values
        decode = odm.meta.decodes.get(odm.meta.item_codelist.get(oid, ""), {})
        if decode and col + DECODE_SUFFIX not in names.values():
            frame[col + DECODE_SUFFIX] = values.map(decode, na_action="ignore").astype("string")
    frame["_SRCROW"] = kept["_SRCROW"].astype("int64").to_numpy()
    return frame, dropped


def _column_names(order: list[str], meta: _Metadata, taken: set[str]) -> dict[str, str]:
    """ItemDef Name where it is unique within the group and no key column; else the ItemOID."""
    wanted = {oid: meta.item_name.get(oid) or oid for oid in order}
    counts = pd.Series(list(wanted.values()), dtype="object").value_counts()
    names = {}
    for oid, name in wanted.items():
        names[oid] = name if counts[name] == 1 and name not in taken else oid
    return names


def parse_odm(path: Path) -> OdmFile:
    """Parse (or take from the cache) an ODM file's ClinicalData and MetaData."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InputDataError(f"{display_path(path)}: cannot read: {exc.strerror}") from None
    return _parse_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=2)
def _parse_cached(path: str, size: int, mtime_ns: int) -> OdmFile:
    shown = display_path(path)
    try:
        root = etree.parse(path, safe_parser()).getroot()
    except etree.XMLSyntaxError as exc:
        raise InputDataError(f"{shown}: not well-formed XML: {exc}") from None
    except OSError as exc:
        raise InputDataError(f"{shown}: cannot read: {exc}") from None
    qname = etree.QName(root)
    if qname.localname != "ODM":
        raise InputDataError(f"{shown}: root element is <{qname.localname}>, not an ODM file")
    ns = qname.namespace or ""
    if ns and ns not in NAMESPACES:
        raise InputDataError(f"{shown}: unknown ODM namespace '{ns}' (supported: "
                             f"{', '.join(NAMESPACES)})")
    version = NAMESPACES.get(ns, "1.3")
    walker = _Walker(ns)
    meta = _read_metadata(root, walker.q)
    for clinical in root.iterchildren(walker.q("ClinicalData")):
        walker.clinical(clinical)
    return OdmFile(version=version, records=walker.records_frame(), cells=walker.cells_frame(),
                   meta=meta)


def _read_metadata(root: etree._Element, q) -> _Metadata:
    """ItemGroupDef item order, ItemDef names and codelists, CodeList decodes (all versions)."""
    meta = _Metadata()
    for mdv in root.iter(q("MetaDataVersion")):
        for igd in mdv.iterchildren(q("ItemGroupDef")):
            refs = [(r.get("OrderNumber"), i, r.get("ItemOID"))
                    for i, r in enumerate(igd.iterchildren(q("ItemRef")))]
            refs.sort(key=lambda t: (int(t[0]) if (t[0] or "").isdigit() else 10**9, t[1]))
            meta.item_order[igd.get("OID", "")] = [oid for _, _, oid in refs if oid]
        for item in mdv.iterchildren(q("ItemDef")):
            oid = item.get("OID", "")
            if item.get("Name"):
                meta.item_name[oid] = item.get("Name", "")
            ref = item.find(q("CodeListRef"))
            if ref is not None and ref.get("CodeListOID"):
                meta.item_codelist[oid] = ref.get("CodeListOID", "")
        for cl in mdv.iterchildren(q("CodeList")):
            table: dict[str, str] = {}
            for cli in cl.iterchildren(q("CodeListItem")):
                texts = cli.findall(f"{q('Decode')}/{q('TranslatedText')}")
                if not texts:
                    continue
                best = min(texts, key=lambda t: 0 if (t.get(_XML_LANG) or "en")
                           .lower().startswith("en") else 1)
                table[cli.get("CodedValue", "")] = "".join(best.itertext()).strip()
            if table:
                meta.decodes[cl.get("OID", "")] = table
    return meta


class _Walker:
    """One pass over ClinicalData collecting records and cells into plain lists."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.rec: dict[str, list] = {k: [] for k in [*KEY_COLUMNS, "ItemGroupOID",
                                                     "LocationOID", "_REASON"]}
        self.cell_rec: list[int] = []
        self.cell_item: list[str] = []
        self.cell_value: list[str | None] = []
        self.removals: list[tuple[str, tuple, int]] = []   # level, key, records written before
        self.tag_igd = self.q("ItemGroupData")
        self.tag_id = self.q("ItemData")
        self.tag_value = self.q("Value")
        self.prefix_typed = self.q("ItemData")   # 1.3.2 typed ItemDataString, ItemDataDate...
        # set per ClinicalData by one XPath each, so the common case (plain ItemData with a
        # Value attribute, no item-level Remove) takes the fast path below
        self.typed = False
        self.item_removes = False

    def q(self, local: str) -> str:
        return f"{{{self.ns}}}{local}" if self.ns else local

    def clinical(self, clinical: etree._Element) -> None:
        self.typed = next(clinical.iter(*(self.q(t) for t in _TYPED_ITEMS)), None) is not None
        path = ".//o:ItemData[@TransactionType = 'Remove']" if self.ns else \
            ".//ItemData[@TransactionType = 'Remove']"
        self.item_removes = bool(clinical.xpath(f"boolean({path})", namespaces={"o": self.ns}
                                                if self.ns else None))
        for subj in clinical.iterchildren(self.q("SubjectData")):
            sk = subj.get("SubjectKey")
            site = subj.find(self.q("SiteRef"))
            loc = site.get("LocationOID") if site is not None else None
            gone = "SubjectData" if subj.get("TransactionType") == "Remove" else None
            for ev in subj.iterchildren(self.q("StudyEventData")):
                ev_keys = (sk, ev.get("StudyEventOID"), ev.get("StudyEventRepeatKey"))
                ev_gone = gone or ("StudyEventData" if ev.get("TransactionType") == "Remove"
                                   else None)
                for child in ev.iterchildren(self.q("FormData"), self.tag_igd):
                    if child.tag == self.tag_igd:     # ODM 2.0: the outer item group is the form
                        form = (child.get("ItemGroupOID"), child.get("ItemGroupRepeatKey"))
                        f_gone = ev_gone or ("ItemGroupData"
                                             if child.get("TransactionType") == "Remove" else None)
                        self.item_group(child, (*ev_keys, *form), loc, f_gone, outer=True)
                    else:
                        form = (child.get("FormOID"), child.get("FormRepeatKey"))
                        f_gone = ev_gone or ("FormData" if child.get("TransactionType") ==
                                             "Remove" else None)
                        for igd in child.iterchildren(self.tag_igd):
                            self.item_group(igd, (*ev_keys, *form), loc, f_gone, outer=False)
                    if child.get("TransactionType") == "Remove":    # by its form-level key
                        self.removals.append(("FormData", (*ev_keys, *form), self.n_records))
                if ev.get("TransactionType") == "Remove":
                    self.removals.append(("StudyEventData", ev_keys, self.n_records))
            if gone:
                self.removals.append(("SubjectData", (sk,), self.n_records))

    @property
    def n_records(self) -> int:
        return len(self.rec["_REASON"])

    def item_group(self, igd: etree._Element, form_keys: tuple, loc: str | None,
                   gone: str | None, outer: bool) -> None:
        own_remove = igd.get("TransactionType") == "Remove"
        gone = gone or ("ItemGroupData" if own_remove else None)
        nested = igd.findall(self.tag_igd)
        for child in nested:
            self.item_group(child, form_keys, loc, gone, outer=False)
        if self.typed:
            items = [c for c in igd if isinstance(c.tag, str) and
                     c.tag.startswith(self.prefix_typed)]
        else:
            items = igd.findall(self.tag_id)
        if items or not nested:     # a pure 2.0 container (only nested groups) is no record
            self._record(igd, form_keys, loc, gone, items)
        if own_remove and not outer:
            self.removals.append(("ItemGroupData", (*form_keys, igd.get("ItemGroupOID"),
                                                    igd.get("ItemGroupRepeatKey")),
                                  self.n_records))

    def _record(self, igd: etree._Element, form_keys: tuple, loc: str | None,
                gone: str | None, items: list[etree._Element]) -> None:
        pos = self.n_records
        r = self.rec
        r["SubjectKey"].append(form_keys[0])
        r["StudyEventOID"].append(form_keys[1])
        r["StudyEventRepeatKey"].append(form_keys[2])
        r["FormOID"].append(form_keys[3])
        r["FormRepeatKey"].append(form_keys[4])
        r["ItemGroupOID"].append(igd.get("ItemGroupOID"))
        r["ItemGroupRepeatKey"].append(igd.get("ItemGroupRepeatKey"))
        r["LocationOID"].append(loc)
        r["_REASON"].append(gone)
        if not items:
            return
        values = [item.get("Value") for item in items]
        if None in values or self.item_removes or self.typed:
            values = [self._value(item) for item in items]
        self.cell_rec.extend([pos] * len(items))
        self.cell_item.extend([item.get("ItemOID", "") for item in items])
        self.cell_value.extend(values)

    def _value(self, item: etree._Element) -> str | None:
        if item.get("IsNull") == "Yes" or item.get("TransactionType") == "Remove":
            return None
        value = item.get("Value")
        if value is not None:
            return value
        values = [("".join(v.itertext())) for v in item.iterchildren(self.tag_value)]
        if values:
            return "; ".join(values)
        return "".join(item.itertext()) if item.tag != self.tag_id else None

    def records_frame(self) -> pd.DataFrame:
        recs = pd.DataFrame(self.rec, dtype="object")
        recs["_REASON"] = recs["_REASON"].map(
            {lvl: f"ODM audit: TransactionType=Remove on {lvl}" for lvl in _LEVEL_KEYS})
        self._apply_removals(recs)
        return recs

    def _apply_removals(self, recs: pd.DataFrame) -> None:
        """A Remove also takes out every earlier record of the same key (transactional files:
        an Insert earlier in the file and its Remove later)."""
        if not self.removals or recs.empty:
            return
        pos = np.arange(len(recs))
        for level, keys in _LEVEL_KEYS.items():
            found = [(key, end) for lvl, key, end in self.removals if lvl == level]
            if not found:
                continue
            cols = keys
            rem = pd.DataFrame([(*key, end) for key, end in found], columns=[*cols, "_END"],
                               dtype="object")
            left = recs[cols].astype("string").fillna("\x00").assign(_POS=pos)
            right = rem.astype({c: "string" for c in cols}).fillna({c: "\x00" for c in cols})
            hit = left.merge(right, on=cols, how="inner")
            hit = hit[hit["_POS"] < hit["_END"]]["_POS"].unique()
            todo = hit[recs["_REASON"].iloc[hit].isna().to_numpy()] if len(hit) else hit
            recs.loc[recs.index[todo], "_REASON"] = \
                f"ODM audit: TransactionType=Remove on {level} (earlier transaction)"

    def cells_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"_REC": np.asarray(self.cell_rec, dtype="int64"),
                             "ItemOID": pd.Series(self.cell_item, dtype="object"),
                             "Value": pd.Series(self.cell_value, dtype="object")})


def item_group_counts(path: Path) -> dict[str, int]:
    """ItemGroupData elements per ItemGroupOID (the rows the file holds, removed ones included),
    for the accounting of item groups that no study.yaml form reads."""
    counts = parse_odm(path).records["ItemGroupOID"].value_counts(sort=False)
    return {str(k): int(v) for k, v in counts.items()}
