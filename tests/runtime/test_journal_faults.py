"""The journal's storage failing under the daemon, on the real stack (``edgekit emulate`` on a
real pty, ``edgekit run`` in a subprocess, a real SQLite journal on a real file system).

* A disk that fills, then frees, twice, while captures stream: the daemon goes on, announces no
  capture whose record is not durable, books every one it could not journal, and journals each
  outage's totals once it can write again.
* A full or read-only file system at start and a second daemon on the same journal: one line,
  exit 2. (Linux refuses to remount a file system read-only while a file on it is open for
  writing, EBUSY, so "read-only under a running daemon" does not happen short of a kernel's
  emergency remount; a deleted journal is ``test_journal_removed``.)

The tiny file system is a tmpfs (the test mounts one: root or CAP_SYS_ADMIN; elsewhere it skips).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.runtime.journal import Journal, check_journal, read_journal
from tests.runtime.conftest import START_LIMIT_S, Emulator, RunningDaemon, StandInPort

# Captures the emulator sends: at 80 Hz, 12 s, several times what the two outages below need (each
# waits for ~20 captures); the rest is answered normally after them.
COUNT = 960


@pytest.fixture
def tiny_fs(tmp_path: Path):
    """A 16 MiB tmpfs of its own (the journal's WAL alone stays under ~4 MiB)."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "edgekit-test", str(mnt)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(mnt: Path) -> Path:
    """Write zeros into ``mnt/filler`` until the file system is full (ENOSPC)."""
    filler = mnt / "filler"
    block = b"\0" * 65536
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
    return filler


def _remount(mnt: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mnt)], check=True, capture_output=True)


def _log(daemon: RunningDaemon, event: str) -> list[dict]:
    return [line for line in daemon.lines() if line.get("event") == event]


def _status(daemon: RunningDaemon) -> dict:
    return json.loads(daemon.get("/status"))


@pytest.mark.slow
def test_a_disk_that_fills_twice_loses_no_announced_result_and_books_every_capture(
    tmp_path, tiny_fs, cnn_bundle
):
    journal = tiny_fs / "journal.sqlite"
    stand_in = StandInPort(tmp_path / "scanner")
    # the last --journal wins: the journal on the tiny file system, logs and truth elsewhere
    daemon = RunningDaemon(tmp_path, cnn_bundle, stand_in.link, "", "--journal", str(journal))
    daemon.journal = journal
    emu = None
    try:
        try:
            stand_in.wait_opened(daemon)
        finally:
            stand_in.unplug()
        emu = Emulator(
            tmp_path,
            "--rate",
            "80",
            "--count",
            str(COUNT),
            "--linger",
            "3",
            "--seed",
            "7",
            "--power-period-ms",
            "0",
        )

        def unjournaled() -> int:
            return int(_status(daemon)["counts"].get("unjournaled", 0))

        daemon.wait_for(lambda: _status(daemon)["results_total"] >= 40, START_LIMIT_S)
        for outage in (1, 2):
            before = unjournaled()
            # the disk fills: commits fail, captures are booked, the daemon goes on
            filler = _fill(tiny_fs)
            daemon.wait_for(lambda: unjournaled() >= before + 20)  # noqa: B023 (waited here)
            failed = _log(daemon, "journal_write_failed")
            assert len(failed) == outage and "disk is full" in failed[-1]["msg"], failed
            assert str(journal) in failed[-1]["msg"] and failed[-1]["capture_ids"]
            # space comes back: the next commit succeeds and books the outage in the journal
            filler.unlink()
            daemon.wait_for(lambda: len(_log(daemon, "journal_recovered")) == outage)  # noqa: B023
        emu.wait(COUNT / 80 + START_LIMIT_S)  # a liveness bound

        def settled() -> bool:
            s = _status(daemon)
            return s["results_total"] + s["counts"].get("unjournaled", 0) == s["counts"]["captures"]

        daemon.wait_for(settled)
        status = _status(daemon)
    finally:
        if emu is not None:
            emu.stop()
        assert daemon.stop() == 0

    booked = int(status["counts"]["unjournaled"])
    records = read_journal(journal)
    ids = [r["capture_id"] for r in records["results"]]
    assert len(ids) == len(set(ids)) == status["results_total"]
    assert len(ids) + booked == status["counts"]["captures"]
    # the outages' totals are journaled once the journal could write again, to the capture
    recovered = [e for e in records["events"] if e["kind"] == "journal_recovered"]
    assert len(recovered) == 2 and sum(e["data"]["results_lost"] for e in recovered) == booked
    # no RESULT for a capture without a durable record
    stats = emu.stats()
    truth = emu.truth()
    intact = {t["capture_id"] for t in truth if t["fault"] is None}
    received = intact - set(stats["unanswered_ids"])
    assert received <= set(ids)
    # sent = journaled + booked: every intact capture between the first and last that arrived
    # is journaled, or booked unjournaled, or counted lost on the link
    first, last = min(ids), max(ids)
    lost = sum(e["data"]["count"] for e in records["events"] if e["kind"] == "captures_lost")
    missing = [i for i in intact if first <= i <= last and i not in set(ids)]
    assert len(missing) == booked + lost
    # the stop line books the total too
    stopped = _log(daemon, "stopped")
    assert stopped and stopped[-1]["unjournaled"] == booked


