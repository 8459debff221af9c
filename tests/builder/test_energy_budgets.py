"""Energy and battery budgets in the build's verdict: estimates, measured target results."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.energy import Recording, write_recording
from edgekit.energy.simulate import MeterModel, Workload, synthesize_recording

from .conftest import reference_config


def _config(tmp: Path, **replace: str) -> Path:
    # neither the ood stage's fit nor the membership audit (half a minute) is what these tests are
    # about: small calibration data, no audit
    return reference_config(tmp, eval_n=300, runs=30, cal_n=300, audit=False, **replace)


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def test_battery_life_loss_over_budget_rejects_and_says_by_how_much(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 5,000 captures/s on a scanner that draws 0.05 W by itself: the model dominates the drain.
    cfg = _config(
        tmp_path,
        **{"duty_hz = 2.0": "duty_hz = 5000.0", "scanner_baseline_w = 2.0": "scanner_baseline_w = 0.05"},
    )
    code = main(["build", str(cfg), "--out", str(tmp_path / "out"), "--variants", "onnx-fp32"])
    assert code == 1
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "max_battery_life_loss_pct =" in ln)
    m = re.search(r"= ([\d.]+) % > limit 15.0 % \(by ([\d.]+)\)", line)
    assert m is not None, line
    assert float(m.group(2)) == pytest.approx(float(m.group(1)) - 15.0, abs=0.01)
    v = _report(tmp_path / "out")["variants"][0]
    check = next(c for c in v["checks"] if c["budget"] == "max_battery_life_loss_pct")
    assert check["status"] == "fail" and "estimated" in check["detail"]


def test_require_measured_energy_with_only_an_estimate_is_not_a_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, **{"require_measured_energy = false": "require_measured_energy = true"})
    code = main(["build", str(cfg), "--out", str(tmp_path / "out"), "--variants", "onnx-fp32"])
    assert code == 1
    out = capsys.readouterr().out
    assert "max_battery_life_loss_pct not evaluated" in out and "require_measured_energy" in out
    v = _report(tmp_path / "out")["variants"][0]
    assert v["energy"]["kind"] == "estimated"
    assert {c["status"] for c in v["checks"] if c["budget"] == "max_battery_life_loss_pct"} == {
        "not_evaluated"
    }


def test_target_results_from_bench_are_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """build -> bench on the bundle with a (replayed) meter -> build --target-results."""
    # the bench times this host (--quick): its p99 under a shared CI host's load is not what is
    # judged here, so the latency budget is wide; the energy budget is the point
    cfg = _config(tmp_path, **{"require_measured_energy = false": "require_measured_energy = true",
                               "max_latency_p99_ms = 150.0": "max_latency_p99_ms = 60000.0"})
    out1 = tmp_path / "first"
    assert main(["build", str(cfg), "--out", str(out1), "--variants", "onnx-fp32"]) == 1
    manifest = json.loads((out1 / "bundle" / "manifest.json").read_text())
    entry = next(v for v in manifest["variants"] if v["name"] == "onnx-fp32")
    sha = hashlib.sha256((out1 / "bundle" / entry["file"]).read_bytes()).hexdigest()
    # a recording (power trace + event log) as `edgekit bench --record` writes it on a Pi 4B with
    # an INA260, for this variant file; a bare trace, or one without this provenance, can never
    # count as measured. Its bundle ID is another's: a rebuilt bundle never has the benched ID, so
    # only the variant file's digest is compared.
    result, _ = synthesize_recording(
        Workload(idle_w=2.0, active_w=3.5, inference_s=0.002, jitter=0.02),
        MeterModel(rate_hz=200.0, noise_w=0.005),
        windows=2,
        window_s=1.5,
        idle_s=1.0,
    )
    rec = result.recording
    header = replace(rec.trace.header, kind="measured", meter="ina260", board="rpi4b", bundle_id="b-test",
                     variant_sha256=sha)
    write_recording(tmp_path / "rec", "onnx-fp32", Recording(replace(rec.trace, header=header), rec.events))
    bench_out = tmp_path / "bench"
    code = main(
        [
            "bench",
            str(out1 / "bundle"),
            "--meter",
            f"replay:{tmp_path / 'rec'}",
            "--out",
            str(bench_out),
            "--quick",
            "--windows",
            "2",
            "--idle-s",
            "0.4",
            "--runs",
            "30",
        ]
    )
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    out2 = tmp_path / "second"
    code = main(
        [
            "build",
            str(cfg),
            "--out",
            str(out2),
            "--variants",
            "onnx-fp32",
            "--target-results",
            str(bench_out / "bench.json"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    v = _report(out2)["variants"][0]
    assert v["sha256"] == sha  # the rebuilt variant file is byte for byte the benched one
    assert v["energy"]["kind"] == "measured" and v["energy"]["measured_on_target"] is True
    assert v["energy"]["provenance"].startswith("measured on the target (measured on rpi4b with ina260")
    check = next(c for c in v["checks"] if c["budget"] == "max_battery_life_loss_pct")
    assert check["status"] == "pass" and "measured" in check["detail"]
    assert v["latency"]["provenance"].startswith("target, measured by edgekit bench")
    assert any("replaced by the target" in n for n in v["notes"])
    # the bench ran with --quick: the build report says its budgets were judged on quick figures
    warnings = _report(out2)["warnings"]
    assert any("--quick" in w and str(bench_out / "bench.json") in w for w in warnings)
    # the same build judged on an estimate of the same bundle (the CPU model on this host) never
    # passes: the budget is not evaluated and the report says why, in one line per budget
    estimate_out = tmp_path / "bench-estimate"
    code = main(["bench", str(out1 / "bundle"), "--meter", "model:rpi4b", "--out", str(estimate_out),
                 "--quick", "--windows", "2", "--idle-s", "0.4", "--runs", "30"])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    out3 = tmp_path / "third"
    code = main(["build", str(cfg), "--out", str(out3), "--variants", "onnx-fp32",
                 "--target-results", str(estimate_out / "bench.json")])
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    assert (
        "onnx-fp32: max_battery_life_loss_pct not evaluated — not measured on the target: energy is "
        "estimated, not measured (model:rpi4b is a model, not a meter); require_measured_energy = true"
    ) in " ".join(captured.out.split())
    v = _report(out3)["variants"][0]
    assert v["energy"]["kind"] == "estimated" and v["energy"]["measured_on_target"] is False
