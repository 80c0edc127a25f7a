"""ADaM step of a run: SDTM frames → ADSL/ADRS/ADTTE/ADAE/ADEX/ADTR/ADQS →
pandera checks → XPT.

Used by ``cdiscmap run`` (on the SDTM it just mapped) and ``cdiscmap adam`` (on any SDTM
folder). It reads only SDTM, never raw data.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from cdiscmap.adam import (
    ADSL_ONLY,
    AdamResult,
    AdslStage,
    Derived,
    adsl_only_stage,
    assemble,
    complete_stage,
    derive_adsl_only,
    derive_adsl_stage,
    derive_all,
    derive_efficacy,
    last_alive_of,
    load_adam_settings,
    read_ahead,
)
from cdiscmap.adam.adsl import LastAliveParts
from cdiscmap.adam.settings import AdamSettings
from cdiscmap.checks.facts import facts_cache, remember
from cdiscmap.checks.schema import check_dataset
from cdiscmap.emit.atomic import Staging
from cdiscmap.emit.datasets import PlannedDatasets, plan_datasets, write_datasets, write_planned
from cdiscmap.emit.written import recall_text_facts
from cdiscmap.findings import Finding, Findings
from cdiscmap.forked import ForkedPeer, PeerChannel, fork_unsafe_runtime, fork_usable
from cdiscmap.leaving import keep_until_exit
from cdiscmap.progress import SILENT, Progress
from cdiscmap.sdtm.vectorize import codes_cache
from cdiscmap.standards.models import Standards

ADAM_ORDER = ("ADSL", "ADRS", "ADTTE", "ADAE", "ADEX", "ADTR", "ADQS")


def derive_and_check(sdtm: dict[str, pd.DataFrame], study_dir: Path, standards: Standards,
                     findings: Findings, settings: AdamSettings | None = None
                     ) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """Derive the study's ADaM datasets and check each against its ADaMIG metadata
    (``settings``: the study's ADaM settings when the caller has already loaded them)."""
    frames, methods = derive_adam(sdtm, study_dir, findings, settings)
    check_adam(frames, standards, findings)
    return frames, methods


def derive_adam(sdtm: dict[str, pd.DataFrame], study_dir: Path, findings: Findings,
                settings: AdamSettings | None = None, *, fork: tuple[str, ...] = ()
                ) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """The first half of :func:`derive_and_check`: the datasets (in ADAM_ORDER) and their
    methods; the derivations' findings go to ``findings``. ``fork``: datasets derived in a
    forked child (``derive_all(fork=...)``, e.g. :data:`FORKED`; same result)."""
    if settings is None:
        settings = load_adam_settings(study_dir)
    result = derive_all(sdtm, settings, fork=fork)
    findings.extend(result.findings)
    frames = {name: result.datasets[name] for name in ADAM_ORDER if name in result.datasets}
    return frames, result.methods


def check_adam(frames: dict[str, pd.DataFrame], standards: Standards, findings: Findings
               ) -> None:
    """The second half of :func:`derive_and_check`: each dataset against its ADaMIG metadata
    (pandera schemas from specs/); reads the frames only."""
    for name, frame in frames.items():
        findings.extend(check_dataset(frame, standards.dataset(name), standards,
                                      dataset_name=name))


def check_and_size_adam(frames: dict[str, pd.DataFrame], standards: Standards,
                        findings: Findings, folder: Path, created: datetime, *,
                        formats: str = "xpt", studyid: str = "") -> PlannedDatasets:
    """:func:`check_adam`, then :func:`~cdiscmap.emit.datasets.plan_datasets` of the same
    frames (for :func:`~cdiscmap.emit.datasets.write_planned`), with every text column hashed
    once: each dataset is sized first and the checks take its XPT plan's codes
    (:func:`_share_facts`), as ``cdiscmap adam`` does (:func:`_finish`). Findings, plans and
    the first error are those of checking, then sizing: a check's error before a sizing
    error, the first sizing error in dataset order. On the run's ADaM frames (one process,
    same findings): 85 → 54 ms at 1,000 subjects, 533 → 225 ms at 10,000."""
    with facts_cache():
        planned, size_error = _sized_first(frames, folder, standards, created,
                                           formats=formats, studyid=studyid)
        check_adam(frames, standards, findings)
    if size_error is not None:          # raised once the checks have run, as serially
        raise size_error[1]
    return PlannedDatasets(folder=folder, standards=standards, created=created,
                           formats=formats, study_oid="", studyid=studyid,
                           plans=tuple(p for one in planned.values() for p in one.plans))


def run_adam(sdtm: dict[str, pd.DataFrame], study_dir: Path, standards: Standards,
             folder: Path, created: datetime, findings: Findings, *, formats: str = "xpt",
             studyid: str = "", progress: Progress = SILENT
             ) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, str]], list[Path]]:
    """Derive, check and write ADaM; returns the frames, their derivation methods, the files."""
    frames, methods = derive_and_check(sdtm, study_dir, standards, findings)
    files = write_datasets(frames, folder, standards, created, formats=formats,
                           studyid=studyid, progress=progress)
    return frames, methods, files


