"""Feature-space out-of-distribution scores and the input-space guard, shared by the build (which
fits and measures them) and the daemon (which applies them), so both compute the same numbers.

Scores follow one convention with ``signals.scores``: higher means more in-distribution.

- ``mahalanobis``: minus the smallest squared Mahalanobis distance to a class mean, with one
  covariance shared by all classes (Lee et al., 2018);
- ``knn``: minus the Euclidean distance to the k-th nearest in-distribution feature vector, all
  vectors L2-normalised first (Sun et al., 2022).

The fitted statistics live in the bundle as one ``.npz`` (:func:`save_stats` / :func:`load_stats`);
fitting them (scikit-learn) is the build's job. Scoring here is numpy only, so the device needs no
scikit-learn.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import BundleError

__all__ = [
    "FEATURE_SCORES",
    "FeatureStats",
    "InputGuard",
    "knn_score",
    "l2_normalise",
    "load_stats",
    "mahalanobis_score",
    "save_stats",
]

FEATURE_SCORES = ("mahalanobis", "knn")
"""Scores that read the penultimate features (the other scores read the class scores)."""


def l2_normalise(f: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (an all-zero row stays zero)."""
    f = np.asarray(f, dtype=np.float64).reshape(len(f), -1)
    n = np.linalg.norm(f, axis=1, keepdims=True)
    out: np.ndarray = f / np.where(n > 0, n, 1.0)
    return out


