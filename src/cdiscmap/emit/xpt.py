"""SAS Transport (XPORT) version 5 writer; every FDA/SAS limit is checked before writing.

Why our own writer: pyreadstat's writer defaults to version 8, stamps the current time into the
headers, sizes text in characters and cannot take lengths from metadata. This one writes the
version 5 layout of SAS TS-140 ("Record Layout of a SAS Version 5 or 6 Data Set in SAS Transport
(XPORT) Format") with numpy, takes lengths, labels and formats from ``XptColumn`` metadata, and
gives byte-identical files for identical inputs.

Layout written (SAS TS-140): 80-byte records; library header, two library records, member and
descriptor headers, two member records, the NAMESTR header, one 140-byte namestr per variable
(blank-padded to a record boundary), the OBS header, then the observations back to back, the last
record padded with blanks. Integers in namestrs are big-endian; numbers are 8-byte IBM System/370
hexadecimal doubles.

Choices, documented here once:
- Header fields: SAS release "9.4" (``SAS_VERSION``) and operating system "CDISCMAP"
  (``SAS_OS``). Readers treat both as information only; naming our tool rather than a SAS host
  keeps the file honest about its origin and independent of the platform it was written on.
- Header timestamps: ``created`` if given (aware values are converted to UTC), else the
  SOURCE_DATE_EPOCH environment variable (seconds, UTC), else 2000-01-01T00:00:00. Never the clock.
  TS-140 keeps a two-digit year (``ddMMMyy:hh:mm:ss``).
- Numbers: float64 to IBM double is exact for every finite magnitude in [16**-65, 16**63): the
  53-bit binary significand needs at most 3 extra bits for hexadecimal normalisation and IBM
  has 56 (so nothing is rounded, and reading back gives the same float64). Magnitudes below
  16**-65 (about 5.4e-79) are written as 0; magnitudes at or above 16**63 (about 7.2e75) and
  infinities are limit violations. Integer columns pass through float64, so integers are exact up
  to 2**53 in magnitude. 0.0 and -0.0 are eight zero bytes.
- Dates: datetime64 columns of type "num" become SAS dates (days since 1960-01-01) when every
  value is at midnight, and SAS datetimes (seconds since 1960-01-01T00:00:00) when a value has a
  time of day or the declared format is a datetime format. Without a declared format the column
  gets DATE9. or DATETIME20. respectively. Time-zone-aware values are written as wall-clock time.
- Character values: ASCII only, blank-padded to the column length; missing values are blanks.
  Embedded NUL characters are written as-is.
- Format limitation (not ours to fix): XPT v5 has no observation count, so readers cannot tell
  trailing observations that are entirely blank from record padding and drop them. SDTM/ADaM rows
  always carry STUDYID/USUBJID, so this never bites our datasets.
"""

from __future__ import annotations

import ctypes
import functools
import numbers
import os
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import pandas as pd
from pandas._libs.hashtable import PyObjectHashTable  # pd.factorize's table (_factorize_text)

from cdiscmap.emit.atomic import atomic_open
from cdiscmap.errors import OutputError, XptLimitError
from cdiscmap.forked import ForkedCall, fork_usable

try:    # pandas' hash table for str values: public behaviour, private module (_factorize_text)
    from pandas._libs.hashtable import StringHashTable as _StringHashTable
except ImportError:   # pragma: no cover - a pandas without it takes pd.factorize
    _StringHashTable = None
try:    # the longest str/bytes of an object array, by one loop in C (_cut_at_nul)
    from pandas._libs.writers import max_len_string_array as _longest_text
except ImportError:   # pragma: no cover - a pandas without it compares every row
    _longest_text = None

__all__ = [
    "SAS_OS",
    "SAS_VERSION",
    "XptColumn",
    "XptPlan",
    "XptResult",
    "check_xpt_limits",
    "ibm370_from_float64",
    "write_xpt",
    "xpt_lengths",
]

SAS_VERSION = "9.4"
SAS_OS = "CDISCMAP"
DEFAULT_CREATED = datetime(2000, 1, 1)

RECORD_BYTES = 80            # SAS TS-140: every record is 80 bytes
NAMESTR_BYTES = 140          # SAS TS-140: namestr record length (VMS/other hosts: 136; not used)
MAX_NAME_CHARS = 8           # SAS TS-140 namestr nname; FDA TCG §3.3.1
MAX_LABEL_BYTES = 40         # SAS TS-140 namestr nlabel / member record dataset label
MAX_CHAR_BYTES = 200         # SAS TS-140: version 5 character variables hold at most 200 bytes
MAX_VARIABLES = 9999         # SAS TS-140: the NAMESTR header gives the count in four digits
NUM_BYTES = 8                # we always write full 8-byte IBM doubles
_BLOCK_BYTES = 1 << 20       # observations are built and written in blocks of about this size
# (1 MiB: two blocks and the scratch rows stay in a 2 MiB L2 cache; measured 8-12% less CPU
# per byte written than 4 MiB on SDTM/ADaM at 10,000 subjects and on benchmarks/bench_xpt.py)

# SAS names (SAS TS-140 nname, FDA TCG §3.3.1): letters, digits and underscores, first a letter;
# we also require upper case, as SDTMIG 3.4 / ADaMIG 1.3 names are.
_NAME = re.compile(rf"[A-Z][A-Z0-9_]{{0,{MAX_NAME_CHARS - 1}}}")
# A SAS format: optional $, a name that does not end in a digit, width, ".", decimals.
_FORMAT = re.compile(r"(\$?(?:[A-Z_](?:[A-Z0-9_]*[A-Z_])?)?)(\d*)\.(\d*)")
_MAX_FORMAT_NAME = 8         # SAS TS-140 namestr nform is 8 bytes
_MAX_SHORT = 32767           # namestr width/decimals are signed 16-bit
# Formats that display SAS datetime values (seconds); any other format on a datetime64 column
# means days. Names as in the SAS 9.4 Formats and Informats reference.
_DATETIME_FORMATS = frozenset({
    "DATETIME", "DTDATE", "DTMONYY", "DTYEAR", "DTWKDATX", "DATEAMPM", "MDYAMPM",
    "E8601DT", "B8601DT", "IS8601DT", "E8601DZ", "B8601DZ", "E8601LX", "B8601LX",
})

_IBM_OVERFLOW = 16.0 ** 63   # smallest magnitude an IBM 370 double cannot hold
_DOT_MISSING = np.uint64(0x2E << 56)   # SAS TS-140: "." is 0x2E followed by seven zero bytes
_SPECIAL_MISSING = {"": 0, "_": 0x5F, **{chr(c): c for c in range(ord("A"), ord("Z") + 1)}}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_SAS_EPOCH = np.datetime64("1960-01-01T00:00:00")
_NAMESTR = struct.Struct(">hhhh8s40s8shhh2s8shhi52s")
assert _NAMESTR.size == NAMESTR_BYTES


@dataclass(frozen=True)
class XptColumn:
    """Metadata of one variable as it goes into the transport file (in file order)."""

    name: str
    label: str
    type: Literal["char", "num"]
    length: int | None = None     # char: None → longest value in bytes (minimum 1); num: 8
    format: str | None = None     # e.g. "DATE9.", "8.2", "$CHAR20."


@dataclass(frozen=True)
class XptResult:
    """What was written: the file, its row count, the lengths used and the file size."""

    path: Path
    n_rows: int
    lengths: dict[str, int]
    n_bytes: int


