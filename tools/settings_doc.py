"""Write docs/adam-settings.md from the ADaM settings models (their field descriptions are the
documentation of every default), so the doc can never drift from the code.

    python tools/settings_doc.py            # rewrite the doc
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

from cdiscmap.adam.settings import AdamSettings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "adam-settings.md"
FILES = {name: f"adam/{name}.yaml"
         for name in ("adsl", "adrs", "adtte", "adae", "adex", "adtr", "adqs")}


def _models(annotation: object) -> list[type[BaseModel]]:
    """Models nested in a field's type (directly, in lists/dicts or unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out += _models(arg)
    return out


def _type_name(annotation: object) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    text = str(annotation).replace("typing.", "")
    for mod in ("cdiscmap.adam.settings.",):
        text = text.replace(mod, "")
    return text if not isinstance(annotation, types.UnionType) else text


def _default(field: object) -> str:
    value = field.default  # type: ignore[attr-defined]
    if value is PydanticUndefined:
        factory = field.default_factory  # type: ignore[attr-defined]
        if factory is None:
            return "(required)"
        value = factory()
    if isinstance(value, BaseModel):
        return "(see below)"
    # In full, as YAML flow text (JSON is YAML); entries of a list of settings show the keys
    # that differ from their own defaults, which the entry's section lists.
    return json.dumps(_plain(value), ensure_ascii=False)


