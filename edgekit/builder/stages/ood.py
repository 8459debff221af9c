"""The ``features`` and ``ood`` stages: the penultimate activations exposed as an extra output of
the prepared model (so every variant carries them), then, per built variant, temperature
scaling, the feature statistics, every OOD score measured, and one chosen by measurement. The
input-space ``spectral`` score (``signals.spectral``) reads the raw captures: its statistics are
fitted once and measured for every variant the same way as the model-based scores.

Which captures each figure comes from (so the held-out figure is honest):

- *fit*: the in-distribution rows of ``data.calibration`` (all of them, not only the
  ``calibration_size`` the quantiser reads): spectral per-class means and covariances, input
  guard; at most ``MODEL_FIT_MAX`` of them (a seeded draw) for what every variant must run over:
  temperature, class means, shared covariance, kNN bank.
- *choice half*: the even rows of ``data.evaluation``. Each score's threshold accepts
  ``ood.target_in_distribution_accept`` of its in-distribution rows; AUROC and the share of the
  *choice family* (``ood.choose_on``, else the first of ``data.ood_classes``) called unknown are
  measured here, and the choice is made on them.
- *held-out half*: the odd rows, never used for the threshold or the choice: the share of
  in-distribution accepted and of every OOD family called unknown at that threshold. A family
  other than the choice family is held out twice over (other captures and another signal type).

Choice rule (``ood.score = "auto"``): the highest share of the choice family called unknown on
the choice half; scores within one percentage point of it are tied, and the tie goes to the
higher AUROC, then to the cheaper score (latency). Another ``ood.score`` is used as configured
(and still measured next to the others).

Operating point (``ood.low_snr_db``): once chosen, the chosen score's threshold may be split in
two by the capture's blind SNR estimate, fitted on the same choice-half rows and measured on the
held-out half per band (``ood_bands``); its held-out figures are then the split's.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from edgekit.builder.prepare import run_batched
from edgekit.builder.stages.context import Run, count, fmt_bands
from edgekit.builder.stages.data import preprocess
from edgekit.builder.stages.ood_bands import apply_bands
from edgekit.errors import ModelError
from edgekit.results import CalibrationResult, OodReport, OodResult, OodScoreRow, VariantResult
from edgekit.signals.bands import BandThresholds
from edgekit.signals.calibration import as_logits, expected_calibration_error, fit_temperature
from edgekit.signals.ood import FEATURE_SCORES, FeatureStats, InputGuard, l2_normalise, save_stats
from edgekit.signals.scores import SCORES, ood_scores
from edgekit.signals.snr import estimate_snr_db
from edgekit.signals.spectral import (
    CP_BANK,
    INPUT_SCORES,
    SpectralStats,
    fit_spectral,
    save_spectral,
    spectral_applicable,
)

__all__ = [
    "CHOICE_TIE", "KNN_BANK_MAX", "MODEL_FIT_MAX", "choose_score", "features", "fit_stats",
    "model_fit_rows", "ood",
]

CHOICE_TIE = 0.01  # unknown shares this close to the best are tied (see the rule above)
KNN_BANK_MAX = 2000  # fit rows kept for the kNN distance: bounds memory and latency on the device
MODEL_FIT_MAX = 3000
"""Calibration rows the model-based fits read (temperature, class means and covariance, kNN
bank): every variant runs over them, so a large ``data.calibration`` (which the input-space
``spectral`` score reads in full: its per-band, per-class covariances need the rows) would make
the stage several times longer for statistics that are already settled at this size. A seeded
draw spread over the whole set, the same for every variant."""


def features(run: Run) -> Run:
    """Stage ``features``: find the penultimate tensor and add it as the prepared model's last
    output; without one (a convolutional head, a tree ensemble) the feature scores are skipped."""
    import onnx

    from edgekit.builder.penultimate import expose_features, find_penultimate
    from edgekit.model_info import inspect_model

    cfg, prepared = run.cfg, run.need(run.prepared, "prepared")
    with run.timer.stage("features") as d:
        model = prepared.model
        score_name = model.graph.output[run.out_index].name
        tensor = cfg.ood.features or find_penultimate(model, score_name)
        if tensor is None:
            d.append("no Gemm/MatMul before the score output: feature scores are not available")
            return run
        try:
            expose_features(model, tensor)
        except ModelError as e:
            if cfg.ood.features:  # named by the user: say so
                raise ModelError(f"{cfg.source}: ood.features: {e}") from e
            d.append(f"feature scores not available: {e}")
            return run
        onnx.save(model, str(prepared.path))
        run.model, run.info = model, inspect_model(prepared.path)
        run.features_tensor = tensor
        run.features_index = [o.name for o in model.graph.output].index(tensor)
        how = "ood.features" if cfg.ood.features else "input of the last Gemm/MatMul"
        d.append(f"{tensor!r} ({how}) exposed as output {run.features_index}")
    return run


def fit_stats(feats: np.ndarray, y: np.ndarray, n_classes: int, k: int) -> FeatureStats:
    """Class means, one shared precision (Ledoit-Wolf shrinkage of the class-centred features:
    stable with few rows per dimension, and with the near-constant dimensions int8 gives) and
    the L2-normalised kNN bank (at most ``KNN_BANK_MAX`` rows, the first ones)."""
    from sklearn.covariance import LedoitWolf

    f = np.asarray(feats, dtype=np.float64).reshape(len(feats), -1)
    means = np.zeros((n_classes, f.shape[1]))
    present = [c for c in range(n_classes) if np.any(y == c)]
    for c in present:
        means[c] = f[y == c].mean(axis=0)
    centred = f - means[y]
    precision = LedoitWolf(assume_centered=True).fit(centred).precision_
    # a class absent from the fit data must not attract captures: put its mean far away
    far = np.full(f.shape[1], 1e6)
    for c in set(range(n_classes)) - set(present):
        means[c] = far
    return FeatureStats(means, precision, l2_normalise(f[:KNN_BANK_MAX]), k)


def choose_score(rows: list[OodScoreRow]) -> OodScoreRow:
    """The module docstring's rule, over the rows that could be measured."""
    ok = [r for r in rows if r.available and r.unknown_rate is not None]
    best = max(r.unknown_rate or 0.0 for r in ok)
    tied = [r for r in ok if (r.unknown_rate or 0.0) >= best - CHOICE_TIE]
    return max(tied, key=lambda r: (r.auroc or 0.0, -(r.latency_us or 0.0)))


