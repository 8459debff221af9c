"""Models written by real exporters (tests/builder/fixtures/exported/, made by
fixtures/make_exported.py with torch, onnxruntime's quantiser, skl2onnx and tf2onnx): each builds
with a clear verdict, or is refused in one line before any work (exit 2, nothing written).

The data's labels are the fp32 model's argmax on the score output, computed here with onnxruntime
directly (tests/builder/exported.py), so accuracy 1.0 means edgekit judged the right output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edgekit.cli import main
from tests.builder.exported import FIXTURES, write_exported_case
from tests.builder.fixtures.exported_models import CASES, Case

CASE: dict[str, Case] = {c.name: c for c in CASES}
# Each case builds only the variants its point needs (CI time): fp32, plus int8-static where the
# question is what quantisation does with the export.
BUILDS: dict[str, list[str]] = {
    "iq_cnn_ts11": ["onnx-fp32", "onnx-int8-static"],
    "iq_cnn_dynamo18": ["onnx-fp32", "onnx-int8-static"],
    "two_heads_ts17": ["onnx-fp32"],
    "with_band_ts17": ["onnx-fp32", "onnx-int8-static"],
    "iq_cnn_external_dynamo18": ["onnx-fp32"],
    "iq_cnn_fp16_ts17": ["onnx-fp32", "onnx-int8-dynamic", "onnx-int8-static"],
    "iq_cnn_qdq_ts17": ["onnx-fp32", "onnx-fp16", "onnx-int8-static"],
    "encoder_dynamo18": ["onnx-fp32", "onnx-int8-static"],
    "keras_conv1d_tf2onnx15": ["onnx-fp32", "onnx-fp16"],
}


def _model(name: str) -> Path:
    return FIXTURES / f"{name}.onnx"


def test_fixtures_are_small_and_their_exporters_recorded() -> None:
    versions = json.loads((FIXTURES / "versions.json").read_text())
    fixtures = sorted(c.name for c in CASES if c.fixture)
    assert sorted(versions) == fixtures
    for name in fixtures:
        size = sum(p.stat().st_size for p in FIXTURES.glob(f"{name}.onnx*"))
        assert size <= 200 * 1024, name
        m = onnx.load(str(_model(name)), load_external_data=False)
        opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
        assert opset == versions[name]["opset"] == CASE[name].opset, name
        assert versions[name]["producer"].startswith(m.producer_name), name


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, Path]]:
    """Each case in BUILDS built once through the CLI; its exit code and output folder."""
    out: dict[str, tuple[int, Path]] = {}
    for name, variants in BUILDS.items():
        tmp = tmp_path_factory.mktemp(name)
        cfg = write_exported_case(tmp, CASE[name], _model(name), variants=variants, runs=3)
        code = main(["build", str(cfg), "--out", str(tmp / "out")])
        out[name] = (code, tmp / "out")
    return out


def _report(out: Path) -> dict[str, dict]:
    report = json.loads((out / "report.json").read_text())
    return {v["name"]: v for v in report["variants"]}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["iq_cnn_ts11", "iq_cnn_dynamo18", "encoder_dynamo18"])
def test_torch_exports_build(built: dict[str, tuple[int, Path]], name: str) -> None:
    """TorchScript opset 11 and dynamo opset 18 (dynamic batch), a transformer encoder layer."""
    code, out = built[name]
    assert code == 0
    variants = _report(out)
    assert {v["status"] for v in variants.values()} == {"built"}
    assert variants["onnx-fp32"]["accuracy"]["accuracy"] == 1.0
    manifest = json.loads((out / "bundle" / "manifest.json").read_text())
    assert manifest["input"]["concrete_shape"] == [1, *CASE[name].sample]
    assert manifest["input"]["fixed_batch"] is None


@pytest.mark.slow
def test_tf2onnx_export_gets_fp16(built: dict[str, tuple[int, Path]]) -> None:
    """tf2onnx imports the ai.onnx.ml opset in every model; with no node of that domain the
    fp16 variant applies (it was skipped as "classical-ML operators")."""
    m = onnx.load(str(_model("keras_conv1d_tf2onnx15")))
    assert "ai.onnx.ml" in {o.domain for o in m.opset_import}
    assert not any(n.domain == "ai.onnx.ml" for n in m.graph.node)
    code, out = built["keras_conv1d_tf2onnx15"]
    assert code == 0
    variants = _report(out)
    assert variants["onnx-fp16"]["status"] == "built", variants["onnx-fp16"].get("reason")
    assert variants["onnx-fp16"]["accuracy"]["agreement_with_reference"] >= 0.9


@pytest.mark.slow
def test_two_outputs_judged_on_the_named_one(built: dict[str, tuple[int, Path]], tmp_path: Path) -> None:
    """logits + aux with model.output_name = "logits": the accuracy is the logits' (1.0), and the
    aux head's argmax differs from it on this data, so judging aux could not give 1.0."""
    code, out = built["two_heads_ts17"]
    assert code == 0
    assert _report(out)["onnx-fp32"]["accuracy"]["accuracy"] == 1.0
    data = np.load(out.parent / "data.npz")
    sess = ort.InferenceSession(str(_model("two_heads_ts17")), providers=["CPUExecutionProvider"])
    logits, aux = sess.run(["logits", "aux"], {"input": data["x"]})
    assert (logits.argmax(1) == data["y"]).all()
    assert (aux.argmax(1) != data["y"]).any()


