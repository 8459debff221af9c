"""A realistic ``BuildResult`` built by hand: what a build of the reference RF classifier yields.

Variants: the fp32 reference (passes), onnx-int8-static (passes, shipped; found by the
accuracy-aware quantisation loop), tflite-int8 (fails the slice budget on low SNR), onnx-fp16
(its energy budget could not be evaluated), tflite-fp16 (skipped: converter missing).
"""

from __future__ import annotations

import copy
from typing import Literal

import pytest

from edgekit.results import (
    AccuracyResult,
    BudgetCheck,
    BuildResult,
    EnergyFigure,
    LatencyResult,
    OodResult,
    QuantStep,
    SliceResult,
    StageTiming,
    VariantResult,
)

SNR_BINS = ["-10..-5", "-5..0", "0..5", "5..10", "10..20"]
REF_SNR_ACC = [0.62, 0.81, 0.94, 0.98, 0.99]
SIGNALS = ["AM", "FM", "BPSK", "QPSK", "16QAM"]
REF_SIG_ACC = [0.97, 0.96, 0.93, 0.90, 0.86]
SLICE_N = 180


def _slices(drops: dict[str, float], default_drop: float) -> list[SliceResult]:
    out = []
    for column, values, refs in (("snr_db", SNR_BINS, REF_SNR_ACC),
                                 ("signal_type", SIGNALS, REF_SIG_ACC)):
        for value, ref in zip(values, refs, strict=True):
            d = drops.get(value, default_drop)
            out.append(SliceResult(column, value, SLICE_N, ref - d, ref, d))
    return out


def _accuracy(acc: float, agreement: float, drops: dict[str, float],
              default_drop: float = 0.004) -> AccuracyResult:
    slices = _slices(drops, default_drop)
    return AccuracyResult(
        n=1800, accuracy=acc, macro_f1=acc - 0.01,
        per_class_recall={s: a for s, a in zip(SIGNALS, REF_SIG_ACC, strict=True)},
        agreement_with_reference=agreement,
        max_abs_diff_vs_reference=0.0 if agreement == 1 else 0.08,
        slices=slices, worst_slices=sorted(slices, key=lambda s: -s.drop)[:5],
        ood=OodResult("max_softmax", 0.55, 0.95, 0.71, 1800, 300, ["OFDM"]),
        data_source="synthetic:rf10 seed=7",
    )


def _latency(p50: float, p99: float, peak: float, runtime: str = "onnxruntime") -> LatencyResult:
    return LatencyResult(
        cold_ms=p50 * 6, p50_ms=p50, p90_ms=p50 * 1.2, p99_ms=p99, mean_ms=p50 * 1.05,
        std_ms=0.3, runs=200, threads=1, batch=1, peak_memory_mb=peak, runtime=runtime,
        provenance=f"host x86_64, measured, {runtime}, 200 runs, 1 thread",
    )


def _energy(mj: float) -> EnergyFigure:
    return EnergyFigure(
        energy_per_inference_mj=mj, dynamic_energy_per_inference_mj=mj * 0.6, spread_mj=mj * 0.08,
        kind="estimated", meter="cpu-model:pi4b", sample_rate_hz=10.0, n_inferences=500,
        windows=5, battery_life_h=11.2, battery_life_without_model_h=12.0,
        battery_life_loss_pct=6.7, drain_pct_per_h=8.9,
        provenance="estimated from CPU utilisation with the Pi 4B profile",
    )


def _checks(p99: float, slice_drop: float, detail: str = "") -> list[BudgetCheck]:
    return [
        BudgetCheck("max_latency_p99_ms", "pass" if p99 <= 150 else "fail", 150.0, p99, "ms"),
        BudgetCheck("max_accuracy_drop", "pass", 0.02, 0.006),
        BudgetCheck("max_slice_accuracy_drop", "pass" if slice_drop <= 0.05 else "fail", 0.05,
                    slice_drop, detail=detail),
    ]


