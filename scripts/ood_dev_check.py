#!/usr/bin/env python3
"""Out-of-distribution and calibration figures of a reference CNN on *development* data, the
data its training recipe is chosen on, so the build's figures (evaluation seed 202) stay unseen.

    python scripts/ood_dev_check.py [models/rfclass-cnn] [--card] [--bands]

Fit (as the build's ood stage does): temperature, class means + shared covariance, the kNN
bank and the spectral score's statistics on ``generate(FIT_N, seed=101)`` (the build's
calibration recipe, ``data.calibration``, in-distribution only).
Measured on ``generate(3600, seed=DEV_SEED)`` with the ten classes and both held-out families
(ofdm, fhss): for each score, the threshold accepting 95 % of its in-distribution captures and
the share of each family below it, AUROC, and the expected calibration error before and after
temperature scaling. The fp32 ONNX file under onnxruntime, with the penultimate features exposed
the way the build exposes them (``edgekit.builder.penultimate``).

``--bands`` (:func:`band_check`, ~1 min): where the 5 % false-unknown budget is spent, on
``generate(7200, seed=DEV_SEED)`` by band of the blind SNR estimate (``signals.snr``): one
threshold; the build's per-band rule (``signals.bands.fit_low_band``, edge ``BAND_EDGE_DB``,
floor ``BAND_FLOOR``) fitted on a random 1,800-capture "choice" part with OFDM and measured on
the other 5,400, mean of ``BAND_SPLITS`` splits; the oracle (thresholds per band of
``ORACLE_EDGES_DB`` fitted on all 7,200 with both families, measured on the same captures: the
best any allocation can do); and score fusions (spectral plus a standardised feature score).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgekit.builder.penultimate import expose_features, find_penultimate  # noqa: E402
from edgekit.builder.stages.ood import MODEL_FIT_MAX, fit_stats, model_fit_rows  # noqa: E402
from edgekit.config import load_config  # noqa: E402
from edgekit.data.synth import CLASSES, OOD_CLASSES, generate  # noqa: E402
from edgekit.signals.calibration import expected_calibration_error, fit_temperature  # noqa: E402
from edgekit.signals.preprocess import Pipeline  # noqa: E402
from edgekit.signals.scores import SCORES, ood_scores  # noqa: E402
from edgekit.signals.spectral import fit_spectral  # noqa: E402

__all__ = ["BAND_EDGE_DB", "BAND_FLOOR", "DEV_SEED", "FIT_N", "FIT_SEED", "band_check", "dev_check",
           "main", "oracle_thresholds", "write_card_section"]

FIT_SEED = 101  # the build's calibration recipe (in-distribution only)
FIT_N = 12000  # its size (models/rfclass-cnn/edgekit.toml, data.calibration)
DEV_SEED = 707  # no other data set of these models uses it (1, 2, 3, 101, 202, 404, 501-508, 605-607)
ACCEPT = 0.95


def _run(model_path: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits, penultimate features) of the ONNX file on preprocessed ``x``."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(model_path))
    score = model.graph.output[0].name
    tensor = find_penultimate(model, score)
    if tensor is None:
        raise SystemExit(f"{model_path}: no Gemm/MatMul before {score!r}")
    expose_features(model, tensor)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = [sess.run(None, {name: x[i : i + 512]}) for i in range(0, len(x), 512)]
    logits = np.concatenate([o[0] for o in outs]).astype(np.float64)
    feats = np.concatenate([np.asarray(o[-1]).reshape(len(o[0]), -1) for o in outs])
    return logits, feats.astype(np.float64)


def _fit_and_dev(folder: Path, dev_n: int) -> tuple[Any, Any, Any, np.ndarray, tuple, tuple]:
    """(config, fit set, dev set, the rows the build's model-based fits read, the model's
    (logits, features) on those fit rows, and on the dev set) for ``folder``'s model.onnx."""
    cfg = load_config(folder / "edgekit.toml")
    pipe = Pipeline.from_spec(cfg.preprocess)
    fit = generate(FIT_N, seed=FIT_SEED)
    dev = generate(dev_n, seed=DEV_SEED, classes=[*CLASSES, *OOD_CLASSES])
    rows = model_fit_rows(len(fit.y))  # the build's model-based fits read these rows only
    f_out = _run(folder / "model.onnx", pipe(fit.x[rows]).astype(np.float32))
    d_out = _run(folder / "model.onnx", pipe(dev.x).astype(np.float32))
    return cfg, fit, dev, rows, f_out, d_out


