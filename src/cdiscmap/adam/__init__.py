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

from dataclasses import dataclass, field

import pandas as pd

from cdiscmap.adam.adae import derive_adae
from cdiscmap.adam.adex import derive_adex
from cdiscmap.adam.adqs import derive_adqs
from cdiscmap.adam.adrs import derive_adrs
from cdiscmap.adam.adsl import apply_post_baseline_rule, derive_adsl
from cdiscmap.adam.adtr import derive_adtr
from cdiscmap.adam.adtte import derive_adtte
from cdiscmap.adam.collected import apply_evaluable_rule
from cdiscmap.adam.io import read_sdtm
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


def derive_all(sdtm: dict[str, pd.DataFrame], settings: AdamSettings) -> AdamResult:
    """ADSL, ADRS, ADTTE, ADAE, ADEX, ADTR and ADQS from SDTM frames keyed by upper-case
    dataset name (ADAE/ADEX/ADTR/ADQS only when AE/EX/TU+TR/QS are given)."""
    if any(str(k).upper() != k for k in sdtm):   # read_sdtm's lazy folder stays lazy
        sdtm = {str(k).upper(): v for k, v in sdtm.items()}
    for stem, key, message in settings.cross_check():
        raise InputDataError(f"ADaM settings ({stem} {key}): {message}")
    findings = Findings()
    methods: dict[str, dict[str, str]] = {"ADSL": {}, "ADRS": {}, "ADTTE": {}, "ADAE": {},
                                          "ADEX": {}, "ADTR": {}, "ADQS": {}}
    adsl_result = derive_adsl(sdtm, settings, findings, methods["ADSL"])
    adsl = adsl_result.adsl
    adrs, responses = derive_adrs(sdtm, adsl, adsl_result.baseline_tumours, settings, findings,
                                  methods["ADRS"])
    main = responses[settings.adrs.analyses[0].id]
    adsl = apply_post_baseline_rule(adsl, main.ovr["USUBJID"], settings)
    adsl = apply_evaluable_rule(adsl, adrs, settings, methods["ADSL"])
    adtte = derive_adtte(adsl, responses, adsl_result.baseline_tumours, settings, findings,
                         methods["ADTTE"], sdtm=sdtm)
    datasets = {"ADSL": adsl, "ADRS": adrs, "ADTTE": adtte}
    for name, derive in (("ADAE", derive_adae), ("ADEX", derive_adex), ("ADTR", derive_adtr),
                         ("ADQS", derive_adqs)):
        frame = derive(sdtm, adsl, settings, findings, methods[name])
        if frame is None:
            methods.pop(name)
        else:
            datasets[name] = frame
    # one record read by two derivations (e.g. a bad RSDTC for ADRS and LSTALVDT) is one finding
    _structural_methods(methods)
    unique = list(dict.fromkeys(findings.items))
    return AdamResult(datasets=datasets, findings=unique, methods=methods)


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

