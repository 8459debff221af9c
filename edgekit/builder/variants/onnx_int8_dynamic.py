"""ONNX int8 dynamic: int8 weights, activations quantised at run time."""

from __future__ import annotations

from onnxruntime.quantization import QuantType, quantize_dynamic

from edgekit.builder.quant_prep import preprocessed_for_quantisation
from edgekit.builder.variants.base import BuildContext, Built, require_quantisable
from edgekit.errors import ConversionError

__all__ = ["OnnxInt8Dynamic"]


class OnnxInt8Dynamic:
    """``quantize_dynamic`` with int8 weights; needs no calibration data."""

    name = "onnx-int8-dynamic"
    runtime = "onnxruntime"
    precision = "int8"

    def build(self, ctx: BuildContext) -> Built:
        require_quantisable(ctx)
        out = ctx.work_dir / f"{self.name}.onnx"
        try:
            quantize_dynamic(
                preprocessed_for_quantisation(ctx),
                out,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=list(ctx.config.quant.exclude_nodes),
            )
        except Exception as e:
            raise ConversionError(f"{ctx.config.model_path}: dynamic quantisation failed: {e}") from e
        return Built(
            out, notes=["int8 weights, activations quantised at run time (no calibration)"]
        )