def _auroc(ind: np.ndarray, out: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if ind.size == 0 or out.size == 0:
        return None
    y = np.r_[np.ones(ind.size), np.zeros(out.size)]
    return float(roc_auc_score(y, np.r_[ind, out]))


def _outputs(run: Run, vr: VariantResult, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Class scores and penultimate features of variant ``vr`` on ``x`` (one pass)."""
    from edgekit.backends import open_backend

    backend = open_backend(
        run.staging / vr.path, threads=run.cfg.profile.threads, **run.backend_opts.get(vr.name, {})
    )
    fi, oi = run.features_index, run.out_index
    n_out = len(backend.output_spec)
    fi = fi if fi is not None and fi < n_out else None
    widths: list[int] = []

    def one(chunk: np.ndarray) -> np.ndarray:
        outs = backend.run_all({run.input_name: chunk})
        parts = [np.asarray(outs[oi], np.float32).reshape(len(chunk), -1)]
        if fi is not None:
            parts.append(np.asarray(outs[fi], np.float32).reshape(len(chunk), -1))
        widths[:] = [p.shape[1] for p in parts]
        return np.concatenate(parts, axis=1)

    try:
        fixed = run.prepared.fixed_batch if run.prepared else None
        both = run_batched(one, x, 256, fixed)
    finally:
        backend.close()
    scores = both[:, : widths[0]]
    return scores, (both[:, widths[0] :] if fi is not None else None)


def _latency_us(kind: str, logits: np.ndarray, feats: np.ndarray | None, stats: Any,
                out_kind: str, t: float, raw: np.ndarray, spectral: SpectralStats | None) -> float:
    """Median time to score one capture with numpy, as the daemon does (host, shared)."""
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        ood_scores(logits[:1], kind, out_kind, temperature=t, features=None if feats is None
                   else feats[:1], stats=stats, raw=raw[:1], spectral=spectral)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e6)


def _fit_rows(run: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw, preprocessed, label index) of the calibration captures of ``model.labels``."""
    ds = run.need(run.cal_ds, "cal_ds")
    lookup = {name: i for i, name in enumerate(run.labels)}
    y = np.array([lookup.get(str(n), -1) for n in np.asarray(ds.labels)[ds.y]], dtype=np.int64)
    keep = y >= 0
    where = f"{run.cfg.data.calibration} (data.calibration)"
    return ds.x[keep], preprocess(run.need(run.pipe, "pipe"), ds.x[keep], where), y[keep]


def model_fit_rows(n: int, cap: int = MODEL_FIT_MAX) -> np.ndarray:
    """Indices (increasing) of the calibration rows the model-based fits read: all of ``n`` up to
    ``cap``, else ``cap`` of them drawn without replacement (seed 0, so every variant and every
    build of the same data reads the same rows)."""
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, cap, replace=False))


