"""The mapping vocabulary: one function per algorithm, named exactly as in the YAML.

Every algorithm has the same shape (as in sdtm.oak): ``fn(ctx, frame, args) -> pd.Series``,
where ``frame`` gives the block's raw columns (``frame.raw``) and the variables derived so far
(``frame.out``), both on the same index. Data problems are reported into ``ctx.findings``;
nothing is silently blanked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cdiscmap.errors import InputDataError, SpecError
from cdiscmap.findings import Finding, Findings, Severity
from cdiscmap.sdtm.dates import complete_date, complete_days, parse_date_parts, parse_dates
from cdiscmap.sdtm.dates import study_day as _study_day
from cdiscmap.sdtm.expressions import evaluate as evaluate_expression
from cdiscmap.sdtm.expressions import parse as parse_expression
from cdiscmap.sdtm.expressions import variables_of as expression_variables
from cdiscmap.sdtm.vectorize import (
    carry,
    carry_rows,
    carry_taken_array,
    clean_text,
    coded,
    columns_frame,
    combined_codes,
    constant_text,
    map_unique,
    not_null,
    null_text,
    stable_order,
    string_array,
    text_from_codes,
)
from cdiscmap.spec.models import (
    AssignCtArgs,
    ConcatArgs,
    Condition,
    DatePartsArgs,
    EpochArgs,
    FromDomainArgs,
    Iso8601Args,
    LobxflArgs,
    NumberArgs,
    Operand,
    SeqArgs,
    StudyDayArgs,
    StudySpec,
    TakeArgs,
    VariableSpec,
    VisitArgs,
    VisitExpr,
    WhenBranch,
)

_BLANKS = re.compile(r"\s+")

# Evaluation stages: an algorithm runs once everything it needs exists.
ROW, SUBJECT, REFERENCE, DOMAIN = 0, 1, 2, 3


class BlockFrame:
    """The working data of one block: raw (source) columns and derived SDTM variables.

    ``clean``: every ``string`` column of ``raw`` holds text as read_form leaves it (stripped,
    blank → NA), so reading it as SDTM text needs no second pass (:func:`raw_text`).

    Variables the engine derives (:meth:`set_variable`) are kept aside and joined to ``out``
    only when ``out`` is next read: inserting a column into a frame costs ≈ 150 µs whatever
    its length (the column index and the block map rebuilt), ≈ 60 ms of the ≈ 0.6 CPU-s of
    mapping a 100-subject export (431 variables), whereas the variables an algorithm reads
    by name (:func:`var_column`, 508 reads) come from here and the frame itself is read
    about once per ten variables."""

    __slots__ = ("raw", "_out", "_columns", "_added", "form", "file", "clean")

    def __init__(self, raw: pd.DataFrame, out: pd.DataFrame, form: str, file: str,
                 clean: bool = False) -> None:
        self.raw = raw
        self._out = out
        # the columns of ``_out`` by name (array or numeric Series) once known, with the
        # column index they were known for (a column inserted into ``_out`` in place gives
        # it a new one: they are then read again), and the variables set since
        self._columns: tuple[pd.Index, dict[str, object]] | None = None
        self._added: dict[str, pd.Series] = {}
        self.form = form
        self.file = file
        self.clean = clean

    @property
    def out(self) -> pd.DataFrame:
        """The derived variables as one frame (those set since the last read joined now).
        A variable is changed through :meth:`set_variable` (a column replaced in place in
        this frame would be lost when the variables set later are joined)."""
        if self._added:
            known = self._columns
            columns = dict(known[1] if known is not None and known[0] is self._out.columns
                           else _column_data(self._out, self._out.columns))
            # a name set again keeps its place, as setting a frame's column leaves it
            columns.update(_column_data(self._added, self._added))
            self._out = columns_frame(columns, self._out.index)
            self._columns, self._added = (self._out.columns, columns), {}
        return self._out

    @out.setter
    def out(self, frame: pd.DataFrame) -> None:
        self._out, self._columns, self._added = frame, None, {}

    def set_variable(self, name: str, values: pd.Series) -> None:
        """``out[name] = values``: the frame gets its own copy of the values (as pandas makes
        one), which keeps their remembered factorisation; a text variable without one (an
        ``expr`` result, a ``from_domain`` lookup) is factorised here, once: later conditions
        on it, the stacking of the blocks and blank → null would each hash it otherwise."""
        if self._out.columns.has_duplicates:
            out = self.out
            out[name] = values
            self._columns = None
            copied = out[name]
        else:
            index = self._out.index
            if not values.index.equals(index):     # aligned as setting a column aligns
                values = values.reindex(index)
            array = values.array.copy() if isinstance(values.dtype,
                                                      pd.api.extensions.ExtensionDtype) \
                else values.to_numpy(copy=True)
            copied = pd.Series(array, index=index, name=name, copy=False)
            self._added[name] = copied
        carry(values, copied)
        if isinstance(copied.dtype, pd.StringDtype) and copied.dtype.storage == "python":
            coded(copied)       # remembered (a no-op when carried)

    def snapshot(self) -> BlockFrame:
        """This frame as it stands now: variables set on this one later stay out of it (as
        a shallow copy of ``out`` taken now), without joining the variables set so far (the
        snapshot joins them if it is read: most never are)."""
        if self._out.columns.has_duplicates:
            return BlockFrame(raw=self.raw, out=self.out.copy(deep=False), form=self.form,
                              file=self.file, clean=self.clean)
        # a shallow copy of ``_out`` (its arrays and column index shared): a column set in
        # place in this frame's ``out`` later stays out of the snapshot
        taken = BlockFrame(raw=self.raw, out=self._out.copy(deep=False), form=self.form,
                           file=self.file, clean=self.clean)
        taken._columns, taken._added = self._columns, dict(self._added)
        return taken

    @property
    def index(self) -> pd.Index:
        """The records' index (``out.index``, without joining the variables set since)."""
        return self._out.index

    def items(self) -> list[tuple[str, pd.Series]]:
        """``list(out.items())`` without joining the variables set since into a frame, for a
        step that makes a frame of its own from them (the domain's blank → null): a frame
        of a domain's ≈ 30 variables costs ≈ 0.5 ms to build."""
        if not self._added or self._out.columns.has_duplicates:
            return list(self.out.items())
        columns = dict(self._out.items())
        columns.update(self._added)     # a name set again keeps its place, as in ``out``
        return list(columns.items())

    def has_variable(self, name: str) -> bool:
        """Whether ``name`` is in ``out`` (without joining the variables set since)."""
        return name in self._added or name in self._out.columns

    def variable(self, name: str) -> pd.Series:
        """``out[name]`` (without joining the variables set since)."""
        added = self._added.get(name)
        return added if added is not None else self._out[name]

    def subset(self, rows: pd.Series | np.ndarray,
               reads: tuple[set[str], set[str]] | None = None) -> BlockFrame:
        """The rows in ``rows`` (a boolean mask on the index, or its array), as a frame of
        their own.

        ``reads`` (raw columns, variables; :func:`_reads`) narrows it to the columns a
        computation on it reads, so the other columns are not copied; a raw column the block
        lacks keeps them all (its error lists the block's columns)."""
        keep = rows if isinstance(rows, np.ndarray) else rows.to_numpy(dtype=bool)
        if reads is not None and reads[0] <= set(self.raw.columns) and \
                not self._out.columns.has_duplicates:
            raw_names = [c for c in self.raw.columns if c in reads[0]]
            # factorisations taken along (computed on demand)
            raw = take_rows(self.raw, keep, raw_names, carry=True)
            names = [c for c in (*self._out.columns, *self._added) if c in reads[1]]
            names = list(dict.fromkeys(names))
            if not names:
                out = take_rows(self._out, keep, [])
            else:
                sources = {c: self.variable(c) for c in names}
                out = take_rows(columns_frame(_column_data(sources, names), self._out.index),
                                keep, names, carry=True)
            return BlockFrame(raw=raw, out=out, form=self.form, file=self.file,
                              clean=self.clean)
        raw = take_rows(self.raw, keep, carry=True)
        out = take_rows(self.out, keep, carry=True)
        return BlockFrame(raw=raw, out=out, form=self.form, file=self.file, clean=self.clean)


def _column_data(columns: Mapping[str, pd.Series] | pd.DataFrame, names: object
                 ) -> dict[str, object]:
    """The named columns as a frame is built from them without copying (``copy=False``):
    an extension column as its array (a text array keeps its remembered factorisation), a
    numpy column as its Series (an object column is then not inferred again)."""
    data: dict[str, object] = {}
    for name in names:  # type: ignore[attr-defined]
        column = columns[name]
        data[name] = column.array if isinstance(column.dtype,
                                                pd.api.extensions.ExtensionDtype) else column
    return data


