"""The daemon applies the bundle's chosen OOD score, temperature and input guard: a real bundle
(written and verified by edgekit.bundle) around a tiny two-output ONNX model, its answers
checked against numpy and scipy computed here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from scipy.spatial.distance import mahalanobis

from edgekit.bundle import load_bundle
from edgekit.errors import BundleError
from edgekit.runtime.model import load_runner
from edgekit.signals.ood import FeatureStats, InputGuard, l2_normalise, save_stats
from tests.runtime.bundles import pack_tiny_bundle

RNG = np.random.default_rng(0)
W = RNG.normal(size=(3, 16)).astype(np.float32)
MEANS = np.abs(RNG.normal(size=(3, 16)))
PRECISION = np.eye(16) * 2.0


def _model(path: Path) -> None:
    g = helper.make_graph(
        [
            helper.make_node("Flatten", ["x"], ["flat"]),
            helper.make_node("Relu", ["flat"], ["f"]),
            helper.make_node("Gemm", ["f", "W"], ["logits"], transB=1),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 8])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("f", TensorProto.FLOAT, ["batch", 16]),
        ],
        [numpy_helper.from_array(W, "W")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))


def _bundle(tmp: Path, ood: dict, stats: bool = True) -> Path:
    src = tmp / "src"
    src.mkdir()
    _model(src / "m.onnx")
    extra = {}
    if stats:
        save_stats(FeatureStats(MEANS, PRECISION, l2_normalise(MEANS), 1), src / "s.npz")
        extra = {"variants/onnx-fp32.ood.npz": src / "s.npz"}
    return pack_tiny_bundle(tmp, src / "m.onnx", ood, extra, 8)


def _guard() -> dict:
    x = np.abs(RNG.normal(0.5, 0.2, size=(200, 2, 8)))
    return InputGuard.fit(x, full_scale=16.0).to_manifest()


def test_daemon_applies_mahalanobis_temperature_and_threshold(tmp_path: Path):
    ood = {"score": "mahalanobis", "threshold": -3.0, "temperature": 2.0, "features_output": 1,
           "statistics": "variants/onnx-fp32.ood.npz", "input_guard": _guard()}
    runner = load_runner(load_bundle(_bundle(tmp_path, ood)), None, threads=1)
    try:
        near = MEANS[1].reshape(1, 2, 8).astype(np.float32)  # relu(x) = x: on class b's mean
        far = (MEANS[0] + 1.5).reshape(1, 2, 8).astype(np.float32)
        for x, unknown in ((near, False), (far, True)):
            p = runner.predict(x)
            f = np.maximum(x.reshape(-1).astype(np.float64), 0)
            z = W.astype(np.float64) @ f / 2.0
            conf = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
            want = -min(mahalanobis(f, m, PRECISION) ** 2 for m in MEANS)
            assert p.confidence == pytest.approx(conf.max(), rel=1e-5)
            assert p.score == pytest.approx(want, rel=1e-4, abs=1e-4)
            assert p.unknown is unknown and p.guard is None
        silent = runner.predict(np.zeros((1, 2, 8), np.float32))
        assert silent.unknown and silent.guard == "silent"
    finally:
        runner.close()


def test_a_feature_score_without_its_statistics_is_refused(tmp_path: Path):
    ood = {"score": "knn", "threshold": -1.0, "temperature": 1.0, "features_output": 1}
    with pytest.raises(BundleError, match="needs the features output"):
        load_runner(load_bundle(_bundle(tmp_path, ood, stats=False)), None, threads=1)


def test_statistics_must_be_listed_and_hashed(tmp_path: Path):
    ood = {"score": "knn", "threshold": -1.0, "statistics": "variants/other.npz"}
    with pytest.raises(BundleError, match="extra_files"):
        _bundle(tmp_path, ood)
