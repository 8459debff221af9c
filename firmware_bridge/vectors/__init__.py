"""Shared test vectors (``vectors.json``) checked by both the Python and the C codec."""

from __future__ import annotations

from pathlib import Path

__all__ = ["VECTORS_PATH"]

VECTORS_PATH = Path(__file__).with_name("vectors.json")
