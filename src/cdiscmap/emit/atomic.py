"""Atomic outputs: every file cdiscmap writes, and every folder of files it publishes.

Files. :func:`atomic_write_bytes`, :func:`atomic_write_text` and :func:`atomic_open` write under
a unique temporary name in the target's own folder (``tempfile.mkstemp``: two writers never
share a temporary), fsync it, then ``os.replace`` it onto the target, so a reader sees the old
file or the whole new one, never half a file. On any error, KeyboardInterrupt and SIGTERM
included, the temporary is removed. OSErrors become one-line :class:`OutputError` messages
naming the path and the reason ("permission denied", "no space left on device", "is a
directory"). A file in a staging folder (below) is written in place instead: nobody reads it
before the folder is published whole.

Folders. A package (``<out>/<STUDYID>/``) or an output folder is built complete in a sibling
staging folder ``.<name>.staging-<pid>-<random>`` (same parent, so the same file system and
renames are cheap) and then published by :meth:`Staging.publish`:

* The switch is ``renameat2(..., RENAME_EXCHANGE)`` (Linux >= 3.15, called through ctypes): it
  swaps the old and new folders in one atomic step, so at no instant is there no package or a
  mix, and a crash at any point leaves either the old or the new package complete. Where the
  call or the file system does not support it (other systems, some network file systems), the
  fallback is rename old -> ``.<name>.old-<pid>-<random>``, rename new -> final, delete the old
  one; a crash between the two renames leaves no package for an instant, and the next run puts
  the old one back (:func:`recover`). We prefer the exchange because only it has no such
  window; the fallback keeps cdiscmap working everywhere else.
* Entries of the old folder that the command does not write (the demo's ``raw/`` and
  ``truth/`` input, a ``validation/`` report, a user's notes) are carried into the new folder
  by rename before the switch (never copied: raw exports can be large), so nothing is lost. A
  journal in the staging folder lists them first; if the run then fails or is killed, they are
  moved back. Entries of the old folder that the command owns (its datasets and reports) are
  replaced, and stale ones dropped, only by a successful switch.
* Folders that may hold other tools' files (``cdiscmap adam --out``, ``validate --out``) are
  switched only when they hold nothing but this command's files; otherwise the staged files
  are moved in one by one after all of them are fully written, old files kept as hard links
  (or renames) in the staging folder so that a failure half-way puts every old file back,
  and stale datasets of the same kind are removed only on success.

SIGINT and SIGTERM are deferred (``pthread_sigmask``) during the few renames of a switch and
during clean-up, so they cannot split a switch; they then unwind as usual (exit 130/143).
Staging folders left by a killed run (SIGKILL, power loss) are removed by the next run that
publishes the same folder: only names of this exact pattern, only in that parent, and only
when their process is gone (PID in the name, and the ``flock`` on the lock file inside is
free) -- carried entries found in them are first moved back.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from cdiscmap.errors import OutputError, display_path

__all__ = ["Staging", "atomic_open", "atomic_write_bytes", "atomic_write_many", "atomic_write_text",
           "exchange", "fsync_all",
           "output_error", "recover"]

LOCK_NAME = ".cdiscmap-staging.lock"
JOURNAL_NAME = ".cdiscmap-carried.json"
BACKUP_NAME = ".cdiscmap-backup"
MARKERS = frozenset({LOCK_NAME, JOURNAL_NAME, BACKUP_NAME})

_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "is a directory",
    errno.ENOTDIR: "a folder on the path is a file",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "folder does not exist",
    errno.ENAMETOOLONG: "name too long",
    errno.EXDEV: "on another file system",
    errno.ENOTEMPTY: "folder not empty",
}


def output_error(path: Path | str, exc: OSError, action: str = "write") -> OutputError:
    """A one-line OutputError for ``exc``: what could not be done to which path, and why."""
    reason = _REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
    return OutputError(f"could not {action} {display_path(path)}: {reason}")


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask would)."""
    with suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ============================================================================================