def dev_check(folder: Path) -> dict:
    """The figures described in the module docstring, for ``folder``'s model.onnx."""
    from sklearn.metrics import roc_auc_score

    cfg, fit, dev, rows, (f_logits, f_feats), (d_logits, d_feats) = _fit_and_dev(folder, 3600)
    t = fit_temperature(f_logits, fit.y[rows])
    stats = fit_stats(f_feats, fit.y[rows], len(CLASSES), cfg.ood.knn_k)
    spectral = fit_spectral(fit.x, fit.y, len(CLASSES))  # raw captures, as the build's ood stage
    names = np.asarray(dev.labels)[dev.y]
    ind = np.isin(names, CLASSES)
    res: dict = {"temperature": t, "scores": {}}
    correct = d_logits[ind].argmax(1) == dev.y[ind]
    for key, temp in (("ece_before", 1.0), ("ece_after", t)):
        conf = ood_scores(d_logits[ind], "max_softmax", "logits", temperature=temp)[0]
        res[key] = expected_calibration_error(conf, correct).ece
    res["accuracy"] = float(correct.mean())
    snr = dev.meta["snr_db"]
    for kind in SCORES:
        _, s = ood_scores(d_logits, kind, "logits", temperature=t, features=d_feats, stats=stats,
                          raw=dev.x, spectral=spectral)
        thr = float(np.quantile(s[ind], 1.0 - ACCEPT))
        row: dict = {}
        for fam in OOD_CLASSES:
            m = names == fam
            row[fam] = float((s[m] < thr).mean())
            row[f"{fam}_auroc"] = float(
                roc_auc_score(np.r_[np.ones(ind.sum()), np.zeros(m.sum())], np.r_[s[ind], s[m]])
            )
            row[f"{fam}_snr_ge_0"] = float((s[m & (snr >= 0)] < thr).mean())
        res["scores"][kind] = row
    return res


def format_check(res: dict) -> list[str]:
    lines = [
        f"dev (seed {DEV_SEED}): accuracy {res['accuracy']:.3f}, T = {res['temperature']:.3f}, "
        f"ECE {res['ece_before']:.4f} before, {res['ece_after']:.4f} after",
    ]
    for kind, r in res["scores"].items():
        lines.append(
            f"dev: {kind:<12} " + "  ".join(
                f"{f} unknown {r[f]:.2f} (SNR>=0 {r[f + '_snr_ge_0']:.2f}) AUROC {r[f + '_auroc']:.3f}"
                for f in OOD_CLASSES
            )
        )
    return lines


CARD_TITLE = "## Out-of-distribution and calibration (development data)"


