"""Tree ensembles as first-class models: read from ONNX, truncate by boosting rounds, compile to C."""

from __future__ import annotations

from edgekit.trees.ensemble import TreeEnsemble, read_ensemble, split_importance, truncate_onnx

__all__ = ["TreeEnsemble", "read_ensemble", "split_importance", "truncate_onnx"]
