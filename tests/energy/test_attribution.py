"""Live measurement (``measure_energy``) on simulated boards: deterministic, virtual clock, no sleep.

Truths are computed here from the workload's parameters (active x inference + idle x gap per
inference), not taken from the simulator.
"""

from __future__ import annotations

import functools
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit.energy import (
    EnergyRefused,
    VirtualClock,
    measure_duty_energy,
    measure_energy,
    open_meter,
    read_recording,
    write_recording,
)
from edgekit.energy.attribute import attribute
from edgekit.energy.attribution import integrate_energy_j
from edgekit.energy.meters.base import MeterInfo, PowerSample, SampleArrays
from edgekit.energy.ring import window_of
from edgekit.energy.simulate import MeterModel, SimulatedBoard, SimulatedMeter, Workload
from edgekit.errors import MeterError

TOLERANCE = 0.02

# idle W, active W, inference s, gap as a fraction of the inference, meter Hz, averaging meter?
GRID = [
    case
    for case in itertools.product(
        [0.6, 2.8], [1.0, 6.0], [0.0005, 0.005, 0.05], [0.0, 0.5], [10, 100, 1000], [True, False]
    )
    if case[1] > case[0]
]


def _truth(idle_w: float, active_w: float, inference_s: float, gap_s: float) -> tuple[float, float]:
    """(total, dynamic) mJ per inference: the gap inside a call is idle, part of the inference."""
    return (active_w * inference_s + idle_w * gap_s) * 1e3, (active_w - idle_w) * inference_s * 1e3


def _run(idle_w, active_w, inference_s, gap_fraction, rate_hz, averaging, seed=3, **kwargs):
    workload = Workload(idle_w, active_w, inference_s, gap_s=gap_fraction * inference_s)
    clock = VirtualClock()
    board = SimulatedBoard(workload, clock, seed=seed)
    model = MeterModel(
        rate_hz,
        noise_w=0.02,
        lsb_w=0.005,
        averaging_s=1 / rate_hz if averaging else 0.0,
        timing_jitter=0.01,
    )
    meter = SimulatedMeter(board, model, seed=seed + 1)
    per_call = max(1, int(0.1 / (inference_s * (1 + gap_fraction))))
    result = measure_energy(
        board.run_batch, meter, clock=clock, inferences_per_call=per_call, seed=seed, **kwargs
    )
    return _truth(idle_w, active_w, inference_s, gap_fraction * inference_s), result, board


@functools.cache
def _grid(case: tuple[float, float, float, float, int, bool]) -> tuple[tuple[float, float], object]:
    try:
        truth, result, _ = _run(*case)
    except MeterError as e:
        return (math.nan, math.nan), e
    return truth, result


@pytest.mark.parametrize(("idle_w", "active_w", "inference_s", "gap", "rate_hz", "averaging"), GRID)
def test_grid_is_accurate_or_says_why_not(idle_w, active_w, inference_s, gap, rate_hz, averaging) -> None:
    """Acceptance: within 2 % of the truth, or a warning (or refusal) naming why not."""
    (total, dynamic), result = _grid((idle_w, active_w, inference_s, gap, rate_hz, averaging))
    if isinstance(result, MeterError):
        # only a point-sampling meter too slow for the load may be refused, with its cause
        assert not averaging and rate_hz <= 10, str(result)
        assert "cannot" in str(result)
        return
    precise = (abs(result.energy_per_inference_mj - total) <= TOLERANCE * total
               and abs(result.dynamic_energy_per_inference_mj - dynamic) <= TOLERANCE * dynamic)
    assert precise or any(w.startswith("precision") for w in result.warnings), result.warnings
    assert result.idle_power_w == pytest.approx(idle_w, rel=0.01)
    assert len(result.windows) == 5
    assert all(w.duration_s >= 10.0 and w.n_samples >= 100 for w in result.windows)


def test_grid_intervals_cover_the_truth() -> None:
    """A 95 % interval misses now and then (the realised mean of jittered inferences is not the
    parameter); over the grid it must hold the truth for both figures in >= 90 % of the cases
    (bench/bench_meters.py checks >= 95 % over many seeded trials)."""
    covered = []
    for case in GRID:
        (total, dynamic), result = _grid(case)
        if isinstance(result, MeterError):
            continue
        lo, hi = result.spread_mj
        dlo, dhi = result.dynamic_spread_mj
        covered.append(lo <= total <= hi and dlo <= dynamic <= dhi)
    assert len(covered) >= 60 and np.mean(covered) >= 0.9, f"{sum(covered)}/{len(covered)}"


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    idle_w=st.floats(0.3, 4.0),
    extra_w=st.floats(0.5, 8.0),
    inference_s=st.floats(0.0005, 0.05),
    rate_hz=st.sampled_from([50, 100, 500, 1000]),
    seed=st.integers(0, 1000),
)
def test_accuracy_property_averaging_meter(idle_w, extra_w, inference_s, rate_hz, seed) -> None:
    (total, _), result, _ = _run(
        idle_w, idle_w + extra_w, inference_s, 0.25, rate_hz, True, seed=seed, windows=3, idle_s=2.0
    )
    # accuracy only: a 95 % interval misses one case in twenty, which a search for counterexamples
    # would find; coverage is counted over the grid above and in bench/bench_meters.py
    assert result.energy_per_inference_mj == pytest.approx(total, rel=TOLERANCE)
    lo, hi = result.spread_mj
    assert hi - lo < 0.1 * total  # and the interval is informative


