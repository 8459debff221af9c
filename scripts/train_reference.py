#!/usr/bin/env python3
"""Train the two reference models and write their ONNX files and model cards.

    pip install -e '.[train]'          # on these machines: pip install torch==2.13.0 first
    python scripts/train_reference.py  [--only cnn|gbt] [--quick] [--no-outlier-exposure]
                                       [--refs N [--refs-only] [--refs-from K]]

The CNN is trained with outlier exposure (Hendrycks et al., 2019) by default: each batch of 128
labelled captures gets 64 outliers (``outlier_set``: two in-distribution signals summed at a
frequency offset, two spliced in time, band-limited noise; then AWGN), trained towards a uniform
softmax with weight OUTLIER_WEIGHT, so that what is none of the ten classes gets a flat,
low-confidence answer. The outliers are built from the ten in-distribution classes only: the
held-out OFDM and frequency-hopping (fhss) families, and anything made by their generators, are
never in training nor among the outliers. ``--no-outlier-exposure`` trains the plain model.
``scripts/ood_dev_check.py`` measures the OOD figures on development data (seed 707), never on
the build's evaluation data (seed 202), whose figures the README reports.

``--refs N`` also trains N reference models of each selected model for the privacy audit's
calibrated attacks (reference_loss and the offline likelihood-ratio attack): the same recipe on
data of disjoint seeds (REF_SEEDS, never the training or non-member seed), written to
models/<model>/privacy_refs/ (the GBT's gzip-compressed; the CNN's plain ONNX, float weights do
not compress). ``--refs-from K`` skips the first K seeds, to split the work over processes.

Deterministic for the seeds below: same machine, same library versions -> same model files.
Each model's preprocessing comes from its ``edgekit.toml`` (the same steps the build validates
with and the device runs). The accuracy figures in MODEL_CARD.md are measured by running the
exported ONNX file under onnxruntime on a held-out test set generated with a different seed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgekit.config import BuildConfig, load_config  # noqa: E402
from edgekit.data.dataset import Dataset  # noqa: E402
from edgekit.data.synth import CLASSES, N_SAMPLES, generate, generate_parts  # noqa: E402
from edgekit.signals.preprocess import Pipeline  # noqa: E402

TRAIN_SEED = 1
VAL_SEED = 2
TEST_SEED = 3
TORCH_SEED = 0
# Non-members for edgekit's membership-inference audit ([privacy] in each edgekit.toml): the
# training recipe with a seed no other data set of these models uses.
NON_MEMBER_SEED = 404
# Reference models for the calibrated attacks: trained like the model, each on its own seed,
# disjoint from every data set above (1, 2, 3, 101, 202, 404).
REF_SEEDS = (501, 502, 503, 504, 505, 506, 507, 508)
# Outlier exposure (Hendrycks et al., 2019), the CNN's default (--no-outlier-exposure turns it
# off): captures that are none of the ten classes, built from in-distribution signals only (never
# from the held-out ofdm or fhss families), which the CNN learns to answer with a flat softmax.
# Seed used by no other data set of these models (outlier_set also draws seeds 606 and 607).
OUTLIER_SEED = 605  # disjoint from REF_SEEDS
OUTLIER_WEIGHT = 0.5
OUTLIER_BAND_MAX = 0.7  # widest band of the band-limited-noise outliers, cycles/sample
SNR_BUCKETS = [(-10, -5), (-5, 0), (0, 5), (5, 10), (10, 15), (15, 20)]


def check_privacy_recipes(cfg: BuildConfig, n_train: int, where: Path) -> None:
    """The config's [privacy] must name this script's training set and a disjoint seed, so the
    reference build audits the data the model was really trained on."""
    want = (
        f"synthetic:rf?n={n_train}&seed={TRAIN_SEED}",
        f"synthetic:rf?n={n_train}&seed={NON_MEMBER_SEED}",
    )
    have = (cfg.privacy.members, cfg.privacy.non_members)
    if have != want:  # a warning: --quick runs train on fewer captures on purpose
        log(f"WARNING {where}: [privacy] members/non_members are {have}; this run trains on {want}")


def log(msg: str) -> None:
    print(msg, flush=True)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def outlier_set(n: int, seed: int, band_max: float = OUTLIER_BAND_MAX) -> np.ndarray:
    """``n`` float32 (2, L) captures that are not any one of the ten classes, a third each:
    two in-distribution signals summed at a frequency offset, two spliced in time, and white
    noise band-limited to a random band; then AWGN at 0-20 dB SNR (below 0 dB they would be
    indistinguishable from the noise class, which is in distribution)."""
    rng = np.random.default_rng(seed)
    signals = [c for c in CLASSES if c != "noise"]
    a = generate_parts(n, seed=seed + 1, classes=signals).signal
    b = generate_parts(n, seed=seed + 2, classes=signals).signal
    t = np.arange(N_SAMPLES)[None, :]
    kind = rng.integers(0, 3, size=n)
    out = np.empty((n, N_SAMPLES), dtype=np.complex128)
    mix = kind == 0
    shift = np.exp(2j * np.pi * rng.uniform(-0.25, 0.25, size=(int(mix.sum()), 1)) * t)
    out[mix] = a[mix] + rng.uniform(0.3, 1.0, size=(int(mix.sum()), 1)) * b[mix] * shift
    splice = kind == 1
    cut = rng.integers(N_SAMPLES // 4, 3 * N_SAMPLES // 4, size=(int(splice.sum()), 1))
    out[splice] = np.where(t < cut, a[splice], b[splice])
    band = kind == 2
    k = int(band.sum())
    spec = np.fft.fft(rng.standard_normal((k, N_SAMPLES)) + 1j * rng.standard_normal((k, N_SAMPLES)))
    f = np.fft.fftfreq(N_SAMPLES)[None, :]
    centre, width = rng.uniform(-0.3, 0.3, size=(k, 1)), rng.uniform(0.05, band_max, size=(k, 1))
    out[band] = np.fft.ifft(spec * (np.abs((f - centre + 0.5) % 1.0 - 0.5) < width / 2), axis=1)
    out /= np.sqrt(np.mean(np.abs(out) ** 2, axis=1, keepdims=True))
    noise_power = 10.0 ** (-rng.uniform(0.0, 20.0, size=(n, 1)) / 10.0)
    out += np.sqrt(noise_power / 2) * (rng.standard_normal(out.shape) + 1j * rng.standard_normal(out.shape))
    return np.stack([out.real, out.imag], axis=1).astype(np.float32)


def evaluate_onnx(model_path: Path, pipe: Pipeline, test: Dataset, output_index: int) -> dict:
    """Accuracy of the exported file under onnxruntime, overall, per SNR bucket and per class."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    feats = pipe(test.x).astype(np.float32)
    preds = []
    for i in range(0, len(feats), 512):
        out = sess.run(None, {name: feats[i : i + 512]})[output_index]
        preds.append(np.asarray(out).argmax(axis=1))
    pred = np.concatenate(preds)
    y = test.y
    snr = test.meta["snr_db"]
    res: dict = {"n": len(y), "accuracy": float((pred == y).mean())}
    hi = snr >= 10
    res["accuracy_snr_ge_10"] = float((pred[hi] == y[hi]).mean())
    res["snr"] = []
    for lo, up in SNR_BUCKETS:
        m = (snr >= lo) & (snr < up) if up < 20 else (snr >= lo) & (snr <= up)
        res["snr"].append(
            (
                f"[{lo}, {up}{']' if up == 20 else ')'} dB",
                int(m.sum()),
                float((pred[m] == y[m]).mean()),
            )
        )
    res["class"] = []
    for k, c in enumerate(CLASSES):
        m = y == k
        res["class"].append(
            (
                c,
                int(m.sum()),
                float((pred[m] == k).mean()),
                float((pred[m & hi] == k).mean()) if (m & hi).any() else float("nan"),
            )
        )
    return res


