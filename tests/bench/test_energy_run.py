"""The bench's energy step: replayed recordings per variant, --record output, duty cycle, battery."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edgekit.bench.energy_run import (
    EnergyPlan,
    check_trace_covers,
    duty_captures,
    measure_variant_duty_energy,
    measure_variant_energy,
    project,
)
from edgekit.energy import (
    EnergyRefused,
    VirtualClock,
    measure_duty_energy,
    open_meter,
    read_recording,
    write_recording,
)
from edgekit.energy.simulate import (
    MeterModel,
    SimulatedBoard,
    SimulatedMeter,
    Workload,
    synthesize_recording,
    synthesize_trace,
)
from edgekit.errors import MeterError

PLAN = EnergyPlan(window_s=1.5, windows=2, idle_s=1.0, min_samples=10, markers=False)


def _never(n: int) -> None:
    raise AssertionError("a replay must not run inferences")


def _folder(tmp_path: Path) -> Path:
    # two variants recorded: 2 ms at 3.5 W and 5 ms at 3.0 W over a 2 W idle
    for name, workload in (("fast", Workload(2.0, 3.5, 0.002)), ("slow", Workload(2.0, 3.0, 0.005))):
        result, _ = synthesize_recording(workload, MeterModel(500, noise_w=0.005), windows=2,
                                         window_s=1.5, idle_s=1.0, seed=len(name))
        write_recording(tmp_path, name, result.recording)
    return tmp_path


@pytest.mark.parametrize(("variant", "total_mj"), [("fast", 7.0), ("slow", 15.0)])
def test_replay_attributes_each_variants_own_recording(tmp_path: Path, variant: str, total_mj: float) -> None:
    # closed form: 3.5 W x 2 ms = 7 mJ; 3.0 W x 5 ms = 15 mJ per inference
    result = measure_variant_energy(_never, f"replay:{_folder(tmp_path)}", PLAN, inferences_per_call=1,
                                    roots={}, variant=variant)
    assert result.energy_per_inference_mj == pytest.approx(total_mj, rel=0.02)
    assert result.kind == "unverified" and result.provenance["source"].startswith("replay:")


def test_replay_of_a_missing_variant_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MeterError, match=r"no recording 'onnx-int8'; it holds: fast, slow"):
        measure_variant_energy(_never, f"replay:{_folder(tmp_path)}", PLAN, inferences_per_call=1,
                               roots={}, variant="onnx-int8")


def test_trace_without_events_is_refused_up_front(tmp_path: Path) -> None:
    trace, _ = synthesize_trace(Workload(2.0, 3.0, 0.002), MeterModel(200.0), active_s=12.0)
    meter = open_meter(f"replay:{trace.write_csv(tmp_path / 'trace.csv')}")
    with pytest.raises(MeterError, match="a trace without its inference events cannot give an energy") as e:
        check_trace_covers(meter, PLAN)
    assert e.value.exit_code == 2 and not isinstance(e.value, EnergyRefused)


def test_live_run_is_recorded_and_reproducible(tmp_path: Path) -> None:
    # the CPU model on the real clock with a fixed utilisation: a smoke run, provenance only
    plan = EnergyPlan(window_s=0.3, windows=1, idle_s=0.7, min_samples=2)
    plan = replace(plan, markers=False)
    try:
        result = measure_variant_energy(lambda n: None, "model:rpi4b", plan, inferences_per_call=1,
                                        roots={"utilisation": lambda: 1.0}, variant="onnx-fp32",
                                        context={"bundle_id": "b-9"}, record_dir=tmp_path / "rec")
    except EnergyRefused as e:
        pytest.skip(f"host too busy for the smoke measurement: {e}")
    power = tmp_path / "rec" / "onnx-fp32.power.csv"
    events = tmp_path / "rec" / "onnx-fp32.events.jsonl"
    rec = read_recording(power, events)
    assert rec.trace.header.meter == "model:rpi4b" and rec.trace.header.kind == "estimated"
    assert rec.events.header["bundle_id"] == "b-9" and rec.events.header["variant"] == "onnx-fp32"
    again = measure_variant_energy(_never, f"replay:{tmp_path / 'rec'}", plan, inferences_per_call=1,
                                   roots={}, variant="onnx-fp32")
    assert again.energy_per_inference_mj == result.energy_per_inference_mj
    assert again.kind == result.kind == "estimated"


def test_duty_recording_is_replayed_beside_the_back_to_back_one(tmp_path: Path) -> None:
    clock = VirtualClock()
    board = SimulatedBoard(Workload(2.0, 4.0, 0.01), clock, seed=1)
    meter = SimulatedMeter(board, MeterModel(1000, averaging_s=0.001), seed=2)
    duty = measure_duty_energy(board.run_batch, meter, 5.0, captures_per_window=10, windows=2,
                               idle_s=1.0, clock=clock)
    write_recording(tmp_path, "v.duty", duty.recording)
    again = measure_variant_duty_energy(_never, f"replay:{tmp_path}", 5.0, PLAN, roots={}, variant="v")
    # closed form: (4 - 2) W x 10 ms = 20 mJ above idle per capture
    assert again.dynamic_energy_per_inference_mj == pytest.approx(20.0, rel=0.02)
    assert again.mode == "duty" and again.duty_hz == 5.0


def test_projection_carries_efficiency_and_interval(tmp_path: Path) -> None:
    result = measure_variant_energy(_never, f"replay:{_folder(tmp_path)}", PLAN, inferences_per_call=1,
                                    roots={}, variant="fast")
    battery = {"capacity_wh": 20.0, "scanner_baseline_w": 1.0, "converter_efficiency": 0.85}
    p = project(battery, result, 2.0)
    dyn = result.dynamic_energy_per_inference_mj
    assert p.model_power_w == pytest.approx(2.0 * dyn / 1e3 / 0.85)
    lo, hi = result.dynamic_spread_mj
    assert p.life_with_model_interval_h == pytest.approx(
        (20.0 / (1.0 + 2.0 * hi / 1e3 / 0.85), 20.0 / (1.0 + 2.0 * max(lo, 0.0) / 1e3 / 0.85)))
    assert p.converter_efficiency == 0.85


@pytest.mark.parametrize(("duty_hz", "captures"), [(5.0, 20), (40.0, 60), (13.4, 21)])
def test_duty_windows_are_at_least_as_long_as_back_to_back_ones(duty_hz: float, captures: int) -> None:
    # PLAN: 1.5 s windows, 20 captures at least; 40 Hz x 1.5 s = 60, 13.4 Hz x 1.5 s = 20.1 -> 21
    assert duty_captures(PLAN, duty_hz) == captures


def test_idle_shorter_than_the_meter_can_resolve_is_lengthened() -> None:
    # a 10 Hz meter and --idle-s 0.2: two samples, none left after the settle guard; the run
    # idles 5 sample periods (0.5 s) instead and says so in its event log
    from edgekit.energy import measure_energy

    clock = VirtualClock()
    board = SimulatedBoard(Workload(2.0, 3.0, 0.01), clock, seed=1)
    meter = SimulatedMeter(board, MeterModel(10.0, averaging_s=0.1), seed=2)
    result = measure_energy(board.run_batch, meter, min_window_s=2.0, min_samples=10, windows=2,
                            idle_s=0.2, clock=clock)
    idle = result.recording.events.idle
    assert len(idle) == 3 and all(end - start >= 0.5 - 1e-9 for start, end in idle)
    # closed form: 1 W above idle for 10 ms
    assert result.dynamic_energy_per_inference_mj == pytest.approx(10.0, rel=0.05)