def take_rows(frame: pd.DataFrame, keep: np.ndarray, names: list[str] | None = None,
              carry: bool = False) -> pd.DataFrame:
    """``frame.loc[keep, names]`` (``keep`` a boolean array; names None: every column), each
    column's array taken at the kept positions: no index alignment, no whole-frame copy
    first (several times cheaper than ``.loc`` on a long block).

    ``carry``: the text columns get the factorisations of ``frame``'s (on demand), as
    ``carry_rows(frame, taken, keep)`` after it gives them, each as its array is taken:
    that read every column of both frames again (≈ 10 µs a column, raw forms of a hundred
    columns filtered per block)."""
    if names is None:
        if frame.columns.has_duplicates or not len(frame.columns):
            return frame.loc[keep]
        names = list(frame.columns)
    elif not names or frame.columns.has_duplicates:
        return frame.loc[keep, names]
    positions = np.flatnonzero(keep)
    data = {}
    for name in names:
        column = frame[name]
        if isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
            data[name] = column.array.take(positions)
            if carry:
                carry_taken_array(column, data[name], keep)
        else:
            data[name] = column.to_numpy().take(positions)
    return pd.DataFrame(data, index=frame.index[positions], copy=False)


@dataclass
class MapContext:
    """What every algorithm may consult: the study, codelists, finished domains, findings."""

    study: StudySpec
    codelist_terms: dict[str, set[str]]          # CT/sponsor codelist name → submission values
    findings: Findings
    domain: str = ""
    spec_file: str = ""
    where: str = ""                               # "file:line" of the variable being derived
    variable: str = ""
    sdtm: Mapping[str, pd.DataFrame] = field(default_factory=dict)   # domains mapped so far
    subjects: pd.DataFrame | None = None          # DM variables by USUBJID (reference dates)
    # the block whose row-level variables are being derived (set by the engine), and the
    # VISITNUM records `visitnum` saw there, also inside `when` branches: the engine numbers
    # the calendar's unscheduled visits from them across all domains
    block_key: object | None = None
    # DM reference dates completed per subject: variable → (the ``subjects`` they came from,
    # datetime64 by USUBJID)
    subject_dates: dict[str, tuple[pd.DataFrame, pd.Series]] = field(default_factory=dict)
    # records' positions among the subjects of those dates (:func:`_lookup_by_subject`)
    subject_positions: dict[int, tuple[np.ndarray, pd.Index, np.ndarray]] = \
        field(default_factory=dict)
    visit_calendar: list[VisitCalendarEntry] = field(default_factory=list)
    # visit rule tables by the distinct visit names they cover (:func:`_visit_table`): a
    # block's VISIT and VISITNUM read the same names, and blocks of one form share them
    visit_tables: dict[tuple[str, ...], pd.DataFrame] = field(default_factory=dict)
    # each study codelist's recoding tables (:func:`_recoding`), made once per run
    recodings: dict[str, tuple] = field(default_factory=dict)

    def report(self, frame: BlockFrame, mask: pd.Series, *, rule: str, severity: Severity,
               message: str, values: pd.Series | None = None) -> None:
        """Add findings for the rows in ``mask``: one per distinct value, with its count and the
        first subject and raw row where it occurs."""
        if not mask.any():
            return
        flagged = mask.fillna(False).astype(bool)
        raw = frame.raw
        subj_col = _subject_column(self.study, frame.form)
        if flagged.index.equals(raw.index) and not raw.columns.has_duplicates:
            # ``raw.loc[flagged]`` of only the columns a finding names: every raw column of
            # the flagged rows was copied otherwise (≈ 10 ms for one finding on a block of
            # a few hundred rows and a hundred columns)
            positions = np.flatnonzero(flagged.to_numpy(dtype=bool))
            rows = pd.DataFrame({c: raw[c].iloc[positions] for c in
                                 dict.fromkeys([subj_col, "_SRCFILE", "_SRCROW"])
                                 if c in raw.columns},
                                index=raw.index[positions])
        else:
            rows = raw.loc[flagged]
        vals = (values if values is not None else pd.Series("", index=frame.raw.index))
        vals = vals.loc[rows.index].astype("string").fillna("")
        subj = rows[subj_col].astype("string").fillna("") if subj_col in rows else \
            pd.Series("", index=rows.index)
        usubjid = frame.variable("USUBJID").loc[rows.index].astype("string").fillna("") \
            if frame.has_variable("USUBJID") else subj
        src = rows["_SRCFILE"].astype(str) + " row " + rows["_SRCROW"].astype(str)
        table = pd.DataFrame({"v": vals, "u": usubjid, "s": src})
        grouped = table.groupby("v", sort=True, dropna=False)
        first = grouped.first()
        counts = grouped.size()
        for value, row in first.iterrows():
            self.findings.add(Finding(
                rule=rule, severity=severity, message=message, dataset=self.domain,
                usubjid=str(row["u"]), variable=self.variable, value=str(value),
                source=f"{row['s']} (spec {self.where})", count=int(counts[value])))


@dataclass
class VisitCalendarEntry:
    """VISITNUMs of some records of one block: ``anchor`` rows are scheduled visits (their
    number is final), ``calendar`` rows are unscheduled visits the engine numbers as the
    subject's previous scheduled VISITNUM + 0.01, 0.02... (:func:`number_unscheduled`)."""

    block: object
    variable: str
    usubjid: pd.Series
    date: pd.Series             # datetime64 (complete dates only)
    visitnum: pd.Series
    anchor: pd.Series
    calendar: pd.Series


def _subject_column(study: StudySpec, form: str) -> str:
    spec = study.forms.get(form)
    return spec.subject_column if spec else "SUBJECT"


# --------------------------------------------------------------------------- helpers

def raw_column(ctx: MapContext, frame: BlockFrame, name: str) -> pd.Series:
    """A raw column of the block, or a clear error naming the file, column and spec line."""
    if name not in frame.raw.columns:
        cols = ", ".join(c for c in frame.raw.columns if not c.startswith("_"))
        raise InputDataError(f"{ctx.where}: {ctx.domain}.{ctx.variable}: raw column '{name}' is "
                             f"not in {frame.file} (columns: {cols})")
    return frame.raw[name]


def var_column(ctx: MapContext, frame: BlockFrame, name: str) -> pd.Series:
    if not frame.has_variable(name):
        raise SpecError(f"{ctx.domain}.{ctx.variable} uses variable {name}, which is not derived "
                        f"before it in this block", ctx.where.rsplit(":", 1)[0],
                        _line(ctx.where), name)
    return frame.variable(name)


def _line(where: str) -> int | None:
    tail = where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def raw_text(ctx: MapContext, frame: BlockFrame, name: str) -> pd.Series:
    """A raw column as SDTM text (stripped, blank → null); a clean frame's text columns
    already are, so they are only re-wrapped (read-only: the array is the raw frame's)."""
    series = raw_column(ctx, frame, name)
    if frame.clean and isinstance(series.dtype, pd.StringDtype) and \
            series.dtype.storage == "python":
        return pd.Series(series.array, index=series.index)
    return _text(series)


def operand(ctx: MapContext, frame: BlockFrame, op: Operand) -> pd.Series:
    if op.column is not None:
        return raw_text(ctx, frame, op.column)
    if op.var is not None:
        return var_column(ctx, frame, op.var)
    return pd.Series([op.value] * len(frame.raw), index=frame.raw.index).astype("string")


def _text(s: pd.Series) -> pd.Series:
    """Collected text as SDTM text: stripped, blank → null (each distinct value once)."""
    return clean_text(s)


def evaluate_condition(ctx: MapContext, frame: BlockFrame, cond: Condition) -> pd.Series:
    """Vectorised truth value of a condition for every row (missing compares as false)."""
    # the parts' truth values are combined as arrays (a block's condition is evaluated on
    # every row, but dozens of conditions per study make each Series operation's fixed cost
    # count on a small export)
    if cond.all is not None:
        every = np.ones(len(frame.raw.index), dtype=bool)
        for c in cond.all:
            every &= evaluate_condition(ctx, frame, c).to_numpy(dtype=bool)
        return pd.Series(every, index=frame.raw.index)
    if cond.any is not None:
        some = np.zeros(len(frame.raw.index), dtype=bool)
        for c in cond.any:
            some |= evaluate_condition(ctx, frame, c).to_numpy(dtype=bool)
        return pd.Series(some, index=frame.raw.index)
    if cond.not_ is not None:
        return ~evaluate_condition(ctx, frame, cond.not_)
    if cond.column is not None:
        series = raw_column(ctx, frame, cond.column)
    else:
        series = var_column(ctx, frame, cond.var)  # type: ignore[arg-type]
    if series.dtype.kind in "fiu":
        if cond.blank is not None:
            # a number's text is never blank: only a missing number is (not spelled out)
            missing = series.isna().to_numpy(dtype=bool)
            return pd.Series(missing if cond.blank else ~missing, index=series.index)
        numeric = _numeric_test(series, cond)
        if numeric is not None:
            return numeric       # a number compared as one: its text is never needed
    values = raw_text(ctx, frame, cond.column) if cond.column is not None else _text(series)
    if cond.blank is not None:      # null text has code -1 (the codes, not every cell)
        missing = coded(values)[0] < 0
        return pd.Series(missing if cond.blank else ~missing, index=values.index)
    # the test runs on the distinct values (``str``, no null: a few, even at 10^5 rows), in
    # plain Python as pandas' string methods would run it value by value, without their
    # fixed cost per call; then it is taken back by the codes (null rows: False)
    codes, uniques = coded(values)
    if cond.equals is not None:
        target = str(cond.equals).casefold()
        test = [u.casefold() == target for u in uniques]
    elif cond.not_equals is not None:
        target = str(cond.not_equals).casefold()
        test = [u.casefold() != target for u in uniques]
    elif cond.in_ is not None:
        targets = {str(v).casefold() for v in cond.in_}
        test = [u.casefold() in targets for u in uniques]
    else:
        pattern = re.compile(cond.matches, flags=re.IGNORECASE)  # type: ignore[arg-type]
        test = [pattern.fullmatch(u) is not None for u in uniques]
    flags = np.append(np.array(test, dtype=bool), False)
    return pd.Series(flags[codes], index=values.index)


