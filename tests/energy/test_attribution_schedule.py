"""The live schedule's defaults, stopping rule and sizing pinned by exact cases (issue 17).

Boards here run inferences of exactly 0.5 s or 0.25 s (jitter 0) on a virtual clock, so every time
in the schedule is a sum of binary fractions and a window's length is known exactly: 20 calls of
0.5 s are 10.0 s, not 10.0000001 s. Expected values are written out from the documented rules
(defaults, ``max(600 s, 1.5 x planned)`` sampler history, random gaps uniform below one inference).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

from edgekit.energy import VirtualClock, measure_energy
from edgekit.energy import attribution as attribution_mod
from edgekit.energy.attribution import _relative_se, measure_duty_energy
from edgekit.energy.meters.base import MeterInfo, SampleArrays
from edgekit.energy.simulate import MeterModel, SimulatedBoard, SimulatedMeter, Workload
from edgekit.errors import MeterError


def _exact(
    inference_s: float = 0.5, rate_hz: float = 10.0, noise_w: float = 0.0, start_s: float = 0.0
) -> tuple[VirtualClock, SimulatedBoard, SimulatedMeter]:
    clock = VirtualClock(start_s)
    board = SimulatedBoard(Workload(2.0, 3.0, inference_s, jitter=0.0), clock, seed=1)
    meter = SimulatedMeter(board, MeterModel(rate_hz, noise_w=noise_w, averaging_s=1 / rate_hz), seed=2)
    return clock, board, meter


def _lengths(spans: list[tuple[float, float]]) -> list[float]:
    return [e - s for s, e in spans]


def test_the_defaults_of_a_back_to_back_run() -> None:
    """Defaults: 5 windows of at least 10 s, 5 s idle around each, one inference per call, one
    warm-up call, seed 0. A quiet averaging meter is known to 2 % at once, so each window stops at
    the first check at or after 10 s: exactly 20 calls of 0.5 s."""
    clock, board, meter = _exact()
    r = measure_energy(board.run_batch, meter, clock=clock)
    ev = r.recording.events
    assert _lengths(ev.windows) == [10.0] * 5
    assert _lengths(ev.idle) == [5.0] * 6
    assert ev.call_n.tolist() == [1] * 100
    assert board.inferences == 1 + 100
    assert ev.header["attribution"]["seed"] == 0 and ev.header["dither"] is False


def test_a_noisy_meter_keeps_the_window_open_to_its_limit_of_60_s() -> None:
    """Noise of 0.5 W on a 3 W load, 2 Hz: twice the standard error of the mean is 2 x 0.5 /
    sqrt(120) / 3 = 0.03 of the mean even after 60 s, above the default 2 %; the window ends exactly
    at the limit max(60 s, 4 x 10 s) with 120 calls, neither earlier nor one call later."""
    clock, board, meter = _exact(rate_hz=2.0, noise_w=0.5)
    r = measure_energy(board.run_batch, meter, clock=clock, windows=1, idle_s=2.0)
    ev = r.recording.events
    assert _lengths(ev.windows) == [60.0]
    assert len(ev.call_n) == 120


def test_a_window_without_enough_samples_is_refused_exactly_at_its_limit() -> None:
    """A meter promising 1 kHz that delivers 2 Hz: at the 20 s limit (80 calls of 0.25 s) the
    window has about 40 samples, fewer than 100, and is refused there, not one call later."""
    clock, board, meter = _exact(inference_s=0.25, rate_hz=2.0)
    with pytest.raises(MeterError) as e:
        measure_energy(
            board.run_batch, meter, clock=clock, min_window_s=5.0, max_window_s=20.0, idle_s=1.0,
            rate_hz=1000.0,
        )
    msg = str(e.value)
    assert msg.startswith("cannot resolve: window 20.0 s has 4"), msg
    assert msg.endswith("need >= 100 (simulated); raise max_window_s or use a faster meter")


def test_a_clock_with_negative_readings_measures_like_any_other() -> None:
    """A monotonic clock's origin is arbitrary (Python documents none): readings below zero must
    not be mistaken for "no window started yet"."""
    clock, board, meter = _exact(start_s=-1000.0)
    r = measure_energy(
        board.run_batch, meter, clock=clock, windows=2, idle_s=2.0, min_window_s=3.0, min_samples=20,
        max_relative_uncertainty=0.1,
    )
    assert _lengths(r.recording.events.windows) == [3.0, 3.0]


def test_an_averaging_meter_exactly_at_0_9_periods_is_not_dithered() -> None:
    """Dither when a sample averages less than 0.9 of its period; at exactly 0.9 it tiles enough."""
    clock = VirtualClock()
    board = SimulatedBoard(Workload(2.0, 3.0, 0.5, jitter=0.0), clock, seed=1)
    meter = SimulatedMeter(board, MeterModel(10.0, averaging_s=0.9 / 10.0), seed=2)
    assert meter.info.averaging_s == 0.09
    r = measure_energy(
        board.run_batch, meter, clock=clock, windows=1, idle_s=2.0, min_window_s=3.0, min_samples=20
    )
    assert r.recording.events.header["dither"] is False


@pytest.mark.parametrize("warmup_calls", [1, 2])
def test_dither_gaps_are_uniform_below_one_inference(warmup_calls: int) -> None:
    """Each call waits uniform(0, min(one inference, one sample period)): inferences of 2 ms on a
    10 Hz meter give gaps below 2 ms, and over ~100 calls the largest is above 1.5 ms (the chance
    that all stay below is 0.75^100). The inference time is the warm-up's time per inference."""
    clock = VirtualClock(100.0)
    board = SimulatedBoard(Workload(2.0, 3.0, 0.002, jitter=0.0), clock, seed=1)
    meter = SimulatedMeter(board, MeterModel(10.0, averaging_s=0.0), seed=2)
    r = measure_energy(
        board.run_batch,
        meter,
        clock=clock,
        windows=1,
        idle_s=1.0,
        min_window_s=1.0,
        min_samples=5,
        inferences_per_call=4,
        warmup_calls=warmup_calls,
        dither=True,
        seed=3,
    )
    ev = r.recording.events
    (ws, we) = ev.windows[0]
    inside = (ev.call_start_s >= ws) & (ev.call_end_s <= we)
    starts, ends = ev.call_start_s[inside], ev.call_end_s[inside]
    gaps = starts[1:] - ends[:-1]
    assert gaps.size > 90
    assert float(gaps.max()) <= 0.002 + 1e-12
    assert float(gaps.max()) > 0.0015
    assert board.inferences - ev.n_inferences == 4 * warmup_calls


