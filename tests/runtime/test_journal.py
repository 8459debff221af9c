"""The journal: commit before announce, grouping bounded in time, ownership, retention, reading,
and recovery after a process dies without closing it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from edgekit.cli import main
from edgekit.errors import UsageError
from edgekit.runtime.journal import APPLICATION_ID, Journal, ResultRow, check_journal, read_journal
from edgekit.runtime.settings import JournalSettings


def row(capture_id: int, at: float = 1000.0, label: str = "tone") -> ResultRow:
    return ResultRow(
        at=at,
        capture_id=capture_id,
        device_timestamp_us=capture_id * 1000,
        status="ok",
        label=label,
        label_index=1,
        confidence=0.9,
        score=0.9,
        source="model",
        model="v",
        reason=None,
        detail=None,
        overrun=False,
        predicted=label,
        latency_ms=3.0,
        preprocess_ms=0.1,
        inference_ms=0.3,
    )


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def committed_ids(path) -> list[int]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT capture_id FROM results ORDER BY id")]
    finally:
        db.close()


def test_nothing_is_visible_before_commit_and_commit_returns_the_tokens(tmp_path):
    path = tmp_path / "j.sqlite"
    j = Journal(path, JournalSettings(), clock=Clock(), wall=lambda: 1000.0)
    j.add_result(row(1), "a")
    j.add_result(row(2), "b")
    assert committed_ids(path) == []  # another connection sees nothing yet
    assert j.commit() == ["a", "b"]
    assert committed_ids(path) == [1, 2]
    assert j.commit() == []  # nothing pending
    j.close()


def test_group_commit_is_due_by_age_or_by_count(tmp_path):
    clock = Clock()
    j = Journal(
        tmp_path / "j.sqlite", JournalSettings(commit_interval_ms=20, commit_max_records=3), clock=clock
    )
    assert j.seconds_until_due() is None
    j.add_result(row(1), 1)
    assert j.seconds_until_due() == pytest.approx(0.020)
    clock.t = 0.015
    assert j.commit_if_due() == [] and j.seconds_until_due() == pytest.approx(0.005)
    clock.t = 0.020
    assert j.commit_if_due() == [1]
    for i in range(3):
        j.add_result(row(10 + i), i)
    assert j.seconds_until_due() == 0.0  # full
    assert j.commit_if_due() == [0, 1, 2]
    assert j.stats.records_per_commit == [1, 3]
    j.close()


def test_events_are_journaled_with_their_data(tmp_path):
    path = tmp_path / "j.sqlite"
    j = Journal(path, wall=lambda: 50.0)
    j.add_event("drift_detected", "drift", level="warning", kind_of="x", scores={"a": 0.3})
    j.commit()
    j.close()
    events = read_journal(path)["events"]
    assert events[0]["kind"] == "drift_detected" and events[0]["data"] == {
        "kind_of": "x",
        "scores": {"a": 0.3},
    }


def test_a_foreign_sqlite_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(UsageError, match="another application") as info:
        Journal(path)
    assert "\n" not in str(info.value)
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, not sqlite" * 10)
    with pytest.raises(UsageError, match="not an edgekit journal"):
        Journal(path)
    assert path.read_text().startswith("hello")


def test_the_file_is_marked_as_ours_and_in_wal_mode(tmp_path):
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_retention_by_age_deletes_old_rows_only(tmp_path):
    now = [100 * 86400.0]
    earlier = Journal(tmp_path / "j.sqlite", session="earlier")  # rows of a past session
    earlier.add_result(row(1, at=now[0] - 3 * 86400))
    earlier.add_result(row(2, at=now[0] - 1 * 86400))
    earlier.commit()
    earlier.close()
    j = Journal(tmp_path / "j.sqlite", JournalSettings(max_age_days=2), wall=lambda: now[0])
    assert j.enforce_retention() == 1
    assert committed_ids(tmp_path / "j.sqlite") == [2]
    j.close()


def test_retention_by_size_keeps_the_newest(tmp_path):
    path = tmp_path / "j.sqlite"
    j = Journal(path, JournalSettings(max_bytes=64 * 1024), wall=lambda: 1000.0)
    for i in range(3000):
        j.add_result(row(i, label="x" * 40))
    j.commit()
    deleted = j.enforce_retention()
    ids = committed_ids(path)
    j.close()
    assert deleted > 0 and ids and ids[-1] == 2999  # the newest stay
    assert ids == list(range(3000 - len(ids), 3000))  # the oldest went, in order
    db = sqlite3.connect(path)
    used = db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]
    assert used * db.execute("PRAGMA page_size").fetchone()[0] <= 64 * 1024
    db.close()


def test_read_since_filters_by_time(tmp_path):
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    j.add_result(row(1, at=100.0))
    j.add_result(row(2, at=200.0))
    j.commit()
    j.close()
    assert [r["capture_id"] for r in read_journal(path, since=150.0)["results"]] == [2]


def test_commits_survive_a_process_that_dies_without_closing(tmp_path):
    path = tmp_path / "j.sqlite"
    code = textwrap.dedent(f"""
        import os
        from edgekit.runtime.journal import Journal, ResultRow
        j = Journal({str(path)!r})
        def row(i):
            return ResultRow(1.0, i, None, "ok", "a", 0, 0.5, None, "model", "v", None, None,
                             False, "a", 1.0, 0.1, 0.1)
        for i in range(5):
            j.add_result(row(i))
        j.commit()
        j.add_result(row(99))  # never committed
        os._exit(0)
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    assert check_journal(path) == ("ok", 5, 0)
    assert committed_ids(path) == [0, 1, 2, 3, 4]


def test_journal_command_prints_records_and_refuses_bad_since(tmp_path, capsys):
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    j.add_result(row(7, at=1_700_000_000.0))
    j.add_event("start", "started")
    j.commit()
    j.close()
    assert main(["journal", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"capture_id": 7' in out and '"kind": "start"' in out
    assert main(["journal", str(path), "--since", "yesterday"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--since" in err
    assert main(["journal", str(tmp_path / "missing.sqlite")]) == 2


def test_a_group_with_events_and_results_commits_together_and_a_failed_commit_announces_nothing(
    tmp_path,
):
    path = tmp_path / "j.sqlite"
    j = Journal(path, JournalSettings(), clock=Clock(), wall=lambda: 1000.0)
    # a lone result: written at the commit, as one transaction
    j.add_result(row(1), "a")
    assert committed_ids(path) == []
    assert j.commit() == ["a"] and committed_ids(path) == [1]
    # an event and two results: one transaction holding all three
    j.add_event("link_down", "lost")
    j.add_result(row(2), "b")
    j.add_result(row(3), "c")
    assert committed_ids(path) == [1]
    assert j.commit() == ["b", "c"]
    assert committed_ids(path) == [1, 2, 3]
    assert [e["kind"] for e in read_journal(path)["events"]] == ["link_down"]
    # a row SQLite cannot store: the commit raises, nothing of the group is announced or written
    bad = row(4)._replace(label=object())
    j.add_event("note", "in the failing group")
    j.add_result(bad, "d")
    with pytest.raises(sqlite3.Error):
        j.commit()
    assert committed_ids(path) == [1, 2, 3]
    assert [e["kind"] for e in read_journal(path)["events"]] == ["link_down"]
    j._db.close()
