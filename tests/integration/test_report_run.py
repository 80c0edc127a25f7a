"""`cdiscmap run` on the basket demo writes the analysis report (report/report.html and every
table and figure of mappings/crizotinib-basket/analysis.yaml); the safety, exposure,
disposition and tumour numbers are checked against independent pandas computations on the
ADaM XPT files the same run wrote (not on the report code); the page is opened in a real
headless Chromium, its DOM counted and its screenshot checked to be non-blank."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cdiscmap.pipeline.run import RunOptions, default_study_dir, run_study
from cdiscmap.synth import generate

SUBJECTS = 30
SEED = 7
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("report_run")
    generate("crizotinib-basket", root / "export", n_subjects=SUBJECTS, seed=SEED)
    result = run_study(RunOptions(study_dir=default_study_dir(), raw_dir=root / "export" / "raw",
                                  out_root=root / "out"))
    return result.out_dir


def _xpt(out: Path, name: str) -> pd.DataFrame:
    frame, _ = pyreadstat.read_xport(str(out / "adam" / f"{name}.xpt"))
    return frame


def _csv(out: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(out / "report" / f"{table}.csv", dtype=str, keep_default_na=False)


def _count(text: str) -> int:
    return int(text.split(" ")[0])


TABLES = ["t_demog", "t_resp_8w", "t_bor", "t_simon", "t_tte_km", "t_ae_cohort_overview",
          "t_ae_cohort_grade", "t_ae_overview", "t_ae_grade", "t_ae_socpt", "t_exposure",
          "t_dispo", "t_dispo_flow", "f_tumour_best"]
FIGURES = ["t_tte_dor_km", "t_tte_pfs_km", "t_tte_os_km", "f_tumour_waterfall",
           "f_tumour_spider", "f_tumour_swimmer"]


def test_run_writes_the_report_with_every_table_and_figure(run: Path) -> None:
    folder = run / "report"
    names = {p.name for p in folder.iterdir()}
    for t in TABLES:
        assert {f"{t}.csv", f"{t}.rtf"} <= names, t
    for f in FIGURES:
        assert {f"{f}.png", f"{f}.svg"} <= names, f
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert html.count("<table>") == len(TABLES)
    assert html.count("<svg") == len(FIGURES)
    # offline: nothing is fetched (XML namespace URIs in the SVGs are names, not requests)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"@import|url\((?!#)", html)      # url(#id) points inside the page


def test_grade_3_teaes_by_soc_against_a_hand_computation(run: Path) -> None:
    adae, adsl = _xpt(run, "adae"), _xpt(run, "adsl")
    saf = set(adsl.loc[adsl["SAFFL"] == "Y", "USUBJID"])
    te = adae.loc[(adae["TRTEMFL"] == "Y") & adae["USUBJID"].isin(saf)]
    # independent: each subject's worst grade within a SOC, no first-occurrence flags used
    worst = te.groupby(["AEBODSYS", "USUBJID"])["ATOXGRN"].max().reset_index()
    expected_hi = worst.loc[worst["ATOXGRN"] >= 3].groupby("AEBODSYS")["USUBJID"].nunique()
    expected_any = te.groupby("AEBODSYS")["USUBJID"].nunique()
    table = _csv(run, "t_ae_socpt")
    soc_rows = table.loc[~table.iloc[:, 0].str.startswith(" ")]
    got_any = {r.iloc[0]: _count(r.iloc[1]) for _, r in soc_rows.iterrows()}
    got_hi = {r.iloc[0]: _count(r.iloc[2]) for _, r in soc_rows.iterrows()}
    assert got_any == expected_any.to_dict()
    assert got_hi == {s: int(expected_hi.get(s, 0)) for s in expected_any.index}
    assert sum(got_hi.values()) > 0                     # the demo has grade >= 3 events
    n = len(saf)
    assert table.columns[1] == f"All subjects (N={n}): any grade"
    # overview: any TEAE, grade >= 3 and serious, all subjects
    over = _csv(run, "t_ae_overview").set_index("Category").iloc[:, 0]
    assert _count(over["Any TEAE"]) == te["USUBJID"].nunique()
    assert _count(over["TEAE of CTCAE grade >= 3"]) == \
        te.loc[te["ATOXGRN"] >= 3, "USUBJID"].nunique()
    assert _count(over["Serious TEAE"]) == te.loc[te["AESER"] == "Y", "USUBJID"].nunique()
    # leading to discontinuation: ADAE carries AEACN now (a count, not NA), the action list of
    # analysis.yaml (DRUG WITHDRAWN)
    assert "AEACN" in adae.columns
    assert _count(over["TEAE leading to discontinuation"]) == \
        te.loc[te["AEACN"] == "DRUG WITHDRAWN", "USUBJID"].nunique()
    # maximum grade per subject
    grades = _csv(run, "t_ae_grade").set_index("Maximum grade").iloc[:, 0]
    per_subject = te.groupby("USUBJID")["ATOXGRN"].max()
    for k in range(1, 6):
        assert _count(grades[f"Grade {k}"]) == int((per_subject == k).sum()), k


def test_exposure_disposition_and_waterfall_against_adam(run: Path) -> None:
    adsl, adex, adtr = _xpt(run, "adsl"), _xpt(run, "adex"), _xpt(run, "adtr")
    saf = adsl.loc[adsl["SAFFL"] == "Y", "USUBJID"]
    dur = adex.loc[(adex["PARAMCD"] == "TRTDURD") & adex["USUBJID"].isin(saf), "AVAL"]
    exp = _csv(run, "t_exposure").set_index("Parameter").iloc[:, 0]
    text = exp["Treatment Duration (days) (TRTDURD)"]
    assert text.startswith(f"n={len(dur)}; mean {dur.mean():.1f} (SD {dur.std(ddof=1):.1f}); "
                           f"median {np.median(dur):.1f}")
    # ADEX duration is ADSL's TRTEDT - TRTSDT + 1
    assert np.allclose(np.sort(dur.to_numpy()), np.sort(
        adsl.loc[adsl["SAFFL"] == "Y", "TRTDURD"].to_numpy()))
    flow = _csv(run, "t_dispo_flow").set_index("Step").iloc[:, 0].astype(int)
    assert flow["Registered (in ADSL)"] == len(adsl)
    assert flow["Treated (at least one dose)"] == int((adsl["SAFFL"] == "Y").sum())
    for status in ("DISCONTINUED", "COMPLETED", "ONGOING"):
        assert flow[status.title()] == int((adsl["EOSSTT"] == status).sum())
    dispo = _csv(run, "t_dispo").set_index("Status / reason").iloc[:, 0]
    stopped = adsl.loc[adsl["EOSSTT"] == "DISCONTINUED", "DCSREAS"].value_counts()
    for reason, n in stopped.items():
        assert _count(dispo[f"    {reason}"]) == n
    eff = set(adsl.loc[adsl["EFFFL"] == "Y", "USUBJID"])
    best = adtr.loc[(adtr["ANL02FL"] == "Y") & adtr["USUBJID"].isin(eff), "PCHG"]
    row = _csv(run, "f_tumour_best").iloc[-1]
    assert row.iloc[0] == "All subjects"
    assert [int(row.iloc[1]), int(row.iloc[2]), int(row.iloc[3])] == \
        [len(best), int((best <= -30).sum()), int((best >= 20).sum())]


def _png_is_not_blank(png: bytes) -> tuple[int, float]:
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return img.shape[0] * img.shape[1], float((img < 128).mean())


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless check needs Debian 'chromium' "
                    "(/usr/bin/chromium absent; apt-get install chromium chromium-driver)")
def test_report_renders_in_headless_chromium(run: Path, tmp_path: Path) -> None:
    page = (run / "report" / "report.html").resolve()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([str(CHROMIUM), *flags, "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=180, check=True).stdout
    # the DOM after parsing and scripts: every table and inline SVG figure is there
    assert len(re.findall(r"<table>", dom)) == len(TABLES)
    assert len(re.findall(r"<svg\b", dom)) == len(FIGURES)
    assert "Waterfall: best % change in target-lesion sum" in dom
    shot = tmp_path / "report.png"
    subprocess.run([str(CHROMIUM), *flags, "--hide-scrollbars", "--window-size=1280,2400",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=180,
                   check=True)
    pixels, dark = _png_is_not_blank(shot.read_bytes())
    assert pixels == 1280 * 2400
    assert 0.005 < dark < 0.5          # text and table rules drawn; not an empty white page


def test_adam_define_carries_schema_valid_analysis_results_metadata(run: Path) -> None:
    from lxml import etree

    from cdiscmap.analysis.arm import arm_schema_errors

    xml = (run / "adam" / "define.xml").read_bytes()
    assert arm_schema_errors(xml) == []            # ARM 1.0 over Define-XML 2.1 (defineutils)
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1",
          "arm": "http://www.cdisc.org/ns/arm/v1.0"}
    tree = etree.fromstring(xml)
    displays = tree.xpath("//arm:ResultDisplay/@Name", namespaces=ns)
    assert sorted(displays) == sorted(TABLES + FIGURES)       # one per table and figure
    items = set(tree.xpath("//odm:ItemDef/@OID", namespaces=ns))
    clauses = set(tree.xpath("//def:WhereClauseDef/@OID", namespaces=ns))
    assert set(tree.xpath("//arm:AnalysisVariable/@ItemOID", namespaces=ns)) <= items
    assert set(tree.xpath("//arm:AnalysisDataset/def:WhereClauseRef/@WhereClauseOID",
                          namespaces=ns)) <= clauses
    # the response table reads ADRS RSP8W/DCR8W/DCR16W of the evaluable population
    rs = tree.xpath("//def:WhereClauseDef[@OID='WC.AR.t_resp_8w.ADRS']/odm:RangeCheck",
                    namespaces=ns)[0]
    assert rs.get("Comparator") == "IN" and rs.get(f"{{{ns['def']}}}ItemOID") == \
        "IT.ADRS.PARAMCD"
    assert sorted(rs.xpath("odm:CheckValue/text()", namespaces=ns)) == \
        ["DCR16W", "DCR8W", "RSP8W"]
    pop = tree.xpath("//def:WhereClauseDef[@OID='WC.AR.t_resp_8w.ADSL']/odm:RangeCheck",
                     namespaces=ns)[0]
    assert pop.get(f"{{{ns['def']}}}ItemOID") == "IT.ADSL.EFFFL"
    code = tree.xpath("//arm:ResultDisplay[@Name='t_simon']//arm:Code/text()", namespaces=ns)
    assert code and "cdiscmap report" in code[0] and "t_simon" in code[0]
    html = (run / "adam" / "define.html").read_text(encoding="utf-8")
    assert "Analysis Results Metadata" in html and "RD.t_simon" in html


def test_report_command_on_the_written_adam_equals_the_run_report(run: Path, tmp_path: Path
                                                                  ) -> None:
    """`cdiscmap report` reads the ADaM XPT files (dates stay SAS dates, datetime64) and
    writes the same tables, cells and figures as the run that had the frames in memory."""
    from cdiscmap.analysis.report import read_adam, report_command

    adam = read_adam(run / "adam")
    assert adam["ADSL"]["TRTSDT"].dtype == "datetime64[ns]"
    assert adam["ADSL"]["USUBJID"].dtype == pd.StringDtype()
    assert adam["ADSL"]["TRTSDT"].notna().any()
    report_command(default_study_dir(), run / "adam", tmp_path)
    again = tmp_path / run.name / "report"
    mine = sorted(p.name for p in (run / "report").iterdir())
    assert sorted(p.name for p in again.iterdir()) == mine
    for name in mine:
        assert (again / name).read_bytes() == (run / "report" / name).read_bytes(), name
