"""The insight stage: results with context, slice discovery and ``[[scenarios]]``, per variant.

Runs after ``validate`` (it reads each variant's scores and "unknown" threshold) and before
``judge`` (scenarios are budgets). The observable conditions are computed once on the raw
evaluation captures with the function the daemon runs (``edgekit.signals.observe``).
"""

from __future__ import annotations

import numpy as np

from edgekit.builder import metrics
from edgekit.builder.context_table import DEFAULT_EDGES, context_table
from edgekit.builder.discovery import discover
from edgekit.builder.scenarios import evaluate_scenarios
from edgekit.builder.stages.context import Run, count
from edgekit.config import BuildConfig
from edgekit.signals.observe import observe
from edgekit.signals.scores import logit_score

__all__ = ["OBSERVED_PREFIX", "context_edges", "insight"]

OBSERVED_PREFIX = "observed_"
"""Discovery sees each observable as a metadata column ``observed_<name>``."""


def context_edges(cfg: BuildConfig) -> dict[str, list[float]]:
    """Bin edges per observable: ``[context] bins``, else ``slices.bins``, else the default."""
    out = {}
    for name in cfg.context.observable:
        edges = cfg.context.bins.get(name) or cfg.slices.bins.get(name) or DEFAULT_EDGES.get(name, [])
        out[name] = [float(e) for e in edges]
    return out


def insight(run: Run) -> Run:
    """Stage ``insight`` (not evaluated without evaluation data)."""
    cfg, ev, ds = run.cfg, run.ev, run.eval_ds
    with run.timer.stage("insight") as d:
        if ev is None or ds is None or run.ref_pred is None:
            d.append("no evaluation data: context, discovery and scenarios not evaluated")
            return run
        conditions: dict[str, np.ndarray] = {}
        for name in cfg.context.observable:
            try:
                conditions[name] = observe(name, ds.x)
            except ValueError as e:  # not radio captures (an image model): no such condition
                run.warnings.append(
                    f"context.observable: {name!r} cannot be computed on {cfg.data.evaluation} ({e}); "
                    "results carry context over all conditions only"
                )
        edges = {k: v for k, v in context_edges(cfg).items() if k in conditions}
        meta = dict(ev.meta)
        meta.update({OBSERVED_PREFIX + k: v for k, v in conditions.items()})
        bins = {**cfg.slices.bins, **{OBSERVED_PREFIX + k: v for k, v in edges.items()}}
        ref_correct = run.ref_pred == ev.y
        dc = cfg.discovery
        for vr in run.built:
            s = run.scores.get(vr.name)
            if s is None or vr.accuracy is None:
                continue
            pred = np.asarray(s).argmax(axis=1)
            correct = pred == ev.y  # y is -1 on out-of-distribution rows: never correct
            if cfg.context.enabled:
                accepted = run.accepted.get(vr.name)
                ood = vr.accuracy.ood
                if accepted is None and ood is not None:  # no ood stage figures: a logit score
                    kind = logit_score(cfg.ood.score)
                    _conf, oscore = metrics.ood_scores(s, kind, cfg.model.output)
                    accepted = oscore >= ood.threshold
                if accepted is None:
                    accepted = np.ones(len(pred), bool)
                vr.context = context_table(
                    pred=pred, correct=correct, accepted=accepted, labels=run.labels,
                    conditions=conditions, edges=edges, confidence=cfg.context.confidence,
                )  # fmt: skip
            if dc.enabled:
                cols = list(dc.columns) or sorted(meta)
                found = discover(
                    meta, correct, ev.in_dist,
                    ref_correct=ref_correct, columns=cols, bins=bins, pairs=dc.pairs,
                    min_size=dc.min_size, alpha=dc.alpha, min_gap=dc.min_gap, max_values=dc.max_values,
                )  # fmt: skip
                vr.discovered_slices = found[: dc.top]
            vr.scenarios = evaluate_scenarios(
                cfg.scenarios, ev.meta, ev.in_dist, correct, cfg.context.confidence
            )
        n_found = sum(len(v.discovered_slices) for v in run.built)
        d.append(
            f"{count(len(run.built), 'variant')}; {count(n_found, 'discovered slice')}; "
            f"{count(len(cfg.scenarios), 'scenario')}; "
            f"context over {', '.join(cfg.context.observable) or 'no condition'}"
        )
    return run
