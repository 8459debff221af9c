"""The durable journal: results and events in SQLite, WAL mode, committed before announced.

A result goes to the scanner (or metrics, or anything else) only after the transaction holding
its record has committed (``commit`` returns what may now be announced). Records are grouped:
the daemon commits once per batch of input that arrived together, and a transaction is due
(``commit_if_due``) once its oldest record is ``commit_interval_ms`` old or it holds
``commit_max_records``, so a burst pays one fsync and no result waits longer than the interval.
With ``group = "interval"`` a drained input does not end the transaction (``drained``): records
that arrive apart (captures at a few Hz) share a commit made when the oldest is
``commit_interval_ms`` old, fewer fsyncs for up to the interval of added latency.
``synchronous=FULL`` makes a commit durable across power loss (WAL's NORMAL would survive a
process crash but may lose the last commits when the power goes). After ``kill -9`` SQLite
recovers the WAL on the next open; nothing committed is lost.

The file is ours only if its ``PRAGMA application_id`` says so: another SQLite database at the
path is refused, never altered. Retention deletes rows (never the file) by age and by size.
One writer per file: the writer holds an exclusive ``flock`` on the database file (readers do
not take it, and SQLite's own locks are POSIX ``fcntl`` locks, which ``flock`` leaves alone), so
a second ``edgekit run`` on the same journal is refused at start.

A commit the file system refuses (disk full, I/O error, read-only, the file deleted or replaced
under the writer) raises ``JournalWriteFailed`` carrying the group it dropped: none of its
results may be announced, and the caller books them as lost. The writer stays usable: the next
commit tries again (space freed, the file system remounted read-write).
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from edgekit.errors import UsageError
from edgekit.runtime.settings import JournalSettings

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "Journal",
    "JournalStats",
    "JournalWriteFailed",
    "ResultRow",
    "check_journal",
    "read_journal",
]

APPLICATION_ID = 0x45444B4A  # "EDKJ": marks the file as an edgekit journal
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    session TEXT NOT NULL,
    capture_id INTEGER NOT NULL,
    device_timestamp_us INTEGER,
    status TEXT NOT NULL,
    label TEXT NOT NULL,
    label_index INTEGER,
    confidence REAL NOT NULL,
    score REAL,
    source TEXT NOT NULL,
    model TEXT,
    reason TEXT,
    detail TEXT,
    overrun INTEGER NOT NULL,
    predicted TEXT,
    latency_ms REAL,
    preprocess_ms REAL,
    inference_ms REAL,
    context TEXT
);
CREATE INDEX IF NOT EXISTS results_at ON results (at);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    session TEXT NOT NULL,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT
);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
"""

_RESULT_COLUMNS = (
    "at",
    "session",
    "capture_id",
    "device_timestamp_us",
    "status",
    "label",
    "label_index",
    "confidence",
    "score",
    "source",
    "model",
    "reason",
    "detail",
    "overrun",
    "predicted",
    "latency_ms",
    "preprocess_ms",
    "inference_ms",
    "context",
)
_INSERT_RESULT = (
    f"INSERT INTO results ({', '.join(_RESULT_COLUMNS)}) VALUES ({', '.join('?' for _ in _RESULT_COLUMNS)})"
)
_INSERT_EVENT = "INSERT INTO events (at, session, kind, level, message, data) VALUES (?, ?, ?, ?, ?, ?)"


class ResultRow(NamedTuple):
    """One result record, as written (units in the names; ``at`` is Unix time). A tuple: the
    daemon makes one per capture, and a frozen dataclass's ``__init__`` costs a ``setattr``
    per field."""

    at: float
    capture_id: int
    device_timestamp_us: int | None
    status: str
    label: str
    label_index: int | None
    confidence: float
    score: float | None
    source: str
    model: str | None
    reason: str | None
    detail: str | None
    overrun: bool
    predicted: str | None
    latency_ms: float | None
    preprocess_ms: float | None
    inference_ms: float | None
    context: dict[str, Any] | None = None  # validated precision in the capture's condition (JSON)