def _measure(
    run: Run, vr: VariantResult, fit_x: np.ndarray, fit_y: np.ndarray, guard: InputGuard | None,
    spectral: SpectralStats | None, ev_snr: np.ndarray | None,
) -> tuple[OodReport, CalibrationResult | None, FeatureStats | None, float, BandThresholds | None]:
    """Every score on this variant; the chosen score's acceptance of each evaluation row goes to
    ``run.accepted`` (the insight stage's context counts accepted answers only). With
    ``ood.low_snr_db`` and the evaluation captures' SNR estimates ``ev_snr``, the chosen score
    gets per-band thresholds (``ood_bands``)."""
    cfg, ev = run.cfg, run.need(run.ev, "ev")
    out_kind = cfg.model.output
    f_scores, f_feats = _outputs(run, vr, fit_x)
    e_scores, e_feats = _outputs(run, vr, ev.x)
    calib: CalibrationResult | None = None
    t = 1.0
    if cfg.ood.temperature_scaling:
        t = fit_temperature(as_logits(f_scores, out_kind), fit_y)
        ind = ev.in_dist
        correct = e_scores[ind].argmax(axis=1) == ev.y[ind]
        before = expected_calibration_error(ood_scores(e_scores[ind], "max_softmax", out_kind)[0], correct)
        after = expected_calibration_error(
            ood_scores(e_scores[ind], "max_softmax", out_kind, temperature=t)[0], correct
        )
        calib = CalibrationResult(
            t, len(fit_y), int(ind.sum()), before.ece, after.ece,
            {"confidence": before.confidence, "accuracy": before.accuracy,
             "count": [float(c) for c in before.count]},
            {"confidence": after.confidence, "accuracy": after.accuracy,
             "count": [float(c) for c in after.count]},
        )
    stats = (
        fit_stats(f_feats, fit_y, len(run.labels), cfg.ood.knn_k) if f_feats is not None else None
    )
    eval_ds = run.need(run.eval_ds, "eval_ds")
    names = np.asarray(eval_ds.labels)[eval_ds.y]
    families = [c for c in cfg.data.ood_classes if np.any(names == c)]
    choice = cfg.ood.choose_on or (families[0] if families else "")
    half = np.arange(len(ev.y)) % 2 == 0  # choice half: even rows
    acc = cfg.ood.target_in_distribution_accept
    rows: list[OodScoreRow] = []
    by_kind: dict[str, np.ndarray] = {}
    for kind in SCORES:
        if kind in FEATURE_SCORES and stats is None:
            rows.append(OodScoreRow(kind, False, note="no penultimate features in this variant"))
            continue
        if kind in INPUT_SCORES and spectral is None:
            rows.append(OodScoreRow(kind, False, note="the captures are not I/Q (N, 2, L)"))
            continue
        _, s = ood_scores(e_scores, kind, out_kind, temperature=t, features=e_feats, stats=stats,
                          raw=eval_ds.x, spectral=spectral)
        by_kind[kind] = s
        ind_c, ind_h = s[ev.in_dist & half], s[ev.in_dist & ~half]
        thr = float(np.quantile(ind_c, 1.0 - acc))
        fam_c = s[(names == choice) & half]
        row = OodScoreRow(
            kind, True,
            auroc=_auroc(ind_c, fam_c),
            unknown_rate=float((fam_c < thr).mean()) if fam_c.size else None,
            threshold=thr,
            heldout_accept_rate=float((ind_h >= thr).mean()) if ind_h.size else None,
            latency_us=_latency_us(kind, e_scores, e_feats, stats, out_kind, t, eval_ds.x, spectral),
            memory_bytes=_memory_bytes(kind, stats, spectral),
        )
        all_h = s[ev.ood & ~half]
        row.heldout_unknown_all = float((all_h < thr).mean()) if all_h.size else None
        for fam in families:
            sf = s[(names == fam) & ~half]
            if sf.size:
                row.heldout_unknown[fam] = float((sf < thr).mean())
                row.heldout_auroc[fam] = _auroc(ind_h, sf) or float("nan")
        rows.append(row)
    if cfg.ood.score == "auto":
        measured = [r for r in rows if r.unknown_rate is not None]
        chosen = choose_score(rows) if measured else next(r for r in rows if r.score == "max_softmax")
        rule = (f"highest share of {choice} called unknown on the choice half (ties within "
                f"{CHOICE_TIE:.0%}: higher AUROC, then lower latency)") if measured else (
                "no OOD captures to measure on: max_softmax")
    else:
        want = cfg.ood.score
        chosen = next(r for r in rows if r.score == want)
        rule = f"configured (ood.score = {want!r})"
        if not chosen.available:
            chosen = next(r for r in rows if r.score == "max_softmax")
            rule += f"; {want} is not available here ({chosen.note}): max_softmax"
            run.warnings.append(f"{vr.name}: ood.score {want!r} is not available; using max_softmax")
    chosen.chosen = True
    bands = None
    if cfg.ood.low_snr_db is not None and chosen.score in by_kind:
        if ev_snr is None:
            chosen.band_rule = "one threshold: the captures are not I/Q, no SNR estimate"
        else:
            bands = apply_bands(
                chosen, by_kind[chosen.score], ev_snr, names, ev.in_dist, ev.ood, half, choice,
                families, edge_db=cfg.ood.low_snr_db, target=acc,
                min_low_accept=cfg.ood.low_snr_min_accept,
            )
    cut = (float(chosen.threshold or 0.0) if bands is None or ev_snr is None
           else bands.threshold(ev_snr))
    run.accepted[vr.name] = by_kind[chosen.score] >= cut
    report = OodReport(
        choice, families, rule, chosen.score, rows,
        int((ev.in_dist & half).sum()), int((ev.in_dist & ~half).sum()), len(fit_y),
        run.features_tensor if stats is not None else None,
        "" if stats is not None else "feature scores unavailable for this variant",
    )
    if guard is not None:
        report.guard, report.guard_false_reject_rate = _guard_figures(run, guard)
    return report, calib, stats, t, bands


