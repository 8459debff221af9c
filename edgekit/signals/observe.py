"""Conditions the device can compute from a capture itself, by name.

The build bins its validation results by these (``[context] observable``) and the daemon computes
the same function on each capture, so "in conditions like these" means the same on both sides.
A metadata column such as the generator's true ``snr_db`` is not known on the device; its
observable namesake is an estimate from the capture (``edgekit.signals.snr``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgekit.signals.snr import estimate_snr_db

__all__ = ["OBSERVABLES", "observe"]

OBSERVABLES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "snr_db": (estimate_snr_db, "blind SNR estimate in dB (spectral noise floor, edgekit.signals.snr)"),
}
"""name -> (function of float captures (N, 2, L) returning (N,) values, one-line description)."""


def observe(name: str, x: np.ndarray) -> np.ndarray:
    """The observable ``name`` of each capture in ``x`` (N, 2, L), float64 (N,)."""
    fn, _ = OBSERVABLES[name]
    return np.asarray(fn(x), dtype=np.float64).reshape(-1)
