"""Output folders that cannot destroy data: who owns a folder, a lock, one atomic swap, cleanup.

``edgekit build`` and ``edgekit bench`` write a folder (``out/NAME``, ``bench-out``) that a later
run replaces. The rules:

- **Ownership.** ``--out`` must be a new path, an empty folder, or a folder edgekit wrote: it
  holds ``.edgekit-output``, a JSON marker naming the command (``build`` / ``bench``) and every
  entry edgekit put there. A folder with any entry the marker does not list (a user's note, a
  config, a model), a file, a symlink, or a folder that is or contains one of the run's inputs
  (config, model, data, bundle) is refused with one line before any work starts.
- **Lock.** Beside the output lives its store, ``.NAME.edgekit/`` (marker ``.edgekit-store``).
  An exclusive ``flock`` on the store is held for the whole run, so a second run into the same
  folder is refused at once with the holder's pid; the kernel drops the lock when a process dies.
- **Atomic publish.** A run writes into ``.NAME.edgekit/run-ID/new/`` and scratch files into
  ``run-ID/tmp/``. At the end the marker is written and ``new`` is swapped with ``out/NAME`` by
  one ``renameat2(RENAME_EXCHANGE)``: readers see the whole previous output or the whole new one,
  never a mix and never nothing. The previous output lands in the run folder, is checked against
  its own marker once more (a file dropped into it meanwhile keeps it alive, reported) and removed.
- **Leftovers.** A run killed at any moment leaves at most its ``run-ID`` folder; the next run,
  under the lock, removes those that carry the run marker. Where ``RENAME_EXCHANGE`` is missing
  (not Linux, or a file system without it) the swap is two renames through ``run-ID/old``, and
  the next run restores ``old`` when a kill fell between them.

Why a real folder swapped by ``RENAME_EXCHANGE`` rather than ``out/NAME`` as a symlink to a
build kept elsewhere: users and tools copy, tar, rsync and upload ``out/NAME``; a symlink there
is copied as a link (``cp -r``, ``tar``, artifact uploaders that skip hidden folders) and arrives
dangling on the Pi. A real folder keeps every path (``out/NAME/report.md``, ``bundle/``,
``NAME.bundle.tar.gz``) a plain file, and the exchange is still a single atomic step. The cost,
one persistent hidden sibling per output holding the lock, is stated in the README.
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
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError

__all__ = [
    "MARKER",
    "STORE_MARKER",
    "OutputFolder",
    "check_name",
    "check_output",
    "open_output",
    "store_path",
]

MARKER = ".edgekit-output"
"""The file inside an output folder that proves edgekit wrote it and lists what it wrote."""
STORE_MARKER = ".edgekit-store"
_RUN_MARKER = ".edgekit-run"
_RUN_NAME = re.compile(r"^run-[0-9TZ]+-\d+-[0-9a-f]+$")
_LEGACY = re.compile(r"^\.(?P<name>.+)\.(?:old|partial)-\d+$")  # edgekit < 0.2 left these
_ACCEPTED = "accepted: a new path, an empty folder, or a folder edgekit wrote (it holds .edgekit-output)"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100

Log = Callable[[str], None]
Protected = Iterable[tuple[str, str | os.PathLike[str]]]


def check_name(value: str, what: str) -> str:
    """``value`` if it can be one path component (a folder or file name), else a ``UsageError``.

    Names such as ``model.name`` become ``out/NAME`` and ``NAME.bundle.tar.gz``: a separator,
    ``..`` or NUL there would write outside the output folder or wipe its parent.
    """
    bad = [c for c, label in (("/", "'/'"), ("\\", "'\\'"), ("\0", "NUL")) if c in value]
    if not value.strip() or value.strip() in (".", "..") or bad:
        raise UsageError(
            f"{what}: {value!r} cannot name a folder; accepted: a plain name without '/', '\\' "
            "or NUL, not '.', '..' or blank"
        )
    return value


def store_path(target: Path) -> Path:
    """The hidden sibling that holds the lock and the runs of ``target``."""
    return target.parent / f".{target.name}.edgekit"


def _target(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute with its parent's symlinks resolved (the last part is judged as is)."""
    p = Path(path)
    # "." and ".." name the folder itself; otherwise the last part may be a symlink to judge
    p = p.resolve() if p.name in ("", ".", "..") else p.parent.resolve() / p.name
    if p.name == "":
        raise UsageError(f"output folder {path}: the root folder cannot be an output; {_ACCEPTED}")
    return p