@dataclass
class AdamOutcome:
    """What ``cdiscmap adam`` wrote: the folder, records per file, the findings."""

    folder: Path
    records: dict[Path, int]
    findings: Findings
    counts: dict[str, object]


# ``cdiscmap adam``: datasets derived, checked and written by a forked child while this
# process derives LSTALVDT (deferred: its sources are most of ADSL's reading), ADRS and ADTTE
# and checks and writes them with ADSL; at 10,000 subjects the two sides weigh about the
# same. Any subset of adam.ADSL_ONLY gives the same files.
FORKED = ("ADAE", "ADEX", "ADTR", "ADQS")

# The steps of ``cdiscmap adam`` after the derivations, in serial order: every dataset is
# derived, then checked, then sized (XPT v5 limits), then written.
_DERIVE, _CHECK, _SIZE, _WRITE = range(4)


@dataclass
class _Half:
    """Datasets derived, checked and written by one process (of two), or how far it got:
    ``failed`` is the first step that raised, as (step, position in ADAM_ORDER), with its
    ``error`` (not sent back from a forked child: the parent does that half again)."""

    derived: Derived
    checks: dict[str, list[Finding]] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    failed: tuple[int, int] | None = None
    error: Exception | None = None

    def fail(self, step: int, name: str, error: Exception) -> _Half:
        self.failed, self.error = (step, ADAM_ORDER.index(name)), error
        return self


def _finish(half: _Half, frames: dict[str, pd.DataFrame], standards: Standards, folder: Path,
            created: datetime, progress: Progress = SILENT) -> _Half:
    """Check, size and write ``frames`` (in ADAM_ORDER) into ``folder``; the first error (a
    check's before a size's, as serially) stops it and is kept in ``half``.

    Each dataset is sized (XPT v5 plan) before it is checked: the plan factorises every text
    column, and the checks take those codes (:func:`_share_facts`) instead of factorising
    the same columns again. The checks only read the frames, so the order changes nothing
    else."""
    with facts_cache():
        planned, size_error = _sized_first(frames, folder, standards, created)
        for name, frame in frames.items():
            try:
                half.checks[name] = check_dataset(frame, standards.dataset(name), standards,
                                                  dataset_name=name)
            except Exception as exc:
                return half.fail(_CHECK, name, exc)
    if size_error is not None:
        return half.fail(_SIZE, *size_error)
    for name, plan in planned.items():
        try:
            write_planned(plan, progress)
        except Exception as exc:
            return half.fail(_WRITE, name, exc)
        half.records[name] = len(frames[name])
    return half


def _sized_first(frames: dict[str, pd.DataFrame], folder: Path, standards: Standards,
                 created: datetime, *, formats: str = "xpt", studyid: str = ""
                 ) -> tuple[dict[str, PlannedDatasets], tuple[str, Exception] | None]:
    """Each of ``frames`` sized (its XPT plan) in order and its plan's text facts given to
    the checks to come (:func:`_share_facts`; inside ``facts_cache``); the plans made and the
    first sizing error (dataset name, exception), which stops the sizing."""
    planned: dict[str, PlannedDatasets] = {}
    for name, frame in frames.items():
        try:
            planned[name] = plan_datasets({name: frame}, folder, standards, created,
                                          formats=formats, studyid=studyid)
        except Exception as exc:
            return planned, (name, exc)
        _share_facts(frame)
    return planned, None