@dataclass(frozen=True, eq=False)
class XptPlan:
    """A dataset found within every XPT v5 limit, prepared for writing (``check_xpt_limits``).

    It holds each text column as codes into its distinct values and each number as float64,
    plus the lengths Define-XML reports (``lengths``). It refers to the frame it was made from,
    which must not change before ``write_xpt`` uses the plan.
    """

    dataset_name: str
    dataset_label: str
    columns: tuple[XptColumn, ...]
    n_rows: int
    frame: pd.DataFrame = field(repr=False)
    special_missing: Mapping[str, pd.Series] | None = field(repr=False)
    plans: tuple[_Plan, ...] = field(repr=False)

    @property
    def lengths(self) -> dict[str, int]:
        """The length of each variable as written (the numbers ``xpt_lengths`` gives)."""
        return {plan.column.name: plan.length for plan in self.plans}

    def made_for(self, frame: pd.DataFrame, dataset_name: str, dataset_label: str,
                 columns: Sequence[XptColumn],
                 special_missing: Mapping[str, pd.Series] | None) -> bool:
        """Whether this plan was made from these arguments (the frame by identity); a missing
        ``special_missing`` means the plan's own."""
        return (frame is self.frame and len(frame) == self.n_rows
                and dataset_name == self.dataset_name and dataset_label == self.dataset_label
                and tuple(columns) == self.columns
                and (special_missing is None or special_missing is self.special_missing))


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def xpt_lengths(frame: pd.DataFrame, columns: Sequence[XptColumn]) -> dict[str, int]:
    """The lengths ``write_xpt`` uses for these columns (Define-XML reports the same numbers).

    Char: the declared length, else the longest value in bytes (at least 1). Num: 8.
    Other limit problems do not change a length (``write_xpt`` reports them); XptLimitError is
    raised only for a column that cannot be sized: absent from the frame, or of the wrong type.
    """
    problems: list[str] = []
    plans = _plan_columns(frame, "", columns, None, problems)
    lengths = {plan.column.name: plan.length for plan in plans}
    if any(column.name not in lengths for column in columns):
        raise XptLimitError(_limit_message("cannot size XPT v5 variables", problems))
    return lengths


def check_xpt_limits(frame: pd.DataFrame, dataset_name: str, dataset_label: str,
                     columns: Sequence[XptColumn],
                     special_missing: Mapping[str, pd.Series] | None = None) -> XptPlan:
    """Raise XptLimitError listing every XPT v5 / FDA limit the dataset breaks; else return the
    plan, which ``write_xpt(..., plan=plan)`` writes without looking at a cell again.

    Checking needs everything writing needs (every text value's length, every number's range),
    so the check is the plan: a caller that checks all datasets before writing any hands each
    plan on instead of having the same columns factorised twice.
    """
    problems = _dataset_problems(dataset_name, dataset_label, columns)
    plans = _plan_columns(frame, dataset_name, columns, special_missing, problems)
    if problems:
        raise XptLimitError(_limit_message(f"{dataset_name} not written as XPT v5", problems))
    return XptPlan(dataset_name=dataset_name, dataset_label=dataset_label,
                   columns=tuple(columns), n_rows=len(frame), frame=frame,
                   special_missing=special_missing, plans=tuple(plans))


def write_xpt(path: Path | str, frame: pd.DataFrame, *, dataset_name: str, dataset_label: str,
              columns: Sequence[XptColumn], created: datetime | None = None,
              special_missing: Mapping[str, pd.Series] | None = None,
              plan: XptPlan | None = None) -> XptResult:
    """Write one dataset as a SAS XPT v5 file, atomically; limits are checked before writing.

    ``columns`` gives the variables in file order; other frame columns are ignored.
    ``special_missing[name]`` is a Series aligned with ``frame`` holding "" or one of "_",
    "A".."Z" per row: those rows (which must be missing) are written as ``._`` / ``.A``..``.Z``.
    ``plan``, from ``check_xpt_limits`` on this same frame and arguments, skips re-checking;
    ValueError if it was made for other arguments (a bug in the caller, not in the data).
    """
    if plan is None:
        plan = check_xpt_limits(frame, dataset_name, dataset_label, columns, special_missing)
    elif not plan.made_for(frame, dataset_name, dataset_label, columns, special_missing):
        raise ValueError(f"write_xpt: the XptPlan given for {dataset_name} was made for other "
                         f"data or metadata ({plan.dataset_name}); plan again")
    plans = plan.plans

    header = _header_bytes(dataset_name, dataset_label, plans, _timestamp(created))
    target = Path(path)
    with atomic_open(target, "wb") as handle:
        handle.write(header)
        n_data = _write_observations(handle, plans, len(frame))
        padding = b" " * (-n_data % RECORD_BYTES)   # SAS TS-140: last record blank-padded
        handle.write(padding)
    return XptResult(path=target, n_rows=len(frame), lengths=plan.lengths,
                     n_bytes=len(header) + n_data + len(padding))


def ibm370_from_float64(values: np.ndarray) -> np.ndarray:
    """IBM System/370 doubles of finite float64 values, as native uint64 words (vectorised).

    An IBM double is sign bit, 7-bit excess-64 base-16 exponent and 56-bit fraction f with
    1/16 <= f < 1 (SAS TS-140 refers to this "IBM mainframe" representation). A float64 with
    biased exponent E (1..2046) is m * 2**(E - 1075) with a 53-bit integer m; choosing the
    base-16 exponent ceil((E - 1022) / 4) leaves a left shift of (E + 1) mod 4 = 0..3 bits, so
    the 56-bit fraction holds m exactly: no rounding happens. The excess-64 exponent is then
    (E + 1) // 4 - 191, which is negative exactly when E < 763 (magnitudes below 16**-65):
    those, zero and subnormals give 0. NaN, infinities and magnitudes from 16**63 up give
    meaningless words; callers replace or reject them first.

    Everything but the 53-bit significand depends only on a value's top 12 bits (sign and E),
    so the shift (as a multiplier, 0 for values written as 0) and the word's top byte come
    from two 4,096-entry tables (:func:`_ibm_tables`): six passes over the values, in place
    where possible, because this runs once per numeric cell written.
    """
    return _ibm370_words(values, _IBM_SHIFT, _IBM_TOP)


def _ibm370_words(values: np.ndarray, shifts: np.ndarray, tops: np.ndarray) -> np.ndarray:
    """:func:`ibm370_from_float64` with each top-12-bit value's multiplier and top bits
    from ``shifts`` and ``tops`` (``_IBM_SHIFT``/``_IBM_TOP``; the writer's ``_IBM_SHIFT_DOT``/
    ``_IBM_TOP_DOT`` also turn NaN into ".")."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    top = bits >> np.uint64(52)                    # sign and E: 0..4095
    index = top.view(np.int64)
    words = bits & np.uint64((1 << 52) - 1)
    words |= np.uint64(1 << 52)                    # m, the 53-bit significand
    words *= shifts.take(index)                    # the 56-bit IBM fraction, or 0
    words |= tops.take(index)                      # sign and excess-64 exponent
    return words


def _ibm_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per top-12-bit value of a float64 (sign, biased exponent E): the fraction's multiplier
    2**((E + 1) mod 4) (0 below 16**-65, for zero and subnormals), the IBM word's sign and
    excess-64 exponent bits (0 there too), and the same with the SAS missing value "." for NaN
    (E = 2047: the writer rejects infinities first, so every such value it meets is NaN)."""
    top = np.arange(4096, dtype=np.uint64)
    exponent = (top & np.uint64(0x7FF)) + np.uint64(1)                    # E + 1
    keep = (exponent >= np.uint64(764)).astype(np.uint64)                 # E >= 763
    shift = (np.uint64(1) << (exponent & np.uint64(3))) * keep
    # uint64 arithmetic wraps below E = 763, where ``keep`` clears the word anyway
    words = (((exponent >> np.uint64(2)) - np.uint64(191)) << np.uint64(56)) | \
        ((top >> np.uint64(11)) << np.uint64(63))
    words *= keep
    with_dot = words.copy()
    nan = (top & np.uint64(0x7FF)) == np.uint64(0x7FF)
    with_dot[nan] = _DOT_MISSING
    shift_dot = shift.copy()
    shift_dot[nan] = 0
    for table in (shift, words, with_dot, shift_dot):
        table.flags.writeable = False
    return shift, words, shift_dot, with_dot


