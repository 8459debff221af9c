"""What the daemon reads from a verified bundle, typed: the capture format it was built for,
labels, preprocessing, the OOD rule, variants, the baseline; and a loaded model that turns one
capture into a prediction with the same preprocessing and scoring code as the build's
validation (``signals.preprocess.Pipeline``, ``signals.scores.ood_scores``).

Manifest fields read (``manifest.json``): ``name``, ``selected``, ``labels``, ``preprocess``,
``input.name``, ``input.shape``, ``output.index``, ``output.kind``, ``ood.score``,
``ood.threshold``, ``ood.temperature``, ``ood.features_output``, ``ood.statistics`` (the chosen
score's statistics: ``signals.ood`` for mahalanobis/knn, ``signals.spectral`` for spectral),
``ood.input_guard``, ``ood.band_thresholds`` (thresholds per band of the capture's blind SNR
estimate, ``signals.bands``; absent: the one ``threshold``), ``variants[]`` (``name``,
``file``, ``backend_options``, ``passed``,
``ood_threshold``, ``ood`` (the variant's own rule, same keys as ``ood``), ``accuracy``,
``energy.energy_per_inference_mj``, ``latency.p50_ms``),
``budgets.max_latency_p99_ms``, ``reference_statistics``; ``capture`` (see
:class:`CaptureSpec`) and ``baseline`` (see ``baseline.py``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.backends import InferenceBackend, open_backend
from edgekit.bundle import Bundle
from edgekit.data.synth import IQ_FULL_SCALE, N_SAMPLES, SAMPLE_RATE_HZ
from edgekit.errors import BundleError, EdgekitError
from edgekit.signals.bands import BandThresholds
from edgekit.signals.ood import FEATURE_SCORES, FeatureStats, InputGuard, load_stats
from edgekit.signals.preprocess import Pipeline

# The build's own scoring function, so "unknown" means on the device exactly what validation
# calibrated.
from edgekit.signals.scores import SCORES, ood_scores
from edgekit.signals.snr import estimate_snr_db
from edgekit.signals.spectral import INPUT_SCORES, SpectralStats, load_spectral

__all__ = [
    "CaptureSpec",
    "ModelRunner",
    "Prediction",
    "decode_iq",
    "load_runner",
    "manifest_budget_s",
    "output_spec",
]

_INT16_MAX = 32767


@dataclass(frozen=True)
class CaptureSpec:
    """The capture format a bundle was built for (manifest ``capture``).

    ``{"sample_rate_hz": 1000000, "sample_format": "ci16", "samples_per_capture": 1024,
    "iq_full_scale": 16.0}``: ``iq_full_scale`` is the float amplitude that int16 full scale
    (32767) stands for in the training data, so the device decodes to the same units.
    ``source`` says where each value came from (the manifest, or a stated default).
    """

    sample_rate_hz: int | None
    sample_format: str
    samples_per_capture: int | None
    iq_full_scale: float
    source: str

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> CaptureSpec:
        raw = manifest.get("capture")
        if raw is None:
            # Bundles written before the capture section: the length is the model input's last
            # axis when the preprocessing keeps it; the rate and format cannot be known.
            shape = (manifest.get("input") or {}).get("shape") or []
            length = shape[-1] if len(shape) == 3 and isinstance(shape[-1], int) else None
            return cls(None, "ci16", length, IQ_FULL_SCALE, "no capture section in the manifest")
        if not isinstance(raw, dict):
            raise BundleError(f"manifest capture: expected an object, got {raw!r}")
        rate = raw.get("sample_rate_hz")
        n = raw.get("samples_per_capture")
        scale = raw.get("iq_full_scale", IQ_FULL_SCALE)
        fmt = raw.get("sample_format", "ci16")
        if rate is not None and (not isinstance(rate, int | float) or rate <= 0):
            raise BundleError(f"manifest capture.sample_rate_hz: expected a rate > 0 Hz, got {rate!r}")
        if n is not None and (not isinstance(n, int) or not 1 <= n <= 65535):
            raise BundleError(f"manifest capture.samples_per_capture: expected 1..65535, got {n!r}")
        if not isinstance(scale, int | float) or not math.isfinite(scale) or scale <= 0:
            raise BundleError(f"manifest capture.iq_full_scale: expected a number > 0, got {scale!r}")
        if fmt != "ci16":
            raise BundleError(f"manifest capture.sample_format: this edgekit reads ci16, got {fmt!r}")
        return cls(None if rate is None else round(rate), fmt, n, float(scale), "manifest capture section")

    @classmethod
    def synthetic_default(cls) -> CaptureSpec:
        """The format of edgekit's synthetic data (what the reference models were built on)."""
        return cls(round(SAMPLE_RATE_HZ), "ci16", N_SAMPLES, IQ_FULL_SCALE, "synthetic defaults")

    def mismatch(self, *, sample_rate_hz: int, sample_format: str, samples_per_capture: int) -> str | None:
        """What differs between this spec and a scanner's settings (None: compatible)."""
        problems = []
        if self.sample_rate_hz is not None and sample_rate_hz != self.sample_rate_hz:
            problems.append(f"sample rate {sample_rate_hz} Hz (bundle: {self.sample_rate_hz} Hz)")
        if sample_format != self.sample_format:
            problems.append(f"sample format {sample_format} (bundle: {self.sample_format})")
        if self.samples_per_capture is not None and samples_per_capture != self.samples_per_capture:
            problems.append(
                f"capture length {samples_per_capture} samples (bundle: {self.samples_per_capture})"
            )
        return "; ".join(problems) or None


