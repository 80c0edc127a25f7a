"""Executes a study's mapping specs: raw forms → SDTM frames, with record accounting.

Order of work (so that DM reference dates and --DY/EPOCH/--SEQ have what they need):
1. every block of every domain builds its source (filters, joins, transpose, fill) and derives
   its row-level variables;
2. subject-level aggregates (``from_domain``: DM.RFXSTDTC from EX, ...) are derived;
3. DM becomes the table of subject reference dates;
4. ``study_day`` and ``epoch`` are derived;
5. blocks are stacked per domain, then whole-domain algorithms (``seq``) run, then SUPP--.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cdiscmap.errors import InputDataError, SpecError
from cdiscmap.findings import Finding, Findings, Severity
from cdiscmap.forked import ForkedPeer, PeerChannel
from cdiscmap.ingest import RawForm, read_form
from cdiscmap.ingest.forms import UNMAPPED_REASON, apply_form_rules, refused_references
from cdiscmap.ingest.prefetch import ReadAhead
from cdiscmap.progress import SILENT, Progress
from cdiscmap.sdtm import vocabulary as vocab
from cdiscmap.sdtm.accounting import Accounting
from cdiscmap.sdtm.text import enforce_ascii, no_overflow, plain_text, split_long_text
from cdiscmap.sdtm.vectorize import (
    carry,
    carry_concat,
    carry_rows,
    carry_take,
    clean_text_array,
    coded,
    codes_cache,
    columns_frame,
    combined_key,
    constant_text,
    filled_objects,
    memo_scope,
    null_text,
    pack_frame,
    pack_series,
    unpack_frame,
    unpack_series,
)
from cdiscmap.spec.loader import LoadedStudy
from cdiscmap.spec.models import BlockSpec, DomainSpec, SourceSpec, VariableSpec

LINEAGE = ["_SRCFILE", "_SRCROW"]


@dataclass
class PlannedVariable:
    name: str
    spec: VariableSpec
    stage: int
    where: str          # "file:line"
    hidden: bool = False


@dataclass
class BlockRun:
    domain: str
    spec: BlockSpec
    frame: vocab.BlockFrame
    plan: list[PlannedVariable]


@dataclass
class SdtmResult:
    """The mapped SDTM: main domains and SUPP-- datasets, accounting and findings."""

    domains: dict[str, pd.DataFrame]
    supp: dict[str, pd.DataFrame]
    accounting: Accounting
    findings: Findings
    origins: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)


# --------------------------------------------------------------------------- planning

# Block plans made in a map_study run, by (study, domain spec, block): the run asks for the
# same plan from the cross-domain check, the row stage and the finishing step (≈ 60 plans of
# ≈ 1 ms each, the spec walked again every time); the specs do not change within a run.
_PLANS: ContextVar[dict[tuple[int, int, int], tuple[LoadedStudy, DomainSpec,
                                                   list[PlannedVariable]]] | None] = \
    ContextVar("cdiscmap_plans", default=None)


def plan_block(loaded: LoadedStudy, domain: DomainSpec, index: int) -> list[PlannedVariable]:
    """Order a block's variables by stage, then by dependency, then as written (made once
    per run inside :func:`map_study`; callers only read the list)."""
    memo = _PLANS.get()
    if memo is None:
        return _plan_block(loaded, domain, index)
    key = (id(loaded), id(domain), index)
    hit = memo.get(key)
    if hit is not None and hit[0] is loaded and hit[1] is domain:
        return hit[2]
    plan = _plan_block(loaded, domain, index)
    memo[key] = (loaded, domain, plan)     # the objects kept: their ids are not reused
    return plan


def _plan_block(loaded: LoadedStudy, domain: DomainSpec, index: int) -> list[PlannedVariable]:
    file = loaded.domain_files[domain.domain]
    located = loaded.domain_yaml[domain.domain]
    block = domain.blocks[index]
    entries: dict[str, tuple[VariableSpec, str, bool]] = {}
    for name, spec in domain.variables.items():
        entries[name] = (spec, f"{file}:{located.line_of(('variables', name))}", False)
    for name, spec in block.variables.items():
        entries[name] = (spec, f"{file}:{located.line_of(('blocks', index, 'variables', name))}",
                         False)
    for qnam, supp in domain.supp.items():
        value = supp.value_for(block.name)
        if value is None:
            continue
        path = ("supp", qnam, "values", block.name) if supp.values else ("supp", qnam, "value")
        entries[f"_SUPP_{qnam}"] = (value, f"{file}:{located.line_of(path)}", True)
    written = list(entries)
    domain_vars = {v for b in domain.blocks for v in b.variables}
    stages: dict[str, int] = {}

    def stage_of(name: str, trail: tuple[str, ...] = ()) -> int:
        if name in stages:
            return stages[name]
        spec, where, _ = entries[name]
        if name in trail:
            raise SpecError(f"variables depend on each other in a cycle: "
                            f"{' → '.join((*trail, name))}", where.rsplit(":", 1)[0],
                            _line(where), name)
        stage = vocab.base_stage(spec)
        for ref in sorted(vocab.referenced_variables(spec)):
            if ref not in entries and stage == vocab.DOMAIN and ref in domain_vars:
                continue    # whole-domain algorithms see the stacked blocks (null elsewhere)
            if ref not in entries:
                raise SpecError(f"{domain.domain}.{name} uses variable {ref}, which this block "
                                f"does not derive", where.rsplit(":", 1)[0], _line(where), name)
            stage = max(stage, stage_of(ref, (*trail, name)))
        stages[name] = stage
        return stage

    for name in written:
        stage_of(name)
    if index in range(len(domain.blocks)):
        for name in block.variables:
            if stages[name] == vocab.DOMAIN:
                spec, where, _ = entries[name]
                raise SpecError(f"{name}: whole-domain algorithms (seq) belong in the domain's "
                                f"shared 'variables', not in a block", where.rsplit(":", 1)[0],
                                _line(where), name)
    ordered: list[PlannedVariable] = []
    for stage in sorted(set(stages.values())):
        pending = [n for n in written if stages[n] == stage]
        # each time, the first variable (as written) none of whose references in its stage
        # is still pending; the references are found once per variable, not at every pick
        # (that was ≈ 40 % of planning a block)
        left = set(pending)
        refs = {n: vocab.referenced_variables(entries[n][0]) & left for n in pending}
        while pending:
            for n in pending:
                if refs[n].isdisjoint(left):
                    spec, where, hidden = entries[n]
                    ordered.append(PlannedVariable(n, spec, stage, where, hidden))
                    left.discard(n)
                    pending.remove(n)
                    break
    return ordered


def _line(where: str) -> int | None:
    tail = where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _from_domain_args(spec: VariableSpec) -> list:
    """Every ``from_domain`` a variable uses, also inside ``when`` branches."""
    found = [spec.from_domain] if spec.from_domain is not None else []
    for branch in spec.when or []:
        for sub in (branch.then, branch.else_):
            if sub is not None:
                found += _from_domain_args(sub)
    return found


def _condition_names(cond) -> set[str]:
    if cond is None:
        return set()
    names = {n for n in (cond.var, cond.column) if n}
    for sub in (cond.all or []) + (cond.any or []) + ([cond.not_] if cond.not_ else []):
        names |= _condition_names(sub)
    return names


def check_cross_domain(loaded: LoadedStudy) -> None:
    """Refuse ``from_domain`` reads the engine cannot serve, naming the real cause.

    Subject aggregates run after every domain's row stage and read the other domains as they
    stand then (module docstring), so they can read only variables derived from raw rows. A
    read of a subject-stage or later variable is either a cycle (DM.RFXSTDTC ← EX.EXSTDTC ←
    DM...) or an ordering the engine does not have; both are named with the chain of spec
    lines, instead of a later "EX has no variable EXSTDTC".
    """
    mapped = [d for d in loaded.study.domains if d in loaded.domains]
    derived: dict[tuple[str, str], PlannedVariable] = {}
    late: dict[tuple[str, str], tuple[PlannedVariable, list[PlannedVariable]]] = {}
    plans = {d: [plan_block(loaded, loaded.domains[d], i)
                 for i in range(len(loaded.domains[d].blocks))] for d in mapped}
    for d, block_plans in plans.items():
        for plan in block_plans:
            for pv in plan:
                derived.setdefault((d, pv.name), pv)
                if pv.stage >= vocab.SUBJECT:
                    late.setdefault((d, pv.name), (pv, plan))

    def chain(node: tuple[str, str], trail: list[tuple[str, str]]) -> tuple[list[str], bool]:
        pv, plan = late[node]
        step = f"{node[0]}.{node[1]} ({pv.where})"
        for fd in _from_domain_args(pv.spec):
            nxt = (fd.domain, fd.variable)
            if nxt in trail:
                return [step, f"{nxt[0]}.{nxt[1]}"], True
            if nxt in late:
                rest, cycle = chain(nxt, [*trail, nxt])
                return [step, *rest], cycle
        if pv.spec.algorithm in ("study_day", "epoch") or vocab.base_stage(pv.spec) == \
                vocab.REFERENCE:
            return [step + f" [{pv.spec.algorithm} needs DM reference dates]"], \
                any(d == "DM" for d, _ in trail)
        if vocab.base_stage(pv.spec) >= vocab.SUBJECT:
            return [step + f" [{pv.spec.algorithm}]"], False
        for ref in sorted(vocab.referenced_variables(pv.spec)):
            nxt = (node[0], ref)
            if any(p.name == ref and p.stage >= vocab.SUBJECT for p in plan) and nxt in late:
                if nxt in trail:
                    return [step, f"{nxt[0]}.{nxt[1]}"], True
                rest, cycle = chain(nxt, [*trail, nxt])
                return [step, *rest], cycle
        return [step], False

    for d, block_plans in plans.items():
        for plan in block_plans:
            for pv in plan:
                for fd in _from_domain_args(pv.spec):
                    file, line = pv.where.rsplit(":", 1)[0], _line(pv.where)
                    who = f"{d}.{pv.name.removeprefix('_SUPP_')}"
                    if fd.domain not in plans:
                        raise SpecError(f"{who} reads domain {fd.domain} (from_domain), which "
                                        f"is not mapped (study.yaml domains)", file, line,
                                        "from_domain.domain")
                    needed = {fd.variable, "USUBJID", *fd.order} | _condition_names(fd.where)
                    for var in sorted(needed):
                        if (fd.domain, var) not in derived:
                            raise SpecError(f"{who} reads {fd.domain}.{var} (from_domain), "
                                            f"which sdtm/{fd.domain.lower()}.yaml does not "
                                            f"derive", file, line, "from_domain")
                    for var in [fd.variable, *sorted(needed - {fd.variable})]:
                        node = (fd.domain, var)
                        if node not in late:
                            continue
                        steps, cycle = chain(node, [(d, pv.name), node])
                        path = " ← ".join([f"{who} ({pv.where})", *steps])
                        if cycle:
                            raise SpecError(f"cross-domain derivation cycle: {path}; "
                                            f"from_domain reads only variables derived from "
                                            f"raw rows", file, line, "from_domain")
                        raise SpecError(f"{who} reads {fd.domain}.{var}, which is derived only "
                                        f"after the subject stage: {path}; from_domain reads "
                                        f"only variables derived from raw rows", file, line,
                                        "from_domain")
    _check_reference_dates(loaded, plans, derived)


def _algorithms(spec: VariableSpec) -> set[str]:
    found = {spec.algorithm}
    for branch in spec.when or []:
        for sub in (branch.then, branch.else_):
            if sub is not None:
                found |= _algorithms(sub)
    return found


def _check_reference_dates(loaded: LoadedStudy, plans: dict[str, list[list[PlannedVariable]]],
                           derived: dict[tuple[str, str], PlannedVariable]) -> None:
    """study_day and epoch read DM's reference dates (RFSTDTC; the epochs' start/end), so DM
    must derive them; checked here so check-spec finds it without data."""
    epoch_vars = {v for rule in loaded.study.epochs for v in (rule.start, rule.end) if v}
    for d, block_plans in plans.items():
        for plan in block_plans:
            for pv in plan:
                algorithms = _algorithms(pv.spec)
                needs = ({"RFSTDTC"} if "study_day" in algorithms else set()) | \
                    (epoch_vars if "epoch" in algorithms else set())
                for var in sorted(needs):
                    if ("DM", var) not in derived:
                        raise SpecError(f"{d}.{pv.name.removeprefix('_SUPP_')} needs DM.{var} "
                                        f"(reference dates), which "
                                        f"{'DM does not derive' if 'DM' in plans else 'is not mapped'}",
                                        pv.where.rsplit(":", 1)[0], _line(pv.where), pv.name)


# --------------------------------------------------------------------------- sources

class FormStore:
    """Reads each raw form once and keeps the accounting of its rows."""

    def __init__(self, loaded: LoadedStudy, raw_dir: Path, accounting: Accounting,
                 findings: Findings) -> None:
        self.loaded = loaded
        self.raw_dir = raw_dir
        self.accounting = accounting
        self.findings = findings
        self.forms: dict[str, RawForm] = {}
        self.refused: dict[str, dict[str, str]] = {}   # form → imputed column → date
        self.ahead = ReadAhead()       # never started: each form read when asked
        self.read_elsewhere: set[str] = set()   # forms a forked child read (its domains')

    def release_rows(self) -> None:
        """Let the forms' rows go once no block reads them again (which forms were read, and
        their accounting, stay)."""
        self.forms = {name: dataclasses.replace(form, frame=form.frame.iloc[:0].copy())
                      for name, form in self.forms.items()}

    def reader(self, name: str) -> Callable[[], RawForm]:
        """A function reading the study.yaml form ``name`` (known to exist) as read_form."""
        spec = self.loaded.study.forms[name]
        return lambda: read_form(name, self.raw_dir / spec.file, root=self.raw_dir,
                                 **spec.reader_options())

    def get(self, name: str, where: str) -> RawForm:
        """The form as blocks see it: read once, then its form-level rules applied once
        (columns dropped/renamed, rows filtered with counted reasons, imputed dates refused),
        then its keys checked on the rows that remain (ingest/forms.py)."""
        if name not in self.forms:
            spec = self.loaded.study.forms.get(name)
            if spec is None:
                raise SpecError(f"unknown form '{name}' (study.yaml forms: "
                                f"{', '.join(sorted(self.loaded.study.forms))})",
                                where.rsplit(":", 1)[0], _line(where), "form")
            form = self.ahead.read(name, self.reader(name))
            self.accounting.register_form(name, form.file, form.n_rows)
            if form.dropped is not None:    # rows the reader took out (ODM audit removals)
                for reason, rows in form.dropped.groupby("reason", sort=True)["_SRCROW"]:
                    self.accounting.drop(name, rows, str(reason), "read")
            ruled = apply_form_rules(form, spec, self.loaded.study, self.findings,
                                     self.loaded.form_origins.get(name, {}))
            for rows, reason in ruled.drops:
                self.accounting.drop(name, rows, reason, "form")
            form = ruled.form
            self.refused[name] = ruled.refused
            missing = [k for k in dict.fromkeys([*spec.keys, spec.subject_column])
                       if k not in form.frame.columns]
            if missing:
                origin = self.loaded.form_origins.get(name, {})
                told = sorted({origin.get(k, self.loaded.study_file) for k in ("keys",
                               "subject_column") if k in origin})
                raise InputDataError(f"{form.file}: column(s) {missing} declared for form "
                                     f"'{name}' ({', '.join(told) or self.loaded.study_file})"
                                     " are missing")
            self.forms[name] = form
            self._check_keys(form, spec.keys, spec.subject_column)
        return self.forms[name]

    def check_refused(self, domain: str, block_index: int) -> None:
        """A block (or the domain's shared variables and SUPP--) naming an imputed date column
        its form refuses (``date_families`` ``imputed: refuse``) is a spec error at its line."""
        spec = self.loaded.domains[domain]
        block = spec.blocks[block_index]
        refused = dict(self.refused.get(block.source.form, {}))
        for join in block.source.joins:
            refused.update(self.refused.get(join.form, {}))
        if not refused:
            return
        dy = self.loaded.domain_yaml[domain]
        data = dy.data if isinstance(dy.data, dict) else {}
        places = refused_references(data.get("blocks", [])[block_index], refused,
                                    ("blocks", block_index))
        for key in ("variables", "supp"):
            places += refused_references(data.get(key), refused, (key,))
        if places:
            path, column = places[0]
            raise SpecError(f"{column} is the EDC's imputed date of {refused[column]}, refused "
                            f"for form {block.source.form} (date_families imputed: refuse); "
                            f"SDTM takes collected dates: map {refused[column]} or its parts, "
                            "or set date_families imputed: allow on the form", dy.file,
                            dy.line_of(path), column)

    def _check_keys(self, form: RawForm, keys: list[str], subject_column: str) -> None:
        if not keys:
            return
        dup = _duplicated(form.frame, keys)
        if dup.any():
            rows = form.frame[dup]
            sizes = rows.groupby(keys, dropna=False, sort=True).size().rename("_N")
            first = rows.groupby(keys, dropna=False, sort=True).head(1).merge(
                sizes.reset_index(), on=keys, how="left")
            for _, r in first.iterrows():   # one per duplicated key, not per row
                n = int(r["_N"])
                subject = r.get(subject_column)
                self.findings.add(Finding(
                    rule="CMAP-RAW0002", severity=Severity.ERROR,
                    message=f"duplicate raw key {keys} in {form.file}",
                    dataset=form.name, usubjid="" if pd.isna(subject) else str(subject),
                    variable="+".join(keys),
                    value="/".join(str(r[k]) for k in keys),
                    source=f"{form.file} row {r['_SRCROW']}", count=n))


def _duplicated(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """``frame.duplicated(keys, keep=False)`` on the key columns' codes (remembered for read
    text: vectorize.codes_cache), combined per row as integers: no text hashed again."""
    columns = [frame[k] for k in keys]
    if not all(isinstance(c.dtype, pd.StringDtype) and c.dtype.storage == "python"
               for c in columns):
        return frame.duplicated(keys, keep=False)
    # null is a value of its own, as duplicated has it
    key, _ = combined_key([(codes, len(uniques))
                           for codes, uniques in map(coded, columns)])
    # a key is duplicated when its value (0..span-1) occurs more than once: counted, not hashed
    return pd.Series(np.bincount(key)[key] > 1 if len(key) else np.zeros(0, dtype=bool),
                     index=frame.index)


def build_source(ctx: vocab.MapContext, store: FormStore, domain: str, block: BlockSpec,
                 where: str) -> vocab.BlockFrame:
    """The block's records before variables: filtered, joined, transposed, filled."""
    src: SourceSpec = block.source
    form = store.get(src.form, where)
    acc = store.accounting
    # a shallow copy: the form's arrays are shared by its blocks, read and never written (a
    # variable is a copy pandas makes on ``out[name] = ...``; every step below makes new
    # frames), so each keeps its remembered factorisation
    df = form.frame.copy(deep=False)
    tag = f"{domain}/{block.name}"
    frame = vocab.BlockFrame(raw=df, out=pd.DataFrame(index=df.index), form=form.name,
                             file=form.file, clean=True)

    for flt in src.filters:
        mask = vocab.evaluate_condition(ctx, frame, flt.drop_if)
        if not mask.any():
            continue    # nothing dropped: the rows as they are, no copy of every column
        acc.drop(form.name, df.loc[mask, "_SRCROW"], flt.reason, tag)
        df = _keep_rows(df, ~mask)
        frame = vocab.BlockFrame(raw=df, out=pd.DataFrame(index=df.index), form=form.name,
                                 file=form.file, clean=True)

    for join in src.joins:
        df = _join(ctx, store, frame, join, tag, where)
        frame = vocab.BlockFrame(raw=df, out=pd.DataFrame(index=df.index), form=form.name,
                                 file=form.file, clean=True)

    if src.transpose is not None:
        df = _transpose(ctx, frame, src.transpose, acc, tag)
        frame = vocab.BlockFrame(raw=df, out=pd.DataFrame(index=df.index), form=form.name,
                                 file=form.file, clean=True)

    if src.fill is not None:
        df = df.copy()
        for col in src.fill.columns:
            vocab.raw_column(ctx, frame, col)
        grouped = df.groupby(src.fill.by, dropna=False, sort=False)[src.fill.columns]
        df[src.fill.columns] = grouped.ffill().combine_first(grouped.bfill())
        frame = vocab.BlockFrame(raw=df, out=pd.DataFrame(index=df.index), form=form.name,
                                 file=form.file, clean=True)

    for flt in src.post_filters:
        mask = vocab.evaluate_condition(ctx, frame, flt.drop_if)
        if not mask.any():
            continue
        dropped_rows = df.loc[mask, "_SRCROW"]
        kept_rows = set(df.loc[~mask, "_SRCROW"].tolist())
        acc.drop(form.name, dropped_rows[~dropped_rows.isin(kept_rows)].drop_duplicates(),
                 flt.reason, tag)
        df = _keep_rows(df, ~mask)
        frame = vocab.BlockFrame(raw=df, out=pd.DataFrame(index=df.index), form=form.name,
                                 file=form.file, clean=True)

    df = _renumbered(df)
    acc.use(form.name, df["_SRCROW"], tag)
    return vocab.BlockFrame(raw=df, out=_lineage(df), form=form.name, file=form.file,
                            clean=True)


