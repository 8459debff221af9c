"""Inference runtimes behind one interface: ``open_backend(path)`` picks one by file suffix.

One module per runtime (``onnxrt`` for onnxruntime, ``tflite`` for ai-edge-litert/tflite-runtime),
imported only when a model of that kind is opened.
"""

from __future__ import annotations

from edgekit.backends.base import InferenceBackend, TensorSpec, open_backend

__all__ = ["InferenceBackend", "TensorSpec", "open_backend"]
