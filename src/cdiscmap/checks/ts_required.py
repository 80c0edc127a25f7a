"""CMAP-XD0009: a TS parameter the FDA requires for an interventional study is missing.

Why: the FDA's Study Data Technical Conformance Guide (Trial Summary section and its table of
TS parameters) expects these parameters in every clinical study's TS; a value the protocol does
not give is still submitted, as a record with TSVAL null and TSVALNF set (SDTMIG 3.4 §7.6.1,
e.g. AGEMAX with PINF when there is no upper age limit). Reviewers' tools and the FDA's
technical rejection criteria read TS first, so a missing parameter is an error, found before
submission. The list below is the TCG's, restricted to codes in the SDTM CT TSPARMCD codelist;
conditional parameters apply only when the parameter they depend on has the given value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.findings import Finding, Severity

RULE = "CMAP-XD0009"
MESSAGE = ("TS parameter required by the FDA Technical Conformance Guide is missing (give a "
           "value or a TSVALNF null flavour)")

# Required for every clinical study.
REQUIRED: tuple[str, ...] = (
    "ACTSUB", "ADAPT", "ADDON", "AGEMAX", "AGEMIN", "DCUTDESC", "DCUTDTC", "FCNTRY",
    "HLTSUBJI", "INDIC", "LENGTH", "OBJPRIM", "OUTMSPRI", "PLANSUB", "RANDOM", "REGID",
    "SDTIGVER", "SDTMVER", "SENDTC", "SEXPOP", "SPONSOR", "SSTDTC", "STOPRULE", "STYPE",
    "TBLIND", "TCNTRL", "TDIGRP", "TINDTP", "TITLE", "TPHASE", "TRT", "TTYPE",
)
# Required when another parameter has one of the values: (parameter, on, values).
CONDITIONAL: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("INTMODEL", "STYPE", frozenset({"INTERVENTIONAL"})),
    ("INTTYPE", "STYPE", frozenset({"INTERVENTIONAL"})),
    ("NARMS", "STYPE", frozenset({"INTERVENTIONAL"})),
    ("PCLAS", "INTTYPE", frozenset({"DRUG", "BIOLOGIC", "BIOLOGICAL"})),
    ("CURTRT", "ADDON", frozenset({"Y"})),
    ("RANDQT", "RANDOM", frozenset({"Y"})),
    ("COMPTRT", "TCNTRL", frozenset({"ACTIVE"})),
)


def required_parameters(ts: pd.DataFrame) -> list[str]:
    """The parameters TS must hold, given the values it has (STYPE, INTTYPE, ADDON, ...)."""
    needed = list(REQUIRED)
    if {"TSPARMCD", "TSVAL"} <= set(ts.columns):
        parameters, values = _text(ts, "TSPARMCD"), _text(ts, "TSVAL")
        if parameters is not None and values is not None:
            # each condition asked of the values its parameter has (records without both
            # left out, as the pandas path's dropna)
            given: dict[str, set[str]] = {}
            for parameter, value in zip(parameters, values, strict=True):
                if parameter is not None and value is not None:
                    given.setdefault(parameter, set()).add(value.upper())
            return sorted(needed + [code for code, name, when in CONDITIONAL
                                    if not when.isdisjoint(given.get(name, ()))])
        given_ = ts[["TSPARMCD", "TSVAL"]].dropna().astype(str)
        # the records of the few parameters a condition reads, asked each condition's values
        # (a group per parameter of TS, each with its own Python set, cost more than TS does)
        on = given_[given_["TSPARMCD"].isin([on for _, on, _ in CONDITIONAL])]
        parameter, value = on["TSPARMCD"].to_numpy(), on["TSVAL"].str.upper()
        needed += [code for code, name, when in CONDITIONAL
                   if ((parameter == name) & value.isin(when).to_numpy()).any()]
    return sorted(needed)


def _text(ts: pd.DataFrame, column: str) -> list[str | None] | None:
    """A ``string`` column of TS as a list of str (None for null); None for other dtypes
    (the pandas path decides). Why a list: TS has a few dozen records (the study's design,
    not its subjects), and each pandas call on them (notna, astype, str.strip, isin,
    str.upper: a dozen in all) costs more than reading the values once, ≈ 5 ms of the
    cross-dataset checks in all."""
    series = ts[column]
    if not isinstance(series.dtype, pd.StringDtype):
        return None
    return [value if isinstance(value, str) else None
            for value in np.asarray(series.array, dtype=object)]


def check_ts_required(ts: pd.DataFrame | None) -> list[Finding]:
    """One CMAP-XD0009 finding per required parameter without a record that has TSVAL or TSVALNF.

    No TS at all is not this rule's concern (it is a dataset-level gap, reported elsewhere)."""
    if ts is None or "TSPARMCD" not in ts:
        return []
    parameters = _text(ts, "TSPARMCD")
    values = [_text(ts, column) for column in ("TSVAL", "TSVALNF") if column in ts]
    if parameters is not None and all(v is not None for v in values):
        # a record gives its parameter when TSVAL or TSVALNF holds more than white space
        present = {parameter for parameter, *texts in zip(parameters, *values, strict=True)
                   if parameter is not None and any(t is not None and t.strip() for t in texts)}
        return [Finding(RULE, Severity.ERROR, MESSAGE, "TS", "", "TSPARMCD", code)
                for code in required_parameters(ts) if code not in present]
    given = pd.Series(False, index=ts.index)
    for column in ("TSVAL", "TSVALNF"):
        if column in ts:
            given |= ts[column].notna() & (ts[column].astype("string").str.strip() != "")
    present = set(ts.loc[given.fillna(False), "TSPARMCD"].astype(str))
    return [Finding(RULE, Severity.ERROR, MESSAGE, "TS", "", "TSPARMCD", code)
            for code in required_parameters(ts) if code not in present]


__all__ = ["CONDITIONAL", "REQUIRED", "RULE", "check_ts_required", "required_parameters"]