_IBM_SHIFT, _IBM_TOP, _IBM_SHIFT_DOT, _IBM_TOP_DOT = _ibm_tables()


# --------------------------------------------------------------------------------------------
# Planning: one pass over the data that finds every problem and prepares what gets written
# --------------------------------------------------------------------------------------------

@dataclass
class _Plan:
    """One variable ready to write: char values as codes into a table, numbers as float64."""

    column: XptColumn
    length: int
    format: str | None
    codes: np.ndarray | None = None          # char: intp codes into ``uniques``, -1 = missing
    uniques: np.ndarray | None = None        # char: distinct values (object array of str)
    byte_lengths: np.ndarray | None = None   # char: UTF-8 length of each unique value
    values: np.ndarray | None = None         # num: float64, NaN = missing
    tags: np.ndarray | None = None           # num: uint8 special-missing byte per row (0 = none)


class _Rows:
    """Names rows in messages: raw file and row when the frame carries lineage, else the index."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._index = frame.index
        self._file = frame["_SRCFILE"] if "_SRCFILE" in frame.columns else None
        self._row = frame["_SRCROW"] if "_SRCROW" in frame.columns else None

    def where(self, position: int) -> str:
        row = self._row.iloc[position] if self._row is not None else None
        if row is None or pd.isna(row):
            return f"row index {self._index[position]}"
        if isinstance(row, float) and row.is_integer():
            row = int(row)
        if self._file is not None:
            return f"{self._file.iloc[position]} row {row}"
        return f"source row {row}"


def _show(value: object) -> str:
    """A value as a person wants to see it in a message: quoted, shortened when long."""
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text)


def _dataset_problems(dataset_name: str, dataset_label: str,
                      columns: Sequence[XptColumn]) -> list[str]:
    """Limits on the dataset itself: its name, label and variable count."""
    problems: list[str] = []
    if not _NAME.fullmatch(dataset_name):
        problems.append(
            f"{dataset_name!r}: dataset name must be 1-8 upper-case letters, digits or "
            "underscores starting with a letter (SAS TS-140; FDA TCG §3.3.1)")
    problems.extend(_text_problems(dataset_name, "dataset label", dataset_label))
    if not columns:
        problems.append(f"{dataset_name}: no variables to write")
    if len(columns) > MAX_VARIABLES:
        problems.append(f"{dataset_name}: {len(columns)} variables; XPT v5 holds at most "
                        f"{MAX_VARIABLES} (SAS TS-140 NAMESTR header)")
    return problems


def _text_problems(where: str, what: str, text: str) -> list[str]:
    """A label must be ASCII and at most 40 bytes (SAS TS-140; FDA TCG §3.3.1)."""
    problems = []
    n_bytes = len(text.encode("utf-8"))
    if n_bytes > MAX_LABEL_BYTES:
        problems.append(f"{where}: {what} {_show(text)} is {n_bytes} bytes; XPT v5 allows "
                        f"{MAX_LABEL_BYTES} (SAS TS-140; FDA TCG §3.3.1)")
    if not text.isascii():
        problems.append(f"{where}: {what} {_show(text)} is not ASCII ({_first_non_ascii(text)});"
                        " XPT v5 stores ASCII only (FDA TCG §3.3.1)")
    return problems


def _first_non_ascii(text: str) -> str:
    position, char = next((i, c) for i, c in enumerate(text) if not c.isascii())
    return f"{char!r} U+{ord(char):04X} at position {position + 1}"


def _plan_columns(frame: pd.DataFrame, dataset_name: str, columns: Sequence[XptColumn],
                  special_missing: Mapping[str, pd.Series] | None,
                  problems: list[str]) -> list[_Plan]:
    """Check every column, appending problems; return plans for the columns that could be read."""
    rows = _Rows(frame)
    special = dict(special_missing or {})
    declared = {column.name for column in columns}
    for name in sorted(set(special) - declared):
        problems.append(f"{dataset_name}.{name}: special_missing given for a variable that is "
                        "not among the columns to write")
    seen: set[str] = set()
    # per column: the problems found before its data is read, and the data to plan (if any)
    slots: list[tuple[list[str], tuple[XptColumn, str, pd.Series] | None]] = []
    for column in columns:
        where = f"{dataset_name}.{column.name}" if dataset_name else column.name
        early = _metadata_problems(where, column)
        slots.append((early, None))
        if column.name in seen:
            early.append(f"{where}: variable listed twice in the columns to write")
            continue
        seen.add(column.name)
        if column.type not in ("char", "num"):
            continue
        if column.name not in frame.columns:
            early.append(f"{where}: is not a column of the frame (columns to write must exist "
                         "in the data)")
            continue
        series = frame[column.name]
        if isinstance(series, pd.DataFrame):
            early.append(f"{where}: appears {series.shape[1]} times among the frame's columns")
            continue
        slots[-1] = (early, (column, where, series))
    work = [item for _, item in slots if item is not None]
    planned = iter(_plan_data(work, frame.index, rows, special))
    plans: list[_Plan] = []
    for early, item in slots:       # problems in column order, as a serial pass finds them
        problems.extend(early)
        if item is not None:
            plan, found = next(planned)
            problems.extend(found)
            if plan is not None:
                plans.append(plan)
    return plans


# Planning text columns of one object per cell costs about 5 times the columns that share
# their str objects (_factorize_text), and only such columns gain from a forked child (it
# halves their hashing; shared-object columns measured no gain): below this many cells of
# them (about 0.35 s on one core) a child costs more than it saves.
_FORK_MIN_PER_CELL = 4_000_000
_PER_CELL_COST = 5
_CHILD_OVERHEAD = 1.15      # the child also forks, copies pages it touches and pickles


def _plan_data(work: Sequence[tuple[XptColumn, str, pd.Series]], index: pd.Index, rows: _Rows,
               special: Mapping[str, pd.Series]) -> list[tuple[_Plan | None, list[str]]]:
    """Each column's plan (None when unusable) and problems, in the order given.

    Large tables plan about half of their text columns in a forked child on the second core
    (``ForkedCall``: the frame is shared copy-on-write, the plans come back pickled). The child
    only computes; if it fails in any way the parent plans those columns itself, so a problem
    or error is reported exactly as in a serial run. Numbers stay in the parent (cheap, and
    their float64 arrays need not travel through a pipe).
    """
    def plan(i: int) -> tuple[_Plan | None, list[str]]:
        return _plan_one(*work[i], index, rows, special)

    def serial() -> list[tuple[_Plan | None, list[str]]]:
        return [plan(i) for i in range(len(work))]

    if len(index) * len(work) < _FORK_MIN_PER_CELL or not fork_usable() or not _spare_core():
        return serial()
    costs = [_planning_cost(column, series) for column, _, series in work]
    per_cell = sum(len(series) for cost, (_, _, series) in zip(costs, work, strict=True)
                   if cost and cost == _PER_CELL_COST * len(series))
    if per_cell < _FORK_MIN_PER_CELL:
        return serial()
    theirs = _child_share(costs)
    with ForkedCall(lambda: [plan(i) for i in theirs]) as call:
        mine = {i: plan(i) for i in range(len(work)) if i not in theirs}
        mine.update(zip(theirs, call.result(), strict=True))
    return [mine[i] for i in range(len(work))]


def _spare_core() -> bool:
    """Whether a CPU is idle on average (1-minute load below the usable CPUs less one half).

    The child pays about as much again as the half it takes off the parent (it copies every
    memory page of the str objects it hashes, as the parent does for its own: copy-on-write
    of their reference counts), so it shortens the wall time only when it has a core to
    itself; on a busy machine it would only add CPU work."""
    try:
        return os.getloadavg()[0] < len(os.sched_getaffinity(0)) - 0.5
    except (OSError, AttributeError):
        return False


def _planning_cost(column: XptColumn, series: pd.Series) -> int:
    """Estimated planning work of a column in row-equivalents; 0 for numbers (not forked)."""
    if column.type != "char" or not _is_text_dtype(series.dtype) or \
            isinstance(series.dtype, pd.CategoricalDtype):
        return 0
    values = np.asarray(series.array) if isinstance(series.dtype, pd.StringDtype) and \
        series.dtype.storage == "python" else series.to_numpy()
    if values.dtype != object or not len(values):
        return len(values)
    values = np.ascontiguousarray(values)
    shared = _shares_objects(_addresses(values), sample_size=2048)
    return len(values) * (1 if shared else _PER_CELL_COST)


def _child_share(costs: Sequence[int]) -> list[int]:
    """The columns the child plans: largest first, each to the side with less work so far."""
    child: list[int] = []
    load = [0.0, 0.0]               # parent, child
    for i in sorted(range(len(costs)), key=lambda i: -costs[i]):
        if not costs[i]:
            break
        side = 0 if load[0] <= load[1] else 1
        load[side] += costs[i] * (_CHILD_OVERHEAD if side else 1.0)
        if side:
            child.append(i)
    return sorted(child)


def _plan_one(column: XptColumn, where: str, series: pd.Series, index: pd.Index, rows: _Rows,
              special: Mapping[str, pd.Series]) -> tuple[_Plan | None, list[str]]:
    """One column's plan (None when its data cannot be written) and its problems."""
    found: list[str] = []
    if column.type == "char":
        plan = _plan_char(series, column, where, rows, found)
        if column.name in special:
            found.append(f"{where}: special missing values apply to numeric variables only")
    else:
        plan = _plan_num(series, column, where, rows, found)
        if plan is not None and column.name in special:
            plan.tags = _special_tags(special[column.name], index, plan.values, where, rows,
                                      found)
    return plan, found


