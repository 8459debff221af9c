"""Finding the penultimate activations in odd graphs, exposing them, and the OOD choice rule."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.builder.penultimate import expose_features, find_penultimate
from edgekit.builder.stages.ood import choose_score, fit_stats
from edgekit.errors import ModelError
from edgekit.results import OodScoreRow

RNG = np.random.default_rng(0)


def _model(nodes: list, inits: dict[str, np.ndarray], out: str, out_dim: int = 3) -> onnx.ModelProto:
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", out_dim])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def test_gemm_head_through_softmax():
    m = _model(
        [
            helper.make_node("Relu", ["x"], ["h"]),
            helper.make_node("Gemm", ["h", "W", "b"], ["z"], transB=1),
            helper.make_node("Softmax", ["z"], ["p"], axis=1),
        ],
        {"W": RNG.normal(size=(3, 4)), "b": np.zeros(3)},
        "p",
    )
    assert find_penultimate(m, "p") == "h"


def test_matmul_with_the_weight_first_and_a_transposed_weight():
    # z = (W^T)^T-style: the weight comes first and is computed from an initializer in the graph
    m = _model(
        [
            helper.make_node("Relu", ["x"], ["h"]),
            helper.make_node("Transpose", ["Wt"], ["W"], perm=[1, 0]),
            helper.make_node("MatMul", ["h", "W"], ["z0"]),
            helper.make_node("Add", ["z0", "b"], ["z"]),
        ],
        {"Wt": RNG.normal(size=(3, 4)), "b": np.zeros(3)},
        "z",
    )
    assert find_penultimate(m, "z") == "h"
    # weight first (a transposed head: z^T = W h^T written as MatMul(W', h))
    m2 = _model(
        [
            helper.make_node("Relu", ["x"], ["h"]),
            helper.make_node("Transpose", ["h"], ["ht"], perm=[1, 0]),
            helper.make_node("MatMul", ["W", "ht"], ["zt"]),
            helper.make_node("Transpose", ["zt"], ["z"], perm=[1, 0]),
        ],
        {"W": RNG.normal(size=(3, 4))},
        "z",
    )
    assert find_penultimate(m2, "z") == "ht"


def test_the_last_of_two_linear_layers_and_none_without_one():
    m = _model(
        [
            helper.make_node("Gemm", ["x", "W1"], ["a"]),
            helper.make_node("Relu", ["a"], ["h"]),
            helper.make_node("Gemm", ["h", "W2"], ["z"]),
        ],
        {"W1": RNG.normal(size=(4, 5)), "W2": RNG.normal(size=(5, 3))},
        "z",
    )
    assert find_penultimate(m, "z") == "h"
    conv_head = _model(
        [helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Mul", ["h", "s"], ["z"])],
        {"s": np.ones(4)},
        "z",
        out_dim=4,
    )
    assert find_penultimate(conv_head, "z") is None
    linear = _model([helper.make_node("Gemm", ["x", "W"], ["z"])], {"W": RNG.normal(size=(4, 3))}, "z")
    assert find_penultimate(linear, "z") is None  # features would be the input itself


def test_exposed_features_are_an_output_onnxruntime_computes():
    w = RNG.normal(size=(3, 4))
    m = _model(
        [helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Gemm", ["h", "W"], ["z"], transB=1)],
        {"W": w},
        "z",
    )
    expose_features(m, "h")
    onnx.checker.check_model(m)
    assert [o.name for o in m.graph.output] == ["z", "h"]
    x = RNG.normal(size=(6, 4)).astype(np.float32)
    z, h = ort.InferenceSession(m.SerializeToString()).run(None, {"x": x})
    np.testing.assert_allclose(h, np.maximum(x, 0), rtol=1e-6)
    np.testing.assert_allclose(z, np.maximum(x, 0) @ w.T, rtol=1e-5, atol=1e-5)
    with pytest.raises(ModelError, match="no node of the model produces"):
        expose_features(m, "nope")


def _row(score: str, unknown: float | None, auroc: float, latency: float, ok: bool = True) -> OodScoreRow:
    return OodScoreRow(score, ok, auroc=auroc, unknown_rate=unknown, latency_us=latency)


def test_choice_rule_best_share_then_auroc_then_latency():
    rows = [_row("a", 0.50, 0.9, 1), _row("b", 0.80, 0.7, 5), _row("c", 0.795, 0.8, 9)]
    assert choose_score(rows).score == "c"  # b and c tie within a point; c has the higher AUROC
    rows = [_row("a", 0.80, 0.8, 9), _row("b", 0.80, 0.8, 2)]
    assert choose_score(rows).score == "b"  # same share and AUROC: the cheaper
    rows = [_row("a", 0.30, 0.8, 1), _row("knn", None, 0.0, 0, ok=False)]
    assert choose_score(rows).score == "a"  # an unavailable score is never chosen


def test_fit_stats_recovers_class_means_and_shared_covariance():
    means = np.array([[0.0, 0.0], [5.0, 1.0]])
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 5000)
    f = np.concatenate([rng.multivariate_normal(m, cov, 5000) for m in means])
    stats = fit_stats(f, y, n_classes=3, k=4)
    np.testing.assert_allclose(stats.means[:2], means, atol=0.06)
    np.testing.assert_allclose(np.linalg.inv(stats.precision), cov, atol=0.1)
    assert stats.means[2].min() > 1e5  # absent class: nothing is near it
    assert stats.bank.shape == (2000, 2) and np.allclose(np.linalg.norm(stats.bank, axis=1), 1.0)