@pytest.mark.slow
def test_int64_side_input_folded(built: dict[str, tuple[int, Path]]) -> None:
    """band (int64, shape [N]) = 3 from [model.inputs]: folded as an int64 constant; the labels
    were computed with band = 3, so any other value would lower the accuracy."""
    code, out = built["with_band_ts17"]
    assert code == 0
    variants = _report(out)
    assert variants["onnx-fp32"]["accuracy"]["accuracy"] == 1.0
    assert variants["onnx-int8-static"]["status"] == "built"
    shipped = ort.InferenceSession(str(out / "bundle" / "variants" / "onnx-fp32.onnx"),
                                   providers=["CPUExecutionProvider"])
    assert [i.name for i in shipped.get_inputs()] == ["input"]
    x = np.load(out.parent / "data.npz")["x"][:8]
    exported = ort.InferenceSession(str(_model("with_band_ts17")), providers=["CPUExecutionProvider"])
    got = shipped.run(None, {"input": x})[0]
    for band, same in ((3, True), (0, False)):
        want = exported.run(None, {"input": x, "band": np.full(len(x), band, dtype=np.int64)})[0]
        assert np.allclose(got, want, atol=1e-5) == same, band


@pytest.mark.slow
def test_external_data_is_inlined_in_the_bundle(built: dict[str, tuple[int, Path]]) -> None:
    code, out = built["iq_cnn_external_dynamo18"]
    assert code == 0
    assert (FIXTURES / "iq_cnn_external_dynamo18.onnx.data").is_file()  # the export is split
    shipped = out / "bundle" / "variants" / "onnx-fp32.onnx"
    assert not list(shipped.parent.glob("*.data"))
    m = onnx.load(str(shipped), load_external_data=False)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "reason"),
    [("iq_cnn_qdq_ts17", "already quantised (DequantizeLinear, QuantizeLinear)"),
     ("iq_cnn_fp16_ts17", "the model is float16")],
)
def test_int8_of_a_quantised_or_half_model_is_skipped(
    built: dict[str, tuple[int, Path]], name: str, reason: str
) -> None:
    """Quantising a QDQ export again made a model onnxruntime refuses (duplicate node names),
    which stopped the build with exit 2 after the reference was judged; now a skip with the reason."""
    code, out = built[name]
    assert code == 0
    variants = _report(out)
    assert variants["onnx-fp32"]["status"] == "built"
    assert variants["onnx-fp32"]["accuracy"]["accuracy"] == 1.0
    for v in BUILDS[name][1:]:
        assert variants[v]["status"] == "skipped" and reason in variants[v]["reason"], v


