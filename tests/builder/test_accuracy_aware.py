"""The accuracy-aware loop on a model whose plain int8 quantisation breaks the accuracy budget.

The model reads 8 features: feature 0 is a large nuisance value (~1000) that the first MatMul
ignores, features 1-4 decide the class. Per-tensor int8 of the input spends the whole range on
the nuisance, so the informative features round to zero and accuracy collapses; keeping that
first MatMul in float (its input then stays float) restores it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgekit.builder.pipeline import BuildOptions, run_build
from edgekit.config import load_config
from edgekit.data.dataset import Dataset, save_npz


def _model(path: Path) -> None:
    w1 = np.zeros((8, 8), np.float32)
    for j in range(4):
        w1[1 + j, j] = 1.0  # hidden_j = x_{j+1}; the nuisance x_0 has no weight
    w2 = np.zeros((8, 4), np.float32)
    w2[:4, :4] = np.eye(4, dtype=np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm_in"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "w2"], ["logits"], name="mm_out"),
    ]
    g = helper.make_graph(
        nodes, "nuisance",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))


def _data(n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 8)).astype(np.float32)
    x[:, 0] = rng.uniform(900, 1000, n)
    y = x[:, 1:5].argmax(axis=1).astype(np.int64)
    group = np.where(rng.random(n) < 0.5, "a", "b")
    return Dataset(x, y, ("c0", "c1", "c2", "c3"), {"group": group})


def test_loop_keeps_the_sensitive_node_in_float(tmp_path: Path) -> None:
    _model(tmp_path / "model.onnx")
    save_npz(_data(600, 1), tmp_path / "eval.npz")
    save_npz(_data(200, 2), tmp_path / "cal.npz")
    (tmp_path / "edgekit.toml").write_text(
        '''variants = ["onnx-fp32", "onnx-int8-static"]
[model]
path = "model.onnx"
name = "nuisance"
labels = ["c0", "c1", "c2", "c3"]
[data]
calibration = "cal.npz"
evaluation = "eval.npz"
[slices]
columns = ["group"]
min_size = 50
[quant]
max_float_nodes = 2
[profile]
runs = 20
max_reruns = 0  # CI: no re-timing after host interference (not judged here)
warmup = 2
[budgets]
max_accuracy_drop = 0.02
'''
    )
    cfg = load_config(tmp_path / "edgekit.toml")
    result = run_build(cfg, BuildOptions(out_dir=tmp_path / "out", log=lambda m: None))
    v = result.variant("onnx-int8-static")
    steps = v.quant_search
    assert len(steps) >= 2
    assert steps[0].float_nodes == [] and not steps[0].accepted
    assert steps[0].accuracy_drop > 0.3  # plain int8 broke the budget badly
    assert steps[-1].accepted and steps[-1].float_nodes == ["mm_in"]
    assert v.accuracy is not None and v.accuracy.accuracy > 0.98
    assert any("kept in float by the accuracy-aware loop: mm_in" in n for n in v.notes)
    assert all(c.status == "pass" for c in v.checks if c.budget == "max_accuracy_drop")
    assert result.verdict == "pass"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Accuracy-aware quantisation" in report and r"mm\_in" in report
    assert str(tmp_path / "out" / "bundle") in report  # final paths, not the staging folder
