"""Rolling attribution on a trace whose energy is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.energy.meters.link import LinkMeter
from edgekit.runtime.energy import RollingEnergy


def test_total_and_dynamic_energy_per_inference_on_a_square_wave():
    """Idle 1.0 W, 3.0 W while an inference runs (50 ms every 0.5 s) for a 10 s window;
    sampled at 1 kHz. Closed form: E = 10 s x 1 W + 20 x 0.05 s x 2 W = 12 J over 20
    inferences -> 0.6 J each; dynamic = 2 W x 0.05 s = 0.1 J."""
    meter = LinkMeter(capacity=50_000)
    t = np.arange(0.0, 12.0, 0.001)
    starts = np.arange(0.1, 10.0, 0.5)
    busy = np.zeros_like(t, dtype=bool)
    for s in starts:
        busy |= (t >= s) & (t < s + 0.05)
    meter.feed((float(ti), 1.0, 3.0 if b else 1.0) for ti, b in zip(t, busy, strict=True))
    roll = RollingEnergy(meter, meter.info, window_s=10.0, min_samples=100, start_s=0.0)
    for s in starts:
        roll.note_inference(float(s), float(s) + 0.05)
    assert roll.poll(9.0) is None  # not over yet
    w = roll.poll(11.0)
    assert w is not None and w.resolved and w.n_inferences == 20
    assert w.energy_per_inference_j == pytest.approx(0.6, rel=0.01)
    assert w.dynamic_energy_per_inference_j == pytest.approx(0.1, rel=0.03)
    assert w.idle_power_w == pytest.approx(1.0, rel=0.01)
    assert w.kind == "measured" and w.meter == "link"


def test_a_window_without_enough_samples_is_unresolved_not_guessed():
    meter = LinkMeter()
    meter.feed([(0.0, 1.0, 1.0), (5.0, 1.0, 1.0), (11.0, 1.0, 1.0)])
    roll = RollingEnergy(meter, meter.info, window_s=10.0, min_samples=20, start_s=0.0)
    roll.note_inference(1.0, 1.1)
    w = roll.poll(11.0)
    assert w is not None and not w.resolved and "need >= 20" in w.why
    assert w.energy_per_inference_j is None


def test_a_window_without_inferences_is_unresolved():
    meter = LinkMeter()
    meter.feed((i * 0.01, 1.0, 1.0) for i in range(1200))
    roll = RollingEnergy(meter, meter.info, window_s=10.0, min_samples=20, start_s=0.0)
    w = roll.poll(11.0)
    assert w is not None and not w.resolved and w.why == "no inference in the window"


def _batch(meter: LinkMeter, t0: float, t1: float) -> None:
    """Readings every 10 ms in [t0, t1): one POWER batch, 1 W."""
    meter.feed((t0 + i * 0.01, 1.0, 1.0) for i in range(round((t1 - t0) / 0.01)))


def test_a_window_waits_for_the_batch_covering_its_end_without_a_timer():
    """Readings in 2 s batches (a batch arrives when its last reading is taken): the window
    [0, 10) cannot close at 10.5 s, when the readings of [10, 12) are still on the scanner;
    the daemon is not woken before the give-up time (20 s) while it waits, since the batch
    itself wakes it; the batch that covers the end closes the window, resolved."""
    meter = LinkMeter()
    for start in range(0, 10, 2):
        _batch(meter, start, start + 2)
    roll = RollingEnergy(meter, meter.info, window_s=10.0, min_samples=20, start_s=0.0)
    roll.note_inference(1.0, 1.1)
    assert roll.seconds_until_due(4.0) == 6.0
    assert roll.poll(10.5) is None
    assert roll.seconds_until_due(10.5) == 9.5  # until 20 s: no 50 ms re-polling
    _batch(meter, 10, 12)
    assert roll.seconds_until_due(12.0) == 0.0
    w = roll.poll(12.0)
    assert w is not None and w.resolved and w.n_samples == 1001  # 0.00 .. 10.00 s, both ends
    assert w.energy_j == pytest.approx(10.0, rel=1e-6)  # 1 W over the 10 s, all readings in


def test_a_sampled_meter_is_looked_at_again_at_its_recheck_interval():
    meter = LinkMeter()
    _batch(meter, 0, 10)
    roll = RollingEnergy(meter, meter.info, window_s=10.0, start_s=0.0, recheck_s=0.05)
    assert roll.seconds_until_due(10.2) == 0.05
    assert roll.seconds_until_due(19.98) == pytest.approx(0.02)  # the give-up time is sooner