def _numeric_test(series: pd.Series, cond: Condition) -> pd.Series | None:
    """equals / not_equals / in on a numeric variable compare numbers, not their spelling."""
    def num(v: object) -> float | None:
        try:
            return float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    if cond.equals is not None and num(cond.equals) is not None:
        return (series == num(cond.equals)).fillna(False).astype(bool)
    if cond.not_equals is not None and num(cond.not_equals) is not None:
        return (series != num(cond.not_equals)).fillna(False).astype(bool)
    if cond.in_ is not None and all(num(v) is not None for v in cond.in_):
        return series.isin([num(v) for v in cond.in_]).fillna(False).astype(bool)
    return None


# --------------------------------------------------------------------------- algorithms

def take(ctx: MapContext, frame: BlockFrame, args: str | TakeArgs) -> pd.Series:
    """Copy a collected value."""
    a = TakeArgs(column=args) if isinstance(args, str) else args
    values = raw_text(ctx, frame, a.column)
    if a.default is not None:
        values = values.fillna(a.default)
    return values


def constant(ctx: MapContext, frame: BlockFrame, args: str | float | int) -> pd.Series:
    """The same value on every record (assigned by the sponsor)."""
    if isinstance(args, str):
        return constant_text(args, frame.raw.index)
    return pd.Series(float(args), index=frame.raw.index, dtype="float64")


def assign_ct(ctx: MapContext, frame: BlockFrame, args: AssignCtArgs) -> pd.Series:
    """Recode collected text through a study codelist onto controlled terminology.

    Matching ignores case and surrounding blanks. Values no rule maps become findings (CMAP-MAP0001)
    naming the value, its count, the first subject and raw row.
    """
    spec = ctx.study.codelists.get(args.codelist)
    if spec is None:
        raise SpecError(f"unknown study codelist '{args.codelist}' (study.yaml codelists: "
                        f"{', '.join(sorted(ctx.study.codelists))})", ctx.where.rsplit(':', 1)[0],
                        _line(ctx.where), "assign_ct.codelist")
    collected = raw_text(ctx, frame, args.column) if args.column else \
        _text(var_column(ctx, frame, args.var))  # type: ignore[arg-type]
    known = ctx.recodings.get(args.codelist)
    if known is None:
        known = ctx.recodings[args.codelist] = _recoding(ctx, args.codelist)
    table, target, by_fold, patterns = known

    def recode(values: pd.Series) -> pd.Series:
        """The distinct collected values (none missing) → their terms (NA: unmapped): the
        map (case and runs of blanks ignored), else the first pattern that matches the whole
        value (its replacement upper-cased), else the value's own term (identity).

        Value by value in Python: the values are the distinct ones (a codelist's few
        spellings), where a chain of pandas string methods costs far more per call."""
        terms_of = np.empty(len(values), dtype=object)
        for i, value in enumerate(values.to_numpy(dtype=object)):
            key = _BLANKS.sub(" ", value.casefold())
            term = table.get(key)
            if term is None:
                for pattern, replacement in patterns:
                    if pattern.fullmatch(value) is not None:
                        term = pattern.sub(replacement, value).upper()
                        break
            if term is None and by_fold is not None:
                term = by_fold.get(key)
            terms_of[i] = pd.NA if term is None else term
        return pd.Series(string_array(terms_of), index=values.index)

    result = map_unique(collected, recode)
    # null results of present values, read from both columns' codes (no scan of the text)
    unmapped = pd.Series((coded(result)[0] < 0) & (coded(collected)[0] >= 0),
                         index=result.index)
    if unmapped.any():
        action = {"keep": "kept as collected", "null": "left null",
                  "default": f"set to {spec.default}"}[spec.on_unmapped]
        shown = f" (target {target})" if target and target != args.codelist else ""
        ctx.report(frame, unmapped, rule="CMAP-MAP0001", severity=Severity.WARNING,
                   message=f"value not in study codelist {args.codelist}{shown}; {action}",
                   values=collected)
        if spec.on_unmapped == "keep":
            result = result.mask(unmapped, collected)
        elif spec.on_unmapped == "default":
            result = result.mask(unmapped, spec.default)
    return result


def _recoding(ctx: MapContext, codelist: str) -> tuple:
    """What :func:`assign_ct` recodes the study codelist ``codelist`` (known to exist) with:
    its map by folded spelling, its target, the target's terms by folded spelling (identity)
    and its patterns. The same for every variable using the codelist, so made once per run:
    folding every term of a large CT codelist was ≈ 40 µs a call, ≈ 50 calls a study."""
    spec = ctx.study.codelists[codelist]
    table = {k.strip().casefold(): v for k, v in spec.map.items()}
    target = spec.target_of(codelist)
    terms = set(ctx.codelist_terms.get(target or "", set()))
    terms |= {t.value for t in spec.term_list()}      # a sponsor list or a CT extension
    by_fold = {t.casefold(): t for t in terms} if spec.identity and terms else None
    patterns = [(re.compile(p, flags=re.IGNORECASE), r) for p, r in spec.patterns]
    return table, target, by_fold, patterns


def iso8601(ctx: MapContext, frame: BlockFrame, args: Iso8601Args) -> pd.Series:
    """Collected date (and time) parts → ISO 8601 text keeping partial precision.

    A column in which no value gives a date while some fail is an InputDataError (the style
    or the column is wrong), not one CMAP-DATE0001 finding per row.
    """
    if args.family is not None:
        return _iso8601_family(ctx, frame, args.family)
    times = raw_column(ctx, frame, args.time) if args.time else None
    if args.parts is not None:
        cols = [c for c in (args.parts.year, args.parts.month, args.parts.day) if c]
        year, month, day = (raw_column(ctx, frame, c) if c else None for c in
                            (args.parts.year, args.parts.month, args.parts.day))
        parsed = parse_date_parts(year, month, day, times)  # type: ignore[arg-type]
        style, source = "year/month/day", "/".join(cols)
    else:
        dates = raw_column(ctx, frame, args.date)  # type: ignore[arg-type]
        parsed = parse_dates(dates, args.format, times)
        style, source = args.format, args.date
    # the value as collected, for messages: only the rows that failed are ever shown, so only
    # they are spelled out (text joined row by row)
    failed = parsed.failed.to_numpy(dtype=bool)
    if not failed.any():        # the usual case: nothing to show, nothing to report
        return parsed.iso
    if args.parts is not None:
        shown = year[failed].astype("string").fillna("")  # type: ignore[index]
        for s in (month, day):
            shown = shown + "/" + (s[failed].astype("string").fillna("") if s is not None
                                   else "")
    else:
        shown = dates[failed].astype("string")
    if times is not None:
        shown = shown.fillna("") + (" " + times[failed].astype("string")).fillna("")
    if parsed.nothing_parsed():
        sample = shown.iloc[0]              # the first failed row
        raise InputDataError(f"{ctx.where}: {ctx.domain}.{ctx.variable}: no value of column "
                             f"{source} in {frame.file} (form {frame.form}) is a {style} date, "
                             f"e.g. {sample!r} ({int(parsed.failed.sum())} rows); declare the "
                             "right iso8601 format")
    ctx.report(frame, parsed.unparseable, rule="CMAP-DATE0001", severity=Severity.WARNING,
               message=f"date not in the declared {style} style; left null", values=shown)
    ctx.report(frame, parsed.impossible, rule="CMAP-DATE0002", severity=Severity.WARNING,
               message="impossible calendar date or time; left null", values=shown)
    return parsed.iso