def _metadata_problems(where: str, column: XptColumn) -> list[str]:
    """Limits on a variable's metadata: name, label, type, declared length and format."""
    problems: list[str] = []
    if not _NAME.fullmatch(column.name):
        problems.append(f"{where}: variable name {column.name!r} must be 1-8 upper-case "
                        "letters, digits or underscores starting with a letter (SAS TS-140; "
                        "FDA TCG §3.3.1)")
    problems.extend(_text_problems(where, "label", column.label))
    if column.type not in ("char", "num"):
        problems.append(f"{where}: type {column.type!r} must be 'char' or 'num'")
    elif column.type == "char" and column.length is not None and not (
            1 <= column.length <= MAX_CHAR_BYTES):
        problems.append(f"{where}: declared length {column.length} is outside 1-{MAX_CHAR_BYTES}"
                        " bytes allowed for XPT v5 character variables (SAS TS-140)")
    elif column.type == "num" and column.length not in (None, NUM_BYTES):
        problems.append(f"{where}: declared length {column.length}; numeric variables are "
                        f"written as {NUM_BYTES}-byte IBM doubles")
    if column.format is not None:
        parsed = _parse_format(column.format)
        if parsed is None:
            problems.append(f"{where}: format {column.format!r} is not a SAS format "
                            "(name, width, '.', decimals, e.g. DATE9. or 8.2)")
        else:
            name, width, decimals = parsed
            if len(name) > _MAX_FORMAT_NAME:
                problems.append(f"{where}: format name {name!r} is longer than "
                                f"{_MAX_FORMAT_NAME} characters (SAS TS-140 namestr)")
            if width > _MAX_SHORT or decimals > _MAX_SHORT:
                problems.append(f"{where}: format {column.format!r} width/decimals too large")
            if column.type == "char" and not name.startswith("$"):
                problems.append(f"{where}: character variable with numeric format "
                                f"{column.format!r} (character formats start with $)")
            if column.type == "num" and name.startswith("$"):
                problems.append(f"{where}: numeric variable with character format "
                                f"{column.format!r}")
    return problems


def _parse_format(text: str) -> tuple[str, int, int] | None:
    """``DATE9.`` → ("DATE", 9, 0); ``8.2`` → ("", 8, 2); None when it is not a SAS format."""
    match = _FORMAT.fullmatch(text.strip().upper())
    if match is None or not (match[1] or match[2]):
        return None                     # a bare "." or ".2" names no format
    name, width, decimals = match.groups()
    return name, int(width or 0), int(decimals or 0)


def _is_text_dtype(dtype: object) -> bool:
    """The dtypes a char column may have (text, objects holding text, categories)."""
    return (pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype))


def _plan_char(series: pd.Series, column: XptColumn, where: str, rows: _Rows,
               problems: list[str]) -> _Plan | None:
    """Factorise a text column once; every check then runs on its distinct values only."""
    dtype = series.dtype
    if not _is_text_dtype(dtype):
        present = series.notna().to_numpy()
        if present.any():
            first = int(np.argmax(present))
            problems.append(f"{where}: declared char but the column holds {dtype} values "
                            f"(e.g. {_show(series.iloc[first])} at {rows.where(first)}); "
                            "convert it to text first")
            return None
        codes = np.full(len(series), -1, dtype=np.int8)
        uniques = np.empty(0, dtype=object)
    else:
        codes, uniques = _factorize_text(series)
        if pd.api.types.is_object_dtype(dtype) and len(uniques):
            is_text = np.fromiter(map(isinstance, uniques, [str] * len(uniques)), dtype=bool,
                                  count=len(uniques))
            if not is_text.all():
                # factorize numbers distinct values by first appearance: the smallest offending
                # code is the first offending row.
                bad = int(np.argmin(is_text))
                first = int(np.argmax(codes == bad))
                problems.append(f"{where}: declared char but holds non-text value "
                                f"{_show(uniques[bad])} ({type(uniques[bad]).__name__}) at "
                                f"{rows.where(first)}; convert it to text first")
                return None

    n_uniques = len(uniques)
    joined = "".join(uniques)           # one scan in C for non-ASCII and NUL when there is none
    byte_lengths = np.fromiter(map(len, uniques), dtype=np.int64, count=n_uniques)
    if not joined.isascii():
        is_ascii = np.fromiter(map(str.isascii, uniques), dtype=bool, count=n_uniques)
        non_ascii = np.flatnonzero(~is_ascii)
        byte_lengths[non_ascii] = [len(uniques[i].encode("utf-8")) for i in non_ascii]
        first_bad = int(non_ascii[0])
        first = int(np.argmax(codes == first_bad))
        value = uniques[first_bad]
        problems.append(f"{where}: value {_show(value)} at {rows.where(first)} is not ASCII "
                        f"({_first_non_ascii(value)}); XPT v5 stores ASCII only "
                        "(FDA TCG §3.3.1)")

    with_nul = [i for i, value in enumerate(uniques) if "\x00" in value] \
        if "\x00" in joined else []
    if with_nul:
        # refused, not written: XPT v5 text is blank-padded (SAS TS-140) and readers end a value
        # at NUL (ReadStat) or drop trailing NULs as padding, so the value would not read back
        first = int(np.argmax(codes == with_nul[0]))
        problems.append(f"{where}: value {_show(uniques[with_nul[0]])} at {rows.where(first)} "
                        "holds a NUL character (U+0000), which XPT readers take as the end of "
                        "the text; remove it")
    longest = int(byte_lengths.max()) if n_uniques else 0
    if longest > MAX_CHAR_BYTES:
        first_bad = int(np.argmax(byte_lengths > MAX_CHAR_BYTES))
        first = int(np.argmax(codes == first_bad))
        problems.append(f"{where}: value {_show(uniques[first_bad])} at {rows.where(first)} is "
                        f"{byte_lengths[first_bad]} bytes; XPT v5 character values hold at most "
                        f"{MAX_CHAR_BYTES} (SAS TS-140; longest here: {longest})")
    if column.length is not None and longest > column.length:
        first_bad = int(np.argmax(byte_lengths > column.length))
        first = int(np.argmax(codes == first_bad))
        problems.append(f"{where}: value {_show(uniques[first_bad])} at {rows.where(first)} is "
                        f"{byte_lengths[first_bad]} bytes, longer than the declared length "
                        f"{column.length} (longest here: {longest})")
    length = column.length if column.length is not None else max(1, longest)
    return _Plan(column=column, length=length, format=column.format, codes=codes,
                 uniques=uniques, byte_lengths=byte_lengths)


