"""ONNX -> TFLite conversion in the pinned onnx2tf env, checked against onnxruntime.

Tests marked ``converter`` create the converter env on first use (about a minute with a warm pip
cache, several minutes cold; cached afterwards under ~/.cache/edgekit or $EDGEKIT_CACHE_DIR).
Each onnx2tf run takes 5-25 s, so models are converted once per module and shared.

Tolerances (measured on x86_64; see the report in the PR): fp32 max |diff| <= 1e-4; fp16 max
|diff| <= 1e-2 of the largest reference magnitude; full-integer int8 argmax agreement >= 95% on
realistic inputs not used for calibration, with max |diff| <= 15% of the largest reference
magnitude (int8 steps of the output scale accumulate over two quantised layers).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edgekit.backends import open_backend
from edgekit.backends.testing import (
    make_cnn1d,
    make_image_cnn,
    realistic_images,
    realistic_iq,
)
from edgekit.backends.tflite import TFLiteBackend, layout_sidecar_path
from edgekit.builder.converter import (
    ConvertedModel,
    ConverterDisabledError,
    ConverterEnv,
    convert_to_tflite,
    convert_to_tflite_variants,
    converter_disabled_reason,
)
from edgekit.errors import ConversionError, ModelError

FP32_ATOL = 1e-4
FP16_REL = 1e-2
INT8_ARGMAX_MIN = 0.95
INT8_REL_MAX = 0.15


# -- no converter needed -----------------------------------------------------------------------


def test_disabled_by_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_NO_CONVERTER", "1")
    model = make_cnn1d(tmp_path / "m.onnx", length=64)
    assert converter_disabled_reason() is not None
    with pytest.raises(ConverterDisabledError, match="disabled"):
        convert_to_tflite(model, tmp_path / "out", precision="fp32", progress=None)


def test_int8_without_calibration_is_refused_before_touching_the_env(tmp_path):
    model = make_cnn1d(tmp_path / "m.onnx", length=64)
    env = ConverterEnv(tmp_path / "never-created")
    with pytest.raises(ConversionError, match="int8 TFLite needs calibration data"):
        convert_to_tflite(model, tmp_path / "out", precision="int8", env=env, progress=None)
    assert not env.root.exists()


@pytest.mark.parametrize(
    "calibration",
    [
        np.zeros((4, 2, 32), np.float32),
        np.full((4, 2, 64), np.nan, np.float32),
        np.zeros((0, 2, 64)),
    ],
)
def test_bad_calibration_is_refused(tmp_path, calibration):
    model = make_cnn1d(tmp_path / "m.onnx", length=64)
    env = ConverterEnv(tmp_path / "never-created")
    with pytest.raises(ConversionError, match="calibration"):
        convert_to_tflite(
            model, tmp_path / "o", precision="int8", calibration=calibration, env=env, progress=None
        )


def test_not_a_model_is_a_conversion_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model" * 10)
    with pytest.raises(ConversionError, match=r"bad\.onnx"):
        convert_to_tflite(bad, tmp_path / "o", precision="fp32", progress=None)


def test_unknown_precision(tmp_path):
    model = make_cnn1d(tmp_path / "m.onnx", length=64)
    with pytest.raises(ConversionError, match="unknown TFLite precision"):
        convert_to_tflite_variants(model, tmp_path / "o", precisions=("int4",), progress=None)


def test_env_location_follows_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGEKIT_CONVERTER_ENV", raising=False)
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    env = ConverterEnv.default()
    assert env.root.parent == tmp_path / "cache"
    assert env.root.name == f"converter-{ConverterEnv.requirements_hash()}"
    monkeypatch.setenv("EDGEKIT_CONVERTER_ENV", str(tmp_path / "mine"))
    assert ConverterEnv.default().root == tmp_path / "mine"


def test_requirements_hash_follows_the_lock_file(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("numpy==1.26.4\n")
    h1 = ConverterEnv.requirements_hash(a)
    a.write_text("numpy==1.26.3\n")
    assert ConverterEnv.requirements_hash(a) != h1


def test_shipped_requirements_are_fully_pinned():
    lines = [
        line.strip()
        for line in ConverterEnv.default().requirements.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines and all("==" in line for line in lines)
    names = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    assert {"onnx2tf", "tensorflow", "numpy", "onnx", "onnxruntime", "onnxsim"} <= names
    assert "torch" not in names


@pytest.mark.slow
def test_pip_failure_names_the_step_and_shows_the_log_tail(tmp_path):
    reqs = tmp_path / "broken.txt"
    reqs.write_text("this is === not a requirement\n")
    env = ConverterEnv(tmp_path / "env", reqs)
    with pytest.raises(ConversionError, match="pip install converter requirements failed") as info:
        env.ensure(progress=None)
    assert "  | " in str(info.value)  # the tail of pip's output
    assert not env.root.exists()
    assert not list(tmp_path.glob(".env.tmp-*"))  # the half-built env was removed


def test_existing_folder_that_is_not_an_env_is_refused(tmp_path):
    (tmp_path / "env").mkdir()
    with pytest.raises(ConversionError, match="not a converter env"):
        ConverterEnv(tmp_path / "env").ensure(progress=None)


# -- with the converter env --------------------------------------------------------------------


@pytest.fixture(scope="module")
def converter_env() -> ConverterEnv:
    reason = converter_disabled_reason()
    if reason:
        pytest.skip(reason)
    return ConverterEnv.default().ensure()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("convert")


@pytest.fixture(scope="module")
def cnn1d_variants(converter_env, workdir) -> dict[str, ConvertedModel]:
    """1D CNN, layout kept (NCW in the TFLite model), fp32/fp16/int8 from one onnx2tf run."""
    model = make_cnn1d(workdir / "cnn1d.onnx")
    return convert_to_tflite_variants(  # type: ignore[return-value]
        model, workdir / "cnn1d", calibration=realistic_iq(128, seed=5), env=converter_env
    )


@pytest.fixture(scope="module")
def image_variants(converter_env, workdir) -> dict[str, ConvertedModel]:
    """NCHW image CNN converted to channels-last (NHWC) inputs; the backend transposes."""
    model = make_image_cnn(workdir / "image.onnx")
    return convert_to_tflite_variants(  # type: ignore[return-value]
        model,
        workdir / "image",
        calibration=realistic_images(128, seed=5),
        keep_layout=False,
        env=converter_env,
    )


@pytest.fixture(scope="module")
def cnn1d_nwc(converter_env, workdir) -> ConvertedModel:
    model = make_cnn1d(workdir / "cnn1d_nwc.onnx")
    return convert_to_tflite(
        model, workdir / "nwc", precision="fp32", keep_layout=False, env=converter_env
    )


def _reference(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    with open_backend(onnx_path, threads=1) as ref:
        return ref.run(x)


def _fresh(kind: str, n: int) -> np.ndarray:
    # seeds differ from the calibration's: agreement is measured on unseen captures
    return realistic_iq(n, seed=1000) if kind == "cnn1d" else realistic_images(n, seed=1000)


@pytest.mark.converter
@pytest.mark.parametrize("kind", ["cnn1d", "image"])
def test_fp32_agrees_with_onnxruntime(kind, cnn1d_variants, image_variants):
    conv = (cnn1d_variants if kind == "cnn1d" else image_variants)["fp32"]
    x = _fresh(kind, 64)
    with open_backend(conv.tflite_path, threads=1) as b:
        got = b.run(x)
    ref = _reference(conv.onnx_path, x)
    assert got.shape == ref.shape
    assert np.max(np.abs(got - ref)) <= FP32_ATOL
    assert conv.verification.max_abs_diff <= FP32_ATOL


@pytest.mark.converter
@pytest.mark.parametrize("kind", ["cnn1d", "image"])
def test_fp16_agrees_within_one_percent(kind, cnn1d_variants, image_variants):
    conv = (cnn1d_variants if kind == "cnn1d" else image_variants)["fp16"]
    x = _fresh(kind, 64)
    with open_backend(conv.tflite_path) as b:
        got = b.run(x)
    ref = _reference(conv.onnx_path, x)
    assert np.max(np.abs(got - ref)) <= FP16_REL * np.max(np.abs(ref))


@pytest.mark.converter
@pytest.mark.parametrize("kind", ["cnn1d", "image"])
def test_int8_full_integer_agrees_on_decisions(kind, cnn1d_variants, image_variants):
    conv = (cnn1d_variants if kind == "cnn1d" else image_variants)["int8"]
    x = _fresh(kind, 200)
    with open_backend(conv.tflite_path) as b:
        assert b.input_spec[0].dtype == "int8" and b.output_spec[0].dtype == "int8"
        assert b.input_spec[0].quantization == conv.input_quantization
        got = b.run(x)
    ref = _reference(conv.onnx_path, x)
    assert got.dtype == np.float32
    agreement = float(np.mean(got.argmax(axis=1) == ref.argmax(axis=1)))
    assert agreement >= INT8_ARGMAX_MIN
    assert np.max(np.abs(got - ref)) <= INT8_REL_MAX * np.max(np.abs(ref))
    assert conv.input_quantization is not None and conv.input_quantization[0] > 0
    assert conv.output_quantization is not None and conv.output_quantization[0] > 0


@pytest.mark.converter
def test_result_records_versions_command_and_layout(cnn1d_variants):
    conv = cnn1d_variants["fp32"]
    assert {"onnx2tf", "tensorflow", "onnx", "numpy"} <= set(conv.converter_versions)
    assert conv.converter_versions["numpy"].startswith("1.")
    assert "-k" in conv.command and "onnx2tf" in conv.command
    assert "-oiqt" in conv.command and "-cind" in conv.command
    assert conv.duration_s > 0
    assert conv.input_layout == "original"
    assert conv.verification.n_samples == 16
    assert conv.verification.argmax_agreement == 1.0
    assert conv.tflite_path.name == "cnn1d_fp32.tflite" and conv.size_bytes > 0
    assert layout_sidecar_path(conv.tflite_path).is_file()


@pytest.mark.converter
def test_kept_layout_model_takes_ncw_natively_and_any_batch(cnn1d_variants):
    conv = cnn1d_variants["fp32"]
    with TFLiteBackend(conv.tflite_path) as b:
        assert b.input_spec[0].shape == (None, 2, 1024)
        assert b.layout.input_perms == (None,)
        ref_model = open_backend(conv.onnx_path)
        for n in (1, 7, 2):
            x = _fresh("cnn1d", n)
            np.testing.assert_allclose(b.run(x), ref_model.run(x), atol=FP32_ATOL)


@pytest.mark.converter
def test_channels_last_model_is_fed_ncw_by_the_caller(cnn1d_nwc, tmp_path):
    assert cnn1d_nwc.input_layout == "channels_last"
    assert cnn1d_nwc.layout.input_perms == ((0, 2, 1),)
    x = _fresh("cnn1d", 8)
    ref = _reference(cnn1d_nwc.onnx_path, x)
    with TFLiteBackend(cnn1d_nwc.tflite_path) as b:  # layout from the sidecar
        assert b.input_spec[0].shape == (None, 2, 1024)
        assert np.max(np.abs(b.run(x) - ref)) <= FP32_ATOL

    # Without the sidecar: an explicit hint, or detection from the original shape, both work...
    bare = tmp_path / "bare.tflite"
    shutil.copyfile(cnn1d_nwc.tflite_path, bare)
    for kwargs in ({"transpose_input": (0, 2, 1)}, {"original_input_shapes": [("N", 2, 1024)]}):
        with TFLiteBackend(bare, **kwargs) as b:
            assert np.max(np.abs(b.run(x) - ref)) <= FP32_ATOL
    # ...and with no hint at all the model's own NWC layout is what it accepts.
    with TFLiteBackend(bare) as b:
        assert b.input_spec[0].shape == (None, 1024, 2)
        with pytest.raises(ModelError, match="expects shape"):
            b.run(x)
        assert np.max(np.abs(b.run(x.transpose(0, 2, 1)) - ref)) <= FP32_ATOL


@pytest.mark.converter
def test_fixed_batch_one_model_runs_sample_by_sample(converter_env, workdir):
    model = make_cnn1d(workdir / "cnn1d_b1.onnx", batch=1)
    conv = convert_to_tflite(model, workdir / "b1", precision="fp32", env=converter_env)
    x = _fresh("cnn1d", 5)
    with open_backend(conv.tflite_path) as b:
        assert b.input_spec[0].shape == (1, 2, 1024)
        got = b.run(x)
    assert got.shape == (5, 10)
    ref = np.concatenate([_reference(model, x[i : i + 1]) for i in range(5)])
    assert np.max(np.abs(got - ref)) <= FP32_ATOL


@pytest.mark.converter
def test_truncated_converted_model_is_refused(cnn1d_variants, tmp_path):
    data = cnn1d_variants["int8"].tflite_path.read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=r"cut\.tflite: TFLite cannot load"):
        open_backend(cut)