def _iso8601_family(ctx: MapContext, frame: BlockFrame, name: str) -> pd.Series:
    """A date item NAME of a date-family form (study.yaml ``date_families``): the EDC's
    parsed NAME in the family's format, its midnight time dropped (the EDC writes a date item
    as a date-time at 00:00:00); where NAME is blank (the site typed a partial date), the
    year/month/day parts the site typed, kept to their known precision."""
    form = ctx.study.forms.get(frame.form)
    family = form.date_families if form is not None else None
    if family is None or family.format is None:
        raise SpecError(f"{ctx.domain}.{ctx.variable}: iso8601 family {name!r} needs form "
                        f"'{frame.form}' to declare date_families with a format (study.yaml "
                        "forms, form_defaults or the profile)", ctx.where.rsplit(":", 1)[0],
                        _line(ctx.where), ctx.variable)
    whole = iso8601(ctx, frame, Iso8601Args(date=name, format=family.format))
    whole = whole.str.replace(r"T00:00(:00)?$", "", regex=True)
    suffix = family.suffixes
    columns = {role: name + s for role, s in (("year", suffix.year), ("month", suffix.month),
                                              ("day", suffix.day)) if s}
    columns = {role: col for role, col in columns.items() if col in frame.raw.columns}
    blank = raw_column(ctx, frame, name).isna()
    if "year" not in columns or not blank.any():
        return whole
    part = frame.subset(blank)
    typed = iso8601(ctx, part, Iso8601Args(parts=DatePartsArgs(**columns)))
    return whole.where(~blank, typed.reindex(whole.index))


def concat(ctx: MapContext, frame: BlockFrame, args: ConcatArgs) -> pd.Series:
    """Join parts with a separator; missing if any part is missing (no half identifiers)."""
    parts = [raw_text(ctx, frame, p.column) if p.column is not None else
             _text(operand(ctx, frame, p)) for p in args.parts]
    if len(parts) == 1:
        return parts[0]
    # the distinct combinations of the parts' values are joined once each, then taken back
    missing = np.zeros(len(parts[0]), dtype=bool)
    columns = []
    for part in parts:
        codes, uniques = coded(part)
        missing |= codes < 0
        columns.append((codes, len(uniques)))
    key = combined_codes(columns)
    n_groups = int(key.max()) + 1 if len(key) else 0
    first = np.zeros(n_groups, dtype="int64")
    first[key[::-1]] = np.arange(len(key) - 1, -1, -1)     # each combination's first row
    # each part's text at those rows as a list (a missing part as "": the combination is
    # null anyway), joined by one C-level map instead of a Python loop over the combinations
    texts = []
    for part in parts:
        codes, uniques = coded(part)
        texts.append(np.append(np.asarray(uniques, dtype=object), "")[codes[first]].tolist())
    table = np.empty(n_groups + 1, dtype=object)
    table[:n_groups] = list(map(args.sep.join, zip(*texts, strict=True)))
    table[:n_groups][missing[first]] = pd.NA
    table[n_groups] = pd.NA
    return text_from_codes(key, table, parts[0].index)


def when(ctx: MapContext, frame: BlockFrame, branches: list[WhenBranch]) -> pd.Series:
    """Conditional assignment: the first branch whose condition holds gives the value."""
    # numbers: one float array; text results: each row's code into the branches' distinct
    # values, laid end to end (the rows' text is never hashed again; a branch's values keep
    # their factorisation). Masks are boolean arrays: a few operations per branch, whose
    # fixed cost as Series operations counted on small blocks.
    numbers: np.ndarray | None = None
    codes: np.ndarray | None = None
    tables: list[np.ndarray] = []
    size = 0
    n = len(frame.raw.index)
    decided = np.zeros(n, dtype=bool)
    for branch in branches:
        if branch.else_ is not None:
            rows = ~decided
            spec = branch.else_
        else:
            rows = evaluate_condition(ctx, frame, branch.if_  # type: ignore[arg-type]
                                      ).to_numpy(dtype=bool) & ~decided
            spec = branch.then  # type: ignore[assignment]
        direct = _direct_branch(ctx, frame, spec, numeric=None if numbers is None and
                                codes is None else numbers is not None)
        if direct is not None:
            # a constant or a collected value: no findings, the same on the branch's rows as
            # on all rows, so it is read from the whole block (no copy of the branch's rows)
            if numbers is None and codes is None:
                if isinstance(direct, float):
                    numbers = np.full(n, np.nan)
                else:
                    codes = np.full(n, -1, dtype=np.intp)
            if rows.any():
                if isinstance(direct, float):
                    assert numbers is not None
                    numbers[rows] = direct
                else:
                    assert codes is not None
                    branch_codes, distinct = direct
                    taken = branch_codes[rows] if len(branch_codes) == len(rows) else \
                        np.zeros(int(rows.sum()), dtype=np.intp)
                    codes[rows] = np.where(taken >= 0, taken + size, -1)
                    tables.append(distinct)
                    size += len(distinct)
            decided |= rows
            continue
        # the branch sees only its own rows, so its findings are about those rows only; only
        # the columns it reads (and its findings name) are copied
        sub = frame.subset(rows, _reads(ctx, frame, spec))
        value = run_algorithm(ctx, sub, spec)
        if numbers is None and codes is None:
            if value.dtype.kind in "fiu":
                numbers = np.full(n, np.nan)
            else:
                codes = np.full(n, -1, dtype=np.intp)
        if len(value):
            if not value.index.equals(sub.raw.index):   # as .loc would align it
                value = value.reindex(sub.raw.index)
            if numbers is not None:
                numbers[rows] = value.astype("float64").to_numpy()
            else:
                assert codes is not None
                text = value if isinstance(value.dtype, pd.StringDtype) and \
                    value.dtype.storage == "python" else value.astype("string")
                branch_codes, distinct = coded(text)
                codes[rows] = np.where(branch_codes >= 0, branch_codes + size, -1)
                tables.append(distinct)
                size += len(distinct)
        decided |= rows
    if numbers is not None:
        return pd.Series(numbers, index=frame.raw.index, dtype="float64")
    assert codes is not None
    table = np.concatenate(tables) if tables else np.zeros(0, dtype=object)
    return text_from_codes(codes, table, frame.raw.index)


def _reads(ctx: MapContext, frame: BlockFrame, spec: VariableSpec
           ) -> tuple[set[str], set[str]] | None:
    """The raw columns and variables a ``when`` branch reads, with those its findings name
    (the subject column, lineage, USUBJID: :meth:`MapContext.report`); None for an algorithm
    whose reads are not listed here (the branch then gets every column)."""
    found = _spec_reads(spec)
    if found is None:
        return None
    return found[0] | {"_SRCFILE", "_SRCROW", _subject_column(ctx.study, frame.form)}, \
        found[1] | {"USUBJID"}


def _spec_reads(spec: VariableSpec) -> tuple[set[str], set[str]] | None:
    name, a = spec.algorithm, spec.args()
    if name in ("constant", "empty", "data_cutoff"):
        return set(), set()
    if name == "take":
        return {a if isinstance(a, str) else a.column}, set()
    if name in ("assign_ct", "number"):
        return {a.column} - {None}, {a.var} - {None}
    if name == "copy":
        return set(), {a}
    if name == "from_domain":
        return set(), {"USUBJID"}
    if name == "concat":
        return {p.column for p in a.parts if p.column is not None}, \
            {p.var for p in a.parts if p.var is not None}
    if name == "iso8601" and a.family is None:
        parts = [a.parts.year, a.parts.month, a.parts.day] if a.parts is not None else []
        return {c for c in (a.date, a.time, *parts) if c is not None}, set()
    if name == "expr":
        parsed = parse_expression(a)
        return set(parsed.columns), set(parsed.variables)
    if name == "when":
        columns: set[str] = set()
        variables: set[str] = set()

        def condition(c: Condition | None) -> None:
            if c is None:
                return
            if c.column is not None:
                columns.add(c.column)
            if c.var is not None:
                variables.add(c.var)
            for sub in (c.all or []) + (c.any or []):
                condition(sub)
            condition(c.not_)

        for branch in a:
            condition(branch.if_)
            for sub in (branch.then, branch.else_):
                if sub is not None:
                    found = _spec_reads(sub)
                    if found is None:
                        return None
                    columns |= found[0]
                    variables |= found[1]
        return columns, variables
    return None


def _direct_branch(ctx: MapContext, frame: BlockFrame, spec: VariableSpec,
                   numeric: bool | None) -> float | tuple[np.ndarray, np.ndarray] | None:
    """A ``when`` branch that needs no rows of its own: a constant (its number, or code 0
    of its one text, given as an empty code array) or a ``take`` without default (the whole
    column's codes and distinct values); None for any other branch, or when its kind does
    not match the result's (``numeric``; None: the first branch decides)."""
    if spec.case != "keep" or spec.algorithm not in ("constant", "take"):
        return None
    args = spec.args()
    if spec.algorithm == "constant":
        if isinstance(args, str):
            return None if numeric else (np.zeros(0, dtype=np.intp),
                                         np.array([args], dtype=object))
        return None if numeric is False else float(args)
    a = TakeArgs(column=args) if isinstance(args, str) else args
    if a.default is not None or numeric:
        return None
    return coded(raw_text(ctx, frame, a.column))


