"""The journal at its boundaries (mutation round, ``scripts/mutation.sh journal``): every column
written is read back as written, the group commit's due time and record count at exactly the
limit and just under it, the session's default name, ``since`` and ``limit`` of the reader,
retention by age at exactly the cutoff, and the refusals' whole messages. Expected values are
written out here (the rows, the clock), never read from the journal's own code.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from edgekit.errors import UsageError
from edgekit.runtime.journal import Journal, JournalWriteFailed, ResultRow, check_journal, read_journal
from edgekit.runtime.settings import JournalSettings


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


FULL = ResultRow(at=1000.5, capture_id=7, device_timestamp_us=123456, status="ok", label="tone",
                 label_index=2, confidence=0.75, score=-1.25, source="model", model="onnx-fp32",
                 reason="why", detail="more", overrun=True, predicted="tone", latency_ms=3.5,
                 preprocess_ms=0.25, inference_ms=1.5, context={"precision": 0.875, "n": 40})
BARE = ResultRow(at=1001.0, capture_id=8, device_timestamp_us=None, status="unknown", label="unknown",
                 label_index=None, confidence=0.5, score=None, source="fallback", model=None,
                 reason=None, detail=None, overrun=False, predicted=None, latency_ms=None,
                 preprocess_ms=None, inference_ms=None)


def _journal(tmp: Path, **settings) -> tuple[Journal, Clock]:
    clock = Clock()
    return Journal(tmp / "j.sqlite", JournalSettings(**settings), session="s1", clock=clock,
                   wall=lambda: 2000.0), clock


def test_every_column_reads_back_as_written(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    j.add_result(FULL, "a")
    j.add_result(BARE, "b")
    assert j.commit() == ["a", "b"]
    j.close()
    got = read_journal(tmp_path / "j.sqlite", tables=("results",))
    assert list(got) == ["results"]
    first, second = got["results"]
    assert {k: v for k, v in first.items() if k != "id"} == {
        "at": 1000.5, "session": "s1", "capture_id": 7, "device_timestamp_us": 123456, "status": "ok",
        "label": "tone", "label_index": 2, "confidence": 0.75, "score": -1.25, "source": "model",
        "model": "onnx-fp32", "reason": "why", "detail": "more", "overrun": True, "predicted": "tone",
        "latency_ms": 3.5, "preprocess_ms": 0.25, "inference_ms": 1.5,
        "context": {"precision": 0.875, "n": 40},
    }
    assert {k: v for k, v in second.items() if k != "id"} == {
        "at": 1001.0, "session": "s1", "capture_id": 8, "device_timestamp_us": None, "status": "unknown",
        "label": "unknown", "label_index": None, "confidence": 0.5, "score": None, "source": "fallback",
        "model": None, "reason": None, "detail": None, "overrun": False, "predicted": None,
        "latency_ms": None, "preprocess_ms": None, "inference_ms": None, "context": None,
    }
    assert first["overrun"] is True and second["overrun"] is False
    assert second["id"] == first["id"] + 1


def test_a_lone_result_commits_on_its_own(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    j.add_result(BARE, "only")
    assert j.commit() == ["only"]
    assert (j.stats.commits, j.stats.results, j.stats.records_per_commit) == (1, 1, [1])
    assert j.commit() == []  # nothing open: no commit counted
    assert j.stats.commits == 1
    j.close()
    assert [r["capture_id"] for r in read_journal(tmp_path / "j.sqlite")["results"]] == [8]


def test_events_read_back_with_level_and_data(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    j.add_event("link", "lost", level="warning", port="/dev/ttyACM0", tries=3)
    j.add_event("drift", "plain")
    assert j.commit() == []  # events carry no tokens
    assert (j.stats.events, j.stats.results, j.stats.records_per_commit) == (2, 0, [2])
    j.close()
    ev = read_journal(tmp_path / "j.sqlite", tables=("events",))["events"]
    assert [(e["at"], e["session"], e["kind"], e["level"], e["message"], e["data"]) for e in ev] == [
        (2000.0, "s1", "link", "warning", "lost", {"port": "/dev/ttyACM0", "tries": 3}),
        (2000.0, "s1", "drift", "info", "plain", None),
    ]


def test_due_by_age_at_exactly_the_interval(tmp_path: Path) -> None:
    j, clock = _journal(tmp_path, commit_interval_ms=250.0, commit_max_records=10)
    assert j.seconds_until_due() is None and j.commit_if_due() == []
    j.add_result(BARE, 1)
    assert j.seconds_until_due() == 0.25
    clock.t = 100.125
    assert j.seconds_until_due() == 0.125 and j.commit_if_due() == []
    clock.t = 100.25  # exactly the interval: due
    assert j.seconds_until_due() == 0.0 and j.commit_if_due() == [1]
    assert j.seconds_until_due() is None
    j.add_result(BARE, 2)  # the next group's age counts from its own first record
    assert j.seconds_until_due() == 0.25
    clock.t = 200.0  # long overdue: never negative
    assert j.seconds_until_due() == 0.0
    j.close()


def test_due_by_count_at_exactly_the_limit(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path, commit_interval_ms=1000.0, commit_max_records=3)
    j.add_result(BARE, 1)
    j.add_event("e", "m")  # events count towards the limit too
    assert j.seconds_until_due() == 1.0 and j.commit_if_due() == []
    j.add_result(BARE, 2)
    assert j.seconds_until_due() == 0.0 and j.commit_if_due() == [1, 2]
    assert j.stats.records_per_commit == [3]
    j.close()


def test_an_event_opens_the_group_clock(tmp_path: Path) -> None:
    j, clock = _journal(tmp_path, commit_interval_ms=100.0)
    j.add_event("e", "m")
    clock.t = 100.05
    j.add_result(BARE, 1)  # joins the group the event opened at 100.0
    assert j.seconds_until_due() == pytest.approx(0.05, abs=1e-12)
    j.close()


def test_drained_commits_a_burst_at_once_and_an_interval_group_only_when_due(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    burst, _ = _journal(tmp_path / "b")
    burst.add_result(BARE, 1)
    assert burst.drained() == [1]
    burst.close()
    j, clock = _journal(tmp_path, group="interval", commit_interval_ms=100.0)
    j.add_result(BARE, 2)
    assert j.drained() == []
    clock.t = 100.1
    assert j.drained() == [2]
    j.close()


def test_the_default_session_names_the_start_time_and_process(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite", JournalSettings(), clock=Clock(), wall=lambda: 1234.9)
    assert j.session == f"1234-{os.getpid()}"
    j.close()


def test_synchronous_follows_the_settings(tmp_path: Path) -> None:
    for mode, code in (("FULL", 2), ("normal", 1)):
        j = Journal(tmp_path / f"{mode}.sqlite", JournalSettings(synchronous=mode), clock=Clock())
        assert j._db.execute("PRAGMA synchronous").fetchone()[0] == code
        j.close()


def test_read_since_is_inclusive_and_limit_keeps_the_oldest(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    for i, at in enumerate((10.0, 20.0, 30.0)):
        j.add_result(BARE._replace(at=at, capture_id=i), i)
    j.commit()
    j.close()
    p = tmp_path / "j.sqlite"
    ids = lambda **kw: [r["capture_id"] for r in read_journal(p, tables=("results",), **kw)["results"]]  # noqa: E731
    assert ids() == [0, 1, 2]
    assert ids(since=20.0) == [1, 2]
    assert ids(since=20.000001) == [2]
    assert ids(limit=2) == [0, 1]
    assert ids(since=15.0, limit=1) == [1]
    assert ids(limit=None) == [0, 1, 2]


def test_retention_by_age_keeps_a_row_exactly_at_the_cutoff(tmp_path: Path) -> None:
    # wall 2000 s, max age 1e-3 days = 86.4 s: cutoff 1913.6; rows at 1913.5, 1913.6, 1913.7
    j, clock = _journal(tmp_path, max_age_days=0.001)
    for i, at in enumerate((1913.5, 1913.6, 1913.7)):
        j.add_result(BARE._replace(at=at, capture_id=i), i)
    j.commit()
    # the session has run longer than the age limit, so its own rows are judged by age too
    # (younger sessions keep theirs whatever the wall clock says: test_journal_clock)
    clock.t += 86.4 + 1.0
    assert j.enforce_retention() == 1
    assert j.stats.retention_deleted == 1
    assert j.enforce_retention() == 0  # nothing older left
    j.close()
    assert [r["capture_id"] for r in read_journal(tmp_path / "j.sqlite")["results"]] == [1, 2]


def test_retention_commits_what_is_pending_first(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    j.add_result(BARE, "t")
    assert j.enforce_retention() == 0
    assert j.stats.results == 1 and j.seconds_until_due() is None
    j.close()


def test_check_journal_counts_results_and_events(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    j.add_result(BARE, 1)
    j.add_result(FULL, 2)
    j.add_event("e", "m")
    j.commit()
    j.close()
    assert check_journal(tmp_path / "j.sqlite") == ("ok", 2, 1)


def test_close_commits_and_checkpoints(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    j.add_result(BARE, 1)
    j.close()
    wal = tmp_path / "j.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # everything is in the database file
    db = sqlite3.connect(tmp_path / "j.sqlite")
    try:
        assert db.execute("SELECT capture_id FROM results").fetchall() == [(8,)]
    finally:
        db.close()


def test_refusals_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    with pytest.raises(UsageError) as e:
        read_journal(missing)
    assert str(e.value) == f"{missing}: no such journal"
    deep = tmp_path / "no" / "j.sqlite"
    with pytest.raises(UsageError) as e:
        Journal(deep, JournalSettings(), clock=Clock())
    assert str(e.value) == (f"journal {deep}: folder {deep.parent} does not exist; create it, or name "
                            "another journal with --journal or runtime.journal.path")
    folder = tmp_path / "d.sqlite"
    folder.mkdir()
    with pytest.raises(UsageError) as e:
        Journal(folder, JournalSettings(), clock=Clock())
    assert str(e.value) == f"journal {folder}: not a file"
    with pytest.raises(UsageError) as e:
        check_journal(missing)
    assert str(e.value) == f"{missing}: no such journal"


def test_event_data_that_json_cannot_write_is_written_as_text(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    j.add_event("link", "opened", port=Path("/dev/ttyACM0"))
    j.close()
    (ev,) = read_journal(tmp_path / "j.sqlite", tables=("events",))["events"]
    assert ev["data"] == {"port": "/dev/ttyACM0"}


def test_event_data_with_nan_is_refused_not_written_as_invalid_json(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    with pytest.raises(ValueError):
        j.add_event("drift", "psi", psi=float("nan"))
    j.close()


def test_retention_by_age_one_day_at_the_cutoff(tmp_path: Path) -> None:
    # wall 200000 s, 1 day: cutoff 113600; 113599.5 goes, 113600 stays
    clock = Clock()
    j = Journal(tmp_path / "j.sqlite", JournalSettings(max_age_days=1.0), session="s", clock=clock,
                wall=lambda: 200000.0)
    for i, at in enumerate((113599.5, 113600.0)):
        j.add_result(BARE._replace(at=at, capture_id=i), i)
    j.add_event("e", "m")  # at 200000: stays
    j.commit()
    clock.t += 86400.0 + 1.0  # the session is older than the limit: its rows are judged by age
    assert j.enforce_retention() == 1
    j.close()
    got = read_journal(tmp_path / "j.sqlite")
    assert [r["capture_id"] for r in got["results"]] == [1] and len(got["events"]) == 1


def _used_bytes(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * db.execute("PRAGMA page_size").fetchone()[0])
    finally:
        db.close()


def _filled(tmp: Path, n: int) -> Path:
    j, _ = _journal(tmp)
    for i in range(n):
        j.add_result(BARE._replace(capture_id=i, detail="x" * 200), i)
        j.add_event("e", "m", i=i)
    j.commit()
    j.close()
    return tmp / "j.sqlite"


def test_retention_by_size_at_exactly_the_limit_deletes_nothing(tmp_path: Path) -> None:
    path = _filled(tmp_path, 60)
    used = _used_bytes(path)
    j = Journal(path, JournalSettings(max_bytes=used), session="s", clock=Clock(), wall=lambda: 2000.0)
    assert j.enforce_retention() == 0
    j.close()
    assert len(read_journal(path)["results"]) == 60


def test_retention_by_size_under_any_size_deletes_every_row_and_counts_them(tmp_path: Path) -> None:
    # 1 byte: no number of rows fits; every row goes, a tenth at a time, and the loop ends when
    # nothing is left to delete (the schema's own pages stay above the limit)
    path = _filled(tmp_path, 30)
    j = Journal(path, JournalSettings(max_bytes=1), session="s", clock=Clock(), wall=lambda: 2000.0)
    assert j.enforce_retention() == 60  # 30 results and 30 events, over several passes
    assert j.stats.retention_deleted == 60
    j.add_result(BARE, "again")
    j.add_event("e", "m")
    j.commit()
    assert j.enforce_retention() == 2
    assert j.stats.retention_deleted == 62  # counted over both calls
    j.close()
    got = read_journal(path)
    assert got == {"results": [], "events": []}


def test_commit_counters_add_up_over_commits(tmp_path: Path) -> None:
    import time

    j, _ = _journal(tmp_path)
    j.add_result(BARE, 1)
    j.commit()
    j.add_result(BARE, 2)
    j.add_result(BARE, 3)
    t0 = time.perf_counter()
    j.commit()
    wall = time.perf_counter() - t0
    st = j.stats
    assert (st.commits, st.results, st.records_per_commit) == (2, 3, [1, 2])
    # structure, not speed: the last commit's time lies within the call, the total holds both
    assert 0.0 < st.last_commit_s <= wall
    assert st.commit_s_max >= st.last_commit_s and st.commit_s_total > st.last_commit_s
    assert st.commit_s_total <= 2 * st.commit_s_max
    j.close()


def test_an_empty_context_is_stored_as_none_and_nan_is_refused(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    j.add_result(BARE._replace(context={}), 1)
    with pytest.raises(ValueError):
        j.add_result(BARE._replace(context={"precision": float("nan")}), 2)
    assert j.commit() == [1]
    j.close()
    (r,) = read_journal(tmp_path / "j.sqlite")["results"]
    assert r["context"] is None


def test_an_empty_file_at_the_path_becomes_a_journal(tmp_path: Path) -> None:
    # what `touch` leaves (or a crash right after creating the file): size 0 is a new journal
    (tmp_path / "j.sqlite").write_bytes(b"")
    j, _ = _journal(tmp_path)
    j.add_result(BARE, 1)
    j.close()
    assert check_journal(tmp_path / "j.sqlite") == ("ok", 1, 0)
    db = sqlite3.connect(tmp_path / "j.sqlite")
    try:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [("1",)]
    finally:
        db.close()


def test_a_journal_of_ours_without_tables_is_unreadable_not_a_traceback(tmp_path: Path) -> None:
    from edgekit.runtime.journal import APPLICATION_ID

    path = tmp_path / "j.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
    db.execute("CREATE TABLE other (x)")
    db.commit()
    db.close()
    with pytest.raises(UsageError) as e:
        read_journal(path)
    assert str(e.value) == f"journal {path}: unreadable (no such table: results)"


def test_the_writer_may_be_used_from_another_thread(tmp_path: Path) -> None:
    import threading

    j, _ = _journal(tmp_path)
    out: list = []
    t = threading.Thread(target=lambda: (j.add_result(BARE, "x"), out.append(j.commit())))
    t.start()
    t.join()
    assert out == [["x"]]
    j.close()


def test_a_journal_written_before_results_carried_context_gains_the_column(tmp_path: Path) -> None:
    from edgekit.runtime.journal import APPLICATION_ID

    path = tmp_path / "j.sqlite"
    old = Journal(path, JournalSettings(), session="s", clock=Clock(), wall=lambda: 2000.0)
    old.add_result(BARE, 1)
    old.close()
    db = sqlite3.connect(path)  # as an older edgekit left it: no context column
    db.execute("ALTER TABLE results DROP COLUMN context")
    db.commit()
    assert "context" not in {r[1] for r in db.execute("PRAGMA table_info(results)")}
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    db.close()
    j = Journal(path, JournalSettings(), session="s", clock=Clock(), wall=lambda: 2000.0)
    j.add_result(FULL, 2)
    j.close()
    got = read_journal(path)["results"]
    assert [r["context"] for r in got] == [None, {"precision": 0.875, "n": 40}]


def test_a_failed_commit_leaves_no_transaction_holding_the_write_lock(tmp_path: Path) -> None:
    # the second row breaks NOT NULL mid-group: nothing is announced, and the group's open
    # transaction is rolled back, so another writer is not locked out
    j, _ = _journal(tmp_path)
    j.add_result(BARE, "good")
    j.add_result(BARE._replace(status=None), "bad")  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        j.commit()
    other = sqlite3.connect(tmp_path / "j.sqlite", timeout=0.2, isolation_level=None)
    try:
        other.execute("INSERT INTO meta (key, value) VALUES ('probe', 'x')")  # needs the write lock
        assert other.execute("SELECT count(*) FROM results").fetchone()[0] == 0
    finally:
        other.close()
    j._rows, j._pending = [], []  # drop the broken group so close() has nothing to retry
    j.close()


# -- third round after the group-drop change: refused commits, the writer's lock, the session ----
def test_a_commit_into_a_deleted_file_drops_and_books_its_group_twice_over(tmp_path: Path) -> None:
    # two refused commits: the exception carries the path, reason, tokens and event count; the
    # counters add up over both (2 + 1 results, 1 + 0 events); nothing stays pending after a drop
    j, _ = _journal(tmp_path, commit_max_records=2)
    path = tmp_path / "j.sqlite"
    j.add_result(FULL, "a")
    j.add_event("x", "m")
    j.add_result(BARE, "b")
    path.unlink()
    with pytest.raises(JournalWriteFailed) as got:
        j.commit()
    e = got.value
    assert str(e) == f"journal {path}: commit failed (the journal file is gone: No such file or directory)"
    assert (e.path, e.reason, e.tokens, e.events) == (
        path, "the journal file is gone: No such file or directory", ["a", "b"], 1)
    assert (j.stats.failed_commits, j.stats.results_dropped, j.stats.events_dropped) == (1, 2, 1)
    assert j.seconds_until_due() is None and j.commit() == []
    j.add_result(FULL, "c")  # one record of two allowed: due after the interval, not at once
    assert j.seconds_until_due() == pytest.approx(0.02)
    with pytest.raises(JournalWriteFailed) as again:
        j.commit()
    assert (again.value.tokens, again.value.events) == (["c"], 0)
    assert (j.stats.failed_commits, j.stats.results_dropped, j.stats.events_dropped) == (2, 3, 1)
    j._db.close()
    os.close(j._lock_fd)


def test_a_commit_into_a_replaced_file_is_refused_with_its_reason(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    path = tmp_path / "j.sqlite"
    other = tmp_path / "other"
    other.write_bytes(path.read_bytes())
    os.replace(other, path)
    j.add_result(FULL, "a")
    with pytest.raises(JournalWriteFailed) as got:
        j.commit()
    assert got.value.reason == "the journal file was replaced by another file"
    j.add_result(BARE, "b")  # close commits what is pending: refused too, and said so after closing
    with pytest.raises(JournalWriteFailed) as at_close:
        j.close()
    assert at_close.value.tokens == ["b"]


def _storage_refuses_writes(j: Journal) -> None:
    """The storage refusing writes (what a read-only remount does), at SQLite's own switch."""
    j._db.execute("PRAGMA query_only=ON")


