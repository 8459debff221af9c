"""The audit stage: a membership-inference audit of every built variant ([privacy]).

Runs after profile and before judge, so ``max_membership_advantage`` / ``max_membership_auc``
join the verdict like every other budget. Without member data it does nothing and those budgets
are "not evaluated".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.builder.stages.context import Run
from edgekit.builder.stages.data import preprocess
from edgekit.builder.stages.scoring import score_file
from edgekit.data.dataset import Dataset, load_source
from edgekit.errors import DataError
from edgekit.privacy.audit import audit_outputs, subsample
from edgekit.privacy.hygiene import scan_onnx

__all__ = ["audit", "load_group"]


def load_group(
    spec: str, key: str, labels: list[str], max_rows: int, seed: int, base_dir: Path | None
) -> tuple[Dataset, np.ndarray]:
    """The rows of ``spec`` whose class is one of ``labels`` (at most ``max_rows``, seeded)
    and their label indices; one ``DataError`` line when none is left."""
    ds = load_source(spec, base_dir=base_dir)
    lookup = {name: i for i, name in enumerate(labels)}
    names = np.asarray(ds.labels)[ds.y]
    y = np.array([lookup.get(str(n), -1) for n in names], dtype=np.int64)
    keep = np.flatnonzero(y >= 0)
    if len(keep) < 2:
        raise DataError(
            f"{spec} (privacy.{key}): {len(keep)} rows of the model's classes {labels}; "
            "the audit needs labelled rows of those classes"
        )
    keep = keep[subsample(len(keep), max_rows, seed)]
    return ds.subset(keep), y[keep]


def audit(run: Run) -> Run:
    """Stage ``audit`` (skipped without ``[privacy] members``)."""
    cfg, p = run.cfg, run.cfg.privacy
    with run.timer.stage("audit") as d:
        if not p.members:
            d.append("no [privacy] members: membership budgets not evaluated")
            return run
        pipe = run.need(run.pipe, "pipe")
        base = Path(cfg.base_dir)
        m_ds, m_y = load_group(p.members, "members", run.labels, p.max_rows, 1, base)
        n_ds, n_y = load_group(p.non_members, "non_members", run.labels, p.max_rows, 2, base)
        m_x = preprocess(pipe, m_ds.x, f"{p.members} (privacy.members)")
        n_x = preprocess(pipe, n_ds.x, f"{p.non_members} (privacy.non_members)")
        m_ref = n_ref = None
        if p.reference_model:
            ref = base / p.reference_model
            m_ref = score_file(ref, m_x, run.input_name, run.out_index, cfg.profile.threads)
            n_ref = score_file(ref, n_x, run.input_name, run.out_index, cfg.profile.threads)
        for vr in run.built:
            opts = run.backend_opts.get(vr.name)
            sm = score_file(
                run.staging / vr.path, m_x, run.input_name, run.out_index, cfg.profile.threads, opts
            )
            sn = score_file(
                run.staging / vr.path, n_x, run.input_name, run.out_index, cfg.profile.threads, opts
            )
            vr.privacy = audit_outputs(
                member_scores=sm,
                member_y=m_y,
                non_member_scores=sn,
                non_member_y=n_y,
                output=cfg.model.output,
                members=p.members,
                non_members=p.non_members,
                bootstrap=p.bootstrap,
                member_reference=m_ref,
                non_member_reference=n_ref,
            )
            if vr.runtime == "onnxruntime" and vr.path.endswith(".onnx"):
                vr.privacy.hygiene = scan_onnx(run.staging / vr.path, m_x[: p.max_rows])
                for line in vr.privacy.hygiene:
                    run.warnings.append(f"{vr.name}: the artifact carries {line}")
            w = vr.privacy.worst
            if w is not None:
                run.log(
                    f"  {vr.name}: membership advantage {w.advantage:.3f} "
                    f"[{w.advantage_ci[0]:.3f}, {w.advantage_ci[1]:.3f}] ({w.attack}), "
                    f"AUC {w.auc:.3f}"
                )
        d.append(f"{len(run.built)} variants on {len(m_y)} members, {len(n_y)} non-members")
    return run
