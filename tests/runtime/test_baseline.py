"""Baselines from the manifest: the documented rule on captures whose answer is known, the
reference tree model through the backends, and malformed sections refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.bundle import load_bundle
from edgekit.data.synth import generate
from edgekit.errors import BundleError
from edgekit.runtime.baseline import ModelBaseline, RuleBaseline, load_baseline, spectral_flatness
from tests.runtime.bundles import GBT, GBT_BASELINE, write_bundle


def test_flatness_is_near_one_for_white_noise_and_low_for_a_tone():
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 1, (1, 2, 1024)).astype(np.float32)
    n = np.arange(1024)
    tone = np.stack([np.cos(0.3 * n), np.sin(0.3 * n)])[None].astype(np.float32)
    # the expected value for 4 averaged periodogram segments of complex white noise is about
    # exp(digamma(4)) / 4 = 0.88 (geometric over arithmetic mean of chi-square(8)/8 bins)
    assert 0.8 < spectral_flatness(noise) < 0.95
    assert spectral_flatness(tone) < 0.05


def test_energy_detector_rule_says_noise_or_unknown():
    rule = RuleBaseline("energy-detector", {"flatness_min": 0.7}, 0.97, "test")
    ds = generate(40, seed=5, classes=("noise", "tone"), snr_range_db=(10.0, 20.0))
    answers = [rule.answer(ds.x[i : i + 1]).label for i in range(len(ds.x))]
    truth = [ds.labels[y] for y in ds.y]
    assert all((a == "noise") == (t == "noise") for a, t in zip(answers, truth, strict=True))
    assert {a for a in answers} == {"noise", None}


def test_rule_parameters_are_checked():
    with pytest.raises(BundleError, match="flatness_min"):
        RuleBaseline("energy-detector", {}, None, "")
    with pytest.raises(BundleError, match="unknown rule"):
        RuleBaseline("magic", {"flatness_min": 0.5}, None, "")


def test_tree_model_baseline_runs_through_the_backends(tmp_path):
    root = write_bundle(tmp_path / "b", baseline={**GBT_BASELINE, "accuracy": 0.79}, baseline_file=GBT)
    base = load_baseline(load_bundle(root), threads=1)
    assert isinstance(base, ModelBaseline) and base.accuracy == 0.79
    ds = generate(60, seed=9, snr_range_db=(15.0, 20.0))
    answers = [base.answer(ds.x[i : i + 1]).label for i in range(60)]
    truth = [ds.labels[y] for y in ds.y]
    # at high SNR the tree model is right most of the time (its card says ~0.9 above 10 dB)
    assert np.mean([a == t for a, t in zip(answers, truth, strict=True)]) > 0.7
    base.close()


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"kind": "oracle"}, r"baseline\.kind: expected model or rule"),
        ({"kind": "model", "file": "nowhere.onnx", "labels": ["noise"]}, "baseline.file"),
        ({"kind": "rule", "rule": "energy-detector", "params": {"flatness_min": 2}}, "flatness_min"),
        (
            {"kind": "rule", "rule": "energy-detector", "params": {"flatness_min": 0.5}, "accuracy": 7},
            "accuracy",
        ),
    ],
)
def test_malformed_baseline_sections_are_refused_in_one_line(tmp_path, section, needle):
    root = write_bundle(tmp_path / "b", baseline=section)
    with pytest.raises(BundleError, match=needle) as info:
        load_baseline(load_bundle(root), threads=1)
    assert "\n" not in str(info.value)


def test_model_baseline_labels_must_be_the_bundles(tmp_path):
    root = write_bundle(
        tmp_path / "b", baseline={**GBT_BASELINE, "labels": ["cat", "dog"]}, baseline_file=GBT
    )
    with pytest.raises(BundleError, match=r"baseline\.labels"):
        load_baseline(load_bundle(root), threads=1)
