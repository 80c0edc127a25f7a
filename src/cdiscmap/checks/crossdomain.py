"""Rules that look across datasets (or across records of one dataset), e.g. TR ↔ TU links.

Each rule has an id, a severity and a one-line explanation in ``RULES``; findings name the
dataset, subject, variable, value and the raw row (when the data carries lineage).
"""

from __future__ import annotations

import pandas as pd

from cdiscmap.findings import Finding, Severity
from cdiscmap.sdtm.dates import complete_date

RULES: dict[str, tuple[Severity, str]] = {
    "XD0001": (Severity.ERROR, "USUBJID is not in DM (SDTMIG 3.4 §5.2: DM holds every subject)"),
    "XD0002": (Severity.ERROR, "TR record has no TU record with the same USUBJID and link id"),
    "XD0003": (Severity.ERROR, "TULNKID is not unique within a subject's lesion identifications"),
    "XD0004": (Severity.ERROR, "more than one overall response per subject, visit, evaluator"),
    "XD0005": (Severity.ERROR, "event starts after the subject's death date"),
    "XD0006": (Severity.WARNING, "--DY does not match --DTC and DM.RFSTDTC (SDTMIG 3.4 §4.4.4)"),
    "XD0007": (Severity.ERROR, "--SEQ is not unique within a subject"),
    "XD0008": (Severity.NOTICE, "record dated before informed consent (DM.RFICDTC)"),
    "XD0009": (Severity.ERROR, "TS parameter required by the FDA Technical Conformance Guide is "
               "missing (checks/ts_required.py)"),
}


def _src(frame: pd.DataFrame) -> pd.Series:
    if "_SRCFILE" in frame and "_SRCROW" in frame:
        return frame["_SRCFILE"].astype(str) + " row " + frame["_SRCROW"].astype(str)
    return pd.Series("", index=frame.index)


PER_RECORD_LIMIT = 100     # above this, one finding per distinct value (with its count)


def _emit(rule: str, dataset: str, variable: str, bad: pd.DataFrame, values: pd.Series,
          detail: str = "") -> list[Finding]:
    """One finding per offending record while they are few; a systematic problem (many
    records) is folded into one finding per distinct value, with the count and first record."""
    severity, text = RULES[rule]
    if bad.empty:
        return []
    table = pd.DataFrame({
        "u": bad["USUBJID"].astype(str) if "USUBJID" in bad else "",
        "v": values.loc[bad.index].astype(str),
        "s": _src(bad)})
    if len(table) > PER_RECORD_LIMIT:
        grouped = table.groupby("v", sort=True)
        first = grouped.first()
        counts = grouped.size()
        return [Finding(rule, severity, text + detail, dataset, str(r["u"]), variable, str(v),
                        str(r["s"]), int(counts[v])) for v, r in first.iterrows()]
    return [Finding(rule, severity, text + detail, dataset, u, variable, v, s)
            for u, v, s in zip(table["u"], table["v"], table["s"], strict=True)]


def _dy_pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(--DTC, --DY) variable pairs present in a dataset: XXDTC/XXDY, XXSTDTC/XXSTDY, ..."""
    pairs = []
    for col in frame.columns:
        if col.endswith("DTC"):
            dy = col[:-3] + "DY"
            if dy in frame:
                pairs.append((col, dy))
    return pairs


def check_sdtm_cross(domains: dict[str, pd.DataFrame],
                     supp: dict[str, pd.DataFrame] | None = None) -> list[Finding]:
    out: list[Finding] = []
    dm = domains.get("DM")
    subjects = set(dm["USUBJID"].dropna()) if dm is not None and "USUBJID" in dm else None
    for name, frame in {**domains, **(supp or {})}.items():
        if name == "DM" or "USUBJID" not in frame or subjects is None:
            continue
        # a null USUBJID is no subject (RELREC's dataset-level relationships, SDTMIG 3.4 §8.2)
        bad = frame[~frame["USUBJID"].isin(subjects) & frame["USUBJID"].notna()]
        out += _emit("XD0001", name, "USUBJID", bad, bad["USUBJID"])
    for name, frame in domains.items():
        seq = f"{name}SEQ"
        if seq in frame and "USUBJID" in frame:
            dup = frame.duplicated(["USUBJID", seq], keep="first") & frame[seq].notna()
            out += _emit("XD0007", name, seq, frame[dup], frame[seq])
    from cdiscmap.checks.ts_required import check_ts_required

    out += check_ts_required(domains.get("TS"))
    tu, tr, rs = domains.get("TU"), domains.get("TR"), domains.get("RS")
    if tu is not None and tr is not None and "TRLNKID" in tr and "TULNKID" in tu:
        links = tu[["USUBJID", "TULNKID"]].rename(columns={"TULNKID": "TRLNKID"})
        links = links.drop_duplicates().assign(_ok=True)
        linked = tr[tr["TRLNKID"].notna()]
        m = linked.merge(links, on=["USUBJID", "TRLNKID"], how="left")
        m.index = linked.index
        bad = linked[m["_ok"].isna()]
        out += _emit("XD0002", "TR", "TRLNKID", bad, bad["TRLNKID"])
    if tu is not None and "TULNKID" in tu:
        ident = tu[tu["TUTESTCD"] == "TUMIDENT"] if "TUTESTCD" in tu else tu
        dup = ident.duplicated(["USUBJID", "TULNKID"], keep="first")
        out += _emit("XD0003", "TU", "TULNKID", ident[dup], ident["TULNKID"])
    if rs is not None and "RSTESTCD" in rs and "VISITNUM" in rs:
        ovr = rs[rs["RSTESTCD"] == "OVRLRESP"]
        keys = ["USUBJID", "VISITNUM"] + [c for c in ("RSEVAL", "RSDRVFL") if c in rs]
        dup = ovr.duplicated(keys, keep="first")
        out += _emit("XD0004", "RS", "RSSTRESC", ovr[dup], ovr["RSSTRESC"])
    if dm is None or "USUBJID" not in dm:
        return out
    ref = dm.drop_duplicates("USUBJID").set_index("USUBJID")
    for name, frame in domains.items():
        if name == "DM" or "USUBJID" not in frame:
            continue
        if "RFSTDTC" in ref:
            rfst = complete_date(frame["USUBJID"].map(ref["RFSTDTC"]))
            for dtc, dy in _dy_pairs(frame):
                delta = (complete_date(frame[dtc]) - rfst).dt.days
                expect = delta.where(delta < 0, delta + 1)
                bad = frame[(expect.notna() & (frame[dy] != expect)).fillna(False)]
                out += _emit("XD0006", name, dy, bad, frame[dy])
        start = f"{name}STDTC" if f"{name}STDTC" in frame else f"{name}DTC"
        if start not in frame:
            continue
        d = complete_date(frame[start])
        if "DTHDTC" in ref and name in ("AE", "EX", "TR", "TU", "RS"):
            death = complete_date(frame["USUBJID"].map(ref["DTHDTC"]))
            bad = frame[(d > death).fillna(False)]
            out += _emit("XD0005", name, start, bad, frame[start])
        if "RFICDTC" in ref and name in ("AE", "EX"):
            ic = complete_date(frame["USUBJID"].map(ref["RFICDTC"]))
            bad = frame[(d < ic).fillna(False)]
            out += _emit("XD0008", name, start, bad, frame[start])
    return out
