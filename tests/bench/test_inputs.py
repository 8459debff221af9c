"""Bench inputs: realistic captures for radio models, labelled noise for anything else."""

from __future__ import annotations

from edgekit.bench.inputs import make_inputs


def test_rf_bundle_gets_synthetic_captures_through_its_preprocessing() -> None:
    manifest = {"input": {"shape": ["N", 2, 1024]}, "preprocess": [{"op": "rms_normalize"}]}
    inp = make_inputs(manifest, n=8)
    assert inp.x.shape == (8, 2, 1024)
    assert inp.source.startswith("synthetic:rf")
    assert inp.preprocess == [{"op": "rms_normalize"}]
    assert "synthetic radio captures" in inp.note


def test_foreign_bundle_gets_seeded_noise_and_never_claims_accuracy() -> None:
    manifest = {"input": {"shape": [1, 3, 32, 32]}, "preprocess": []}
    a = make_inputs(manifest, n=4, seed=3)
    b = make_inputs(manifest, n=4, seed=3)
    assert a.x.shape == (4, 3, 32, 32) and (a.x == b.x).all()
    assert a.source.startswith("gaussian:")
    assert "never accuracy" in a.note
    assert a.to_dict()["preprocess_applied"] is False
