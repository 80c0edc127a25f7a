"""Draft a study folder from a raw export (``cdiscmap init --raw DIR --study NAME``).

Mapping a new EDC export starts with reading it: which files and columns there are, which
column names the subject, which columns identify a record, which hold dates and in which
style, which are codes, which are the EDC's own bookkeeping. This module reads every raw file
with the project's readers (so what it describes is exactly what a run will see) and writes
those observations as a study folder that ``cdiscmap check-spec`` accepts: ``study.yaml`` with
every form, its guessed subject column, keys and form-level rules, plus ``sdtm/<domain>.yaml``
stubs. Every inference is a guess and is written with a ``# guessed:`` comment that gives its
evidence (counts from the data), so a person can check it instead of trusting it.

Validity is kept by listing only DM in ``domains``, with a minimal mapping that needs nothing
but the subject column (STUDYID, DOMAIN, USUBJID, SUBJID and SITEID when a site column is
seen). The other guessed domains get a stub file that already parses (STUDYID, DOMAIN,
USUBJID, --SEQ) with their Req/Exp variables commented beside the likely source column; they
are listed in ``domains`` by the person who fills them.

Inference works on each column's distinct values and their counts (``value_counts``), never
row by row: an export repeats a few hundred dates and codes over many rows. The output is
deterministic (forms sorted, no clock, no absolute paths), so the same export gives the same
files.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from cdiscmap.errors import CdiscmapError, InputDataError, OutputError, display_path
from cdiscmap.ingest.readers import FORMAT_BY_SUFFIX, RawForm, read_form
from cdiscmap.sdtm.dates import NUMERIC_FORMATS, TEXT_FORMATS, parse_dates

__all__ = ["ColumnDraft", "DateGuess", "FormDraft", "StudyDraft", "draft_study", "render",
           "write_study"]

# --------------------------------------------------------------------------- name patterns
# Generic EDC conventions (not study knowledge): what a column's name suggests it holds.
_SUBJECT_NAME = re.compile(r"U?SUBJID|SUBJECT(_?(ID|KEY|NO|NUM|NUMBER))?|SUBJ|PATIENT"
                           r"(_?(ID|NO|NUM|NUMBER))?|PAT_?ID|PT_?ID", re.IGNORECASE)
_SUBJECT_HINT = re.compile(r"SUBJ|PATIENT", re.IGNORECASE)
_SITE_NAME = re.compile(r"SITE(_?(ID|NO|NUM|NUMBER|CODE))?|SITEID|CENTRE(_?(ID|NO|CODE))?|"
                        r"CENTER(_?(ID|NO|CODE))?|INVSITE|LOCATIONOID|SITENUMBER",
                        re.IGNORECASE)
_SEQ_LIKE = re.compile(r"SEQ|SPID|LINE|(^|_)NO$|NUM(BER)?$|POSITION|REPEAT|RPT|INSTANCE|"
                       r"(?<!OID)ID$", re.IGNORECASE)
_VISIT_LIKE = re.compile(r"VISIT|FOLDER|EVENT|CYCLE|TIMEPOINT|TPT", re.IGNORECASE)
# what a findings-style record measures (one row per test per visit)
_TEST_LIKE = re.compile(r"TEST|PARAM|CRITERION|QUESTION|ANALYTE|(^|_)ITEM", re.IGNORECASE)
_SLOT = re.compile(r"\d_|_\d")          # wide-form slots (TL1_DIAM): not record keys
_DATE_NAME = re.compile(r"DAT|DTC|DTM|(^|_)DT$|DATE|TIME", re.IGNORECASE)
_TIME_VALUE = r"^\d{1,2}:\d{2}(:\d{2})?$"
# EDC bookkeeping, not trial data (the commercial-edc-csv profile's list, and look-alikes)
_AUDIT = re.compile(r"CREATED|UPDATED|MINCREATED|MAXUPDATED|SAVETS|RECORDID|RECORDDATE|"
                    r"DATAPAGEID|INSTANCEID|LASTMODIFIED|MODIFIED(ON|BY|DATE)?|AUDIT.*|"
                    r"TIMESTAMP|ENTEREDBY|ENTRYDATE", re.IGNORECASE)
_SOFT_DELETE = {"RECORDACTIVE": "0", "ISACTIVE": "0", "ACTIVE": "0", "DELETED": "1",
                "ISDELETED": "1", "RECORDDELETED": "1"}
_FAMILY_SUFFIXES = {"raw": "_RAW", "imputed": "_INT", "year": "_YY", "month": "_MM",
                    "day": "_DD"}

# form name / file name → SDTM domain: (domain, words of the name, columns that suggest it)
_DOMAIN_HINTS: tuple[tuple[str, tuple[str, ...], re.Pattern[str] | None], ...] = (
    ("AE", ("ae", "adverse", "aes", "sae"), re.compile(r"^AETERM$|VERBATIM|CTCAE", re.I)),
    ("CM", ("cm", "conmed", "conmeds", "concomitant", "medication", "medications"), None),
    ("DM", ("dm", "demog", "demographics", "demography", "enrol", "enroll", "enrolment",
            "enrollment", "registration", "patients", "subjects"), None),
    ("EX", ("ex", "dose", "dosing", "exposure", "drug", "administration"), None),
    ("VS", ("vs", "vital", "vitals"), None),
    ("LB", ("lb", "lab", "labs", "chemistry", "hematology", "haematology", "laboratory"), None),
    ("MH", ("mh", "history", "medhist"), None),
    ("DS", ("ds", "disposition", "eos", "eot", "end", "death", "ic", "consent", "withdrawal"),
     None),
    ("TU", ("tu", "tl", "ntl", "nl", "lesion", "lesions", "target", "nontarget", "tumor",
            "tumour"), None),
    ("TR", ("tr", "tl", "ntl", "lesion", "lesions", "target", "nontarget"), None),
    ("RS", ("rs", "orr", "resp", "response", "recist", "overall"), None),
    ("PR", ("pr", "procedure", "procedures", "surgery"), None),
    ("IE", ("ie", "eligibility", "inclusion", "exclusion"), None),
)
_DOMAIN_NAMES = {"AE": "Adverse Events", "CM": "Concomitant Medications", "DM": "Demographics",
                 "EX": "Exposure", "VS": "Vital Signs", "LB": "Laboratory Test Results",
                 "MH": "Medical History", "DS": "Disposition", "TU": "Tumor Identification",
                 "TR": "Tumor Results", "RS": "Disease Response", "PR": "Procedures",
                 "IE": "Inclusion/Exclusion Criteria Not Met"}

# SDTM variable (or its suffix after the domain prefix) → raw column names that likely hold it
_VARIABLE_HINTS: dict[str, str] = {
    "SITEID": _SITE_NAME.pattern, "SEX": r"SEX|GENDER", "COUNTRY": r"COUNTRY",
    "AGE": r"^AGE$|^AGE_?(YRS|YEARS)?$", "AGEU": r"AGE_?U", "BRTHDTC": r"BIRTH|BRTH|DOB",
    "RACE": r"RACE", "ETHNIC": r"ETHNIC", "RFICDTC": r"CONSENT|ICDAT|IC_?DATE",
    "DTHDTC": r"DTH|DEATH", "TERM": r"TERM|VERBATIM|VERB", "DECOD": r"DECOD|PT_?NAME|^AEPT$",
    "STDTC": r"ST(ART)?_?DA?T|START|STDAT", "ENDTC": r"EN(D)?_?DA?T|END|STOP|ENDAT",
    "TRT": r"TRT|DRUG|TREAT|PRODUCT", "DOSE": r"DOSE(?!_?U)", "DOSU": r"UNIT|DOSEU|DOSU",
    "DOSFRQ": r"FREQ", "ROUTE": r"ROUTE", "SEV": r"SEV", "SER": r"SERIOUS|^AESER$",
    "TOXGR": r"GRADE|TOXGR", "REL": r"REL|CAUSAL", "ACN": r"ACTION|ACN", "OUT": r"OUTCOME|OUT$",
    "LNKID": r"LESION|LNK|(^|_)ID$", "LOC": r"LOC|SITE", "ORRES": r"RESP|RESULT|DIAM|STAT|VALUE",
    "STRESC": r"RESP|RESULT|DIAM|STAT|VALUE", "EVAL": r"EVAL", "METHOD": r"METHOD|IMAGING",
    "DTC": r"DAT|DATE|DTC", "VISIT": r"VISIT|FOLDER", "VISITNUM": r"VISIT|FOLDER",
    "CAT": r"CAT", "DSTERM": r"REAS|REASON|STATUS", "DSDECOD": r"REAS|REASON|STATUS",
}
# variables the stub writes itself or that are derived, not taken from a column
_DERIVED = {"STUDYID", "DOMAIN", "USUBJID", "SEQ", "DY", "STDY", "ENDY", "EPOCH"}

CODED_MAX = 15              # at most this many distinct values → a coded column
DATE_SHARE = 0.5            # a date column: its best style reads at least half of its values
KEY_MAX_COLUMNS = 4


# --------------------------------------------------------------------------- what is inferred

@dataclass(frozen=True)
class DateGuess:
    """The date style of a column: every candidate style's count of values it reads."""

    format: str | None                  # an iso8601 style, "YYYYMMDD" (no style: expr) or None
    nonblank: int
    counts: tuple[tuple[str, int], ...]     # candidate → non-blank values read, best first
    note: str = ""

    @property
    def parsed(self) -> int:
        return self.counts[0][1] if self.counts else 0

    def evidence(self) -> str:
        read = [f"{fmt} {n}/{self.nonblank}" for fmt, n in self.counts if n]
        text = ", ".join(read) or "no style reads a value"
        return text + (f"; {self.note}" if self.note else "")


