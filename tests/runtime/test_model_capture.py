"""What the daemon checks and decodes before a capture reaches the model (``runtime.model``):
the capture format's mismatch report, the synthetic defaults, the bundle's latency budget in
seconds and the int16 -> float decoding, each against values written out here (mutation round,
``scripts/mutation.sh model``; before it no test read these directly).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.runtime.model import CaptureSpec, decode_iq, manifest_budget_s

SPEC = CaptureSpec(1_000_000, "ci16", 1024, 16.0, "manifest capture section")
SAME = {"sample_rate_hz": 1_000_000, "sample_format": "ci16", "samples_per_capture": 1024}


def test_the_synthetic_defaults_are_the_reference_models_format() -> None:
    # 1 MS/s, int16 I/Q, 1024 samples, int16 full scale = 16.0 in the training data's units
    assert CaptureSpec.synthetic_default() == CaptureSpec(1_000_000, "ci16", 1024, 16.0, "synthetic defaults")
    assert type(CaptureSpec.synthetic_default().sample_rate_hz) is int


def test_a_matching_scanner_is_compatible() -> None:
    assert SPEC.mismatch(**SAME) is None


@pytest.mark.parametrize(("change", "want"), [
    ({"sample_rate_hz": 2_000_000}, "sample rate 2000000 Hz (bundle: 1000000 Hz)"),
    ({"sample_rate_hz": 999_999}, "sample rate 999999 Hz (bundle: 1000000 Hz)"),
    ({"sample_format": "cf32"}, "sample format cf32 (bundle: ci16)"),
    ({"samples_per_capture": 1023}, "capture length 1023 samples (bundle: 1024)"),
    ({"samples_per_capture": 1025}, "capture length 1025 samples (bundle: 1024)"),
])
def test_each_difference_is_named(change: dict, want: str) -> None:
    assert SPEC.mismatch(**{**SAME, **change}) == want


def test_several_differences_are_joined_in_order() -> None:
    got = SPEC.mismatch(sample_rate_hz=2_000_000, sample_format="cf32", samples_per_capture=512)
    assert got == ("sample rate 2000000 Hz (bundle: 1000000 Hz); sample format cf32 (bundle: ci16); "
                   "capture length 512 samples (bundle: 1024)")


def test_what_the_bundle_does_not_know_is_not_compared() -> None:
    # a bundle written before the capture section: rate unknown, length unknown
    old = CaptureSpec(None, "ci16", None, 16.0, "no capture section in the manifest")
    assert old.mismatch(sample_rate_hz=2_000_000, sample_format="ci16", samples_per_capture=7) is None
    assert old.mismatch(sample_rate_hz=1, sample_format="cf32", samples_per_capture=7) == \
        "sample format cf32 (bundle: ci16)"


@pytest.mark.parametrize(("manifest", "want"), [
    ({"budgets": {"max_latency_p99_ms": 150}}, 0.15),
    ({"budgets": {"max_latency_p99_ms": 2.5}}, 0.0025),
    ({"budgets": {"max_latency_p99_ms": 0}}, 0.0),
    ({"budgets": {}}, None),
    ({"budgets": None}, None),
    ({}, None),
])
def test_the_latency_budget_in_seconds(manifest: dict, want: float | None) -> None:
    got = manifest_budget_s(manifest)
    assert got == want and (got is None or type(got) is float)


def test_decoding_scales_int16_full_scale_to_the_training_units() -> None:
    # full scale 16.0: 32767 -> 16, -32767 -> -16, 0 -> 0, 16384 -> 16384 * 16 / 32767
    iq = np.array([[32767, -32767], [0, 16384], [-32768, 1]], np.int16)
    out = decode_iq(iq, 16.0)
    assert out.shape == (1, 2, 3) and out.dtype == np.float32
    assert out[0, 0].tolist() == [16.0, 0.0, pytest.approx(-32768 * 16 / 32767, rel=1e-6)]
    assert out[0, 1, 0] == -16.0
    assert out[0, 1, 1] == pytest.approx(16384 * 16 / 32767, rel=1e-6)
    assert out[0, 1, 2] == pytest.approx(16 / 32767, rel=1e-6)
    assert decode_iq(np.array([[32767, 0]], np.int16), 1.0)[0, :, 0].tolist() == [1.0, 0.0]