def decode_iq(iq: np.ndarray, full_scale: float) -> np.ndarray:
    """int16 (n, 2) I/Q pairs -> float32 (1, 2, n) in the training data's units."""
    out = np.empty((1, 2, iq.shape[0]), dtype=np.float32)
    np.multiply(iq.T, np.float32(full_scale / _INT16_MAX), out=out[0], casting="unsafe")
    return out


def manifest_budget_s(manifest: dict[str, Any]) -> float | None:
    """The bundle's capture-to-result budget (``budgets.max_latency_p99_ms``) in seconds."""
    ms = (manifest.get("budgets") or {}).get("max_latency_p99_ms")
    return None if ms is None else float(ms) / 1e3


def output_spec(manifest: dict[str, Any]) -> tuple[int, str]:
    """(output index, ``logits`` or ``probabilities``)."""
    out = manifest.get("output") or {}
    kind = out.get("kind", "logits")
    if kind not in ("logits", "probabilities"):
        raise BundleError(f"manifest output.kind: expected logits or probabilities, got {kind!r}")
    return int(out.get("index", 0)), kind


@dataclass(frozen=True, slots=True)
class Prediction:
    """One model's answer: label index in its own label list, confidence, OOD score."""

    label_index: int
    confidence: float
    score: float
    unknown: bool
    preprocessed: np.ndarray
    preprocess_s: float
    inference_s: float  # the model and the OOD score: what the daemon records as inference
    guard: str | None = None  # why the input guard refused the capture ("silent", ...), if it did
    score_s: float = 0.0  # the OOD score's share of inference_s (the spectral one reads the capture)


