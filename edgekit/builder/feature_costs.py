"""The build's feature-cost table: what each engineered feature costs per capture, and what the
model gets from it (split importance), when the preprocessing ends in the ``features`` op."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from edgekit.signals.feature_cost import measure_feature_costs
from edgekit.signals.features import FEATURE_NAMES
from edgekit.signals.preprocess import Pipeline
from edgekit.trees.ensemble import find_tree_node, read_ensemble, split_importance

__all__ = ["feature_cost_table"]

_CAPTURES = 8
_REPEATS = 30


def feature_cost_table(
    preprocess: list[dict[str, Any]], captures: np.ndarray | None, model: onnx.ModelProto
) -> dict[str, Any] | None:
    """The table as report.json carries it, or None when there is no ``features`` step or data.

    The steps before ``features`` run first (the features see what the device gives them); the
    captures are the first few of the evaluation or calibration data.
    """
    ops = [s.get("op") for s in preprocess]
    if "features" not in ops or captures is None or len(captures) == 0:
        return None
    before = Pipeline.from_spec(preprocess[: ops.index("features")])
    with np.errstate(all="ignore"):
        x = before(np.asarray(captures[:_CAPTURES])).astype(np.float32)
    importance = None
    if find_tree_node(model) is not None:
        ens = read_ensemble(model)
        if ens.n_features == len(FEATURE_NAMES):
            importance = split_importance(ens, FEATURE_NAMES)
    table = measure_feature_costs(x, repeats=_REPEATS, importance=importance)
    out = table.to_dict()
    out["importance_kind"] = (
        "share of the model's tree splits on the feature" if importance is not None else None
    )
    return out
