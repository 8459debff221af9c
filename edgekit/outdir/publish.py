"""A run's output folder: the store beside it, the lock, the atomic swap, leftovers of dead runs.

See ``edgekit.outdir`` for the design. Layout, for ``out/NAME``::

    out/.NAME.edgekit/              the store: .edgekit-store, locked with flock for a whole run
        run-STAMP-PID-HEX/          one per run: .edgekit-run (pid), new/ (staging), tmp/ (scratch)
                                    and, after the swap, the previous output (new/ or old/)
    out/NAME/                       the output: .edgekit-output plus what it lists
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError, UsageError
from edgekit.outdir.kept import is_kept, keep_stopped, prune_kept
from edgekit.outdir.ownership import (
    MARKER,
    STORE_MARKER,
    Protected,
    check_output,
    check_store,
    entries,
    foreign_entries,
    inspect_output,
    read_marker,
    refuse,
    store_path,
)

__all__ = ["OutputFolder", "open_output"]

_RUN_MARKER = ".edgekit-run"
_RUN_NAME = re.compile(r"^run-[0-9TZ]+-\d+-[0-9a-f]+$")
_LEGACY = re.compile(r"^\.(?P<name>.+)\.(?:old|partial)-\d+$")  # left by earlier edgekit versions
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100

Log = Callable[[str], None]


def _write_new(path: Path, data: dict[str, Any]) -> None:
    """Create ``path`` (never over an existing file) with ``data`` as JSON in one write."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, (json.dumps(data, indent=1) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _NoExchange(Exception):
    """``renameat2(RENAME_EXCHANGE)`` is not available here."""


def _exchange(a: Path, b: Path) -> None:
    """Swap two existing paths in one step (Linux ``renameat2``)."""
    if not sys.platform.startswith("linux"):
        raise _NoExchange
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError) as e:
        raise _NoExchange from e
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc != 0:
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise _NoExchange
        raise OSError(err, os.strerror(err), str(a), None, str(b))


