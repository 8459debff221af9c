"""The one small interface every build variant implements, and the context it builds from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import onnx

from edgekit.config import BuildConfig
from edgekit.model_info import ModelInfo

__all__ = ["BuildContext", "Built", "CandidateScore", "Skip", "Variant", "require_quantisable",
           "require_unquantised"]

# Operators onnxruntime's quantiser turns into integer kernels; a model without any has nothing
# to quantise (tree ensembles, for example).
QUANTISABLE_OPS = {"Conv", "ConvTranspose", "MatMul", "Gemm", "Attention", "LSTM", "GRU"}
# Operators of a model that is already quantised (a QDQ or QOperator export, or a dynamic one):
# quantising it again writes duplicate node names onnxruntime refuses to load.
QUANTISED_OPS = {
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
    "MatMulInteger", "ConvInteger",
}


@dataclass(frozen=True)
class CandidateScore:
    """How a candidate model does against the fp32 reference on the evaluation data."""

    accuracy: float
    accuracy_drop: float
    worst_slice_drop: float | None
    output_error: float  # mean absolute difference of the score output vs the reference


@dataclass
class BuildContext:
    """What every variant may read. ``calibration`` is already preprocessed (model input)."""

    config: BuildConfig
    model_path: Path
    model: onnx.ModelProto
    info: ModelInfo
    work_dir: Path
    input_name: str
    calibration: np.ndarray | None
    log: Callable[[str], None]
    # Scores the variant at ``path`` on the evaluation data; used by the accuracy-aware loop.
    # Returns None when there is no evaluation data.
    score_model: Callable[[Path], CandidateScore] | None = None
    fixed_batch: int | None = None  # the batch the model accepts when it fixes one (often 1)
    warnings: list[str] = field(default_factory=list)  # the build's warnings, shown in every report
    scratch: Path | None = None  # the run's scratch folder (removed with the run)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def quantisable_nodes(self) -> list[str]:
        return [n.name for n in self.model.graph.node if n.op_type in QUANTISABLE_OPS]


@dataclass
class Built:
    """A variant's file and what to say about it."""

    path: Path
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    backend_options: dict[str, Any] = field(default_factory=dict)
    quant_search: list[Any] = field(default_factory=list)


class Skip(Exception):
    """Raised by a variant that does not apply to this model; the message is the reason."""


def require_quantisable(ctx: BuildContext) -> None:
    """Skip an int8 variant for a model with nothing to quantise (a tree ensemble, say), one
    already quantised, or one in float16 (onnxruntime's quantiser reads float32 models)."""
    if not ctx.quantisable_nodes:
        raise Skip("no quantisable operators (Conv, MatMul, Gemm, ...): quantisation changes nothing")
    require_unquantised(ctx)
    if _is_float16(ctx.model):
        raise Skip(
            "the model is float16; onnxruntime's quantiser reads float32 models (export the "
            "model in float32 for int8 variants)"
        )


def require_unquantised(ctx: BuildContext) -> None:
    """Skip a variant that would quantise or halve a model that is already quantised."""
    done = sorted({n.op_type for n in ctx.model.graph.node if n.op_type in QUANTISED_OPS})
    if done:
        raise Skip(
            f"the model is already quantised ({', '.join(done)}); onnx-fp32 ships it as it is"
        )


def _is_float16(model: onnx.ModelProto) -> bool:
    """True when the model's inputs or weights are float16 (a half-precision export)."""
    f16 = onnx.TensorProto.FLOAT16
    return any(i.type.tensor_type.elem_type == f16 for i in model.graph.input) or any(
        t.data_type == f16 for t in model.graph.initializer
    )


class Variant(Protocol):
    """A deployable form of the model: ONNX fp32, TFLite int8, ..."""

    name: str
    runtime: str  # "onnxruntime" | "tflite"
    precision: str  # "fp32" | "fp16" | "int8"

    def build(self, ctx: BuildContext) -> Built:
        """Write the variant under ``ctx.work_dir`` or raise :class:`Skip` with the reason."""
        ...
