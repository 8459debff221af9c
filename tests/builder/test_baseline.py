"""The ``[baseline]`` table: refused before any work when it cannot be used, and otherwise
validated on the build's evaluation data, shipped in the bundle (hashed) and reported.

Figures are checked against values computed here with onnxruntime and numpy directly (the
documented preprocessing and the documented energy-detector rule), not with the stage's code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edgekit.cli import main
from edgekit.data.dataset import load_source
from edgekit.signals.preprocess import Pipeline

ROOT = Path(__file__).resolve().parents[2]
CNN = ROOT / "models" / "rfclass-cnn" / "model.onnx"
GBT_DIR = ROOT / "models" / "rfclass-gbt"
LABELS = ["noise", "tone", "am", "fm", "bpsk", "qpsk", "8psk", "16qam", "gfsk", "chirp"]
EVAL = "synthetic:rf?n=300&seed=202&classes=noise,tone,am,fm,bpsk,qpsk,8psk,16qam,gfsk,chirp,ofdm"


def write_config(tmp: Path, baseline: str, *, labels: list[str] = LABELS) -> Path:
    """A small CNN build (onnx-fp32 only, 300 evaluation captures) with ``baseline`` as its
    ``[baseline]`` table's body."""
    text = f"""
schema = 1
variants = ["onnx-fp32"]

[model]
path = "{CNN}"
name = "cnn-with-baseline"
labels = {json.dumps(labels)}
output = "logits"

[[preprocess]]
op = "rms_normalize"

[[preprocess]]
op = "powers_iq"
powers = "1,2,4"

[data]
evaluation = "{EVAL}"
ood_classes = ["ofdm"]

[profile]
runs = 20
max_reruns = 0  # CI: no re-timing after host interference (not judged here)
warmup = 2

[budgets]
max_latency_p99_ms = 150.0

[baseline]
{baseline}
"""
    tmp.mkdir(parents=True, exist_ok=True)
    p = tmp / "edgekit.toml"
    p.write_text(text)
    return p


