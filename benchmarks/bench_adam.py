"""Benchmark: SDTM → ADSL + ADRS + ADTTE for 10,000 subjects (≈ 200,000 RS rows).

The SDTM frames are built with numpy (fixed seed), not by the synth/SDTM stages, so the figure
is the ADaM stage alone. Target: < 1.5 s in total on the project machine (2 cores).

    python benchmarks/bench_adam.py [--subjects 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from cdiscmap.adam import derive_all
from cdiscmap.adam.settings import (
    AdamSettings,
    AdrsSettings,
    AdslSettings,
    DateSource,
    Landmark,
    ResponseAnalysis,
    SubjectDate,
)

VISITS = 5  # post-baseline assessments per subject; 4 RS tests each → 20 RS rows per subject


def _iso(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D").astype(object)


def _s(values: np.ndarray | list) -> pd.Series:
    return pd.Series(values, dtype="string")


def build_sdtm(n: int, seed: int = 20240501) -> dict[str, pd.DataFrame]:
    """A plausible RECIST study SDTM of ``n`` subjects (the shapes of docs/conventions.md)."""
    rng = np.random.default_rng(seed)
    subj = np.array([f"{101 + i % 40:03d}-{i:04d}" for i in range(n)], dtype=object)
    usubjid = np.array([f"CRZBASKET-{s}" for s in subj], dtype=object)
    reg = np.datetime64("2015-01-01") + rng.integers(0, 1500, n)
    first_dose = reg + rng.integers(1, 15, n)
    never = rng.random(n) < 0.02
    dead = rng.random(n) < 0.35
    death = first_dose + rng.integers(30, 900, n)
    cohort = rng.integers(1, 24, n)

    dm = pd.DataFrame({
        "STUDYID": _s(["CRZBASKET"] * n), "DOMAIN": _s(["DM"] * n), "USUBJID": _s(usubjid),
        "SUBJID": _s(subj), "SITEID": _s([s[:3] for s in subj]),
        "RFICDTC": _s(_iso(reg - 7)), "RFSTDTC": _s(np.where(never, None, _iso(first_dose))),
        "RFPENDTC": _s(_iso(np.where(dead, death, first_dose + 800))),
        "DTHDTC": _s(np.where(dead, _iso(death), None)), "DTHFL": _s(np.where(dead, "Y", None)),
        "AGE": rng.integers(2, 85, n).astype(float), "AGEU": _s(["YEARS"] * n),
        "SEX": _s(rng.choice(["M", "F"], n)), "RACE": _s(["WHITE"] * n),
        "ETHNIC": _s(["NOT HISPANIC OR LATINO"] * n), "COUNTRY": _s(["FRA"] * n),
        "ARMCD": _s([f"C{c:02d}" for c in cohort]), "ARM": _s([f"Cohort {c}" for c in cohort]),
        "ACTARMCD": _s(np.where(never, None, [f"C{c:02d}" for c in cohort])),
        "ACTARM": _s(np.where(never, None, [f"Cohort {c}" for c in cohort])),
    })
    suppdm = pd.DataFrame({
        "STUDYID": _s(["CRZBASKET"] * 3 * n), "RDOMAIN": _s(["DM"] * 3 * n),
        "USUBJID": _s(np.repeat(usubjid, 3)), "QNAM": _s(np.tile(["COHORT", "PATHOL", "GENALT"],
                                                                 n)),
        "QVAL": _s(np.stack([cohort.astype(str), np.full(n, "NSCLC"), np.full(n, "MET AMP")],
                            axis=1).ravel()),
    })
    ds = pd.DataFrame({
        "USUBJID": _s(np.concatenate([usubjid, usubjid[dead]])),
        "DSSEQ": np.concatenate([np.ones(n), np.full(dead.sum(), 2.0)]),
        "DSCAT": _s(["PROTOCOL MILESTONE"] * n + ["DISPOSITION EVENT"] * int(dead.sum())),
        "DSSCAT": _s([None] * n + ["END OF STUDY"] * int(dead.sum())),
        "DSDECOD": _s(["ENTERED INTO TRIAL"] * n + ["DEATH"] * int(dead.sum())),
        "DSTERM": _s(["ENTERED INTO TRIAL"] * n + ["DISEASE PROGRESSION"] * int(dead.sum())),
        "DSSTDTC": _s(np.concatenate([_iso(reg), _iso(death[dead])])),
    })
    dosed = np.flatnonzero(~never)
    k = 3
    ex_subj = np.repeat(dosed, k)
    seg = np.tile(np.arange(k), len(dosed))
    ex_start = first_dose[ex_subj] + seg * 60
    ex = pd.DataFrame({
        "USUBJID": _s(usubjid[ex_subj]), "EXSEQ": (seg + 1).astype(float),
        "EXTRT": _s(["CRIZOTINIB"] * len(ex_subj)),
        "EXDOSE": np.where(seg == 1, 0.0, 250.0), "EXSTDTC": _s(_iso(ex_start)),
        "EXENDTC": _s(_iso(ex_start + 59)),
    })
    # RS: 5 post-baseline visits x 4 tests
    rs_subj = np.repeat(np.arange(n), VISITS)
    visit = np.tile(np.arange(1, VISITS + 1), n)
    rs_date = reg[rs_subj] + visit * 56 + rng.integers(-7, 8, len(rs_subj))
    resp = rng.choice(["CR", "PR", "SD", "PD", "NE", "NON-CR/NON-PD"], len(rs_subj),
                      p=[0.08, 0.25, 0.4, 0.15, 0.07, 0.05])
    tests = ["OVRLRESP", "TRGRESP", "NTRGRESP", "NEWLPROG"]
    m = len(rs_subj)
    rs = pd.DataFrame({
        "STUDYID": _s(["CRZBASKET"] * 4 * m), "DOMAIN": _s(["RS"] * 4 * m),
        "USUBJID": _s(np.repeat(usubjid[rs_subj], 4)),
        "RSSEQ": np.tile(np.arange(1, 4 * VISITS + 1), n).astype(float),
        "RSTESTCD": _s(np.tile(tests, m)),
        "RSCAT": _s(["RECIST 1.1"] * 4 * m),
        "RSSTRESC": _s(np.stack([resp, resp, resp, np.where(resp == "PD", "Y", "N")],
                                axis=1).ravel()),
        "RSEVAL": _s(["INVESTIGATOR"] * 4 * m),
        "VISITNUM": np.repeat(visit, 4).astype(float),
        "VISIT": _s(np.repeat([f"WEEK {8 * v}" for v in visit], 4)),
        "RSDTC": _s(np.repeat(_iso(rs_date), 4)),
    })
    tu_subj = np.repeat(np.arange(n), 3)
    tu = pd.DataFrame({
        "USUBJID": _s(usubjid[tu_subj]), "TUSEQ": np.tile([1.0, 2.0, 3.0], n),
        "TULNKID": _s(np.tile(["T01", "T02", "NT01"], n)),
        "TUTESTCD": _s(["TUMIDENT"] * 3 * n),
        "TUSTRESC": _s(np.tile(["TARGET", "TARGET", "NON-TARGET"], n)),
        "TUEVAL": _s(["INVESTIGATOR"] * 3 * n), "VISIT": _s(["BASELINE"] * 3 * n),
        "TUDTC": _s(_iso(reg[tu_subj] - 10)),
    })
    ae_subj = np.repeat(np.arange(n), 5)
    ae_start = first_dose[ae_subj] + rng.integers(0, 300, len(ae_subj))
    ae = pd.DataFrame({
        "STUDYID": _s(["CRZBASKET"] * len(ae_subj)), "USUBJID": _s(usubjid[ae_subj]), "AESEQ": np.tile(np.arange(1.0, 6.0), n),
        "AEDECOD": _s(["NAUSEA"] * len(ae_subj)), "AESTDTC": _s(_iso(ae_start)),
        "AEENDTC": _s(_iso(ae_start + 10)),
    })
    return {"DM": dm, "SUPPDM": suppdm, "DS": ds, "EX": ex, "RS": rs, "TU": tu, "AE": ae}


def basket_settings() -> AdamSettings:
    """Settings like mappings/crizotinib-basket/adam (registration as the reference)."""
    reg = SubjectDate(variable="ENRLDT", source=DateSource(
        dataset="DS", date="DSSTDTC", where={"DSDECOD": "ENTERED INTO TRIAL"}))
    landmarks = [
        Landmark(paramcd="RSP8W", param="Response at Week 8", weeks=8, responses=["CR", "PR"]),
        Landmark(paramcd="DCR8W", param="Disease Control at Week 8", weeks=8),
        Landmark(paramcd="DCR16W", param="Disease Control at Week 16", weeks=16),
    ]
    from cdiscmap.adam.settings import AdtteSettings, TteParameter
    tte = AdtteSettings(parameters=[
        TteParameter(paramcd="OS", param="Overall Survival", start="ENRLDT", events=["DEATH"],
                     censor="last_alive"),
        TteParameter(paramcd="PFS", param="Progression-Free Survival", start="ENRLDT",
                     events=["PD", "DEATH"], require_baseline_assessment=True),
        TteParameter(paramcd="DOR", param="Duration of Response", start="RESPONSE",
                     events=["PD", "DEATH"]),
        TteParameter(paramcd="TTP", param="Time to Progression", start="ENRLDT", events=["PD"]),
    ])
    return AdamSettings(
        adsl=AdslSettings(dates=[reg], ittfl_from="ENRLDT",
                          cohort_variables=["COHORT", "PATHOL", "GENALT"]),
        adrs=AdrsSettings(analyses=[ResponseAnalysis(reference_date="ENRLDT",
                                                     landmarks=landmarks)]),
        adtte=tte)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    sdtm = build_sdtm(args.subjects)
    built = time.perf_counter() - t0
    settings = basket_settings()
    times = []
    result = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = derive_all(sdtm, settings)
        times.append(time.perf_counter() - t0)
    assert result is not None
    sizes = ", ".join(f"{k} {len(v):,}" for k, v in result.datasets.items())
    print(f"subjects {args.subjects:,}; RS rows {len(sdtm['RS']):,}; SDTM built in {built:.2f} s")
    print(f"rows: {sizes}; findings {len(result.findings)}")
    print(f"derive_all (ADSL+ADRS+ADTTE): best {min(times):.3f} s, "
          f"runs {', '.join(f'{t:.3f}' for t in times)} (target < 1.5 s)")


if __name__ == "__main__":
    main()