@dataclass
class ColumnDraft:
    """One raw column as the data shows it."""

    name: str
    nonblank: int
    distinct: int
    kind: str = "text"      # subject, key, date, time, number, coded, audit, soft-delete, text
    date: DateGuess | None = None
    values: list[str] = field(default_factory=list)    # coded: the distinct values, sorted
    low: str | None = None                               # number: smallest and largest
    high: str | None = None
    family: str | None = None                            # date-family stem it belongs to
    numeric: bool = False

    def describe(self) -> str:
        base = f"{self.kind}, {self.nonblank} values, {self.distinct} distinct"
        if self.family:
            base += f", member of date family {self.family}"
        if self.date is not None and self.date.format:
            base += f"; guessed: {self.date.format} ({self.date.evidence()})"
        elif self.numeric and self.low is not None:
            base += f", {self.low}..{self.high}"
        if self.values:
            shown = ", ".join(json.dumps(v, ensure_ascii=False) for v in self.values)
            base += f": {shown}"
        return base


@dataclass
class FormDraft:
    """One raw form (a file, a sheet of a workbook, or an ODM item group)."""

    name: str
    file: str                           # relative to the raw folder, '/' separated
    options: dict[str, str]             # format / sheet / item_group as study.yaml keys
    rows: int
    columns: list[ColumnDraft]
    subject_column: str | None = None
    subject_evidence: str = ""
    keys: list[str] | None = None
    keys_evidence: str = ""
    drop_columns: list[str] = field(default_factory=list)
    soft_delete: tuple[str, str, int] | None = None     # column, value meaning deleted, rows
    families: dict[str, list[str]] = field(default_factory=dict)   # stem → suffix roles
    family_date: DateGuess | None = None
    domains: list[tuple[str, str]] = field(default_factory=list)   # (domain, evidence)
    subjects_unique: bool = False
    profile_keys_unique: bool = False   # the profile's keys are columns and unique here
    profile_keys_note: str = ""
    n_subjects: int = 0

    def column(self, name: str) -> ColumnDraft | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class StudyDraft:
    """Everything ``init`` inferred from one export."""

    name: str
    forms: list[FormDraft]
    skipped: list[tuple[str, str]]      # (file, one-line reason) of files no reader could read
    profile: str | None = None
    profile_defaults: Any = None        # the profile's FormDefaults
    subject_name: str | None = None
    subject_evidence: str = ""
    dm_form: str | None = None
    dm_evidence: str = ""
    site_column: str | None = None
    site_evidence: str = ""

    def form(self, name: str) -> FormDraft:
        return next(f for f in self.forms if f.name == name)

    def domains(self) -> dict[str, list[tuple[str, str]]]:
        """Guessed domain → [(form, evidence)], domains sorted (DM always present)."""
        out: dict[str, list[tuple[str, str]]] = {}
        for form in self.forms:
            for domain, why in form.domains:
                out.setdefault(domain, []).append((form.name, why))
        if self.dm_form:
            out["DM"] = [(self.dm_form, self.dm_evidence)]
        return dict(sorted(out.items()))


# --------------------------------------------------------------------------- discovery

def _form_name(text: str) -> str:
    name = re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")
    return name or "form"


