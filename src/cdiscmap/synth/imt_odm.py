"""The paediatric IMT study as one CDISC ODM 1.3 file (docs/raw-forms-imt-odm.md).

The same trial, visits and re-numbered lesions as the commercial-EDC export (``imt_edc.prepare``
on the ``imt-pediatric`` generator's frames), written as a transactional ODM 1.3.2 file: the
MetaData (protocol, study events, forms, item groups, items, code lists with decodes) and the
ClinicalData (SubjectData → StudyEventData → FormData → ItemGroupData → ItemData). Subject-level
forms sit in study event ``SE.SUBJECT``; scans and responses in ``SE.SCRN``, ``SE.C<k>D1`` and the
repeating ``SE.UNS``. Dates are ISO 8601 (partial ones truncated: ``2019-03``), coded answers are
code list values (``PR`` with decode "Partial Response", SEX ``1``/``2``, ``Y``/``N``).

Soft deletes: in the AE, dosing and target-lesion logs an item group was inserted twice (a
duplicate line under the next repeat key) and later removed: the Remove stands in an update
transaction (a second SubjectData, ``TransactionType="Update"``) at the end of the file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.synth import imt
from cdiscmap.synth.basket import StudyFiles
from cdiscmap.synth.imt_edc import DATE_ITEMS, VISIT_FORMS, prepare, soft_delete_picks

STUDY = "imt-odm"
FILE = "imt-odm.xml"
STUDY_OID = "IMTODM"
MDV_OID = "MDV.IMTODM.1"
FORM_NAMES = {"enrol": "Enrolment", "ex": "Crizotinib Administration", "ae": "Adverse Events",
              "eos": "End of Study", "tl": "Target Lesions", "ntl": "Non-target Lesions",
              "nl": "New Lesions", "resp": "Tumour Response"}
REPEATING = {"ex", "ae", "tl", "ntl", "nl"}
SOFT_DELETE_FORMS = ("ae", "ex", "tl")
REMOVE_REASON = "ODM audit: TransactionType=Remove on ItemGroupData"
_NOT_ITEMS = {"Subject", "SiteNumber", "VISIT_NAME", "FolderOID", "FolderName", "FolderSeq",
              "InstanceName", "InstanceRepeatNumber", "RecordPosition"}

# Code lists (coded value -> English decode)
RESPONSE_CODES = {(code or "NA"): text for code, text in imt.RESPONSE_DECODE.items()}
CODELISTS = {
    "CL.SEX": {"1": "Male", "2": "Female"},
    "CL.NY": {"Y": "Yes", "N": "No"},
    "CL.RESP": RESPONSE_CODES,
}
CODED = {("enrol", "SEX"): "CL.SEX", ("ex", "EXINT"): "CL.NY", ("resp", "NEWLES"): "CL.NY",
         ("resp", "TRGRESP"): "CL.RESP", ("resp", "NTRGRESP"): "CL.RESP",
         ("resp", "OVRLRESP"): "CL.RESP"}
_TO_CODE = {text: code for code, text in RESPONSE_CODES.items()}


def _esc(values: pd.Series) -> pd.Series:
    """XML attribute text."""
    return (values.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False).str.replace('"', "&quot;", regex=False))


def _iso(text: pd.Series) -> pd.Series:
    """imt date text as ODM writes it: ``2019-03-UK`` -> ``2019-03`` (partialDate); a complete
    date is kept as typed, an impossible one included."""
    s = text.fillna("").astype(str)
    return s.str.replace(r"-UK-UK$", "", regex=True).str.replace(r"-UK$", "", regex=True)


def _coded(forms: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = {name: frame.copy() for name, frame in forms.items()}
    resp = out["resp"]
    for col in ("TRGRESP", "NTRGRESP", "OVRLRESP"):
        resp[col] = resp[col].map(_TO_CODE)
    resp["NEWLES"] = resp["NEWLES"].map({"Yes": "Y", "No": "N"})
    for form, items in DATE_ITEMS.items():
        for item in items:
            out[form][item] = _iso(out[form][item])
    return out


def _items(form: str, frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in _NOT_ITEMS]


def _events(form: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Study event OID, repeat key and order of each row; the item group repeat key."""
    if form in VISIT_FORMS:
        uns = frame["FolderOID"] == "UNS"
        oid = "SE." + frame["FolderOID"]
        rep = np.where(uns, frame["InstanceRepeatNumber"], "")
        order = frame["FolderSeq"].astype(float) + np.where(uns, 0.5, 0.0)
    else:
        oid, rep, order = pd.Series("SE.SUBJECT", index=frame.index), "", -1.0
    key = frame["RecordPosition"] if form in REPEATING else pd.Series("1", index=frame.index)
    return pd.DataFrame({"EV": oid, "EVREP": rep, "EVORDER": order, "IGKEY": key},
                        index=frame.index)


