"""Offline attribution on closed-form runs (tests/energy/truth.py): figures, intervals, refusals.

Every truth here is computed from the run's busy intervals in closed form, not by edgekit.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from edgekit.energy import (
    EnergyRefused,
    EventRecorder,
    PowerTrace,
    TraceHeader,
    attribute,
    attribute_intervals,
)
from edgekit.energy.attribute import AttributionOptions
from edgekit.errors import DataError

from .truth import Scenario, Truth, make_run, within

FAST = AttributionOptions(resamples=400)


def _check(result, truth: Truth, rel: float = 0.02) -> None:
    assert within(result.energy_per_inference_mj, truth.total_mj, rel)
    assert within(result.dynamic_energy_per_inference_mj, truth.dynamic_mj, rel)
    lo, hi = result.spread_mj
    dlo, dhi = result.dynamic_spread_mj
    assert lo <= truth.total_mj <= hi, (lo, truth.total_mj, hi)
    assert dlo <= truth.dynamic_mj <= dhi, (dlo, truth.dynamic_mj, dhi)
    assert result.n_inferences == truth.n


@pytest.mark.parametrize(
    "sc",
    [
        Scenario(),
        Scenario(averaging=True),
        Scenario(rate_hz=100.0, averaging=True),
        Scenario(rate_hz=10.0, averaging=True, inference_s=0.05, per_call=1),
        Scenario(inference_s=0.0002, per_call=50),
        Scenario(inference_s=0.05, per_call=1, rate_hz=100.0),
        Scenario(idle_w=0.6, active_w=1.0, noise_w=0.005),
    ],
    ids=["1kHz-point", "1kHz-avg", "100Hz-avg", "10Hz-avg-50ms", "0.2ms", "50ms-100Hz", "zero2w"],
)
def test_steady_runs_are_within_2_percent_and_covered(sc: Scenario) -> None:
    trace, events, truth = make_run(sc)
    result = attribute(trace, events, options=FAST)
    _check(result, truth)
    assert not [w for w in result.warnings if not w.startswith("clock")], result.warnings
    assert len(result.windows) == sc.windows


def test_meter_clock_skew_and_jitter_are_corrected() -> None:
    # a meter on its own clock: 3.7 s offset, 0.5 % fast, 20 us timestamp jitter
    sc = Scenario(offset_s=3.7, skew=0.005, stamp_jitter_s=2e-5, markers=True)
    trace, events, truth = make_run(sc)
    assert trace.header.clock == "meter"
    result = attribute(trace, events, options=FAST)
    _check(result, truth)
    assert result.clock["rate"] == pytest.approx(1.005, abs=2e-5)
    assert result.clock["offset_s"] == pytest.approx(3.7, abs=2e-3)
    assert "markers" in result.clock["method"]
    assert any(w.startswith("clock: meter time") and "fast by 0.500 %" in w for w in result.warnings)


def test_skew_without_markers_uses_window_edges() -> None:
    trace, events, truth = make_run(Scenario(offset_s=-12.0, skew=-0.005, averaging=True))
    result = attribute(trace, events, options=FAST)
    _check(result, truth)
    assert result.clock["method"] == "power edges (windows)"
    assert result.clock["rate"] == pytest.approx(0.995, abs=2e-5)


def test_skewed_trace_labelled_host_clocked_is_still_corrected_from_its_edges() -> None:
    trace, events, truth = make_run(Scenario(skew=0.005, markers=True))
    mislabelled = replace(trace, header=replace(trace.header, clock="host"))
    result = attribute(mislabelled, events, options=FAST)
    assert result.clock["method"].startswith("power edges")
    assert result.clock["rate"] == pytest.approx(1.005, abs=5e-5)
    assert any("do not line up with the events" in w for w in result.warnings)
    _check(result, truth)


def test_sync_points_give_the_clock() -> None:
    sc = Scenario(offset_s=100.0, skew=0.002, averaging=True)
    trace, events, truth = make_run(sc)
    events.syncs = [(h, 100.0 + 1.002 * h) for h in (1.0, 40.0, 80.0)]
    result = attribute(trace, events, options=FAST)
    _check(result, truth)
    assert result.clock["method"] == "sync points"
    assert result.clock["rate"] == pytest.approx(1.002, abs=1e-9)


def test_linear_idle_drift_is_followed() -> None:
    # idle 1.9 W -> 2.1 W over the run (+-5 %): interpolated across each window, not averaged
    trace, events, truth = make_run(Scenario(drift=0.05))
    result = attribute(trace, events, options=FAST)
    _check(result, truth)
    assert result.idle_power_before_w < 1.93 and result.idle_power_after_w > 2.07


def test_idle_drift_against_a_small_dynamic_energy_is_named() -> None:
    # a model adding 50 mW over a 2 W idle that drifts +-5 %: the figure leans on interpolation
    sc = Scenario(active_w=2.05, drift=0.05, noise_w=0.002)
    trace, events, truth = make_run(sc)
    result = attribute(trace, events, options=FAST)
    drift = [w for w in result.warnings if w.startswith("idle drift")]
    assert drift
    first, last = (float(x) for x in re.findall(r"moved ([\d.]+) -> ([\d.]+) W", drift[0])[0])
    # closed form: idle(t) = 2 W x (1 + 0.05 (2t/T - 1)) at the first and last idle midpoints
    assert first == pytest.approx(1.9, abs=0.01) and last == pytest.approx(2.1, abs=0.01)
    assert result.dynamic_spread_mj[0] <= truth.dynamic_mj <= result.dynamic_spread_mj[1]


def test_idle_step_inside_the_run_is_refused_or_named() -> None:
    # idle jumps by 0.3 W in the middle of window 2: no interpolation can know where
    sc = Scenario(active_w=2.5, idle_step=(42.0, 0.3))
    trace, events, truth = make_run(sc)
    try:
        result = attribute(trace, events, options=FAST)
    except EnergyRefused as e:
        assert e.cause == "drift"
        return
    assert any(w.startswith("idle drift") for w in result.warnings)
    # named, and the interval is widened by the spline-vs-line disagreement around the step
    assert result.uncertainty_mj["interpolation"] > 0
    assert within(result.dynamic_energy_per_inference_mj, truth.dynamic_mj, 0.05)


def test_dvfs_step_is_found_named_and_reported_per_regime() -> None:
    # at 37 s the clock drops: inferences take 2.5x longer at 2.4 W instead of 3 W
    sc = Scenario(dvfs=(37.0, 2.5, 2.4), env=True)
    trace, events, truth = make_run(sc)
    result = attribute(trace, events, options=FAST)
    _check(result, truth)  # the mean over all inferences, not one regime's median
    assert len(result.regimes) == 2
    for regime, (dyn, total) in zip(result.regimes, truth.regimes, strict=True):
        assert within(regime.dynamic_energy_per_inference_mj, dyn, 0.02)
        assert within(regime.energy_per_inference_mj, total, 0.02)
    assert result.regimes[1].start_s == pytest.approx(37.0, abs=1.5)
    regime_warning = [w for w in result.warnings if w.startswith("regime: a change")]
    assert regime_warning and "DVFS: cpu clock 1800 -> 600 MHz" in regime_warning[0]


def test_dvfs_step_without_clock_records_is_still_named() -> None:
    trace, events, truth = make_run(Scenario(dvfs=(37.0, 2.5, 2.4)))
    result = attribute(trace, events, options=FAST)
    _check(result, truth)
    assert any("probable DVFS or throttling" in w for w in result.warnings)


def test_background_spikes_do_not_make_regimes() -> None:
    sc = Scenario(seed=4)
    trace, events, truth = make_run(sc)
    rng = np.random.default_rng(9)
    p = trace.power_w.copy()
    for start in rng.uniform(0, trace.timestamps_s[-1], 40):  # 40 x 30 ms of +1.5 W
        p[(trace.timestamps_s >= start) & (trace.timestamps_s < start + 0.03)] += 1.5
    result = attribute(replace(trace, power_w=p), events, options=FAST)
    assert result.regimes == ()
    # spikes are not the model's: the interval must still hold the truth, or say it is wide
    dlo, dhi = result.dynamic_spread_mj
    assert dlo <= truth.dynamic_mj <= dhi or any(w.startswith("precision") for w in result.warnings)


def test_locked_loop_is_refused_as_aliasing() -> None:
    # 0.2 ms inferences + 50 us loop overhead = 0.25 ms, exactly 4 per 1 ms sample, no jitter:
    # every sample lands at the same phase of the loop
    sc = Scenario(inference_s=0.0002, per_call=1, loop_gap_s=0.00005, duration_jitter=0.0,
                  dither=False)
    trace, events, _ = make_run(sc)
    with pytest.raises(EnergyRefused) as info:
        attribute(trace, events, options=FAST)
    assert info.value.cause == "aliasing"
    assert "0.25 ms loop cycle" in str(info.value) and "dither" in str(info.value)


def test_the_same_loop_dithered_is_accurate() -> None:
    sc = Scenario(inference_s=0.0002, per_call=1, loop_gap_s=0.00005, duration_jitter=0.0,
                  dither=True)
    trace, events, truth = make_run(sc)
    _check(attribute(trace, events, options=FAST), truth)


def test_power_in_milliwatts_under_a_watt_column_is_refused() -> None:
    trace, events, _ = make_run(Scenario(windows=2, window_s=2.0, idle_s=1.0))
    mw = replace(trace, power_w=trace.power_w * 1000.0)
    with pytest.raises(EnergyRefused, match=r"read as mW, the median would be") as info:
        attribute(mw, events, options=FAST)
    assert info.value.cause == "units"


def test_negative_power_is_refused() -> None:
    trace, events, _ = make_run(Scenario(windows=2, window_s=2.0, idle_s=1.0))
    p = trace.power_w.copy()
    p[100] = -0.5
    with pytest.raises(EnergyRefused, match=r"sample 100: negative power") as info:
        attribute(replace(trace, power_w=p), events, options=FAST)
    assert info.value.cause == "units"


def test_power_disagreeing_with_volts_times_amps_is_refused() -> None:
    trace, events, _ = make_run(Scenario(windows=2, window_s=2.0, idle_s=1.0))
    volts = np.full(len(trace), 5.0)
    amps = trace.power_w / 5.0 / 1000.0  # current logged in mA under an A column
    bad = replace(trace, voltage_v=volts, current_a=amps)
    with pytest.raises(EnergyRefused, match=r"x1e\+03: a milli unit slip"):
        attribute(bad, events, options=FAST)
    good = replace(trace, voltage_v=volts, current_a=amps * 1000.0)
    assert attribute(good, events, options=FAST).n_inferences > 0


def test_trace_cut_short_is_refused() -> None:
    trace, events, _ = make_run(Scenario(windows=2, window_s=2.0, idle_s=1.0))
    keep = trace.timestamps_s < 4.0
    short = replace(trace, timestamps_s=trace.timestamps_s[keep], power_w=trace.power_w[keep])
    with pytest.raises(EnergyRefused, match=r"trace covers .* but the events need") as info:
        attribute(short, events, options=FAST)
    assert info.value.cause == "coverage"


def test_meter_clock_without_anything_to_align_on_is_refused() -> None:
    # a meter on its own clock, a model too small to show edges, no markers, no sync points
    sc = Scenario(active_w=2.001, offset_s=5.0, noise_w=0.02, windows=2, window_s=2.0, idle_s=1.0)
    trace, events, _ = make_run(sc)
    with pytest.raises(EnergyRefused) as info:
        attribute(trace, events, options=FAST)
    assert info.value.cause == "clock"


def _tiny_log(**changes: object) -> EventRecorder:
    rec = EventRecorder()
    rec.idle(0.0, 1.0)
    rec.window(1.0, 2.0)
    rec.call(1.0, 1.5, 10)
    rec.idle(2.0, 3.0)
    return rec


def _flat_trace() -> PowerTrace:
    t = np.arange(0.0, 3.0, 0.001)
    return PowerTrace(t, np.full(t.size, 2.0), TraceHeader(clock="host"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.call(2.5, 2.6, 1), r"inference at 2\.500000-2\.600000 s lies outside every window"),
        (lambda r: (r.window(2.2, 2.4), r.call(2.25, 2.3, 1)),
         r"idle segment 2\.000000-3\.000000 s overlaps a window"),
        (lambda r: r.window(1.5, 1.8), r"windows overlap at 1\.500000 s"),
    ],
)
def test_malformed_layouts_are_one_line(mutate, message) -> None:
    rec = _tiny_log()
    mutate(rec)
    with pytest.raises(DataError, match=message) as info:
        attribute(_flat_trace(), rec.log(), options=FAST)
    assert "\n" not in str(info.value)


def test_window_without_idle_after_is_refused() -> None:
    rec = EventRecorder()
    rec.idle(0.0, 1.0)
    rec.window(1.0, 2.0)
    rec.call(1.0, 1.5, 10)
    with pytest.raises(DataError, match=r"window 0 .* has no idle segment after it"):
        attribute(_flat_trace(), rec.log(), options=FAST)


def test_flat_power_gives_zero_dynamic_and_exact_total() -> None:
    # a constant 2 W: each inference of 50 ms busy costs 2 W x 0.05 s = 100 mJ, 0 above idle
    rec = _tiny_log()
    rec.end(3.0)
    result = attribute(_flat_trace(), rec.log(), options=FAST)
    assert result.energy_per_inference_mj == pytest.approx(100.0, rel=1e-9)
    assert result.dynamic_energy_per_inference_mj == pytest.approx(0.0, abs=1e-9)
    assert result.kind == "unverified"  # no kind line, no provenance


def test_attribute_intervals_from_arrays() -> None:
    # the daemon's form: arrays in memory. 1 kHz point samples of a 2 W board drawing 3 W during
    # 100 inferences of 20 ms each, one every 50 ms, in a 5 s window between two 2 s idle stretches:
    # dynamic 1 W x 20 ms = 20 mJ, total 3 W x 20 ms = 60 mJ per inference (closed form)
    t = np.arange(0.0, 9.0, 0.001) + 0.0003
    starts = 2.0 + 0.05 * np.arange(100)
    k = np.searchsorted(starts, t, side="right") - 1
    busy = (k >= 0) & (t < starts[np.clip(k, 0, None)] + 0.02)
    p = np.where(busy, 3.0, 2.0)
    result = attribute_intervals(t, p, [(s, s + 0.02) for s in starts], [(2.0, 7.0)],
                                 [(0.0, 2.0), (7.0, 9.0)], options=FAST)
    assert result.dynamic_energy_per_inference_mj == pytest.approx(20.0, rel=0.01)
    assert result.energy_per_inference_mj == pytest.approx(60.0, rel=0.01)
    assert result.n_inferences == 100 and result.kind == "unverified"