def _factorize_text(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (first appearance order, -1 = missing; in the narrowest integer type, see
    :func:`_narrow`) and distinct values of a text column.

    This is the one pass over every cell of a text column, so it takes the cheapest exact route.
    Frames share one str object per distinct value wherever they come from a factorisation
    (read_csv, cdiscmap's XPT reader, mapped codelists), so rows are first grouped by object
    identity (their addresses, hashed as integers) and only the distinct objects are compared
    as text, by Python's own equality. A column with (nearly) one object per row is hashed by
    pandas' C-string table instead (half the time of ``pd.factorize``), which ends a text at
    its first NUL: "a" and "a\\x00b" would share a code. Such a collision leaves the rows
    longer in total than their codes' values (or a value holding NUL), which is checked, and
    then the exact Python-object table is used.
    """
    dtype = series.dtype
    python_strings = isinstance(dtype, pd.StringDtype) and dtype.storage == "python"
    if python_strings:
        values = np.asarray(series.array)           # no missing-value mask pass (to_numpy)
    elif isinstance(dtype, pd.CategoricalDtype):
        values = series.astype(object).to_numpy()
    else:
        values = series.to_numpy(dtype=object)
    values = np.ascontiguousarray(values, dtype=object)
    n_rows = len(values)
    if not n_rows:
        return np.zeros(0, dtype=np.int8), np.empty(0, dtype=object)
    if n_rows <= _DIRECT_ROWS:
        # a short column: the exact Python-object table on every row at once is cheaper than
        # the routes below, whose dozen numpy calls cost more than hashing a few hundred str
        # (100 rows: 9 µs against 50-90 µs); its codes and values are the same (the address
        # route ends in this table too, on the first object of each value)
        uniques, codes = PyObjectHashTable(n_rows).factorize(values, na_sentinel=-1)
        return _narrow(codes, len(uniques) - 1), uniques
    addresses = _addresses(values)
    runs = _run_starts(addresses)       # long runs of one object: shared, no sample needed
    if runs is not None or _shares_objects(addresses):
        keys = addresses if runs is None else addresses[runs]
        by_object, n_objects = _factorize_addresses(keys)
        first = np.empty(n_objects, dtype=np.intp)
        first[by_object[::-1]] = np.arange(len(keys))[::-1]
        if runs is not None:
            first = runs[first]
        uniques, codes = PyObjectHashTable(n_objects).factorize(values[first], na_sentinel=-1)
        # narrowed before the codes are spread over the rows: one byte per row written, not 8
        codes = _narrow(codes, len(uniques) - 1)[by_object]
        if runs is not None:
            codes = np.repeat(codes, np.diff(runs, append=n_rows))
        return codes, uniques
    codes, uniques = _hash_text(values, python_strings)
    if _cut_at_nul(values, codes, uniques):
        uniques, codes = PyObjectHashTable(min(n_rows, 1 << 16)).factorize(values,
                                                                           na_sentinel=-1)
    return _narrow(codes, len(uniques) - 1), uniques


_DIRECT_ROWS = 512      # up to this many rows a text column is hashed directly (_factorize_text)


def _factorize_addresses(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of ``keys`` (object addresses, never missing) in first-appearance order, and
    how many distinct ones (the count from the distinct values, not a pass over the codes).
    pandas' public ``factorize``: its uint64 hash table called directly saved a little but is
    private API, which a newer pandas may change."""
    codes, uniques = pd.factorize(keys)
    return codes, len(uniques)


def _run_starts(addresses: np.ndarray) -> np.ndarray | None:
    """The first row of each run of rows holding the same object, when runs are long (at
    least 4 rows on average: a subject's STUDYID, USUBJID, visit in a sorted dataset): then
    one address per run is hashed and the codes repeated. None when runs are short.

    A long column is first looked at through pseudo-random neighbour pairs: when most of
    them differ, runs are short (long runs change at most once in 4 rows) and the pass over
    every row is saved (a 10,000-subject package has 15 million such cells). The answer
    only picks the route to the same codes (:func:`_factorize_text`)."""
    n_rows = len(addresses)
    if n_rows > 4 * _RUN_SAMPLE:
        pairs = _sample_rows(n_rows - 1, _RUN_SAMPLE)
        if int(np.count_nonzero(addresses[pairs] != addresses[pairs + 1])) * 2 > len(pairs):
            return None
    changes = addresses[1:] != addresses[:-1]
    if (int(np.count_nonzero(changes)) + 1) * 4 > len(addresses):
        return None
    starts = np.flatnonzero(changes)
    starts += 1
    return np.concatenate((np.zeros(1, dtype=starts.dtype), starts))


_RUN_SAMPLE = 4096     # neighbour pairs looked at before a long column's every row (_run_starts)


def _shares_objects(addresses: np.ndarray, sample_size: int = 16384) -> bool:
    """Whether most rows share their str object with other rows, so grouping rows by object
    (one integer hash per row, then the distinct objects only) beats hashing every text.

    Judged on rows at pseudo-random positions (a fixed seed, so the choice is reproducible;
    either route gives the same codes): the share of sampled rows whose object occurs only
    once in the sample estimates the share of rows in rarely repeated objects (Good-Turing).
    At most half: group by object. A strided sample would be fooled by sorted columns (a
    subject's 200 rows in a row, 5,000 subjects) and see every object once.
    """
    n_rows = len(addresses)
    sample = addresses if n_rows <= sample_size else addresses[_sample_rows(n_rows, sample_size)]
    _, counts = np.unique(sample, return_counts=True)
    return int(np.count_nonzero(counts == 1)) * 2 <= len(sample)


@functools.lru_cache(maxsize=8)
def _sample_rows(n_rows: int, sample_size: int) -> np.ndarray:
    """Distinct pseudo-random row positions, sorted; made once for all columns of a frame."""
    positions = np.sort(np.random.default_rng(0).integers(0, n_rows, sample_size))
    positions = positions[np.concatenate(([True], positions[1:] != positions[:-1]))]
    positions.flags.writeable = False
    return positions


def _addresses(values: np.ndarray) -> np.ndarray:
    """The address (CPython ``id``) of every object of a contiguous object array, as integers,
    read from the array's pointer buffer without touching the objects; valid while ``values``
    is alive."""
    buffer = (ctypes.c_size_t * len(values)).from_address(values.__array_interface__["data"][0])
    return np.frombuffer(buffer, dtype=np.uintp)


def _hash_text(values: np.ndarray, python_strings: bool) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct values by pandas' C-string hash table (see _factorize_text).

    pandas' Python-backed "string" dtype holds only str or a missing marker, so it goes to the
    string table directly, which counts every non-str as missing; anything else goes through
    ``pd.factorize``, which checks the type of every value first.
    """
    if python_strings and _StringHashTable is not None:
        try:
            uniques, codes = _StringHashTable(min(len(values), 1 << 16)).factorize(
                values, na_sentinel=-1)
            return codes, uniques
        except (UnicodeError, TypeError, ValueError):
            pass                        # e.g. a lone surrogate: let pandas decide
    return pd.factorize(values, use_na_sentinel=True)


def _cut_at_nul(values: np.ndarray, codes: np.ndarray, uniques: np.ndarray) -> bool:
    """Whether a C-string hash gave one code to texts that differ after a NUL: then a distinct
    value holds NUL, or some row is not equal to its code's value.

    A row the C-string table gave a code to equals that code's value up to the row's first
    NUL; when no value holds NUL, the row is the value, possibly followed by a NUL and more,
    so it is never shorter and is equal exactly when it is as long. When all values have one
    length, the longest row settles it (one pass in C over the rows' lengths, no Python call
    per row); otherwise every row is compared with its value (numpy's object ``equal``).
    """
    if not all(map(isinstance, uniques, repeat(str))):
        return False                    # pd.factorize took the Python-object table: exact
    if not len(uniques):
        return False                    # every row missing: nothing was hashed
    if "\x00" in "".join(uniques):      # one scan of the distinct values, in C
        return True
    value_chars = np.fromiter(map(len, uniques), dtype=np.int64, count=len(uniques))
    shortest = int(value_chars.min())
    if _longest_text is not None and shortest == int(value_chars.max()):
        # missing rows (code -1) are not str and count as length 0 here
        return _longest_text(values) != shortest
    present = codes >= 0
    # code -1 takes the appended "" but is not compared (``where``): missing stays missing
    expected = np.append(uniques, "")[codes]
    same = np.ones(len(values), dtype=bool)
    try:
        np.equal(values, expected, out=same, where=present)
    except TypeError:                   # a row that is not text: pd.factorize decided, exact
        return False
    return not same.all()


def _narrow(codes: np.ndarray, top: int) -> np.ndarray:
    """Codes (none above ``top``, the number of distinct values less one) in the smallest
    signed integer type that holds them: a plan keeps one code per cell until it is written,
    and most SDTM text columns have a few hundred distinct values."""
    for kind in (np.int8, np.int16, np.int32):
        if top <= np.iinfo(kind).max:
            return codes.astype(kind, copy=False)
    return codes


def _plan_num(series: pd.Series, column: XptColumn, where: str, rows: _Rows,
              problems: list[str]) -> _Plan | None:
    """Bring a numeric column to float64 (NaN = missing), dates to SAS day or second counts."""
    dtype = series.dtype
    fmt = column.format
    if pd.api.types.is_object_dtype(dtype):
        kind = pd.api.types.infer_dtype(series, skipna=True)
        if kind in ("date", "datetime", "datetime64"):
            series = pd.to_datetime(series)
            dtype = series.dtype
        elif kind in ("integer", "floating", "mixed-integer-float", "decimal", "boolean",
                      "empty"):
            series = pd.to_numeric(series.astype(object).where(series.notna(), np.nan))
            dtype = series.dtype
        else:
            values = series.to_numpy(dtype=object)
            text = series.notna().to_numpy() & ~np.fromiter(
                (isinstance(v, numbers.Number) for v in values), dtype=bool, count=len(values))
            first = int(np.argmax(text))
            problems.append(f"{where}: declared num but holds text {_show(values[first])} at "
                            f"{rows.where(first)}; convert it to numbers or declare it char")
            return None

    if isinstance(dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize(None)
        dtype = series.dtype
    if pd.api.types.is_datetime64_dtype(dtype):
        values, fmt = _sas_date_values(series.to_numpy(), column, where, problems)
    elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    elif pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        present = series.notna().to_numpy()
        if present.any():
            first = int(np.argmax(present))
            problems.append(f"{where}: declared num but the column holds text ({dtype}), e.g. "
                            f"{_show(series.iloc[first])} at {rows.where(first)}; convert it "
                            "to numbers or declare it char")
            return None
        values = np.full(len(series), np.nan)
    else:
        problems.append(f"{where}: declared num but the column has dtype {dtype}, which has no "
                        "XPT representation")
        return None

    too_big = np.abs(values) >= _IBM_OVERFLOW       # false for NaN (missing), true for ±inf
    if too_big.any():
        first = int(np.argmax(too_big))
        problems.append(f"{where}: value {float(values[first])!r} at {rows.where(first)} cannot "
                        "be stored as an IBM 370 double (magnitude must stay below 16**63, "
                        "about 7.2e75; SAS TS-140)")
    return _Plan(column=column, length=NUM_BYTES, format=fmt, values=values)


def _sas_date_values(stamps: np.ndarray, column: XptColumn, where: str,
                     problems: list[str]) -> tuple[np.ndarray, str | None]:
    """datetime64 → SAS dates (days since 1960-01-01) or SAS datetimes (seconds since then)."""
    unit, _ = np.datetime_data(stamps.dtype)
    ticks = stamps.view(np.int64)
    missing = np.isnat(stamps)
    epoch = _SAS_EPOCH.astype(f"datetime64[{unit}]").view(np.int64)
    since_epoch = np.where(missing, 0, ticks - epoch)
    per_day = int(np.timedelta64(1, "D") / np.timedelta64(1, unit))
    per_second = np.timedelta64(1, "s") / np.timedelta64(1, unit)
    has_time_of_day = since_epoch % per_day != 0
    has_time = bool(has_time_of_day.any())

    parsed = _parse_format(column.format) if column.format else None
    wants_seconds = parsed is not None and parsed[0] in _DATETIME_FORMATS
    fmt = column.format
    if has_time and column.format is not None and not wants_seconds:
        first = int(np.argmax(has_time_of_day))
        problems.append(f"{where}: value {stamps[first]} has a time of day but format "
                        f"{column.format!r} shows dates; normalise to midnight or use a "
                        "datetime format such as DATETIME20.")
    if wants_seconds or (has_time and column.format is None):
        values = since_epoch / per_second
        fmt = fmt or "DATETIME20."
    else:
        values = (since_epoch // per_day).astype(np.float64)
        fmt = fmt or "DATE9."
    values[missing] = np.nan
    return values, fmt


def _special_tags(codes: pd.Series, index: pd.Index, values: np.ndarray, where: str,
                  rows: _Rows, problems: list[str]) -> np.ndarray | None:
    """Per-row special-missing byte ('_' or 'A'..'Z'; 0 for none), checked against the values."""
    if not codes.index.equals(index):
        problems.append(f"{where}: special_missing Series must have the same index as the frame")
        return None
    tags = codes.astype(object).where(codes.notna(), "").map(_SPECIAL_MISSING)
    invalid = tags.isna().to_numpy()
    if invalid.any():
        first = int(np.argmax(invalid))
        problems.append(f"{where}: special missing code {_show(codes.iloc[first])} at "
                        f"{rows.where(first)} must be '', '_' or one letter 'A'-'Z'")
        return None
    tag_bytes = tags.to_numpy(dtype=np.uint8)
    clash = (tag_bytes != 0) & ~np.isnan(values)
    if clash.any():
        first = int(np.argmax(clash))
        problems.append(f"{where}: special missing .{chr(tag_bytes[first])} at "
                        f"{rows.where(first)} but the value is {float(values[first])!r}; it must "
                        "be missing there")
    return tag_bytes


def _limit_message(heading: str, problems: list[str]) -> str:
    """A summary line, then one line per violation (all of them, in column order)."""
    count = len(problems)
    noun = "violation" if count == 1 else "violations"
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"{heading}: {count} limit {noun}; fix the data or the metadata:\n{lines}"


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------

def _timestamp(created: datetime | None) -> str:
    """The ``ddMMMyy:hh:mm:ss`` header stamp (SAS TS-140): given, SOURCE_DATE_EPOCH or fixed."""
    if created is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
        if epoch:          # set and non-empty, as py_compile and reproducible-builds.org read it
            try:
                created = datetime.fromtimestamp(int(epoch), UTC)
            except (ValueError, OverflowError, OSError) as exc:
                raise OutputError(f"SOURCE_DATE_EPOCH={epoch!r} is not a usable whole number "
                                  "of seconds since 1970-01-01; unset it or fix it") from exc
        else:
            created = DEFAULT_CREATED
    if created.tzinfo is not None:
        created = created.astimezone(UTC).replace(tzinfo=None)
    return (f"{created.day:02d}{_MONTHS[created.month - 1]}{created.year % 100:02d}:"
            f"{created.hour:02d}:{created.minute:02d}:{created.second:02d}")


def _record(text: str) -> bytes:
    """One 80-byte header record, blank-padded."""
    assert len(text) <= RECORD_BYTES, text
    return text.ljust(RECORD_BYTES).encode("ascii")


def _header_record(name: str, numbers_field: str = "0" * 30) -> bytes:
    return _record(f"HEADER RECORD*******{name:<8}HEADER RECORD!!!!!!!{numbers_field}")


def _header_bytes(dataset_name: str, dataset_label: str, plans: Sequence[_Plan],
                  stamp: str) -> bytes:
    """Everything before the observations (SAS TS-140 library, member and namestr records)."""
    parts = [
        _header_record("LIBRARY"),
        _record(f"{'SAS':<8}{'SAS':<8}{'SASLIB':<8}{SAS_VERSION:<8}{SAS_OS:<8}{'':24}{stamp}"),
        _record(stamp),
        # member header: 160-byte descriptor, 140-byte namestrs (SAS TS-140)
        _header_record("MEMBER", f"{0:05d}{0:05d}{0:05d}{160:05d}{0:05d}{140:05d}"),
        _header_record("DSCRPTR"),
        _record(f"{'SAS':<8}{dataset_name:<8}{'SASDATA':<8}{SAS_VERSION:<8}{SAS_OS:<8}"
                f"{'':24}{stamp}"),
        _record(f"{stamp}{'':16}{dataset_label:<40}{'':8}"),
        _header_record("NAMESTR", f"{0:06d}{len(plans):04d}{0:020d}"),
    ]
    namestrs = b"".join(_namestr(number, plan, position)
                        for number, (plan, position) in enumerate(
                            zip(plans, _positions(plans), strict=True), start=1))
    parts.append(namestrs + b" " * (-len(namestrs) % RECORD_BYTES))
    parts.append(_header_record("OBS"))
    return b"".join(parts)


def _positions(plans: Sequence[_Plan]) -> list[int]:
    """Byte offset of each variable within an observation."""
    offsets = np.cumsum([0] + [plan.length for plan in plans])
    return [int(offset) for offset in offsets[:-1]]


def _namestr(number: int, plan: _Plan, position: int) -> bytes:
    """The 140-byte namestr of one variable (SAS TS-140 struct NAMESTR, big-endian)."""
    column = plan.column
    name, width, decimals = _parse_format(plan.format) if plan.format else ("", 0, 0)
    return _NAMESTR.pack(
        2 if column.type == "char" else 1,         # ntype: 1 numeric, 2 character
        0,                                         # nhfun: always 0
        plan.length,                               # nlng
        number,                                    # nvar0: variable number, from 1
        column.name.ljust(8).encode("ascii"),      # nname
        column.label.ljust(40).encode("ascii"),    # nlabel
        name.ljust(8).encode("ascii"),             # nform
        width, decimals,                           # nfl, nfd
        0,                                         # nfj: left justified
        b"\0\0",                                   # nfill
        b" " * 8, 0, 0,                            # niform, nifl, nifd: no informat
        position,                                  # npos
        b"\0" * 52,                                # rest
    )


# Adjacent text columns are filled through one table of all their combined values (a code per
# row made from theirs) when it has at most this many entries and bytes: one gather and one
# strided copy per block instead of one per column (a copy costs about as much per row for 2
# bytes as for 20).
_GROUP_ROWS = 4096
_GROUP_BYTES = 256 << 10


@dataclass
class _Field:
    """A byte range of the observation filled from one source: one or more adjacent text
    columns (``table`` indexed by the combined code of ``codes``), or one number column."""

    offset: int
    width: int
    text: bool
    table: np.ndarray | None = None                    # text: S<width>, indexed by the code
    codes: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (codes, steps)
    number: _Plan | None = None                        # a number column, converted per block
    constant: np.generic | None = None                 # the cell every row holds

    def fill(self, cells: np.ndarray, scratch: np.ndarray | None, start: int, stop: int
             ) -> None:
        """Fill rows ``start:stop`` of this field (``cells``, a strided view of the block)."""
        if self.number is not None:
            cells[...] = _ibm_words(self.number, start, stop)
            return
        assert self.table is not None and scratch is not None
        rows = scratch[:stop - start]
        (codes, steps), *more = self.codes
        if not more:
            # code -1 (missing) wraps to the table's last entry, which is blank
            np.take(self.table, codes[start:stop], out=rows, mode="wrap")
        else:
            # the combined code: each column's code (-1 wrapping to its blank entry) times the
            # number of combinations of the columns after it
            combined = np.take(steps, codes[start:stop], mode="wrap")
            for codes, steps in more:
                combined += np.take(steps, codes[start:stop], mode="wrap")
            np.take(self.table, combined, out=rows, mode="wrap")
        cells[...] = rows


def _fields(plans: Sequence[_Plan]) -> list[_Field]:
    """The fields an observation is filled by: constant columns alone (filled once), runs of
    adjacent text columns grouped while their combined table stays small, numbers alone."""
    fields: list[_Field] = []
    group: list[tuple[_Plan, np.ndarray]] = []
    offset = 0

    def close() -> None:
        if group:
            fields.append(_text_field(offset - sum(plan.length for plan, _ in group), group))
            group.clear()

    for plan in plans:
        if plan.codes is None:
            close()
            cell = _constant_number(plan)
            fields.append(_Field(offset, NUM_BYTES, False,
                                 number=None if cell is not None else plan, constant=cell))
        else:
            table = _char_table(plan)
            cell = _constant_cell(plan.codes, table)
            if cell is not None:
                close()
                fields.append(_Field(offset, plan.length, True, constant=cell))
            else:
                entries = int(np.prod([len(t) for _, t in group] + [len(table)]))
                width = sum(p.length for p, _ in group) + plan.length
                if group and (entries > _GROUP_ROWS or entries * width > _GROUP_BYTES):
                    close()
                group.append((plan, table))
        offset += plan.length
    close()
    return fields


def _text_field(offset: int, group: Sequence[tuple[_Plan, np.ndarray]]) -> _Field:
    """One field for adjacent text columns: their combined table (every combination of their
    cells, the last column's varying fastest) and each column's steps in the combined code."""
    if len(group) == 1:
        plan, table = group[0]
        assert plan.codes is not None
        return _Field(offset, plan.length, True, table=table,
                      codes=[(plan.codes, np.empty(0, dtype=np.intp))])
    sizes = [len(table) for _, table in group]
    width = sum(plan.length for plan, _ in group)
    n_entries = int(np.prod(sizes))
    combined = np.empty((n_entries, width), dtype=np.uint8)
    codes: list[tuple[np.ndarray, np.ndarray]] = []
    stride, column = n_entries, 0
    entry = np.arange(n_entries)
    for (plan, table), size in zip(group, sizes, strict=True):
        assert plan.codes is not None
        stride //= size
        combined[:, column:column + plan.length] = \
            table.view(np.uint8).reshape(size, plan.length)[entry // stride % size]
        codes.append((plan.codes, np.arange(size, dtype=np.intp) * stride))
        column += plan.length
    return _Field(offset, width, True, table=combined.view(f"S{width}").ravel(), codes=codes)


def _write_observations(handle: BinaryIO, plans: Sequence[_Plan], n_rows: int) -> int:
    """Build the observations block by block with numpy and write them; return bytes written.

    A block (about ``_BLOCK_BYTES``) is filled field by field while it stays in cache
    (``_fields``): text through a gather from the field's table of distinct values (or of the
    combinations of adjacent columns' values) into a contiguous scratch row (a gather straight
    into the strided field would go through a hidden temporary), then one strided copy into
    the field; numbers are converted to big-endian IBM words block by block (in cache: half
    the time of converting whole columns). Two block buffers alternate (no page faults for
    fresh memory per block): a writer thread writes one while the other is filled, and starts
    the disk writing it at once (``_write_back``); file writes and numpy copies release the
    GIL. A column that holds the same cell on every row (STUDYID, DOMAIN, an empty column) is
    written into each buffer once, not on every block.
    """
    fields = _fields(plans)
    itemsize = sum(plan.length for plan in plans)
    layout = np.dtype({
        "names": [f"f{i}" for i in range(len(fields))],
        "formats": [f"S{f.width}" if f.text else ">u8" for f in fields],
        "offsets": [f.offset for f in fields],
        "itemsize": itemsize,
    })
    block_rows = max(1, min(n_rows, _BLOCK_BYTES // itemsize))
    buffers = [np.empty(block_rows, dtype=layout) for _ in range(2 if n_rows > block_rows else 1)]
    for buffer in buffers:
        for i, part in enumerate(fields):
            if part.constant is not None:
                buffer[f"f{i}"] = part.constant
    scratch = [np.empty(block_rows, dtype=part.table.dtype) if part.table is not None else None
               for part in fields]
    if n_rows <= block_rows:
        # one block: nothing to overlap its writing with, so no writer thread (starting and
        # joining one per file cost ≈ 0.3 ms; a 100-subject package has 31 such files)
        block = buffers[0][:n_rows]
        for i, (part, rows) in enumerate(zip(fields, scratch, strict=True)):
            if part.constant is None:
                part.fill(block[f"f{i}"], rows, 0, n_rows)
        if n_rows:
            _write_back(handle, block.view(np.uint8).data)
        return n_rows * itemsize
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future[int] | None = None
        for number, start in enumerate(range(0, n_rows, block_rows)):
            stop = min(start + block_rows, n_rows)
            block = buffers[number % len(buffers)][:stop - start]
            for i, (part, rows) in enumerate(zip(fields, scratch, strict=True)):
                if part.constant is None:           # constants are in both buffers already
                    part.fill(block[f"f{i}"], rows, start, stop)
            if pending is not None:
                pending.result()
            pending = writer.submit(_write_back, handle, block.view(np.uint8).data)
        if pending is not None:
            pending.result()
    return n_rows * itemsize


def _constant_cell(codes: np.ndarray, table: np.ndarray) -> np.generic | None:
    """The cell every row of a text column holds when all rows hold the same one, else None.

    ``table`` is the column's encoded distinct values, indexed by ``codes`` (-1 wraps to its
    blank last entry)."""
    n_rows = len(codes)
    if not n_rows or codes[0] != codes[-1] or codes[0] != codes[n_rows // 2] or \
            not (codes == codes[0]).all():
        return None
    return table[int(codes[0]) % len(table)]


def _constant_number(plan: _Plan) -> np.generic | None:
    """The IBM word every row of a number column holds when all rows hold the same value (or
    all are missing with one special-missing code), else None. A column whose values differ
    but whose words would not (0.0 and -0.0) is filled row by row, with the same bytes."""
    assert plan.values is not None
    values, n_rows = plan.values, len(plan.values)
    if not n_rows:
        return None
    first = values[0]
    if np.isnan(first):
        if not np.isnan(values).all():
            return None
        if plan.tags is not None and not (plan.tags == plan.tags[0]).all():
            return None
    elif values[-1] != first or not (values == first).all():
        return None
    return _ibm_words(plan, 0, 1)[0]


def _write_back(handle: BinaryIO, data: memoryview) -> int:
    """Write one block and ask the kernel to start writing it to disk now (Linux
    ``sync_file_range(..., SYNC_FILE_RANGE_WRITE)``, which does not wait), so the disk works
    while the next blocks are built and the closing fsync of ``atomic_open`` finds little left
    to flush. Elsewhere, or if the call fails, the fsync does all of it, as before."""
    written = handle.write(data)
    if _SYNC_FILE_RANGE is not None:
        handle.flush()
        end = handle.tell()
        _SYNC_FILE_RANGE(handle.fileno(), end - len(data), len(data), _SYNC_FILE_RANGE_WRITE)
    return written


def _libc_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's sync_file_range (Linux), or None where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE_WRITE = 2          # linux/fs.h: start writeback of dirty pages, do not wait
_SYNC_FILE_RANGE = _libc_sync_file_range()


def _char_table(plan: _Plan) -> np.ndarray:
    """Distinct values encoded ASCII and blank-padded to the column length, then one blank."""
    assert plan.uniques is not None and plan.byte_lengths is not None
    width = plan.length
    table = np.zeros(len(plan.uniques) + 1, dtype=f"S{width}")
    table[:-1] = plan.uniques.astype(f"S{width}")
    padded = table.view(np.uint8).reshape(-1, width)
    lengths = np.append(plan.byte_lengths, 0)
    padded[np.arange(width)[None, :] >= lengths[:, None]] = 0x20
    return table


def _ibm_words(plan: _Plan, start: int, stop: int) -> np.ndarray:
    """Big-endian IBM doubles of rows ``start:stop`` with SAS missing values: '.' for NaN, or
    the row's special letter. Byte-swapped here so that filling a block is a plain copy."""
    assert plan.values is not None
    values = plan.values[start:stop]
    if plan.tags is None:
        # NaN comes out of the tables as "." (infinities were refused when planning)
        words = _ibm370_words(values, _IBM_SHIFT_DOT, _IBM_TOP_DOT)
    else:
        words = ibm370_from_float64(values)
        tagged = plan.tags[start:stop].astype(np.uint64) << np.uint64(56)
        tagged[tagged == 0] = _DOT_MISSING
        np.copyto(words, tagged, where=np.isnan(values))
    return words.byteswap(inplace=True).view(">u8")
