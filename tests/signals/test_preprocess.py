"""Preprocessing steps and the spec-driven Pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.data.synth import generate
from edgekit.errors import ConfigError, DataError
from edgekit.signals.features import FEATURE_NAMES
from edgekit.signals.preprocess import OPS, Pipeline


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return generate(12, seed=31).x


def test_rms_normalize_gives_unit_power_and_is_pure(x):
    before = x.copy()
    out = Pipeline.from_spec([{"op": "scale", "factor": 7.5}, {"op": "rms_normalize"}])(x)
    power = np.mean(out[:, 0] ** 2 + out[:, 1] ** 2, axis=1)
    np.testing.assert_allclose(power, 1.0, rtol=1e-5)
    np.testing.assert_array_equal(x, before)  # input untouched
    assert out.dtype == np.float32


def test_rms_normalize_silence_stays_finite():
    out = Pipeline.from_spec([{"op": "rms_normalize", "eps": 1e-6}])(np.zeros((2, 2, 8)))
    assert np.all(out == 0)


def test_mag_phase_modes(x):
    z = x[:, 0] + 1j * x[:, 1]
    wrapped = Pipeline.from_spec([{"op": "mag_phase", "phase": "wrap"}])(x)
    assert wrapped.shape == x.shape
    np.testing.assert_allclose(wrapped[:, 0], np.abs(z), rtol=1e-5)
    np.testing.assert_allclose(wrapped[:, 1], np.angle(z), atol=1e-5)
    unwrapped = Pipeline.from_spec([{"op": "mag_phase"}])(x)
    assert np.max(np.abs(np.diff(unwrapped[:, 1], axis=1))) <= np.pi + 1e-4
    diff = Pipeline.from_spec([{"op": "mag_phase", "phase": "diff"}])(x)
    np.testing.assert_allclose(diff[:, 1, 1:], np.diff(unwrapped[:, 1], axis=1), atol=1e-3)


def test_spectrum_peak_at_tone_frequency():
    n = np.arange(1024)
    z = np.exp(2j * np.pi * 0.125 * n)
    x = np.stack([z.real, z.imag])[None].astype(np.float32)
    spec = Pipeline.from_spec([{"op": "spectrum", "n_fft": 256}])(x)
    assert spec.shape == (1, 1, 256)
    freqs = np.fft.fftshift(np.fft.fftfreq(256))
    assert freqs[np.argmax(spec[0, 0])] == pytest.approx(0.125)
    padded = Pipeline.from_spec([{"op": "spectrum", "n_fft": 2048}])(x)
    assert padded.shape == (1, 1, 2048)


def test_features_and_standardize(x):
    out = Pipeline.from_spec([{"op": "features"}, {"op": "standardize", "mean": 1, "std": 2}])(x)
    assert out.shape == (12, len(FEATURE_NAMES)) and np.isfinite(out).all()


def test_identity_copies(x):
    out = Pipeline.from_spec([{"op": "identity"}])(x)
    np.testing.assert_array_equal(out, x)
    assert out is not x


def test_deterministic(x):
    spec = [{"op": "rms_normalize"}, {"op": "features"}]
    np.testing.assert_array_equal(Pipeline.from_spec(spec)(x), Pipeline.from_spec(spec)(x))


def test_spec_round_trip_writes_defaults():
    pipe = Pipeline.from_spec([{"op": "rms_normalize"}, {"op": "spectrum", "n_fft": 128}])
    spec = pipe.to_spec()
    assert spec == [
        {"op": "rms_normalize", "eps": 1e-8},
        {"op": "spectrum", "n_fft": 128, "eps": 1e-10},
    ]
    assert Pipeline.from_spec(spec) == pipe
    assert Pipeline.from_spec([]).to_spec() == []


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.builds(
                lambda f: {"op": "scale", "factor": f}, st.floats(-1e3, 1e3, allow_nan=False)
            ),
            st.builds(lambda e: {"op": "rms_normalize", "eps": e}, st.floats(1e-12, 1.0)),
            st.just({"op": "identity"}),
            st.sampled_from([{"op": "mag_phase", "phase": p} for p in ("wrap", "unwrap", "diff")]),
        ),
        max_size=4,
    )
)
def test_spec_round_trip_property(spec):
    pipe = Pipeline.from_spec(spec)
    again = Pipeline.from_spec(pipe.to_spec())
    assert again == pipe and again.to_spec() == pipe.to_spec()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"op": "rms_normalize"}, "must be a list"),
        (["rms_normalize"], "preprocess step 0: must be a table"),
        ([{"eps": 1.0}], "preprocess step 0: unknown op None; accepted ops: identity, scale"),
        ([{"op": "identity"}, {"op": "fft"}], "preprocess step 1: unknown op 'fft'"),
        (
            [{"op": "spectrum", "nfft": 64}],
            r"step 0 \(spectrum\): unknown param 'nfft'; "
            "accepted params: n_fft, eps",
        ),
        ([{"op": "spectrum", "n_fft": 4}], "n_fft=4 is invalid; expected an integer in 8..65536"),
        ([{"op": "spectrum", "n_fft": "64"}], "n_fft='64' is invalid"),
        ([{"op": "rms_normalize", "eps": 0}], "eps=0 is invalid"),
        ([{"op": "rms_normalize", "eps": True}], "eps=True is invalid"),
        ([{"op": "mag_phase", "phase": "polar"}], "expected wrap, unwrap or diff"),
        ([{"op": "scale", "factor": float("nan")}], "factor=nan is invalid"),
        ([{"op": "identity", "x": 1}], "accepted params: none"),
    ],
)
def test_bad_spec_is_one_line_config_error(spec, message):
    with pytest.raises(ConfigError, match=message) as info:
        Pipeline.from_spec(spec)
    assert "\n" not in str(info.value)


def test_wrong_input_shape_is_data_error():
    with pytest.raises(DataError, match=r"expects captures \(N, 2, L\)"):
        Pipeline.from_spec([{"op": "mag_phase"}])(np.zeros((2, 1024), np.float32))


def test_registry_has_the_contract_ops():
    assert {"rms_normalize", "mag_phase", "spectrum", "features", "identity", "scale"} <= set(OPS)


def test_powers_iq_multiplies_the_phase_and_keeps_the_magnitude() -> None:
    from edgekit.signals.preprocess import Pipeline

    n = np.arange(256)
    phase = 2 * np.pi * 0.01 * n + 0.3
    amp = 1.0 + 0.5 * np.cos(2 * np.pi * 0.002 * n)
    x = np.stack([amp * np.cos(phase), amp * np.sin(phase)])[None].astype(np.float32)
    out = Pipeline.from_spec([{"op": "powers_iq", "powers": "1,4"}])(x)
    assert out.shape == (1, 4, 256)
    np.testing.assert_allclose(out[0, :2], x[0], atol=1e-5)  # k=1: unchanged
    np.testing.assert_allclose(np.hypot(out[0, 2], out[0, 3]), amp, atol=1e-5)  # magnitude kept
    np.testing.assert_allclose(np.arctan2(out[0, 3], out[0, 2]), np.angle(np.exp(4j * phase)), atol=1e-4)


def test_powers_iq_folds_qpsk_onto_one_point() -> None:
    """Clean QPSK symbols to the 4th power all land on the same phase; 8PSK's do not."""
    from edgekit.signals.preprocess import Pipeline

    rng = np.random.default_rng(0)
    for order, expect_folded in ((4, True), (8, False)):
        sym = np.exp(1j * (np.pi / 4 + 2 * np.pi * rng.integers(0, order, 512) / order))
        x = np.stack([sym.real, sym.imag])[None].astype(np.float32)
        out = Pipeline.from_spec([{"op": "powers_iq", "powers": "4"}])(x)[0]
        spread = np.std(np.angle(out[0] + 1j * out[1]))
        assert (spread < 1e-3) == expect_folded