@pytest.fixture(scope="module")
def gbt_build(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("baseline-build")
    cfg = write_config(tmp, f'config = "{GBT_DIR / "edgekit.toml"}"')
    assert main(["build", str(cfg), "--out", str(tmp / "out")]) == 0
    return tmp / "out"


def _eval_in_distribution() -> tuple[np.ndarray, np.ndarray]:
    ds = load_source(EVAL)
    names = np.asarray(ds.labels)[ds.y]
    keep = names != "ofdm"
    return ds.x[keep], np.array([LABELS.index(n) for n in names[keep]])


def test_the_bundle_carries_the_tree_baseline_with_its_measured_accuracy(gbt_build: Path) -> None:
    manifest = json.loads((gbt_build / "bundle" / "manifest.json").read_text())
    section = manifest["baseline"]
    assert section["kind"] == "model"
    assert section["file"] == "baseline/model.onnx"
    # copied and hashed like every other file
    copied = gbt_build / "bundle" / section["file"]
    assert copied.read_bytes() == (GBT_DIR / "model.onnx").read_bytes()
    import hashlib

    assert manifest["files"][section["file"]] == hashlib.sha256(copied.read_bytes()).hexdigest()
    # the GBT's own preprocessing and output, not the CNN's
    assert [s["op"] for s in section["preprocess"]] == ["rms_normalize", "features"]
    assert section["output"] == {"index": 1, "kind": "probabilities"}
    assert section["labels"] == LABELS
    # accuracy on the same evaluation data, computed here with onnxruntime directly
    x, y = _eval_in_distribution()
    feats = Pipeline.from_spec([{"op": "rms_normalize"}, {"op": "features"}])(x).astype(np.float32)
    sess = ort.InferenceSession(str(GBT_DIR / "model.onnx"), providers=["CPUExecutionProvider"])
    probs = sess.run(["probabilities"], {sess.get_inputs()[0].name: feats})[0]
    expected = float((probs.argmax(axis=1) == y).mean())
    assert section["accuracy"] == pytest.approx(expected, abs=1e-9)
    assert 0 < section["ood"]["threshold"] < 1
    assert section["latency"]["p50_ms"] > 0


def test_the_report_shows_the_baseline(gbt_build: Path) -> None:
    report = json.loads((gbt_build / "report.json").read_text())
    b = report["baseline"]
    manifest = json.loads((gbt_build / "bundle" / "manifest.json").read_text())
    assert b["accuracy"] == manifest["baseline"]["accuracy"]
    assert b["latency_p50_ms"] > 0 and b["latency_p99_ms"] >= b["latency_p50_ms"]
    acc = f"{100 * b['accuracy']:.2f}%"
    md = (gbt_build / "report.md").read_text()
    assert "### Fallback baseline" in md and "baseline: model.onnx" in md and acc in md
    html = (gbt_build / "report.html").read_text()
    assert "Fallback baseline" in html and acc in html


def _flatness(capture: np.ndarray) -> float:
    """The documented energy-detector measure: geometric over arithmetic mean of the mean
    periodogram of 4 segments of 256 samples."""
    z = capture[0].astype(np.float64) + 1j * capture[1].astype(np.float64)
    psd = (np.abs(np.fft.fft(z.reshape(4, 256), axis=1)) ** 2).mean(axis=0) + 1e-20
    return float(np.exp(np.log(psd).mean()) / psd.mean())


def test_a_rule_baseline_is_validated_as_a_noise_or_signal_decision(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, 'rule = "energy-detector"\nparams = { flatness_min = 0.8 }')
    assert main(["build", str(cfg), "--out", str(tmp_path / "out")]) == 0
    manifest = json.loads((tmp_path / "out" / "bundle" / "manifest.json").read_text())
    section = manifest["baseline"]
    assert (section["kind"], section["rule"], section["params"]) == (
        "rule",
        "energy-detector",
        {"flatness_min": 0.8},
    )
    assert not any(f.startswith("baseline/") for f in manifest["files"])
    x, y = _eval_in_distribution()
    said_noise = np.array([_flatness(c) >= 0.8 for c in x])
    expected = float((said_noise == (y == 0)).mean())
    assert section["accuracy"] == pytest.approx(expected, abs=1e-9)
    assert expected > 0.5  # the figure means something: noise is told from signals


@pytest.mark.parametrize(
    ("body", "labels", "named"),
    [
        ('model = "no-such-model.onnx"', LABELS, "no-such-model.onnx: no such model file"),
        ('config = "no-such/edgekit.toml"', LABELS, "no such config file"),
        ('rule = "zero-crossings"', LABELS, "baseline.rule: unknown rule 'zero-crossings'"),
        ('rule = "energy-detector"', LABELS, "baseline.params.flatness_min"),
        # the GBT names ten labels; a bundle of nine cannot take its 'chirp'
        (f'config = "{GBT_DIR / "edgekit.toml"}"', LABELS[:9], "label 'chirp' of the baseline"),
        (
            f'model = "{GBT_DIR / "model.onnx"}"\nlabels = ["noise", "ofdm"]',
            LABELS,
            "'ofdm' is not in model.labels",
        ),
    ],
)
def test_an_unusable_baseline_is_one_line_exit_2_before_any_work(
    tmp_path: Path, capsys, body: str, labels: list[str], named: str
) -> None:
    cfg = write_config(tmp_path, body, labels=labels)
    if labels != LABELS:
        # a 9-class primary (the CNN's 10 outputs would be refused first), on raw I/Q
        text = cfg.read_text().replace(f'path = "{CNN}"', f'path = "{_nine_class_model(tmp_path)}"')
        cfg.write_text(text.replace('[[preprocess]]\nop = "powers_iq"\npowers = "1,2,4"\n', ""))
    out = tmp_path / "out"
    code = main(["build", str(cfg), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and named in err[0], err
    assert not out.exists()  # nothing was made


def _nine_class_model(tmp: Path) -> Path:
    """A tiny ONNX classifier of (N, 2, 1024) into 9 logits."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.zeros((2048, 9), dtype=np.float32), "w")
    shape = numpy_helper.from_array(np.array([-1, 2048], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["x", "shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["y"]),
        ],
        "nine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 1024])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 9])],
        [w, shape],
    )
    path = tmp / "nine.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path
