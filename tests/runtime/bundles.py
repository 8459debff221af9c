"""Bundles for the daemon's tests, written directly (manifest by hand, files hashed with the
bundle module's own hash) from the shipped reference models, so no build runs in a test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.bundle import MANIFEST, MANIFEST_SCHEMA_VERSION, sha256_file
from edgekit.data.synth import CLASSES, generate

REPO = Path(__file__).resolve().parents[2]
CNN = REPO / "models" / "rfclass-cnn" / "model.onnx"
GBT = REPO / "models" / "rfclass-gbt" / "model.onnx"
CNN_PREPROCESS = [{"op": "rms_normalize", "eps": 1e-8}, {"op": "powers_iq", "powers": "1,2,4"}]
GBT_PREPROCESS = [{"op": "rms_normalize", "eps": 1e-8}, {"op": "features"}]
CAPTURE = {
    "sample_rate_hz": 1_000_000,
    "sample_format": "ci16",
    "samples_per_capture": 1024,
    "iq_full_scale": 16.0,
}


def reference_for_cnn(n: int = 1500, seed: int = 202) -> tuple[dict[str, Any], float, np.ndarray]:
    """(reference statistics, OOD threshold at 95 % in-distribution accept, in-dist scores)
    of the reference CNN on fresh synthetic captures, computed the way a build validates."""
    from edgekit.backends import open_backend
    from edgekit.builder.metrics import ood_scores
    from edgekit.runtime.drift import build_reference
    from edgekit.signals.preprocess import Pipeline

    ds = generate(n, seed=seed)
    xp = Pipeline.from_spec(CNN_PREPROCESS)(ds.x)
    with open_backend(CNN, threads=1) as b:
        scores = np.concatenate([b.run(xp[i : i + 256]) for i in range(0, len(xp), 256)])
    _, score = ood_scores(scores, "max_softmax", "logits")
    threshold = float(np.quantile(score, 0.05))
    ref = build_reference(xp, scores)
    ref["n"] = n
    accuracy = float((scores.argmax(axis=1) == ds.y).mean())
    return ref, threshold, np.asarray([accuracy])


def write_bundle(
    root: Path,
    *,
    variants: dict[str, Path] | None = None,
    selected: str = "onnx-fp32",
    threshold: float | None = 0.5,
    reference: dict[str, Any] | None = None,
    baseline: dict[str, Any] | None = None,
    baseline_file: Path | None = None,
    capture: dict[str, Any] | None = CAPTURE,
    budget_ms: float | None = 150.0,
    extra: dict[str, Any] | None = None,
    variant_meta: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """A bundle folder at ``root`` with the given variant files (default: the reference CNN)."""
    root.mkdir(parents=True)
    (root / "variants").mkdir()
    variants = variants or {"onnx-fp32": CNN}
    files: dict[str, str] = {}
    entries = []
    for name, src in variants.items():
        rel = f"variants/{name}{src.suffix}"
        shutil.copy2(src, root / rel)
        files[rel] = sha256_file(root / rel)
        entry = {
            "name": name,
            "file": rel,
            "extra_files": [],
            "runtime": "onnxruntime",
            "precision": "fp32",
            "passed": True,
            "backend_options": {},
            "accuracy": None,
            "ood_threshold": threshold,
            "latency": None,
            "energy": None,
        }
        entry.update((variant_meta or {}).get(name, {}))
        entries.append(entry)
    manifest: dict[str, Any] = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "name": "rfclass-cnn-test",
        "selected": selected,
        "variants": entries,
        "input": {"name": "x", "shape": ["batch", 6, 1024], "dtype": "float32"},
        "output": {"index": 0, "kind": "logits", "name": "logits", "shape": ["batch", 10]},
        "labels": list(CLASSES),
        "preprocess": CNN_PREPROCESS,
        "ood": {"score": "max_softmax", "threshold": threshold, "target_in_distribution_accept": 0.95},
        "reference_statistics": reference or {},
        "budgets": {"max_latency_p99_ms": budget_ms},
        "battery": {"duty_hz": 2.0},
    }
    if capture is not None:
        manifest["capture"] = capture
    if baseline is not None:
        if baseline_file is not None:
            (root / "baseline").mkdir()
            rel = f"baseline/{baseline_file.name}"
            shutil.copy2(baseline_file, root / rel)
            files[rel] = sha256_file(root / rel)
            baseline = {**baseline, "file": rel}
        manifest["baseline"] = baseline
    manifest.update(extra or {})
    manifest["files"] = files
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return root


GBT_BASELINE = {
    "kind": "model",
    "preprocess": GBT_PREPROCESS,
    "labels": list(CLASSES),
    "output": {"index": 1, "kind": "probabilities"},
    "accuracy": None,
    "source": "models/rfclass-gbt (tests: accuracy not measured here)",
}


def pack_tiny_bundle(
    tmp: Path, model: Path, ood: dict[str, Any], extra: dict[str, Path], length: int
) -> Path:
    """A verified bundle (``edgekit.bundle.write.pack_bundle``) around a tiny ONNX ``model`` of
    input ``x`` (batch, 2, ``length``) and logits (batch, 3) for labels a, b, c: one variant,
    ``onnx-fp32``, with the OOD rule ``ood`` and its ``extra`` files (bundle path -> source)."""
    from edgekit.bundle.write import pack_bundle

    sources = {"variants/onnx-fp32.onnx": model, **extra}
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "name": "tiny",
        "selected": "onnx-fp32",
        "variants": [
            {"name": "onnx-fp32", "file": "variants/onnx-fp32.onnx", "extra_files": list(extra),
             "runtime": "onnxruntime", "precision": "fp32", "passed": True,
             "backend_options": {}, "ood_threshold": ood["threshold"], "ood": ood},
        ],
        "input": {"name": "x", "shape": ["batch", 2, length], "dtype": "float32"},
        "output": {"index": 0, "kind": "logits", "name": "logits", "shape": ["batch", 3]},
        "labels": ["a", "b", "c"],
        "preprocess": [],
        "ood": {"score": "max_softmax", "threshold": 0.0},
    }  # fmt: skip
    folder, _ = pack_bundle(tmp, "tiny", manifest, sources)
    return folder
