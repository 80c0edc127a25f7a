"""What the seed protocols collect beside efficacy, mapped in the bundled studies.

Basket and IMT: CM, MH, IE, VS (BSA by Mosteller), LB (LBNRIND, CTCAE LBTOXGR), DD (ADSL.DTHCAUS
from it), PR; IMT also the mg vs mg/m2 x BSA dose check (SUPPEX.DOSECHK). GIST: QS with the
EORTC QLQ-C30. Each study is synthesised small, a few raw values are set by hand to known
numbers, and the run is checked against them, against the raw forms and against the accounting.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from cdiscmap.pipeline.run import RunOptions, run_study
from cdiscmap.sdtm.expressions import evaluate
from cdiscmap.synth import generate

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
NEW = ["CM", "MH", "IE", "VS", "LB", "DD", "PR"]


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


class Run:
    def __init__(self, root: Path, study: str, n: int, seed: int, edit) -> None:
        generate(study, root / "export", n_subjects=n, seed=seed)
        self.raw = root / "export" / "raw"
        self.planted = edit(self.raw)
        self.result = run_study(RunOptions(study_dir=MAPPINGS / study, raw_dir=self.raw,
                                           out_root=root / "out"))
        self.data = self.result.datasets
        self.define = (self.result.out_dir / "sdtm" / "define.xml").read_text(encoding="utf-8")


def _edit_basket(raw: Path) -> dict:
    vs = _read(raw / "vs.csv")
    row = int((vs["HEIGHT"] != "").to_numpy().argmax())       # a screening row
    vs.loc[row, ["HEIGHT", "WEIGHT"]] = ["150.0", "50.0"]
    _write(vs, raw / "vs.csv")
    lb = _read(raw / "lb.csv")
    neut = int((lb["LBTEST"] == "Neutrophils").to_numpy().argmax())
    alt = int((lb["LBTEST"] == "ALAT").to_numpy().argmax())
    lb.loc[neut, ["LBORRES", "LBORNRLO", "LBORNRHI"]] = ["0.40", "1.8", "7.5"]
    lb.loc[alt, ["LBORRES", "LBORNRLO", "LBORNRHI"]] = ["150", "7", "45"]
    _write(lb, raw / "lb.csv")
    return {"bsa": (vs.loc[row, "SUBJECT"], vs.loc[row, "VISIT"]),
            "neut": (lb.loc[neut, "SUBJECT"], lb.loc[neut, "VISIT"]),
            "alt": (lb.loc[alt, "SUBJECT"], lb.loc[alt, "VISIT"])}


def _edit_imt(raw: Path) -> dict:
    dosing = _read(raw / "dosing.csv")
    row = int((dosing["INTERRUPTED"] == "N").to_numpy().argmax())
    # 280 mg/m2 x 1.00 m2 twice daily = 560 mg expected; 800 mg is off by more than 56 mg
    dosing.loc[row, ["BSA_M2", "DOSE_MG_M2", "TOTAL_DAILY_DOSE_MG"]] = ["1.00", "280", "800"]
    _write(dosing, raw / "dosing.csv")
    return {"dose": (dosing.loc[row, "PATIENT_ID"], dosing.loc[row, "LINE_NO"])}


@pytest.fixture(scope="module")
def basket(tmp_path_factory) -> Run:
    return Run(tmp_path_factory.mktemp("basket"), "crizotinib-basket", 30, 20140701,
               _edit_basket)


@pytest.fixture(scope="module")
def imt(tmp_path_factory) -> Run:
    return Run(tmp_path_factory.mktemp("imt"), "imt-pediatric", 20, 20180301, _edit_imt)


@pytest.fixture(scope="module")
def gist(tmp_path_factory) -> Run:
    return Run(tmp_path_factory.mktemp("gist"), "gist-imatinib", 30, 20200301, lambda raw: {})


def _accounting_balances(run: Run, files: list[str]) -> None:
    summary = run.result.summary
    assert summary["balanced"] is True
    by_file = {r["file"]: r for r in summary["raw_files"]}
    for name in files:
        r = by_file[name]
        assert r["read"] == r["used"] + r["dropped"] and r["read"] > 0, name


@pytest.mark.parametrize("name", ["basket", "imt"])
def test_every_new_domain_has_records_accounting_and_define(name, request) -> None:
    run: Run = request.getfixturevalue(name)
    for domain in NEW:
        assert len(run.data[domain]) > 0, domain
        assert f'<ItemGroupDef OID="IG.{domain}"' in run.define, domain
        # validated from specs/ like every domain: no schema finding on it
        assert not [f for f in run.result.findings if f.dataset == domain
                    and f.rule.startswith("CMAP-SD")], domain
    files = (["cm.csv", "mh.csv", "ie.csv", "vs.csv", "lb.csv", "pr.csv", "death.csv"]
             if name == "basket" else
             ["medications.csv", "medical_history.csv", "eligibility.csv", "vital_signs.csv",
              "laboratory.csv", "procedures.csv", "end_of_study.csv"])
    _accounting_balances(run, files)


def test_bsa_by_mosteller_from_height_and_weight(basket: Run) -> None:
    subject, visit = basket.planted["bsa"]
    vs = basket.data["VS"]
    mine = vs[(vs["USUBJID"] == f"CRZBASKET-{subject}") & (vs["VISIT"] == "BASELINE")]
    bsa = mine[mine["VSTESTCD"] == "BSA"].iloc[0]
    # sqrt(150 x 50 / 3600) = sqrt(2.08333) = 1.4434
    assert bsa["VSSTRESN"] == 1.4434 and bsa["VSSTRESU"] == "m2" and bsa["VSDRVFL"] == "Y"
    assert mine.set_index("VSTESTCD").loc["HEIGHT", "VSSTRESN"] == 150.0
    # basket: height at screening only, so one BSA per subject with a screening height
    raw = _read(basket.raw / "vs.csv")
    assert (vs["VSTESTCD"] == "BSA").sum() == (raw["HEIGHT"] != "").sum()


def test_bsa_at_every_imt_visit_matches_the_raw_height_and_weight(imt: Run) -> None:
    raw = _read(imt.raw / "vital_signs.csv")
    vs = imt.data["VS"]
    bsa = vs[vs["VSTESTCD"] == "BSA"]
    assert len(bsa) == len(raw)
    first = raw.iloc[0]
    expected = round(math.sqrt(float(first["HEIGHT_CM"]) * float(first["WEIGHT_KG"]) / 3600), 4)
    got = bsa[(bsa["USUBJID"] == "IMTPEDCRZ-" + first["PATIENT_ID"])
              & (bsa["VISIT"] == "SCREENING")]["VSSTRESN"]
    assert got.tolist() == [expected]


def test_lbnrind_and_ctcae_grades(basket: Run) -> None:
    lb = basket.data["LB"]

    def record(key: str, testcd: str) -> pd.Series:
        subject, _ = basket.planted[key]
        rows = lb[(lb["USUBJID"] == f"CRZBASKET-{subject}") & (lb["LBTESTCD"] == testcd)
                  & (lb["LBSTRESC"].isin(["0.40", "150"]))]
        assert len(rows) == 1
        return rows.iloc[0]

    neut = record("neut", "NEUT")     # 0.40 < 0.5 x 10^9/L: grade 4, below 1.8
    assert (neut["LBNRIND"], neut["LBTOXGR"], neut["LBSTNRLO"]) == ("LOW", "4", 1.8)
    alt = record("alt", "ALT")        # 150 U/L: > 3 x 45 = 135, not > 5 x 45 = 225: grade 2
    assert (alt["LBNRIND"], alt["LBTOXGR"]) == ("HIGH", "2")
    # every record: LBNRIND from the range, as an independent comparison says
    expect = pd.Series("NORMAL", index=lb.index)
    expect[lb["LBSTRESN"] < lb["LBSTNRLO"]] = "LOW"
    expect[lb["LBSTRESN"] > lb["LBSTNRHI"]] = "HIGH"
    assert (lb["LBNRIND"] == expect).all()
    assert set(lb["LBNRIND"]) == {"LOW", "NORMAL", "HIGH"}
    assert set(lb["LBTESTCD"]) == {"NEUT", "HGB", "PLAT", "WBC", "ALT", "AST", "BILI", "CREAT"}
    assert (lb["LBORRESU"] != "x10E9/L").all()           # the lab's writing mapped to CT


def test_ie_holds_only_criteria_not_met(imt: Run) -> None:
    raw = _read(imt.raw / "eligibility.csv")
    not_met = raw[((raw["CRITERION_TYPE"] == "Inclusion") & (raw["ANSWER"] == "No"))
                  | ((raw["CRITERION_TYPE"] == "Exclusion") & (raw["ANSWER"] == "Yes"))]
    ie = imt.data["IE"]
    assert len(ie) == len(not_met) > 0
    assert set(ie["IEORRES"]) <= {"Y", "N"}
    assert ((ie["IECAT"] == "INCLUSION") == (ie["IEORRES"] == "N")).all()


def test_dthcaus_comes_from_dd(basket: Run) -> None:
    dd = basket.data["DD"].set_index("USUBJID")
    adsl = basket.data["ADSL"].set_index("USUBJID")
    raw = _read(basket.raw / "death.csv")
    assert len(dd) == len(raw) and (dd["DDTESTCD"] == "PRCDTH").all()
    dead = adsl[adsl["DTHFL"] == "Y"]
    assert set(dead.index) == set(dd.index)
    assert (dead["DTHCAUS"] == dd.loc[dead.index, "DDSTRESC"]).all()
    assert "DISEASE PROGRESSION" in set(dead["DTHCAUS"])    # a cause, not the DS term DEATH


def test_dose_check_flags_mg_off_mg_per_m2_times_bsa(imt: Run) -> None:
    patient, line = imt.planted["dose"]
    supp = imt.data["SUPPEX"]
    ex = imt.data["EX"]
    flags = supp[supp["QNAM"] == "DOSECHK"]
    assert len(flags) == len(ex) and set(flags["QVAL"]) == {"Y", "N"}
    flagged = flags[flags["QVAL"] == "Y"]
    seq = ex[(ex["USUBJID"] == "IMTPEDCRZ-" + patient) & (ex["EXSPID"] == line)]["EXSEQ"]
    assert flagged["USUBJID"].tolist() == ["IMTPEDCRZ-" + patient]
    assert flagged["IDVARVAL"].astype(float).tolist() == seq.astype(float).tolist()


def test_qlq_c30_items_per_questionnaire(gist: Run) -> None:
    qs = gist.data["QS"]
    raw = _read(gist.raw / "qlq_c30.csv")
    assert len(qs) == 30 * len(raw)
    per_visit = qs.groupby(["USUBJID", "VISITNUM"]).size()
    assert set(per_visit) == {30}
    assert set(qs["QSCAT"]) == {"EORTC QLQ-C30 V3.0"}
    assert sorted(set(qs["QSTESTCD"])) == [f"EOR01{i:02d}" for i in range(1, 31)]
    q1 = qs[qs["QSTESTCD"] == "EOR0101"].iloc[0]
    assert q1["QSTEST"] == "EOR01-Trouble Doing Strenuous Activities"
    items = qs[qs["QSTESTCD"] <= "EOR0128"]
    text = {1: "Not at All", 2: "A Little", 3: "Quite a Bit", 4: "Very Much"}
    assert (items["QSORRES"] == items["QSSTRESN"].map(text)).all()
    assert qs[qs["QSTESTCD"] >= "EOR0129"]["QSSTRESN"].between(1, 7).all()
    assert items["QSSTRESN"].between(1, 4).all()
    assert '<ItemGroupDef OID="IG.QS"' in gist.define
    _accounting_balances(gist, ["qlq_c30.csv"])
    # the randomization milestone and one arm per randomized subject are already there
    ds = gist.data["DS"]
    assert (ds["DSDECOD"] == "RANDOMIZED").sum() == len(gist.data["DM"])
    assert set(gist.data["DM"]["ARMCD"]) == {"STOP", "CONT"}


def test_sqrt_in_expressions() -> None:
    problems: list = []

    def report(mask, rule, message, values):
        problems.append((rule, sorted(values[mask].tolist())))

    data = pd.DataFrame({"H": pd.Series(["150", "-4"], dtype="string"),
                         "W": pd.Series(["50", "1"], dtype="string")})
    out = evaluate("round(sqrt(number(H) * number(W) / 3600), 4)", data, None, report=report)
    assert out.iloc[0] == 1.4434 and pd.isna(out.iloc[1])
    assert [rule for rule, _ in problems] == ["CMAP-EXPR0005"]