def _discover(raw_dir: Path, fmt_override: str | None) -> tuple[list[tuple[str, str, dict]],
                                                                list[tuple[str, str]]]:
    """(form name, relative file, reader options) of every readable-looking file, sorted;
    and (file, reason) for files skipped before reading."""
    found: list[tuple[str, str, dict]] = []
    skipped: list[tuple[str, str]] = []
    files = sorted(p for p in raw_dir.rglob("*")
                   if p.is_file() and not any(part.startswith(".")
                                              for part in p.relative_to(raw_dir).parts))
    for path in files:
        rel = path.relative_to(raw_dir).as_posix()
        suffix_fmt = FORMAT_BY_SUFFIX.get(path.suffix.lower())
        fmt = suffix_fmt if suffix_fmt is not None else None
        if fmt is None:
            skipped.append((rel, f"unsupported file type '{path.suffix or path.name}'"))
            continue
        options: dict[str, str] = {}
        if fmt_override and fmt_override != fmt:
            options["format"] = fmt     # the profile's format would be wrong for this file
        base = _form_name(PurePosixPath(rel).with_suffix("").as_posix())
        if fmt == "excel":
            try:
                sheets = _sheets(path)
            except CdiscmapError as exc:
                skipped.append((rel, _one_line(str(exc))))
                continue
            for sheet in sheets:
                opts = dict(options)
                if len(sheets) > 1:
                    opts["sheet"] = sheet
                found.append((base if len(sheets) == 1 else f"{base}_{_form_name(sheet)}",
                              rel, opts))
        elif fmt == "odm":
            try:
                groups = _item_groups(path)
            except CdiscmapError as exc:
                skipped.append((rel, _one_line(str(exc))))
                continue
            except Exception as exc:     # not ODM at all (lxml errors are untyped here)
                skipped.append((rel, f"not an ODM-XML file ({type(exc).__name__})"))
                continue
            if not groups:
                skipped.append((rel, "ODM-XML file without item groups"))
            for group in groups:
                found.append((_form_name(re.sub(r"^IG[._]", "", group, flags=re.I)), rel,
                              {**options, "item_group": group}))
        else:
            found.append((base, rel, options))
    # unique form names, in the sorted order above
    seen: dict[str, int] = {}
    unique = []
    for name, rel, opts in found:
        seen[name] = seen.get(name, 0) + 1
        unique.append((name if seen[name] == 1 else f"{name}_{seen[name]}", rel, opts))
    return unique, skipped


def _sheets(path: Path) -> list[str]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True)
    except Exception as exc:
        raise InputDataError(f"{display_path(path)}: not a readable Excel workbook: "
                             f"{exc}") from None
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def _item_groups(path: Path) -> list[str]:
    try:
        from cdiscmap.ingest.odm import parse_odm
    except ImportError:                  # pragma: no cover - odm.py ships with cdiscmap
        raise InputDataError("ODM-XML is not supported by this installation") from None
    return list(parse_odm(path).item_groups())


def _one_line(message: str) -> str:
    return "; ".join(part.strip() for part in message.splitlines() if part.strip())


# --------------------------------------------------------------------------- columns

