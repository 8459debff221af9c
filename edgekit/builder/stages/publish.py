"""The bundle and report stages: the verified bundle with the shape the build validated, and
report.json/md/html rendered from the BuildResult."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from edgekit.builder import metrics
from edgekit.builder.runtime_fields import drift_reference
from edgekit.builder.stages.baseline import manifest_section
from edgekit.builder.stages.context import EvalData, Run
from edgekit.config import BuildConfig
from edgekit.data.dataset import Dataset

__all__ = ["bundle", "report"]


def _reference_statistics(
    ds: Dataset | None,
    ev: EvalData | None,
    ref_scores: np.ndarray | None,
    cfg: BuildConfig,
    temperature: float = 1.0,
) -> dict[str, Any]:
    """Statistics of the inputs and outputs the model was validated on, for drift monitoring."""
    if ds is None:
        return {}
    x = ds.x.reshape(len(ds.x), -1).astype(np.float64)
    rms = np.sqrt((x**2).mean(axis=1))
    qs = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
    stats: dict[str, Any] = {
        "source": cfg.data.evaluation or cfg.data.calibration,
        "n": len(ds.x),
        "input_rms": {
            "quantiles": qs,
            "values": np.quantile(rms, qs).tolist(),
            "mean": float(rms.mean()),
            "std": float(rms.std()),
        },
    }
    if ev is not None and ref_scores is not None:
        # the confidence the daemon reports: tempered like the shipped variant's
        conf, _ = metrics.ood_scores(
            ref_scores[ev.in_dist], "max_softmax", cfg.model.output, temperature=temperature
        )
        pred = ref_scores[ev.in_dist].argmax(axis=1)
        n_classes = ref_scores.shape[1]
        stats["prediction_distribution"] = (
            np.bincount(pred, minlength=n_classes) / max(len(pred), 1)
        ).tolist()
        stats["confidence"] = {"quantiles": qs, "values": np.quantile(conf, qs).tolist()}
    return stats


def bundle(run: Run) -> Run:
    """Stage ``bundle``."""
    from edgekit.bundle import read_bundle_id, write_bundle

    cfg, result = run.cfg, run.need(run.result, "result")
    prepared, staging = run.need(run.prepared, "prepared"), run.staging
    with run.timer.stage("bundle") as d:
        sel = next((v for v in run.built if v.name == result.selected), None)
        temp = sel.calibration.temperature if sel and sel.calibration else 1.0
        ref_stats = _reference_statistics(
            run.eval_ds or run.cal_ds, run.ev, run.ref_scores, cfg, temp
        )
        ev = run.ev
        ref_stats.update(
            drift_reference(ev.x if ev else None, run.ref_scores, ev.in_dist if ev else None, cfg)
        )
        section, files = manifest_section(result.baseline) if result.baseline else (None, {})
        bdir, archive = write_bundle(
            result,
            cfg,
            staging,
            labels=run.labels,
            input_name=run.input_name,
            out_index=run.out_index,
            info=run.need(run.info, "info"),
            input_shape=prepared.input_shape,
            fixed_batch=prepared.fixed_batch,
            backend_options=run.backend_opts,
            reference_stats=ref_stats,
            sections={"baseline": section} if section else None,
            extra_sources=files,
        )
        # Paths as they will be once the staging folder is renamed into place.
        result.bundle_dir = str(run.opts.out_dir / bdir.relative_to(staging))
        result.bundle_archive = str(run.opts.out_dir / archive.relative_to(staging))
        result.bundle_id = read_bundle_id(bdir)
        d.append(f"{bdir.name}/ and {archive.name}")
    return run


def report(run: Run) -> Run:
    """Stage ``report``."""
    from edgekit.report import write_reports

    result = run.need(run.result, "result")
    with run.timer.stage("report") as d:
        result.duration_s = time.perf_counter() - run.t_start
        paths = write_reports(result, run.staging)
        d.append(", ".join(p.name for p in paths.values()))
    result.duration_s = time.perf_counter() - run.t_start
    return run
