"""Small boosted-tree ONNX models made from scratch, for tests and for users' own checks.

``make_boosted_trees`` writes a ``TreeEnsembleClassifier`` graph shaped like onnxmltools' LightGBM
export (one tree per class per round, tree ``t`` adding to class ``t % classes``, softmax, outputs
``label`` and ``probabilities``), so everything that reads tree models can be tested without
LightGBM. ``zero_after`` gives every round from that one on all-zero leaves: truncating there is
provably lossless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

__all__ = ["make_boosted_trees"]


def make_boosted_trees(
    path: Path,
    *,
    features: int = 6,
    classes: int = 3,
    rounds: int = 8,
    depth: int = 3,
    seed: int = 0,
    zero_after: int | None = None,
    mode: str = "BRANCH_LEQ",
) -> Path:
    """Write a random boosted-tree classifier to ``path`` and return it."""
    rng = np.random.default_rng(seed)
    per_round = classes if classes > 2 else 1
    n_trees = rounds * per_round
    nodes: dict[str, list[object]] = {k: [] for k in (
        "treeids", "nodeids", "featureids", "values", "modes", "truenodeids", "falsenodeids",
        "missing_value_tracks_true", "hitrates",
    )}
    leaves: dict[str, list[object]] = {k: [] for k in ("treeids", "nodeids", "ids", "weights")}
    n_branch = 2**depth - 1
    for t in range(n_trees):
        for node in range(2 ** (depth + 1) - 1):
            nodes["treeids"].append(t)
            nodes["nodeids"].append(node)
            nodes["hitrates"].append(1.0)
            if node < n_branch:
                nodes["featureids"].append(int(rng.integers(features)))
                nodes["values"].append(float(np.float32(rng.uniform(0.0, 1.0))))
                nodes["modes"].append(mode)
                nodes["truenodeids"].append(2 * node + 1)
                nodes["falsenodeids"].append(2 * node + 2)
                nodes["missing_value_tracks_true"].append(int(rng.integers(2)))
            else:
                nodes["featureids"].append(0)
                nodes["values"].append(0.0)
                nodes["modes"].append("LEAF")
                nodes["truenodeids"].append(0)
                nodes["falsenodeids"].append(0)
                nodes["missing_value_tracks_true"].append(0)
                zero = zero_after is not None and t // per_round >= zero_after
                leaves["treeids"].append(t)
                leaves["nodeids"].append(node)
                leaves["ids"].append(t % per_round if per_round > 1 else 1)
                leaves["weights"].append(0.0 if zero else float(np.float32(rng.normal(0.0, 0.5))))
    attrs: dict[str, Any] = {f"nodes_{k}": v for k, v in nodes.items()}
    attrs.update({f"class_{k}": v for k, v in leaves.items()})
    tree = helper.make_node(
        "TreeEnsembleClassifier",
        ["features"],
        ["label", "probabilities"],
        domain="ai.onnx.ml",
        classlabels_int64s=list(range(classes)),
        post_transform="SOFTMAX" if classes > 2 else "LOGISTIC",
        **attrs,
    )
    graph = helper.make_graph(
        [tree],
        "boosted_trees",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", features])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes]),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)