def write_card(folder: Path, title: str, how: list[str], res: dict, extra: dict[str, str]) -> None:
    lines = [
        f"# Model card: {title}",
        "",
        "Written by `scripts/train_reference.py`; every figure below is measured by that script",
        "on the exported `model.onnx` under onnxruntime, on a held-out synthetic test set",
        f"(`generate(n={res['n']}, seed={TEST_SEED})`, SNR uniform in [-10, 20] dB, all impairments).",
        "",
        "## Intended use",
        "Classify one radio capture (1024 complex IQ samples, nominal 1 MS/s) into one of ten",
        "signal types on a Raspberry Pi-class board. A reference model for edgekit's build, run",
        "and bench programs, trained on synthetic data only: not validated on real captures.",
        'The OFDM and frequency-hopping (fhss) families are kept out of training to test',
        '"unknown" detection.',
        "",
        "## Training",
        *[f"- {h}" for h in how],
        *[f"- {k}: {v}" for k, v in extra.items()],
        "",
        "## Accuracy (held-out test set)",
        f"- Overall: **{res['accuracy']:.3f}** ({res['n']} captures)",
        f"- SNR >= 10 dB: **{res['accuracy_snr_ge_10']:.3f}**",
        "",
        "| SNR bucket | captures | accuracy |",
        "|---|---:|---:|",
        *[f"| {b} | {n} | {a:.3f} |" for b, n, a in res["snr"]],
        "",
        "| class | captures | recall | recall at SNR >= 10 dB |",
        "|---|---:|---:|---:|",
        *[f"| {c} | {n} | {a:.3f} | {h:.3f} |" for c, n, a, h in res["class"]],
        "",
        "## Limits",
        "- Synthetic data: AWGN, carrier offset, random phase, short multipath. Real front ends add",
        "  IQ imbalance, DC offset and interference that are not modelled.",
        "- Low-SNR captures (< 0 dB) are often confused; the build's slice report shows where.",
        "",
    ]
    (folder / "MODEL_CARD.md").write_text("\n".join(lines))