# Files
# ============================================================================================
@contextmanager
def atomic_open(path: Path | str, mode: str = "wb", *, encoding: str | None = None,
                newline: str | None = None, parents: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary beside ``path`` for streamed writing; on a clean exit it replaces
    ``path`` (fsynced first), on any exception it is removed and ``path`` is untouched. In a
    staging folder ``path`` itself is written, and removed on any exception (see
    :data:`_DEFERRED`).

    The folder must exist unless ``parents`` (a missing output folder is usually a typo)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes only ('w' or 'wb'), not {mode!r}")
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"could not write {display_path(target)}: is a directory")
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    staged_mode = _staged_mode(target)
    if staged_mode is not None:             # written in place: see _DEFERRED
        fd = _open_in_place(target, staged_mode, parents)
        with _removed_on_error(target, target), \
                os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
        return
    try:
        if parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise output_error(target, exc) from exc
    temporary = Path(name)
    with _removed_on_error(temporary, target):
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())     # mkstemp makes 0600; outputs are shared data
        os.replace(temporary, target)


@contextmanager
def _removed_on_error(written: Path, target: Path) -> Iterator[None]:
    """On any exception (KeyboardInterrupt and SIGTERM's included) the file being written,
    ``written``, is removed; an OSError becomes an :class:`OutputError` naming ``target``."""
    try:
        yield
    except BaseException as exc:
        with suppress(OSError):
            written.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise output_error(target, exc) from exc
        raise


def _open_in_place(target: Path, mode: int, parents: bool) -> int:
    """A file descriptor of ``target`` itself, created or truncated, with permissions
    ``mode``, for a file in a staging folder (see :data:`_DEFERRED`)."""
    try:
        if parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_CLOEXEC, 0o600)
    except OSError as exc:
        raise output_error(target, exc) from exc
    try:
        os.fchmod(fd, mode)
    except OSError as exc:
        os.close(fd)
        with suppress(OSError):
            target.unlink(missing_ok=True)
        raise output_error(target, exc) from exc
    return fd


