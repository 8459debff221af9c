"""ONNX fp32, graph-optimised offline by onnxruntime (portable optimisations only)."""

from __future__ import annotations

import onnxruntime as ort

from edgekit.builder.variants.base import BuildContext, Built
from edgekit.errors import ConversionError

__all__ = ["OnnxFp32"]


class OnnxFp32:
    """The reference model with onnxruntime's basic graph optimisations applied and saved.

    Only the *basic* level is saved: extended and layout optimisations produce kernels specific to
    the build machine's CPU, which an ARM board may not have. The device applies the rest at load.
    """

    name = "onnx-fp32"
    runtime = "onnxruntime"
    precision = "fp32"

    def build(self, ctx: BuildContext) -> Built:
        out = ctx.work_dir / f"{self.name}.onnx"
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = str(out)
        try:
            ort.InferenceSession(str(ctx.model_path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ConversionError(
                f"{ctx.config.model_path}: onnxruntime cannot optimise the model: {e}"
            ) from e
        before = len(ctx.model.graph.node)
        import onnx

        after = len(onnx.load(str(out)).graph.node)
        return Built(out, notes=[f"basic graph optimisation: {before} -> {after} nodes"])
