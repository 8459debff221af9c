"""``trees-truncated``: the first k boosting rounds, the fewest that keep the accuracy budgets.

The tree analogue of quantisation. Boosting adds rounds in order, so keeping the first k is the
model LightGBM would predict with ``num_iteration=k``: fewer trees, less to traverse, a smaller
file. The search scores candidates on the evaluation data against the fp32 model, as the int8
loop does, and bisects for the smallest k whose accuracy drop and worst slice drop stay within
``max_accuracy_drop`` and ``max_slice_accuracy_drop``. Accuracy is not monotone in k in general,
so every tried k is recorded, the chosen one is one that was measured to pass, and the validate
stage measures it again like any variant.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgekit.builder.variants.base import BuildContext, Built, CandidateScore, Skip
from edgekit.builder.variants.trees_common import tree_ensemble
from edgekit.builder.variants.trees_compiled import TRUNCATED_MODEL_KEY
from edgekit.trees.ensemble import truncate_onnx

__all__ = ["TreesTruncated", "passes", "search_rounds"]


def passes(score: CandidateScore, max_drop: float | None, max_slice_drop: float | None) -> bool:
    """Whether a candidate keeps both accuracy budgets (an unset budget holds)."""
    if max_drop is not None and score.accuracy_drop > max_drop:
        return False
    worst = score.worst_slice_drop
    return max_slice_drop is None or worst is None or worst <= max_slice_drop


def search_rounds(total: int, ok: Any) -> tuple[int, list[int]]:
    """Smallest k in 1..total with ``ok(k)`` found by bisection, trusting ``ok(total)``.

    Returns (k, every k tried, in order). Bisection keeps ``hi`` a k that was seen to pass.
    """
    lo, hi, tried = 1, total, []
    while lo < hi:
        mid = (lo + hi) // 2
        tried.append(mid)
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi, tried


class TreesTruncated:
    """The fewest boosting rounds that keep the accuracy and slice budgets, as ONNX."""

    name = "trees-truncated"
    runtime = "onnxruntime"
    precision = "fp32"

    def build(self, ctx: BuildContext) -> Built:
        ens = tree_ensemble(ctx)
        total = ens.rounds() or 0
        b = ctx.config.budgets
        if ctx.score_model is None:
            raise Skip("truncation is searched on evaluation data ([data] evaluation)")
        if b.max_accuracy_drop is None and b.max_slice_accuracy_drop is None:
            raise Skip("no max_accuracy_drop or max_slice_accuracy_drop budget to search against")
        if total < 2:
            raise Skip(f"{total} boosting round: nothing to truncate")
        steps: dict[int, dict[str, Any]] = {}

        def evaluate(k: int) -> bool:
            path = ctx.work_dir / f"_{self.name}-{k}.onnx"
            model = truncate_onnx(ctx.model, k, ctx.model_path)
            onnx.save(model, str(path))
            assert ctx.score_model is not None  # checked above; narrows the type for mypy
            score = ctx.score_model(path)
            ok = passes(score, b.max_accuracy_drop, b.max_slice_accuracy_drop)
            steps[k] = {
                "rounds": k,
                "trees": k * ens.trees_per_round(),
                "accuracy": score.accuracy,
                "accuracy_drop": score.accuracy_drop,
                "worst_slice_drop": score.worst_slice_drop,
                "size_bytes": path.stat().st_size,
                "p50_us": _p50_us(ctx, path),
                "accepted": ok,
            }
            ctx.log(
                f"  {self.name}: {k} rounds -> accuracy drop {score.accuracy_drop:.4f}, worst slice "
                f"{_fmt(score.worst_slice_drop)}" + (" (budgets hold)" if ok else "")
            )
            return ok

        evaluate(total)  # the full model's row of the trade-off table (drop 0 by definition)
        k, _tried = search_rounds(total, evaluate)
        if k == total:
            raise Skip(f"every truncation below {total} rounds breaks an accuracy budget")
        out = ctx.work_dir / f"{self.name}.onnx"
        model = truncate_onnx(ctx.model, k, ctx.model_path)
        onnx.save(model, str(out))
        ctx.extra[TRUNCATED_MODEL_KEY] = (model, k)
        trade = [steps[r] for r in sorted(steps)]
        return Built(
            out,
            notes=[
                f"first {k} of {total} boosting rounds ({k * ens.trees_per_round()} of {ens.n_trees} "
                f"trees), the fewest that keep the accuracy budgets; {len(steps)} candidates scored"
            ],
            meta={"rounds": k, "total_rounds": total, "truncation_search": trade},
        )


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _p50_us(ctx: BuildContext, path: Path, runs: int = 50) -> float | None:
    """A quick in-process median latency of the trees alone, for the trade-off table."""
    if ctx.calibration is None:
        return None
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = ctx.config.profile.threads
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(ctx.calibration[:1], dtype=np.float32)
    for _ in range(5):
        sess.run(None, {ctx.input_name: x})
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {ctx.input_name: x})
        t.append((time.perf_counter() - t0) * 1e6)
    return float(np.median(t))
