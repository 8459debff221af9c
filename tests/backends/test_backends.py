"""Backends on small ONNX models built in the test: correctness, batching, specs and refusals."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from edgekit._optional import MissingExtraError
from edgekit.backends import InferenceBackend, TensorSpec, open_backend
from edgekit.backends.onnxrt import OnnxRuntimeBackend
from edgekit.backends.testing import (
    make_cnn1d,
    make_image_cnn,
    make_two_output,
    realistic_images,
    realistic_iq,
)
from edgekit.errors import ModelError


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    return {
        "cnn1d": make_cnn1d(d / "cnn1d.onnx"),
        "image": make_image_cnn(d / "image.onnx"),
        "two": make_two_output(d / "two.onnx"),
    }


def _numpy_cnn1d(path: Path, x: np.ndarray) -> np.ndarray:
    """An independent numpy implementation of make_cnn1d's graph, to check the runtime."""
    import onnx
    from onnx import numpy_helper

    w = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (3, 3)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, 7, axis=2)[:, :, ::2, :]
    conv = np.einsum("ncwk,ock->now", windows, w["w1"]) + w["b1"][None, :, None]
    feats = np.maximum(conv, 0).mean(axis=2)
    return feats @ w["w2"].T + w["b2"]


def test_onnx_cnn1d_matches_numpy_reference_at_several_batch_sizes(models):
    backend = open_backend(models["cnn1d"], threads=1)
    assert isinstance(backend, InferenceBackend)
    assert backend.name == "onnxruntime"
    assert backend.input_spec == [TensorSpec("x", ("N", 2, 1024), "float32")]
    assert backend.output_spec == [TensorSpec("logits", ("N", 10), "float32")]
    for n in (1, 3, 17):
        x = realistic_iq(n, seed=n)
        y = backend.run(x)
        assert y.dtype == np.float32 and y.shape == (n, 10)
        np.testing.assert_allclose(y, _numpy_cnn1d(models["cnn1d"], x), rtol=1e-4, atol=1e-4)
    backend.close()


def test_onnx_accepts_float64_and_agrees_across_optimisation_levels(models):
    x = realistic_iq(4, seed=3)
    outs = []
    for level in ("disable", "basic", "all"):
        with OnnxRuntimeBackend(models["cnn1d"], threads=2, optimization=level) as b:
            outs.append(b.run(x.astype(np.float64)))
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=1e-5, atol=1e-5)


def test_onnx_nchw_image_model(models):
    backend = open_backend(models["image"])
    assert backend.input_spec[0].shape == ("N", 3, 32, 32)
    y = backend.run(realistic_images(6))
    assert y.shape == (6, 5) and np.all(np.isfinite(y))


def test_two_output_model_run_all_and_run(models):
    backend = open_backend(models["two"])
    assert [s.name for s in backend.output_spec] == ["logits", "energy"]
    v = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    logits, energy = backend.run_all({"v": v})
    assert logits.shape == (5, 3) and energy.shape == (5, 2)
    assert np.all(energy >= 0)
    np.testing.assert_array_equal(backend.run(v), logits)


def test_unknown_or_missing_feed_is_refused(models):
    backend = open_backend(models["two"])
    with pytest.raises(ModelError, match="missing input 'v'"):
        backend.run_all({})
    with pytest.raises(ModelError, match="unknown inputs"):
        backend.run_all({"v": np.zeros((1, 4), np.float32), "w": np.zeros(1)})


def test_wrong_shape_is_a_model_error_naming_the_file(models):
    backend = open_backend(models["cnn1d"])
    with pytest.raises(ModelError, match=r"cnn1d\.onnx.*expects shape \(N, 2, 1024\)"):
        backend.run(np.zeros((1, 1024, 2), np.float32))


def test_closed_backend_refuses_to_run(models):
    backend = open_backend(models["cnn1d"])
    backend.close()
    with pytest.raises(ModelError, match="closed"):
        backend.run(realistic_iq(1))


@pytest.mark.parametrize("bad_threads", [0, -2])
def test_bad_thread_count_is_refused(models, bad_threads):
    with pytest.raises(ModelError, match="threads"):
        open_backend(models["cnn1d"], threads=bad_threads)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match=r"nope\.onnx: model file not found"):
        open_backend(tmp_path / "nope.onnx")


def test_truncated_onnx(models, tmp_path):
    data = models["cnn1d"].read_bytes()
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=r"cut\.onnx: onnxruntime cannot load") as info:
        open_backend(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("suffix", [".onnx", ".tflite"])
def test_not_a_model(tmp_path, suffix):
    bad = tmp_path / f"notes{suffix}"
    bad.write_text("these are field notes, not a model\n" * 4)
    with pytest.raises(ModelError, match=f"notes\\{suffix}"):
        open_backend(bad)


def test_empty_file(tmp_path):
    bad = tmp_path / "empty.tflite"
    bad.write_bytes(b"")
    with pytest.raises(ModelError, match="too short"):
        open_backend(bad)


def test_tflite_header_with_garbage_body_is_refused(tmp_path):
    bad = tmp_path / "fake.tflite"
    bad.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(100))
    with pytest.raises(ModelError, match=r"fake\.tflite: TFLite cannot load"):
        open_backend(bad)


def test_unknown_suffix_and_kind(models, tmp_path):
    weird = tmp_path / "model.pt"
    weird.write_bytes(b"x" * 64)
    with pytest.raises(ModelError, match=r"unknown model suffix '\.pt'"):
        open_backend(weird)
    with pytest.raises(ModelError, match="unknown backend kind 'torch'"):
        open_backend(models["cnn1d"], kind="torch")


def test_kind_overrides_suffix(models, tmp_path):
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(models["cnn1d"].read_bytes())
    backend = open_backend(renamed, kind="onnxruntime")
    assert backend.run(realistic_iq(2)).shape == (2, 10)


def test_no_tflite_runtime_names_the_extra(tmp_path, monkeypatch):
    # A None entry in sys.modules makes that import fail, as on a board without the package.
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(100))
    with pytest.raises(MissingExtraError, match=r"edgekit\[tflite\]"):
        open_backend(model)
