"""The paediatric IMT study exported by a widely used commercial EDC (docs/raw-forms-imt-edc.md).

The trial itself (subjects, dosing, adverse events, tumour course, investigator responses) is
the ``imt-pediatric`` generator's: ``imt.build`` draws it and this module only re-lays its
frames out as that EDC's CSV export, so the three IMT exports of one seed describe the same
patients. What the layout adds is what such exports carry and a mapping must absorb:

- one CSV per form, Rave-like item names, ``Subject`` and site columns on every row;
- visits as folders: ``FolderName``/``InstanceName`` labels, ``FolderSeq`` (the cycle number;
  an unscheduled folder takes the number of the scheduled one before it) and
  ``InstanceRepeatNumber`` (1 for an unscheduled instance), log lines by ``RecordPosition``;
- audit columns (``RecordID``, ``Created``, ``Updated``) and soft deletes (``RecordActive`` 0):
  an adverse event deleted and re-entered as a new log line, and deleted duplicate lines in
  the dosing, target-lesion and response forms;
- every date item as a family: ``NAME`` (the EDC's parsed date, DATE9 ``01FEB2020`` on the
  tumour forms, DATETIME ``01FEB2020:00:00:00`` elsewhere; blank when partial or impossible),
  ``NAME_RAW`` (the text typed), ``NAME_INT`` (the EDC's imputation of a partial date),
  ``NAME_YY``/``NAME_MM``/``NAME_DD`` (the parts, ``UNK``/``UN`` when unknown);
- a target lesion re-entered under a new number from some visit on, with the number it had in
  ``PREVLESNUM``.

``prepare`` (the trial in neutral item names, with visit numbering, renumbering and truth) is
shared with the ODM export (``imt_odm``). Truth files: the IMT generator's ``subjects.csv`` and
``planted_disagreements.csv``, plus ``visits.csv``, ``dates.csv``, ``records.csv``,
``renumbered_lesions.csv`` and ``soft_deletes.csv`` (docs/raw-forms-imt-edc.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdiscmap.synth import imt
from cdiscmap.synth import messiness as mess
from cdiscmap.synth.basket import StudyFiles

STUDY = "imt-edc"

# imt-pediatric column -> item name of this layout, per form (imt file -> (form, columns)).
FORMS: dict[str, tuple[str, dict[str, str]]] = {
    "patients.csv": ("enrol", {
        "PATIENT_ID": "Subject", "CENTRE_ID": "SiteNumber", "COUNTRY_CODE": "COUNTRY",
        "REGISTRATION_DATE": "REGDAT", "CONSENT_DATE": "ICDAT", "ASSENT_DATE": "ASDAT",
        "BIRTH_DATE": "BRTHDAT", "AGE": "AGE", "AGE_UNIT": "AGEU", "SEX": "SEX", "RACE": "RACE",
        "ETHNICITY": "ETHNIC", "HISTOLOGY": "HISTOL", "FUSION_GENE": "FUSGENE",
        "FUSION_PARTNER": "FUSPART"}),
    "dosing.csv": ("ex", {
        "PATIENT_ID": "Subject", "LINE_NO": "EXLINE", "START_DATE": "EXSTDAT",
        "STOP_DATE": "EXENDAT", "INTERRUPTED": "EXINT", "BSA_M2": "BSA",
        "DOSE_MG_M2": "EXDOSE", "DOSE_UNIT": "EXDOSU", "TOTAL_DAILY_DOSE_MG": "EXDOSTOT",
        "FREQUENCY": "EXDOSFRQ", "FORMULATION": "EXDOSFRM", "CHANGE_REASON": "EXADJ"}),
    "adverse_events.csv": ("ae", {v: ("Subject" if k == "SUBJECT" else k)
                                  for k, v in imt.AE_COLUMNS.items()}),
    "end_of_study.csv": ("eos", {
        "PATIENT_ID": "Subject", "TREATMENT_END_DATE": "EOTDAT",
        "TREATMENT_END_REASON": "EOTREAS", "STUDY_END_DATE": "EOSDAT",
        "STUDY_END_REASON": "EOSREAS", "LAST_CONTACT_DATE": "LCDAT", "DEATH_DATE": "DTHDAT",
        "DEATH_CAUSE": "DTHCAUS"}),
    "target_lesions.csv": ("tl", {
        "PATIENT_ID": "Subject", "VISIT_NAME": "VISIT_NAME", "SCAN_DATE": "TUDAT",
        "IMAGING": "TLMETH", "LESION_NO": "LESNUM", "SITE": "TLLOC", "NODAL": "TLNODE",
        "LONGEST_DIAM_MM": "TLDIAM", "LESION_STATUS": "TLSTAT",
        "REASON_NOT_EVALUATED": "TLREASND", "TARGET_SUM_MM": "TLSUM"}),
    "nontarget_lesions.csv": ("ntl", {
        "PATIENT_ID": "Subject", "VISIT_NAME": "VISIT_NAME", "SCAN_DATE": "TUDAT",
        "LESION_NO": "LESNUM", "SITE": "NTLLOC", "LESION_STATUS": "NTLSTAT",
        "REASON_NOT_EVALUATED": "NTLREASND"}),
    "new_lesions.csv": ("nl", {
        "PATIENT_ID": "Subject", "VISIT_NAME": "VISIT_NAME", "SCAN_DATE": "TUDAT",
        "LESION_NO": "LESNUM", "SITE": "NLLOC", "CERTAINTY": "NLCERT"}),
    "response.csv": ("resp", {
        "PATIENT_ID": "Subject", "VISIT_NAME": "VISIT_NAME", "ASSESSMENT_DATE": "RSDAT",
        "TARGET_RESPONSE": "TRGRESP", "NONTARGET_RESPONSE": "NTRGRESP", "NEW_LESION": "NEWLES",
        "OVERALL_RESPONSE": "OVRLRESP"}),
}
VISIT_FORMS = ("tl", "ntl", "nl", "resp")
LOG_FORMS = ("ex", "ae")                         # one log line per record, subject level
DATE_ITEMS = {"enrol": ("REGDAT", "ICDAT", "ASDAT", "BRTHDAT"), "ex": ("EXSTDAT", "EXENDAT"),
              "ae": ("AESTDAT", "AEENDAT"), "eos": ("EOTDAT", "EOSDAT", "LCDAT", "DTHDAT"),
              "tl": ("TUDAT",), "ntl": ("TUDAT",), "nl": ("TUDAT",), "resp": ("RSDAT",)}
DATE9_FORMS = ("tl", "ntl", "nl", "resp")        # the imaging forms print DATE9, others DATETIME
SOFT_DELETE_FORMS = ("ae", "ex", "tl", "resp")
SOFT_DELETE_REASON = "deleted in the EDC (RecordActive = 0)"
_MON = {f"{i:02d}": m for i, m in enumerate(mess.MONTHS, 1)}


@dataclass(frozen=True)
class Prepared:
    """The IMT trial in this layout's item names, before any export formatting.

    ``forms``: form name -> frame (dates as imt text, ``2019-03-UK``); visit forms carry
    ``FolderOID``, ``FolderName``, ``FolderSeq``, ``InstanceName``, ``InstanceRepeatNumber``;
    every form carries ``RecordPosition``. ``truth``: truth file name -> frame.
    """

    forms: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]


# --------------------------------------------------------------------------------------------
# Visits
# --------------------------------------------------------------------------------------------

def _scheduled_number(name: pd.Series) -> pd.Series:
    """0 for screening, k for ``CkD1``, missing for unscheduled."""
    cycle = pd.to_numeric(name.str.extract(r"^C(\d+)D1$", expand=False), errors="coerce")
    return cycle.mask(name == "SCREENING", 0.0)


def _calendar(forms: dict[str, pd.DataFrame], date_of: dict[str, str]) -> pd.DataFrame:
    """One row per subject visit (name, date) of the visit forms, with its VISITNUM: the
    scheduled number, or for an unscheduled visit the last scheduled number on or before its
    date + 0.01 (its instance repeat number / 100)."""
    visits = pd.concat([forms[f][["Subject", "VISIT_NAME", date_of[f]]]
                        .set_axis(["Subject", "VISIT_NAME", "DATE"], axis=1) for f in VISIT_FORMS])
    visits = visits.drop_duplicates().reset_index(drop=True)
    visits["_day"] = pd.to_datetime(visits["DATE"], format="%Y-%m-%d")
    visits["SCHED"] = _scheduled_number(visits["VISIT_NAME"])
    sched = visits[visits["SCHED"].notna()].sort_values("_day")
    uns = visits[visits["SCHED"].isna()].sort_values("_day")
    prev = pd.merge_asof(uns[["Subject", "_day"]].reset_index(), sched[["Subject", "_day", "SCHED"]],
                         on="_day", by="Subject", direction="backward").set_index("index")
    visits["FOLDERSEQ"] = visits["SCHED"]
    visits.loc[prev.index, "FOLDERSEQ"] = prev["SCHED"].fillna(0.0)
    visits["REPEAT"] = np.where(visits["SCHED"].isna(), 1, 0)
    visits["VISITNUM"] = visits["FOLDERSEQ"] + visits["REPEAT"] / 100
    cycle = visits["VISIT_NAME"].str.extract(r"^C(\d+)D1$", expand=False)
    visits["VISIT"] = np.where(visits["VISIT_NAME"] == "SCREENING", "SCREENING",
                               np.where(visits["SCHED"].isna(), "UNSCHEDULED",
                                        "CYCLE " + cycle.fillna("") + " DAY 1"))
    return visits.sort_values(["Subject", "VISITNUM"], kind="stable").reset_index(drop=True)


def _with_folders(frame: pd.DataFrame, date_col: str, visits: pd.DataFrame) -> pd.DataFrame:
    """The EDC's folder columns of each visit-form row, from the calendar."""
    keyed = visits.set_axis(visits.columns.str.replace("DATE", date_col, regex=False), axis=1)
    merged = frame.merge(keyed[["Subject", "VISIT_NAME", date_col, "FOLDERSEQ", "REPEAT"]],
                         on=["Subject", "VISIT_NAME", date_col], how="left", validate="many_to_one")
    name = merged["VISIT_NAME"]
    cycle = name.str.extract(r"^C(\d+)D1$", expand=False).fillna("")
    uns = name == "UNSCHEDULED"
    label = np.where(name == "SCREENING", "Screening",
                     np.where(uns, "Unscheduled", "Cycle " + cycle + " Day 1"))
    folders = pd.DataFrame({
        "FolderOID": np.where(name == "SCREENING", "SCRN", np.where(uns, "UNS", name)),
        "FolderName": label,
        "FolderSeq": merged["FOLDERSEQ"].astype(int).astype(str).to_numpy(),
        "InstanceName": np.where(uns, "Unscheduled (" + merged["REPEAT"].astype(str) + ")",
                                 label),
        "InstanceRepeatNumber": merged["REPEAT"].astype(str).to_numpy(),
    }, index=frame.index)
    return pd.concat([folders, frame], axis=1)