def _lineage(df: pd.DataFrame) -> pd.DataFrame:
    """``df[LINEAGE].copy()`` with :func:`_file_as_text` applied, built as one frame when
    the file name is one text on every row (read_form's): a copy of the two columns then
    a column replaced cost ≈ 0.3 ms a block."""
    files = df["_SRCFILE"].to_numpy() if not df.columns.has_duplicates else None
    if files is None or not len(files) or files.dtype != object or \
            not isinstance(files[0], str) or not (files == files[0]).all():
        out = df[LINEAGE].copy()
        _file_as_text(out)
        return out
    return pd.DataFrame({"_SRCFILE": constant_text(files[0], df.index).array,
                         "_SRCROW": df["_SRCROW"].copy()}, index=df.index, copy=False)


def _file_as_text(out: pd.DataFrame) -> None:
    """``_SRCFILE`` of a block (read_form's file name on every row, an object column) as the
    ``string`` column the finished domain has after blank → null, with its one-value
    factorisation known: stacking and blank → null then never hash the name row by row."""
    files = out["_SRCFILE"].to_numpy()
    if not len(files) or files.dtype != object or not isinstance(files[0], str) or \
            not (files == files[0]).all():
        return
    _set(out, "_SRCFILE", constant_text(files[0], out.index))