# -- float32 computation (the device's cost) against independent float64 references ----------


def _f64_powers_iq(x: np.ndarray, ks: tuple[int, ...]) -> np.ndarray:
    """z**k / |z|**(k-1) by complex128 arithmetic, written out here independently."""
    z = x[:, 0].astype(np.float64) + 1j * x[:, 1].astype(np.float64)
    mag = np.abs(z)
    phase = np.angle(z)
    chans = []
    for k in ks:
        w = mag * np.exp(1j * k * phase)
        chans += [w.real, w.imag]
    return np.stack(chans, axis=1)


def _f64_rms(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    x = x.astype(np.float64)
    power = (x[:, 0] ** 2 + x[:, 1] ** 2).mean(axis=1)
    return x / np.sqrt(power + eps)[:, None, None]


@pytest.fixture(scope="module")
def many() -> np.ndarray:
    return generate(200, seed=77, classes=None).x


def test_every_own_op_outputs_float32(many):
    for spec in (
        [{"op": "rms_normalize"}],
        [{"op": "powers_iq", "powers": "1,2,4,8"}],
        [{"op": "mag_phase", "phase": "unwrap", "keep_iq": True}],
        [{"op": "spectrum", "n_fft": 256}],
        [{"op": "scale", "factor": 2.0}, {"op": "standardize", "mean": 1.0, "std": 3.0}],
    ):
        assert Pipeline.from_spec(spec)(many[:4]).dtype == np.float32, spec


def test_rms_and_powers_iq_match_float64_within_1e5(many):
    out = Pipeline.from_spec([{"op": "rms_normalize"}, {"op": "powers_iq", "powers": "1,2,4,8"}])(many)
    ref = _f64_powers_iq(_f64_rms(many), (1, 2, 4, 8))
    # relative to the signal's own scale (unit mean power after rms_normalize)
    assert np.max(np.abs(out - ref)) < 1e-5 * max(1.0, float(np.max(np.abs(ref))))


def test_powers_iq_of_raw_scale_matches_float64(many):
    raw = many * 7.0  # not normalised: magnitudes up to ~100
    out = Pipeline.from_spec([{"op": "powers_iq", "powers": "2,3,5"}])(raw)
    ref = _f64_powers_iq(raw, (2, 3, 5))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(ref))))