def _memory_bytes(kind: str, stats: FeatureStats | None, spectral: SpectralStats | None) -> int:
    """Statistics the score keeps in memory on the device (float64 once loaded)."""
    if kind == "spectral" and spectral is not None:
        return spectral.nbytes
    if stats is None:
        return 0
    if kind == "mahalanobis":
        return int(stats.means.nbytes + stats.precision.nbytes)
    return int(stats.bank.nbytes) if kind == "knn" else 0


def _guard_figures(run: Run, guard: InputGuard) -> tuple[dict[str, float], float]:
    """Share of probes the guard catches (built from in-distribution evaluation captures) and
    its false rejections on the in-distribution captures themselves."""
    ds, ev = run.need(run.eval_ds, "eval_ds"), run.need(run.ev, "ev")
    x = ds.x[ev.in_dist]
    fs = run.cfg.capture.iq_full_scale
    probe = x[:200].astype(np.float64)
    rng = np.random.default_rng(0)
    probes = {
        "silent (zeros plus 1e-6 noise)": rng.normal(0.0, 1e-6, probe.shape),
        "saturated (x50, clipped at full scale)": np.clip(probe * 50.0, -fs, fs),
        "wrong scale (x0.01)": probe * 0.01,
    }
    caught = {k: float(np.mean([r is not None for r in guard.reasons(p)])) for k, p in probes.items()}
    false_reject = float(np.mean([r is not None for r in guard.reasons(x)]))
    return caught, false_reject


