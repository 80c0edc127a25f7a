"""What a command's module imports before the command does any work (a small run's fixed cost).

Checked by what a fresh interpreter has imported (this test process has imported everything
already), not by a timing. Each module named costs every run of the command its import time
(``python -X importtime``): the ~60 pydantic classes of ``cdiscmap.spec.models`` ~40 ms, the
SDTM engine with the ingest layer more. ``cdiscmap --help``: tests/unit/test_cli_imports.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SPEC_PATH = ("cdiscmap.spec.models", "cdiscmap.spec.design", "cdiscmap.spec.loader",
             "cdiscmap.ingest.forms", "cdiscmap.sdtm.engine")


def _imported(module: str) -> list[str]:
    code = (f"import sys, {module}\n"
            f"print(' '.join(m for m in {SPEC_PATH!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    return out.stdout.split()


@pytest.mark.parametrize("module", ["cdiscmap.validation.folder",
                                    "cdiscmap.pipeline.recist_command"])
def test_commands_without_a_study_spec_skip_the_spec_models(module: str) -> None:
    """``validate`` and ``recist`` read no study.yaml: the mapping-spec models and the SDTM
    engine are not theirs to build."""
    assert _imported(module) == []


def test_the_probe_sees_the_spec_models() -> None:
    # `run` reads study.yaml: the same probe names every spec module (the check can fail)
    assert _imported("cdiscmap.pipeline.run") == list(SPEC_PATH)


def test_plausibility_model_is_the_one_study_yaml_holds() -> None:
    """The model validate imports alone is the one study.yaml ``plausibility:`` validates
    against (and still importable from cdiscmap.spec.models)."""
    from cdiscmap.spec.models import PlausibilitySpec as FromModels
    from cdiscmap.spec.models import StudySpec
    from cdiscmap.spec.plausibility import PlausibilitySpec

    assert FromModels is PlausibilitySpec
    assert StudySpec.model_fields["plausibility"].annotation == PlausibilitySpec | None
    study = StudySpec.model_validate({
        "studyid": "S1", "title": "t", "standards": {}, "forms": {}, "domains": [],
        "plausibility": {"max_age_years": 90, "severities": {"CMAP-PL0005": "error"}}})
    assert study.plausibility == PlausibilitySpec(max_age_years=90,
                                                  severities={"CMAP-PL0005": "error"})