def _renumbered(df: pd.DataFrame) -> pd.DataFrame:
    """``df.reset_index(drop=True)`` without copying the columns: a shallow copy numbered
    0..n-1, its arrays (and so their remembered factorisations) the same."""
    out = df.copy(deep=False)
    out.index = pd.RangeIndex(len(out))
    return out


def _keep_rows(df: pd.DataFrame, keep: pd.Series) -> pd.DataFrame:
    """``df.loc[keep]``; its text columns keep their factorisations (taken, on demand)."""
    return vocab.take_rows(df, keep.to_numpy(dtype=bool), carry=True)


def _join(ctx: vocab.MapContext, store: FormStore, frame: vocab.BlockFrame, join, tag: str,
          where: str) -> pd.DataFrame:
    other = store.get(join.form, where)
    on = [join.on] if isinstance(join.on, str) else list(join.on)
    lookup = other.frame
    lookup_frame = vocab.BlockFrame(raw=lookup, out=lookup, form=other.name, file=other.file,
                                    clean=True)
    if join.where is not None:
        lookup = lookup[vocab.evaluate_condition(ctx, lookup_frame, join.where)]
    for col in [*on, *join.columns]:
        if col not in lookup.columns:
            raise InputDataError(f"{where}: join of {other.file}: column '{col}' not in "
                                 f"{other.file}")
    for col in on:
        vocab.raw_column(ctx, frame, col)
    dup = lookup.duplicated(on, keep="first")
    if dup.any():
        # a lookup must be many-to-one: never pick a row silently
        first = lookup[dup].iloc[0]
        store.findings.add(Finding(
            rule="CMAP-RAW0003", severity=Severity.WARNING,
            message=f"{other.file} has several rows per {on} used by a join; the first is used",
            dataset=ctx.domain, usubjid=str(first.get(store.loaded.study.forms[join.form]
                                                      .subject_column, "")),
            variable="+".join(on),
            value="/".join(str(first[k]) for k in on),
            source=f"{other.file} row {first['_SRCROW']} (spec {where})", count=int(dup.sum())))
    lookup = lookup[~dup]
    right = lookup[[*on, *join.columns, "_SRCROW"]].rename(
        columns={c: f"{join.prefix}{c}" for c in join.columns} | {"_SRCROW": "_JOINROW"})
    clash = [c for c in right.columns if c in frame.raw.columns and c not in on]
    if clash:
        raise SpecError(f"join of '{join.form}' would overwrite columns {clash}; set a prefix",
                        where.rsplit(":", 1)[0], _line(where), "joins")
    merged = frame.raw.merge(right, on=on, how="left", sort=False, validate="many_to_one")
    merged.index = frame.raw.index
    matched = merged["_JOINROW"].notna()
    used_rows = merged.loc[matched, "_JOINROW"].astype("int64")
    store.accounting.use(other.name, used_rows, f"{tag} (lookup)")
    # lookup rows nothing matched keep a reason that says so (they stay counted as dropped
    # unless another block uses them)
    unmatched = other.frame["_SRCROW"][~other.frame["_SRCROW"].isin(used_rows)]
    store.accounting.drop(other.name, unmatched,
                          f"no {frame.form} record with the same {', '.join(on)}",
                          f"{tag} (lookup)")
    if join.required:
        store.accounting.drop(frame.form, merged.loc[~matched, "_SRCROW"], join.reason, tag)
        merged = merged.loc[matched]
    return merged.drop(columns="_JOINROW")


def _transpose(ctx: vocab.MapContext, frame: vocab.BlockFrame, spec, acc: Accounting,
               tag: str) -> pd.DataFrame:
    """Wide → long. Raw rows that give no kept record are counted as dropped with a reason."""
    df = frame.raw
    templated: set[str] = set()
    pieces = []
    for pos, key in enumerate(spec.keys):
        part = {}
        for new, template in spec.columns.items():
            col = template.replace("{key}", str(key))
            part[new] = vocab.raw_column(ctx, frame, col)
            templated.add(col)
        pieces.append((pos, key, part))
    base_cols = [c for c in df.columns if c not in templated]
    # The long records are the keys' pieces laid end to end (piece pos holds row i at pos*n+i)
    # then stably sorted by (source row label, key position); each column is taken once in
    # that final order, and text columns take their factorisations along.
    n, k = len(df), len(pieces)
    labels = df.index.to_numpy()
    tpos = np.repeat(np.arange(k, dtype="int64"), n)
    order = np.lexsort((tpos, np.tile(labels, k))) if n and k else np.zeros(0, dtype=np.intp)
    rows = order % n if n else order            # the source row of each long record
    stacked_new: dict[str, pd.Series] = {}
    for new in spec.columns:
        parts = [part[new] for _, _, part in pieces]
        stacked = pd.concat(parts, ignore_index=True) if len(parts) > 1 else \
            parts[0].reset_index(drop=True)
        if len(parts) > 1:
            carry_concat(parts, stacked)
        else:
            carry(parts[0], stacked)
        stacked_new[new] = stacked
    keys = np.array([str(key) for _, key, _ in pieces], dtype=object)[tpos[order]]

    def build(chosen: np.ndarray | None, names: set[str] | None) -> pd.DataFrame:
        """The long records at positions ``chosen`` (None: all), only the columns ``names``
        (None: all): each column taken once from its source, its factorisation along."""
        base = rows if chosen is None else rows[chosen]
        long_order = order if chosen is None else order[chosen]
        # a name written again replaces the column in place, as setting a frame's column does
        data: dict[str, object] = {}
        sources: dict[str, tuple[pd.Series, np.ndarray]] = {}     # column → (source, rows)
        for c in base_cols:
            if names is None or c in names:
                data[c] = _take(df[c], base)
                sources[c] = (df[c], base)
        for new, stacked in stacked_new.items():
            if names is None or new in names:
                data[new] = _take(stacked, long_order)
                sources[new] = (stacked, long_order)
        if names is None or spec.key_column in names:
            data[spec.key_column] = keys if chosen is None else keys[chosen]
            sources.pop(spec.key_column, None)
        long = pd.DataFrame(data, index=pd.RangeIndex(len(base)), copy=False)
        for name, (source, taken_rows) in sources.items():
            carry_take(source, long[name], taken_rows)
        return long

    if spec.keep_if is None:
        return build(None, None)
    # the condition reads only its own columns, so only they are laid out for every long
    # record; the kept records are then laid out once, whole
    every = {*base_cols, *stacked_new, spec.key_column}
    needed = _condition_names(spec.keep_if)
    lf = vocab.BlockFrame(raw=build(None, needed if needed <= every else None),
                          out=pd.DataFrame(index=pd.RangeIndex(n * k)), form=frame.form,
                          file=frame.file, clean=frame.clean)
    keep = vocab.evaluate_condition(ctx, lf, spec.keep_if).to_numpy(dtype=bool)
    all_rows = df["_SRCROW"]
    kept_rows = all_rows.to_numpy()[rows[keep]]
    acc.drop(frame.form, all_rows[~all_rows.isin(kept_rows)], spec.reason, tag)
    return build(np.flatnonzero(keep), None)