def _distinct(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The distinct non-blank values (as text) and how many rows hold each."""
    counts = series.dropna().value_counts(sort=False)
    order = np.argsort(counts.index.astype(str).to_numpy(), kind="stable")
    values = pd.Series(counts.index.astype(str).to_numpy()[order], dtype="string")
    return values, counts.to_numpy()[order]


def guess_date(values: pd.Series, counts: np.ndarray, name: str = "",
               file_format: str = "csv") -> DateGuess:
    """How many non-blank values each candidate date style reads, best first.

    ``values`` are distinct; ``counts`` their row counts. Ties go to the style that reads
    more kinds of value (YMD reads ``2014-03-UN``, ISO does not; DATE9 has no time).
    Numeric styles (SAS dates, Excel serials) are tried only for all-numeric columns whose
    name says date, and count only values that give years 1900-2100."""
    total = int(counts.sum())
    results: dict[str, int] = {}
    failed_sample: dict[str, str] = {}
    for fmt in TEXT_FORMATS:
        parsed = parse_dates(values, fmt)
        iso = parsed.iso
        ok = (iso.notna() & ~parsed.failed).to_numpy()
        results[fmt] = int(counts[ok].sum())
        bad = np.flatnonzero(~ok)
        if len(bad):
            failed_sample[fmt] = str(values.iloc[bad[0]])
    text = values.str.strip()
    ymd8 = text.str.fullmatch(r"\d{8}").fillna(False).to_numpy(dtype=bool)
    stamp = pd.to_datetime(text.where(ymd8), format="%Y%m%d", errors="coerce")
    ok8 = stamp.notna().to_numpy() & stamp.dt.year.between(1900, 2100).fillna(False) \
        .to_numpy(dtype=bool)
    results["YYYYMMDD"] = int(counts[ok8].sum())
    numbers = pd.to_numeric(text, errors="coerce")
    if _DATE_NAME.search(name) and len(values) and numbers.notna().all():
        for fmt in NUMERIC_FORMATS:
            iso = parse_dates(values, fmt).iso
            year = pd.to_numeric(iso.str.slice(0, 4), errors="coerce")
            ok = year.between(1900, 2100).fillna(False).to_numpy(dtype=bool)
            results[fmt] = int(counts[ok].sum())
    numeric_first = {"sas": ("SAS_DATE", "SAS_DATETIME", "EXCEL"),
                     "xpt": ("SAS_DATE", "SAS_DATETIME", "EXCEL"),
                     "excel": ("EXCEL", "SAS_DATE", "SAS_DATETIME")}.get(
        file_format, NUMERIC_FORMATS)
    preference = ["YMD", "DMY", "DATE9", "DATETIME", "ISO", "YYYYMMDD", *numeric_first]
    ranked = sorted(results.items(), key=lambda kv: (-kv[1], preference.index(kv[0])))
    best, n_best = ranked[0]
    fmt: str | None = best if total and n_best / total >= DATE_SHARE else None
    if fmt is not None and fmt in TEXT_FORMATS:
        # a column of bare years (ISO '2019') is a number, not a date, unless some value
        # has a month
        iso = parse_dates(values, fmt).iso
        if not iso.str.len().ge(7).fillna(False).any():
            fmt = None
    note = ""
    if fmt is not None and n_best < total and fmt in failed_sample:
        note = f"first value it does not read: {json.dumps(failed_sample[fmt])}"
    if fmt == "DMY":
        parts = text.str.extract(r"^(\d{1,2})[-/ .](\d{1,2})[-/ .]\d{2,4}$").apply(
            pd.to_numeric, errors="coerce")
        if parts[0].notna().any():
            if (parts[1] > 12).any():
                note = _join(note, "some second numbers exceed 12: this may be MM/DD/YYYY, "
                                   "which no iso8601 style reads")
            elif not (parts[0] > 12).any():
                note = _join(note, "no first number exceeds 12: DD/MM and MM/DD cannot be "
                                   "told apart from these values")
    if fmt == "YYYYMMDD":
        note = _join(note, "no iso8601 style reads YYYYMMDD: map it with an expr")
    return DateGuess(fmt, total, tuple(ranked), note)


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _describe_columns(frame: pd.DataFrame, file_format: str) -> list[ColumnDraft]:
    """Each column's kind from its distinct values (never row by row)."""
    out = []
    upper = {c.upper(): c for c in frame.columns}
    for name in frame.columns:
        if name.startswith("_SRC"):
            continue
        values, counts = _distinct(frame[name])
        nonblank = int(counts.sum())
        col = ColumnDraft(name=name, nonblank=nonblank, distinct=len(values))
        key = name.upper()
        if key in _SOFT_DELETE:
            col.kind = "soft-delete"
            col.values = values.tolist()
            out.append(col)
            continue
        if _AUDIT.fullmatch(key):
            col.kind = "audit"
            out.append(col)
            continue
        for suffix in _FAMILY_SUFFIXES.values():
            if key.endswith(suffix) and key[:-len(suffix)] and (
                    key[:-len(suffix)] in upper or
                    sum(f"{key[:-len(suffix)]}{s}" in upper
                        for s in _FAMILY_SUFFIXES.values()) >= 2):
                col.family = upper.get(key[:-len(suffix)], name[:-len(suffix)])
        numbers = pd.to_numeric(values.str.strip(), errors="coerce")
        col.numeric = bool(len(values)) and bool(numbers.notna().all())
        if nonblank:
            col.date = guess_date(values, counts, name, file_format)
            if col.date.format is None:
                col.date = None
        if col.date is not None and not (col.numeric and col.date.format in TEXT_FORMATS
                                         and not _DATE_NAME.search(name)):
            col.kind = "date"
        else:
            col.date = None
            time_share = values.str.strip().str.fullmatch(_TIME_VALUE).fillna(False) \
                .to_numpy(dtype=bool)
            if nonblank and counts[time_share].sum() >= 0.8 * nonblank:
                col.kind = "time"
            elif col.numeric:
                col.kind = "number"
                col.low = values.iloc[int(np.nanargmin(numbers.to_numpy(dtype=float)))]
                col.high = values.iloc[int(np.nanargmax(numbers.to_numpy(dtype=float)))]
        if col.kind in ("text", "number") and 0 < len(values) <= CODED_MAX and \
                2 * len(values) <= nonblank and not _SEQ_LIKE.search(name):
            col.kind = "coded"
            col.values = values.tolist()
        out.append(col)
    return out


# --------------------------------------------------------------------------- subject and keys

def _subject_name(forms: list[tuple[str, pd.DataFrame]]) -> tuple[str | None, str]:
    """The study-wide subject column: a subject-like name, present in most forms, whose
    values recur across forms; else the most widely shared high-cardinality column."""
    per_name: dict[str, list[set[str]]] = {}
    for _, frame in forms:
        for col in frame.columns:
            if not col.startswith("_SRC"):
                per_name.setdefault(col, []).append(set(frame[col].dropna().astype(str)
                                                        .unique()))
    scored = []
    for name, sets in per_name.items():
        union = set().union(*sets)
        if not union:
            continue
        if len(sets) > 1:
            shared = sum(len(s & set().union(*(o for o in sets if o is not s)))
                         for s in sets) / max(sum(len(s) for s in sets), 1)
        else:
            shared = 0.0
        name_score = 2 if _SUBJECT_NAME.fullmatch(name) else 1 if _SUBJECT_HINT.search(name) \
            else 0
        scored.append((name_score, len(sets), shared, len(union), name))
    if not scored:
        return None, ""
    scored.sort(key=lambda s: (-s[0], -s[1], -s[2], -s[3], s[4]))
    name_score, n_forms, shared, n_values, name = scored[0]
    if name_score == 0 and (n_forms < 2 or shared < 0.8):
        return None, "no subject-like column name, and no column shared by the forms"
    why = "name looks like a subject identifier" if name_score == 2 else \
        "name mentions subject/patient" if name_score == 1 else \
        "the column most forms share"
    return name, (f"{why}; in {n_forms} of {len(forms)} forms; {n_values} distinct values, "
                  f"{round(100 * shared)} % of each form's values also in other forms")


def _guess_keys(frame: pd.DataFrame, form: FormDraft) -> tuple[list[str] | None, str]:
    """The smallest set of columns unique over the rows (active rows when soft deletes are
    seen): the subject column plus sequence-, visit- then date-like columns."""
    if form.soft_delete is not None:
        col, deleted, _ = form.soft_delete
        frame = frame.loc[frame[col].fillna("") != deleted]
    n = len(frame)
    subject = form.subject_column
    tiers: list[tuple[int, str]] = []
    for col in form.columns:
        if col.name == subject or col.kind in ("audit", "soft-delete") or col.family or \
                _SLOT.search(col.name) or frame[col.name].isna().any():
            continue
        if _SEQ_LIKE.search(col.name):
            tiers.append((0, col.name))
        elif _VISIT_LIKE.search(col.name) or _TEST_LIKE.search(col.name):
            tiers.append((1, col.name))
        elif col.kind == "date":
            tiers.append((2, col.name))
    tiers = sorted(tiers, key=lambda t: t[0])[:12]
    rank = {name: tier for tier, name in tiers}
    position = {c.name: i for i, c in enumerate(form.columns)}
    base = [subject] if subject and not frame[subject].isna().any() else []
    candidates = [name for _, name in tiers]
    if base and not frame.duplicated(subset=base).any():
        return base, f"one row per {subject} ({n} rows)"
    for size in range(1, KEY_MAX_COLUMNS + 1 - len(base)):
        combos = sorted(itertools.combinations(candidates, size),
                        key=lambda c: (sum(rank[x] for x in c),
                                       sorted(position[x] for x in c)))
        for combo in combos:
            cols = base + sorted(combo, key=position.__getitem__)
            if not frame.duplicated(subset=cols).any():
                dupes = int(frame.duplicated(subset=base).sum()) if base else n
                alone = f"; {subject} alone repeats on {dupes} rows" if base else ""
                return cols, f"unique over {n} rows, no smaller set is{alone}"
    tried = ", ".join(base + candidates) or "none"
    return None, f"no set of up to {KEY_MAX_COLUMNS} of these columns is unique: {tried}"


def _words(name: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return {w for w in re.split(r"[^0-9a-z]+", spaced.lower()) if w}


def _guess_domains(form: FormDraft) -> list[tuple[str, str]]:
    # a sheet or item group is named by itself, not by the workbook/ODM file holding others
    part = form.options.get("item_group") or form.options.get("sheet")
    words = _words(form.name) | (_words(part) - {"ig"} if part else
                                 _words(PurePosixPath(form.file).stem))
    out = []
    for domain, names, columns in _DOMAIN_HINTS:
        hit = sorted(words & set(names))
        if hit:
            out.append((domain, f"form/file name has '{hit[0]}'"))
        elif columns is not None:
            cols = [c.name for c in form.columns if columns.search(c.name)]
            if cols:
                out.append((domain, f"column {cols[0]}"))
    return out


# --------------------------------------------------------------------------- the draft

def _profile(name: str | None) -> Any:
    if name is None:
        return None
    from cdiscmap.ingest.forms import load_profile, profile_names

    try:
        profile, _ = load_profile(name)
    except KeyError:
        raise InputDataError(f"unknown profile {name!r} (profiles: "
                             f"{', '.join(profile_names())})") from None
    return profile.form_defaults


def draft_study(raw_dir: Path, name: str, profile: str | None = None) -> StudyDraft:
    """Read every raw file in ``raw_dir`` and infer what ``init`` writes (no file written).

    InputDataError (exit 2) when the folder is missing or no file in it can be read."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise InputDataError(f"raw folder {display_path(raw_dir)} not found")
    defaults = _profile(profile)
    fmt_override = defaults.format if defaults is not None else None
    found, skipped = _discover(raw_dir, fmt_override)
    reader_defaults = {}
    if defaults is not None:
        reader_defaults = {k: getattr(defaults, k) for k in ("delimiter", "encoding")
                           if getattr(defaults, k) is not None}
    read: list[tuple[str, str, dict, RawForm]] = []
    for form_name, rel, options in found:
        kwargs: dict[str, Any] = dict(options)
        fmt = options.get("format") or fmt_override or \
            FORMAT_BY_SUFFIX.get(Path(rel).suffix.lower())
        if fmt == "csv":
            kwargs.update(reader_defaults)
        try:
            raw = read_form(form_name, raw_dir / rel, raw_dir, **kwargs)
        except CdiscmapError as exc:
            skipped.append((rel + (f" [{options.get('sheet') or options.get('item_group')}]"
                                   if len(options) else ""), _one_line(str(exc))))
            continue
        read.append((form_name, rel, options, raw))
    if not read:
        why = "; ".join(f"{f}: {r}" for f, r in skipped[:3]) or "the folder holds no files"
        raise InputDataError(f"no readable raw file in {display_path(raw_dir)} (csv, sas7bdat, "
                             f"xpt, xlsx, ODM xml): {why}")
    draft = StudyDraft(name=name, forms=[], skipped=sorted(skipped), profile=profile,
                       profile_defaults=defaults)
    frames = [(n, raw.frame) for n, _, _, raw in read]
    draft.subject_name, draft.subject_evidence = _subject_name(frames)
    for form_name, rel, options, raw in sorted(read, key=lambda r: r[0]):
        fmt = options.get("format") or fmt_override or \
            FORMAT_BY_SUFFIX.get(Path(rel).suffix.lower(), "csv")
        frame = raw.frame
        form = FormDraft(name=form_name, file=rel, options=options, rows=len(frame),
                         columns=_describe_columns(frame, fmt))
        _subject_of(form, frame, draft)
        _form_rules(form, frame)
        form.keys, form.keys_evidence = _guess_keys(frame, form)
        if defaults is not None and defaults.keys:
            missing = [k for k in defaults.keys if k not in frame.columns]
            if missing:
                form.profile_keys_note = f"the profile's keys lack {', '.join(missing)} here"
            else:
                active = frame if form.soft_delete is None else \
                    frame.loc[frame[form.soft_delete[0]].fillna("") != form.soft_delete[1]]
                dupes = int(active.duplicated(subset=defaults.keys).sum())
                form.profile_keys_unique = dupes == 0
                form.profile_keys_note = f"the profile's keys repeat on {dupes} rows here"
        form.domains = [d for d in _guess_domains(form) if d[0] != "DM"]
        draft.forms.append(form)
    _choose_dm(draft)
    return draft


def _subject_of(form: FormDraft, frame: pd.DataFrame, draft: StudyDraft) -> None:
    name = draft.subject_name
    if name and name in frame.columns:
        form.subject_column, form.subject_evidence = name, draft.subject_evidence
    else:
        own = [c.name for c in form.columns if _SUBJECT_NAME.fullmatch(c.name)] or \
            [c.name for c in form.columns if _SUBJECT_HINT.search(c.name)]
        if own:
            form.subject_column = own[0]
            form.subject_evidence = "name looks like a subject identifier (this form only)"
        else:
            form.subject_evidence = "no subject-like column in this form"
    if form.subject_column:
        col = form.column(form.subject_column)
        if col is not None:
            col.kind = "subject"
            col.values = []
        subjects = frame[form.subject_column]
        form.n_subjects = int(subjects.nunique())
        form.subjects_unique = bool(subjects.notna().all() and not subjects.duplicated().any())


def _form_rules(form: FormDraft, frame: pd.DataFrame) -> None:
    form.drop_columns = [c.name for c in form.columns if c.kind == "audit"]
    for col in form.columns:
        if col.kind == "soft-delete":
            deleted = _SOFT_DELETE[col.name.upper()]
            n = int((frame[col.name].fillna("") == deleted).sum())
            form.soft_delete = (col.name, deleted, n)
            break
    upper = {c.name.upper(): c.name for c in form.columns}
    for col in form.columns:
        if col.family is None:
            continue
        for role, suffix in _FAMILY_SUFFIXES.items():
            if col.name.upper() == col.family.upper() + suffix:
                form.families.setdefault(col.family, []).append(role)
    if form.families:
        stems = [upper[s.upper()] for s in form.families if s.upper() in upper]
        values = pd.concat([frame[s] for s in stems]) if stems else pd.Series(dtype="string")
        distinct, counts = _distinct(values)
        if len(distinct):
            guess = guess_date(distinct, counts, "DATE")
            form.family_date = guess if guess.format in TEXT_FORMATS + NUMERIC_FORMATS \
                else None
        for stem in stems:      # the stems are dates of the family's style
            col = form.column(stem)
            if col is not None and col.kind != "date" and form.family_date is not None:
                col.kind, col.date = "date", form.family_date


def _choose_dm(draft: StudyDraft) -> None:
    """The form DM is built from: one row per subject, named like demography if possible,
    else the one-row-per-subject form with the most subjects."""
    all_subjects = max((f.n_subjects for f in draft.forms), default=0)
    dm_words = next(names for d, names, _ in _DOMAIN_HINTS if d == "DM")
    ranked = []
    for form in draft.forms:
        if not form.subject_column:
            continue
        named = bool((_words(form.name) | _words(PurePosixPath(form.file).stem)) & set(dm_words))
        ranked.append((not form.subjects_unique, not named, -form.n_subjects, form.name, form,
                       named))
    if not ranked:
        return
    ranked.sort(key=lambda r: r[:4])
    form, named = ranked[0][4], ranked[0][5]
    draft.dm_form = form.name
    one = "one row per subject" if form.subjects_unique else \
        "NOT one row per subject (no form is): DM would repeat subjects; filter the block"
    draft.dm_evidence = (f"{one}, {form.n_subjects} of {all_subjects} subjects"
                         + (", form name suggests demography/registration" if named else ""))
    for col in form.columns:
        if _SITE_NAME.fullmatch(col.name):
            draft.site_column = col.name
            draft.site_evidence = f"column name {col.name}; {col.distinct} distinct values"
            break


# --------------------------------------------------------------------------- YAML text

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def q(value: object) -> str:
    """A YAML scalar for ``value``: plain when unambiguous, else JSON (valid YAML)."""
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(items: Iterable[str]) -> str:
    return "[" + ", ".join(q(i) for i in items) + "]"


def _pad(line: str, comment: str, width: int = 44) -> str:
    return f"{line.ljust(width)}  # {comment}" if comment else line


def _header(draft: StudyDraft) -> list[str]:
    n_files = len({f.file for f in draft.forms})
    return [
        f"# Drafted by `cdiscmap init --study {draft.name}` from {n_files} raw file(s), "
        f"{len(draft.forms)} form(s).",
        "# Every inferred value carries a `# guessed:` comment with its evidence: check each.",
        "# `domains` lists DM only (a minimal mapping that runs); the other guessed domains have",
        "# stubs in sdtm/: fill their Req variables, then add them to `domains` and run",
        "# `cdiscmap check-spec`. Walkthrough: docs/mapping-language.md \"Mapping a new EDC "
        "export\".",
    ]


def _study_yaml(draft: StudyDraft, versions: dict[str, str]) -> str:
    lines = _header(draft)
    lines += [
        _pad(f"studyid: {q(draft.name)}", "from --study; use the protocol's STUDYID"),
        f"title: {q(draft.name + ' (drafted by cdiscmap init)')}",
        f"protocol: {q(draft.name)}",
        "standards:",
        f"  sdtmig: {q(versions.get('SDTMIG', '3.4'))}",
        f"  adamig: {q(versions.get('ADaMIG', '1.3'))}",
        f"  sdtm_ct: {q(versions.get('SDTM CT', ''))}",
        f"  adam_ct: {q(versions.get('ADaM CT', ''))}",
        _pad('output_timestamp: "2000-01-01T00:00:00"',
             "XPT/define headers (never the clock): set it"),
    ]
    if draft.profile:
        lines.append(_pad(f"profile: {q(draft.profile)}", "from --profile"))
    else:
        hint = _profile_hint(draft)
        if hint:
            lines.append(f"# guessed: {hint}")
    lines += ["", "forms:"]
    for form in draft.forms:
        lines += _form_yaml(form, draft)
    if draft.skipped:
        lines += ["", "# Files not listed (no reader could read them; a run counts unlisted "
                  "files as dropped):"]
        lines += [f"#   {f}: {r}" for f, r in draft.skipped]
    lines += [""]
    dm = f"DM from form {draft.dm_form}" if draft.dm_form else "no form names subjects"
    if draft.dm_form:
        lines.append(_pad("domains: [DM]", f"guessed: {dm}; stubs in sdtm/ for "
                                           f"{', '.join(d for d in draft.domains() if d != 'DM') or 'none'}"))
    else:
        lines.append(_pad("domains: []", f"guessed: {dm}"))
    lines += _codelists_yaml(draft)
    return "\n".join(lines) + "\n"


def _profile_hint(draft: StudyDraft) -> str:
    cols = {c.name for f in draft.forms for c in f.columns}
    if {"Subject", "FolderSeq", "InstanceRepeatNumber", "RecordActive"} <= cols:
        return ("columns Subject, FolderSeq, InstanceRepeatNumber and RecordActive look like "
                "the commercial-edc-csv profile (rerun init with --profile commercial-edc-csv)")
    if {"SubjectKey", "StudyEventOID", "ItemGroupRepeatKey"} <= cols:
        return ("ODM key columns (SubjectKey, StudyEventOID, ItemGroupRepeatKey) suggest the "
                "cdisc-odm profile (rerun init with --profile cdisc-odm)")
    return ""


def _form_yaml(form: FormDraft, draft: StudyDraft) -> list[str]:
    d = draft.profile_defaults
    lines = [f"  {q(form.name)}:", f"    file: {q(form.file)}"]
    for key in ("format", "sheet", "item_group"):
        if key in form.options:
            lines.append(f"    {key}: {q(form.options[key])}")
    prof_subject = d.subject_column if d is not None else None
    if form.subject_column and form.subject_column != prof_subject:
        lines.append(_pad(f"    subject_column: {q(form.subject_column)}",
                          f"guessed: {form.subject_evidence}"))
    elif not form.subject_column:
        lines.append(f"    # subject_column: ?   # {form.subject_evidence}")
    prof_keys = d.keys if d is not None else None
    if prof_keys and form.profile_keys_unique:
        lines.append(f"    # keys: the profile's {_flow(prof_keys)} are unique here")
    elif form.keys and form.keys != prof_keys:
        over = f" ({form.profile_keys_note})" if prof_keys else ""
        lines.append(_pad(f"    keys: {_flow(form.keys)}",
                          f"guessed: {form.keys_evidence}{over}"))
    elif not form.keys:
        lines.append(f"    # keys: ?   # guessed: {form.keys_evidence}")
    if form.drop_columns and not (d is not None and d.drop_columns is not None):
        lines.append(_pad(f"    drop_columns: {_flow(form.drop_columns)}",
                          "guessed: EDC audit columns by name"))
    prof_filters = d.filters if d is not None else None
    if form.soft_delete and prof_filters is None:
        col, deleted, n = form.soft_delete
        lines += [_pad("    filters:", f"guessed: {col} is a soft-delete flag; {n} of "
                                       f"{form.rows} rows have {col} = {deleted}"),
                  f"      - drop_if: {{column: {q(col)}, equals: {json.dumps(deleted)}}}",
                  f"        reason: {json.dumps(f'deleted in the EDC ({col} = {deleted})')}"]
    elif prof_filters:
        missing = sorted({c for f in prof_filters for c in _filter_columns(f.drop_if)}
                         - {c.name for c in form.columns})
        if missing:
            lines.append(_pad("    filters: []", f"guessed: the profile's filters test "
                                                 f"{', '.join(missing)}, not in this form"))
    prof_fam = d.date_families if d is not None else None
    fam = form.family_date
    # the profile's style is kept unless it reads fewer of the family's dates than the best
    differs = prof_fam is not None and fam is not None and \
        dict(fam.counts).get(prof_fam.format or "", 0) < fam.parsed
    if form.families and (prof_fam is None or differs):
        roles = sorted({r for rs in form.families.values() for r in rs},
                       key=list(_FAMILY_SUFFIXES).index)
        why = f"date items {', '.join(sorted(form.families))} have suffixed columns"
        if differs:
            why += (f"; the profile's {prof_fam.format} reads "
                    f"{dict(fam.counts).get(prof_fam.format or '', 0)} of them")
        lines.append(_pad("    date_families:", f"guessed: {why}"))
        if fam is not None and fam.format in TEXT_FORMATS + NUMERIC_FORMATS:
            lines.append(_pad(f"      format: {fam.format}", f"guessed: {fam.evidence()}"))
        lines.append("      suffixes: {" + ", ".join(f"{r}: {_FAMILY_SUFFIXES[r]}"
                                                     for r in roles) + "}")
        lines.append("      imputed: refuse")
    lines.append(f"    # {form.rows} rows; {len(form.columns)} columns (kind, values, "
                 "distinct; guesses):")
    for col in form.columns:
        lines.append(f"    #   {col.name}: {col.describe()}")
    for domain, why in form.domains:
        lines.append(f"    # guessed: feeds {domain} ({why}): stub sdtm/{domain.lower()}.yaml")
    if form.name == draft.dm_form:
        lines.append(f"    # guessed: feeds DM ({draft.dm_evidence}): sdtm/dm.yaml")
    return lines


def _filter_columns(cond: Any) -> set[str]:
    out = {cond.column} if cond.column else set()
    for sub in (cond.all or []) + (cond.any or []) + ([cond.not_] if cond.not_ else []):
        out |= _filter_columns(sub)
    return out


def _codelists_yaml(draft: StudyDraft) -> list[str]:
    """A commented `codelists:` stub: each coded column's distinct values, mapped to a CT
    term where a term or its decode matches (case-insensitive), else to '?'."""
    from cdiscmap.standards import load_standards

    codelists = load_standards().codelists
    by_name: dict[str, tuple[list[str], list[str]]] = {}
    for form in draft.forms:
        for col in form.columns:
            if col.kind != "coded":
                continue
            values, where = by_name.setdefault(col.name.upper(), ([], []))
            values.extend(v for v in col.values if v not in values)
            where.append(f"{form.name}.{col.name}")
    if not by_name:
        return []
    lines = ["", "# Study codelists (collected text -> CT submission value): a stub for every coded",
             "# column, values as collected. Uncomment what a mapping uses with assign_ct.",
             "# codelists:"]
    for name, (values, where) in sorted(by_name.items()):
        values = sorted(values)
        target, why, terms = _target(name, values, codelists)
        lines.append(f"#   {q(name)}:" + f"   # guessed: {', '.join(where)}, "
                     f"{len(values)} distinct values")
        if target:
            lines.append(f"#     target: {q(target)}   # guessed: {why}")
        else:
            lines.append("#     target: ?   # no CT codelist holds these values")
        pairs = []
        for v in values:
            term = terms.get(v.casefold())
            if term is None:
                pairs.append(f"{json.dumps(v, ensure_ascii=False)}: \"?\"")
            elif term != v:
                pairs.append(f"{json.dumps(v, ensure_ascii=False)}: {q(term)}")
        if pairs:
            lines.append("#     map: {" + ", ".join(pairs) + "}")
    return lines


def _target(name: str, values: list[str], codelists: dict) -> tuple[str | None, str,
                                                                     dict[str, str]]:
    """The CT codelist whose terms (or decodes) match most of the values; the column's own
    name when it is a codelist name and nothing matches better."""
    folded = {v.casefold() for v in values}
    if folded <= {"y", "n", "yes", "no"}:
        name = "NY"                 # a yes/no flag (other lists hold Y too, e.g. DATEFL)
    if name in codelists and codelists[name].checkable:
        cl = codelists[name]
        terms = {t.value.casefold(): t.value for t in cl.terms}
        terms.update({t.decode.casefold(): t.value for t in cl.terms
                      if t.decode and t.decode.casefold() not in terms})
        return name, (f"named like the CT codelist {name}" if name != "NY" else
                      "yes/no values"), terms
    best: tuple[int, int, str] | None = None
    for cl_name, cl in codelists.items():
        if not cl.checkable:
            continue
        keys = {t.value.casefold() for t in cl.terms} | \
            {t.decode.casefold() for t in cl.terms if t.decode}
        hits = len(folded & keys)
        if hits and 2 * hits >= len(folded):
            cand = (-hits, len(cl.terms), cl_name)
            if best is None or cand < best:
                best = cand
    if best is None:
        return None, "", {}
    cl = codelists[best[2]]
    terms: dict[str, str] = {}
    for t in cl.terms:
        terms[t.value.casefold()] = t.value
        if t.decode:
            terms.setdefault(t.decode.casefold(), t.value)
    return best[2], f"{-best[0]} of {len(values)} values are terms or decodes of {best[2]}", terms


# --------------------------------------------------------------------------- domain stubs

def _likely(variable: str, domain: str, form: FormDraft,
            used: set[str]) -> tuple[ColumnDraft | None, str]:
    """The raw column most likely to hold ``variable``: the same name, else a name hint."""
    names = {c.name.upper(): c for c in form.columns}
    if variable in names and names[variable].kind not in ("audit", "soft-delete"):
        return names[variable], "same name"
    suffix = variable[len(domain):] if variable.startswith(domain) and \
        variable != domain else variable
    pattern = _VARIABLE_HINTS.get(variable) or _VARIABLE_HINTS.get(suffix)
    if not pattern:
        return None, ""
    regex = re.compile(pattern, re.IGNORECASE)
    want_date = variable.endswith("DTC")
    for col in form.columns:
        if col.kind in ("audit", "soft-delete", "subject") or col.name in used or col.family \
                and col.family != col.name:
            continue
        if want_date != (col.kind == "date"):
            continue
        if regex.search(col.name):
            return col, f"name matches /{pattern}/"
    return None, ""


def _suggest(variable: Any, domain: str, form: FormDraft, used: set[str]) -> str:
    name = variable.name
    col, why = _likely(name, domain, form, used)
    core = variable.core
    if col is None:
        return f"# {name}: ?   # {core}; no likely column in {form.name}"
    if name.endswith("DTC") and col.date is not None:
        if col.date.format == "YYYYMMDD":
            c = col.name
            algo = (f"{{expr: \"{c}[0:4] + '-' + {c}[4:6] + '-' + {c}[6:8]\"}}")
        else:
            algo = f"{{iso8601: {{date: {q(col.name)}, format: {col.date.format}}}}}"
        why += f"; {col.date.format} ({col.date.evidence()})"
    elif variable.data_type == "Num" and col.numeric:
        algo = f"{{number: {{column: {q(col.name)}}}}}"
    elif name in ("VISIT", "VISITNUM"):
        algo = f"{{{name.lower()}: {{column: {q(col.name)}}}}}"
        why += "; needs study.yaml visits rules"
    else:
        algo = f"{{take: {q(col.name)}}}"
        if variable.codelist:
            why += f"; CT {variable.codelist}: map it with assign_ct through a study codelist"
    return f"# {name}: {algo}   # {core}; guessed: {col.name} ({why})"


def _usubjid(subject: str) -> str:
    return f"USUBJID: {{concat: {{parts: [{{var: STUDYID}}, {{column: {q(subject)}}}], " \
           "sep: \"-\"}}"


def _domain_yaml(domain: str, sources: list[tuple[str, str]], draft: StudyDraft,
                 standards: Any) -> str:
    label = _DOMAIN_NAMES.get(domain, domain)
    if domain not in standards.datasets:
        shipped = ", ".join(sorted(d for d in standards.datasets
                                   if not d.startswith(("AD", "SUPP"))))
        lines = [f"# {domain} — {label}: drafted by `cdiscmap init`.",
                 f"# {domain} is not in specs/ (SDTMIG 3.4 metadata shipped: {shipped}), so",
                 "# cdiscmap cannot map it yet; the forms that look like it:"]
        lines += [f"#   {f}: guessed: {why}" for f, why in sources]
        return "\n".join(lines) + "\n"
    ds = standards.datasets[domain]
    wanted = [v for v in ds.variables if v.core in ("Req", "Exp")
              and v.name not in ("STUDYID", "DOMAIN", "USUBJID")
              and v.name[len(domain):] not in _DERIVED]
    active = domain == "DM"
    if active:
        head = [f"# DM — {ds.label} (SDTMIG 3.4), drafted by `cdiscmap init`: a minimal mapping "
                "that runs.",
                "# The other Req/Exp variables are commented with their likely raw column: "
                "uncomment,",
                "# check each guess, map coded values through study codelists (assign_ct)."]
    else:
        head = [f"# {domain} — {ds.label} (SDTMIG 3.4), drafted by `cdiscmap init`: a stub, not "
                "listed in",
                "# study.yaml `domains` yet. Fill the Req variables (commented with their likely "
                "raw",
                f"# column), then add {domain} to `domains` and run `cdiscmap check-spec`."]
    lines = head + [f"domain: {domain}", "blocks:"]
    for form_name, why in sources:
        form = draft.form(form_name)
        lines += [_pad(f"  - name: {q(form_name)}", f"guessed: {why}"),
                  f"    source: {{form: {q(form_name)}}}"]
        subject = form.subject_column
        used: set[str] = {subject} if subject else set()
        body: list[str] = []
        if subject:
            body.append(_usubjid(subject))
        else:
            body.append(f"# USUBJID: ?   # {form.name} has no subject column")
        if active and subject:
            body.append(f"SUBJID: {{take: {q(subject)}}}")
            if draft.site_column:
                used.add(draft.site_column)
                body.append(_pad(f"SITEID: {{take: {q(draft.site_column)}}}",
                                 f"guessed: {draft.site_evidence}"))
        done = {"SUBJID", "SITEID"} if active and subject and draft.site_column else \
            {"SUBJID"} if active and subject else set()
        for var in wanted:
            if var.name in done:
                continue
            body.append(_suggest(var, domain, form, used))
        if any(not b.startswith("#") for b in body):
            lines.append("    variables:")
        lines += ["      " + b for b in body]
    lines += ["variables:",
              f"  STUDYID: {{constant: {q(draft.name)}}}",
              f"  DOMAIN: {{constant: {domain}}}"]
    seq = f"{domain}SEQ"
    if seq in ds.names():
        lines.append(f"  {seq}: {{seq: {{}}}}")
    return "\n".join(lines) + "\n"


def render(draft: StudyDraft) -> dict[str, str]:
    """The study folder's files: relative path → text (deterministic)."""
    from cdiscmap.standards import load_standards

    standards = load_standards()
    files = {"study.yaml": _study_yaml(draft, standards.versions)}
    for domain, sources in draft.domains().items():
        files[f"sdtm/{domain.lower()}.yaml"] = _domain_yaml(domain, sources, draft, standards)
    return files


# --------------------------------------------------------------------------- writing

def write_study(raw_dir: Path, name: str, out: Path = Path("."), *, profile: str | None = None,
                force: bool = False) -> tuple[Path, StudyDraft]:
    """``cdiscmap init``: draft ``<out>/<name>/`` from the export in ``raw_dir``.

    An existing folder is refused unless ``force`` (then study.yaml and sdtm/ are replaced and
    anything else in the folder, such as adam/ or notes, is kept). The folder is built in a
    staging folder beside it, checked like ``cdiscmap check-spec``, then put in place in one
    step, so a failure leaves nothing half-written."""
    from cdiscmap.spec.models import STUDYID_PATTERN

    if not STUDYID_PATTERN.fullmatch(name) or ".." in name:
        raise InputDataError(f"--study {name!r} names the folder and STUDYID: 1-64 letters, "
                             "digits, '-', '_' or '.', starting with a letter or digit")
    target = Path(out) / name
    if os.path.lexists(target) and not force:
        raise OutputError(f"{display_path(target)} already exists; give --force to replace its "
                          "study.yaml and sdtm/")
    draft = draft_study(raw_dir, name, profile)
    files = render(draft)
    _publish(target, files)
    return target, draft


def _check(folder: Path) -> None:
    from cdiscmap.errors import SpecError
    from cdiscmap.pipeline.run import check_study_spec

    try:
        check_study_spec(folder)
    except SpecError as exc:       # the draft must pass: anything else is a bug in init
        raise RuntimeError(f"the drafted study does not pass check-spec: {exc}") from None


def _publish(target: Path, files: dict[str, str]) -> None:
    """Write the files into a staging folder beside ``target``, check them, then switch."""
    from cdiscmap.emit.atomic import Staging, atomic_write_text

    with Staging(target) as stage:
        for rel, text in files.items():
            atomic_write_text(stage.folder / rel, text, parents=True)
        _check(stage.folder)
        stage.publish(lambda rel: rel == "study.yaml" or rel.startswith("sdtm/"),
                      owned_dirs={"sdtm"})
