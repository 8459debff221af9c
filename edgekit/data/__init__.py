"""Datasets (``.npz``, never pickled) and synthetic radio captures with per-capture metadata."""

from __future__ import annotations

from edgekit.data.dataset import Dataset, load_npz, load_source, save_npz
from edgekit.data.synth import (
    ALL_CLASSES,
    CLASSES,
    N_SAMPLES,
    OOD_CLASSES,
    SAMPLE_RATE_HZ,
    from_int16_iq,
    generate,
    to_int16_iq,
)

__all__ = [
    "ALL_CLASSES",
    "CLASSES",
    "N_SAMPLES",
    "OOD_CLASSES",
    "SAMPLE_RATE_HZ",
    "Dataset",
    "from_int16_iq",
    "generate",
    "load_npz",
    "load_source",
    "save_npz",
    "to_int16_iq",
]
