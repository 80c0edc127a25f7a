"""RELREC (related records, SDTMIG 3.4 §8.2) and CO (comments, SDTMIG 3.4 §5.1) from study.yaml.

Why here: which records relate and where comments are collected is study knowledge
(study.yaml ``relrec:`` and ``comments:``, :mod:`cdiscmap.spec.design`); this module only
executes it on the mapped domains, with whole-frame merges.

- A dataset-level relationship (§8.2.2) says that every record of one dataset relates to the
  records of another with the same value of an identifier (TU.TULNKID ↔ TR.TRLNKID): one
  RELREC record per dataset, USUBJID and IDVARVAL null, RELTYPE ONE or MANY.
- A record-level relationship (§8.2.1) relates, within a subject, the records of the sides
  whose ``on`` variables hold the same value (AE.AESPID ↔ CM.CMSPID when the CM form names the
  AE it treats): one RELREC record per related record, IDVAR/IDVARVAL naming it, one RELID
  per related group (``<relid>-<n>``, numbered in subject and value order).
- CO records come from a raw comment column: the comment is attached, through record lineage
  (``_SRCFILE``/``_SRCROW``), to the SDTM records the raw row produced (RDOMAIN, IDVAR,
  IDVARVAL: §5.1 CO), or to the subject's whole domain when no IDVAR is asked for.
- A comment over 200 characters is cut between words into COVAL, COVAL1, COVAL2, ... (SDTMIG
  3.4 §5.1 CO assumption 3, §4.5.3: no SUPPCO); :func:`with_continuations` adds COVAL1..n to
  the study's metadata, as Perm copies of COVAL, so the XPT labels, define.xml ItemDefs and the
  pandera checks follow from specs/ like any other variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cdiscmap.errors import InputDataError, SpecError
from cdiscmap.ingest.readers import read_form
from cdiscmap.sdtm.text import MAX_BYTES, cut_between_words
from cdiscmap.standards.models import Standards, Variable

if TYPE_CHECKING:  # annotations only: `validate` imports this module and reads no study spec
    from cdiscmap.spec.design import CommentSpec, RelrecSpec
    from cdiscmap.spec.loader import LoadedStudy

# Variables whose text over 200 characters goes into numbered columns of the same dataset
# (SDTMIG 3.4 variable descriptions: CO.COVAL "COVAL1-COVALn", TS.TSVAL "TSVAL1-TSVALn").
CONTINUED = {"CO": "COVAL", "TS": "TSVAL"}
MAX_CONTINUATIONS = 99              # COVAL99: 7 characters; TSVAL99 likewise

_RELREC_COLUMNS = ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELTYPE", "RELID"]


def _text_value(values: pd.Series) -> pd.Series:
    """IDVARVAL text: whole numbers without a decimal part (--SEQ 3 → "3")."""
    numeric = pd.to_numeric(values, errors="coerce")
    whole = numeric.notna() & (numeric == numeric.round())
    out = values.astype("string")
    return out.mask(whole, numeric.where(whole).astype("Int64").astype("string"))


def _missing(relid: str, domain: str, variables: list[str], frame: pd.DataFrame) -> None:
    absent = [v for v in variables if v not in frame.columns]
    if absent:
        raise SpecError(f"relrec {relid}: {domain} has no variable {', '.join(absent)}")


def build_relrec(specs: list[RelrecSpec], studyid: str, domains: dict[str, pd.DataFrame]
                 ) -> pd.DataFrame | None:
    """RELREC from the study's relationships; a relationship whose datasets are not all
    present (or, record-level, that relates no record) gives no records."""
    parts: list[pd.DataFrame] = []
    for spec in specs:
        frames = [domains.get(side.domain) for side in spec.records]
        if any(f is None or f.empty for f in frames):
            continue
        if spec.level == "dataset":
            for side, frame in zip(spec.records, frames, strict=True):
                _missing(spec.relid, side.domain, [side.idvar], frame)
            parts.append(pd.DataFrame({
                "RDOMAIN": [s.domain for s in spec.records], "USUBJID": None,
                "IDVAR": [s.idvar for s in spec.records], "IDVARVAL": None,
                "RELTYPE": [s.reltype for s in spec.records], "RELID": spec.relid}))
            continue
        sides = []
        for side, frame in zip(spec.records, frames, strict=True):
            on = side.on or ""
            _missing(spec.relid, side.domain, ["USUBJID", on, side.idvar], frame)
            part = pd.DataFrame({"USUBJID": frame["USUBJID"].astype(object),
                                 "_ON": frame[on].astype("string").str.strip(),
                                 "IDVARVAL": _text_value(frame[side.idvar]),
                                 "RDOMAIN": side.domain, "IDVAR": side.idvar})
            sides.append(part[part["_ON"].notna() & (part["_ON"] != "")
                              & part["USUBJID"].notna()])
        # a group relates records only when every side has one with that subject and value
        keys = sides[0][["USUBJID", "_ON"]].drop_duplicates()
        for part in sides[1:]:
            keys = keys.merge(part[["USUBJID", "_ON"]].drop_duplicates(), on=["USUBJID", "_ON"])
        if keys.empty:
            continue
        keys = keys.sort_values(["USUBJID", "_ON"], kind="stable").reset_index(drop=True)
        keys["RELID"] = spec.relid + "-" + (keys.index + 1).astype(str)
        linked = pd.concat(sides, ignore_index=True).merge(keys, on=["USUBJID", "_ON"])
        linked = linked.sort_values(["RELID", "RDOMAIN", "IDVARVAL"], kind="stable")
        parts.append(linked.drop(columns="_ON").assign(RELTYPE=None))
    if not parts:
        return None
    relrec = pd.concat(parts, ignore_index=True)
    relrec.insert(0, "STUDYID", studyid)
    relrec = relrec[_RELREC_COLUMNS].copy()
    for column in _RELREC_COLUMNS:
        relrec[column] = relrec[column].astype("string")
    relrec["_SRCFILE"] = "study.yaml"
    relrec["_SRCROW"] = 0
    return relrec


def build_co(loaded: LoadedStudy, raw_dir: Path, domains: dict[str, pd.DataFrame]
             ) -> pd.DataFrame | None:
    """CO from the raw comment columns study.yaml ``comments:`` names; None without any."""
    parts = [_comments(loaded, raw_dir, domains, i, spec)
             for i, spec in enumerate(loaded.study.comments)]
    parts = [p for p in parts if p is not None and not p.empty]
    if not parts:
        return None
    co = pd.concat(parts, ignore_index=True)
    co = co.sort_values(["USUBJID", "RDOMAIN", "_ORDER", "_SRCROW"], kind="stable")
    co["COSEQ"] = (co.groupby("USUBJID", sort=False).cumcount() + 1).astype("float64")
    co.insert(0, "DOMAIN", "CO")
    co.insert(0, "STUDYID", loaded.study.studyid)
    columns = ["STUDYID", "DOMAIN", "RDOMAIN", "USUBJID", "COSEQ", "IDVAR", "IDVARVAL",
               "COVAL", "COEVAL", "CODTC"]
    out = co[[*columns, "_SRCFILE", "_SRCROW"]].reset_index(drop=True)
    for column in columns:
        if column != "COSEQ":
            out[column] = out[column].astype("string")
    return split_continued(out, "COVAL")


def split_continued(frame: pd.DataFrame, variable: str) -> pd.DataFrame:
    """``variable`` over 200 characters cut between words into ``variable``, ``variable``1,
    ``variable``2, ... (each at most 200; the blank at a cut is dropped, so the parts rejoin
    with one space), the numbered columns right after ``variable``. A text needing more than
    :data:`MAX_CONTINUATIONS` columns is a raw-file problem and stops the run."""
    text = frame[variable].astype("string")
    long = (text.str.len() > MAX_BYTES).fillna(False).astype(bool)
    if not long.any():
        return frame
    out = frame.copy()
    head, rest = cut_between_words(text[long])
    out.loc[long, variable] = head
    parts: list[pd.Series] = []
    while (rest.str.len() > 0).any():
        if len(parts) == MAX_CONTINUATIONS:
            first = rest[rest.str.len() > 0].index[0]
            raise InputDataError(f"{variable}: text at {frame.at[first, '_SRCFILE']} row "
                                 f"{frame.at[first, '_SRCROW']} needs more than "
                                 f"{MAX_CONTINUATIONS} continuation columns; check the raw file")
        rest = rest[rest.str.len() > 0]
        chunk, rest = cut_between_words(rest)
        parts.append(chunk)
    at = out.columns.get_loc(variable) + 1
    for n, chunk in enumerate(parts, start=1):
        out.insert(at + n - 1, f"{variable}{n}", chunk.reindex(out.index).astype("string"))
    return out


def with_continuations(standards: Standards, domains: dict[str, pd.DataFrame]) -> Standards:
    """``standards`` with the numbered continuation variables the datasets hold (COVAL1, ...),
    each a Perm copy of its base variable placed right after it, labelled "<label> n"."""
    changed = {}
    for dataset, base in CONTINUED.items():
        frame = domains.get(dataset)
        if frame is None or dataset not in standards.datasets:
            continue
        meta = standards.datasets[dataset]
        known = set(meta.names())
        extra = sorted((c for c in frame.columns if c not in known and c.startswith(base)
                        and c[len(base):].isdigit() and int(c[len(base):]) >= 1),
                       key=lambda c: int(c[len(base):]))
        if not extra:
            continue
        variables: list[Variable] = []
        for var in meta.variables:
            variables.append(var.model_copy(update={"order": len(variables) + 1}))
            if var.name == base:
                for name in extra:
                    label = f"{var.label} {name[len(base):]}"
                    variables.append(var.model_copy(update={
                        "name": name, "label": label, "core": "Perm",
                        "order": len(variables) + 1}))
        changed[dataset] = meta.model_copy(update={"variables": variables})
    if not changed:
        return standards
    return standards.model_copy(update={"datasets": {**standards.datasets, **changed}})


def _comments(loaded: LoadedStudy, raw_dir: Path, domains: dict[str, pd.DataFrame],
              index: int, spec: CommentSpec) -> pd.DataFrame | None:
    line = loaded.study_yaml.line_of(("comments", index))

    def fail(message: str) -> SpecError:
        return SpecError(message, loaded.study_file, line, "comments")

    form = loaded.study.forms.get(spec.form)
    if form is None:
        raise fail(f"comments: unknown form '{spec.form}'")
    frame = domains.get(spec.domain)
    if frame is None or frame.empty:
        return None
    raw = read_form(spec.form, raw_dir / form.file, root=raw_dir, **form.reader_options()).frame
    if spec.column not in raw.columns:
        raise fail(f"comments: form '{spec.form}' ({form.file}) has no column '{spec.column}'")
    idvar = f"{spec.domain}SEQ" if spec.idvar == "SEQ" else spec.idvar
    for name in (idvar, spec.date):
        if name is not None and name not in frame.columns:
            raise fail(f"comments: {spec.domain} has no variable {name}")
    text = raw[spec.column].astype("string").str.strip()
    said = raw.loc[text.notna() & (text != ""), ["_SRCFILE", "_SRCROW"]]
    said = said.assign(COVAL=text[said.index])
    records = frame[frame["_SRCFILE"].astype(str) == str(raw["_SRCFILE"].iloc[0])] \
        if len(raw) else frame.iloc[0:0]
    keep = ["USUBJID", "_SRCFILE", "_SRCROW"] + ([idvar] if idvar else []) \
        + ([spec.date] if spec.date else [])
    records = records[list(dict.fromkeys(keep))].astype({"_SRCROW": "int64"})
    merged = said.astype({"_SRCROW": "int64"}).merge(records, on=["_SRCFILE", "_SRCROW"])
    merged["IDVAR"] = idvar
    merged["IDVARVAL"] = _text_value(merged[idvar]) if idvar else None
    merged["CODTC"] = merged[spec.date] if spec.date else None
    # one comment per record it is about (a raw row that made several records of the same
    # IDVARVAL, or a subject-level comment, is kept once)
    merged = merged.drop_duplicates(["USUBJID", "IDVARVAL", "COVAL"])
    return merged.assign(RDOMAIN=spec.domain, COEVAL=spec.evaluator, _ORDER=index)[
        ["USUBJID", "RDOMAIN", "IDVAR", "IDVARVAL", "COVAL", "COEVAL", "CODTC", "_ORDER",
         "_SRCFILE", "_SRCROW"]]


__all__ = ["CONTINUED", "build_co", "build_relrec", "split_continued", "with_continuations"]