def test_the_dithered_schedule_is_the_same_for_the_same_seed() -> None:
    """Random gaps and batch sizes come from ``seed``: two runs with seed 3 call at the same
    times with the same batch sizes (a recording can be re-made), and seed 4 differs."""

    def calls(seed: int) -> tuple[list[float], list[int]]:
        clock = VirtualClock()
        board = SimulatedBoard(Workload(2.0, 3.0, 0.002, jitter=0.0), clock, seed=1)
        meter = SimulatedMeter(board, MeterModel(10.0, averaging_s=0.0), seed=2)
        r = measure_energy(
            board.run_batch, meter, clock=clock, windows=1, idle_s=1.0, min_window_s=0.5, min_samples=3,
            inferences_per_call=4, dither=True, seed=seed,
        )
        ev = r.recording.events
        return ev.call_start_s.tolist(), ev.call_n.tolist()

    assert calls(3) == calls(3)
    assert calls(3) != calls(4)


class _Source:
    def __init__(self, p: list[float]) -> None:
        self.p = np.array(p, dtype=float)

    def samples_between(self, t0: float, t1: float) -> SampleArrays:
        return SampleArrays(np.arange(self.p.size, dtype=float), self.p)


def test_relative_standard_error_below_one_watt_and_of_nothing() -> None:
    # p = 0.5, 1.5: mean 1, sample std sqrt(0.5), n 2 -> 2 x sqrt(0.5) / sqrt(2) / 1 = 1
    assert _relative_se(_Source([0.5, 1.5]), 0, 1) == pytest.approx(1.0)
    # p = 0.2, 0.6: mean 0.4, sample std sqrt(0.08) -> 2 x sqrt(0.08) / sqrt(2) / 0.4 = 1
    assert _relative_se(_Source([0.2, 0.6]), 0, 1) == pytest.approx(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" on an empty window
        assert _relative_se(_Source([]), 0, 1) == 0.0


# --- a polled meter: the sampler's rate and history -------------------------------------------------


class _WallLike:
    """The virtual clock without its ``is_virtual`` mark, as a real clock is seen by the schedule."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def sleep(self, duration_s: float) -> None:
        self._clock.sleep(duration_s)


class _Polled:
    """A meter read by polling (no timeline of its own): the schedule starts a sampler for it."""

    info = MeterInfo(
        name="polled", spec="polled", kind="unverified", sample_rate_hz=10.0, resolution_w=None,
        measures="board input", averaging_s=0.1,
    )


def _fake_sampler(
    made: list[dict[str, Any]], source: SimulatedMeter, delay_s: float = 0.0, silent_after: bool = False
) -> type:
    class FakeSampler:
        """Records how it was made and serves the simulated meter's timeline (no thread);
        ``silent_after``: no sample ever arrives after the run (a meter that stopped)."""

        def __init__(self, meter: Any, rate_hz: float, *, capacity_s: float) -> None:
            made.append({"meter": meter, "rate_hz": rate_hz, "capacity_s": capacity_s})
            self.delay_s = delay_s

        def start(self) -> None:
            pass

        def stop(self) -> None:
            pass

        def samples_between(self, t0: float, t1: float) -> SampleArrays:
            return source.samples_between(t0, t1)

        def count_between(self, t0: float, t1: float) -> int:
            if silent_after and t1 == math.inf:
                made.append({"waited_from": source.board.clock.monotonic()} if len(made) == 1 else {})
                return 0
            return source.count_between(t0, t1)

    return FakeSampler


def test_a_polled_meter_is_sampled_at_the_asked_rate_with_history_for_the_whole_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """planned = (windows + 1) x idle + windows x max window + 4 x marker = 3 x 100 + 2 x 200 +
    4 x 0.5 = 702 s; the sampler keeps max(600, 1.5 x 702) = 1053 s, polled at the asked 5 Hz."""
    clock, board, source = _exact()
    made: list[dict[str, Any]] = []
    monkeypatch.setattr(attribution_mod, "Sampler", _fake_sampler(made, source))
    meter = _Polled()
    measure_energy(
        board.run_batch, meter, clock=_WallLike(clock), windows=2, idle_s=100.0, min_window_s=1.0,
        max_window_s=200.0, marker=board.pulse, marker_s=0.5, rate_hz=5.0, dither=False,
    )
    assert made == [{"meter": meter, "rate_hz": 5.0, "capacity_s": 1053.0}]


def test_a_polled_meter_at_the_duty_cycle_keeps_history_for_the_whole_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """planned = (windows + 1) x idle + windows x captures x period = 3 x 300 + 2 x 4 x 0.5 =
    904 s; the sampler keeps 1.5 x 904 = 1356 s, polled at the asked 5 Hz."""
    clock, board, source = _exact()
    made: list[dict[str, Any]] = []
    monkeypatch.setattr(attribution_mod, "Sampler", _fake_sampler(made, source))
    meter = _Polled()
    measure_duty_energy(
        board.run_batch, meter, 2.0, captures_per_window=4, windows=2, idle_s=300.0,
        clock=_WallLike(clock), rate_hz=5.0,
    )
    assert made == [{"meter": meter, "rate_hz": 5.0, "capacity_s": 1356.0}]


# --- the duty cycle ---------------------------------------------------------------------------------


def test_the_defaults_of_a_duty_cycle_run_and_what_it_records() -> None:
    """Defaults: 5 windows of 20 captures, 5 s idle around each; at 2 Hz a window is 10 s. The
    environment is read around every window and the context reaches the figure's provenance."""
    clock, board, meter = _exact(inference_s=0.25)
    reads: list[float] = []

    def env() -> dict[str, Any]:
        reads.append(clock.monotonic())
        return {"governor": "performance"}

    r = measure_duty_energy(
        board.run_batch, meter, 2.0, clock=clock, env_probe=env, context={"board": "rpi5"}
    )
    ev = r.recording.events
    assert _lengths(ev.windows) == pytest.approx([10.0] * 5)
    assert _lengths(ev.idle) == [5.0] * 6
    assert len(ev.call_n) == 100 and board.inferences == 1 + 100
    assert len(reads) == 1 + 2 * 5 and len(ev.env) == 11
    assert r.provenance["board"] == "rpi5"


@pytest.mark.parametrize(("duty_hz", "windows"), [(0.5, 1), (2.0, 1)])
def test_the_slowest_duty_and_a_single_window_are_accepted(duty_hz: float, windows: int) -> None:
    clock, board, meter = _exact(inference_s=0.25)
    r = measure_duty_energy(
        board.run_batch, meter, duty_hz, captures_per_window=2, windows=windows, idle_s=2.0, clock=clock
    )
    ev = r.recording.events
    assert len(ev.windows) == windows
    assert _lengths(ev.windows) == pytest.approx([2 / duty_hz] * windows)
    assert math.isfinite(r.energy_per_inference_mj)


class _ReadWhenReady(_Polled):
    """A meter that says when a new value is ready: polled at twice its rate to see each once."""

    def read_if_ready(self) -> None:
        return None


@pytest.mark.parametrize(("rate_hz", "poll_hz"), [(5.0, 10.0), (600.0, 1000.0)])
def test_a_meter_read_when_ready_is_polled_at_twice_its_rate_up_to_1_khz(
    monkeypatch: pytest.MonkeyPatch, rate_hz: float, poll_hz: float
) -> None:
    clock, board, source = _exact()
    made: list[dict[str, Any]] = []
    monkeypatch.setattr(attribution_mod, "Sampler", _fake_sampler(made, source))
    meter = _ReadWhenReady()
    measure_energy(
        board.run_batch, meter, clock=_WallLike(clock), windows=1, idle_s=1.0, min_window_s=2.0,
        min_samples=10, rate_hz=rate_hz, dither=False,
    )
    assert made[0]["rate_hz"] == poll_hz


def test_the_trace_waits_for_a_sample_covering_the_end_and_records_the_sampler_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sample stands for the average before it: the trace ends with the first sample at or
    after end + averaging (0.1 s) + the sampler's delay (0.25 s) + one period (0.1 s)."""
    clock, board, source = _exact()
    made: list[dict[str, Any]] = []
    monkeypatch.setattr(attribution_mod, "Sampler", _fake_sampler(made, source, delay_s=0.25))
    r = measure_energy(
        board.run_batch, _Polled(), clock=_WallLike(clock), windows=1, idle_s=1.0, min_window_s=2.0,
        min_samples=10, dither=False,
    )
    trace, ev = r.recording.trace, r.recording.events
    assert trace.header.delay_s == 0.25
    assert ev.end_s is not None
    assert float(trace.timestamps_s[-1]) >= ev.end_s + 0.45 - 1e-9


def test_a_meter_silent_after_the_run_is_refused_after_10_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """128 Hz: one period is 1/128 s (exact in binary); max(200 periods, 10 s) = 10 s. The wait
    sleeps a period at a time and gives up once more than 10 s have passed: after 1281 periods,
    10.0078125 s."""
    clock, board, source = _exact(rate_hz=128.0)
    made: list[dict[str, Any]] = []
    monkeypatch.setattr(attribution_mod, "Sampler", _fake_sampler(made, source, silent_after=True))
    with pytest.raises(MeterError) as e:
        measure_energy(
            board.run_batch, _Polled(), clock=_WallLike(clock), windows=1, idle_s=1.0, min_window_s=2.0,
            min_samples=10, rate_hz=128.0, dither=False,
        )
    assert str(e.value) == "meter produced no sample for 10.0 s after the run"
    assert clock.monotonic() - made[1]["waited_from"] == 1281 / 128


def test_a_slow_meter_silent_after_the_run_is_waited_for_200_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, board, source = _exact(rate_hz=8.0)
    made: list[dict[str, Any]] = []
    monkeypatch.setattr(attribution_mod, "Sampler", _fake_sampler(made, source, silent_after=True))
    with pytest.raises(MeterError) as e:
        measure_energy(
            board.run_batch, _Polled(), clock=_WallLike(clock), windows=1, idle_s=1.0, min_window_s=2.0,
            min_samples=10, rate_hz=8.0, dither=False,
        )
    assert str(e.value) == "meter produced no sample for 25.0 s after the run"  # 200 / 8 Hz


def test_a_short_idle_still_lasts_five_sample_periods() -> None:
    """--idle-s 0.1 on a 10 Hz meter: each idle lasts 5 periods, 0.5 s."""
    clock, board, meter = _exact()
    r = measure_energy(
        board.run_batch, meter, clock=clock, windows=2, idle_s=0.1, min_window_s=2.0, min_samples=10,
        max_relative_uncertainty=0.5,
    )
    assert _lengths(r.recording.events.idle) == [0.5, 0.5, 0.5]


CONTEXT = {
    "board": "rpi5",
    "board_model": "Raspberry Pi 5 Model B Rev 1.0",
    "soc": "bcm2712",
    "bundle_id": "sha256:0123",
    "variant": "onnx-a",
    "variant_sha256": "4567",
}


def test_the_trace_header_and_the_provenance_carry_the_meter_and_the_context() -> None:
    from edgekit import __version__

    clock, board, meter = _exact()
    r = measure_energy(
        board.run_batch, meter, clock=clock, windows=1, idle_s=1.0, min_window_s=2.0, min_samples=10,
        context=CONTEXT,
    )
    h = r.recording.trace.header
    info = meter.info
    assert (h.kind, h.meter, h.meter_spec, h.measures) == (info.kind, info.name, info.spec, info.measures)
    assert (h.sample_rate_hz, h.averaging_s, h.resolution_w, h.delay_s) == (10.0, 0.1, None, 0.0)
    assert h.clock == "host" and h.recorded_by == f"edgekit {__version__}"
    assert {k: getattr(h, k) for k in CONTEXT} == CONTEXT
    assert r.recording.trace.source == "simulated (live)"
    assert r.provenance == {
        "kind": "unverified",
        "reason": "simulated is not a physical meter",
        "meter": "simulated",
        "meter_spec": "simulated:rate_hz=10.0",
        **CONTEXT,
        "source": "live",
    }


class _NamedReplay:
    """A meter named "replay" (no recording attached), or any meter with a recording attached."""

    def __init__(self, name: str, recording: object | None) -> None:
        self.info = MeterInfo(
            name=name, spec=f"{name}:x", kind="measured", sample_rate_hz=10.0, resolution_w=None,
            measures="board input",
        )
        self.recording = recording


@pytest.mark.parametrize(("name", "recording"), [("replay", None), ("ina260", object())])
def test_a_replayed_trace_is_never_run_against_live_inferences(name: str, recording: object | None) -> None:
    ran: list[int] = []
    with pytest.raises(MeterError) as e:
        measure_energy(ran.append, _NamedReplay(name, recording), clock=VirtualClock())
    assert str(e.value) == (
        f"meter '{name}:x': a replayed trace is attributed with its own events (edgekit energy attribute, "
        "or bench --meter replay:DIR), never against inferences run live on this host"
    )
    assert ran == []
