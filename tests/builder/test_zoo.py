"""Bring your own model: every zoo model (tests/builder/zoo.py) builds all seven variants, or is
refused before any verdict with the true reason, one line, exit 2, nothing written."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from edgekit.bench.inputs import make_inputs
from edgekit.builder.converter import ConverterEnv
from edgekit.cli import main
from edgekit.errors import BundleError
from tests.builder.zoo import ZOO, write_case

SEVEN = [
    "onnx-fp32", "onnx-fp16", "onnx-int8-dynamic", "onnx-int8-static",
    "tflite-fp32", "tflite-fp16", "tflite-int8",
]
CNNS = [name for name, z in ZOO.items() if not z.refused]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each buildable zoo model built once through the CLI (the converter runs once per model)."""
    out: dict[str, Path] = {}
    for name in CNNS:
        tmp = tmp_path_factory.mktemp(name)
        cfg = write_case(tmp, name)
        code = main(["build", str(cfg), "--out", str(tmp / "out")])
        assert code == 0, name
        out[name] = tmp / "out"
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", CNNS)
def test_zoo_model_builds_all_seven(built: dict[str, Path], name: str) -> None:
    out = built[name]
    report = json.loads((out / "report.json").read_text())
    status = {v["name"]: v["status"] for v in report["variants"]}
    assert status == dict.fromkeys(SEVEN, "built"), status
    variants = {v["name"]: v for v in report["variants"]}
    # int8-static is smaller than fp32, and its report says whether it is faster, measured
    assert variants["onnx-int8-static"]["size_bytes"] < variants["onnx-fp32"]["size_bytes"]
    note = next(n for n in variants["onnx-int8-static"]["notes"] if n.startswith("int8 vs fp32"))
    assert ("faster" in note) != ("slower" in note) and "measured" in note
    for v in SEVEN[4:]:  # each TFLite variant keeps the converter's log
        log = out / "variants" / f"{v}.convert.log"
        assert log.is_file() and "onnx2tf" in log.read_text()
    # the manifest records the shape the build validated, batch first
    manifest = json.loads((out / "bundle" / "manifest.json").read_text())
    z = ZOO[name]
    fixed = manifest["input"]["fixed_batch"]
    assert manifest["input"]["concrete_shape"] == [fixed or 1, *z.sample]
    assert not list(Path.cwd().glob("sym_shape_infer_temp.onnx"))


@pytest.mark.slow
def test_bench_times_the_validated_shape(built: dict[str, Path]) -> None:
    """mobilenet_v3_like declares [batch, 3, height, width]: bench feeds 3 x 32 x 32."""
    manifest = json.loads((built["mobilenet_v3_like"] / "bundle" / "manifest.json").read_text())
    assert manifest["input"]["shape"][2:] == [32, 32]
    x = make_inputs(manifest, n=4).x
    assert x.shape == (4, 3, 32, 32)
    # an older bundle with unknown dims and no concrete shape is refused, not guessed
    manifest["input"] = {"name": "input", "shape": ["batch", 3, "height", "width"], "dtype": "float32"}
    with pytest.raises(BundleError, match="concrete_shape"):
        make_inputs(manifest, n=4)


def test_segmentation_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_case(tmp_path, "segmentation")
    assert main(["build", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'mask'" in err[0] and "[N, 1, H, W]" in err[0]
    assert not (tmp_path / "out").exists()
    assert not any(p.name.startswith(".out") for p in tmp_path.iterdir())


def test_second_input_without_value_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_case(tmp_path, "stateful_audio")
    cfg.write_text(cfg.read_text().replace('[model.inputs]\nstate = "zeros"\n', ""))
    assert main(["build", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "frames, state" in err[0] and "[model.inputs]" in err[0]
    assert not (tmp_path / "out").exists()


def test_unknown_extra_input_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_case(tmp_path, "stateful_audio")
    cfg.write_text(cfg.read_text().replace('state = "zeros"', 'state = "zeros"\nhidden = 0.5'))
    assert main(["build", str(cfg), "--out", str(tmp_path / "out")]) == 2
    assert "model.inputs.hidden" in capsys.readouterr().err


def _failing_converter(root: Path) -> Path:
    """A converter env whose interpreter fails as onnx2tf does (a traceback, exit 1)."""
    (root / "bin").mkdir(parents=True)
    py = root / "bin" / "python"
    py.write_text(
        "#!/bin/sh\necho 'Traceback (most recent call last):'\necho '  File \"x.py\", line 1'\n"
        "echo \"ValueError: Exception encountered when calling layer 'tf.nn.softmax'.\"\n"
        "echo \"'Softmax_0' is not a valid scope name.\"\nexit 1\n"
    )
    py.chmod(py.stat().st_mode | stat.S_IXUSR)
    (root / ".edgekit-converter-ready").write_text(ConverterEnv.requirements_hash() + "\n")
    return root


@pytest.mark.parametrize("keep_going", [False, True])
def test_failed_variant_is_in_the_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    keep_going: bool,
) -> None:
    monkeypatch.setenv("EDGEKIT_CONVERTER_ENV", str(_failing_converter(tmp_path / "env")))
    cfg = write_case(tmp_path, "mobilenet_v3_like", runs=3,
                     variants=["onnx-fp32", "tflite-fp32", "tflite-fp16", "tflite-int8"])
    args = ["build", str(cfg), "--out", str(tmp_path / "out")] + (["--keep-going"] if keep_going else [])
    code = main(args)
    captured = capsys.readouterr()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    status = {v["name"]: v["status"] for v in report["variants"]}
    md = (tmp_path / "out" / "report.md").read_text()
    assert (tmp_path / "out" / "report.html").is_file()
    first = next(v for v in report["variants"] if v["name"] == "tflite-fp32")
    # the decisive line, once, with the user's own node name mapped back
    assert "'Softmax@0' is not a valid scope name" in first["reason"]
    assert "Traceback" not in first["reason"] and "variants/tflite-fp32.convert.log" in first["reason"]
    assert (tmp_path / "out" / "variants" / "tflite-fp32.convert.log").is_file()
    assert captured.out.count("is not a valid scope name") + captured.err.count(
        "is not a valid scope name") <= 3  # logged when it fails and listed once under the table
    if keep_going:
        assert code == 0 and report["verdict"] == "pass"
        assert status == {"onnx-fp32": "built", "tflite-fp32": "failed", "tflite-fp16": "failed",
                          "tflite-int8": "failed"}
        assert "3 of 4 variants failed" in md.splitlines()[0]
        assert "3 of 4 variants failed" in captured.out
    else:
        assert code == 1 and report["verdict"] == "rejected"
        assert status["tflite-fp32"] == "failed" and status["tflite-fp16"] == "skipped"
        assert "REJECTED" in md.splitlines()[0] and "tflite-fp32 failed to build" in md
