"""SDTM → ADaM (ADSL, ADRS, ADTTE, ADAE, ADEX, ADTR, ADQS) for RECIST 1.1 oncology trials.

Reads only SDTM frames (cdiscmap's own or any SDTMIG-conformant SDTM: see ``read_sdtm``) and the
study settings in ``mappings/<study>/adam/*.yaml`` (``load_adam_settings``). Standard metadata
(labels, order) is applied later by the emit stage, not here.

Finding rules raised by this stage:

- CMAP-AD0001 an SDTM date is not ISO 8601 (record not used for that derivation)
- CMAP-AD0002 an overall response outside the analysis map (record not analysed)
- CMAP-AD0003 PR after an earlier CR (RECIST 1.1 §4.4.3 table 3 note)
- CMAP-AD0004 a settings filter names a variable the dataset lacks (condition skipped)
- CMAP-AD0005 an optional SDTM dataset or DM variable is absent
- CMAP-AD0006 a SUPPDM QNAM named in the settings has no record
- CMAP-AD0010 USUBJID repeats in DM; CMAP-AD0011 a SUPPDM QNAM repeats for a subject
- CMAP-AD0012 RS subject not in DM; CMAP-AD0020 death before a time-to-event start date
- CMAP-AD0030 AETOXGR not a CTCAE grade; CMAP-AD0031 an EX record that counts no dose (end before
  start, unknown EXDOSFRQ or EXDOSU); CMAP-AD0032 a mg/m2 dose without body surface area
- CMAP-AD0033 a questionnaire answer outside its scale's range
- CMAP-AD0034 AESEV not in the ADAE severity order (ASEVN left blank)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from cdiscmap.adam.adae import derive_adae
from cdiscmap.adam.adex import derive_adex
from cdiscmap.adam.adqs import derive_adqs
from cdiscmap.adam.adrs import derive_adrs
from cdiscmap.adam.adsl import (
    AdslResult,
    LastAliveParts,
    apply_post_baseline_rule,
    complete_last_alive,
    derive_adsl,
    last_alive_needed,
    last_alive_parts,
    last_alive_sources_of,
)
from cdiscmap.adam.adtr import derive_adtr, prepare_sums
from cdiscmap.adam.adtte import derive_adtte
from cdiscmap.adam.collected import apply_evaluable_rule
from cdiscmap.adam.dtypes import FLOAT, TEXT
from cdiscmap.adam.io import SdtmFolder, read_sdtm
from cdiscmap.adam.settings import AdamSettings, load_adam_settings
from cdiscmap.errors import InputDataError
from cdiscmap.findings import Finding, Findings

__all__ = ["AdamResult", "AdamSettings", "derive_all", "load_adam_settings", "read_sdtm"]


@dataclass
class AdamResult:
    """The ADaM datasets, the data findings met on the way, and one-line methods for define.xml.

    ``methods``: dataset → {variable or ``"PARAMCD=XXX"`` → method text with the settings'
    values}.
    """

    datasets: dict[str, pd.DataFrame]
    findings: list[Finding]
    methods: dict[str, dict[str, str]] = field(default_factory=dict)


# Datasets that need only ADSL (not ADRS, nor the EFFFL rules ADRS decides): any of them
# can be derived apart from ADRS/ADTTE, e.g. in another process (``derive_all(fork=...)``).
ADSL_ONLY = ("ADAE", "ADEX", "ADTR", "ADQS")
_DERIVE_ONLY_ADSL = {"ADAE": derive_adae, "ADEX": derive_adex, "ADTR": derive_adtr,
                     "ADQS": derive_adqs}
ORDER = ("ADSL", "ADRS", "ADTTE", *ADSL_ONLY)   # derivation order: findings and errors follow it
# The SDTM datasets each of them reads whole (:func:`read_ahead`).
# (ADEX reads four VS variables: decoded alone when it needs them, not read whole ahead.)
_READ_BY = {"ADAE": ("AE", "EX"), "ADEX": ("EX",), "ADTR": ("TU", "TR"), "ADQS": ("QS",)}
# Of those, the ones ADSL reads whole too (doses, baseline tumours): their LSTALVDT sources
# cost the process deriving ADSL no reading (:func:`last_alive_elsewhere`).
_READ_BY_ADSL = frozenset({"EX", "TU"})


@dataclass
class AdslStage:
    """ADSL as the other derivations start from it (before ADRS's EFFFL rules), with its
    findings and methods: what :func:`derive_efficacy` and :func:`derive_adsl_only` share."""

    sdtm: dict[str, pd.DataFrame]
    settings: AdamSettings
    adsl: AdslResult
    findings: list[Finding]
    methods: dict[str, str]


@dataclass
class Derived:
    """Some ADaM datasets by name (None: the SDTM lacks what the dataset needs), each with the
    findings and methods of its derivation. ``failed``: the dataset whose derivation raised
    (with ``error``, which is not sent back from a forked child); the ones after it in the
    list asked for were not derived."""

    datasets: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    methods: dict[str, dict[str, str]] = field(default_factory=dict)
    failed: str | None = None
    error: Exception | None = None


def read_ahead(sdtm: Mapping[str, pd.DataFrame], names: tuple[str, ...] | list[str],
               settings: AdamSettings | None = None) -> None:
    """Read the SDTM datasets that the derivations of ``names`` (of :data:`ADSL_ONLY`) read
    whole, from a folder read lazily (a forked child does this while ADSL is
    derived beside it; at 10,000 subjects AE and TR take ≈0.3 s). A dataset that cannot
    be read is left for its derivation, which raises the error in its serial place.
    With ``settings``, ADTR's target-lesion sums, which need no ADSL, are computed too
    (:func:`cdiscmap.adam.adtr.prepare_sums`)."""
    if not isinstance(sdtm, SdtmFolder):
        return
    for name in dict.fromkeys(d for n in ADSL_ONLY if n in names for d in _READ_BY[n]):
        if name in sdtm:
            with contextlib.suppress(Exception):
                sdtm[name]
    if settings is not None and "ADTR" in names:
        prepare_sums(_upper_keys(sdtm), settings)


def adsl_only_stage(sdtm: dict[str, pd.DataFrame], settings: AdamSettings,
                    adsl: pd.DataFrame) -> AdslStage:
    """The stage :func:`derive_adsl_only` needs (SDTM, settings, ADSL) around an ADSL derived
    elsewhere (by the parent of a forked child, which derives the datasets from it)."""
    empty = pd.DataFrame({"USUBJID": pd.Series(dtype=TEXT),
                          "TUSTRESC": pd.Series(dtype=TEXT),
                          "SEQ": pd.Series(dtype=FLOAT)})
    return AdslStage(sdtm=_upper_keys(sdtm), settings=settings,
                     adsl=AdslResult(adsl=adsl, baseline_tumours=empty), findings=[],
                     methods={})


def _upper_keys(sdtm: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``sdtm`` keyed by upper-case dataset name (read_sdtm's lazy folder stays lazy)."""
    if any(str(k).upper() != k for k in sdtm):
        return {str(k).upper(): v for k, v in sdtm.items()}
    return sdtm


def derive_adsl_stage(sdtm: dict[str, pd.DataFrame], settings: AdamSettings, *,
                      defer_last_alive: bool = False) -> AdslStage:
    """The settings' cross-check, then ADSL from SDTM (the first step of :func:`derive_all`).

    ``defer_last_alive``: without LSTALVDT (when no setting needs it earlier), which
    :func:`complete_stage` adds: its sources (AE, LB, RS, TR, TU, ...) are a good part of
    ADSL's work, and no dataset of :data:`ADSL_ONLY` needs it, so a forked child can derive
    those meanwhile."""
    sdtm = _upper_keys(sdtm)
    for stem, key, message in settings.cross_check():
        raise InputDataError(f"ADaM settings ({stem} {key}): {message}")
    findings = Findings()
    methods: dict[str, str] = {}
    adsl = derive_adsl(sdtm, settings, findings, methods, defer_last_alive=defer_last_alive)
    return AdslStage(sdtm=sdtm, settings=settings, adsl=adsl, findings=findings.items,
                     methods=methods)


def complete_stage(stage: AdslStage, elsewhere: tuple[str, ...] | list[str] = (),
                   parts: Callable[[], LastAliveParts | None] | None = None) -> None:
    """ADSL of ``stage`` completed with LSTALVDT if it was deferred (column, findings and
    method in their serial places). ``elsewhere``: datasets of :data:`ADSL_ONLY` that
    another process derives, so the SDTM they read whole (AE for ADAE, TR for ADTR) need be
    read here only for LSTALVDT's variables. ``parts``: how to fetch from that process the
    LSTALVDT sources of those datasets (:func:`last_alive_elsewhere`), which are then not read
    here at all (None from it: done here after all)."""
    whole = {"ADAE": "AE", "ADTR": "TR", "ADEX": "EX", "ADQS": "QS"}
    projected = frozenset(whole[n] for n in elsewhere) - \
        {whole[n] for n in ADSL_ONLY if n not in elsewhere}
    given = (last_alive_elsewhere(stage.settings, elsewhere), parts) \
        if parts is not None else None
    complete_last_alive(stage.adsl, stage.sdtm, stage.settings, stage.findings, stage.methods,
                        projected, given)


def last_alive_elsewhere(settings: AdamSettings, names: tuple[str, ...] | list[str]
                         ) -> list[int]:
    """Positions of the LSTALVDT sources whose datasets the derivations of ``names`` read whole
    (AE, TR, QS) and ADSL does not (EX, TU: :data:`_READ_BY_ADSL`): a process deriving those
    has them in memory and computes these sources (:func:`cdiscmap.adam.adsl.last_alive_parts`)
    cheaper than the process deriving ADSL reads their variables. None when LSTALVDT is not
    deferred."""
    if last_alive_needed(settings):
        return []
    return last_alive_sources_of(settings, {d for n in ADSL_ONLY if n in names
                                            for d in _READ_BY[n]} - _READ_BY_ADSL)


def last_alive_of(stage: AdslStage, names: tuple[str, ...] | list[str]
                  ) -> LastAliveParts | None:
    """The LSTALVDT parts :func:`last_alive_elsewhere` names, from ``stage`` (a forked child's:
    its ADSL gives the subjects); None when there are none or one fails (the process deriving
    ADSL then does them itself and meets the error in its serial place)."""
    positions = last_alive_elsewhere(stage.settings, names)
    if not positions:
        return None
    try:
        return last_alive_parts(stage.adsl.adsl, stage.sdtm, stage.settings, positions)
    except Exception:  # noqa: BLE001 - the parent does these sources and raises the error
        return None


def derive_efficacy(stage: AdslStage) -> Derived:
    """ADRS, then ADSL with the EFFFL rules that depend on it, then ADTTE."""
    sdtm, settings, base = stage.sdtm, stage.settings, stage.adsl
    out = Derived(methods={"ADSL": dict(stage.methods), "ADRS": {}, "ADTTE": {}})
    adrs_found, adtte_found = Findings(), Findings()
    adrs, responses = derive_adrs(sdtm, base.adsl, base.baseline_tumours, settings, adrs_found,
                                  out.methods["ADRS"])
    main = responses[settings.adrs.analyses[0].id]
    adsl = apply_post_baseline_rule(base.adsl, main.ovr["USUBJID"], settings)
    adsl = apply_evaluable_rule(adsl, adrs, settings, out.methods["ADSL"])
    adtte = derive_adtte(adsl, responses, base.baseline_tumours, settings, adtte_found,
                         out.methods["ADTTE"], sdtm=sdtm)
    out.datasets = {"ADSL": adsl, "ADRS": adrs, "ADTTE": adtte}
    out.findings = {"ADSL": list(stage.findings), "ADRS": adrs_found.items,
                    "ADTTE": adtte_found.items}
    return out


def derive_adsl_only(stage: AdslStage, names: tuple[str, ...] | list[str], *,
                     catch: bool = False) -> Derived:
    """The datasets ``names`` (of :data:`ADSL_ONLY`, in that order) from SDTM and the ADSL of
    ``stage``; reads the stage only, so it may run in a forked child beside
    :func:`derive_efficacy` (they share no state that either changes). ``catch``: an error
    stops the derivations and is returned in ``failed``/``error`` instead of raised."""
    out = Derived()
    for name in names:
        found, methods = Findings(), {}
        try:
            frame = _DERIVE_ONLY_ADSL[name](stage.sdtm, stage.adsl.adsl, stage.settings, found,
                                            methods)
        except Exception as exc:
            if not catch:
                raise
            out.failed, out.error = name, exc
            break
        out.datasets[name] = frame
        out.findings[name], out.methods[name] = found.items, methods
    return out


def adsl_only_in_order(stage: AdslStage, here: Derived, there: Callable[[], Derived]
                       ) -> list[Derived]:
    """The :data:`ADSL_ONLY` datasets from two halves derived apart, in derivation order, with
    a serial derivation's first error: ``here`` (derived with ``catch``) holds its error, and
    ``there()`` (the other half, e.g. a forked child's, asked for only when needed) names the
    dataset it failed on, which is then derived again here to raise its error."""
    parts: list[Derived] = []
    other: Derived | None = None
    for name in ADSL_ONLY:
        if here.failed == name:
            assert here.error is not None
            raise here.error
        if name in here.datasets:
            parts.append(_only(here, name))
            continue
        if other is None:
            other = there()
        if name in other.datasets:
            parts.append(_only(other, name))
        elif other.failed == name or (other.failed is not None
                                      and ORDER.index(name) > ORDER.index(other.failed)):
            parts.append(derive_adsl_only(stage, [name]))   # raises as a serial run would
    return parts


def _only(part: Derived, name: str) -> Derived:
    return Derived(datasets={name: part.datasets[name]},
                   findings={name: part.findings.get(name, [])},
                   methods={name: part.methods.get(name, {})})


def assemble(*parts: Derived) -> AdamResult:
    """One result from the parts, in derivation order (:data:`ORDER`): datasets, findings
    (one record read by two derivations, e.g. a bad RSDTC for ADRS and LSTALVDT, is one
    finding) and methods (none for a dataset that was not made)."""
    datasets: dict[str, pd.DataFrame] = {}
    findings: list[Finding] = []
    methods: dict[str, dict[str, str]] = {}
    for name in ORDER:
        part = next((p for p in parts if name in p.datasets), None)
        if part is None:
            continue
        findings.extend(part.findings.get(name, ()))
        frame = part.datasets[name]
        if frame is not None:
            datasets[name] = frame
            methods[name] = part.methods.get(name, {})
    _structural_methods(methods)
    return AdamResult(datasets=datasets, findings=list(dict.fromkeys(findings)),
                      methods=methods)


def derive_all(sdtm: dict[str, pd.DataFrame], settings: AdamSettings, *,
               fork: tuple[str, ...] | list[str] = ()) -> AdamResult:
    """ADSL, ADRS, ADTTE, ADAE, ADEX, ADTR and ADQS from SDTM frames keyed by upper-case
    dataset name (ADAE/ADEX/ADTR/ADQS only when AE/EX/TU+TR/QS are given).

    ``fork``: datasets of :data:`ADSL_ONLY` derived in a forked child (``cdiscmap.forked``;
    their frames come back pickled) while this process derives the others, once ADSL is
    made: two cores shorten the wall time. The result is a serial derivation's, and so is the
    first error (:func:`adsl_only_in_order`)."""
    from cdiscmap.forked import ForkedCall, fork_unsafe_runtime, fork_usable

    forked = [n for n in ADSL_ONLY if n in fork]
    if forked and not (fork_usable() and fork_unsafe_runtime() is None):
        forked = []                       # no second process: derive in the serial order
    here = [n for n in ADSL_ONLY if n not in forked]
    stage = derive_adsl_stage(sdtm, settings, defer_last_alive=bool(forked))
    if not forked:
        return assemble(derive_efficacy(stage), derive_adsl_only(stage, here))
    with ForkedCall(lambda: portable(derive_adsl_only(stage, forked, catch=True))) as child:
        complete_stage(stage, forked)     # LSTALVDT here while the child derives
        efficacy = derive_efficacy(stage)
        mine = derive_adsl_only(stage, here, catch=True)
        return assemble(efficacy, *adsl_only_in_order(stage, mine, child.result))


def portable(part: Derived) -> Derived:
    """``part`` as a forked child sends it: without the error object (an exception need not
    pickle; the parent derives the failed dataset again to raise it)."""
    part.error = None
    return part


def _structural_methods(methods: dict[str, dict[str, str]]) -> None:
    """Method texts of the BDS bookkeeping variables every parameter shares (define.xml needs
    one for each derived variable; ADaMIG 1.3 §3.3 BDS variables)."""
    common = {
        "PARAMCD": "Parameter code of the derivation that made the record (one per PARAM)",
        "PARAM": "Parameter description of PARAMCD",
        "SRCDOM": "Dataset of the record the value comes from (RS for responses, ADSL for dates)",
        "SRCVAR": "Variable of that record (RSSTRESC, DTHDT, ...)",
        "SRCSEQ": "--SEQ of that record in SRCDOM",
    }
    for name, text in common.items():
        for dataset in ("ADRS", "ADTTE"):
            methods.setdefault(dataset, {}).setdefault(name, text)
        for dataset in ("ADEX", "ADTR", "ADQS"):   # parameters only: their records sum many sources
            if dataset in methods and name.startswith("PARAM"):
                methods[dataset].setdefault(name, text)
    adrs = methods.setdefault("ADRS", {})
    adrs.setdefault("ASEQ", "1..n within USUBJID ordered by PARAMCD, ADT, AVISITN, SRCSEQ")
    adrs.setdefault("PARCAT1", "Tumor Response for response parameters, Reference Event for "
                               "DEATH/LSTA-type parameters")
    adrs.setdefault("PARCAT2", "Evaluator of the responses (e.g. Investigator)")
    adrs.setdefault("PARCAT3", "Response criteria (RECIST 1.1)")
    adrs.setdefault("AVISIT", "RS.VISIT of the source record")
    adrs.setdefault("AVISITN", "RS.VISITNUM of the source record")
    adtte = methods.setdefault("ADTTE", {})
    adtte.setdefault("ASEQ", "1..n within USUBJID ordered by PARAMCD")
    adtte.setdefault("STARTDT", "Origin date of the parameter from the ADTTE settings (e.g. "
                                "ADSL.ENRLDT, RANDDT, the first response date for DOR)")
    adtte.setdefault("ADT", "Event date, or censoring date when CNSR > 0, per the parameter's "
                            "rule (see PARAMCD methods)")
    adtte.setdefault("EVNTDESC", "Description of the event or censoring reason of the record")
    adtte.setdefault("CNSDTDSC", "Description of the censoring date (censored records only)")

