"""A model trained here to memorise a few samples is caught by the audit and rejected by the
budget; a model trained on plenty of data passes the same budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.builder.pipeline import run_build
from edgekit.builder.stages.context import BuildOptions
from edgekit.cli import main
from edgekit.config import load_config

FEATURES = 200


def _data(rng: np.random.Generator, n: int, w_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Noisy linear labels: the Bayes accuracy is well below 1, so 100 % on training data is
    memorisation."""
    x = rng.standard_normal((n, FEATURES)).astype(np.float32)
    y = (x @ w_true + rng.normal(0, 3.0, n) > 0).astype(np.int64)
    return x, y


def _train_logreg(x: np.ndarray, y: np.ndarray, l2: float, steps: int) -> np.ndarray:
    """Binary logistic regression by full-batch gradient descent (numpy); weights (F+1, 2)."""
    xb = np.c_[x, np.ones(len(x))].astype(np.float64)
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        w -= 0.5 * (xb.T @ (p - y) / len(y) + l2 * w)
    return np.stack([np.zeros_like(w), w], axis=1)  # logits [0, w.x]


def _export(wb: np.ndarray, path: Path) -> None:
    w = numpy_helper.from_array(wb[:-1].astype(np.float32), "w")
    b = numpy_helper.from_array(wb[-1].astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["logits"], name="fc")],
        "logreg",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", FEATURES])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _build(tmp: Path, n_train: int, l2: float, steps: int) -> dict:
    rng = np.random.default_rng(11)
    w_true = rng.standard_normal(FEATURES) / np.sqrt(FEATURES) * 4
    xm, ym = _data(rng, n_train, w_true)
    xn, yn = _data(rng, 1000, w_true)
    _export(_train_logreg(xm, ym, l2, steps), tmp / "model.onnx")
    labels = np.array(["neg", "pos"])
    np.savez(tmp / "members.npz", x=xm, y=ym, labels=labels)
    np.savez(tmp / "non_members.npz", x=xn, y=yn, labels=labels)
    (tmp / "edgekit.toml").write_text(
        'schema = 1\nvariants = ["onnx-fp32", "onnx-int8-dynamic"]\n'
        '[model]\npath = "model.onnx"\nname = "logreg"\n'
        '[data]\ncalibration = "members.npz"\nevaluation = "non_members.npz"\n'
        "calibration_size = 32\n[profile]\nruns = 5\nwarmup = 1\n"
        "[quant]\naccuracy_aware = false\n"
        '[privacy]\nmembers = "members.npz"\nnon_members = "non_members.npz"\nbootstrap = 100\n'
        "[budgets]\nmax_membership_advantage = 0.3\n"
    )
    cfg = load_config(tmp / "edgekit.toml")
    result = run_build(cfg, BuildOptions(out_dir=tmp / "out", log=lambda _m: None))
    report = json.loads((tmp / "out" / "report.json").read_text())
    return {"result": result, "report": report, "train": (xm, ym)}


def test_memorising_model_is_rejected(tmp_path: Path) -> None:
    got = _build(tmp_path, n_train=60, l2=0.0, steps=3000)
    xm, ym = got["train"]
    # it really memorised: its training accuracy (computed here, not by edgekit) is 100 %
    w = onnx.numpy_helper.to_array(onnx.load(str(tmp_path / "model.onnx")).graph.initializer[0])
    assert ((xm @ w).argmax(axis=1) == ym).mean() == 1.0
    result = got["result"]
    assert result.verdict == "rejected"
    for vr in result.variants:
        (check,) = [c for c in vr.checks if c.budget == "max_membership_advantage"]
        assert check.status == "fail"
        assert check.value is not None and check.value > 0.3
        assert vr.privacy is not None and vr.privacy.attacks[0].n_members == 60
    rep_v = got["report"]["variants"][0]
    assert rep_v["privacy"]["attacks"][0]["n_non_members"] == 1000
    md = (tmp_path / "out" / "report.md").read_text().replace("\\", "")  # markdown escapes
    assert "Privacy: membership inference" in md
    assert "not a proof of privacy" in md
    adv = result.variants[0].privacy.attacks[0]
    assert f"{adv.advantage:.3f} [{adv.advantage_ci[0]:.3f}, {adv.advantage_ci[1]:.3f}]" in md
    assert "Privacy: membership inference" in (tmp_path / "out" / "report.html").read_text()


def test_audit_command_on_the_built_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    got = _build(tmp_path, n_train=60, l2=0.0, steps=3000)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    args = ["audit", "out/logreg.bundle.tar.gz", "--members", "members.npz",
            "--non-members", "non_members.npz", "--bootstrap", "20"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    built = {v.name: v.privacy for v in got["result"].variants}
    assert set(out["variants"]) == set(built)
    for name, audit in out["variants"].items():
        # the same model and data give the same point figures as the build's audit stage
        assert audit["attacks"][0]["auc"] == pytest.approx(built[name].attacks[0].auc)
    assert main([*args, "--max-advantage", "0.3"]) == 1
    assert main([*args[:3], "missing.npz", *args[4:]]) == 2


def test_model_trained_on_plenty_of_data_passes(tmp_path: Path) -> None:
    got = _build(tmp_path, n_train=4000, l2=1e-3, steps=300)
    result = got["result"]
    for vr in result.variants:
        (check,) = [c for c in vr.checks if c.budget == "max_membership_advantage"]
        assert check.status == "pass", check
    assert result.verdict == "pass"