def number(ctx: MapContext, frame: BlockFrame, args: NumberArgs) -> pd.Series:
    """A collected or derived value as a number; text that is not a number is a finding."""
    text = raw_text(ctx, frame, args.column) if args.column else \
        _text(var_column(ctx, frame, args.var))  # type: ignore[arg-type]
    values = _to_number(text)
    # present text (code ≥ 0, from the codes the parse used: no test of every text cell)
    present = coded(text)[0] >= 0
    bad = pd.Series(present & np.isnan(values.to_numpy()), index=text.index)
    ctx.report(frame, bad, rule="CMAP-NUM0001", severity=Severity.WARNING,
               message="not a number; left null", values=text)
    if args.default is not None:
        values = values.mask(~present, args.default)
    return values


def _to_number(text: pd.Series) -> pd.Series:
    """``pd.to_numeric(text, errors="coerce")`` as float64, parsed once per distinct value (a
    lab result column repeats a few thousand spellings over its rows)."""
    return map_unique(text, lambda u: pd.to_numeric(u, errors="coerce").astype("float64")
                      ).astype("float64")


def copy(ctx: MapContext, frame: BlockFrame, name: str) -> pd.Series:
    """The value of another variable of the same record."""
    return var_column(ctx, frame, name)


def from_domain(ctx: MapContext, frame: BlockFrame, args: FromDomainArgs) -> pd.Series:
    """A per-subject aggregate of another mapped domain (DM reference dates from EX, ...)."""
    other = ctx.sdtm.get(args.domain)
    usubjid = var_column(ctx, frame, "USUBJID")
    if other is None:
        raise SpecError(f"{ctx.domain}.{ctx.variable} needs domain {args.domain}, which is not "
                        f"mapped (study.yaml domains)", ctx.where.rsplit(":", 1)[0],
                        _line(ctx.where), "from_domain.domain")
    if args.variable not in other.columns:
        raise SpecError(f"{args.domain} has no variable {args.variable}",
                        ctx.where.rsplit(":", 1)[0], _line(ctx.where), "from_domain.variable")
    data = other
    if args.where is not None:
        sub = BlockFrame(raw=other, out=other, form="", file=args.domain)
        data = other[evaluate_condition(ctx, sub, args.where)]
    values = data[[*{"USUBJID", args.variable, *args.order}]].copy()
    carry_rows(data, values, None)      # the copy's text keeps its factorisations
    v = values[args.variable]
    if args.agg == "count":
        agg = values.groupby("USUBJID")[args.variable].count().astype("float64")
    elif args.agg == "exists":
        agg = pd.Series("Y", index=pd.Index(values["USUBJID"].dropna().unique()), dtype="string")
    else:
        kept = not_null(v).to_numpy()
        values, whole = take_rows(values, kept), values
        carry_rows(whole, values, kept)     # sorted below by the codes, taken along
        keys = args.order or [args.variable]
        values = _sorted_rows(values, ["USUBJID", *keys])
        g = values.groupby("USUBJID")[args.variable]
        agg = {"min": g.first, "first": g.first, "max": g.last, "last": g.last}[args.agg]()
        if args.open_end != "skip":
            agg = _open_end(ctx, data, args, agg)
    return usubjid.map(agg)


def _sorted_rows(values: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """``values.sort_values(by, kind="mergesort")`` (stable, nulls last) by one stable order of
    the keys' ranks (:func:`_sort_key`: text as the rank of its distinct value, from the
    remembered codes), instead of pandas sorting the subjects' and dates' text row by row.
    Keys of other kinds are sorted by pandas."""
    keys = []
    for name in by:
        key = _sort_key(values[name])
        array = key if isinstance(key, np.ndarray) else key.to_numpy()
        if array.dtype.kind not in "biuf":
            return values.sort_values(by, kind="mergesort")
        keys.append(array)
    return values.take(stable_order(keys[::-1]))


def _open_end(ctx: MapContext, data: pd.DataFrame, args: FromDomainArgs, agg: pd.Series
              ) -> pd.Series:
    """max/last of subjects whose last record is open (null): blank, the data cut-off, or
    (``start``) the latest --STDTC or --ENDTC of the subject's records (SDTMIG 3.4 DM RFXENDTC:
    the latest EXSTDTC when EXENDTC is missing).

    The last record is the last by ``order`` (nulls of the order keys last); without ``order``
    a record with a null value is open, since a null end sorts after every date."""
    values = data[[*{"USUBJID", args.variable, *args.order}]]
    if args.order:
        last = _sorted_rows(values, ["USUBJID", *args.order]
                            ).groupby("USUBJID", sort=False).tail(1)
    else:
        last = values
    is_open = pd.Index(last.loc[last[args.variable].isna() & last["USUBJID"].notna(),
                                "USUBJID"].unique())
    if is_open.empty:
        return agg
    out = agg.astype("string").reindex(agg.index.union(is_open))
    if args.open_end == "start":
        start = args.variable.removesuffix("ENDTC") + "STDTC"
        if start not in data.columns:
            raise SpecError(f"{args.domain} has no variable {start} (open_end: start)",
                            ctx.where.rsplit(":", 1)[0], _line(ctx.where), "from_domain")
        dates = pd.concat([data[c].astype("string").rename("_V") for c in (start, args.variable)])
        owner = pd.concat([data["USUBJID"]] * 2).to_numpy()
        latest = _text_max_by(dates, owner)
        out[is_open] = latest.reindex(is_open).to_numpy()
    else:
        out[is_open] = _cutoff_text(ctx) if args.open_end == "cutoff" else pd.NA
    return out


def _text_max_by(text: pd.Series, owner: np.ndarray) -> pd.Series:
    """``text.groupby(owner).max()``: the greatest text per owner (nulls skipped), found as the
    greatest rank of the distinct values in Python string order, which is the order the
    text's own max compares by (grouping integers, not comparing text row by row)."""
    codes, uniques = coded(text)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(uniques) + 1, dtype=np.intp)
    rank[order] = np.arange(len(uniques))
    rank[-1] = -1                               # code -1 (null) indexes the last entry
    best = pd.Series(rank[codes]).groupby(owner).max()
    values = np.append(uniques[order], pd.NA).astype(object)[best.to_numpy()]
    return pd.Series(pd.array(values, dtype="string"), index=best.index)


def _cutoff_text(ctx: MapContext) -> str:
    if ctx.study.data_cutoff is None:
        raise SpecError(f"{ctx.domain}.{ctx.variable} uses the data cut-off, which study.yaml "
                        "does not declare (data_cutoff: {date: YYYY-MM-DD})",
                        ctx.where.rsplit(":", 1)[0], _line(ctx.where))
    return ctx.study.data_cutoff.date.isoformat()


def data_cutoff(ctx: MapContext, frame: BlockFrame, args: bool) -> pd.Series:
    """The study's data cut-off date (study.yaml ``data_cutoff``) on every record: the one
    date TS DCUTDTC also gives (docs/conventions.md "Subjects ongoing at the data cut-off")."""
    return pd.Series(_cutoff_text(ctx), index=frame.raw.index, dtype="string")


def study_day(ctx: MapContext, frame: BlockFrame, args: StudyDayArgs) -> pd.Series:
    """--DY from the record's date and DM.RFSTDTC (SDTMIG 3.4 §4.4.4)."""
    dtc = var_column(ctx, frame, args.dtc)
    ref = _subject_dates(ctx, frame, "RFSTDTC")
    return _study_day(dtc, ref)


def epoch(ctx: MapContext, frame: BlockFrame, args: EpochArgs) -> pd.Series:
    """EPOCH of the record's date from the study's epoch rules on DM reference dates
    (SDTMIG 3.4 §4.1.3.1: EPOCH of the start of an observation)."""
    # datetime64 arrays (NaT: no complete date; a comparison with NaT is false, as in pandas),
    # each DM date looked up once per call, however many rules read it
    date = complete_days(var_column(ctx, frame, args.dtc))
    known: dict[str, np.ndarray] = {}

    def subject_dates(variable: str) -> np.ndarray:
        if variable not in known:
            known[variable] = _subject_dates(ctx, frame, variable).to_numpy(
                dtype="datetime64[ns]")
        return known[variable]

    codes = np.full(len(frame.raw.index), -1, dtype=np.intp)     # rule index per record
    decided = np.zeros(len(frame.raw.index), dtype=bool)
    for index, rule in enumerate(ctx.study.epochs):
        ok = ~np.isnat(date)
        if rule.start:
            start = subject_dates(rule.start)
            ok &= (date < start) if rule.before_start else (date >= start)
            ok &= ~np.isnat(start)
        if rule.end:
            # a subject without the end date (still on treatment at the data cut-off) is in
            # an epoch that has not ended: the rule matches up to the cut-off (conventions.md)
            end = subject_dates(rule.end)
            if ctx.study.data_cutoff is not None:   # an open epoch ends at the data cut-off
                end = np.where(np.isnat(end), np.datetime64(ctx.study.data_cutoff.date, "ns"),
                               end)
            ok &= (date <= end) | np.isnat(end)
        ok &= ~decided
        codes[ok] = index
        decided |= ok
    return text_from_codes(codes, np.array([rule.epoch for rule in ctx.study.epochs] or [],
                                           dtype=object), frame.raw.index)