def ood(run: Run) -> Run:
    """Stage ``ood`` (needs evaluation and calibration data; without them the validate stage's
    max-softmax threshold stands)."""
    cfg, ev = run.cfg, run.ev
    with run.timer.stage("ood") as d:
        if ev is None or run.cal_ds is None or not run.built:
            d.append("needs [data] evaluation and calibration: scores not measured")
            return run
        raw, fit_x, fit_y = _fit_rows(run)
        if len(fit_y) == 0:
            d.append(f"no captures of model.labels in {cfg.data.calibration}: scores not measured")
            return run
        guard = InputGuard.fit(raw, cfg.capture.iq_full_scale)
        # the spectral score reads raw I/Q captures; it is the same for every variant
        ev_raw = run.need(run.eval_ds, "eval_ds").x
        spectral = (
            fit_spectral(raw, fit_y, len(run.labels), cp_bank=CP_BANK if cfg.ood.cyclic_prefix else ())
            if spectral_applicable(raw) and spectral_applicable(ev_raw) else None
        )
        # the blind SNR estimate of every evaluation capture, for per-band thresholds (the
        # device computes the same from each capture: signals.snr)
        ev_snr = (estimate_snr_db(ev_raw) if cfg.ood.low_snr_db is not None
                  and spectral_applicable(ev_raw) else None)
        rows = model_fit_rows(len(fit_y))
        model_x, model_y = fit_x[rows], fit_y[rows]
        for vr in run.built:
            report, calib, stats, t, bands = _measure(
                run, vr, model_x, model_y, guard, spectral, ev_snr)
            vr.ood_report, vr.calibration = report, calib
            row = next(r for r in report.rows if r.chosen)
            stats_file = None
            # ood.statistics: the chosen score's statistics (its kind follows ood.score)
            if stats is not None and row.score in FEATURE_SCORES:
                stats_file = f"{vr.name}.ood.npz"
                save_stats(stats, run.work / stats_file)
            elif spectral is not None and row.score in INPUT_SCORES:
                stats_file = f"{vr.name}.spectral.npz"
                # with the SNR estimator's bias the thresholds were calibrated with (signals.snr)
                save_spectral(spectral, run.work / stats_file, capture_length=raw.shape[2])
            if stats_file is not None:
                vr.meta.setdefault("extra_files", []).append(stats_file)
            vr.meta["ood"] = {
                "score": row.score,
                "threshold": row.threshold,
                "temperature": t,
                "features_output": run.features_index if stats is not None else None,
                "statistics": None if stats_file is None else f"variants/{stats_file}",
                "input_guard": guard.to_manifest(),
                # per band of the blind SNR estimate (signals.bands); "threshold" is the last
                # band's, so a daemon that predates the key still applies a sane one
                **({"band_thresholds": bands.to_manifest()} if bands is not None else {}),
            }
            n_ood = int((ev.ood & (np.arange(len(ev.y)) % 2 == 1)).sum())
            if vr.accuracy is not None:  # the summary the other sections show: held-out figures
                vr.accuracy.ood = OodResult(
                    row.score, float(row.threshold or 0.0), float(row.heldout_accept_rate or 0.0),
                    row.heldout_unknown_all,
                    report.n_heldout_in_distribution, n_ood, list(report.heldout_families),
                )
            fams = ", ".join(f"{k} {v:.0%}" for k, v in row.heldout_unknown.items())
            split = (
                "" if bands is None
                else f", thresholds per band: {fmt_bands(bands.edges_db, bands.thresholds)}"
            )
            run.log(f"  {vr.name}: {row.score} (T = {t:.3f}{split}); held out: unknown {fams}")
        # Name what each count is: [load]'s "calibration" rows are the int8 quantisation set
        # (data.calibration_size); the OOD fits read the captures of model.labels in the file.
        d.append(f"{count(len(run.built), 'variant')}; fit on {len(model_y)} of the "
                 f"{len(fit_y)} captures of model.labels in data.calibration"
                 + (f" (spectral score: all {len(fit_y)})" if spectral is not None else ""))
    return run
