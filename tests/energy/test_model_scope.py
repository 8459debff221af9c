"""The CPU model's scope: by default this process's CPU, so other processes do not move the estimate.

Real psutil, a real child process burning a core: the estimate of the bench's workload must not
follow a neighbour's load (on a shared host that made the idle power drift and the attribution
refuse), while ``scope=system`` still counts it. No timing is asserted: the figures are compared
with CPU time measured independently (``time.process_time``) over the same interval.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from edgekit.energy import open_meter

IDLE_W, PER_CORE_W = 1.6, 0.85  # profiles/rpi4b.json, written out here independently of the loader
SPIN = (
    "import time\nprint('spinning', flush=True)\n"
    "end = time.monotonic() + 30\nwhile time.monotonic() < end: pass\n"
)


@pytest.fixture
def neighbour() -> Iterator[subprocess.Popen[str]]:
    """Another process keeping one core busy (30 s at most), running before the test reads."""
    proc = subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "spinning"
    yield proc
    proc.kill()
    proc.wait()


def _busy_cores(spec: str, sleep_s: float) -> float:
    """Busy cores the meter ``spec`` reports for an interval in which this process sleeps."""
    meter = open_meter(spec)
    time.sleep(sleep_s)
    return (meter.read().power_w - IDLE_W) / PER_CORE_W


def test_the_default_estimate_is_this_process_and_ignores_a_neighbours_load(
    neighbour: subprocess.Popen[str],
) -> None:
    meter = open_meter("model:rpi4b")
    assert "from process CPU utilisation" in meter.info.measures
    # this process sleeps while the neighbour burns a core: the estimate stays at idle (a few
    # 10 ms ticks of this process's own wake-ups at most)
    assert _busy_cores("model:rpi4b", 0.6) < 0.2


def test_scope_system_counts_a_neighbours_load(neighbour: subprocess.Popen[str]) -> None:
    assert "from system CPU utilisation" in open_meter("model:rpi4b,scope=system").info.measures
    # the neighbour's core (or, on a loaded host, others' cores too) is on the estimate
    assert _busy_cores("model:rpi4b,scope=system", 0.6) > 0.5


def test_the_default_estimate_follows_this_process_cpu_time() -> None:
    meter = open_meter("model:rpi4b")
    cpu0, wall0 = time.process_time(), time.monotonic()
    while time.process_time() - cpu0 < 0.3:  # CPU time, not wall time: the same on a loaded host
        pass
    power = meter.read().power_w
    busy = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    # psutil and process_time read the same kernel counters; 10 ms ticks over >= 0.3 s
    assert power == pytest.approx(IDLE_W + PER_CORE_W * busy, abs=PER_CORE_W * 0.1)
