"""What a bench.json can make ``require_measured_energy`` do: a replayed trace without provenance,
the estimate model, or a board other than ``[target] board`` never make it pass (reason checked);
a physical meter on the target board, for the same variant file, does."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from edgekit.bench_result import BenchResult, load_bench_json
from edgekit.budget import BudgetContext, check_variant
from edgekit.builder.target_results import apply_target_results
from edgekit.config import BatteryConfig, BudgetsConfig
from edgekit.energy import write_recording
from edgekit.energy.simulate import MeterModel, Workload, synthesize_recording
from edgekit.results import VariantResult

from .conftest import FIXTURES, QUICK, CliRun, run_cli

BUDGETS = BudgetsConfig(max_battery_life_loss_pct=50.0, require_measured_energy=True)
CTX = BudgetContext(None, 40, require_measured_energy=True)
BATTERY = BatteryConfig(capacity_mah=5000.0, nominal_v=3.7, usable_fraction=0.9,
                        scanner_baseline_w=2.0, duty_hz=2.0)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verdict(bench: BenchResult, bundle: Path, target_board: str, name: str = "onnx-fp32") -> tuple[str, str]:
    """The build's judgement of the bench's figure for ``name``, whose file is the bundle's."""
    vr = VariantResult(name=name, runtime="onnxruntime", precision="fp32", status="built",
                       sha256=_sha(bundle / "variants" / f"{name}.onnx"))
    apply_target_results([vr], bench, BATTERY, "bench.json", target_board=target_board)
    check = next(c for c in check_variant(vr, BUDGETS, CTX) if c.budget == "max_battery_life_loss_pct")
    return check.status, check.detail


def _board_with_hwmon(tmp: Path, model: bytes, compatible: bytes) -> Path:
    """The fake Pi tree with another device tree and an INA226 under the hwmon driver (steady
    3.06 W: a physical meter whose figure is "measured")."""
    board = tmp / "board"
    shutil.copytree(FIXTURES / "pi4", board)
    (board / "proc" / "device-tree" / "model").write_bytes(model)
    (board / "proc" / "device-tree" / "compatible").write_bytes(compatible)
    hw = board / "sys" / "class" / "hwmon" / "hwmon0"
    hw.mkdir(parents=True)
    for name, value in {"name": "ina226", "in1_input": "5100", "curr1_input": "600",
                        "power1_input": "3060000", "update_interval": "5"}.items():
        (hw / name).write_text(value + "\n")
    return board


def _hwmon_bench(bundle: Path, board: Path, out: Path) -> CliRun:
    return run_cli([str(bundle), "--meter", "hwmon:name=ina226", "--variants", "onnx-fp32", *QUICK,
                    "--sysfs-root", str(board / "sys"), "--proc-root", str(board / "proc")], out)


def test_the_estimate_model_never_passes(estimate_run: CliRun) -> None:
    bench = load_bench_json(estimate_run.out_dir / "bench.json")
    bundle = Path(bench.bundle["path"])
    status, detail = _verdict(bench, bundle, "rpi4b")
    assert status == "not_evaluated"
    assert detail == (
        "not measured on the target: energy is estimated, not measured (model:rpi4b is a model, "
        "not a meter); require_measured_energy = true"
    )


@pytest.mark.parametrize(("kind", "said"), [(None, "no kind line"), ("unverified", "kind=unverified")])
def test_a_replayed_trace_without_provenance_never_passes(
    bundle_dir: Path, tmp_path: Path, kind: str | None, said: str
) -> None:
    result, _ = synthesize_recording(Workload(idle_w=2.0, active_w=3.5, inference_s=0.002, jitter=0.02),
                                     MeterModel(rate_hz=200.0, noise_w=0.005), windows=2, window_s=1.5,
                                     idle_s=1.0)
    rec = result.recording
    # a CSV of a physical meter without a kind line is still never measured
    trace = rec.trace.with_header(kind=kind, meter="ina260")
    write_recording(tmp_path / "rec", "onnx-fp32", type(rec)(trace, rec.events))
    run = run_cli([str(bundle_dir), "--meter", f"replay:{tmp_path / 'rec'}", "--variants", "onnx-fp32",
                   *QUICK], tmp_path / "out")
    assert run.code == 0, run.stderr
    status, detail = _verdict(load_bench_json(tmp_path / "out" / "bench.json"), bundle_dir, "rpi4b")
    assert status == "not_evaluated"
    assert detail == (
        f"not measured on the target: energy is unverified, not measured (the trace header says {said}; "
        "only kind=measured can count); require_measured_energy = true"
    )