def _plain(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return to_jsonable_python(value)


def _section(model: type[BaseModel], title: str, seen: set[type], out: list[str]) -> None:
    if model in seen:
        return
    seen.add(model)
    doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
    out += [f"\n## {title}\n", f"{doc}\n\n" if doc else "\n",
            "| key | type | default | meaning |\n|---|---|---|---|\n"]
    nested: list[tuple[type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        desc = (field.description or "").replace("|", "\\|").replace("\n", " ")
        kind = _type_name(field.annotation).replace("|", "\\|")
        default = _default(field).replace("|", "\\|")
        out.append(f"| `{key}` | {kind} | `{default}` | {desc} |\n")
        nested += [(m, f"{title} › {key}") for m in _models(field.annotation)]
    for sub, sub_title in nested:
        _section(sub, sub_title, seen, out)


def render() -> str:
    out = ["# ADaM settings (generated from src/cdiscmap/adam/settings.py)\n\n",
           "Each study sets these in `mappings/<study>/adam/adsl.yaml`, `adrs.yaml`, "
           "`adtte.yaml`, `adae.yaml`, `adex.yaml`, `adtr.yaml` and `adqs.yaml`; a key left out "
           "takes the "
           "default shown. Defaults follow the "
           "admiral/admiralonco conventions; where cdiscmap differs the meaning column says why. "
           "Defaults are written as YAML flow text; an entry of a default list shows only the "
           "keys that differ from the defaults of its own section. "
           "Regenerate with `python tools/settings_doc.py`.\n"]
    seen: set[type] = set()
    for name, field in AdamSettings.model_fields.items():
        for model in _models(field.annotation):
            _section(model, f"{FILES.get(name, name)}", seen, out)
    out.append(DIFFERENCES)
    return "".join(out)


# Every remaining difference between the defaults and the pharmaverse templates (admiral
# ad_adsl.R; admiralonco ad_adrs.R, ad_adtte.R), with the setting that restores the template
# (issue 11 §2). Kept here, beside the generator, so the doc stays one generated file.
DIFFERENCES = """
## Differences from the admiral / admiralonco templates

Where a default differs from the pharmaverse templates (admiral `ad_adsl.R`, admiralonco
`ad_adrs.R` and `ad_adtte.R`), this is the difference, why, and the setting that gives the
template's result. "Not settable" marks what no setting can change yet.

### ADSL (admiral ad_adsl.R)

| What | admiral | cdiscmap default | To get admiral's |
|---|---|---|---|
| LSTALVDT sources | AE start and end, LB (missing day/month imputed to the first), ADSL TRTEDT | the same four, plus EX start/end, RS, TR, TU, DS records other than death and DM RFPENDTC (complete dates): a tumour assessment proves an oncology subject alive | `last_alive_sources`: only the first four entries of the default |
| End-of-study records | DS with DSCAT = DISPOSITION EVENT | also DSSCAT = STUDY PARTICIPATION or END OF STUDY, so an end-of-treatment disposition does not end the study | `eos: {dataset: DS, date: DSSTDTC, where: {DSCAT: DISPOSITION EVENT}}` |
| DTHCAUS sources | the example takes AEDECOD of a fatal AE (AEOUT = FATAL), then DS DEATH DSTERM | DD primary cause of death (DDSTRESC), then DS DEATH (DSTERM): DD is the SDTMIG 3.4 home of the cause | `death_cause_sources: [{dataset: AE, date: AESTDTC, where: {AEOUT: FATAL}, value: AEDECOD}, {dataset: DS, date: DSSTDTC, where: {DSDECOD: DEATH}, value: DSTERM}]` |
| DTHCGR1 | the vignette groups by the source domain (a fatal AE → ADVERSE EVENT) and DTHCAUS text | PROGRESSIVE DISEASE when DTHCAUS names it or DISEASE RELAPSE, else OTHER | `groupings` (DTHCGR1 entry) |
| TRTEDT, TRTEDTM of an open dose record | a record without EXENDTC does not count | its EXSTDTC counts (TRTEDTM: its time imputed to the end of the day), so TRTEDT is never before a later dose start | `exposure.open_end_uses_start: false` |
| SAFFL of a subject whose only doses have a partial EXSTDTC | Y (any dose record) | N (SAFFL = TRTSDT present; complete dates only) | `exposure.start_imputation: M` gives Y and an imputed TRTSDT (TRTSDTF) |
| REGION1 texts | NA (CAN, USA) / RoW / Missing | North America / Rest of the World / Missing: the text NA reads as a missing value in R, SAS CSV imports and pandas | `groupings` (REGION1 entry with labels NA and RoW) |
| DTHCAUS from DS | DSDECOD DEATH whose DSTERM contains DEATH DUE TO | any DSDECOD DEATH record (after DD) | `death_cause_sources` entry with `where: {DSDECOD: DEATH}` narrowed by the study's DSTERM values |
| ITTFL | not in the template | Y when RANDDT is present | `ittfl_from: null` |
| EFFFL | not in the template | dosed and a baseline tumour assessment (sponsor population flag) | `efffl` |

Same as the template: TRT01P/TRT01A (ARM/ACTARM), doses (EXDOSE > 0, or 0 for placebo),
TRTSDTM/TRTEDTM (complete dates, a missing time imputed to 00:00:00 / 23:59:59) with
TRTSTMF/TRTETMF = H or M (no S: `exposure.flag_imputed_seconds: true` adds it, as ADaMIG 1.3
§3.1.3 allows), RANDDT, SCRFDT, FRVDT, EOSSTT (blank for screen failures), DTHDT (imputed to
the first day up to the month), DTHADY, LDDTHELD, LDDTHGR1, DTH30FL, DTHA30FL, DTHB30FL, AGEGR1
bands and Missing for a missing AGE (`age_missing`), RACEGR1. Beyond the template: AGEGR1N,
RACEGR1N, REGION1N, DTHCGR1N (group order) and COHORTN (`numbered`), TRTSDTF/TRTEDTF when
`exposure.start_imputation` / `end_imputation` allow partial dose dates.

### ADRS (admiralonco ad_adrs.R)

| What | admiralonco | cdiscmap default | To get admiralonco's |
|---|---|---|---|
| LSTA after progression | last assessment among ANL01FL records, after a PD too | the last analysed assessment, which stops at the first PD like every other parameter of the analysis | `analyses: [{lsta_after_progression: true}]` |
| BCP, CBCP source record | no date or source (an existence flag) | ADT, SRCSEQ of the BOR / CBOR record when Y (traceability) | not settable |
| Assessment on the day of new anti-cancer therapy | the example keeps ADT < NACTDT | kept (ADT <= NACTDT; FDA 2018 "on or before") | not settable |
| Landmark parameters (RSP8W, DCR16W, …) | none in the template | none by default; each landmark takes its reference date and window from settings | `analyses.landmarks` |

Same as the template: OVR from RSTESTCD OVRLRESP of the investigator, ADT imputing a missing
day to the last, ANL01FL/ANL02FL, PD, RSP, CB, BOR, BCP, CRSP, CCB, CBOR, CBCP, DEATH, MDIS,
confirmation after >= 28 days with at most one NE between, SD from 42 days.

### ADTTE (admiralonco ad_adtte.R)

| What | admiralonco | cdiscmap default | To get admiralonco's |
|---|---|---|---|
| CNSR of censoring at the start date (no adequate assessment, no date known alive) | 1 (`censor_source` default; rand_censor) | 2, so that reason stays visible (ADaMIG 1.3 allows several codes) | write `censors` with `cnsr: 1` on the START source |
| PFS censoring date | last tumour assessment (LSTA, any response, NE included) | last ADEQUATE assessment (FDA 2018) | `censor: last_assessment` or a `censors` ADRS source without `where` |
| EVNTDESC / CNSDTDSC texts | "Disease Progression", "Death", "Last Tumor Assessment", … | upper case: DISEASE PROGRESSION, DEATH, LAST ADEQUATE TUMOR ASSESSMENT, … | `description`, `date_description` of each source |
| SRCDOM/SRCVAR of an ADRS source | ADRS / ADT | RS / RSDTC (the SDTM record behind it) | `srcdom: ADRS, srcvar: ADT` on the source |
| Rules before the sources (no baseline assessment, new anti-cancer therapy, missed assessments; FDA 2018) | not in the template | off by default | — |

### ADAE (admiral ad_adae.R)

| What | admiral | cdiscmap default | To get admiral's |
|---|---|---|---|
| DOSEON, DOSEU | EXDOSE, EXDOSU of the dose record spanning ASTDTM | not derived | not settable |
| LDOSEDTM from an open dose record (no EXENDTC) | the record is left out (the single-dose dataset needs both dates) | its EXSTDTC counts, as for TRTEDT | `adsl.yaml exposure.open_end_uses_start: false` |
| AOCCIFL (worst event) | highest ASEVN, then ASTDTM, AESEQ | highest ATOXGRN (oncology: CTCAE grade), then ASTDTM, AESEQ (AOCCSIFL, AOCCPIFL per SOC / PT besides) | `worst_by: ASEVN` |
| ADSL variables | all of ADSL merged | SUBJID, SITEID, TRT01P, TRT01A, TRTSDT, TRTEDT, SAFFL | not settable |

Same as the template: ASTDTM/AENDTM and ASTDT/AENDT (their dates) imputing up to M, the start
to the first day and 00:00:00, not before TRTSDT, the end to the last day and 23:59:59, not
after DTHDT/EOSDT, with ASTDTF/AENDTF and ASTTMF/AENTMF = H or M (no S:
`flag_imputed_seconds: true` adds it), ASTDY/AENDY, ADURN/ADURU (AENDT - ASTDT + 1 days),
LDOSEDTM (last dose date on or before the AE start, at 00:00:00, EXDOSE > 0 or placebo),
ASEV/ASEVN from AESEV (MILD 1 … DEATH THREATENING 4; left out when AE has no AESEV), TRTEMFL
(TRTSDT .. TRTEDT + 30 days), AREL. Beyond the template: TRTA/TRTAN, ATOXGR/ATOXGRN, RELGR1,
AOCCFL/AOCCSFL/AOCCPFL, and AEACN, AEOUT, AESDTH copied from AE ("AEs leading to
discontinuation": AEACN = DRUG WITHDRAWN).

### ADEX (admiral ad_adex.R)

| What | admiral | cdiscmap default | To get admiral's |
|---|---|---|---|
| Summary parameters | TDURD (sum of record durations), TDOSE, TPDOSE, AVDDSE, TDOSINT, TADJ, TADJAE, and the same for a period (PDURD, PDOSE, …) | TRTDURD (ADSL TRTEDT - TRTSDT + 1, interruptions included), CUMDOSE, DOSEINT, RDI (planned dose per arm from settings), CUMDOSBS / DOSINTBS for mg/m2 | not settable |
| PLDOSE (planned dose per record) | EXPLDOS (SUPPEX) x EXDURD | not derived: SDTM EX has no planned dose; the plan is per arm (`planned`) | not settable |
| DOSE of a record | EXDOSE x EXDURD (daily dosing assumed) | EXDOSE x administrations per day (EXDOSFRQ) x days | `doses_per_day` with every frequency 1 |
| Partial EX dates | imputed up to the month (ASTDTM, AENDTM) | as ADSL's exposure settings (complete dates by default): a partial record counts no dose | `adsl.yaml exposure.start_imputation: M`, `end_imputation: M` |
| ASTDTM, AENDTM, ASTDY, AENDY, AVALCAT1 | derived | not derived | not settable |
| PARAMN, ASEQ | records 1-5, summaries from 7; ASEQ by PARCAT1 (INDIVIDUAL first), ASTDT, VISIT, EXSEQ, PARAMN | summaries 1-6, records from 7; ASEQ summaries first, then records by ASTDT, EXSEQ, PARAMN | not settable |

Same as the template: the per-record parameters DURD, DOSE, ADJ, ADJAE with PARCAT1 INDIVIDUAL
(`record_parameters`; PARAMCD and PARAM settable), summaries with PARCAT1 OVERALL.

### ADTR (admiralonco ad_adtr.R)

| What | admiralonco | cdiscmap default | To get admiralonco's |
|---|---|---|---|
| Reference date (ADY, best change) | RANDDT | TRTSDT | `reference_date: RANDDT` |
| Baseline (ABLFL) | the last sum with ADY <= 1 | the engine's baseline assessment (TU baseline visit), complete sums only | not settable |
| AVISIT, AVISITN | SCREENING renamed BASELINE, AVISITN 0 | TR VISIT, VISITNUM | not settable |
| Nodal lesions in SDIAM | TULOC = LYMPH NODE | the RECIST engine's nodal status (`cdiscmap recist --nodal-from`) | not settable in ADTR |
| Lesion number of LDIAMn / NLDIAMn | the characters of TRLNKID from the third on (T01 → 1) | the trailing digits of TULNKID as a number (T01 → 1, T10 → 10); no digits: rank within the subject | `lesion_parameters` names PARAMCD / PARAM |
| Lesions of the per-lesion parameters | TR records with TRGRPID TARGET | TR records linked (TRLNKID) to a TU TARGET lesion of the evaluator | not settable |
| PARCAT3 | Recist 1.1 | RECIST 1.1 | not settable |
| PDFL, ANL03FL, ANL04FL | derived | not derived | not settable |
| ASEQ | by PARAMCD, AVISITN, TRSEQ | SDIAM by series and AVISITN, then lesions by number, parameter, AVISITN | not settable |

Same as the template: SDIAM with ANL01FL (every baseline lesion measured), BASE, CHG, PCHG,
NADIR (smallest complete sum before), CHGNAD, PCHGNAD, ANL02FL (lowest PCHG after the reference
date); LDIAMn (TRTESTCD LDIAM) and NLDIAMn (LPERP) with AVAL = TRSTRESN, ANL01FL = Y when
measured (`lesion_parameters`).

Not covered here: ADQS (its section above names its template differences in the meaning
column).
"""


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