def test_refuses_meter_too_slow_for_any_window() -> None:
    clock = VirtualClock()
    board = SimulatedBoard(Workload(1.0, 2.0, 0.01), clock)
    meter = SimulatedMeter(board, MeterModel(1.0))  # a 1 Hz fuel gauge
    with pytest.raises(MeterError, match=r"cannot resolve: window 60.0 s has 60 samples .*need >= 100"):
        measure_energy(board.run_batch, meter, clock=clock)
    assert board.inferences == 0  # refused before running anything


def test_refuses_meter_delivering_fewer_samples_than_promised() -> None:
    # told 1 kHz, the meter delivers 2 Hz: the window grows to its limit, then is refused
    clock = VirtualClock()
    board = SimulatedBoard(Workload(1.0, 2.0, 0.01), clock)
    meter = SimulatedMeter(board, MeterModel(2.0))
    with pytest.raises(MeterError, match=r"cannot resolve: window 20\.\d s has 4\d samples, need >= 100"):
        measure_energy(board.run_batch, meter, clock=clock, min_window_s=5.0, max_window_s=20.0,
                       idle_s=1.0, inferences_per_call=10, rate_hz=1000.0)
    assert board.inferences > 0


def test_integration_counts_partial_edges_exactly() -> None:
    # samples of a ramp p = t at t = 0, 1, 2, 3; the window [0.5, 2.25] under the ramp is
    # (2.25^2 - 0.5^2) / 2 = 2.40625 J: linear interpolation is exact for a linear signal
    samples = SampleArrays(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0, 3.0]))
    assert integrate_energy_j(samples, 0.5, 2.25) == pytest.approx(2.40625)
    assert integrate_energy_j(samples, 1.25, 1.75) == pytest.approx((1.75**2 - 1.25**2) / 2)
    # beyond the last sample the curve is held: [2.5, 4] = (2.5..3 under the ramp) + 3 W x 1 s
    assert integrate_energy_j(samples, 2.5, 4.0) == pytest.approx((9 - 6.25) / 2 + 3.0)


def test_virtual_clock_refuses_polled_meter() -> None:
    meter = open_meter("model:rpi4", utilisation=lambda: 1.0)
    with pytest.raises(MeterError, match="cannot follow a virtual clock"):
        measure_energy(lambda n: None, meter, clock=VirtualClock())


def test_recording_reproduces_the_live_figure_exactly(tmp_path: Path) -> None:
    """Acceptance: the files --record writes give back the live figure, field for field."""
    _, result, _ = _run(2.0, 3.5, 0.002, 0.0, 500, False, windows=3, min_window_s=2.0, idle_s=1.0)
    power, events = write_recording(tmp_path, "onnx-fp32", result.recording)
    again = read_recording(power, events)
    offline = attribute(again.trace, again.events)
    live = result.to_dict()
    assert offline.to_dict() == {**live, "provenance": offline.to_dict()["provenance"]}
    assert offline.provenance["kind"] == live["provenance"]["kind"] == "unverified"  # simulated


def test_replay_meter_is_never_run_against_live_inferences(tmp_path: Path) -> None:
    _, result, _ = _run(2.0, 3.5, 0.002, 0.0, 500, False, windows=2, min_window_s=1.0, idle_s=1.0)
    write_recording(tmp_path, "v", result.recording)
    meter = open_meter(f"replay:{tmp_path}")
    ran = []
    with pytest.raises(MeterError, match="attributed with its own events"):
        measure_energy(ran.append, meter)
    assert ran == []


def test_point_sampling_meter_is_dithered_and_averaging_meter_is_not() -> None:
    _, point, _ = _run(2.0, 3.0, 0.002, 0.0, 1000, False, windows=2, min_window_s=1.0, idle_s=1.0)
    _, averaging, _ = _run(2.0, 3.0, 0.002, 0.0, 100, True, windows=2, min_window_s=1.0, idle_s=1.0)
    ev = point.recording.events
    assert ev.header["dither"] is True and len(set(ev.call_n.tolist())) > 10  # 25..75 per call
    gaps = ev.call_start_s[1:] - ev.call_end_s[:-1]
    assert 0.0 < float(np.median(gaps[gaps < 0.1])) < 0.002  # within one inference
    assert averaging.recording.events.header["dither"] is False
    assert set(averaging.recording.events.call_n.tolist()) == {50}


