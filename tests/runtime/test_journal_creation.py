"""A writer killed while creating its journal leaves a file the next start takes, and only such a
file: the creation's first write (``auto_vacuum`` on an empty file commits page 1 alone, before the
application id) or a hot rollback journal that rolls back to an empty file. Another application's
database, even an empty one, is still refused."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from edgekit.errors import UsageError
from edgekit.runtime.journal import APPLICATION_ID, Journal, check_journal


def _sqlite(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    for st in statements:
        db.execute(st)
    db.close()


def _app_id(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA application_id").fetchone()[0])
    finally:
        db.close()


def test_the_first_step_of_a_creation_is_taken_and_becomes_a_journal(tmp_path):
    path = tmp_path / "j.sqlite"
    _sqlite(path, "PRAGMA auto_vacuum=INCREMENTAL")  # what a writer killed after its first write leaves
    assert path.stat().st_size == 4096 and _app_id(path) == 0
    Journal(path).close()
    assert _app_id(path) == APPLICATION_ID
    assert check_journal(path) == ("ok", 0, 0)


@pytest.mark.parametrize(
    "statements",
    [
        ("PRAGMA user_version=3",),  # one page, no table, no application id, no incremental vacuum
        ("PRAGMA auto_vacuum=INCREMENTAL", "CREATE TABLE notes (x)"),  # incremental, but has a table
        ("PRAGMA auto_vacuum=INCREMENTAL", "PRAGMA application_id=7"),  # another application's id
    ],
)
def test_another_applications_database_is_refused_even_when_empty(tmp_path, statements):
    path = tmp_path / "j.sqlite"
    _sqlite(path, *statements)
    before = path.read_bytes()
    with pytest.raises(UsageError, match=r"another application|not an edgekit journal"):
        Journal(path)
    assert path.read_bytes() == before  # untouched


def test_a_writer_killed_at_any_moment_of_creation_leaves_a_journal_the_next_start_takes(tmp_path):
    # Fork a writer that creates a journal, kill it a random few milliseconds after it starts
    # (inside the creation's writes for a good share of the runs), and start again on what it
    # left. Before the start judged the file after SQLite's recovery, ~20 % of such starts were
    # refused. Runs go on until 20 writers were stopped mid-commit (a hot rollback journal left)
    # or 600 tries, so a busy host that shifts the timing still exercises the case.
    rng = random.Random(5)
    states: dict[tuple[str, ...], int] = {}
    for i in range(600):
        path = tmp_path / f"j{i}.sqlite"
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: say it starts, create, then wait to be killed
            try:
                os.write(ready_w, b"1")
                Journal(path)
                time.sleep(10)
            finally:
                os._exit(0)
        os.close(ready_w)
        os.read(ready_r, 1)
        os.close(ready_r)
        time.sleep(rng.uniform(0.0, 0.003))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        left = tuple(sorted(p.name[len(path.name):] or "db" for p in tmp_path.glob(f"{path.name}*")))
        states[left] = states.get(left, 0) + 1
        Journal(path).close()  # must not raise
        assert _app_id(path) == APPLICATION_ID
        if states.get(("-journal", "db"), 0) >= 20:
            break
    assert states.get(("-journal", "db"), 0) > 0, states
