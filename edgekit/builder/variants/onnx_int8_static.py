"""ONNX int8 static (QDQ) with calibration data, and the accuracy-aware loop that keeps the most
sensitive nodes in float until the accuracy budgets hold."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from edgekit.builder.quant_prep import preprocessed_for_quantisation
from edgekit.builder.variants.base import BuildContext, Built, CandidateScore, Skip, require_quantisable
from edgekit.errors import ConversionError
from edgekit.results import QuantStep

__all__ = ["OnnxInt8Static", "preprocessed_for_quantisation", "rank_sensitivity"]

_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}


class _Reader(CalibrationDataReader):
    """Feeds calibration batches (16, or the model's fixed batch) to onnxruntime's calibrator."""

    def __init__(self, name: str, data: np.ndarray, batch: int = 16) -> None:
        self._name = name
        self._data = data
        self._batch = batch
        self._it: Iterator[dict[str, np.ndarray]] = self._gen()

    def _gen(self) -> Iterator[dict[str, np.ndarray]]:
        # whole batches only: a fixed-batch model refuses a short last one
        n = len(self._data)
        stop = n - n % self._batch if n >= self._batch else n
        for i in range(0, stop, self._batch):
            yield {
                self._name: np.ascontiguousarray(self._data[i : i + self._batch], dtype=np.float32)
            }

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = self._gen()


def _quantise(ctx: BuildContext, src: Path, out: Path, exclude: list[str]) -> None:
    q = ctx.config.quant
    if ctx.calibration is None:
        raise Skip("static quantisation needs calibration data ([data] calibration)")
    try:
        quantize_static(
            src,
            out,
            # A model exported with a fixed batch (often 1) is calibrated in batches of that size.
            _Reader(ctx.input_name, ctx.calibration, ctx.fixed_batch or 16),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=q.per_channel,
            calibrate_method=_METHODS[q.calibrate_method],
            nodes_to_exclude=sorted(set(exclude)),
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    except Skip:
        raise
    except Exception as e:
        raise ConversionError(f"{ctx.config.model_path}: static quantisation failed: {e}") from e


def _breaks(score: CandidateScore, ctx: BuildContext) -> list[str]:
    b = ctx.config.budgets
    out = []
    if b.max_accuracy_drop is not None and score.accuracy_drop > b.max_accuracy_drop:
        out.append(f"accuracy drop {score.accuracy_drop:.4f} > {b.max_accuracy_drop}")
    if (
        b.max_slice_accuracy_drop is not None
        and score.worst_slice_drop is not None
        and score.worst_slice_drop > b.max_slice_accuracy_drop
    ):
        out.append(f"worst slice drop {score.worst_slice_drop:.4f} > {b.max_slice_accuracy_drop}")
    if b.min_accuracy is not None and score.accuracy < b.min_accuracy:
        out.append(f"accuracy {score.accuracy:.4f} < {b.min_accuracy}")
    return out


def _quantisable(path: Path) -> list[str]:
    """Quantisable node names of the model the quantiser actually sees (after pre-processing,
    which may fuse or rename nodes)."""
    from edgekit.builder.variants.base import QUANTISABLE_OPS

    return [n.name for n in onnx.load(str(path)).graph.node if n.op_type in QUANTISABLE_OPS and n.name]


def rank_sensitivity(ctx: BuildContext, src: Path, base_exclude: list[str]) -> list[tuple[str, float]]:
    """Rank quantised nodes by how much keeping each one alone in float cuts the output error.

    Per-node sensitivity: for every candidate node, quantise everything else and measure the
    mean absolute error of the score output against fp32 on the evaluation data. The node whose
    exclusion cuts the error most contributes most to it. Costs one quantisation per node, so
    the candidates are capped at 24 (the last nodes of the graph first: errors there reach the
    output unattenuated).
    """
    if ctx.score_model is None:
        return []
    candidates = [n for n in _quantisable(src) if n not in base_exclude][-24:]
    tmp = ctx.work_dir / "_sensitivity.onnx"
    scores: list[tuple[str, float]] = []
    for node in candidates:
        _quantise(ctx, src, tmp, [*base_exclude, node])
        scores.append((node, ctx.score_model(tmp).output_error))
    tmp.unlink(missing_ok=True)
    return sorted(scores, key=lambda s: s[1])


class OnnxInt8Static:
    """QDQ int8 with calibration (method and per-channel configurable) and the accuracy-aware loop."""

    name = "onnx-int8-static"
    runtime = "onnxruntime"
    precision = "int8"

    def build(self, ctx: BuildContext) -> Built:
        require_quantisable(ctx)
        if ctx.calibration is None:
            raise Skip("static quantisation needs calibration data ([data] calibration)")
        q = ctx.config.quant
        src = preprocessed_for_quantisation(ctx)
        out = ctx.work_dir / f"{self.name}.onnx"
        exclude = list(q.exclude_nodes)
        _quantise(ctx, src, out, exclude)
        notes = [
            f"QDQ int8, {q.calibrate_method} calibration on {len(ctx.calibration)} captures, "
            f"{'per-channel' if q.per_channel else 'per-tensor'} weights"
        ]
        if exclude:
            notes.append(f"kept in float by config: {', '.join(exclude)}")
        steps: list[QuantStep] = []
        if ctx.score_model is None or not q.accuracy_aware:
            return Built(out, notes=notes)
        score = ctx.score_model(out)
        broken = _breaks(score, ctx)
        steps.append(
            QuantStep(
                list(exclude),
                score.accuracy,
                score.accuracy_drop,
                score.worst_slice_drop,
                _p50_ms(ctx, out),
                not broken,
            )
        )
        if not broken:
            return Built(out, notes=notes, quant_search=steps)
        ctx.log(f"{self.name}: plain int8 breaks the budget ({'; '.join(broken)}); ranking nodes")
        ranking = rank_sensitivity(ctx, src, exclude)
        notes.append(
            "sensitivity ranking (output error when kept in float, lower = more sensitive): "
            + ", ".join(f"{n} {e:.3g}" for n, e in ranking[:8])
        )
        floated: list[str] = []
        for node, _err in ranking[: q.max_float_nodes]:
            floated.append(node)
            _quantise(ctx, src, out, [*exclude, *floated])
            score = ctx.score_model(out)
            broken = _breaks(score, ctx)
            steps.append(
                QuantStep(
                    [*exclude, *floated],
                    score.accuracy,
                    score.accuracy_drop,
                    score.worst_slice_drop,
                    _p50_ms(ctx, out),
                    not broken,
                )
            )
            ctx.log(
                f"{self.name}: kept {len(floated)} node(s) in float -> accuracy drop "
                f"{score.accuracy_drop:.4f}" + ("" if broken else " (budget holds)")
            )
            if not broken:
                break
        if broken:
            notes.append(
                f"accuracy-aware loop stopped at max_float_nodes={q.max_float_nodes} "
                f"with the budget still broken ({'; '.join(broken)})"
            )
        notes.append(f"kept in float by the accuracy-aware loop: {', '.join(floated)}")
        return Built(
            out, notes=notes, quant_search=steps, meta={"float_nodes": [*exclude, *floated]}
        )


def _p50_ms(ctx: BuildContext, path: Path, runs: int = 50) -> float | None:
    """A quick in-process median latency, to show what keeping nodes in float costs."""
    if ctx.calibration is None:
        return None
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = ctx.config.profile.threads
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(ctx.calibration[: ctx.fixed_batch or 1], dtype=np.float32)
    for _ in range(5):
        sess.run(None, {ctx.input_name: x})
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {ctx.input_name: x})
        t.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(t))
