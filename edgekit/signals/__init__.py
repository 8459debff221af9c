"""Shared signal processing: preprocessing steps (as data, for bundles) and AMC features."""

from __future__ import annotations

from edgekit.signals.features import FEATURE_NAMES, extract_features
from edgekit.signals.preprocess import OPS, Pipeline, Step

__all__ = ["FEATURE_NAMES", "OPS", "Pipeline", "Step", "extract_features"]