class ModelRunner:
    """A loaded model with its preprocessing and OOD rule: ``predict(x)`` for one capture."""

    def __init__(
        self,
        name: str,
        backend: InferenceBackend,
        pipeline: Pipeline,
        *,
        labels: list[str],
        input_name: str,
        output_index: int,
        output_kind: str,
        ood_score: str,
        ood_threshold: float | None,
        temperature: float = 1.0,
        features_index: int | None = None,
        stats: FeatureStats | None = None,
        guard: InputGuard | None = None,
        spectral: SpectralStats | None = None,
        capture_length: int | None = None,
        bands: BandThresholds | None = None,
    ) -> None:
        if ood_score not in SCORES:
            raise BundleError(f"{name}: OOD score {ood_score!r} is unknown; accepted: {', '.join(SCORES)}")
        if ood_score in FEATURE_SCORES and (stats is None or features_index is None):
            raise BundleError(
                f"{name}: OOD score {ood_score!r} needs the features output and its statistics file"
            )
        if ood_score in INPUT_SCORES and spectral is None:
            raise BundleError(f"{name}: OOD score {ood_score!r} needs its statistics file")
        if not (math.isfinite(temperature) and temperature > 0):
            raise BundleError(f"{name}: temperature must be a number > 0, got {temperature!r}")
        self.name = name
        self.backend = backend
        self.pipeline = pipeline
        self.labels = labels
        self.input_name = input_name
        self.output_index = output_index
        self.output_kind = output_kind
        self.ood_score = ood_score
        self.ood_threshold = ood_threshold
        self.temperature = temperature
        self.features_index = features_index if ood_score in FEATURE_SCORES else None
        self.stats = stats
        self.guard = guard
        self.spectral = spectral if ood_score in INPUT_SCORES else None
        self.bands = bands  # None: ood_threshold for every capture
        if self.spectral is not None:
            # scipy.signal's import and the SNR estimator's white-noise bias for this capture
            # length (~0.5 s on a host, cached) are paid here, at load, not on the first capture
            self.spectral.score(np.zeros((1, 2, capture_length or self.spectral.bins), np.float32))

    def predict(self, x: np.ndarray) -> Prediction:
        """Preprocess and run one capture ``(1, 2, L)``; raises on any failure of the model."""
        t0 = time.perf_counter()
        # The input guard runs in front: its verdict overrides the score. The model still runs,
        # so the journal keeps what it would have answered.
        refused = self.guard.reasons(x)[0] if self.guard is not None else None
        xp = self.pipeline(x)
        t1 = time.perf_counter()
        feats = None
        if self.output_index == 0 and self.features_index is None:
            scores = self.backend.run(xp)
        else:
            outs = self.backend.run_all({self.input_name: xp})
            scores = outs[self.output_index]
            if self.features_index is not None:
                feats = np.asarray(outs[self.features_index])
        t2 = time.perf_counter()
        snr = None
        if self.spectral is not None:
            # the spectral score of the capture as decoded (before preprocessing), and the blind
            # SNR estimate it was banded by, from one PSD; the confidence is the same for any score
            score, snr = self.spectral.score_and_snr(x)
            conf, _ = ood_scores(np.asarray(scores), "max_softmax", self.output_kind,
                                 temperature=self.temperature)
        else:
            conf, score = ood_scores(
                np.asarray(scores),
                self.ood_score,
                self.output_kind,
                temperature=self.temperature,
                features=feats,
                stats=self.stats,
            )
        threshold = self.ood_threshold
        if self.bands is not None:
            # the threshold of this capture's SNR band, from the same blind estimate the build
            # split its evaluation captures by (timed with the score: part of its cost)
            if snr is None:
                snr = estimate_snr_db(x)
            threshold = float(self.bands.threshold(np.atleast_1d(snr))[0])
        t3 = time.perf_counter()
        row = np.asarray(scores)[0]
        if not np.all(np.isfinite(row)):
            raise FloatingPointError(f"{self.name}: the model returned non-finite scores")
        label = int(np.argmax(row))
        unknown = refused is not None or (threshold is not None and bool(score[0] < threshold))
        # inference_s counts the score too: the engine and daemon record it unchanged, so the
        # per-capture CPU they report includes the spectral score's PSD (issue 10)
        return Prediction(
            label, float(conf[0]), float(score[0]), unknown, xp, t1 - t0, t3 - t1, refused,
            score_s=t3 - t2,
        )

    def close(self) -> None:
        self.backend.close()


def load_runner(
    bundle: Bundle,
    variant_name: str | None,
    *,
    threads: int,
) -> ModelRunner:
    """Open a variant of the bundle (default: the selected one) through its backend."""
    manifest = bundle.manifest
    variant = bundle.variant(variant_name)
    out_index, out_kind = output_spec(manifest)
    # the variant's own rule (written by the build's ood stage), else the bundle-wide one
    ood = variant.get("ood") or manifest.get("ood") or {}
    threshold = variant.get("ood_threshold")
    if threshold is None:
        threshold = ood.get("threshold")
    stats_rel = ood.get("statistics")
    score = str(ood.get("score", "max_softmax"))
    # listed, inside the bundle and hash-checked, right before loading; which kind of statistics
    # the file holds follows the score
    stats = spectral = None
    if stats_rel and score in INPUT_SCORES:
        spectral = load_spectral(bundle.file_path(stats_rel))
    elif stats_rel:
        stats = load_stats(bundle.file_path(stats_rel))
    guard = InputGuard.from_manifest(ood.get("input_guard"), f"{bundle.root}: manifest ood.input_guard")
    fidx = ood.get("features_output")
    labels = manifest.get("labels")
    if not isinstance(labels, list) or not labels:
        raise BundleError(f"{bundle.root}: manifest labels: expected a non-empty list")
    try:
        pipeline = Pipeline.from_spec(manifest.get("preprocess") or [])
    except EdgekitError as e:
        raise BundleError(f"{bundle.root}: manifest preprocess: {e}") from e
    backend = open_backend(
        bundle.model_path(variant["name"]), threads=threads, **(variant.get("backend_options") or {})
    )
    return ModelRunner(
        variant["name"],
        backend,
        pipeline,
        labels=[str(v) for v in labels],
        input_name=(manifest.get("input") or {}).get("name", ""),
        output_index=out_index,
        output_kind=out_kind,
        ood_score=score,
        ood_threshold=None if threshold is None else float(threshold),
        temperature=float(ood.get("temperature") or 1.0),
        features_index=None if fidx is None else int(fidx),
        stats=stats,
        guard=guard,
        spectral=spectral,
        capture_length=CaptureSpec.from_manifest(manifest).samples_per_capture,
        bands=BandThresholds.from_manifest(
            ood.get("band_thresholds"), f"{bundle.root}: manifest ood.band_thresholds"),
    )
