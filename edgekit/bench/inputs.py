"""The inputs the bench feeds each variant, and an honest note on where they came from.

Radio models (raw captures of 2 x 1024 IQ samples that the bundle's preprocessing turns into the
model's input) get realistic synthetic captures from ``edgekit.data.synth``, so the timed path is
the device's capture -> preprocessing -> inference. A third-party bundle whose input is not that
gets seeded Gaussian noise in the input shape the build validated (``input.concrete_shape`` in
the manifest); its timing and energy are still real, but no accuracy is ever derived from bench
inputs (accuracy comes from the build's validation). A bundle whose input has unknown non-batch
dimensions and no concrete shape is refused: timing a guessed 1 x 1 image would be a lie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.signals.preprocess import Pipeline

__all__ = ["BenchInputs", "bench_shape", "make_inputs"]


@dataclass(frozen=True)
class BenchInputs:
    """Raw inputs (cycled in batches), the preprocessing to apply to them, and their provenance."""

    x: np.ndarray
    preprocess: list[dict[str, Any]]
    source: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "shape": list(self.x.shape),
            "dtype": str(self.x.dtype),
            "preprocess_applied": bool(self.preprocess),
            "note": self.note,
        }


def bench_shape(manifest: dict[str, Any]) -> list[Any]:
    """The model input shape to time: ``input.concrete_shape`` (what the build validated), else
    ``input.shape`` when every dimension after the batch is known; BundleError otherwise."""
    from edgekit.errors import BundleError

    inp = manifest.get("input", {})
    concrete = inp.get("concrete_shape")
    if concrete:
        return list(concrete)
    shape = list(inp.get("shape") or [])
    if any(not (isinstance(d, int) and d > 0) for d in shape[1:]):
        raise BundleError(
            f"manifest input.shape {shape} has unknown dimensions and the bundle records no "
            "input.concrete_shape (the shape its build validated); rebuild it with this edgekit "
            "rather than time a guessed shape"
        )
    return shape


def _concrete(shape: list[Any], batch: int) -> tuple[int, ...]:
    """A concrete model-input shape with the batch dimension set to ``batch``."""
    dims = [d if isinstance(d, int) and d > 0 else 1 for d in shape]
    if dims:
        dims[0] = batch
    return tuple(dims)


def _try(pipe: Pipeline, x: np.ndarray) -> np.ndarray | None:
    """The pipeline's output, or None when these inputs are not what it expects."""
    try:
        return pipe(x)
    except Exception:  # any step may refuse a foreign shape; that only rules these inputs out
        return None


def _fits(x: np.ndarray | None, shape: list[Any]) -> bool:
    if x is None or x.ndim != len(shape):
        return False
    return all(
        not (isinstance(d, int) and d > 0) or d == s for d, s in zip(shape[1:], x.shape[1:], strict=True)
    )


def make_inputs(manifest: dict[str, Any], *, n: int, seed: int = 0) -> BenchInputs:
    """``n`` raw inputs for the bundle described by ``manifest``."""
    shape = bench_shape(manifest) if manifest.get("input", {}).get("shape") else []
    spec = list(manifest.get("preprocess") or [])
    pipe = Pipeline.from_spec(spec)
    from edgekit.data.synth import generate

    x = generate(n, seed=seed).x.astype(np.float32)
    if not shape or _fits(_try(pipe, x[:1]), shape):
        return BenchInputs(
            x,
            spec,
            f"synthetic:rf?n={n}&seed={seed}",
            "realistic synthetic radio captures (edgekit.data.synth), run through the "
            "bundle's preprocessing as on the device; used for timing and energy only",
        )
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(_concrete(shape, n)).astype(np.float32)
    if spec and _fits(_try(pipe, x[:1]), shape):
        note_pp, applied = "run through the bundle's preprocessing", spec
    else:
        note_pp, applied = "fed to the model directly (preprocessing not applicable)", []
    return BenchInputs(
        x,
        applied,
        f"gaussian:shape={list(x.shape)}&seed={seed}",
        f"seeded Gaussian noise of shape {list(x.shape[1:])} per sample, the input shape the "
        "build validated (not a radio-capture model), "
        f"{note_pp}; timing and energy only, never accuracy",
    )
