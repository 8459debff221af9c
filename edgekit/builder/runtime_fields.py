"""A manifest field the daemon (``edgekit run``) reads, computed at build time:
``reference_statistics.preprocessed``, the drift monitor's reference, by the function whose
statistics the daemon recomputes on the stream (``edgekit.signals.reference``). Kept apart from
the pipeline's stages so it is one call. (``capture`` comes straight from the config's
``[capture]`` table in ``edgekit.bundle.write``.)"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.config import BuildConfig
from edgekit.signals.reference import build_reference

__all__ = ["drift_reference"]


def drift_reference(
    x: np.ndarray | None, scores: np.ndarray | None, in_dist: np.ndarray | None, cfg: BuildConfig
) -> dict[str, Any]:
    """``{"preprocessed": ...}``: statistics of the preprocessed in-distribution validation
    inputs ``x`` (rows ``in_dist``), or ``{}`` without evaluation data or model outputs."""
    if x is None or scores is None or in_dist is None or not np.any(in_dist):
        return {}
    ref = build_reference(
        np.asarray(x)[in_dist],
        np.asarray(scores)[in_dist],
        ood_score="max_softmax",  # only the preprocessed statistics are kept
        output_kind=cfg.model.output,
    )
    return {"preprocessed": ref["preprocessed"]}
