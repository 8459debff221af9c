"""Scores of a model file on preprocessed inputs, as (N, classes), through edgekit's backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekit.builder.prepare import run_batched, squeeze_scores

__all__ = ["run_scores", "score_file"]


def run_scores(
    backend: Any, x: np.ndarray, input_name: str, out_index: int, batch: int = 256
) -> np.ndarray:
    """Scores as (N, classes), fed in batches the model accepts (its fixed batch, if any)."""
    dim0 = backend.input_spec[0].shape[0] if backend.input_spec[0].shape else None
    fixed = dim0 if isinstance(dim0, int) and dim0 > 0 else None

    def run(chunk: np.ndarray) -> np.ndarray:
        if out_index == 0:
            return np.asarray(backend.run(chunk), dtype=np.float32)
        return np.asarray(backend.run_all({input_name: chunk})[out_index], dtype=np.float32)

    return squeeze_scores(run_batched(run, x, batch, fixed), str(getattr(backend, "path", "")))


def score_file(
    path: Path,
    x: np.ndarray,
    input_name: str,
    out_index: int,
    threads: int,
    backend_options: dict[str, Any] | None = None,
) -> np.ndarray:
    """Scores of the model at ``path`` on ``x`` (already preprocessed), via the matching backend."""
    from edgekit.backends import open_backend

    backend = open_backend(path, threads=threads, **(backend_options or {}))
    try:
        return run_scores(backend, x, input_name, out_index)
    finally:
        backend.close()