def write_card_section(folder: Path, res: dict) -> None:
    """Put ``res`` into ``folder/MODEL_CARD.md`` as its last section (replacing an earlier one)."""
    card = folder / "MODEL_CARD.md"
    text = card.read_text().split(CARD_TITLE)[0].rstrip("\n")
    lines = [
        CARD_TITLE,
        f"Measured by `scripts/ood_dev_check.py` on the exported `model.onnx` (fp32, onnxruntime): "
        f"the spectral statistics fitted on `generate({FIT_N}, seed={FIT_SEED})`, temperature and "
        f"feature statistics on a seeded {min(FIT_N, MODEL_FIT_MAX):,} of them (as the build), figures on "
        f"`generate(3600, seed={DEV_SEED})` with ofdm and fhss, data no build report uses (the "
        "build's evaluation seed is 202). The training recipe was judged on these figures, so "
        "they are not held out; the build report's are. Threshold: 95 % of in-distribution "
        "captures accepted.",
        "",
        f"- Accuracy (in-distribution): {res['accuracy']:.3f}; temperature {res['temperature']:.3f}; "
        f"ECE {res['ece_before']:.4f} before, {res['ece_after']:.4f} after temperature scaling",
        "",
        "| score | ofdm unknown | ofdm unknown, SNR >= 0 dB | AUROC ofdm | fhss unknown "
        "| fhss unknown, SNR >= 0 dB | AUROC fhss |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {k} | {r['ofdm']:.2f} | {r['ofdm_snr_ge_0']:.2f} | {r['ofdm_auroc']:.3f} "
            f"| {r['fhss']:.2f} | {r['fhss_snr_ge_0']:.2f} | {r['fhss_auroc']:.3f} |"
            for k, r in res["scores"].items()
        ],
        "",
    ]
    card.write_text(text + "\n\n" + "\n".join(lines))


BAND_EDGE_DB = -7.5  # the reference config's ood.low_snr_db
BAND_FLOOR = 0.85  # and its ood.low_snr_min_accept
BAND_SPLITS = 10
ORACLE_EDGES_DB = (-7.5, -5.0, -2.5, 0.0, 5.0)


def _zscore(fit: np.ndarray, dev: np.ndarray) -> np.ndarray:
    """``dev`` standardised as the spectral score is: by the fit scores' median and the median
    minus their 5 % quantile (so both scores put the same share of fit captures below -1)."""
    lo, med = np.quantile(fit, [0.05, 0.5])
    out: np.ndarray = (dev - med) / max(med - lo, 1e-12)
    return out


def oracle_thresholds(s: np.ndarray, band: np.ndarray, ind: np.ndarray, fam: np.ndarray,
                      n_bands: int, accept: float = ACCEPT, step: float = 0.005) -> np.ndarray:
    """Thresholds per band maximising the captures of ``fam`` called unknown with at least
    ``accept`` of ``ind`` accepted overall (no floor per band): dynamic programming over the
    bands on the number accepted, each band's acceptance on a ``step`` grid."""
    grid = np.minimum(np.arange(0.0, 1.0 + 1e-9, step), 1.0)
    best: dict[int, tuple[int, list[float]]] = {0: (0, [])}
    for k in range(n_bands):
        sk, fk = s[ind & (band == k)], s[fam & (band == k)]
        opts = [(float(t), int((fk < t).sum()), int((sk >= t).sum()))
                for t in (np.quantile(sk, 1.0 - grid) if sk.size else [-np.inf])]
        nxt: dict[int, tuple[int, list[float]]] = {}
        for got, (caught, ts) in best.items():
            for t, c, a in opts:
                if got + a not in nxt or nxt[got + a][0] < caught + c:
                    nxt[got + a] = (caught + c, [*ts, t])
        best, top = {}, -1  # keep the Pareto front: more accepted must mean fewer caught
        for got in sorted(nxt, reverse=True):
            if nxt[got][0] > top:
                best[got], top = nxt[got], nxt[got][0]
    need = accept * ind.sum()
    return np.array(max((v for got, v in best.items() if got >= need), key=lambda v: v[0])[1])


def _band_figures(s: np.ndarray, thr: np.ndarray, names: np.ndarray, ind: np.ndarray,
                  rows: np.ndarray, low: np.ndarray) -> list[float]:
    """[ID accepted, ofdm, fhss unknown; below the edge: ID accepted, ofdm, fhss; at or above
    it: the same; worst class accepted] on ``rows``, ``thr`` per row."""
    unknown = s < thr
    out = []
    for part in (np.ones_like(low), low, ~low):
        m = rows & part
        out += [float((~unknown[ind & m]).mean())] + [
            float(unknown[m & (names == f)].mean()) for f in OOD_CLASSES]
    out.append(min(float((~unknown[rows & (names == c)]).mean()) for c in CLASSES))
    return out