def _versions(names: list[str]) -> str:
    from importlib.metadata import version

    return ", ".join(f"{n} {version(n)}" for n in names)


def _fit_cnn(
    xtr: np.ndarray, ytr: np.ndarray, val: tuple[np.ndarray, np.ndarray], xoe: np.ndarray | None,
    epochs: int, torch_seed: int, oe_weight: float, tag: str,
) -> Any:
    """The CNN recipe on preprocessed captures: returns the trained torch model (eval mode).
    With ``xoe`` (preprocessed outliers) each batch of 128 captures gets 64 outliers, trained
    towards a uniform softmax with weight ``oe_weight``."""
    import torch
    from torch import nn

    torch.manual_seed(torch_seed)
    torch.use_deterministic_algorithms(True)
    # One thread: on the shared 2-core host a training step cost 0.36 s of CPU with one thread
    # and 1.07 s with two (the second mostly spin-waits when the core is taken by another job).
    torch.set_num_threads(1)

    def block(cin: int, cout: int, k: int, pool: int) -> list[nn.Module]:
        return [
            nn.Conv1d(cin, cout, k, padding=k // 2),
            nn.BatchNorm1d(cout),
            nn.ReLU(),
            nn.MaxPool1d(pool),
        ]

    x = torch.from_numpy(xtr)
    y = torch.from_numpy(ytr.astype(np.int64))
    oe_x = None if xoe is None else torch.from_numpy(xoe)
    n_oe_batch = 64
    # The first convolution runs at full rate: a strided one skips the samples that tell
    # QPSK from 8PSK at 2 samples per symbol.
    model = nn.Sequential(
        *block(int(x.shape[1]), 24, 7, 2),
        *block(24, 32, 5, 2),
        *block(32, 48, 5, 2),
        *block(48, 64, 3, 2),
        *block(64, 64, 3, 2),
        nn.Conv1d(64, 96, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(96, len(CLASSES)),
    )
    xva, yva = torch.from_numpy(val[0]), val[1]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * ((len(x) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    lossf = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(torch_seed)
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        total = 0.0
        for i in range(0, len(x), 128):
            idx = perm[i : i + 128]
            opt.zero_grad()
            if oe_x is None:
                loss = lossf(model(x[idx]), y[idx])
            else:
                oe = torch.randint(0, len(oe_x), (n_oe_batch,), generator=g)
                logits = model(torch.cat([x[idx], oe_x[oe]]))
                # cross-entropy to the uniform distribution on the outliers: a flat softmax there
                flat = -(logits[len(idx) :].log_softmax(dim=1)).mean()
                loss = lossf(logits[: len(idx)], y[idx]) + oe_weight * flat
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            acc = float((model(xva).argmax(1).numpy() == yva).mean())
        log(f"{tag}: epoch {ep + 1}/{epochs} loss {total / len(x):.3f} val acc {acc:.3f}")
    model.eval()
    return model


def _export_cnn(model: Any, channels: int, path: Path) -> None:
    import torch

    torch.onnx.export(
        model,
        (torch.zeros(1, channels, N_SAMPLES),),
        str(path),
        input_names=["x"],
        output_names=["logits"],
        dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def _outliers(pipe: Pipeline, n: int, band_max: float) -> np.ndarray:
    return pipe(outlier_set(n, OUTLIER_SEED, band_max)).astype(np.float32)


def train_cnn(n_train: int, epochs: int, out: Path, outlier_exposure: bool = True,
              oe_weight: float = OUTLIER_WEIGHT, band_max: float = OUTLIER_BAND_MAX) -> None:
    cfg = load_config(out / "edgekit.toml")
    check_privacy_recipes(cfg, n_train, out / "edgekit.toml")
    pipe = Pipeline.from_spec(cfg.preprocess)
    t0 = time.perf_counter()
    train = generate(n_train, seed=TRAIN_SEED)
    val = generate(max(2000, n_train // 10), seed=VAL_SEED)
    test = generate(max(5000, n_train // 5), seed=TEST_SEED)
    log(f"cnn: data generated in {time.perf_counter() - t0:.1f} s")
    xtr = pipe(train.x).astype(np.float32)
    xoe = _outliers(pipe, n_train // 2, band_max) if outlier_exposure else None
    model = _fit_cnn(xtr, train.y, (pipe(val.x).astype(np.float32), val.y), xoe, epochs,
                     TORCH_SEED, oe_weight, "cnn")
    train_s = time.perf_counter() - t0
    onnx_path = out / "model.onnx"
    _export_cnn(model, int(xtr.shape[1]), onnx_path)
    res = evaluate_onnx(onnx_path, pipe, test, 0)
    params = sum(p.numel() for p in model.parameters())
    log(f"cnn: exported {onnx_path} ({onnx_path.stat().st_size} B, {params} params)")
    _report("cnn", res)
    oe_how = (
        f"Outlier exposure (Hendrycks et al., 2019): every batch of 128 captures gets 64 outliers "
        f"from `outlier_set(n={n_train // 2}, seed={OUTLIER_SEED}, band_max={band_max})` of this "
        "script (a third each: two in-distribution signals summed at a frequency offset, two "
        "spliced in time, white noise band-limited to a random band of width 0.05-"
        f"{band_max} cycles/sample; then AWGN at 0-20 dB), trained towards a uniform softmax "
        f"(cross-entropy to uniform, weight {oe_weight}). Built from in-distribution classes only: "
        "no OFDM or frequency-hopping capture, nor anything from their generators, is in training "
        "or in the outliers"
        if outlier_exposure
        else "No outlier exposure (--no-outlier-exposure)"
    )
    write_card(
        out,
        "rfclass-cnn (1D CNN on IQ)",
        [
            f"Data: `edgekit.data.synth.generate(n={n_train}, seed={TRAIN_SEED})` for training, "
            f"seed {VAL_SEED} for validation; preprocessing from `edgekit.toml`: "
            f"{pipe.to_spec()}",
            oe_how,
            "Architecture: 5 x (Conv1d, BatchNorm, ReLU, MaxPool/2) with 24-64 channels, a 96-channel "
            "Conv1d, global average pooling and a linear layer; "
            f"{params:,} parameters",
            f"Optimiser: AdamW (lr 3e-3 one-cycle, weight decay 1e-4), batch 128, {epochs} epochs, "
            f"torch seed {TORCH_SEED}, deterministic algorithms, 1 thread",
            "Export: `torch.onnx.export(..., opset_version=17, dynamo=False)`, dynamic batch axis; "
            "input `x` (batch, C, 1024) float32 (the preprocessed capture), output `logits` (batch, 10)",
        ],
        res,
        {
            "Training time": f"{train_s:.0f} s on {platform.machine()} ({os.cpu_count()} cores, "
            "shared with other jobs)",
            "Versions": _versions(["torch", "numpy", "onnx", "onnxruntime"]),
        },
    )
    # OOD and calibration on development data (seed 707, never the build's evaluation seed 202)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ood_dev_check import dev_check, format_check, write_card_section

    dev = dev_check(out)
    for line in format_check(dev):
        log(f"cnn: {line}")
    write_card_section(out, dev)


def train_cnn_refs(n_train: int, epochs: int, out: Path, count: int, first: int = 0,
                   outlier_exposure: bool = True, oe_weight: float = OUTLIER_WEIGHT,
                   band_max: float = OUTLIER_BAND_MAX) -> None:
    """``count`` reference CNNs for the privacy audit: the CNN recipe (same outliers) on REF_SEEDS'
    data and torch seed (never a member), under privacy_refs/ as plain ONNX (float weights do not
    compress)."""
    if not 1 <= count <= len(REF_SEEDS):
        raise SystemExit(f"--refs: must be in [1, {len(REF_SEEDS)}], got {count}")
    import onnx

    cfg = load_config(out / "edgekit.toml")
    pipe = Pipeline.from_spec(cfg.preprocess)
    folder = out / "privacy_refs"
    folder.mkdir(exist_ok=True)
    xoe = _outliers(pipe, n_train // 2, band_max) if outlier_exposure else None
    val = generate(max(2000, n_train // 10), seed=VAL_SEED)
    xva = pipe(val.x).astype(np.float32)
    for seed in REF_SEEDS[first:count]:
        t0 = time.perf_counter()
        data = generate(n_train, seed=seed)
        xtr = pipe(data.x).astype(np.float32)
        model = _fit_cnn(xtr, data.y, (xva, val.y), xoe, epochs, seed, oe_weight, f"cnn-ref {seed}")
        path = folder / f"ref-seed{seed}.onnx"
        _export_cnn(model, int(xtr.shape[1]), path)
        onx = onnx.load(str(path))
        onx.doc_string = ""  # nothing from this machine in the shipped reference files
        onx.producer_name, onx.producer_version = "", ""
        del onx.metadata_props[:]
        onnx.save(onx, str(path))
        log(f"cnn-ref: seed {seed}: {path} ({path.stat().st_size} B) in {time.perf_counter() - t0:.0f} s")
    want = sorted(f"privacy_refs/ref-seed{seed}.onnx" for seed in REF_SEEDS[:count])
    if sorted(cfg.privacy.reference_models) != want:
        log(f"WARNING {out / 'edgekit.toml'}: set [privacy] reference_models = {want}")


def _fit_gbt(ftr: np.ndarray, y: np.ndarray, rounds: int, seed: int) -> Any:
    """The GBT recipe: LightGBM fitted on ``ftr`` and converted to ONNX (batch axis named)."""
    import lightgbm as lgb
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    clf = lgb.LGBMClassifier(
        n_estimators=rounds,
        num_leaves=15,
        learning_rate=0.1,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        deterministic=True,
        force_row_wise=True,
        n_jobs=2,
        verbose=-1,
    )
    clf.fit(ftr, y)
    onx = convert_lightgbm(
        clf,
        initial_types=[("features", FloatTensorType([None, ftr.shape[1]]))],
        target_opset=15,
        zipmap=False,
    )
    # Outputs: label (int64) and probabilities (float); edgekit reads "probabilities". The
    # converter declares both with a fixed or anonymous first dimension: name it "batch" so
    # runtimes and `edgekit inspect` see the dynamic batch axis.
    for tensor in onx.graph.output:
        tensor.type.tensor_type.shape.dim[0].Clear()
        tensor.type.tensor_type.shape.dim[0].dim_param = "batch"
    onx.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    return onx


def train_gbt_refs(n_train: int, rounds: int, out: Path, count: int, first: int = 0) -> None:
    """``count`` reference models for the privacy audit: the GBT recipe on REF_SEEDS' data (never
    a member), gzip-compressed (deterministic: no name or time in the header) under privacy_refs/."""
    import gzip

    if not 1 <= count <= len(REF_SEEDS):
        raise SystemExit(f"--refs: must be in [1, {len(REF_SEEDS)}], got {count}")
    cfg = load_config(out / "edgekit.toml")
    pipe = Pipeline.from_spec(cfg.preprocess)
    folder = out / "privacy_refs"
    folder.mkdir(exist_ok=True)
    for seed in REF_SEEDS[first:count]:
        t0 = time.perf_counter()
        data = generate(n_train, seed=seed)
        onx = _fit_gbt(pipe(data.x).astype(np.float32), data.y, rounds, seed)
        onx.doc_string = ""  # nothing from this machine in the shipped reference files
        del onx.metadata_props[:]
        path = folder / f"ref-seed{seed}.onnx.gz"
        with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as gz:
            gz.write(onx.SerializeToString())
        log(f"gbt-ref: seed {seed}: {path} ({path.stat().st_size} B) in {time.perf_counter() - t0:.0f} s")
    want = sorted(f"privacy_refs/ref-seed{seed}.onnx.gz" for seed in REF_SEEDS[:count])
    if sorted(cfg.privacy.reference_models) != want:
        log(f"WARNING {out / 'edgekit.toml'}: set [privacy] reference_models = {want}")


def train_gbt(n_train: int, rounds: int, out: Path) -> None:
    cfg = load_config(out / "edgekit.toml")
    check_privacy_recipes(cfg, n_train, out / "edgekit.toml")
    pipe = Pipeline.from_spec(cfg.preprocess)
    t0 = time.perf_counter()
    train = generate(n_train, seed=TRAIN_SEED)
    test = generate(max(5000, n_train // 5), seed=TEST_SEED)
    ftr = pipe(train.x).astype(np.float32)
    log(f"gbt: {ftr.shape[1]} features for {len(ftr)} captures in {time.perf_counter() - t0:.1f} s")
    onx = _fit_gbt(ftr, train.y, rounds, TRAIN_SEED)
    train_s = time.perf_counter() - t0
    onnx_path = out / "model.onnx"
    onnx_path.write_bytes(onx.SerializeToString())
    res = evaluate_onnx(onnx_path, pipe, test, 1)
    log(f"gbt: exported {onnx_path} ({onnx_path.stat().st_size} B)")
    _report("gbt", res)
    write_card(
        out,
        "rfclass-gbt (LightGBM on engineered features)",
        [
            f"Data: `edgekit.data.synth.generate(n={n_train}, seed={TRAIN_SEED})`; preprocessing "
            f"from `edgekit.toml`: {pipe.to_spec()} ({ftr.shape[1]} features: spectral statistics, "
            "higher-order cumulants, envelope and instantaneous-frequency statistics)",
            f"Model: LightGBM multiclass, {rounds} rounds, 15 leaves, learning rate 0.1, row and "
            f"column subsampling 0.8, seed {TRAIN_SEED}, deterministic",
            "Export: onnxmltools `convert_lightgbm(target_opset=15, zipmap=False)`; input "
            "`features` (batch, F) float32, outputs `label` and `probabilities`",
        ],
        res,
        {
            "Training time": f"{train_s:.0f} s on {platform.machine()} ({os.cpu_count()} cores)",
            "Versions": _versions(["lightgbm", "onnxmltools", "numpy", "onnxruntime"]),
        },
    )


def _report(name: str, res: dict) -> None:
    log(
        f"{name}: test accuracy {res['accuracy']:.3f}, at SNR >= 10 dB {res['accuracy_snr_ge_10']:.3f}"
    )
    for b, n, a in res["snr"]:
        log(f"{name}:   SNR {b:>13}  n={n:<5} acc {a:.3f}")
    for c, n, a, h in res["class"]:
        log(f"{name}:   {c:<6} n={n:<5} recall {a:.3f}  (SNR>=10: {h:.3f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", choices=["cnn", "gbt"], help="train one model only")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="small run to check the script (not for the committed models)",
    )
    ap.add_argument(
        "--out", type=Path, default=ROOT / "models", help="models folder (default: %(default)s)"
    )
    ap.add_argument("--refs", type=int, default=0,
                    help="also train N reference models of each selected model for the privacy "
                    "audit (privacy_refs/)")
    ap.add_argument("--refs-only", action="store_true", help="train the reference models only")
    ap.add_argument("--refs-from", type=int, default=0,
                    help="skip the first K reference seeds (to split --refs over processes)")
    ap.add_argument(
        "--no-outlier-exposure",
        dest="outlier_exposure",
        action="store_false",
        help="train the CNN without outlier exposure (the committed model uses it)",
    )
    ap.add_argument(
        "--cnn-epochs", type=int, default=None, help="CNN epochs (default: 12; 1 with --quick)"
    )
    ap.add_argument("--oe-weight", type=float, default=OUTLIER_WEIGHT,
                    help="weight of the outliers' uniform-softmax loss (default: %(default)s)")
    ap.add_argument("--oe-band-max", type=float, default=OUTLIER_BAND_MAX,
                    help="widest band of the band-limited-noise outliers (default: %(default)s)")
    args = ap.parse_args(argv)
    n_gbt, r_gbt = (2000, 20) if args.quick else (20000, 200)
    n_cnn = 2000 if args.quick else 24000
    cnn_epochs = args.cnn_epochs or (1 if args.quick else 12)
    oe = {"outlier_exposure": args.outlier_exposure, "oe_weight": args.oe_weight,
          "band_max": args.oe_band_max}
    runs: dict[str, Callable[[], None]] = {
        "cnn": lambda: train_cnn(n_cnn, cnn_epochs, args.out / "rfclass-cnn", **oe),  # type: ignore[arg-type]
        "gbt": lambda: train_gbt(n_gbt, r_gbt, args.out / "rfclass-gbt"),
    }
    for name, run in runs.items():
        if args.only in (None, name) and not args.refs_only:
            run()
    if args.refs and args.only in (None, "cnn"):
        train_cnn_refs(n_cnn, cnn_epochs, args.out / "rfclass-cnn", args.refs, args.refs_from,
                       **oe)  # type: ignore[arg-type]
    if args.refs and args.only in (None, "gbt"):
        train_gbt_refs(n_gbt, r_gbt, args.out / "rfclass-gbt", args.refs, args.refs_from)
    return 0


if __name__ == "__main__":
    sys.exit(main())
