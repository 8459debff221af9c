"""The validate stage: every built variant's accuracy, per class and per slice, its agreement
with the fp32 reference, and its out-of-distribution threshold, on the evaluation data."""

from __future__ import annotations

from edgekit.builder import metrics
from edgekit.builder.stages.context import Run, count
from edgekit.builder.stages.scoring import score_file
from edgekit.errors import ModelError
from edgekit.results import VariantResult
from edgekit.signals.scores import logit_score

__all__ = ["validate"]


def validate(run: Run) -> Run:
    """Stage ``validate`` (not evaluated without evaluation data)."""
    cfg, ev, ref_scores = run.cfg, run.ev, run.ref_scores
    with run.timer.stage("validate") as d:
        if ev is None or ref_scores is None:
            d.append("no evaluation data: accuracy not evaluated")
            return run
        # "auto" and the feature scores are measured by the ood stage, which replaces this
        # max-softmax threshold; a logit score configured as such is calibrated here as before.
        kind = logit_score(cfg.ood.score)
        for vr in run.built:
            try:
                s = score_file(
                    run.staging / vr.path,
                    ev.x,
                    run.input_name,
                    run.out_index,
                    cfg.profile.threads,
                    run.backend_opts[vr.name],
                )
            except ModelError as e:
                _failed(run, vr, e)
                continue
            run.scores[vr.name] = s  # for the insight stage (context, discovery, scenarios)
            _conf, oscore = metrics.ood_scores(s, kind, cfg.model.output)
            ood = metrics.calibrate_ood(
                oscore,
                ev.in_dist,
                ev.ood,
                kind=kind,
                target_accept=cfg.ood.target_in_distribution_accept,
                ood_classes=cfg.data.ood_classes,
            )
            vr.accuracy = metrics.accuracy_result(
                y=ev.y,
                scores=s,
                ref_scores=ref_scores,
                labels=run.labels,
                in_dist=ev.in_dist,
                slices=ev.slices,
                min_slice=cfg.slices.min_size,
                worst_k=cfg.slices.worst,
                ood=ood,
                source=ev.source,
            )
            run.log(
                f"  {vr.name}: accuracy {100 * vr.accuracy.accuracy:.2f}% (fp32 reference "
                f"{100 * run.need(run.ref_acc, 'ref_acc'):.2f}%), agreement "
                f"{100 * vr.accuracy.agreement_with_reference:.2f}%"
            )
        d.append(f"{count(len(run.built), 'variant')} on {len(ev.y)} evaluation rows")
    return run


def _failed(run: Run, vr: VariantResult, e: ModelError) -> None:
    """A variant its runtime cannot load or run is a failed variant, in the reports like one that
    failed to build (not an exit 2 after the reference was judged); without --keep-going it
    stops the build as a build failure does."""
    vr.status, vr.reason = "failed", f"built, but its runtime cannot run it: {e}"
    run.log(f"  {vr.name}: FAILED: {vr.reason}")
    if not run.opts.keep_going and run.stopped_by is None:
        run.stopped_by = vr.name
