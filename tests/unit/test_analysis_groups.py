"""Populations and groups: hand-checked members, and one computation per report inside
``report_scope`` (the same objects again for the same frame and name, never for another)."""

from __future__ import annotations

import pandas as pd

import cdiscmap.analysis.groups as groups_module
from cdiscmap.analysis.groups import Group, Membership, groups, population, report_scope
from cdiscmap.analysis.settings import AnalysisSettings

SETTINGS = AnalysisSettings.model_validate({
    "populations": {"eff": {"flag": "EFFFL"}, "saf": {"flag": "SAFFL"}},
    "groupings": {"all": {}, "arm": {"variable": "ARMCD", "label": "ARM"}},
})
ADSL = pd.DataFrame({
    "USUBJID": ["S1", "S2", "S3", "S4", "S5"],
    "EFFFL": ["Y", " y", "Y", "N", None],      # S2's flag is not 'Y' once trimmed (case kept)
    "SAFFL": ["Y", "Y", "Y", "Y", "Y"],
    "ARMCD": ["B", "A", "A", "B", "A"],
    "ARM": ["Arm B", "Arm A", "Arm A", "Arm B", "Arm A"]})


def _members(grps: list) -> list[tuple[str | None, str, list[str]]]:
    return [(g.value, g.label, g.subjects.tolist()) for g in grps]


def test_population_and_groups_by_hand() -> None:
    assert population(ADSL, SETTINGS, "eff")["USUBJID"].tolist() == ["S1", "S3"]
    saf = population(ADSL, SETTINGS, "saf")
    assert _members(groups(saf, SETTINGS, "arm")) == [
        ("A", "Arm A", ["S2", "S3", "S5"]), ("B", "Arm B", ["S1", "S4"]),
        (None, "All subjects", ["S1", "S2", "S3", "S4", "S5"])]


def test_report_scope_computes_each_population_and_grouping_once(monkeypatch) -> None:
    made: list[str] = []
    real_population, real_groups = groups_module._population, groups_module._groups
    monkeypatch.setattr(groups_module, "_population",
                        lambda adsl, s, name: made.append(name) or real_population(adsl, s, name))
    monkeypatch.setattr(groups_module, "_groups",
                        lambda pop, s, name: made.append(name) or real_groups(pop, s, name))
    with report_scope():
        eff = population(ADSL, SETTINGS, "eff")
        assert population(ADSL, SETTINGS, "eff") is eff
        saf = population(ADSL, SETTINGS, "saf")
        assert saf is not eff and saf["USUBJID"].tolist() == ["S1", "S2", "S3", "S4", "S5"]
        first = groups(saf, SETTINGS, "arm")
        again = groups(saf, SETTINGS, "arm")
        assert again == first and again is not first       # a new list of the same groups
        assert [a is b for a, b in zip(first, again, strict=True)] == [True, True, True]
        # another frame (even with equal values) is worked out for itself
        other = ADSL.copy()
        assert population(other, SETTINGS, "eff") is not eff
        with report_scope():                                # nested: the outer memo
            assert population(ADSL, SETTINGS, "eff") is eff
    assert made == ["eff", "saf", "arm", "eff"]
    # outside the scope nothing is remembered
    assert population(ADSL, SETTINGS, "eff") is not population(ADSL, SETTINGS, "eff")
    assert made == ["eff", "saf", "arm", "eff", "eff", "eff"]


def test_membership_in_group_by_codes() -> None:
    grps = [Group("A", "A", pd.Series(["S1", "S3"], dtype="string")),
            Group("B", "B", pd.Series(["S2"], dtype="string")),
            Group(None, "All", pd.Series(["S1", "S2", "S3"], dtype="string"))]
    member = Membership(grps)
    codes = member.codes(pd.Series(["S3", "S9", "S2", None, "S1", "S3"], dtype=object))
    assert codes[1] == -1 and codes[3] == -1               # in no group, missing
    assert member.in_group(0, codes).tolist() == [True, False, False, False, True, True]
    assert member.in_group(1, codes).tolist() == [False, False, True, False, False, False]
    assert member.in_group(2, codes).tolist() == [True, False, True, False, True, True]