def _subject_values(ctx: MapContext, frame: BlockFrame, dm_variable: str) -> pd.Series:
    if ctx.subjects is None or dm_variable not in ctx.subjects.columns:
        raise SpecError(f"{ctx.domain}.{ctx.variable} needs DM.{dm_variable}, which DM does not "
                        f"derive", ctx.where.rsplit(":", 1)[0], _line(ctx.where))
    usubjid = var_column(ctx, frame, "USUBJID")
    return usubjid.map(ctx.subjects[dm_variable]).astype("string")


def _subject_dates(ctx: MapContext, frame: BlockFrame, dm_variable: str) -> pd.Series:
    """The calendar date (:func:`complete_date`) of a DM reference date on every record.

    Completed once per subject and DM variable for the run (not once per record and rule):
    completing then looking up equals looking up then completing, value by value."""
    if ctx.subjects is None or dm_variable not in ctx.subjects.columns:
        _subject_values(ctx, frame, dm_variable)        # raises the SpecError
    assert ctx.subjects is not None
    cached = ctx.subject_dates.get(dm_variable)
    if cached is None or cached[0] is not ctx.subjects:
        cached = (ctx.subjects, complete_date(ctx.subjects[dm_variable].astype("string")))
        ctx.subject_dates[dm_variable] = cached
    return _lookup_by_subject(var_column(ctx, frame, "USUBJID"), cached[1],
                              ctx.subject_positions)


def _lookup_by_subject(usubjid: pd.Series, by_subject: pd.Series,
                       known: dict[int, tuple[np.ndarray, pd.Index, np.ndarray]] | None = None
                       ) -> pd.Series:
    """``usubjid.map(by_subject)``, looking up each distinct subject once (the rows' remembered
    factorisation) instead of hashing every record's identifier. ``known`` keeps the records'
    positions in ``by_subject`` by the rows' codes: every DM date shares DM's subject index,
    so a block's records are looked up once for all of them (study_day, epoch, lobxfl)."""
    if not (isinstance(usubjid.dtype, pd.StringDtype) and usubjid.dtype.storage == "python") \
            or not by_subject.index.is_unique:
        return usubjid.map(by_subject)
    codes, uniques = coded(usubjid)
    entry = known.get(id(codes)) if known is not None else None
    if entry is not None and entry[0] is codes and entry[1] is by_subject.index:
        positions = entry[2]
    else:
        # a missing identifier finds what .map finds for it: a missing key, if there is one
        index = by_subject.index
        if isinstance(index.dtype, pd.StringDtype) and not index.hasnans:
            # no missing key; the subjects' positions through a dict (_name_positions)
            positions = np.append(_name_positions(index, uniques), -1)[codes]
        else:
            missing = index.get_indexer(pd.array([pd.NA], dtype=usubjid.dtype))
            positions = np.append(index.get_indexer(uniques), missing)[codes]
        if known is not None:       # the entry holds codes: its id is not reused meanwhile
            known[id(codes)] = (codes, by_subject.index, positions)
    values = by_subject.array
    taken = pd.api.extensions.take(values, positions, allow_fill=True) \
        if isinstance(values, np.ndarray) else values.take(positions, allow_fill=True)
    return pd.Series(taken, index=usubjid.index, name=usubjid.name)


def seq(ctx: MapContext, frame: BlockFrame, args: SeqArgs) -> pd.Series:
    """--SEQ: 1..n within each subject, in a stable documented order (SDTMIG 3.4 §4.1.2.x)."""
    keys = [*args.by, *args.order]
    table = pd.DataFrame({k: _sort_key(var_column(ctx, frame, k)) for k in keys},
                         index=frame.index)
    table["_SRCFILE"] = _text_rank(frame.variable("_SRCFILE"))
    table["_SRCROW"] = frame.variable("_SRCROW")
    table["_POS"] = np.arange(len(table))
    sort_keys = [*keys, "_SRCFILE", "_SRCROW", "_POS"]
    numbers = _numbers_within(table, sort_keys, args.by) if table.index.is_unique else None
    if numbers is not None:
        return pd.Series(numbers, index=frame.index, dtype="float64")
    order = table.sort_values(sort_keys, kind="mergesort", na_position="last")
    counts = order.groupby(args.by, dropna=False, sort=False).cumcount() + 1
    return counts.reindex(frame.index).astype("float64")


def _numbers_within(table: pd.DataFrame, sort_keys: list[str], by: list[str]
                    ) -> np.ndarray | None:
    """1..n within each ``by`` group in the order of ``sort_keys`` (a stable sort, nulls
    last), for numeric keys: each key as the rank of its value (NaN last, equal to itself),
    one ``np.lexsort``, groups as runs of equal ``by`` ranks (the by keys lead the sort).
    None when a key is not numeric (the caller sorts the frame)."""
    if not by:
        return None
    ranks: dict[str, np.ndarray] = {}
    for key in dict.fromkeys(sort_keys):
        values = table[key].to_numpy()
        if values.dtype.kind not in "biuf":
            return None
        ranks[key] = np.unique(values, return_inverse=True, equal_nan=True)[1].reshape(-1) \
            if values.dtype.kind == "f" else values
    n = len(table)
    order = _stable_order([ranks[k] for k in dict.fromkeys(sort_keys)], n)
    start = np.zeros(n, dtype=bool)
    if n:
        start[0] = True
    for key in by:
        r = ranks[key][order]
        start[1:] |= r[1:] != r[:-1]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0)) if n else start
    numbers = np.empty(n, dtype="float64")
    numbers[order] = np.arange(n) - first + 1
    return numbers


def _stable_order(keys: list[np.ndarray], n: int) -> np.ndarray:
    """``np.lexsort`` of numeric keys (the first the primary) by :func:`stable_order`; a last
    key that is the position itself is left out: the stable sort keeps that order."""
    if not n:
        return np.zeros(0, dtype=np.intp)
    used = keys[:-1] if len(keys) > 1 and keys[-1].dtype.kind in "iu" and \
        np.array_equal(keys[-1], np.arange(n)) else keys
    return stable_order(used[::-1])


def _text_rank(values: pd.Series) -> pd.Series | np.ndarray:
    """``values.astype(str)`` as the dense rank of that text among its distinct values: it
    sorts as the text does (Python string order), spelled once per distinct value. A
    ``string`` column's remembered factorisation (``_SRCFILE``: one value) gives the distinct
    values without hashing its rows; its ranks may then skip values no row holds, which
    orders the rows the same (they only sort)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python":
        codes, uniques = coded(values)
        if not len(codes) or codes.min() >= 0:
            _, rank = np.unique(np.array([str(u) for u in uniques], dtype=object),
                                return_inverse=True)
            return rank.reshape(-1)[codes]
    objects = values.to_numpy(dtype=object)
    if values.isna().any():
        return values.astype(str)
    codes, uniques = pd.factorize(objects)
    _, rank = np.unique(np.array([str(u) for u in uniques], dtype=object), return_inverse=True)
    return rank.reshape(-1)[codes]


def _sort_key(values: pd.Series) -> pd.Series | np.ndarray:
    """Text as the rank of its distinct value (missing after all), which sorts and groups
    rows as the text itself does (Python string order, as pandas sorts it): sorting and
    grouping integers instead of hashing and comparing the text of every row."""
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python"):
        return values
    codes, uniques = coded(values)
    rank = np.empty(len(uniques) + 1, dtype=np.intp)
    rank[np.argsort(uniques, kind="stable")] = np.arange(len(uniques))
    rank[-1] = len(uniques)                     # code -1 (missing) indexes the last entry
    return rank[codes]


def _visit_table(ctx: MapContext, values: pd.Series) -> pd.DataFrame:
    """Map each distinct collected visit name to its rule (first match) and, for template
    rules, VISIT/VISITNUM; expression rules are computed per record by the callers."""
    distinct = coded(values)[1]       # the distinct non-null names, from the codes
    key = tuple(sorted(distinct))
    known = ctx.visit_tables.get(key)
    if known is None:
        known = ctx.visit_tables[key] = _visit_rule_table(ctx, key)
    return known


def _visit_rule_table(ctx: MapContext, names: tuple[str, ...]) -> pd.DataFrame:
    """:func:`_visit_table` of the distinct names ``names`` (sorted), worked out."""
    rows = []
    for raw in names:
        for index, rule in enumerate(ctx.study.visits):
            m = re.fullmatch(rule.match, str(raw).strip(), flags=re.IGNORECASE)
            if m:
                groups = {str(i): g for i, g in enumerate(m.groups(), 1)}
                name = _fill(rule.visit, groups) if isinstance(rule.visit, str) else None
                num = rule.visitnum
                if isinstance(num, VisitExpr):
                    num = None
                elif isinstance(num, str):
                    text = _fill(num, groups)
                    try:
                        num = float(text)
                    except ValueError:
                        raise InputDataError(
                            f"{ctx.where}: visit {raw!r} matches {rule.match!r}, whose visitnum "
                            f"{rule.visitnum!r} gives {text!r}, not a number (study.yaml "
                            f"visits)") from None
                rows.append((raw, index, name, num, rule.unscheduled))
                break
    # one frame from typed columns (the readers convert RULE to int64 and VISITNUM to
    # float64 anyway): a frame of tuples then set_index cost ≈ 0.6 ms a table
    return pd.DataFrame({
        "RULE": np.array([r[1] for r in rows], dtype="int64"),
        "VISIT": np.array([r[2] for r in rows], dtype=object),
        "VISITNUM": np.array([np.nan if r[3] is None else float(r[3]) for r in rows],
                             dtype="float64"),
        "UNS": np.array([r[4] for r in rows], dtype=bool)},
        index=pd.Index([r[0] for r in rows], dtype=object, name="raw"))


def _fill(template: str, groups: dict[str, str]) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: groups.get(m.group(1), ""), template)


def _visit_rules(ctx: MapContext, frame: BlockFrame, args: VisitArgs
                 ) -> tuple[pd.Series, pd.DataFrame, pd.Series]:
    """The collected visit names, their rule table and each record's rule index (-1: none)."""
    collected = raw_text(ctx, frame, args.column)
    table = _visit_table(ctx, collected)
    if not len(table):
        return collected, table, pd.Series(-1, index=collected.index, dtype="int64")
    rule = _by_name(collected, table, np.append(table["RULE"].to_numpy(dtype="int64"), -1))
    return collected, table, rule