def mahalanobis_score(features: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """``-min_c (f - mu_c)^T P (f - mu_c)`` per row; ``means`` (C, F), ``precision`` (F, F)."""
    f = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    # (f - mu)^T P (f - mu) = f^T P f - 2 f^T P mu + mu^T P mu, all classes at once
    fp = f @ precision
    ff = np.einsum("ij,ij->i", fp, f)
    mm = np.einsum("ij,jk,ik->i", means, precision, means)
    d = ff[:, None] - 2.0 * fp @ means.T + mm[None, :]
    out: np.ndarray = -np.maximum(d, 0.0).min(axis=1)
    return out


def knn_score(features: np.ndarray, bank: np.ndarray, k: int) -> np.ndarray:
    """Minus the distance to the k-th nearest row of ``bank`` (already L2-normalised)."""
    z = l2_normalise(features)
    # unit vectors: |a - b|^2 = 2 - 2 a.b, so the k-th largest similarity is the k-th nearest
    sim = z @ np.asarray(bank, dtype=np.float64).T
    kk = min(max(int(k), 1), sim.shape[1])
    kth = -np.partition(-sim, kk - 1, axis=1)[:, kk - 1]
    out: np.ndarray = -np.sqrt(np.maximum(2.0 - 2.0 * kth, 0.0))
    return out


@dataclass(frozen=True)
class FeatureStats:
    """Class means, shared precision and the kNN bank fitted on in-distribution features."""

    means: np.ndarray  # (C, F)
    precision: np.ndarray  # (F, F)
    bank: np.ndarray  # (M, F), L2-normalised
    k: int

    def score(self, kind: str, features: np.ndarray) -> np.ndarray:
        if kind == "mahalanobis":
            return mahalanobis_score(features, self.means, self.precision)
        if kind == "knn":
            return knn_score(features, self.bank, self.k)
        raise ValueError(f"not a feature score: {kind!r}; accepted: {', '.join(FEATURE_SCORES)}")

    @property
    def nbytes(self) -> int:
        """Memory the statistics take when loaded (float64)."""
        return int(self.means.nbytes + self.precision.nbytes + self.bank.nbytes)


def save_stats(stats: FeatureStats, path: Path) -> None:
    """Write ``stats`` as an uncompressed ``.npz`` (float32 on disk; deterministic bytes)."""
    buf = io.BytesIO()
    np.savez(
        buf,
        means=stats.means.astype(np.float32),
        precision=stats.precision.astype(np.float32),
        bank=stats.bank.astype(np.float32),
        k=np.array(stats.k, dtype=np.int64),
    )
    path.write_bytes(buf.getvalue())


def load_stats(path: Path) -> FeatureStats:
    """Read :func:`save_stats`' file; BundleError naming the file and key when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in ("means", "precision", "bank", "k")}
    except KeyError as e:
        raise BundleError(f"{path}: missing array {e}; expected means, precision, bank, k") from e
    except (OSError, ValueError) as e:
        raise BundleError(f"{path}: not a feature-statistics .npz ({e})") from e
    means, precision, bank = (arrays[k].astype(np.float64) for k in ("means", "precision", "bank"))
    f = means.shape[1] if means.ndim == 2 else -1
    if precision.shape != (f, f) or bank.ndim != 2 or bank.shape[1] != f or len(bank) == 0:
        raise BundleError(
            f"{path}: shapes means {means.shape}, precision {precision.shape}, bank {bank.shape} "
            "do not fit together; expected (C, F), (F, F), (M, F)"
        )
    return FeatureStats(means, precision, bank, int(arrays["k"]))


@dataclass(frozen=True)
class InputGuard:
    """Captures that are not radio as the model knows it, caught before the model runs.

    ``silent``: RMS below ``silent_rms``; ``wrong scale``: RMS outside ``[rms_low, rms_high]``;
    ``saturated``: more than ``max_clipped_fraction`` of the I/Q values at or beyond
    ``clip_level``. Bounds come from the in-distribution data's RMS quantiles (manifest
    ``ood.input_guard``), widened by a margin so no in-distribution capture trips them.
    """

    rms_low: float
    rms_high: float
    silent_rms: float
    clip_level: float
    max_clipped_fraction: float

    MARGIN = 4.0  # x4 (12 dB) beyond the 0.1 % / 99.9 % quantiles of the data it was fitted on

    @classmethod
    def fit(cls, x: np.ndarray, full_scale: float) -> InputGuard:
        """Bounds from in-distribution raw captures ``(N, ...)``; ``full_scale`` is the float
        amplitude int16 full scale stands for (values at 99.9 % of it count as clipped)."""
        rms = _rms(x)
        lo, hi = np.quantile(rms, [0.001, 0.999])
        return cls(
            rms_low=float(lo / cls.MARGIN),
            rms_high=float(hi * cls.MARGIN),
            silent_rms=float(lo / 100.0),
            clip_level=float(0.999 * full_scale),
            max_clipped_fraction=0.01,
        )

    @classmethod
    def from_manifest(cls, raw: Any, where: str) -> InputGuard | None:
        if raw is None:
            return None
        keys = ("rms_low", "rms_high", "silent_rms", "clip_level", "max_clipped_fraction")
        if not isinstance(raw, dict) or any(not isinstance(raw.get(k), int | float) for k in keys):
            raise BundleError(f"{where}: expected an object with numbers {', '.join(keys)}")
        return cls(*(float(raw[k]) for k in keys))

    def to_manifest(self) -> dict[str, float]:
        return {
            "rms_low": self.rms_low,
            "rms_high": self.rms_high,
            "silent_rms": self.silent_rms,
            "clip_level": self.clip_level,
            "max_clipped_fraction": self.max_clipped_fraction,
        }

    def reasons(self, x: np.ndarray) -> list[str | None]:
        """Per capture: ``"silent"``, ``"saturated"``, ``"wrong scale"`` or None (passes)."""
        flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        rms = _rms(flat)
        clipped = (np.abs(flat) >= self.clip_level).mean(axis=1)
        out: list[str | None] = []
        for r, c in zip(rms, clipped, strict=True):
            if not np.isfinite(r) or r < self.silent_rms:
                out.append("silent")
            elif c > self.max_clipped_fraction:
                out.append("saturated")
            elif r < self.rms_low or r > self.rms_high:
                out.append("wrong scale")
            else:
                out.append(None)
        return out


def _rms(x: np.ndarray) -> np.ndarray:
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    out: np.ndarray = np.sqrt((flat**2).mean(axis=1))
    return out
