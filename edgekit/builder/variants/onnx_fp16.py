"""ONNX fp16: weights and activations in half precision, float32 inputs and outputs kept."""

from __future__ import annotations

import onnx

from edgekit.builder.variants.base import BuildContext, Built, Skip, require_unquantised
from edgekit.errors import ConversionError

__all__ = ["OnnxFp16"]


class OnnxFp16:
    """Half-precision ONNX via onnxruntime's own converter (``onnxruntime.transformers.float16``)."""

    name = "onnx-fp16"
    runtime = "onnxruntime"
    precision = "fp16"

    def build(self, ctx: BuildContext) -> Built:
        # Nodes of the domain, not its opset import: tf2onnx imports ai.onnx.ml in every model.
        if ctx.info.is_tree_ensemble or any(n.domain == "ai.onnx.ml" for n in ctx.model.graph.node):
            raise Skip("classical-ML operators (ai.onnx.ml, e.g. TreeEnsemble) have no fp16 form")
        # Halving a QDQ model turns its float32 scales into float16, which onnxruntime refuses.
        require_unquantised(ctx)
        from onnxruntime.transformers.float16 import convert_float_to_float16

        out = ctx.work_dir / f"{self.name}.onnx"
        try:
            model16 = convert_float_to_float16(ctx.model, keep_io_types=True)
            onnx.save(model16, str(out))
        except Exception as e:
            raise ConversionError(f"{ctx.config.model_path}: fp16 conversion failed: {e}") from e
        return Built(out, notes=["float16 weights and activations; float32 inputs and outputs"])
