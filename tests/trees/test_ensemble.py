"""Reading tree ensembles from ONNX, split importance and truncation by boosting rounds."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import helper

from edgekit.backends.testing import make_two_output
from edgekit.errors import ModelError
from edgekit.trees.ensemble import read_ensemble, split_importance, truncate_onnx
from edgekit.trees.testing import make_boosted_trees


def _attr(model: onnx.ModelProto, name: str) -> list:
    node = next(n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier")
    return list(helper.get_attribute_value(next(a for a in node.attribute if a.name == name)))


def test_reads_counts_rounds_and_classes(tmp_path):
    model = onnx.load(make_boosted_trees(tmp_path / "t.onnx", features=5, classes=4, rounds=7, depth=2))
    ens = read_ensemble(model)
    assert (ens.n_features, ens.n_classes, ens.n_trees, ens.rounds()) == (5, 4, 28, 7)
    assert ens.post_transform == "SOFTMAX"
    assert len(ens.node_mode) == 28 * 7 and int((ens.node_mode == "LEAF").sum()) == 28 * 4


def test_split_importance_is_the_share_of_branches_per_feature(tmp_path):
    model = onnx.load(make_boosted_trees(tmp_path / "t.onnx", features=4, rounds=5, seed=3))
    modes = [m.decode() for m in _attr(model, "nodes_modes")]
    feats = [f for f, m in zip(_attr(model, "nodes_featureids"), modes, strict=True) if m != "LEAF"]
    counts = Counter(feats)
    imp = split_importance(read_ensemble(model), ["a", "b", "c", "d"])
    assert imp == pytest.approx({n: counts[i] / len(feats) for i, n in enumerate("abcd")})


def test_truncation_keeps_the_first_rounds_and_is_lossless_past_zero_rounds(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = make_boosted_trees(tmp_path / "t.onnx", features=6, classes=3, rounds=10, zero_after=4)
    model = onnx.load(path)
    cut = truncate_onnx(model, 4)
    assert read_ensemble(cut).n_trees == 12 and set(_attr(cut, "nodes_treeids")) == set(range(12))
    x = np.random.default_rng(0).uniform(0, 1, (300, 6)).astype(np.float32)
    full = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    short = ort.InferenceSession(cut.SerializeToString(), providers=["CPUExecutionProvider"])
    # rounds 4.. add zero to every class, so the first 4 predict what all 10 do (onnxruntime may
    # sum the trees in another order, hence float rounding)
    a, b = short.run(None, {"features": x})[1], full.run(None, {"features": x})[1]
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(a.argmax(1), b.argmax(1))
    cut2 = truncate_onnx(model, 2).SerializeToString()
    shorter = ort.InferenceSession(cut2, providers=["CPUExecutionProvider"])
    assert np.abs(shorter.run(None, {"features": x})[1] - b).max() > 1e-3


@pytest.mark.parametrize("rounds", [0, 11])
def test_truncation_refuses_rounds_out_of_range(tmp_path, rounds):
    model = onnx.load(make_boosted_trees(tmp_path / "t.onnx", rounds=10))
    with pytest.raises(ModelError, match=r"rounds must be in 1\.\.10"):
        truncate_onnx(model, rounds, "t.onnx")


def test_a_non_tree_model_is_refused_with_one_line(tmp_path):
    model = onnx.load(make_two_output(tmp_path / "m.onnx"))
    with pytest.raises(ModelError, match=r"m\.onnx: not a tree model"):
        read_ensemble(model, "m.onnx")