def _refuse(shown: str, why: str, *, owned_rule: bool = True) -> UsageError:
    """One line naming the folder and why; the ownership rule is recalled where it applies."""
    return UsageError(f"output folder {shown}: {why}" + (f"; {_ACCEPTED}" if owned_rule else ""))


def _entries(folder: Path) -> list[str]:
    """Every entry under ``folder`` relative to it, folders with a trailing '/', sorted."""
    out: list[str] = []

    def walk(d: Path, prefix: str) -> None:
        with os.scandir(d) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    out.append(prefix + e.name + "/")
                    walk(Path(e.path), prefix + e.name + "/")
                else:
                    out.append(prefix + e.name)

    walk(folder, "")
    return sorted(x for x in out if x != MARKER)


def _read_marker(path: Path) -> dict[str, Any] | None:
    """The output marker at ``path`` if it is one edgekit wrote, else None."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > (16 << 20):
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("edgekit_output") != 1:
        return None
    if not isinstance(data.get("entries"), list) or not isinstance(data.get("kind"), str):
        return None
    return data


def _foreign(folder: Path, marker: dict[str, Any]) -> list[str]:
    """Entries of ``folder`` its marker does not list (what edgekit did not write)."""
    listed = set(marker["entries"])
    return [e for e in _entries(folder) if e not in listed]


def _inspect(target: Path, kind: str, shown: str) -> str:
    """``"absent"``, ``"empty"`` or ``"owned"`` (an output of ``kind`` edgekit wrote); else refuse."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return "absent"
    except OSError as e:
        raise _refuse(shown, f"cannot be examined ({e.strerror})") from e
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(shown, "is a symlink (edgekit replaces only folders it wrote)")
    if not stat.S_ISDIR(st.st_mode):
        raise _refuse(shown, "is a file, not a folder")
    try:
        names = sorted(os.listdir(target))
    except OSError as e:
        raise _refuse(shown, f"cannot be listed ({e.strerror})") from e
    if not names:
        return "empty"
    marker = _read_marker(target / MARKER)
    if marker is None:
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        raise _refuse(shown, f"holds {', '.join(names[:3])}{more} and no {MARKER}: edgekit did not write it")
    if marker["kind"] != kind:
        raise _refuse(shown, f"was written by `edgekit {marker['kind']}`, not `edgekit {kind}`")
    try:
        foreign = _foreign(target, marker)
    except OSError as e:
        raise _refuse(shown, f"cannot be listed ({e.strerror})") from e
    if foreign:
        raise _refuse(shown, f"holds {foreign[0]}, which edgekit did not write")
    return "owned"


def _check_protected(target: Path, shown: str, protect: Protected) -> None:
    store = store_path(target)
    for what, p in protect:
        real = Path(p).resolve()
        for folder in (target, store):
            if real == folder or folder in real.parents:
                raise _refuse(shown, f"contains the {what} {p}, which a new output would delete")


def _check_store(store: Path, shown: str) -> None:
    try:
        st = os.lstat(store)
    except FileNotFoundError:
        return
    except OSError as e:
        raise _refuse(shown, f"its store {store} cannot be examined ({e.strerror})") from e
    if not stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
        raise _refuse(shown, f"{store} exists and is not edgekit's store folder")
    if not (store / STORE_MARKER).is_file() and os.listdir(store):
        raise _refuse(shown, f"{store} exists without {STORE_MARKER}: it is not edgekit's")


