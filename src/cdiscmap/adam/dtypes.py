"""The dtypes the ADaM derivations give their columns, as dtype objects.

pandas resolves a dtype given by name ("string", "float64", "datetime64[ns]") through its
registry of extension types on every call, two or three times per ``astype``: ``astype("float64")``
of a 100-row Series takes ≈130 µs, ``astype(FLOAT)`` ≈26 µs, and the derivations of a run name
a dtype some 800 times at any study size. ``TEXT`` is what ``"string"`` names (pandas' default
string storage)."""

from __future__ import annotations

import numpy as np
import pandas as pd

TEXT = pd.StringDtype()
FLOAT = np.dtype("float64")
DATES = np.dtype("datetime64[ns]")
INT = np.dtype("int64")
BOOLEAN = pd.BooleanDtype()
