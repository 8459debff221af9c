"""AMC feature extraction: shape, finiteness, and that features separate what they claim to."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.data.synth import generate
from edgekit.signals.features import FEATURE_NAMES, extract_features


def _col(name: str) -> int:
    return FEATURE_NAMES.index(name)


def test_shape_dtype_and_finite():
    ds = generate(66, seed=41, classes=None)
    f = extract_features(ds.x)
    assert f.shape == (66, len(FEATURE_NAMES)) and f.dtype == np.float32
    assert 20 <= len(FEATURE_NAMES) <= 40 and len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert np.isfinite(f).all()


def test_silence_and_tiny_batches_are_finite():
    f = extract_features(np.zeros((2, 2, 64), np.float32))
    assert f.shape == (2, len(FEATURE_NAMES)) and np.isfinite(f).all()
    assert extract_features(np.zeros((0, 2, 64), np.float32)).shape == (0, len(FEATURE_NAMES))


def test_gain_invariant_and_deterministic():
    x = generate(10, seed=42).x
    a = extract_features(x)
    np.testing.assert_allclose(extract_features(x * 37.0), a, rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(extract_features(x), a)


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(N, 2, L\)"):
        extract_features(np.zeros((3, 1024), np.float32))


def _median(feature: str, cls: str) -> float:
    ds = generate(40, seed=43, classes=(cls,), snr_range_db=(20, 20), multipath_prob=0.0)
    return float(np.median(extract_features(ds.x)[:, _col(feature)]))


def test_noise_is_spectrally_flat():
    assert _median("spec_flatness", "noise") > 0.8 > _median("spec_flatness", "qpsk")


def test_chirp_has_a_linear_instantaneous_frequency():
    assert _median("if_trend_r2", "chirp") > 0.9 > _median("if_trend_r2", "fm")


def test_power_lines_separate_psk_orders():
    # BPSK has a z**2 line; QPSK only from z**4 on; 8PSK only at z**8.
    assert _median("line_z2", "bpsk") > 3 * _median("line_z2", "qpsk")
    assert _median("line_z4", "qpsk") > 3 * _median("line_z4", "8psk")
    assert _median("line_z8_over_z4", "8psk") > _median("line_z8_over_z4", "qpsk") + 0.5


def test_envelope_separates_am_from_fm():
    assert _median("env_std", "am") > 3 * _median("env_std", "fm")


def test_step_by_step_graph_gives_the_fused_pass_exactly():
    # The cost table times the graph one step at a time; the device runs the fused pass. Both
    # must be the same computation, bit for bit, or the table would time something else.
    from edgekit.signals.features import compute_graph, graph_features

    x = generate(12, seed=44, classes=None).x
    x[3] = 0.0  # silence: the NaN/inf cleaning must agree too
    fused = extract_features(x)
    stepped = np.stack([graph_features(compute_graph(x[i])) for i in range(len(x))])
    np.testing.assert_array_equal(stepped, fused)


def test_batch_split_into_chunks_matches_one_at_a_time():
    x = generate(300, seed=45, classes=None).x[:, :, :128]  # > one chunk of 256 captures
    whole = extract_features(x)
    single = np.concatenate([extract_features(x[i : i + 1]) for i in (0, 255, 256, 299)])
    np.testing.assert_array_equal(whole[[0, 255, 256, 299]], single)
