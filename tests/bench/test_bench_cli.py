"""``edgekit bench`` end to end on tiny bundles: the estimate, a replayed recording, and bad input."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from pathlib import Path

import pytest

from edgekit.bench_result import BENCH_SCHEMA_VERSION, load_bench_json
from edgekit.cli import main
from edgekit.energy import VirtualClock, measure_duty_energy, write_recording
from edgekit.energy.simulate import (
    MeterModel,
    SimulatedBoard,
    SimulatedMeter,
    Workload,
    synthesize_recording,
    synthesize_trace,
)
from edgekit.errors import DataError

from .conftest import QUICK, CliRun, run_cli


def test_estimate_run_writes_three_reports_labelled_estimated(estimate_run: CliRun) -> None:
    assert estimate_run.code == 0, estimate_run.stderr
    out = estimate_run.out_dir
    result = load_bench_json(out / "bench.json")
    assert result.schema_version == BENCH_SCHEMA_VERSION
    assert [v.name for v in result.variants] == ["onnx-fp32", "onnx-wide"]
    assert result.meter["kind"] == "estimated" and result.meter["chosen_by"] == "--meter"
    assert result.quick
    for v in result.variants:
        assert v.energy is not None and v.energy["kind"] == "estimated"
        assert v.energy["meter"] == "model:rpi4b"
        assert v.energy["n_inferences"] > 0 and len(v.energy["windows"]) == 2
        lo, hi = v.energy["spread_mj"]
        assert lo <= v.energy["energy_per_inference_mj"] <= hi
        assert v.energy_label.startswith("ESTIMATED (model:rpi4b")
        assert v.battery is not None and v.battery["kind"] == "estimated"
        assert v.battery["captures_per_s"] == 2.0  # from the manifest
        assert v.battery["life_with_model_h"] <= v.battery["life_without_model_h"]
        assert v.latency.runs == 30 and len(v.latency.samples_ms) == 30
        assert v.latency.p50_ms <= v.latency.p90_ms <= v.latency.p99_ms
        assert v.cold_start.cold_start_ms >= v.cold_start.load_ms + v.cold_start.first_inference_ms
        assert v.cpu_ms_per_inference > 0 and v.peak_memory_mb > 10
        assert "VmHWM" in v.memory_provenance
        assert v.accuracy_source.startswith("host-validated")
    md = (out / "bench.md").read_text()
    assert "Energy figures are ESTIMATED" in md and "QUICK RUN" in md
    assert md.count("ESTIMATED (model:rpi4b") >= 4  # summary + battery table, per variant
    assert "N = " in md and "spread" in md
    html = (out / "bench.html").read_text()
    assert "ESTIMATED" in html and "QUICK RUN" in html
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched; xmlns is fine


def test_estimate_run_reports_the_fake_board_and_throttling(estimate_run: CliRun) -> None:
    result = load_bench_json(estimate_run.out_dir / "bench.json")
    assert result.environment_before.board_model == "Raspberry Pi 4 Model B Rev 1.4"
    assert result.environment_before.cpu_governor == "ondemand"
    assert result.environment_after.throttled is not None
    assert result.environment_after.throttled.raw == 0x50005
    assert result.throttled_during_run
    assert any("THROTTLED DURING THE RUN" in w for w in result.warnings)
    assert "THROTTLED DURING THE RUN" in estimate_run.stderr
    assert "throttled during the run" in (estimate_run.out_dir / "bench.md").read_text()
    assert "throttled during the run" in (estimate_run.out_dir / "bench.html").read_text()


def _attribute_cli(power: Path, events: Path) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["energy", "attribute", "--power", str(power), "--events", str(events), "--json"])
    assert code == 0
    return json.loads(out.getvalue())


def test_attribute_reproduces_bench_from_the_recorded_files(estimate_run: CliRun) -> None:
    """edgekit energy attribute on the files --record wrote gives bench's figures, field for field
    (docs/energy-files.md: equal within 1e-9 relative; in practice bit for bit)."""
    rec = estimate_run.out_dir.parent / "rec"
    result = load_bench_json(estimate_run.out_dir / "bench.json")
    assert result.record_dir == str(rec)
    marker = json.loads((rec / ".edgekit-output").read_text())
    assert marker["kind"] == "bench-record"  # a folder edgekit owns (replaced only by edgekit)
    assert sorted(marker["entries"]) == sorted(
        f"{v}{suffix}" for v in ("onnx-fp32", "onnx-wide") for suffix in (".power.csv", ".events.jsonl")
    )
    for v in result.variants:
        assert v.recording == {"power": f"{v.name}.power.csv", "events": f"{v.name}.events.jsonl"}
        power, events = rec / v.recording["power"], rec / v.recording["events"]
        # the estimate model's trace says what it is
        assert "# kind=estimated" in power.read_text().splitlines()[:5]
        again = _attribute_cli(power, events)
        bench = json.loads(json.dumps(v.energy))
        assert again["kind"] == bench["kind"] == "estimated"
        numeric = [k for k, x in bench.items() if isinstance(x, int | float | list) and k != "warnings"]
        assert {"energy_per_inference_mj", "dynamic_energy_per_inference_mj", "spread_mj",
                "dynamic_spread_mj", "n_inferences", "idle_power_w", "windows"} <= set(numeric)
        for key in numeric:
            assert _close(again[key], bench[key]), key
        assert again["warnings"] == bench["warnings"]
        # the provenance differs only in how it was read (live vs the file)
        same = ("board", "board_model", "soc", "bundle_id", "variant", "variant_sha256", "meter")
        assert {k: again["provenance"][k] for k in same} == {k: bench["provenance"][k] for k in same}
        assert bench["provenance"]["variant_sha256"] == v.file_sha256
        assert bench["provenance"]["bundle_id"] == result.bundle_id


def _close(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)  # type: ignore[arg-type]
    return a == b


def test_record_folder_that_is_not_edgekits_is_refused_before_the_bench(
    bundle_dir: Path, tmp_path: Path
) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "notes.txt").write_text("mine")
    run = run_cli([str(bundle_dir), "--meter", "model:rpi4b", "--record", str(rec), *QUICK], tmp_path / "out")
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"output folder {rec}" in lines[0] and "notes.txt" in lines[0]
    assert (rec / "notes.txt").read_text() == "mine" and not (tmp_path / "out").exists()


def test_bench_json_round_trips(estimate_run: CliRun) -> None:
    raw = json.loads((estimate_run.out_dir / "bench.json").read_text())
    again = load_bench_json(estimate_run.out_dir / "bench.json").to_dict()
    assert again == raw


def _recording_dir(tmp_path: Path, name: str = "onnx-fp32") -> Path:
    """A recorded run (power trace + event log, as --record writes them) of a board idling at 2 W
    and drawing 3.5 W while inferring (2 ms): 7 mJ per inference, 3 mJ above idle."""
    result, _ = synthesize_recording(
        Workload(idle_w=2.0, active_w=3.5, inference_s=0.002, jitter=0.02),
        MeterModel(rate_hz=200.0, noise_w=0.005),
        windows=2,
        window_s=1.5,
        idle_s=1.0,
    )
    write_recording(tmp_path / "rec", name, result.recording)
    return tmp_path / "rec"


def _duty_recording(folder: Path, name: str, duty_hz: float) -> None:
    """A duty-cycle run of a simulated board (2 W idle, 4 W for 10 ms per capture, one capture per
    period and sleep between): 20 mJ above idle per capture, recorded as ``NAME.duty``."""
    clock = VirtualClock()
    board = SimulatedBoard(Workload(2.0, 4.0, 0.01), clock, seed=1)
    meter = SimulatedMeter(board, MeterModel(1000, averaging_s=0.001), seed=2)
    duty = measure_duty_energy(board.run_batch, meter, duty_hz, captures_per_window=15, windows=2,
                               idle_s=1.0, clock=clock)
    write_recording(folder, f"{name}.duty", duty.recording)


def test_replayed_recording_end_to_end(bundle_dir: Path, tmp_path: Path) -> None:
    rec = _recording_dir(tmp_path)
    run = run_cli(
        [str(bundle_dir), "--meter", f"replay:{rec}", "--variants", "onnx-fp32", *QUICK],
        tmp_path / "out",
    )
    assert run.code == 0, run.stderr
    result = load_bench_json(tmp_path / "out" / "bench.json")
    assert [v.name for v in result.variants] == ["onnx-fp32"]
    e = result.variants[0].energy
    assert e is not None
    # the figure is the recording's own (its trace against its events), not this host's rate
    assert e["energy_per_inference_mj"] == pytest.approx(7.0, rel=0.02)
    assert e["dynamic_energy_per_inference_mj"] == pytest.approx(3.0, rel=0.02)
    # a synthetic recording carries no provenance: never "measured"
    assert e["kind"] == "unverified" and e["provenance"]["source"].startswith("replay:")
    assert e["sample_rate_hz"] == pytest.approx(200.0, rel=0.1)
    md = (tmp_path / "out" / "bench.md").read_text()
    assert "UNVERIFIED" in md and not re.search(r"measured \(replay", md)


def test_duty_is_measured_beside_back_to_back_and_projected_from_both(
    bundle_dir: Path, tmp_path: Path
) -> None:
    rec = _recording_dir(tmp_path, "onnx-wide")
    _duty_recording(rec, "onnx-wide", 7.5)
    run = run_cli(
        [str(bundle_dir), "--meter", f"replay:{rec}", "--variants", "onnx-wide", "--duty", "7.5", *QUICK],
        tmp_path / "out",
    )
    assert run.code == 0, run.stderr
    v = load_bench_json(tmp_path / "out" / "bench.json").variants[0]
    assert v.battery is not None and v.duty_battery is not None and v.duty_energy is not None
    # --duty overrides the manifest's 2 captures/s in both projections
    assert v.battery["captures_per_s"] == 7.5 and v.battery["duty_hz_source"] == "--duty"
    assert v.duty_battery["captures_per_s"] == 7.5
    # closed forms: back to back 3 mJ above idle per inference; at the duty cycle 20 mJ per capture
    e, d = v.energy, v.duty_energy
    assert e is not None and e["dynamic_energy_per_inference_mj"] == pytest.approx(3.0, rel=0.02)
    assert d["mode"] == "duty" and d["duty_hz"] == 7.5
    assert d["dynamic_energy_per_inference_mj"] == pytest.approx(20.0, rel=0.02)
    dlo, dhi = d["dynamic_spread_mj"]
    assert dlo <= 20.0 <= dhi
    # battery from each: baseline 2 W + 7.5/s x dynamic energy (converter efficiency 1 here)
    assert v.battery["model_power_w"] == pytest.approx(7.5 * e["dynamic_energy_per_inference_mj"] / 1e3)
    assert v.duty_battery["model_power_w"] == pytest.approx(7.5 * d["dynamic_energy_per_inference_mj"] / 1e3)
    usable_wh = 5000e-3 * 3.7 * 0.9
    assert v.duty_battery["life_with_model_h"] == pytest.approx(usable_wh / (2.0 + 0.15), rel=0.02)
    lo_h, hi_h = v.duty_battery["life_with_model_interval_h"]
    assert lo_h == pytest.approx(usable_wh / (2.0 + 7.5 * dhi / 1e3))
    assert hi_h == pytest.approx(usable_wh / (2.0 + 7.5 * max(dlo, 0.0) / 1e3))
    md = (tmp_path / "out" / "bench.md").read_text()
    html = (tmp_path / "out" / "bench.html").read_text()
    for text in (md, html):
        assert "Energy per capture at the duty cycle" in text and "at the duty cycle" in text
        assert f"{dlo:.3g}, {dhi:.3g}" in text  # the duty figure's dynamic interval
        assert f"{lo_h:.1f}, {hi_h:.1f}" in text  # and the battery life's
    assert "7.5 Hz duty cycle" in run.stdout


def test_trace_without_events_is_refused_up_front(bundle_dir: Path, tmp_path: Path) -> None:
    trace, _ = synthesize_trace(
        Workload(idle_w=2.0, active_w=3.0, inference_s=0.002),
        MeterModel(rate_hz=100.0),
        active_s=12.0,
    )
    path = trace.write_csv(tmp_path / "trace.csv")
    run = run_cli([str(bundle_dir), "--meter", f"replay:{path}"], tmp_path / "out")
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "has no event log" in lines[0] and "--record" in lines[0]
    assert not (tmp_path / "out").exists()


def test_tampered_bundle_is_refused(bundle_dir: Path, tmp_path: Path) -> None:
    model = bundle_dir / "variants" / "onnx-fp32.onnx"
    model.write_bytes(model.read_bytes() + b"\x00")
    run = run_cli([str(bundle_dir), "--meter", "model:rpi4b", "--quick"], tmp_path / "out")
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "refusing a bundle that fails verification" in lines[0] and "onnx-fp32.onnx" in lines[0]
    assert not (tmp_path / "out").exists()


def test_unknown_variant_lists_the_accepted_ones(bundle_dir: Path, tmp_path: Path) -> None:
    run = run_cli(
        [str(bundle_dir), "--meter", "model:rpi4b", "--variants", "onnx-fp32,tflite-int8"],
        tmp_path / "out",
    )
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "tflite-int8" in lines[0] and "onnx-fp32, onnx-wide" in lines[0]


@pytest.mark.parametrize(
    ("spec", "expect"),
    [
        ("wattmeter:1", "unknown meter 'wattmeter'"),
        ("ina260:bus=x", "bus='x'"),
        ("model:rpi9", "unknown board 'rpi9'"),
    ],
)
def test_bad_meter_spec_is_one_line(bundle_dir: Path, tmp_path: Path, spec: str, expect: str) -> None:
    run = run_cli([str(bundle_dir), "--meter", spec], tmp_path / "out")
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0] and lines[0].startswith("edgekit: error:")


@pytest.mark.parametrize(
    ("flag", "value"), [("--window-s", "0"), ("--windows", "0"), ("--min-samples", "1"), ("--duty", "-1")]
)
def test_bad_numbers_are_usage_errors(bundle_dir: Path, tmp_path: Path, flag: str, value: str) -> None:
    run = run_cli([str(bundle_dir), "--meter", "model:rpi4b", flag, value], tmp_path / "out")
    assert run.code == 2
    assert flag in run.stderr


def test_load_bench_json_refuses_other_schemas(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"schema_version": 99, "variants": []}))
    with pytest.raises(DataError, match="bench schema 99"):
        load_bench_json(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="malformed JSON"):
        load_bench_json(path)


def test_infinite_life_is_written_as_null(estimate_run: CliRun) -> None:
    # life without any load is infinite; JSON has no infinity
    result = load_bench_json(estimate_run.out_dir / "bench.json")
    text = result.to_json()
    assert "Infinity" not in text and "NaN" not in text
    assert all(math.isfinite(v.latency.p99_ms) for v in result.variants)