def test_a_storage_refusal_is_an_environment_failure_with_sqlites_words(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    _storage_refuses_writes(j)
    j.add_result(FULL, "a")
    j.add_result(BARE, "b")
    with pytest.raises(JournalWriteFailed) as got:
        j.commit()
    assert got.value.reason == "attempt to write a readonly database"
    assert got.value.tokens == ["a", "b"]
    j._db.execute("PRAGMA query_only=OFF")
    j.close()


def test_a_retention_the_storage_refuses_is_booked_and_releases_the_write_lock(tmp_path: Path) -> None:
    _old_rows(tmp_path)  # another session's row at 1000.5, before the cutoff 2000 - 864 s = 1136
    j, _ = _journal(tmp_path, max_age_days=0.01)
    _storage_refuses_writes(j)
    with pytest.raises(JournalWriteFailed) as got:
        j.enforce_retention()
    assert got.value.reason == "retention: attempt to write a readonly database"
    other = sqlite3.connect(tmp_path / "j.sqlite", timeout=0.2, isolation_level=None)
    try:
        other.execute("INSERT INTO meta (key, value) VALUES ('probe', 'x')")  # needs the write lock
    finally:
        other.close()
    j._db.execute("PRAGMA query_only=OFF")
    j.close()


def test_a_second_writer_is_refused_in_one_line_and_the_first_lock_is_private(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    path = tmp_path / "j.sqlite"
    assert os.get_inheritable(j._lock_fd) is False  # O_CLOEXEC: a child process holds no lock
    saved = os.dup(1)
    try:
        with pytest.raises(UsageError) as got:
            Journal(path, JournalSettings(), session="s2")
        assert str(got.value) == (
            f"journal {path}: in use by another writer (another edgekit run?); "
            "give each daemon its own --journal"
        )
        os.fstat(1)  # the refused writer closed only its own descriptors (not stdout)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    j.close()


def test_closing_twice_closes_no_other_descriptor(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    j.close()
    saved = os.dup(1)
    try:
        j.close()
        os.fstat(1)
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def test_a_file_shorter_than_the_sqlite_header_is_named_so(tmp_path: Path) -> None:
    # SQLite itself refuses files of 2..100 bytes ("file is not a database", checked by hand for
    # zero and non-zero bytes); a 1-byte file opens, and is refused here by its size
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"x")
    with pytest.raises(UsageError) as got:
        Journal(path, JournalSettings(), session="s1")
    assert str(got.value) == (f"journal {path}: 1 bytes, shorter than an SQLite header (100 bytes): "
                              "truncated or not a journal; move it aside to start a new one")


def _old_rows(tmp: Path) -> None:
    """A row of an earlier session "s0" and, in session "s1", a row whose wall time is as old
    (the wall clock stepped): both before the cutoff of 2000 - 864 s."""
    j0 = Journal(tmp / "j.sqlite", JournalSettings(), session="s0", wall=lambda: 2000.0)
    j0.add_result(FULL._replace(capture_id=1), "old")
    j0.commit()
    j0.close()


@pytest.mark.parametrize(("uptime_s", "left"), [(814.0, [7]), (864.0, [])])
def test_retention_spares_a_young_sessions_own_rows_until_it_is_as_old_as_the_limit(
    tmp_path: Path, uptime_s: float, left: list[int]
) -> None:
    # max age 0.01 day = 864 s; the session started at clock 100: 814 s later its own row (at
    # 1000.5 by a stepped wall clock) is spared, at exactly 864 s it goes like the others
    _old_rows(tmp_path)
    j, clock = _journal(tmp_path, max_age_days=0.01)
    j.add_result(FULL, "a")
    j.commit()
    clock.t = 100.0 + uptime_s
    assert j.enforce_retention() == 2 - len(left)
    j.close()
    assert [r["capture_id"] for r in read_journal(tmp_path / "j.sqlite")["results"]] == left


def test_the_event_counter_adds_up_over_commits(tmp_path: Path) -> None:
    j, _ = _journal(tmp_path)
    j.add_event("a", "one")
    j.add_event("b", "two")
    j.commit()
    j.add_event("c", "three")
    j.commit()
    assert j.stats.events == 3
    j.close()
