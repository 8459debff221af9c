"""The optimise, quantise and export stages: each requested variant built from the prepared
model, in three timed groups; a failure is recorded, and without ``--keep-going`` it stops the
building of the rest."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from edgekit.builder import metrics
from edgekit.builder.stages.context import Run
from edgekit.builder.stages.scoring import score_file
from edgekit.builder.variants import VARIANTS
from edgekit.builder.variants.base import BuildContext, CandidateScore, Skip
from edgekit.bundle import sha256_file
from edgekit.errors import ConversionError, EdgekitError
from edgekit.results import VariantResult

__all__ = ["GROUPS", "build_variants", "make_context"]

GROUPS = [
    ("optimise", ["onnx-fp32"]),
    ("quantise", ["onnx-fp16", "onnx-int8-dynamic", "onnx-int8-static"]),
    ("export", ["tflite-fp32", "tflite-fp16", "tflite-int8"]),
    # tree ensembles (edgekit.trees); truncation first: the compiled-truncated variant uses it
    ("compile", ["trees-truncated", "trees-compiled", "trees-compiled-truncated"]),
]


def make_context(run: Run) -> BuildContext:
    """What every variant may read, with a scorer for the accuracy-aware loop."""
    cfg, ev = run.cfg, run.ev
    prepared = run.need(run.prepared, "prepared")

    def score_candidate(path: Path) -> CandidateScore:
        ref_scores, ref_pred, ref_acc = run.ref_scores, run.ref_pred, run.ref_acc
        if ev is None or ref_scores is None or ref_pred is None or ref_acc is None:
            raise ConversionError("internal: no evaluation data to score a candidate")
        s = score_file(path, ev.x, run.input_name, run.out_index, cfg.profile.threads)
        pred = s.argmax(axis=1)
        acc = float((pred[ev.in_dist] == ev.y[ev.in_dist]).mean())
        sl = [
            r
            for r in metrics.slice_results(ev.slices, ev.y, pred, ref_pred)
            if r.n >= cfg.slices.min_size
        ]
        return CandidateScore(
            acc,
            ref_acc - acc,
            max((r.drop for r in sl), default=None),
            float(np.abs(s - ref_scores).mean()),
        )

    ctx = BuildContext(
        cfg,
        prepared.path,
        run.need(run.model, "model"),
        run.need(run.info, "info"),
        run.work,
        run.input_name,
        run.calibration,
        run.log,
        score_candidate if ev is not None else None,
        fixed_batch=prepared.fixed_batch,
        warnings=run.warnings,
        scratch=run.scratch,
    )
    ctx.extra["tflite_wanted"] = list(run.names)
    return ctx


def _build_one(run: Run, name: str) -> VariantResult:
    v = VARIANTS[name]()
    vr = VariantResult(name, v.runtime, v.precision, "built")
    if run.stopped_by is not None:
        vr.status = "skipped"
        vr.reason = f"not attempted: the build stopped when {run.stopped_by} failed"
        return vr
    t0 = time.perf_counter()
    try:
        built = v.build(run.need(run.ctx, "ctx"))
    except Skip as e:
        vr.status, vr.reason = "skipped", str(e)
        run.log(f"  {name}: skipped: {e}")
    except EdgekitError as e:
        # Reports show the failure either way; without --keep-going the build stops
        # building variants and is rejected (exit 1).
        vr.status, vr.reason = "failed", str(e)
        run.log(f"  {name}: FAILED: {e}")
        if not run.opts.keep_going:
            run.stopped_by = name
    else:
        vr.path = str(Path("variants") / built.path.name)
        vr.size_bytes = built.path.stat().st_size
        vr.sha256 = sha256_file(built.path)
        vr.notes, vr.meta, vr.quant_search = built.notes, built.meta, built.quant_search
        run.backend_opts[name] = built.backend_options
        run.log(f"  {name}: {vr.size_bytes / 1024:.1f} KiB")
    vr.build_s = time.perf_counter() - t0
    return vr


def build_variants(run: Run) -> Run:
    """Stages ``optimise``, ``quantise`` and ``export`` (each timed when it has work)."""
    run.ctx = make_context(run)
    for stage_name, members in GROUPS:
        todo = [n for n in members if n in run.names]
        if not todo:
            continue
        with run.timer.stage(stage_name) as d:
            for name in todo:
                run.results.append(_build_one(run, name))
            d.append(", ".join(f"{r.name} {r.status}" for r in run.results if r.name in todo))
    for tmp in run.work.glob("_*"):
        if tmp.is_dir():
            shutil.rmtree(tmp)
        else:
            tmp.unlink()
    return run