def test_powers_iq_of_silence_is_zero():
    out = Pipeline.from_spec([{"op": "powers_iq", "powers": "1,2,4"}])(np.zeros((1, 2, 16)))
    assert out.shape == (1, 6, 16) and not np.any(out)


def test_mag_phase_matches_float64_in_every_mode(many):
    x64 = many.astype(np.float64)
    z = x64[:, 0] + 1j * x64[:, 1]
    wrap = np.angle(z)
    unwrap = np.unwrap(wrap, axis=1)
    diff = np.diff(unwrap, axis=1, prepend=wrap[:, :1])
    for mode, phase in (("wrap", wrap), ("unwrap", unwrap), ("diff", diff)):
        out = Pipeline.from_spec([{"op": "mag_phase", "phase": mode, "keep_iq": True}])(many)
        np.testing.assert_allclose(out[:, :2], x64, rtol=1e-6)
        np.testing.assert_allclose(out[:, 2], np.abs(z), rtol=1e-5, atol=1e-6)
        # the unwrapped phase grows to thousands of radians: compare relative to its size
        scale = np.maximum(1.0, np.abs(phase))
        assert np.max(np.abs(out[:, 3] - phase) / scale) < 1e-5, mode


def test_spectrum_matches_float64(many):
    x64 = many.astype(np.float64)
    z = x64[:, 0] + 1j * x64[:, 1]
    segs = z.reshape(len(z), 4, 256)
    spec = np.fft.fftshift(np.fft.fft(segs, 256, axis=2), axes=2)
    ref = 10 * np.log10((np.abs(spec) ** 2).mean(axis=1) / 256 + 1e-10)
    out = Pipeline.from_spec([{"op": "spectrum", "n_fft": 256}])(many)[:, 0]
    # dB values: 1e-5 relative to the level, or 1e-4 dB for levels near 0 dB
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-4)


def test_reference_cnn_predictions_unchanged_by_float32_preprocessing():
    """The shipped reference CNN on 300 synthetic captures: float32 preprocessing against the
    float64 computation gives the same predicted class and logits within 1e-3."""
    from edgekit.backends import open_backend

    root = Path(__file__).resolve().parents[2] / "models" / "rfclass-cnn"
    x = generate(300, seed=4242).x
    ref_in = _f64_powers_iq(_f64_rms(x), (1, 2, 4)).astype(np.float32)
    new_in = Pipeline.from_spec([{"op": "rms_normalize"}, {"op": "powers_iq", "powers": "1,2,4"}])(x)
    with open_backend(root / "model.onnx", threads=1) as backend:
        ref = backend.run(ref_in)
        new = backend.run(new_in)
    assert np.array_equal(ref.argmax(axis=1), new.argmax(axis=1))
    assert np.max(np.abs(ref - new)) < 1e-3
