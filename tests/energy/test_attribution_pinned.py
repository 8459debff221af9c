"""The live measurement's schedule and refusals pinned by cases whose answer is known in closed
form (issue 17): argument limits, the "cannot resolve" arithmetic, the stopping statistic, the
recorded schedule (warm-up, idle around every window, markers), and the header it writes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.energy import VirtualClock, measure_energy
from edgekit.energy.attribute import AttributionOptions
from edgekit.energy.attribution import _header, _relative_se, measure_duty_energy
from edgekit.energy.meters.base import SampleArrays
from edgekit.energy.simulate import MeterModel, SimulatedBoard, SimulatedMeter, Workload
from edgekit.errors import MeterError

ARGS = "windows, inferences_per_call >= 1, min_samples >= 2, min_window_s > 0"


def _setup(
    rate_hz: float = 1000.0, averaging: bool = True
) -> tuple[VirtualClock, SimulatedBoard, SimulatedMeter]:
    clock = VirtualClock()
    board = SimulatedBoard(Workload(2.0, 3.0, 0.002), clock, seed=1)
    meter = SimulatedMeter(board, MeterModel(rate_hz, averaging_s=1 / rate_hz if averaging else 0.0), seed=2)
    return clock, board, meter


@pytest.mark.parametrize(
    "kw",
    [
        {"windows": 0},
        {"inferences_per_call": 0},
        {"min_samples": 1},
        {"min_window_s": 0.0},
        {"min_window_s": -1.0},
    ],
)
def test_argument_limits(kw: dict[str, float]) -> None:
    clock, board, meter = _setup()
    with pytest.raises(ValueError) as e:
        measure_energy(board.run_batch, meter, clock=clock, **kw)  # type: ignore[arg-type]
    assert str(e.value) == ARGS
    assert board.inferences == 0


def test_the_smallest_accepted_arguments_run() -> None:
    clock, board, meter = _setup()
    r = measure_energy(
        board.run_batch,
        meter,
        clock=clock,
        windows=1,
        inferences_per_call=1,
        min_samples=2,
        min_window_s=0.5,
        idle_s=0.5,
    )
    assert len(r.recording.events.windows) == 1


@pytest.mark.parametrize(
    ("rate_hz", "kw", "message"),
    [
        (1.0, {}, "window 60.0 s has 60 samples at 1 Hz"),  # max(60, 4 x 10)
        (1.0, {"min_window_s": 20.0}, "window 80.0 s has 80 samples at 1 Hz"),  # 4 x 20 > 60
        (1.0, {"max_window_s": 99.0}, "window 99.0 s has 99 samples at 1 Hz"),
        (2.0, {"max_window_s": 10.0, "min_samples": 21}, "window 10.0 s has 20 samples at 2 Hz"),
    ],
)
def test_a_meter_too_slow_for_the_window_is_refused_before_running(
    rate_hz: float, kw: dict[str, float], message: str
) -> None:
    clock, board, meter = _setup(rate_hz)
    with pytest.raises(MeterError) as e:
        measure_energy(board.run_batch, meter, clock=clock, **kw)  # type: ignore[arg-type]
    need = int(kw.get("min_samples", 100))
    assert str(e.value) == f"cannot resolve: {message} ({meter.info.name}), need >= {need}"
    assert board.inferences == 0


def test_exactly_enough_samples_is_not_refused_and_the_rate_is_capped() -> None:
    clock, board, meter = _setup(2.0)
    r = measure_energy(
        board.run_batch,
        meter,
        clock=clock,
        max_window_s=10.0,
        min_samples=20,
        min_window_s=5.0,
        windows=1,
        idle_s=1.0,
        inferences_per_call=50,
    )
    assert len(r.recording.events.windows) == 1
    # asked for 5 kHz, the sampler's ceiling is 1 kHz: 0.01 s x 1 kHz = 10 samples < 11
    clock, board, meter = _setup(5000.0)
    with pytest.raises(MeterError, match=r"^cannot resolve: window 0\.0 s has 10 samples at 1000 Hz"):
        measure_energy(
            board.run_batch,
            meter,
            clock=clock,
            rate_hz=5000.0,
            min_window_s=0.001,
            max_window_s=0.01,
            min_samples=11,
        )


class _Source:
    def __init__(self, p: list[float]) -> None:
        self.p = np.array(p, dtype=float)

    def samples_between(self, t0: float, t1: float) -> SampleArrays:
        return SampleArrays(np.arange(self.p.size, dtype=float), self.p)


def test_relative_standard_error_written_out() -> None:
    # p = 1, 3: mean 2, sample std sqrt(2), n 2 -> 2 x sqrt(2) / sqrt(2) / 2 = 1
    assert _relative_se(_Source([1.0, 3.0]), 0, 1) == pytest.approx(1.0)
    # p = 2, 4, 6, 8: mean 5, sample std sqrt(20/3), n 4 -> 2 x sqrt(20/3) / 2 / 5
    assert _relative_se(_Source([2.0, 4.0, 6.0, 8.0]), 0, 1) == pytest.approx(math.sqrt(20 / 3) / 5)
    assert _relative_se(_Source([5.0]), 0, 1) == 0.0
    assert _relative_se(_Source([]), 0, 1) == 0.0
    assert _relative_se(_Source([-1.0, 1.0]), 0, 1) == 0.0  # mean 0: no relative figure


def test_the_header_names_the_recorder_meter_and_context() -> None:
    class Info:
        name, spec = "ina260", "ina260:bus=1"

    opts = AttributionOptions(seed=7)
    h = _header(Info(), {"board": "rpi5", "variant": None}, opts, mode="duty", duty_hz=2.0)
    from edgekit import __version__

    assert h == {
        "recorded_by": f"edgekit {__version__}",
        "meter": "ina260",
        "meter_spec": "ina260:bus=1",
        "board": "rpi5",
        "mode": "duty",
        "duty_hz": 2.0,
        "attribution": opts.to_dict(),
    }
    assert _header(Info(), None, opts)["meter"] == "ina260"


def test_the_schedule_of_a_back_to_back_run() -> None:
    clock, board, meter = _setup()
    pulses: list[float] = []

    def pulse(s: float) -> None:
        pulses.append(s)
        board.pulse(s)

    r = measure_energy(
        board.run_batch,
        meter,
        clock=clock,
        windows=3,
        min_window_s=1.0,
        idle_s=2.0,
        inferences_per_call=10,
        warmup_calls=0,
        marker=pulse,
        marker_s=0.25,
        dither=False,
        context={"board": "rpi4b"},
        seed=5,
    )
    ev = r.recording.events
    assert len(ev.windows) == 3
    # idle before the first window and after each one, then a shorter one after the closing marker
    assert [round(e - s, 6) for s, e in ev.idle] == [2.0, 2.0, 2.0, 2.0, 1.0]
    assert pulses == [0.25, 0.25] and len(ev.markers) == 2
    # each window is at least min_window_s long and made of whole calls of 10
    assert all(e - s >= 1.0 for s, e in ev.windows)
    assert set(ev.call_n.tolist()) == {10}
    # warm-up: one call of 10 before anything is recorded (warmup_calls=0 still warms up once)
    assert board.inferences == 10 + ev.n_inferences
    assert ev.header["mode"] == "back-to-back" and ev.header["dither"] is False
    assert ev.header["board"] == "rpi4b" and ev.header["attribution"]["seed"] == 5
    assert ev.end_s is not None and r.recording.trace.header.board == "rpi4b"
    # the trace covers the whole run
    t = r.recording.trace.timestamps_s
    assert t[0] <= ev.idle[0][0] and t[-1] >= ev.end_s


def test_no_marker_means_no_closing_idle() -> None:
    clock, board, meter = _setup()
    r = measure_energy(
        board.run_batch,
        meter,
        clock=clock,
        windows=2,
        min_window_s=1.0,
        idle_s=1.5,
        inferences_per_call=10,
        warmup_calls=3,
        dither=False,
    )
    ev = r.recording.events
    assert [round(e - s, 6) for s, e in ev.idle] == [1.5, 1.5, 1.5] and ev.markers == []
    assert board.inferences == 30 + ev.n_inferences


@pytest.mark.parametrize(
    "kw",
    [
        {"duty_hz": 0.0},
        {"duty_hz": math.nan},
        {"duty_hz": math.inf},
        {"duty_hz": -1.0},
        {"duty_hz": 2.0, "captures_per_window": 1},
        {"duty_hz": 2.0, "windows": 0},
    ],
)
def test_duty_argument_limits(kw: dict[str, float]) -> None:
    clock, board, meter = _setup()
    kw = dict(kw)
    duty = kw.pop("duty_hz")
    with pytest.raises(ValueError) as e:
        measure_duty_energy(board.run_batch, meter, duty, clock=clock, **kw)  # type: ignore[arg-type]
    assert str(e.value) == "duty_hz > 0, captures_per_window >= 2, windows >= 1"


def test_the_schedule_of_a_duty_cycle_run() -> None:
    clock, board, meter = _setup()
    r = measure_duty_energy(
        board.run_batch,
        meter,
        4.0,
        captures_per_window=2,
        windows=2,
        idle_s=1.0,
        clock=clock,
        context={"variant": "v"},
    )
    ev = r.recording.events
    # each window is whole periods: 2 captures at 4 Hz = 0.5 s
    assert [round(e - s, 6) for s, e in ev.windows] == [0.5, 0.5]
    assert [round(e - s, 6) for s, e in ev.idle] == [1.0, 1.0, 1.0]
    assert set(ev.call_n.tolist()) == {1} and len(ev.call_n) == 4
    starts = ev.call_start_s
    assert starts[1] - starts[0] == pytest.approx(0.25) and starts[3] - starts[2] == pytest.approx(0.25)
    assert board.inferences == 1 + 4  # one warm-up capture
    assert ev.header["mode"] == "duty" and ev.header["duty_hz"] == 4.0 and ev.header["dither"] is False
    assert ev.header["variant"] == "v"
