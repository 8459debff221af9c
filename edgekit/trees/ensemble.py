"""Tree ensembles read from ONNX ``TreeEnsembleClassifier`` graphs, as plain arrays.

Gradient-boosted classifiers (LightGBM, XGBoost, scikit-learn via onnxmltools/skl2onnx) arrive
as one ``ai.onnx.ml.TreeEnsembleClassifier`` node whose attributes list every branch and leaf.
This module reads them into a :class:`TreeEnsemble`, so the compiler (:mod:`edgekit.trees.compile`)
and truncation (:func:`truncate_onnx`) work on the same view, and answers questions the build
asks: is this a tree model, how many boosting rounds, which features carry the splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from edgekit.errors import ModelError

__all__ = [
    "TreeEnsemble",
    "find_tree_node",
    "read_ensemble",
    "split_importance",
    "truncate_onnx",
]

_OP = "TreeEnsembleClassifier"
_DOMAIN = "ai.onnx.ml"
# Branch modes the compiler maps onto Treelite's comparison operators (x <op> threshold).
BRANCH_OPS = {"BRANCH_LEQ": "<=", "BRANCH_LT": "<", "BRANCH_GTE": ">=", "BRANCH_GT": ">"}


@dataclass(frozen=True)
class TreeEnsemble:
    """Branches and leaves of a tree-ensemble classifier, one array entry per node or leaf weight."""

    n_features: int
    n_classes: int
    post_transform: str  # "NONE" | "SOFTMAX" | "LOGISTIC" | ...
    base_values: np.ndarray  # (n_classes,) float
    node_tree: np.ndarray  # int64, one entry per node (branch or leaf)
    node_id: np.ndarray
    node_feature: np.ndarray
    node_value: np.ndarray  # float32 thresholds, as onnxruntime compares them
    node_mode: np.ndarray  # str: BRANCH_LEQ, ..., LEAF
    node_true: np.ndarray
    node_false: np.ndarray
    node_missing_true: np.ndarray  # bool: NaN goes to the true branch
    leaf_tree: np.ndarray
    leaf_node: np.ndarray
    leaf_class: np.ndarray
    leaf_weight: np.ndarray  # float32

    @property
    def tree_ids(self) -> np.ndarray:
        return np.unique(self.node_tree)

    @property
    def n_trees(self) -> int:
        return len(self.tree_ids)

    def tree_classes(self) -> dict[int, set[int]]:
        """The classes each tree's leaves add to (one class per tree for boosted multiclass)."""
        out: dict[int, set[int]] = {}
        for t, c in zip(self.leaf_tree.tolist(), self.leaf_class.tolist(), strict=True):
            out.setdefault(t, set()).add(c)
        return out

    def rounds(self) -> int | None:
        """Boosting rounds, when tree ``t`` serves class ``t % n_classes`` (LightGBM, XGBoost)."""
        ids = self.tree_ids
        if not np.array_equal(ids, np.arange(len(ids))):
            return None
        per = self.n_classes if self.n_classes > 2 else 1
        classes = self.tree_classes()
        if len(ids) % per:
            return None
        for t, cs in classes.items():
            if per > 1 and cs != {t % per}:
                return None
        return len(ids) // per

    def trees_per_round(self) -> int:
        return self.n_classes if self.n_classes > 2 else 1


