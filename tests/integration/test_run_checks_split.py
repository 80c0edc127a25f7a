"""`cdiscmap run` checks each dataset on its own (schema, value-level codelists, lineage lines)
in two children: the datasets final after the mapping first, the ones the RECIST step and the
trial design add or replace later. However the datasets are split, the findings and
lineage.csv must be the ones one pass over every dataset makes."""

from __future__ import annotations

import pytest

from cdiscmap import forked
from cdiscmap.emit.report import lineage_csv
from cdiscmap.findings import Findings
from cdiscmap.pipeline.run import (
    RunOptions,
    _lineage,
    check_sdtm,
    dataset_checks,
    default_study_dir,
    run_study,
    study_standards,
)
from cdiscmap.sdtm.relationships import with_continuations
from cdiscmap.synth import generate


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("split")
    generate("crizotinib-basket", tmp / "export", n_subjects=40, seed=2024)
    raw = tmp / "export" / "raw"
    # plant a defect only a dataset's own checks find: an outcome outside the OUT codelist
    ae = (raw / "ae.csv").read_text().splitlines()
    ae[1] = ae[1].rsplit(",", 1)[0] + ",Gone fishing"
    (raw / "ae.csv").write_text("\n".join(ae) + "\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(forked, "fork_usable", lambda: False)
        done = run_study(RunOptions(study_dir=default_study_dir(), raw_dir=raw,
                                    out_root=tmp / "out", adam=False))
    standards, loaded = study_standards(default_study_dir())
    return done, loaded, with_continuations(standards, done.sdtm.domains)


def test_dataset_checks_in_any_split_equal_one_pass(demo_run):
    done, loaded, standards = demo_run
    frames = {**done.sdtm.domains, **done.sdtm.supp}
    one_pass = Findings()
    check_sdtm(done.sdtm, loaded, standards, one_pass)
    assert [(f.rule, f.dataset, f.variable, f.value) for f in one_pass.items] == [
        ("CMAP-SD0005", "AE", "AEOUT", "Gone fishing")]
    names = list(frames)
    for cut in (0, 1, len(names) // 2, len(names)):
        first = dataset_checks({n: frames[n] for n in names[:cut]}, loaded, standards)
        second = dataset_checks({n: frames[n] for n in names[cut:]}, loaded, standards)
        checked = {**first, **second}
        assert [f for n in names for f in checked[n].findings] == one_pass.items
        assert b"".join(_lineage(frames, checked)) == lineage_csv(frames)
    # and the run wrote that lineage
    assert (done.out_dir / "lineage.csv").read_bytes() == lineage_csv(frames)


def test_lineage_without_source_columns_is_the_empty_table(demo_run):
    done, loaded, standards = demo_run
    frames = {"TS": done.sdtm.domains["TS"].drop(columns=["_SRCFILE", "_SRCROW"])}
    assert b"".join(_lineage(frames, dataset_checks(frames, loaded, standards))) == lineage_csv({})
