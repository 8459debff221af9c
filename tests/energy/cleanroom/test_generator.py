"""The clean-room generator itself: its closed-form truth against brute-force quadrature.

The coverage tests are only as good as the truth; here it is recomputed a second way (a fine
midpoint sum of the instantaneous power, and the per-inference definition summed directly).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .board import PowerModel, Pulses
from .meter import Meter, record
from .scenario import Scenario, build_schedule


def test_step_integral_matches_a_fine_sum() -> None:
    pulses = Pulses()
    pulses.add(1.0, 1.5, 2.0)
    pulses.add(1.2, 3.0, 0.5)   # overlapping pulses add
    pulses.add(4.0, 4.001, 100.0)
    model = PowerModel(0.0, 10.0, 1.0, 0.01, 0.3, pulses)
    t = np.linspace(0.0, 5.0, 500_001)  # every pulse edge on the grid: the midpoint sum is exact there
    mid = 0.5 * (t[1:] + t[:-1])
    brute = float(np.sum(model.power_at(mid)) * (t[1] - t[0]))
    # by hand: idle 1*5 + 0.01*25/2 + 0.3*125/300; pulses 2*0.5 + 0.5*1.8 + 100*0.001
    by_hand = 5.0 + 0.125 + 0.125 + 1.0 + 0.9 + 0.1
    assert float(model.energy(0.0, 5.0)) == pytest.approx(by_hand, rel=1e-12)
    assert brute == pytest.approx(by_hand, rel=1e-6)
    # mean over [1, 1.5]: of t is 1.25, of t^2 is (1.5^3 - 1) / 3 / 0.5; the 0.5 W pulse covers 0.3 s
    mean_t2 = (1.5**3 - 1.0) / 3.0 / 0.5
    assert float(model.mean_power(1.0, 1.5)) == pytest.approx(1.0 + 0.01 * 1.25 + 0.3 * mean_t2 / 100
                                                              + 2.0 + 0.5 * 0.3 / 0.5, rel=1e-12)


def test_truth_is_extra_power_times_busy_time() -> None:
    s = Scenario(window_s=1.0, idle_s=1.0, drift_w_per_s=0.01, freqs_mhz=(1500.0, 750.0))
    sched = build_schedule(s, np.random.default_rng(3))
    st, en = sched.infer_start, sched.infer_end
    # 750 MHz: a quarter of the extra power for twice as long
    w1 = st >= sched.events[[e.get("event") for e in sched.events].index("window", 4)]["start_s"]  # type: ignore[operator]
    extra = np.where(w1, s.extra_w / 4, s.extra_w)
    assert sched.truth.dynamic_j == pytest.approx(float(np.mean(extra * (en - st))), rel=1e-12)
    # total = everything the board drew during the inferences, minus nothing: no background here
    assert sched.truth.total_j == pytest.approx(float(np.mean(sched.model.energy(st, en))), rel=1e-9)
    assert sched.truth.n == len(st) > 100


def test_a_meter_reads_the_model(tmp_path: Path) -> None:
    """Averaging readings equal the board's mean power over each window, point readings its value."""
    s = Scenario(window_s=1.0, idle_s=1.0)
    rng = np.random.default_rng(0)
    sched = build_schedule(s, rng)
    rec = record(sched, Meter(rate_hz=100.0, averaging=True, noise_w=0.0), rng, tmp_path)
    rows = [ln.split(",") for ln in rec.power.read_text().splitlines() if ln[:1].isdigit()]
    t = np.array([float(r[0]) for r in rows])
    p = np.array([float(r[1]) for r in rows])
    grid = np.linspace(0, 1, 2001)
    brute = np.array([np.mean(sched.model.power_at(ti - 0.01 + 0.01 * grid)) for ti in t[:300]])
    assert np.allclose(p[:300], brute, rtol=2e-3, atol=0)
    assert abs(np.sum(p) / 100.0 - float(sched.model.energy(t[0] - 0.01, t[-1]))) < 1e-6