def _take(values: pd.Series, rows: np.ndarray) -> object:
    """The column's array at ``rows`` (positions), keeping its dtype."""
    return values.array.take(rows) if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) \
        else values.to_numpy().take(rows)


# --------------------------------------------------------------------------- execution

def _derive(ctx: vocab.MapContext, run: BlockRun, stage: int, loaded: LoadedStudy) -> None:
    ctx.domain = run.domain
    ctx.spec_file = loaded.domain_files[run.domain]
    ctx.block_key = run if stage == vocab.ROW else None   # visitnum registers its records
    for pv in run.plan:
        if pv.stage != stage:
            continue
        ctx.where = pv.where
        ctx.variable = pv.name
        run.frame.set_variable(pv.name, vocab.run_algorithm(ctx, run.frame, pv.spec))
    ctx.block_key = None


def _set(out: pd.DataFrame, name: str, values: pd.Series) -> None:
    """``out[name] = values``; pandas copies the values, the copy keeps their factorisation.

    A text variable without one (an ``expr`` result, a ``from_domain`` lookup) is factorised
    here, once: later conditions on it, the stacking of the blocks and blank → null would
    each hash it otherwise."""
    out[name] = values
    copied = out[name]
    carry(values, copied)
    if isinstance(copied.dtype, pd.StringDtype) and copied.dtype.storage == "python":
        coded(copied)       # remembered (a no-op when carried)


class _Remote:
    """The block of a calendar entry mapped by the forked child (:func:`_map_study_forked`):
    its unscheduled visits are numbered here and the numbers sent to the child."""


def _resolve_unscheduled_visits(ctx: vocab.MapContext
                                ) -> tuple[list[vocab.VisitCalendarEntry],
                                           list[np.ndarray | None]]:
    """Number unscheduled visits from each subject's calendar of scheduled visits across all
    domains (so TR, TU and RS agree), then write the numbers back into every block.

    The records come from ``ctx.visit_calendar``, filled by every ``visitnum`` the row stage
    ran, top-level or inside a ``when`` branch (those rows only). Returns the entries and
    each one's numbers for its calendar rows (None: it has none), for blocks mapped
    elsewhere (:class:`_Remote`)."""
    entries = [e for e in ctx.visit_calendar if isinstance(e.block, (BlockRun, _Remote))]
    ctx.visit_calendar = []
    values = _unscheduled_numbers(entries)
    for e, v in zip(entries, values, strict=True):
        if v is not None and isinstance(e.block, BlockRun):
            _write_numbers(e, v)
    return entries, values


def _write_numbers(e: vocab.VisitCalendarEntry, values: np.ndarray) -> None:
    rows = e.calendar[e.calendar].index
    frame: vocab.BlockFrame = e.block.frame   # type: ignore[attr-defined]
    numbers = frame.variable(e.variable).copy()
    numbers.loc[rows] = values
    frame.set_variable(e.variable, numbers)


def _unscheduled_numbers(entries: list[vocab.VisitCalendarEntry]) -> list[np.ndarray | None]:
    targets = [e for e in entries if e.calendar.any()]
    if not targets:
        return [None] * len(entries)
    subjects = _subject_ids([e.usubjid for e in entries])
    columns = [[subject, e.date, e.visitnum] for e, subject in zip(entries, subjects, strict=True)]
    if _numpy_columns(columns, [[e.anchor, e.calendar] for e in entries]):
        return _unscheduled_numbers_arrays(entries, columns)
    scheduled = [pd.DataFrame({"USUBJID": subject[e.anchor], "DATE": e.date[e.anchor],
                               "VISITNUM": e.visitnum[e.anchor]})
                 for e, subject in zip(entries, subjects, strict=True)]
    unscheduled = [pd.DataFrame({"USUBJID": subject[e.calendar], "DATE": e.date[e.calendar]})
                   for e, subject in zip(entries, subjects, strict=True) if e.calendar.any()]
    numbers = vocab.number_unscheduled(pd.concat(scheduled, ignore_index=True),
                                       pd.concat(unscheduled, ignore_index=True))
    lookup = numbers.set_index(["USUBJID", "DATE"])["VISITNUM"]
    values: list[np.ndarray | None] = []
    for e, subject in zip(entries, subjects, strict=True):
        if not e.calendar.any():
            values.append(None)
            continue
        rows = e.calendar[e.calendar].index
        idx = pd.MultiIndex.from_arrays([subject.loc[rows], e.date.loc[rows]])
        values.append(lookup.reindex(idx).to_numpy())
    return values


def _numpy_columns(columns: list[list[pd.Series]], masks: list[list[pd.Series]]) -> bool:
    """Whether each calendar column (subject ids, dates, numbers) has one numpy dtype in every
    entry and each entry's columns and row masks one index: the rows the masks select are
    then the same taken from the arrays, and their concatenation has the dtypes
    ``pd.concat`` of per-entry frames gives."""
    for k in range(len(columns[0]) if columns else 0):
        dtypes = {c[k].dtype for c in columns}
        if len(dtypes) != 1 or not isinstance(next(iter(dtypes)), np.dtype):
            return False
    return all(s.index.equals(cols[0].index) for cols, ms in zip(columns, masks, strict=True)
               for s in (*cols[1:], *ms))


def _unscheduled_numbers_arrays(entries: list[vocab.VisitCalendarEntry],
                                columns: list[list[pd.Series]]) -> list[np.ndarray | None]:
    """:func:`_unscheduled_numbers` when :func:`_numpy_columns` holds: the scheduled and
    unscheduled rows of all entries taken from their arrays and joined once, and one lookup
    of every unscheduled row's number, cut back per entry. A frame per entry, ``pd.concat``
    and a ``MultiIndex`` lookup per entry cost ≈ 10 of the ≈ 14 CPU-ms of numbering a
    100-subject export's 12 entries."""
    anchor = [e.anchor.to_numpy(dtype=bool) for e in entries]
    calendar = [e.calendar.to_numpy(dtype=bool) for e in entries]

    def rows(masks: list[np.ndarray], k: int) -> np.ndarray:
        return np.concatenate([c[k].to_numpy()[m] for c, m in zip(columns, masks,
                                                                     strict=True)])

    scheduled = pd.DataFrame({"USUBJID": rows(anchor, 0), "DATE": rows(anchor, 1),
                              "VISITNUM": rows(anchor, 2)})
    unscheduled = pd.DataFrame({"USUBJID": rows(calendar, 0), "DATE": rows(calendar, 1)})
    numbers = vocab.number_unscheduled(scheduled, unscheduled)
    lookup = numbers.set_index(["USUBJID", "DATE"])["VISITNUM"]
    found = lookup.reindex(pd.MultiIndex.from_arrays(
        [unscheduled["USUBJID"], unscheduled["DATE"]])).to_numpy()
    values: list[np.ndarray | None] = []
    start = 0
    for m in calendar:
        n = int(m.sum())
        values.append(found[start:start + n] if n else None)
        start += n
    return values


def _subject_ids(usubjids: list[pd.Series]) -> list[pd.Series]:
    """USUBJID of several blocks as one integer per subject (float, NaN: missing), from the
    columns' codes: the calendar groups, sorts and joins numbers instead of hashing the
    identifier of every record again. Text columns without codes stay as they are."""
    if not all(isinstance(u.dtype, pd.StringDtype) and u.dtype.storage == "python"
               for u in usubjids):
        return usubjids
    coded_all = [coded(u) for u in usubjids]
    ids, _ = pd.factorize(np.concatenate([u for _, u in coded_all]) if coded_all else
                          np.zeros(0, dtype=object))
    out, start = [], 0
    for (codes, uniques), u in zip(coded_all, usubjids, strict=True):
        table = np.append(ids[start:start + len(uniques)].astype("float64"), np.nan)
        out.append(pd.Series(table[codes], index=u.index))      # code -1 (missing): NaN
        start += len(uniques)
    return out


def _require_subjects(dm_runs: list[BlockRun], store: FormStore, accounting: Accounting) -> None:
    """No DM record means no subject: stop here with the raw form's story (no rows, or why they
    were all dropped) instead of failing later on something that merely lacks subjects."""
    if any(len(run.frame.out) for run in dm_runs):
        return
    told = []
    for run in dm_runs:
        form = store.forms.get(run.frame.form)
        account = accounting.forms.get(run.frame.form)
        file = form.file if form is not None else run.frame.file
        if account is None or account.read == 0:
            told.append(f"{file} has no data rows")
        else:
            reasons = ", ".join(f"{why} ({n})" for why, n in
                                account.dropped_by_reason().items())
            told.append(f"all {account.read} rows of {file} were dropped: {reasons}")
    raise InputDataError(f"no subjects: DM has no records ({'; '.join(told)})")