def make_build_result(verdict: Literal["pass", "rejected"] = "pass") -> BuildResult:
    fp32 = VariantResult(
        name="onnx-fp32", runtime="onnxruntime", precision="fp32", status="built",
        path="variants/onnx-fp32.onnx", size_bytes=412_672, sha256="a" * 64, build_s=0.4,
        accuracy=_accuracy(0.931, 1.0, {}, default_drop=0.0), latency=_latency(4.2, 6.1, 48.5),
        energy=_energy(3.1), checks=_checks(6.1, 0.0),
    )
    int8 = VariantResult(
        name="onnx-int8-static", runtime="onnxruntime", precision="int8", status="built",
        path="variants/onnx-int8-static.onnx", size_bytes=109_312, sha256="b" * 64, build_s=3.2,
        accuracy=_accuracy(0.925, 0.988, {"-10..-5": 0.031}), latency=_latency(2.1, 3.4, 31.0),
        energy=_energy(1.6), checks=_checks(3.4, 0.031),
        quant_search=[
            QuantStep([], 0.901, 0.030, 0.094, 1.7, False),
            QuantStep(["conv_0"], 0.917, 0.014, 0.052, 1.9, False),
            QuantStep(["conv_0", "fc_logits"], 0.925, 0.006, 0.031, 2.1, True),
        ],
    )
    tfl8 = VariantResult(
        name="tflite-int8", runtime="tflite", precision="int8", status="built",
        path="variants/tflite-int8.tflite", size_bytes=98_304, sha256="c" * 64, build_s=21.0,
        accuracy=_accuracy(0.912, 0.962, {"-10..-5": 0.12, "16QAM": 0.04}),
        latency=_latency(1.9, 3.0, 22.4, "tflite"), energy=_energy(1.4),
        checks=_checks(3.0, 0.12, detail="slice snr_db=-10..-5 (n=180)"),
    )
    fp16 = VariantResult(
        name="onnx-fp16", runtime="onnxruntime", precision="fp16", status="built",
        path="variants/onnx-fp16.onnx", size_bytes=206_848, sha256="d" * 64, build_s=0.9,
        accuracy=_accuracy(0.930, 0.999, {}), latency=_latency(5.8, 8.2, 40.1),
        checks=[*_checks(8.2, 0.004),
                BudgetCheck("max_energy_per_inference_mj", "not_evaluated", 5.0, None, "mJ",
                            detail="no energy figure: the power model has no fp16 profile")],
    )
    skipped = VariantResult(
        name="tflite-fp16", runtime="tflite", precision="fp16", status="skipped",
        reason="TFLite converter not installed (pip install 'edgekit[tflite]')",
    )
    result = BuildResult(
        model_name="rfclass-cnn1d", config_path="edgekit.toml", model_path="models/rfclass.onnx",
        verdict="pass", selected="onnx-int8-static",
        selection_reason="smallest variant that passes every budget (107 KiB, p99 3.4 ms)",
        variants=[fp32, int8, tfl8, fp16, skipped],
        pareto=["tflite-int8", "onnx-int8-static", "onnx-fp32"],
        stages=[StageTiming("export", 25.5, "4 variants"), StageTiming("validate", 8.1),
                StageTiming("latency", 12.0, "200 runs each")],
        reference="onnx-fp32",
        host={"hostname": "ci-runner-3", "machine": "x86_64", "cpus": "2"},
        versions={"edgekit": "0.1.0", "onnxruntime": "1.20.1"},
        started_at="2025-01-15T10:00:00+00:00", duration_s=45.6,
        budgets={"max_latency_p99_ms": 150.0, "max_accuracy_drop": 0.02,
                 "max_slice_accuracy_drop": 0.05, "max_energy_per_inference_mj": 5.0},
        bundle_dir="out/bundle", warnings=["calibration set has only 64 captures of 16QAM"],
    )
    if verdict == "rejected":
        result = copy.deepcopy(result)
        result.verdict = "rejected"
        result.selected = None
        result.selection_reason = "no variant passes every budget"
        # In this build the int8 variant overruns the latency budget on a slower runner.
        result.variant("onnx-int8-static").checks[0] = BudgetCheck(
            "max_latency_p99_ms", "fail", 150.0, 172.0, "ms")
        result.variant("onnx-fp32").checks[0] = BudgetCheck(
            "max_latency_p99_ms", "fail", 150.0, 151.5, "ms")
    return result


@pytest.fixture
def passed_result() -> BuildResult:
    return make_build_result("pass")


@pytest.fixture
def rejected_result() -> BuildResult:
    return make_build_result("rejected")
