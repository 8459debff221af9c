"""The journal's file removed or replaced under a running daemon, and damaged journals at start.

A writer keeps committing into a deleted file (SQLite holds it open): the records would be
durable nowhere anyone looks, so the daemon must not announce them. It books them instead and
goes on. At start a damaged journal is one line naming it; a garbage WAL or shared-memory file
is what SQLite itself recovers from (the records committed before stay)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from edgekit.errors import UsageError
from edgekit.runtime.journal import Journal, check_journal, read_journal
from edgekit.runtime.jsonlog import StructuredLog
from edgekit.runtime.status import render_status
from tests.runtime.bundles import write_bundle
from tests.runtime.test_daemon_loop import HELLO, scripted_daemon
from tests.runtime.test_journal import row


@pytest.mark.parametrize("how", ["folder_removed", "file_replaced"])
def test_a_journal_removed_under_the_daemon_announces_nothing_more_and_books_every_capture(
    tmp_path, monkeypatch, how
):
    folder = tmp_path / "var"
    folder.mkdir()
    script: list[list[Any]] = [[HELLO], [1], [2], ["pull"], [3], [4, 5], [6]]
    daemon, links = scripted_daemon(folder, monkeypatch, script, write_bundle(tmp_path / "b"))
    log_path = tmp_path / "run.log"
    daemon.log = StructuredLog(stream=log_path.open("w"))  # beside the folder that goes
    journal = folder / "j.sqlite"
    link = links[0]
    poll = link.poll

    def pulling_poll(timeout_s: float) -> list[Any]:
        if link.script and link.script[0] == ["pull"]:
            link.script.pop(0)
            if how == "folder_removed":
                shutil.rmtree(folder)
            else:  # another file where the journal was (a restore, a careless copy)
                journal.rename(tmp_path / "moved.sqlite")
                journal.write_bytes(b"not the daemon's file")
        return poll(timeout_s)

    link.poll = pulling_poll  # type: ignore[method-assign]
    assert daemon.run(should_stop=lambda: not script) == 0
    # RESULTs only for the captures committed before the journal went, each after its commit
    assert link.sent == [(1, True), (2, True)]
    reg = daemon.parts.metrics.registry
    assert reg.get_sample_value("edgekit_results_unjournaled_total") == 4  # captures 3, 4, 5, 6
    snap = daemon.parts.board.snapshot()
    assert snap["counts"]["unjournaled"] == 4
    # commits refused: the one of 3, of [4, 5], of 6, and shutdown's "stop" event
    assert snap["journal"]["failed_commits"] == 4
    assert "FAILED commits 4 (4 captures unanswered" in render_status(snap)
    lines = [json.loads(x) for x in log_path.read_text().splitlines()]
    failed = [x for x in lines if x["event"] == "journal_write_failed"]
    assert len(failed) == 1 and failed[0]["capture_ids"] == [3], failed  # one line per cause
    word = "gone" if how == "folder_removed" else "replaced"
    assert word in failed[0]["msg"] and str(journal) in failed[0]["msg"]
    assert lines[-1]["event"] == "stopped" and lines[-1]["unjournaled"] == 4
    if how == "file_replaced":  # the stranger's file untouched, the daemon's one holds 1 and 2
        assert journal.read_bytes() == b"not the daemon's file"
        moved = read_journal(tmp_path / "moved.sqlite", tables=("results",))["results"]
        assert [r["capture_id"] for r in moved] == [1, 2]


def _journal_with_records(path: Path, n: int = 2000) -> int:
    j = Journal(path)
    for i in range(n):
        j.add_result(row(i), i)
        if i % 100 == 99:
            j.commit()
    j.close()
    return path.stat().st_size


def _garbage(path: Path, offset: int, n: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(os.urandom(n))


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda p, size: os.truncate(p, size // 2), "malformed"),
        (lambda p, size: os.truncate(p, 50), "shorter than an SQLite header"),
        (lambda p, size: _garbage(p, 0, 100), "not an edgekit journal"),
    ],
    ids=["truncated_half", "truncated_header", "garbage_header"],
)
def test_a_damaged_journal_at_start_is_one_line_naming_it(tmp_path, damage, words):
    path = tmp_path / "j.sqlite"
    size = _journal_with_records(path)
    damage(path, size)
    before = path.read_bytes()
    with pytest.raises(UsageError) as e:
        Journal(path)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1 and str(path) in msg and words in msg, msg
    assert path.read_bytes() == before  # refused, not repaired or overwritten


@pytest.mark.parametrize("sidecar", ["-wal", "-shm"])
def test_garbage_wal_or_shm_at_start_is_recovered_and_keeps_every_record(tmp_path, sidecar):
    path = tmp_path / "j.sqlite"
    _journal_with_records(path, 500)
    Path(f"{path}{sidecar}").write_bytes(os.urandom(32768))
    j = Journal(path)
    j.add_result(row(10_000), "new")
    assert j.commit() == ["new"]
    j.close()
    assert check_journal(path) == ("ok", 501, 0)