def _share_facts(frame: pd.DataFrame) -> None:
    """Give the checks (while ``facts_cache`` is open) the text facts the XPT plan of
    ``frame`` found: the same codes and distinct values ``text_facts`` would find."""
    for name in frame.columns:
        facts = recall_text_facts(frame, name)
        if facts is not None:
            remember(frame[name], facts)


def _forked_half(stage: AdslStage, names: list[str], standards: Standards, folder: Path,
                 created: datetime, *, parent: int) -> _Half:
    """The forked child's half: ``names`` derived, checked and written into ``folder``.
    Only findings, methods and record counts go back (a zero-row frame stands for each
    dataset made; the parent needs no frame of them)."""
    derived = derive_adsl_only(stage, names, catch=True)
    half = _derived_half(derived)
    if derived.failed is None:
        made = {n: f for n in names if (f := derived.datasets.get(n)) is not None}
        _finish(half, made, standards, folder, created)
    if os.getpid() != parent:                 # what a child sends: no frames, no exception
        half.error = derived.error = None
        derived.datasets = {n: None if f is None else pd.DataFrame()
                            for n, f in derived.datasets.items()}
    return half


def _derived_half(derived: Derived) -> _Half:
    """The half of the datasets ``derived`` holds, failed at the derivation step when one of
    them could not be derived (checks, sizing and writing are then left out)."""
    half = _Half(derived=derived)
    if derived.failed is not None:
        assert derived.error is not None
        half.fail(_DERIVE, derived.failed, derived.error)
    return half


def _first_error(*halves: _Half) -> Exception | None:
    """The error a serial run meets first among the halves' (each half's is its first)."""
    failed = [h for h in halves if h.failed is not None]
    if not failed:
        return None
    return min(failed, key=lambda h: h.failed or (0, 0)).error


def _derive_check_write(sdtm: dict[str, pd.DataFrame], settings: AdamSettings,
                        standards: Standards, folder: Path, created: datetime,
                        forked: tuple[str, ...], progress: Progress = SILENT
                        ) -> tuple[AdamResult, list[Finding], dict[str, int]]:
    """Derive, check and write ADaM into ``folder``: the derivations (findings deduplicated),
    the check findings and the records of each dataset written, in ADAM_ORDER.

    The ``forked`` datasets are derived, checked and written by a forked child
    (:class:`_ChildHalf`, forked before ADSL is derived so that it reads its SDTM meanwhile)
    while this process does the others; the first error raised is the one a serial run would
    raise (derivations before checks before sizing before writing, in ADAM_ORDER within each
    step)."""
    there = [n for n in ADSL_ONLY if n in forked]
    here = [n for n in ADSL_ONLY if n not in there]
    forking = bool(there) and fork_usable() and fork_unsafe_runtime() is None \
        and hasattr(os, "memfd_create")
    parent = os.getpid()

    def child_half(stage: AdslStage) -> _Half:
        return _forked_half(stage, there, standards, folder, created, parent=parent)

    with _ChildHalf(sdtm, settings, child_half, there, folder, fork=forking) as child:
        stage = derive_adsl_stage(sdtm, settings, defer_last_alive=forking)
        child.start(stage)                      # without a fork: its half done here, now
        # LSTALVDT: the first error after ADSL (the child's datasets' sources computed there)
        complete_stage(stage, there, child.last_alive if child.forked else None)
        efficacy = derive_efficacy(stage)       # ADRS/ADTTE: errors before any of the child's
        own = derive_adsl_only(stage, here, catch=True)
        mine = _derived_half(own)
        if own.failed is None:
            progress.stage("Writing ADaM datasets")
            frames = {**{n: f for n, f in efficacy.datasets.items() if f is not None},
                      **{n: f for n in here if (f := own.datasets.get(n)) is not None}}
            _finish(mine, {n: frames[n] for n in ADAM_ORDER if n in frames}, standards,
                    folder, created, progress)
        other = child.result(stage) if there else _Half(derived=Derived())
        if other.failed is not None and other.error is None and (
                mine.failed is None or other.failed < mine.failed):
            other = child_half(stage)   # the child's half again, here, to raise its error
    error = _first_error(mine, other)
    if error is not None:
        raise error
    result = assemble(efficacy, own, other.derived)
    checks = [f for name in ADAM_ORDER for half in (mine, other)
              for f in half.checks.get(name, ())]
    records = {n: half.records[n] for n in ADAM_ORDER for half in (mine, other)
               if n in half.records}
    return result, checks, records


