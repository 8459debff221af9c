"""Build variants, one module each, chosen by name from one registry."""

from __future__ import annotations

from edgekit.builder.variants.base import BuildContext, Built, Skip, Variant
from edgekit.builder.variants.onnx_fp16 import OnnxFp16
from edgekit.builder.variants.onnx_fp32 import OnnxFp32
from edgekit.builder.variants.onnx_int8_dynamic import OnnxInt8Dynamic
from edgekit.builder.variants.onnx_int8_static import OnnxInt8Static
from edgekit.builder.variants.tflite import TfliteFp16, TfliteFp32, TfliteInt8
from edgekit.builder.variants.trees_compiled import TreesCompiled, TreesCompiledTruncated
from edgekit.builder.variants.trees_truncated import TreesTruncated

__all__ = ["VARIANTS", "BuildContext", "Built", "Skip", "Variant"]

VARIANTS: dict[str, type[Variant]] = {
    "onnx-fp32": OnnxFp32,
    "onnx-fp16": OnnxFp16,
    "onnx-int8-dynamic": OnnxInt8Dynamic,
    "onnx-int8-static": OnnxInt8Static,
    "tflite-fp32": TfliteFp32,
    "tflite-fp16": TfliteFp16,
    "tflite-int8": TfliteInt8,
    "trees-truncated": TreesTruncated,
    "trees-compiled": TreesCompiled,
    "trees-compiled-truncated": TreesCompiledTruncated,
}