@dataclass
class JournalStats:
    """Counters of the writer (read by metrics, status and bench)."""

    commits: int = 0
    results: int = 0
    events: int = 0
    commit_s_total: float = 0.0
    commit_s_max: float = 0.0
    last_commit_s: float = 0.0
    retention_deleted: int = 0
    records_per_commit: list[int] = field(default_factory=list)
    failed_commits: int = 0  # commits the file system refused (JournalWriteFailed)
    results_dropped: int = 0  # results of those commits: never announced, booked as lost
    events_dropped: int = 0


class JournalWriteFailed(Exception):
    """A commit the file system refused. ``tokens`` are the results of the dropped group (never
    to be announced), ``events`` how many event records went with them, ``reason`` one line."""

    def __init__(self, path: Path, reason: str, tokens: list[Any], events: int) -> None:
        super().__init__(f"journal {path}: commit failed ({reason})")
        self.path = path
        self.reason = reason
        self.tokens = tokens
        self.events = events


def _environment_failure(e: sqlite3.Error) -> bool:
    """A failure of the storage (full, I/O, read-only, locked, corrupt), not of the caller's
    values: ``OperationalError``, and the bare ``DatabaseError`` SQLite raises for a damaged
    file. A ``ProgrammingError`` (a value SQLite cannot bind) is a bug and propagates as one."""
    return isinstance(e, sqlite3.OperationalError) or type(e) is sqlite3.DatabaseError


