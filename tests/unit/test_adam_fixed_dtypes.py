"""adam.dtypes: the dtype objects stand for the dtype names the derivations used before."""

from __future__ import annotations

import pandas as pd
from pandas.api.types import pandas_dtype

from cdiscmap.adam.dtypes import BOOLEAN, DATES, FLOAT, INT, TEXT


def test_dtype_objects_are_the_named_dtypes() -> None:
    for name, dtype in (("string", TEXT), ("float64", FLOAT), ("datetime64[ns]", DATES),
                        ("int64", INT), ("boolean", BOOLEAN)):
        assert pandas_dtype(name) == dtype
        assert pd.Series([], dtype=name).dtype == pd.Series([], dtype=dtype).dtype
    assert TEXT.storage == pd.StringDtype().storage and TEXT.na_value is pd.NA