def _item_group_text(form: str, frame: pd.DataFrame, keys: pd.Series,
                     remove: bool = False) -> pd.Series:
    ig = f"IG.{form.upper()}"
    if remove:
        return f'<ItemGroupData ItemGroupOID="{ig}" ItemGroupRepeatKey="' + keys + \
            '" TransactionType="Remove"/>'
    body = pd.Series("", index=frame.index)
    for col in _items(form, frame):
        v = frame[col].fillna("").astype(str)
        cell = f'<ItemData ItemOID="IT.{form.upper()}.{col}" Value="' + _esc(v) + '"/>'
        body = body + cell.where(v != "", "")
    return f'<ItemGroupData ItemGroupOID="{ig}" ItemGroupRepeatKey="' + keys + \
        '" TransactionType="Insert">' + body + "</ItemGroupData>"


def _nest(records: pd.DataFrame, subject_attrs: str) -> str:
    """Records (Subject, SITE, EV, EVREP, EVORDER, FORM, FORMORDER, ORDER, TEXT) -> SubjectData."""
    r = records.sort_values(["Subject", "EVORDER", "EV", "EVREP", "FORMORDER", "ORDER"],
                            kind="stable")
    forms = r.groupby(["Subject", "EVORDER", "EV", "EVREP", "FORMORDER", "FORM"], sort=False,
                      dropna=False)["TEXT"].agg("".join).reset_index()
    forms["TEXT"] = '<FormData FormOID="F.' + forms["FORM"].str.upper() + '">' + forms["TEXT"] \
        + "</FormData>"
    events = forms.groupby(["Subject", "EVORDER", "EV", "EVREP"], sort=False,
                           dropna=False)["TEXT"].agg("".join).reset_index()
    repeat = np.where(events["EVREP"] != "", ' StudyEventRepeatKey="' + events["EVREP"] + '"', "")
    events["TEXT"] = '<StudyEventData StudyEventOID="' + events["EV"] + '"' + repeat + ">" \
        + events["TEXT"] + "</StudyEventData>"
    subjects = events.groupby("Subject", sort=False)["TEXT"].agg("".join)
    site = r.drop_duplicates("Subject").set_index("Subject")["SITE"]
    return "".join(f'<SubjectData SubjectKey="{s}" {subject_attrs}>'
                   f'<SiteRef LocationOID="SITE.{site[s]}"/>{text}</SubjectData>\n'
                   for s, text in subjects.items())


def _metadata(forms: dict[str, pd.DataFrame]) -> str:
    folders = pd.concat([forms[f][["FolderSeq", "FolderOID"]] for f in VISIT_FORMS])
    scheduled = folders[~folders["FolderOID"].isin(["SCRN", "UNS"])]
    cycles = sorted(set(scheduled["FolderSeq"].astype(int)))
    events = [("SE.SUBJECT", "Subject", "No", ["enrol", "ex", "ae", "eos"]),
              ("SE.SCRN", "Screening", "No", ["tl", "ntl"])]
    events += [(f"SE.C{k}D1", f"Cycle {k} Day 1", "No", list(VISIT_FORMS)) for k in cycles
               if k > 0]
    events.append(("SE.UNS", "Unscheduled", "Yes", list(VISIT_FORMS)))
    out = ["<Protocol>"]
    out += [f'<StudyEventRef StudyEventOID="{oid}" Mandatory="No"/>' for oid, *_ in events]
    out.append("</Protocol>")
    for oid, name, rep, fs in events:
        out.append(f'<StudyEventDef OID="{oid}" Name="{name}" Repeating="{rep}" '
                   f'Type="{"Unscheduled" if oid == "SE.UNS" else "Scheduled"}">')
        out += [f'<FormRef FormOID="F.{f.upper()}" Mandatory="No"/>' for f in fs]
        out.append("</StudyEventDef>")
    for form in forms:
        out.append(f'<FormDef OID="F.{form.upper()}" Name="{FORM_NAMES[form]}" Repeating="No">'
                   f'<ItemGroupRef ItemGroupOID="IG.{form.upper()}" Mandatory="Yes"/></FormDef>')
    for form, frame in forms.items():
        out.append(f'<ItemGroupDef OID="IG.{form.upper()}" Name="{FORM_NAMES[form]}" '
                   f'Repeating="{"Yes" if form in REPEATING else "No"}">')
        out += [f'<ItemRef ItemOID="IT.{form.upper()}.{c}" Mandatory="No"/>'
                for c in _items(form, frame)]
        out.append("</ItemGroupDef>")
    for form, frame in forms.items():
        for col in _items(form, frame):
            kind = "partialDate" if col in DATE_ITEMS[form] else "text"
            ref = CODED.get((form, col))
            inner = f'<CodeListRef CodeListOID="{ref}"/>' if ref else ""
            out.append(f'<ItemDef OID="IT.{form.upper()}.{col}" Name="{col}" DataType="{kind}">'
                       f"{inner}</ItemDef>")
    for oid, items in CODELISTS.items():
        out.append(f'<CodeList OID="{oid}" Name="{oid[3:]}" DataType="text">')
        out += [f'<CodeListItem CodedValue="{code}"><Decode><TranslatedText xml:lang="en">'
                f"{text}</TranslatedText></Decode></CodeListItem>" for code, text in items.items()]
        out.append("</CodeList>")
    return "\n".join(out)


