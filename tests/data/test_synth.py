"""Synthetic capture generator: determinism, balance, SNR, impairments, int16 wire format."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.data import synth
from edgekit.data.synth import (
    ALL_CLASSES,
    CLASSES,
    IQ_FULL_SCALE,
    N_SAMPLES,
    from_int16_iq,
    generate,
    generate_parts,
    to_int16_iq,
)


def test_class_tuples_are_the_contract():
    assert CLASSES == (
        "noise", "tone", "am", "fm", "bpsk", "qpsk", "8psk", "16qam", "gfsk", "chirp",
    )  # fmt: skip
    assert synth.OOD_CLASSES == ("ofdm", "fhss")
    assert len(ALL_CLASSES) == 12 and ALL_CLASSES[:10] == CLASSES and ALL_CLASSES[10:] == (
        "ofdm",
        "fhss",
    )


def test_shapes_dtypes_and_meta_columns():
    ds = generate(40, seed=0)
    assert ds.x.shape == (40, 2, N_SAMPLES) and ds.x.dtype == np.float32
    assert ds.y.shape == (40,) and ds.y.dtype == np.int64
    assert ds.labels == ALL_CLASSES
    assert ds.meta["snr_db"].dtype == np.float32
    assert ds.meta["class"].dtype == np.dtype("<U8")
    assert ds.meta["cfo_hz"].dtype == np.float32
    assert ds.meta["multipath"].dtype == np.bool_
    assert [ALL_CLASSES[i] for i in ds.y] == list(ds.meta["class"])
    assert np.isfinite(ds.x).all()


def test_same_seed_same_data_different_seed_different():
    a = generate(300, seed=11, classes=ALL_CLASSES)
    b = generate(300, seed=11, classes=ALL_CLASSES)
    c = generate(300, seed=12, classes=ALL_CLASSES)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    for k in a.meta:
        np.testing.assert_array_equal(a.meta[k], b.meta[k])
    assert not np.array_equal(a.x, c.x)


def test_generate_parts_matches_generate():
    ds = generate(50, seed=4)
    parts = generate_parts(50, seed=4)
    np.testing.assert_array_equal(ds.x, parts.dataset.x)
    total = parts.signal + parts.noise
    np.testing.assert_allclose(ds.x[:, 0], total.real, atol=1e-5)
    np.testing.assert_allclose(ds.x[:, 1], total.imag, atol=1e-5)


def test_progress_reports_every_chunk_up_to_n():
    seen: list[int] = []
    generate(5000, seed=1, classes=("tone",), progress=seen.append)
    assert seen == [4096, 5000]


def test_default_classes_are_balanced_and_in_distribution():
    ds = generate(1003, seed=2)
    counts = np.bincount(ds.y, minlength=len(ALL_CLASSES))
    assert counts[ALL_CLASSES.index("ofdm")] == 0
    assert counts[: len(CLASSES)].max() - counts[: len(CLASSES)].min() <= 1
    assert counts.sum() == 1003
    # shuffled, not in round-robin order
    assert not np.array_equal(ds.y[:10], np.arange(10))


def test_class_subset_including_ood():
    ds = generate(60, seed=3, classes=("bpsk", "ofdm"))
    assert set(ds.meta["class"]) == {"bpsk", "ofdm"}
    assert np.sum(ds.y == ALL_CLASSES.index("ofdm")) == 30


def test_measured_snr_within_1_db_of_requested():
    parts = generate_parts(1100, seed=5, classes=ALL_CLASSES, snr_range_db=(-10.0, 20.0))
    ds = parts.dataset
    has_signal = ds.meta["class"] != "noise"
    sig_power = np.mean(np.abs(parts.signal[has_signal]) ** 2, axis=1)
    noise_power = np.mean(np.abs(parts.noise[has_signal]) ** 2, axis=1)
    measured_db = 10 * np.log10(sig_power / noise_power)
    np.testing.assert_allclose(sig_power, 1.0, rtol=1e-6)  # unit power before noise
    assert np.max(np.abs(measured_db - ds.meta["snr_db"][has_signal])) < 1.0
    # and the noise-only class carries no signal at all
    assert np.all(parts.signal[~has_signal] == 0)


def test_snr_from_the_mixture_alone_at_high_snr():
    # Without the parts: total power = S + N with S = 1, so N = P - 1 is known for a fixed SNR.
    ds = generate(200, seed=6, snr_range_db=(10.0, 10.0), classes=("qpsk", "fm"))
    total = np.mean(ds.x[:, 0] ** 2 + ds.x[:, 1] ** 2, axis=1)
    est_db = 10 * np.log10(1.0 / (total - 1.0))
    assert abs(np.median(est_db) - 10.0) < 1.0


def test_snr_range_respected():
    ds = generate(500, seed=7, snr_range_db=(3.0, 5.0))
    assert ds.meta["snr_db"].min() >= 3.0 and ds.meta["snr_db"].max() <= 5.0


def test_cfo_and_multipath_meta_consistent():
    ds = generate(600, seed=8, cfo_max_hz=2_000.0, multipath_prob=0.5)
    cfo = ds.meta["cfo_hz"]
    noise = ds.meta["class"] == "noise"
    assert np.all(np.abs(cfo) <= 2_000.0)
    assert np.all(cfo[noise] == 0) and not np.any(ds.meta["multipath"][noise])
    frac = ds.meta["multipath"][~noise].mean()
    assert 0.35 < frac < 0.65
    none = generate(100, seed=8, cfo_max_hz=0.0, multipath_prob=0.0)
    assert np.all(none.meta["cfo_hz"] == 0) and not none.meta["multipath"].any()


def test_cfo_shows_up_in_the_tone_spectrum():
    # A noiseless tone with a known offset: the spectral peak moves by that offset.
    ds = generate(40, seed=9, classes=("tone",), snr_range_db=(40, 40), cfo_max_hz=0.0)
    off = generate(40, seed=9, classes=("tone",), snr_range_db=(40, 40), cfo_max_hz=100_000.0)

    def peak_hz(x: np.ndarray) -> np.ndarray:
        z = x[:, 0] + 1j * x[:, 1]
        spec = np.abs(np.fft.fft(z, 16 * N_SAMPLES, axis=1))
        return np.fft.fftfreq(16 * N_SAMPLES, 1 / synth.SAMPLE_RATE_HZ)[np.argmax(spec, axis=1)]

    shift = peak_hz(off.x) - peak_hz(ds.x)
    np.testing.assert_allclose(shift, off.meta["cfo_hz"], atol=200.0)


@pytest.mark.parametrize("name", ALL_CLASSES)
def test_each_class_is_distinct_from_noise(name):
    ds = generate(20, seed=10, classes=(name,), snr_range_db=(30, 30), multipath_prob=0.0)
    z = ds.x[:, 0] + 1j * ds.x[:, 1]
    spec = np.abs(np.fft.fft(z, axis=1)) ** 2
    flatness = np.exp(np.mean(np.log(spec + 1e-12), axis=1)) / np.mean(spec, axis=1)
    if name == "noise":
        assert np.median(flatness) > 0.4  # white
    else:
        assert np.median(flatness) < 0.4  # structured spectrum


def test_constant_envelope_classes():
    ds = generate(30, seed=11, classes=("fm", "gfsk", "chirp", "tone"), snr_range_db=(60, 60),
                  multipath_prob=0.0)  # fmt: skip
    env = np.hypot(ds.x[:, 0], ds.x[:, 1])
    assert np.max(np.std(env, axis=1)) < 0.01


def test_drift_changes_the_front_end_only():
    clean = generate(50, seed=12, drift=0.0)
    drifted = generate(50, seed=12, drift=1.0)
    np.testing.assert_array_equal(clean.y, drifted.y)
    assert not np.allclose(clean.x, drifted.x)

    # DC offset appears: the mean of I+jQ moves away from zero
    def dc(x: np.ndarray) -> float:
        return float(np.mean(np.abs(np.mean(x[:, 0] + 1j * x[:, 1], axis=1))))

    assert dc(drifted.x) > 3 * dc(clean.x)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"classes": ("bpsk", "wifi")},
        {"classes": ()},
        {"classes": ("bpsk", "bpsk")},
        {"snr_range_db": (5.0, 1.0)},
        {"multipath_prob": 1.5},
        {"drift": -0.1},
        {"cfo_max_hz": 1e9},
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        generate(10, seed=0, **kwargs)


def test_int16_round_trip_within_half_lsb():
    ds = generate(30, seed=13, classes=ALL_CLASSES)
    raw = to_int16_iq(ds.x)
    assert raw.shape == (30, N_SAMPLES, 2) and raw.dtype == np.int16
    # interleaved I, Q: sample k of capture 0 is (I, Q)
    assert raw[0, 5, 0] == np.int16(np.rint(ds.x[0, 0, 5] * 32767 / IQ_FULL_SCALE))
    back = from_int16_iq(raw, N_SAMPLES)
    assert back.shape == ds.x.shape and back.dtype == np.float32
    lsb = IQ_FULL_SCALE / 32767
    assert np.max(np.abs(back - ds.x)) <= 0.5 * lsb + 1e-6
    # the flat wire form (as decoded from bytes) works too
    flat = np.frombuffer(raw.tobytes(), dtype="<i2")
    np.testing.assert_array_equal(from_int16_iq(flat, N_SAMPLES), back)


def test_int16_clips_beyond_full_scale():
    x = np.full((1, 2, 4), 2 * IQ_FULL_SCALE, dtype=np.float32)
    x[0, 1] = -2 * IQ_FULL_SCALE
    raw = to_int16_iq(x)
    assert raw[0, :, 0].tolist() == [32767] * 4 and raw[0, :, 1].tolist() == [-32767] * 4


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 16),
    st.floats(-IQ_FULL_SCALE, IQ_FULL_SCALE, allow_nan=False, width=32),
)
def test_int16_round_trip_property(n, length, value):
    x = np.full((n, 2, length), value, dtype=np.float32)
    x[:, 1] = -value / 2
    back = from_int16_iq(to_int16_iq(x), length)
    assert np.max(np.abs(back - x)) <= 0.5 * IQ_FULL_SCALE / 32767 + 1e-6


def test_from_int16_rejects_bad_input():
    with pytest.raises(ValueError, match="int16"):
        from_int16_iq(np.zeros(8, dtype=np.int32), 4)
    with pytest.raises(ValueError, match="whole number"):
        from_int16_iq(np.zeros(10, dtype=np.int16), 4)
    with pytest.raises(ValueError, match=r"\(N, 2, L\)"):
        to_int16_iq(np.zeros((3, 4), dtype=np.float32))
