"""inspect: real facts from real model files, one clear line for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.errors import ModelError
from edgekit.model_info import inspect_model

ROOT = Path(__file__).resolve().parent.parent


def test_facts_of_a_small_cnn(cnn1d_path: Path) -> None:
    info = inspect_model(cnn1d_path)
    assert info.inputs[0].name == "x"
    assert info.inputs[0].shape == ["batch", 2, 64]
    assert info.inputs[0].dtype == "float32"
    assert info.outputs[0].shape == ["batch", 4]
    assert info.op_counts == {"Conv": 1, "Relu": 1, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
    assert info.parameter_count == 8 * 2 * 5 + 8 + 4 * 8 + 4
    assert info.opsets == {"ai.onnx": 17}
    assert info.tflite_convertible
    assert info.file_size_bytes == cnn1d_path.stat().st_size


@pytest.mark.parametrize("model", ["rfclass-cnn", "rfclass-gbt"])
def test_reference_models(model: str) -> None:
    path = ROOT / "models" / model / "model.onnx"
    info = inspect_model(path)
    assert info.parameter_count > 0
    if model == "rfclass-gbt":
        assert info.is_tree_ensemble
        assert not info.tflite_convertible
        assert "TFLite cannot hold" in info.tflite_reason
    else:
        assert info.inputs[0].shape[1:] == [6, 1024]  # I/Q of z, z**2, z**4
        assert isinstance(info.inputs[0].shape[0], str)  # dynamic batch
        assert info.tflite_convertible


def test_truncated(cnn1d_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "trunc.onnx"
    bad.write_bytes(cnn1d_path.read_bytes()[:200])
    with pytest.raises(ModelError) as ei:
        inspect_model(bad)
    assert str(bad) in str(ei.value) and "\n" not in str(ei.value)


def test_not_onnx(tmp_path: Path) -> None:
    bad = tmp_path / "notes.onnx"
    bad.write_text("hello, this is not a model\n" * 10)
    with pytest.raises(ModelError):
        inspect_model(bad)


def test_cli_inspect_json(cnn1d_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(cnn1d_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["node_count"] == 5


def test_cli_inspect_table(cnn1d_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(cnn1d_path)]) == 0
    out = capsys.readouterr().out
    assert "GlobalAveragePool" in out and "TFLite conversion" in out


def test_cli_bad_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 3)
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgekit: error: ") and str(bad) in err
    assert len(err.splitlines()) == 1


def test_cli_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path / "none.onnx")]) == 2
    assert "no such model file" in capsys.readouterr().err


def test_cli_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("edgekit ")
    assert main(["--help"]) == 0
    assert "inspect" in capsys.readouterr().out


def test_cli_unknown_option_exit_2(cnn1d_path: Path) -> None:
    assert main(["inspect", str(cnn1d_path), "--frobnicate"]) == 2