def _refused(tmp: Path, cfg: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["build", str(cfg), "--out", str(tmp / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert not (tmp / "out").exists()
    assert not any(p.name.startswith(".out") for p in tmp.iterdir())
    return err[0]


def test_two_score_outputs_without_output_name_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """aux is written first: reading the first float output would judge the auxiliary head."""
    name = "two_heads_aux_first_ts17"
    cfg = write_exported_case(tmp_path, CASE[name], _model(name), variants=["onnx-fp32"])
    line = _refused(tmp_path, cfg, capsys)
    assert "outputs 'aux', 'logits'" in line and "model.output_name" in line


def test_zipmap_output_refused_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "skl_logreg_zipmap"
    cfg = write_exported_case(tmp_path, CASE[name], _model(name), variants=["onnx-fp32"])
    line = _refused(tmp_path, cfg, capsys)
    assert "'output_probability' (non-tensor)" in line and "'zipmap': False" in line


@pytest.mark.parametrize(("value", "ok"), [("2.5", False), ("-1", True), ("1e19", False)])
def test_fraction_for_an_integer_input_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, ok: bool
) -> None:
    """band is int64: 2.5 would be truncated to 2 when folded, and 2**63 does not fit."""
    name = "with_band_ts17"
    cfg = write_exported_case(tmp_path, CASE["with_band_half_ts17"], _model(name), variants=["onnx-fp32"])
    cfg.write_text(cfg.read_text().replace("band = 2.5", f"band = {value}"))
    if ok:  # a whole number in range passes this check (the build itself is not needed here)
        from edgekit.builder.prepare import check_input_values
        from edgekit.config import load_config

        check_input_values(load_config(cfg), [("input", "float32"), ("band", "int64")])
        return
    line = _refused(tmp_path, cfg, capsys)
    assert "model.inputs.band" in line and "int64" in line


@pytest.mark.slow
@pytest.mark.parametrize("keep_going", [False, True])
def test_variant_its_runtime_cannot_load_is_a_failed_variant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_going: bool
) -> None:
    """A variant written but refused by onnxruntime (as the re-quantised QDQ export was): the
    build ends with its reports and logs, the variant failed with the runtime's reason."""
    from edgekit.builder.variants.base import Built
    from edgekit.builder.variants.onnx_int8_static import OnnxInt8Static

    def broken(self: object, ctx: object) -> Built:
        m = onnx.load(str(_model("iq_cnn_ts11")))
        m.graph.node[1].name = m.graph.node[0].name  # two nodes with the same name
        out = ctx.work_dir / "onnx-int8-static.onnx"  # type: ignore[attr-defined]
        out.write_bytes(m.SerializeToString())
        return Built(out)

    monkeypatch.setattr(OnnxInt8Static, "build", broken)
    cfg = write_exported_case(tmp_path, CASE["iq_cnn_ts11"], _model("iq_cnn_ts11"),
                              variants=["onnx-fp32", "onnx-int8-static"], runs=3)
    code = main(["build", str(cfg), "--out", str(tmp_path / "out")]
                + (["--keep-going"] if keep_going else []))
    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    status = {v["name"]: (v["status"], v.get("reason") or "") for v in report["variants"]}
    assert status["onnx-fp32"][0] == "built"
    assert status["onnx-int8-static"][0] == "failed"
    assert "runtime cannot run it" in status["onnx-int8-static"][1]
    assert "same node name" in status["onnx-int8-static"][1] or "same name" in status[
        "onnx-int8-static"][1]
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    assert list((out / "logs").glob("*.log"))
    assert (code, report["verdict"]) == ((0, "pass") if keep_going else (1, "rejected"))