def _stack(runs: list[BlockRun], with_raw: bool = True) -> vocab.BlockFrame:
    """The blocks' records stacked; ``with_raw=False`` leaves the raw columns out (a frame
    with the records' index only): the domains other algorithms read (``ctx.sdtm``), seq and
    lobxfl need only the variables."""
    raws = [r.frame.raw for r in runs] if with_raw else []
    outs = [r.frame.out for r in runs]
    out = _concat(outs)
    raw = _concat(raws) if with_raw else pd.DataFrame(index=out.index)
    if len(outs) > 1:       # the parts' factorisations joined, not the rows factorised again
        for name in out.columns:
            if out[name].dtype != "string":
                continue
            # a block without the variable gives null rows (concat fills them): no value
            carry_concat([o[name] if name in o.columns else null_text(o.index) for o in outs],
                         out[name])
    elif outs and not _numbered(outs[0].index):
        # (a block already numbered 0..n-1 is taken as a shallow copy: the same arrays, with
        # their factorisations, so nothing to carry)
        for name in out.columns:
            carry(outs[0][name], out[name])
    return vocab.BlockFrame(raw=raw, out=out, form=runs[0].frame.form if runs else "",
                            file=runs[0].frame.file if runs else "",
                            clean=all(r.frame.clean for r in runs))


