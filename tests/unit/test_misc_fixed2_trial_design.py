"""vectorize.filled_objects (the trial design's constants): np.full's object array by fill."""

from __future__ import annotations

import numpy as np

from cdiscmap.sdtm.vectorize import filled_objects as _filled


def test_filled_hand_checked() -> None:
    out = _filled(3, "study.yaml")
    assert out.dtype == object and out.tolist() == ["study.yaml"] * 3
    assert _filled(0, "x").shape == (0,)
    np.testing.assert_array_equal(_filled(4, "<no planned arm>"),
                                  np.full(4, "<no planned arm>", dtype=object))
