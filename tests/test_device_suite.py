"""The same checks against a fake or a real device (pyserial's test/run_all_tests.py habit).

- ``EDGEKIT_TEST_PORT``: a scanner's serial port or URL (``/dev/ttyACM0?baud=921600``). Unset, the
  test starts ``edgekit emulate`` on a pseudo-terminal and talks to that instead.
- ``EDGEKIT_TEST_METER``: a meter spec (``ina260:bus=1,addr=0x40``, ``pmic``, ...). Unset, the test
  uses a replay meter on a synthetic trace.

Either way the code under test is the code that runs on the Pi: ``open_link`` and ``open_meter``.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgekit.energy import open_meter
from edgekit.energy.simulate import MeterModel, Workload, synthesize_trace
from firmware_bridge import Capture, Hello, Packet, Ping, Pong, Result, Start, Stop, open_link

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def port(tmp_path: Path) -> Iterator[str]:
    real = os.environ.get("EDGEKIT_TEST_PORT")
    if real:
        yield real
        return
    link = tmp_path / "scanner"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgekit",
            "emulate",
            "--symlink",
            str(link),
            "--rate",
            "20",
            "--duration",
            "60",
            "--seed",
            "11",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not link.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"emulator did not start: {proc.communicate()[1]!r}")
        time.sleep(0.02)
    try:
        yield str(link)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_scanner_handshake_stream_and_results(port: str) -> None:
    """PING -> PONG + HELLO, START -> captures with increasing ids, RESULT each, STOP."""
    captures: list[Capture] = []
    hello: Hello | None = None
    pong = False
    with open_link(port) as link:
        link.send(Ping(7))
        link.send(Start())
        deadline = time.monotonic() + 20
        while len(captures) < 5 or hello is None or not pong:
            assert time.monotonic() < deadline, "no handshake and 5 captures within 20 s"
            event = link.next_event(0.05)
            if not isinstance(event, Packet):
                continue
            msg = event.message
            if isinstance(msg, Pong):
                pong = msg.token == 7
            elif isinstance(msg, Hello):
                hello = msg
            elif isinstance(msg, Capture):
                captures.append(msg)
                link.send(Result(msg.capture_id, 0, 0.5, 1000))
        link.send(Stop())
    assert hello is not None and hello.protocol_major == 1
    assert all(c.n_samples == hello.samples_per_capture for c in captures)
    ids = [c.capture_id for c in captures]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert captures[0].iq.shape == (hello.samples_per_capture, 2)


def test_meter_reads_plausible_power(tmp_path: Path) -> None:
    spec = os.environ.get("EDGEKIT_TEST_METER")
    if not spec:
        trace, _ = synthesize_trace(
            Workload(idle_w=2.0, active_w=3.0, inference_s=0.005),
            MeterModel(rate_hz=100.0, noise_w=0.01),
            active_s=2.0,
        )
        spec = f"replay:{trace.write_csv(tmp_path / 'trace.csv')}"
    meter = open_meter(spec)
    try:
        readings = [meter.read() for _ in range(20)]
    finally:
        meter.close()
    assert meter.info.kind in ("measured", "estimated", "unverified") and meter.info.sample_rate_hz > 0
    assert all(math.isfinite(r.power_w) and 0 < r.power_w < 100 for r in readings)
    times = [r.timestamp_s for r in readings]
    assert times == sorted(times)
