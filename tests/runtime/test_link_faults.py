"""Faults of the serial link, on the real stack (``edgekit emulate`` on a real pty, ``edgekit
run`` in a subprocess): the daemon frozen (a stalled SD card, swap, a debugger; SIGSTOP) while
the scanner streams into a pty buffer that fills, then the scanner frozen longer than the
daemon's streaming watchdog; and a port that sends only garbage (another baud rate, line noise)
before a real scanner takes it. Afterwards every capture that arrived is answered once, and
every one that did not is counted lost: captures sent = results journaled + losses counted
(``test_e2e._check_every_arrival_answered``)."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter

import pytest

from tests.runtime.conftest import START_LIMIT_S, Emulator, RunningDaemon, StandInPort, start_daemon_first
from tests.runtime.test_e2e import _arrived, _check_every_arrival_answered

RATE_HZ = 100
COUNT = 600
# How long each side is frozen: the fault itself, not a wait. The daemon's freeze is several
# times what the pty buffer holds at this rate (~16 captures of 4 KiB); the scanner's is longer
# than the watchdog's floor set below, so the daemon must ask it to START again.
FREEZE_S = 1.5
WATCHDOG_S = 0.5


def _results(daemon) -> int:
    return int(json.loads(daemon.get("/status"))["results_total"])


@pytest.mark.slow
def test_a_frozen_daemon_then_a_frozen_scanner_lose_nothing_uncounted(tmp_path, cnn_bundle):
    config = f"[runtime.link]\nstream_timeout_s = {WATCHDOG_S}\n"
    daemon, emu = start_daemon_first(
        tmp_path,
        cnn_bundle,
        config,
        "--rate",
        str(RATE_HZ),
        "--count",
        str(COUNT),
        "--linger",
        "30",  # ends as soon as every capture it sent intact is answered
        "--seed",
        "17",
        "--power-period-ms",
        "0",
    )
    try:
        daemon.wait_for(lambda: _results(daemon) >= 50, START_LIMIT_S)
        # 1. the daemon freezes: the pty fills, the scanner drops whole frames (tx_overflow)
        os.kill(daemon.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(FREEZE_S)
        finally:
            os.kill(daemon.proc.pid, signal.SIGCONT)
        at_thaw = _results(daemon)
        daemon.wait_for(lambda: _results(daemon) >= at_thaw + 50)
        # 2. the scanner freezes longer than the watchdog's floor
        os.kill(emu.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(FREEZE_S)
        finally:
            os.kill(emu.proc.pid, signal.SIGCONT)
        emu.wait(COUNT / RATE_HZ + START_LIMIT_S)  # a liveness bound
        arrived = _arrived(daemon)
    finally:
        emu.stop()
        assert daemon.stop() == 0
    truth = emu.truth()
    faults = Counter(t["fault"] for t in truth)
    assert faults["tx_overflow"] > 0, faults  # the freeze did overflow the scanner's writes
    _check_every_arrival_answered(emu, daemon, arrived)
    # the scanner's silence was noticed: the watchdog asked it to START again
    assert emu.stats()["scanner"]["starts"] >= 2
    # the stream resumed after both freezes: the last captures sent were answered
    results = daemon.results()
    assert max(r["capture_id"] for r in results) >= COUNT - 5


class GarbagePort(StandInPort):
    """A pty at ``link`` whose device end sends random bytes (a scanner at another baud rate,
    line noise): runs with and without 0x00, and runs longer than the largest frame (4177 B)."""

    def __init__(self, link) -> None:
        super().__init__(link)
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _write(self) -> None:
        rng = random.Random(5)
        while not self._stop.is_set():
            chunk = bytearray(rng.randbytes(rng.choice((64, 512, 6000))))
            if rng.random() < 0.3:  # no delimiter at all: the receiver's buffer must resync
                chunk = chunk.replace(b"\0", b"\x55")
            try:
                self.sent += os.write(self._master, chunk)
            except BlockingIOError:
                pass
            except OSError:  # the daemon has not opened the port yet (or closed it)
                pass
            time.sleep(0.005)

    def unplug(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        super().unplug()


@pytest.mark.slow
def test_garbage_on_the_port_is_counted_and_a_real_scanner_after_it_is_answered(tmp_path, cnn_bundle):
    port = GarbagePort(tmp_path / "scanner")
    daemon = RunningDaemon(tmp_path, cnn_bundle, port.link, "")
    emu = None
    try:
        try:
            port.wait_opened(daemon)
            port.start()

            def errors() -> int:
                return sum(json.loads(daemon.get("/status"))["link_errors"].values())

            daemon.wait_for(lambda: errors() >= 200 and port.sent >= 500_000)
        finally:
            port.unplug()
        status = json.loads(daemon.get("/status"))
        assert status["counts"].get("captures", 0) == 0 and status["results_total"] == 0
        emu = Emulator(tmp_path, "--rate", "50", "--count", "150", "--linger", "30", "--seed", "23")
        emu.wait(START_LIMIT_S)  # a liveness bound: it ends once every capture is answered
        arrived = _arrived(daemon)
    finally:
        if emu is not None:
            emu.stop()
        assert daemon.stop() == 0
    assert arrived == 150
    _check_every_arrival_answered(emu, daemon, arrived)


def test_a_silent_port_that_then_vanishes_for_good_is_survived_and_sigterm_still_stops(tmp_path, cnn_bundle):
    # a device that never answers HELLO (the stand-in), then its path gone and never back
    port = StandInPort(tmp_path / "scanner")
    daemon = RunningDaemon(tmp_path, cnn_bundle, port.link, "")
    try:
        port.wait_opened(daemon)
        port.unplug()
        daemon.wait_for(lambda: any(x.get("event") == "link_down" for x in daemon.lines()))
        # still serving its endpoints while it retries, nothing answered, nothing refused
        status = json.loads(daemon.get("/status"))
        assert status["scanner"].get("state") == "disconnected"
        assert status["results_total"] == 0 and status["counts"].get("captures", 0) == 0
    finally:
        code = daemon.stop()  # reconnect backoff sleeps are bounded: SIGTERM ends it (20 s bound)
    assert code == 0
    assert daemon.err.read_text() == ""
    kinds = [e["kind"] for e in daemon.events()]
    assert kinds[0] == "start" and kinds[-1] == "stop" and "link_down" in kinds
