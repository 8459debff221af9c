"""The fallback the daemon answers from when the primary model fails, overruns or cannot load.

Manifest section ``baseline`` (written by the build from the config's ``[baseline]`` table,
``edgekit.builder.stages.baseline``; tests may write it directly). Two kinds:

``{"kind": "model", "file": "baseline/model.onnx", "preprocess": [...], "labels": [...],
"output": {"index": 1, "kind": "probabilities"}, "ood": {"score": "max_softmax",
"threshold": 0.4}, "accuracy": 0.79, "source": "..."}``
    a cheaper model validated by the same build (e.g. the gradient-boosted trees on engineered
    features), run through the same backends and preprocessing code as the primary. Its
    labels must be among the bundle's labels; ``ood`` is optional.

``{"kind": "rule", "rule": "energy-detector", "params": {"flatness_min": 0.8},
"accuracy": 0.97, "source": "..."}``
    a documented rule (``RULES``). ``energy-detector``: the spectral flatness of the capture
    (geometric over arithmetic mean of a 4-segment Welch periodogram, 1 for white noise) at or
    above ``flatness_min`` answers ``noise``; below it a signal is present but its type is not
    determined, and the answer is "unknown". ``accuracy`` is of that noise/signal decision.

``accuracy`` and ``source`` are reported as they are (the report says what the baseline costs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from edgekit.backends import open_backend
from edgekit.bundle import Bundle
from edgekit.errors import BundleError, EdgekitError
from edgekit.runtime.model import ModelRunner
from edgekit.signals.preprocess import Pipeline

__all__ = ["RULES", "Baseline", "BaselineAnswer", "ModelBaseline", "RuleBaseline", "load_baseline"]

RULES = {
    "energy-detector": "noise when the spectral flatness >= params.flatness_min, else unknown",
}
_SEG = 256


@dataclass(frozen=True, slots=True)
class BaselineAnswer:
    """The baseline's label (a bundle label name, or None for "unknown") and confidence."""

    label: str | None
    confidence: float


class Baseline(Protocol):
    """A fallback classifier: ``answer(x)`` for one decoded capture ``(1, 2, L)``."""

    kind: str
    name: str
    accuracy: float | None
    source: str

    def answer(self, x: np.ndarray) -> BaselineAnswer: ...

    def close(self) -> None: ...


class ModelBaseline:
    """A baseline model run through the backends like the primary."""

    kind = "model"

    def __init__(self, runner: ModelRunner, accuracy: float | None, source: str) -> None:
        self.runner = runner
        self.name = runner.name
        self.accuracy = accuracy
        self.source = source

    def answer(self, x: np.ndarray) -> BaselineAnswer:
        p = self.runner.predict(x)
        return BaselineAnswer(None if p.unknown else self.runner.labels[p.label_index], p.confidence)

    def close(self) -> None:
        self.runner.close()


def spectral_flatness(x: np.ndarray) -> float:
    """Geometric / arithmetic mean of a Welch periodogram (segments of 256) of one capture."""
    z = x[0, 0].astype(np.float64) + 1j * x[0, 1].astype(np.float64)
    n_seg = max(1, z.size // _SEG)
    segs = z[: n_seg * _SEG].reshape(n_seg, -1) if z.size >= _SEG else z[None, :]
    psd = (np.abs(np.fft.fft(segs, axis=1)) ** 2).mean(axis=0) + 1e-20
    return float(np.exp(np.mean(np.log(psd))) / np.mean(psd))


class RuleBaseline:
    """A documented rule (see ``RULES``)."""

    kind = "rule"

    def __init__(self, rule: str, params: dict[str, Any], accuracy: float | None, source: str) -> None:
        if rule not in RULES:
            raise BundleError(f"manifest baseline.rule: unknown rule {rule!r}; accepted: {', '.join(RULES)}")
        flat = params.get("flatness_min")
        if not isinstance(flat, int | float) or not 0 < flat < 1:
            raise BundleError(
                f"manifest baseline.params.flatness_min: expected a number in (0, 1), got {flat!r}"
            )
        self.name = rule
        self.flatness_min = float(flat)
        self.accuracy = accuracy
        self.source = source

    def answer(self, x: np.ndarray) -> BaselineAnswer:
        flatness = spectral_flatness(x)
        if flatness >= self.flatness_min:
            return BaselineAnswer("noise", min(1.0, flatness))
        return BaselineAnswer(None, 1.0 - flatness)

    def close(self) -> None:
        pass


def _accuracy(raw: dict[str, Any]) -> float | None:
    acc = raw.get("accuracy")
    if acc is None:
        return None
    if not isinstance(acc, int | float) or not math.isfinite(acc) or not 0 <= acc <= 1:
        raise BundleError(f"manifest baseline.accuracy: expected a number in [0, 1], got {acc!r}")
    return float(acc)


def load_baseline(bundle: Bundle, *, threads: int) -> Baseline | None:
    """The bundle's baseline, loaded; None when the manifest has no ``baseline`` section."""
    raw = bundle.manifest.get("baseline")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BundleError(f"{bundle.root}: manifest baseline: expected an object, got {raw!r}")
    kind = raw.get("kind")
    source = str(raw.get("source", ""))
    if kind == "rule":
        labels = bundle.manifest.get("labels") or []
        if "noise" not in labels:
            raise BundleError(f"{bundle.root}: manifest baseline: rule energy-detector needs a 'noise' label")
        return RuleBaseline(str(raw.get("rule")), dict(raw.get("params") or {}), _accuracy(raw), source)
    if kind != "model":
        raise BundleError(f"{bundle.root}: manifest baseline.kind: expected model or rule, got {kind!r}")
    rel = raw.get("file")
    if not isinstance(rel, str) or rel not in bundle.manifest.get("files", {}):
        raise BundleError(
            f"{bundle.root}: manifest baseline.file: {rel!r} is not a file listed (and hashed) in the bundle"
        )
    labels = raw.get("labels")
    known = set(bundle.manifest.get("labels") or [])
    if not isinstance(labels, list) or not labels or not set(labels) <= known:
        raise BundleError(
            f"{bundle.root}: manifest baseline.labels: expected a list of the bundle's labels, got {labels!r}"
        )
    out = raw.get("output") or {}
    ood = raw.get("ood") or {}
    try:
        pipeline = Pipeline.from_spec(raw.get("preprocess") or [])
    except EdgekitError as e:
        raise BundleError(f"{bundle.root}: manifest baseline.preprocess: {e}") from e
    kind_out = out.get("kind", "logits")
    if kind_out not in ("logits", "probabilities"):
        raise BundleError(f"{bundle.root}: manifest baseline.output.kind: expected logits or probabilities")
    path = bundle.file_path(rel)  # listed, inside the bundle and hash-checked, right before loading
    backend = open_backend(path, threads=threads)
    runner = ModelRunner(
        f"baseline:{path.stem}",
        backend,
        pipeline,
        labels=[str(v) for v in labels],
        input_name=backend.input_spec[0].name,
        output_index=int(out.get("index", 0)),
        output_kind=kind_out,
        ood_score=str(ood.get("score", "max_softmax")),
        ood_threshold=None if ood.get("threshold") is None else float(ood["threshold"]),
    )
    return ModelBaseline(runner, _accuracy(raw), source)
