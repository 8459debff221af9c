"""onnxruntime (CPU) behind :class:`~edgekit.backends.base.InferenceBackend`.

The reference runtime: build compares every variant against this backend running the fp32 ONNX
model. onnxruntime exceptions are translated into :class:`~edgekit.errors.ModelError` here, at the
boundary, so callers see one line naming the model file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgekit.backends.base import LoadedModel, TensorSpec, as_float_batch, check_model_file
from edgekit.errors import ModelError

__all__ = ["GraphOptimization", "OnnxRuntimeBackend", "open_model"]

GraphOptimization = Literal["disable", "basic", "extended", "all"]

# onnxruntime's element type strings -> numpy dtype strings
_ORT_DTYPES: dict[str, str] = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
    "tensor(string)": "str",
}


class OnnxRuntimeBackend(LoadedModel):
    """An onnxruntime CPU session over one ``.onnx`` file.

    ``threads`` sets intra-op parallelism (None: onnxruntime's default, one per core); inter-op
    parallelism stays at 1 because edge models are sequential chains and extra pools cost memory.
    Dynamic dimensions (batch) are handled by onnxruntime itself.
    """

    name = "onnxruntime"

    def __init__(
        self,
        path: Path,
        *,
        threads: int | None = None,
        optimization: GraphOptimization = "all",
    ) -> None:
        import onnxruntime as ort

        self.path = check_model_file(Path(path))
        levels = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }
        if optimization not in levels:
            raise ModelError(
                f"{self.path}: unknown graph optimisation {optimization!r} "
                f"(accepted: {', '.join(levels)})"
            )
        opts = ort.SessionOptions()
        opts.graph_optimization_level = levels[optimization]
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.inter_op_num_threads = 1
        if threads is not None:
            opts.intra_op_num_threads = int(threads)
        opts.log_severity_level = 3  # errors only: warnings about unused initialisers are noise
        self.threads = threads
        self.optimization: GraphOptimization = optimization
        try:
            self._handle = ort.InferenceSession(
                str(self.path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own hierarchy plus RuntimeError
            raise ModelError(
                f"{self.path}: onnxruntime cannot load the model: {_one_line(e)}"
            ) from e
        self.input_spec = [_spec(a) for a in self._handle.get_inputs()]
        self.output_spec = [_spec(a) for a in self._handle.get_outputs()]
        self._output_names = [s.name for s in self.output_spec]

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run a single-input model on batch ``x``; return the first output as float32."""
        if len(self.input_spec) != 1:
            names = ", ".join(s.name for s in self.input_spec)
            raise ModelError(f"{self.path}: model has inputs {names}; use run_all with a dict")
        return self.run_all({self.input_spec[0].name: x})[0]

    def run_all(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run with one array per input name; return all outputs (floating ones as float32)."""
        session = self._require_open()
        prepared: dict[str, np.ndarray] = {}
        for spec in self.input_spec:
            if spec.name not in feeds:
                raise ModelError(f"{self.path}: missing input {spec.name!r}")
            arr = as_float_batch(feeds[spec.name], spec.batch_relaxed(), self.path)
            prepared[spec.name] = arr.astype(spec.dtype, copy=False)
        unknown = set(feeds) - set(prepared)
        if unknown:
            raise ModelError(f"{self.path}: unknown inputs {sorted(unknown)}")
        try:
            return self._run_batched(session, prepared)
        except Exception as e:
            raise ModelError(f"{self.path}: onnxruntime inference failed: {_one_line(e)}") from e

    def _run_batched(self, session: Any, prepared: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One call, or one per sample for models exported with a fixed batch of 1."""
        fixed_one = [s.name for s in self.input_spec if s.shape and s.shape[0] == 1]
        batches = {prepared[name].shape[0] for name in fixed_one}
        if not fixed_one or batches == {1}:
            return [_to_float32(np.asarray(o)) for o in session.run(self._output_names, prepared)]
        if len(batches) != 1 or len(fixed_one) != len(self.input_spec):
            raise ModelError(f"{self.path}: inputs with a fixed batch of 1 got batches {batches}")
        parts = [
            session.run(self._output_names, {k: v[n : n + 1] for k, v in prepared.items()})
            for n in range(batches.pop())
        ]
        return [
            _to_float32(np.concatenate([np.asarray(p[k]) for p in parts], axis=0))
            for k in range(len(self._output_names))
        ]

def open_model(
    path: Path, *, threads: int | None = None, optimization: GraphOptimization = "all"
) -> OnnxRuntimeBackend:
    """Registry entry point used by :func:`edgekit.backends.open_backend`."""
    return OnnxRuntimeBackend(path, threads=threads, optimization=optimization)


def _spec(arg: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int | str) or d is None else None for d in arg.shape)
    return TensorSpec(name=arg.name, shape=shape, dtype=_ORT_DTYPES.get(arg.type, arg.type))


def _to_float32(a: np.ndarray) -> np.ndarray:
    # Integer outputs (class labels from classical models) stay integers: casting would lie.
    if np.issubdtype(a.dtype, np.floating) and a.dtype != np.float32:
        return a.astype(np.float32)
    return a


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "..."