def test_a_full_or_read_only_file_system_at_start_is_one_line_and_exit_2(tmp_path, tiny_fs, capsys):
    bundle_dir = tmp_path / "b"
    from tests.runtime.bundles import write_bundle

    bundle = write_bundle(bundle_dir)
    port = StandInPort(tmp_path / "scanner")
    try:
        # an existing journal, then the disk fills: its "start" record cannot be committed,
        # and a new journal cannot even be set up
        Journal(tiny_fs / "old.sqlite").close()
        filler = _fill(tiny_fs)
        cases = [("old.sqlite", "full"), ("new.sqlite", "full"), ("old.sqlite", "readonly")]
        for name, word in cases:
            if word == "readonly":
                filler.unlink()
                _remount(tiny_fs, "ro")
            argv = [
                "run",
                str(bundle),
                "--port",
                str(port.link),
                "--journal",
                str(tiny_fs / name),
                "--metrics-addr",
                "off",
                "--meter",
                "none",
            ]
            assert main(argv) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1, err
            assert str(tiny_fs / name) in err and word in err, err
    finally:
        port.unplug()


def test_a_second_daemon_on_the_same_journal_is_refused_in_one_line(tmp_path, capsys):
    from tests.runtime.bundles import write_bundle

    bundle = write_bundle(tmp_path / "b")
    path = tmp_path / "j.sqlite"
    port = StandInPort(tmp_path / "scanner")
    first = Journal(path)  # the running daemon's writer
    try:
        argv = [
            "run",
            str(bundle),
            "--port",
            str(port.link),
            "--journal",
            str(path),
            "--metrics-addr",
            "off",
            "--meter",
            "none",
        ]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(path) in err and "in use" in err, err
        # the refused one touched nothing: the first writer still commits, readers still read
        first.add_event("note", "still mine")
        first.commit()
        assert [e["kind"] for e in read_journal(path)["events"]] == ["note"]
    finally:
        first.close()
        port.unplug()
    Journal(path).close()  # once the first is gone, the journal can be taken again


@pytest.mark.slow
def test_sigkill_during_a_disk_full_outage_then_a_restart_keeps_every_announced_result(
    tmp_path, tiny_fs, cnn_bundle
):
    journal = tiny_fs / "journal.sqlite"
    stand_in = StandInPort(tmp_path / "scanner")
    first = RunningDaemon(tmp_path, cnn_bundle, stand_in.link, "", "--journal", str(journal))
    first.journal = journal
    emu = second = None
    try:
        try:
            stand_in.wait_opened(first)
        finally:
            stand_in.unplug()
        emu = Emulator(tmp_path, "--rate", "80", "--seed", "11", "--power-period-ms", "0")
        first.wait_for(lambda: _status(first)["results_total"] >= 40, START_LIMIT_S)
        filler = _fill(tiny_fs)
        first.wait_for(lambda: _status(first)["counts"].get("unjournaled", 0) >= 20)
        first.proc.kill()  # SIGKILL in the middle of the outage, commits failing
        first.proc.wait(timeout=10)
        filler.unlink()
        assert check_journal(journal)[0] == "ok"
        kept = len(read_journal(journal, tables=("results",))["results"])
        # a new daemon takes the journal (the lock died with the first) and answers again
        (tmp_path / "second").mkdir()
        second = RunningDaemon(tmp_path / "second", cnn_bundle, emu.link, "", "--journal", str(journal))
        second.journal = journal
        second.wait_for(lambda: _status(second)["results_total"] >= 40, START_LIMIT_S)
    finally:
        if emu is not None:
            emu.stop()
        if second is not None:
            assert second.stop() == 0
    assert check_journal(journal)[0] == "ok"
    ids = [r["capture_id"] for r in read_journal(journal, tables=("results",))["results"]]
    assert len(ids) >= kept + 40 and len(set(ids)) == len(ids)
    # every RESULT the scanner received, from either daemon, has its record
    stats = emu.stats()
    intact = {t["capture_id"] for t in emu.truth() if t["fault"] is None}
    received = intact - set(stats["unanswered_ids"])
    assert stats["scanner"]["results_received"] == len(received) > 80
    assert received <= set(ids), sorted(received - set(ids))[:10]
