"""Durability: the daemon is killed with SIGKILL at random moments, 50 times, against one
emulator; after every kill the journal opens cleanly and holds every result the scanner
received (an announced result is one whose RESULT reached the emulator)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edgekit.emulator import PtyPort, RunOptions, ScannerConfig, VirtualScanner, run
from edgekit.runtime.journal import check_journal, read_journal
from firmware_bridge import Connection, Packet, RemoteProtocolError, Result
from tests.runtime.bundles import write_bundle

REPO = Path(__file__).resolve().parents[2]
KILLS = 50


class RecordingScanner(VirtualScanner):
    """The virtual scanner, plus a list of every RESULT it received whole (its own decoder)."""

    def __init__(self, config: ScannerConfig) -> None:
        super().__init__(config)
        self.announced: list[int] = []
        self._tap = Connection(role="device")

    def receive_data(self, data: bytes, now_us: int):  # type: ignore[no-untyped-def]
        self._tap.receive_data(data)
        while True:
            try:
                event = self._tap.next_event()
            except RemoteProtocolError:
                continue
            if event is None:
                break
            if isinstance(event, Packet) and isinstance(event.message, Result):
                self.announced.append(event.message.capture_id)
        return super().receive_data(data, now_us)


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_an_announced_result(tmp_path):
    bundle = write_bundle(tmp_path / "bundle")
    journal = tmp_path / "journal.sqlite"
    link = tmp_path / "scanner"
    scanner = RecordingScanner(ScannerConfig(seed=31, capture_rate_hz=50.0))
    port = PtyPort(link)
    port.plug()
    done = threading.Event()
    emu = threading.Thread(
        target=run, args=(scanner, port, RunOptions()), kwargs={"should_stop": done.is_set}
    )
    emu.start()
    rng = random.Random(2024)
    kills_during_results = 0
    try:
        for i in range(KILLS):
            before = len(scanner.announced)
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "edgekit",
                    "run",
                    str(bundle),
                    "--port",
                    str(link),
                    "--journal",
                    str(journal),
                    "--metrics-addr",
                    "off",
                    "--meter",
                    "none",
                ],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if i % 4 == 0:  # a quarter of the kills: any moment from the start (loading, handshake)
                time.sleep(rng.uniform(0.05, 2.0))
            else:  # the others while results flow: a random moment after the first new one
                deadline = time.monotonic() + 60
                while len(scanner.announced) == before and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 1.0))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            announced = list(scanner.announced)
            kills_during_results += len(announced) > before
            if not journal.exists():  # killed before it opened its journal: it announced nothing
                assert not announced, f"kill {i}: results announced without a journal"
                continue
            assert check_journal(journal)[0] == "ok", f"kill {i}: journal damaged"
            stored = {r["capture_id"] for r in read_journal(journal, tables=("results",))["results"]}
            missing = sorted(set(announced) - stored)
            assert not missing, f"kill {i}: announced but not journaled: {missing[:10]}"
    finally:
        done.set()
        emu.join(timeout=10)
    assert len(scanner.announced) > 200  # the daemons did answer in between
    assert kills_during_results >= KILLS * 3 // 4 - 1  # most kills hit a streaming daemon