@dataclass
class _LastAlive:
    """The forked child's first message: the LSTALVDT sources it computed (None: none)."""

    parts: LastAliveParts | None


class _ChildHalf:
    """The half of ``cdiscmap adam`` that a forked child derives, checks and writes
    (``half(stage)``, for the datasets ``names``, written into ``folder``).

    The child is forked before ADSL is derived: it reads the SDTM its datasets read whole
    (:func:`read_ahead`: AE, TR, VS, ... ≈0.5 CPU-s at 10,000 subjects) while this process
    derives ADSL, then takes ADSL from :meth:`start` and does its half. ADSL goes through an
    anonymous memory file (memfd), not the pipe: a write into a full pipe would hold this
    process until the child, still reading, empties it; only its size goes through the pipe.
    The child's first message is LSTALVDT's sources of the datasets it holds and ADSL does
    not read (AE, TR: :func:`cdiscmap.adam.last_alive_of`), which this process then need not
    read (:meth:`last_alive`); its half comes second.
    Without ``fork``, :meth:`start` does the half here at once (the serial order). When the
    child dies, stalls or sends nothing usable, :meth:`result` does its half here."""

    def __init__(self, sdtm: dict[str, pd.DataFrame], settings: AdamSettings,
                 half: Callable[[AdslStage], _Half], names: list[str], folder: Path, *,
                 fork: bool) -> None:
        self._half = half
        self._names, self._folder = names, folder
        self._done: _Half | None = None
        self._peer: ForkedPeer | None = None
        self._asked = self._gone = False
        self._memory = -1
        if not fork:
            return
        try:
            self._memory = os.memfd_create("cdiscmap-adsl", os.MFD_CLOEXEC)
        except OSError:             # no memory file: the half is done here (start)
            return
        memory = self._memory

        def work(channel: PeerChannel) -> None:
            read_ahead(sdtm, names, settings)
            size = channel.recv()
            if not isinstance(size, int):
                return                              # the parent stopped before ADSL
            data = bytearray()
            while len(data) < size:
                chunk = os.pread(memory, size - len(data), len(data))
                if not chunk:
                    return
                data += chunk
            stage = adsl_only_stage(sdtm, settings, pickle.loads(data))
            channel.send(_LastAlive(last_alive_of(stage, names)))   # first: the parent waits
            channel.send(half(stage))

        try:
            self._peer = ForkedPeer(work)
        except OSError:             # no process to fork (EAGAIN, ENOMEM): the half is done here
            self.close()

    def start(self, stage: AdslStage) -> None:
        """Give the child ADSL (as derived so far: LSTALVDT may still be missing, which no
        dataset of the child's needs); without a child, do its half here."""
        if self._peer is None:
            self._done = self._half(stage)
            return
        data = memoryview(pickle.dumps(stage.adsl.adsl, protocol=pickle.HIGHEST_PROTOCOL))
        done = 0
        try:
            while done < len(data):
                done += os.pwrite(self._memory, data[done:], done)
        except OSError:                         # no room for ADSL: result() does the half here
            self.close()
            return
        with contextlib.suppress(OSError):     # a child gone already: result() does its half
            self._peer.send(len(data))

    @property
    def forked(self) -> bool:
        """Whether a child is doing the half (else :meth:`start` did it here)."""
        return self._peer is not None and self._done is None

    def last_alive(self) -> LastAliveParts | None:
        """The LSTALVDT sources the child computed (:func:`cdiscmap.adam.last_alive_of`, its
        first message), or None: no child, none computed, or the child is gone (then
        :meth:`result` does its half here)."""
        if self._peer is None or self._done is not None or self._asked:
            return None
        self._asked = True
        reply = self._peer.recv()
        if isinstance(reply, _LastAlive):
            return reply.parts
        self._gone = True
        return None

    def result(self, stage: AdslStage) -> _Half:
        """The child's half; done here when the child did not deliver it (its temporary files
        are then removed first)."""
        if self._done is not None:
            return self._done
        reply = self._peer.recv() if self._peer is not None and not self._gone else None
        if isinstance(reply, _LastAlive):   # not asked for (LSTALVDT was not deferred)
            reply = self._peer.recv() if self._peer is not None else None
        if isinstance(reply, _Half):
            return reply
        self.close()
        _drop_temporaries(self._folder, self._names)    # a killed child's leftovers
        return self._half(stage)

    def close(self) -> None:
        """Stop the child (if any) and free ADSL's memory file."""
        if self._peer is not None:
            self._peer.close()
            self._peer = None
        if self._memory >= 0:
            os.close(self._memory)
            self._memory = -1

    def __enter__(self) -> _ChildHalf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drop_temporaries(folder: Path, names: list[str]) -> None:
    """Temporary files a killed child may have left while writing ``names`` (atomic_open's
    ``.<file>.*.tmp``), so they are not published."""
    for name in names:
        for path in folder.glob(f".{name.lower()}.xpt.*.tmp"):
            path.unlink(missing_ok=True)


