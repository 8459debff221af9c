"""Shared signal processing: preprocessing steps (as data, for bundles) and AMC features."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgekit.signals.preprocess import OPS, Pipeline, Step

if TYPE_CHECKING:
    from edgekit.signals.features import FEATURE_NAMES, extract_features

__all__ = ["FEATURE_NAMES", "OPS", "Pipeline", "Step", "extract_features"]


def __getattr__(name: str) -> Any:
    # The feature extractor (numba, scipy.stats: about a second to import) is loaded when first
    # asked for, so importing any ``edgekit.signals.*`` module (the daemon's start-up) does not
    # pay for it.
    if name in ("FEATURE_NAMES", "extract_features"):
        from edgekit.signals import features

        return getattr(features, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