class Journal:
    """The writer. ``add_result``/``add_event`` join the open transaction; ``commit`` ends it
    and returns the tokens of the results it made durable, in order."""

    def __init__(
        self,
        path: str | Path,
        settings: JournalSettings | None = None,
        *,
        session: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.settings = s = settings or JournalSettings()
        self.session = session or f"{int(wall())}-{os.getpid()}"
        self.stats = JournalStats()
        self._clock = clock
        self._started = clock()  # this session's records are at most clock() - _started old
        self._wall = wall
        self._db = _open_owned(self.path, create=True)
        self._lock_fd = -1
        try:
            self._lock_fd, self._identity = _lock_writer(self.path)
            self._db.execute(f"PRAGMA synchronous={s.synchronous.upper()}")
        except BaseException:
            self._release()
            raise
        self._pending: list[Any] = []
        self._rows: list[tuple[Any, ...]] = []
        self._events: list[tuple[Any, ...]] = []
        self._pending_records = 0
        self._opened_at: float | None = None
        self._interval_s = s.commit_interval_ms / 1e3
        self._hold = s.group == "interval"

    # -- writing --------------------------------------------------------------------------------
    def add_result(self, row: ResultRow, token: Any = None) -> None:
        """Queue a result record for the open transaction; ``token`` comes back from ``commit``.

        Rows are held here and written by ``commit`` in one ``executemany`` (a lone row as one
        autocommit INSERT: one statement and one fsync instead of BEGIN, INSERT and COMMIT)."""
        if self._opened_at is None:
            self._opened_at = self._clock()
        self._rows.append(
            (
                row.at,
                self.session,
                row.capture_id,
                row.device_timestamp_us,
                row.status,
                row.label,
                row.label_index,
                row.confidence,
                row.score,
                row.source,
                row.model,
                row.reason,
                row.detail,
                int(row.overrun),
                row.predicted,
                row.latency_ms,
                row.preprocess_ms,
                row.inference_ms,
                json.dumps(row.context, allow_nan=False) if row.context else None,
            )
        )
        self._pending.append(token)
        self._pending_records += 1

    def add_event(self, kind: str, message: str, /, *, level: str = "info", **data: Any) -> None:
        """Queue an event record (link, drift, governor, ...) for the open transaction. Held
        here like results and written by ``commit``: nothing touches the file before it, so a
        full disk surfaces in one place, the commit, with the whole group."""
        if self._opened_at is None:
            self._opened_at = self._clock()
        blob = json.dumps(data, default=str, allow_nan=False) if data else None
        self._events.append((self._wall(), self.session, kind, level, message, blob))
        self._pending_records += 1

    def seconds_until_due(self) -> float | None:
        """Time left before the open transaction must commit (None: nothing pending)."""
        if self._opened_at is None:
            return None
        if self._pending_records >= self.settings.commit_max_records:
            return 0.0
        return max(0.0, self._opened_at + self._interval_s - self._clock())

    def commit(self) -> list[Any]:
        """Commit the open transaction (if any); the returned tokens may now be announced."""
        if self._opened_at is None:
            return []
        t0 = time.perf_counter()
        rows, events = self._rows, self._events
        try:
            # the path must still name the file this writer opened: committed into a deleted
            # or replaced file, a result would be durable nowhere anyone will look
            self._check_identity()
            if not events and len(rows) == 1:
                self._db.execute(_INSERT_RESULT, rows[0])  # autocommit: its own durable transaction
            else:
                self._db.execute("BEGIN")
                if events:
                    self._db.executemany(_INSERT_EVENT, events)
                if rows:
                    self._db.executemany(_INSERT_RESULT, rows)
                self._db.execute("COMMIT")
        except BaseException as e:
            # nothing of this group is announced, and a transaction SQLite left open is rolled
            # back so the next commit starts clean
            if self._db.in_transaction:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error) and _environment_failure(e):
                raise self._drop_group(str(e)) from e
            if isinstance(e, _Moved):
                raise self._drop_group(str(e)) from None
            raise  # a bug (or an interrupt): the group stays pending
        self._rows, self._events = [], []
        self.stats.events += len(events)
        took_s = time.perf_counter() - t0
        st = self.stats
        st.commits += 1
        st.commit_s_total += took_s
        st.commit_s_max = max(st.commit_s_max, took_s)
        st.last_commit_s = took_s
        if len(st.records_per_commit) < 100_000:
            st.records_per_commit.append(self._pending_records)
        tokens, self._pending = self._pending, []
        st.results += len(tokens)
        self._pending_records = 0
        self._opened_at = None
        return tokens

    def _drop_group(self, reason: str) -> JournalWriteFailed:
        """Forget the open group after a refused commit; the error that books it."""
        tokens, n_events = self._pending, len(self._events)
        self._pending, self._rows, self._events = [], [], []
        self._pending_records = 0
        self._opened_at = None
        st = self.stats
        st.failed_commits += 1
        st.results_dropped += len(tokens)
        st.events_dropped += n_events
        return JournalWriteFailed(self.path, reason, tokens, n_events)

    def _check_identity(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError as e:
            raise _Moved(f"the journal file is gone: {e.strerror}") from e
        if (st.st_dev, st.st_ino) != self._identity:
            raise _Moved("the journal file was replaced by another file")

    def drained(self) -> list[Any]:
        """The input is drained: ``commit`` now (group "burst"), or only when due ("interval")."""
        return self.commit_if_due() if self._hold else self.commit()

    def commit_if_due(self) -> list[Any]:
        """``commit`` when the open transaction is due, else nothing."""
        due = self.seconds_until_due()
        return self.commit() if due is not None and due <= 0 else []

    def enforce_retention(self) -> int:
        """Delete records older than ``max_age_days`` and, beyond ``max_bytes``, the oldest
        results and events; returns how many rows went. Commits anything pending first."""
        self.commit()
        try:
            return self._retention()
        except sqlite3.Error as e:
            if not _environment_failure(e):
                raise
            if self._db.in_transaction:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise self._drop_group(f"retention: {e}") from e

    def _retention(self) -> int:
        s = self.settings
        max_age_s = s.max_age_days * 86400.0
        cutoff = self._wall() - max_age_s
        # Age is read from the wall clock, which may have stepped since this session wrote
        # (a board without RTC boots in 1970 or at its last shutdown, then NTP steps it): the
        # session's own records are at most its monotonic uptime old, so while that is under
        # the limit none of them goes by age, however old their timestamps look.
        session = self.session if self._clock() - self._started < max_age_s else None
        db = self._db
        deleted = 0
        if _db_bytes(db) <= s.max_bytes and not self._has_older_than(cutoff, session):
            return 0
        db.execute("BEGIN IMMEDIATE")
        try:
            for table in ("results", "events"):
                deleted += db.execute(
                    f"DELETE FROM {table} WHERE at < ? AND session IS NOT ?", (cutoff, session)
                ).rowcount
            # Beyond max_bytes: the oldest rows go, a tenth at a time, until the pages in use
            # are under 90 % of the limit (so retention does not run again at once).
            while _db_bytes(db) > 0.9 * s.max_bytes:
                removed = 0
                for table in ("results", "events"):
                    n = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    removed += db.execute(
                        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id LIMIT ?)",
                        (max(1, n // 10),),
                    ).rowcount
                deleted += removed
                if removed == 0:
                    break
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if deleted:
            db.execute("PRAGMA incremental_vacuum")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.stats.retention_deleted += deleted
        return deleted

    def _has_older_than(self, cutoff: float, session: str | None) -> bool:
        return any(
            self._db.execute(
                f"SELECT 1 FROM {t} WHERE at < ? AND session IS NOT ? LIMIT 1", (cutoff, session)
            ).fetchone()
            for t in ("results", "events")
        )

    def close(self) -> None:
        """Commit what is pending, checkpoint the WAL into the database, close. A commit that
        fails here raises ``JournalWriteFailed`` (after closing) for the caller to book."""
        failed: JournalWriteFailed | None = None
        try:
            self.commit()
        except JournalWriteFailed as e:
            failed = e
        with suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._release()
        if failed is not None:
            raise failed

    def _release(self) -> None:
        """Close SQLite, then the lock's descriptor: closing any descriptor of the file drops
        the process's POSIX locks on it, SQLite's included, so it goes last."""
        self._db.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


class _Moved(Exception):
    """The journal's path no longer names the writer's file."""


def _lock_writer(path: Path) -> tuple[int, tuple[int, int]]:
    """An exclusive ``flock`` on the journal file for this writer (its descriptor, and the
    file's (device, inode) to notice it deleted or replaced later); a second writer is refused."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise UsageError(
                f"journal {path}: in use by another writer (another edgekit run?); "
                "give each daemon its own --journal"
            ) from e
        raise
    st = os.fstat(fd)
    return fd, (st.st_dev, st.st_ino)


def _db_bytes(db: sqlite3.Connection) -> int:
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def _open_owned(path: Path, *, create: bool, read_only: bool = False) -> sqlite3.Connection:
    """Open the journal, refusing a file that is not one (one line naming the path)."""
    if not path.exists() and not create:
        raise UsageError(f"{path}: no such journal")
    if not path.parent.is_dir():
        raise UsageError(f"journal {path}: folder {path.parent} does not exist; create it, or name "
                         "another journal with --journal or runtime.journal.path")
    if path.exists() and not path.is_file():
        raise UsageError(f"journal {path}: not a file")
    try:
        if read_only:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=5000")
        # the first read rolls back a hot rollback journal left by a writer killed mid-creation,
        # so what the file holds is judged after it, not from its size before
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        fresh = _unwritten(db, app_id, path)
    except sqlite3.DatabaseError as e:
        raise UsageError(f"journal {path}: not an edgekit journal ({e})") from e
    if (read_only or not fresh) and app_id != APPLICATION_ID:
        db.close()
        size = path.stat().st_size
        if size < 100:  # shorter than SQLite's header: a journal cut short, or not one at all
            raise UsageError(
                f"journal {path}: {size} bytes, shorter than an SQLite header (100 bytes): truncated "
                "or not a journal; move it aside to start a new one"
            )
        raise UsageError(
            f"journal {path}: an SQLite database of another application (application_id "
            f"{app_id:#x}, expected {APPLICATION_ID:#x}); refusing to touch it"
        )
    if not read_only:
        try:
            if fresh:
                db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only takes effect before the first table
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            _prepare(db, path)
        except BaseException as e:
            db.close()
            if isinstance(e, sqlite3.Error):  # full, read-only, damaged: the operator's to fix
                raise UsageError(f"journal {path}: cannot open for writing ({e})") from e
            raise
    return db


def _unwritten(db: sqlite3.Connection, app_id: int, path: Path) -> bool:
    """True for a database with nothing in it that creating a journal may take: an empty file
    (read after SQLite's recovery, which truncates a creation rolled back), or the one page our
    own creation writes first and alone (``auto_vacuum=INCREMENTAL`` on an empty file commits
    page 1 before the application id is set), with no table and no application id — what a
    writer killed between those two steps leaves. Nothing is lost by taking either; any other
    file without our application id, even one shorter than SQLite's header, is refused."""
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return True
    if size < 100 or app_id != 0:  # shorter than SQLite's header: not ours to take
        return False
    if db.execute("PRAGMA page_count").fetchone()[0] != 1:
        return False
    objects = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    return bool(objects == 0 and db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2)


def _prepare(db: sqlite3.Connection, path: Path) -> None:
    """WAL mode and the schema (a write: a full disk or a damaged header fails here, at start)."""
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise UsageError(f"journal {path}: cannot use WAL mode (got {mode}); is the folder on a local disk?")
    db.executescript(_SCHEMA)
    columns = {r[1] for r in db.execute("PRAGMA table_info(results)")}
    if "context" not in columns:  # a journal written before results carried context
        db.execute("ALTER TABLE results ADD COLUMN context TEXT")
    db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def _rows(
    db: sqlite3.Connection, table: str, since: float | None, limit: int | None
) -> Iterator[dict[str, Any]]:
    cur = db.execute(
        f"SELECT * FROM {table} WHERE at >= ? ORDER BY id" + (" LIMIT ?" if limit else ""),
        (since if since is not None else -math.inf, *((limit,) if limit else ())),
    )
    names = [d[0] for d in cur.description]
    for values in cur:
        row = dict(zip(names, values, strict=True))
        if table == "events" and row.get("data"):
            row["data"] = json.loads(row["data"])
        if table == "results" and row.get("context"):
            row["context"] = json.loads(row["context"])
        if "overrun" in row:
            row["overrun"] = bool(row["overrun"])
        yield row


def read_journal(
    path: str | Path,
    *,
    since: float | None = None,
    tables: Sequence[str] = ("results", "events"),
    limit: int | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Records at or after Unix time ``since``, per table, oldest first (read-only open; a
    journal left by a crash is first recovered by a read-write open, as SQLite requires)."""
    p = Path(path)
    try:
        db = _open_owned(p, create=False, read_only=True)
    except UsageError:
        raise
    except sqlite3.Error:
        db = _open_owned(p, create=False)
    with closing(db):
        try:
            return {t: list(_rows(db, t, since, limit)) for t in tables}
        except sqlite3.OperationalError as e:
            raise UsageError(f"journal {p}: unreadable ({e})") from e


def check_journal(path: str | Path) -> tuple[str, int, int]:
    """(``PRAGMA integrity_check`` answer, results, events) after a normal open (recovering
    the WAL as the daemon would on restart)."""
    db = _open_owned(Path(path), create=False)
    with closing(db):
        ok = db.execute("PRAGMA integrity_check").fetchone()[0]
        n_results = db.execute("SELECT count(*) FROM results").fetchone()[0]
        n_events = db.execute("SELECT count(*) FROM events").fetchone()[0]
    return str(ok), int(n_results), int(n_events)