def run_adam_command(sdtm_dir: Path, study_dir: Path, out_dir: Path | None,
                     progress: Progress = SILENT) -> AdamOutcome:
    """``cdiscmap adam``: read any SDTM folder, derive, check, write ADaM and findings."""
    from cdiscmap.checks.read import read_sdtm
    from cdiscmap.emit.report import findings_summary, write_findings
    from cdiscmap.emit.timestamp import output_timestamp
    from cdiscmap.standards import load_standards

    progress.stage("Loading specs and settings")
    standards = load_standards()
    settings = load_adam_settings(study_dir)   # bad settings stop before any SDTM is read
    progress.stage("Reading SDTM")
    sdtm = read_sdtm(sdtm_dir, lazy=True)     # only the datasets used are read
    target = out_dir or sdtm_dir.parent / "adam"
    created = output_timestamp(study_dir)
    progress.stage("Deriving ADaM")
    findings = Findings()
    # The child writes its datasets into the staging folder, so it exists before the
    # derivations; a serial run derives before it makes the folder, so its errors come first,
    # and a failed derivation leaves no folder behind (not even a parent it had to make).
    made = _missing_parents(target)
    staging = Staging(target)
    try:
        stage = staging.__enter__()
    except Exception:
        derive_and_check(sdtm, study_dir, standards, Findings(), settings)
        raise
    try:       # all files complete before any old one is replaced
        # the reader's factorisation of each SDTM text column is kept (read_sdtm's folder,
        # codes_cache), so the derivations and the RECIST engine (text_facts, coded) hash
        # no column it read: as `cdiscmap run` derives ADaM from the columns it mapped
        with codes_cache(), facts_cache():
            result, checks, records = _derive_check_write(sdtm, settings, standards,
                                                          stage.folder, created, FORKED,
                                                          progress)
        findings.extend(result.findings)
        findings.extend(checks)
        write_findings(stage.folder, findings)
        stage.publish(_adam_owned, shared=True)
    except BaseException:
        staging.__exit__(None, None, None)
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()           # only if empty: nothing else was put there meanwhile
        raise
    staging.__exit__(None, None, None)
    keep_until_exit(sdtm, result)       # the process leaves without freeing them
    return AdamOutcome(folder=target,
                       records={target / f"{name.lower()}.xpt": n for name, n in records.items()},
                       findings=findings, counts=findings_summary(findings))


def _missing_parents(target: Path) -> list[Path]:
    """The folders above ``target`` that do not exist yet, deepest first (Staging makes them)."""
    missing = []
    folder = target.resolve().parent
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


_ADAM_FILES = frozenset({"findings.csv", "findings.json",
                         *(f"{name.lower()}.xpt" for name in ADAM_ORDER)})


def _adam_owned(name: str) -> bool:
    """Files ``cdiscmap adam`` writes into its folder: replaced, or removed when stale (an
    ADaM dataset this derivation no longer makes). Anything else there is left alone."""
    return name in _ADAM_FILES
