"""The prepared model, TF-safe names, the int8 pre-processing chain and ``inspect``'s truths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.builder.prepare import check_score_shape, concrete_input_shape, prepare_model
from edgekit.builder.tf_names import decisive_line, tf_safe_names
from edgekit.cli import main
from edgekit.config import parse_config
from edgekit.errors import DataError, ModelError
from edgekit.model_info import inspect_model
from tests.builder.zoo import mobilenet_v3_like, resnet_like, stateful_audio


@pytest.mark.parametrize(
    ("shape", "classes"),
    [(["N", 1000, 1, 1], 1000), (["N", 10], 10), ([1, 3], 3), (["N", "C"], None), ([], None)],
)
def test_score_shapes_accepted(shape: list[int | str], classes: int | None) -> None:
    assert check_score_shape(shape, "out", "m.onnx") == classes


@pytest.mark.parametrize("shape", [["N", 1, "H", "W"], ["N", 4, 8, 1], ["N"], ["N", 2, 3]])
def test_score_shapes_refused(shape: list[int | str]) -> None:
    with pytest.raises(ModelError, match="output 'out' has shape"):
        check_score_shape(shape, "out", "m.onnx")


def test_concrete_shape_from_data_and_override() -> None:
    declared: list[int | str] = ["N", 3, "H", "W"]
    assert concrete_input_shape(declared, [3, 48, 192], [], "w") == [3, 48, 192]
    assert concrete_input_shape(declared, [3, 48, 192], [3, 64, 64], "w") == [3, 64, 64]
    with pytest.raises(DataError, match=r"data has shape \(N, 1, 48, 192\) but the model input expects"):
        concrete_input_shape(declared, [1, 48, 192], [], "w")
    with pytest.raises(DataError, match=r"model.input_shape \[3, 48\] but the model input expects"):
        concrete_input_shape(declared, [3, 48, 48], [3, 48], "w")


def _cfg(tmp: Path, **model: object) -> object:
    return parse_config({"model": {"path": str(tmp / "m.onnx"), **model}}, base_dir=tmp)


def test_prepared_model_has_the_data_shape_and_runs(tmp_path: Path) -> None:
    import onnxruntime as ort

    m = mobilenet_v3_like()
    cfg = _cfg(tmp_path)
    prep = prepare_model(cfg, m, "input", [3, 40, 24], tmp_path / "p.onnx")  # type: ignore[arg-type]
    assert prep.input_shape == [1, 3, 40, 24] and prep.fixed_batch is None
    dims = onnx.load(str(prep.path)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, 40, 24] and not dims[0].HasField("dim_value")
    sess = ort.InferenceSession(str(prep.path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"input": np.zeros((5, 3, 40, 24), np.float32)})[0]
    assert out.shape == (5, 5)


def test_other_input_folded_as_constant(tmp_path: Path) -> None:
    import onnxruntime as ort

    m = stateful_audio()
    cfg = _cfg(tmp_path, inputs={"state": 0.5})
    prep = prepare_model(cfg, m, "frames", [1, 64], tmp_path / "p.onnx")  # type: ignore[arg-type]
    assert [i.name for i in prep.model.graph.input] == ["frames"]
    x = np.random.default_rng(0).standard_normal((2, 1, 64)).astype(np.float32)
    folded = ort.InferenceSession(str(prep.path), providers=["CPUExecutionProvider"])
    orig = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    want = orig.run(None, {"frames": x, "state": np.full((1, 64), 0.5, np.float32)})[0]
    np.testing.assert_allclose(folded.run(None, {"frames": x})[0], want, rtol=1e-6)


def test_tf_safe_names_rename_and_map_back() -> None:
    m = mobilenet_v3_like()
    back = tf_safe_names(m)
    assert back["Softmax_0"] == "Softmax@0"
    assert back["onnx__Conv_123"] == "onnx::Conv_123"
    names = {n.name for n in m.graph.node} | {v for n in m.graph.node for v in n.input}
    assert not any(c in n for n in names for c in "@:")
    onnx.checker.check_model(m)
    log = (
        "INFO: something\nTraceback (most recent call last):\n  File \"a.py\"\n"
        "ValueError: Exception encountered when calling layer \"tf.nn.softmax\".\n"
        "'Softmax_0' is not a valid scope name. A scope name has to match ...\n"
        "Call arguments received by layer\n"
    )
    assert decisive_line(log, back).startswith("'Softmax@0' is not a valid scope name")
    assert decisive_line("x\nRuntimeError: boom\n", {}) == "RuntimeError: boom"


def _if_model() -> onnx.ModelProto:
    """An If whose branches hold the weights (a 2x512 MatMul each): 1 top-level parameter."""
    rng = np.random.default_rng(0)

    def branch(name: str) -> onnx.GraphProto:
        w = numpy_helper.from_array(rng.standard_normal((4, 512)).astype(np.float32), f"{name}_w")
        return helper.make_graph(
            [helper.make_node("MatMul", ["x", f"{name}_w"], [f"{name}_y"])], name, [],
            [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, ["N", 512])], [w],
        )

    cond = numpy_helper.from_array(np.array(True), "cond")
    g = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], then_branch=branch("a"), else_branch=branch("b"))],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 512])], [cond],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_inspect_counts_subgraph_parameters(tmp_path: Path) -> None:
    onnx.save(_if_model(), str(tmp_path / "if.onnx"))
    info = inspect_model(tmp_path / "if.onnx")
    assert info.parameter_count == 1 + 2 * 4 * 512


def test_inspect_names_what_tflite_needs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    onnx.save(resnet_like(), str(tmp_path / "r.onnx"))
    assert main(["inspect", str(tmp_path / "r.onnx"), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    caveats = " ".join(facts["tflite_caveats"])
    assert "H (dim 2)" in caveats and "W (dim 3)" in caveats
    onnx.save(mobilenet_v3_like(), str(tmp_path / "m.onnx"))
    assert main(["inspect", str(tmp_path / "m.onnx"), "--json"]) == 0
    assert "TensorFlow rejects" in " ".join(json.loads(capsys.readouterr().out)["tflite_caveats"])


@pytest.mark.slow
def test_inspect_try_convert_runs_the_converter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    onnx.save(mobilenet_v3_like(), str(tmp_path / "m.onnx"))
    assert main(["inspect", str(tmp_path / "m.onnx"), "--try-convert"]) == 2  # dynamic H/W
    assert "--input-shape" in capsys.readouterr().err
    args = ["inspect", str(tmp_path / "m.onnx"), "--try-convert", "--input-shape", "3,32,32", "--json"]
    assert main(args) == 0
    tried = json.loads(capsys.readouterr().out)["tflite_try_convert"]
    assert tried["ok"] is True and "[1, 3, 32, 32]" in tried["detail"]


def test_int8_preprocessing_fallback_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Symbolic shape inference asserting (as on some exported Concats) -> retried without it,
    and the path taken is a build warning."""
    import onnxruntime.quantization.shape_inference as si

    from edgekit.builder.quant_prep import preprocessed_for_quantisation
    from edgekit.builder.variants.base import BuildContext

    real = si.quant_pre_process

    def symbolic_fails(src: str, out: str, *a: object, **kw: object) -> None:
        if not kw.get("skip_symbolic_shape"):
            raise AssertionError("symbolic shape inference: Concat")
        real(src, out, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(si, "quant_pre_process", symbolic_fails)
    m = resnet_like()
    onnx.save(m, str(tmp_path / "m.onnx"))
    cfg = _cfg(tmp_path)
    prep = prepare_model(cfg, m, "x", [3, 32, 32], tmp_path / "p.onnx")  # type: ignore[arg-type]
    ctx = BuildContext(cfg, prep.path, prep.model, inspect_model(prep.path), tmp_path, "x",  # type: ignore[arg-type]
                       None, lambda _m: None, scratch=tmp_path)
    out = preprocessed_for_quantisation(ctx)
    assert ctx.warnings and "without symbolic shape inference" in ctx.warnings[0]
    assert "AssertionError" in ctx.warnings[0]
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert "BatchNormalization" not in ops  # the optimised graph, BatchNorm folded