def _write_in_place(target: Path, mode: int, data: bytes) -> None:
    """``data`` into ``target`` in a staging folder (see :data:`_DEFERRED`), its parent
    folders made; the file is removed on any error."""
    fd = _open_in_place(target, mode, parents=True)
    with _removed_on_error(target, target), os.fdopen(fd, "wb") as handle:
        handle.write(data)


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def atomic_write_bytes(path: Path | str, data: bytes, *, parents: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`); returns the path."""
    with atomic_open(path, "wb", parents=parents) as handle:
        handle.write(data)
    return Path(path)


def atomic_write_many(folder: Path | str, outputs: Mapping[str, bytes]) -> list[Path]:
    """Write many files under ``folder`` (bytes by relative path), each replaced atomically
    as by :func:`atomic_write_bytes`; returns their paths in the order given.

    Why not one :func:`atomic_write_bytes` per file: each waits for its own fsync before the
    next file is written, so 40 small report files cost 40 disk round trips one after the
    other. Here every temporary is written first, then all are fsynced together
    (:func:`fsync_all`) and only then renamed, so no file is replaced before every file's
    data is on disk. On any error every temporary is removed and no target has been replaced
    yet if the error came before the renames. In a staging folder each file is written in
    place instead, and fsynced when the folder is published (see :data:`_DEFERRED`)."""
    base = Path(folder)
    temporaries: list[tuple[Path, Path]] = []
    try:
        for rel, data in outputs.items():
            target = base / rel
            if target.is_dir():
                raise OutputError(f"could not write {display_path(target)}: is a directory")
            staged_mode = _staged_mode(target)
            if staged_mode is not None:
                _write_in_place(target, staged_mode, data)
                continue
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                            dir=target.parent)
            except OSError as exc:
                raise output_error(target, exc) from exc
            temporaries.append((Path(name), target))
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            except OSError as exc:
                raise output_error(target, exc) from exc
        mode = 0o666 & ~_umask()        # mkstemp makes 0600; outputs are shared data
        fsync_all([t for t, _ in temporaries], [target for _, target in temporaries])
        for temporary, target in temporaries:
            try:
                os.chmod(temporary, mode)
            except OSError as exc:
                raise output_error(target, exc) from exc
        while temporaries:
            temporary, target = temporaries[0]
            try:
                os.replace(temporary, target)
            except OSError as exc:
                raise output_error(target, exc) from exc
            temporaries.pop(0)
        return [base / rel for rel in outputs]
    finally:
        for temporary, _ in temporaries:
            with suppress(OSError):
                temporary.unlink(missing_ok=True)


def atomic_write_text(path: Path | str, text: str, *, encoding: str = "utf-8",
                      newline: str = "\n", parents: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically; ``\\n`` is kept as is (no platform newlines)."""
    with atomic_open(path, "w", encoding=encoding, newline=newline, parents=parents) as handle:
        handle.write(text)
    return Path(path)


def fsync_all(paths: Iterable[Path], named: Iterable[Path] | None = None) -> None:
    """fsync every file of ``paths``, the waits overlapped; OSErrors as :class:`OutputError`
    naming the file's ``named`` path (default: the path itself).

    Why threads: one fsync after another waits for one journal commit and disk flush each
    (ext4 on this VM: 100 files of 50 kB, 230-400 ms one by one); fsyncs issued together are
    committed together by the journal (11-20 ms for the same 100 files). Each thread only
    waits in the kernel, without the GIL."""
    files = list(paths)
    names = list(named) if named is not None else files
    if not files:
        return
    with ThreadPoolExecutor(max_workers=min(_FSYNC_THREADS, len(files))) as pool:
        failures = list(pool.map(_fsync_file, files))
    for failure, name in zip(failures, names, strict=True):
        if failure is not None:
            raise output_error(name, failure) from failure


_FSYNC_THREADS = 8         # 100 files: 4-16 threads alike (21-26 ms), 32 slower (34 ms)


def _fsync_file(path: Path) -> OSError | None:
    """fsync one file by path; the error, if any, is returned (raised by the caller)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return exc
    return None


# ============================================================================================
# Folders
# ============================================================================================
_ACTIVE: set[Path] = set()          # this process's staging folders: never stale
# The staging folders (as absolute path strings) whose files are fsynced when the folder is
# published (Staging.publish, all together) rather than one by one as each is written: a file
# in a staging folder is read by nobody until the switch, and a crash before it leaves a
# staging folder that the next run deletes. A 100-subject run wrote 98 files, one fsync wait
# each (≈ 0.07 s of wall clock on the critical path).
#
# Such a file is also written in place, not under a temporary name renamed onto it: no reader
# can see it half-written (nobody looks into a staging folder; a failure discards the folder
# and the switch publishes whole files only), and the temporary, its random name, the umask
# read from /proc for its chmod and the rename cost ≈ 0.1 CPU-ms and 0.2-0.3 ms of wall clock
# per file (82 files in a run; the report's ≈ 40 are written on its serial tail). The file
# permissions are the same: those the folder's files get (0o666 less the umask read when
# the staging folder was made), set by fchmod as the rename path sets them by chmod.
_DEFERRED: dict[str, int] = {}


def _staged_mode(path: Path) -> int | None:
    """The permissions of files in the staging folder ``path`` lies in (see :data:`_DEFERRED`),
    None when it lies in none."""
    if not _DEFERRED:
        return None
    name = os.path.abspath(path)
    for folder, mode in _DEFERRED.items():
        if name.startswith(folder):
            return mode
    return None


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(name)}\.(staging|old)-(\d+)-[A-Za-z0-9_]+")


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back for a few renames; they are delivered right after."""
    if threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True                 # no safe probe (os.kill would terminate): never "stale"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True                 # exists, owned by someone else
    return True


def _lock_free(lock: Path) -> bool:
    """Whether nobody holds the flock on ``lock`` (a missing lock file counts as free)."""
    try:
        import fcntl
    except ImportError:
        return True
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)                # releases the lock taken just to test it
    return True


def _stale(folder: Path, pid: int) -> bool:
    """A staging folder of a run that is gone: its PID is dead (or is ours, so it belongs to
    an earlier process that had our PID) and its lock is free (a run on another host or PID
    namespace still holds it)."""
    if folder in _ACTIVE:
        return False
    if pid != os.getpid() and _pid_alive(pid):
        return False
    return _lock_free(folder / LOCK_NAME)


def _discard(staging: Path, target: Path) -> bool:
    """Move carried entries back into ``target``, then delete ``staging``.

    Returns False (and deletes nothing) when a carried entry cannot go back: better a
    leftover folder than lost input."""
    journal = staging / JOURNAL_NAME
    keep = False
    if journal.is_file():
        try:
            carried = json.loads(journal.read_text(encoding="utf-8"))["carried"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        for rel in carried:
            source, dest = staging / rel, target / rel
            if not os.path.lexists(source):
                continue
            if os.path.lexists(dest):
                keep = True
                continue
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.rename(source, dest)
            except OSError:
                keep = True
    if keep:
        return False
    shutil.rmtree(staging, ignore_errors=True)
    return True


def recover(target: Path | str) -> None:
    """Clean up after a killed run that was publishing ``target``.

    A ``.old`` folder with no ``target`` means the fallback switch was cut between its two
    renames: the old folder goes back. Stale staging folders give back what they carried and
    are deleted. Nothing else in the parent is looked at."""
    target = Path(target).resolve()
    parent = target.parent
    if not parent.is_dir():
        return
    pattern = _pattern(target.name)
    olds, stagings = [], []
    for entry in sorted(parent.iterdir()):
        match = pattern.fullmatch(entry.name)
        if match is None or entry.is_symlink() or not entry.is_dir():
            continue
        if _stale(entry, int(match[2])):
            (olds if match[1] == "old" else stagings).append(entry)
    for old in olds:
        if os.path.lexists(target):
            shutil.rmtree(old, ignore_errors=True)
        else:
            with suppress(OSError):             # if it cannot go back, it stays where it is
                os.rename(old, target)
    for staging in stagings:
        _discard(staging, target)


def _renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None                 # glibc < 2.28, musl: no wrapper
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP}


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; False when the system cannot do it."""
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_dir(folder: Path) -> None:
    with suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _regular_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and p.relative_to(root).parts[0] not in MARKERS)


class Staging:
    """Build an output folder complete beside ``target``, then publish it in one step.

    Use as a context manager: write into :attr:`folder`, call :meth:`publish` at the end;
    leaving the block by any exception (SIGTERM and Ctrl-C included) removes the staging
    folder and leaves ``target`` as it was."""

    def __init__(self, target: Path | str) -> None:
        self.given = Path(target)
        self.target = self.given.resolve()   # a symlinked package is published where it lives
        self.folder = self.target            # set by __enter__
        self._lock_fd: int | None = None
        self._published = False
        self._deferred = ""                  # set by __enter__: see _DEFERRED

    def __enter__(self) -> Staging:
        parent = self.target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(parent, exc, "create") from exc
        recover(self.target)
        try:
            self.folder = Path(tempfile.mkdtemp(
                prefix=f".{self.target.name}.staging-{os.getpid()}-", dir=parent))
        except OSError as exc:
            raise output_error(parent, exc, "create a staging folder in") from exc
        _ACTIVE.add(self.folder)
        self._deferred = os.path.join(os.path.abspath(self.folder), "")
        _DEFERRED[self._deferred] = 0o666 & ~_umask()
        try:
            self._lock()
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._close()

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:
            return
        try:
            self._lock_fd = os.open(self.folder / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise output_error(self.folder, exc, "lock") from exc

    def _close(self) -> None:
        with _signals_deferred():
            folder = self.folder
            if folder != self.target and os.path.lexists(folder):
                if self._published:
                    shutil.rmtree(folder, ignore_errors=True)    # the old folder, swapped out
                else:
                    _discard(folder, self.target)
            if self._lock_fd is not None:
                with suppress(OSError):
                    os.close(self._lock_fd)
                self._lock_fd = None
            _ACTIVE.discard(folder)
            _ACTIVE.discard(self._old_name())
            _DEFERRED.pop(self._deferred, None)

    def _old_name(self) -> Path:
        suffix = self.folder.name.rsplit("-", 1)[-1]
        return self.target.parent / f".{self.target.name}.old-{os.getpid()}-{suffix}"

    def final(self, path: Path) -> Path:
        """Where a file written into the staging folder will be once published."""
        return self.given / Path(path).relative_to(self.folder)

    # ----------------------------------------------------------------------------------------
    def publish(self, owned: Callable[[str], bool], *, owned_dirs: Iterable[str] = (),
                shared: bool = False) -> list[Path]:
        """Put the staged files in place; returns their final paths.

        ``owned(rel)`` says whether a file at ``rel`` (``name`` or ``dir/name`` for the
        folders in ``owned_dirs``) of the old folder is this command's, to be replaced or
        dropped. Everything else is carried over. With ``shared`` the folder may be shared
        with other tools: it is switched only when it holds nothing but owned files, else
        the files are moved in one by one (see the module docstring)."""
        if self._published:
            raise RuntimeError("already published")
        staged = _regular_files(self.folder)
        written = [self.final(p) for p in staged]
        # every staged file's data on disk before any switch (their fsyncs were deferred);
        # what is written from here on (the carry journal) is fsynced at once again
        fsync_all(staged, written)
        _DEFERRED.pop(self._deferred, None)
        target = self.target
        dirs = set(owned_dirs)
        foreign = _foreign(target, owned, dirs) if target.is_dir() else []
        if os.path.lexists(target) and not target.is_dir():
            raise OutputError(f"could not write {display_path(self.given)}: it is a file, "
                              f"not a folder")
        with _signals_deferred():
            try:
                if shared and foreign:
                    self._publish_files(owned)
                else:
                    self._carry(foreign)
                    self._switch()
            except OSError as exc:
                raise output_error(self.given, exc, "publish") from exc
        return written

    def _carry(self, foreign: list[str]) -> None:
        """Move the old folder's foreign entries into the staging folder (journal first)."""
        if not foreign:
            return
        for rel in foreign:
            if os.path.lexists(self.folder / rel):
                what = "a directory" if (self.target / rel).is_dir() else "not cdiscmap's"
                raise OutputError(f"could not publish {display_path(self.given)}: "
                                  f"{rel} is in the way ({what}); move it elsewhere")
        atomic_write_text(self.folder / JOURNAL_NAME,
                          json.dumps({"carried": foreign}, indent=1) + "\n")
        for rel in foreign:
            dest = self.folder / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.target / rel, dest)

    def _switch(self) -> None:
        target, staging = self.target, self.folder
        mode = target.stat().st_mode & 0o7777 if target.is_dir() else 0o777 & ~_umask()
        os.chmod(staging, mode)                     # mkdtemp makes 0700
        if not os.path.lexists(target):
            os.rename(staging, target)
            self._published = True
            self.folder = target
        elif exchange(staging, target):
            self._published = True                  # staging now holds the old folder
        else:
            old = self._old_name()
            _ACTIVE.add(old)
            os.rename(target, old)
            try:
                os.rename(staging, target)
            except BaseException:
                os.rename(old, target)
                raise
            self._published = True
            self.folder = old
        for marker in (JOURNAL_NAME, LOCK_NAME):
            with suppress(OSError):
                (target / marker).unlink()
        _fsync_dir(target.parent)

    def _publish_files(self, owned: Callable[[str], bool]) -> None:
        """Move staged files into a shared folder one by one, all or nothing."""
        target, staging = self.target, self.folder
        files = [p for p in sorted(staging.iterdir()) if p.is_file() and p.name not in MARKERS]
        names = {p.name for p in files}
        for path in files:
            if (target / path.name).is_dir():
                raise OutputError(f"could not write {display_path(self.given / path.name)}: "
                                  f"is a directory")
        stale = [p for p in sorted(target.iterdir()) if p.name not in names
                 and not p.is_dir() and owned(p.name)]
        backup = staging / BACKUP_NAME
        backup.mkdir()
        done: list[tuple[str, bool]] = []           # (name, had an old file)
        removed: list[str] = []
        try:
            for path in files:
                dest = target / path.name
                had = os.path.lexists(dest)
                if had:
                    try:
                        os.link(dest, backup / path.name, follow_symlinks=False)
                    except OSError:
                        os.rename(dest, backup / path.name)
                done.append((path.name, had))
                os.replace(path, dest)
            for old in stale:
                os.rename(old, backup / old.name)
                removed.append(old.name)
        except BaseException:
            for name in removed:
                with suppress(OSError):
                    os.rename(backup / name, target / name)
            for name, had in reversed(done):
                with suppress(OSError):
                    if had:
                        os.replace(backup / name, target / name)
                    else:
                        (target / name).unlink(missing_ok=True)
            raise
        _fsync_dir(target)


def _foreign(target: Path, owned: Callable[[str], bool], owned_dirs: set[str]) -> list[str]:
    """Entries of an existing output folder that the command does not own (to carry over)."""
    foreign = []
    for entry in sorted(target.iterdir()):
        name = entry.name
        if name in MARKERS:
            continue
        if name in owned_dirs and entry.is_dir() and not entry.is_symlink():
            foreign += [f"{name}/{child.name}" for child in sorted(entry.iterdir())
                        if child.is_dir() or not owned(f"{name}/{child.name}")]
        elif entry.is_dir() or not owned(name):
            foreign.append(name)
    return foreign
