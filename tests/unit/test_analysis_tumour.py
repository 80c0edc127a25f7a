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