def _by_name(collected: pd.Series, table: pd.DataFrame, values: np.ndarray) -> pd.Series:
    """``collected.map(table[...])`` for the visit table's column ``values`` (with one more
    entry, last, for names not in the table and nulls): each distinct name looked up once
    and taken back by the names' codes, not every record's name hashed."""
    codes, uniques = coded(collected)
    positions = np.append(_name_positions(table.index, uniques), -1)[codes]
    return pd.Series(values[positions], index=collected.index)


def _name_positions(names: pd.Index, distinct: np.ndarray) -> np.ndarray:
    """``names.get_indexer(distinct)`` (-1: not there) for unique ``names`` and distinct
    text (a block's visit names; a block's subjects among DM's), through a dict:
    ``get_indexer`` costs ≈ 0.1 ms a call whatever the size. From a few thousand values on
    (10,000 subjects: 1.2 against 0.5 ms) ``get_indexer`` is the faster again."""
    if len(names) + len(distinct) > 2000:
        return names.get_indexer(distinct)
    where = {name: i for i, name in enumerate(names.tolist())}
    return np.array([where.get(v, -1) for v in np.asarray(distinct, dtype=object).tolist()],
                    dtype=np.intp)


def _text_by_name(collected: pd.Series, names: pd.Series) -> pd.Series:
    """``collected.map(names).astype("string")`` (``names``: text or None by distinct visit
    name, the visit table's VISIT): each distinct name looked up once (:func:`_by_name`) and
    the rows' text made from those codes, its factorisation known. ``map_unique`` with
    ``Series.map`` cost ≈ 0.6 ms a call (24 VISIT variables a study)."""
    if not (isinstance(collected.dtype, pd.StringDtype) and collected.dtype.storage == "python"):
        return map_unique(collected, lambda u: u.map(names).astype("string"))
    codes, uniques = coded(collected)
    positions = np.append(_name_positions(names.index, uniques), -1)[codes]
    return text_from_codes(positions, names.to_numpy(dtype=object), collected.index)


def _rule_expression(ctx: MapContext, frame: BlockFrame, rows: pd.Series, text: str
                     ) -> pd.Series:
    """A visit rule's expression on the records the rule matched (their findings only)."""
    sub = frame.subset(rows)
    return expr(ctx, sub, text)


def visit(ctx: MapContext, frame: BlockFrame, args: VisitArgs) -> pd.Series:
    """VISIT from the collected visit name through the study's visit rules (a template of the
    name's groups, or an expression on the record's raw fields)."""
    collected, table, rule = _visit_rules(ctx, frame, args)
    result = _text_by_name(collected, table["VISIT"]) if len(table) \
        else pd.Series(pd.NA, index=collected.index, dtype="string")
    written = False
    for index, spec in enumerate(ctx.study.visits):
        if not isinstance(spec.visit, VisitExpr):
            continue
        rows = rule == index
        if rows.any():
            if not written:     # a fresh array: the remembered factorisation stays true
                result, written = result.copy(), True
            result.loc[rows] = _rule_expression(ctx, frame, rows, spec.visit.expr
                                                ).astype("string")
    unknown = not_null(collected) & (rule < 0)
    ctx.report(frame, unknown, rule="CMAP-MAP0002", severity=Severity.WARNING,
               message="visit name matches no visit rule in study.yaml; left null",
               values=collected)
    return result


def visitnum(ctx: MapContext, frame: BlockFrame, args: VisitArgs) -> pd.Series:
    """VISITNUM from the study's visit rules: a number, a template of the visit name's groups,
    or an expression on the record's raw fields (FolderSeq + InstanceRepeatNumber / 100).

    Unscheduled visits whose rule gives no visitnum are left null here and numbered by the
    engine from the subject's calendar across all domains (:func:`number_unscheduled`), so the
    same unscheduled visit gets the same number in TR, TU and RS; the records are registered
    in ``ctx.visit_calendar`` wherever this runs, also inside a ``when`` branch."""
    collected, table, rule = _visit_rules(ctx, frame, args)
    if not len(table):
        return pd.Series(np.nan, index=collected.index, dtype="float64")
    result = _by_name(collected, table,
                      np.append(table["VISITNUM"].astype("float64").to_numpy(), np.nan))
    calendar = pd.Series(False, index=collected.index)
    scheduled = rule >= 0
    for index, spec in enumerate(ctx.study.visits):
        rows = rule == index
        if not rows.any():
            continue
        if spec.unscheduled:
            scheduled &= ~rows
        if isinstance(spec.visitnum, VisitExpr):
            values = _rule_expression(ctx, frame, rows, spec.visitnum.expr)
            if values.dtype.kind not in "fiu":     # raw text read as numbers
                text = _text(values)
                values = _to_number(text)
                sub = frame.subset(rows)
                ctx.report(sub, text.notna() & values.isna(), rule="CMAP-NUM0001",
                           severity=Severity.WARNING,
                           message=f"visitnum {spec.visitnum.expr!r} gives text that is not a "
                                   "number; left null", values=text)
            result.loc[rows] = values.astype("float64")
        elif spec.unscheduled and spec.visitnum is None:
            calendar |= rows
    if calendar.any() and args.date is None:
        raise SpecError("visitnum needs 'date' to number unscheduled visits",
                        ctx.where.rsplit(":", 1)[0], _line(ctx.where), "visitnum.date")
    # ``result.mask(calendar, np.nan)`` on the arrays (a float column: the same values)
    numbers = result.to_numpy(dtype="float64", copy=True)
    numbers[calendar.to_numpy(dtype=bool)] = np.nan
    result = pd.Series(numbers, index=result.index, name=result.name)
    if ctx.block_key is not None and args.date is not None and \
            frame.has_variable("USUBJID") and len(frame.variable("USUBJID")):
        ctx.visit_calendar.append(VisitCalendarEntry(
            block=ctx.block_key, variable=ctx.variable, usubjid=frame.variable("USUBJID"),
            date=complete_date(var_column(ctx, frame, args.date)), visitnum=result,
            anchor=scheduled, calendar=calendar))
    return result


def number_unscheduled(scheduled: pd.DataFrame, unscheduled: pd.DataFrame) -> pd.DataFrame:
    """Unscheduled visit numbers: the subject's last scheduled VISITNUM on or before the date,
    plus 0.01 for the first distinct unscheduled date after it, 0.02 for the next, ...

    ``scheduled`` has USUBJID, DATE (datetime64), VISITNUM; ``unscheduled`` has USUBJID, DATE.
    Returns the distinct (USUBJID, DATE) of ``unscheduled`` with their VISITNUM.
    """
    uns = unscheduled.dropna(subset=["USUBJID", "DATE"]).drop_duplicates(["USUBJID", "DATE"])
    if uns.empty:
        return uns.assign(VISITNUM=pd.Series(dtype="float64"))
    sched = _scheduled_by_date(scheduled)
    uns = uns.sort_values("DATE", kind="mergesort")
    merged = pd.merge_asof(uns, sched, on="DATE", by="USUBJID", direction="backward")
    merged["VISITNUM"] = merged["VISITNUM"].fillna(0.0)
    rank = merged.groupby(["USUBJID", "VISITNUM"])["DATE"].rank(method="dense")
    merged["VISITNUM"] = (merged["VISITNUM"] + 0.01 * rank).round(2)
    return merged[["USUBJID", "DATE", "VISITNUM"]]


