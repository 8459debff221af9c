"""What each engineered feature costs per capture, measured on this machine.

The feature graph (:mod:`edgekit.signals.features`) is timed one step at a time on single
captures (batch 1, as the device runs them), through the same compiled kernels and formulas the
fused pass runs. A feature's cost is its own step plus an even share of every intermediate it
needs, directly or through another intermediate (the normalised capture is shared by all 31, the
batched line FFT by the six line features). Each step timed alone carries one Python call of its
own, which the fused pass does not pay, so the steps add up to more than ``extract_us`` (the fused
pass, end to end); the ranking is what the table is for: which expensive features buy little.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np

from edgekit.signals.features import FEATURES, INTERMEDIATES, Cache, compute_graph, extract_features

__all__ = ["FeatureCost", "FeatureCostTable", "measure_feature_costs"]


@dataclass(frozen=True)
class FeatureCost:
    """One feature: its own step, its share of shared intermediates, and its importance."""

    name: str
    own_us: float
    shared_us: float
    importance: float | None = None  # fraction of the model's splits on this feature

    @property
    def total_us(self) -> float:
        return self.own_us + self.shared_us


@dataclass(frozen=True)
class FeatureCostTable:
    """Per-feature costs and how they were obtained."""

    features: list[FeatureCost]
    extract_us: float  # median wall time of ``extract_features`` on one capture, end to end
    captures: int
    repeats: int
    method: str

    def to_dict(self) -> dict[str, object]:
        return {
            "extract_us": self.extract_us,
            "captures": self.captures,
            "repeats": self.repeats,
            "method": self.method,
            "features": [
                {
                    "name": f.name,
                    "cost_us": f.total_us,
                    "own_us": f.own_us,
                    "shared_us": f.shared_us,
                    "importance": f.importance,
                }
                for f in self.features
            ],
        }


def _needs() -> dict[str, set[str]]:
    """Every intermediate each feature needs, transitively."""
    deps = {s.name: set(s.deps) - {"x"} for s in INTERMEDIATES}
    closure: dict[str, set[str]] = {}
    for step in INTERMEDIATES:  # dependency order: the closure of each dep is already known
        closure[step.name] = set(deps[step.name]).union(*(closure[d] for d in deps[step.name]))
    return {
        f.name: set(f.deps).union(*(closure[d] for d in f.deps if d in closure)) - {"x"}
        for f in FEATURES
    }


def _median_us(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e6)


def measure_feature_costs(
    x: np.ndarray,
    *,
    repeats: int = 30,
    importance: Mapping[str, float] | None = None,
) -> FeatureCostTable:
    """Time every step of the feature graph on the captures ``x`` (K, 2, L), one at a time.

    Each step is timed ``repeats`` times per capture with its inputs already computed; the
    median over all runs is its cost. ``importance`` (feature name -> fraction) is attached as
    given, for example :func:`edgekit.trees.ensemble.split_importance` of the model.
    """
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[1] != 2 or len(arr) == 0:
        raise ValueError(f"measure_feature_costs expects captures (K, 2, L), got shape {arr.shape}")
    steps = (*INTERMEDIATES, *FEATURES)
    samples: dict[str, list[float]] = {s.name + ("" if s in INTERMEDIATES else "#f"): [] for s in steps}
    extract: list[float] = []
    with np.errstate(all="ignore"):
        for k in range(len(arr)):
            one = arr[k : k + 1]
            cache: Cache = compute_graph(one[0])
            for step in steps:
                key = step.name + ("" if step in INTERMEDIATES else "#f")
                samples[key].append(_median_us(partial(step.fn, cache), repeats))
            extract.append(_median_us(partial(extract_features, one), repeats))
    inter_cost = {s.name: float(np.median(samples[s.name])) for s in INTERMEDIATES}
    needs = _needs()
    users = {name: sum(name in n for n in needs.values()) for name in inter_cost}
    rows = []
    for feat in FEATURES:
        shared = sum(inter_cost[i] / users[i] for i in needs[feat.name])
        imp = None if importance is None else importance.get(feat.name)
        rows.append(FeatureCost(feat.name, float(np.median(samples[feat.name + "#f"])), shared, imp))
    return FeatureCostTable(
        rows,
        float(np.median(extract)),
        len(arr),
        repeats,
        f"Each graph step timed alone on one capture at a time (median of {repeats} runs x "
        f"{len(arr)} captures, this machine, 1 thread); a shared intermediate's cost is split "
        "evenly among the features that need it",
    )