class _Domains(Mapping[str, pd.DataFrame]):
    """The domains as they stand now (``ctx.sdtm``), each stacked only when an algorithm
    reads it (from_domain, DM's reference dates): most are never read. The blocks' variables
    are kept as shallow copies taken now, so variables derived later stay out, as if every
    domain were stacked now."""

    def __init__(self, runs: dict[str, list[BlockRun]],
                 given: dict[str, pd.DataFrame] | None = None) -> None:
        self._runs = {d: [BlockRun(r.domain, r.spec, r.frame.snapshot(), r.plan) for r in rs]
                      for d, rs in runs.items() if rs}
        # domains stacked by another process (their blocks are not here)
        self._stacked: dict[str, pd.DataFrame] = dict(given or {})

    def __getitem__(self, domain: str) -> pd.DataFrame:
        if domain not in self._stacked:
            self._stacked[domain] = _stack(self._runs[domain], with_raw=False).out
        return self._stacked[domain]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self._runs), **dict.fromkeys(self._stacked)})

    def __len__(self) -> int:
        return len(set(self._runs) | set(self._stacked))


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat(frames, ignore_index=True)``; one frame already numbered 0..n-1 is taken
    as a shallow copy (its columns' arrays shared, not copied: nothing writes into them)."""
    if not frames:
        return pd.DataFrame()
    if len(frames) == 1 and _numbered(frames[0].index):
        return frames[0].copy(deep=False)
    return pd.concat(frames, ignore_index=True)


def _numbered(index: pd.Index) -> bool:
    """Whether ``index`` is 0..n-1 as a RangeIndex (what ``ignore_index=True`` gives)."""
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


# --------------------------------------------------------------------------- row stage, forked

# Below this many bytes of raw input (counted once per block reading a form) the study is
# mapped in one process: forking, the exchange and packing the child's domains cost more than
# they save. Measured on the demo study: the 1,000-subject export (8 MB of files, 11 MB by
# blocks) maps in ≈ 1.4-2.1 s wall split against ≈ 2.7-2.8 s serially; a 150-subject export
# (≈ 1.3 MB) maps in a fraction of a second, where a fork would be pure overhead.
FORK_MIN_BYTES = 4 << 20


def _row_stage(ctx: vocab.MapContext, store: FormStore, loaded: LoadedStudy, name: str,
               progress: Progress) -> list[BlockRun]:
    """Step 1 of the module docstring for one domain: its blocks' sources and row variables."""
    progress.step(f"{name} (raw forms)")
    spec = loaded.domains[name]
    runs: list[BlockRun] = []
    for i, block in enumerate(spec.blocks):
        where = f"{loaded.domain_files[name]}:" \
                f"{loaded.domain_yaml[name].line_of(('blocks', i, 'source'))}"
        ctx.domain, ctx.where, ctx.variable = name, where, ""
        store.get(block.source.form, where)
        for join in block.source.joins:
            store.get(join.form, where)
        store.check_refused(name, i)
        frame = build_source(ctx, store, name, block, where)
        runs.append(BlockRun(name, block, frame, plan_block(loaded, spec, i)))
        _derive(ctx, runs[-1], vocab.ROW, loaded)
    if name == "DM":
        _require_subjects(runs, store, store.accounting)
    return runs


def _block_forms(loaded: LoadedStudy, domain: str) -> list[str]:
    return [form for block in loaded.domains[domain].blocks
            for form in (block.source.form, *(j.form for j in block.source.joins))]


def _split_domains(loaded: LoadedStudy, raw_dir: Path) -> tuple[list[str], list[str]] | None:
    """The study's domains as two groups (this process's, the child's), each in study order,
    when a forked child can map one of them beside this process and the export is large
    enough to gain (:data:`FORK_MIN_BYTES`); else None.

    Domains that read a common form stay together (a form's rules, findings and accounting
    happen once, where the first domain asks for it). The groups are balanced by a cost from
    their planned variables and the bytes of raw input their blocks read
    (:func:`_domain_cost`): of every way to give groups to the child, the one whose longer
    side costs least (this process's side also carrying :data:`_PARENT_SHARE` of the whole);
    DM's group stays here (the reference dates both groups need are made from it here), and
    so do the groups it reads."""
    from cdiscmap.forked import fork_unsafe_runtime, fork_usable

    if not fork_usable() or fork_unsafe_runtime() is not None:
        return None
    domains = list(loaded.study.domains)
    owner = {d: d for d in domains}

    def root(d: str) -> str:
        while owner[d] != d:
            d = owner[d]
        return d

    first_reader: dict[str, str] = {}
    weight = dict.fromkeys(domains, 0)      # bytes read by the domain's blocks
    sizes: dict[str, int] = {}
    for d in domains:
        for form in _block_forms(loaded, d):
            if form in first_reader:
                owner[root(d)] = root(first_reader[form])
            first_reader.setdefault(form, d)
            spec = loaded.study.forms.get(form)
            if spec is not None and form not in sizes:
                try:
                    sizes[form] = (raw_dir / spec.file).stat().st_size
                except OSError:     # reading it will say what is wrong, in study order
                    sizes[form] = 0
            weight[d] += sizes.get(form, 0)
    groups: dict[str, list[str]] = {}
    for d in domains:
        groups.setdefault(root(d), []).append(d)
    if len(groups) < 2 or sum(weight.values()) < FORK_MIN_BYTES:
        return None
    cost = [sum(_domain_cost(loaded, d, weight[d]) for d in g) for g in groups.values()]
    # the domains DM's group reads (from_domain: its reference dates) stay here with it, so
    # that its subject stage can run while the child maps its rows (_subject_stage_first)
    dm_group = next((g for g in groups.values() if "DM" in g), [])
    read_here = _from_domain_sources(loaded, dm_group)
    fixed = [i for i, g in enumerate(groups.values()) if "DM" in g or read_here & set(g)]
    free = [i for i in range(len(groups)) if i not in fixed]
    total = sum(cost)
    base = sum(cost[i] for i in fixed) + _PARENT_SHARE * total
    to_child = _balanced(base, [cost[i] for i in free])
    members: dict[str, list[str]] = {"child": [], "parent": []}
    for i, group in enumerate(groups.values()):
        chosen = i in free and to_child[free.index(i)]
        members["child" if chosen else "parent"] += group
    order = {d: i for i, d in enumerate(domains)}
    return (sorted(members["parent"], key=order.__getitem__),
            sorted(members["child"], key=order.__getitem__))


# What a domain's mapping costs, for balancing the two groups (:func:`_split_domains`): about
# 6 ms per planned variable at any size (each algorithm's fixed cost: a few small pandas
# operations per variable) plus about 50 ms per MB of raw input its blocks read, here in
# bytes per variable. Measured per domain (CPU of its row stage, later stages and finish,
# reading included) on the demo study at 1,000 and 10,000 subjects: from 0.02 s (DD) to
# 0.35 s (LB) at 1,000, and 0.05 s to 2.6 s at 10,000. Bytes alone (or their square root)
# put the many small domains' fixed costs on one side: at 1,000 subjects this process
# had 1.38 s of the 2.14 s.
_VARIABLE_BYTES = 120_000
# this process's own share of the work besides its domains (the unscheduled visits
# numbered for both groups, the child's domains unpacked), as a fraction of the whole
_PARENT_SHARE = 0.05
# up to this many movable groups every split is tried; more, and groups go largest first
# to the lighter side
_EXACT_GROUPS = 16


def _domain_cost(loaded: LoadedStudy, domain: str, read_bytes: int) -> float:
    """The estimated cost of mapping ``domain`` in bytes' worth (see :data:`_VARIABLE_BYTES`)."""
    spec = loaded.domains[domain]
    variables = sum(len(plan_block(loaded, spec, i)) for i in range(len(spec.blocks)))
    return variables * _VARIABLE_BYTES + read_bytes


def _balanced(base: float, costs: list[float]) -> list[bool]:
    """Which of the groups costing ``costs`` go to the child so that the costlier side costs
    least, this process's side starting at ``base``: every split when there are at most
    :data:`_EXACT_GROUPS` groups (the first best in order of the bit patterns, so equal costs
    always give the same split), else largest first into the lighter side.

    >>> _balanced(2.0, [3.0, 2.0, 1.0])     # child 3 + 1, here 2 + 2
    [True, False, True]
    >>> _balanced(0.0, [1.0, 1.0])
    [True, False]
    """
    n = len(costs)
    if n > _EXACT_GROUPS:
        loads, chosen = [base, 0.0], [False] * n
        for i in sorted(range(n), key=lambda i: -costs[i]):
            chosen[i] = loads[1] <= loads[0]
            loads[chosen[i]] += costs[i]
        return chosen
    # the child's cost under every split, bit i of a split's position saying group i goes
    sums = np.zeros(1)
    for c in costs:
        sums = np.concatenate([sums, sums + c])
    mask = int(np.argmin(np.maximum(base + sum(costs) - sums, sums)))   # first of the best
    return [bool(mask >> i & 1) for i in range(n)]


@dataclass
class _RowPart:
    """The row stage of some domains, with what each domain added, so that two parts merge
    into the state a serial run has (findings, forms' accounting, calendar in study order)."""

    runs: dict[str, list[BlockRun]] = field(default_factory=dict)
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    registered: dict[str, list[str]] = field(default_factory=dict)   # forms first read
    calendar: dict[str, list[vocab.VisitCalendarEntry]] = field(default_factory=dict)
    failed: str | None = None                   # the domain whose row stage raised
    error: Exception | None = None


def _row_part(ctx: vocab.MapContext, store: FormStore, loaded: LoadedStudy,
              domains: list[str], progress: Progress) -> _RowPart:
    """The row stages of ``domains`` in order; the first error stops them and is kept (the
    caller raises the one a serial run would meet first)."""
    part = _RowPart()
    for name in domains:
        n_findings, n_forms = len(ctx.findings.items), len(store.accounting.forms)
        n_calendar = len(ctx.visit_calendar)
        try:
            part.runs[name] = _row_stage(ctx, store, loaded, name, progress)
        except Exception as exc:  # noqa: BLE001 - raised by the caller, in serial order
            part.failed, part.error = name, exc
            break
        part.findings[name] = ctx.findings.items[n_findings:]
        part.registered[name] = list(store.accounting.forms)[n_forms:]
        part.calendar[name] = ctx.visit_calendar[n_calendar:]
    return part


class _ChildFailed(Exception):
    """The forked child stopped or failed: the study is mapped serially instead."""


def _from_domain_sources(loaded: LoadedStudy, domains: list[str]) -> set[str]:
    """The domains that ``from_domain`` reads in the blocks of ``domains``."""
    return {fd.domain for d in domains for i in range(len(loaded.domains[d].blocks))
            for pv in plan_block(loaded, loaded.domains[d], i)
            for fd in _from_domain_args(pv.spec)}


def _subject_stage_first(loaded: LoadedStudy, mine: list[str], theirs: list[str]) -> bool:
    """Whether this process may run the subject stage of its domains (``mine``) right after
    their row stage, while the child still maps its rows, instead of after the unscheduled
    visits are numbered: it gives the same values when the stage reads only domains mapped
    here, no variable a ``visitnum`` writes (the numbering changes those), and the child
    reads none of these domains (they are sent to it as they stand before the stage)."""
    if _from_domain_sources(loaded, theirs) & set(mine):
        return False
    numbered: set[str] = set()          # variables a visitnum writes (also in a when branch)
    reads: set[str] = set()             # what the subject stage reads
    for d in loaded.study.domains:
        spec = loaded.domains[d]
        for i in range(len(spec.blocks)):
            for pv in plan_block(loaded, spec, i):
                if "visitnum" in _algorithms(pv.spec):
                    numbered.add(pv.name)
                if d not in mine or pv.stage != vocab.SUBJECT:
                    continue
                reads |= vocab.referenced_variables(pv.spec)
                for fd in _from_domain_args(pv.spec):
                    if fd.domain not in mine:
                        return False
                    reads |= {"USUBJID", fd.variable, *fd.order, *_condition_names(fd.where)}
    return not reads & numbered


def _stage_findings(ctx: vocab.MapContext, loaded: LoadedStudy,
                    runs: dict[str, list[BlockRun]], domains: list[str],
                    stage: int) -> dict[str, list[Finding]]:
    """``stage`` of every block of ``domains``, in order, with the findings each domain added."""
    added = {}
    for name in domains:
        n = len(ctx.findings.items)
        for run in runs.get(name, []):
            _derive(ctx, run, stage, loaded)
        added[name] = ctx.findings.items[n:]
    return added


def _child_work(chan: PeerChannel, loaded: LoadedStudy, raw_dir: Path,
                codelist_terms: dict[str, set[str]], char_variables: dict[str, set[str]],
                theirs: list[str], sources: set[str]) -> None:
    """What the forked child of :func:`_map_study_forked` does with its domains: the row
    stage; its visit calendar, forms' accounting and the blocks other domains read
    (``from_domain``) sent; the unscheduled visit numbers, DM's reference dates and the
    domains it reads received; then every later stage, its finished domains sent."""
    findings = Findings()
    accounting = Accounting()
    ctx = vocab.MapContext(study=loaded.study, codelist_terms=codelist_terms, findings=findings)
    store = FormStore(loaded, raw_dir, accounting, findings)
    forms = [n for n in dict.fromkeys(f for d in theirs for f in _block_forms(loaded, d))
             if n in loaded.study.forms]
    with ReadAhead() as ahead:
        store.ahead = ahead
        ahead.start((n, store.reader(n)) for n in forms)
        part = _row_part(ctx, store, loaded, theirs, SILENT)
    if part.failed is not None:
        chan.send({"failed": True})
        return
    runs = part.runs
    calendar = {}
    for d, entries in part.calendar.items():
        positions = {id(r): i for i, r in enumerate(runs[d])}
        calendar[d] = [(positions[id(e.block)], e.variable, pack_series(e.usubjid), e.date,
                        e.visitnum, e.anchor, e.calendar) for e in entries]
    chan.send({"failed": False, "findings": part.findings, "registered": part.registered,
               "accounts": {f: accounting.forms[f] for fs in part.registered.values()
                            for f in fs},
               "read": list(store.forms), "calendar": calendar,
               "sources": {d: [(pack_frame(r.frame.out), r.frame.form, r.frame.file,
                                r.frame.clean) for r in runs[d]]
                           for d in theirs if d in sources and runs.get(d)}})
    answer = chan.recv()
    if not isinstance(answer, dict):
        return                                  # the parent maps serially
    entries = [e for d in theirs for e in part.calendar[d]]
    for e, values in zip(entries, answer["numbers"], strict=True):
        if values is not None:
            _write_numbers(e, values)
    ctx.sdtm = _Domains(runs, {d: unpack_frame(f) for d, f in answer["given"].items()})
    subject = _stage_findings(ctx, loaded, runs, theirs, vocab.SUBJECT)
    ctx.subjects = None if answer["subjects"] is None else unpack_frame(answer["subjects"])
    reference = _stage_findings(ctx, loaded, runs, theirs, vocab.REFERENCE)
    finish, frames = {}, {}
    for name in theirs:
        if not runs[name]:
            continue
        n = len(findings.items)
        out, visible, supp_frame = _finished(ctx, loaded, runs, name, char_variables, SILENT)
        finish[name] = findings.items[n:]
        frames[name] = (pack_frame(out, visible),
                        None if supp_frame is None else pack_frame(supp_frame))
    chan.send({"failed": False, "subject": subject, "reference": reference, "finish": finish,
               "frames": frames})


def _map_study_forked(loaded: LoadedStudy, raw_dir: Path, codelist_terms: dict[str, set[str]],
                      char_variables: dict[str, set[str]], progress: Progress,
                      ahead: ReadAhead, split: tuple[list[str], list[str]]) -> SdtmResult:
    """:func:`_map_study_serial` with the domains in two groups, the child's mapped by a
    forked child (:func:`_child_work`) while this process maps its own: each domain's row
    stage reads only its own forms (the groups share none), the unscheduled visits are
    numbered here from both groups' calendars, DM (always here) gives the reference dates.
    Findings, accounting, the calendar and the domains are merged in study order, as a
    serial run has them. Any error, here or in the child, raises :class:`_ChildFailed` or
    the error itself; the caller then maps serially, which raises the error a serial run
    meets first."""
    mine, theirs = split
    if "DM" in theirs:      # DM's reference dates are made in this process
        raise _ChildFailed
    study = loaded.study
    findings = Findings()
    accounting = Accounting()
    ctx = vocab.MapContext(study=study, codelist_terms=codelist_terms, findings=findings)
    store = FormStore(loaded, raw_dir, accounting, findings)
    store.ahead = ahead
    sources = _from_domain_sources(loaded, list(study.domains))
    given_to_child = sorted(_from_domain_sources(loaded, theirs) & set(mine))
    early = _subject_stage_first(loaded, mine, theirs)

    def work(chan: PeerChannel) -> None:
        _child_work(chan, loaded, raw_dir, codelist_terms, char_variables, theirs, sources)

    with ForkedPeer(work) as worker:
        # this process's forms read ahead, then the forms no block reads (read at the end)
        theirs_forms = {f for d in theirs for f in _block_forms(loaded, d)}
        names = [n for n in [*(f for d in mine for f in _block_forms(loaded, d)), *study.forms]
                 if n in study.forms and n not in theirs_forms]
        ahead.start((n, store.reader(n)) for n in dict.fromkeys(names))
        own = _row_part(ctx, store, loaded, mine, progress)
        if own.error is not None:
            raise own.error
        subject: dict[str, list[Finding]] | None = None
        if early:       # while the child maps its rows (its row stage is usually longer)
            ctx.sdtm = _Domains(own.runs)
            subject = _stage_findings(ctx, loaded, own.runs, mine, vocab.SUBJECT)
        first = worker.recv()
        if not isinstance(first, dict) or first["failed"]:
            raise _ChildFailed
        # the row stage merged in study order: findings, forms' accounting, calendar
        remote: dict[str, list[BlockRun]] = {}
        for d, blocks in first["sources"].items():
            spec = loaded.domains[d]
            remote[d] = []
            for i, (out, form, file, clean) in enumerate(blocks):
                frame = unpack_frame(out)
                remote[d].append(BlockRun(d, spec.blocks[i], vocab.BlockFrame(
                    raw=pd.DataFrame(index=frame.index), out=frame, form=form, file=file,
                    clean=clean), plan_block(loaded, spec, i)))
        theirs_calendar: dict[str, list[vocab.VisitCalendarEntry]] = {}
        for d, entries in first["calendar"].items():
            theirs_calendar[d] = [vocab.VisitCalendarEntry(
                block=remote[d][i] if d in remote else _Remote(), variable=variable,
                usubjid=unpack_series(usubjid), date=date, visitnum=visitnum, anchor=anchor,
                calendar=calendar) for i, variable, usubjid, date, visitnum, anchor, calendar
                in entries]
        store.read_elsewhere.update(first["read"])
        accounts = {**accounting.forms, **first["accounts"]}
        accounting.forms.clear()
        findings.items[:] = []
        ctx.visit_calendar[:] = []
        for d in study.domains:
            mapped_here = d in own.runs
            findings.extend(own.findings[d] if mapped_here else first["findings"][d])
            ctx.visit_calendar.extend(own.calendar[d] if mapped_here else
                                      theirs_calendar.get(d, []))
            for form in (own.registered[d] if mapped_here else first["registered"][d]):
                accounting.forms[form] = accounts[form]
        entries, values = _resolve_unscheduled_visits(ctx)
        theirs_ids = {id(e) for es in theirs_calendar.values() for e in es}
        numbers = [v for e, v in zip(entries, values, strict=True) if id(e) in theirs_ids]
        runs = {d: own.runs[d] if d in own.runs else remote[d]
                for d in study.domains if d in own.runs or d in remote}
        ctx.sdtm = _Domains(runs)
        given = {d: pack_frame(ctx.sdtm[d]) for d in given_to_child if d in ctx.sdtm}
        if subject is None:
            subject = _stage_findings(ctx, loaded, runs, mine, vocab.SUBJECT)
        else:           # its findings where a serial order has them
            for d in mine:
                findings.extend(subject[d])
        _set_subjects(ctx, runs)
        worker.send({"numbers": numbers, "given": given, "subjects":
                     None if ctx.subjects is None else pack_frame(ctx.subjects)})
        reference = _stage_findings(ctx, loaded, runs, mine, vocab.REFERENCE)
        finish, finished_here = {}, {}
        for name in mine:
            if not runs.get(name):
                continue
            n = len(findings.items)
            finished_here[name] = _finish_domain(ctx, loaded, runs, name, char_variables,
                                                 progress)
            finish[name] = findings.items[n:]
        # This process's domains are finished and nothing reads the rows they came from
        # again: its raw forms, blocks, the calendar and what the child sent go before the
        # child's domains come in (at 100,000 subjects the end of the mapping is the run's
        # peak of memory: ≈ 2 GB less).
        del runs, remote, given, theirs_calendar, entries, values, first
        ctx.sdtm, ctx.subjects, ctx.visit_calendar = {}, None, []
        ctx.subject_dates.clear()
        ctx.subject_positions.clear()
        own.runs = dict.fromkeys(own.runs, [])      # (which domains were mapped here)
        own.calendar.clear()
        store.release_rows()
        last = worker.recv()
        if not isinstance(last, dict) or last["failed"]:
            raise _ChildFailed
    del findings.items[len(findings.items) - sum(
        len(f) for stage in (subject, reference, finish) for f in stage.values()):]
    for stage, theirs_stage in ((subject, last["subject"]), (reference, last["reference"]),
                                (finish, last["finish"])):
        for d in study.domains:
            findings.extend(stage.get(d, []) if d in own.runs else theirs_stage.get(d, []))
    finished: dict[str, tuple[pd.DataFrame, pd.DataFrame | None]] = {}
    for d in study.domains:
        if d in finished_here:
            finished[d] = finished_here[d]
        elif d in last["frames"]:
            frame, supp_frame = last["frames"][d]
            finished[d] = (unpack_frame(frame),
                           None if supp_frame is None else unpack_frame(supp_frame))
    return _result(loaded, raw_dir, store, ctx, finished)

def map_study(loaded: LoadedStudy, raw_dir: Path, codelist_terms: dict[str, set[str]],
              char_variables: dict[str, set[str]], progress: Progress = SILENT) -> SdtmResult:
    """Map every domain of the study. Raises SpecError/InputDataError for problems that stop
    the run; everything else becomes a finding. ``progress`` shows the domain being mapped."""
    # text columns factorised once for the run (sdtm/vectorize.py); the read-ahead thread
    # (ingest/prefetch.py) is done before the cache closes and before map_study returns
    with codes_cache(), memo_scope(_PLANS), ReadAhead() as ahead:
        return _map_study(loaded, raw_dir, codelist_terms, char_variables, progress, ahead)


def _forms_in_order(loaded: LoadedStudy) -> list[str]:
    """study.yaml forms in the order _map_study first asks for them (then the unread ones)."""
    names = [form for d in loaded.study.domains for block in loaded.domains[d].blocks
             for form in (block.source.form, *(j.form for j in block.source.joins))]
    return [n for n in dict.fromkeys([*names, *loaded.study.forms]) if n in loaded.study.forms]


def _map_study(loaded: LoadedStudy, raw_dir: Path, codelist_terms: dict[str, set[str]],
               char_variables: dict[str, set[str]], progress: Progress,
               ahead: ReadAhead) -> SdtmResult:
    check_cross_domain(loaded)
    split = _split_domains(loaded, raw_dir)
    if split is not None:
        try:
            return _map_study_forked(loaded, raw_dir, codelist_terms, char_variables,
                                     progress, ahead, split)
        except Exception:  # noqa: BLE001 - mapped serially: a serial run's error, if any
            pass
    with ReadAhead() as again:      # (the first one may still hold a form of the split run)
        return _map_study_serial(loaded, raw_dir, codelist_terms, char_variables, progress,
                                 again if split is not None else ahead)


def _map_study_serial(loaded: LoadedStudy, raw_dir: Path, codelist_terms: dict[str, set[str]],
                      char_variables: dict[str, set[str]], progress: Progress,
                      ahead: ReadAhead) -> SdtmResult:
    """Steps 1-5 of the module docstring, domain after domain, in one process."""
    findings = Findings()
    accounting = Accounting()
    study = loaded.study
    ctx = vocab.MapContext(study=study, codelist_terms=codelist_terms, findings=findings)
    store = FormStore(loaded, raw_dir, accounting, findings)
    # forms read in a thread while the blocks map (ingest/prefetch.py), first needed first
    store.ahead = ahead
    ahead.start((n, store.reader(n)) for n in _forms_in_order(loaded))
    runs = {name: _row_stage(ctx, store, loaded, name, progress) for name in study.domains}
    _resolve_unscheduled_visits(ctx)
    ctx.sdtm = _Domains(runs)
    for name in study.domains:
        for run in runs[name]:
            _derive(ctx, run, vocab.SUBJECT, loaded)
    _set_subjects(ctx, runs)
    for name in study.domains:
        for run in runs[name]:
            _derive(ctx, run, vocab.REFERENCE, loaded)
    finished = {name: _finish_domain(ctx, loaded, runs, name, char_variables, progress)
                for name in study.domains if runs[name]}
    return _result(loaded, raw_dir, store, ctx, finished)


def _set_subjects(ctx: vocab.MapContext, runs: dict[str, list[BlockRun]]) -> None:
    """DM as it stands after the subject stage: the subjects' reference dates (step 3)."""
    ctx.sdtm = _Domains(runs)
    dm = ctx.sdtm.get("DM")
    if dm is not None and "USUBJID" in dm:
        ctx.subjects = dm.drop_duplicates("USUBJID").set_index("USUBJID")


def _finish_domain(ctx: vocab.MapContext, loaded: LoadedStudy,
                   runs: dict[str, list[BlockRun]], name: str,
                   char_variables: dict[str, set[str]], progress: Progress
                   ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Step 5 for one domain: (its frame, its SUPP-- frame or None)."""
    out, visible, supp_frame = _finished(ctx, loaded, runs, name, char_variables, progress)
    return _visible(out, visible), supp_frame


def _visible(out: pd.DataFrame, visible: list[str]) -> pd.DataFrame:
    """``out[visible]`` without copying the columns: ``out`` is this step's own frame, dropped
    once the domain is finished, so its arrays become the domain's, each with the
    factorisation the mapping remembered (RECIST, the trial design and the checks need not
    hash them again), instead of a copy of every column (a copy of every text cell, then the
    factorisations carried over column by column)."""
    if out.columns.has_duplicates:
        shown = out[visible]
        carry_rows(out, shown, None)
        return shown
    # text arrays go in as they are (copy=False); numeric columns are consolidated (copied)
    data = {c: out[c].array if isinstance(out[c].dtype, pd.StringDtype) else out[c]
            for c in visible}
    return columns_frame(data, out.index)


def _finished(ctx: vocab.MapContext, loaded: LoadedStudy, runs: dict[str, list[BlockRun]],
              name: str, char_variables: dict[str, set[str]], progress: Progress
              ) -> tuple[pd.DataFrame, list[str], pd.DataFrame | None]:
    """Step 5 for one domain: blocks stacked, whole-domain algorithms, blank → null, ASCII
    and 200-byte rules, SUPP--; the frame before its SDTM columns are selected (``visible``)."""
    study = loaded.study
    progress.step(name)
    plan = plan_block(loaded, loaded.domains[name], 0)
    # seq and lobxfl read only the variables: the raw columns are stacked only for other
    # whole-domain algorithms
    stacked = _stack(runs[name], with_raw=any(
        pv.stage == vocab.DOMAIN and pv.spec.algorithm not in ("seq", "lobxfl")
        for pv in plan))
    ctx.domain = name
    for pv in plan:
        if pv.stage == vocab.DOMAIN:
            ctx.where, ctx.variable = pv.where, pv.name
            stacked.set_variable(pv.name, vocab.run_algorithm(ctx, stacked, pv.spec))
    items = stacked.items()
    data = _null_blank_columns(items)
    out = _frame_of(data, stacked.index, pd.Index([n for n, _ in items], dtype=object))
    if plain_text(data.values()):       # nothing to transliterate or to cut (the usual case)
        overflow = no_overflow()
    else:
        out = enforce_ascii(out, name, study.non_ascii, ctx.findings)
        out, overflow = split_long_text(out, name, char_variables.get(name, set()),
                                        study.long_text, ctx.findings)
    supp_frame = _build_supp(loaded, name, out, overflow)
    visible = [c for c in out.columns if not c.startswith("_SUPP_")]
    return out, visible, supp_frame


def _result(loaded: LoadedStudy, raw_dir: Path, store: FormStore, ctx: vocab.MapContext,
            finished: dict[str, tuple[pd.DataFrame, pd.DataFrame | None]]) -> SdtmResult:
    """The finished domains with their records counted, the forms no block reads counted as
    dropped, the accounting closed."""
    study = loaded.study
    accounting = store.accounting
    domains: dict[str, pd.DataFrame] = {}
    supp: dict[str, pd.DataFrame] = {}
    for name, (frame, supp_frame) in finished.items():
        domains[name] = frame
        accounting.records(name, len(frame))
        if supp_frame is not None and len(supp_frame):
            supp[f"SUPP{name}"] = supp_frame
            accounting.records(f"SUPP{name}", len(supp_frame))
    for form_name in study.forms:      # listed but read by no block: counted, never lost
        if form_name not in store.forms and form_name not in store.read_elsewhere:
            unread = store.get(form_name, f"{loaded.study_file}:"
                               f"{loaded.study_yaml.line_of(('forms', form_name))}")
            accounting.drop(form_name, unread.frame["_SRCROW"],
                            UNMAPPED_REASON.format(form=form_name), "")
    accounting.finish(study.forms, store.forms, raw_dir)
    return SdtmResult(domains=domains, supp=supp, accounting=accounting,
                      findings=ctx.findings, origins=_origins(loaded))


def _blank_to_null(frame: pd.DataFrame) -> pd.DataFrame:
    """SDTM null is an empty value: text that is blank becomes missing before checks/emit."""
    return _null_blanks(list(frame.items()), frame.index, frame.columns)


def _null_blanks(items: list[tuple[str, pd.Series]], index: pd.Index,
                 columns: pd.Index | None = None) -> pd.DataFrame:
    """:func:`_blank_to_null` of the frame with these columns (``columns``: their index,
    else one made of the names), taken from a domain's :meth:`BlockFrame.items` without
    making the frame first."""
    return _frame_of(_null_blank_columns(items), index,
                     columns if columns is not None else
                     pd.Index([n for n, _ in items], dtype=object))


def _null_blank_columns(items: list[tuple[str, pd.Series]]) -> dict[int, object]:
    """The columns of :func:`_null_blanks` by position (names may repeat): text cleaned (a
    ``string`` array), others copied (a Series)."""
    data: dict[int, object] = {}
    for i, (_, s) in enumerate(items):
        # the cleaned text arrays go in as they are (copy=False): their factorisation, known
        # from cleaning, then serves the ASCII and 200-byte checks (vectorize.codes_cache)
        data[i] = clean_text_array(s) if s.dtype == "string" or s.dtype == object else s.copy()
    return data


def _frame_of(data: dict[int, object], index: pd.Index, columns: pd.Index) -> pd.DataFrame:
    """A frame of columns given by position (a domain's names may repeat, so not by name:
    :func:`cdiscmap.sdtm.vectorize.columns_frame` for unique names), then named."""
    out = pd.DataFrame(data, index=index, copy=False)
    out.columns = columns
    return out


def _build_supp(loaded: LoadedStudy, domain: str, out: pd.DataFrame,
                overflow: pd.DataFrame) -> pd.DataFrame | None:
    """SUPP-- records (SDTMIG 3.4 §8.4): one per non-null supplemental value."""
    spec = loaded.domains[domain]
    seqvar = f"{domain}SEQ"
    pieces = []
    # the kept rows are taken from only the columns a SUPP-- record reads (``out.loc[keep]``
    # copied every column of the domain, per QNAM, for IDVARVAL alone)
    named = out[[c for c in dict.fromkeys(["USUBJID", seqvar, "_SRCFILE", "_SRCROW"])
                 if c in out.columns]] if spec.supp and not out.columns.has_duplicates else out
    for qnam, s in spec.supp.items():
        col = f"_SUPP_{qnam}"
        if col not in out:
            continue
        values = out[col]
        if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python"):
            values = values.astype("string")
        # non-blank values, tested once per distinct value and taken back by the codes
        codes, uniques = coded(values)
        keep = pd.Series(np.append(np.array([u.strip() != "" for u in uniques], dtype=bool),
                                   False)[codes], index=values.index)
        if not keep.any():
            continue
        kept = named.loc[keep]
        part = pd.DataFrame({
            "USUBJID": kept["USUBJID"].astype("string"),
            "IDVARVAL": _idvarval(kept, seqvar, domain),
            "QNAM": qnam, "QLABEL": s.label, "QVAL": values[keep], "QORIG": s.origin.upper()
            if s.origin != "Collected" else "CRF", "QEVAL": s.evaluator or "",
            "_SRCFILE": kept["_SRCFILE"], "_SRCROW": kept["_SRCROW"]})
        pieces.append(part)
    if len(overflow):
        pieces.append(overflow.assign(IDVARVAL=_idvarval(overflow, seqvar, domain)))
    if not pieces:
        return None
    supp = pd.concat(pieces, ignore_index=True)
    keys = ["USUBJID", "IDVARVAL", "QNAM"]
    order = supp[keys].sort_values(keys, kind="mergesort").index.to_numpy()
    index = pd.RangeIndex(len(order))
    constants = {"STUDYID": loaded.study.studyid, "RDOMAIN": domain,
                 "IDVAR": "" if domain == "DM" else seqvar}
    # the records sorted, each column in SUPP-- order typed and blank → null, then one frame
    # made: three columns inserted and ten set (the frame rebuilt at each step, ≈ 0.15 ms
    # each) were most of making a SUPP-- dataset
    items = []
    for c in ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QLABEL", "QVAL",
              "QORIG", "QEVAL", "_SRCFILE", "_SRCROW"]:
        if c in constants:
            column = pd.Series(filled_objects(len(index), constants[c]), index=index)
        else:
            column = supp[c].take(order)
            column.index = index
        items.append((c, column if c.startswith("_") else column.astype("string")))
    return _null_blanks(items, index)


def _idvarval(frame: pd.DataFrame, seqvar: str, domain: str) -> pd.Series:
    if domain == "DM" or seqvar not in frame:
        return pd.Series("", index=frame.index, dtype="string")
    return frame[seqvar].astype("Int64").astype("string").fillna("")


ORIGIN_OF_ALGORITHM = {
    "take": "Collected", "assign_ct": "Collected", "iso8601": "Collected", "number": "Collected",
    "constant": "Assigned", "concat": "Derived", "when": "Derived", "copy": "Derived",
    "from_domain": "Derived", "study_day": "Derived", "epoch": "Derived", "seq": "Derived",
    "visit": "Collected", "visitnum": "Derived", "empty": "Assigned", "lobxfl": "Derived",
}


def _origin_of(spec: VariableSpec) -> str:
    """Define-XML origin of an algorithm; a `when` whose branches only take collected values
    or assign constants is Collected (or Assigned), not Derived."""
    if spec.algorithm != "when":
        return ORIGIN_OF_ALGORITHM.get(spec.algorithm, "Derived")
    branches = [b.then or b.else_ for b in spec.when or []]
    kinds = {b.origin or _origin_of(b) for b in branches if b is not None}
    if kinds <= {"Collected", "Assigned"}:
        return "Collected" if "Collected" in kinds else "Assigned"
    return "Derived"


def study_origins(loaded: LoadedStudy) -> dict[str, dict[str, dict[str, str]]]:
    """Origins of every mapped variable, from the specs alone (no data needed)."""
    return _origins(loaded)


def _origins(loaded: LoadedStudy) -> dict[str, dict[str, dict[str, str]]]:
    """Per domain and variable: origin (from the algorithm unless the spec says), algorithm,
    comment and spec location — what define.xml needs."""
    result: dict[str, dict[str, dict[str, str]]] = {}
    for name, spec in loaded.domains.items():
        located = loaded.domain_yaml[name]
        file = loaded.domain_files[name]
        entries: dict[str, dict[str, str]] = {}
        items = [(("variables", v), v, s) for v, s in spec.variables.items()]
        for i, b in enumerate(spec.blocks):
            items += [(("blocks", i, "variables", v), v, s) for v, s in b.variables.items()]
        for path, var, s in items:
            algo = s.algorithm
            origin = s.origin or _origin_of(s)
            entry = entries.setdefault(var, {"origin": origin, "algorithm": algo,
                                             "comment": s.comment or "",
                                             "where": f"{file}:{located.line_of(path)}"})
            if entry["origin"] != origin:
                entry["origin"] = "Derived" if "Derived" in (entry["origin"], origin) else origin
        result[name] = entries
    if loaded.study.rs_computed and "RS" in result:
        result["RS"]["RSDRVFL"] = {
            "origin": "Derived", "algorithm": "recist",
            "comment": "Y on responses computed from TU/TR by the cdiscmap RECIST 1.1 engine "
                       "(study.yaml rs_computed: true)",
            "where": "src/cdiscmap/recist/overall.py"}
    return result


def lineage_source(frame: pd.DataFrame) -> pd.Series:
    """'file row N' for each record (empty when the frame carries no lineage)."""
    if "_SRCFILE" not in frame or "_SRCROW" not in frame:
        return pd.Series("", index=frame.index)
    return frame["_SRCFILE"].astype(str) + " row " + frame["_SRCROW"].astype(str)


__all__ = ["SdtmResult", "map_study", "lineage_source", "np"]