def _scheduled_by_date(scheduled: pd.DataFrame) -> pd.DataFrame:
    """The greatest scheduled VISITNUM of each (USUBJID, DATE), rows without one of the three
    dropped, sorted by DATE then USUBJID: ``groupby([USUBJID, DATE]).max()`` then a stable
    sort by DATE. Subjects as numbers (the engine's calendar gives float ids) are grouped by
    one ``np.lexsort`` and ``np.maximum.reduceat`` instead of a two-key groupby of every
    scheduled record of the study."""
    u, d, v = (scheduled[c].to_numpy() for c in ("USUBJID", "DATE", "VISITNUM"))
    if u.dtype.kind != "f" or d.dtype != np.dtype("datetime64[ns]") or v.dtype.kind != "f":
        sched = scheduled.dropna(subset=["USUBJID", "DATE", "VISITNUM"])
        sched = sched.groupby(["USUBJID", "DATE"], as_index=False)["VISITNUM"].max()
        return sched.sort_values("DATE", kind="mergesort")
    keep = ~(np.isnan(u) | np.isnat(d) | np.isnan(v))
    u, d, v = u[keep], d[keep], v[keep]
    order = np.lexsort((u, d.view("int64")))          # DATE first, then USUBJID
    u, d, v = u[order], d[order], v[order]
    start = np.ones(len(u), dtype=bool)
    start[1:] = (u[1:] != u[:-1]) | (d[1:] != d[:-1])
    first = np.flatnonzero(start)
    return pd.DataFrame({"USUBJID": u[first], "DATE": d[first],
                         "VISITNUM": np.maximum.reduceat(v, first) if len(first) else v[:0]})


def empty(ctx: MapContext, frame: BlockFrame, kind: str) -> pd.Series:
    """An Expected variable the study does not collect: present, all null (SDTMIG 3.4 §4.1.x
    core designations: Expected variables are included even when empty)."""
    if kind == "num":
        return pd.Series(np.nan, index=frame.raw.index, dtype="float64")
    return null_text(frame.raw.index)


def lobxfl(ctx: MapContext, frame: BlockFrame, args: LobxflArgs) -> pd.Series:
    """--LOBXFL = "Y" on the last record with a result on or before the first exposure
    (DM.RFXSTDTC), per ``by`` group (SDTMIG 3.4 --LOBXFL; replaces --BLFL)."""
    date = complete_date(var_column(ctx, frame, args.dtc))
    first_dose = _subject_dates(ctx, frame, "RFXSTDTC")
    has_result = not_null(var_column(ctx, frame, args.result))
    eligible = (date <= first_dose).fillna(False).astype(bool) & has_result
    flags = np.full(len(frame.index), -1, dtype=np.intp)      # "Y" on the last records
    last = _last_by(frame, args.by, date, eligible.to_numpy(dtype=bool))
    if last is None:
        table = pd.DataFrame({k: var_column(ctx, frame, k) for k in args.by})
        table["_D"] = date
        table["_POS"] = np.arange(len(table))
        cand = table[eligible.to_numpy()].sort_values([*args.by, "_D", "_POS"],
                                                      kind="mergesort")
        last = frame.index.get_indexer(
            cand.groupby(args.by, dropna=False, sort=False).tail(1).index)
    flags[last] = 0
    return text_from_codes(flags, np.array(["Y"], dtype=object), frame.index)


def _last_by(frame: BlockFrame, by: list[str], date: pd.Series, eligible: np.ndarray
             ) -> np.ndarray | None:
    """Positions of the last eligible record (latest date, then last in the block) of each
    ``by`` group, as sorting by (by, date, position) and taking each group's tail gives them:
    one ``np.lexsort`` on the keys' ranks (text: rank of its distinct value, missing its own
    group; numbers: rank with NaN equal to itself). None when a key is neither (or the dates
    or the index do not allow it): the caller sorts the frame."""
    if not by or not frame.index.is_unique or date.dtype.kind != "M":
        return None
    ranks = []
    for key in by:
        values = frame.variable(key)
        rank = _sort_key(values)
        if isinstance(rank, pd.Series):
            data = values.to_numpy()
            if data.dtype.kind not in "biuf":
                return None
            rank = np.unique(data, return_inverse=True, equal_nan=True)[1].reshape(-1) \
                if data.dtype.kind == "f" else data
        ranks.append(np.asarray(rank)[eligible])
    day = date.to_numpy(dtype="datetime64[ns]")[eligible]
    if np.isnat(day).any():         # eligible records have a date (compared with one)
        return None
    positions = np.flatnonzero(eligible)
    order = np.lexsort([positions, day.view("int64"), *reversed(ranks)])
    if not len(order):
        return positions
    end = np.zeros(len(order), dtype=bool)
    end[-1] = True
    for rank in ranks:
        r = rank[order]
        end[:-1] |= r[1:] != r[:-1]
    return positions[order[end]]


def expr(ctx: MapContext, frame: BlockFrame, text: str) -> pd.Series:
    """A vectorised expression (arithmetic, text and date functions) on raw columns and
    ``var(NAME)`` variables: :mod:`cdiscmap.sdtm.expressions`. Values that do not fit are left
    null with one finding per distinct value (CMAP-EXPR0001 to CMAP-EXPR0004)."""
    parsed = parse_expression(text)
    for name in sorted(parsed.columns):
        raw_column(ctx, frame, name)        # a missing column names the file and spec line
    for name in sorted(parsed.variables):
        var_column(ctx, frame, name)

    def report(mask: pd.Series, rule: str, message: str, values: pd.Series) -> None:
        ctx.report(frame, mask, rule=rule, severity=Severity.WARNING, message=message,
                   values=values)

    return evaluate_expression(parsed, frame.raw, frame.out, report=report, where=ctx.where)


ALGORITHM_FUNCTIONS: dict[str, Callable[[MapContext, BlockFrame, Any], pd.Series]] = {
    "take": take, "constant": constant, "assign_ct": assign_ct, "iso8601": iso8601,
    "concat": concat, "when": when, "number": number, "copy": copy, "from_domain": from_domain,
    "study_day": study_day, "epoch": epoch, "seq": seq, "visit": visit, "visitnum": visitnum,
    "empty": empty, "lobxfl": lobxfl, "expr": expr, "data_cutoff": data_cutoff,
}

BASE_STAGE = {"from_domain": SUBJECT, "study_day": REFERENCE, "epoch": REFERENCE, "seq": DOMAIN,
              "lobxfl": DOMAIN}


def run_algorithm(ctx: MapContext, frame: BlockFrame, spec: VariableSpec) -> pd.Series:
    """Run the one algorithm a variable names, then its modifiers (case)."""
    fn = ALGORITHM_FUNCTIONS[spec.algorithm]
    result = fn(ctx, frame, spec.args())
    if spec.case != "keep" and result.dtype.kind not in "fiu":
        if not (isinstance(result.dtype, pd.StringDtype) and result.dtype.storage == "python"):
            result = result.astype("string")
        upper = spec.case == "upper"      # each distinct value once
        result = map_unique(result, lambda u: u.str.upper() if upper else u.str.lower())
    return result


def referenced_variables(spec: VariableSpec) -> set[str]:
    """Variables (not raw columns) an algorithm reads: used to order evaluation."""
    refs: set[str] = set()

    def cond(c: Condition | None) -> None:
        if c is None:
            return
        if c.var:
            refs.add(c.var)
        for sub in (c.all or []) + (c.any or []):
            cond(sub)
        cond(c.not_)

    args = spec.args()
    name = spec.algorithm
    if name == "copy":
        refs.add(args)
    elif name == "concat":
        refs.update(p.var for p in args.parts if p.var)
    elif name in ("assign_ct", "number") and args.var:
        refs.add(args.var)
    elif name in ("study_day", "epoch"):
        refs.update({args.dtc, "USUBJID"})
    elif name == "seq":
        refs.update(args.by + args.order)
    elif name == "lobxfl":
        refs.update({*args.by, args.dtc, args.result, "USUBJID"})
    elif name in ("visit", "visitnum") and args.date:
        refs.update({args.date, "USUBJID"})
    elif name == "from_domain":
        refs.add("USUBJID")
    elif name == "expr":
        refs.update(expression_variables(args))
    elif name == "when":
        for b in args:
            cond(b.if_)
            for sub in (b.then, b.else_):
                if sub is not None:
                    refs.update(referenced_variables(sub))
    return refs


def base_stage(spec: VariableSpec) -> int:
    stage = BASE_STAGE.get(spec.algorithm, ROW)
    if spec.algorithm == "when":
        for b in spec.when or []:
            for sub in (b.then, b.else_):
                if sub is not None:
                    stage = max(stage, base_stage(sub))
    return stage