def test_markers_env_and_context_are_recorded() -> None:
    workload = Workload(2.0, 3.0, 0.002)
    clock = VirtualClock()
    board = SimulatedBoard(workload, clock, seed=1)
    meter = SimulatedMeter(board, MeterModel(1000, averaging_s=0.001), seed=2)
    probes: list[float] = []

    def probe() -> dict[str, object]:
        probes.append(clock.monotonic())
        return {"governor": "performance", "freq_mhz": 1800.0}

    result = measure_energy(
        board.run_batch, meter, clock=clock, inferences_per_call=20, windows=2, min_window_s=2.0,
        idle_s=1.0, marker=board.pulse, env_probe=probe,
        context={"board": "rpi4b", "bundle_id": "b-123", "variant": "onnx-fp32"},
    )
    ev = result.recording.events
    assert len(ev.markers) == 2 and all(e - s == pytest.approx(0.3) for s, e in ev.markers)
    assert len(ev.env) == len(probes) == 1 + 2 * 2  # before the first idle, around each window
    assert ev.header["bundle_id"] == "b-123" and result.recording.trace.header.board == "rpi4b"
    assert result.provenance["bundle_id"] == "b-123" and result.kind == "unverified"
    total, dynamic = _truth(2.0, 3.0, 0.002, 0.0)
    assert result.energy_per_inference_mj == pytest.approx(total, rel=TOLERANCE)
    assert result.dynamic_energy_per_inference_mj == pytest.approx(dynamic, rel=TOLERANCE)


class _TailBoard:
    """A board whose every capture (10 ms at +1 W) leaves a 40 ms governor tail at +0.3 W, sampled
    at 1 kHz as a trace source on a virtual clock; truth per capture: 10 + 12 = 22 mJ dynamic."""

    info = MeterInfo("tailboard", "tailboard", "measured", 1000.0, None, "test board")

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.starts: list[float] = []

    def run_batch(self, n: int) -> None:
        for _ in range(n):
            self.starts.append(self.clock.monotonic())
            self.clock.advance(0.010)

    def _power(self, t: np.ndarray) -> np.ndarray:
        s = np.array(self.starts or [-1.0])
        k = np.searchsorted(s, t, side="right") - 1
        since = t - s[np.clip(k, 0, None)]
        extra = np.where(since < 0.010, 1.0, np.where(since < 0.050, 0.3, 0.0))
        return 1.5 + np.where(k >= 0, extra, 0.0)

    def samples_between(self, t0: float, t1: float) -> SampleArrays:
        t = np.arange(0.0, self.clock.monotonic(), 0.001) + 0.0004
        return window_of(t, self._power(t), t0, t1)

    def count_between(self, t0: float, t1: float) -> int:
        t = np.arange(0.0, self.clock.monotonic(), 0.001) + 0.0004
        return int(np.count_nonzero((t >= t0) & (t <= t1)))

    def read(self) -> PowerSample:
        return PowerSample(self.clock.monotonic(), 1.5)

    def close(self) -> None:
        pass


def test_duty_cycle_counts_the_tail_after_each_capture() -> None:
    clock = VirtualClock()
    board = _TailBoard(clock)
    result = measure_duty_energy(board.run_batch, board, 4.0, captures_per_window=10, windows=3,
                                 idle_s=1.0, clock=clock)
    assert result.mode == "duty" and result.duty_hz == 4.0
    assert result.dynamic_energy_per_inference_mj == pytest.approx(22.0, rel=0.02)
    lo, hi = result.dynamic_spread_mj
    assert lo <= 22.0 <= hi
    # total: the dynamic energy plus 1.5 W idle over the 10 ms capture = 22 + 15 = 37 mJ
    assert result.energy_per_inference_mj == pytest.approx(37.0, rel=0.02)


def test_back_to_back_misses_the_tails_the_duty_cycle_sees() -> None:
    clock = VirtualClock()
    board = _TailBoard(clock)
    result = measure_energy(board.run_batch, board, clock=clock, windows=2, min_window_s=2.0,
                            idle_s=1.0, min_samples=10, dither=False)
    # back to back the tail overlaps the next capture: 10 mJ per capture, 22 at the duty cycle
    assert result.dynamic_energy_per_inference_mj == pytest.approx(10.0, rel=0.02)


def test_duty_argument_checks() -> None:
    with pytest.raises(ValueError, match="duty_hz > 0"):
        measure_duty_energy(lambda n: None, _TailBoard(VirtualClock()), 0.0)


def test_estimated_meter_result_is_labelled_estimated() -> None:
    # real clock, tiny windows: checks provenance only, no timing assertion
    meter = open_meter("model:zero2w", utilisation=lambda: 1.0)
    try:
        result = measure_energy(
            lambda n: None, meter, min_window_s=0.3, min_samples=2, windows=1, idle_s=0.6,
            rate_hz=50.0, max_window_s=5.0,
        )
    except EnergyRefused as e:  # a loaded host may leave too few samples: that is not this test
        pytest.skip(f"host too busy for the smoke measurement: {e}")
    assert result.kind == "estimated"
    assert result.label.startswith("ESTIMATED (model:zero2w")
    assert result.provenance["reason"] == "model:zero2w is a model, not a meter"
    assert math.isfinite(result.energy_per_inference_mj)
