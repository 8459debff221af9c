"""The chosen OOD score's cost is timed with the model (same worker, same runs) and enters the
energy estimate; expected values are worked out here by hand, not by the code under test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgekit.builder.energy_estimate import estimate_energy
from edgekit.builder.penultimate import expose_features
from edgekit.builder.profile import ProfileJob, profile_variants
from edgekit.config import BatteryConfig
from edgekit.results import LatencyResult, ScoreCost
from edgekit.signals.ood import FeatureStats, save_stats
from tests.conftest import make_cnn1d

PROFILES = Path(__file__).resolve().parents[2] / "edgekit" / "energy" / "profiles"


def _model_with_features(tmp: Path) -> Path:
    path = make_cnn1d(tmp / "cnn.onnx", classes=4, length=64)
    model = onnx.load(str(path))
    expose_features(model, "f")  # the Gemm's input, 8 wide, as output 1
    onnx.save(model, str(path))
    return path


def test_the_score_is_timed_in_the_same_runs_and_its_statistics_counted(tmp_path: Path) -> None:
    model = _model_with_features(tmp_path)
    rng = np.random.default_rng(0)
    # 4 classes x 8 features, an 8 x 8 precision, a bank of 10 rows: (32 + 64 + 80) x 8 bytes
    # once loaded as float64 = 1408 bytes
    stats = FeatureStats(rng.normal(size=(4, 8)), np.eye(8), rng.normal(size=(10, 8)), 3)
    save_stats(stats, tmp_path / "v.ood.npz")
    score = {"kind": "mahalanobis", "output_kind": "logits", "output_index": 0,
             "features_index": 1, "input_name": "x", "temperature": 1.3,
             "statistics": str(tmp_path / "v.ood.npz")}
    jobs = [ProfileJob("scored", model, {}, score), ProfileJob("bare", model, {})]
    attempt = profile_variants(
        jobs, preprocess=[], sample=rng.normal(size=(1, 2, 64)).astype(np.float32), threads=1,
        runs=30, warmup=2, rounds=3, log_dir=tmp_path / "logs",
    )
    assert set(attempt.score_cost) == {"scored"}  # a job without a score has no score cost
    sc = attempt.score_cost["scored"]
    lat = attempt.latency["scored"]
    assert sc.score == "mahalanobis" and sc.runs == lat.runs == 30
    assert sc.stats_bytes == 1408
    assert sc.p50_ms > 0 and sc.cpu_ms_per_capture >= 0
    # every run's total is its model time plus a non-negative score time, so each percentile of
    # the totals is at least the same percentile of either part
    assert sc.total_p50_ms >= max(lat.p50_ms, sc.p50_ms)
    assert sc.total_p99_ms >= max(lat.p99_ms, sc.p99_ms)
    assert sc.p10_ms <= sc.p50_ms <= sc.p90_ms <= sc.p99_ms
    # the model's peak is taken before the score is loaded: never above the final peak
    assert lat.peak_memory_mb == sc.model_peak_memory_mb <= sc.total_peak_memory_mb
    assert "30 runs" in sc.provenance and "mahalanobis" in sc.provenance


def _lat(cpu: float, p50: float) -> LatencyResult:
    return LatencyResult(1.0, p50, p50, p50, p50, 0.0, 200, 1, 1, 50.0, "ort", "host, measured",
                         cpu_ms_per_inference=cpu, cpu_ms_p10=cpu - 0.1, cpu_ms_p90=cpu + 0.1)


def _cost(total_cpu: float, total_p50: float) -> ScoreCost:
    return ScoreCost("spectral", 200, 0.1, 0.2, 0.3, 0.4, 0.2, total_p50, total_p50, total_p50,
                     total_cpu, total_cpu - 0.2, total_cpu + 0.2, total_cpu, 4096, 50.0, 60.0, "p")


def test_the_energy_estimate_includes_the_score_and_names_its_share() -> None:
    prof = json.loads((PROFILES / "rpi4b.json").read_text())
    active, idle = prof["active_per_core_w"], prof["idle_w"]  # 0.85 W, 1.6 W
    battery = BatteryConfig()
    alone = estimate_energy(_lat(cpu=0.5, p50=0.6), "rpi4b", battery)
    both = estimate_energy(_lat(cpu=0.5, p50=0.6), "rpi4b", battery, score=_cost(0.75, 0.85))
    assert alone.energy_per_inference_mj == pytest.approx(0.5 * active + 0.6 * idle)
    assert alone.ood_score_mj is None
    assert both.dynamic_energy_per_inference_mj == pytest.approx(0.75 * active)
    assert both.energy_per_inference_mj == pytest.approx(0.75 * active + 0.85 * idle)
    assert both.ood_score_mj == pytest.approx(0.25 * active + 0.25 * idle)
    assert both.spread_mj == pytest.approx(0.2 * active)  # (p90 - p10) / 2 of the totals' CPU
    assert "spectral score" in both.provenance
