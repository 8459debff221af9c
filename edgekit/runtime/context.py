"""Results with context on the device: "in conditions like these, this model was right 61 % of
273 times", attached to every answer the model gives.

The bundle's ``context`` section (``edgekit.bundle.context_section``) holds, per variant,
predicted label and bin of an on-device condition, the validated precision with its count and
Wilson interval. For each answer the daemon computes the same observables from the capture
(``edgekit.signals.observe``, the function the build used), finds the answer's cell and attaches
it to the :class:`~edgekit.runtime.engine.Outcome` (journal, ``edgekit journal --json``, the
RESULT packet's optional context field, and two metrics with bounded labels). A condition bin the
build never saw this label in (n = 0) falls back to the label's figure over all conditions, so a
context is never an empty promise; baseline answers and "unknown" carry none (the table
describes the model).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram

from edgekit.runtime.engine import Outcome
from edgekit.signals.observe import OBSERVABLES, observe

__all__ = ["ContextMetrics", "ContextTable"]

_PRECISION_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


def _in_bin(value: float, low: float | None, high: float | None) -> bool:
    return math.isfinite(value) and (low is None or value >= low) and (high is None or value < high)


class ContextTable:
    """The manifest's context section, indexed for one lookup per answer."""

    def __init__(self, conditions: list[str], tables: Mapping[str, list[dict[str, Any]]], confidence: float):
        self.conditions = [c for c in conditions if c in OBSERVABLES]
        self.confidence = confidence
        self._cells: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = {}
        for variant, cells in tables.items():
            index: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for c in cells:
                index.setdefault((str(c["label"]), str(c["condition"])), []).append(c)
            self._cells[variant] = index

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> ContextTable | None:
        """None when the bundle carries no context (an older build, or ``[context]`` off).
        The manifest was validated on load (``edgekit.bundle.schema``)."""
        section = manifest.get("context")
        if not isinstance(section, dict) or not section.get("variants"):
            return None
        return cls(list(section.get("conditions") or {}), section["variants"], float(section["confidence"]))

    def has(self, variant: str | None) -> bool:
        return variant in self._cells

    def lookup(self, variant: str, label: str, observed: Mapping[str, float]) -> dict[str, Any] | None:
        """The context of answer ``label`` by ``variant`` given the observed condition values."""
        index = self._cells.get(variant)
        if index is None:
            return None
        for cond in self.conditions:
            value = observed.get(cond)
            if value is None:
                continue
            for c in index.get((label, cond), []):
                if _in_bin(value, c["low"], c["high"]) and c["n"] > 0:
                    return _as_context(c, cond, value, self.confidence)
        overall = index.get((label, ""), [])
        if overall:
            cond = self.conditions[0] if self.conditions else ""
            return _as_context(overall[0], "", observed.get(cond), self.confidence, fallback=True)
        return None

    def observe(self, x: np.ndarray) -> dict[str, float]:
        """Every condition of one capture ``(1, 2, L)`` (float IQ)."""
        return {name: float(observe(name, x)[0]) for name in self.conditions}

    def attach(self, x: np.ndarray, outcome: Outcome) -> Outcome:
        """The Engine's hook: ``outcome`` with its context when the model gave a label."""
        if outcome.status != "ok" or outcome.label is None or not self.has(outcome.model):
            return outcome
        ctx = self.lookup(str(outcome.model), outcome.label, self.observe(x))
        return replace(outcome, context=ctx) if ctx is not None else outcome


def _as_context(
    c: Mapping[str, Any], condition: str, value: float | None, confidence: float, fallback: bool = False
) -> dict[str, Any]:
    """The JSON-ready context of one answer (journal column ``context``, ``journal --json``)."""
    return {
        "condition": condition,  # "" when the label's figure over all conditions is used
        "value": None if value is None or not math.isfinite(value) else round(float(value), 2),
        "bin": c["bin"],
        "n": int(c["n"]),
        "correct": int(c["correct"]),
        "precision": c["precision"],
        "ci_low": float(c["ci_low"]),
        "ci_high": float(c["ci_high"]),
        "confidence": confidence,
        "fallback_to_all": fallback,
    }


class ContextMetrics:
    """Two metrics on the daemon's registry, labels bounded by the bundle's condition bins."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.by_condition = Counter(
            "edgekit_results_by_condition",
            "Model answers with context, by on-device condition and bin (from the bundle's edges)",
            ["condition", "bin"],
            registry=registry,
        )
        self.precision = Histogram(
            "edgekit_result_validated_precision",
            "Validated precision (build-time, Wilson point estimate) of each answer in its condition",
            buckets=_PRECISION_BUCKETS,
            registry=registry,
        )

    def observe(self, context: Mapping[str, Any] | None) -> None:
        if not context:
            return
        self.by_condition.labels(context["condition"] or "all", context["bin"]).inc()
        if context.get("precision") is not None:
            self.precision.observe(float(context["precision"]))