def find_tree_node(model: onnx.ModelProto) -> onnx.NodeProto | None:
    """The graph's one TreeEnsembleClassifier node, or None when it has none."""
    nodes = [n for n in model.graph.node if n.op_type == _OP and n.domain == _DOMAIN]
    return nodes[0] if len(nodes) == 1 else None


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def read_ensemble(model: onnx.ModelProto, where: str | Path = "model") -> TreeEnsemble:
    """Read the tree ensemble of ``model``; ModelError naming ``where`` when it has none."""
    node = find_tree_node(model)
    if node is None:
        raise ModelError(f"{where}: not a tree model (no single ai.onnx.ml.{_OP} node)")
    a = _attrs(node)
    if "nodes_values_as_tensor" in a or "class_weights_as_tensor" in a:
        raise ModelError(f"{where}: double-precision tree attributes (*_as_tensor) are not supported")
    classes = a.get("classlabels_int64s") or a.get("classlabels_strings") or []
    n_classes = len(classes)  # type: ignore[arg-type]
    modes = np.array([m.decode() if isinstance(m, bytes) else m for m in a["nodes_modes"]])  # type: ignore[attr-defined]
    bad = sorted(set(modes.tolist()) - set(BRANCH_OPS) - {"LEAF"})
    if bad:
        raise ModelError(f"{where}: tree branch modes {bad} are not supported ({', '.join(BRANCH_OPS)})")
    post = a.get("post_transform", b"NONE")
    post_s = post.decode() if isinstance(post, bytes) else str(post)
    graph_in = model.graph.input[0].type.tensor_type.shape.dim
    n_feat_decl = graph_in[-1].dim_value if len(graph_in) == 2 else 0
    feats = np.asarray(a["nodes_featureids"], dtype=np.int64)
    n_features = int(n_feat_decl) or int(feats.max(initial=-1) + 1)
    n_nodes = len(modes)
    missing = np.asarray(a.get("nodes_missing_value_tracks_true") or [0] * n_nodes, dtype=bool)
    base = np.asarray(a.get("base_values") or [0.0] * n_classes, dtype=np.float64)
    return TreeEnsemble(
        n_features=n_features,
        n_classes=n_classes,
        post_transform=post_s,
        base_values=base,
        node_tree=np.asarray(a["nodes_treeids"], dtype=np.int64),
        node_id=np.asarray(a["nodes_nodeids"], dtype=np.int64),
        node_feature=feats,
        node_value=np.asarray(a["nodes_values"], dtype=np.float32),
        node_mode=modes,
        node_true=np.asarray(a["nodes_truenodeids"], dtype=np.int64),
        node_false=np.asarray(a["nodes_falsenodeids"], dtype=np.int64),
        node_missing_true=missing,
        leaf_tree=np.asarray(a["class_treeids"], dtype=np.int64),
        leaf_node=np.asarray(a["class_nodeids"], dtype=np.int64),
        leaf_class=np.asarray(a["class_ids"], dtype=np.int64),
        leaf_weight=np.asarray(a["class_weights"], dtype=np.float32),
    )


def split_importance(ens: TreeEnsemble, names: list[str] | tuple[str, ...]) -> dict[str, float]:
    """Fraction of all branch nodes that split on each feature (LightGBM's "split" importance;
    ONNX keeps no gains, so split counts are the importance the model file can give)."""
    branch = ens.node_mode != "LEAF"
    counts = np.bincount(ens.node_feature[branch], minlength=len(names))
    total = max(int(counts.sum()), 1)
    return {name: float(counts[j]) / total for j, name in enumerate(names)}


def truncate_onnx(model: onnx.ModelProto, rounds: int, where: str | Path = "model") -> onnx.ModelProto:
    """A copy of ``model`` keeping only the first ``rounds`` boosting rounds.

    Boosting adds rounds in order, so the first k rounds are the model LightGBM would have
    predicted with ``num_iteration=k``: the tree analogue of lowering precision.
    """
    ens = read_ensemble(model, where)
    total = ens.rounds()
    if total is None:
        raise ModelError(f"{where}: trees are not in boosting-round order; cannot truncate")
    if not 1 <= rounds <= total:
        raise ModelError(f"{where}: rounds must be in 1..{total}, got {rounds}")
    keep_trees = rounds * ens.trees_per_round()
    out = onnx.ModelProto()
    out.CopyFrom(model)
    node = find_tree_node(out)
    if node is None:  # read_ensemble checked; keeps mypy and a corrupted copy honest
        raise ModelError(f"{where}: tree node vanished while copying")
    keep_n = ens.node_tree < keep_trees
    keep_l = ens.leaf_tree < keep_trees
    per_node = {
        "nodes_falsenodeids", "nodes_featureids", "nodes_hitrates", "nodes_missing_value_tracks_true",
        "nodes_modes", "nodes_nodeids", "nodes_treeids", "nodes_truenodeids", "nodes_values",
    }
    per_leaf = {"class_ids", "class_nodeids", "class_treeids", "class_weights"}
    for attr in node.attribute:
        if attr.name in per_node or attr.name in per_leaf:
            mask = keep_n if attr.name in per_node else keep_l
            values = helper.get_attribute_value(attr)
            kept = [v for v, k in zip(values, mask.tolist(), strict=True) if k]
            attr.CopyFrom(helper.make_attribute(attr.name, kept))
    return out
