"""The float32 feature graph against the float64 reference implementation it replaced.

``reference_features`` is the pre-issue-16 code, copied verbatim; nothing here computes expected
values with the code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.data.synth import generate
from edgekit.signals.features import FEATURE_NAMES, FEATURES, INTERMEDIATES, extract_features
from tests.signals import reference_features as ref

ALL = ("noise", "tone", "am", "fm", "bpsk", "qpsk", "8psk", "16qam", "gfsk", "chirp", "ofdm")
MODEL = Path(__file__).resolve().parents[2] / "models" / "rfclass-gbt" / "model.onnx"
# One PSD bin: the occupied bandwidth counts bins up to 90 % of the power, so a capture whose
# cumulative power sits within float32 rounding of 0.9 may count one bin more or less.
_ONE_BIN = 1 / 256


@pytest.fixture(scope="module")
def captures() -> np.ndarray:
    return generate(600, seed=4242, classes=ALL).x


def test_same_names_and_order_as_the_reference():
    assert FEATURE_NAMES == ref.FEATURE_NAMES
    assert [f.name for f in FEATURES] == list(ref.FEATURE_NAMES)


@pytest.mark.parametrize("name", ref.FEATURE_NAMES)
def test_each_feature_matches_the_reference(captures, name):
    j = ref.FEATURE_NAMES.index(name)
    want = ref.extract_features(captures)[:, j].astype(np.float64)
    got = extract_features(captures)[:, j].astype(np.float64)
    if name == "spec_occupied_bw_frac":
        assert np.abs(got - want).max() <= _ONE_BIN + 1e-7
        assert np.mean(got == want) >= 0.99
        return
    # float32 arithmetic: relative 1e-3 where the value is large, absolute 1e-5 near zero
    # (cancelling cumulants such as C63 of noise sit near zero)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("length", [32, 63, 100, 257, 1024])
def test_odd_and_short_lengths_match_the_reference(length):
    x = generate(40, seed=length, classes=ALL).x[:, :, :length]
    want = ref.extract_features(x)
    got = extract_features(x)
    occ = ref.FEATURE_NAMES.index("spec_occupied_bw_frac")
    others = [j for j in range(len(ref.FEATURE_NAMES)) if j != occ]
    np.testing.assert_allclose(got[:, others], want[:, others], rtol=2e-3, atol=2e-5)
    assert np.abs(got[:, occ] - want[:, occ]).max() <= 1 / min(256, length) + 1e-7


def test_silence_impulse_and_huge_gain_give_the_reference_values():
    x = np.zeros((3, 2, 128), np.float32)
    x[1, 0, 5] = 1.0  # one impulse: |z|**16 overflows float32 unless kept in float64
    x[2] = generate(1, seed=3).x[0, :, :128] * np.float32(1e15)
    want = ref.extract_features(x)
    got = extract_features(x)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-4)


def test_float64_and_float32_inputs_agree(captures):
    x = captures[:50]
    np.testing.assert_allclose(
        extract_features(x.astype(np.float64)), extract_features(x.astype(np.float32)), rtol=1e-5, atol=1e-6
    )


def test_graph_is_in_dependency_order_and_every_intermediate_is_used():
    known = {"x"}
    for step in INTERMEDIATES:
        assert set(step.deps) <= known, step.name
        known.add(step.name)
    used = {d for s in (*INTERMEDIATES, *FEATURES) for d in s.deps}
    assert {s.name for s in INTERMEDIATES} <= used
    for feat in FEATURES:
        assert set(feat.deps) <= known, feat.name


def test_reference_model_predictions_are_unchanged():
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    ds = generate(3000, seed=202, classes=ALL)
    # the build's preprocessing: rms_normalize (float32) then features
    p = np.sqrt(np.mean(np.square(ds.x, dtype=np.float64), axis=(1, 2), keepdims=True) * 2 + 1e-8)
    x = (ds.x / p).astype(np.float32)
    old = sess.run(["probabilities"], {"features": ref.extract_features(x)})[0]
    new = sess.run(["probabilities"], {"features": extract_features(x)})[0]
    agreement = float(np.mean(old.argmax(1) == new.argmax(1)))
    assert agreement >= 0.999, agreement
    assert np.abs(old - new).max() < 0.05