@pytest.mark.parametrize("claims_board", ["rpi4b", "rpi5"])
def test_a_replayed_recording_of_another_file_never_passes(
    bundle_dir: Path, tmp_path: Path, claims_board: str
) -> None:
    # full provenance, on the target board, but recorded for a different variant file
    result, _ = synthesize_recording(Workload(idle_w=2.0, active_w=3.5, inference_s=0.002, jitter=0.02),
                                     MeterModel(rate_hz=200.0, noise_w=0.005), windows=2, window_s=1.5,
                                     idle_s=1.0)
    rec = result.recording
    header = {"kind": "measured", "meter": "ina260", "board": claims_board, "bundle_id": "b-0",
              "variant_sha256": "0" * 64}
    trace = rec.trace.with_header(**header)
    write_recording(tmp_path / "rec", "onnx-fp32", type(rec)(trace, rec.events))
    run = run_cli([str(bundle_dir), "--meter", f"replay:{tmp_path / 'rec'}", "--variants", "onnx-fp32",
                   *QUICK], tmp_path / "out")
    assert run.code == 0, run.stderr
    bench = load_bench_json(tmp_path / "out" / "bench.json")
    energy = bench.variants[0].energy
    assert energy is not None and energy["kind"] == "unverified"
    status, detail = _verdict(bench, bundle_dir, "rpi4b")
    assert status == "not_evaluated"
    assert "the recording measured variant file sha256 000000000000..., not the benched file's" in detail


def test_a_physical_meter_on_another_board_never_passes(bundle_dir: Path, tmp_path: Path) -> None:
    board = _board_with_hwmon(tmp_path, b"Raspberry Pi 5 Model B Rev 1.0\x00",
                              b"raspberrypi,5-model-b\x00brcm,bcm2712\x00")
    run = _hwmon_bench(bundle_dir, board, tmp_path / "out")
    assert run.code == 0, run.stderr
    bench = load_bench_json(tmp_path / "out" / "bench.json")
    # bench.json says where, what and with which meter
    assert bench.board["board"] == "rpi5" and bench.board["soc"] == "bcm2712"
    assert bench.board["model"] == "Raspberry Pi 5 Model B Rev 1.0"
    assert bench.bundle_id and bench.meter["kind"] == "measured"
    v = bench.variants[0]
    assert v.file_sha256 == _sha(bundle_dir / "variants" / "onnx-fp32.onnx")
    assert v.energy is not None and v.energy["kind"] == "measured"
    status, detail = _verdict(bench, bundle_dir, "rpi4b")
    assert status == "not_evaluated"
    assert detail == (
        "not measured on the target: measured on rpi5 (Raspberry Pi 5 Model B Rev 1.0), but [target] "
        "board is rpi4b; require_measured_energy = true"
    )
    # the same figure for a build that targets that board counts: the refusal above is the board's
    status, _ = _verdict(bench, bundle_dir, "rpi5")
    assert status == "pass"


def test_a_physical_meter_for_another_file_never_passes(bundle_dir: Path, tmp_path: Path) -> None:
    board = _board_with_hwmon(tmp_path, b"Raspberry Pi 4 Model B Rev 1.4\x00",
                              b"raspberrypi,4-model-b\x00brcm,bcm2711\x00")
    run = _hwmon_bench(bundle_dir, board, tmp_path / "out")
    assert run.code == 0, run.stderr
    bench = load_bench_json(tmp_path / "out" / "bench.json")
    assert _verdict(bench, bundle_dir, "rpi4b")[0] == "pass"
    # the build's onnx-fp32 is another file than the one benched (here: the wider model's)
    other = tmp_path / "other"
    (other / "variants").mkdir(parents=True)
    shutil.copy(bundle_dir / "variants" / "onnx-wide.onnx", other / "variants" / "onnx-fp32.onnx")
    status, detail = _verdict(bench, other, "rpi4b")
    assert status == "not_evaluated" and "not this build's" in detail
