"""The calibrated attacks with ONNX reference models of a CNN-shaped model: a fixed (1, 6, 1024)
input fed one capture at a time, the reference CNN's ordinary preprocessing (RMS normalisation,
I/Q of z, z^2, z^4), synthetic recipes as members and non-members. The models are built here with
onnx.helper (no torch): a channel mean followed by a linear layer, different weights each."""

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
from edgekit.data.synth import CLASSES

ROWS = 24  # per group: every capture is one session call


def _cnn(path: Path, seed: int, input_name: str = "x") -> None:
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.normal(0, 1, (6, len(CLASSES))).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.normal(0, 0.1, len(CLASSES)).astype(np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", [input_name], ["pooled"], axes=[2], keepdims=0),
            helper.make_node("Gemm", ["pooled", "w", "b"], ["logits"], name="fc"),
        ],
        "tiny_cnn",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 6, 1024])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, len(CLASSES)])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _setup(tmp: Path) -> Path:
    _cnn(tmp / "model.onnx", 0)
    # the reference models: the same architecture, other weights; one names its input otherwise
    _cnn(tmp / "ref-a.onnx", 1)
    _cnn(tmp / "ref-b.onnx", 2, input_name="input")
    (tmp / "edgekit.toml").write_text(
        'schema = 1\nvariants = ["onnx-fp32"]\n'
        '[model]\npath = "model.onnx"\nname = "tiny-cnn"\noutput = "logits"\n'
        f"labels = {json.dumps(list(CLASSES))}\n"
        '[[preprocess]]\nop = "rms_normalize"\n'
        '[[preprocess]]\nop = "powers_iq"\npowers = "1,2,4"\n'
        '[data]\ncalibration = "synthetic:rf?n=32&seed=101"\n'
        'evaluation = "synthetic:rf?n=32&seed=202"\ncalibration_size = 16\n'
        "[profile]\nruns = 3\nwarmup = 1\n"
        '[privacy]\nmembers = "synthetic:rf?n=20000&seed=1"\n'
        'non_members = "synthetic:rf?n=20000&seed=404"\n'
        f"max_rows = {ROWS}\nbootstrap = 20\n"
        'reference_models = ["ref-a.onnx", "ref-b.onnx"]\n'
    )
    return tmp / "edgekit.toml"


def test_cnn_reference_models_give_the_calibrated_attacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_config(_setup(tmp_path))
    result = run_build(cfg, BuildOptions(out_dir=tmp_path / "out", log=lambda _m: None))
    (v,) = result.variants
    assert v.privacy is not None, v.reason
    attacks = {a.attack: a for a in v.privacy.attacks}
    assert set(attacks) == {"loss", "confidence", "reference_loss", "lira_offline"}
    for a in attacks.values():
        assert (a.n_members, a.n_non_members) == (ROWS, ROWS)
        assert 0.0 <= a.auc_ci[0] <= a.auc <= a.auc_ci[1] <= 1.0
    assert "2 reference model(s): ref-a.onnx, ref-b.onnx" in v.privacy.provenance

    # the same through `edgekit audit` on the built bundle
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    args = ["audit", "out/bundle", "--members", "synthetic:rf?n=20000&seed=1",
            "--non-members", "synthetic:rf?n=20000&seed=404", "--max-rows", str(ROWS),
            "--bootstrap", "10", "--reference", "ref-a.onnx", "--reference", "ref-b.onnx"]
    assert main(args) == 0
    audit = json.loads(capsys.readouterr().out)["variants"]["onnx-fp32"]
    got = {a["attack"]: a for a in audit["attacks"]}
    assert set(got) == set(attacks)
    # the same rows, models and scores: the same point figures as the build's audit
    for name, a in attacks.items():
        assert got[name]["auc"] == pytest.approx(a.auc)