@dataclass
class OutputFolder:
    """A locked output folder being written: write into ``staging``, then :meth:`publish`.

    ``path`` is where the output appears (``out/NAME``); ``scratch`` is for temporary files of
    the run (profiler inputs, unpacked archives), removed with the run whatever ends it.
    """

    path: Path
    staging: Path
    scratch: Path
    kind: str
    shown: str
    _run: Path
    published: bool = field(default=False)
    _say: Log | None = field(default=None, repr=False)

    @property
    def progress(self) -> Path:
        """The run's progress log (``build.log``): kept with a report if the run stops early."""
        return self._run / f"{self.kind}.log"

    def log(self, line: str) -> None:
        """Print a progress line (through the caller's log) and append it to :attr:`progress`."""
        if self._say is not None:
            self._say(line)
        with contextlib.suppress(OSError), open(self.progress, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def publish(self) -> None:
        """Replace the output with ``staging`` in one atomic step (once per run)."""
        if self.published:
            raise RuntimeError(f"output folder {self.shown}: already published by this run")
        _write_new(
            self.staging / MARKER,
            {
                "edgekit_output": 1,
                "kind": self.kind,
                "run": self._run.name,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "note": "written by edgekit; a later run replaces this folder only while it holds "
                "nothing but these entries",
                "entries": entries(self.staging),
            },
        )
        # Judged again just before the swap: the lock keeps edgekit out, not other programs.
        state = inspect_output(self.path, self.kind, self.shown)
        try:
            if state == "absent":
                os.rename(self.staging, self.path)  # fails if a non-empty folder or a file appeared
            else:
                try:
                    _exchange(self.staging, self.path)
                except _NoExchange:
                    parked = self._run / "old"
                    os.rename(self.path, parked)  # a kill from here on: the next run restores it
                    try:
                        os.rename(self.staging, self.path)
                    except OSError:
                        os.rename(parked, self.path)
                        raise
        except OSError as e:
            raise refuse(
                self.shown, f"could not be replaced ({e.strerror}); it was left as it was", owned_rule=False
            ) from e
        self.published = True
        _fsync_dir(self.path.parent)


def _holder(store: Path) -> str:
    """`` (pid N)`` for the run that holds the lock, when its run marker says so."""
    with contextlib.suppress(OSError):
        for run in sorted(store.glob("run-*"), reverse=True):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                pid = json.loads((run / _RUN_MARKER).read_text())["pid"]
                return f" (pid {int(pid)})"
    return ""


def _make_store(target: Path, shown: str) -> bool:
    """Create the store (and the output's parent folders) if needed; True if this call made it."""
    store = store_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise refuse(
            shown, f"its folder {target.parent} cannot be created ({e.strerror})", owned_rule=False
        ) from e
    try:
        os.mkdir(store)
        created = True
    except FileExistsError:
        created = False
    except OSError as e:
        raise refuse(shown, f"{store} cannot be created ({e.strerror})", owned_rule=False) from e
    if not (store / STORE_MARKER).exists():
        check_store(store, shown)  # only an empty folder may be adopted
        try:
            _write_new(
                store / STORE_MARKER,
                {
                    "edgekit_store": 1,
                    "for": target.name,
                    "note": "edgekit's lock and work space for the output folder beside it",
                },
            )
        except FileExistsError:
            pass  # a concurrent run wrote it first
        except OSError as e:
            raise refuse(shown, f"{store} cannot be written ({e.strerror})", owned_rule=False) from e
    return created


def _lock(store: Path, shown: str) -> int:
    try:
        fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise refuse(shown, f"{store} cannot be opened ({e.strerror})", owned_rule=False) from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UsageError(
            f"output folder {shown}: in use by another edgekit run{_holder(store)}; wait for it "
            "to end or choose another output folder (--out)"
        ) from None
    return fd


def _remove_run(run: Path, say: Log) -> bool:
    """Remove a run folder, unless an output parked in it holds entries edgekit did not write."""
    for sub in ("new", "old"):
        marker = read_marker(run / sub / MARKER)
        if marker is not None:
            try:
                foreign = foreign_entries(run / sub, marker)
            except OSError:
                foreign = ["(unlistable)"]
            if foreign:
                say(f"note: kept {run / sub}: it holds {foreign[0]}, which edgekit did not write")
                return False
    shutil.rmtree(run, ignore_errors=True)
    if os.path.lexists(run):
        say(f"note: could not remove all of {run}; the next run tries again")
        return False
    return True


def _settle(run: Path, target: Path, shown: str, say: Log) -> bool:
    """Put back an output parked in ``run`` if the output is missing, then remove ``run``."""
    old = run / "old"
    if not os.path.lexists(target) and read_marker(old / MARKER) is not None:
        try:
            os.rename(old, target)  # a run died between the two renames of the fallback swap
        except OSError as e:
            say(f"note: could not restore {shown} from {old} ({e.strerror}); it is kept there")
            return False
        say(f"restored output folder {shown} from an interrupted run")
    return _remove_run(run, say)


def _clean(store: Path, target: Path, shown: str, say: Log) -> None:
    """Under the lock: restore an output a dead run had parked, remove what dead runs left."""
    removed = 0
    for entry in sorted(os.scandir(store), key=lambda e: e.name):
        if entry.name == STORE_MARKER:
            continue
        run = Path(entry.path)
        ours = (
            _RUN_NAME.match(entry.name) is not None
            and entry.is_dir(follow_symlinks=False)
            and ((run / _RUN_MARKER).is_file() or not os.listdir(run))
        )
        if is_kept(run):
            continue  # logs of a stopped run, kept on purpose (edgekit.outdir.kept)
        if not ours:
            say(f"note: left {run} alone: not a run folder edgekit made")
            continue
        removed += _settle(run, target, shown, say)
    if removed:
        say(f"removed {removed} leftover run folder(s) of interrupted runs from {store}")


def _report_legacy(target: Path, say: Log) -> None:
    """Name leftovers of older edgekit versions: they carry no marker, so they are not removed."""
    with contextlib.suppress(OSError):
        for p in sorted(target.parent.iterdir()):
            m = _LEGACY.match(p.name)
            if m and m.group("name") == target.name:
                say(
                    f"note: {p} was left by an older edgekit; it has no marker, so it is not "
                    "removed: check it and delete it by hand"
                )


def _new_run(store: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run = store / f"run-{stamp}-{os.getpid()}-{secrets.token_hex(3)}"
    os.mkdir(run)
    _write_new(
        run / _RUN_MARKER,
        {"edgekit_run": 1, "pid": os.getpid(), "started_at": datetime.now(UTC).isoformat()},
    )
    (run / "new").mkdir()
    (run / "tmp").mkdir()
    return run


@contextlib.contextmanager
def open_output(
    path: str | os.PathLike[str],
    *,
    kind: str,
    protect: Protected = (),
    log: Log | None = None,
) -> Iterator[OutputFolder]:
    """Check, lock and prepare the output folder ``path`` for a run of ``kind``.

    Refuses (``UsageError``, nothing changed) before any work when ``path`` is not a new path, an
    empty folder or an output of ``kind`` edgekit wrote, or holds one of ``protect``. The lock is
    held until the block ends; the run folder (staging and scratch, or the replaced output) is
    removed on every way out. A block that ends by a signal or an error other than bad input
    (``EdgekitError`` with exit code 2) before publishing
    first moves its logs and a report into ``STORE/stopped-*/`` (``edgekit.outdir.kept``) and
    says where through ``log``. Print progress through :meth:`OutputFolder.log` so it is kept.
    Call :meth:`OutputFolder.publish` to make the output appear.
    """
    say = log or (lambda _m: None)
    shown = str(path)
    protect = list(protect)
    target = check_output(path, kind=kind, protect=protect)
    store = store_path(target)
    created, fd = _make_and_lock(target, shown)
    run: Path | None = None
    folder: OutputFolder | None = None
    try:
        check_output(path, kind=kind, protect=protect)  # again, now that we hold the lock
        _clean(store, target, shown, say)
        _report_legacy(target, say)
        try:
            run = _new_run(store)
        except OSError as e:
            raise refuse(shown, f"{store} cannot be written ({e.strerror})", owned_rule=False) from e
        folder = OutputFolder(target, run / "new", run / "tmp", kind, shown, run, _say=log)
        yield folder
    except BaseException as e:
        # Bad input (an EdgekitError with exit 2) stays one line and keeps nothing: the line
        # says what to fix. Interruptions, conversion failures and unexpected errors keep logs.
        bad_input = isinstance(e, EdgekitError) and e.exit_code == 2
        if folder is not None and run is not None and not folder.published and not bad_input:
            _keep(store, folder, e, say)
        raise
    finally:
        try:
            if run is not None:
                _settle(run, target, shown, say)
            if created and (folder is None or not folder.published):
                _drop_store(store)  # a first run that published nothing leaves no trace
        finally:
            os.close(fd)  # releases the lock


def _keep(store: Path, folder: OutputFolder, exc: BaseException, say: Log) -> None:
    """Keep the logs of a run that stops without publishing, and say where (never raises)."""
    try:
        dest = keep_stopped(
            store, kind=folder.kind, shown=folder.shown, progress=folder.progress,
            staging=folder.staging, exc=exc, previous=os.path.lexists(folder.path),
        )  # fmt: skip
    except OSError as e:
        say(f"note: the stopped run's logs could not be kept in {store} ({e.strerror})")
        return
    prune_kept(store)
    kept = "unchanged" if os.path.lexists(folder.path) else "not created"
    say(
        f"{folder.kind} stopped; its log and a report of what was done are kept in {dest} "
        f"({folder.kind}.log, report.txt); output folder {folder.shown}: {kept}"
    )


def _make_and_lock(target: Path, shown: str) -> tuple[bool, int]:
    """Create the store if needed and lock it; (whether this run created it, the locked fd)."""
    store = store_path(target)
    for _ in range(3):
        created = _make_store(target, shown)
        fd = _lock(store, shown)
        # A first run that failed removes the store it made; whoever locked that removed folder
        # meanwhile holds a lock on nothing, so it makes the store again.
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(fd), os.lstat(store)):
                return created, fd
        os.close(fd)
    raise refuse(shown, f"{store} vanished three times while being locked", owned_rule=False)


def _drop_store(store: Path) -> None:
    """Remove a store this run created, under its lock, if it holds only its marker."""
    with contextlib.suppress(OSError):
        if os.listdir(store) == [STORE_MARKER]:
            (store / STORE_MARKER).unlink()
            store.rmdir()