# --------------------------------------------------------------------------------------------
# Lesions: one target lesion re-entered under a new number
# --------------------------------------------------------------------------------------------

def _renumber(rng: np.random.Generator, tl: pd.DataFrame, visits: pd.DataFrame, n: int
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Re-enter one target lesion of max(1, round(n / 20)) patients under a new number from
    their second post-screening visit on; PREVLESNUM keeps the number it had."""
    vnum = visits.set_index(["Subject", "VISIT_NAME", "DATE"])["VISITNUM"]
    tl = tl.copy()
    tl["_vn"] = vnum.reindex(pd.MultiIndex.from_frame(
        tl[["Subject", "VISIT_NAME", "TUDAT"]])).to_numpy()
    rank = tl.groupby("Subject")["_vn"].rank(method="dense")
    tl["PREVLESNUM"] = ""
    eligible = np.array(sorted(set(tl.loc[rank >= 3, "Subject"])))
    chosen = rng.choice(eligible, min(len(eligible), max(1, round(n / 20))), replace=False) \
        if len(eligible) else np.array([], dtype=str)
    rows = []
    for subject in sorted(chosen):            # a handful of patients, not a per-row loop
        mine = tl[tl["Subject"] == subject]
        numbers = sorted(mine["LESNUM"].astype(int).unique())
        old = int(rng.choice(numbers))
        new = max(numbers) + 1
        subject_rank = rank[mine.index]
        hit = mine.index[(mine["LESNUM"].astype(int) == old) & (subject_rank >= 3)]
        tl.loc[hit, "PREVLESNUM"] = str(old)
        tl.loc[hit, "LESNUM"] = str(new)
        first = tl.loc[hit].sort_values("_vn").iloc[0]
        rows.append({"Subject": subject, "LESNUM": str(new), "PREVLESNUM": str(old),
                     "FIRST_VISIT": first["VISIT_NAME"], "FIRST_VISITNUM": _num(first["_vn"])})
    truth = pd.DataFrame(rows, columns=["Subject", "LESNUM", "PREVLESNUM", "FIRST_VISIT",
                                        "FIRST_VISITNUM"])
    # a re-entered lesion is a new line at the end of the visit's log
    tl["_page"] = tl.groupby(["Subject", "VISIT_NAME", "TUDAT"], sort=False).ngroup()
    tl["_les"] = tl["LESNUM"].astype(int)
    tl = tl.sort_values(["_page", "_les"], kind="stable").reset_index(drop=True)
    return tl.drop(columns=["_vn", "_page", "_les"]), truth


def _num(value: float) -> str:
    """A VISITNUM as text without a trailing ``.0`` (3.0 -> 3, 3.01 -> 3.01)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------

def iso_truth(text: pd.Series) -> pd.Series:
    """What SDTM must hold for an imt date text: ``2019-03-UK`` -> ``2019-03``,
    ``2019-UK-UK`` -> ``2019``, an impossible complete date -> blank (SDTMIG 3.4 §4.4.4)."""
    s = text.fillna("").astype(str)
    y, m = s.str.slice(0, 4), s.str.slice(5, 7)
    valid = pd.to_datetime(s.where(~s.str.contains("UK")), format="%Y-%m-%d",
                           errors="coerce").notna()
    out = np.where(s.str.endswith("-UK-UK"), y,
                   np.where(s.str.endswith("-UK"), y + "-" + m, np.where(valid, s, "")))
    return pd.Series(np.where(s == "", "", out), index=text.index)


def date_family(text: pd.Series, name: str, datetime: bool, rng: np.random.Generator
                ) -> dict[str, np.ndarray]:
    """The EDC's columns for one date item (see the module docstring)."""
    s = text.fillna("").astype(str).reset_index(drop=True)
    blank = s == ""
    y, m, d = s.str.slice(0, 4), s.str.slice(5, 7), s.str.slice(8, 10)
    m_unk = ~blank & (m == "UK")
    d_unk = ~blank & (d == "UK")
    partial = m_unk | d_unk
    valid = pd.to_datetime(s.where(~partial & ~blank), format="%Y-%m-%d",
                           errors="coerce").notna()
    mon = m.map(_MON).fillna("")
    suffix = ":00:00:00" if datetime else ""
    parsed = np.where(valid, d + mon + y + suffix, "")
    imputed_m = m.where(~m_unk, "01")
    imputed = np.where(partial, "01" + imputed_m.map(_MON).fillna("") + y + suffix, "")
    day_typed = d.str.lstrip("0").where(~d_unk, "UN")
    month_typed = mon.str.capitalize().where(~m_unk, "UNK")
    upper = rng.random(len(s)) < 0.3                  # some sites type capitals, padded days
    typed = np.where(upper, d.where(~d_unk, "UN") + " " + month_typed.str.upper() + " " + y,
                     day_typed + " " + month_typed + " " + y)
    return {
        name: parsed,
        f"{name}_RAW": np.where(blank, "", typed),
        f"{name}_INT": imputed,
        f"{name}_YY": np.where(blank, "", y),
        f"{name}_MM": np.where(blank, "", m.str.lstrip("0").where(~m_unk, "UNK")),
        f"{name}_DD": np.where(blank, "", day_typed),
    }


# --------------------------------------------------------------------------------------------
# The shared preparation
# --------------------------------------------------------------------------------------------

def prepare(n_subjects: int, seed: int) -> Prepared:
    """The imt-pediatric trial for ``seed`` in neutral item names, with visits and truth."""
    base = imt.build(n_subjects, seed)
    rng = np.random.default_rng([seed, 20190101])          # this layout's own stream
    forms = {}
    for file, (form, columns) in FORMS.items():
        frame = base.raw[file].rename(columns=columns)
        forms[form] = frame.astype(str).reset_index(drop=True)
    for form, prefix in (("tl", "TL"), ("ntl", "NTL"), ("nl", "NL")):
        forms[form]["LESNUM"] = forms[form]["LESNUM"].str.slice(len(prefix))
    # the lesion log repeats the nodal answer of screening on every line (pre-filled)
    tl = forms["tl"]
    tl["TLNODE"] = tl["TLNODE"].replace("", pd.NA).groupby(
        [tl["Subject"], tl["LESNUM"]]).ffill().fillna("")
    dates = {f: DATE_ITEMS[f][0] for f in VISIT_FORMS}
    visits = _calendar(forms, dates)
    forms["tl"], renumbered = _renumber(rng, forms["tl"], visits, n_subjects)
    for form in VISIT_FORMS:
        frame = _with_folders(forms[form], dates[form], visits)
        frame["RecordPosition"] = (frame.groupby(["Subject", "FolderSeq",
                                                 "InstanceRepeatNumber"]).cumcount() + 1
                                   ).astype(str) if form != "resp" else "0"
        forms[form] = frame
    for form in LOG_FORMS:
        forms[form]["RecordPosition"] = (forms[form].groupby("Subject").cumcount() + 1
                                         ).astype(str)
    for form in ("enrol", "eos"):
        forms[form]["RecordPosition"] = "0"

    subjects = base.truth["subjects.csv"].rename(columns={"PATIENT_ID": "Subject"})
    ids = subjects["Subject"]

    def per_subject(frame: pd.DataFrame, by: list[str] | None = None) -> np.ndarray:
        counted = frame.drop_duplicates(by) if by else frame
        return counted.groupby("Subject").size().reindex(ids).fillna(0).astype(int) \
            .astype(str).to_numpy()

    tl_lesions = forms["tl"].assign(LNK=forms["tl"]["PREVLESNUM"].where(
        forms["tl"]["PREVLESNUM"] != "", forms["tl"]["LESNUM"]))
    records = pd.DataFrame({
        "Subject": ids,
        "N_AE": per_subject(forms["ae"]),
        "N_EX": per_subject(forms["ex"][forms["ex"]["EXINT"] == "N"]),
        "N_TARGET_LESIONS": per_subject(tl_lesions, ["Subject", "LNK"]),
        "N_NONTARGET_LESIONS": per_subject(forms["ntl"], ["Subject", "LESNUM"]),
        "N_NEW_LESIONS": per_subject(forms["nl"], ["Subject", "LESNUM"]),
    })
    date_rows = [pd.DataFrame({"Subject": forms["enrol"]["Subject"], "ITEM": item, "AESPID": "",
                               "ISO": iso_truth(forms["enrol"][item])})
                 for item in ("BRTHDAT", "ICDAT")]
    date_rows += [pd.DataFrame({"Subject": forms["eos"]["Subject"], "ITEM": "DTHDAT",
                                "AESPID": "", "ISO": iso_truth(forms["eos"]["DTHDAT"])})]
    date_rows += [pd.DataFrame({"Subject": forms["ae"]["Subject"], "ITEM": item,
                                "AESPID": forms["ae"]["AESPID"],
                                "ISO": iso_truth(forms["ae"][item])})
                  for item in ("AESTDAT", "AEENDAT")]
    resp = forms["resp"].merge(visits[["Subject", "VISIT_NAME", "DATE", "VISITNUM"]],
                               left_on=["Subject", "VISIT_NAME", "RSDAT"],
                               right_on=["Subject", "VISIT_NAME", "DATE"], how="left")
    truth = {
        "subjects.csv": subjects,
        "planted_disagreements.csv": base.truth["planted_disagreements.csv"]
        .rename(columns={"PATIENT_ID": "Subject"}),
        "visits.csv": visits.assign(VISITNUM=visits["VISITNUM"].map(_num))[
            ["Subject", "VISIT_NAME", "DATE", "VISIT", "VISITNUM"]],
        "dates.csv": pd.concat(date_rows, ignore_index=True),
        "records.csv": records,
        "renumbered_lesions.csv": renumbered,
        "responses.csv": pd.DataFrame({
            "Subject": resp["Subject"], "VISITNUM": resp["VISITNUM"].map(_num),
            "RSDTC": resp["RSDAT"],
            "OVRLRESP": resp["OVRLRESP"].map({v: k for k, v in imt.RESPONSE_DECODE.items()})}),
    }
    return Prepared(forms=forms, truth=truth)


def soft_delete_picks(rng: np.random.Generator, frame: pd.DataFrame, n: int) -> np.ndarray:
    """Rows (positions) of ``frame`` to plant a deleted duplicate of: max(1, round(n / 15))."""
    k = min(len(frame), max(1, round(n / 15)))
    return np.sort(rng.choice(len(frame), k, replace=False))


# --------------------------------------------------------------------------------------------
# The EDC export
# --------------------------------------------------------------------------------------------

_HEAD = ["Subject", "SiteNumber", "Site", "InstanceName", "InstanceRepeatNumber", "FolderOID",
         "FolderName", "FolderSeq", "DataPageName", "RecordID", "RecordPosition",
         "RecordActive", "Created", "Updated"]
_PAGE_NAMES = {"enrol": "Enrolment", "ex": "Crizotinib Administration", "ae": "Adverse Events",
               "eos": "End of Study", "tl": "Target Lesions", "ntl": "Non-target Lesions",
               "nl": "New Lesions", "resp": "Tumour Response"}


def _plant_soft_deletes(rng: np.random.Generator, form: str, frame: pd.DataFrame, n: int
                        ) -> pd.DataFrame:
    """Deleted copies (RecordActive 0). AE: the original line deleted and the event re-entered
    as a new line at the end of the log; other forms: a duplicate line, deleted."""
    frame = frame.assign(RecordActive="1", _order=np.arange(len(frame), dtype="float64"))
    picks = soft_delete_picks(rng, frame, n)
    copies = frame.iloc[picks].copy()
    if form == "ae":
        last = frame["RecordPosition"].astype(int).groupby(frame["Subject"]).max()
        copies["RecordPosition"] = (copies["Subject"].map(last)
                                    + copies.groupby("Subject").cumcount() + 1).astype(str)
        copies["_order"] = frame["_order"].max() + 1 + np.arange(len(copies))
        frame.iloc[picks, frame.columns.get_loc("RecordActive")] = "0"
        copies["RecordActive"] = "1"
    else:
        copies["RecordActive"] = "0"
        copies["_order"] = copies["_order"] + 0.5
    out = pd.concat([frame, copies], ignore_index=True)
    return out.sort_values(["Subject", "_order"], kind="stable").drop(columns="_order") \
        .reset_index(drop=True)


def build(n_subjects: int, seed: int) -> StudyFiles:
    """Generate the commercial-EDC CSV export of the paediatric IMT study for n subjects."""
    prepared = prepare(n_subjects, seed)
    rng = np.random.default_rng([seed, 20190102])
    sites = prepared.forms["enrol"].set_index("Subject")["SiteNumber"]
    raw, deletes = {}, []
    record_id = 100000
    for form, frame in prepared.forms.items():
        frame = frame.drop(columns=[c for c in ("VISIT_NAME", "SiteNumber") if c in frame])
        if form in SOFT_DELETE_FORMS:
            frame = _plant_soft_deletes(rng, form, frame, n_subjects)
        else:
            frame = frame.assign(RecordActive="1")
        rows = len(frame)
        head = {
            "Subject": frame["Subject"].to_numpy(),
            "SiteNumber": frame["Subject"].map(sites).to_numpy(),
            "Site": np.char.add("Site ", frame["Subject"].map(sites).to_numpy(dtype=str)),
            "DataPageName": _PAGE_NAMES[form],
            "RecordID": (record_id + np.arange(rows)).astype(str),
            "Created": _stamps(rng, rows), "Updated": _stamps(rng, rows),
        }
        record_id += rows + 1000
        for col in ("InstanceName", "InstanceRepeatNumber", "FolderOID", "FolderName",
                    "FolderSeq"):
            head[col] = frame[col].to_numpy() if col in frame else ""
        head["RecordPosition"] = frame["RecordPosition"].to_numpy()
        head["RecordActive"] = frame["RecordActive"].to_numpy()
        items = {}
        for col in frame.columns:
            if col in _HEAD:
                continue
            if col in DATE_ITEMS[form]:
                items.update(date_family(frame[col], col, form not in DATE9_FORMS, rng))
            else:
                items[col] = frame[col].to_numpy()
        out = pd.DataFrame({**{c: head[c] for c in _HEAD}, **items})
        raw[f"{form}.csv"] = out
        gone = out[out["RecordActive"] == "0"]
        deletes.append(pd.DataFrame({"FILE": f"{form}.csv", "Subject": gone["Subject"],
                                     "RecordID": gone["RecordID"], "REASON": SOFT_DELETE_REASON}))
    truth = dict(prepared.truth)
    truth["soft_deletes.csv"] = pd.concat(deletes, ignore_index=True)
    return StudyFiles(raw=raw, truth=truth)


def _stamps(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Audit time stamps (entry/update times in the EDC; not trial data)."""
    seconds = rng.integers(0, 3 * 365 * 86400, rows)
    stamps = np.datetime64("2018-03-01T00:00:00") + seconds.astype("timedelta64[s]")
    return np.datetime_as_string(stamps, unit="s")