def check_output(
    path: str | os.PathLike[str], *, kind: str, protect: Protected = ()
) -> Path:
    """Refuse ``path`` as an output folder of ``kind`` unless a run may write it; changes nothing.

    Returns the absolute target. ``protect`` pairs a label with each input of the run (config,
    model, data, bundle): a folder that is or contains one is refused.
    """
    shown = str(path)
    target = _target(path)
    protect = list(protect)
    _check_protected(target, shown, protect)
    _inspect(target, kind, shown)
    _check_store(store_path(target), shown)
    return target


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

    def publish(self) -> None:
        """Replace the output with ``staging`` in one atomic step (once per run)."""
        if self.published:
            raise UsageError(f"output folder {self.shown}: already published by this run")
        _write_new(
            self.staging / MARKER,
            {
                "edgekit_output": 1,
                "kind": self.kind,
                "run": self._run.name,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "note": "written by edgekit; a later run replaces this folder only while it holds "
                "nothing but these entries",
                "entries": _entries(self.staging),
            },
        )
        # Judged again just before the swap: the lock keeps edgekit out, not other programs.
        state = _inspect(self.path, self.kind, self.shown)
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
            raise _refuse(
                self.shown, f"could not be replaced ({e.strerror}); it was left as it was", owned_rule=False
            ) from e
        self.published = True
        _fsync_dir(self.path.parent)


def _holder(store: Path) -> str:
    """`` (pid N)`` for the run that holds the lock, when its run marker says so."""
    with contextlib.suppress(OSError):
        for run in sorted(store.glob("run-*"), reverse=True):
            with contextlib.suppress(OSError, ValueError):
                pid = json.loads((run / _RUN_MARKER).read_text())["pid"]
                return f" (pid {int(pid)})"
    return ""


def _make_store(target: Path, shown: str) -> bool:
    """Create the store (and the output's parent folders) if needed; True if this call made it."""
    store = store_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _refuse(
            shown, f"its folder {target.parent} cannot be created ({e.strerror})", owned_rule=False
        ) from e
    try:
        os.mkdir(store)
        created = True
    except FileExistsError:
        created = False
    except OSError as e:
        raise _refuse(shown, f"{store} cannot be created ({e.strerror})", owned_rule=False) from e
    if not (store / STORE_MARKER).exists():
        _check_store(store, shown)  # only an empty folder may be adopted
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
            raise _refuse(shown, f"{store} cannot be written ({e.strerror})", owned_rule=False) from e
    return created


def _lock(store: Path, shown: str) -> int:
    try:
        fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise _refuse(shown, f"{store} cannot be opened ({e.strerror})", owned_rule=False) from e
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
        marker = _read_marker(run / sub / MARKER)
        if marker is not None:
            try:
                foreign = _foreign(run / sub, marker)
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
    if not os.path.lexists(target) and _read_marker(old / MARKER) is not None:
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
    removed on every way out. Call :meth:`OutputFolder.publish` to make the output appear.
    """
    say = log or (lambda _m: None)
    shown = str(path)
    protect = list(protect)
    target = check_output(path, kind=kind, protect=protect)
    created = _make_store(target, shown)
    store = store_path(target)
    fd = _lock(store, shown)
    run: Path | None = None
    try:
        try:
            check_output(path, kind=kind, protect=protect)  # again, now that we hold the lock
        except UsageError:
            if created:  # leave no trace of a refused run
                with contextlib.suppress(OSError):
                    (store / STORE_MARKER).unlink()
                    store.rmdir()
            raise
        _clean(store, target, shown, say)
        _report_legacy(target, say)
        try:
            run = _new_run(store)
        except OSError as e:
            raise _refuse(shown, f"{store} cannot be written ({e.strerror})", owned_rule=False) from e
        yield OutputFolder(target, run / "new", run / "tmp", kind, shown, run)
    finally:
        try:
            if run is not None:
                _settle(run, target, shown, say)
        finally:
            os.close(fd)  # releases the lock
