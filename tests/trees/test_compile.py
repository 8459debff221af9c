"""Compiled trees (Treelite + TL2cgen + gcc) against onnxruntime's TreeEnsemble on random features."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgekit.backends import open_backend
from edgekit.backends.compiled_trees import elf_machine, host_machine
from edgekit.errors import ConversionError, ModelError
from edgekit.trees.compile import CompilerMissing, compile_ensemble
from edgekit.trees.ensemble import read_ensemble
from edgekit.trees.testing import make_boosted_trees

pytest.importorskip("tl2cgen")
ort = pytest.importorskip("onnxruntime")
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def _ort(path: Path, x: np.ndarray) -> list[np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"features": x})


def _compile(tmp_path: Path, model_path: Path, machine: str | None = None) -> Path:
    ens = read_ensemble(onnx.load(model_path))
    machine = machine or host_machine()
    lib = compile_ensemble(ens, tmp_path / f"m.{machine}.so", machine=machine, work_dir=tmp_path / machine)
    return lib.path


@needs_gcc
@pytest.mark.parametrize("mode", ["BRANCH_LEQ", "BRANCH_LT"])
def test_compiled_predictions_match_onnxruntime(tmp_path, mode):
    model = make_boosted_trees(
        tmp_path / "t.onnx", features=7, classes=4, rounds=12, depth=3, seed=5, mode=mode
    )
    lib = _compile(tmp_path, model)
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.2, 1.2, (500, 7)).astype(np.float32)
    # rows sitting exactly on thresholds: where <= and < differ
    thresholds = read_ensemble(onnx.load(model)).node_value
    x[:100] = rng.choice(thresholds[thresholds != 0], size=(100, 7))
    labels, probs = _ort(model, x)
    with open_backend(lib, outputs=["label", "probabilities"], label_output="label") as b:
        got_labels, got = b.run_all({"features": x})
        again = b.run(x)  # a second call starts from zero again (predict() accumulates)
    np.testing.assert_allclose(got, probs, rtol=0, atol=2e-6)
    np.testing.assert_array_equal(again, got)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_labels.dtype == np.int64 and got.dtype == np.float32


@needs_gcc
def test_one_row_at_a_time_equals_the_batch(tmp_path):
    model = make_boosted_trees(tmp_path / "t.onnx", features=5, classes=3, rounds=6, seed=2)
    lib = _compile(tmp_path, model)
    x = np.random.default_rng(3).uniform(0, 1, (40, 5)).astype(np.float32)
    with open_backend(lib) as b:
        batch = b.run(x)
        rows = np.concatenate([b.run(x[i : i + 1]) for i in range(len(x))])
    np.testing.assert_array_equal(rows, batch)
    np.testing.assert_allclose(batch, _ort(model, x)[1], atol=2e-6)


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None, reason="no aarch64 cross compiler")
def test_cross_compiles_an_aarch64_library_this_host_refuses_to_load(tmp_path):
    model = make_boosted_trees(tmp_path / "t.onnx", rounds=3)
    lib = _compile(tmp_path, model, "aarch64")
    assert elf_machine(lib) == "aarch64"
    assert lib.read_bytes()[:4] == b"\x7fELF" and lib.read_bytes()[18:20] == b"\xb7\x00"  # EM_AARCH64
    if host_machine() != "aarch64":
        with pytest.raises(ModelError, match="compiled for aarch64, this machine is"):
            open_backend(lib)


def test_a_missing_compiler_is_named_with_the_package(tmp_path, monkeypatch):
    model = make_boosted_trees(tmp_path / "t.onnx", rounds=2)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(CompilerMissing, match=r"gcc.*apt-get install gcc-aarch64-linux-gnu"):
        _compile(tmp_path, model, "aarch64")


def test_an_unknown_machine_is_refused(tmp_path):
    ens = read_ensemble(onnx.load(make_boosted_trees(tmp_path / "t.onnx", rounds=2)))
    with pytest.raises(ConversionError, match="no compiler known for 'riscv64'"):
        compile_ensemble(ens, tmp_path / "x.so", machine="riscv64", work_dir=tmp_path / "w")