def build(n_subjects: int, seed: int) -> StudyFiles:
    """Generate the ODM 1.3 export of the paediatric IMT study for n subjects."""
    prepared = prepare(n_subjects, seed)
    rng = np.random.default_rng([seed, 20190103])
    forms = _coded(prepared.forms)
    inserts, removes, deletes = [], [], []
    for order, (form, frame) in enumerate(forms.items()):
        ev = _events(form, frame)
        base = pd.DataFrame({"Subject": frame["Subject"], "FORM": form, "FORMORDER": order,
                             "ORDER": np.arange(len(frame), dtype="float64")}).join(ev)
        inserts.append(base.assign(TEXT=_item_group_text(form, frame, ev["IGKEY"])))
        if form not in SOFT_DELETE_FORMS:
            continue
        picks = soft_delete_picks(rng, frame, n_subjects)
        page = ["Subject", "EV", "EVREP"]
        last = base.assign(K=ev["IGKEY"].astype(int)).groupby(page)["K"].max()
        dup = base.iloc[picks].copy()
        key = pd.MultiIndex.from_frame(dup[page])
        dup["IGKEY"] = (last.reindex(key).to_numpy() + 1 +
                        dup.groupby(page).cumcount().to_numpy()).astype(str)
        dup["ORDER"] = dup["ORDER"] + 0.5
        inserts.append(dup.assign(TEXT=_item_group_text(form, frame.iloc[picks], dup["IGKEY"])))
        removes.append(dup.assign(TEXT=_item_group_text(form, dup, dup["IGKEY"], remove=True)))
        deletes.append(pd.DataFrame({"FILE": FILE, "Subject": dup["Subject"],
                                     "ITEMGROUP": f"IG.{form.upper()}", "EVENT": dup["EV"],
                                     "REPEATKEY": dup["IGKEY"], "REASON": REMOVE_REASON}))
    sites = forms["enrol"].set_index("Subject")["SiteNumber"]
    records = pd.concat(inserts, ignore_index=True)
    records["SITE"] = records["Subject"].map(sites)
    updates = pd.concat(removes, ignore_index=True)
    updates["SITE"] = updates["Subject"].map(sites)
    text = "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" ODMVersion="1.3.2" '
        f'FileType="Transactional" FileOID="{STUDY_OID}.EXPORT.{seed}" '
        'CreationDateTime="2021-03-02T08:00:00" Originator="cdiscmap synth imt-odm">',
        f'<Study OID="{STUDY_OID}"><GlobalVariables><StudyName>{STUDY_OID}</StudyName>'
        "<StudyDescription>Crizotinib in children with ALK/ROS1-rearranged IMT (synthetic)"
        f"</StudyDescription><ProtocolName>{STUDY_OID}</ProtocolName></GlobalVariables>",
        f'<MetaDataVersion OID="{MDV_OID}" Name="IMT paediatric eCRF v1">',
        _metadata(forms),
        "</MetaDataVersion></Study>",
        f'<ClinicalData StudyOID="{STUDY_OID}" MetaDataVersionOID="{MDV_OID}">',
        _nest(records, 'TransactionType="Insert"')
        + _nest(updates, 'TransactionType="Update"') + "</ClinicalData>",
        "</ODM>", ""])
    truth = dict(prepared.truth)
    truth["soft_deletes.csv"] = pd.concat(deletes, ignore_index=True)
    return StudyFiles(raw={FILE: text}, truth=truth)  # type: ignore[dict-item]
