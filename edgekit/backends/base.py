"""The one interface every inference runtime sits behind, and the registry that picks one.

Build, bench and the on-device daemon all run models through :class:`InferenceBackend`, so a
runtime (onnxruntime, a TFLite interpreter) is one module and callers never branch on the file
type. :func:`open_backend` chooses the module by file suffix, like pyserial's ``serial_for_url``
chooses a transport by URL scheme; runtime modules are imported only when chosen, so a board
without TFLite can still run ONNX models.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from edgekit.errors import ModelError

__all__ = [
    "BACKENDS",
    "SUFFIXES",
    "InferenceBackend",
    "LoadedModel",
    "TensorSpec",
    "check_model_file",
    "open_backend",
]

Dim = int | str | None
"""One dimension of a tensor shape: a size, or a symbolic name / None when dynamic."""


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and element type of one model input or output, as the caller sees it.

    ``shape`` uses ``None`` or a symbolic name (``"N"``) for dynamic dimensions; ``dtype`` is a
    numpy dtype string (``"float32"``, ``"int8"``). ``quantization`` is ``(scale, zero_point)`` for
    a quantised tensor (full-integer TFLite models), which the backend applies itself.
    """

    name: str
    shape: tuple[Dim, ...]
    dtype: str
    quantization: tuple[float, int] | None = None

    def batch_relaxed(self) -> TensorSpec:
        """This spec with a fixed batch of 1 made dynamic: backends loop over such models."""
        if self.shape and self.shape[0] == 1:
            return TensorSpec(self.name, (None, *self.shape[1:]), self.dtype, self.quantization)
        return self

    def is_compatible(self, shape: Sequence[int]) -> bool:
        """Whether a concrete array shape fits this spec (same rank, fixed dims equal)."""
        if len(shape) != len(self.shape):
            return False
        return all(not isinstance(d, int) or d == s for d, s in zip(self.shape, shape, strict=True))


@runtime_checkable
class InferenceBackend(Protocol):
    """A loaded model that turns float32 input batches into float32 outputs.

    Inputs are always in the ORIGINAL model layout (the ONNX layout, e.g. NCW for radio captures),
    even when the runtime's model uses another one; quantisation, layout and batching are the
    backend's business, so callers can swap backends without changing their data.
    """

    name: str
    """Short runtime name, e.g. ``"onnxruntime"`` or ``"tflite"``."""
    path: Path
    input_spec: list[TensorSpec]
    output_spec: list[TensorSpec]

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run one batch through a single-input model and return its first output as float32."""
        ...

    def run_all(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run with one array per input name; return every output, in the model's order."""
        ...

    def close(self) -> None:
        """Release the runtime's resources; the backend is unusable afterwards."""
        ...

    def __enter__(self) -> InferenceBackend:
        """Use as a context manager: ``with open_backend(p) as b:`` closes on exit."""
        ...

    def __exit__(self, *exc: object) -> None: ...


class LoadedModel:
    """What every backend does the same way with its runtime handle (session, interpreter):
    close it, refuse use after close, and work as a context manager."""

    path: Path
    threads: int | None
    _handle: Any = None

    def close(self) -> None:
        """Drop the runtime's handle; the backend is unusable afterwards."""
        self._handle = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, threads={self.threads})"

    def _require_open(self) -> Any:
        if self._handle is None:
            raise ModelError(f"{self.path}: backend is closed")
        return self._handle


SUFFIXES: dict[str, str] = {".onnx": "onnxruntime", ".tflite": "tflite", ".so": "tl2cgen"}
"""File suffix -> backend kind."""

BACKENDS: dict[str, str] = {
    "onnxruntime": "edgekit.backends.onnxrt",
    "onnx": "edgekit.backends.onnxrt",
    "tflite": "edgekit.backends.tflite",
    "tl2cgen": "edgekit.backends.compiled_trees",  # tree ensembles compiled to a shared library
}
"""Backend kind -> module; each module exposes ``open_model(path, *, threads, **options)``."""

_MIN_MODEL_BYTES = 16


def check_model_file(path: Path) -> Path:
    """Refuse a path that does not exist, is not a file, or is too short to be any model."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    if not path.is_file():
        raise ModelError(f"{path}: not a file (expected an .onnx or .tflite model)")
    size = path.stat().st_size
    if size < _MIN_MODEL_BYTES:
        raise ModelError(f"{path}: {size} bytes is too short to be a model (truncated or empty?)")
    return path


def open_backend(
    path: Path, *, threads: int | None = None, kind: str | None = None, **options: Any
) -> InferenceBackend:
    """Load ``path`` with the runtime its suffix names (or ``kind``), with ``threads`` CPU threads.

    ``options`` go to the backend's constructor (TFLite: ``layout=``, ``transpose_input=``;
    onnxruntime: ``optimization=``). Errors are :class:`~edgekit.errors.ModelError` naming the file,
    or :class:`~edgekit._optional.MissingExtraError` when the runtime is not installed.
    """
    path = Path(path)
    if kind is None:
        kind = SUFFIXES.get(path.suffix.lower())
        if kind is None:
            accepted = ", ".join(sorted(SUFFIXES))
            raise ModelError(f"{path}: unknown model suffix {path.suffix!r} (accepted: {accepted})")
    module_name = BACKENDS.get(kind)
    if module_name is None:
        raise ModelError(
            f"{path}: unknown backend kind {kind!r} (accepted: {', '.join(sorted(BACKENDS))})"
        )
    if threads is not None and threads < 1:
        raise ModelError(f"{path}: threads must be >= 1, got {threads}")
    module = importlib.import_module(module_name)
    backend: InferenceBackend = module.open_model(path, threads=threads, **options)
    return backend


def as_float_batch(x: np.ndarray, spec: TensorSpec, path: Path) -> np.ndarray:
    """Check ``x`` against ``spec`` (rank and fixed dims) and return it as contiguous float32."""
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.number):
        raise ModelError(f"{path}: input {spec.name!r} must be numeric, got dtype {arr.dtype}")
    if not spec.is_compatible(arr.shape):
        raise ModelError(
            f"{path}: input {spec.name!r} expects shape {_fmt_shape(spec.shape)}, "
            f"got {tuple(arr.shape)}"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def _fmt_shape(shape: Sequence[Dim]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"
