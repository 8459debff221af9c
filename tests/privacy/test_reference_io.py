"""Reference models are read through their own input and score output: an input named otherwise,
scores at output 1 (behind a decoy or a label), in the build's audit and in ``edgekit audit``; a
reference model whose input or classes cannot match the model's is one line, exit 2. The models
are built here with onnx.helper and their scores computed with numpy from the same weights."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.builder.pipeline import run_build
from edgekit.builder.stages.audit import score_references
from edgekit.builder.stages.context import BuildOptions
from edgekit.cli import main
from edgekit.config import load_config
from edgekit.errors import ModelError

F = 8  # features per capture


def _linear(
    path: Path,
    seed: int,
    *,
    input_name: str = "x",
    outputs: Sequence[str] = ("logits",),
    features: int = F,
    classes: int = 2,
    inputs: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """A linear classifier ``x @ w + b`` whose graph outputs are ``outputs`` in that order, from
    "logits", "decoy" (-logits: float, the same shape, wrong if read) and "label" (int64 argmax);
    returns (w, b)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1, (features, classes)).astype(np.float32)
    b = rng.normal(0, 1, classes).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", [input_name, "w", "b"], ["logits"]),
        helper.make_node("Neg", ["logits"], ["decoy"]),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
    ]
    kinds = {
        "logits": (TensorProto.FLOAT, ["batch", classes]),
        "decoy": (TensorProto.FLOAT, ["batch", classes]),
        "label": (TensorProto.INT64, ["batch"]),
    }
    ins = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", features])]
    ins += [
        helper.make_tensor_value_info(f"extra{i}", TensorProto.FLOAT, ["batch", 1]) for i in range(1, inputs)
    ]
    graph = helper.make_graph(
        nodes,
        "linear",
        ins,
        [helper.make_tensor_value_info(o, *kinds[o]) for o in outputs],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return w, b


def _rows(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, F)).astype(np.float32)


def test_each_reference_is_read_through_its_own_input_and_scores(tmp_path: Path) -> None:
    m_x, n_x = _rows(1, 30), _rows(2, 50)
    odd = _linear(tmp_path / "odd.onnx", 1, input_name="capture_in")
    late = _linear(tmp_path / "late.onnx", 2, outputs=("decoy", "logits"))  # the model's name, output 1
    labelled = _linear(tmp_path / "labelled.onnx", 3, outputs=("label", "decoy"))  # first float: 1
    (tmp_path / "scratch").mkdir()
    m_ref, n_ref = score_references(
        ["odd.onnx", "late.onnx", "labelled.onnx"], tmp_path, tmp_path / "scratch", m_x, n_x,
        output_name="logits", n_classes=2, threads=1,
    )
    want = [m_x @ odd[0] + odd[1], m_x @ late[0] + late[1], -(m_x @ labelled[0] + labelled[1])]
    for got, expect in zip(m_ref, want, strict=True):
        np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(n_ref[0], n_x @ odd[0] + odd[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("kw", "why"),
    [
        ({"features": F + 1}, "input 'x' is ['batch', 9] but the model is fed rows of (N, 8); "
                              "a reference model takes the model's input"),
        ({"classes": 3}, "score output 'logits' has 3 classes, the model has 2; "
                         "a reference model scores the model's classes"),
        ({"inputs": 2}, "a reference model takes one input (the captures); it has 'x', 'extra1'"),
        ({"outputs": ("label",)}, "no floating-point output to read class scores from"),
    ],
)
def test_a_reference_that_cannot_match_the_model_is_one_line(tmp_path: Path, kw: dict, why: str) -> None:
    _linear(tmp_path / "ok.onnx", 1)
    _linear(tmp_path / "bad.onnx", 2, **kw)
    (tmp_path / "scratch").mkdir()
    with pytest.raises(ModelError) as e:
        score_references(["ok.onnx", "bad.onnx"], tmp_path, tmp_path / "scratch", _rows(1, 10), _rows(2, 10),
                         output_name="logits", n_classes=2, threads=1)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / 'bad.onnx'} (privacy.reference_models[1]): ") and why in msg
    assert "\n" not in msg


def _setup(tmp: Path, refs: dict[str, dict]) -> Path:
    """The model scores at output 1 (output 0: its label); ``refs``: file name -> _linear options."""
    _linear(tmp / "model.onnx", 0, outputs=("label", "logits"))
    for i, (name, kw) in enumerate(refs.items()):
        _linear(tmp / name, 10 + i, **kw)
    rng = np.random.default_rng(5)
    labels = np.array(["neg", "pos"])
    for name, n in (("members", 60), ("non_members", 200)):
        x = rng.standard_normal((n, F)).astype(np.float32)
        np.savez(tmp / f"{name}.npz", x=x, y=(x[:, 0] > 0).astype(np.int64), labels=labels)
    (tmp / "edgekit.toml").write_text(
        'schema = 1\nvariants = ["onnx-fp32"]\n'
        '[model]\npath = "model.onnx"\nname = "linear"\n'
        '[data]\ncalibration = "members.npz"\nevaluation = "non_members.npz"\n'
        "calibration_size = 32\n[profile]\nruns = 3\nwarmup = 1\n"
        '[privacy]\nmembers = "members.npz"\nnon_members = "non_members.npz"\nbootstrap = 20\n'
        f"reference_models = {json.dumps(list(refs))}\n"
    )
    return tmp / "edgekit.toml"


def test_build_and_audit_command_read_references_named_otherwise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the model's scores are output 1; one reference names its input otherwise, one has its
    # scores at output 0 and nothing at output 1
    odd = {"input_name": "capture_in", "outputs": ("label", "logits")}
    cfg = load_config(_setup(tmp_path, {"odd.onnx": odd, "plain.onnx": {}}))
    result = run_build(cfg, BuildOptions(out_dir=tmp_path / "out", log=lambda _m: None))
    (v,) = result.variants
    assert v.privacy is not None, v.reason
    assert {a.attack for a in v.privacy.attacks} == {"loss", "confidence", "reference_loss", "lira_offline"}
    assert "2 reference model(s): odd.onnx, plain.onnx" in v.privacy.provenance

    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    args = ["audit", "out/bundle", "--members", "members.npz", "--non-members", "non_members.npz",
            "--bootstrap", "10", "--reference", "odd.onnx", "--reference", "plain.onnx"]
    assert main(args) == 0, capsys.readouterr().err
    audit = json.loads(capsys.readouterr().out)["variants"]["onnx-fp32"]
    assert {a["attack"] for a in audit["attacks"]} == {"loss", "confidence", "reference_loss", "lira_offline"}
    _linear(tmp_path / "three.onnx", 3, classes=3)
    assert main([*args[:-1], "three.onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert "three.onnx (--reference[1]): score output 'logits' has 3 classes, the model has 2" in err
    assert "\n" not in err


def test_build_with_a_mismatching_reference_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _setup(tmp_path, {"wide.onnx": {"features": 2 * F}})
    assert main(["build", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{tmp_path / 'wide.onnx'} (privacy.reference_models[0]): input 'x' is ['batch', 16]" in err
    assert "\n" not in err
