"""Tumour figures (waterfall, spider, swimmer) on hand-made ADTR/ADRS/ADSL: the data behind each
figure against hand computations, colours and reference lines in the pixels, byte-identical
reruns."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image

from cdiscmap.analysis.settings import AnalysisSettings
from cdiscmap.analysis.survival import DAYS_PER_MONTH
from cdiscmap.analysis.tumour import BOR_COLOURS, tumour_data, tumour_report

SETTINGS = AnalysisSettings.model_validate({
    "populations": {"eff": {"flag": "EFFFL"}},
    "groupings": {"all": {}},
    "tumour": [{"id": "f_t", "title": "Tumour", "population": "eff", "grouping": "all"}],
})

ADSL = pd.DataFrame({
    "STUDYID": "T", "USUBJID": ["S1", "S2", "S3", "S4"], "EFFFL": ["Y", "Y", "Y", "N"],
    "TRTSDT": ["2020-01-01", "2020-01-01", "2020-02-01", "2020-01-01"],
    "TRTEDT": ["2020-07-01", "2020-03-01", "2020-04-30", "2020-02-01"],
    "DTHDT": [None, "2020-04-01", None, None]})
# S1: baseline 100, week 8 60 (-40 %), week 16 50 (-50 %, best); S2: 80 -> 100 (+25 %);
# S3: 50 -> 45 (-10 %); S4 is not in the population
ADTR = pd.DataFrame({
    "USUBJID": ["S1", "S1", "S1", "S2", "S2", "S3", "S3", "S4", "S4"],
    "PARAMCD": "SDIAM",
    "ADY": [-3, 57, 113, -1, 57, -2, 56, -1, 30],
    "AVAL": [100, 60, 50, 80, 100, 50, 45, 10, 5],
    "PCHG": [None, -40.0, -50.0, None, 25.0, None, -10.0, None, -50.0],
    "ABLFL": ["Y", None, None, "Y", None, "Y", None, "Y", None],
    "ANL01FL": "Y",
    "ANL02FL": [None, None, "Y", None, "Y", None, "Y", None, "Y"]})
ADRS = pd.DataFrame({
    "USUBJID": ["S1", "S2", "S3", "S1", "S1", "S2", "S3"],
    "PARAMCD": ["BOR", "BOR", "BOR", "OVR", "OVR", "OVR", "OVR"],
    "AVALC": ["PR", "PD", "SD", "PR", "PR", "PD", "SD"],
    "ADT": [None, None, None, "2020-02-26", "2020-04-22", "2020-02-27", "2020-03-27"]})
ADAM = {"ADSL": ADSL, "ADTR": ADTR, "ADRS": ADRS}


def test_waterfall_and_spider_data_by_hand() -> None:
    data = tumour_data(ADAM, ADSL["USUBJID"][:3], SETTINGS.tumour[0])
    # largest increase first: S2 +25 (PD), S3 -10 (SD), S1 -50 (PR)
    assert data.best["USUBJID"].tolist() == ["S2", "S3", "S1"]
    assert data.best["PCHG"].tolist() == [25.0, -10.0, -50.0]
    assert data.best["BOR"].tolist() == ["PD", "SD", "PR"]
    s1 = data.course.loc[data.course["USUBJID"] == "S1"]
    assert s1["WEEK"].tolist() == [0.0, 57 / 7, 113 / 7]
    assert s1["PCHG"].tolist() == [0.0, -40.0, -50.0]


def test_swimmer_data_by_hand() -> None:
    swim = tumour_data(ADAM, ADSL["USUBJID"][:3], SETTINGS.tumour[0]).swim.set_index("USUBJID")
    # S1: 2020-01-01..2020-07-01 = 182 days + 1; first PR 2020-02-26 = day 56 after start
    assert swim.loc["S1", "DUR"] == 183 / DAYS_PER_MONTH
    assert swim.loc["S1", "RESP"] == 56 / DAYS_PER_MONTH
    assert np.isnan(swim.loc["S1", "PROG"]) and np.isnan(swim.loc["S1", "DEATH"])
    # S2: PD 2020-02-27 (57 days), death 2020-04-01 (91 days)
    assert swim.loc["S2", "PROG"] == 57 / DAYS_PER_MONTH
    assert swim.loc["S2", "DEATH"] == 91 / DAYS_PER_MONTH
    assert swim.index.tolist() == ["S2", "S3", "S1"]        # by duration: 61, 90, 183 days


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _has_colour(img: np.ndarray, hex_colour: str) -> bool:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(img.astype(int) - rgb).sum(axis=2) <= 6).any())


def test_figures_are_drawn_coloured_and_byte_identical() -> None:
    tables, figures = tumour_report(ADAM, SETTINGS, SETTINGS.tumour[0])
    assert [f.id for f in figures] == ["f_t_waterfall", "f_t_spider", "f_t_swimmer"]
    waterfall = _pixels(figures[0].png)
    for bor in ("PR", "SD", "PD"):                       # one bar of each BOR colour
        assert _has_colour(waterfall, BOR_COLOURS[bor]), bor
    assert not _has_colour(waterfall, BOR_COLOURS["CR"])   # no CR in the data
    assert figures[0].svg.count("stroke-dasharray") >= 2   # the -30 % and +20 % lines
    again = tumour_report(ADAM, SETTINGS, SETTINGS.tumour[0])[1]
    assert [(f.png, f.svg) for f in figures] == [(f.png, f.svg) for f in again]
    # summary: 3 subjects, 1 with a decrease >= 30 % (S1), 1 with an increase >= 20 % (S2)
    assert tables[0].rows == [["All subjects", "3", "1", "1", "-10.0 [-50.0, 25.0]"]]


def _many(n: int) -> dict[str, pd.DataFrame]:
    """n subjects Z0000..: subject i treated i + 1 days, baseline 100 then one visit at
    day 28 with a best change of -i % (mod 90); BOR PR below -30 %, SD otherwise."""
    ids = [f"Z{i:04d}" for i in range(n)]
    i = np.arange(n)
    start = pd.Timestamp("2021-01-01")
    adsl = pd.DataFrame({"STUDYID": "T", "USUBJID": ids, "EFFFL": "Y",
                         "TRTSDT": start, "TRTEDT": start + pd.to_timedelta(i, unit="D"),
                         "DTHDT": pd.NaT})
    pchg = -(i % 90).astype(float)
    adtr = pd.DataFrame({"USUBJID": np.repeat(ids, 2), "PARAMCD": "SDIAM",
                         "ADY": np.tile([-1, 28], n),
                         "PCHG": np.column_stack([np.full(n, np.nan), pchg]).ravel(),
                         "ABLFL": np.tile(["Y", ""], n), "ANL01FL": "Y",
                         "ANL02FL": np.tile(["", "Y"], n)})
    bor = np.where(pchg <= -30, "PR", "SD")
    adrs = pd.DataFrame({"USUBJID": ids * 2, "PARAMCD": ["BOR"] * n + ["OVR"] * n,
                         "AVALC": list(bor) * 2,
                         "ADT": [None] * n + [str((start + pd.Timedelta(days=28)).date())] * n})
    return {"ADSL": adsl, "ADTR": adtr, "ADRS": adrs}


def test_swimmer_of_many_subjects_shows_the_longest_and_says_so() -> None:
    adam = _many(120)
    settings = AnalysisSettings.model_validate({
        **SETTINGS.model_dump(exclude_none=True),
        "tumour": [{"id": "f_t", "title": "Tumour", "population": "eff", "grouping": "all",
                    "swimmer_max_subjects": 25}]})
    figures = tumour_report(adam, settings, settings.tumour[0])[1]
    swimmer = next(f for f in figures if f.id == "f_t_swimmer")
    assert swimmer.title.endswith("the 25 longest treatment durations of 120 subjects")
    # the 25 drawn are Z0095..Z0119 (durations 96..120 days)
    from cdiscmap.analysis.tumour import swimmer_subjects

    swim = tumour_data(adam, adam["ADSL"]["USUBJID"], settings.tumour[0]).swim
    shown = swimmer_subjects(swim, 25)
    assert shown["USUBJID"].tolist() == [f"Z{i:04d}" for i in range(95, 120)]
    assert shown["DUR"].min() == 96 / DAYS_PER_MONTH
    # at or under the limit every subject is drawn and the title is unchanged
    assert swimmer_subjects(swim, 120) is swim
    small = tumour_report(ADAM, SETTINGS, SETTINGS.tumour[0])[1][2]
    assert small.title == "Swimmer: treatment duration, response, progression and death"


def test_thousands_of_bars_are_one_image_in_the_svg_and_coloured_in_the_png() -> None:
    """Above RASTER_OVER subjects the waterfall's bars are an embedded image in the SVG (the
    text and reference lines stay vector); below, vector paths. The PNG shows both colours."""
    from cdiscmap.analysis.tumour import RASTER_OVER, waterfall_figure

    big = tumour_data(_many(RASTER_OVER + 1), pd.Series([f"Z{i:04d}" for i in
                                                         range(RASTER_OVER + 1)]),
                      SETTINGS.tumour[0]).best
    fig = waterfall_figure("w", "Waterfall", big)
    assert fig.svg.count("<image") == 1 and fig.svg.count("stroke-dasharray") >= 2
    img = _pixels(fig.png)
    assert _has_colour(img, BOR_COLOURS["PR"]) and _has_colour(img, BOR_COLOURS["SD"])
    small = waterfall_figure("w", "Waterfall", big.iloc[:RASTER_OVER])
    assert "<image" not in small.svg
