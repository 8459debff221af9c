"""Stalls on either side of the serial link, on the real stack (``edgekit emulate`` on a real pty,
``edgekit run`` in a subprocess): the daemon frozen (a stalled SD card, swap, a debugger;
SIGSTOP) while the scanner streams into a pty buffer that fills, and then the scanner frozen
longer than the daemon's streaming watchdog. Afterwards every capture that arrived is answered
once, and every one that did not is counted lost: captures sent = results journaled + losses
counted (``test_e2e._check_every_arrival_answered``)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter

import pytest

from tests.runtime.conftest import START_LIMIT_S, start_daemon_first
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
