"""The graph the int8 quantisers start from: ``quant_pre_process``, with honest fallbacks.

onnxruntime's pre-processing (symbolic shape inference, graph optimisation that folds
BatchNormalization and Constant nodes, ONNX shape inference) is what makes int8 small and fast.
Symbolic shape inference asserts on some exported graphs (a Concat of shapes, say), so the chain
retries without it, then with the graph optimisation alone, and only then quantises the raw graph.
Whichever path was taken goes into the build's warnings (shown in every report), never only on
stderr. onnxruntime writes ``sym_shape_infer_temp.onnx`` into the working directory when symbolic
inference fails, so every attempt runs inside the run's scratch folder.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import onnx

if TYPE_CHECKING:  # variants import this module; the context type is only for annotations
    from edgekit.builder.variants.base import BuildContext

__all__ = ["preprocessed_for_quantisation"]

_KEY = "quant_pre_path"


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[-1] if text else ''}"[:200]


def _optimise_only(src: str, out: str) -> None:
    """onnxruntime's basic graph optimisation (folds BatchNormalization and constants)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = out
    ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


def preprocessed_for_quantisation(ctx: BuildContext) -> Path:
    """The pre-processed copy of ``ctx.model_path`` for the quantisers (made once per build)."""
    cached = ctx.extra.get(_KEY)
    if cached is not None:
        return Path(cached)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = ctx.work_dir / "_quant_pre.onnx"
    src = str(ctx.model_path.resolve())
    attempts: list[tuple[str, Callable[[], None]]] = [
        ("quant_pre_process", lambda: quant_pre_process(src, str(out.resolve()))),
        (
            "quant_pre_process without symbolic shape inference",
            lambda: quant_pre_process(src, str(out.resolve()), skip_symbolic_shape=True),
        ),
        ("onnxruntime graph optimisation only", lambda: _optimise_only(src, str(out.resolve()))),
    ]
    errors: list[str] = []
    where = ctx.scratch or ctx.work_dir
    taken = None
    for label, attempt in attempts:
        try:
            with contextlib.chdir(where):
                attempt()
            onnx.load(str(out))  # the file must be there and readable
        except Exception as e:  # onnxruntime raises assertion, Fail and its own types
            errors.append(f"{label} failed ({_one_line(e)})")
            with contextlib.suppress(OSError):
                os.unlink(out)
            continue
        taken = label
        break
    if taken is None:
        onnx.save(ctx.model, str(out))
        ctx.warnings.append(
            "int8 variants quantised from the raw, unoptimised graph: "
            + "; ".join(errors)
            + " (BatchNormalization and Constant nodes stay; int8 may be larger and slower)"
        )
    elif errors:
        ctx.warnings.append(f"int8 pre-processing used {taken}: " + "; ".join(errors))
    for line in ctx.warnings[-1:] if errors else []:
        ctx.log(f"  {line}")
    ctx.extra[_KEY] = str(out)
    ctx.extra["quant_pre_path_taken"] = taken or "raw graph"
    return out