def band_check(folder: Path) -> dict:
    """The ``--bands`` figures of the module docstring."""
    from edgekit.signals.bands import fit_low_band
    from edgekit.signals.snr import estimate_snr_db

    cfg, fit, dev, rows, (_, f_feats), (_, d_feats) = _fit_and_dev(folder, 7200)
    stats = fit_stats(f_feats, fit.y[rows], len(CLASSES), cfg.ood.knn_k)
    spec = fit_spectral(fit.x, fit.y, len(CLASSES)).score(dev.x)
    maha = _zscore(stats.score("mahalanobis", f_feats), stats.score("mahalanobis", d_feats))
    knn = _zscore(stats.score("knn", f_feats), stats.score("knn", d_feats))
    scores = {"spectral": spec, "spectral + 0.5 z(mahalanobis)": spec + 0.5 * maha,
              "spectral + z(mahalanobis)": spec + maha, "min(spectral, z(knn))": np.minimum(spec, knn)}
    names = np.asarray(dev.labels)[dev.y]
    ind = np.isin(names, CLASSES)
    snr = estimate_snr_db(dev.x)
    low = snr < BAND_EDGE_DB
    every = np.ones(len(names), bool)
    res: dict = {"data": f"fit generate({FIT_N}, seed={FIT_SEED}), measured generate(7200, seed="
                 f"{DEV_SEED}); edge {BAND_EDGE_DB} dB, floor {BAND_FLOOR}", "scores": {}}
    rng = np.random.default_rng(0)
    splits = []
    for _ in range(BAND_SPLITS):
        choice = np.zeros(len(names), bool)
        choice[rng.choice(len(names), 1800, replace=False)] = True
        splits.append(choice)
    for kind, s in scores.items():
        one, rule = [], []
        for choice in splits:
            t1 = np.full(len(s), np.quantile(s[ind & choice], 1.0 - ACCEPT))
            one.append(_band_figures(s, t1, names, ind, ~choice, low))
            fam = (names == "ofdm") & choice
            bt = fit_low_band(s[ind & choice], snr[ind & choice], s[fam], snr[fam],
                              edge_db=BAND_EDGE_DB, target=ACCEPT, min_low_accept=BAND_FLOOR)
            split = bt.thresholds.threshold(snr) if bt else t1
            rule.append(_band_figures(s, split, names, ind, ~choice, low))
        band = np.searchsorted(ORACLE_EDGES_DB, snr, side="right")
        thr = oracle_thresholds(s, band, ind, np.isin(names, OOD_CLASSES), len(ORACLE_EDGES_DB) + 1)
        res["scores"][kind] = {
            "one threshold": np.mean(one, axis=0).tolist(),
            "per-band rule": np.mean(rule, axis=0).tolist(),
            "oracle": _band_figures(s, thr[band], names, ind, every, low),
        }
    return res


def format_bands(res: dict) -> list[str]:
    lines = [res["data"], "columns: all (ID accepted, ofdm, fhss unknown) | below the edge (same)"
             " | at or above (same) | worst class accepted"]
    for kind, rows in res["scores"].items():
        lines.append(kind)
        for how, v in rows.items():
            parts = [" ".join(f"{x:.3f}" for x in v[i:i + 3]) for i in (0, 3, 6)]
            lines.append(f"  {how:<14} " + " | ".join(parts) + f" | {v[9]:.3f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``[FOLDER] [--card] [--bands]``: print the figures; with ``--card`` also write them into
    the card; with ``--bands`` print :func:`band_check`'s instead."""
    args = sys.argv[1:] if argv is None else argv
    paths = [a for a in args if a not in ("--card", "--bands")]
    folder = Path(paths[0]) if paths else ROOT / "models" / "rfclass-cnn"
    if "--bands" in args:
        print("\n".join(format_bands(band_check(folder))), flush=True)
        return 0
    res = dev_check(folder)
    print("\n".join(format_check(res)), flush=True)
    if "--card" in args:
        write_card_section(folder, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
